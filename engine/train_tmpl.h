// train_tmpl.h — the trainer's compute, written once for a real type and instantiated twice:
// train_f32.c (float, sgemm: the trainer) and train_f64.c (double, dgemm: gradient checks).
// Before including, define TR_REAL (float | double), TR_SFX (f32 | f64) and TR_GEMM
// (cblas_sgemm | cblas_dgemm). Functions are named tr_<name>_<sfx> (train_internal.h).
// Legend: T tokens per sequence, V vocab, C hidden, L layers, H query heads, K kv heads,
//         D head dim, F intermediate, n rows of a block.
//
// Forward of one sequence (tokens x[0..T]) as engine/forward.c computes it, saving per layer
// what the backward needs; backward in reverse, recomputing RMSNorm outputs, the SwiGLU product
// and the attention probabilities:
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

// ---- work buffers for one sequence ----
typedef struct {
  long T;
  int C, H, K, D, F, V, L, p;
  // saved per layer, [L] blocks
  real *xin, *xmid;    // [L][T, C] residual stream entering the layer / after attention
  real *rs1, *rs2;     // [L][T] RMS factors r of the two norms
  real *q, *k, *v;     // [L][T, H·D], [L][T, K·D] ×2 (q, k after RoPE)
  real *att;           // [L][T, H·D] attention output
  real *lse;           // [L][T, H] log-sum-exp of each query's scores
  real *gate, *up;     // [L][T, F]
  real *xfin;          // [T, C] residual stream after the last layer
  real *rsf;           // [T]
  // scratch
  real *xn;            // [T, C] a norm's output (recomputed)
  real *dres;          // [T, C] gradient of the residual stream
  real *dxn;           // [T, C] gradient of a norm's output
  real *dq, *dk, *dv;  // [T, H·D], [T, K·D] ×2
  real *datt;          // [T, H·D]
  real *act, *dact;    // [T, F]
  real *cos_t, *sin_t; // [T, D/2] (times attention_scale)
  real *strip;         // [p][2, BQ, T] attention scores and their gradients
  real *acc;           // [p][2, T, K·D] per-thread dK / dV sums
  real *logits;        // [LMB, V]
  double *nll;         // [LMB]
} TRF(Work);

void TRF(tr_work_free)(Trainer *t) {
  TRF(Work) *w = t->work;
  if (!w) return;
  real *bufs[] = {w->xin, w->xmid, w->rs1, w->rs2, w->q,    w->k,     w->v,     w->att,
                  w->lse, w->gate, w->up,  w->xfin, w->rsf, w->xn,    w->dres,  w->dxn,
                  w->dq,  w->dk,   w->dv,  w->datt, w->act, w->dact,  w->cos_t, w->sin_t,
                  w->strip, w->acc, w->logits};
  for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) free(bufs[i]);
  free(w->nll);
  free(w);
  t->work = NULL;
}

static real *TRF(alloc)(size_t n, int *failed) {
  real *p = malloc((n ? n : 1) * sizeof(real));
  if (!p) *failed = 1;
  return p;
}

