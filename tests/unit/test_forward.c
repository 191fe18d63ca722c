// test_forward.c — the CPU backend's ops against naive double-precision references on random
// inputs, and the whole forward of every architecture against a naive double-precision forward
// (full T×T attention, full T×V logits). Tolerances are relative + absolute; a failure prints the
// index, the reference and the value.
// Legend: T tokens, V vocab, C hidden, H query heads, K kv heads, D head dim, R rotary dims.
#include <stdlib.h>
#include <string.h>

#include "attention_cpu.h"
#include "backend.h"
#include "cpu_vec.h"
#include "forward.h"
#include "random_model.h"
#include "test.h"

static const Backend *be;

static float *rand_f(Rng *r, size_t n, double std) {
  float *p = xmalloc(n * sizeof(float));
  for (size_t i = 0; i < n; i++) p[i] = (float)(std * rng_normal(r));
  return p;
}

// ---- naive references (double) ----

// y[T, N] = x[T, Cin] · w[N, Cin]ᵀ + b
static void ref_linear(double *y, const double *x, const float *w, const float *b, long T, int Cin,
                       int N) {
  for (long t = 0; t < T; t++)
    for (int o = 0; o < N; o++) {
      double s = b ? b[o] : 0.0;
      for (int i = 0; i < Cin; i++) s += x[t * Cin + i] * w[(size_t)o * Cin + i];
      y[t * N + o] = s;
    }
}

static void ref_norm(double *y, const double *x, const float *w, const float *b, long T, int C,
                     double eps, int layernorm) {
  for (long t = 0; t < T; t++) {
    const double *xr = x + t * C;
    double mean = 0.0, var = 0.0;
    if (layernorm) {
      for (int c = 0; c < C; c++) mean += xr[c];
      mean /= C;
    }
    for (int c = 0; c < C; c++) var += (xr[c] - mean) * (xr[c] - mean);
    double r = 1.0 / sqrt(var / C + eps);
    for (int c = 0; c < C; c++) y[t * C + c] = (xr[c] - mean) * r * w[c] + (b ? b[c] : 0.0);
  }
}

// In place on x[T, NH, D] with HF's rotate_half over the first R dims.
static void ref_rope(double *x, const double *pos, const RopeTable *rope, long T, int NH, int D) {
  int half = rope->rotary_dims / 2;
  for (long t = 0; t < T; t++)
    for (int h = 0; h < NH; h++) {
      double *a = x + (t * NH + h) * D;
      for (int i = 0; i < half; i++) {
        double ang = pos[t] * rope->inv_freq[i];
        double c = cos(ang) * rope->attention_scale, s = sin(ang) * rope->attention_scale;
        double x1 = a[i], x2 = a[i + half];
        a[i] = x1 * c - x2 * s;
        a[i + half] = x2 * c + x1 * s;
      }
    }
}

// Full-matrix attention: out[Tq, H, D]; query i at key index q0 + i; window as in backend.h.
static void ref_attention(double *out, const double *q, const double *k, const double *v, long Tq,
                          long Tk, long q0, int H, int K, int D, double scale, long window) {
  double *p = xmalloc(sizeof(double) * (size_t)Tk);
  for (long i = 0; i < Tq; i++)
    for (int h = 0; h < H; h++) {
      int g = h / (H / K);
      long qi = q0 + i;
      double mx = -INFINITY;
      for (long j = 0; j < Tk; j++) {
        int visible = j <= qi && (window <= 0 || j > qi - window);
        if (!visible) {
          p[j] = -INFINITY;
          continue;
        }
        double s = 0.0;
        for (int d = 0; d < D; d++) s += q[(i * H + h) * D + d] * k[(j * K + g) * D + d];
        p[j] = s * scale;
        if (p[j] > mx) mx = p[j];
      }
      double sum = 0.0;
      for (long j = 0; j < Tk; j++) sum += (p[j] = exp(p[j] - mx));
      for (int d = 0; d < D; d++) {
        double o = 0.0;
        for (long j = 0; j < Tk; j++) o += p[j] / sum * v[(j * K + g) * D + d];
        out[(i * H + h) * D + d] = o;
      }
    }
  free(p);
}

static double *to_double(const float *x, size_t n) {
  double *y = xmalloc(n * sizeof(double));
  for (size_t i = 0; i < n; i++) y[i] = x[i];
  return y;
}

static float *abs_f(const float *x, size_t n) {
  float *y = xmalloc(n * sizeof(float));
  for (size_t i = 0; i < n; i++) y[i] = fabsf(x[i]);
  return y;
}

// Bounds from the arithmetic (test.h): the fp32 kernels against the fp64 references above.
// matmul: each output is a dot product of Cin terms plus the bias: within γ_{Cin+1}·(Σ|x||w| + |b|).
static double *matmul_bound(const double *x, const float *w, const float *b, long T, int Cin, int N) {
  double *ax = xmalloc(sizeof(double) * T * Cin), *bound = xmalloc(sizeof(double) * T * N);
  float *aw = abs_f(w, (size_t)N * Cin), *ab = b ? abs_f(b, N) : NULL;
  for (long i = 0; i < T * Cin; i++) ax[i] = fabs(x[i]);
  ref_linear(bound, ax, aw, ab, T, Cin, N);
  for (long i = 0; i < T * N; i++) bound[i] *= fp_gamma(Cin + 1, FP32_U);
  free(ax); free(aw); free(ab);
  return bound;
}

// RMSNorm / LayerNorm: the mean (LayerNorm) is within γ_C·mean|x|, which every centred value
// carries; the sum of squares of C terms is within γ_C relative, halved by the square root, and
// a few roundings more (divide, eps, rsqrt, two products, the bias) follow:
// |Δy| ≤ |w|·r·(γ_C·mean|x| + |x − μ|·γ_{C/2+6}) + u·|b|.
static double *norm_bound(const double *x, const float *w, const float *b, long T, int C, double eps,
                          int layernorm) {
  double *bound = xmalloc(sizeof(double) * T * C);
  for (long t = 0; t < T; t++) {
    const double *xr = x + t * C;
    double mean = 0, mabs = 0, var = 0;
    for (int c = 0; c < C; c++) mean += xr[c], mabs += fabs(xr[c]);
    mean = layernorm ? mean / C : 0;
    mabs = layernorm ? mabs / C : 0;
    for (int c = 0; c < C; c++) var += (xr[c] - mean) * (xr[c] - mean);
    double r = 1.0 / sqrt(var / C + eps);
    for (int c = 0; c < C; c++)
      bound[t * C + c] = fabs(w[c]) * r * (fp_gamma(C, FP32_U) * mabs +
                                           fabs(xr[c] - mean) * fp_gamma(C / 2.0 + 6, FP32_U)) +
                         (b ? FP32_U * fabs(b[c]) : 0);
  }
  return bound;
}

