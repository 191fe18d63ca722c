// flash_attention.cuh — causal GQA attention on tensor cores (bf16/fp16 operands, fp32
// accumulation, online softmax in fp32), for engines whose weights are bf16 or fp16. CPU twin:
// flash_attention_twin (engine/cpu/flash_twin.h), which also states the arithmetic and the rule
// (flash_attention_applies) by which backend_cuda.c picks this kernel over cuda_attention (the
// exact fp32 reference kernel, attention.cuh, kept for fp32 engines, the fp64 check mode and head
// dims this one is not built for).
// And the trainer's tensor-core attention, forward and backward, bf16 only: CPU twins attn_fwd,
// attn_bwd of the bf16 emulation (tests/lib/train_emu_ops.h); on the device, the simple training
// kernels (attention.cuh) are its reference.
// Legend: Tq queries, Tk keys in the buffer, H query heads, K kv heads, D head dim; training:
//         n rows (n_seq sequences × T tokens).
#ifndef BENCH_FLASH_ATTENTION_CUH
#define BENCH_FLASH_ATTENTION_CUH

#include "c_headers.cuh"

#ifdef __cplusplus
extern "C" {
#endif
#include "flash_twin.h"

// Query rows per block: 16 per warp. The engine's default; tests and benchmarks may ask for the
// other (cuda_flash_attention_warps).
#define FLASH_WARPS_DEFAULT 4

// out[i, h, :] = Σ_j softmax_j(q[i,h,:] · k[j,g,:] · scale) v[j,g,:], g = h / (H/K), over keys
// j ≤ q0 + i and, when window > 0, j > q0 + i − window; computed as flash_twin.h states, with
// q, k, v rounded to dtype (DTYPE_BF16 or DTYPE_F16). out[Tq, H, D], q[Tq, H, D], k[Tk, K, D],
// v[Tk, K, D] (fp32, device memory); q0 + Tq ≤ Tk; D one of flash_attention_supported's.
// An unsupported shape is recorded as a failure (cuda_check.cuh), not run.
void cuda_flash_attention(float *out, const float *q, const float *k, const float *v, long Tq,
                          long Tk, long q0, int H, int K, int D, float scale, long window,
                          DType dtype);
// The same with `warps` warps per block (4 or 8: 64 or 128 query rows per block).
void cuda_flash_attention_warps(float *out, const float *q, const float *k, const float *v,
                                long Tq, long Tk, long q0, int H, int K, int D, float scale,
                                long window, DType dtype, int warps);

// ---- training ----
// cuda_attn_fwd and cuda_attn_bwd (attention.cuh) with mma.sync bf16 tensor cores (sm_80+),
// blocks of 64 queries / keys, fp32 accumulation, probabilities rounded to bf16 for the products.
// bf16 only; D 64 or 128 (cuda_flash_attn_supports says). -1 (nothing launched) otherwise.
int cuda_flash_attn_supports(DType t, int D);
int cuda_flash_attn_fwd(void *out, float *lse, const void *q, const void *k, const void *v,
                        long n_seq, long T, int H, int K, int D);
int cuda_flash_attn_bwd(void *dq, void *dk, void *dv, const void *dout, const float *Di,
                        const float *lse, const void *q, const void *k, const void *v, long n_seq,
                        long T, int H, int K, int D);

#ifdef __cplusplus
}
#endif

#endif
