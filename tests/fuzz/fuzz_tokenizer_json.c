// fuzz_tokenizer_json.c — libFuzzer harness for tokenizer.json parsing: the input is the JSON
// text; when it loads, a few fixed texts are encoded with it (patterns, normalizers and added
// tokens from the input get exercised; regex match limits keep bad patterns bounded).
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer.h"

static const char *const TEXTS[] = {
    "Hello world! It's 2024, isn't it?  \n\t<s> <|endoftext|> caf\xC3\xA9 cafe\xCC\x81",
    "\xE4\xBD\xA0\xE5\xA5\xBD \xF0\x9F\x98\x80 \xFF\xFE 12345 aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    ""};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  Tokenizer *t;
  BenchErr err;
  if (tokenizer_load_json((const char *)data, size, "fuzz.json", &t, &err)) return 0;
  for (size_t i = 0; i < sizeof TEXTS / sizeof TEXTS[0]; i++) {
    int32_t *ids;
    size_t n;
    if (tokenizer_encode(t, TEXTS[i], strlen(TEXTS[i]), (int)(i & 1), &ids, &n, &err) == 0)
      free(ids);
  }
  tokenizer_free(t);
  return 0;
}