// RoPE: a' = a·cos − b·sin (cos, sin rounded once from double, two products, one sum): within
// 5u·scale·(|a| + |b|); dims past the rotary ones are copied (bound u·|x|, as if rounded).
static double *rope_bound(const double *x, const RopeTable *rope, long T, int NH, int D) {
  double *bound = xmalloc(sizeof(double) * T * NH * D);
  int half = rope->rotary_dims / 2;
  double sc = fabs(rope->attention_scale);
  for (long r = 0; r < T * NH; r++) {
    const double *a = x + r * D;
    for (int i = 0; i < D; i++) bound[r * D + i] = FP32_U * fabs(a[i]);
    for (int i = 0; i < half; i++)
      bound[r * D + i] = bound[r * D + i + half] = 5 * FP32_U * sc * (fabs(a[i]) + fabs(a[i + half]));
  }
  return bound;
}

// Attention: a score is a D-term dot product, within e_s = γ_{D+1}·scale·Σ|q||k|; the softmax
// weights then within 2·e_s + γ_{Tk+8} relative (the max shift, exp, the Tk-term sum, the
// online rescales); the output is a Tk-term sum of weighted values:
// |Δout| ≤ (2·max e_s + 2·γ_{Tk+8})·Σ_j p_j·|v_j|.
static double *attention_bound(const double *q, const double *k, const double *v, long Tq, long Tk,
                               long q0, int H, int K, int D, double scale, long window) {
  double *bound = xmalloc(sizeof(double) * Tq * H * D), *p = xmalloc(sizeof(double) * Tk);
  for (long i = 0; i < Tq; i++)
    for (int h = 0; h < H; h++) {
      int g = h / (H / K);
      long qi = q0 + i;
      double mx = -INFINITY, es = 0, sum = 0;
      for (long j = 0; j < Tk; j++) {
        p[j] = -INFINITY;
        if (j > qi || (window > 0 && j <= qi - window)) continue;
        double s = 0, sa = 0;
        for (int d = 0; d < D; d++) {
          double t = q[(i * H + h) * D + d] * k[(j * K + g) * D + d];
          s += t, sa += fabs(t);
        }
        p[j] = s * scale;
        es = fmax(es, fp_gamma(D + 1, FP32_U) * fabs(scale) * sa);
        mx = fmax(mx, p[j]);
      }
      for (long j = 0; j < Tk; j++) sum += (p[j] = exp(p[j] - mx));
      for (int d = 0; d < D; d++) {
        double pv = 0;
        for (long j = 0; j < Tk; j++) pv += p[j] / sum * fabs(v[(j * K + g) * D + d]);
        bound[(i * H + h) * D + d] = (2 * es + 2 * fp_gamma(Tk + 8, FP32_U)) * pv;
      }
    }
  free(p);
  return bound;
}

// A whole forward evaluated in two orders (blocks, threads, fp32 against fp64): a token's NLL
// within 2·γ̃_K·(nll + ln V), K the decoder's chain of sums (test.h): rtol and atol below.
static double forward_rtol(const ModelConfig *c, long T) {
  return decoder_nll_rtol(c->n_layers, c->hidden_size, c->head_dim, T, c->intermediate_size,
                          c->vocab_size, FP32_U);
}
static double forward_atol(const ModelConfig *c, long T) {
  return forward_rtol(c, T) * log((double)c->vocab_size);
}

// The whole model, naively: nll[T−1] and argmax[T−1] for predictions of tokens[1..T).
static void ref_forward(const Model *m, const RopeTable *rope, const int32_t *tok, long T,
                        double *nll, int *argmax) {
  const ModelConfig *cfg = &m->config;
  const ModelWeights *w = &m->weights;
  int C = cfg->hidden_size, H = cfg->n_heads, K = cfg->n_kv_heads, D = cfg->head_dim;
  int F = cfg->intermediate_size, V = cfg->vocab_size, ln = cfg->norm_is_layernorm;
  double *x = xmalloc(sizeof(double) * T * C), *xn = xmalloc(sizeof(double) * T * C);
  double *q = xmalloc(sizeof(double) * T * H * D), *att = xmalloc(sizeof(double) * T * H * D);
  double *k = xmalloc(sizeof(double) * T * K * D), *v = xmalloc(sizeof(double) * T * K * D);
  double *o = xmalloc(sizeof(double) * T * C), *mo = xmalloc(sizeof(double) * T * C);
  double *a = xmalloc(sizeof(double) * T * F), *b = xmalloc(sizeof(double) * T * F);
  double *pos = xmalloc(sizeof(double) * T), *lg = xmalloc(sizeof(double) * V);
  for (long t = 0; t < T; t++) {
    pos[t] = rope_position(rope, t);
    for (int c = 0; c < C; c++) x[t * C + c] = w->embed[(size_t)tok[t] * C + c];
  }
  for (int l = 0; l < cfg->n_layers; l++) {
    const LayerWeights *lw = &w->layers[l];
    ref_norm(xn, x, lw->attn_norm_w, lw->attn_norm_b, T, C, cfg->norm_eps, ln);
    ref_linear(q, xn, lw->wq, lw->bq, T, C, H * D);
    ref_linear(k, xn, lw->wk, lw->bk, T, C, K * D);
    ref_linear(v, xn, lw->wv, lw->bv, T, C, K * D);
    ref_rope(q, pos, rope, T, H, D);
    ref_rope(k, pos, rope, T, K, D);
    ref_attention(att, q, k, v, T, T, 0, H, K, D, 1.0 / sqrt((double)D),
                  forward_layer_window(cfg, l));
    ref_linear(o, att, lw->wo, lw->bo, T, H * D, C);
    if (!cfg->parallel_residual)
      for (long i = 0; i < (long)T * C; i++) x[i] += o[i];
    ref_norm(xn, x, lw->mlp_norm_w, lw->mlp_norm_b, T, C, cfg->norm_eps, ln);
    if (cfg->mlp_is_gelu) {
      ref_linear(a, xn, lw->w_up, lw->b_up, T, C, F);
      for (long i = 0; i < (long)T * F; i++) a[i] = 0.5 * a[i] * (1.0 + erf(a[i] / sqrt(2.0)));
    } else {
      ref_linear(a, xn, lw->w_gate, NULL, T, C, F);
      ref_linear(b, xn, lw->w_up, lw->b_up, T, C, F);
      for (long i = 0; i < (long)T * F; i++) a[i] = a[i] / (1.0 + exp(-a[i])) * b[i];
    }
    ref_linear(mo, a, lw->w_down, lw->b_down, T, F, C);
    for (long i = 0; i < (long)T * C; i++) x[i] += mo[i] + (cfg->parallel_residual ? o[i] : 0.0);
  }
  ref_norm(xn, x, w->final_norm_w, w->final_norm_b, T, C, cfg->norm_eps, ln);
  for (long t = 0; t + 1 < T; t++) {
    ref_linear(lg, xn + t * C, w->lm_head, NULL, 1, C, V);
    int best = 0;
    for (int i = 1; i < V; i++)
      if (lg[i] > lg[best]) best = i;
    double sum = 0.0;
    for (int i = 0; i < V; i++) sum += exp(lg[i] - lg[best]);
    nll[t] = lg[best] + log(sum) - lg[tok[t + 1]];
    argmax[t] = best;
  }
  free(x); free(xn); free(q); free(att); free(k); free(v); free(o); free(mo); free(a); free(b);
  free(pos); free(lg);
}

