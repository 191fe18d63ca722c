// flash_twin.c — the CPU twin of the flash-attention kernel (contract: flash_twin.h). One row
// (query, head) at a time, rows in parallel; the tiles a row visits are the ones the kernel's
// block visits that hold a key the row sees, in the same order.
// Legend: Tq queries, Tk keys, H query heads, K kv heads, D head dim, BK keys per tile.
#include "flash_twin.h"

#include <math.h>
#include <stdlib.h>

#include "safetensors.h"
#include "util.h"

static float round_half(float x, DType dt) {
  return dt == DTYPE_BF16 ? st_bf16_to_f32(st_f32_to_bf16(x)) : st_f16_to_f32(st_f32_to_f16(x));
}

static float *rounded_copy(const float *x, size_t n, DType dt) {
  float *r = xmalloc((n ? n : 1) * sizeof(float));
  for (size_t i = 0; i < n; i++) r[i] = round_half(x[i], dt);
  return r;
}

// One row: qr[D] (rounded) against kr, vr [Tk, K, D] (rounded) of kv head g; keys [lo, qi].
// x[BK], o[D] scratch; writes out[D].
static void twin_row(float *out, const float *qr, const float *kr, const float *vr, int K, int g,
                     int D, long lo, long qi, float sl2, DType dt, float *x, float *o) {
  float m = -INFINITY, l = 0.0f;
  for (int d = 0; d < D; d++) o[d] = 0.0f;
  for (long t0 = lo / FLASH_BK * FLASH_BK; t0 <= qi; t0 += FLASH_BK) {
    float tmax = -INFINITY;
    for (int c = 0; c < FLASH_BK; c++) {
      long j = t0 + c;
      if (j < lo || j > qi) {
        x[c] = -INFINITY;
        continue;
      }
      const float *kj = kr + ((size_t)j * K + g) * D;
      float s = 0.0f;
      for (int d = 0; d < D; d++) s += qr[d] * kj[d];
      x[c] = s * sl2;
      if (x[c] > tmax) tmax = x[c];
    }
    float mnew = m > tmax ? m : tmax;
    if (mnew == -INFINITY) continue;  // nothing visible so far (the kernel's guard, mirrored)
    float corr = m == -INFINITY ? 0.0f : exp2f(m - mnew);
    l *= corr;
    for (int d = 0; d < D; d++) o[d] *= corr;
    for (int c = 0; c < FLASH_BK; c++) {
      if (x[c] == -INFINITY) continue;  // p = 2^-inf = 0 exactly
      float p = round_half(exp2f(x[c] - mnew), dt);
      l += p;
      const float *vj = vr + ((size_t)(t0 + c) * K + g) * D;
      for (int d = 0; d < D; d++) o[d] += p * vj[d];
    }
    m = mnew;
  }
  float inv = 1.0f / l;
  for (int d = 0; d < D; d++) out[d] = o[d] * inv;
}

void flash_attention_twin(float *out, const float *q, const float *k, const float *v, long Tq,
                          long Tk, long q0, int H, int K, int D, float scale, long window,
                          DType dtype) {
  CHECK((dtype == DTYPE_BF16 || dtype == DTYPE_F16) && K > 0 && H % K == 0 && q0 >= 0 &&
        q0 + Tq <= Tk && D > 0);
  if (Tq <= 0) return;
  size_t nkv = (size_t)Tk * K * D;
  float *kr = rounded_copy(k, nkv, dtype), *vr = rounded_copy(v, nkv, dtype);
  float sl2 = flash_scale_log2(scale);
  int G = H / K;
  long rows = Tq * H;
#pragma omp parallel
  {
    float *x = xmalloc(FLASH_BK * sizeof(float));
    float *o = xmalloc((size_t)D * sizeof(float)), *qr = xmalloc((size_t)D * sizeof(float));
#pragma omp for schedule(dynamic, 16)
    for (long r = 0; r < rows; r++) {
      long i = r / H;
      int h = (int)(r % H);
      long qi = q0 + i, lo = 0;
      if (window > 0 && qi - window + 1 > 0) lo = qi - window + 1;
      const float *qrow = q + ((size_t)i * H + h) * D;
      for (int d = 0; d < D; d++) qr[d] = round_half(qrow[d], dtype);
      twin_row(out + ((size_t)i * H + h) * D, qr, kr, vr, K, h / G, D, lo, qi, sl2, dtype, x, o);
    }
    free(x);
    free(o);
    free(qr);
  }
  free(kr);
  free(vr);
}
