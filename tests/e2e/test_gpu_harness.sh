# test_gpu_harness.sh — the GPU test programs run with the CPU as the device under test, so that a
# mistake in them shows here and not on a GPU machine: the parity program (tests/gpu/test_parity_gpu.c)
# prints every section's table and every row passes (CPU against itself, and the CPU against
# transformers' parity fixtures when they are present); the `bench run` parity step
# (tests/gpu/bench_run_parity.sh) runs its suite twice and every job's row passes with a
# difference of 0. The GPU run is tests/gpu/run_gpu_tests.sh.
# no-asan (the program is built in the release tree only)
. "$(dirname "$0")/lib.sh"

P=$ROOT/build/release/gpu/test_parity_gpu
expect_true "test_parity_gpu is built" test -x "$P"
cd "$ROOT" || exit 1
run "$P" --device cpu --quick --nll-out "$TMP/nll.jsonl"
expect_true "exit 0 (stderr: ${ERR:0:300})" test "$RC" -eq 0
for section in "## Engine parity" "## Decode protocol" "## Longer window" "## Out of memory" "## CUDA vs transformers"; do
  expect_true "section '$section'" grep -qF "$section" <<<"$OUT"
done
expect_true "no failed row" bash -c '! grep -q FAIL <<<"$0"' "$OUT"
expect_true "every architecture" bash -c 'for a in llama mistral_window qwen2_tied gpt_neox gpt_neox_sequential; do grep -q "| $a | native | bf16 | full |" <<<"$0" || exit 1; done' "$OUT"
expect_true "blocks rows" grep -qF "blocks 64+40x1+rest vs one pass" <<<"$OUT"
expect_true "decode rows: every policy, fp32 and bf16" bash -c 'for c in full window_24 streaming_4_20 streaming_4_20_original h2o_12_12; do for d in fp32 bf16; do grep -q "| gpt_neox | $d | $c |" <<<"$0" || exit 1; done; done' "$OUT"
if [ -d tests/fixtures/parity ]; then
  expect_true "fixture NLLs written" test -s "$TMP/nll.jsonl"
fi
expect_err "unknown option" "usage: test_parity_gpu" "$P" --bogus

run tests/gpu/bench_run_parity.sh "$BENCH" "$TMP/run_parity" cpu
expect_true "bench run parity: exit 0 (stdout: ${OUT:0:600})" test "$RC" -eq 0
expect_true "bench run parity: 20 rows pass" grep -q "^20 passed, 0 failed" <<<"$OUT"
expect_true "bench run parity: every protocol and dtype" bash -c 'for p in chunks random sliding half decode; do for d in fp32 bf16; do grep -q "| $p | [0-9]* | $d | .* | PASS |" <<<"$0" || exit 1; done; done' "$OUT"
expect_true "bench run parity: no difference on the cpu" bash -c '! grep "| PASS |" <<<"$0" | grep -qv "| 0.00e+00 |"' "$OUT"
# the comparison is not vacuous: CPU results taken for cuda ones fail on what they recorded
run "$PYTHON" tests/gpu/compare_runs.py "$TMP/run_parity/cpu" "$TMP/run_parity/dev" cuda
expect_true "compare_runs: cpu results are no cuda results" test "$RC" -eq 1
expect_true "compare_runs: says why" grep -q "FAIL: recorded device cpu; compute_dtype fp32, expected bf16" <<<"$OUT"
finish
