#!/usr/bin/env bash
# Runs every test group and prints one closing line "N passed, N failed".
#  - unit tests: build/release/tests/test_* and their ASan+UBSan twins in build/asan/tests/
#  - end-to-end tests: tests/e2e/test_*.sh against ./bench, then against build/asan/bench
#  - the CUDA engine on the CUDA simulator: build/sim (see tests/cuda_sim/cuda_sim.h)
# Each group prints its own "N passed, N failed" last line, which is summed here; the groups run
# side by side (one core for the unit and end-to-end groups in turn, the others for the
# simulator's lanes) and are reported in the order below.
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

# Runs a group, its output into its log and "exit-status seconds" into the log's .rc file.
run_logged() {  # name, command...
  local name=$1 start=$SECONDS
  shift
  "$@" >"$(log_of "$name")" 2>&1
  echo "$? $((SECONDS - start))" >"$(log_of "$name").rc.tmp"
  mv "$(log_of "$name").rc.tmp" "$(log_of "$name").rc"
}

# The groups, each as `$1 NAME COMMAND...` (note_group lists them, run_logged runs them).
# One after the other: the unit tests, their ASan+UBSan twins, the end-to-end tests against ./bench,
# then against build/asan/bench.
serial_groups() {  # each
  local each=$1 t
  for t in build/release/tests/test_*; do
    [ -x "$t" ] && $each "unit/$(basename "$t")" "$t"
  done
  for t in build/asan/tests/test_*; do
    [ -x "$t" ] && $each "asan-unit/$(basename "$t")" "$t"
  done
  for t in tests/e2e/test_*.sh; do
    $each "e2e/$(basename "$t" .sh)" env BENCH="$PWD/bench" bash "$t"
  done
  for t in tests/e2e/test_*.sh; do
    # Scripts that are too slow under sanitizers opt out with a 'no-asan' line.
    grep -q '^# no-asan' "$t" && continue
    $each "asan-e2e/$(basename "$t" .sh)" env BENCH="$PWD/build/asan/bench" BENCH_ASAN=1 bash "$t"
  done
}

# The CUDA engine on the CUDA simulator (tests/cuda_sim; built when the CUDA headers are there):
# the GPU test programs at their --quick sizes, half of them with blocks and threads run in
# reverse order (a missing barrier then changes a result), `bench doctor` and `bench run` on cuda
# vs cpu, and the check failing on a bench built with one wrong kernel. Each is one
# single-threaded lane (OMP_NUM_THREADS=1: the lanes, not OpenMP, fill the cores), longest first.
sim_groups() {  # each
  local each=$1
  [ -x build/sim/test_sim ] || return 0
  $each "sim/test_parity_gpu" build/sim/gpu/test_parity_gpu --quick
  # bench doctor (its kernel part is test_kernels --quick, here in reverse order), then bench run
  # --device cuda against the CPU (tests/gpu/bench_run_parity.sh);
  # and a bench whose attention kernel is wrong: the check fails and the run refuses the GPU
  $each "sim/gpu_check (real kernels)" tests/gpu/gpu_check_sim.sh good build/sim/bench "$BENCH_TEST_TMP/sim-check"
  $each "sim/test_train_gpu" build/sim/gpu/test_train_gpu --quick --tmp "$BENCH_TEST_TMP/sim-train"
  $each "sim/gpu_check (a broken kernel)" \
    tests/gpu/gpu_check_sim.sh broken build/sim/broken/bench "$BENCH_TEST_TMP/sim-check-broken"
  $each "sim/test_train_kernels (reverse order)" \
    env CUDA_SIM_ORDER=reverse build/sim/gpu/test_train_kernels --quick
  $each "sim/test_sim" build/sim/test_sim
}

names=()
note_group() { names+=("$1"); rm -f "$(log_of "$1").rc"; }
serial_groups note_group
sim_groups note_group

# As many groups at a time as there are cores: the serial groups take one core from the start,
# the simulator's lanes the others, and every core once the serial groups are done.
serial_done=$BENCH_TEST_TMP/serial.done
rm -f "$serial_done"
free_cores() { if [ -e "$serial_done" ]; then nproc; else echo $(($(nproc) - 1)); fi; }
start_lane() {  # name, command...
  while [ "$(jobs -rp | wc -l)" -ge "$(free_cores)" ]; do sleep 1; done
  OMP_NUM_THREADS=1 run_logged "$@" &
}
mkdir -p "$BENCH_TEST_TMP/sim-train"
(serial_groups run_logged; touch "$serial_done") &
(sim_groups start_lane; wait) &

# Results in the order above, each as soon as it is there.
for name in "${names[@]}"; do
  while [ ! -e "$(log_of "$name").rc" ] && [ -n "$(jobs -rp)" ]; do sleep 1; done
  read -r rc secs <"$(log_of "$name").rc" || { rc=1; secs=0; }
  record_group "$name" "$rc" "$secs"
done
wait

echo
[ ${#failed_groups[@]} -eq 0 ] || echo "failed groups: ${failed_groups[*]}"
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
