// backend_cpu_kv.h — the CPU backend's ops for the decode protocol's KV cache (backend.h, "the
// decode protocol's KV cache"): appending and moving slots, the lowest score, gathering slots for
// the host, attention of one query per sequence over its slots, and the prefill's attention
// weight sums. Implemented in backend_cpu_kv.c; entries of backend_cpu.c's table and the CPU
// twins of engine/cuda/kv_cache.cu and engine/cuda/decode_attention.cu.
// Legend: S sequences, H query heads, K kv heads, G = H/K, D head dim, R rotary dims, n slots,
//         T tokens of a block, Q rows named by a list.
#ifndef BENCH_BACKEND_CPU_KV_H
#define BENCH_BACKEND_CPU_KV_H

#include <stdint.h>

void cpu_kv_append(float *kc, float *vc, float *score, int32_t *pos, const float *k,
                   const float *v, const int64_t *row0, long T, long per_seq, long slot0, long t0,
                   int K, int D);
void cpu_kv_move(float *kc, float *vc, float *score, int32_t *pos, const int64_t *runs,
                 const int64_t *groups, long n_groups, int D);
void cpu_kv_argmin(int32_t *idx, const float *score, const int64_t *row0, long Q, long m);
void cpu_kv_gather(float *score_out, int32_t *pos_out, const float *score, const int32_t *pos,
                   const int64_t *row0, long Q, long n);
void cpu_decode_attention(float *out, float *score, const float *q, const float *kc,
                          const float *vc, const int32_t *pos, const int64_t *row0, long S, long n,
                          long pos_lo, int H, int K, int D, float scale, const float *cos_t,
                          const float *sin_t, int R, int accumulate, int fp64);
void cpu_attention_weight_sums(float *score, const float *q, const float *k, const int64_t *row0,
                               long T, long obs, int H, int K, int D, float scale, long window,
                               int accumulate, int fp64);

#endif
