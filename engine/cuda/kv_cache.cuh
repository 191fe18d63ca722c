// kv_cache.cuh — the decode protocol's KV cache on the device: appending tokens to slots, moving
// slots (compaction after an eviction, back to the front of a room), the lowest score of a slot
// range, and gathering slots for the host. CPU twins: cpu_kv_append, cpu_kv_move, cpu_kv_argmin,
// cpu_kv_gather (backend_cpu_kv.c); the contracts are backend.h's ("the decode protocol's KV
// cache"): one buffer of rows per tensor, kc/vc [rows, D], pos [rows] int32, score [rows].
// Legend: T tokens, K kv heads, D head dim, Q rows named by a list, n slots.
#ifndef BENCH_KV_CACHE_CUH
#define BENCH_KV_CACHE_CUH

#include "c_headers.cuh"

#ifdef __cplusplus
extern "C" {
#endif
#include <stdint.h>

// Token i, kv head g to row row0[(i / per_seq)·K + g] + slot0 + i mod per_seq: k, v rows, pos
// t0 + i mod per_seq, score 0 (score may be NULL). k, v [T, K, D].
void cuda_kv_append(float *kc, float *vc, float *score, int32_t *pos, const float *k,
                    const float *v, const int64_t *row0, long T, long per_seq, long slot0, long t0,
                    int K, int D);
// Runs (src, dst, count) of rows moved as memmove moves them, the runs of each group in order,
// groups in parallel (one block each). runs[groups[n_groups], 3], groups[n_groups + 1].
void cuda_kv_move(float *kc, float *vc, float *score, int32_t *pos, const int64_t *runs,
                  const int64_t *groups, long n_groups, int D);
// idx[q] = argmin_{j < m} score[row0[q] + j], the largest j of equal scores (one warp a row).
void cuda_kv_argmin(int32_t *idx, const float *score, const int64_t *row0, long Q, long m);
// score_out[q, j] = score[row0[q] + j] (score_out NULL: none), pos_out[q, j] = pos[row0[q] + j].
void cuda_kv_gather(float *score_out, int32_t *pos_out, const float *score, const int32_t *pos,
                    const int64_t *row0, long Q, long n);

#ifdef __cplusplus
}
#endif

#endif
