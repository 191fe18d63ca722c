# test_shipped_suites.sh — every shipped lab-note suite (suites/*.yaml but the quickstarts) run end
# to end on the CPU with tiny stand-ins, and its REPORT.md read back. The stand-in copy of a suite
# (tests/e2e/standin_suite.py) keeps its phases, variants, report requests and report options and
# divides its lengths (and prompt, cache sizes, RoPE-compression threshold, training seq_len) by K;
# the models are one-layer random checkpoints of each suite's architectures with
# max_position_embeddings divided by the same K, the corpora ~100 KB of English-like text.
# Read back from each report: every phase's section with all its planned jobs, every figure it asks
# for drawn (a PNG that exists), the report's language, and each suite's own points (h2o_pythia's
# same-budget window control and base length beyond 2048; streaming_pythia's 3 windows at 5000).
# no-asan: a few hundred jobs; the code paths are the unit and other e2e tests'.
. "$(dirname "$0")/lib.sh"

export BENCH_CACHE_DIR=$TMP/cache
export BENCH_MODELS=$TMP/models BENCH_DATA=$TMP/data
mkdir -p "$BENCH_MODELS" "$BENCH_DATA"
cd "$TMP" || exit 1

init() {  # dir arch max_positions seed [extra...]
  local dir=$1 arch=$2 pos=$3 seed=$4; shift 4
  expect_rc "init $dir" 0 "$BENCH" init-model "$BENCH_MODELS/$dir" --arch "$arch" --layers 1 --hidden 16 \
    --heads 2 --intermediate 32 --vocab 512 --max-positions "$pos" --seed "$seed" "$@"
}
# K = 128 for the RoPE suites (2k..49k -> 16..384), 32 for the decode suites (756..50256 -> 23..1570).
init Meta-Llama-3-8B-Instruct llama $((8192 / 128)) 1 --rope-theta 500000
init Qwen2.5-7B-Instruct qwen2 $((32768 / 128)) 2 --rope-theta 1000000
init gpt-neox-20b gpt_neox 2048 3
seed=10
for m in pythia-70m-deduped pythia-410m-deduped pythia-2.8b pythia-6.9b; do
  init $m gpt_neox $((2048 / 32)) $seed
  seed=$((seed + 1))
done
word_text 7 3000 > "$BENCH_DATA/TinyStories-valid.txt"
word_text 8 3000 > "$BENCH_DATA/TinyStories-train.txt"
word_text 9 3000 > "$BENCH_DATA/wikitext-103-raw-test.txt"
word_text 11 6000 | awk '{ t = t $0 " " } NR % 100 == 0 { printf "{\"text\": \"%s\"}\n", t; t = "" }' \
  > "$BENCH_DATA/pg19-validation.jsonl"

standin() {  # suite K
  "$PYTHON" "$ROOT/tests/e2e/standin_suite.py" "$ROOT/suites/$1.yaml" "$2" "$1.yaml"
}

# Every shipped suite has its stand-in run here (a new suite must be added to this list).
shipped=$(cd "$ROOT/suites" && ls *.yaml | grep -v '^quickstart' | sed 's/\.yaml$//' | sort | tr '\n' ' ')
expect_true "every shipped suite is tested" test "$shipped" = "h2o_pythia hybrid_rope night_9h streaming_pythia unified_search "

for s in night_9h:128 hybrid_rope:128 unified_search:128 h2o_pythia:32 streaming_pythia:32; do
  name=${s%:*}
  standin "$name" "${s#*:}"
  run "$BENCH" run "$name.yaml" --device cpu --results "res/$name" --reports "rep/$name"
  case $name in
    # exp4-device pins cuda: on a machine without a GPU its 6 cuda jobs fail, and only those.
    streaming_pythia)
      if [ "$RC" -eq 1 ]; then expect_true "$name: only the cuda jobs fail" grep -q "finished: 17 ok, 6 failed" "res/$name/run.log"
      else expect_true "$name runs" test "$RC" -eq 0; fi ;;
    *) expect_true "$name runs (exit $RC: $ERR)" test "$RC" -eq 0 ;;
  esac
  expect_true "$name report" test -s "rep/$name/REPORT.md"
done

# --only: only the selected phases' warnings (night_9h warns about the 64 positions in every phase)
run "$BENCH" run night_9h.yaml --only 1A --dry-run --results res/only
expect_true "--only 1A: its warning" grep -q "warning: phase '1A': length 128 exceeds" <<<"$ERR"
expect_true "--only 1A: no other phase's warnings" test "$(grep -c "warning: phase '" <<<"$ERR")" -eq 1

# unified_search: --shard splits by trained model (rope, seed), so two machines never train one.
for i in 1 2; do
  "$BENCH" run unified_search.yaml --shard $i/2 --dry-run --results res/shards 2>/dev/null |
    grep -o "seed=[0-9]* rope=[^ :]*" | sort -u > shard$i.models