// ---- ops ----

// The vectorizable exp used by softmax, log-sum-exp and silu: a few ulp over [−87, 88], exactly 0
// below −87 and at −inf (masked scores).
TEST(vector_exp_accuracy) {
  double worst = 0.0;
  for (int i = 0; i < 175000; i++) {
    float x = -87.0f + 0.001f * (float)i;  // [−87, 88)
    double ref = exp((double)x);
    double e1 = fabs(vexpf(x) - ref) / ref;
    v8f xv = v8_splat(x);
    double e8 = fabs(v8_exp(xv)[3] - ref) / ref;
    worst = fmax(worst, fmax(e1, e8));
  }
  if (worst > 4e-7) TEST_FAIL_AT("max relative error %.3g", worst);
  EXPECT(vexpf(-INFINITY) == 0.0f && vexpf(-100.0f) == 0.0f && vexpf(0.0f) == 1.0f);
  v8f neg = v8_splat(-INFINITY);
  EXPECT(v8_exp(neg)[0] == 0.0f);
}

// NaN in gives NaN out, with no undefined arithmetic on the way (the ASan/UBSan twin checks it).
TEST(vector_exp_nan_stays_nan) {
  volatile float nan_in = NAN;
  EXPECT(isnan(vexpf(nan_in)));
  EXPECT(isnan(vexpf(-nan_in)));
  v8f xv = v8_splat(0.5f);
  xv[2] = nan_in;
  v8f e = v8_exp(xv);
  EXPECT(isnan(e[2]));
  EXPECT(fabsf(e[0] - expf(0.5f)) < 1e-6f);
}

TEST(matmul_against_naive) {
  Rng r;
  rng_seed(&r, 1);
  // few rows (a decode step's product, weights read once: 1, 6 and 16 rows, an odd output count,
  // inputs not a multiple of 8, one large enough to split over threads) and sgemm's sizes
  int shapes[][3] = {{1, 7, 5},     {1, 128, 514},  {6, 37, 90},  {16, 300, 2050},
                     {5, 260, 2050}, {37, 53, 29}, {130, 64, 96}};
  for (int s = 0; s < 7; s++) {
    long T = shapes[s][0];
    int Cin = shapes[s][1], N = shapes[s][2];
    float *x = rand_f(&r, T * Cin, 1.0), *w = rand_f(&r, (size_t)N * Cin, 1.0), *b = rand_f(&r, N, 1.0);
    float *y = xmalloc(sizeof(float) * T * N);
    double *xd = to_double(x, T * Cin), *yd = xmalloc(sizeof(double) * T * N);
    for (int bias = 0; bias < 2; bias++) {
      be->matmul(y, x, w, bias ? b : NULL, T, Cin, N);
      ref_linear(yd, xd, w, bias ? b : NULL, T, Cin, N);
      double *bound = matmul_bound(xd, w, bias ? b : NULL, T, Cin, N);
      EXPECT_ARRAY_WITHIN(y, yd, bound, T * N);
      free(bound);
    }
    free(x); free(w); free(b); free(y); free(xd); free(yd);
  }
}

// A row's product does not depend on the rows computed with it or on the number of threads (what
// makes batched decode steps equal steps alone, and runs the same however scheduled).
TEST(few_row_matmul_rows_independent_and_thread_free) {
  Rng r;
  rng_seed(&r, 2);
  enum { T = 11, CIN = 260, N = 2051 };  // N · CIN large enough to split over threads
  float *x = rand_f(&r, (size_t)T * CIN, 1.0), *w = rand_f(&r, (size_t)N * CIN, 1.0);
  float *b = rand_f(&r, N, 1.0);
  float *all = xmalloc(sizeof(float) * T * N), *one = xmalloc(sizeof(float) * N);
  be->set_threads(2);
  be->matmul(all, x, w, b, T, CIN, N);
  for (int threads = 1; threads <= 2; threads++) {
    be->set_threads(threads);
    for (long t = 0; t < T; t++) {
      be->matmul(one, x + t * CIN, w, b, 1, CIN, N);
      if (memcmp(one, all + t * N, sizeof(float) * N) != 0)
        TEST_FAIL_AT("row %ld alone on %d thread(s) differs from the %d rows together", t,
                     threads, T);
    }
  }
  be->set_threads(0);
  free(x); free(w); free(b); free(all); free(one);
}

