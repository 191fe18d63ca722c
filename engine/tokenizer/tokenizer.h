// tokenizer.h — Hugging Face tokenizer.json: byte-level BPE (GPT-2/GPT-NeoX, Llama-3, Qwen2) and
// SentencePiece-style BPE with byte fallback (Llama-2, Mistral), with added/special tokens.
// Ids equal Hugging Face `tokenizers` for the same file and text.
//
// Supported components (anything else is a load error naming it):
//   model           BPE: vocab, merges ("a b" strings or [a, b] pairs), unk_token, fuse_unk,
//                   byte_fallback (<0xNN>), ignore_merges, continuing_subword_prefix,
//                   end_of_word_suffix; dropout must be null or 0
//   normalizer      Sequence, NFC, NFD, Prepend, Replace (String or Regex), Strip
//   pre_tokenizer   Sequence, ByteLevel (add_prefix_space, use_regex), Split (String or Regex
//                   pattern, all five behaviours, invert), Metaspace (prepend_scheme
//                   first/always/never, split; legacy add_prefix_space), Digits
//   post_processor  Sequence, TemplateProcessing (single sequence), ByteLevel, RobertaProcessing,
//                   BertProcessing: only which ids add_special puts around the text matters
//   added_tokens    matched leftmost-longest in the raw text (normalized false) or in the
//                   normalized text (normalized true), with lstrip / rstrip / single_word
// Unicode: NFC/NFD use Unicode 9.0.0 data, as the library does (engine/tokenizer/unicode_nfc_table.h).
// Split patterns run on PCRE2 (Unicode 14.0 properties in Debian 12's 10.42; Oniguruma in the
// library), with \s and \S given Oniguruma's meaning (White_Space). Every assigned code point
// splits as the library splits it (tests/reference/sweep_unicode_splits.py, in `make test`);
// a PCRE2 built on other Unicode tables would show there first.
#ifndef BENCH_TOKENIZER_H
#define BENCH_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

typedef struct Tokenizer Tokenizer;

// Loads tokenizer.json (path, or a model directory holding one); unsupported models, normalizers,
// pre-tokenizers and post-processors are errors naming them. The decoder is not read, and
// truncation/padding settings are ignored: the whole text is always encoded.
int tokenizer_load(const char *path, Tokenizer **out, BenchErr *err);
// Same from the JSON text in memory; name stands for the file in messages.
int tokenizer_load_json(const char *json, size_t len, const char *name, Tokenizer **out,
                        BenchErr *err);
void tokenizer_free(Tokenizer *t);

// Encodes len bytes of text as one sequence. add_special: prepend/append what the file's
// post-processor adds (e.g. BOS), as HF's encode(add_special_tokens=True) does; 0 adds nothing.
// *ids is malloc'd (caller frees). Invalid UTF-8 never crashes: each maximal ill-formed subpart
// is replaced by U+FFFD first, which is what HF gives for bytes.decode("utf-8", "replace").
// Thread-safe: a loaded Tokenizer is read-only; each call keeps its own work state and cache.
int tokenizer_encode(const Tokenizer *t, const char *text, size_t len, int add_special,
                     int32_t **ids, size_t *n_ids, BenchErr *err);

int tokenizer_vocab_size(const Tokenizer *t);   // largest id + 1, added tokens included
// The id the post-processor puts first for a single sequence with add_special (<s>,
// <|begin_of_text|>, RoBERTa's <s>); -1 when it adds nothing in front (GPT-2, GPT-NeoX, Qwen2).
int tokenizer_bos_id(const Tokenizer *t);
const char *tokenizer_fingerprint(const Tokenizer *t);  // sha256 hex of the tokenizer.json bytes

#endif
