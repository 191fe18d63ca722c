// lm_merge.h — log-softmax statistics of a row of logits seen by vocabulary chunks: the CUDA LM
// head never holds a T × V logits matrix, nor even whole rows; it folds chunk statistics into a
// running state. Plain C shared by the kernel (lm_head.cu) and the CPU tests that check the fold
// against whole rows.
// Legend: T tokens, V vocab, C hidden, Vc columns per chunk.
//
// For a row of logits z[V] and target y:
//   chunk [v0, v0 + Vc): max c_m, first index of it c_i, sum c_s = Σ e^(z_v − c_m), and z_y when
//   y falls inside;
//   fold: m' = max(m, c_m); s' = s·e^(m − m') + c_s·e^(c_m − m'); the argmax moves only to a
//   strictly larger maximum (so ties keep the first index, as argmax over the whole row does);
//   nll = m + log(s) − z_y.
#ifndef BENCH_LM_MERGE_H
#define BENCH_LM_MERGE_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __CUDACC__
#define LM_HD __host__ __device__
#else
#define LM_HD
#endif

// Columns per chunk at most: a chunk's GEMM output [rows, Vc] stays a few MiB wide.
#define LM_VCHUNK 16384

typedef struct {
  double max;      // −inf before the first chunk
  double sum;      // Σ e^(z − max) over the chunks folded
  float target;    // z_y once y's chunk is folded
  int32_t argmax;  // −1 before the first chunk
} LmRow;

LM_HD static inline void lm_row_init(LmRow *r) {
  r->max = -INFINITY;
  r->sum = 0.0;
  r->target = 0.0f;
  r->argmax = -1;
}

// Folds one chunk's statistics (cmax, csum = Σ e^(z − cmax), first argmax; tlogit when the
// target is inside the chunk).
LM_HD static inline void lm_row_fold(LmRow *r, float cmax, double csum, int32_t cargmax,
                                     int has_target, float tlogit) {
  if (r->argmax < 0 || cmax > r->max) r->argmax = cargmax;
  double m = r->max > (double)cmax ? r->max : (double)cmax;
  r->sum = r->sum * exp(r->max - m) + csum * exp((double)cmax - m);  // e^(−inf) = 0 at first
  r->max = m;
  if (has_target) r->target = tlogit;
}

LM_HD static inline float lm_row_nll(const LmRow *r) {
  return (float)(r->max + log(r->sum) - (double)r->target);
}

// Rows per GEMM and columns per chunk for T tokens when the logits scratch holds `elems` floats:
// chunks of at most LM_VCHUNK columns (and at most V, and at most elems), then as many rows as
// fit, at most T.
LM_HD static inline void lm_plan(long T, int V, size_t elems, long *rows, int *vchunk) {
  size_t vc = (size_t)(V < LM_VCHUNK ? V : LM_VCHUNK);
  if (vc > elems) vc = elems;
  if (vc < 1) vc = 1;
  size_t r = elems / vc;
  if (r > (size_t)T) r = (size_t)T;
  *rows = r < 1 ? 1 : (long)r;
  *vchunk = (int)vc;
}

#endif
