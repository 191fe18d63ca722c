# test_tokenizer.sh — `bench tokenize`: ids equal Hugging Face `tokenizers` on every fixture
# family and the edge cases of tests/reference/compare_tokenizers.py; the command's input forms
# (FILE, stdin, model directory, --bos, --jsonl) and its errors (exit 2 naming the file).
. "$(dirname "$0")/lib.sh"

FX=$ROOT/tests/fixtures/tokenizers

# The reference comparison (shorter long-text cases under the sanitizers).
quick=""
[ "${BENCH_ASAN:-0}" = 1 ] && quick="--quick"
if "$PYTHON" "$ROOT/tests/reference/compare_tokenizers.py" --bench "$BENCH" $quick \
    >"$TMP/compare.log" 2>&1; then
  _ok
else
  _bad "ids differ from HF tokenizers: $(grep -m 20 FAIL "$TMP/compare.log"; tail -n 3 "$TMP/compare.log")"
fi

printf 'Hello world' >"$TMP/hello.txt"
expect_out "file input" "[" "$BENCH" tokenize "$FX/gpt2.json" "$TMP/hello.txt"
file_ids=$OUT
run "$BENCH" tokenize "$FX/gpt2.json" <"$TMP/hello.txt"
expect_true "stdin gives the same ids" test "$OUT" = "$file_ids"
mkdir -p "$TMP/model"
cp "$FX/llama3.json" "$TMP/model/tokenizer.json"
expect_out "model directory" "[" "$BENCH" tokenize "$TMP/model" "$TMP/hello.txt"
run "$BENCH" tokenize "$TMP/model" "$TMP/hello.txt"
no_bos=$OUT
run "$BENCH" tokenize "$TMP/model" "$TMP/hello.txt" --bos
bos_id=$("$PYTHON" -c "import json,sys; print([t['id'] for t in json.load(open(sys.argv[1]))['added_tokens'] if t['content'] == '<|begin_of_text|>'][0])" "$FX/llama3.json")
expect_true "--bos adds <|begin_of_text|> in front" \
  "$PYTHON" -c "import json,sys; a=json.loads(sys.argv[1]); b=json.loads(sys.argv[2]); assert a==[int(sys.argv[3])]+b" \
  "$OUT" "$no_bos" "$bos_id"
: >"$TMP/empty.txt"
expect_out "empty text" "[]" "$BENCH" tokenize "$FX/qwen2.json" "$TMP/empty.txt"
printf '"a b"\n"c"\n' >"$TMP/lines.jsonl"
run "$BENCH" tokenize "$FX/gpt2.json" "$TMP/lines.jsonl" --jsonl
expect_true "--jsonl prints one array per line" test "$(printf '%s\n' "$OUT" | wc -l)" -eq 2
printf '"ok"\n{"text": 1}\n' >"$TMP/bad.jsonl"
expect_err "--jsonl names the bad line" "bad.jsonl:2:" "$BENCH" tokenize "$FX/gpt2.json" "$TMP/bad.jsonl" --jsonl
run "$BENCH" tokenize "$FX/gpt2.json" "$TMP/hello.txt" --stats
expect_true "--stats reports throughput on stderr" grep -q "MB/s" <<<"$ERR"

# Arbitrary bytes: never a crash, ill-formed UTF-8 becomes U+FFFD (three bytes in byte-level BPE).
head -c 20000 /dev/urandom >"$TMP/random.bin"
for f in gpt2 llama3 llama2 qwen2; do
  expect_out "random bytes ($f)" "[" "$BENCH" tokenize "$FX/$f.json" "$TMP/random.bin"
done

# No quadratic blow-up: 1 MB with no whitespace is one piece (one word for Llama-2's layout).
"$PYTHON" -c "import sys; open(sys.argv[1], 'w').write('a' * 1000000)" "$TMP/a1m.txt"
"$PYTHON" -c "import sys; open(sys.argv[1], 'w').write(' ' * 1000000)" "$TMP/s1m.txt"
expect_rc "1 MB of 'a' in well under a minute (llama2)" 0 timeout 60 "$BENCH" tokenize "$FX/llama2.json" "$TMP/a1m.txt"
expect_rc "1 MB of spaces in well under a minute (llama3)" 0 timeout 60 "$BENCH" tokenize "$FX/llama3.json" "$TMP/s1m.txt"

# Errors: exit 2, naming the file.
expect_err "missing text file" "no_such.txt" "$BENCH" tokenize "$FX/gpt2.json" "$TMP/no_such.txt"
expect_err "missing tokenizer" "nope.json" "$BENCH" tokenize "$TMP/nope.json" "$TMP/hello.txt"
expect_err "model dir without tokenizer.json" "tokenizer.json" "$BENCH" tokenize "$TMP" "$TMP/hello.txt"
printf '{"model": {"type": "WordPiece", "vocab": {}}}' >"$TMP/wp.json"
expect_err "unsupported model named" "unsupported model 'WordPiece'" "$BENCH" tokenize "$TMP/wp.json" "$TMP/hello.txt"
expect_err "unsupported component names the file" "wp.json" "$BENCH" tokenize "$TMP/wp.json" "$TMP/hello.txt"
printf '{"model": ' >"$TMP/trunc.json"
expect_err "invalid JSON with position" "trunc.json:1:" "$BENCH" tokenize "$TMP/trunc.json" "$TMP/hello.txt"
expect_err "unknown option" "unknown option '--eos'" "$BENCH" tokenize "$FX/gpt2.json" --eos
expect_err "missing tokenizer argument" "usage" "$BENCH" tokenize
finish
