// matmul_few.c — y = x·wᵀ + b for a few rows (a decode step: one row per sequence): each weight
// row is read once from memory and dotted with every row of x while it sits in L1, with no
// packing of w (a BLAS sgemm packs all of w on every call, which costs more than the products
// when x has one row). Memory-bound by design: the speed is the weights' bytes over the memory
// bandwidth. Every output is one thread's dot product in a fixed order, so results do not depend
// on the number of threads or on which rows are stepped together.
// Legend: T rows of x (≤ MATMUL_FEW_ROWS), Cin inputs, N outputs, C8 = Cin rounded down to 8.
#include "matmul_few.h"

#include "cpu_vec.h"

#ifdef _OPENMP
#include <omp.h>
#else
static int omp_get_max_threads(void) { return 1; }
#endif

// Weights (floats) below which one thread does the whole product (a parallel region's wake-up
// costs more than reading them).
#define FEW_PAR_WEIGHTS (1L << 19)

// q·w over Cin: 8 lanes, lanes summed, then the Cin mod 8 tail.
#define FEW_FINISH(acc, xr, wr, C8, Cin)                      \
  ({                                                          \
    float f_ = v8_hsum(acc);                                  \
    for (int c_ = (C8); c_ < (Cin); c_++) f_ += (xr)[c_] * (wr)[c_]; \
    f_;                                                       \
  })

// y[t, n..n+1] for rows t..t+3 (all four < T): two weight rows × four x rows per register tile.
CPU_INLINE void tile_2x4(float *y, const float *x, const float *w, const float *b, int t, int n,
                         int Cin, int N) {
  int C8 = Cin / 8 * 8;
  const float *w0 = w + (size_t)n * Cin, *w1 = w0 + Cin;
  const float *x0 = x + (size_t)t * Cin, *x1 = x0 + Cin, *x2 = x1 + Cin, *x3 = x2 + Cin;
  v8f a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0}, b0 = {0}, b1 = {0}, b2 = {0}, b3 = {0};
  for (int c = 0; c < C8; c += 8) {
    v8f u = v8_load(w0 + c), v = v8_load(w1 + c);
    v8f r0 = v8_load(x0 + c), r1 = v8_load(x1 + c), r2 = v8_load(x2 + c), r3 = v8_load(x3 + c);
    a0 += r0 * u, b0 += r0 * v;
    a1 += r1 * u, b1 += r1 * v;
    a2 += r2 * u, b2 += r2 * v;
    a3 += r3 * u, b3 += r3 * v;
  }
  float *y0 = y + (size_t)t * N + n, *y1 = y0 + N, *y2 = y1 + N, *y3 = y2 + N;
  float c0 = b ? b[n] : 0.0f, c1 = b ? b[n + 1] : 0.0f;
  y0[0] = FEW_FINISH(a0, x0, w0, C8, Cin) + c0, y0[1] = FEW_FINISH(b0, x0, w1, C8, Cin) + c1;
  y1[0] = FEW_FINISH(a1, x1, w0, C8, Cin) + c0, y1[1] = FEW_FINISH(b1, x1, w1, C8, Cin) + c1;
  y2[0] = FEW_FINISH(a2, x2, w0, C8, Cin) + c0, y2[1] = FEW_FINISH(b2, x2, w1, C8, Cin) + c1;
  y3[0] = FEW_FINISH(a3, x3, w0, C8, Cin) + c0, y3[1] = FEW_FINISH(b3, x3, w1, C8, Cin) + c1;
}

// y[t, n..n+3] for one row t: four weight rows × one x row (the same arithmetic per output as
// tile_2x4, so a row's numbers do not depend on the rows stepped with it).
CPU_INLINE void tile_4x1(float *y, const float *x, const float *w, const float *b, int t, int n,
                         int Cin, int N) {
  int C8 = Cin / 8 * 8;
  const float *w0 = w + (size_t)n * Cin, *w1 = w0 + Cin, *w2 = w1 + Cin, *w3 = w2 + Cin;
  const float *x0 = x + (size_t)t * Cin;
  v8f a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0};
  v8_dot4(x0, w0, w1, w2, w3, C8, a0, a1, a2, a3);
  float *y0 = y + (size_t)t * N + n;
  y0[0] = FEW_FINISH(a0, x0, w0, C8, Cin) + (b ? b[n] : 0.0f);
  y0[1] = FEW_FINISH(a1, x0, w1, C8, Cin) + (b ? b[n + 1] : 0.0f);
  y0[2] = FEW_FINISH(a2, x0, w2, C8, Cin) + (b ? b[n + 2] : 0.0f);
  y0[3] = FEW_FINISH(a3, x0, w3, C8, Cin) + (b ? b[n + 3] : 0.0f);
}

// Outputs [n0, n1) of y[T, N], four at a time: each block of four weight rows (in L1 after its
// first use) meets every row of x before the next block is read.
CPU_HOT static void few_part(float *y, const float *x, const float *w, const float *b, int T,
                             int Cin, int N, int n0, int n1) {
  int C8 = Cin / 8 * 8, T4 = T / 4 * 4;
  int n = n0;
  for (; n + 4 <= n1; n += 4) {
    for (int t = 0; t < T4; t += 4) {
      tile_2x4(y, x, w, b, t, n, Cin, N);
      tile_2x4(y, x, w, b, t, n + 2, Cin, N);
    }
    for (int t = T4; t < T; t++) tile_4x1(y, x, w, b, t, n, Cin, N);
  }
  for (; n < n1; n++) {  // the last N mod 4 outputs
    const float *w0 = w + (size_t)n * Cin;
    for (int t = 0; t < T; t++) {
      const float *x0 = x + (size_t)t * Cin;
      v8f a0 = {0};
      for (int c = 0; c < C8; c += 8) a0 += v8_load(x0 + c) * v8_load(w0 + c);
      y[(size_t)t * N + n] = FEW_FINISH(a0, x0, w0, C8, Cin) + (b ? b[n] : 0.0f);
    }
  }
}

void matmul_few(float *y, const float *x, const float *w, const float *b, int T, int Cin, int N) {
  int p = omp_get_max_threads();
  if (p == 1 || (long)N * Cin < FEW_PAR_WEIGHTS) {
    few_part(y, x, w, b, T, Cin, N, 0, N);
    return;
  }
  // slices of outputs, a multiple of 16 each (whole cache lines of y per thread, whole tiles)
  int chunk = ((N + p - 1) / p + 15) / 16 * 16;
#pragma omp parallel for schedule(static)
  for (int i = 0; i < p; i++) {
    int n0 = i * chunk, n1 = n0 + chunk < N ? n0 + chunk : N;
    if (n0 < N) few_part(y, x, w, b, T, Cin, N, n0, n1);
  }
}
