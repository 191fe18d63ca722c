# test_plan.sh — `bench plan`: every shipped suite plans with models and data absent, night_9h's
# experiments have the lab note's job counts, --json has the documented schema, and the warnings
# (seed 001's short-dataset pitfall, trained positions, device memory, seeds that change nothing).
. "$(dirname "$0")/lib.sh"

mkdir -p "$TMP/models" "$TMP/data" "$TMP/cache"
export BENCH_MODELS="$TMP/models" BENCH_DATA="$TMP/data" BENCH_CACHE_DIR="$TMP/cache"

# ---- every suite validates and plans on a machine without any model or dataset ----
for suite in "$ROOT"/suites/*.yaml; do
  name=$(basename "$suite" .yaml)
  expect_rc "validate $name" 0 "$BENCH" validate "$suite"
  expect_out "plan $name" "totals" "$BENCH" plan "$suite"
  # The quickstart suites use the model and corpus shipped in the repository; the others name
  # weights under $BENCH_MODELS, absent here, so their ids are provisional.
  case "$name" in
    quickstart*) expect_true "plan $name has final ids" bash -c '! grep -q provisional <<<"$1"' _ "$OUT" ;;
    *) expect_true "plan $name warns that ids are provisional" grep -q "job ids are provisional" <<<"$OUT" ;;
  esac
  run "$BENCH" plan "$suite" --json
  printf '%s' "$OUT" >"$TMP/$name.json"
  expect_true "plan --json $name exits 0" test "$RC" -eq 0
  expect_true "plan --json $name has the schema" "$PYTHON" - "$TMP/$name.json" <<'PY'
import json, re, sys
doc = json.load(open(sys.argv[1]))
assert list(doc) == ["suite", "jobs", "warnings"], list(doc)
assert isinstance(doc["suite"], str) and doc["jobs"] and isinstance(doc["warnings"], list)
base = ["model", "dataset", "rope", "cache", "length", "seed", "protocol", "windows"]
specs = {}
for e in doc["jobs"]:
    assert list(e) == ["job_id", "phase", "runs_on", "spec"], list(e)
    assert re.fullmatch(r"cpu|cuda:[0-9]+", e["runs_on"]), e["runs_on"]
    assert re.fullmatch(r"[0-9a-f]{16}", e["job_id"]), e["job_id"]
    s = e["spec"]
    keys = list(s)
    assert keys[:8] == base, keys
    extra = {"sliding": ["stride"], "decode": ["prompt", "warmup"]}.get(s["protocol"], [])
    assert keys[8:] == extra + ["dtype", "device"] + (["train"] if "train" in s else []), keys
    for k in ("rope", "cache"):
        assert list(s[k])[:2] == ["name", "type"], s[k]
    assert isinstance(s["length"], int) and isinstance(s["seed"], int) and isinstance(s["windows"], int)
    # a job shared by phases is the same job everywhere (names aside)
    strip = lambda s: json.dumps({k: v for k, v in s.items() if k not in ("rope", "cache")}, sort_keys=True)
    specs.setdefault(e["job_id"], set()).add(strip(s))
assert all(len(v) == 1 for v in specs.values())
for w in doc["warnings"]:
    assert isinstance(w, str) and "\n" not in w
PY
done

# ---- night_9h: the job counts of the lab note's table (experiment 7 gives none) ----
expect_true "night_9h job counts equal the lab note" "$PYTHON" - "$TMP/night_9h.json" <<'PY'
import json, sys, collections
doc = json.load(open(sys.argv[1]))
n = collections.Counter(e["phase"] for e in doc["jobs"])
want = {"1A": 4 * 2, "1B": 2 * 6, "2": 2 * 2 + 2 * 2,
        "ext1-theta": 7 * 5, "ext2-anchor-factor": 6 * 5, "ext3-anchor-dim": 6 * 4,
        "ext4-slope": 6 * 4, "ext5-boundary": 3 * 16, "ext6-seeds": 2 * 4 * 7,
        "ext7-cross-domain": 2 * 2 * 3, "ext8-ppl-ratio": 3 * 6 * 3}
assert dict(n) == want, dict(n)
# jobs shared between phases run once: fewer unique ids than entries
ids = {e["job_id"] for e in doc["jobs"]}
assert len(ids) < sum(n.values()), (len(ids), sum(n.values()))
# the 1B job at 16k is the same job in 1A and 2
by = collections.defaultdict(set)
for e in doc["jobs"]:
    if e["spec"]["length"] == 16384 and e["spec"]["seed"] == 42 and e["spec"]["rope"]["name"] == "geo_500k":
        by[e["job_id"]].add(e["phase"])
assert any({"1A", "1B", "2"} <= p for p in by.values()), by
PY
expect_true "hybrid_rope sweeps name their members" grep -q '"name":"hybrid\[factor=2.0\]"' "$TMP/hybrid_rope.json"
expect_true "h2o_pythia decode specs carry prompt and warmup" grep -q '"protocol":"decode","windows":3,"prompt":256,"warmup":10' "$TMP/h2o_pythia.json"

# ---- warnings before anything runs ----
mkdir -p "$TMP/w/model"
cat >"$TMP/w/model/config.json" <<'JSON'
{"model_type": "llama", "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
 "num_key_value_heads": 2, "intermediate_size": 128, "vocab_size": 256, "max_position_embeddings": 2048}
JSON
"$PYTHON" - "$TMP/w" <<'PY'
import json, struct, sys
d = sys.argv[1]
def st(path, shape):  # a safetensors header claiming a tensor far larger than any memory
    h = json.dumps({"w": {"dtype": "F32", "shape": shape, "data_offsets": [0, 0]}}).encode()
    open(path, "wb").write(struct.pack("<Q", len(h)) + h)
st(d + "/model/model.safetensors", [1000000, 1000000])
open(d + "/short.txt", "w").write("the pitfall of seed 001. " * 400)  # 10,000 bytes
ids = 9139
open(d + "/short.bin", "wb").write(b"BENCHTOK" + struct.pack("<IIQQ", 1, 4, ids, 0) + b"\0" * 4 * ids)
PY
cat >"$TMP/w/warn.yaml" <<'YAML'
suite: warn
defaults: { model: m, dataset: short, rope: native, cache: full, device: cpu, seeds: [1] }
models: { m: { path: model } }
datasets:
  short: { path: short.txt }
  tokens: { path: short.bin }
rope: { native: { type: model } }
cache: { full: { type: full } }
phases:
  - id: qwen-like
    lengths: [1024, 4096, 8192]
    windows: 2
  - id: exact
    dataset: tokens
    lengths: [4096]
    windows: 3
  - id: seeds
    lengths: [256]
    seeds: [1, 2, 3]
YAML
run "$BENCH" plan "$TMP/w/warn.yaml"
expect_true "plan with warnings exits 0" test "$RC" -eq 0
expect_true "short text dataset: estimate with the numbers" grep -q "phase 'qwen-like': dataset 'short' holds about 2500 tokens (10000 bytes of text.*4096 × 2 = 8192, 8192 × 2 = 16384" <<<"$OUT"
expect_true "long enough lengths are not listed" bash -c '! grep -q "1024 × 2" <<<"$1"' _ "$OUT"
expect_true "short token file: exact count" grep -q "phase 'exact': dataset 'tokens' holds 9139 tokens, fewer than .*4096 × 3 = 12288" <<<"$OUT"
expect_true "length beyond trained positions" grep -q "phase 'qwen-like': lengths 4096, 8192 exceed the 2048 positions model 'm' was trained on" <<<"$OUT"
expect_true "cannot fit device memory" grep -q "model 'm' in fp32 on device cpu (cpu memory, .* GiB): length 256 needs about .* GiB (weights .* + KV cache .* + workspace .*); so do lengths 1024, 4096, 8192: expect out-of-memory" <<<"$OUT"
expect_true "seeds that change nothing" grep -q "phase 'seeds': seeds 1, 2, 3 change nothing: protocol 'chunks' is deterministic" <<<"$OUT"
expect_true "real paths give final ids" bash -c '! grep -q "provisional" <<<"$1"' _ "$OUT"
run "$BENCH" plan "$TMP/w/warn.yaml" --json
expect_true "warnings in --json too" "$PYTHON" -c '
import json, sys
w = json.loads(sys.argv[1])["warnings"]
assert any("holds about 2500 tokens" in x for x in w) and any("holds 9139 tokens" in x for x in w), w' "$OUT"
expect_true "the fingerprint cache was written" bash -c 'ls "$1"/fingerprints/*.json' _ "$TMP/cache"
run "$BENCH" plan "$TMP/w/warn.yaml" --json
first_ids=$(printf '%s' "$OUT" | grep -o '"job_id":"[0-9a-f]*"' | sort -u)
touch -d '2001-01-01' "$TMP/w/short.txt"   # new mtime, same bytes: the cache misses, the id stays
run "$BENCH" plan "$TMP/w/warn.yaml" --json
expect_true "ids do not depend on the cache" test "$first_ids" = "$(printf '%s' "$OUT" | grep -o '"job_id":"[0-9a-f]*"' | sort -u)"
echo "more text" >>"$TMP/w/short.txt"
run "$BENCH" plan "$TMP/w/warn.yaml" --json
expect_true "editing a dataset changes its jobs' ids" test "$first_ids" != "$(printf '%s' "$OUT" | grep -o '"job_id":"[0-9a-f]*"' | sort -u)"

# once the engine has tokenized a text dataset (its token cache), the count is exact
echo '{"model": {"type": "BPE"}}' >"$TMP/w/model/tokenizer.json"
"$PYTHON" - "$TMP/w" "$BENCH_CACHE_DIR" <<'PY'
import hashlib, os, struct, sys
w, cache = sys.argv[1:]
sha = lambda b: hashlib.sha256(b).hexdigest()
tok = sha(open(w + "/model/tokenizer.json", "rb").read())
data = sha((sha(open(w + "/short.txt", "rb").read()) + "\n").encode())  # engine/eval/data.h's fingerprint
key = sha(f"bench.tokens/1\n{tok}\n{data}\n-1".encode())
os.makedirs(cache + "/tokens", exist_ok=True)
n = 3000
open(f"{cache}/tokens/{key}.tok", "wb").write(b"BENCHTOK" + struct.pack("<IIQQ", 1, 4, n, 0) + b"\0" * 4 * n)
PY
run "$BENCH" plan "$TMP/w/warn.yaml"
expect_true "token cache: exact count" grep -q "phase 'qwen-like': dataset 'short' holds 3000 tokens with the tokenizer of model 'm', fewer than its jobs need (length × windows = tokens): 4096 × 2 = 8192, 8192 × 2 = 16384" <<<"$OUT"

# a real checkpoint: final ids, the compute estimate from its parameters
expect_rc "init-model" 0 "$BENCH" init-model "$TMP/tiny" --arch llama
printf 'x%.0s' $(seq 1 20000) >"$TMP/tiny/corpus.txt"
cat >"$TMP/tiny/s.yaml" <<'YAML'
suite: tiny
defaults: { model: m, dataset: d, rope: native, cache: full, device: cpu, seeds: [0], windows: 2 }
models: { m: { path: . } }
datasets: { d: { path: corpus.txt } }
rope: { native: { type: model }, yarn: { type: yarn, factor: 4 } }
cache: { full: { type: full } }
phases:
  - id: a
    rope: [native, yarn]
    lengths: [1024, 4096]
YAML
run "$BENCH" plan "$TMP/tiny/s.yaml"
expect_true "checkpoint plan exits 0" test "$RC" -eq 0
expect_true "compute estimate from the checkpoint" grep -q "compute   about .* FLOP (2·params·tokens + attention) for 4 of 4 jobs$" <<<"$OUT"
expect_true "time estimate states its throughput" grep -q "time      about .*, assuming 400 TFLOP/s on a GPU (50 in fp32) and 50 GFLOP/s on the CPU" <<<"$OUT"
expect_true "its trained positions" grep -q "phase 'a': length 4096 exceeds the 2048 positions model 'm' was trained on" <<<"$OUT"
# 20000 bytes that its tokenizer makes 20000 tokens: enough for 4096 × 2 (at 4 bytes per token the
# plan used to warn that it held about 5000)
expect_true "text counted with the model's tokenizer" bash -c '! grep -q "dataset .d. holds" <<<"$1"' _ "$OUT"
# the CPU engine computes bf16/fp16 jobs in fp32: the plan says so (fp32 jobs need no note)
expect_true "fp32 on the cpu: no note" bash -c '! grep -q "on cpu)" <<<"$1"' _ "$OUT"
sed 's/device: cpu, seeds/device: cpu, dtype: bf16, seeds/' "$TMP/tiny/s.yaml" >"$TMP/tiny/bf16.yaml"
expect_out "bf16 on the cpu computes in fp32" "bf16 (fp32 on cpu)" "$BENCH" plan "$TMP/tiny/bf16.yaml"
expect_true "no provisional ids" bash -c '! grep -q provisional <<<"$1"' _ "$OUT"
run "$BENCH" plan "$TMP/tiny/s.yaml" --json
ids1=$(printf '%s' "$OUT" | grep -o '"job_id":"[0-9a-f]*"')
expect_rc "init-model with another seed" 0 "$BENCH" init-model "$TMP/tiny" --arch llama --seed 7 --force
run "$BENCH" plan "$TMP/tiny/s.yaml" --json
expect_true "other weights, same header: other ids" test "$ids1" != "$(printf '%s' "$OUT" | grep -o '"job_id":"[0-9a-f]*"')"
expect_rc "init-model with the first seed again" 0 "$BENCH" init-model "$TMP/tiny" --arch llama --force
run "$BENCH" plan "$TMP/tiny/s.yaml" --json
expect_true "the same weights again: the same ids" test "$ids1" = "$(printf '%s' "$OUT" | grep -o '"job_id":"[0-9a-f]*"')"
expect_rc "init-model with another shape" 0 "$BENCH" init-model "$TMP/tiny" --arch llama --layers 3 --force
run "$BENCH" plan "$TMP/tiny/s.yaml" --json
expect_true "another architecture: other ids" test "$ids1" != "$(printf '%s' "$OUT" | grep -o '"job_id":"[0-9a-f]*"')"

# ---- a matrix of a million jobs: counted and warned about at once, refused by run ----
# (timeout turns the old behaviour, minutes and GBs building every job, into a failure)
mkdir -p "$TMP/big"
{
  echo "suite: big"
  echo "defaults: { model: m, dataset: d, protocol: random, windows: 1, cache: full, dtype: fp32, device: cpu }"
  echo "models: { m: { path: $TMP/tiny } }"
  echo "datasets: { d: { path: $ROOT/data/kjv/valid.txt } }"
  echo "rope: { geo: { type: geometric, theta: [$(seq -s, 10000 1000 19000)] } }"
  echo "cache: { full: { type: full } }"
  echo "phases:"
  echo "  - { id: p, rope: [geo], lengths: [$(seq -s, 64 64 6400)], seeds: [$(seq -s, 1 1000)] }"
} >"$TMP/big/s.yaml"
run timeout 120 "$BENCH" plan "$TMP/big/s.yaml"
expect_true "plan of a million jobs exits 0" test "$RC" -eq 0
expect_true "plan of a million jobs counts them" grep -q "phase p: 1,000,000 jobs (not listed)" <<<"$OUT"
expect_true "plan of a million jobs warns about the limit" \
  grep -q "expands to 1,000,000 jobs, more than the 100,000 that bench runs" <<<"$OUT"
run timeout 120 "$BENCH" plan "$TMP/big/s.yaml" --json
expect_true "plan --json of a million jobs gives the count" "$PYTHON" -c '
import json, sys
d = json.loads(sys.argv[1])
assert d["count"] == 1000000 and d["count_exact"] and d["jobs"] == [] and "100,000" in d["warnings"][-1], d' "$OUT"
run timeout 120 "$BENCH" validate "$TMP/big/s.yaml"
expect_true "validate of a million jobs warns" grep -q "1 warning" <<<"$OUT"
expect_true "validate names the limit" grep -q "more than the 100,000" <<<"$ERR"
expect_err "run refuses a million jobs" "expands to 1,000,000 jobs, more than the 100,000" \
  timeout 120 "$BENCH" run "$TMP/big/s.yaml" --results "$TMP/big/r" --dry-run
expect_true "the refused run wrote nothing" test ! -e "$TMP/big/r"

# ---- auto jobs are priced where bench run puts them: cuda:0 with a GPU here, else the CPU ----
sed 's/device: cpu, //' "$TMP/tiny/s.yaml" >"$TMP/tiny/auto.yaml"
run "$BENCH" doctor
if grep -q "no CUDA GPU found" <<<"$OUT"; then here=cpu; else here=cuda:0; fi
run "$BENCH" plan "$TMP/tiny/auto.yaml"
expect_true "auto rows show the device they run on ($here)" bash -c '[ "$(grep -c "^  [0-9a-f]\{16\} .* $2\$" <<<"$1")" = 4 ] && ! grep -q " auto$" <<<"$1"' _ "$OUT" "$here"
if [ "$here" = cpu ]; then
  expect_true "no GPU: the totals say auto is the cpu" grep -q "devices   auto jobs priced on the cpu: no GPU is visible on this machine" <<<"$OUT"
  expect_true "no GPU: memory against RAM" grep -q "memory    cpu (RAM .* GiB): the largest job needs about .* GiB (model 'm' in fp32, length 4096)" <<<"$OUT"
fi
auto_time=$(grep "^  time" <<<"$OUT")
run "$BENCH" plan "$TMP/tiny/auto.yaml" --device cpu
expect_true "--device cpu: every row on the cpu" test "$(grep -c '^  [0-9a-f]\{16\} .* cpu$' <<<"$OUT")" = 4
cpu_time=$(grep "^  time" <<<"$OUT")
[ "$here" = cpu ] && expect_true "no GPU: auto is timed as the cpu" test "$auto_time" = "$cpu_time"
run "$BENCH" plan "$TMP/tiny/auto.yaml" --device cuda:7
expect_true "--device cuda:7: rows on cuda:7" test "$(grep -c '^  [0-9a-f]\{16\} .* cuda:7$' <<<"$OUT")" = 4
expect_true "--device cuda:7: timed at GPU speed, not the cpu's" test "$(grep "^  time" <<<"$OUT")" != "$cpu_time"
expect_true "--device cuda:7: its memory is unknown here" grep -q "memory    cuda:7 (not visible here): the largest job needs about .* GiB (model 'm' in fp32, length 4096)" <<<"$OUT"
expect_true "--device cuda:7: memory not checked, said" grep -q "4 jobs run on a CUDA device that is not visible on this machine" <<<"$OUT"
run "$BENCH" plan "$TMP/tiny/auto.yaml" --device cuda:7 --json
expect_true "--json: each entry says where it runs" "$PYTHON" -c '
import json, sys
jobs = json.loads(sys.argv[1])["jobs"]
assert [e["runs_on"] for e in jobs] == ["cuda:7"] * 4, jobs
assert all("device" not in e["spec"] or e["spec"]["device"] == "auto" for e in jobs), jobs' "$OUT"
expect_err "--device names a device" "--device: unknown device 'gpu'" "$BENCH" plan "$TMP/tiny/auto.yaml" --device gpu

# ---- errors ----
expect_err "no suite" "'plan' needs a suite file" "$BENCH" plan
expect_err "unknown option" "unknown option '--jsn'" "$BENCH" plan "$TMP/w/warn.yaml" --jsn
printf 'suite: bad\nrpoe: {}\n' >"$TMP/bad.yaml"
expect_err "suite errors name file:line:col" "bad.yaml:2:1: unknown key 'rpoe'" "$BENCH" plan "$TMP/bad.yaml"
expect_err "missing suite file" "nope.yaml" "$BENCH" plan "$TMP/nope.yaml"
finish
