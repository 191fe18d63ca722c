#!/usr/bin/env bash
# run_gpu_tests.sh — the GPU tests, in one command on a machine with an NVIDIA GPU (Hopper or
# Ampere: the kernels are built for sm_90a and sm_80), from the repository root:
#     tests/gpu/run_gpu_tests.sh [--quick] [--steps LIST]
# (--steps 2,3: only those steps after the build, e.g. to split the run over two device calls of
# at most 10 minutes each: `--steps 2,3,4,5` then `--steps 6`; SUMMARY.md is rewritten after
# every step, so a run cut short still brings back what it checked)
# 1. binaries: build/gpu-bundle (made elsewhere by `make gpu-bundle`, carried along, or unpacked
#    from the carried build/gpu-bundle.tar.xz) when its binaries load here, else `make gpu-test`;
# 2. test_kernels: every kernel against its CPU twin (kernels.txt);
# 3. test_parity_gpu: CUDA vs CPU engine per architecture × dtype × RoPE variant, the decode
#    protocol per architecture × dtype × cache policy, a longer window, out of memory, and
#    transformers' parity fixtures (parity.md);
# 4. hf_compare.py: transformers on the same GPU (transformers.md);
# 5. bench_run_parity.sh: `bench run` end to end on cuda against the same suite on the CPU, every
#    protocol in fp32 and bf16, ppl per job (run.md), after `bench doctor` (doctor.txt: the
#    check every run makes of its GPU; the run then takes it from the cache);
# 6. run_train_tests.sh: the CUDA trainer's kernels and steps against the CPU's, and its
#    benchmark on the 50.9M recipe (train.md);
# then SUMMARY.md with the machine and every table. Files go to $OUT (default build/gpu-out);
# the per-token NLLs for step 4 stay in build/. Exit status 1 when any check failed.
# The results worth keeping are SUMMARY.md, committed as tests/gpu/RESULTS-<gpu>.md.
# Runs in a few minutes on an H100/H200 (the CPU references and the model initialisations are
# most of it); --quick shrinks every size.
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-build/gpu-out}
QUICK="" STEPS=2,3,4,5,6
while [ $# -gt 0 ]; do
  case $1 in
    --quick) QUICK=--quick ;;
    --steps) STEPS=${2:-}; shift ;;
    *) echo "usage: tests/gpu/run_gpu_tests.sh [--quick] [--steps LIST]" >&2; exit 2 ;;
  esac
  shift
done
want() { case ",$STEPS," in *",$1,"*) return 0 ;; esac; return 1; }
mkdir -p "$OUT" build
rm -f "$OUT"/kernels.txt "$OUT"/parity.md "$OUT"/transformers.md "$OUT"/run.md "$OUT"/train.md
log() { echo "[$(date -u +%H:%M:%S)] $*"; }
status=0

{
  echo "# Machine"
  echo
  echo '```'
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv 2>&1
  nvcc --version 2>&1 | tail -n 2
  python3 -c 'import torch, transformers; print("torch", torch.__version__, "transformers", transformers.__version__)' 2>&1
  echo "commit $(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)"
  echo '```'
} >"$OUT/machine.md"

# ---- 1. binaries ----
# CUDA 13 runtime and cuBLASLt directories: cuda_libs
. scripts/cuda_lib_path.sh
if [ ! -x build/gpu-bundle/bin/test_kernels ] && [ -s build/gpu-bundle.tar.xz ]; then
  tar -xJf build/gpu-bundle.tar.xz -C build || log "cannot unpack build/gpu-bundle.tar.xz"
fi
BIN=""
if [ -x build/gpu-bundle/bin/test_kernels ]; then
  export LD_LIBRARY_PATH="$PWD/build/gpu-bundle/lib$cuda_libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  if ldd build/gpu-bundle/bin/test_kernels | grep -q "not found"; then
    log "bundle does not load here:"
    ldd build/gpu-bundle/bin/test_kernels | grep "not found"
  else
    BIN=build/gpu-bundle/bin
    log "using the carried bundle (build/gpu-bundle)"
  fi
