#!/usr/bin/env bash
# Throughput next to a CPU-bound competitor: evaluation (one 2048-token window and batch-1 decode of
# the quickstart model, bench_gpu --device cpu) and training (bench_train's quickstart shape), on
# all cores, with threads that spin while waiting (libgomp's default: GOMP_SPINCOUNT=300000) and as
# bench runs them (asleep: OMP_WAIT_POLICY=passive), alone and next to one `yes >/dev/null`.
# Interleaved: each repetition runs every cell once; medians.
# Usage: benchmarks/bench_load.sh [--reps N] [--threads N]       (make bench-load BENCH_ARGS=..)
set -euo pipefail
cd "$(dirname "$0")/.."
reps=3 threads=$(nproc)
while [ $# -gt 0 ]; do
  case $1 in
    --reps) reps=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    *) echo "bench: error: unknown option '$1'" >&2; exit 2 ;;
  esac
done
for b in bench_gpu bench_train; do
  [ -x build/release/$b ] || { echo "bench: error: 'build/release/$b' is missing; run 'make bench-load'" >&2; exit 2; }
done
tmp=$(mktemp -d)
comp=""
trap '[ -n "$comp" ] && kill "$comp" 2>/dev/null; rm -rf "$tmp"' EXIT

# one cell: WAIT (spin|passive) LOAD (alone|yes) → "eval_tok_s decode_tok_s train_tok_s"
cell() {
  local wait=$1 load=$2 envs=(env -u OMP_WAIT_POLICY -u GOMP_SPINCOUNT OMP_NUM_THREADS="$threads")
  [ "$wait" = spin ] && envs+=(GOMP_SPINCOUNT=300000)
  if [ "$load" = yes ]; then yes >/dev/null & comp=$!; fi
  "${envs[@]}" build/release/bench_gpu --model models/quickstart --device cpu --dtype fp32 --window 2048 \
    --reps 1 --long 0 --no-attention --decode-batches 1 --decode-prompt 64 --decode-steps 128 \
    --cache '{"type":"full"}' --gemm-size 128 --copy-mib 8 --json "$tmp/e.json" >/dev/null 2>&1 || true
  local tr
  tr=$("${envs[@]}" build/release/bench_train --threads "$threads" --runs 1 --only quickstart 2>/dev/null \
       | awk -F'|' '/quickstart/ {gsub(/ /, "", $6); print $6}')
  if [ -n "$comp" ]; then kill "$comp" 2>/dev/null; wait "$comp" 2>/dev/null || true; comp=""; fi
  python3 - "$tmp/e.json" "${tr:-0}" <<'PY'
import json, sys
try:
    j = json.load(open(sys.argv[1]))
    w = j["window"][0]["tokens_per_s"]
    d = [x for x in j["decode"] if x["kind"] == "decode"][0]["tokens_per_s"]
except Exception:
    w = d = 0.0
print(f"{w:.1f} {d:.1f} {float(sys.argv[2]):.1f}")
PY
}

cells="spin:alone passive:alone spin:yes passive:yes"
for r in $(seq "$reps"); do
  for c in $cells; do
    echo "$(cell "${c%%:*}" "${c##*:}")" >> "$tmp/${c/:/_}"
    echo "rep $r $c: $(tail -1 "$tmp/${c/:/_}")" >&2
  done
done
cpu=$(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | sed 's/.*: //' || true)
echo "host: $(hostname), ${cpu:-unknown cpu}, $(nproc) cores, load average $(cut -d' ' -f1 /proc/loadavg); $threads threads; commit $(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown); medians of $reps"
echo
echo "| threads wait | competitor | eval window 2048, tokens/s | decode batch 1, tokens/s | training, tokens/s |"
echo "|---|---|---:|---:|---:|"
for c in $cells; do
  python3 - "$tmp/${c/:/_}" "${c%%:*}" "${c##*:}" <<'PY'
import statistics, sys
rows = [list(map(float, l.split())) for l in open(sys.argv[1]) if l.strip()]
med = [statistics.median(r[i] for r in rows) for i in range(3)]
wait = {"spin": "spinning (GOMP_SPINCOUNT=300000, before)", "passive": "asleep (bench's default)"}[sys.argv[2]]
comp = {"alone": "none", "yes": "one `yes >/dev/null`"}[sys.argv[3]]
print(f"| {wait} | {comp} | {med[0]:.0f} | {med[1]:.0f} | {med[2]:.0f} |")
PY
done
