#!/usr/bin/env bash
# Runs every test group and prints one closing line "N passed, N failed".
#  - unit tests: build/release/tests/test_* and their ASan+UBSan twins in build/asan/tests/
#  - end-to-end tests: tests/e2e/test_*.sh against ./bench, then against build/asan/bench
#  - the CUDA engine on the CUDA simulator: build/sim (see tests/cuda_sim/cuda_sim.h)
# Each group prints its own "N passed, N failed" last line, which is summed here.
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHON=${PYTHON:-build/venv/bin/python}
export BENCH_TEST_TMP=${BENCH_TEST_TMP:-$(mktemp -d /tmp/bench-tests.XXXXXX)}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:halt_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
total_pass=0
total_fail=0
failed_groups=()

log_of() { echo "$BENCH_TEST_TMP/$(echo "$1" | tr '/ ' '__').log"; }

# Adds up a finished group's "N passed, N failed" line (a crash before it counts as a failure).
record_group() {  # name, exit status, seconds
  local name=$1 rc=$2 secs=$3 log line p=0 f=0
  log=$(log_of "$name")
  line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
  if [ -n "$line" ]; then
    p=$(echo "$line" | sed -E 's/^([0-9]+) passed.*/\1/')
    f=$(echo "$line" | sed -E 's/^[0-9]+ passed, ([0-9]+) failed.*/\1/')
  fi
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi  # crashed before counting
  total_pass=$((total_pass + p))
  total_fail=$((total_fail + f))
  printf '%-48s %4d passed, %d failed  (%ds)\n' "$name" "$p" "$f" "$secs"
  if [ "$f" -ne 0 ]; then
    failed_groups+=("$name")
    echo "---- $name output (last 60 lines) ----"
    tail -n 60 "$log"
    echo "----"
  fi
}

run_group() {  # name, command...
  local name=$1 start=$SECONDS rc
  shift
  "$@" >"$(log_of "$name")" 2>&1
  rc=$?
  record_group "$name" $rc $((SECONDS - start))
}

# Runs groups side by side, as many at a time as there are cores (for single-threaded programs
# such as the CUDA simulator's), then records them in the order given.
parallel_names=()
parallel_group() {  # name, command...
  local name=$1
  shift
  while [ "$(jobs -rp | wc -l)" -ge "$(nproc)" ]; do wait -n; done
  parallel_names+=("$name")
  (
    start=$SECONDS
    "$@" >"$(log_of "$name")" 2>&1
    echo "$? $((SECONDS - start))" >"$(log_of "$name").rc"
  ) &
}
parallel_wait() {
  wait
  local name rc secs
  for name in "${parallel_names[@]}"; do
    read -r rc secs <"$(log_of "$name").rc" || { rc=1; secs=0; }
    record_group "$name" "$rc" "$secs"
  done
  parallel_names=()
}

for t in build/release/tests/test_*; do
  [ -x "$t" ] && run_group "unit/$(basename "$t")" "$t"
done
for t in build/asan/tests/test_*; do
  [ -x "$t" ] && run_group "asan-unit/$(basename "$t")" "$t"
done
for t in tests/e2e/test_*.sh; do
  run_group "e2e/$(basename "$t" .sh)" env BENCH="$PWD/bench" bash "$t"
done
for t in tests/e2e/test_*.sh; do
  # Scripts that are too slow under sanitizers opt out with a 'no-asan' line.
  grep -q '^# no-asan' "$t" && continue
  run_group "asan-e2e/$(basename "$t" .sh)" env BENCH="$PWD/build/asan/bench" BENCH_ASAN=1 bash "$t"
done

# The CUDA engine on the CUDA simulator (tests/cuda_sim; built when the CUDA headers are there):
# the GPU test programs at their --quick sizes, half of them with blocks and threads run in
# reverse order (a missing barrier then changes a result), `bench doctor` and `bench run` on cuda
# vs cpu, and the check failing on a bench built with one wrong kernel.
if [ -x build/sim/test_sim ]; then
  mkdir -p "$BENCH_TEST_TMP/sim-train"
  # longest first, so that the lanes end together
  parallel_group "sim/test_parity_gpu" build/sim/gpu/test_parity_gpu --quick
  # bench doctor (its kernel part is test_kernels --quick, here in reverse order), then bench run
  # --device cuda against the CPU (tests/gpu/bench_run_parity.sh);
  # and a bench whose attention kernel is wrong: the check fails and the run refuses the GPU
  parallel_group "sim/gpu_check (real kernels)" tests/gpu/gpu_check_sim.sh good build/sim/bench "$BENCH_TEST_TMP/sim-check"
  parallel_group "sim/gpu_check (a broken kernel)" \
    tests/gpu/gpu_check_sim.sh broken build/sim/broken/bench "$BENCH_TEST_TMP/sim-check-broken"
  parallel_group "sim/test_train_kernels (reverse order)" \
    env CUDA_SIM_ORDER=reverse build/sim/gpu/test_train_kernels --quick
  parallel_group "sim/test_train_gpu" build/sim/gpu/test_train_gpu --quick --tmp "$BENCH_TEST_TMP/sim-train"
  parallel_group "sim/test_sim" build/sim/test_sim
  parallel_wait
fi

echo
[ ${#failed_groups[@]} -eq 0 ] || echo "failed groups: ${failed_groups[*]}"
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
