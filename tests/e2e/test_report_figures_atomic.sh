# test_report_figures_atomic.sh — figures are written whole or not at all, and a stopped `bench
# report` leaves no gnuplot behind: a fake gnuplot (first on BENCH_GNUPLOT) writes half a PNG under
# the name it is told and then hangs; `bench report` is stopped with SIGTERM, SIGINT or SIGKILL while
# it waits, and afterwards no gnuplot process remains, the figure under its final name is the
# complete one of the report before (never the half one), and no temporary file is left (signals).
. "$(dirname "$0")/lib.sh"

FIX=$ROOT/tests/fixtures/reports/lab_notes
R=$TMP/rep
STATE=$TMP/state
mkdir -p "$STATE"
export STATE

# The fake: `gnuplot [-e "out = 'NAME'"] gnuplot/FIG.gp`, run in the report folder like the real one;
# it draws to NAME (or FIG when not told) — the first bytes of a PNG, then nothing for a minute.
cat > "$TMP/slowgnuplot" <<'SH'
#!/bin/sh
if [ "$1" = "-e" ]; then out=$(printf '%s' "$2" | sed "s/^out = '\(.*\)'\$/\1/"); shift 2
else out=$(basename "$1" .gp); fi
echo "$(basename "$1" .gp)" > "$STATE/figure"
printf '\211PNG\r\n\032\nhalf' > "$out.png"
echo $$ > "$STATE/pid"
exec sleep 60
SH
chmod +x "$TMP/slowgnuplot"
printf '\211PNG\r\n\032\nhalf' > "$TMP/half.png"
not_half() { ! cmp -s -n 12 "$1" "$TMP/half.png"; }

# a complete report first, with the real gnuplot when there is one: its figures must survive
have_gnuplot=0
command -v gnuplot >/dev/null 2>&1 && have_gnuplot=1
if [ $have_gnuplot = 1 ]; then
  expect_rc "a complete report" 0 "$BENCH" report "$FIX" --reports "$R"
  cp -r "$R" "$TMP/before"
fi

# stop_report HOW: starts the report with the fake, stops it with HOW once gnuplot has begun.
stop_report() {
  rm -f "$STATE/pid" "$STATE/figure"
  if [ "$1" = INT ]; then  # a background job starts with SIGINT ignored: give it back its default
    env --default-signal=INT BENCH_GNUPLOT="$TMP/slowgnuplot" "$BENCH" report "$FIX" --reports "$R" >/dev/null 2>&1 &
  else
    env BENCH_GNUPLOT="$TMP/slowgnuplot" "$BENCH" report "$FIX" --reports "$R" >/dev/null 2>&1 &
  fi
  local bench=$!
  for _ in $(seq 300); do [ -s "$STATE/pid" ] && break; sleep 0.1; done
  GP=$(cat "$STATE/pid" 2>/dev/null)
  FIG=$(cat "$STATE/figure" 2>/dev/null)
  kill -"$1" "$bench"
  wait "$bench"
  STATUS=$?
  sleep 0.5
}

for how in TERM INT KILL; do
  stop_report $how
  expect_true "$how: gnuplot had started" test -n "$GP"
  expect_true "$how: bench stopped by the signal (status $STATUS)" test "$STATUS" -gt 128
  # a killed process whose parent died may stay a zombie where PID 1 reaps nothing: that is not running
  expect_true "$how: no gnuplot left running (pid $GP)" test -z "$(ps -o stat= -p "${GP:-1}" | grep -v Z)"
  kill -9 "$GP" 2>/dev/null
  if [ -e "$R/$FIG.png" ]; then
    expect_true "$how: $FIG.png is not the half-written one" not_half "$R/$FIG.png"
  else _ok; fi
  if [ $have_gnuplot = 1 ]; then
    expect_true "$how: $FIG.png is still the complete figure of the report before" cmp -s "$R/$FIG.png" "$TMP/before/$FIG.png"
  fi
  [ $how = KILL ] || expect_true "$how: no temporary figure left" test -z "$(ls -A "$R" | grep '\.tmp-')"
done
finish