done
expect_true "shards: 14 trained models in all" test "$(cat shard1.models shard2.models | sort -u | wc -l)" -eq 14
expect_true "shards: no model trained on both ($(comm -12 shard1.models shard2.models | tr '\n' ' '))" \
  test -z "$(comm -12 shard1.models shard2.models)"
# ... and the note's A/B alignment recipe: split B alone on a second machine matches split A's geo jobs.
expect_rc "unified_search split B alone" 0 "$BENCH" run unified_search.yaml --only search-b --results res/split_b --no-report
expect_out "compare matches the ALIGN configs" "matched 20 jobs (20 by job id" "$BENCH" compare res/unified_search res/split_b
expect_true "compare lists the ALIGN jobs with both values" \
  grep -qE "geo_500k/full/bf16/tiny50m L=128 seed=42 +[0-9.]+ +[0-9.]+ +[-+][0-9.]+%" <<<"$OUT"
expect_true "compare summarises the runs, not their records" grep -q "  runs: 1 run on .* (cpu); 44 ok, 0 oom" <<<"$OUT"
expect_true "no run records dumped" bash -c '! grep -q "\"command\"" <<<"$1"' _ "$OUT"

cat > check.py <<'EOF'
# Reads each REPORT.md back against its stand-in suite.
import glob, json, math, os, re, sys
import yaml
bad = []
def check(cond, msg):
    if not cond: bad.append(msg)

def sections(md):
    """{phase id: its section's text} from the '## N. Phase ID: title' headings."""
    out, cur = {}, None
    for line in md.splitlines():
        if line.startswith("## "):
            m = re.match(r"## \S+? ?Phase (\S+): ", line)
            cur = m.group(1) if m else None
            if cur: out[cur] = ""
        elif cur:
            out[cur] += line + "\n"
    return out

def table(sec, title):
    """Rows (lists of cells) of the first table after the '### title...' heading."""
    lines = sec.splitlines()
    for i, l in enumerate(lines):
        if l.startswith("### ") and title in l:
            rows = []
            for r in lines[i + 1:]:
                if r.startswith("|"): rows.append([c.strip() for c in r.strip("|").split("|")])
                elif rows or r.startswith("#"): break
            return rows
    return []

def jobs(name):
    return [json.load(open(p)) for p in glob.glob("res/%s/jobs/*.json" % name)]

