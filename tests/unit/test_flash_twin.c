// test_flash_twin.c — the CPU twin of the CUDA flash-attention kernel (engine/cpu/flash_twin.h):
//  - its result equals exact attention (float64, on the unrounded inputs) within what rounding q,
//    k, v and the softmax weights to bf16/fp16 allows, over ragged sizes, queries after a cache
//    (q0 > 0), sliding windows and GQA ratios 1, 4, 8;
//  - against exact attention on the rounded inputs only the rounding of the weights remains
//    (a tighter bound);
//  - it attends exactly the visible keys (uniform scores: the output is the mean key index);
//  - the rule choosing it (bf16/fp16, not fp64, head dims 64/80/96/128).
// tests/gpu/test_kernels.c compares the kernel with this twin on the device.
// Legend: Tq queries, Tk keys, H query heads, K kv heads, D head dim, W window.
#include <math.h>
#include <stdlib.h>

#include "flash_twin.h"
#include "safetensors.h"
#include "test.h"
#include "util.h"

typedef struct {
  long Tq, Tk, q0;
  int H, K, D;
  long window;
} Case;

static const Case CASES[] = {
    {1, 1, 0, 4, 1, 64, 0},       {70, 70, 0, 8, 2, 64, 0},      {130, 200, 70, 8, 8, 128, 0},
    {65, 300, 235, 8, 1, 80, 100}, {129, 129, 0, 4, 1, 96, 1},    {64, 64, 0, 8, 2, 128, 63},
    {33, 1000, 967, 4, 1, 128, 0}, {100, 100, 0, 4, 4, 32, 0},    {200, 260, 60, 8, 1, 64, 130},
};
#define N_CASES ((int)(sizeof CASES / sizeof CASES[0]))

static float *normals(Rng *r, size_t n) {
  float *p = xmalloc(n * sizeof(float));
  for (size_t i = 0; i < n; i++) p[i] = (float)rng_normal(r);
  return p;
}

static float round_to(float x, DType dt) {
  return dt == DTYPE_BF16 ? st_bf16_to_f32(st_f32_to_bf16(x)) : st_f16_to_f32(st_f32_to_f16(x));
}

// Exact attention in float64: out[Tq, H, D]; mag[Tq, H, D] = Σ_j p_j |v_jd| (each output's scale).
static void exact_attention(double *out, double *mag, const float *q, const float *k,
                            const float *v, const Case *c, double scale) {
  int G = c->H / c->K, D = c->D;
  double *s = xmalloc(sizeof(double) * (size_t)c->Tk);
  for (long i = 0; i < c->Tq; i++)
    for (int h = 0; h < c->H; h++) {
      long qi = c->q0 + i, lo = 0;
      if (c->window > 0 && qi - c->window + 1 > 0) lo = qi - c->window + 1;
      const float *qr = q + ((size_t)i * c->H + h) * D;
      int g = h / G;
      double mx = -INFINITY, sum = 0.0;
      for (long j = lo; j <= qi; j++) {
        const float *kr = k + ((size_t)j * c->K + g) * D;
        double d = 0.0;
        for (int e = 0; e < D; e++) d += (double)qr[e] * kr[e];
        s[j] = d * scale;
        if (s[j] > mx) mx = s[j];
      }
      for (long j = lo; j <= qi; j++) sum += (s[j] = exp(s[j] - mx));
      double *o = out + ((size_t)i * c->H + h) * D, *mg = mag + ((size_t)i * c->H + h) * D;
      for (int e = 0; e < D; e++) o[e] = mg[e] = 0.0;
      for (long j = lo; j <= qi; j++) {
        const float *vr = v + ((size_t)j * c->K + g) * D;
        for (int e = 0; e < D; e++) {
          o[e] += s[j] / sum * vr[e];
          mg[e] += s[j] / sum * fabs((double)vr[e]);
        }
      }
    }
  free(s);
}

