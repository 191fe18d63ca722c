// decode_attention.cuh — the decode protocol's attention on the device: one query row per
// sequence against that sequence's cache slots (keys optionally rotated at slot positions, a
// sliding window cut by token index, the softmax weights folded into a cache policy's score), and
// the prefill's softmax weights of observed queries summed per key into the score. CPU twins:
// cpu_decode_attention, cpu_attention_weight_sums (backend_cpu_kv.c); the contracts are
// backend.h's decode_attention and attention_weight_sums.
// Legend: S sequences, H query heads, K kv heads, G = H/K, D head dim (≤ 256), R rotary dims,
//         n slots, T tokens of a block.
#ifndef BENCH_DECODE_ATTENTION_CUH
#define BENCH_DECODE_ATTENTION_CUH

#include "c_headers.cuh"

#ifdef __cplusplus
extern "C" {
#endif
#include <stdint.h>

// out[S, H, D] = softmax(q[s,h] · key_j · scale) over slots j ∈ [lo, n) of rows row0[s, g] + j;
// keys rotated at row j of cos_t/sin_t [n, R/2] when cos_t is non-NULL; lo the first slot with
// pos ≥ pos_lo; score (non-NULL) of each slot = (accumulate ? score : 0) + the weights of the G
// query heads, in head order. fp64: scores, softmax and sums in double.
void cuda_decode_attention(float *out, float *score, const float *q, const float *kc,
                           const float *vc, const int32_t *pos, const int64_t *row0, long S,
                           long n, long pos_lo, int H, int K, int D, float scale,
                           const float *cos_t, const float *sin_t, int R, int accumulate,
                           int fp64);
// score[row0[g] + j] = (accumulate ? score : 0) + Σ_{r<G} Σ_{i ∈ [T − obs, T)} softmax_j(q[i, gG+r]
// · k[j, g] · scale) over the keys query i sees (causal, window), for j < T.
// q[T, H, D], k[T, K, D], row0[K]; 1 ≤ obs ≤ T.
void cuda_attention_weight_sums(float *score, const float *q, const float *k, const int64_t *row0,
                                long T, long obs, int H, int K, int D, float scale, long window,
                                int accumulate, int fp64);

#ifdef __cplusplus
}
#endif

#endif
