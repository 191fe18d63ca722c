// kernel_check.c — part 1 of a GPU check (doctor.h): every CUDA kernel family against its CPU
// twin on random data, one row per check; a failure prints the first failing index, the
// reference and the value. `bench doctor` and `bench run` run it at --quick sizes; the GPU test
// program tests/gpu/test_kernels.c runs it at full sizes too.
//
// Tolerances, derived from the unit roundoff u (fp_bounds.h; issue 20): fp32 sums, dot products
// and reductions within fp_order32(n) or 2γ_n of Σ|terms| (n the number of terms; the GPU's order,
// FMA contraction and tensor cores against the CPU's sgemm kernel of whatever x86-64 CPU), plus a
// few u per elementwise rounding or libm/CUDA function ulp, each check stating its derivation;
// bf16/fp16 products are checked two ways: against the CPU on the same rounded inputs (only
// summation order differs) and against the unrounded fp32 product (the rounding itself, 2u per
// product). fp64 mode against the CPU's fp64 mode at 1e-6 (≥ 16u of fp32: roundings of double
// results). Conversions, copies and gathers bit for bit. The KV-cache kernels: kernels_kv.h.
// Legend: T rows, Cin inputs, N outputs, C channels, V vocab, H/K heads, D head dim, R rotary dims.
// Families (kernel_check's `only`): convert, matmul, norms, embedding, rope, attention, flash,
// dispatch, elementwise, lm_head, kv, failures (quick: small cases only, doctor_internal.h).
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "doctor_internal.h"

#ifdef BENCH_CUDA

#include "attention.cuh"
#include "backend.h"
#include "flash_attention.cuh"
#include "convert.cuh"
#include "cuda_mem.cuh"
#include "lm_head.cuh"
#include "safetensors.h"

static const DType DTYPES[3] = {DTYPE_F32, DTYPE_BF16, DTYPE_F16};

static float round_to(float x, DType t) {
  switch (t) {
    case DTYPE_BF16: return st_bf16_to_f32(st_f32_to_bf16(x));
    case DTYPE_F16: return st_f16_to_f32(st_f32_to_f16(x));
    default: return x;
  }
}

static float *rounded(const float *x, size_t n, DType t) {
  float *r = xmalloc(n * sizeof(float));
  for (size_t i = 0; i < n; i++) r[i] = round_to(x[i], t);
  return r;
}

// ---- conversions: bit for bit against safetensors.c's scalar twins ----
static void test_convert(Rng *r) {
  size_t n = check_quick ? 1 << 14 : 1 << 20;
  float *x = xmalloc(n * sizeof(float));
  for (size_t i = 0; i < n; i++) {
    uint32_t bits = (uint32_t)rng_next(r);  // every exponent: subnormals, huge, ±0, inf
    memcpy(&x[i], &bits, 4);
    if (isnan(x[i])) x[i] = (float)rng_normal(r);
    if (i % 7 == 0) x[i] = (float)rng_normal(r);
  }
  x[0] = 65520.0f;  // fp16 overflow edge
  x[1] = 1.00390625f;  // bf16 tie (1 + 2^-8): rounds to even
  x[2] = 5.9604645e-8f;  // fp16 smallest subnormal
  float *dx = dput(x, n * sizeof(float));
  uint16_t *h = xmalloc(n * 2);
  float *back = xmalloc(n * sizeof(float)), *ref = xmalloc(n * sizeof(float));
  for (int k = 1; k < 3; k++) {
    DType t = DTYPES[k];
    void *d = dzeros(n * 2);
    cuda_convert_from_f32(d, t, dx, n);
    dget(h, d, n * 2);
    size_t bad = 0, first = 0;
    for (size_t i = 0; i < n; i++) {
      uint16_t want = t == DTYPE_BF16 ? st_f32_to_bf16(x[i]) : st_f32_to_f16(x[i]);
      if (h[i] != want && !bad++) first = i;
    }
    char what[64], detail[160];
    snprintf(what, sizeof what, "convert fp32 -> %s (bits)", dtype_name(t));
    snprintf(detail, sizeof detail, "%zu/%zu differ%s", bad, n, bad ? "" : " (none)");
    if (bad)
      snprintf(detail, sizeof detail, "%zu/%zu differ; first at %zu: input %.9g, reference 0x%04x, "
               "value 0x%04x", bad, n, first, x[first],
               t == DTYPE_BF16 ? st_f32_to_bf16(x[first]) : st_f32_to_f16(x[first]), h[first]);
    check_true(what, bad == 0, detail);
    float *d32 = dzeros(n * sizeof(float));
    cuda_convert_to_f32(d32, d, t, n);
    dget(back, d32, n * sizeof(float));
    for (size_t i = 0; i < n; i++) ref[i] = t == DTYPE_BF16 ? st_bf16_to_f32(h[i]) : st_f16_to_f32(h[i]);
    snprintf(what, sizeof what, "convert %s -> fp32", dtype_name(t));
    check_close(what, ref, back, n, NULL, 0.0, 0.0);
    cuda_free(d);
    cuda_free(d32);
  }
  cuda_free(dx);
  free(x);
  free(h);
  free(back);
  free(ref);
}