fi
if [ -z "$BIN" ]; then
  log "building: make gpu-test"
  if make -j"$(nproc)" gpu-test >"$OUT/build.log" 2>&1; then
    BIN=build/release/gpu
    export LD_LIBRARY_PATH="${cuda_libs#:}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  else
    tail -n 30 "$OUT/build.log"
    log "build failed (see $OUT/build.log); nothing ran"
    exit 1
  fi
fi

summary() {
  {
    echo "# GPU test results"
    echo
    cat "$OUT/machine.md"
    echo
    echo "Steps: $STEPS"
    if [ -f "$OUT/kernels.txt" ]; then
      echo
      echo "## Kernels vs CPU twins"
      echo
      echo '```'
      cat "$OUT/kernels.txt"
      echo '```'
    fi
    for f in parity.md transformers.md; do [ -f "$OUT/$f" ] && cat "$OUT/$f"; done
    if [ -f "$OUT/doctor.txt" ]; then
      echo
      echo "## bench doctor"
      echo
      echo '```'
      cat "$OUT/doctor.txt"
      echo '```'
    fi
    [ -f "$OUT/run.md" ] && cat "$OUT/run.md"
    if [ -f "$OUT/train.md" ]; then echo; cat "$OUT/train.md"; fi
  } >"$OUT/SUMMARY.md"
}

# ---- 2. kernels ----
if want 2; then
  log "test_kernels"
  timeout 180 "$BIN/test_kernels" 0 >"$OUT/kernels.txt" 2>&1 || { status=1; tail -n 2 "$OUT/kernels.txt"; }
  grep -E '^FAIL|passed, [0-9]+ failed' "$OUT/kernels.txt"
  summary
fi

# ---- 3. engine parity and transformers' fixtures ----
nll=build/gpu-nll.jsonl
if want 3; then
  log "test_parity_gpu"
  timeout 360 "$BIN/test_parity_gpu" --device cuda:0 --nll-out "$nll" $QUICK >"$OUT/parity.md" 2>&1 || status=1
  grep -E 'FAIL|passed, [0-9]+ failed' "$OUT/parity.md"
  summary
fi

# ---- 4. transformers on this GPU ----
if want 4; then
  if [ -s "$nll" ]; then
    log "hf_compare.py"
    PYTHONUNBUFFERED=1 timeout 180 python3 tests/gpu/hf_compare.py "$nll" >"$OUT/transformers.md" 2>"$OUT/transformers.err"
    rc=$?
    [ $rc -eq 1 ] && status=1
    [ $rc -gt 1 ] && { echo "hf_compare.py did not run (status $rc):"; tail -n 5 "$OUT/transformers.err"; }
    grep -E 'FAIL|passed, [0-9]+ failed' "$OUT/transformers.md"
  else
    echo "(no parity fixtures: transformers comparison skipped)" >"$OUT/transformers.md"
  fi
  summary
fi

# ---- 5. bench run on cuda vs the CPU ----
if want 5; then
  BENCH=./bench
  [ "$BIN" = build/gpu-bundle/bin ] && [ -x "$BIN/bench" ] && BENCH=$BIN/bench
  log "bench doctor ($BENCH)"
  BENCH_CACHE_DIR=build/gpu-run/cache timeout 300 "$BENCH" doctor --dtype fp32,bf16 models/quickstart \
    >"$OUT/doctor.txt" 2>&1 || status=1
  grep -E '^FAIL|^GPU check|^first failure' "$OUT/doctor.txt"
  log "bench run parity ($BENCH)"
  timeout 120 tests/gpu/bench_run_parity.sh "$BENCH" build/gpu-run cuda >"$OUT/run.md" 2>&1 || status=1
  grep -E 'FAIL|passed, [0-9]+ failed|run: exit' "$OUT/run.md"
  summary
fi

# ---- 6. training (one file: $OUT brings back 8 files at most) ----
if want 6; then
  tests/gpu/run_train_tests.sh "$BIN" "$OUT/train.md" $QUICK || status=1
fi

summary
log "done: $OUT/SUMMARY.md (status $status)"
exit $status
