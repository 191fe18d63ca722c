#!/usr/bin/env bash
# bench_tokenizer.sh — encoding throughput of `bench tokenize` against Hugging Face `tokenizers`,
# single-threaded, one long text, for each model-family fixture in tests/fixtures/tokenizers/.
#
# usage: benchmarks/bench_tokenizer.sh [MB] [HF_MB]        (or: make bench-tokenizer)
#   MB     size of the text bench encodes (default 100): the fixture corpus repeated with
#          variation (paragraph order, digits, letter case and word order vary per repetition)
#   HF_MB  size of the prefix of that text HF encodes (default 10; HF keeps per-byte alignment
#          data for one long text, so 100 MB needs many GB of memory and minutes per family)
# Prints one row per family: MB/s of each (encoding only: bench's --stats time, HF's encode()
# call; by process CPU time, so a busy shared machine does not distort it), the ratio, whether the ids on the HF prefix are identical, and for reference HF's MB/s
# when the same prefix is encoded paragraph by paragraph (one encode() per paragraph; HF's
# per-text bookkeeping grows with the text, so it is faster on short texts).
set -euo pipefail
cd "$(dirname "$0")/.."
MB=${1:-100}
HF_MB=${2:-10}
PYTHON=${PYTHON:-build/venv/bin/python}
BENCH=${BENCH:-./bench}
[ -x "$BENCH" ] || { echo "bench_tokenizer: build ./bench first (make)" >&2; exit 2; }
work=$(mktemp -d /tmp/bench_tokenizer.XXXXXX)
trap 'rm -rf "$work"' EXIT

"$PYTHON" - "$MB" "$HF_MB" "$work" <<'EOF'
import random, sys
mb, hf_mb, work = float(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
with open("tests/fixtures/tokenizer_corpus.txt", encoding="utf-8", newline="") as f:
    paragraphs = [p for p in f.read().split("\n\n") if p.strip()]
rng = random.Random(2024)
target = int(mb * 1e6)
out, size = [], 0
def vary(p):
    r = rng.random()
    if r < 0.25:
        p = "".join(str(rng.randrange(10)) if c.isdigit() else c for c in p)
    elif r < 0.4:
        p = p.upper() if rng.random() < 0.3 else p.lower()
    elif r < 0.55:
        w = p.split(" ")
        rng.shuffle(w)
        p = " ".join(w)
    return p + "\n\n"
while size < target:
    order = paragraphs[:]
    rng.shuffle(order)
    for p in order:
        s = vary(p)
        out.append(s)
        size += len(s.encode("utf-8"))
text = "".join(out)
data = text.encode("utf-8")[:target]
text = data.decode("utf-8", "ignore")
with open(f"{work}/text.txt", "w", encoding="utf-8", newline="") as f:
    f.write(text)
hf = text.encode("utf-8")[: int(hf_mb * 1e6)].decode("utf-8", "ignore")
with open(f"{work}/hf.txt", "w", encoding="utf-8", newline="") as f:
    f.write(hf)
EOF

echo "text: $(wc -c <"$work/text.txt") bytes for bench, $(wc -c <"$work/hf.txt") bytes for HF tokenizers $("$PYTHON" -c 'import tokenizers; print(tokenizers.__version__)')"
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), 1 thread; MB/s by process CPU time; load average $(cut -d' ' -f1 /proc/loadavg)"
printf '%-10s %12s %12s %8s %10s %18s\n' family "bench MB/s" "HF MB/s" ratio "same ids" "HF paragraphs MB/s"
for fx in gpt2 neox llama3 qwen2 llama2 mistral roberta metaspace; do
  f=tests/fixtures/tokenizers/$fx.json
  stats=$("$BENCH" tokenize "$f" "$work/text.txt" --stats 2>&1 >/dev/null | grep '^tokenize:')
  ours=$(sed -E 's/.*\(([0-9.]+) MB\/s cpu\).*/\1/' <<<"$stats")
  "$BENCH" tokenize "$f" "$work/hf.txt" >"$work/ours_hf.json"
  read -r theirs same paras < <(RAYON_NUM_THREADS=1 TOKENIZERS_PARALLELISM=false "$PYTHON" - "$f" "$work/hf.txt" "$work/ours_hf.json" <<'EOF'
import json, sys, time
from tokenizers import Tokenizer
tok = Tokenizer.from_file(sys.argv[1])
with open(sys.argv[2], encoding="utf-8", newline="") as f:
    text = f.read()
t0 = time.process_time()
ids = tok.encode(text, add_special_tokens=False).ids
dt = time.process_time() - t0
with open(sys.argv[3]) as f:
    ours = json.load(f)
paragraphs = text.split("\n\n")
t0 = time.process_time()
for p in paragraphs:
    tok.encode(p, add_special_tokens=False)
dp = time.process_time() - t0
n = len(text.encode("utf-8")) / 1e6
print(f"{n / dt:.2f}", "yes" if ours == ids else "NO", f"{n / dp:.2f}")
EOF
)
  ratio=$(awk -v a="$ours" -v b="$theirs" 'BEGIN { printf "%.1fx", a / b }')
  printf '%-10s %12s %12s %8s %10s %18s\n' "$fx" "$ours" "$theirs" "$ratio" "$same" "$paras"
done
