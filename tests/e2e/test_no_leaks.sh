# test_no_leaks.sh — nothing from a model or data file reaches run.log, a job result or the report:
# a `file:` RoPE variant, a JSON Lines dataset and a tokenizer.json that do not parse are reported
# by path, line, column and what was expected, never by quoting their text; the suite title (the
# user's own text) goes into REPORT.md escaped as phase titles are (no raw HTML, no extra heading).
. "$(dirname "$0")/lib.sh"

export BENCH_CACHE_DIR=$TMP/cache
W=$TMP/work
mkdir -p "$W/data"
cd "$W" || exit 1

expect_rc "init-model" 0 "$BENCH" init-model m --arch llama --seed 3
expect_rc "init-model (a second one)" 0 "$BENCH" init-model m2 --arch llama --seed 4
word_text 5 40 > data/text.txt
printf '{"text": "fine"}\n{"text": SECRET-DATA-LINE}\n' > data/broken.jsonl
printf '1.0\n0.5\nSECRET-ROPE-LINE 7\n' > rope_lines.txt
printf '[1.0, 0.5, SECRET-ROPE-JSON]\n' > rope_json.json
sed -i 's/"merges": *\[/"merges": ["SECRET-TOKENIZER-MERGE", /' m2/tokenizer.json
expect_true "the tokenizer was broken" grep -q SECRET-TOKENIZER-MERGE m2/tokenizer.json

cat > suite.yaml <<'YAML'
suite: leaks
title: "Results <img src=x onerror=alert(1)> | *bold*\n# a second heading"
defaults: {model: m, dataset: text, protocol: chunks, windows: 1, lengths: [32], seeds: [0],
           rope: native, cache: full, dtype: fp32, device: cpu}
models: { m: { path: m }, m2: { path: m2 } }
datasets: { text: { path: data/text.txt }, broken: { path: data/broken.jsonl } }
rope:
  native: { type: model }
  lines: { type: file, path: rope_lines.txt }
  json: { type: file, path: rope_json.json }
cache: { full: { type: full } }
phases:
  - id: good
    title: "phase <b>one</b>"
  - id: rope
    rope: [lines, json]
  - id: data
    dataset: broken
  - id: tok
    model: m2
YAML
expect_rc "run: the broken files fail their jobs" 1 "$BENCH" run suite.yaml --results r --reports rep
all_text() { cat r/run.log r/jobs/*.json rep/REPORT.md; echo "$OUT $ERR"; }
expect_true "nothing quoted from the files" test -z "$(all_text | grep -o 'SECRET[A-Z-]*' | sort -u)"
expect_true "rope lines: file:line:col and what was expected" \
  grep -q "'rope_lines.txt':3:1: expected one number per line" r/run.log
expect_true "rope JSON: file:line:col and what was expected" \
  grep -q "'rope_json.json':1:[0-9]*: invalid token (expected a JSON array of numbers)" r/run.log
expect_true "dataset: file:line and the reason" grep -q "broken.jsonl:2: not a JSON object: invalid token" r/run.log
expect_true "tokenizer: the merge by number" grep -q "merge 1 is not two tokens separated by one space" r/run.log
expect_true "the job result says it too" grep -q "expected one number per line" r/jobs/*.json

MD=rep/REPORT.md
expect_true "title: one heading line, escaped" \
  grep -qF '# Results &lt;img src=x onerror=alert(1)> \| \*bold\* # a second heading' "$MD"
expect_true "title: no raw HTML" test -z "$(grep -F '<img' "$MD")"
expect_true "title: no second heading" test -z "$(grep '^# a second heading' "$MD")"
expect_true "phase titles escaped as before" grep -qF 'phase &lt;b>one&lt;/b>' "$MD"
finish