TEST(norms_against_naive) {
  Rng r;
  rng_seed(&r, 2);
  long T = 19;
  int C = 96;
  float *x = rand_f(&r, T * C, 3.0), *w = rand_f(&r, C, 1.0), *b = rand_f(&r, C, 1.0);
  for (int i = 0; i < T * C; i++) x[i] += 2.0f;  // a mean far from 0 for the LayerNorm
  float *y = xmalloc(sizeof(float) * T * C);
  double *xd = to_double(x, T * C), *yd = xmalloc(sizeof(double) * T * C);
  double *rms_b = norm_bound(xd, w, NULL, T, C, 1e-5f, 0), *ln_b = norm_bound(xd, w, b, T, C, 1e-5f, 1);
  for (int fp64 = 0; fp64 < 2; fp64++) {
    be->rmsnorm(y, x, w, T, C, 1e-5f, fp64);
    ref_norm(yd, xd, w, NULL, T, C, 1e-5f, 0);
    EXPECT_ARRAY_WITHIN(y, yd, rms_b, T * C);
    be->layernorm(y, x, w, b, T, C, 1e-5f, fp64);
    ref_norm(yd, xd, w, b, T, C, 1e-5f, 1);
    EXPECT_ARRAY_WITHIN(y, yd, ln_b, T * C);
  }
  memcpy(y, x, sizeof(float) * T * C);
  be->rmsnorm(y, y, w, T, C, 1e-5f, 0);  // in place
  ref_norm(yd, xd, w, NULL, T, C, 1e-5f, 0);
  EXPECT_ARRAY_WITHIN(y, yd, rms_b, T * C);
  free(x); free(w); free(b); free(y); free(xd); free(yd); free(rms_b); free(ln_b);
}

TEST(rope_against_naive) {
  Rng r;
  rng_seed(&r, 3);
  long T = 23;
  int NH = 3, D = 16;
  int Rs[] = {16, 4, 0};  // full, partial (GPT-NeoX 0.25), none
  for (int ri = 0; ri < 3; ri++) {
    RopeTable rope = rm_rope(Rs[ri], 500.0, ri == 1 ? 1.2 : 1.0);
    int half = Rs[ri] / 2;
    double *pos = xmalloc(sizeof(double) * T);
    for (long t = 0; t < T; t++) pos[t] = 1000.0 + 1.5 * t;  // far and fractional positions
    float *x = rand_f(&r, T * NH * D, 1.0);
    double *xd = to_double(x, T * NH * D);
    float *ct = xmalloc(sizeof(float) * T * (half ? half : 1)), *st = xmalloc(sizeof(float) * T * (half ? half : 1));
    be->rope_table(ct, st, pos, rope.inv_freq, T, half, rope.attention_scale);
    be->rope_apply(x, ct, st, T, NH, D, Rs[ri]);
    double *bound = rope_bound(xd, &rope, T, NH, D);
    ref_rope(xd, pos, &rope, T, NH, D);
    EXPECT_ARRAY_WITHIN(x, xd, bound, T * NH * D);
    free(pos); free(x); free(xd); free(ct); free(st); free(bound);
    rm_rope_free(&rope);
  }
}

// Tiled online-softmax attention vs the full matrix: T around and across tile sizes, GQA ratios
// 1/2/4, sliding windows (short, and across tiles with cached keys), queries after cached keys
// (q0 > 0), head dims that are not a multiple of the vector lanes (12; 72 with its last 16-dim
// block padded), fp32 at each vector width this CPU has, and fp64.
TEST(attention_against_full_matrix) {
  Rng r;
  rng_seed(&r, 4);
  long Ts[] = {1, 31, 65, 100, 130, 200};
  int ratios[] = {1, 2, 4};
  int K = 2, widths[] = {8, 16};
  for (int ti = 0; ti < 6; ti++)
    for (int gi = 0; gi < 3; gi++)
      for (int variant = 0; variant < 5; variant++) {
        long Tk = Ts[ti];
        long q0 = variant == 2 || variant == 4 ? Tk / 3 : 0;  // the first Tk/3 keys: a cache
        long Tq = Tk - q0, window = variant == 1 ? 7 : variant == 4 ? 70 : 0;
        int H = K * ratios[gi], D = variant == 3 ? 12 : variant == 4 ? 72 : 16;
        float *q = rand_f(&r, Tq * H * D, 1.5), *k = rand_f(&r, Tk * K * D, 1.5);
        float *v = rand_f(&r, Tk * K * D, 1.0), *out = xmalloc(sizeof(float) * Tq * H * D);
        double *qd = to_double(q, Tq * H * D), *kd = to_double(k, Tk * K * D);
        double *vd = to_double(v, Tk * K * D), *od = xmalloc(sizeof(double) * Tq * H * D);
        ref_attention(od, qd, kd, vd, Tq, Tk, q0, H, K, D, 0.25, window);
        double *bound = attention_bound(qd, kd, vd, Tq, Tk, q0, H, K, D, 0.25, window);
        for (int wi = 0; wi < 2; wi++) {
          if (!cpu_attention_lanes(widths[wi])) continue;  // 16 lanes only with AVX-512
          be->attention(out, q, k, v, Tq, Tk, q0, H, K, D, 0.25f, window, 0);
          EXPECT_ARRAY_WITHIN(out, od, bound, Tq * H * D);
        }
        cpu_attention_lanes(0);
        be->attention(out, q, k, v, Tq, Tk, q0, H, K, D, 0.25f, window, 1);
        EXPECT_ARRAY_WITHIN(out, od, bound, Tq * H * D);
        free(q); free(k); free(v); free(out); free(qd); free(kd); free(vd); free(od); free(bound);
      }
}