// ‖got − ref‖ / ‖ref‖ and max_i |got_i − ref_i| / mag_i.
static void errors(const float *got, const double *ref, const double *mag, size_t n, double *rel,
                   double *worst) {
  double num = 0.0, den = 0.0;
  *worst = 0.0;
  for (size_t i = 0; i < n; i++) {
    double d = (double)got[i] - ref[i];
    num += d * d;
    den += ref[i] * ref[i];
    double w = fabs(d) / (mag[i] > 0 ? mag[i] : 1.0);
    if (!(w <= *worst)) *worst = w;  // NaN sticks
  }
  *rel = sqrt(num / den);
}

// Bounds (bf16, fp16): norm-relative error, worst element relative to its magnitude.
//   vs exact on unrounded inputs: q, k rounding moves scores by ~2^-9·|q||k|·scale, v rounding
//   2^-9 per value; vs exact on rounded inputs: only the weights' rounding (2^-9 / 2^-12 each).
// Measured on these cases (seed 7, printed): vs exact bf16 rel ≤ 4.6e-3, worst ≤ 1.6e-2; fp16
// 5.8e-4, 1.8e-3; vs exact on rounded inputs bf16 8.9e-4, 3.3e-3; fp16 1.1e-4, 4.0e-4. The
// bounds leave about 3x.
TEST(twin_matches_exact_attention_within_half_rounding) {
  Rng r;
  rng_seed(&r, 7);
  const DType dts[2] = {DTYPE_BF16, DTYPE_F16};
  const double bound_rel[2] = {1.5e-2, 2e-3}, bound_worst[2] = {6e-2, 8e-3};
  const double bound_rel_r[2] = {3e-3, 4e-4}, bound_worst_r[2] = {1e-2, 1.5e-3};
  printf("%-38s %-5s %10s %10s %10s %10s\n", "case", "dtype", "rel", "worst", "rel(rnd)",
         "worst(rnd)");
  for (int ci = 0; ci < N_CASES; ci++) {
    const Case *c = &CASES[ci];
    size_t nq = (size_t)c->Tq * c->H * c->D, nkv = (size_t)c->Tk * c->K * c->D;
    float *q = normals(&r, nq), *k = normals(&r, nkv), *v = normals(&r, nkv);
    float *got = xmalloc(sizeof(float) * nq);
    double *ref = xmalloc(sizeof(double) * nq), *mag = xmalloc(sizeof(double) * nq);
    double *ref_r = xmalloc(sizeof(double) * nq), *mag_r = xmalloc(sizeof(double) * nq);
    float scale = (float)(2.0 / sqrt((double)c->D));  // sharper than usual: far from uniform
    exact_attention(ref, mag, q, k, v, c, scale);
    for (int di = 0; di < 2; di++) {
      DType dt = dts[di];
      float *qr = xmalloc(sizeof(float) * nq), *kr = xmalloc(sizeof(float) * nkv);
      float *vr = xmalloc(sizeof(float) * nkv);
      for (size_t i = 0; i < nq; i++) qr[i] = round_to(q[i], dt);
      for (size_t i = 0; i < nkv; i++) kr[i] = round_to(k[i], dt), vr[i] = round_to(v[i], dt);
      exact_attention(ref_r, mag_r, qr, kr, vr, c, scale);
      for (size_t i = 0; i < nq; i++) got[i] = NAN;  // every output must be written
      flash_attention_twin(got, q, k, v, c->Tq, c->Tk, c->q0, c->H, c->K, c->D, scale, c->window,
                           dt);
      double rel, worst, rel_r, worst_r;
      errors(got, ref, mag, nq, &rel, &worst);
      errors(got, ref_r, mag_r, nq, &rel_r, &worst_r);
      char name[64];
      snprintf(name, sizeof name, "Tq %ld Tk %ld q0 %ld H %d K %d D %d W %ld", c->Tq, c->Tk, c->q0,
               c->H, c->K, c->D, c->window);
      printf("%-38s %-5s %10.2e %10.2e %10.2e %10.2e\n", name, dtype_name(dt), rel, worst,
             rel_r, worst_r);
      if (!(rel <= bound_rel[di] && worst <= bound_worst[di]))
        TEST_FAIL_AT("%s %s: vs exact rel %.3g (bound %.3g), worst %.3g (bound %.3g)", name,
                     dtype_name(dt), rel, bound_rel[di], worst, bound_worst[di]);
      if (!(rel_r <= bound_rel_r[di] && worst_r <= bound_worst_r[di]))
        TEST_FAIL_AT("%s %s: vs exact on rounded inputs rel %.3g (bound %.3g), worst %.3g "
                     "(bound %.3g)", name, dtype_name(dt), rel_r, bound_rel_r[di], worst_r,
                     bound_worst_r[di]);
      free(qr);
      free(kr);
      free(vr);
    }
    free(q);
    free(k);
    free(v);
    free(got);
    free(ref);
    free(mag);
    free(ref_r);
    free(mag_r);
  }
}

