// weights_check.h — NaN and ±Inf values in a checkpoint's floating-point tensors, read from the
// safetensors files as they are (F64, F32, F16, BF16; no conversion). What `bench inspect` warns
// about: a checkpoint holding them gives NaN NLLs (status nonfinite) wherever they are read.
#ifndef BENCH_WEIGHTS_CHECK_H
#define BENCH_WEIGHTS_CHECK_H

#include <stdint.h>

#include "util.h"

typedef struct {
  char *file;         // safetensors file name, relative to the checkpoint directory
  char *tensor;
  uint64_t count;     // NaN or ±Inf values
  uint64_t first;     // index of the first, in row-major order
} NonfiniteTensor;

// Scans every tensor of checkpoint dir's safetensors files (st_shards_find); *out lists those
// holding a NaN or ±Inf (file, then header order), *n of them. Fails on a file that cannot be
// opened or is not valid safetensors.
int weights_nonfinite(const char *dir, NonfiniteTensor **out, int *n, BenchErr *err);
void nonfinite_tensors_free(NonfiniteTensor *t, int n);

#endif
