# test_nonfinite.sh — a NaN in the weights end to end: `bench inspect` warns about it; `bench run`
# records the windows that read it as status nonfinite with the first bad window and position; the
# report's table cells and findings say nonfinite; the next `bench run` retries the job.
. "$(dirname "$0")/lib.sh"

export BENCH_CACHE_DIR=$TMP/cache
W=$TMP/work
mkdir -p "$W/data"
cd "$W" || exit 1

expect_rc "init-model" 0 "$BENCH" init-model tiny --arch llama --dtype fp32 --tie-embeddings 0 --seed 3
run "$BENCH" inspect tiny
expect_true "a clean checkpoint: no warning" test -z "$ERR"

# Token 300's embedding row gets one NaN: a window that reads it gives NaNs, the others do not.
"$PYTHON" - <<'PY'
import json, struct
p = "tiny/model.safetensors"
b = bytearray(open(p, "rb").read())
n = struct.unpack("<Q", b[:8])[0]
t = json.loads(b[8:8 + n])["model.embed_tokens.weight"]
assert t["dtype"] == "F32"
hidden = t["shape"][1]
at = 8 + n + t["data_offsets"][0] + 4 * 300 * hidden
b[at:at + 4] = struct.pack("<I", 0x7FC00000)
open(p, "wb").write(b)
# 3 windows of 32 ids; 300 only at index 32: window 1's first token, so all of window 1
ids = [1 + i % 100 for i in range(96)]
ids[32] = 300
open("data/poisoned.u16.bin", "wb").write(struct.pack("<96H", *ids))
open("data/clean.u16.bin", "wb").write(struct.pack("<96H", *[1 + i % 100 for i in range(96)]))
PY

run "$BENCH" inspect tiny
expect_true "inspect exits 0" test "$RC" -eq 0
expect_true "inspect warns about the NaN weight" grep -q "warning: tensor 'model.embed_tokens.weight' in 'model.safetensors' holds 1 NaN/Inf value (the first at element 19200)" <<<"$ERR"
run "$BENCH" inspect tiny --json
expect_true "inspect --json lists it" "$PYTHON" -c '
import json, sys
j = json.loads(sys.argv[1])
assert j["nonfinite_weights"] == [{"file": "model.safetensors", "tensor": "model.embed_tokens.weight", "values": 1, "first": 19200}], j["nonfinite_weights"]' "$OUT"

cat > suite.yaml <<'YAML'
suite: nonfinite
defaults: { model: tiny, protocol: chunks, windows: 3, lengths: [32], seeds: [1], rope: native, cache: full, dtype: fp32, device: cpu }
models: { tiny: { path: tiny } }
datasets: { poisoned: { path: data/poisoned.u16.bin }, clean: { path: data/clean.u16.bin } }
rope: { native: { type: model } }
cache: { full: { type: full } }
phases:
  - id: p
    dataset: [poisoned, clean]
    report: [{ table: lengths }]
YAML
run "$BENCH" run suite.yaml
expect_true "a failed job: exit 1" test "$RC" -eq 1
R=results/nonfinite
expect_true "the job result says nonfinite, where and how many" "$PYTHON" - "$R/jobs" <<'PY'
import glob, json, sys
rs = [json.load(open(p)) for p in glob.glob(sys.argv[1] + "/*.json")]
by = {r["spec"]["dataset"]["name"] if isinstance(r["spec"]["dataset"], dict) else r["spec"]["dataset"]: r for r in rs}
bad, good = by["poisoned"], by["clean"]
assert good["status"] == "ok" and good["error"] is None, good
assert bad["status"] == "nonfinite", bad
assert bad["error"] == "NLL is NaN at window 1, position 1 (31 of 93 scored tokens not finite)", bad["error"]
assert bad["metrics"]["nonfinite"] == {"window": 1, "position": 1, "tokens": 31}, bad["metrics"]
assert bad["metrics"]["ppl"] is None
PY
expect_true "run.log names it" grep -q ": nonfinite: NLL is NaN at window 1, position 1" $R/run.log
REPORT=reports/nonfinite/REPORT.md
expect_true "the table cell says nonfinite" grep -q "| nonfinite |" $REPORT
expect_true "a finding says nonfinite" grep -q "nonfinite in 1 of 1 runs, no PPL (NLL is NaN at window 1, position 1" $REPORT
run "$BENCH" status $R
expect_true "status lists it" grep -q "nonfinite: NLL is NaN at window 1" <<<"$OUT"

run "$BENCH" run suite.yaml
expect_true "the next run retries it" test "$(grep -c ': nonfinite: NLL is NaN' $R/run.log)" -eq 2
expect_true "and skips the ok job" test "$(grep -c ': ok ppl' $R/run.log)" -eq 1
finish
