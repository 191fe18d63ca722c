// train_tmpl.h — the CPU table of training ops (train_ops.h), written once for a real type and
// instantiated twice: train_f32.c (float, sgemm: the reference trainer) and train_f64.c (double,
// dgemm: gradient checks). Before including, define TR_REAL (float | double), TR_SFX (f32 | f64)
// and TR_GEMM (cblas_sgemm | cblas_dgemm). Every element type of the table (param, mat, act,
// stream) is TR_REAL; these functions are also the CPU twins of the CUDA kernels
// (tests/gpu/test_train_kernels.c calls both tables on the same data).
// Legend: T tokens per sequence, V vocab, C hidden, H query heads, K kv heads, D head dim,
//         F intermediate, n rows of a block.
//
// What train_step.c sequences with these ops (per layer; backward in reverse, recomputing
// RMSNorm outputs, the SwiGLU product and the attention probabilities):
//   x0 = E[x_t]
//   per layer: n1 = rms(x)·w1; q,k,v = n1·Wqᵀ, n1·Wkᵀ, n1·Wvᵀ; q,k ← rope; a = attn(q,k,v);
//              m = x + a·Woᵀ; n2 = rms(m)·w2; g = n2·Wgᵀ; u = n2·Wuᵀ; x' = m + (silu(g)·u)·Wdᵀ
//   h = rms(x_L)·wf; logits = h·Wheadᵀ; nll_t = logsumexp(logits_t) − logits_t[x_{t+1}]
// Backward formulas:
//   y = x·r·w, r = (mean x² + eps)^−½:  dx = r·(dy∘w) − x·r³·Σ(dy∘w∘x)/C,  dw += Σ_t dy∘x·r
//   rope (a,b)→(a·c − b·s, b·c + a·s):  da = dA·c + dB·s,  db = dB·c − dA·s
//   attention, per query i and key j ≤ i: P = exp(s − lse), s = q·k·scale;
//     dV += Pᵀ·dO, dP = dO·Vᵀ, dS = P∘(dP − Σ_d dO∘O), dQ = dS·K·scale, dK += dSᵀ·Q·scale
//   swiglu a = silu(g)·u, σ = 1/(1 + e^−g):  du = da·g·σ,  dg = da·u·σ·(1 + g·(1 − σ))
//   cross-entropy: dlogits = (softmax − onehot(target)) × grad_scale
#ifndef TR_REAL
#error "define TR_REAL, TR_SFX and TR_GEMM before including train_tmpl.h"
#endif

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "train_internal.h"
#include "train_ops.h"

#ifdef _OPENMP
#include <omp.h>
#else
static inline int omp_get_thread_num(void) { return 0; }
#endif

#define TR_CAT2(a, b) a##_##b
#define TR_CAT(a, b) TR_CAT2(a, b)
#define TRF(name) TR_CAT(name, TR_SFX)

typedef TR_REAL real;

enum {
  TR_BQ = 64,    // queries per attention strip
  TR_LMB = 128,  // tokens per LM-head block
  TR_SUMSQ_PARTS = 64,  // fixed slices of the gradient's sum of squares
};

// ---- GEMM: C[M,N] = alpha·op(A)[M,K]·op(B)[K,N] + beta·C, row-major ----
// ta: A is stored [K, M] (transposed); tb: B is stored [N, K]. Split over the larger of M and N
// across p threads, each running a single-threaded BLAS call on its slice: every element is
// computed by one call over the whole K, so results depend only on p.
static void TRF(gemm_1)(int ta, int tb, long M, long N, long K, real alpha, const real *A, long lda,
                        const real *B, long ldb, real beta, real *C, long ldc) {
  if (M <= 0 || N <= 0) return;
  TR_GEMM(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, (int)M,
          (int)N, (int)K, alpha, A, (int)lda, B, (int)ldb, beta, C, (int)ldc);
}

