# lib.sh — helpers for end-to-end tests that run the real bench binary ($BENCH).
# Each check counts as one test; `finish` prints "N passed, N failed" and sets the exit status.
set -u
BENCH=${BENCH:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/bench}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PYTHON=${PYTHON:-$ROOT/build/venv/bin/python}
case "$PYTHON" in /*) ;; *) PYTHON=$ROOT/$PYTHON ;; esac
TMP=$(mktemp -d "${BENCH_TEST_TMP:-/tmp}/e2e.XXXXXX")
_pass=0
_fail=0
OUT=""
ERR=""
RC=0

_ok() { _pass=$((_pass + 1)); }
_bad() { _fail=$((_fail + 1)); echo "FAIL: $*" >&2; }

# run CMD...: runs a command, capturing stdout in $OUT, stderr in $ERR and the status in $RC.
run() {
  OUT=$("$@" 2>"$TMP/stderr")
  RC=$?
  ERR=$(cat "$TMP/stderr")
}

# expect_rc NAME CODE CMD...: the command exits with CODE.
expect_rc() {
  local name=$1 code=$2; shift 2
  run "$@"
  if [ "$RC" -eq "$code" ]; then _ok; else
    _bad "$name: exit $RC, expected $code; stderr: $ERR"; fi
}

# expect_err NAME SUBSTRING CMD...: exits 2 and stderr contains SUBSTRING.
expect_err() {
  local name=$1 want=$2; shift 2
  run "$@"
  if [ "$RC" -eq 2 ] && [[ "$ERR" == *"$want"* ]]; then _ok; else
    _bad "$name: exit $RC, stderr '$ERR' (wanted exit 2 and '$want')"; fi
}

# expect_out NAME SUBSTRING CMD...: exits 0 and stdout contains SUBSTRING.
expect_out() {
  local name=$1 want=$2; shift 2
  run "$@"
  if [ "$RC" -eq 0 ] && [[ "$OUT" == *"$want"* ]]; then _ok; else
    _bad "$name: exit $RC, stdout '${OUT:0:400}' stderr '${ERR:0:400}' (wanted '$want')"; fi
}

# expect_true NAME CMD...: a plain assertion (e.g. test -f, cmp, grep -q).
expect_true() {
  local name=$1; shift
  if "$@" >/dev/null 2>&1; then _ok; else _bad "$name: '$*' is false"; fi
}

finish() {
  echo "$_pass passed, $_fail failed"
  rm -rf "$TMP"
  [ "$_fail" -eq 0 ]
  exit $?
}

# word_text SEED SENTENCES: deterministic English-like text on stdout, one sentence of 5 to 11
# words per line, the words drawn from a fixed list of 34 by a linear congruential generator.
word_text() {
  awk -v x="$1" -v n_sent="$2" 'BEGIN {
    split("the a river old night light stone wind over under quiet small city long road house " \
          "and of in was were is by with from bright cold warm tree water sound far near", w, " ");
    for (s = 0; s < n_sent; s++) {
      n = 5 + s % 7; line = "";
      for (i = 0; i < n; i++) { x = (x * 1103515245 + 12345) % 2147483648; line = line w[1 + int(x / 65536) % 34] " "; }
      printf "%s.\n", line;
    }
  }'
}

# one_phase_suite FILE ID MODEL_DIR DATA LENGTH WINDOWS: a suite of one CPU job (phase p, chunks,
# model m, dataset text) for the tests that need a run, not a matrix.
one_phase_suite() {
  cat > "$1" <<YAML
suite: $2
defaults: {model: m, dataset: text, protocol: chunks, windows: $6, lengths: [$5], seeds: [0],
           rope: native, cache: full, dtype: fp32, device: cpu}
models: { m: { path: $3 } }
datasets: { text: { path: $4 } }
rope: { native: { type: model } }
cache: { full: { type: full } }
phases:
  - id: p
YAML
}
