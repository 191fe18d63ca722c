// embedding.cuh — token embedding lookup from a table in the weight dtype. CPU twin:
// cpu_embedding (backend_cpu.c). Legend: T tokens, C channels, V vocab.
#ifndef BENCH_EMBEDDING_CUH
#define BENCH_EMBEDDING_CUH

#include "c_headers.cuh"

#ifdef __cplusplus
extern "C" {
#endif
#include <stdint.h>

#include "dtype.h"

// x[T, C] (fp32) = table[ids[t], :] for table[V, C] in dtype, ids[T] in [0, V).
void cuda_embedding(float *x, const void *table, DType dtype, const int32_t *ids, long T, int C);

#ifdef __cplusplus
}
#endif

#endif