// The 16-lane (AVX-512) and 8-lane tile kernels sum every score and output in the same order:
// the same bits, on shapes that take every path — several query blocks and key tiles, rows of a
// register group on both sides of the diagonal and of a window's edge, a last block of 1 row,
// GQA, cached keys, head dims 64, 80 (a last 16-dim block) and 12 (padding). Where the CPU has
// no AVX-512 the 8-lane kernel is checked against the fp64 mode instead, and the test says so.
TEST(attention_vector_widths_agree_bit_for_bit) {
  Rng r;
  rng_seed(&r, 41);
  struct { long Tk, q0, window; int H, K, D; } shapes[] = {
      {257, 0, 0, 4, 2, 64}, {300, 45, 100, 2, 2, 80}, {193, 0, 37, 4, 1, 12},
      {129, 128, 0, 2, 1, 64}, {520, 7, 0, 1, 1, 64},
  };
  int wide = cpu_attention_lanes(16) == 16;
  if (!wide) printf("  (this CPU has no AVX-512: only the 8-lane kernel ran)\n");
  for (int si = 0; si < 5; si++) {
    long Tk = shapes[si].Tk, q0 = shapes[si].q0, Tq = Tk - q0, window = shapes[si].window;
    int H = shapes[si].H, K = shapes[si].K, D = shapes[si].D;
    size_t nq = (size_t)Tq * H * D, nk = (size_t)Tk * K * D;
    float *q = rand_f(&r, nq, 2.0), *k = rand_f(&r, nk, 2.0), *v = rand_f(&r, nk, 1.0);
    float *o16 = xmalloc(sizeof(float) * nq), *o8 = xmalloc(sizeof(float) * nq);
    float *o64 = xmalloc(sizeof(float) * nq);
    be->set_threads(16);  // 16 threads: query blocks of 64, whatever this machine's cores
    if (wide) {
      cpu_attention_lanes(16);
      be->attention(o16, q, k, v, Tq, Tk, q0, H, K, D, 0.125f, window, 0);
    }
    EXPECT_INT_EQ(cpu_attention_lanes(8), 8);
    be->attention(o8, q, k, v, Tq, Tk, q0, H, K, D, 0.125f, window, 0);
    cpu_attention_lanes(0);
    if (wide) {
      size_t diff = 0;
      for (size_t i = 0; i < nq; i++) diff += memcmp(&o16[i], &o8[i], sizeof(float)) != 0;
      if (diff) TEST_FAIL_AT("shape %d: %zu of %zu outputs differ between 16 and 8 lanes", si, diff, nq);
    }
    // one thread takes the tallest query blocks (256): the same bits
    be->set_threads(1);
    be->attention(o64, q, k, v, Tq, Tk, q0, H, K, D, 0.125f, window, 0);
    be->set_threads(0);
    size_t moved = 0;
    for (size_t i = 0; i < nq; i++) moved += memcmp(&o64[i], wide ? &o16[i] : &o8[i], sizeof(float)) != 0;
    if (moved) TEST_FAIL_AT("shape %d: %zu outputs change with the thread count", si, moved);
    be->attention(o64, q, k, v, Tq, Tk, q0, H, K, D, 0.125f, window, 1);
    EXPECT_ARRAY_NEAR(o8, o64, nq, 1e-4, 1e-5);
    free(q); free(k); free(v); free(o16); free(o8); free(o64);
  }
}

// Element-wise, no sums: the bounds are the approximations' own (vexpf within 4e-7 relative,
// checked above; the sigmoid, the products and the erf a few roundings more), the same on every
// x86-64 CPU.
TEST(activations_and_add) {
  Rng r;
  rng_seed(&r, 5);
  long T = 9;
  int F = 1001;
  float *a = rand_f(&r, T * F, 3.0), *b = rand_f(&r, T * F, 1.0);
  double *ad = to_double(a, T * F), *ref = xmalloc(sizeof(double) * T * F);
  for (long i = 0; i < T * F; i++) ref[i] = ad[i] / (1.0 + exp(-ad[i])) * b[i];
  be->silu_mul(a, b, T, F);
  EXPECT_ARRAY_NEAR(a, ref, T * F, 1e-5, 1e-6);
  for (long i = 0; i < T * F; i++) {
    a[i] = (float)ad[i];
    ref[i] = 0.5 * ad[i] * (1.0 + erf(ad[i] / sqrt(2.0)));
  }
  be->gelu(a, T, F);
  EXPECT_ARRAY_NEAR(a, ref, T * F, 1e-5, 1e-6);
  for (long i = 0; i < T * F; i++) ref[i] = (double)a[i] + b[i];
  be->add(a, b, T * F);
  EXPECT_ARRAY_NEAR(a, ref, T * F, 1e-6, 1e-6);
  free(a); free(b); free(ad); free(ref);
}

// The fused LM head (blocks of 64 tokens) against full logits: T = 150 spans three blocks.
// (The forward's own block, lm_block_rows(V), is checked by the whole-forward tests.)
TEST(lm_head_against_full_logits) {
  Rng r;
  rng_seed(&r, 6);
  long T = 150;
  int C = 32, V = 300;
  float *h = rand_f(&r, T * C, 1.0), *w = rand_f(&r, (size_t)V * C, 0.5);
  int32_t *target = rm_tokens(T, V, 7), *am = xmalloc(sizeof(int32_t) * T);
  float *nll = xmalloc(sizeof(float) * T), *logits = xmalloc(sizeof(float) * 64 * V);
  double *hd = to_double(h, T * C), *lg = xmalloc(sizeof(double) * V);
  double *ref = xmalloc(sizeof(double) * T), *bound = xmalloc(sizeof(double) * T);
  int *ref_am = xmalloc(sizeof(int) * T);
  // Bound: each logit is a C-term dot product, within γ_{C+1}·Σ|h||w|; the NLL (logsumexp minus
  // the target's logit) moves by at most twice the worst logit's error, plus the V-term sum of
  // exps (γ_{V+8}, absolute after the log) and a few roundings of the logits' size.
  for (long t = 0; t < T; t++) {
    ref_linear(lg, hd + t * C, w, NULL, 1, C, V);
    int best = 0;
    double worst_abs = 0;
    for (int i = 0; i < V; i++) {
      double a = 0;
      for (int j = 0; j < C; j++) a += fabs(hd[t * C + j] * w[(size_t)i * C + j]);
      worst_abs = fmax(worst_abs, a);
      if (lg[i] > lg[best]) best = i;
    }
    double sum = 0.0;
    for (int i = 0; i < V; i++) sum += exp(lg[i] - lg[best]);
    ref[t] = lg[best] + log(sum) - lg[target[t]];
    ref_am[t] = best;
    bound[t] = 2 * fp_gamma(C + 1, FP32_U) * worst_abs + fp_gamma(V + 8, FP32_U) +
               4 * FP32_U * (fabs(lg[best]) + log(sum) + fabs(lg[target[t]]));
  }
  for (int fp64 = 0; fp64 < 2; fp64++) {
    be->lm_head_nll(nll, am, h, w, target, T, C, V, fp64, logits, 64);
    EXPECT_ARRAY_WITHIN(nll, ref, bound, T);
    EXPECT_ARRAY_NEAR(am, ref_am, T, 0, 0);
  }
  free(h); free(w); free(target); free(am); free(nll); free(logits); free(hd); free(lg); free(ref);
  free(ref_am); free(bound);
}

