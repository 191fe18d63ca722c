# test_tokenizer_unicode.sh — the split patterns of byte-level tokenizers give Hugging Face's ids
# on every assigned code point (tests/reference/sweep_unicode_splits.py): PCRE2's Unicode tables
# against Oniguruma's.
# no-asan
. "$(dirname "$0")/lib.sh"

if "$PYTHON" "$ROOT/tests/reference/sweep_unicode_splits.py" --bench "$BENCH" >"$TMP/sweep.log" 2>&1; then
  _ok
else
  _bad "ids differ from HF tokenizers: $(grep -m 10 FAIL "$TMP/sweep.log"; tail -n 3 "$TMP/sweep.log")"
fi
finish
