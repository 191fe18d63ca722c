#!/usr/bin/env bash
# CUDA trainer benchmark: the 50.9M recipe of seeds/003 (6 × 512, 8 heads, intermediate 2048,
# vocab 50304, sequences of 2048, batch 32) trained on data/kjv in bf16 for a few steps; prints
# the GPU, then bench_train_gpu's tables: tokens/s, model FLOP/s (6·N + 6·L·H·D·(T+1) per token),
# MFU against the bf16 product peak measured in the same run, and a breakdown of the step.
# Usage: benchmarks/bench_train_gpu.sh [--steps N] [--warmup N] [--attention auto|simple|flash]
#        [--fp32] [--device cuda:N]          (make bench-train-gpu BENCH_ARGS=..)
# Uses build/gpu-bundle/bin/bench_train_gpu when present (a bundle made by `make gpu-bundle`),
# else build/release/bench_train_gpu. A few minutes on an H100 at most (tokenizing the text and
# the weights' initialisation take seconds; each step well under a second).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=build/release/bench_train_gpu
if [ -x build/gpu-bundle/bin/bench_train_gpu ]; then
  bin=build/gpu-bundle/bin/bench_train_gpu
  export LD_LIBRARY_PATH="$PWD/build/gpu-bundle/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi
[ -x "$bin" ] || { echo "bench: error: '$bin' is missing; run 'make bench-train-gpu'" >&2; exit 2; }
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,power.limit --format=csv,noheader 2>/dev/null |
  sed 's/^/gpu: /' || echo "gpu: (nvidia-smi not found)"
exec "$bin" "$@"
