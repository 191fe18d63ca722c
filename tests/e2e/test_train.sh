# test_train.sh — a training phase end to end: `bench run` trains one tiny Llama per (rope
# variant, seed) on real text (100 KB of the King James Bible in data/kjv/, its BPE tokenizer),
# saves each as a Hugging Face checkpoint, evaluates it, and records the training in the jobs'
# metrics. Checked: the loss falls; the checkpoint files and config.json (bench_rope for a
# non-geometric variant); bench inspect reads the model; a re-run reuses everything; --fresh
# re-evaluates without retraining; a run killed (-9) mid-training resumes from its checkpoint and
# ends with the same bytes as an uninterrupted run; the report draws the loss curve.
. "$(dirname "$0")/lib.sh"

export BENCH_CACHE_DIR=$TMP/cache
export OMP_NUM_THREADS=1  # bit-identical runs need one thread count
W=$TMP/work
mkdir -p "$W/data"
cd "$W" || exit 1
head -c 100000 "$ROOT/data/kjv/train.txt" > data/train.txt
cp "$ROOT/data/kjv/valid.txt" data/valid.txt
cp "$ROOT/data/kjv/tokenizer.json" data/tokenizer.json

write_suite() {  # name, steps, save_every
  cat > "$1.yaml" <<EOF
suite: $1
defaults:
  dataset: valid
  train: tiny
  protocol: chunks
  windows: 2
  lengths: [64, 128]
  seeds: [3]
  cache: full
  dtype: fp32
  device: cpu
  base_length: 64
datasets:
  train: { path: data/train.txt }
  valid: { path: data/valid.txt }
train:
  tiny:
    arch: llama
    layers: 1
    hidden: 32
    heads: 2
    intermediate: 64
    tokenizer: data/tokenizer.json
    data: train
    tokens: $(( $2 * 4 * 64 ))
    seq_len: 64
    batch: 4
    lr: 0.01
    warmup: 3
    schedule: cosine
    beta1: 0.9
    beta2: 0.95
    weight_decay: 0.1
    grad_clip: 1.0
    dtype: fp32
    eval_every: 10
    save_every: $3
rope:
  geo: { type: geometric, theta: 10000 }
  pi: { type: compress, base: geo, threshold: 16, factor: 2 }
cache:
  full: { type: full }
phases:
  - id: t
    rope: [geo, pi]
    report:
      - { table: lengths }
      - { plot: loss_curve }
EOF
}

# the recipe's data is checked with the other paths before any job starts
write_suite missing 30 10
sed -i 's#train: { path: data/train.txt }#train: { path: data/nothing.txt }#' missing.yaml
expect_err "missing training data" "dataset 'train': path" "$BENCH" run missing.yaml --results mres
expect_true "nothing trained" test ! -e mres/models

