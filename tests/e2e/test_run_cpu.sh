# test_run_cpu.sh — `bench run` on the CPU engine end to end: a tiny random checkpoint from
# `bench init-model`, text and jsonl datasets, every built protocol with two RoPE variants; job
# result files checked field by field; resume, --fresh, --only, --dry-run; a too-short dataset
# fails its job with both numbers while the others complete; missing paths stop the run (exit 2).
. "$(dirname "$0")/lib.sh"

export BENCH_CACHE_DIR=$TMP/cache
W=$TMP/work
mkdir -p "$W/data" "$W/models"
cd "$W" || exit 1

expect_rc "init-model" 0 "$BENCH" init-model models/tiny --arch llama --seed 7

# ~6 KB of deterministic English-like text; a short text; three jsonl documents.
word_text 12345 160 > data/text.txt
printf 'A short text.\n' > data/short.txt
awk 'NR <= 40 { printf "{\"id\": %d, \"body\": \"%s\"}\n", NR, $0 }' data/text.txt > data/docs.jsonl

cat > suite.yaml <<'EOF'
suite: e2e_cpu
title: end-to-end CPU run
defaults:
  model: tiny
  dataset: text
  protocol: chunks
  windows: 3
  lengths: [32, 64]
  seeds: [1]
  rope: native
  cache: full
  dtype: fp32
  device: cpu
models:
  tiny: { path: models/tiny }
datasets:
  text: { path: data/text.txt }
  docs: { path: data/docs.jsonl, field: body }
  short: { path: data/short.txt }
rope:
  native: { type: model }
  geo: { type: geometric, theta: 500000 }
cache:
  full: { type: full }
phases:
  - id: chunks
    rope: [native, geo]
  - id: random
    protocol: random
    rope: [native, geo]
    seeds: [1, 2]
  - id: sliding
    protocol: sliding
    stride: 16
    rope: [native, geo]
  - id: sliding_stride_l
    protocol: sliding
    stride: 32
    lengths: [32]
  - id: half
    protocol: half
  - id: jsonl
    dataset: docs
    lengths: [32]
  - id: short
    dataset: short
    lengths: [64]
EOF
OK_PHASES=chunks,random,sliding,sliding_stride_l,half,jsonl
R=results/e2e_cpu

# --dry-run writes nothing.
expect_out "dry run lists jobs" "would run" "$BENCH" run suite.yaml --dry-run
expect_true "dry run wrote nothing" test ! -e results
expect_err "unknown --only phase" "unknown phase 'chunk' (did you mean 'chunks'?)" \
  "$BENCH" run suite.yaml --only chunk
expect_err "cuda is refused for now" "device 'cuda'" "$BENCH" run suite.yaml --device cuda

# Every phase but the too-short one: all jobs ok.
expect_rc "run ok phases" 0 "$BENCH" run suite.yaml --only $OK_PHASES
expect_true "suite copied" cmp suite.yaml $R/suite.yaml
expect_true "run.log written" grep -q "finished: 20 ok, 0 failed" $R/run.log
expect_true "20 job files" test "$(ls $R/jobs/*.json | wc -l)" -eq 20
expect_true "report written" grep -q "20 of" reports/e2e_cpu/REPORT.md
expect_true "token cache written" test -n "$(ls "$BENCH_CACHE_DIR"/tokens/*.tok)"

# Field-by-field checks of every result against the protocol's definition.
cat > check.py <<'EOF'
import glob, json, math, os, re, sys
bad = []
def check(cond, msg):
    if not cond: bad.append(msg)
