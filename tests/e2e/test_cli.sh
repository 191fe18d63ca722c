# test_cli.sh — command dispatch, --help on every command, exit codes.
. "$(dirname "$0")/lib.sh"

expect_out "version" "bench " "$BENCH" version
expect_out "help lists commands" "init-model" "$BENCH" help
expect_rc "no arguments is a usage error" 2 "$BENCH"
expect_err "unknown command suggests" "did you mean 'plan'" "$BENCH" pln
for c in run plan validate status report compare submit rope init-model inspect tokenize version help; do
  expect_out "$c --help" "usage: bench $c" "$BENCH" "$c" --help
  expect_out "help $c" "usage: bench $c" "$BENCH" help "$c"
done
finish
