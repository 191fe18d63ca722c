# test_decode.sh — the decode protocol and the KV-cache policies through `bench run`: tiny random
# GPT-NeoX (Pythia-shaped) checkpoints from `bench init-model`, and two suites shaped like
# suites/h2o_pythia.yaml and suites/streaming_pythia.yaml scaled down (prompt 16, lengths up to
# 256, budgets 16..64, a model with 64 trained positions to step past). Every job result is
# checked: tokens = windows × (length − prompt), the KV metrics (budget, peak, bytes saved against
# the full cache, prefill), timed tokens after warmup; a budget covering the sequence gives the
# full cache's numbers exactly; policies that evict change them; re-running recomputes nothing.
. "$(dirname "$0")/lib.sh"

export BENCH_CACHE_DIR=$TMP/cache
W=$TMP/work
mkdir -p "$W/data" "$W/models"
cd "$W" || exit 1

expect_rc "init pythia_a" 0 "$BENCH" init-model models/pythia_a --arch gpt_neox --layers 2 \
  --max-positions 64 --seed 3
expect_rc "init pythia_b" 0 "$BENCH" init-model models/pythia_b --arch gpt_neox --layers 3 \
  --hidden 96 --heads 6 --intermediate 384 --max-positions 64 --seed 4

# ~12 KB of deterministic English-like text (a few thousand tokens).
word_text 4242 320 > data/text.txt

cat > h2o.yaml <<'EOF'
# h2o_pythia scaled down: prompt 16, H2O-16 (8 heavy + 8 recent) and H2O-32, a model trained on
# 64 positions; lengths are prompt + generated.
suite: h2o_small
title: H2O on a tiny Pythia-shaped model beyond its 64 positions
defaults:
  model: pythia_a
  dataset: text
  protocol: decode
  prompt: 16
  warmup: 4
  windows: 2
  seeds: [42]
  rope: native
  cache: full
  dtype: fp32
  device: auto
  base_length: 40
models:
  pythia_a: { path: models/pythia_a }
datasets:
  text: { path: data/text.txt }
rope:
  native: { type: model }
cache:
  full:    { type: full }
  h2o_16:  { type: h2o, heavy: 8, recent: 8 }
  h2o_32:  { type: h2o, heavy: 16, recent: 16 }
  h2o_big: { type: h2o, heavy: 8, recent: 100 }
phases:
  - id: within-limit
    cache: [full, h2o_16]
    lengths: [40, 56]
    report: [{ table: lengths }]
  - id: beyond-limit
    cache: [full, h2o_16]
    lengths: [96, 144, 208]
    exclude:
      - { cache: full, length: 144 }
      - { cache: full, length: 208 }
    report: [{ table: lengths }, { plot: ppl_vs_length }]
  - id: extreme
    cache: [h2o_16]
    lengths: [256]
    include:
      - { cache: h2o_32, length: 144 }
      - { cache: h2o_32, length: 256 }
    report: [{ table: lengths }, { plot: nll_vs_position }]
  - id: covering
    cache: [full, h2o_big]
    lengths: [56]
EOF

cat > streaming.yaml <<'EOF'
# streaming_pythia scaled down: sink 4 + recent, two model sizes; exp4 asks about positions
# (cache vs original) instead of devices.
suite: streaming_small
title: StreamingLLM on tiny Pythia-shaped models
defaults:
  model: pythia_b
  dataset: text
  protocol: decode
  prompt: 16
  warmup: 4
  windows: 2
  seeds: [42]
  rope: native
  cache: [full, stream_16]
  dtype: fp32
  device: auto
  base_length: 40
models:
  pythia_a: { path: models/pythia_a }
  pythia_b: { path: models/pythia_b }
datasets:
  text: { path: data/text.txt }
rope:
  native: { type: model }
cache:
  full:        { type: full }
  stream_16:   { type: streaming, sink: 4, recent: 12 }
  stream:      { type: streaming, sink: 4, recent: [12, 28, 60] }
  stream_orig: { type: streaming, sink: 4, recent: 12, positions: original }
  stream_big:  { type: streaming, sink: 4, recent: 200 }
  window_16:   { type: window, recent: 16 }
phases:
  - id: exp1-length
    lengths: [40, 64, 96, 160]
    report: [{ table: lengths }, { plot: ppl_vs_length }]
  - id: exp2-cache
    cache: [full, stream]
    lengths: [96]
    report: [{ table: lengths }, { plot: ppl_vs_param, param: recent }]
  - id: exp3-size
    model: [pythia_a, pythia_b]
    lengths: [96]
    report: [{ table: lengths }]
  - id: exp4-positions
    cache: [stream_16, stream_orig, window_16]
    lengths: [96]
  - id: covering
    cache: [full, stream_big]
    lengths: [64]
EOF

expect_rc "h2o suite runs" 0 "$BENCH" run h2o.yaml
expect_true "h2o: 12 jobs ok (full at 80 shared)" grep -q "finished: 12 ok, 0 failed" results/h2o_small/run.log
expect_rc "streaming suite runs" 0 "$BENCH" run streaming.yaml
# 15 unique jobs: stream[recent=12] is stream_16 (a policy's identity is its type and parameters)
expect_true "streaming: 15 jobs ok" grep -q "finished: 15 ok, 0 failed" results/streaming_small/run.log

cat > check.py <<'EOF'
import glob, json, math, sys
bad = []
def check(cond, msg):
    if not cond: bad.append(msg)
jobs = []
for d in sys.argv[1:]:
    for path in sorted(glob.glob(d + "/jobs/*.json")):
        jobs.append(json.load(open(path)))