// ---- whole forward ----

typedef struct {
  const char *name;
  ModelConfig cfg;
} Case;

static int n_cases(Case *c) {
  int n = 0;
  c[n++] = (Case){"llama gqa 4:2", rm_config(ARCH_LLAMA, 97, 32, 2, 4, 2, 48, 1.0)};
  c[n++] = (Case){"llama mha, compressed positions", rm_config(ARCH_LLAMA, 97, 32, 2, 2, 2, 40, 1.0)};
  c[n] = (Case){"mistral gqa 4:1, window 9", rm_config(ARCH_MISTRAL, 97, 32, 2, 4, 1, 48, 1.0)};
  c[n++].cfg.sliding_window = 9;
  c[n] = (Case){"qwen2 window 5 from layer 1", rm_config(ARCH_QWEN2, 97, 32, 2, 4, 2, 48, 1.0)};
  c[n].cfg.sliding_window = 5;
  c[n++].cfg.sliding_window_from_layer = 1;
  c[n++] = (Case){"qwen2 biases, tied", rm_config(ARCH_QWEN2, 97, 32, 2, 4, 2, 48, 1.0)};
  c[n++] = (Case){"gpt_neox parallel, rotary 0.25", rm_config(ARCH_GPT_NEOX, 97, 32, 2, 2, 2, 64, 0.25)};
  c[n] = (Case){"gpt_neox sequential, rotary 0.5", rm_config(ARCH_GPT_NEOX, 97, 32, 2, 2, 2, 64, 0.5)};
  c[n++].cfg.parallel_residual = 0;
  return n;
}

static double max_abs_diff(const float *a, const double *b, long n) {
  double m = 0.0;
  for (long i = 0; i < n; i++) m = fmax(m, fabs(a[i] - b[i]));
  return m;
}

TEST(forward_every_arch_against_naive) {
  Case cases[10];
  int nc = n_cases(cases);
  long T = 75;  // not a multiple of the attention blocks; longer than the sliding window
  for (int ci = 0; ci < nc; ci++) {
    Model m;
    rm_init(&m, &cases[ci].cfg, 100 + ci);
    RopeTable rope = rm_rope(cases[ci].cfg.rotary_dims, 10000.0, ci == 0 ? 1.1 : 1.0);
    if (ci == 1) {  // positions compressed beyond 20 (fractional positions)
      rope.compress = 1;
      rope.compress_threshold = 20.0;
      rope.compress_factor = 3.0;
    }
    int32_t *tok = rm_tokens(T, cases[ci].cfg.vocab_size, 200 + ci);
    double *ref = xmalloc(sizeof(double) * T);
    int *ref_am = xmalloc(sizeof(int) * T);
    ref_forward(&m, &rope, tok, T, ref, ref_am);
    float *nll = xmalloc(sizeof(float) * T);
    uint8_t *ok = xmalloc(T);
    for (int fp64 = 0; fp64 < 2; fp64++) {
      ForwardOptions opt = {.threads = 0, .fp64_check = fp64};
      BenchErr err;
      EXPECT_INT_EQ(forward_score_window(&m, &rope, tok, T, 0, nll, ok, &opt, &err), 0);
      double d = max_abs_diff(nll, ref, T - 1), rtol = forward_rtol(&cases[ci].cfg, T);
      for (long t = 0; t + 1 < T; t++)
        if (!(fabs(nll[t] - ref[t]) <= rtol * fabs(ref[t]) + forward_atol(&cases[ci].cfg, T))) {
          TEST_FAIL_AT("%s fp64=%d: nll[%ld] %.9g, reference %.9g (max |dnll| %.3g, rtol %.3g)",
                       cases[ci].name, fp64, t, nll[t], ref[t], d, rtol);
          break;
        }
      for (long t = 0; t + 1 < T; t++)
        if (ok[t] != (ref_am[t] == tok[t + 1])) {
          TEST_FAIL_AT("%s fp64=%d: correct[%ld] = %d, reference argmax %d, target %d",
                       cases[ci].name, fp64, t, ok[t], ref_am[t], tok[t + 1]);
          break;
        }
    }
    free(ref); free(ref_am); free(nll); free(ok); free(tok);
    rm_rope_free(&rope);
    rm_free(&m);
  }
}

// A sliding window shorter than T changes the result; one ≥ T does not.
TEST(sliding_window_applies_only_when_shorter) {
  ModelConfig cfg = rm_config(ARCH_MISTRAL, 64, 32, 2, 4, 2, 48, 1.0);
  Model m;
  rm_init(&m, &cfg, 5);
  RopeTable rope = rm_rope(cfg.rotary_dims, 10000.0, 1.0);
  long T = 40;
  int32_t *tok = rm_tokens(T, cfg.vocab_size, 6);
  float *full = xmalloc(sizeof(float) * T), *win = xmalloc(sizeof(float) * T);
  uint8_t *ok = xmalloc(T);
  BenchErr err;
  EXPECT_INT_EQ(forward_score_window(&m, &rope, tok, T, 0, full, ok, NULL, &err), 0);
  m.config.sliding_window = (int)T;
  EXPECT_INT_EQ(forward_score_window(&m, &rope, tok, T, 0, win, ok, NULL, &err), 0);
  double rtol = forward_rtol(&cfg, T);
  EXPECT_ARRAY_NEAR(win, full, T - 1, rtol, forward_atol(&cfg, T));
  m.config.sliding_window = 8;
  EXPECT_INT_EQ(forward_score_window(&m, &rope, tok, T, 0, win, ok, NULL, &err), 0);
  EXPECT_ARRAY_NEAR(win, full, 8, rtol, forward_atol(&cfg, T));  // tokens before the window edge see everything
  EXPECT(fabs(win[T - 2] - full[T - 2]) > 1e-4);
  free(tok); free(full); free(win); free(ok);
  rm_rope_free(&rope);
  rm_free(&m);
}

