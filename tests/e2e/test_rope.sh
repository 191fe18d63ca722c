# test_rope.sh — `bench rope`: text table, --json, sweep members, position maps, the checkpoint's
# own RoPE read from config.json (checked against transformers' numbers in the fixture), errors.
. "$(dirname "$0")/lib.sh"

FIX="$ROOT/tests/fixtures/rope/hf_rope.json"
mkdir -p "$TMP/llama31" "$TMP/freqs"
# A Llama-3.1-shaped config.json (tiny sizes, the real RoPE settings).
cat > "$TMP/llama31/config.json" <<'EOF'
{"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 512,
 "num_attention_heads": 4, "num_key_value_heads": 4, "head_dim": 128, "intermediate_size": 64,
 "num_hidden_layers": 1, "vocab_size": 32, "max_position_embeddings": 131072,
 "rms_norm_eps": 1e-5, "rope_theta": 500000.0, "torch_dtype": "float32",
 "rope_scaling": {"factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                  "original_max_position_embeddings": 8192, "rope_type": "llama3"},
 "tie_word_embeddings": false, "bos_token_id": 1, "eos_token_id": 2}
EOF
"$PYTHON" -c 'import json; print("\n".join(repr(10000.0 ** (-2 * k / 16)) for k in range(8)))' \
  > "$TMP/freqs/geo16.txt"
cat > "$TMP/suite.yaml" <<EOF
suite: rope_e2e
defaults:
  model: none
  dataset: text
  lengths: [2048]
  rope: native
  cache: full
  seeds: [0]
models:
  none:    { path: "$TMP/absent-model" }
  llama31: { path: "$TMP/llama31" }
datasets:
  text: { path: "$TMP/absent.txt" }
rope:
  native:  { type: model }
  geo_10k: { type: geometric, theta: 10000 }
  anch:    { type: anchored_sigmoid, theta: 500000, anchor_factor: 20, anchor_dim: 16, slope: 0.5 }
  sweep:   { type: anchored_sigmoid, theta: 500000, anchor_factor: [5, 15], anchor_dim: 16, slope: 0.5 }
  yarn4:   { type: yarn, factor: 4 }
  mixed:   { type: mix, of: [geo_10k, yarn4], weight: 0.5, space: log }
  cmp:     { type: compress, base: geo_10k, threshold: 8, factor: 2 }
  freqs:   { type: file, path: freqs/geo16.txt }
cache:
  full: { type: full }
phases:
  - id: native
    model: llama31
    rope: [native]
  - id: ours
    rope: [geo_10k, anch, sweep, yarn4, mixed, cmp, freqs]
EOF
S="$TMP/suite.yaml"

# Text table, with the fallback model noted on stderr.
expect_out "text header" "rope variant 'anch' (type anchored_sigmoid)" "$BENCH" rope "$S" anch
expect_true "text has 64 rows" grep -q "^  63  " <<<"$OUT"
expect_true "text has ratio column" grep -q "ratio to geometric(theta=500000)" <<<"$OUT"
expect_true "text has attention scale" grep -q "^attention scale: 1$" <<<"$OUT"
expect_true "fallback model is noted" grep -q "note: model 'none' not found" <<<"$ERR"
expect_out "--head-dim sets pairs" "rotary dims: 64 (32 pairs)" "$BENCH" rope "$S" anch --head-dim 64

# --json: exactly the documented keys, 64 frequencies, positions only with --length.
expect_out "json" '"variant":"anch"' "$BENCH" rope "$S" anch --json
echo "$OUT" > "$TMP/anch.json"
expect_true "json keys and sizes" "$PYTHON" -c '
import json, math, sys
d = json.load(open(sys.argv[1]))
assert list(d) == ["variant", "type", "inv_freq", "attention_scale", "positions"], list(d)
assert d["type"] == "anchored_sigmoid" and len(d["inv_freq"]) == 64 and d["positions"] == []
for k, w in enumerate(d["inv_freq"]):
    want = 500000 ** (-2 * k / 128) / (1 + 19 / (1 + math.exp(-0.5 * (k - 16))))
    assert abs(w - want) <= 1e-14 * want, (k, w, want)
' "$TMP/anch.json"

# Sweep members by name; the swept name alone asks for one.
expect_out "sweep member" '"variant":"sweep[anchor_factor=15]"' "$BENCH" rope "$S" "sweep[anchor_factor=15]" --json
expect_err "swept name needs a member" "name one: 'sweep[anchor_factor=5]'" "$BENCH" rope "$S" sweep
expect_err "no such member" "no member of rope variant 'sweep' matches" "$BENCH" rope "$S" "sweep[anchor_factor=7]"
expect_err "unknown variant" "unknown rope variant 'ancH' (did you mean 'anch'?)" "$BENCH" rope "$S" ancH

# Position map: compress beyond the threshold, in text and JSON.
expect_out "compress text" "8 -> 8.0000  (threshold)" "$BENCH" rope "$S" cmp --length 20
expect_true "compress last" grep -q "19 -> 13.5000" <<<"$OUT"
expect_out "compress json" '"positions":[0,1,2,3,4,5,6,7,8,8.5,9,9.5,10,10.5,11,11.5,12,12.5,13,13.5]' \
  "$BENCH" rope "$S" cmp --length 20 --json

# yarn's attention scale, and a log-space mix of it with geometric.
expect_out "yarn scale" '"attention_scale":1.138629436111989' "$BENCH" rope "$S" yarn4 --json
expect_out "mix" '"type":"mix"' "$BENCH" rope "$S" mixed --json
echo "$OUT" > "$TMP/mix.json"
expect_true "mix is the log-space blend" "$PYTHON" -c '
import json, math, sys
d = json.load(open(sys.argv[1]))
assert abs(d["attention_scale"] - math.sqrt(1.138629436111989)) < 1e-12, d["attention_scale"]
assert abs(d["inv_freq"][0] - 1.0) < 1e-15
' "$TMP/mix.json"

# A frequency file (path relative to the suite) round-trips; with the wrong count it names the file.
expect_out "file variant" '"inv_freq":[1,0.31622776601683794' "$BENCH" rope "$S" freqs --head-dim 16 --json
expect_err "file count" "geo16.txt' holds 8 frequencies, expected 64" "$BENCH" rope "$S" freqs

# The checkpoint's own RoPE (Llama 3.1 llama3 scaling from config.json) against transformers.
expect_out "model variant" '"type":"model"' "$BENCH" rope "$S" native --json --length 16384
echo "$OUT" > "$TMP/native.json"
expect_true "model matches transformers" "$PYTHON" -c '
import json, sys
got = json.load(open(sys.argv[1]))
ref = [c for c in json.load(open(sys.argv[2]))["cases"] if c["name"] == "llama3_h128_llama31@16384"][0]
assert len(got["inv_freq"]) == len(ref["inv_freq"]) == 64
for k, (a, b) in enumerate(zip(got["inv_freq"], ref["inv_freq"])):
    assert abs(a - b) <= 2e-6 * abs(b), (k, a, b)
assert got["attention_scale"] == 1 and len(got["positions"]) == 16384
' "$TMP/native.json" "$FIX"
expect_out "model text names the checkpoint" "model 'llama31'" "$BENCH" rope "$S" native

# Usage errors.
expect_rc "no arguments" 2 "$BENCH" rope
expect_rc "one argument" 2 "$BENCH" rope "$S"
expect_err "bad length" "--length: '0' is too small (at least 1)" "$BENCH" rope "$S" anch --length 0
expect_err "length 2^63-1" "--length: '9223372036854775807' is too large" "$BENCH" rope "$S" anch --length 9223372036854775807
expect_err "unknown option" "unknown option '--lenght'" "$BENCH" rope "$S" anch --lenght 5
expect_err "missing suite" "$TMP/nope.yaml" "$BENCH" rope "$TMP/nope.yaml" anch
finish