write_suite tt 30 10
expect_rc "train run" 0 "$BENCH" run tt.yaml --results res --reports rep
# bench status while a model trains: steps counted as steps, an ETA from the measured rate
wait_until() { local end=$((SECONDS + $1)); shift; until "$@" >/dev/null 2>&1; do [ $SECONDS -ge $end ] && return 1; sleep 0.1; done; }
BENCH_FAULT=delay:100 "$BENCH" run tt.yaml --results slow --no-report >slow.out 2>&1 &
SLOW=$!
training_step() { "$BENCH" status slow | grep -qE "^running   .* training step ([3-9]|[1-9][0-9])/30, for"; }
expect_true "status: training step N/30" wait_until 60 training_step
expect_out "status while training" "ETA       " "$BENCH" status slow
expect_true "status: a real ETA while training" bash -c '! grep -q "ETA       unknown" <<<"$1"' _ "$OUT"
kill -TERM $SLOW
wait $SLOW
expect_true "four jobs recorded" test "$(ls res/jobs | wc -l)" -eq 4
expect_true "two trained models" test "$(ls -d res/models/*/ | wc -l)" -eq 2
geo_job=$(grep -l '"name":"geo"' res/jobs/*.json | head -1)
pi_job=$(grep -l '"name":"pi"' res/jobs/*.json | head -1)
py() { python3 -c "$1" "${@:2}"; }
expect_true "status ok" py 'import json,sys; assert json.load(open(sys.argv[1]))["status"] == "ok"' "$geo_job"
expect_true "loss curve of 30 steps, loss falls on real text" py '
import json, sys
m = json.load(open(sys.argv[1]))["metrics"]
c = m["loss_curve"]; t = m["train"]
assert len(c) == 30 and c[0][0] == 1 and c[-1][0] == 30
assert abs(c[0][1] - 7.62) < 0.1, c[0]            # ln 2048 at random init
assert c[-1][1] < c[0][1] - 1.5, (c[0], c[-1])
assert t["steps"] == 30 and t["tokens"] == 30 * 4 * 64 and t["tokens_per_s"] > 0
assert t["compute_dtype"] == "fp32" and t["reused"] is False
assert len(m["val_curve"]) == 3 and m["val_curve"][-1][0] == 30
' "$geo_job"
model_dir=$(py 'import json,sys; print(json.load(open(sys.argv[1]))["metrics"]["train"]["model_dir"])' "$geo_job")
pi_dir=$(py 'import json,sys; print(json.load(open(sys.argv[1]))["metrics"]["train"]["model_dir"])' "$pi_job")
for f in config.json model.safetensors tokenizer.json generation_config.json training.json; do
  expect_true "checkpoint has $f" test -f "$model_dir/$f"
done
expect_true "no checkpoint dir left" test ! -e "$model_dir/checkpoint"
expect_true "geometric config: rope_theta, no bench_rope" py '
import json, sys
c = json.load(open(sys.argv[1]))
assert c["rope_theta"] == 10000 and "bench_rope" not in c and c["max_position_embeddings"] == 64
assert c["architectures"] == ["LlamaForCausalLM"] and c["vocab_size"] == 2048 and c["tie_word_embeddings"]
' "$model_dir/config.json"
expect_true "compress config carries bench_rope" py '
import json, sys
c = json.load(open(sys.argv[1]))
assert c["bench_rope"]["type"] == "compress" and c["bench_rope"]["threshold"] == 16
' "$pi_dir/config.json"
expect_out "inspect the trained model" "LlamaForCausalLM" "$BENCH" inspect "$model_dir"
# the checkpoint as any model: rope `model` reads bench_rope and scores exactly as the phase did
cat > native.yaml <<EOF
suite: native
defaults: { model: pim, dataset: valid, protocol: chunks, windows: 2, lengths: [64, 128], seeds: [3],
            rope: native, cache: full, dtype: fp32, device: cpu }
models:
  pim: { path: $pi_dir }
datasets:
  valid: { path: data/valid.txt }
rope:
  native: { type: model }
cache:
  full: { type: full }
phases:
  - id: n
EOF
expect_rc "evaluate the trained checkpoint" 0 "$BENCH" run native.yaml --results nres --reports nrep
expect_true "rope model = the training variant" py '
import glob, json, sys
def ppl(pattern):
    out = {}
    for f in glob.glob(pattern):
        j = json.load(open(f))
        if j["spec"]["rope"]["name"] in ("pi", "native"):
            out[j["spec"]["length"]] = j["metrics"]["ppl"]
    return out
a, b = ppl("res/jobs/*.json"), ppl("nres/jobs/*.json")
assert a == b and len(a) == 2, (a, b)
'
expect_out "bench rope shows the checkpoint variant" "compress" "$BENCH" rope native.yaml native
expect_true "report draws the loss curve" grep -q "loss_curve" rep/REPORT.md

# a re-run does nothing; --fresh re-evaluates with the trained models
expect_out "re-run skips" "already done" "$BENCH" run tt.yaml --results res --reports rep
expect_true "re-run trains nothing" bash -c "! grep -q 'step 1/30' <<< \"\$1\"" _ "$OUT"
expect_rc "fresh" 0 "$BENCH" run tt.yaml --results res --reports rep --fresh
expect_true "fresh reuses the models" py '
import json, sys
assert json.load(open(sys.argv[1]))["metrics"]["train"]["reused"] is True' "$geo_job"

# kill -9 in the middle of training, then resume: same bytes as the uninterrupted run
write_suite long 120 20
expect_rc "uninterrupted" 0 "$BENCH" run long.yaml --results full --reports rep_full --only t
"$BENCH" run long.yaml --results killed --reports rep_killed > killed.log 2>&1 &
pid=$!
for _ in $(seq 1 600); do
  ls killed/models/*/checkpoint/trainer_state.json >/dev/null 2>&1 && break
  sleep 0.1
done
kill -9 "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
expect_true "killed before the end" test ! -f "$(ls -d killed/models/*/ | head -1)training.json"
expect_out "resumed" "resumed from step" "$BENCH" run long.yaml --results killed --reports rep_killed
for d in full/models/*/; do
  id=$(basename "$d")
  expect_true "resumed model $id equals the uninterrupted one" cmp "$d/model.safetensors" "killed/models/$id/model.safetensors"
done

finish
