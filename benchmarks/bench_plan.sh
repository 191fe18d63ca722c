#!/usr/bin/env bash
# bench_plan.sh — how `bench plan`, `bench validate` and `bench run --dry-run` scale with the size
# of a suite's job matrix: one table row per (command, jobs) with wall seconds, CPU seconds and
# peak RSS.
#
# usage: benchmarks/bench_plan.sh [JOBS...]        (or: make bench-plan)
#   JOBS  matrix sizes to time (default 10000 100000 1000000), each a product
#         models (10) × rope variants (10) × lengths (10 or 100) × seeds (JOBS / that), protocol
#         `random` so that every seed is its own job; the models are ten tiny `bench init-model`
#         checkpoints with different weights, the dataset data/kjv/valid.txt.
# Suites past the limit bench runs (MATRIX_MAX_JOBS, docs/DESIGN.md "Scale") are counted, not
# built: plan prints the counts and a warning, run --dry-run refuses. CPU seconds are the
# process's user + system time, so a busy shared machine distorts them less than wall seconds.
# A command past PLAN_TIMEOUT seconds (default 600) is stopped: exit 124.
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH=${BENCH:-$PWD/bench}
[ -x "$BENCH" ] || { echo "bench_plan: build ./bench first (make)" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "bench_plan: needs GNU time (/usr/bin/time) for peak RSS" >&2; exit 2; }
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(10000 100000 1000000)
work=$(mktemp -d /tmp/bench_plan.XXXXXX)
trap 'rm -rf "$work"' EXIT

for m in $(seq 1 10); do "$BENCH" init-model "$work/m$m" --arch llama --seed "$m" >/dev/null; done

# suite JOBS FILE: 10 models × 10 rope variants × lengths × seeds
suite() {
  local jobs=$1 lengths=10 list
  [ "$jobs" -ge 100000 ] && lengths=100
  local seeds=$(( jobs / (100 * lengths) ))
  [ "$seeds" -ge 1 ] || { echo "bench_plan: $jobs jobs is fewer than the 1000 of one seed" >&2; exit 2; }
  {
    echo "suite: plan_scale"
    echo "defaults: { dataset: d, protocol: random, windows: 1, cache: full, dtype: fp32, device: cpu }"
    echo "models:"
    for m in $(seq 1 10); do echo "  m$m: { path: $work/m$m }"; done
    echo "datasets: { d: { path: $PWD/data/kjv/valid.txt } }"
    echo "rope:"
    for r in $(seq 1 10); do echo "  r$r: { type: geometric, theta: $((10000 + r)) }"; done
    echo "cache: { full: { type: full } }"
    echo "phases:"
    echo "  - id: scale"
    list=$(seq -s, 1 10 | sed 's/[0-9]*/m&/g'); echo "    model: [$list]"
    list=$(seq -s, 1 10 | sed 's/[0-9]*/r&/g'); echo "    rope: [$list]"
    echo "    lengths: [$(seq -s, 64 64 $((64 * lengths)))]"
    echo "    seeds: [$(seq -s, 1 "$seeds")]"
  } >"$2"
}

printf '%-16s %9s %8s %8s %9s %s\n' command jobs wall_s cpu_s rss_mb exit
for jobs in "${sizes[@]}"; do
  suite "$jobs" "$work/s$jobs.yaml"
  for cmd in validate plan "run --dry-run"; do
    extra=()
    [ "$cmd" = "run --dry-run" ] && extra=(--results "$work/results$jobs")
    set +e
    /usr/bin/time -f '%e %U %S %M' -o "$work/time" timeout "${PLAN_TIMEOUT:-600}" $BENCH $cmd "$work/s$jobs.yaml" "${extra[@]}" >/dev/null 2>"$work/err"
    rc=$?
    set -e
    read -r wall user sys rss < <(tail -1 "$work/time")
    awk -v c="$cmd" -v j="$jobs" -v w="$wall" -v u="$user" -v s="$sys" -v r="$rss" -v rc="$rc" \
      'BEGIN { printf "%-16s %9s %8.2f %8.2f %9.0f %s\n", c, j, w, u + s, r / 1024, rc }' 
  done
done
