// rope.cuh — rotary position embedding: the cos/sin table of a RoPE variant at given positions,
// and its rotation applied in place; the trainer's rotation and its inverse. CPU twins:
// cpu_rope_table, cpu_rope_apply (backend_cpu.c); rope of the cpu-fp32 training table
// (engine/cpu/train_tmpl.h) and of the bf16 emulation (tests/lib/train_emu_ops.h).
// The variant arrives resolved (rope.h): inv_freq[R/2] in double, its attention scale, and the
// positions its map gives (rope_position: possibly fractional), all uploaded by the forward.
// Legend: T tokens, NH heads, D head dim, R rotary dims (≤ D, even); n rows of a training pass
//         (n_seq sequences × T tokens), `t` the element type of its act buffers (DTYPE_F32 or
//         DTYPE_BF16), math fp32.
#ifndef BENCH_ROPE_CUH
#define BENCH_ROPE_CUH

#include "c_headers.cuh"

#ifdef __cplusplus
extern "C" {
#endif
#include "dtype.h"

// cos_t[T, R/2], sin_t[T, R/2] = cos / sin(pos[t] · inv_freq[i]) · scale, in double, stored fp32.
void cuda_rope_table(float *cos_t, float *sin_t, const double *pos, const double *inv_freq, long T,
                     int half, double scale);
// x[T, NH, D] in place: pairs (i, i + R/2) of each head's first R dims rotated by row t's angle,
// (a, b) → (a·cos − b·sin, b·cos + a·sin) (Hugging Face rotate_half layout, full rotary as in
// Llama when R = D, partial as in GPT-NeoX when R < D); dims R..D−1 unchanged.
void cuda_rope_apply(float *x, const float *cos_t, const float *sin_t, long T, int NH, int D,
                     int R);

// ---- training ----
// In place on x[n, NH, D] (t): pairs (i, i + D/2) of row r rotated by position r mod T, angles
// from cs, sn[T, D/2] (fp32); inverse: rotated back (the backward).
void cuda_rope(void *x, DType t, const float *cs, const float *sn, long n, long T, int NH, int D,
               int inverse);

#ifdef __cplusplus
}
#endif

#endif
