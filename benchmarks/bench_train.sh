#!/usr/bin/env bash
# CPU trainer benchmark: prints the host, then bench_train's table (tokens/s and GFLOP/s of fp32
# training steps on a few Llama shapes, the 50.9M recipe of seeds/003 among them).
# Usage: benchmarks/bench_train.sh [--threads N] [--runs N] [--only TEXT]   (make bench-train BENCH_ARGS=..)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=build/release/bench_train
[ -x "$bin" ] || { echo "bench: error: '$bin' is missing; run 'make bench-train'" >&2; exit 2; }
cpu=$(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | sed 's/.*: //' || true)
blas=$(dpkg-query -W -f='${Version}' libopenblas0 2>/dev/null || echo unknown)
echo "host: $(hostname), ${cpu:-unknown cpu}, $(nproc) cores; OpenBLAS $blas; commit $(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)"
exec "$bin" "$@"
