// train_kernels.cuh — the training kernels' launchers (kernels/train_*.cu), C-callable; the
// cuda-fp32 and cuda-bf16 tables of engine/cuda/train_cuda.c are made of them. Every launch goes to
// the default stream and is checked (cuda_check.cuh); failures are recorded for cuda_sync.
// CPU twins: the ops of the cpu-fp32 table (engine/cpu/train_tmpl.h) for fp32, and the emulated bf16
// table (tests/lib/train_emu_ops.h) for bf16; tests/gpu/test_train_kernels.c compares them.
// Legend: n rows (n_seq sequences × T tokens), C hidden, H query heads, K kv heads, D head dim,
//         V vocab, F intermediate. `t` is the element type of act buffers: DTYPE_F32 or
//         DTYPE_BF16; stream and param buffers are fp32. Math is fp32 throughout.
#ifndef BENCH_TRAIN_KERNELS_CUH
#define BENCH_TRAIN_KERNELS_CUH

#include "c_headers.cuh"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif
#include "dtype.h"

// ---- products: cuda_gemm_ex (matmul.cuh) ----

// ---- elementwise and row ops (train_elem.cu) ----
// x[s·T + i, :] = E[tok[s·(T + 1) + i], :]
void tk_embed_fwd(float *x, const float *E, const int32_t *tok, long n_seq, long T, int C);
// dE[ids[u], :] += Σ dx[rows[j], :] over j in [starts[u], starts[u + 1]), rows in increasing
// order (the sums' order is fixed: deterministic without atomics). n_uniq groups.
void tk_embed_bwd(float *dE, const float *dx, const int32_t *ids, const int32_t *starts,
                  const int32_t *rows, long n_uniq, int C);
// rs[n] = 1/√(mean(x²) + eps); y[n, C] (t, may be NULL) = x·rs·w.
void tk_rms_fwd(void *y, DType t, float *rs, const float *x, const float *w, long n, int C,
                float eps);
// dx[n, C] += rs·(dy∘w) − x·rs³·Σ(dy∘w∘x)/C; dw[C] += Σ_rows dy∘x·rs, by blocks of
// TK_RMS_ROWS rows into partial[⌈n / TK_RMS_ROWS⌉, C] (scratch), then summed in block order.
enum { TK_RMS_ROWS = 256 };
void tk_rms_bwd(float *dx, float *dw, const float *dy, const float *x, const float *rs,
                const float *w, long n, int C, float *partial);
// In place on x[n, NH, D] (t): pairs (i, i + D/2) of row r rotated by position r mod T.
void tk_rope(void *x, DType t, const float *cs, const float *sn, long n, long T, int NH, int D,
             int inverse);
// a[n] = silu(g)·u
void tk_swiglu_fwd(void *a, const void *g, const void *u, DType t, long n);
// da → dg in place, du[n]
void tk_swiglu_bwd(void *da, void *du, const void *g, const void *u, DType t, long n);
// g[n] *= s
void tk_scale(float *g, size_t n, float s);
// Σ g² over g[n] in double: per-block partial sums (scratch partial[TK_SUM_BLOCKS]) then one
// block; the result lands in *out (device memory).
enum { TK_SUM_BLOCKS = 1024 };
void tk_sumsq(double *out, const float *g, size_t n, double *partial);
// *out += Σ x[n] in double, same scheme.
void tk_sum_add(double *out, const float *x, size_t n, double *partial);
// dst = src, bytes within the device
void tk_copy(void *dst, const void *src, size_t bytes);
// AdamW on p[n] (fp32) with g, m, v; mat (t, NULL: none) gets the new weights rounded.
void tk_adamw(float *p, void *mat, DType t, const float *g, float *m, float *v, size_t n,
              float decay, float step_size, float bc2_sqrt, float eps, float b2, float one_b1,
              float one_b2);

// ---- attention (train_attn.cu: simple; train_flash.cu: tensor cores) ----
// Causal attention within each of n_seq sequences of T tokens, scale 1/√D, query head h reads
// kv head h/(H/K): out[n, H, D] (t), lse[n, H] from q[n, H, D], k, v[n, K, D] (t). Simple
// kernels: one warp per query (forward, dQ) or key (dK, dV), any D ≤ 256.
void tk_attn_fwd(void *out, float *lse, const void *q, const void *k, const void *v, DType t,
                 long n_seq, long T, int H, int K, int D);
// Di[n, H] = Σ_d dout∘out (fp32), the softmax backward's row term.
void tk_attn_di(float *Di, const void *dout, const void *out, DType t, long n, int H, int D);
// dq[n, H, D], dk, dv[n, K, D] (t, overwritten); Di from tk_attn_di.
void tk_attn_bwd(void *dq, void *dk, void *dv, const void *dout, const float *Di, const float *lse,
                 const void *q, const void *k, const void *v, DType t, long n_seq, long T, int H,
                 int K, int D);
// The same two with mma.sync bf16 tensor cores (sm_80+), blocks of 64 queries / keys, fp32
// accumulation, probabilities rounded to bf16 for the products. bf16 only; D 64 or 128
// (tk_flash_supports says). -1 (nothing launched) otherwise.
int tk_flash_supports(DType t, int D);
int tk_flash_fwd(void *out, float *lse, const void *q, const void *k, const void *v, long n_seq,
                 long T, int H, int K, int D);
int tk_flash_bwd(void *dq, void *dk, void *dv, const void *dout, const float *Di, const float *lse,
                 const void *q, const void *k, const void *v, long n_seq, long T, int H, int K,
                 int D);

// ---- cross-entropy of a block of logits (train_ce.cu) ----
// For the rows r0 .. r0 + rows − 1 of a pass (row r = s·T + i, target tok[s·(T + 1) + i + 1]):
// nll[r] = logsumexp(logits_r) − logits_r[target] (fp32, logits[rows, ld] fp32, V ≤ ld columns
// used); with backward, dlogits[rows, ld] (t; may be the logits themselves when t is fp32) =
// (softmax − onehot)·gs in the first V columns.
void tk_cross_entropy(float *nll, void *dlogits, DType t, const float *logits, long ld,
                      const int32_t *tok, long T, long r0, long rows, int V, float gs,
                      int backward);

#ifdef __cplusplus
}
#endif

#endif
