# test_cli.sh — command dispatch, --help on every command, exit codes.
. "$(dirname "$0")/lib.sh"

expect_out "version" "bench " "$BENCH" version
expect_out "help lists commands" "init-model" "$BENCH" help
expect_rc "no arguments is a usage error" 2 "$BENCH"
expect_err "unknown command suggests" "did you mean 'plan'" "$BENCH" pln
for c in run plan validate status report compare submit rope init-model inspect tokenize doctor version help; do
  expect_out "$c --help" "usage: bench $c" "$BENCH" "$c" --help
  expect_out "help $c" "usage: bench $c" "$BENCH" help "$c"
done

# Threads wait for work asleep, not spinning (a spinning team ran 10× slower next to one busy
# process), unless the user set OMP_WAIT_POLICY or GOMP_SPINCOUNT; libgomp prints the spin count
# it runs with under OMP_DISPLAY_ENV (the last one printed: bench re-executes itself to set it).
spin() { env -u OMP_WAIT_POLICY -u GOMP_SPINCOUNT OMP_DISPLAY_ENV=verbose "$@" "$BENCH" version 2>&1 \
  | sed -n "s/^ *GOMP_SPINCOUNT = '\(.*\)'/\1/p" | tail -1; }
expect_true "threads wait asleep by default" test "$(spin)" = 0
expect_true "the user's OMP_WAIT_POLICY is kept" test "$(spin OMP_WAIT_POLICY=active)" = 30000000000
expect_true "the user's GOMP_SPINCOUNT is kept" test "$(spin GOMP_SPINCOUNT=5)" = 5
# OpenBLAS's kernels: on a CPU with AVX2 it never runs its Prescott (SSE3) fallback, which it picks
# for CPU models it does not know; the user's OPENBLAS_CORETYPE is kept (OPENBLAS_VERBOSE=2 prints
# the core at each start).
core() { env -u OPENBLAS_CORETYPE OPENBLAS_VERBOSE=2 "$@" "$BENCH" version 2>&1 | sed -n 's/^Core: //p' | tail -1; }
if grep -qw avx2 /proc/cpuinfo && grep -qw fma /proc/cpuinfo; then
  expect_true "OpenBLAS kernels for this CPU, not Prescott (got '$(core)')" test "$(core)" != Prescott
fi
expect_true "the user's OPENBLAS_CORETYPE is kept" test "$(core OPENBLAS_CORETYPE=Nehalem)" = Nehalem
expect_out "version runs once re-executed" "bench " env -u OMP_WAIT_POLICY -u GOMP_SPINCOUNT "$BENCH" version

# bench doctor: usage errors; without a GPU it says so and what it would check (exit 0, or 2 when
# --device names a GPU). The check itself: tests/gpu/gpu_check_sim.sh on the CUDA simulator.
expect_err "doctor: bad device" "is not a GPU" "$BENCH" doctor --device cpu
expect_err "doctor: bad dtype" "--dtype: 'int8'" "$BENCH" doctor --dtype int8
expect_err "doctor: unknown option" "unknown option '--fast'" "$BENCH" doctor --fast
if ! nvidia-smi -L 2>/dev/null | grep -q GPU; then
  expect_out "doctor: no GPU, exit 0" "no CUDA GPU found" "$BENCH" doctor "$ROOT/models/quickstart"
  expect_true "doctor: says what it would check" grep -q "2. engine   the CUDA engine on models/quickstart" <<<"$OUT"
  expect_rc "doctor --device cuda:1, no GPU: exit 2" 2 "$BENCH" doctor --device cuda:1
fi
finish
