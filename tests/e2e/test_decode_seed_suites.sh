# test_decode_seed_suites.sh — the shipped seed suites suites/h2o_pythia.yaml and
# suites/streaming_pythia.yaml, unchanged, on tiny random GPT-NeoX checkpoints standing in for
# Pythia 70M / 410M / 2.8B / 6.9B (${BENCH_MODELS}) and a small pg19-like jsonl (${BENCH_DATA}):
# `bench plan` expands them, and one phase of each runs end to end on the CPU (h2o_pythia's
# within-limit: full and H2O-256 and the window-256 control at 1256 and 1756 tokens; streaming_pythia's exp3-size: three
# model sizes, full and StreamingLLM-256 at 2256 tokens), with the KV metrics of every job checked.
# no-asan: thousands of decode steps per job; test_decode.sh covers the same code under ASan.
. "$(dirname "$0")/lib.sh"

export BENCH_CACHE_DIR=$TMP/cache
export BENCH_MODELS=$TMP/models BENCH_DATA=$TMP/data
mkdir -p "$BENCH_MODELS" "$BENCH_DATA"
cd "$TMP" || exit 1
SUITES=$ROOT/suites

# One layer each, distinct widths and seeds: four distinct checkpoints, as the suites' models are.
hidden=16
for m in pythia-70m-deduped pythia-410m-deduped pythia-2.8b pythia-6.9b; do
  expect_rc "init $m" 0 "$BENCH" init-model "$BENCH_MODELS/$m" --arch gpt_neox --layers 1 \
    --hidden $hidden --heads 2 --intermediate $((4 * hidden)) --seed $hidden
  hidden=$((hidden + 16))
done
# ~60 KB of English-like text in 24 jsonl documents (pg19-validation.jsonl's shape: a "text" field).
awk 'BEGIN {
  split("the a river old night light stone wind over under quiet small city long road house " \
        "and of in was were is by with from bright cold warm tree water sound far near", w, " ");
  x = 777;
  for (d = 0; d < 24; d++) {
    text = "";
    for (s = 0; s < 60; s++) {
      n = 5 + s % 7;
      for (i = 0; i < n; i++) { x = (x * 1103515245 + 12345) % 2147483648; text = text w[1 + int(x / 65536) % 34] " "; }
      text = text ". ";
    }
    printf "{\"id\": %d, \"text\": \"%s\"}\n", d, text;
  }
}' > "$BENCH_DATA/pg19-validation.jsonl"

expect_out "h2o_pythia plans" "h2o_pythia" "$BENCH" plan "$SUITES/h2o_pythia.yaml"
expect_out "streaming_pythia plans" "streaming_pythia" "$BENCH" plan "$SUITES/streaming_pythia.yaml"

expect_rc "h2o_pythia within-limit runs" 0 "$BENCH" run "$SUITES/h2o_pythia.yaml" \
  --only within-limit --results h2o
expect_true "6 jobs" grep -q "finished: 6 ok, 0 failed" h2o/run.log
expect_rc "streaming_pythia exp3-size runs" 0 "$BENCH" run "$SUITES/streaming_pythia.yaml" \
  --only exp3-size --results streaming
expect_true "6 jobs" grep -q "finished: 6 ok, 0 failed" streaming/run.log

cat > check.py <<'EOF'
import glob, json, sys
bad = []
def check(cond, msg):
    if not cond: bad.append(msg)
n = 0
for d, budget_of in (("h2o", lambda c: c.get("heavy", 0) + c["recent"]),
                     ("streaming", lambda c: c["sink"] + c["recent"])):
    for path in glob.glob(d + "/jobs/*.json"):
        j = json.load(open(path)); n += 1
        s, m, c = j["spec"], j["metrics"], j["spec"]["cache"]
        name = "%s %s %s L=%d" % (d, s["model"], c["name"], s["length"])
        check(j["status"] == "ok", name + " " + str(j["error"]))
        if j["status"] != "ok": continue
        L, P, W = s["length"], s["prompt"], s["windows"]
        check(P == 256 and s["warmup"] == 10, name + " prompt/warmup")
        check(m["tokens"] == W * (L - P), name + " tokens")
        budget = L - 1 if c["type"] == "full" else budget_of(c)
        check(budget == (L - 1 if c["type"] == "full" else 256), name + " budget 256")
        check(m["kv_budget"] == budget and m["kv_peak_tokens"] == budget, name + " kv peak")
        check(m["kv_prefill_tokens"] == 255, name + " prefill")
        check(m["kv_bytes_saved"] == m["kv_full_bytes"] - m["kv_peak_bytes"], name + " saved")
        check((m["kv_bytes_saved"] > 0) == (c["type"] != "full"), name + " saves iff evicting")
        check(m["timed_tokens"] == W * (L - P - 10) and m["tokens_per_s"] > 0, name + " timing")
for b in bad: print("BAD:", b)
print("checked %d jobs, %d problems" % (n, len(bad)))
sys.exit(1 if bad else 0)
EOF
expect_out "seed-suite jobs carry the KV metrics" "checked 12 jobs, 0 problems" "$PYTHON" check.py
finish