// ---- matmul (cuBLASLt) ----
static void test_matmul(Rng *r) {
  const struct { long T; int Cin, N; } shapes[] = {{1, 64, 64}, {17, 96, 33}, {128, 512, 384},
                                                    {333, 1024, 2048}, {64, 80, 50000}};
  for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
    long T = shapes[si].T;
    int Cin = shapes[si].Cin, N = shapes[si].N;
    if (check_skip((double)T * Cin * N / 1000)) continue;  // cost: the test's own CPU references
    // x sits one row into its buffer, y too: pointers less aligned than cuBLASLt's default
    float *x = rand_floats(r, (size_t)(T + 1) * Cin, 1.0);
    float *w = rand_floats(r, (size_t)N * Cin, 1.0 / sqrt(Cin));
    float *b = rand_floats(r, (size_t)N, 0.1);
    float *ref = xmalloc(sizeof(float) * T * N), *got = xmalloc(sizeof(float) * T * N);
    double *mag = xmalloc(sizeof(double) * T * N);
    for (int k = 0; k < 3; k++) {
      DType t = DTYPES[k];
      const Backend *gpu = backend_cuda(t);
      float *xr = rounded(x + Cin, (size_t)T * Cin, t), *wr = rounded(w, (size_t)N * Cin, t);
      for (long i = 0; i < T; i++)
        for (int o = 0; o < N; o++) {
          double s = fabs(b[o]);
          for (int c = 0; c < Cin; c++) s += fabs((double)xr[i * Cin + c] * wr[(size_t)o * Cin + c]);
          mag[i * N + o] = s;
        }
      float *dx = dput(x, sizeof(float) * (T + 1) * Cin);
      void *dw = dput_as(w, (size_t)N * Cin, t);
      float *db = dput(b, sizeof(float) * N);
      float *dy = dzeros(sizeof(float) * (T + 1) * N);
      for (int bias = 0; bias < 2; bias++) {
        gpu->matmul(dy + N, dx + Cin, dw, bias ? db : NULL, T, Cin, N);
        dget(got, dy + N, sizeof(float) * T * N);
        char what[96];
        // the same rounded inputs on the CPU (bf16·bf16 and fp16·fp16 products are exact in
        // fp32): only the order of the Cin + 1 fp32 sums differs, on the GPU possibly on tensor
        // cores (round toward zero): |d| ≤ (γ_{Cin+1}(u) + γ_{Cin+1}(2u))·mag, u = 2^-24
        // (fp_bounds.h; 1.8e-4 at Cin 1024). A wrong index or scale moves y by O(|y|) ≈ mag/√Cin.
        backend_cpu()->matmul(ref, xr, wr, bias ? b : NULL, T, Cin, N);
        snprintf(what, sizeof what, "matmul %s [%ld,%d]x[%d,%d]^T%s vs rounded", dtype_name(t),
                 T, Cin, N, Cin, bias ? "+b" : "");
        check_close(what, ref, got, (size_t)T * N, mag, fp_order32(Cin + 1), 1e-6);
        // against the fp32 product: the rounding's own size. Each product x̂·ŵ = x·w·(1 + δ)
        // with |δ| ≤ 2u + u² (u of the dtype: 7.8e-3 bf16, 9.8e-4 fp16), plus the order bound
        // above: 1.6e-2 (bf16) and 2e-3 (fp16) of mag hold both with room.
        if (t != DTYPE_F32) {
          backend_cpu()->matmul(ref, x + Cin, w, bias ? b : NULL, T, Cin, N);
          snprintf(what, sizeof what, "matmul %s [%ld,%d]x[%d,%d]^T%s vs fp32", dtype_name(t),
                   T, Cin, N, Cin, bias ? "+b" : "");
          check_close(what, ref, got, (size_t)T * N, mag, t == DTYPE_BF16 ? 1.6e-2 : 2e-3, 1e-6);
        }
      }
      cuda_free(dx);
      cuda_free(dw);
      cuda_free(db);
      cuda_free(dy);
      free(xr);
      free(wr);
    }
    free(x);
    free(w);
    free(b);
    free(ref);
    free(got);
    free(mag);
  }
}

// ---- norms ----
// fp32 bounds. RMSNorm: Σx² (C positive terms) is within γ_C of exact on either side, so the two
// sides' r = 1/√(Σx²/C + eps) differ by ≤ γ_C relative (the square root halves 2γ_C), and each
// side rounds ≤ 5 times more per element (/C, +eps, √, 1/·, and the two products): |d| ≤
// (γ_C + 10u)·|y|, u = 2^-24. LayerNorm: Σx is within γ_C·Σ|x| on either side, so the two means
// differ by ≤ 2γ_C·mean|x|, which moves (x − mean)·r·w by ≤ 2γ_C·mean|x|·r·|w|; the variance
// (positive terms) as RMSNorm's Σx²; ≤ 8 roundings per side per element (x − mean, its square,
// /C, +eps, √, 1/·, ·r, ·w, +b, some halved by the root): |d_c| ≤ (γ_C + 16u)·s_c with
// s_c = |w_c|·r·(2·mean|x| + |x_c − mean|) + |b_c| (ln_scale). fp64 mode: the reductions in double
// on both sides, then ≤ 3 fp32 roundings per element: 1e-6 relative (≥ 16u) and 1e-5 absolute
// for LayerNorm's bias term cancelling (a·w + b ≈ 0).
static double *ln_scale(const float *x, const float *w, const float *b, long T, int C, double eps) {
  double *s = xmalloc(sizeof(double) * T * C);
  for (long t = 0; t < T; t++) {
    const float *xr = x + t * C;
    double mean = 0.0, mabs = 0.0, var = 0.0;
    for (int c = 0; c < C; c++) mean += xr[c], mabs += fabs(xr[c]);
    mean /= C;
    mabs /= C;
    for (int c = 0; c < C; c++) var += (xr[c] - mean) * (xr[c] - mean);
    double r = 1.0 / sqrt(var / C + eps);
    for (int c = 0; c < C; c++)
      s[t * C + c] = fabs(w[c]) * r * (2.0 * mabs + fabs(xr[c] - mean)) + (b ? fabs(b[c]) : 0.0);
  }
  return s;
}

