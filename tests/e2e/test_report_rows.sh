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
expect_true "shared job: the third phase names it by its own plan" has "$MD" "| 3 | models |  | 32/32 | 32 | 0 | 0 | 0 |"
finish