for name in ("night_9h", "hybrid_rope", "unified_search", "h2o_pythia", "streaming_pythia"):
    suite = yaml.safe_load(open(name + ".yaml"))
    md = open("rep/%s/REPORT.md" % name).read()
    secs = sections(md)
    zh = (suite.get("report_options") or {}).get("lang") == "zh"
    check(("实验清单" in md) == zh and ("Experiment list" in md) != zh, name + ": report language")
    for ph in suite["phases"]:
        pid = str(ph["id"])
        check(pid in secs, "%s: phase %s has a section" % (name, pid))
        row = re.search(r"\| \d+ \| %s \| [^|]* \| (\d+)/(\d+) \|" % re.escape(pid), md)
        check(row and row.group(1) == row.group(2), "%s: phase %s lists every planned job" % (name, pid))
        sec = secs.get(pid, "")
        plots = [r["plot"] for r in ph.get("report", []) if "plot" in r]
        images = re.findall(r"!\[[^]]*\]\(([^)]+\.png)\)", sec)
        check(len(images) == len(plots), "%s: phase %s draws %d of its %d figures %s" % (name, pid, len(images), len(plots), plots))
        for img in images:
            check(os.path.getsize("rep/%s/%s" % (name, img)) > 0, "%s: %s exists" % (name, img))

    if name == "unified_search":  # the recipe and each trained model, its training in the wall time
        for pid, n in (("search-a", 5), ("search-b", 5), ("seeds", 9)):
            sec = secs.get(pid, "")
            check("### Training: recipe tiny50m, %d models" % n in sec, "unified: %s names its %d trained models" % (pid, n))
            rows = table(sec, "Training: recipe")
            check(len(rows) == 2 + n and all(r[4] == "12" and r[3] == "768" for r in rows[2:]), "unified: %s training rows %s" % (pid, rows))
            check("llama, 1 layers, hidden 16, 2 heads, MLP 32, vocab 512; 768 tokens in sequences of 16, batch 4" in sec, "unified: recipe line")
        for j in jobs(name):
            check(j["metrics"]["train"]["steps"] == 12, "unified: 12 steps")
        for pid in ("search-a", "search-b", "seeds"):
            train = {j["metrics"]["train"]["train_id"]: j["metrics"]["train"]["wall_s"] for j in jobs(name) if pid in j["phase"].split(",")}
            wall = re.search(r"\| %s \|.*\| (?:(\d+)m )?(\d+)s \|$" % pid, md, re.M)
            secs_shown = wall and int(wall.group(1) or 0) * 60 + int(wall.group(2))
            check(wall and secs_shown + 1 >= sum(train.values()), "unified: %s wall time %s includes training %.1f s" % (pid, secs_shown, sum(train.values())))
    if name == "night_9h":  # θ spans a decade: a log axis, a readable tic at each θ
        gp = open("rep/night_9h/gnuplot/ext1-theta_ppl_vs_theta.gp").read()
        check("set logscale x 10" in gp and "'500k' 500000" in gp and "'1.5M' 1500000" in gp, "night: θ axis " + gp[-600:])
        for fig in glob.glob("rep/night_9h/gnuplot/*.gp"):  # labelled x tics never crowd each other
            gp = open(fig).read()
            tics = re.search(r"set xtics \((.*)\)", gp)
            if not tics: continue
            pos = [float(v) for lab, v in re.findall(r"'([^']*)' ([0-9.e+]+)", tics.group(1)) if lab]
            f = (lambda v: math.log(v)) if "set logscale x" in gp else (lambda v: v)
            span = f(max(pos)) - f(min(pos)) if len(pos) > 1 else 1
            gaps = [(f(b) - f(a)) / span for a, b in zip(pos, pos[1:])]
            check(not gaps or min(gaps) >= 0.099, "night: %s tic labels %.3f of the axis apart" % (os.path.basename(fig), min(gaps or [1])))
    if name == "h2o_pythia":
        lengths = table(secs.get("within-limit", ""), "PPL")
        check([r[0] for r in lengths[2:]] == ["full", "h2o_256", "window_256"], "h2o: within-limit rows " + str(lengths))
        beyond = table(secs.get("beyond-limit", ""), "PPL")
        check(beyond and beyond[0][1:] == ["39", "101", "164", "320"], "h2o: beyond-limit has its base length " + str(beyond[:1]))
        check("window_256" in [r[0] for r in beyond], "h2o: beyond-limit runs the window control")
        collapse = table(secs.get("beyond-limit", ""), "PPL@101 / PPL@39")
        check(len(collapse) == 5, "h2o: beyond-limit collapse ratios against 1256 " + str(collapse))
        gp = open("rep/h2o_pythia/gnuplot/extreme_nll_vs_position.gp").read()
        check("'训练位置上限 64'" in gp and "first 64, graph 0 to first 64" in gp, "h2o: NLL by position marks the 2048 (/32) trained positions")
        for j in jobs(name):
            c = j["spec"]["cache"]
            if c["name"] == "window_256":
                check(j["metrics"]["kv_peak_tokens"] == 8, "h2o: window control's budget is H2O-256's")
    if name == "streaming_pythia":
        exp1 = [j for j in jobs(name) if j["spec"]["model"] == "pythia_6_9b" and j["spec"]["device"] == "cpu"
                and j["spec"]["dtype"] == "fp16" and j["spec"]["cache"]["name"] in ("full", "stream_256")]
        for j in exp1:
            s = j["spec"]
            want = 3 if s["length"] == 5256 // 32 else 5
            check(s["windows"] == want and j["metrics"]["tokens"] == want * (s["length"] - s["prompt"]),
                  "streaming: exp1 %s at %d has %d windows" % (s["cache"]["name"], s["length"], want))
        check(len(exp1) == 8, "streaming: exp1's 8 jobs")
        check("*计算精度: fp16 → fp32" in secs.get("exp1-length", ""), "streaming: exp1 says its fp16 jobs computed in fp32")
        num = table(secs.get("exp4-device", ""), "数值")
        refs = [r[0] for r in num[2:] if r[6] == "(参照)"]
        check(len(num) == 2 + 8 and refs == ["full · fp32 · cpu", "stream_256 · fp32 · cpu"] and all(r[4] == r[0].split(" · ")[0] + " · fp32 · cpu" for r in num[2:]),
              "streaming: exp4 compares each run with the fp32 CPU run " + str(num))
        gp = open("rep/streaming_pythia/gnuplot/exp2-cache_ppl_vs_recent.gp").read()
        check("title 'full, L = 70'" in gp, "streaming: the cache sweep draws the full cache as reference")
        exp4 = table(secs.get("exp4-device", ""), "PPL")
        check(exp4 and len(exp4) == 2 + 8, "streaming: exp4 lists its 8 configs " + str(exp4))

for b in bad: print("BAD:", b)
print("%d problems" % len(bad))
sys.exit(1 if bad else 0)
EOF
expect_out "the reports read right" "0 problems" "$PYTHON" check.py
[ "$RC" -eq 0 ] || echo "$OUT" >&2
finish
