// dtype.h — the element types of weights and activations: a checkpoint's dtype, the dtype a GPU
// engine computes in. Apart from the model loader (model.h) so that kernel headers can name them.
#ifndef BENCH_DTYPE_H
#define BENCH_DTYPE_H

#include <stddef.h>

typedef enum { DTYPE_F32, DTYPE_BF16, DTYPE_F16 } DType;

// "fp32", "bf16", "fp16".
static inline const char *dtype_name(DType t) {
  switch (t) {
    case DTYPE_F32: return "fp32";
    case DTYPE_BF16: return "bf16";
    case DTYPE_F16: return "fp16";
  }
  return "unknown";
}

// Bytes of one element.
static inline size_t dtype_size(DType t) { return t == DTYPE_F32 ? 4 : 2; }

#endif
