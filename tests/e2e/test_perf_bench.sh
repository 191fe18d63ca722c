# test_perf_bench.sh — the engine speed benchmark's CPU-side parts, so that a mistake shows here
# and not on a GPU machine: benchmarks/bench_gpu.sh end to end on the CPU with a toy checkpoint
# (init-model, bench_gpu, the report; transformers skipped), bench_gpu's usage errors, and
# benchmarks/perf_report.py on made-up GPU and transformers results (MFU, speed-up, out of
# memory, memory breakdown, targets).
# no-asan (bench_gpu is built in the release tree only)
. "$(dirname "$0")/lib.sh"

G=$ROOT/build/release/bench_gpu
expect_true "bench_gpu is built" test -x "$G"
cd "$ROOT" || exit 1

# ---- usage ----
expect_err "no model" "--model DIR is required" "$G"
expect_err "bad list" "--mlp-rows 'x'" "$G" --model "$TMP" --mlp-rows x
expect_err "bad count" "'--window' needs a positive integer" "$G" --model "$TMP" --window 0
expect_err "bad dtype" "--dtype 'int8'" "$G" --model "$TMP" --dtype int8
expect_err "script: unknown option" "unknown option '--bogus'" benchmarks/bench_gpu.sh --bogus
expect_err "script: bad count" "'12k' is not a token count" benchmarks/bench_gpu.sh --window 12k

# ---- the whole flow on the CPU ----
run env PYTHON="$PYTHON" benchmarks/bench_gpu.sh --tiny --device cpu --skip-hf --bin build/release \
  --model "$TMP/model" --out "$TMP/perf"
expect_true "script exit 0 (${OUT: -400} ${ERR:0:300})" test "$RC" -eq 0
expect_true "REPORT.md written" test -s "$TMP/perf/REPORT.md"
for s in "## Ceilings" "## One window" "## Peak device memory" "## Decode" "## Targets"; do
  expect_true "report section '$s'" grep -qF "$s" "$TMP/perf/REPORT.md"
done
expect_true "engine.json: window, decode and long rows with finite PPL" "$PYTHON" - "$TMP/perf/engine.json" <<'PY'
import json, math, sys
j = json.load(open(sys.argv[1]))
w = j["window"][0]
assert w["T"] == 256 and w["tokens_per_s"] > 0 and math.isfinite(w["ppl"]), w
assert j["long"]["T"] == 1024 and j["long"]["ppl_finite"], j["long"]
kinds = [d["kind"] for d in j["decode"]]
assert kinds == ["decode", "decode", "block_steps"], kinds
assert all(d["tokens_per_s"] > 0 and d["bytes_per_step"] > 0 for d in j["decode"]), j["decode"]
assert j["ceilings"]["gemm_tflops"] > 0 and j["ceilings"]["copy_gbps"] > 0
PY
expect_true "tokens written for transformers" test -s build/perf-tokens.bin
run env PYTHON="$PYTHON" benchmarks/bench_gpu.sh --tiny --device cpu --skip-hf --bin build/release \
  --model "$TMP/model" --out "$TMP/perf2"
expect_true "checkpoint reused" grep -qF "reusing $TMP/model" <<<"$OUT"