static void test_norms(Rng *r) {
  const Backend *gpu = backend_cuda(DTYPE_BF16);
  int Cs[] = {64, 1000, 4096, 5120};
  long T = 37;
  for (size_t ci = 0; ci < sizeof Cs / sizeof Cs[0]; ci++) {
    int C = Cs[ci];
    float *x = rand_floats(r, (size_t)T * C, 3.0), *w = rand_floats(r, C, 1.0);
    float *b = rand_floats(r, C, 0.5);
    for (int i = 0; i < T * C; i++) x[i] += 0.7f;  // a mean for LayerNorm to remove
    float *ref = xmalloc(sizeof(float) * T * C), *got = xmalloc(sizeof(float) * T * C);
    float *dx = dput(x, sizeof(float) * T * C), *dw = dput(w, sizeof(float) * C);
    float *db = dput(b, sizeof(float) * C), *dy = dzeros(sizeof(float) * T * C);
    double rms_rtol = fp_gamma(C, FP32_U) + 10 * FP32_U, ln_rtol = fp_gamma(C, FP32_U) + 16 * FP32_U;
    double *lns[2] = {ln_scale(x, w, NULL, T, C, 1e-5), ln_scale(x, w, b, T, C, 1e-5)};
    for (int fp64 = 0; fp64 < 2; fp64++) {
      char what[96];
      backend_cpu()->rmsnorm(ref, x, w, T, C, 1e-5f, fp64);
      gpu->rmsnorm(dy, dx, dw, T, C, 1e-5f, fp64);
      dget(got, dy, sizeof(float) * T * C);
      snprintf(what, sizeof what, "rmsnorm C %d%s", C, fp64 ? " fp64" : "");
      check_close(what, ref, got, (size_t)T * C, NULL, fp64 ? 1e-6 : rms_rtol, 1e-6);
      for (int withb = 0; withb < 2; withb++) {
        backend_cpu()->layernorm(ref, x, w, withb ? b : NULL, T, C, 1e-5f, fp64);
        gpu->layernorm(dy, dx, dw, withb ? db : NULL, T, C, 1e-5f, fp64);
        dget(got, dy, sizeof(float) * T * C);
        snprintf(what, sizeof what, "layernorm C %d%s%s", C, withb ? " +b" : "", fp64 ? " fp64" : "");
        check_close(what, ref, got, (size_t)T * C, fp64 ? NULL : lns[withb], fp64 ? 1e-6 : ln_rtol,
                    1e-5);
      }
    }
    free(lns[0]);
    free(lns[1]);
    // in place
    backend_cpu()->rmsnorm(ref, x, w, T, C, 1e-6f, 0);
    gpu->rmsnorm(dx, dx, dw, T, C, 1e-6f, 0);
    dget(got, dx, sizeof(float) * T * C);
    char what[64];
    snprintf(what, sizeof what, "rmsnorm C %d in place", C);
    check_close(what, ref, got, (size_t)T * C, NULL, rms_rtol, 1e-6);
    cuda_free(dx);
    cuda_free(dw);
    cuda_free(db);
    cuda_free(dy);
    free(x);
    free(w);
    free(b);
    free(ref);
    free(got);
  }
}

// ---- embedding ----
static void test_embedding(Rng *r) {
  int V = 1000, C = 384;
  long T = 77;
  float *table = rand_floats(r, (size_t)V * C, 1.0);
  int32_t *ids = xmalloc(sizeof(int32_t) * T);
  for (long t = 0; t < T; t++) ids[t] = (int32_t)rng_below(r, (uint64_t)V);
  ids[0] = 0;
  ids[1] = V - 1;
  int32_t *dids = dput(ids, sizeof(int32_t) * T);
  float *ref = xmalloc(sizeof(float) * T * C), *got = xmalloc(sizeof(float) * T * C);
  for (int k = 0; k < 3; k++) {
    DType t = DTYPES[k];
    float *tr = rounded(table, (size_t)V * C, t);
    void *dt = dput_as(table, (size_t)V * C, t);
    float *dx = dzeros(sizeof(float) * T * C);
    backend_cpu()->embedding(ref, tr, ids, T, C);
    backend_cuda(t)->embedding(dx, dt, dids, T, C);
    dget(got, dx, sizeof(float) * T * C);
    char what[64];
    snprintf(what, sizeof what, "embedding %s", dtype_name(t));
    check_close(what, ref, got, (size_t)T * C, NULL, 0.0, 0.0);
    cuda_free(dt);
    cuda_free(dx);
    free(tr);
  }
  cuda_free(dids);
  free(table);
  free(ids);
  free(ref);
  free(got);
}

