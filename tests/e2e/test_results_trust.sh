# test_results_trust.sh — a stored result counts only when it is valid, and a run keeps all it
# computes or says why not:
#  - one validity rule for run, status and report: an unparsable file, a negative or NaN ppl, a
#    string length, a job_id that is not the file's name, another job's spec, another schema are
#    listed by `bench status`, left out of the report, moved to jobs/invalid/ by the next run (not
#    deleted) and recomputed;
#  - a full disk (a small tmpfs mounted in a private mount namespace): from the start, nothing is
#    computed and the error names the path and the free space; filled during the run, the run stops
#    at the first result it cannot write, and `bench status` says it stopped on an error (not killed).
#    Where no mount namespace can be made, these checks print "skipped: <reason>".
. "$(dirname "$0")/lib.sh"

export BENCH_CACHE_DIR=$TMP/cache
W=$TMP/work
mkdir -p "$W/data"
cd "$W" || exit 1
expect_rc "init-model" 0 "$BENCH" init-model models/tiny --arch llama --seed 3
word_text 777 160 > data/text.txt
suite() {  # suite NAME LENGTHS
  cat <<Y
suite: $1
title: results you can trust
defaults:
  model: tiny
  dataset: text
  protocol: chunks
  windows: 2
  lengths: [$2]
  seeds: [1]
  rope: native
  cache: full
  dtype: fp32
models:
  tiny: { path: $W/models/tiny }
datasets:
  text: { path: $W/data/text.txt }
rope:
  native: { type: model }
cache:
  full: { type: full }
phases:
  - id: chunks
Y
}
suite trust "32, 40, 48, 56, 64, 72" > trust.yaml

# ---- one notion of a valid result ----
expect_rc "first run" 0 "$BENCH" run trust.yaml --results r1 --no-report
mapfile -t IDS < <(ls r1/jobs | sed 's/\.json$//')
expect_true "six results" test "${#IDS[@]}" -eq 6
cat > spoil.py <<'PY'
import json, sys
d, ids = sys.argv[1], sys.argv[2:]
def edit(i, f):
    p = f"{d}/jobs/{i}.json"; j = json.load(open(p)); f(j); open(p, "w").write(json.dumps(j))
open(f"{d}/jobs/{ids[0]}.json", "w").write('{"schema": "bench.job/1", "job_id": ')   # unparsable
edit(ids[1], lambda j: j["metrics"].__setitem__("ppl", -3.5))                       # negative ppl
edit(ids[2], lambda j: j["metrics"].__setitem__("ppl", None))                      # NaN ppl (JSON's null)
edit(ids[3], lambda j: j["spec"].__setitem__("length", str(j["spec"]["length"])))  # string length
edit(ids[4], lambda j: j.__setitem__("job_id", "0123456789abcdef"))                # job_id not its name
edit(ids[5], lambda j: j["spec"].__setitem__("length", 2 + j["spec"]["length"]))    # another job's spec
PY
"$PYTHON" spoil.py r1 "${IDS[@]}"
run "$BENCH" status r1
expect_true "status: none of the six counted done" grep -q "0/6 done" <<<"$OUT"
expect_true "status: six invalid listed" grep -q "invalid   6 result files not valid" <<<"$OUT"
for i in "${IDS[@]}"; do expect_true "status names $i" grep -q "r1/jobs/$i.json" <<<"$OUT"; done
expect_true "status: another job's spec named" grep -q "the result of another job" <<<"$OUT"
run "$BENCH" report r1 --reports rep1
expect_true "report skips the invalid ones" grep -q "ppl is not a positive number" <<<"$ERR$OUT"
expect_rc "re-run" 0 "$BENCH" run trust.yaml --results r1 --no-report
expect_true "re-run recomputed all six" test "$(grep -c ': ok ppl' r1/run.log)" -eq 12
expect_true "six files set aside, none deleted" test "$(ls r1/jobs/invalid | wc -l)" -eq 6
for i in "${IDS[@]}"; do expect_true "set aside: $i" compgen -G "r1/jobs/invalid/$i.json.*"; done
expect_true "the set-aside file keeps its bytes" grep -q '"job_id": $' <(cat r1/jobs/invalid/${IDS[0]}.json.*; echo)
expect_out "status: all six done again" "6/6 done (100%)" "$BENCH" status r1
expect_true "status: nothing invalid now" bash -c "! '$BENCH' status r1 | grep -q invalid"
# a run killed (-9) while probing the disk left jobs/.probe.PID: never counted, removed next run
true & gone=$!; wait $gone   # a process id that is gone
head -c 65536 /dev/zero > "r1/jobs/.probe.$gone"
expect_out "killed probe: status still 6/6 done" "6/6 done (100%)" "$BENCH" status r1
expect_true "killed probe: status lists nothing invalid" bash -c "! '$BENCH' status r1 | grep -qE 'invalid|probe'"
run "$BENCH" report r1 --reports rep_killed
expect_true "killed probe: the report does not name it" test "$(grep -c "\.probe\." <<<"$OUT$ERR")" -eq 0
expect_true "killed probe: the report counts six results" grep -qF "**6 of 6 planned jobs have results" rep_killed/REPORT.md
expect_rc "killed probe: re-run" 0 "$BENCH" run trust.yaml --results r1 --no-report
expect_true "killed probe: the next run removed it" test ! -e "r1/jobs/.probe.$gone"
# another schema
sed -i 's/"bench.job\/1"/"bench.job\/0"/' "r1/jobs/${IDS[0]}.json"
expect_out "status: another schema listed" "written by another bench version" "$BENCH" status r1
expect_rc "re-run after another schema" 0 "$BENCH" run trust.yaml --results r1 --no-report
expect_true "another schema set aside" test "$(ls r1/jobs/invalid | wc -l)" -eq 7

