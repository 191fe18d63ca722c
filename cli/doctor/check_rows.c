// check_rows.c — the rows of a GPU check (doctor_internal.h): each check prints one row and is
// counted; the kernel checks' device copies and their comparison, which prints the first failing
// index with its reference and value.
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "doctor_internal.h"

CheckRows check_rows_now;
int check_quick;

void check_row(int ok, const char *what, const char *fmt, ...) {
  char detail[480];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(detail, sizeof detail, fmt, ap);
  va_end(ap);
  CheckTally *t = check_rows_now.tally;
  if (t) {
    if (ok) t->passed++;
    else if (!t->failed++)
      snprintf(t->first_fail, sizeof t->first_fail, "%s: %s: %s", check_rows_now.part ? check_rows_now.part : "check",
               what, detail);
  }
  if (check_rows_now.out) {
    fprintf(check_rows_now.out, "%-4s  %-8s %-52s %s\n", ok ? "ok" : "FAIL",
            check_rows_now.part ? check_rows_now.part : "", what, detail);
    fflush(check_rows_now.out);
  }
}

#ifdef BENCH_CUDA
#include "convert.cuh"
#include "cuda_mem.cuh"

// A device copy of host bytes (aborts when the device has no room: these are small tests).
void *dput(const void *host, size_t bytes) {
  void *d = cuda_alloc(bytes);
  if (!d) die("test allocation of %zu bytes failed", bytes);
  cuda_upload(d, host, bytes);
  return d;
}

void *dzeros(size_t bytes) {
  void *d = cuda_alloc(bytes);
  if (!d) die("test allocation of %zu bytes failed", bytes);
  cuda_memset0(d, bytes);
  return d;
}

// fp32 host values → device memory in dtype (through the conversion kernel).
void *dput_as(const float *host, size_t n, DType dt) {
  float *d32 = dput(host, n * sizeof(float));
  if (dt == DTYPE_F32) return d32;
  void *d = dzeros(n * dtype_size(dt));
  cuda_convert_from_f32(d, dt, d32, n);
  cuda_free(d32);
  return d;
}

void dget(void *host, const void *dev, size_t bytes) { cuda_download(host, dev, bytes); }

// A device buffer of n 32-bit words all holding a NaN's bits (as int32: 2143289344): outputs are
// poisoned with it before a kernel runs, so that an element it should write and did not shows.
void *dpoison(size_t n) {
  uint32_t *h = xmalloc((n ? n : 1) * sizeof *h);
  for (size_t i = 0; i < n; i++) h[i] = 0x7fc00000u;
  void *d = dput(h, n * sizeof *h);
  free(h);
  return d;
}

// Checks |got − ref| ≤ atol + rtol·scale_i, scale_i = |ref_i| (or scale[i] when given, e.g.
// Σ|terms| of a dot product). Prints one row: the check, the worst error and the verdict; on
// failure also the first failing index, its reference and its value. Device errors fail too.
int check_close(const char *what, const float *ref, const float *got, size_t n,
                       const double *scale, double rtol, double atol) {
  BenchErr err;
  if (cuda_sync(&err)) {
    check_row(0, what, "device error: %s", err.msg);
    return 0;
  }
  size_t bad = 0, first = 0, worst_i = 0;
  double worst = 0.0;
  for (size_t i = 0; i < n; i++) {
    if (got[i] == ref[i]) continue;  // equal infinities too (their difference is NaN)
    double s = scale ? scale[i] : fabs((double)ref[i]);
    double d = fabs((double)got[i] - ref[i]);
    int nan_mismatch = isnan(got[i]) != isnan(ref[i]);
    if (!(d <= atol + rtol * s) && !(isnan(got[i]) && isnan(ref[i]))) {
      if (!bad) first = i;
      bad++;
    }
    if (nan_mismatch) d = INFINITY;
    if (d > worst) {
      worst = d;
      worst_i = i;
    }
  }
  if (bad) {
    check_row(0, what, "%zu/%zu outside tol (rtol %.1e, atol %.1e); first at index %zu: "
              "reference %.9g, value %.9g; worst |d| %.3e at %zu",
              bad, n, rtol, atol, first, ref[first], got[first], worst, worst_i);
    return 0;
  }
  check_row(1, what, "max |d| %.3e over %zu (rtol %.1e, atol %.1e)", worst, n, rtol, atol);
  return 1;
}

// Checks n int32s for equality; one row, the first difference on failure. Device errors fail.
int check_equal_i32(const char *what, const int32_t *ref, const int32_t *got, size_t n) {
  BenchErr err;
  if (cuda_sync(&err)) {
    check_row(0, what, "device error: %s", err.msg);
    return 0;
  }
  size_t bad = 0, first = 0;
  for (size_t i = 0; i < n; i++)
    if (ref[i] != got[i] && !bad++) first = i;
  if (bad) {
    check_row(0, what, "%zu/%zu differ; first at index %zu: reference %d, value %d", bad, n, first,
              (int)ref[first], (int)got[first]);
    return 0;
  }
  check_row(1, what, "equal over %zu", n);
  return 1;
}

void check_true(const char *what, int cond, const char *detail) {
  check_row(cond, what, "%s", detail);
}

// Largest Euclidean norm of n rows of D floats (row stride D).
double max_row_norm(const float *x, size_t n, int D) {
  double best = 0.0;
  for (size_t i = 0; i < n; i++) {
    double s = 0.0;
    for (int d = 0; d < D; d++) s += (double)x[i * D + d] * x[i * D + d];
    if (s > best) best = s;
  }
  return sqrt(best);
}

// fp32 attention (softmax(scale·q·kᵀ)·v over n keys) computed by two implementations in different
// orders: the bound on |d_i| relative to mag_i = Σ_j p_j·|v_j| / Σ_j p_j (the same attention on
// |v|). u = 2^-24, A = scale·max‖q‖·max‖k‖·rot ≥ every |score| (Cauchy–Schwarz; rot = max(|cos| +
// |sin|) when the keys are rotated first, else 1).
//   scores: D products summed in another order, the scale, a rotation's 2 roundings per key
//     element, and the subtraction of the running max: each side within (γ_{D+3} + 4u)·A, so
//     every weight p_j = e^{s_j − m} differs by E ≤ 2(γ_{D+3} + 4u)·A + 16u relative (exp within
//     a few ulp on either side: CUDA expf 2 ulp, cpu_vec.h's "a few");
//   output: o' − o = Σ_j p_j·δ_j·(v_j − o)/l, so ≤ 2E·mag; the numerator and the denominator
//     sums over n keys with up to n online-softmax rescalings (an exp and a product each): within
//     γ_{10n}·mag per side, twice; the division: 2u.
// A wrong key, mask, scale or head moves an output by O(mag) and fails.
double attn_weight_eps(double A, int D) {
  return 2.0 * (fp_gamma(D + 3, FP32_U) + 4 * FP32_U) * A + 16 * FP32_U;
}
double attn_eps(double A, int D, double n) {
  return 2.0 * attn_weight_eps(A, D) + 4.0 * fp_gamma(10.0 * n, FP32_U) + 2 * FP32_U;
}

float *rand_floats(Rng *r, size_t n, double std) {
  float *p = xmalloc((n ? n : 1) * sizeof(float));
  for (size_t i = 0; i < n; i++) p[i] = (float)(std * rng_normal(r));
  return p;
}

#endif  // BENCH_CUDA
