# test_report_rows.sh — how `bench report` resolves its rows, end to end on tiny random checkpoints:
# a job two phases share (a named variant that is also a sweep member) is reported in each phase
# under that phase's name; two stored results for one job never hide each other (equal numbers are
# one result, different ones a conflict); findings compare within one model and one dataset.
. "$(dirname "$0")/lib.sh"

export BENCH_CACHE_DIR=$TMP/cache
W=$TMP/work
mkdir -p "$W/data" "$W/models"
cd "$W" || exit 1

expect_rc "init small model" 0 "$BENCH" init-model models/small --arch llama --layers 1 --max-positions 64 --seed 5
expect_rc "init big model" 0 "$BENCH" init-model models/big --arch llama --layers 2 --max-positions 64 --seed 6
word_text 99 200 > data/text.txt
word_text 7 200 > data/other.txt

cat > rows.yaml <<'EOF'
suite: rows
title: Shared jobs, conflicts and per-model findings
defaults:
  model: small
  dataset: text
  protocol: chunks
  windows: 2
  seeds: [1]
  rope: geo_1k
  cache: full
  dtype: fp32
  device: cpu
models:
  small: { path: models/small }
  big: { path: models/big }
datasets:
  text: { path: data/text.txt }
  other: { path: data/other.txt }
rope:
  geo_1k:     { type: geometric, theta: 1000 }
  geo_10k:    { type: geometric, theta: 10000 }
  theta_scan: { type: geometric, theta: [100, 1000, 100000] }
cache:
  full: { type: full }
phases:
  - id: named
    rope: [geo_1k, geo_10k]
    lengths: [32, 64]
    report:
      - { table: collapse, at: 64 }
      - { table: lengths }
  - id: scan
    rope: [theta_scan]
    lengths: [32, 64]
    report:
      - { table: lengths }
      - { table: collapse, at: 64 }
  - id: models
    model: [small, big]
    dataset: [text, other]
    rope: [geo_10k, theta_scan]
    lengths: [32, 64]
    report:
      - { table: collapse, at: 64 }
      - { table: leaderboard, at: 64 }
  - id: seeds
    rope: [geo_1k, geo_10k]
    seeds: [1, 2, 3]
    lengths: [32, 64]
    report:
      - { table: collapse, at: 64 }
      - { table: leaderboard, at: 64 }
      - { plot: collapse_vs_length }
EOF

expect_rc "suite runs" 0 "$BENCH" run rows.yaml
MD=reports/rows/REPORT.md
expect_true "report written" test -s "$MD"
has() { grep -qF -- "$2" "$1"; }
# the section of one phase: from its heading to the next phase's
section() { sed -n "/^## [0-9]*\. Phase $2\$/,/^## [0-9]*\. Phase /p" "$1"; }

# ---- a job two phases share: geo_1k is theta_scan[theta=1000] ----
section "$MD" scan > scan.md
expect_true "shared job: the sweep row has numbers" grep -qE '^\| theta_scan\[theta=1000\] \| [0-9]' scan.md
expect_true "shared job: no row under the other phase's name" test "$(grep -c '^| geo_1k ' scan.md)" -eq 0
expect_true "shared job: nothing missing in the sweep" test "$(grep -c 'Missing' scan.md)" -eq 0
expect_true "shared job: experiment list counts it" has "$MD" "| 2 | scan |  | 6/6 | 6 | 0 | 0 | 0 |"
section "$MD" named > named.md
expect_true "shared job: the named row keeps its name" grep -qE '^\| geo_1k \| [0-9]' named.md
expect_true "shared job: the same number in both phases" test \
  "$(grep '^| geo_1k |' named.md | tail -1 | cut -d'|' -f3 | tr -d '* ')" = "$(grep '^| theta_scan\[theta=1000\] |' scan.md | head -1 | cut -d'|' -f3 | tr -d '* ')"
n_files=$(ls results/rows/jobs | wc -l)
expect_true "shared job: the header counts it once" has "$MD" "**$n_files of $n_files planned jobs have results ($n_files ok, 0 OOM, 0 error)**"
expect_true "shared job: the third phase names it by its own plan" has "$MD" "| 3 | models |  | 32/32 | 32 | 0 | 0 | 0 |"

# ---- findings and flags compare like with like: one model and one dataset ----
section "$MD" models > models.md
expect_true "per group: one best line per model and dataset" test "$(grep -c 'Best at 64' models.md)" -eq 4
expect_true "per group: findings under each group's name" grep -qF -- "- **model: big, dataset: other**" models.md
expect_true "per group: no line compares two models" test "$(grep -E 'small' models.md | grep -cE 'big')" -eq 0
expect_true "per group: no line compares two datasets" test "$(grep -E '· text' models.md | grep -cE '· other')" -eq 0
expect_true "per group: one ✅ per group in the collapse table" test "$(grep -c '✅ best' models.md)" -eq 4
expect_true "per group: one leaderboard per group" test "$(grep -c '^| 1 | ' models.md)" -eq 4

