#!/usr/bin/env bash
# gpu_check_sim.sh — the GPU check (`bench doctor`, and `bench run` before its first GPU job) on
# the CUDA simulator, with the real kernels and with one kernel made wrong:
#     tests/gpu/gpu_check_sim.sh good BENCH OUTDIR     # build/sim/bench
#     tests/gpu/gpu_check_sim.sh broken BENCH OUTDIR   # build/sim/broken/bench: the exact attention
#                                                      # kernel drops its softmax scale
# good: `bench doctor` (with models/quickstart in fp32 and bf16 for part 3) passes, exit 0, with
#   blocks and threads run in reverse order (CUDA_SIM_ORDER=reverse: a missing barrier, or blocks
#   that depend on each other's order, then change a result; its kernel part is
#   tests/gpu/test_kernels.c --quick, which `make test` runs no more on its own); then
#   tests/gpu/bench_run_parity.sh runs the same suite with --device cpu and --device cuda (whose
#   check comes from the cache the doctor wrote): every job records "device": "cuda:0" and ppl
#   within the GPU tests' bounds of the CPU's; manifest.json and REPORT.md say the check passed.
# broken: `bench doctor --kernels attention` exits 1 and its table names the attention kernel; `bench run
#   --device cuda` on a suite with a job pinned to the CPU and one on auto (cuda:0): the CPU job
#   is ok, the GPU job is recorded error with the first failing row and the `bench doctor` command,
#   and the manifest records the failed check.
# Each check prints one line; the last line is "N passed, N failed".
set -u
MODE=$1
BENCH=$2
OUTDIR=$3
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PY=${PYTHON:-python3}
case "$PY" in /*) ;; */*) PY=$ROOT/$PY ;; esac
pass=0
fail=0
ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1"; }
check() { if eval "$2"; then ok "$1"; else bad "$1"; fi; }
mkdir -p "$OUTDIR"
export BENCH_CACHE_DIR="$OUTDIR/run/cache"

# broken: part 1 for the attention family only (the other families are the same code as the real
# kernels', which sim/test_kernels checks); a failed check is cached like a whole one
KERNELS=()
ORDER=reverse
[ "$MODE" = broken ] && KERNELS=(--kernels attention) ORDER=""
CUDA_SIM_ORDER=$ORDER "$BENCH" doctor "${KERNELS[@]}" --dtype fp32,bf16 "$ROOT/models/quickstart" >"$OUTDIR/doctor.txt" 2>&1
rc=$?
echo "bench doctor: exit $rc; $(grep -c '^ok' "$OUTDIR/doctor.txt") rows ok, $(grep -c '^FAIL' "$OUTDIR/doctor.txt") failed"
grep '^GPU check' "$OUTDIR/doctor.txt"

