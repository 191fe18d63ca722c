#!/usr/bin/env bash
# run_train_tests.sh — the CUDA trainer's GPU checks and benchmark, into one markdown file; step 5
# of run_gpu_tests.sh, or alone on a GPU machine (from the repository root):
#     make gpu-test && tests/gpu/run_train_tests.sh build/release/gpu build/gpu-out/train.md [--quick]
# BIN_DIR holds test_train_kernels and test_train_gpu (and bench_train_gpu in a bundle; else
# build/release/bench_train_gpu):
#   test_train_kernels  every training op of the CUDA tables against its CPU twin
#   test_train_gpu      the CUDA trainer against the CPU trainer; a small model trained on
#                       data/kjv (loss falls, resume, its checkpoint in the CPU engine)
#   bench_train_gpu     tokens/s, model FLOP/s and MFU on the 50.9M recipe (not with --quick)
# Exit status 1 when a check failed. A few minutes on an H100.
set -uo pipefail
cd "$(dirname "$0")/../.."
BIN=${1:?usage: run_train_tests.sh BIN_DIR OUT_FILE [--quick]}
OUT_FILE=${2:?usage: run_train_tests.sh BIN_DIR OUT_FILE [--quick]}
QUICK=${3:-}
mkdir -p build "$(dirname "$OUT_FILE")"
log() { echo "[$(date -u +%H:%M:%S)] $*"; }
status=0
tk=build/gpu-train-kernels.md tg=build/gpu-train-trainer.md tb=build/gpu-train-bench.md
log "test_train_kernels"
timeout 420 "$BIN/test_train_kernels" --device cuda:0 $QUICK >"$tk" 2>&1 || { status=1; tail -n 2 "$tk"; }
grep -E '^FAIL|passed, [0-9]+ failed' "$tk"
log "test_train_gpu"
timeout 300 "$BIN/test_train_gpu" --device cuda:0 --tmp build $QUICK >"$tg" 2>&1 || { status=1; tail -n 2 "$tg"; }
grep -E '^FAIL|passed, [0-9]+ failed' "$tg"
if [ -z "$QUICK" ]; then
  bench_bin=$BIN/bench_train_gpu
  [ -x "$bench_bin" ] || bench_bin=build/release/bench_train_gpu
  log "bench_train_gpu (50.9M recipe)"
  timeout 300 "$bench_bin" --device cuda:0 >"$tb" 2>&1 || echo "(bench_train_gpu stopped with status $?)" >>"$tb"
  grep -E 'tokens/s|MFU|stopped' "$tb"
else
  echo "(--quick: no training benchmark)" >"$tb"
fi
{
  echo "## CUDA trainer"
  echo
  echo '```'
  cat "$tk"
  echo '```'
  echo
  echo '```'
  cat "$tg"
  echo '```'
  echo
  echo "## Training benchmark (50.9M recipe)"
  echo
  cat "$tb"
} >"$OUT_FILE"
log "done: $OUT_FILE (status $status)"
exit $status