jobs = {}
for path in sorted(glob.glob(sys.argv[1] + "/jobs/*.json")):
    j = json.load(open(path))
    name = os.path.basename(path)
    if j["spec"]["dataset"] == "short":  # the too-short dataset: checked by the shell script
        check(j["status"] == "error" and j["metrics"] is None, name + " short job")
        continue
    jobs[j["job_id"]] = j
    check(j["schema"] == "bench.job/1", name + " schema")
    check(name == j["job_id"] + ".json", name + " file name")
    check(j["suite"] == "e2e_cpu", name + " suite")
    check(j["status"] == "ok" and j["error"] is None, name + " status " + str(j.get("error")))
    check(re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", j["started"]) and j["started"] <= j["finished"], name + " times")
    s, m = j["spec"], j["metrics"]
    for k in ("model", "dataset", "rope", "cache", "length", "seed", "protocol", "windows", "dtype", "device"):
        check(k in s, name + " spec." + k)
    check(s["device"] == "cpu", name + " device")
    L, W, p = s["length"], s["windows"], s["protocol"]
    S = s.get("stride") or L // 2
    want = {"chunks": W * (L - 1), "random": W * (L - 1), "half": W * (L - 1 - L // 2),
            "sliding": (L - 1) + (W - 1) * min(S, L - 1)}[p]
    check(m["tokens"] == want, "%s %s tokens %s != %s" % (name, p, m["tokens"], want))
    check(abs(m["ppl"] - math.exp(m["nll"])) <= 1e-9 * m["ppl"], name + " ppl = exp(nll)")
    check(0 < m["nll"] < 20 and 0 < m["nll_stderr"] < 1, name + " nll range")
    check(0 <= m["acc"] <= 1, name + " acc")
    check(m["tokens_per_s"] > 0 and m["wall_s"] > 0 and m["peak_mem_bytes"] > 1 << 20, name + " speed/memory")
    check(m["kv_peak_tokens"] == L, name + " kv_peak_tokens")
    check(len(m["window_ppl"]) == W and all(x > 1 for x in m["window_ppl"]), name + " window_ppl")
    # mean of the per-window means weighted by scored tokens equals nll (equal counts per window
    # except sliding's first)
    b = m["nll_by_position"]
    width = -(-L // 16)
    check(len(b) >= 1 and all(x[0] % width == 0 and 0 <= x[0] < L for x in b), name + " buckets")
    check([x[0] for x in b] == sorted(x[0] for x in b), name + " buckets sorted")
    if p == "half":
        check(b[0][0] == ((L // 2 + 1) // width) * width, name + " half buckets start")
    if p == "chunks":
        check(b[0][0] == 0 and len(b) == 16, name + " chunks buckets")
# sliding with stride = L scores exactly what chunks does
def find(**kw):
    out = [j for j in jobs.values() if all(j["spec"].get(k) == v or (k == "rope" and j["spec"]["rope"]["name"] == v) for k, v in kw.items())]
    return out
sl = [j for j in find(protocol="sliding", length=32, rope="native") if j["spec"].get("stride") == 32]
ch = find(protocol="chunks", length=32, rope="native", dataset="text")
check(len(sl) == 1 and len(ch) == 1, "sliding S=L and chunks jobs found")
if len(sl) == 1 and len(ch) == 1:
    a, c = sl[0]["metrics"], ch[0]["metrics"]
    check(a["tokens"] == c["tokens"] and abs(a["nll"] - c["nll"]) <= 1e-9 * c["nll"], "sliding S=L equals chunks: %r %r" % (a["nll"], c["nll"]))
# two rope variants give different numbers; seeds change random windows
g = find(protocol="chunks", length=64, rope="geo")[0]["metrics"]["nll"]
n = find(protocol="chunks", length=64, rope="native", dataset="text")[0]["metrics"]["nll"]
check(g != n, "rope variants differ")
r1 = find(protocol="random", length=32, rope="native", seed=1)[0]["metrics"]["nll"]
r2 = find(protocol="random", length=32, rope="native", seed=2)[0]["metrics"]["nll"]
check(r1 != r2, "random seeds differ")
for b in bad: print("BAD:", b)
print("checked %d jobs, %d problems" % (len(jobs), len(bad)))
sys.exit(1 if bad else 0)
EOF
expect_out "job results are sane" "20 jobs, 0 problems" "$PYTHON" check.py $R

# jsonl: each document encoded on its own, one separator between two documents.
cat > docs_tokens.py <<'EOF'
import json, subprocess, sys
docs = [json.loads(l)["body"] for l in open("data/docs.jsonl")]
n = sum(len(json.loads(subprocess.run([sys.argv[1], "tokenize", "models/tiny"], input=d.encode(),
        capture_output=True, check=True).stdout)) for d in docs)
print(n + len(docs) - 1)
EOF
WANT_DOCS=$("$PYTHON" docs_tokens.py "$BENCH")
expect_true "jsonl tokens: documents + separators" \
  grep -q "\"dataset_tokens\": $WANT_DOCS," $(grep -l '"dataset": "docs"' $R/jobs/*.json)

# Resume: nothing is recomputed (files byte-identical), the short job fails with both numbers.
sha256sum $R/jobs/*.json > before.sha
N_SHORT=$("$BENCH" tokenize models/tiny data/short.txt | "$PYTHON" -c 'import json,sys; print(len(json.load(sys.stdin)))')
expect_rc "full run: one job fails" 1 "$BENCH" run suite.yaml
expect_true "short job error has both numbers" \
  grep -q "dataset 'short' has $N_SHORT tokens; length 64 × 3 windows needs 192" <<<"$OUT"
expect_true "nothing recomputed" sha256sum -c --quiet before.sha
expect_true "20 done, 1 failed" grep -q "finished: 0 ok, 1 failed, 20 already done" <<<"$OUT"
SHORT_JOB=$(grep -l '"dataset": "short"' $R/jobs/*.json)
expect_true "failed job recorded" grep -q '"status": "error"' "$SHORT_JOB"
expect_true "failed job error line" grep -q "needs 192" "$SHORT_JOB"
expect_true "failed job has null metrics" grep -q '"metrics": null' "$SHORT_JOB"
expect_true "run.log is timestamped" grep -qE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z \[' $R/run.log

# --fresh recomputes (here: one phase).
stat -c %y $R/jobs/*.json > before.mtime
expect_rc "fresh run" 0 "$BENCH" run suite.yaml --only chunks --fresh
expect_true "fresh recomputed 4" grep -q "finished: 4 ok, 0 failed, 0 already done" <<<"$OUT"
expect_true "fresh rewrote files" test "$(stat -c %y $R/jobs/*.json | diff before.mtime - | grep -c '^>')" -eq 4
expect_out "results still sane" "20 jobs, 0 problems" "$PYTHON" check.py $R

# --results DIR stands for results/<suite> itself.
expect_rc "results dir" 0 "$BENCH" run suite.yaml --only jsonl --results other
expect_true "results dir used" test -f other/suite.yaml -a "$(ls other/jobs | wc -l)" -eq 1

# Missing paths: exit 2 before any job, every path listed.
sed -e 's#models/tiny#models/gone#' -e 's#data/text.txt#data/gone.txt#' suite.yaml > missing.yaml
sed -i 's/^suite: e2e_cpu/suite: e2e_missing/' missing.yaml
expect_err "missing model path" "models/gone' does not exist" "$BENCH" run missing.yaml
expect_true "missing dataset listed too" grep -q "data/gone.txt' does not exist" <<<"$ERR"
expect_true "no job ran" test ! -e results/e2e_missing/jobs
finish