# ---- flags and percentages mean one thing ----
# PPLs set as note 003 gives them: geo_1k 16.316 at 64 (ratios 2, 1, 1 over the seeds: 1.33±0.58,
# where the ratio of the means would be 1.20), geo_10k 17.947 at both lengths on average (ratio
# 1.00±0.07); seed 1 alone (phase named) has geo_1k 16.316 and geo_10k 16.5 at 64
cp -r results/rows flags
cat > set_ppl.py <<'EOF'
import glob, json, math, sys
want = {("geo_1k", 32): [8.158, 16.316, 16.316], ("geo_1k", 64): [16.316] * 3,
        ("geo_10k", 32): [17.947] * 3, ("geo_10k", 64): [16.5, 18.6705, 18.6705]}
for p in glob.glob(sys.argv[1] + "/jobs/*.json"):
    j = json.load(open(p)); s = j["spec"]
    name = {1000: "geo_1k", 10000: "geo_10k"}.get(s["rope"].get("theta"))
    if s["model"] == "small" and s["dataset"] == "text" and (name, s["length"]) in want:
        j["metrics"]["ppl"] = want[(name, s["length"])][s["seed"] - 1]
        j["metrics"]["nll"] = math.log(j["metrics"]["ppl"])
        json.dump(j, open(p, "w"))
EOF
"$PYTHON" set_ppl.py flags
expect_rc "flags: report" 0 "$BENCH" report flags --reports rep_flags
section rep_flags/REPORT.md seeds > fl.md
expect_true "seeds: the ratio is the mean of per-seed ratios ± std" grep -qF "| geo_1k | 13.597 | **16.316** | 1.33x±0.58 |" fl.md
expect_true "seeds: the table says how the ratio is made" grep -qF "mean of the per-seed ratios ± their sample std" fl.md
# the figure plots the table's numbers: geo_1k's ratio at 64 is 1.33 ± 0.58, not 1.20
gp=rep_flags/gnuplot/seeds_collapse_vs_length.gp
expect_true "seeds: the figure's ratio is the mean of per-seed ratios ± std" \
  grep -qE '^64 1\.3333333[0-9]* 0\.577350[0-9]*$' "$gp"
expect_true "seeds: no ratio of means in the figure" test "$(grep -c '^64 1\.2 ' "$gp")" -eq 0
expect_true "seeds: the figure's caption says how its points are made" \
  grep -qF "with seeds, the mean of the per-seed ratios, error bars ±1 std" fl.md
expect_true "flags: ✅ on the lowest ratio, not on the lowest PPL" grep -qF "| geo_10k | 17.947 | 17.947 | **1.00x±0.07** ✅ best |" fl.md
expect_true "flags: the legend says which is which" grep -qF "✅ marks the lowest collapse ratio (of each model and dataset); the bold PPL@64 is the lowest PPL there" fl.md
expect_true "vs best: note 003's 9.1% prints 9.1%" grep -qF "| 2 | geo_10k | 17.947 | 17.947 | 9.1% |" fl.md
expect_true "vs best: the convention is stated" grep -qF "(PPL − best) / PPL" fl.md
section rep_flags/REPORT.md named > fl_named.md
expect_true "two configs: the gap is stated even when small" grep -qF "Against **geo_10k** at 64: PPL 16.500 → 16.316 (1.01x lower)" fl_named.md

# ---- the notes' metrics: top-1 accuracy, peak memory, tokens scored; failed cells say why ----
word_text 3 3 > data/tiny.txt
sed -e 's/^suite: rows/suite: met/' -e '/^phases:/,$d' rows.yaml > met.yaml
sed -i 's|^  other: { path: data/other.txt }|  tiny: { path: data/tiny.txt }|' met.yaml
cat >> met.yaml <<'EOF'
phases:
  - id: metrics
    dataset: [text, tiny]
    lengths: [32, 64]
    report:
      - { table: metrics }
      - { table: lengths }
  - id: half
    dtype: [bf16]
    lengths: [32, 64]
    report:
      - { table: lengths }
      - { table: collapse, at: 64 }
      - { table: leaderboard, at: 64 }
      - { table: metrics }
      - { plot: ppl_vs_length }
EOF
run "$BENCH" run met.yaml
section reports/met/REPORT.md metrics > met.md
read -r acc mem tok <<<"$("$PYTHON" -c '
import glob, json, sys
for p in glob.glob("results/met/jobs/*.json"):
    j = json.load(open(p))
    if j["status"] == "ok" and j["spec"]["length"] == 64:
        m = j["metrics"]; print("%.1f%%" % (100 * m["acc"]), m["peak_mem_bytes"], m["tokens"])')"
