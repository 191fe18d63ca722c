#!/usr/bin/env bash
# bench_gpu.sh — the engine speed comparison in one command on a machine with an NVIDIA GPU, from
# the repository root (make bench-gpu BENCH_ARGS=.. runs it too):
#     benchmarks/bench_gpu.sh [--quick] [--out DIR] [--model DIR] [--device cuda:N|cpu] [--bin DIR]
#                          [--skip-engine] [--skip-hf] [--long T] [--window T] [--hf-lengths LIST]
# 1. binaries: --bin DIR (bench_gpu there, ./bench), else build/gpu-bundle (made by `make
#    gpu-bundle`; carried, or unpacked from the carried build/gpu-bundle.tar.xz) when it loads
#    here, else `make gpu-test` (builds build/release/bench_gpu);
# 2. a random bf16 checkpoint with `bench init-model` (reused when DIR already holds that shape):
#    the 8B Llama-3 shape (32 layers, hidden 4096, 32 heads / 8 kv, MLP 14336, vocab 128256), or
#    with --quick the Llama-3.2-1B shape (16 layers, hidden 2048, 32 / 8 heads, head dim 64, MLP
#    8192) and shorter windows, which runs in about 2 minutes (--tiny: a 2-layer toy, for
#    checking this script on a CPU with --device cpu --skip-hf);
# 3. bench_gpu (benchmarks/bench_gpu.c): ceilings, a 16,384-token window, a 131,072-token
#    window, decode at batches 1/4/16, attention kernels → engine.json;
# 4. bench_hf.py: transformers (torch sdpa, bf16) on the same checkpoint and tokens: the window,
#    then 32k/64k/128k (out of memory recorded) → hf.json;
# 5. perf_report.py: the tables → REPORT.md (commit it as reports/perf/REPORT.md).
# Files go to $OUT (default build/perf-out): REPORT.md, engine.json, hf.json, engine.log, hf.log,
# machine.txt. The tokens file and the checkpoint stay under build/ and /tmp. Exit status 1 when a
# step failed (the report still shows what ran), 2 on bad usage.
# Time limits keep the whole run inside 10 minutes: bench_gpu 270 s, transformers 200 s (each
# step's JSON keeps what was measured before a limit). Estimates on an H100, to be replaced by the
# first run's: init-model of the 8B shape ~1 min, bench_gpu ~3 min (16 GB load and upload, the
# 131k window), transformers ~2 min.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-build/perf-out}
QUICK=0 TINY=0 SKIP_ENGINE=0 SKIP_HF=0 DEVICE=cuda:0 MODEL="" WINDOW="" LONG="" HF_LENGTHS="" BIN=""
usage() {
  sed -n '2,4p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) QUICK=1 ;;
    --tiny) TINY=1 ;;
    --bin) BIN=${2:?}; shift ;;
    --skip-engine) SKIP_ENGINE=1 ;;
    --skip-hf) SKIP_HF=1 ;;
    --out) OUT=${2:?}; shift ;;
    --model) MODEL=${2:?}; shift ;;
    --device) DEVICE=${2:?}; shift ;;
    --window) WINDOW=${2:?}; shift ;;
    --long) LONG=${2:?}; shift ;;
    --hf-lengths) HF_LENGTHS=${2?}; shift ;;
    -h | --help) usage ;;
    *) echo "bench: error: unknown option '$1'" >&2; usage ;;
  esac
  shift
done
for v in "$WINDOW" "$LONG"; do
  case "$v" in '' | *[!0-9]*) [ -z "$v" ] || { echo "bench: error: '$v' is not a token count" >&2; exit 2; } ;; esac
done
mkdir -p "$OUT" build
log() { echo "[$(date -u +%H:%M:%S)] $*"; }
status=0
command_line="benchmarks/bench_gpu.sh$( [ $QUICK = 1 ] && echo ' --quick')$( [ $TINY = 1 ] && echo ' --tiny')"

if [ $TINY = 1 ]; then
  SHAPE=(--layers 2 --hidden 128 --heads 2 --kv-heads 1 --intermediate 256 --vocab 512)
  WINDOW=${WINDOW:-256} LONG=${LONG:-1024} HF_LENGTHS=${HF_LENGTHS-512}
  ENGINE_ARGS=(--decode-prompt 64 --decode-steps 8 --decode-batches 1,2 --gemm-size 256
    --copy-mib 64 --reps 2 --cache '{"type":"streaming","sink":4,"recent":60}')
  MODEL=${MODEL:-build/perf-tiny-model}
elif [ $QUICK = 1 ]; then
  SHAPE=(--layers 16 --hidden 2048 --heads 32 --kv-heads 8 --intermediate 8192 --vocab 128256)
  WINDOW=${WINDOW:-4096} LONG=${LONG:-32768} HF_LENGTHS=${HF_LENGTHS-8192,32768}
  ENGINE_ARGS=(--decode-prompt 512 --decode-steps 16 --gemm-size 4096 --copy-mib 1024 --reps 2)
  MODEL=${MODEL:-/tmp/bench-perf-llama1b}