// q = 0: every visible key weighs the same (2^0 = 1 exactly), so with v_j = (1, j, 0, ...) the
// output is (1, mean of the visible key indices): the causal edge, the window and q0 exactly.
TEST(twin_attends_exactly_the_visible_keys) {
  const Case cases[] = {{50, 50, 0, 2, 1, 64, 0},      {40, 300, 260, 4, 2, 64, 0},
                        {100, 100, 0, 2, 2, 64, 1},    {90, 400, 310, 2, 1, 64, 65},
                        {130, 130, 0, 2, 1, 64, 64},   {3, 200, 197, 2, 2, 64, 200}};
  for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
    const Case *c = &cases[ci];
    int D = c->D;
    size_t nq = (size_t)c->Tq * c->H * D, nkv = (size_t)c->Tk * c->K * D;
    float *q = xcalloc(nq, sizeof(float)), *k = xcalloc(nkv, sizeof(float));
    float *v = xcalloc(nkv, sizeof(float)), *out = xmalloc(sizeof(float) * nq);
    for (long j = 0; j < c->Tk; j++)
      for (int g = 0; g < c->K; g++) {
        v[((size_t)j * c->K + g) * D] = 1.0f;
        v[((size_t)j * c->K + g) * D + 1] = (float)j;  // exact in fp16 below 2048
        k[((size_t)j * c->K + g) * D + 2] = 0.5f;      // keys need not be zero
      }
    flash_attention_twin(out, q, k, v, c->Tq, c->Tk, c->q0, c->H, c->K, D, 0.125f, c->window,
                         DTYPE_F16);
    long bad = 0;
    for (long i = 0; i < c->Tq; i++)
      for (int h = 0; h < c->H; h++) {
        long qi = c->q0 + i, lo = c->window > 0 && qi - c->window + 1 > 0 ? qi - c->window + 1 : 0;
        const float *o = out + ((size_t)i * c->H + h) * D;
        double want = 0.5 * (double)(lo + qi);
        if (fabs(o[0] - 1.0) > 1e-6 || fabs(o[1] - want) > 1e-6 * (1.0 + want) || o[2] != 0.0f) {
          if (!bad)
            TEST_FAIL_AT("case %zu row %ld head %d: out (%g, %g, %g), want (1, %g, 0)", ci, i, h,
                         o[0], o[1], o[2], want);
          bad++;
        }
      }
    free(q);
    free(k);
    free(v);
    free(out);
  }
}

TEST(rule_choosing_the_flash_kernel) {
  EXPECT(flash_attention_applies(DTYPE_BF16, 128, 0));
  EXPECT(flash_attention_applies(DTYPE_F16, 64, 0));
  EXPECT(flash_attention_applies(DTYPE_BF16, 80, 0));
  EXPECT(flash_attention_applies(DTYPE_BF16, 96, 0));
  EXPECT(!flash_attention_applies(DTYPE_F32, 128, 0));  // fp32 engines: the exact kernel
  EXPECT(!flash_attention_applies(DTYPE_BF16, 128, 1));  // fp64 check mode: the exact kernel
  EXPECT(!flash_attention_applies(DTYPE_BF16, 32, 0));  // head dims the kernel is not built for
  EXPECT(!flash_attention_applies(DTYPE_BF16, 256, 0));
  EXPECT(!flash_attention_applies(DTYPE_F16, 112, 0));
  EXPECT(flash_scale_log2(1.0f) == (float)1.4426950408889634);
}

int main(void) {
  RUN(twin_matches_exact_attention_within_half_rounding);
  RUN(twin_attends_exactly_the_visible_keys);
  RUN(rule_choosing_the_flash_kernel);
  TEST_SUMMARY();
}