for j in jobs:
    s, m, c = j["spec"], j["metrics"], j["spec"]["cache"]
    name = "%s %s L=%d" % (j["suite"], c["name"], s["length"])
    check(j["status"] == "ok", name + " status " + str(j["error"]))
    if j["status"] != "ok": continue
    L, P, W, warm = s["length"], s["prompt"], s["windows"], s["warmup"]
    check(s["protocol"] == "decode" and P == 16 and warm == 4, name + " spec")
    check(m["tokens"] == W * (L - P), "%s tokens %d" % (name, m["tokens"]))
    budget = {"full": L - 1, "h2o": c.get("heavy", 0) + c.get("recent", 0),
              "streaming": c.get("sink", 0) + c.get("recent", 0),
              "window": c.get("recent", 0)}[c["type"]]
    check(m["kv_budget"] == budget, "%s kv_budget %d != %d" % (name, m["kv_budget"], budget))
    check(m["kv_peak_tokens"] == min(budget, L - 1), "%s kv_peak_tokens %d" % (name, m["kv_peak_tokens"]))
    per_token = m["kv_full_bytes"] // (L - 1)
    check(m["kv_full_bytes"] == per_token * (L - 1) and per_token > 0, name + " kv_full_bytes")
    check(m["kv_peak_bytes"] == per_token * m["kv_peak_tokens"], name + " kv_peak_bytes")
    check(m["kv_bytes_saved"] == m["kv_full_bytes"] - m["kv_peak_bytes"], name + " kv_bytes_saved")
    check(m["kv_prefill_tokens"] == P - 1, name + " kv_prefill_tokens")
    check(m["timed_tokens"] == W * (L - P - warm), name + " timed_tokens")
    check(m["tokens_per_s"] > 0 and m["timed_s"] > 0 and m["forward_s"] >= m["timed_s"], name + " timing")
    check(abs(m["tokens_per_s"] - m["timed_tokens"] / m["timed_s"]) <= 1e-6 * m["tokens_per_s"], name + " tokens/s")
    check(0 < m["nll"] < 20 and abs(m["ppl"] - math.exp(m["nll"])) <= 1e-9 * m["ppl"], name + " nll")
    check(len(m["window_ppl"]) == W, name + " window_ppl")
    width = -(-L // 16)
    check(m["nll_by_position"][0][0] == (P // width) * width, name + " first bucket")

def find(suite, cache, L, model=None):
    out = [j for j in jobs if j["suite"] == suite and j["spec"]["cache"]["name"] == cache and
           j["spec"]["length"] == L and (model is None or j["spec"]["model"] == model)]
    check(len(out) == 1, "%s %s L=%d: %d jobs" % (suite, cache, L, len(out)))
    return out[0]["metrics"] if out else {"nll": float("nan"), "window_ppl": []}
# A budget covering the sequence gives exactly the full cache's numbers.
for suite, big, L in (("h2o_small", "h2o_big", 56), ("streaming_small", "stream_big", 64)):
    a, b = find(suite, "full", L), find(suite, big, L)
    check(a["nll"] == b["nll"] and a["window_ppl"] == b["window_ppl"], suite + " covering budget equals full")
# Policies that evict change the numbers; cache and original positions differ.
f, h = find("h2o_small", "full", 96), find("h2o_small", "h2o_16", 96)
check(f["nll"] != h["nll"], "h2o changes the numbers")
s1 = find("streaming_small", "stream_16", 96, "pythia_b")
s2 = find("streaming_small", "stream_orig", 96, "pythia_b")
s3 = find("streaming_small", "window_16", 96, "pythia_b")
check(len({s1["nll"], s2["nll"], s3["nll"]}) == 3, "positions and sinks matter")
for b in bad: print("BAD:", b)
print("checked %d jobs, %d problems" % (len(jobs), len(bad)))
sys.exit(1 if bad else 0)
EOF
expect_out "job results carry the KV metrics" "checked 27 jobs, 0 problems" \
  "$PYTHON" check.py results/h2o_small results/streaming_small

# Re-running recomputes nothing.
sha256sum results/*/jobs/*.json > before.sha
expect_rc "resume" 0 "$BENCH" run streaming.yaml
expect_true "nothing recomputed" grep -q "finished: 0 ok, 0 failed, 15 already done" <<<"$OUT"
expect_true "files unchanged" sha256sum -c --quiet before.sha

# A prompt that leaves nothing to score, and a policy with a one-pass protocol, are refused before
# anything runs, naming the suite node.
sed -e 's/^suite: h2o_small/suite: h2o_bad/' -e 's/^  prompt: 16/  prompt: 80/' h2o.yaml > bad.yaml
expect_err "prompt ≥ length" "must be greater than 'prompt'" "$BENCH" run bad.yaml
sed -e 's/^suite: h2o_small/suite: h2o_chunks/' -e 's/^  protocol: decode/  protocol: chunks/' \
  -e '/^  prompt: 16/d' -e '/^  warmup: 4/d' h2o.yaml > chunks.yaml
expect_err "h2o with chunks is refused" "needs protocol 'decode', but phase 'covering' uses protocol 'chunks'" \
  "$BENCH" run chunks.yaml --only covering
expect_true "the refusal names the suite node" \
  grep -Eq "chunks.yaml:[0-9]+:[0-9]+: cache policy 'h2o_big' \(h2o\) needs protocol 'decode'" <<<"$ERR"
expect_true "the refused run wrote nothing" test ! -e results/h2o_chunks
finish