// fp64_check and fp32 agree closely; 1 thread and all threads agree.
TEST(fp64_check_and_threads_close_to_fp32) {
  ModelConfig cfg = rm_config(ARCH_LLAMA, 300, 64, 2, 4, 2, 96, 1.0);
  Model m;
  rm_init(&m, &cfg, 9);
  RopeTable rope = rm_rope(cfg.rotary_dims, 10000.0, 1.0);
  long T = 300;
  int32_t *tok = rm_tokens(T, cfg.vocab_size, 10);
  float *a = xmalloc(sizeof(float) * T), *b = xmalloc(sizeof(float) * T);
  uint8_t *oa = xmalloc(T), *ob = xmalloc(T);
  BenchErr err;
  ForwardOptions f32 = {.threads = 0}, f64 = {.fp64_check = 1}, one = {.threads = 1};
  EXPECT_INT_EQ(forward_score_window(&m, &rope, tok, T, 0, a, oa, &f32, &err), 0);
  EXPECT_INT_EQ(forward_score_window(&m, &rope, tok, T, 0, b, ob, &f64, &err), 0);
  EXPECT_ARRAY_NEAR(b, a, T - 1, forward_rtol(&cfg, T), forward_atol(&cfg, T));
  EXPECT_INT_EQ(forward_score_window(&m, &rope, tok, T, 0, b, ob, &one, &err), 0);
  EXPECT_ARRAY_NEAR(b, a, T - 1, forward_rtol(&cfg, T), forward_atol(&cfg, T));
  free(tok); free(a); free(b); free(oa); free(ob);
  rm_rope_free(&rope);
  rm_free(&m);
}

// Scoring from s gives the tail of scoring from 0; s = T − 1 scores nothing; bad input errors.
TEST(score_from_semantics_and_errors) {
  ModelConfig cfg = rm_config(ARCH_QWEN2, 50, 32, 1, 4, 2, 48, 1.0);
  Model m;
  rm_init(&m, &cfg, 11);
  RopeTable rope = rm_rope(cfg.rotary_dims, 10000.0, 1.0);
  long T = 30, s = 17;
  int32_t *tok = rm_tokens(T, cfg.vocab_size, 12);
  float *all = xmalloc(sizeof(float) * T), *tail = xmalloc(sizeof(float) * T);
  uint8_t *oa = xmalloc(T), *ot = xmalloc(T);
  BenchErr err;
  EXPECT_INT_EQ(forward_score_window(&m, &rope, tok, T, 0, all, oa, NULL, &err), 0);
  EXPECT_INT_EQ(forward_score_window(&m, &rope, tok, T, s, tail, ot, NULL, &err), 0);
  EXPECT_ARRAY_NEAR(tail, all + s, T - 1 - s, forward_rtol(&cfg, T), forward_atol(&cfg, T));
  EXPECT_ARRAY_NEAR(ot, oa + s, T - 1 - s, 0, 0);
  EXPECT_INT_EQ(forward_score_window(&m, &rope, tok, T, T - 1, tail, ot, NULL, &err), 0);
  EXPECT_INT_EQ(forward_score_window(&m, &rope, tok, 1, 0, tail, ot, NULL, &err), 0);
  EXPECT_INT_EQ(forward_score_window(&m, &rope, tok, T, T, tail, ot, NULL, &err), -1);
  EXPECT_CONTAINS(err.msg, "score_from 30");
  EXPECT_INT_EQ(forward_score_window(&m, &rope, tok, 0, 0, tail, ot, NULL, &err), -1);
  tok[5] = 50;
  EXPECT_INT_EQ(forward_score_window(&m, &rope, tok, T, 0, tail, ot, NULL, &err), -1);
  EXPECT_CONTAINS(err.msg, "token 5 is 50");
  tok[5] = -1;
  EXPECT_INT_EQ(forward_score_window(&m, &rope, tok, T, 0, tail, ot, NULL, &err), -1);
  tok[5] = 0;
  RopeTable wrong = rm_rope(cfg.rotary_dims - 2, 10000.0, 1.0);
  EXPECT_INT_EQ(forward_score_window(&m, &rope, tok, T, 0, tail, ot, NULL, &err), 0);
  EXPECT_INT_EQ(forward_score_window(&m, &wrong, tok, T, 0, tail, ot, NULL, &err), -1);
  EXPECT_CONTAINS(err.msg, "rotary dims");
  free(tok); free(all); free(tail); free(oa); free(ot);
  rm_rope_free(&wrong);
  rm_rope_free(&rope);
  rm_free(&m);
}

// Prefill in one block == prefill of a prefix, then the rest one token at a time (decode).
TEST(blocks_against_one_pass) {
  ModelConfig cfg = rm_config(ARCH_GPT_NEOX, 80, 32, 2, 4, 4, 64, 0.25);
  Model m;
  rm_init(&m, &cfg, 13);
  RopeTable rope = rm_rope(cfg.rotary_dims, 10000.0, 1.0);
  long T = 50, prompt = 37;
  int32_t *tok = rm_tokens(T, cfg.vocab_size, 14);
  float *one = xmalloc(sizeof(float) * T), *blk = xmalloc(sizeof(float) * T);
  uint8_t *oo = xmalloc(T), *ob = xmalloc(T);
  double *pos = xmalloc(sizeof(double) * T);
  for (long t = 0; t < T; t++) pos[t] = (double)t;
  BenchErr err;
  EXPECT_INT_EQ(forward_score_window(&m, &rope, tok, T, 0, one, oo, NULL, &err), 0);
  KVCache cache;
  ForwardState s;
  EXPECT_INT_EQ(kv_cache_init(&cache, backend_cpu(), &cfg, T, &err), 0);
  EXPECT_INT_EQ(forward_state_init(&s, &m, backend_cpu(), prompt, NULL, &err), 0);
  EXPECT_INT_EQ(forward_block(&s, &cache, &rope, tok, pos, prompt, &err), 0);
  EXPECT_INT_EQ(forward_score(&s, 0, prompt, tok + 1, blk, ob, &err), 0);
  for (long t = prompt; t + 1 < T; t++) {
    EXPECT_INT_EQ(forward_block(&s, &cache, &rope, tok + t, pos + t, 1, &err), 0);
    EXPECT_INT_EQ(forward_score(&s, 0, 1, tok + t + 1, blk + t, ob + t, &err), 0);
  }
  EXPECT_INT_EQ(cache.len, T - 1);
  EXPECT_ARRAY_NEAR(blk, one, T - 1, forward_rtol(&cfg, T), forward_atol(&cfg, T));
  EXPECT_ARRAY_NEAR(ob, oo, T - 1, 0, 0);
  EXPECT_INT_EQ(forward_block(&s, &cache, &rope, tok, pos, prompt + 1, &err), -1);
  EXPECT_CONTAINS(err.msg, "exceeds");
  EXPECT_INT_EQ(forward_block(&s, &cache, &rope, tok, pos, 2, &err), -1);
  EXPECT_CONTAINS(err.msg, "kv cache full");
  EXPECT_INT_EQ(forward_score(&s, 0, 2, tok, blk, ob, &err), -1);
  forward_state_free(&s);
  kv_cache_free(&cache);
  free(tok); free(one); free(blk); free(oo); free(ob); free(pos);
  rm_rope_free(&rope);
  rm_free(&m);
}

