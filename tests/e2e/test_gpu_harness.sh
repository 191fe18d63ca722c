# test_gpu_harness.sh — the GPU parity program (tests/gpu/test_parity_gpu.c) run with the CPU as
# the device under test, so that a mistake in the program shows here and not on a GPU machine:
# every section prints its table and every row passes (CPU against itself, and the CPU against
# transformers' parity fixtures when they are present). The GPU run is tests/gpu/run_gpu_tests.sh.
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
finish
