# test_model.sh — init-model and inspect for every architecture; bad checkpoints exit 2 with a
# message; the written tokenizer.json loads in HF `tokenizers`; PyPI `safetensors` reads our
# files with the shapes the config implies and values that agree across dtypes.
. "$(dirname "$0")/lib.sh"

M=$TMP/models
for arch in llama mistral qwen2 gpt_neox; do
  expect_out "init-model $arch" "wrote $M/$arch: $arch, 2 layers" "$BENCH" init-model "$M/$arch" --arch "$arch"
  expect_true "$arch config.json" test -f "$M/$arch/config.json"
  expect_true "$arch generation_config.json" test -f "$M/$arch/generation_config.json"
  expect_true "$arch tokenizer.json" test -f "$M/$arch/tokenizer.json"
  expect_out "inspect $arch" "fingerprint" "$BENCH" inspect "$M/$arch"
  expect_out "inspect $arch names the architecture" "architecture    " "$BENCH" inspect "$M/$arch"
  expect_out "inspect $arch --json" "\"arch\": \"$arch\"" "$BENCH" inspect "$M/$arch" --json
done
expect_out "gpt_neox partial rotary" "rotary dims 4 of 16" "$BENCH" inspect "$M/gpt_neox"
expect_out "qwen2 ties embeddings" "(tied embeddings)" "$BENCH" inspect "$M/qwen2"

# Sizes, dtypes, shards, the 5.x spelling, rope scaling.
expect_out "init-model custom" "4 layers, hidden 96, 6 heads (3 kv, head dim 16)" \
  "$BENCH" init-model "$M/custom" --arch llama --layers 4 --hidden 96 --heads 6 --kv-heads 3 \
  --intermediate 160 --vocab 1000 --max-positions 8192 --rope-theta 500000 --dtype bf16 --seed 3 \
  --shards 3 --config-style 5 --rope-scaling '{"rope_type":"linear","factor":2.0}'
expect_true "3 shards" test -f "$M/custom/model-00003-of-00003.safetensors"
expect_true "shard index" test -f "$M/custom/model.safetensors.index.json"
expect_true "no single file" test ! -f "$M/custom/model.safetensors"
expect_out "inspect custom: scaling" "scaling linear {\"factor\":2.0}" "$BENCH" inspect "$M/custom"
expect_out "inspect custom: theta" "theta 500000" "$BENCH" inspect "$M/custom"
expect_out "inspect custom: dtype" "bf16 (3 safetensors files" "$BENCH" inspect "$M/custom"
expect_out "inspect custom: max positions" "8192" "$BENCH" inspect "$M/custom"
expect_err "init-model refuses a non-empty dir" "'$M/custom' is not empty (--force writes" \
  "$BENCH" init-model "$M/custom" --arch llama
expect_out "re-init unsharded replaces the shards" "model.safetensors (" \
  "$BENCH" init-model "$M/custom" --arch llama --dtype bf16 --force
expect_true "old shards removed" test ! -f "$M/custom/model-00001-of-00003.safetensors"
expect_out "inspect after re-init" "1 safetensors file" "$BENCH" inspect "$M/custom"
expect_out "gpt_neox rotary pct" "rotary dims 8 of 16" \
  sh -c "'$BENCH' init-model '$M/neox_half' --arch gpt_neox --rotary-pct 0.5 >/dev/null && '$BENCH' inspect '$M/neox_half'"
expect_out "same seed, same bytes" "same" \
  sh -c "'$BENCH' init-model '$M/s1' --arch qwen2 --seed 9 >/dev/null && '$BENCH' init-model '$M/s2' --arch qwen2 --seed 9 >/dev/null && cmp -s '$M/s1/model.safetensors' '$M/s2/model.safetensors' && echo same"

# Usage errors.
expect_err "init-model without --arch" "needs --arch" "$BENCH" init-model "$M/x"
expect_err "init-model without dir" "needs a directory" "$BENCH" init-model --arch llama
expect_err "init-model bad arch" "unknown architecture 'bert'" "$BENCH" init-model "$M/x" --arch bert
expect_err "init-model unknown option" "did you mean '--layers'" "$BENCH" init-model "$M/x" --arch llama --layer 2
expect_err "init-model bad number" "--layers: 'two' is not an integer" "$BENCH" init-model "$M/x" --arch llama --layers two
expect_err "init-model tiny vocab" "--vocab: '100' is too small (at least 257)" "$BENCH" init-model "$M/x" --arch llama --vocab 100
expect_err "init-model 2^63-1 is too large" "--layers: '9223372036854775807' is too large (at most 4096)" \
  "$BENCH" init-model "$M/x" --arch llama --layers 9223372036854775807