# ---- a results directory belongs to one suite ----
suite other "80, 88" > other.yaml
expect_err "another suite's directory refused" "results directory 'r1' holds the results of suite 'trust' (its manifest.json), not of suite 'other'" \
  "$BENCH" run other.yaml --results r1 --no-report
expect_true "refused before anything ran" test "$(ls r1/jobs/*.json | wc -l)" -eq 6
expect_err "a dry run refused too" "holds the results of suite 'trust'" "$BENCH" run other.yaml --results r1 --dry-run
expect_err "submit refused too" "holds the results of suite 'trust'" \
  "$BENCH" submit other.yaml --slurm --dry-run --results r1
expect_rc "--force mixes them" 0 "$BENCH" run other.yaml --results r1 --no-report --force
expect_true "--force: both suites' results there" test "$(ls r1/jobs/*.json | wc -l)" -eq 8
expect_err "--results ''" "--results: the path is empty" "$BENCH" run trust.yaml --results ''
expect_err "submit --results ''" "--results: the path is empty" "$BENCH" submit trust.yaml --slurm --dry-run --results ''

# ---- messages ----
touch afile
sed "s#path: $W/models/tiny#path: $W/afile#" trust.yaml > filemodel.yaml
expect_err "a model path that is a file" "model 'tiny': path '$W/afile' is not a directory" "$BENCH" run filemodel.yaml --results rf
expect_err "inspect a file" "model directory 'afile' is not a directory" "$BENCH" inspect afile
expect_err "run --results a file" "results directory 'afile' is not a directory" "$BENCH" run trust.yaml --results afile
expect_err "status of a file" "results directory 'afile' is not a directory" "$BENCH" status afile
expect_err "report of a file" "results directory 'afile' is not a directory" "$BENCH" report afile
expect_err "compare with a file" "results directory 'afile' is not a directory" "$BENCH" compare r1 afile
expect_err "a missing results dir still 'does not exist'" "results directory 'nope' does not exist" "$BENCH" status nope
sed "s/windows: 2/windows: 9223372036854775807/" trust.yaml > huge.yaml
expect_err "2^63-1 in a suite is too large" "'windows' is too large, got 9223372036854775807" "$BENCH" validate huge.yaml
expect_rc "run other alone" 0 "$BENCH" run other.yaml --results r2 --no-report
mkdir -p r3/jobs
run "$BENCH" compare r2 r3
expect_true "compare: no job matched: exit 1 (got $RC)" test "$RC" -eq 1
expect_true "compare: no job matched: said so" grep -q "nothing was compared" <<<"$ERR"
run "$BENCH" compare r2 r2
expect_true "compare: a match still exits 0 (got $RC)" test "$RC" -eq 0