expect_true "metrics: the table is there" grep -qF "| Config | Length | PPL | Top-1 acc | Peak memory | Tokens |" met.md
expect_true "metrics: accuracy and tokens of the job" grep -qE "^\| text \| 64 \| [0-9.]+ \| $acc \| [0-9.]+ [KMG]?i?B \| $tok \|" met.md
expect_true "metrics: peak memory measured" test "${mem:-0}" -gt 0
expect_true "failed cell says why" grep -qF "| tiny | 32 | error: dataset too short | — | — | — |" met.md
expect_true "failed cell says why in the lengths table" grep -qF "| tiny | error: dataset too short | error: dataset too short |" met.md
expect_true "the full reason under the tables" grep -qF -- "- \`tiny\` @ 64: error: dataset 'tiny' has" met.md
expect_true "no bare error cell" test "$(grep -c '| error |' met.md)" -eq 0

# ---- dtype honesty: every table of a bf16 phase on the CPU says it computed in fp32 ----
section reports/met/REPORT.md half > half.md
# each "### " heading's next non-blank line
awk '/^### /{h=$0; next} h && NF {print h " => " $0; h=""}' half.md > half_heads.txt
expect_true "dtype: the bf16 phase has its tables" test "$(grep -c '^### ' half.md)" -ge 5
expect_true "dtype: a compute-dtype line under every table heading" \
  test "$(grep -c '=> \*Compute dtype: bf16 → fp32 on cpu\.\*$' half_heads.txt)" -eq "$(grep -c '^### ' half.md)"
expect_true "dtype: no such line where the dtype computed as asked" test "$(grep -c 'Compute dtype' met.md)" -eq 0

# ---- two results for one job: another machine's copies (other ids: other checkpoint bytes) ----
cp -r results/rows merged
cat > copy_job.py <<'EOF'
import glob, json, sys
# copy_job.py DIR NEW_ID SCALE: stores a copy of the geo_10k @ 64, seed 1 job of phase `named`
# under NEW_ID, its PPL multiplied by SCALE.
d, new_id, scale = sys.argv[1], sys.argv[2], float(sys.argv[3])
for p in sorted(glob.glob(d + "/jobs/*.json")):
    j = json.load(open(p))
    if j["spec"]["rope"]["name"] == "geo_10k" and j["spec"]["length"] == 64 and j["spec"]["model"] == "small" \
            and j["spec"]["dataset"] == "text" and j["spec"]["seed"] == 1:
        j["job_id"] = new_id
        j["metrics"]["ppl"] *= scale
        j["metrics"]["nll"] = __import__("math").log(j["metrics"]["ppl"])
        json.dump(j, open(d + "/jobs/" + new_id + ".json", "w"), indent=1)
        print(p.split("/")[-1][:8], "%.2f" % j["metrics"]["ppl"])
        break
EOF
orig=$("$PYTHON" copy_job.py merged aaaaaaaaaaaaaaaa 1.0)
expect_rc "equal copy: report" 0 "$BENCH" report merged --reports rep_equal
section rep_equal/REPORT.md named > eq.md
expect_true "equal copy: one result, no conflict" test "$(grep -c 'conflict' eq.md)" -eq 0
expect_true "equal copy: the number stands" grep -qE '^\| geo_10k \| [*0-9.]+ \| [*0-9.]+ \|' eq.md
expect_true "equal copy: no warning" test "$(grep -c 'different numbers' <<<"$ERR")" -eq 0
copy=$("$PYTHON" copy_job.py merged bbbbbbbbbbbbbbbb 1.25)
expect_rc "conflicting copy: report" 0 "$BENCH" report merged --reports rep_conflict
section rep_conflict/REPORT.md named > cf.md
ppl_orig=${orig#* }; ppl_copy=${copy#* }
cell=$(grep '^| geo_10k |' cf.md | tail -1)
expect_true "conflict: the cell shows both values and files" \
  test "$(grep -cF "$ppl_copy (bbbbbbbb)" <<<"$cell")$(grep -cE "conflict: $ppl_orig \((aaaaaaaa|${orig%% *})\) ≠" <<<"$cell")" = 11
expect_true "conflict: listed in full under the tables" grep -qF "merged/jobs/bbbbbbbbbbbbbbbb.json" cf.md
expect_true "conflict: warned on stderr" grep -q "phase named: geo_10k @ 64, seed 1: two results with different numbers" <<<"$ERR"
section rep_conflict/REPORT.md models > cfm.md
expect_true "conflict: a phase sharing the job shows it too" grep -qF "≠ $ppl_copy (bbbbbbbb)" cfm.md
finish