// ---- rope: table from fractional, large positions; full and partial rotary ----
static void test_rope(Rng *r) {
  const Backend *gpu = backend_cuda(DTYPE_BF16);
  long T = 200;
  int NH = 8, D = 128, Rs[] = {128, 64, 32};
  double *pos = xmalloc(sizeof(double) * T);
  for (long t = 0; t < T; t++) pos[t] = t < 100 ? (double)t : 100.0 + (t - 100) * 37.25;  // compressed / far
  for (size_t ri = 0; ri < sizeof Rs / sizeof Rs[0]; ri++) {
    int R = Rs[ri], half = R / 2;
    double *inv = xmalloc(sizeof(double) * half);
    for (int i = 0; i < half; i++) inv[i] = pow(500000.0, -2.0 * i / R) / (1.0 + 0.5 * (i > half / 2));
    double scale = ri == 1 ? 1.0 + 0.1 * log(4.0) : 1.0;  // a yarn-like attention scale
    float *ct = xmalloc(sizeof(float) * T * half), *st = xmalloc(sizeof(float) * T * half);
    float *gct = xmalloc(sizeof(float) * T * half), *gst = xmalloc(sizeof(float) * T * half);
    double *dpos = dput(pos, sizeof(double) * T), *dinv = dput(inv, sizeof(double) * half);
    float *dct = dzeros(sizeof(float) * T * half), *dst = dzeros(sizeof(float) * T * half);
    backend_cpu()->rope_table(ct, st, pos, inv, T, half, scale);
    gpu->rope_table(dct, dst, dpos, dinv, T, half, scale);
    dget(gct, dct, sizeof(float) * T * half);
    dget(gst, dst, sizeof(float) * T * half);
    char what[64];
    snprintf(what, sizeof what, "rope_table cos R %d", R);
    check_close(what, ct, gct, (size_t)T * half, NULL, 1e-6, 1e-7);
    snprintf(what, sizeof what, "rope_table sin R %d", R);
    check_close(what, st, gst, (size_t)T * half, NULL, 1e-6, 1e-7);
    float *x = rand_floats(r, (size_t)T * NH * D, 1.0), *got = xmalloc(sizeof(float) * T * NH * D);
    float *dx = dput(x, sizeof(float) * T * NH * D);
    // y = a·c ∓ b·s is a difference (it cancels), so the bound is relative to mag = |a·c| + |b·s|:
    // the GPU's table entries are within 1e-6 relative of the CPU's (the rows above), each side
    // rounds the two products and the sum (unfused on the GPU; a compiler contracting the CPU
    // twin into an FMA rounds less): |d| ≤ (1e-6 + 8u)·mag, u = 2^-24. Rows past R: copied.
    double *mag = xmalloc(sizeof(double) * T * NH * D);
    for (long t = 0; t < T; t++)
      for (int h = 0; h < NH; h++) {
        const float *a = x + (t * NH + h) * D;
        double *m = mag + (t * NH + h) * D;
        for (int i = 0; i < D; i++) m[i] = fabs(a[i]);
        for (int i = 0; i < half; i++) {
          double c = fabs(ct[t * half + i]), sn = fabs(st[t * half + i]);
          m[i] = fabs(a[i]) * c + fabs(a[i + half]) * sn;
          m[i + half] = fabs(a[i + half]) * c + fabs(a[i]) * sn;
        }
      }
    backend_cpu()->rope_apply(x, ct, st, T, NH, D, R);
    gpu->rope_apply(dx, dct, dst, T, NH, D, R);  // the GPU's own table
    dget(got, dx, sizeof(float) * T * NH * D);
    snprintf(what, sizeof what, "rope_apply NH %d D %d R %d", NH, D, R);
    check_close(what, x, got, (size_t)T * NH * D, mag, 1e-6 + 8 * FP32_U, 1e-7);
    free(mag);
    cuda_free(dpos);
    cuda_free(dinv);
    cuda_free(dct);
    cuda_free(dst);
    cuda_free(dx);
    free(inv);
    free(ct);
    free(st);
    free(gct);
    free(gst);
    free(x);
    free(got);
  }
  free(pos);
}

// ---- attention (the exact fp32 kernel): GQA, windows, q0 > 0, head dims, fp32 and fp64 ----
static void test_attention(Rng *r) {
  const Backend *gpu = backend_cuda(DTYPE_F32);  // fp32 weights: always the exact kernel
  const struct { long Tq, Tk, q0; int H, K, D; long window; } cases[] = {
      {1, 1, 0, 4, 1, 16, 0},        {37, 37, 0, 8, 2, 64, 0},     {300, 300, 0, 8, 2, 64, 0},
      {300, 300, 0, 8, 8, 80, 37},   {1, 500, 499, 8, 2, 128, 0},  {16, 100, 84, 4, 4, 128, 0},
      {129, 1000, 871, 8, 1, 128, 64}, {64, 64, 0, 2, 1, 256, 0},  {513, 513, 0, 4, 2, 96, 200},
      {50, 50, 0, 3, 1, 32, 1}};
  for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
    long Tq = cases[ci].Tq, Tk = cases[ci].Tk, q0 = cases[ci].q0, win = cases[ci].window;
    int H = cases[ci].H, K = cases[ci].K, D = cases[ci].D;
    if (check_skip((double)Tq * (win > 0 && win < Tk ? win : Tk) * H)) continue;
    float *q = rand_floats(r, (size_t)Tq * H * D, 1.0), *k = rand_floats(r, (size_t)Tk * K * D, 1.0);
    float *v = rand_floats(r, (size_t)Tk * K * D, 1.0);
    float *ref = xmalloc(sizeof(float) * Tq * H * D), *got = xmalloc(sizeof(float) * Tq * H * D);
    float *dq = dput(q, sizeof(float) * Tq * H * D), *dk = dput(k, sizeof(float) * Tk * K * D);
    float *dv = dput(v, sizeof(float) * Tk * K * D), *dout = dzeros(sizeof(float) * Tq * H * D);
    float scale = (float)(1.0 / sqrt((double)D)) * 2.0f;  // sharper than usual: less uniform
    // fp32: the bound of gpu_check.h's attn_eps, relative to the attention on |v|; fp64 mode
    // (scores, softmax and sums in double on both sides, one rounding to fp32): 1e-6 ≥ 16u.
    size_t nq = (size_t)Tq * H * D;
    float *vabs = xmalloc(sizeof(float) * Tk * K * D), *mag = xmalloc(sizeof(float) * nq);
    for (size_t i = 0; i < (size_t)Tk * K * D; i++) vabs[i] = fabsf(v[i]);
    backend_cpu()->attention(mag, q, k, vabs, Tq, Tk, q0, H, K, D, scale, win, 1);
    double eps = attn_eps(scale * max_row_norm(q, (size_t)Tq * H, D) * max_row_norm(k, (size_t)Tk * K, D),
                          D, (double)Tk);
    double *bound = xmalloc(sizeof(double) * nq);
    for (size_t i = 0; i < nq; i++) bound[i] = eps * mag[i];
    for (int fp64 = 0; fp64 < 2; fp64++) {
      backend_cpu()->attention(ref, q, k, v, Tq, Tk, q0, H, K, D, scale, win, fp64);
      gpu->attention(dout, dq, dk, dv, Tq, Tk, q0, H, K, D, scale, win, fp64);
      dget(got, dout, sizeof(float) * Tq * H * D);
      char what[96];
      snprintf(what, sizeof what, "attention Tq %ld Tk %ld q0 %ld H %d K %d D %d w %ld%s", Tq, Tk,
               q0, H, K, D, win, fp64 ? " fp64" : "");
      if (fp64)
        check_close(what, ref, got, nq, NULL, 1e-6, 1e-7);
      else
        check_close(what, ref, got, nq, bound, 1.0, 1e-7);
    }
    free(vabs);
    free(mag);
    free(bound);
    cuda_free(dq);
    cuda_free(dk);
    cuda_free(dv);
    cuda_free(dout);
    free(q);
    free(k);
    free(v);
    free(ref);
    free(got);
  }
}