# ---- a full disk ----
# in_small_fs SIZE SCRIPT: runs bash SCRIPT with $M a fresh tmpfs of SIZE, in a private mount
# namespace (as root: unshare -m; otherwise a user namespace: unshare -rm).
export BENCH TMP W
NS=""
if unshare -m true 2>/dev/null; then NS="unshare -m"
elif unshare -rm true 2>/dev/null; then NS="unshare -rm"; fi
in_small_fs() {
  $NS bash -c 'M=$(mktemp -d "$TMP/fs.XXXXXX") && mount -t tmpfs -o size='"$1"' tmpfs "$M" && export M && bash "$0"' "$2"
}
if [ -z "$NS" ] || ! in_small_fs 64k /dev/null 2>/dev/null; then
  echo "skipped: disk-full checks: cannot mount a small tmpfs in a private mount namespace here (unshare -m / unshare -rm failed)"
else
  # From the start: the file system is full before the run.
  cat > full_start.sh <<'SH'
dd if=/dev/zero of="$M/fill" bs=4k 2>/dev/null
"$BENCH" run "$W/trust.yaml" --results "$M/res" --no-report > "$W/fs_out" 2> "$W/fs_err"
echo $? > "$W/fs_rc"
"$BENCH" status "$M/res" > "$W/fs_status" 2>&1
ls -a "$M/res/jobs" > "$W/fs_jobs"
SH
  in_small_fs 64k full_start.sh
  expect_true "full from the start: exit 2" test "$(cat fs_rc)" -eq 2
  expect_true "full from the start: the error names the path and the free space" \
    grep -q "cannot write '.*/res/jobs/.probe.[0-9]*': No space left on device (0 bytes free); no job was run" fs_err
  expect_true "full from the start: no worker started, nothing computed" bash -c "! grep -q 'worker\|ok ppl' fs_out"
  expect_true "full from the start: status does not say 100%" bash -c "! grep -q '100%' fs_status"
  expect_true "full from the start: status says the disk is full" grep -q "^disk      0 bytes free" fs_status
  expect_true "full from the start: status says nothing ran" grep -q "no run has recorded its plan" fs_status

  # During the run: filled once the first result is there; each window takes 0.4 s.
  cat > full_during.sh <<'SH'
BENCH_FAULT=delay:400 "$BENCH" run "$W/trust.yaml" --results "$M/res" --no-report > "$W/fd_out" 2> "$W/fd_err" &
pid=$!
for i in $(seq 400); do compgen -G "$M/res/jobs/*.json" >/dev/null && break; sleep 0.05; done
dd if=/dev/zero of="$M/fill" bs=4k 2>/dev/null
wait $pid
echo $? > "$W/fd_rc"
"$BENCH" status "$M/res" > "$W/fd_status" 2>&1
cp "$M/res/run.log" "$W/fd_log"
ls "$M/res/jobs" | grep -c '\.json$' > "$W/fd_n"
rm -f "$M/fill"
"$BENCH" run "$W/trust.yaml" --results "$M/res" --no-report > "$W/fd_out2" 2>&1
echo $? > "$W/fd_rc2"
SH
  in_small_fs 2m full_during.sh
  expect_true "filled during the run: exit 1" test "$(cat fd_rc)" -eq 1
  expect_true "filled during the run: the error names the result's path and the free space" \
    grep -q "could not be written: cannot write '.*/res/jobs/[0-9a-f]*.json.tmp.[0-9]*': No space left on device (0 bytes free in .*/res/jobs)" fd_err
  expect_true "filled during the run: one result kept" test "$(cat fd_n)" -eq 1
  expect_true "filled during the run: no job started after the failure" bash -c "! grep -q '\[3/6\]' fd_log"
  expect_true "filled during the run: run.log ends with the stop" grep -q "stopped on an error: 1 ok, 0 failed, 1 not kept" fd_log
  expect_true "filled during the run: run.log lines are whole" bash -c "! grep -vq '^20[0-9-]*T[0-9:]*Z ' fd_log"
  expect_true "filled during the run: status says it stopped on an error" \
    grep -q "the last run stopped on an error at .*could not be written" fd_status
  expect_true "filled during the run: not taken for killed" bash -c "! grep -q 'killed' fd_status"
  expect_true "room again: the re-run finishes the rest" test "$(cat fd_rc2)" -eq 0
  expect_true "room again: five computed, one skipped" grep -q "1 already done, 5 to run" fd_out2
fi

finish
