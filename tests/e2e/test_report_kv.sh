# test_report_kv.sh — the report's KV-cache table ("KV cache: memory and speed vs full") and
# `positions: cache` on h2o and window caches, end to end on a tiny random GPT-NeoX checkpoint:
# a decode suite with full, H2O and StreamingLLM caches, the full cache excluded at the longest
# length, and a phase whose full-cache baseline runs in another phase. Checked: the table appears
# by itself where a policy ran (and where `{table: kv_cost}` places it), its numbers equal the job
# results' (budget, peak, bytes saved, tokens/s, speed = tokens/s ÷ the full job's), "-" with a
# note where no full-cache job exists, OOM rows, the key findings, the Chinese words, and a header
# that names no CUDA version for a CPU-only run. H2O and window with `positions: cache` reach the
# engine: a budget covering the sequence gives exactly the full cache's numbers, an evicting one
# differs from original positions.
. "$(dirname "$0")/lib.sh"

export BENCH_CACHE_DIR=$TMP/cache
W=$TMP/work
mkdir -p "$W/data" "$W/models"
cd "$W" || exit 1

expect_rc "init model" 0 "$BENCH" init-model models/tiny --arch gpt_neox --layers 2 --max-positions 64 --seed 5
word_text 99 200 > data/text.txt

cat > kv.yaml <<'EOF'
suite: kv_small
title: KV caches on a tiny model
defaults:
  model: tiny
  dataset: text
  protocol: decode
  prompt: 16
  warmup: 2
  windows: 2
  seeds: [7]
  rope: native
  cache: full
  dtype: fp32
  device: cpu
  base_length: 40
models:
  tiny: { path: models/tiny }
datasets:
  text: { path: data/text.txt }
rope:
  native: { type: model }
cache:
  full:      { type: full }
  h2o_16:    { type: h2o, heavy: 8, recent: 8 }
  h2o_16c:   { type: h2o, heavy: 8, recent: 8, positions: cache }
  stream_16: { type: streaming, sink: 4, recent: 12 }
  h2o_cover: { type: h2o, heavy: 8, recent: 100, positions: cache }
  win_cover: { type: window, recent: 100, positions: cache }
phases:
  - id: lengths
    cache: [full, h2o_16, stream_16]
    lengths: [40, 96]
    exclude:
      - { cache: full, length: 96 }
    report:
      - { table: lengths }
  - id: elsewhere
    cache: [h2o_16, h2o_16c]
    lengths: [40]
    report:
      - { table: kv_cost }
      - { table: lengths }
  - id: covering
    cache: [full, h2o_cover, win_cover]
    lengths: [56]
  - id: full-only
    cache: [full]
    lengths: [40]
EOF

expect_rc "suite runs" 0 "$BENCH" run kv.yaml
expect_true "9 jobs ok" grep -q "finished: 9 ok, 0 failed" results/kv_small/run.log
MD=reports/kv_small/REPORT.md
expect_true "report written" test -s "$MD"

# positions: cache reaches the job spec and the engine
cat > check_jobs.py <<'EOF'
import glob, json, sys
jobs = [json.load(open(p)) for p in glob.glob(sys.argv[1] + "/jobs/*.json")]
def one(cache, L):
    out = [j for j in jobs if j["spec"]["cache"]["name"] == cache and j["spec"]["length"] == L]
    assert len(out) == 1, (cache, L, len(out))
    return out[0]
bad = []
for name in ("h2o_cover", "win_cover", "h2o_16c"):
    if one(name, 56 if "cover" in name else 40)["spec"]["cache"].get("positions") != "cache":
        bad.append(name + " spec has no positions: cache")
if "positions" in one("h2o_16", 40)["spec"]["cache"]:
    bad.append("h2o_16 spec names positions it did not write")
f = one("full", 56)["metrics"]
for name in ("h2o_cover", "win_cover"):
    m = one(name, 56)["metrics"]
    if m["nll"] != f["nll"] or m["window_ppl"] != f["window_ppl"]:
        bad.append(name + " covering budget differs from full")
if one("h2o_16", 40)["metrics"]["nll"] == one("h2o_16c", 40)["metrics"]["nll"]:
    bad.append("h2o positions cache and original give the same numbers")
for b in bad: print("BAD:", b)
print("%d problems" % len(bad))
EOF
expect_out "positions: cache reaches the engine" "0 problems" "$PYTHON" check_jobs.py results/kv_small

# The table's numbers are the job results'.
cat > expect_rows.py <<'EOF'
import glob, json, sys
jobs = [json.load(open(p)) for p in glob.glob(sys.argv[1] + "/jobs/*.json")]
def one(cache, L):
    return [j for j in jobs if j["spec"]["cache"]["name"] == cache and j["spec"]["length"] == L][0]["metrics"]
def kib(b): return "%.1f KiB" % (b / 1024)
def tps(x): return "%.0f" % x if x >= 100 else "%.1f" % x if x >= 10 else "%.2f" % x
full = one("full", 40)
for cache, L in (("full", 40), ("h2o_16", 40), ("stream_16", 40), ("h2o_16", 96), ("stream_16", 96)):
    m = one(cache, L)
    saved = "0 B (0%)" if cache == "full" else "%s (%.0f%%)" % (kib(m["kv_bytes_saved"]), 100.0 * m["kv_bytes_saved"] / m["kv_full_bytes"])
    speed = "-" if L == 96 else "%.2fx" % (m["tokens_per_s"] / full["tokens_per_s"])
    print("| %s | %d | %d | %d | %s | %s | %s | %s |" % (cache, L, m["kv_budget"], m["kv_peak_tokens"],
          kib(m["kv_peak_bytes"]), saved, tps(m["tokens_per_s"]), speed))