int TRF(tr_work_alloc)(Trainer *t, BenchErr *err) {
  const TrainConfig *c = &t->cfg;
  TRF(Work) *w = xcalloc(1, sizeof *w);
  t->work = w;
  w->T = c->seq_len;
  w->C = c->hidden_size;
  w->H = c->n_heads;
  w->K = c->n_kv_heads;
  w->D = t->head_dim;
  w->F = c->intermediate_size;
  w->V = c->vocab_size;
  w->L = c->n_layers;
  w->p = t->threads;
  size_t T = (size_t)w->T, C = (size_t)w->C, L = (size_t)w->L, F = (size_t)w->F;
  size_t HD = (size_t)w->H * w->D, KD = (size_t)w->K * w->D, half = (size_t)w->D / 2;
  int failed = 0;
  w->xin = TRF(alloc)(L * T * C, &failed);
  w->xmid = TRF(alloc)(L * T * C, &failed);
  w->rs1 = TRF(alloc)(L * T, &failed);
  w->rs2 = TRF(alloc)(L * T, &failed);
  w->q = TRF(alloc)(L * T * HD, &failed);
  w->k = TRF(alloc)(L * T * KD, &failed);
  w->v = TRF(alloc)(L * T * KD, &failed);
  w->att = TRF(alloc)(L * T * HD, &failed);
  w->lse = TRF(alloc)(L * T * (size_t)w->H, &failed);
  w->gate = TRF(alloc)(L * T * F, &failed);
  w->up = TRF(alloc)(L * T * F, &failed);
  w->xfin = TRF(alloc)(T * C, &failed);
  w->rsf = TRF(alloc)(T, &failed);
  w->xn = TRF(alloc)(T * C, &failed);
  w->dres = TRF(alloc)(T * C, &failed);
  w->dxn = TRF(alloc)(T * C, &failed);
  w->dq = TRF(alloc)(T * HD, &failed);
  w->dk = TRF(alloc)(T * KD, &failed);
  w->dv = TRF(alloc)(T * KD, &failed);
  w->datt = TRF(alloc)(T * HD, &failed);
  w->act = TRF(alloc)(T * F, &failed);
  w->dact = TRF(alloc)(T * F, &failed);
  w->cos_t = TRF(alloc)(T * half, &failed);
  w->sin_t = TRF(alloc)(T * half, &failed);
  w->strip = TRF(alloc)((size_t)w->p * 2 * TR_BQ * T, &failed);
  w->acc = TRF(alloc)((size_t)w->p * 2 * T * KD, &failed);
  w->logits = TRF(alloc)((size_t)TR_LMB * w->V, &failed);
  w->nll = malloc(TR_LMB * sizeof(double));
  if (failed || !w->nll) {
    TRF(tr_work_free)(t);
    return err_set(err, "out of memory: training activations for sequences of %zu tokens", T);
  }
  for (size_t i = 0; i < T * half; i++) {
    w->cos_t[i] = (real)t->rope_cos[i];
    w->sin_t[i] = (real)t->rope_sin[i];
  }
  return 0;
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
static void TRF(attn_fwd)(TRF(Work) *w, real *out, real *lse, const real *q, const real *k,
                          const real *v) {
  long T = w->T;
  int H = w->H, K = w->K, D = w->D, p = w->p;
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

// dout[T, H, D] → dq[T, H, D], dk/dv[T, K, D] (overwritten). Per-thread dK/dV sums, then added
// in thread order; strips are assigned to threads statically (deterministic for a thread count).
static void TRF(attn_bwd)(TRF(Work) *w, real *dq, real *dk, real *dv, const real *dout,
                          const real *out, const real *lse, const real *q, const real *k,
                          const real *v) {
  long T = w->T;
  int H = w->H, K = w->K, D = w->D, p = w->p;
  long nqb = (T + TR_BQ - 1) / TR_BQ, KD = (long)K * D;
  real scale = (real)(1.0 / sqrt((double)D));
  memset(w->acc, 0, sizeof(real) * (size_t)p * 2 * T * KD);  // every slice, used or not
#pragma omp parallel num_threads(p)
  {
    int tid = omp_get_thread_num();
    real *S = w->strip + (size_t)tid * 2 * TR_BQ * T, *dP = S + TR_BQ * T;
    real *ak = w->acc + (size_t)tid * 2 * T * KD, *av = ak + T * KD;
#pragma omp for schedule(static, 1)
    for (long b = 0; b < (long)H * nqb; b++) {
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
static double TRF(lm_head)(TRF(Work) *w, const real *h, const int32_t *targets, const real *W,
                           real gs, int backward, real *dh, real *dW) {
  long T = w->T;
  int C = w->C, V = w->V, p = w->p;
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

// ---- one sequence ----
static real *TRF(P)(const Trainer *t, int tensor) {
  return (real *)t->params + t->tensors[tensor].offset;
}
static real *TRF(G)(const Trainer *t, int tensor) {
  return (real *)t->grads + t->tensors[tensor].offset;
}

static double TRF(seq_pass)(Trainer *t, const int32_t *x, real gs, int backward) {
  TRF(Work) *w = t->work;
  long T = w->T;
  int C = w->C, H = w->H, K = w->K, D = w->D, F = w->F, L = w->L, p = w->p;
  long HD = (long)H * D, KD = (long)K * D;
  size_t TC = (size_t)T * C;
  real eps = (real)t->cfg.norm_eps;
  const real *E = TRF(P)(t, 0);
  for (long i = 0; i < T; i++) memcpy(w->xin + i * C, E + (size_t)x[i] * C, sizeof(real) * C);

  for (int l = 0; l < L; l++) {
    int b = 1 + l * TT_PER_LAYER;
    real *xin = w->xin + l * TC, *xmid = w->xmid + l * TC;
    real *q = w->q + l * T * HD, *k = w->k + l * T * KD, *v = w->v + l * T * KD;
    real *att = w->att + l * T * HD, *lse = w->lse + (size_t)l * T * H;
    real *gate = w->gate + (size_t)l * T * F, *up = w->up + (size_t)l * T * F;
    TRF(rms_fwd)(p, w->xn, w->rs1 + l * T, xin, TRF(P)(t, b + TT_ATTN_NORM), T, C, eps);
    TRF(linear)(p, q, w->xn, TRF(P)(t, b + TT_Q), T, C, HD, 0);
    TRF(linear)(p, k, w->xn, TRF(P)(t, b + TT_K), T, C, KD, 0);
    TRF(linear)(p, v, w->xn, TRF(P)(t, b + TT_V), T, C, KD, 0);
    TRF(rope)(p, q, w->cos_t, w->sin_t, T, H, D, 0);
    TRF(rope)(p, k, w->cos_t, w->sin_t, T, K, D, 0);
    TRF(attn_fwd)(w, att, lse, q, k, v);
    memcpy(xmid, xin, sizeof(real) * TC);
    TRF(linear)(p, xmid, att, TRF(P)(t, b + TT_O), T, HD, C, 1);
    TRF(rms_fwd)(p, w->xn, w->rs2 + l * T, xmid, TRF(P)(t, b + TT_MLP_NORM), T, C, eps);
    TRF(linear)(p, gate, w->xn, TRF(P)(t, b + TT_GATE), T, C, F, 0);
    TRF(linear)(p, up, w->xn, TRF(P)(t, b + TT_UP), T, C, F, 0);
    TRF(swiglu_fwd)(p, w->act, gate, up, T * F);
    real *xout = l + 1 < L ? w->xin + (l + 1) * TC : w->xfin;
    memcpy(xout, xmid, sizeof(real) * TC);
    TRF(linear)(p, xout, w->act, TRF(P)(t, b + TT_DOWN), T, F, C, 1);
  }
  int fn = 1 + L * TT_PER_LAYER;
  TRF(rms_fwd)(p, w->xn, w->rsf, w->xfin, TRF(P)(t, fn), T, C, eps);
  double nll = TRF(lm_head)(w, w->xn, x + 1, TRF(P)(t, t->head_tensor), gs, backward, w->dxn,
                            TRF(G)(t, t->head_tensor));
  if (!backward) return nll;

  memset(w->dres, 0, sizeof(real) * TC);
  TRF(rms_bwd)(p, w->dres, TRF(G)(t, fn), w->dxn, w->xfin, w->rsf, TRF(P)(t, fn), T, C);
  for (int l = L - 1; l >= 0; l--) {
    int b = 1 + l * TT_PER_LAYER;
    real *xin = w->xin + l * TC, *xmid = w->xmid + l * TC;
    real *q = w->q + l * T * HD, *k = w->k + l * T * KD, *v = w->v + l * T * KD;
    real *att = w->att + l * T * HD, *lse = w->lse + (size_t)l * T * H;
    real *gate = w->gate + (size_t)l * T * F, *up = w->up + (size_t)l * T * F;
    // MLP: dres is the gradient of the layer's output
    TRF(swiglu_fwd)(p, w->act, gate, up, T * F);
    TRF(linear_dw)(p, TRF(G)(t, b + TT_DOWN), w->dres, w->act, T, F, C);
    TRF(linear_dx)(p, w->dact, w->dres, TRF(P)(t, b + TT_DOWN), T, F, C, 0);
    TRF(swiglu_bwd)(p, w->dact, w->act, gate, up, T * F);  // dact ← dgate, act ← dup
    TRF(rms_fwd)(p, w->xn, w->rs2 + l * T, xmid, TRF(P)(t, b + TT_MLP_NORM), T, C, eps);
    TRF(linear_dw)(p, TRF(G)(t, b + TT_GATE), w->dact, w->xn, T, C, F);
    TRF(linear_dw)(p, TRF(G)(t, b + TT_UP), w->act, w->xn, T, C, F);
    TRF(linear_dx)(p, w->dxn, w->dact, TRF(P)(t, b + TT_GATE), T, C, F, 0);
    TRF(linear_dx)(p, w->dxn, w->act, TRF(P)(t, b + TT_UP), T, C, F, 1);
    TRF(rms_bwd)(p, w->dres, TRF(G)(t, b + TT_MLP_NORM), w->dxn, xmid, w->rs2 + l * T,
                 TRF(P)(t, b + TT_MLP_NORM), T, C);
    // attention: dres is now the gradient of xmid
    TRF(linear_dw)(p, TRF(G)(t, b + TT_O), w->dres, att, T, HD, C);
    TRF(linear_dx)(p, w->datt, w->dres, TRF(P)(t, b + TT_O), T, HD, C, 0);
    TRF(attn_bwd)(w, w->dq, w->dk, w->dv, w->datt, att, lse, q, k, v);
    TRF(rope)(p, w->dq, w->cos_t, w->sin_t, T, H, D, 1);
    TRF(rope)(p, w->dk, w->cos_t, w->sin_t, T, K, D, 1);
    TRF(rms_fwd)(p, w->xn, w->rs1 + l * T, xin, TRF(P)(t, b + TT_ATTN_NORM), T, C, eps);
    TRF(linear_dw)(p, TRF(G)(t, b + TT_Q), w->dq, w->xn, T, C, HD);
    TRF(linear_dw)(p, TRF(G)(t, b + TT_K), w->dk, w->xn, T, C, KD);
    TRF(linear_dw)(p, TRF(G)(t, b + TT_V), w->dv, w->xn, T, C, KD);
    TRF(linear_dx)(p, w->dxn, w->dq, TRF(P)(t, b + TT_Q), T, C, HD, 0);
    TRF(linear_dx)(p, w->dxn, w->dk, TRF(P)(t, b + TT_K), T, C, KD, 1);
    TRF(linear_dx)(p, w->dxn, w->dv, TRF(P)(t, b + TT_V), T, C, KD, 1);
    TRF(rms_bwd)(p, w->dres, TRF(G)(t, b + TT_ATTN_NORM), w->dxn, xin, w->rs1 + l * T,
                 TRF(P)(t, b + TT_ATTN_NORM), T, C);
  }
  real *dE = TRF(G)(t, 0);
  for (long i = 0; i < T; i++) {
    real *row = dE + (size_t)x[i] * C;
    const real *d = w->dres + i * C;
    for (int c = 0; c < C; c++) row[c] += d[c];
  }
  return nll;
}

double TRF(tr_forward_backward)(Trainer *t, const int32_t *seqs, long n, double grad_scale,
                                int backward) {
  long T1 = t->cfg.seq_len + 1;
  double total = 0;
  for (long s = 0; s < n; s++) total += TRF(seq_pass)(t, seqs + s * T1, (real)grad_scale, backward);
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

double TRF(tr_grad_sumsq)(const Trainer *t) {
  const real *g = t->grads;
  double s = 0;
  long n = (long)t->n_params;
#pragma omp parallel for num_threads(t->threads) schedule(static) reduction(+ : s)
  for (long i = 0; i < n; i++) s += (double)g[i] * g[i];
  return s;
}

void TRF(tr_scale_grad)(Trainer *t, double s) {
  real *g = t->grads, f = (real)s;
  long n = (long)t->n_params;
#pragma omp parallel for num_threads(t->threads) schedule(static)
  for (long i = 0; i < n; i++) g[i] *= f;
}

// PyTorch's AdamW (single-tensor form): p ← p·(1 − lr·wd); m ← m + (1 − β1)(g − m);
// v ← β2·v + (1 − β2)·g²; p ← p − lr/(1 − β1^s) · m / (√v / √(1 − β2^s) + eps).
void TRF(tr_adamw)(Trainer *t, double lr) {
  const TrainConfig *c = &t->cfg;
  t->step++;
  double bc1 = 1.0 - pow(c->beta1, (double)t->step), bc2 = 1.0 - pow(c->beta2, (double)t->step);
  real step_size = (real)(lr / bc1), bc2_sqrt = (real)sqrt(bc2), eps = (real)c->adam_eps;
  real b2 = (real)c->beta2, one_b1 = (real)(1.0 - c->beta1), one_b2 = (real)(1.0 - c->beta2);
  real *P = t->params, *G = t->grads, *M = t->adam_m, *Vv = t->adam_v;
  for (int i = 0; i < t->n_tensors; i++) {
    const TrainTensor *tt = &t->tensors[i];
    real decay = tt->decay ? (real)(1.0 - lr * c->weight_decay) : (real)1;
    long o = (long)tt->offset, n = (long)tt->numel;
#pragma omp parallel for num_threads(t->threads) schedule(static) if (n > 4096)
    for (long j = o; j < o + n; j++) {
      real g = G[j];
      P[j] *= decay;
      M[j] += one_b1 * (g - M[j]);
      Vv[j] = Vv[j] * b2 + one_b2 * g * g;
      real denom = (real)sqrt(Vv[j]) / bc2_sqrt + eps;
      P[j] -= step_size * (M[j] / denom);
    }
  }
}
