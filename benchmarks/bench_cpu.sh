#!/usr/bin/env bash
# CPU forward benchmark: prints the host, then bench_cpu's table (tokens/s and GFLOP/s of the
# forward on random-weight models, against OpenBLAS's sgemm peak measured in the same run).
# Usage: benchmarks/bench_cpu.sh [--threads N] [--runs N] [--quick] [--only TEXT]   (make bench-cpu BENCH_ARGS=..)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=build/release/bench_cpu
[ -x "$bin" ] || { echo "bench: error: '$bin' is missing; run 'make bench-cpu'" >&2; exit 2; }
cpu=$(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | sed 's/.*: //' || true)
blas=$(dpkg-query -W -f='${Version}' libopenblas0 2>/dev/null || echo unknown)
echo "host: $(hostname), ${cpu:-unknown cpu}, $(nproc) cores; OpenBLAS $blas; commit $(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)"
exec "$bin" "$@"