// ---- flash attention (tensor cores) against its twin and against the exact kernel ----
// Against the twin (flash_twin.c: the same roundings) only fp32 summation order differs in
// scores and sums, and exp2 may differ in the last bit; either can turn one weight's rounding the
// other way (one ulp of the half dtype: ≤ 2^-7 of it in bf16, 2^-10 in fp16). So every element
// within a few such flips, |d| ≤ 1e-5 + 2^-6·mag (bf16) / 2^-9·mag (fp16), mag_i = Σ_j p̃_j |ṽ_j|
// / l (the twin on |v|), and flips rare: ‖d‖/‖twin‖ ≤ 5e-4 (bf16) / 2e-4 (fp16) — a different
// summation order alone gives ≤ 5e-5 on the CPU (the twin with scores summed in double). A wrong
// key, tile or mask moves whole rows by O(mag) and fails both. Against the exact fp32 kernel:
// the bounds tests/unit/test_flash_twin.c holds the twin to against exact attention (norm 1.5e-2 /
// 2e-3, worst 6e-2·mag / 8e-3·mag).
typedef struct {
  long Tq, Tk, q0;
  int H, K, D;
  long window;
} AttnCase;

static const AttnCase FLASH_CASES[] = {
    {1, 1, 0, 4, 1, 64, 0},          {37, 37, 0, 8, 8, 64, 0},        {64, 64, 0, 8, 2, 128, 0},
    {65, 65, 0, 8, 2, 128, 0},       {300, 300, 0, 8, 1, 80, 37},     {1, 500, 499, 8, 2, 128, 0},
    {16, 100, 84, 4, 4, 96, 0},      {129, 1000, 871, 32, 8, 128, 64}, {513, 513, 0, 8, 1, 64, 200},
    {1000, 1000, 0, 16, 2, 128, 1},  {200, 260, 60, 8, 1, 64, 130},   {700, 4100, 3400, 32, 4, 128, 1000},
    {2048, 2048, 0, 32, 8, 128, 0},  {127, 127, 0, 12, 4, 96, 0},     {96, 2000, 1904, 8, 8, 80, 0},
};

static float *nan_floats(size_t n) {
  float *p = xmalloc(n * sizeof(float));
  for (size_t i = 0; i < n; i++) p[i] = NAN;
  return p;
}

// ‖a − b‖ / ‖b‖, and whether every |a_i − b_i| ≤ atol + rtol·mag_i (first failing index).
static double norm_rel(const float *a, const float *b, size_t n) {
  double num = 0.0, den = 0.0;
  for (size_t i = 0; i < n; i++) {
    double d = (double)a[i] - b[i];
    num += d * d;
    den += (double)b[i] * b[i];
  }
  return isnan(num) ? INFINITY : sqrt(num / (den > 0 ? den : 1.0));
}

static void check_flash(const char *what, const float *got, const float *ref, const float *mag,
                        size_t n, double max_norm, double rtol) {
  BenchErr err;
  if (cuda_sync(&err)) {
    check_row(0, what, "device error: %s", err.msg);
    return;
  }
  double rel = norm_rel(got, ref, n), worst = 0.0;
  size_t bad = 0, first = 0;
  for (size_t i = 0; i < n; i++) {
    double d = fabs((double)got[i] - ref[i]), w = d / (1e-5 + rtol * mag[i]);
    if (!(d <= 1e-5 + rtol * mag[i]) && !bad++) first = i;
    if (!(w <= worst)) worst = w;
  }
  if (bad || !(rel <= max_norm)) {
    char at[160] = "";
    if (bad)
      snprintf(at, sizeof at, "; first at %zu: reference %.7g, value %.7g, mag %.3g", first, ref[first],
               got[first], mag[first]);
    check_row(0, what, "norm rel %.2e (bound %.1e); %zu/%zu beyond %.1e·mag%s", rel, max_norm, bad, n,
              rtol, at);
    return;
  }
  check_row(1, what, "norm rel %.2e (bound %.1e), worst |d| %.2f of bound", rel, max_norm, worst);
}

