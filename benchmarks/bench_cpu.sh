#!/usr/bin/env bash
# CPU engine benchmark: bench beside transformers and llama.cpp on one random Llama checkpoint —
# PPL windows of 512 to 16k tokens and batch-1 decode; tokens/s, GFLOP/s and GB/s against the
# measured sgemm peak and copy bandwidth, peak RSS; interleaved repetitions, medians
# (benchmarks/bench_cpu_table.py). Installs the peers first into their own venv
# (benchmarks/bench_cpu_setup.sh, build/bench-venv; several minutes the first time: llama.cpp is
# built from source). Writes reports/perf/CPU.md.
# Usage: benchmarks/bench_cpu.sh [--no-setup] [--quick] [--reps N] [--threads N] [--windows LIST]
#          [--decode-prompt P] [--decode-steps S] [--out FILE]        (make bench-cpu BENCH_ARGS=..)
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x build/release/bench_gpu ] || { echo "bench: error: 'build/release/bench_gpu' is missing; run 'make bench-cpu'" >&2; exit 2; }
setup=1
args=()
for a in "$@"; do
  if [ "$a" = --no-setup ]; then setup=0; else args+=("$a"); fi
done
[ "$setup" = 1 ] && benchmarks/bench_cpu_setup.sh
exec python3 benchmarks/bench_cpu_table.py "${args[@]+"${args[@]}"}"
