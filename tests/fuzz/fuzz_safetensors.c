// fuzz_safetensors.c — libFuzzer harness for the safetensors header parser and config.json parser.
// Every input goes to both: as a whole safetensors file (st_parse, then fp32 conversion of each
// floating tensor it accepts) and as config.json text (model_config_parse). Neither may crash,
// leak or read outside the input, whatever the bytes.
#include <stdint.h>
#include <stdlib.h>

#include "model.h"
#include "safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  BenchErr err;
  StFile f;
  if (st_parse("fuzz.safetensors", data, size, &f, &err) == 0) {
    for (int i = 0; i < f.n_tensors; i++) {
      const StTensor *t = &f.tensors[i];
      if (t->dtype != ST_F32 && t->dtype != ST_F16 && t->dtype != ST_BF16 && t->dtype != ST_F64) continue;
      float *out = malloc(sizeof(float) * (size_t)(t->n_elems ? t->n_elems : 1));
      if (st_tensor_to_f32(&f, t, out, &err) != 0) abort();  // a floating tensor always converts
      free(out);
    }
    st_close(&f);
  }
  ModelConfig c;
  if (model_config_parse("fuzz/config.json", (const char *)data, size, &c, &err) == 0) {
    // Whatever parses is consistent.
    if (c.n_heads % c.n_kv_heads != 0 || c.rotary_dims < 2 || c.rotary_dims > c.head_dim ||
        c.rotary_dims % 2 != 0)
      abort();
    model_config_free(&c);
  }
  return 0;
}
