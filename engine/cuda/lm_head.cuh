// lm_head.cuh — the fused LM head: logits by blocks of rows and vocabulary chunks (cuBLASLt),
// log-softmax, NLL of the target and argmax, without a T × V logits matrix. CPU twin:
// cpu_lm_head_nll (backend_cpu.c), whole rows per block of tokens; the chunk fold is
// lm_merge.h. And the trainer's cross-entropy of a block of logits (its products are
// engine/cuda/train_cuda.c's): CPU twin the softmax loop of lm_head in engine/cpu/train_tmpl.h.
// Legend: T tokens, C hidden, V vocab; training: T tokens per sequence, `t` the element type of
//         the act buffers (DTYPE_F32 or DTYPE_BF16).
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

// ---- training ----
// For the rows r0 .. r0 + rows − 1 of a pass (row r = s·T + i, target tok[s·(T + 1) + i + 1]):
// nll[r] = logsumexp(logits_r) − logits_r[target] (fp32, logits[rows, ld] fp32, V ≤ ld columns
// used); with backward, dlogits[rows, ld] (t; may be the logits themselves when t is fp32) =
// (softmax − onehot)·gs in the first V columns.
void cuda_cross_entropy(float *nll, void *dlogits, DType t, const float *logits, long ld,
                        const int32_t *tok, long T, long r0, long rows, int V, float gs,
                        int backward);

#ifdef __cplusplus
}
#endif

#endif