static void test_flash_attention(Rng *r) {
  const DType dts[2] = {DTYPE_BF16, DTYPE_F16};
  for (size_t ci = 0; ci < sizeof FLASH_CASES / sizeof FLASH_CASES[0]; ci++) {
    const AttnCase *c = &FLASH_CASES[ci];
    long span = c->window > 0 && c->window < c->Tk ? c->window : c->Tk;  // keys per query
    if (check_skip((double)c->Tq * c->H * ((span + 63) / 64 * 64) / 2)) continue;
    size_t nq = (size_t)c->Tq * c->H * c->D, nkv = (size_t)c->Tk * c->K * c->D;
    float *q = rand_floats(r, nq, 1.0), *k = rand_floats(r, nkv, 1.0), *v = rand_floats(r, nkv, 1.0);
    float *vabs = xmalloc(sizeof(float) * nkv), *poison = nan_floats(nq);
    for (size_t i = 0; i < nkv; i++) vabs[i] = fabsf(v[i]);
    float *twin = xmalloc(sizeof(float) * nq), *mag = xmalloc(sizeof(float) * nq);
    float *exact = xmalloc(sizeof(float) * nq), *got = xmalloc(sizeof(float) * nq);
    float *dq = dput(q, sizeof(float) * nq), *dk = dput(k, sizeof(float) * nkv);
    float *dv = dput(v, sizeof(float) * nkv), *dout = dput(poison, sizeof(float) * nq);
    float scale = (float)(2.0 / sqrt((double)c->D));  // sharper than usual: far from uniform
    cuda_attention(dout, dq, dk, dv, c->Tq, c->Tk, c->q0, c->H, c->K, c->D, scale, c->window, 0);
    dget(exact, dout, sizeof(float) * nq);
    char shape[96];
    snprintf(shape, sizeof shape, "Tq %ld Tk %ld q0 %ld H %d K %d D %d w %ld", c->Tq, c->Tk, c->q0,
             c->H, c->K, c->D, c->window);
    for (int di = 0; di < 2; di++) {
      DType dt = dts[di];
      int bf = dt == DTYPE_BF16;
      flash_attention_twin(twin, q, k, v, c->Tq, c->Tk, c->q0, c->H, c->K, c->D, scale, c->window, dt);
      flash_attention_twin(mag, q, k, vabs, c->Tq, c->Tk, c->q0, c->H, c->K, c->D, scale, c->window,
                           dt);
      for (int warps = 4; warps <= 8; warps += 4) {
        cuda_upload(dout, poison, sizeof(float) * nq);  // every output must be written
        cuda_flash_attention_warps(dout, dq, dk, dv, c->Tq, c->Tk, c->q0, c->H, c->K, c->D, scale,
                                   c->window, dt, warps);
        dget(got, dout, sizeof(float) * nq);
        char what[160];
        snprintf(what, sizeof what, "flash %s w%d %s vs twin", dtype_name(dt), warps, shape);
        check_flash(what, got, twin, mag, nq, bf ? 5e-4 : 2e-4, bf ? 1.0 / 64 : 1.0 / 512);
        snprintf(what, sizeof what, "flash %s w%d %s vs exact kernel", dtype_name(dt), warps,
                 shape);
        check_flash(what, got, exact, mag, nq, bf ? 1.5e-2 : 2e-3, bf ? 6e-2 : 8e-3);
      }
    }
    cuda_free(dq);
    cuda_free(dk);
    cuda_free(dv);
    cuda_free(dout);
    free(q);
    free(k);
    free(v);
    free(vabs);
    free(poison);
    free(twin);
    free(mag);
    free(exact);
    free(got);
  }
}

// The backend's choice (flash_attention_applies): bf16/fp16 tables run flash for the kernel's head
// dims, the exact kernel otherwise and in fp64 mode; both kernels are deterministic, so the
// outputs must be the chosen kernel's, bit for bit.
static void test_attention_dispatch(Rng *r) {
  const struct { DType dt; int D, fp64, flash; } cases[] = {
      {DTYPE_BF16, 64, 0, 1}, {DTYPE_F16, 128, 0, 1}, {DTYPE_BF16, 32, 0, 0},
      {DTYPE_BF16, 128, 1, 0}, {DTYPE_F32, 128, 0, 0}};
  long T = 150;
  int H = 8, K = 2;
  for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
    int D = cases[ci].D, fp64 = cases[ci].fp64;
    size_t nq = (size_t)T * H * D, nkv = (size_t)T * K * D;
    float *q = rand_floats(r, nq, 1.0), *k = rand_floats(r, nkv, 1.0), *v = rand_floats(r, nkv, 1.0);
    float *a = xmalloc(sizeof(float) * nq), *b = xmalloc(sizeof(float) * nq);
    float *dq = dput(q, sizeof(float) * nq), *dk = dput(k, sizeof(float) * nkv);
    float *dv = dput(v, sizeof(float) * nkv), *dout = dzeros(sizeof(float) * nq);
    float scale = (float)(1.0 / sqrt((double)D));
    backend_cuda(cases[ci].dt)->attention(dout, dq, dk, dv, T, T, 0, H, K, D, scale, 0, fp64);
    dget(a, dout, sizeof(float) * nq);
    if (cases[ci].flash)
      cuda_flash_attention(dout, dq, dk, dv, T, T, 0, H, K, D, scale, 0, cases[ci].dt);
    else
      cuda_attention(dout, dq, dk, dv, T, T, 0, H, K, D, scale, 0, fp64);
    dget(b, dout, sizeof(float) * nq);
    char what[96];
    snprintf(what, sizeof what, "attention op %s D %d%s runs the %s kernel",
             dtype_name(cases[ci].dt), D, fp64 ? " fp64" : "", cases[ci].flash ? "flash" : "exact");
    check_close(what, b, a, nq, NULL, 0.0, 0.0);
    cuda_free(dq);
    cuda_free(dk);
    cuda_free(dv);
    cuda_free(dout);
    free(q);
    free(k);
    free(v);
    free(a);
    free(b);
  }
}

