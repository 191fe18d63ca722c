// fuzz_data.c — libFuzzer harness for the dataset parsers: every input is read as a BENCHTOK
// file (with and without a required checksum) and as .jsonl text (field "text", a byte-level
// encoder). Neither may crash, leak or read outside the input; what parses is consistent.
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int byte_encode(void *ctx, const char *text, size_t len, int32_t **ids, size_t *n,
                       BenchErr *err) {
  (void)ctx;
  (void)err;
  *ids = malloc(len ? len * sizeof(int32_t) : 1);
  for (size_t i = 0; i < len; i++) (*ids)[i] = (unsigned char)text[i];
  *n = len;
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  BenchErr err;
  int32_t *ids = NULL;
  long n = 0;
  for (int require = 0; require < 2; require++) {
    if (benchtok_parse("fuzz.bin", data, size, require, &ids, &n, &err) == 0) {
      if (size != BENCHTOK_HEADER_BYTES + (size_t)n * data[12]) abort();
      for (long i = 0; i < n; i++)
        if (ids[i] < 0) abort();
      free(ids);
    }
  }
  TextEncoder enc = {"fuzz-bytes", byte_encode, NULL, 0};
  if (jsonl_tokens("fuzz.jsonl", (const char *)data, size, NULL, &enc, &ids, &n, &err) == 0) {
    if (n < 0 || (size_t)n > size) abort();  // at most one id per byte plus separators
    free(ids);
  }
  return 0;
}
