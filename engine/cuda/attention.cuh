// attention.cuh — causal attention with grouped kv heads over a key/value buffer (the KV cache),
// by blocks of queries with an online softmax. CPU twin: cpu_attention (backend_cpu.c): the same
// visibility rule, scale and accumulation switch. This is the plain reference kernel (fp32 loads,
// no tensor cores); the flash-style fast kernel is flash_attention.cuh's.
// And the trainer's simple attention kernels, forward and backward (the tensor-core ones are
// flash_attention.cuh's). CPU twins: attn_fwd, attn_bwd of the cpu-fp32 training table
// (engine/cpu/train_tmpl.h) and of the bf16 emulation (tests/lib/train_emu_ops.h).
// Legend: Tq queries, Tk keys in the buffer, H query heads, K kv heads, D head dim (≤ 256);
//         training: n rows (n_seq sequences × T tokens), `t` the element type of the act
//         buffers (DTYPE_F32 or DTYPE_BF16), math fp32.
#ifndef BENCH_ATTENTION_CUH
#define BENCH_ATTENTION_CUH

#include "c_headers.cuh"

#ifdef __cplusplus
extern "C" {
#endif
#include "dtype.h"

// out[i, h, :] = Σ_j softmax_j(q[i,h,:] · k[j,g,:] · scale) v[j,g,:], g = h / (H/K), over keys
// j ≤ q0 + i (query i sits at key index q0 + i) and, when window > 0, j > q0 + i − window.
// out[Tq, H, D], q[Tq, H, D], k[Tk, K, D], v[Tk, K, D]; q0 + Tq ≤ Tk. fp64: scores, softmax and
// sums in double.
void cuda_attention(float *out, const float *q, const float *k, const float *v, long Tq, long Tk,
                    long q0, int H, int K, int D, float scale, long window, int fp64);

// ---- training ----
// Causal attention within each of n_seq sequences of T tokens, scale 1/√D, query head h reads
// kv head h/(H/K): out[n, H, D] (t), lse[n, H] from q[n, H, D], k, v[n, K, D] (t). Simple
// kernels: one warp per query (forward, dQ) or key (dK, dV), any D ≤ 256.
void cuda_attn_fwd(void *out, float *lse, const void *q, const void *k, const void *v, DType t,
                   long n_seq, long T, int H, int K, int D);
// Di[n, H] = Σ_d dout∘out (fp32), the softmax backward's row term.
void cuda_attn_di(float *Di, const void *dout, const void *out, DType t, long n, int H, int D);
// dq[n, H, D], dk, dv[n, K, D] (t, overwritten); Di from cuda_attn_di.
void cuda_attn_bwd(void *dq, void *dk, void *dv, const void *dout, const float *Di,
                   const float *lse, const void *q, const void *k, const void *v, DType t,
                   long n_seq, long T, int H, int K, int D);

#ifdef __cplusplus
}
#endif

#endif
