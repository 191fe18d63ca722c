# test_report.sh — `bench report` on results built from the lab notes' numbers
# (tests/fixtures/reports/lab_notes, written by tests/reference/make_report_fixtures.py).
. "$(dirname "$0")/lib.sh"

FIX=$ROOT/tests/fixtures/reports/lab_notes
PY=$PYTHON
[ -x "$PY" ] || PY=python3
snapshot() { (cd "$1" && find . -type f -print0 | sort -z | xargs -0 sha256sum); }
before=$(snapshot "$FIX")

# ---- the English report ----
R=$TMP/rep
expect_out "report writes REPORT.md" "REPORT.md" "$BENCH" report "$FIX" --reports "$R"
MD=$R/REPORT.md
expect_true "REPORT.md exists" test -s "$MD"
expect_true "results are only read" test "$before" = "$(snapshot "$FIX")"
has() { grep -qF -- "$2" "$1"; }
expect_true "header: title" has "$MD" "# Long-context RoPE experiments from the lab notes"
expect_true "header: device" has "$MD" "NVIDIA A100 95GB"
expect_true "header: a GPU run names driver and CUDA" has "$MD" "**Device**: NVIDIA A100 95GB · driver 550.54.15 · CUDA 12.4"
expect_true "header: commit" has "$MD" "commit 0123456789ab"
expect_true "header: reproduce" has "$MD" '`bench run suites/lab_notes.yaml`'
expect_true "header: suite checksum" has "$MD" "$(sha256sum "$FIX/suite.yaml" | cut -c1-64)"
expect_true "experiment list" has "$MD" "## 1. Experiment list"
expect_true "experiment list row" has "$MD" "| 2 | 1B | full-length boundary scan | 12/12 | 12 | 0 | 0 | 0 |"
# seed 000 Phase 1A collapse table
expect_true "ratio geo_500k severe" has "$MD" "| geo_500k | 11.125 | 262.28 | **23.58x** ⚠️ severe collapse |"
expect_true "ratio geo_1M" has "$MD" "| geo_1M | 11.118 | 25.475 | 2.29x |"
expect_true "ratio geo_2M best" has "$MD" "| geo_2M | 11.115 | **9.264** | **0.83x** ✅ best |"
expect_true "ratio anchored_x20" has "$MD" "| anchored_x20 | 11.122 | 19.041 | 1.71x |"
expect_true "no other severe flag" test "$(grep -c '⚠️ severe collapse' "$MD")" -eq 1
# Phase 1B length grid and its findings
expect_true "lengths grid" has "$MD" "| geo_500k | 11.125 | 9.520 | 262.28 | 1375.0 | 2345.0 | 3811.0 |"
expect_true "boundary geo_500k" has "$MD" "**geo_500k**: collapses from 16384"
expect_true "boundary anchored" has "$MD" "**anchored_x20**: collapses from 24576"
expect_true "boundary shift" has "$MD" "Boundary shift: **anchored_x20** collapses at 24576, **geo_500k** at 16384: 1.5x later"
expect_true "best config" has "$MD" "Best at 16384: **geo_2M** (PPL 9.264, ratio 0.83x)"
expect_true "short-length cost" has "$MD" "No short-length cost: at 2048 every config is within"
# Phase 2 seeds: mean±std, CV, OOM
expect_true "seeds mean±std" has "$MD" "194.96±48.35 (24.8%)"
expect_true "seeds CV" has "$MD" "15.440±2.840 (18.4%)"
expect_true "OOM limit" has "$MD" "2 of 3 runs at 49152 ran out of memory"
# seed 001 improvement table: (base − x)/base to one decimal (the note rounds them to 1%, 5%, 8%, 35%, 40%)
expect_true "improvement 16384 none" has "$MD" "| 16384 | 2.150 | 2.170 | 2.250 | - |"
expect_true "improvement 1%" has "$MD" "| 24576 | 5.590 | **5.560** | 5.990 | 0.5% (hybrid[factor=1.5]) |"
expect_true "improvement 5%" has "$MD" "| 5.1% (hybrid[factor=1.5]) |"
expect_true "improvement 8%" has "$MD" "| 8.3% (hybrid[factor=1.5]) |"
expect_true "improvement 35%" has "$MD" "| 34.9% (hybrid[factor=2.0]) |"
expect_true "improvement 40%" has "$MD" "| 49152 | 69.790 | 49.490 | **41.860** | 40.0% (hybrid[factor=2.0]) |"
expect_true "qwen pitfall" has "$MD" "All 3 configs give the same PPL at every length"
# seed 003: partial seeds, not yet proven
expect_true "verdict not proven" has "$MD" "| not yet proven | seeds finished: 1 and 1 of 3 |"
expect_true "missing jobs listed" has "$MD" "*Missing 12 of 18 planned jobs:*"
# figures: embedded, PNG (magic bytes, non-trivial size), SVG (parses as XML)
for f in 1B_ppl_vs_length 1B_collapse_vs_length 1B_nll_vs_position llama_ppl_vs_length llama_ppl_vs_factor 2_ppl_vs_length; do
  expect_true "figure $f linked" has "$MD" "![" 
  expect_true "figure $f linked by name" has "$MD" "($f.png)"
  expect_true "figure $f is a PNG" test "$(head -c 8 "$R/$f.png" | od -An -tx1 | tr -d ' \n')" = "89504e470d0a1a0a"
  expect_true "figure $f is not trivial" test "$(stat -c %s "$R/$f.png")" -gt 8000
  expect_true "figure $f SVG starts as XML" grep -qE '^(<\?xml|<svg)' "$R/$f.svg"
  expect_true "figure $f SVG parses" "$PY" -c 'import sys, xml.etree.ElementTree as E; E.parse(sys.argv[1])' "$R/$f.svg"
  expect_true "figure $f script kept" test -s "$R/gnuplot/$f.gp"