expect_err "init-model 2^64 is too large" "--layers: '18446744073709551616' is too large" \
  "$BENCH" init-model "$M/x" --arch llama --layers 18446744073709551616
expect_err "init-model neox gqa" "kv heads must equal heads" "$BENCH" init-model "$M/x" --arch gpt_neox --kv-heads 2
expect_err "init-model heads" "hidden size 64 is not a multiple of heads 5" "$BENCH" init-model "$M/x" --arch llama --heads 5
expect_err "init-model rope scaling" "rope scaling must be a JSON object" "$BENCH" init-model "$M/x" --arch llama --rope-scaling '[1]'
expect_err "init-model dtype" "--dtype 'fp8' must be fp32, bf16 or fp16" "$BENCH" init-model "$M/x" --arch llama --dtype fp8

# Bad checkpoints: exit 2, one line naming what is wrong.
expect_err "inspect missing dir" "model directory '$M/nope' does not exist" "$BENCH" inspect "$M/nope"
expect_err "inspect without dir" "inspect needs a model directory" "$BENCH" inspect
mkdir -p "$M/empty"
expect_err "inspect dir without config" "cannot open '$M/empty/config.json'" "$BENCH" inspect "$M/empty"
cp -r "$M/llama" "$M/truncated"
head -c 1000 "$M/llama/model.safetensors" > "$M/truncated/model.safetensors"
expect_err "inspect truncated weights" "model.safetensors: header length" "$BENCH" inspect "$M/truncated"
cp -r "$M/llama" "$M/bert"
sed -i 's/LlamaForCausalLM/BertForMaskedLM/' "$M/bert/config.json"
expect_err "inspect unsupported architecture" "unsupported architecture 'BertForMaskedLM'" "$BENCH" inspect "$M/bert"
cp -r "$M/llama" "$M/wide"
sed -i 's/"intermediate_size": 192/"intermediate_size": 200/' "$M/wide/config.json"
expect_err "inspect shape disagreement" "tensor 'model.layers.0.mlp.gate_proj.weight' has shape [192, 64], config implies [200, 64]" \
  "$BENCH" inspect "$M/wide"
cp -r "$M/llama" "$M/garbage"
printf 'not json' > "$M/garbage/config.json"
expect_err "inspect bad config.json" "garbage/config.json:1:" "$BENCH" inspect "$M/garbage"
expect_rc "errors are one line" 0 test "$(echo "$ERR" | wc -l)" -eq 1
# what the engine would refuse at run time, named by file: the checkpoint's rope_scaling, its tokenizer
expect_rc "init-model with a rope type no engine knows" 0 \
  "$BENCH" init-model "$M/rope_foo" --arch llama --rope-scaling '{"rope_type":"foo","factor":2}'
expect_err "inspect unknown rope_scaling type" "$M/rope_foo/config.json: rope variant 'model': checkpoint rope type 'foo' is not supported" \
  "$BENCH" inspect "$M/rope_foo"
expect_rc "init-model with a yarn factor below 1" 0 \
  "$BENCH" init-model "$M/rope_bad" --arch llama --rope-scaling '{"rope_type":"yarn","factor":-2}'
expect_err "inspect bad rope_scaling parameter" "$M/rope_bad/config.json: rope variant 'model'" "$BENCH" inspect "$M/rope_bad"
cp -r "$M/llama" "$M/no_tok" && rm "$M/no_tok/tokenizer.json"
expect_err "inspect without tokenizer.json" "$M/no_tok/tokenizer.json: no such file" "$BENCH" inspect "$M/no_tok"
cp -r "$M/llama" "$M/bad_tok" && printf '{"model": {' >"$M/bad_tok/tokenizer.json"
expect_err "inspect broken tokenizer.json" "$M/bad_tok/tokenizer.json:1:" "$BENCH" inspect "$M/bad_tok"

