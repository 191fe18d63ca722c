// attention.cuh — causal attention with grouped kv heads over a key/value buffer (the KV cache),
// by blocks of queries with an online softmax. CPU twin: cpu_attention (backend_cpu.c): the same
// visibility rule, scale and accumulation switch. This is the plain reference kernel (fp32 loads,
// no tensor cores); a flash-style fast kernel is separate work.
// Legend: Tq queries, Tk keys in the buffer, H query heads, K kv heads, D head dim (≤ 256).
#ifndef BENCH_ATTENTION_CUH
#define BENCH_ATTENTION_CUH

#include "c_headers.cuh"

#ifdef __cplusplus
extern "C" {
#endif

// out[i, h, :] = Σ_j softmax_j(q[i,h,:] · k[j,g,:] · scale) v[j,g,:], g = h / (H/K), over keys
// j ≤ q0 + i (query i sits at key index q0 + i) and, when window > 0, j > q0 + i − window.
// out[Tq, H, D], q[Tq, H, D], k[Tk, K, D], v[Tk, K, D]; q0 + Tq ≤ Tk. fp64: scores, softmax and
// sums in double.
void cuda_attention(float *out, const float *q, const float *k, const float *v, long Tq, long Tk,
                    long q0, int H, int K, int D, float scale, long window, int fp64);

#ifdef __cplusplus
}
#endif

#endif
