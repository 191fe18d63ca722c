# test_train_gpu_harness.sh — the CUDA trainer's GPU programs run with the CPU tables as the device
# under test (tests/gpu/test_train_kernels.c, tests/gpu/test_train_gpu.c, and the benchmark
# benchmarks/bench_train_gpu.c), so that a mistake in the programs shows here and not on a GPU
# machine: every row passes, every section prints. The GPU run is tests/gpu/run_gpu_tests.sh.
# no-asan (the programs are built in the release tree only)
. "$(dirname "$0")/lib.sh"

K=$ROOT/build/release/gpu/test_train_kernels
G=$ROOT/build/release/gpu/test_train_gpu
B=$ROOT/build/release/bench_train_gpu
for p in "$K" "$G" "$B"; do expect_true "$(basename "$p") is built" test -x "$p"; done
cd "$ROOT" || exit 1

run "$K" --device cpu --quick
expect_true "test_train_kernels exits 0 (stderr: ${ERR:0:300})" test "$RC" -eq 0
expect_true "test_train_kernels: no failed row" bash -c '! grep -q "^FAIL" <<<"$0"' "$OUT"
for op in linear linear_dx linear_dw embed_fwd embed_bwd rms_fwd rms_bwd rope swiglu_fwd \
  swiglu_bwd "attn_fwd simple" "attn_bwd simple" "attn_fwd flash" "attn_bwd flash" lm_head \
  grad_sumsq adamw to_act mat_refresh; do
  expect_true "test_train_kernels row '$op'" grep -q "^ok   $op" <<<"$OUT"
done
expect_err "test_train_kernels: unknown option" "usage: test_train_kernels" "$K" --bogus

run "$G" --device cpu --quick --tmp "$TMP"
expect_true "test_train_gpu exits 0 (stderr: ${ERR:0:300})" test "$RC" -eq 0
expect_true "test_train_gpu: no failed row" bash -c '! grep -q "^FAIL" <<<"$0"' "$OUT"
for section in "## Steps against the CPU trainer" "## Real text (data/kjv)"; do
  expect_true "test_train_gpu section '$section'" grep -qF "$section" <<<"$OUT"
done
expect_true "test_train_gpu: 13 rows" grep -q "^13 passed, 0 failed" <<<"$OUT"

run "$B" --device cpu --shape tiny --steps 2 --warmup 1
expect_true "bench_train_gpu exits 0 (stderr: ${ERR:0:300})" test "$RC" -eq 0
for row in "| tokens/s |" "| model FLOP/s |" "| MFU (model FLOP/s ÷ product peak) |" "| whole step |"; do
  expect_true "bench_train_gpu row '$row'" grep -qF "$row" <<<"$OUT"
done
expect_err "bench_train_gpu: unknown shape" "unknown shape 'huge'" "$B" --device cpu --shape huge
# no GPU here (or one): either way a cuda device that does not exist is an error, not a crash
run "$B" --device cuda:99
expect_true "bench_train_gpu on a missing GPU fails cleanly (rc $RC: ${ERR:0:200})" \
  bash -c '[ "$0" -eq 1 ] && grep -q "cuda:99" <<<"$1"' "$RC" "$ERR"
finish
