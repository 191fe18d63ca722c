// fuzz_tokenizer.c — libFuzzer harness for tokenizer_encode: the fixture tokenizers of every
// family are loaded once; the first input byte picks one and whether special tokens are added,
// the rest is the text (arbitrary bytes: invalid UTF-8 included).
// Run from the repository root (make fuzz); the fixtures are read from tests/fixtures/tokenizers.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "tokenizer.h"

static const char *const FIXTURES[] = {"gpt2",    "roberta",   "neox",   "llama3",
                                       "qwen2",   "llama2",    "mistral", "metaspace",
                                       "splits",  "subword",   "metaspace_never"};
#define N_FIXTURES (sizeof FIXTURES / sizeof FIXTURES[0])
static Tokenizer *toks[N_FIXTURES];

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  for (size_t i = 0; i < N_FIXTURES; i++) {
    char path[256];
    snprintf(path, sizeof path, "tests/fixtures/tokenizers/%s.json", FIXTURES[i]);
    BenchErr err;
    if (tokenizer_load(path, &toks[i], &err)) {
      fprintf(stderr, "fuzz_tokenizer: %s (run from the repository root)\n", err.msg);
      exit(1);
    }
  }
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0) return 0;
  const Tokenizer *t = toks[data[0] % N_FIXTURES];
  int add_special = (data[0] / N_FIXTURES) & 1;
  BenchErr err;
  int32_t *ids = NULL;
  size_t n = 0;
  if (tokenizer_encode(t, (const char *)data + 1, size - 1, add_special, &ids, &n, &err) == 0) {
    int vocab = tokenizer_vocab_size(t);
    for (size_t i = 0; i < n; i++)
      if (ids[i] < 0 || ids[i] >= vocab) __builtin_trap();  // ids stay inside the vocabulary
    free(ids);
  }
  return 0;
}