// The window read in blocks (prefill by blocks through the KV cache, each block scored before the
// next) and the MLP in fewer rows per pass give what one block gives, for any block size, with
// score_from inside a block or on a block boundary; sliding windows across block boundaries too.
TEST(window_in_blocks_equals_one_block) {
  const struct { Arch arch; int window; } archs[] = {{ARCH_LLAMA, 0}, {ARCH_MISTRAL, 23}};
  for (int ai = 0; ai < 2; ai++) {
    ModelConfig cfg = rm_config(archs[ai].arch, 300, 64, 2, 4, 2, 96, 1.0);
    cfg.sliding_window = archs[ai].window;
    Model m;
    rm_init(&m, &cfg, 21 + ai);
    RopeTable rope = rm_rope(cfg.rotary_dims, 10000.0, 1.0);
    long T = 150;
    int32_t *tok = rm_tokens(T, cfg.vocab_size, 22);
    float *one = xmalloc(sizeof(float) * T), *blk = xmalloc(sizeof(float) * T);
    uint8_t *oo = xmalloc(T), *ob = xmalloc(T);
    BenchErr err;
    const long froms[] = {0, 41, 74};
    for (size_t fi = 0; fi < sizeof froms / sizeof froms[0]; fi++) {
      long from = froms[fi];
      ForwardOptions whole = {.threads = 1};
      EXPECT_INT_EQ(forward_score_window(&m, &rope, tok, T, from, one, oo, &whole, &err), 0);
      const struct { long block; int mlp; } opts[] = {{37, 0}, {1, 0}, {T, 13}, {74, 5}, {149, 0}};
      for (size_t oi = 0; oi < sizeof opts / sizeof opts[0]; oi++) {
        ForwardOptions o = {.threads = 1, .block_tokens = opts[oi].block, .mlp_rows = opts[oi].mlp};
        for (long t = 0; t < T; t++) blk[t] = NAN;
        EXPECT_INT_EQ(forward_score_window(&m, &rope, tok, T, from, blk, ob, &o, &err), 0);
        EXPECT_ARRAY_NEAR(blk, one, T - 1 - from, forward_rtol(&cfg, T), forward_atol(&cfg, T));
        EXPECT_ARRAY_NEAR(ob, oo, T - 1 - from, 0, 0);
      }
    }
    free(tok); free(one); free(blk); free(oo); free(ob);
    rm_rope_free(&rope);
    rm_free(&m);
  }
}

TEST(memory_and_flops_estimates) {
  ModelConfig cfg = rm_config(ARCH_LLAMA, 512, 64, 2, 4, 2, 128, 1.0);
  size_t kv = 2ul * 2 * 16384 * 2 * 16 * sizeof(float);   // K and V, 2 layers, K = 2, D = 16
  size_t act = 16384ul * (3 * 64 + 2 * 64) * sizeof(float);  // x, xn, h2; q, att
  size_t b = forward_memory_bytes(&cfg, 16384);
  EXPECT(b > kv + act && b < kv + act + (8ul << 20));  // + rope tables, ids, MLP rows, LM block
  // past one block the activations stop growing: only the KV cache does
  size_t b2 = forward_memory_bytes(&cfg, 4 * 16384);
  EXPECT(b2 - b == 3 * kv);
  // the 8B Llama-3 shape at 131,072 tokens: KV 34.4 GB + one block's activations (forward.c)
  ModelConfig big = rm_config(ARCH_LLAMA, 128256, 4096, 32, 32, 8, 14336, 1.0);
  double gb = forward_memory_bytes(&big, 131072) / 1e9;
  EXPECT(gb > 35.8 && gb < 36.0);
  double f = forward_flops(&cfg, 100, 99);
  double mm = 2.0 * 100 * 2 * (64.0 * 64 * 2 + 64.0 * 32 * 2 + 3.0 * 64 * 128);
  double attn = 2 * 100.0 * 101 / 2 * 64 * 4, head = 2.0 * 64 * 512 * 99;
  EXPECT_NEAR(f, mm + attn + head, 1e-12, 0);
}

int main(void) {
  be = backend_cpu();
  be->set_threads(0);
  RUN(vector_exp_accuracy);
  RUN(vector_exp_nan_stays_nan);
  RUN(matmul_against_naive);
  RUN(few_row_matmul_rows_independent_and_thread_free);
  RUN(norms_against_naive);
  RUN(rope_against_naive);
  RUN(attention_against_full_matrix);
  RUN(attention_vector_widths_agree_bit_for_bit);
  RUN(activations_and_add);
  RUN(lm_head_against_full_logits);
  RUN(forward_every_arch_against_naive);
  RUN(sliding_window_applies_only_when_shorter);
  RUN(fp64_check_and_threads_close_to_fp32);
  RUN(score_from_semantics_and_errors);
  RUN(blocks_against_one_pass);
  RUN(window_in_blocks_equals_one_block);
  RUN(memory_and_flops_estimates);
  TEST_SUMMARY();
}