if [ "$MODE" = good ]; then
  check "doctor exits 0" "[ $rc -eq 0 ]"
  check "doctor: no failing row" "! grep -q '^FAIL' '$OUTDIR/doctor.txt'"
  check "doctor: the summary says passed" "grep -q '^GPU check of cuda:0 .*: passed — kernels [0-9]*/[0-9]*, engine 14/14, quickstart fp32 max' '$OUTDIR/doctor.txt'"
  check "doctor: every part has rows" "grep -q '^ok  *kernels' '$OUTDIR/doctor.txt' && grep -q '^ok  *engine  *decode h2o bf16' '$OUTDIR/doctor.txt' && grep -q '^ok  *model  *quickstart bf16' '$OUTDIR/doctor.txt'"
  check "doctor: the model rows name the text they read" "grep -q '^ok  *model  *quickstart bf16 .* over 256 tokens of data/kjv/valid.txt vs cpu fp32' '$OUTDIR/doctor.txt' && grep -q '^GPU check of cuda:0 .*quickstart bf16 max |ΔNLL| .* over 256 tokens of data/kjv/valid.txt' '$OUTDIR/doctor.txt'"
  PYTHON=$PY "$ROOT/tests/gpu/bench_run_parity.sh" "$BENCH" "$OUTDIR/run" cuda --quick >"$OUTDIR/parity.txt" 2>&1
  prc=$?
  cat "$OUTDIR/parity.txt"
  check "bench run --device cuda matches the CPU run" "[ $prc -eq 0 ]"
  check "the run used the cached check" "grep -q 'cuda:0: GPU check passed .*(cached)' '$OUTDIR/run/dev/run.log'"
  check "every job recorded device cuda:0" \
    "[ \$(grep -l '\"device\": *\"cuda:0\"' '$OUTDIR'/run/dev/jobs/*.json | wc -l) -eq \$(ls '$OUTDIR'/run/dev/jobs/*.json | wc -l) ]"
  check "manifest.json records the passed check" \
    "'$PY' -c 'import json,sys; m=json.load(open(sys.argv[1])); c=m[\"gpu_check\"][\"cuda:0\"]; sys.exit(0 if c[\"passed\"] and m[\"gpu_check_summary\"].startswith(\"passed\") else 1)' '$OUTDIR/run/dev/manifest.json'"
  "$BENCH" report "$OUTDIR/run/dev" --reports "$OUTDIR/report" >/dev/null 2>&1
  check "REPORT.md header says the check passed" "grep -q 'GPU check\*\*: passed — kernels' '$OUTDIR/report/REPORT.md'"
else
  check "doctor exits 1" "[ $rc -eq 1 ]"
  check "doctor: an attention row fails" "grep -q '^FAIL *kernels *attention' '$OUTDIR/doctor.txt'"
  check "doctor: the summary says FAILED and names the first failure" \
    "grep -q '^GPU check of cuda:0 .*: FAILED' '$OUTDIR/doctor.txt' && grep -q '^first failure: kernels: attention' '$OUTDIR/doctor.txt'"
  cat >"$OUTDIR/suite.yaml" <<YAML
suite: gpu_check_refusal
defaults:
  model: kjv_1m
  dataset: kjv_valid
  protocol: chunks
  windows: 1
  lengths: [128]
  seeds: [0]
  rope: native
  cache: full
  dtype: fp32
  device: [cpu, auto]
models:
  kjv_1m: { path: "$ROOT/models/quickstart" }
datasets:
  kjv_valid: { path: "$ROOT/data/kjv/valid.txt" }
rope:
  native: { type: model }
cache:
  full: { type: full }
phases:
  - id: chunks
YAML
  rm -rf "$OUTDIR/refused"
  "$BENCH" run "$OUTDIR/suite.yaml" --device cuda --results "$OUTDIR/refused" --reports "$OUTDIR/report" \
    >"$OUTDIR/run.txt" 2>&1
  rrc=$?
  tail -n 8 "$OUTDIR/run.txt"
  check "bench run exits 1 (a job failed)" "[ $rrc -eq 1 ]"
  check "the CPU job ran: ok on cpu" "grep -l '\"status\": *\"ok\"' '$OUTDIR'/refused/jobs/*.json | xargs grep -q '\"device\": *\"cpu\"'"
  check "the GPU job is error with the first failing row and the doctor command" \
    "grep -l '\"status\": *\"error\"' '$OUTDIR'/refused/jobs/*.json | xargs grep -q 'GPU check failed on cuda:0.*kernels: attention.*bench doctor --device cuda:0'"
  check "nothing moved to the CPU: one job on each device" \
    "[ \$(cat '$OUTDIR'/refused/jobs/*.json | grep -c '\"device\": *\"cuda:0\"') -eq 1 ]"
  check "manifest.json records the failed check" \
    "'$PY' -c 'import json,sys; m=json.load(open(sys.argv[1])); c=m[\"gpu_check\"][\"cuda:0\"]; sys.exit(0 if not c[\"passed\"] and \"attention\" in c[\"first_failure\"] else 1)' '$OUTDIR/refused/manifest.json'"
  check "REPORT.md header says the check failed" "grep -q 'GPU check\*\*: FAILED' '$OUTDIR/report/REPORT.md'"
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