EOF
"$PYTHON" expect_rows.py results/kv_small > rows.txt
expect_true "5 expected rows" test "$(wc -l < rows.txt)" -eq 5
while IFS= read -r row; do
  expect_true "row: $row" grep -qF -- "$row" "$MD"
done < rows.txt
has() { grep -qF -- "$2" "$1"; }
count() { grep -cF -- "$2" "$1"; }
expect_true "table title" has "$MD" "### KV cache: memory and speed vs full"
expect_true "header row" has "$MD" "| Config | Length | KV budget (tokens) | Peak KV (tokens) | Peak KV memory | Saved vs full | tokens/s | Speed vs full |"
expect_true "no full job: note" has "$MD" "Speed vs full is - at 96 tokens: no full-cache job with the same spec but the cache."
# shown where a policy ran (3 phases), not in the full-cache-only phase
expect_true "three KV tables" test "$(count "$MD" "### KV cache: memory and speed vs full")" -eq 3
expect_true "full-only phase has none" test -z "$(sed -n '/Phase full-only/,/^---/p' "$MD" | grep -F 'KV cache')"
# placed where asked: before the lengths table in phase elsewhere
sec=$(sed -n '/Phase elsewhere/,/^---/p' "$MD")
expect_true "kv_cost placed first" test "$(grep -n 'KV cache' <<<"$sec" | cut -d: -f1)" -lt "$(grep -n 'PPL by length' <<<"$sec" | cut -d: -f1)"
# the baseline ran in another phase: matched all the same
expect_true "cross-phase match" grep -qE '^\| h2o_16 \| 40 \| 16 \| 16 \| .* \| [0-9.]+x \|$' <<<"$sec"
expect_true "h2o positions cache row" grep -qE '^\| h2o_16c \| 40 \| 16 \| 16 \| .* \| [0-9.]+x \|$' <<<"$sec"
sec=$(sed -n '/Phase covering/,/^---/p' "$MD")
expect_true "covering rows save nothing" grep -qE '^\| h2o_cover \| 56 \| 108 \| 55 \| 55\.0 KiB \| 0 B \(0%\) \|' <<<"$sec"
# key findings: memory saved, speed against full
expect_true "finding h2o_16" grep -qE '^- \*\*h2o_16\*\* at 40: KV 16 tokens \(-59% memory\), [0-9.]+x the full cache.s tokens/s$' "$MD"
expect_true "finding stream_16" grep -qE '^- \*\*stream_16\*\* at 40: KV 16 tokens \(-59% memory\)' "$MD"
# A CPU-only run names no CUDA version, even where the machine has a CUDA toolkit (the manifest's
# "cuda"); a job on a cuda device, or a GPU in the manifest, brings it back.
cp -r results/kv_small dev
"$PYTHON" - dev/manifest.json <<'EOF2'
import json, sys
m = json.load(open(sys.argv[1]))
m["cuda"], m["gpus"], m["driver"] = "13.0", [], None
json.dump(m, open(sys.argv[1], "w"))
EOF2
expect_rc "cpu report" 0 "$BENCH" report dev --reports dev_cpu --no-figures
expect_true "device line" grep -q '^\*\*Device\*\*' dev_cpu/REPORT.md
expect_true "no CUDA in a CPU run's header" test -z "$(grep '^\*\*Device\*\*' dev_cpu/REPORT.md | grep -i cuda)"
expect_true "no CUDA in this run's header" test -z "$(grep '^\*\*Device\*\*' "$MD" | grep -i cuda)"
f=$(ls dev/jobs/*.json | head -1)
sed -i 's/"device": "cpu"/"device": "cuda:0"/' "$f"
expect_rc "cuda report" 0 "$BENCH" report dev --reports dev_cuda --no-figures
expect_true "CUDA named when a job ran on cuda" grep -q '^\*\*Device\*\*: .* · CUDA 13.0' dev_cuda/REPORT.md

# A copy in Chinese, with an OOM job added at a length the full cache never ran.
cp -r results/kv_small zh
sed -i 's/^title: KV caches on a tiny model/title: KV caches on a tiny model\nreport_options: { lang: zh }/' zh/suite.yaml
"$PYTHON" - zh <<'EOF'
import glob, json, sys
d = sys.argv[1]
src = [json.load(open(p)) for p in glob.glob(d + "/jobs/*.json")]
j = [x for x in src if x["spec"]["cache"]["name"] == "h2o_16" and x["spec"]["length"] == 96][0]
j["job_id"] = "00000000000000aa"
j["spec"]["length"] = 200
j["status"], j["error"], j["metrics"] = "oom", "out of memory: KV cache", None
json.dump(j, open(d + "/jobs/00000000000000aa.json", "w"))
EOF
expect_rc "zh report" 0 "$BENCH" report zh --reports zh_report --no-figures
ZMD=zh_report/REPORT.md
expect_true "zh title" has "$ZMD" "### KV 缓存: 相对全缓存的内存与速度"
expect_true "zh header" has "$ZMD" "| 配置 | 序列长度 | KV 预算 (token) | KV 峰值 (token) | KV 峰值内存 | 相对全缓存节省 | token/s | 相对全缓存速度 |"
expect_true "zh note" has "$ZMD" "96 token 处相对全缓存速度为 -: 没有除缓存外规格相同的全缓存任务。"
expect_true "zh finding" grep -qE '^- \*\*h2o_16\*\* 在 40: KV 16 个 token \(内存 -59%\), 速度为全缓存的 [0-9.]+x$' "$ZMD"
expect_true "OOM row" has "$ZMD" "| h2o_16 | 200 | OOM | OOM | OOM | OOM | OOM | OOM |"
expect_true "OOM row not in the no-full note" test -z "$(grep -F '200 token' "$ZMD")"
finish