// ---- activations and residual ----
static void test_elementwise(Rng *r) {
  const Backend *gpu = backend_cuda(DTYPE_BF16);
  long T = 33;
  int F = 1001;
  size_t n = (size_t)T * F;
  float *a = rand_floats(r, n, 4.0), *b = rand_floats(r, n, 1.0), *got = xmalloc(sizeof(float) * n);
  float *ref = xmalloc(sizeof(float) * n);
  float *da = dput(a, sizeof(float) * n), *db = dput(b, sizeof(float) * n);
  memcpy(ref, a, sizeof(float) * n);
  backend_cpu()->silu_mul(ref, b, T, F);
  gpu->silu_mul(da, db, T, F);
  dget(got, da, sizeof(float) * n);
  // x/(1 + e^−x)·b: expf within 2 ulp on the GPU, the CPU's vector exp within a few (cpu_vec.h);
  // the exp's relative error passes to 1 + e^−x at most unchanged; 3 roundings per side (no
  // cancellation: 1 + e^−x > 1): |d| ≤ (4u + 8u + 6u)·|y| ≈ 1.1e-6·|y| ≤ 2e-6·|y|, u = 2^-24.
  check_close("silu_mul", ref, got, n, NULL, 2e-6, 1e-7);
  cuda_upload(da, a, sizeof(float) * n);
  memcpy(ref, a, sizeof(float) * n);
  backend_cpu()->gelu(ref, T, F);
  gpu->gelu(da, T, F);
  dget(got, da, sizeof(float) * n);
  // ½x(1 + erf(x/√2)) cancels for x < 0 (erf → −1): relative to mag = ½|x|(1 + |erf|). erff is
  // within 2 ulp (≤ 4u of |erf|) on the GPU (CUDA's documented bound) and on the CPU (libm), and
  // each side rounds 4 more times (x/√2, 1 + ·, two products): |d| ≤ 16u·mag, u = 2^-24.
  double *gmag = xmalloc(sizeof(double) * n);
  for (size_t i = 0; i < n; i++) gmag[i] = 0.5 * fabs(a[i]) * (1.0 + fabs(erf(a[i] * M_SQRT1_2)));
  check_close("gelu (erf)", ref, got, n, gmag, 16 * FP32_U, 1e-30);
  free(gmag);
  cuda_upload(da, a, sizeof(float) * n);
  memcpy(ref, a, sizeof(float) * n);
  backend_cpu()->add(ref, b, (long)n);
  gpu->add(da, db, (long)n);
  dget(got, da, sizeof(float) * n);
  check_close("add (residual)", ref, got, n, NULL, 0.0, 0.0);  // one IEEE addition: exact equality
  cuda_free(da);
  cuda_free(db);
  free(a);
  free(b);
  free(got);
  free(ref);
}

// ---- LM head by vocabulary chunks ----
static void test_lm_head(Rng *r) {
  const struct { long T; int C, V; } cases[] = {{1, 64, 300}, {5, 64, 20000}, {64, 128, 70000},
                                               {200, 96, 16385}, {130, 64, 512}};
  for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
    long T = cases[ci].T;
    int C = cases[ci].C, V = cases[ci].V;
    if (check_skip((double)T * V)) continue;
    float *h = rand_floats(r, (size_t)T * C, 1.0), *w = rand_floats(r, (size_t)V * C, 0.4);
    int32_t *tg = xmalloc(sizeof(int32_t) * T);
    for (long t = 0; t < T; t++) tg[t] = (int32_t)rng_below(r, (uint64_t)V);
    tg[0] = V - 1;
    long block = lm_block_rows(V);
    size_t lrows = (size_t)(T < block ? T : block);
    float *logits = xmalloc(sizeof(float) * lrows * V);
    float *ref = xmalloc(sizeof(float) * T), *got = xmalloc(sizeof(float) * T);
    int32_t *ram = xmalloc(sizeof(int32_t) * T), *gam = xmalloc(sizeof(int32_t) * T);
    float *z = xmalloc(sizeof(float) * V);
    int32_t *dtg = dput(tg, sizeof(int32_t) * T);
    float *dh = dput(h, sizeof(float) * T * C), *dl = dzeros(sizeof(float) * lrows * V);
    float *dn = dzeros(sizeof(float) * T);
    int32_t *dam = dzeros(sizeof(int32_t) * T);
    for (int k = 0; k < 3; k++) {
      DType t = DTYPES[k];
      float *hr = rounded(h, (size_t)T * C, t), *wr = rounded(w, (size_t)V * C, t);
      void *dw = dput_as(w, (size_t)V * C, t);
      // Bounds, u = 2^-24. Logits (fp32 in both modes; the same rounded inputs): z_j over C
      // products in another order, possibly on tensor cores: |Δz_j| ≤ fp_order32(C)·M_t, M_t =
      // ‖h_t‖·max_j‖w_j‖ ≥ Σ_c |h_c·w_jc| ≥ |z_j| (Cauchy–Schwarz). NLL = max + log Σ_j e^{z_j −
      // max} − z_target moves by ≤ 2·max|Δz|; the sum of V positive terms by ≤ γ_V relative per
      // side (fp32 mode; fp64 mode less); each exp within a few ulp (≤ 8u per side); log Σ within
      // 2 ulp and three roundings of values ≤ M_t + ln V (≤ 7u of it per side). A wrong target, row or vocabulary chunk moves
      // the NLL by O(1). Argmax: the two sides may pick different indices only where the CPU's
      // logits of the two are within 2·fp_order32(C)·M_t.
      double wmax = max_row_norm(wr, (size_t)V, C);
      double *nbound = xmalloc(sizeof(double) * T), *tie = xmalloc(sizeof(double) * T);
      for (long i = 0; i < T; i++) {
        double M = max_row_norm(hr + i * C, 1, C) * wmax;
        nbound[i] = 2 * fp_order32(C) * M + 2 * fp_gamma(V, FP32_U) + 16 * FP32_U +
                    14 * FP32_U * (M + log((double)V));
        tie[i] = 2 * fp_order32(C) * M;
      }
      for (int fp64 = 0; fp64 < 2; fp64++) {
        backend_cpu()->lm_head_nll(ref, ram, hr, wr, tg, T, C, V, fp64, logits, block);
        backend_cuda(t)->lm_head_nll(dn, dam, dh, dw, dtg, T, C, V, fp64, dl, block);
        dget(got, dn, sizeof(float) * T);
        dget(gam, dam, sizeof(int32_t) * T);
        char what[96];
        snprintf(what, sizeof what, "lm_head_nll %s T %ld C %d V %d%s nll", dtype_name(t), T, C,
                 V, fp64 ? " fp64" : "");
        check_close(what, ref, got, (size_t)T, nbound, 1.0, 0.0);
        // argmax: equal, or a near-tie of the two candidates' logits (order of sums)
        long bad = 0, first = -1;
        for (long i = 0; i < T; i++) {
          if (gam[i] == ram[i]) continue;
          backend_cpu()->matmul(z, hr + i * C, wr, NULL, 1, C, V);
          if (fabs((double)z[gam[i]] - z[ram[i]]) > tie[i] && !bad++) first = i;
        }
        char detail[160];
        if (bad)
          snprintf(detail, sizeof detail, "%ld rows differ; first row %ld: reference %d, value %d",
                   bad, first, ram[first], gam[first]);
        else
          snprintf(detail, sizeof detail, "equal up to near-ties");
        snprintf(what, sizeof what, "lm_head_nll %s T %ld V %d%s argmax", dtype_name(t), T, V,
                 fp64 ? " fp64" : "");
        check_true(what, bad == 0, detail);
      }
      cuda_free(dw);
      free(hr);
      free(wr);
      free(nbound);
      free(tie);
    }
    cuda_free(dtg);
    cuda_free(dh);
    cuda_free(dl);
    cuda_free(dn);
    cuda_free(dam);
    free(h);
    free(w);
    free(tg);
    free(logits);
    free(ref);
    free(got);
    free(ram);
    free(gam);
    free(z);
  }
}