# HF tokenizers loads the tokenizer.json and round-trips text; PyPI safetensors reads the weights.
if [ -x "$PYTHON" ]; then
  "$BENCH" init-model "$M/f32" --arch gpt_neox --seed 5 --dtype fp32 >/dev/null
  "$BENCH" init-model "$M/f16" --arch gpt_neox --seed 5 --dtype fp16 >/dev/null
  "$BENCH" init-model "$M/b16" --arch gpt_neox --seed 5 --dtype bf16 --shards 2 >/dev/null
  expect_out "HF tokenizers loads tokenizer.json" "tokenizer ok" "$PYTHON" - "$M/llama/tokenizer.json" <<'EOF'
import sys
from tokenizers import Tokenizer
t = Tokenizer.from_file(sys.argv[1])
assert t.get_vocab_size() == 512, t.get_vocab_size()
assert t.token_to_id("<|endoftext|>") == 511
text = "The ferry left the harbour at seven, and it's 1204 miles away!  Ünïcödé 漢字\n"
enc = t.encode(text)
assert t.decode(enc.ids) == text, t.decode(enc.ids)
assert len(enc.ids) < len(text.encode()), "merges shorten common English"
assert t.encode("<|endoftext|>").ids == [511]
print("tokenizer ok")
EOF
  expect_out "PyPI safetensors reads our files" "safetensors ok" "$PYTHON" - "$M" <<'EOF'
import sys, json, os, struct
import numpy as np
from safetensors.numpy import load_file
from safetensors import safe_open
m = sys.argv[1]
f32 = load_file(os.path.join(m, "f32/model.safetensors"))
f16 = load_file(os.path.join(m, "f16/model.safetensors"))
cfg = json.load(open(os.path.join(m, "f32/config.json")))
V, C, F, L = cfg["vocab_size"], cfg["hidden_size"], cfg["intermediate_size"], cfg["num_hidden_layers"]
want = {"gpt_neox.embed_in.weight": (V, C), "embed_out.weight": (V, C),
        "gpt_neox.final_layer_norm.weight": (C,)}
for i in range(L):
    p = f"gpt_neox.layers.{i}."
    want.update({p + "attention.query_key_value.weight": (3 * C, C), p + "attention.query_key_value.bias": (3 * C,),
                 p + "attention.dense.weight": (C, C), p + "mlp.dense_h_to_4h.weight": (F, C),
                 p + "mlp.dense_4h_to_h.weight": (C, F), p + "input_layernorm.weight": (C,)})
for k, shape in want.items():
    assert f32[k].shape == shape, (k, f32[k].shape, shape)
    assert f32[k].dtype == np.float32 and f16[k].dtype == np.float16
for k in f32:
    # fp16 file == fp32 values rounded by numpy (round to nearest even)
    assert np.array_equal(f32[k].astype(np.float16), f16[k]), k
w = f32["gpt_neox.layers.0.mlp.dense_h_to_4h.weight"]
assert np.count_nonzero(w) == w.size and abs(w.std() - 0.02) < 0.002, w.std()
assert np.all(f32["gpt_neox.layers.1.input_layernorm.weight"] == 1.0)
# bf16 shards (numpy has no bfloat16: read the raw bits) == fp32 rounded to nearest even
index = json.load(open(os.path.join(m, "b16/model.safetensors.index.json")))
assert set(index["weight_map"]) == set(f32), "index lists every tensor"
seen = 0
for shard in sorted(set(index["weight_map"].values())):
    path = os.path.join(m, "b16", shard)
    with safe_open(path, "np") as g:
        names = list(g.keys())
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    assert header["__metadata__"] == {"format": "pt"}
    for k in names:
        e = header[k]
        assert e["dtype"] == "BF16" and tuple(e["shape"]) == f32[k].shape
        b, end = e["data_offsets"]
        bits = np.frombuffer(raw[8 + n + b:8 + n + end], dtype="<u2")
        x = f32[k].reshape(-1).view(np.uint32).astype(np.uint64)
        rounded = ((x + 0x7FFF + ((x >> 16) & 1)) >> 16).astype(np.uint16)
        assert np.array_equal(bits, rounded), k
        seen += 1
assert seen == len(f32)
print("safetensors ok")
EOF
else
  echo "skipping Python checks: no $PYTHON (run make setup)" >&2
fi
finish