done

# ---- RoPE spectrum: needs the checkpoint's config.json (head dim, θ) ----
expect_true "spectrum skipped without the model" has "$MD" "Figure 1A_rope_spectrum skipped: the model's config.json is not readable here"
mkdir -p "$TMP/models/Meta-Llama-3-8B-Instruct"
cat > "$TMP/models/Meta-Llama-3-8B-Instruct/config.json" <<'JSON'
{"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 4096,
 "intermediate_size": 14336, "num_attention_heads": 32, "num_key_value_heads": 8,
 "num_hidden_layers": 32, "vocab_size": 128256, "max_position_embeddings": 8192,
 "rope_theta": 500000.0, "rms_norm_eps": 1e-5, "torch_dtype": "bfloat16",
 "bos_token_id": 128000, "eos_token_id": 128009, "tie_word_embeddings": false}
JSON
run env BENCH_MODELS="$TMP/models" "$BENCH" report "$FIX" --reports "$TMP/spec"
expect_true "spectrum drawn" has "$TMP/spec/REPORT.md" "(1A_rope_spectrum.png)"
expect_true "spectrum PNG" test "$(head -c 8 "$TMP/spec/1A_rope_spectrum.png" | od -An -tx1 | tr -d ' \n')" = "89504e470d0a1a0a"
expect_true "spectrum has 64 pairs per variant" test "$(sed -n '/^\$d0 << EOD/,/^EOD/p' "$TMP/spec/gnuplot/1A_rope_spectrum.gp" | grep -c '^[0-9]')" -eq 64
# geometric θ = 500000, R = 128: ω_1 = 500000^(-2/128)
expect_true "spectrum values are the RoPE frequencies" "$PY" -c '
import sys
rows = open(sys.argv[1]).read().split("$d0 << EOD\n")[1].split("EOD")[0].split("\n")
k, w = rows[1].split()[:2]
assert abs(float(w) - 500000 ** (-2 / 128)) < 1e-9, w' "$TMP/spec/gnuplot/1A_rope_spectrum.gp"