static void TRF(gemm)(int p, int ta, int tb, long M, long N, long K, real alpha, const real *A,
                      long lda, const real *B, long ldb, real beta, real *C, long ldc) {
  if (M <= 0 || N <= 0) return;
  if (p <= 1 || (double)M * N * K < 262144.0) {
    TRF(gemm_1)(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    return;
  }
  if (N >= M) {
    long chunk = ((N + p - 1) / p + 15) / 16 * 16;
#pragma omp parallel for num_threads(p) schedule(static)
    for (int i = 0; i < p; i++) {
      long n0 = i * chunk, n1 = n0 + chunk < N ? n0 + chunk : N;
      if (n1 > n0)
        TRF(gemm_1)(ta, tb, M, n1 - n0, K, alpha, A, lda, tb ? B + n0 * ldb : B + n0, ldb, beta,
                    C + n0, ldc);
    }
  } else {
    long chunk = (M + p - 1) / p;
#pragma omp parallel for num_threads(p) schedule(static)
    for (int i = 0; i < p; i++) {
      long m0 = i * chunk, m1 = m0 + chunk < M ? m0 + chunk : M;
      if (m1 > m0)
        TRF(gemm_1)(ta, tb, m1 - m0, N, K, alpha, ta ? A + m0 : A + m0 * lda, lda, B, ldb, beta,
                    C + m0 * ldc, ldc);
    }
  }
}

// y[T, N] = x[T, Cin] · W[N, Cin]ᵀ (+ y when acc)
static void TRF(linear)(int p, real *y, const real *x, const real *w, long T, long Cin, long N,
                        int acc) {
  TRF(gemm)(p, 0, 1, T, N, Cin, 1, x, Cin, w, Cin, acc ? 1 : 0, y, N);
}
// dx[T, Cin] (+)= dy[T, N] · W[N, Cin]
static void TRF(linear_dx)(int p, real *dx, const real *dy, const real *w, long T, long Cin, long N,
                           int acc) {
  TRF(gemm)(p, 0, 0, T, Cin, N, 1, dy, N, w, Cin, acc ? 1 : 0, dx, Cin);
}
// dW[N, Cin] += dy[T, N]ᵀ · x[T, Cin]
static void TRF(linear_dw)(int p, real *dw, const real *dy, const real *x, long T, long Cin, long N) {
  TRF(gemm)(p, 1, 0, N, Cin, T, 1, dy, N, x, Cin, 1, dw, Cin);
}

// ---- scratch of the CPU table ----
typedef struct {
  TrainDims d;
  int p;               // threads
  real *strip;         // [p][2, BQ, T] attention scores and their gradients
  real *acc;           // [p][2, T, K·D] per-thread dK / dV sums
  real *logits;        // [LMB, V]
  double *nll;         // [LMB]
  double nll_total;    // take_nll's sum
} TRF(Ctx);

static void TRF(ctx_free)(void *vc) {
  TRF(Ctx) *w = vc;
  if (!w) return;
  free(w->strip);
  free(w->acc);
  free(w->logits);
  free(w->nll);
  free(w);
}

static void *TRF(ctx_new)(const TrainDims *d, BenchErr *err) {
  TRF(Ctx) *w = xcalloc(1, sizeof *w);
  w->d = *d;
  w->p = d->threads > 0 ? d->threads : 1;
  size_t T = (size_t)d->T, KD = (size_t)d->K * d->D;
  w->strip = malloc(((size_t)w->p * 2 * TR_BQ * T + 1) * sizeof(real));
  w->acc = malloc(((size_t)w->p * 2 * T * KD + 1) * sizeof(real));
  w->logits = malloc(((size_t)TR_LMB * d->V + 1) * sizeof(real));
  w->nll = malloc(TR_LMB * sizeof(double));
  if (!w->strip || !w->acc || !w->logits || !w->nll) {
    TRF(ctx_free)(w);
    err_set(err, "out of memory: training scratch for sequences of %zu tokens", T);
    return NULL;
  }
  return w;
}

// ---- elementwise pieces ----
static real TRF(rsqrt)(real x) { return (real)1 / (real)sqrt(x); }

// y[T, C] = x·r·w, r[t] = 1/sqrt(mean(x²) + eps)
static void TRF(rms_fwd)(int p, real *y, real *rs, const real *x, const real *w, long T, int C,
                         real eps) {
#pragma omp parallel for num_threads(p) schedule(static) if (T * C > 4096)
  for (long t = 0; t < T; t++) {
    const real *xr = x + t * C;
    real ss = 0;
    for (int c = 0; c < C; c++) ss += xr[c] * xr[c];
    real r = TRF(rsqrt)(ss / (real)C + eps);
    rs[t] = r;
    if (y)
      for (int c = 0; c < C; c++) y[t * C + c] = (xr[c] * r) * w[c];
  }
}

// dx[T, C] += r·(dy∘w) − x·r³·Σ(dy∘w∘x)/C;  dw[C] += Σ_t dy∘x·r
static void TRF(rms_bwd)(int p, real *dx, real *dw, const real *dy, const real *x, const real *rs,
                         const real *w, long T, int C) {
#pragma omp parallel for num_threads(p) schedule(static) if (T * C > 4096)
  for (long t = 0; t < T; t++) {
    const real *xr = x + t * C, *g = dy + t * C;
    real r = rs[t], dot = 0;
    for (int c = 0; c < C; c++) dot += g[c] * w[c] * xr[c];
    real k = r * r * r * dot / (real)C;
    real *d = dx + t * C;
    for (int c = 0; c < C; c++) d[c] += r * g[c] * w[c] - xr[c] * k;
  }
  int nb = p < C ? p : C;
  long chunk = (C + nb - 1) / nb;
#pragma omp parallel for num_threads(p) schedule(static)
  for (int b = 0; b < nb; b++) {
    long c0 = b * chunk, c1 = c0 + chunk < C ? c0 + chunk : C;
    for (long t = 0; t < T; t++) {
      const real *xr = x + t * C, *g = dy + t * C;
      real r = rs[t];
      for (long c = c0; c < c1; c++) dw[c] += g[c] * xr[c] * r;
    }
  }
}

// In place on x[T, NH, D]: pairs (i, i + D/2) rotated by row t's angle; inverse: the transpose.
static void TRF(rope)(int p, real *x, const real *cs, const real *sn, long T, int NH, int D,
                      int inverse) {
  int half = D / 2;
#pragma omp parallel for num_threads(p) schedule(static) if (T * NH * D > 4096)
  for (long t = 0; t < T; t++) {
    const real *c = cs + t * half, *s = sn + t * half;
    for (int h = 0; h < NH; h++) {
      real *a = x + (t * NH + h) * D, *b = a + half;
      for (int i = 0; i < half; i++) {
        real ai = a[i], bi = b[i];
        if (inverse) {
          a[i] = ai * c[i] + bi * s[i];
          b[i] = bi * c[i] - ai * s[i];
        } else {
          a[i] = ai * c[i] - bi * s[i];
          b[i] = bi * c[i] + ai * s[i];
        }
      }
    }
  }
}

static real TRF(sigmoid)(real g) { return (real)1 / ((real)1 + (real)exp(-g)); }

// a[n] = silu(g)·u
static void TRF(swiglu_fwd)(int p, real *a, const real *g, const real *u, long n) {
#pragma omp parallel for num_threads(p) schedule(static) if (n > 4096)
  for (long i = 0; i < n; i++) a[i] = g[i] * TRF(sigmoid)(g[i]) * u[i];
}

// da[n] → dg (in place in da), du (into du)
static void TRF(swiglu_bwd)(int p, real *da, real *du, const real *g, const real *u, long n) {
#pragma omp parallel for num_threads(p) schedule(static) if (n > 4096)
  for (long i = 0; i < n; i++) {
    real s = TRF(sigmoid)(g[i]), d = da[i];
    du[i] = d * g[i] * s;
    da[i] = d * u[i] * s * ((real)1 + g[i] * ((real)1 - s));
  }
}

// ---- attention: strips of BQ queries against all the keys they see ----
// q[T, H, D], k/v[T, K, D] → out[T, H, D], lse[T, H]. Query i sees keys j ≤ i.
static void TRF(attn_fwd)(TRF(Ctx) *w, real *out, real *lse, const real *q, const real *k,
                          const real *v, long T, int H, int K, int D) {
  int p = w->p;
  long nqb = (T + TR_BQ - 1) / TR_BQ;
  real scale = (real)(1.0 / sqrt((double)D));
#pragma omp parallel num_threads(p)
  {
    real *S = w->strip + (size_t)omp_get_thread_num() * 2 * TR_BQ * T;
#pragma omp for schedule(dynamic, 1)
    for (long b = 0; b < (long)H * nqb; b++) {
      int h = (int)(b % H), g = h / (H / K);
      long i0 = (nqb - 1 - b / H) * TR_BQ;  // longest strips first
      long nq = T - i0 < TR_BQ ? T - i0 : TR_BQ, nk = i0 + nq;
      TRF(gemm_1)(0, 1, nq, nk, D, scale, q + (i0 * H + h) * D, (long)H * D, k + (long)g * D,
                  (long)K * D, 0, S, nk);
      for (long i = 0; i < nq; i++) {
        real *s = S + i * nk;
        long vis = i0 + i + 1;
        real m = s[0];
        for (long j = 1; j < vis; j++) m = s[j] > m ? s[j] : m;
        real sum = 0;
        for (long j = 0; j < vis; j++) sum += (real)exp(s[j] - m);
        real l = m + (real)log(sum);
        lse[(i0 + i) * H + h] = l;
        for (long j = 0; j < vis; j++) s[j] = (real)exp(s[j] - l);
        for (long j = vis; j < nk; j++) s[j] = 0;
      }
      TRF(gemm_1)(0, 0, nq, D, nk, 1, S, nk, v + (long)g * D, (long)K * D, 0, out + (i0 * H + h) * D,
                  (long)H * D);
    }
  }
}

// dout[T, H, D] → dq[T, H, D], dk/dv[T, K, D] (overwritten). Strips are dealt to p slots (strip b
// to slot b mod p), each slot sums its strips' dK/dV in strip order, and the slots are added in
// slot order: the same bits however many threads OpenMP actually grants (a busy machine, nested
// regions, OMP_DYNAMIC), for a given p.
static void TRF(attn_bwd)(TRF(Ctx) *w, real *dq, real *dk, real *dv, const real *dout,
                          const real *out, const real *lse, const real *q, const real *k,
                          const real *v, long T, int H, int K, int D) {
  int p = w->p;
  long nqb = (T + TR_BQ - 1) / TR_BQ, KD = (long)K * D;
  real scale = (real)(1.0 / sqrt((double)D));
  memset(w->acc, 0, sizeof(real) * (size_t)p * 2 * T * KD);  // every slice, used or not
#pragma omp parallel for num_threads(p) schedule(static, 1)
  for (int slot = 0; slot < p; slot++) {
    real *S = w->strip + (size_t)slot * 2 * TR_BQ * T, *dP = S + TR_BQ * T;
    real *ak = w->acc + (size_t)slot * 2 * T * KD, *av = ak + T * KD;
    for (long b = slot; b < (long)H * nqb; b += p) {
      int h = (int)(b % H), g = h / (H / K);
      long i0 = (nqb - 1 - b / H) * TR_BQ;
      long nq = T - i0 < TR_BQ ? T - i0 : TR_BQ, nk = i0 + nq;
      const real *qb = q + (i0 * H + h) * D, *dob = dout + (i0 * H + h) * D;
      TRF(gemm_1)(0, 1, nq, nk, D, scale, qb, (long)H * D, k + (long)g * D, KD, 0, S, nk);
      TRF(gemm_1)(0, 1, nq, nk, D, 1, dob, (long)H * D, v + (long)g * D, KD, 0, dP, nk);
      for (long i = 0; i < nq; i++) {
        real *s = S + i * nk, *dp = dP + i * nk;
        long vis = i0 + i + 1;
        real l = lse[(i0 + i) * H + h], di = 0;
        const real *o = out + ((i0 + i) * H + h) * D, *dor = dob + i * (long)H * D;
        for (int d = 0; d < D; d++) di += dor[d] * o[d];
        for (long j = 0; j < vis; j++) {
          real pj = (real)exp(s[j] - l);
          s[j] = pj;
          dp[j] = pj * (dp[j] - di);
        }
        for (long j = vis; j < nk; j++) s[j] = dp[j] = 0;
      }
      TRF(gemm_1)(0, 0, nq, D, nk, scale, dP, nk, k + (long)g * D, KD, 0, dq + (i0 * H + h) * D,
                  (long)H * D);
      TRF(gemm_1)(1, 0, nk, D, nq, scale, dP, nk, qb, (long)H * D, 1, ak + (long)g * D, KD);
      TRF(gemm_1)(1, 0, nk, D, nq, 1, S, nk, dob, (long)H * D, 1, av + (long)g * D, KD);
    }
  }
  long n = T * KD;
#pragma omp parallel for num_threads(p) schedule(static)
  for (long i = 0; i < n; i++) {
    real sk = 0, sv = 0;
    for (int th = 0; th < p; th++) {
      sk += w->acc[(size_t)th * 2 * n + i];
      sv += w->acc[(size_t)th * 2 * n + n + i];
    }
    dk[i] = sk;
    dv[i] = sv;
  }
}

// ---- LM head and cross-entropy by blocks of LMB tokens ----
// h[T, C] final-normed states, targets[T]; returns Σ nll. With backward: dh[T, C] = gradient of
// Σ nll × gs, dW[V, C] += its weight gradient.
static double TRF(lm_head)(TRF(Ctx) *w, const real *h, const int32_t *targets, const real *W,
                           real gs, int backward, real *dh, real *dW, long T, int C, int V) {
  int p = w->p;
  double total = 0;
  for (long t0 = 0; t0 < T; t0 += TR_LMB) {
    long n = T - t0 < TR_LMB ? T - t0 : TR_LMB;
    const real *hb = h + t0 * C;
    TRF(linear)(p, w->logits, hb, W, n, C, V, 0);
#pragma omp parallel for num_threads(p) schedule(static)
    for (long i = 0; i < n; i++) {
      real *lg = w->logits + i * V;
      real m = lg[0];
      for (int j = 1; j < V; j++) m = lg[j] > m ? lg[j] : m;
      real sum = 0;
      for (int j = 0; j < V; j++) sum += (real)exp(lg[j] - m);
      real lse = m + (real)log(sum);
      int tg = targets[t0 + i];
      w->nll[i] = (double)(lse - lg[tg]);
      if (backward) {
        for (int j = 0; j < V; j++) lg[j] = (real)exp(lg[j] - lse) * gs;
        lg[tg] -= gs;
      }
    }
    for (long i = 0; i < n; i++) total += w->nll[i];
    if (backward) {
      TRF(linear_dx)(p, dh + t0 * C, w->logits, W, n, C, V, 0);
      TRF(linear_dw)(p, dW, w->logits, hb, n, C, V);
    }
  }
  return total;
}

// ---- parameters and optimizer ----
void TRF(tr_init_params)(Trainer *t) {
  Rng r;
  rng_seed(&r, t->cfg.seed ^ 0x5eedc0de1417ULL);
  real *P = t->params;
  for (int i = 0; i < t->n_tensors; i++) {
    const TrainTensor *tt = &t->tensors[i];
    real *x = P + tt->offset;
    if (tt->n_dims == 1)
      for (size_t j = 0; j < tt->numel; j++) x[j] = 1;
    else
      for (size_t j = 0; j < tt->numel; j++) x[j] = (real)(rng_normal(&r) * t->cfg.init_std);
  }
}

// Σ g² in double: TR_SUMSQ_PARTS fixed slices summed in parallel, then added in slice order, so the
// bits never depend on the thread count or on the order threads finish (an OpenMP reduction
// combines its partial sums in whatever order the threads arrive).
static double TRF(op_grad_sumsq)(void *ctx, const void *gv, size_t n_) {
  const TRF(Ctx) *w = ctx;
  const real *g = gv;
  long n = (long)n_, chunk = (n + TR_SUMSQ_PARTS - 1) / TR_SUMSQ_PARTS;
  double part[TR_SUMSQ_PARTS];
#pragma omp parallel for num_threads(w->p) schedule(static)
  for (int c = 0; c < TR_SUMSQ_PARTS; c++) {
    long i0 = c * chunk, i1 = i0 + chunk < n ? i0 + chunk : n;
    double s = 0;
    for (long i = i0; i < i1; i++) s += (double)g[i] * g[i];
    part[c] = s;
  }
  double s = 0;
  for (int c = 0; c < TR_SUMSQ_PARTS; c++) s += part[c];
  return s;
}

static void TRF(op_scale)(void *ctx, void *gv, size_t n_, double s) {
  const TRF(Ctx) *w = ctx;
  real *g = gv, f = (real)s;
  long n = (long)n_;
#pragma omp parallel for num_threads(w->p) schedule(static)
  for (long i = 0; i < n; i++) g[i] *= f;
}

// PyTorch's AdamW (single-tensor form): p ← p·(1 − lr·wd); m ← m + (1 − β1)(g − m);
// v ← β2·v + (1 − β2)·g²; p ← p − lr/(1 − β1^s) · m / (√v / √(1 − β2^s) + eps).
static void TRF(op_adamw)(void *ctx, const TrainAdamW *a, void *pv, void *mat, const void *gv,
                          void *mv, void *vv, size_t n_) {
  const TRF(Ctx) *w = ctx;
  (void)mat;
  real step_size = (real)a->step_size, bc2_sqrt = (real)a->bc2_sqrt, eps = (real)a->eps;
  real b2 = (real)a->b2, one_b1 = (real)a->one_b1, one_b2 = (real)a->one_b2;
  real decay = (real)a->decay;
  real *P = pv, *M = mv, *Vv = vv;
  const real *G = gv;
  long n = (long)n_;
#pragma omp parallel for num_threads(w->p) schedule(static) if (n > 4096)
  for (long j = 0; j < n; j++) {
    real g = G[j];
    P[j] *= decay;
    M[j] += one_b1 * (g - M[j]);
    Vv[j] = Vv[j] * b2 + one_b2 * g * g;
    real denom = (real)sqrt(Vv[j]) / bc2_sqrt + eps;
    P[j] -= step_size * (M[j] / denom);
  }
}

// ---- the table's remaining ops: host memory, and the pieces above on row blocks ----
static void *TRF(op_alloc)(size_t bytes) { return malloc(bytes ? bytes : 1); }
static void TRF(op_free)(void *p) { free(p); }
static void TRF(op_copy)(void *dst, const void *src, size_t bytes) {
  if (bytes) memcpy(dst, src, bytes);
}
static void TRF(op_zero)(void *p, size_t bytes) {
  if (bytes) memset(p, 0, bytes);
}
static int TRF(op_sync)(BenchErr *err) {
  (void)err;
  return 0;
}
static size_t TRF(op_mem_available)(void) { return (size_t)-1; }

static const int32_t *TRF(op_tokens)(void *ctx, const int32_t *seqs, long n_seq, int backward) {
  (void)ctx;
  (void)n_seq;
  (void)backward;
  return seqs;
}

static void TRF(op_put_reals)(void *ctx, void *dst, const double *src, size_t n) {
  (void)ctx;
  real *d = dst;
  for (size_t i = 0; i < n; i++) d[i] = (real)src[i];
}

static const void *TRF(op_to_act)(void *ctx, void *dst, const void *src, size_t n) {
  (void)ctx;
  (void)dst;
  (void)n;
  return src;
}

static void TRF(op_mat_refresh)(void *ctx, void *mat, const void *params, size_t n) {
  (void)ctx;
  if (mat != params) memcpy(mat, params, n * sizeof(real));
}

static void TRF(op_embed_fwd)(void *ctx, void *xv, const void *Ev, const int32_t *tok, long n_seq,
                              long T, int C) {
  (void)ctx;
  real *x = xv;
  const real *E = Ev;
  for (long s = 0; s < n_seq; s++)
    for (long i = 0; i < T; i++)
      memcpy(x + (s * T + i) * C, E + (size_t)tok[s * (T + 1) + i] * C, sizeof(real) * C);
}

static void TRF(op_embed_bwd)(void *ctx, void *dEv, const void *dxv, const int32_t *tok, long n_seq,
                              long T, int C) {
  (void)ctx;
  real *dE = dEv;
  const real *dx = dxv;
  for (long s = 0; s < n_seq; s++)
    for (long i = 0; i < T; i++) {
      real *row = dE + (size_t)tok[s * (T + 1) + i] * C;
      const real *d = dx + (s * T + i) * C;
      for (int c = 0; c < C; c++) row[c] += d[c];
    }
}

static void TRF(op_rms_fwd)(void *ctx, void *y, void *rs, const void *x, const void *w, long n,
                            int C, double eps) {
  TRF(rms_fwd)(((TRF(Ctx) *)ctx)->p, y, rs, x, w, n, C, (real)eps);
}

static void TRF(op_rms_bwd)(void *ctx, void *dx, void *dw, const void *dy, const void *x,
                            const void *rs, const void *w, long n, int C) {
  TRF(rms_bwd)(((TRF(Ctx) *)ctx)->p, dx, dw, dy, x, rs, w, n, C);
}

static void TRF(op_linear)(void *ctx, void *y, int y_stream, const void *x, const void *w, long n,
                           int Cin, int N, int acc) {
  (void)y_stream;
  TRF(linear)(((TRF(Ctx) *)ctx)->p, y, x, w, n, Cin, N, acc);
}

static void TRF(op_linear_dx)(void *ctx, void *dx, int dx_stream, const void *dy, const void *w,
                              long n, int Cin, int N, int acc) {
  (void)dx_stream;
  TRF(linear_dx)(((TRF(Ctx) *)ctx)->p, dx, dy, w, n, Cin, N, acc);
}

static void TRF(op_linear_dw)(void *ctx, void *dw, const void *dy, const void *x, long n, int Cin,
                              int N) {
  TRF(linear_dw)(((TRF(Ctx) *)ctx)->p, dw, dy, x, n, Cin, N);
}

static void TRF(op_rope)(void *ctx, void *xv, const void *cs, const void *sn, long n, long T, int NH,
                         int D, int inverse) {
  real *x = xv;
  for (long r0 = 0; r0 < n; r0 += T)
    TRF(rope)(((TRF(Ctx) *)ctx)->p, x + r0 * NH * D, cs, sn, n - r0 < T ? n - r0 : T, NH, D,
              inverse);
}

static void TRF(op_swiglu_fwd)(void *ctx, void *a, const void *g, const void *u, long n) {
  TRF(swiglu_fwd)(((TRF(Ctx) *)ctx)->p, a, g, u, n);
}

static void TRF(op_swiglu_bwd)(void *ctx, void *da, void *du, const void *g, const void *u, long n) {
  TRF(swiglu_bwd)(((TRF(Ctx) *)ctx)->p, da, du, g, u, n);
}

static void TRF(op_attn_fwd)(void *ctx, void *out, void *lse, const void *q, const void *k,
                             const void *v, long n_seq, long T, int H, int K, int D) {
  for (long s = 0; s < n_seq; s++) {
    size_t r = (size_t)(s * T);
    TRF(attn_fwd)(ctx, (real *)out + r * H * D, (real *)lse + r * H, (const real *)q + r * H * D,
                  (const real *)k + r * K * D, (const real *)v + r * K * D, T, H, K, D);
  }
}

static void TRF(op_attn_bwd)(void *ctx, void *dq, void *dk, void *dv, const void *dout,
                             const void *out, const void *lse, const void *q, const void *k,
                             const void *v, long n_seq, long T, int H, int K, int D) {
  for (long s = 0; s < n_seq; s++) {
    size_t r = (size_t)(s * T), hd = r * H * D, kd = r * K * D;
    TRF(attn_bwd)(ctx, (real *)dq + hd, (real *)dk + kd, (real *)dv + kd, (const real *)dout + hd,
                  (const real *)out + hd, (const real *)lse + r * H, (const real *)q + hd,
                  (const real *)k + kd, (const real *)v + kd, T, H, K, D);
  }
}

static void TRF(op_lm_head)(void *ctx, const void *h, const int32_t *tok, long n_seq, long T,
                            const void *W, double gs, int backward, void *dh, void *dW, int C,
                            int V) {
  TRF(Ctx) *w = ctx;
  for (long s = 0; s < n_seq; s++) {
    size_t r = (size_t)(s * T) * C;
    double nll = TRF(lm_head)(w, (const real *)h + r, tok + s * (T + 1) + 1, W, (real)gs, backward,
                              backward ? (real *)dh + r : NULL, dW, T, C, V);
    w->nll_total += nll;
  }
}

static double TRF(op_take_nll)(void *ctx) {
  TRF(Ctx) *w = ctx;
  double s = w->nll_total;
  w->nll_total = 0;
  return s;
}

static const TrainOps TRF(train_ops) = {
    .name = sizeof(real) == 8 ? "cpu-fp64" : "cpu-fp32",
    .on_device = 0,
    .batch_passes = 0,
    .param_size = sizeof(real),
    .mat_size = sizeof(real),
    .act_size = sizeof(real),
    .stream_size = sizeof(real),
    .alloc = TRF(op_alloc),
    .free = TRF(op_free),
    .upload = TRF(op_copy),
    .download = TRF(op_copy),
    .zero = TRF(op_zero),
    .copy = TRF(op_copy),
    .sync = TRF(op_sync),
    .mem_available = TRF(op_mem_available),
    .ctx_new = TRF(ctx_new),
    .ctx_free = TRF(ctx_free),
    .tokens = TRF(op_tokens),
    .put_reals = TRF(op_put_reals),
    .to_act = TRF(op_to_act),
    .mat_refresh = TRF(op_mat_refresh),
    .embed_fwd = TRF(op_embed_fwd),
    .embed_bwd = TRF(op_embed_bwd),
    .rms_fwd = TRF(op_rms_fwd),
    .rms_bwd = TRF(op_rms_bwd),
    .linear = TRF(op_linear),
    .linear_dx = TRF(op_linear_dx),
    .linear_dw = TRF(op_linear_dw),
    .rope = TRF(op_rope),
    .swiglu_fwd = TRF(op_swiglu_fwd),
    .swiglu_bwd = TRF(op_swiglu_bwd),
    .attn_fwd = TRF(op_attn_fwd),
    .attn_bwd = TRF(op_attn_bwd),
    .lm_head = TRF(op_lm_head),
    .take_nll = TRF(op_take_nll),
    .grad_sumsq = TRF(op_grad_sumsq),
    .scale = TRF(op_scale),
    .adamw = TRF(op_adamw),
};

const TrainOps *TR_CAT(train_ops_cpu, TR_SFX)(void) { return &TRF(train_ops); }
