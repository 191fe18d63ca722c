// train_check.h — helpers of the training GPU checks (test_train_kernels.c, test_train_gpu.c):
// a pair of training-op tables run on the same bytes (a reference on the host, a table under test
// on its device), buffers holding the same contents on both sides, and comparisons that print
// one row each: the norm of the difference relative to the reference's, the worst element
// relative to |ref| + RMS(ref), and on failure the first failing index with both values.
// NaN anywhere in the result (outputs are poisoned with NaN bytes first) fails the row.
// Legend: n elements, el bytes per element (4: fp32, 2: bf16 bits).
#ifndef BENCH_TRAIN_CHECK_H
#define BENCH_TRAIN_CHECK_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fp_bounds.h"
#include "safetensors.h"
#include "train_ops.h"
#include "util.h"

static int tc_passed, tc_failed;

typedef struct {
  const char *mode;        // "fp32", "bf16"
  const TrainOps *ref;     // host reference (cpu-fp32, or the bf16 emulation)
  const TrainOps *dev;     // under test
  void *rctx, *dctx;
  size_t A;                // act and mat bytes per element
} TcPair;

// A buffer with the same contents on the reference side (h) and the device side (d).
typedef struct {
  void *h, *d;
  size_t n, el;
} TcBuf;

static inline float tc_get(const void *p, size_t i, size_t el) {
  return el == 2 ? st_bf16_to_f32(((const uint16_t *)p)[i]) : ((const float *)p)[i];
}
static inline void tc_set(void *p, size_t i, size_t el, float v) {
  if (el == 2) ((uint16_t *)p)[i] = st_f32_to_bf16(v);
  else ((float *)p)[i] = v;
}

static inline TcBuf tc_alloc(const TcPair *p, size_t n, size_t el) {
  TcBuf b = {xmalloc(n * el + 16), p->dev->alloc(n * el + 16), n, el};
  if (!b.d) die("test allocation of %zu bytes failed on %s", n * el, p->dev->name);
  return b;
}

// Poisoned (every byte 0xFF: NaN in fp32 and in bf16) on both sides.
static inline TcBuf tc_poison(const TcPair *p, size_t n, size_t el) {
  TcBuf b = tc_alloc(p, n, el);
  memset(b.h, 0xFF, n * el);
  p->dev->upload(b.d, b.h, n * el);
  return b;
}

// Normal(mean, std) values, the same on both sides.
static inline TcBuf tc_rand(const TcPair *p, size_t n, size_t el, Rng *r, double mean, double std) {
  TcBuf b = tc_alloc(p, n, el);
  for (size_t i = 0; i < n; i++) tc_set(b.h, i, el, (float)(mean + std * rng_normal(r)));
  p->dev->upload(b.d, b.h, n * el);
  return b;
}

// Contents given on the host, copied to the device.
static inline TcBuf tc_from(const TcPair *p, const void *host, size_t n, size_t el) {
  TcBuf b = tc_alloc(p, n, el);
  memcpy(b.h, host, n * el);
  p->dev->upload(b.d, b.h, n * el);
  return b;
}

static inline void tc_free(const TcPair *p, TcBuf *b) {
  free(b->h);
  if (b->d) p->dev->free(b->d);
  memset(b, 0, sizeof *b);
}

static inline void tc_row(int ok, const char *what, const char *detail) {
  printf("%s %-66s %s\n", ok ? "ok  " : "FAIL", what, detail);
  if (ok) tc_passed++;
  else tc_failed++;
}

// Device errors since the last check fail the row they are found at.
static inline int tc_device_ok(const TcPair *p, const char *what) {
  BenchErr err;
  if (p->dev->sync(&err) == 0) return 1;
  char d[BENCH_ERR_MAX + 32];
  snprintf(d, sizeof d, "device error: %s", err.msg);
  tc_row(0, what, d);
  return 0;
}

// Compares float arrays: ‖got − ref‖/‖ref‖ ≤ tol and every |got − ref| ≤ elem·(|ref| + RMS).
static inline int tc_compare_f(const char *what, const float *ref, const float *got, size_t n,
                        double tol, double elem) {
  double ss = 0, sd = 0, worst = 0;
  size_t bad = 0, first = 0, nan = 0;
  for (size_t i = 0; i < n; i++) ss += (double)ref[i] * ref[i];
  double rms = n ? sqrt(ss / (double)n) : 0;
  for (size_t i = 0; i < n; i++) {
    double d = (double)got[i] - ref[i];
    if (isnan(got[i]) || isnan(ref[i])) {
      if (!nan++ && !bad) first = i;
      bad++;
      continue;
    }
    sd += d * d;
    double e = fabs(d) / (fabs(ref[i]) + rms + 1e-30);
    if (e > worst) worst = e;
    if (e > elem && !bad++) first = i;
  }
  double rel = ss > 0 ? sqrt(sd / ss) : sqrt(sd);
  int ok = bad == 0 && rel <= tol;
  char detail[320];
  if (ok)
    snprintf(detail, sizeof detail, "rel %.2e (tol %.0e), worst elem %.2e, n %zu", rel, tol, worst,
             n);
  else
    snprintf(detail, sizeof detail, "rel %.2e (tol %.0e), %zu/%zu bad (%zu NaN: unwritten?); first "
             "at %zu: ref %.7g, got %.7g", rel, tol, bad, n, nan, first, n ? ref[first] : 0.0,
             n ? got[first] : 0.0);
  tc_row(ok, what, detail);
  return ok;
}