# ---- the jobs a phase expects are the jobs `bench plan` expands (sweeps, include, exclude) ----
for s in "$ROOT"/suites/*.yaml "$FIX/suite.yaml"; do
  name=$(basename "$s" .yaml)
  mkdir -p "$TMP/plan-$name"
  cp "$s" "$TMP/plan-$name/suite.yaml"
  BENCH_MODELS=/nonexistent BENCH_DATA=/nonexistent "$BENCH" plan "$s" --json > "$TMP/plan-$name.json" 2>/dev/null
  "$BENCH" report "$TMP/plan-$name" --reports "$TMP/planrep-$name" --no-figures >/dev/null 2>&1
  expect_true "planned jobs per phase match bench plan: $name" "$PY" -c '
import collections, json, re, sys
plan = collections.Counter(j["phase"] for j in json.load(open(sys.argv[1]))["jobs"])
md = open(sys.argv[2]).read()
mine = {p: int(n) for p, n in re.findall(r"^\| \d+ \| (\S+) \| .*? \| 0/(\d+) \|", md, re.M)}
assert plan == mine, (plan, mine)' "$TMP/plan-$name.json" "$TMP/planrep-$name/REPORT.md"
done

# ---- Chinese headings and findings (report_options: {lang: zh}) ----
Z=$TMP/zh
cp -r "$FIX" "$Z"
sed -i 's/^report_options: .*/report_options: { severe: 10, boundary: 5, lang: zh }/' "$Z/suite.yaml"
expect_out "zh report" "REPORT.md" "$BENCH" report "$Z" --reports "$TMP/zhrep" --no-figures
ZMD=$TMP/zhrep/REPORT.md
expect_true "zh: 实验清单" has "$ZMD" "## 一、实验清单"
expect_true "zh: 关键发现" has "$ZMD" "### 关键发现"
expect_true "zh: 严重崩溃" has "$ZMD" "**23.58x** ⚠️ 严重崩溃"
expect_true "zh: 最佳" has "$ZMD" "**0.83x** ✅ 最佳"
expect_true "zh: boundary finding" has "$ZMD" "**geo_500k**: 16384 开始崩溃"
expect_true "zh: CV finding" has "$ZMD" "变异系数 18.4%"
expect_true "zh: phase heading" has "$ZMD" "## 二、Phase 1A: θ ceiling control"

