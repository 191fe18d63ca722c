// tokenizer.h — Hugging Face tokenizer.json: byte-level BPE (GPT-2/GPT-NeoX, Llama-3, Qwen2) and
// SentencePiece-style BPE with byte fallback (Llama-2, Mistral), with added/special tokens.
// Ids equal Hugging Face `tokenizers` for the same file and text.
#ifndef BENCH_TOKENIZER_H
#define BENCH_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

typedef struct Tokenizer Tokenizer;

// Loads tokenizer.json; unsupported models/normalizers/pre-tokenizers are errors naming them.
int tokenizer_load(const char *path, Tokenizer **out, BenchErr *err);
void tokenizer_free(Tokenizer *t);

// Encodes len bytes of text as one sequence. add_special: prepend/append what the file's
// post-processor adds (e.g. BOS), as HF's encode(add_special_tokens=True) does; 0 adds nothing.
// *ids is malloc'd (caller frees). Invalid UTF-8 is handled as HF does (never a crash).
int tokenizer_encode(const Tokenizer *t, const char *text, size_t len, int add_special,
                     int32_t **ids, size_t *n_ids, BenchErr *err);

int tokenizer_vocab_size(const Tokenizer *t);   // largest id + 1, added tokens included
int tokenizer_bos_id(const Tokenizer *t);       // -1 when none
const char *tokenizer_fingerprint(const Tokenizer *t);  // sha256 hex of the tokenizer.json bytes

#endif