// ---- failures: out of memory leaves the device usable; a bad shape is reported, not fatal ----
static void test_failures(void) {
  BenchErr err;
  size_t fr = 0, tot = 0;
  cuda_mem_info(&fr, &tot);
  void *huge = cuda_alloc(tot + ((size_t)1 << 40));
  check_true("alloc beyond the device's memory", huge == NULL, "returns NULL");
  check_true("device clean after a failed alloc", cuda_sync(&err) == 0, "no error recorded");
  float one = 1.0f, got = 0.0f;
  float *d = dput(&one, sizeof one);
  backend_cuda(DTYPE_F32)->add(d, d, 1);
  dget(&got, d, sizeof got);
  check_true("kernel after a failed alloc", cuda_sync(&err) == 0 && got == 2.0f, "1 + 1 = 2");
  backend_cuda(DTYPE_F32)->attention(d, d, d, d, 1, 1, 0, 1, 1, 300, 1.0f, 0, 0);
  int rc = cuda_sync(&err);
  check_true("unsupported head dim reported", rc == -1 && strstr(err.msg, "unsupported shape"),
             rc ? err.msg : "no error");
  backend_cuda(DTYPE_F32)->add(d, d, 1);
  dget(&got, d, sizeof got);
  check_true("kernel after a reported error", cuda_sync(&err) == 0 && got == 4.0f, "2 + 2 = 4");
  cuda_flash_attention(d, d, d, d, 1, 1, 0, 1, 1, 32, 1.0f, 0, DTYPE_BF16);
  rc = cuda_sync(&err);
  check_true("flash: unsupported head dim reported", rc == -1 && strstr(err.msg, "unsupported shape"),
             rc ? err.msg : "no error");
  cuda_free(d);
}

// Runs the families named in `only` (NULL: all) on GPU `gpu`, rows into t (printed to out).
int kernel_check(int gpu, int quick, const char *only, FILE *out, CheckTally *t, BenchErr *err) {
  if (backend_cuda_open(gpu, err)) return -1;
  check_quick = quick;
  check_rows_now = (CheckRows){t, out, "kernels"};
  Rng r;
  rng_seed(&r, 20261122);
  backend_cpu()->set_threads(0);
  // only: just those families (each family's random inputs then differ from a whole run's: the
  // generator is shared)
#define FAMILY(name, call) \
  if (!only || strstr(only, name)) call
  FAMILY("convert", test_convert(&r));
  FAMILY("matmul", test_matmul(&r));
  FAMILY("norms", test_norms(&r));
  FAMILY("embedding", test_embedding(&r));
  FAMILY("rope", test_rope(&r));
  FAMILY("attention", test_attention(&r));
  FAMILY("flash", test_flash_attention(&r));
  FAMILY("dispatch", test_attention_dispatch(&r));
  FAMILY("elementwise", test_elementwise(&r));
  FAMILY("lm_head", test_lm_head(&r));
  FAMILY("kv", kernel_check_kv(&r));
  FAMILY("failures", test_failures());
#undef FAMILY
  t->peak_bytes = cuda_mem_peak();
  backend_cuda_close();
  check_rows_now = (CheckRows){0};
  return 0;
}

#else

int kernel_check(int gpu, int quick, const char *only, FILE *out, CheckTally *t, BenchErr *err) {
  return err_set(err, "this bench was built without CUDA (nvcc was not found when it was built)");
}

#endif