# ---- the report on made-up GPU results ----
cat >"$TMP/engine.json" <<'JSON'
{"commit": "abc", "device": {"device": "cuda:0", "name": "NVIDIA H100 80GB HBM3",
 "memory_bytes": 85520809984, "compute_capability": "9.0", "driver": 13000, "runtime": 13000},
 "model": {"arch": "LlamaForCausalLM", "layers": 32, "hidden": 4096, "heads": 32, "kv_heads": 8,
  "head_dim": 128, "intermediate": 14336, "vocab": 128256, "dtype": "bf16", "weight_bytes": 16060522496},
 "ceilings": {"gemm_size": 8192, "gemm_dtype": "bf16", "gemm_tflops": 700.0, "copy_gbps": 3000.0},
 "window": [{"T": 16384, "mlp_rows": 512, "flops": 3.16e14, "seconds": 1.0, "tokens_per_s": 16384,
   "tflops": 316.0, "peak_bytes": 19000000000, "ppl": 130000.0},
  {"T": 16384, "mlp_rows": 4096, "flops": 3.16e14, "seconds": 0.8, "tokens_per_s": 20480,
   "tflops": 395.0, "peak_bytes": 19500000000, "ppl": 130000.0}],
 "attention": [{"kernel": "flash bf16, 4 warps", "T": 16384, "H": 32, "K": 8, "D": 128, "ms": 8.0, "tflops": 275.0},
  {"kernel": "exact fp32", "T": 16384, "H": 32, "K": 8, "D": 128, "error": "timing failed"}],
 "decode": [{"kind": "decode", "cache": "{}", "batch": 1, "prompt": 1024, "steps": 32,
   "error": "the decode protocol runs on the cpu backend, not 'cuda'", "bytes_per_step": 1.7e10},
  {"kind": "block_steps", "cache": "{}", "batch": 1, "prompt": 1024, "steps": 32, "tokens_per_s": 60.0,
   "bytes_per_step": 1.7e10, "mean_keys": 1040, "roofline_tokens_per_s": 176.0, "roofline_fraction": 0.34}],
 "long": {"T": 131072, "flops": 6.5e15, "seconds": 20.0, "tokens_per_s": 6553.6, "tflops": 325.0,
   "peak_bytes": 52000000000, "ppl": 130000.0, "ppl_finite": true}}
JSON
cat >"$TMP/hf.json" <<'JSON'
{"model": "m", "dtype": "bf16", "attn_implementation": "sdpa", "torch": "2.11.0", "transformers": "5.17.0",
 "device_name": "NVIDIA H100 80GB HBM3", "gemm_size": 8192, "gemm_tflops": 790.0,
 "window": {"T": 16384, "seconds": 2.0, "tokens_per_s": 8192.0, "ppl": 130001.0, "peak_bytes": 40000000000},
 "lengths": [{"T": 32768, "ok": true, "seconds": 4.5, "tokens_per_s": 7281.8, "ppl": 130000.0, "peak_bytes": 70000000000},
  {"T": 65536, "ok": false, "oom": true, "error": "CUDA out of memory. Tried to allocate 31.3 GiB", "peak_bytes": 60000000000},
  {"T": 131072, "ok": false, "oom": true, "error": "CUDA out of memory.", "peak_bytes": 20000000000}]}
JSON
run "$PYTHON" benchmarks/perf_report.py "$TMP/engine.json" --hf "$TMP/hf.json" --out "$TMP/R.md" --command "benchmarks/bench_gpu.sh"
expect_true "report exit 0 ($ERR)" test "$RC" -eq 0
expect_true "device named" grep -qF "**NVIDIA H100 80GB HBM3** (cuda:0, 79.6 GiB" "$TMP/R.md"
expect_true "MFU against the larger GEMM (395/790 = 50.0%)" grep -qF "| 395.0 | 50.0% |" "$TMP/R.md"
expect_true "speed-up 20480/8192 = 2.50x" grep -qF "| 2.50x |" "$TMP/R.md"
expect_true "transformers out of memory at 65536" grep -qF "| 65536 | out of memory |" "$TMP/R.md"
expect_true "long window row: transformers OOM" grep -qF "| 131072 | default | 20.00 | 6554 | 325.0 | 41.1% | 48.43 | out of memory |" "$TMP/R.md"
expect_true "memory breakdown: 32 GiB of KV at 131072" grep -qF "| window 131072 | 48.43 | 14.96 | 32.00 | 1.47 |" "$TMP/R.md"
expect_true "MFU target not met" grep -qF "| 16384-token window at ≥ 55% of the measured GEMM peak | 50.0% (MLP 4096 rows) | **not met** |" "$TMP/R.md"
expect_true "speed-up target met" grep -qF "| ≥ 2x transformers' tokens/s at 16384 tokens | 2.50x | met |" "$TMP/R.md"
expect_true "long target met" grep -qF "131072-token window: no out of memory, finite PPL | PPL 130000.00, peak 48.4 GiB | met |" "$TMP/R.md"
expect_true "decode protocol error shown" grep -qF "not run: the decode protocol runs on the cpu backend" "$TMP/R.md"
expect_true "attention error shown" grep -qF "error: timing failed" "$TMP/R.md"
expect_rc "unreadable input" 2 "$PYTHON" benchmarks/perf_report.py "$TMP/missing.json"
finish