// Compares a buffer's device side against its reference side.
static inline int tc_compare(const TcPair *p, const char *what, const TcBuf *b, double tol, double elem) {
  if (!tc_device_ok(p, what)) return 0;
  void *raw = xmalloc(b->n * b->el + 16);
  p->dev->download(raw, b->d, b->n * b->el);
  float *ref = xmalloc((b->n + 1) * sizeof(float)), *got = xmalloc((b->n + 1) * sizeof(float));
  for (size_t i = 0; i < b->n; i++) {
    ref[i] = tc_get(b->h, i, b->el);
    got[i] = tc_get(raw, i, b->el);
  }
  int ok = tc_device_ok(p, what) && tc_compare_f(what, ref, got, b->n, tol, elem);
  free(raw);
  free(ref);
  free(got);
  return ok;
}

// A host copy of n elements of el bytes with every sign bit cleared: |x| (for magnitudes Σ|terms|).
static inline void *tc_abs_host(const void *src, size_t n, size_t el) {
  void *a = xmalloc(n * el + 16);
  memcpy(a, src, n * el);
  for (size_t i = 0; i < n; i++) {
    if (el == 2) ((uint16_t *)a)[i] &= 0x7fffu;
    else ((uint32_t *)a)[i] &= 0x7fffffffu;
  }
  return a;
}

// |x| of a buffer's host side as fp32, whatever its element type: the starting magnitudes of an
// accumulated output (Σ|terms| includes what was there).
static inline float *tc_abs_f32(const TcBuf *b) {
  float *a = xmalloc((b->n + 1) * sizeof(float));
  for (size_t i = 0; i < b->n; i++) a[i] = fabsf(tc_get(b->h, i, b->el));
  return a;
}

// Compares a buffer's device side against its reference side element by element with a bound
// derived from the arithmetic: |got − ref| ≤ rtol·mag_i, mag_i = Σ|terms| of element i (e.g. the
// same op on |inputs|, rtol = fp_order32(terms)); an output stored as bf16 (el 2) may also round
// the other way: + 2u·|ref_i|, u = 2^-8, the whole bound ×(1 + 2u). NaN fails.
static inline int tc_compare_mag(const TcPair *p, const char *what, const TcBuf *b, const float *mag,
                                 double rtol) {
  if (!tc_device_ok(p, what)) return 0;
  void *raw = xmalloc(b->n * b->el + 16);
  p->dev->download(raw, b->d, b->n * b->el);
  int ok = tc_device_ok(p, what);
  size_t bad = 0, first = 0;
  double worst = 0.0;
  for (size_t i = 0; i < b->n && ok; i++) {
    double ref = tc_get(b->h, i, b->el), got = tc_get(raw, i, b->el);
    double bound = rtol * mag[i];
    if (b->el == 2) bound = (bound + 2 * BF16_U * fabs(ref)) * (1 + 2 * BF16_U);
    double d = fabs(got - ref);
    if (got == ref) continue;
    if (!(d <= bound)) {
      if (!bad++) first = i;
    }
    double w = bound > 0 ? d / bound : INFINITY;
    if (!(w <= worst)) worst = w;
  }
  if (ok) {
    char detail[320];
    if (!bad)
      snprintf(detail, sizeof detail, "worst |d| %.2f of the bound (rtol %.1e of Σ|terms|), n %zu",
               worst, rtol, b->n);
    else
      snprintf(detail, sizeof detail, "%zu/%zu beyond rtol %.1e of Σ|terms|; first at %zu: ref %.7g, "
               "got %.7g, Σ|terms| %.4g", bad, b->n, rtol, first, tc_get(b->h, first, b->el),
               tc_get(raw, first, b->el), mag[first]);
    ok = !bad;
    tc_row(ok, what, detail);
  }
  free(raw);
  return ok;
}

// Two scalars: |got − ref| ≤ tol·|ref|.
static inline int tc_compare_scalar(const TcPair *p, const char *what, double ref, double got,
                             double tol) {
  if (!tc_device_ok(p, what)) return 0;
  double e = fabs(got - ref) / (fabs(ref) + 1e-300);
  int ok = e <= tol && !isnan(got);
  char detail[200];
  snprintf(detail, sizeof detail, "ref %.10g, got %.10g, rel %.2e (tol %.0e)", ref, got, e, tol);
  tc_row(ok, what, detail);
  return ok;
}

#endif