else
  SHAPE=(--layers 32 --hidden 4096 --heads 32 --kv-heads 8 --intermediate 14336 --vocab 128256)
  WINDOW=${WINDOW:-16384} LONG=${LONG:-131072} HF_LENGTHS=${HF_LENGTHS-32768,65536,131072}
  ENGINE_ARGS=(--decode-prompt 1024 --decode-steps 32 --gemm-size 8192 --copy-mib 1024 --reps 3)
  MODEL=${MODEL:-/tmp/bench-perf-llama8b}
fi
SHAPE+=(--rope-theta 500000 --max-positions 131072 --dtype bf16 --merges 0)

{
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.sm --format=csv 2>&1
  nvcc --version 2>&1 | tail -n 2
  echo "cpus $(nproc), $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')"
  echo "commit $(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)"
} >"$OUT/machine.txt"

# ---- 1. binaries (as tests/gpu/run_gpu_tests.sh finds them) ----
# CUDA 13 runtime and cuBLASLt directories: cuda_libs
. scripts/cuda_lib_path.sh
BENCH=""
if [ -n "$BIN" ]; then
  [ -x "$BIN/bench_gpu" ] || { echo "bench: error: no bench_gpu in '$BIN'" >&2; exit 2; }
  BENCH=./bench
  [ -x "$BIN/bench" ] && BENCH=$BIN/bench
fi
if [ -z "$BIN" ] && [ ! -x build/gpu-bundle/bin/bench_gpu ] && [ -s build/gpu-bundle.tar.xz ]; then
  tar -xJf build/gpu-bundle.tar.xz -C build || log "cannot unpack build/gpu-bundle.tar.xz"
fi
if [ -n "$BENCH" ]; then
  :
elif [ -x build/gpu-bundle/bin/bench_gpu ]; then
  export LD_LIBRARY_PATH="$PWD/build/gpu-bundle/lib$cuda_libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  if ldd build/gpu-bundle/bin/bench_gpu | grep -q "not found"; then
    log "bundle does not load here"
  else
    BIN=build/gpu-bundle/bin BENCH=build/gpu-bundle/bin/bench
    log "using the carried bundle (build/gpu-bundle)"
  fi
fi
if [ -z "$BIN" ]; then
  log "building: make gpu-test"
  if make -j"$(nproc)" gpu-test >build/perf-build.log 2>&1; then
    BIN=build/release BENCH=./bench
  else
    tail -n 30 build/perf-build.log
    log "build failed (build/perf-build.log); nothing ran"
    exit 1
  fi
fi

# ---- 2. checkpoint ----
want="${SHAPE[*]}"
if [ -f "$MODEL/config.json" ] && [ "$(cat "$MODEL/.bench-shape" 2>/dev/null)" = "$want" ]; then
  log "reusing $MODEL"
else
  log "bench init-model $MODEL ${SHAPE[*]}"
  t0=$SECONDS
  if ! "$BENCH" init-model "$MODEL" --arch llama "${SHAPE[@]}" --force; then
    log "init-model failed"
    exit 1
  fi
  echo "$want" >"$MODEL/.bench-shape"
  log "checkpoint written in $((SECONDS - t0)) s"
fi

# ---- 3. engine ----
tokens=build/perf-tokens.bin
if [ $SKIP_ENGINE = 0 ]; then
  log "bench_gpu (window $WINDOW, long $LONG)"
  rm -f "$OUT/engine.json"
  timeout 270 "$BIN/bench_gpu" --model "$MODEL" --device "$DEVICE" --window "$WINDOW" --long "$LONG" \
    "${ENGINE_ARGS[@]}" --json "$OUT/engine.json" --tokens-out "$tokens" 2>&1 | tee "$OUT/engine.log"
  rc=${PIPESTATUS[0]}
  [ "$rc" -eq 0 ] || { status=1; log "bench_gpu failed (status $rc; 124: time limit)"; }
fi

# ---- 4. transformers ----
if [ $SKIP_HF = 0 ]; then
  if [ -s "$tokens" ]; then
    log "bench_hf.py (window $WINDOW, lengths ${HF_LENGTHS:-none})"
    rm -f "$OUT/hf.json"
    PYTHONUNBUFFERED=1 timeout 200 python3 benchmarks/bench_hf.py --model "$MODEL" --tokens "$tokens" \
      --json "$OUT/hf.json" --device "$DEVICE" --window "$WINDOW" --lengths "$HF_LENGTHS" 2>&1 |
      grep -v 'Loading weights' | tee "$OUT/hf.log"
    rc=${PIPESTATUS[0]}
    [ "$rc" -eq 0 ] || { status=1; log "bench_hf.py failed (status $rc; 124: time limit)"; }
  else
    log "no tokens file ($tokens): run the engine step first"
    status=1
  fi
fi

# ---- 5. report ----
if [ -s "$OUT/engine.json" ]; then
  hf=()
  [ -s "$OUT/hf.json" ] && hf=(--hf "$OUT/hf.json")
  "${PYTHON:-python3}" benchmarks/perf_report.py "$OUT/engine.json" "${hf[@]}" --out "$OUT/REPORT.md" \
    --command "$command_line" >/dev/null || status=1
  cat "$OUT/REPORT.md"
else
  log "no engine.json: no report"
  status=1
fi
log "done: $OUT/REPORT.md (status $status)"
exit $status