# ---- partial results: say what is missing ----
P=$TMP/partial
cp -r "$FIX" "$P"
for f in "$P"/jobs/*.json; do
  if grep -q '"phase": "1B"' "$f" || grep -q '"phase": "qwen"' "$f"; then rm "$f"; fi
done
rm "$(grep -l '"rope": {"name": "geo_1M"' "$P"/jobs/*.json | xargs grep -l '"length": 16384' | head -1)" 2>/dev/null ||
  rm "$(grep -l 'geo_1M' "$P"/jobs/*.json | xargs grep -l '"length": 16384' | head -1)"
expect_out "partial report" "REPORT.md" "$BENCH" report "$P" --reports "$TMP/prep" --no-figures
PMD=$TMP/prep/REPORT.md
expect_true "partial: phase without results says so" has "$PMD" "No results yet for this phase (18 jobs planned)."
expect_true "partial: missing cell shows —" has "$PMD" "| geo_1M | 11.118 | — | — |"
expect_true "partial: missing job listed" has "$PMD" '*Missing 1 of 8 planned jobs:* `geo_1M` @ 16384'
expect_true "partial: 1B keeps the shared 1A jobs" has "$PMD" "| geo_500k | 11.125 | — | 262.28 | — | — | — |"
expect_true "partial: counts" has "$PMD" "| 2 | 1B | full-length boundary scan | 4/12 | 4 | 0 | 0 | 8 |"

# ---- a job file of another schema, and no suite.yaml ----
S=$TMP/noschema
cp -r "$FIX" "$S"
sed -i 's/"schema": "bench.job\/1"/"schema": "bench.job\/2"/' "$(ls "$S"/jobs/*.json | head -1)"
rm "$S/suite.yaml"
run "$BENCH" report "$S" --reports "$TMP/srep" --no-figures
expect_true "schema mismatch: still exit 0" test "$RC" -eq 0
expect_true "schema mismatch: warning names it" test -n "$(echo "$ERR" | grep "schema 'bench.job/2' is not 'bench.job/1'")"
expect_true "schema mismatch: note in report" has "$TMP/srep/REPORT.md" "Skipped 1 result files:"
expect_true "no suite: note in report" has "$TMP/srep/REPORT.md" "The suite as run could not be read"
expect_true "no suite: phases from results" has "$TMP/srep/REPORT.md" "## 7. Phase seeds3"

# ---- gnuplot missing or failing never loses the report ----
run env BENCH_GNUPLOT=/nonexistent/gnuplot "$BENCH" report "$FIX" --reports "$TMP/nognu"
expect_true "no gnuplot: exit 0" test "$RC" -eq 0
expect_true "no gnuplot: report written" has "$TMP/nognu/REPORT.md" "**23.58x** ⚠️"
expect_true "no gnuplot: figure failure stated" has "$TMP/nognu/REPORT.md" "Figure 1B_ppl_vs_length failed: '/nonexistent/gnuplot' not found"
printf '#!/bin/sh\necho "line 0: crash on purpose" >&2\nexit 1\n' > "$TMP/badgnuplot"
chmod +x "$TMP/badgnuplot"
run env BENCH_GNUPLOT="$TMP/badgnuplot" "$BENCH" report "$FIX" --reports "$TMP/badgnu"
expect_true "failing gnuplot: report written" has "$TMP/badgnu/REPORT.md" "gnuplot failed (exit status): line 0: crash on purpose"
expect_true "failing gnuplot: no stale figure" test ! -e "$TMP/badgnu/1B_ppl_vs_length.png"

# ---- default reports directory: <root>/reports/<suite> next to <root>/results/<suite> ----
mkdir -p "$TMP/proj/results"
cp -r "$FIX" "$TMP/proj/results/lab_notes"
expect_out "default reports dir" "reports/lab_notes/REPORT.md" "$BENCH" report "$TMP/proj/results/lab_notes" --no-figures
expect_true "default reports dir exists" test -s "$TMP/proj/reports/lab_notes/REPORT.md"
expect_true "no temp file left" test -z "$(ls "$TMP/proj/reports/lab_notes" | grep tmp)"

# ---- two configs out of memory at one length: both OOM marks visible (stacked, not on one spot) ----
cp -r "$FIX" "$TMP/oom2"
"$PY" - "$TMP/oom2/jobs" <<'PY'
import json, sys
for jid in ("a3ce9fac60a2289a", "dcfdba0d0985ec06", "d605709eb472cd0e", "7cf99ad4baed7bde"):  # 49152, seed 42
    p = "%s/%s.json" % (sys.argv[1], jid)
    j = json.load(open(p))
    j["status"], j["error"], j["metrics"] = "oom", "CUDA out of memory", None
    json.dump(j, open(p, "w"))
PY
expect_out "report with two OOMs at 49152" "REPORT.md" "$BENCH" report "$TMP/oom2" --reports "$TMP/oom2rep"
expect_true "two OOM marks at 49152, at two heights" \
  test "$(grep -E '^49152 ' "$TMP/oom2rep/gnuplot/1B_ppl_vs_length.gp" | sort -u | wc -l)" -eq 2

# ---- usage errors ----
expect_err "missing results dir" "does not exist" "$BENCH" report "$TMP/nope"
expect_err "no argument" "missing RESULTS_DIR" "$BENCH" report
expect_err "unknown option" "unknown option '--frobnicate'" "$BENCH" report "$FIX" --frobnicate
finish
