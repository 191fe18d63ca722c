// lm_head.cuh — the fused LM head: logits by blocks of rows and vocabulary chunks (cuBLASLt),
// log-softmax, NLL of the target and argmax, without a T × V logits matrix. CPU twin:
// cpu_lm_head_nll (backend_cpu.c), whole rows per block of tokens; the chunk fold is
// lm_merge.h. Legend: T tokens, C hidden, V vocab.
#ifndef BENCH_LM_HEAD_CUH
#define BENCH_LM_HEAD_CUH

#include "c_headers.cuh"

#ifdef __cplusplus
extern "C" {
#endif
#include <stddef.h>
#include <stdint.h>

#include "dtype.h"

// nll[t] = logsumexp(z_t) − z_t[target[t]], argmax[t] = first index of max(z_t), where
// z_t = h[t, :] · w[V, C]ᵀ (h fp32, rounded to wdtype for the product; w in wdtype).
// target[T] in [0, V); logits: scratch of `elems` floats (≥ 1), used as [rows, chunk] blocks.
// fp64: the chunk sums in double (the fold always is).
void cuda_lm_head_nll(float *nll, int32_t *argmax, const float *h, const void *w, DType wdtype,
                      const int32_t *target, long T, int C, int V, int fp64, float *logits,
                      size_t elems);

#ifdef __cplusplus
}
#endif

#endif
