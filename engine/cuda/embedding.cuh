// embedding.cuh — token embedding lookup from a table in the weight dtype, and the trainer's
// lookup and backward. CPU twins: cpu_embedding (backend_cpu.c); embed_fwd, embed_bwd of the
// cpu-fp32 training table (engine/cpu/train_tmpl.h).
// Legend: T tokens, C channels, V vocab; the trainer's: n_seq sequences of T tokens (each stored
//         with its next-token target: T + 1 ids), n = n_seq × T rows.
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

// ---- training (fp32) ----
// x[s·T + i, :] = E[tok[s·(T + 1) + i], :]
void cuda_embed_fwd(float *x, const float *E, const int32_t *tok, long n_seq, long T, int C);
// dE[ids[u], :] += Σ dx[rows[j], :] over j in [starts[u], starts[u + 1]), rows in increasing
// order (the sums' order is fixed: deterministic without atomics). n_uniq groups.
void cuda_embed_bwd(float *dE, const float *dx, const int32_t *ids, const int32_t *starts,
                    const int32_t *rows, long n_uniq, int C);

#ifdef __cplusplus
}
#endif

#endif
