// backend_cpu.c — the CPU backend: sgemm from OpenBLAS (its own threads), everything else in plain
// C with OpenMP over rows, heads or blocks. The reference engine: every number comes from here.
// Legend: T tokens (rows), C channels, V vocab, H query heads, K kv heads, D head dim,
//         R rotary dims, F intermediate, N output features, Tk keys in the buffer.
#include <cblas.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "util.h"

// Declared by OpenBLAS's cblas.h; repeated so that a reference cblas.h also compiles.
void openblas_set_num_threads(int num_threads);

enum {
  ATT_BQ = 32,    // queries per attention block
  ATT_BK = 64,    // keys per attention block
  LM_BT = 64,     // tokens per LM-head block: holds LM_BT × V logits
  PAR_MIN = 4096  // elements below which an op stays on one thread
};

static int cpu_set_threads(int threads) {
  int n = threads > 0 ? threads : omp_get_num_procs();
  omp_set_num_threads(n);
  openblas_set_num_threads(n);
  return n;
}

static void *cpu_alloc(size_t bytes) { return malloc(bytes ? bytes : 1); }
static void cpu_free(void *p) { free(p); }
static void cpu_copy(void *dst, const void *src, size_t bytes) {
  if (bytes) memcpy(dst, src, bytes);
}

// y[T, N] = x[T, Cin] · w[N, Cin]ᵀ + b[N]
static void cpu_matmul(float *y, const float *x, const float *w, const float *b, long T, int Cin,
                       int N) {
  CHECK(T >= 0 && T <= INT_MAX);
  if (T == 0) return;
  float beta = 0.0f;
  if (b) {
    for (long t = 0; t < T; t++) memcpy(y + t * N, b, (size_t)N * sizeof(float));
    beta = 1.0f;
  }
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)T, N, Cin, 1.0f, x, Cin, w, Cin, beta,
              y, N);
}

// y[T, C] = x / sqrt(mean(x²) + eps) · w
static void cpu_rmsnorm(float *y, const float *x, const float *w, long T, int C, float eps,
                        int fp64) {
#pragma omp parallel for if (T * C > PAR_MIN) schedule(static)
  for (long t = 0; t < T; t++) {
    const float *xr = x + t * C;
    float *yr = y + t * C;
    if (fp64) {
      double ss = 0.0;
      for (int c = 0; c < C; c++) ss += (double)xr[c] * xr[c];
      double r = 1.0 / sqrt(ss / C + eps);
      for (int c = 0; c < C; c++) yr[c] = (float)(xr[c] * r) * w[c];
    } else {
      float ss = 0.0f;
#pragma omp simd reduction(+ : ss)
      for (int c = 0; c < C; c++) ss += xr[c] * xr[c];
      float r = 1.0f / sqrtf(ss / (float)C + eps);
      for (int c = 0; c < C; c++) yr[c] = (xr[c] * r) * w[c];
    }
  }
}

// y[T, C] = (x − mean) / sqrt(var + eps) · w + b
static void cpu_layernorm(float *y, const float *x, const float *w, const float *b, long T, int C,
                          float eps, int fp64) {
#pragma omp parallel for if (T * C > PAR_MIN) schedule(static)
  for (long t = 0; t < T; t++) {
    const float *xr = x + t * C;
    float *yr = y + t * C;
    if (fp64) {
      double mean = 0.0, var = 0.0;
      for (int c = 0; c < C; c++) mean += xr[c];
      mean /= C;
      for (int c = 0; c < C; c++) var += (xr[c] - mean) * (xr[c] - mean);
      double r = 1.0 / sqrt(var / C + eps);
      for (int c = 0; c < C; c++) yr[c] = (float)((xr[c] - mean) * r) * w[c] + (b ? b[c] : 0.0f);
    } else {
      float mean = 0.0f, var = 0.0f;
#pragma omp simd reduction(+ : mean)
      for (int c = 0; c < C; c++) mean += xr[c];
      mean /= (float)C;
#pragma omp simd reduction(+ : var)
      for (int c = 0; c < C; c++) var += (xr[c] - mean) * (xr[c] - mean);
      float r = 1.0f / sqrtf(var / (float)C + eps);
      for (int c = 0; c < C; c++) yr[c] = ((xr[c] - mean) * r) * w[c] + (b ? b[c] : 0.0f);
    }
  }
}

// x[T, C] = table[ids[t], :]
static void cpu_embedding(float *x, const float *table, const int32_t *ids, long T, int C) {
  for (long t = 0; t < T; t++)
    memcpy(x + t * C, table + (size_t)ids[t] * C, (size_t)C * sizeof(float));
}

// cos/sin[T, R/2] of pos[t] · inv_freq[i], in double, times scale.
static void cpu_rope_table(float *cos_t, float *sin_t, const double *pos, const double *inv_freq,
                           long T, int half, double scale) {
#pragma omp parallel for if (T * half > PAR_MIN) schedule(static)
  for (long t = 0; t < T; t++)
    for (int i = 0; i < half; i++) {
      double angle = pos[t] * inv_freq[i];
      cos_t[t * half + i] = (float)(cos(angle) * scale);
      sin_t[t * half + i] = (float)(sin(angle) * scale);
    }
}

// In place on x[T, NH, D]: rotate pairs (i, i + R/2) of each head by row t's angles.
static void cpu_rope_apply(float *x, const float *cos_t, const float *sin_t, long T, int NH, int D,
                           int R) {
  int half = R / 2;
  if (half == 0) return;
#pragma omp parallel for if (T * NH * R > PAR_MIN) schedule(static)
  for (long t = 0; t < T; t++) {
    const float *c = cos_t + t * half, *s = sin_t + t * half;
    for (int h = 0; h < NH; h++) {
      float *a = x + (t * NH + h) * D, *b = a + half;
#pragma omp simd
      for (int i = 0; i < half; i++) {
        float ai = a[i], bi = b[i];
        a[i] = ai * c[i] - bi * s[i];
        b[i] = bi * c[i] + ai * s[i];
      }
    }
  }
}

static inline float dot_f32(const float *a, const float *b, int n) {
  float s = 0.0f;
#pragma omp simd reduction(+ : s)
  for (int i = 0; i < n; i++) s += a[i] * b[i];
  return s;
}

// First key index visible to query key-index qi (inclusive).
static inline long att_first_key(long qi, long window) {
  return (window > 0 && qi - window + 1 > 0) ? qi - window + 1 : 0;
}

// fp32: one (head, block of ATT_BQ queries) at a time, keys in blocks of ATT_BK; each block's
// scores update a running max m, sum l and weighted value sum acc per query (online softmax).
static void attention_f32(float *out, const float *q, const float *k, const float *v, long Tq,
                          long q0, int H, int K, int D, float scale, long window) {
  long nqb = (Tq + ATT_BQ - 1) / ATT_BQ;
  int rep = H / K;
#pragma omp parallel
  {
    float *S = xmalloc(sizeof(float) * ATT_BQ * ATT_BK);  // [BQ, BK] scores, then weights
    float *acc = xmalloc(sizeof(float) * ATT_BQ * D);     // [BQ, D]
    float m[ATT_BQ], l[ATT_BQ];
#pragma omp for schedule(dynamic, 1)
    for (long w = 0; w < (long)H * nqb; w++) {
      int h = (int)(w % H);
      long qb = nqb - 1 - w / H;  // longest (latest) blocks first
      int g = h / rep;
      long i0 = qb * ATT_BQ;
      int nq = (int)(Tq - i0 < ATT_BQ ? Tq - i0 : ATT_BQ);
      long hi = q0 + i0 + nq - 1;               // last key any query here sees
      long lo = att_first_key(q0 + i0, window);  // first key any query here sees
      for (int i = 0; i < nq; i++) {
        m[i] = -INFINITY;
        l[i] = 0.0f;
      }
      memset(acc, 0, sizeof(float) * (size_t)nq * D);
      for (long j0 = lo; j0 <= hi; j0 += ATT_BK) {
        int nk = (int)(hi + 1 - j0 < ATT_BK ? hi + 1 - j0 : ATT_BK);
        for (int i = 0; i < nq; i++) {
          long qi = q0 + i0 + i;
          long first = att_first_key(qi, window);
          if (j0 > qi || j0 + nk <= first) continue;  // no visible key in this block
          const float *qr = q + ((i0 + i) * H + h) * D;
          float *s = S + i * ATT_BK;
          float mx = -INFINITY;
          for (int j = 0; j < nk; j++) {
            long kj = j0 + j;
            if (kj > qi || kj < first) {
              s[j] = -INFINITY;
              continue;
            }
            s[j] = dot_f32(qr, k + (kj * K + g) * D, D) * scale;
            if (s[j] > mx) mx = s[j];
          }
          float mnew = mx > m[i] ? mx : m[i];
          float corr = expf(m[i] - mnew);  // 0 on the first visible block (m = −inf)
          float *a = acc + i * D;
          float sum = 0.0f;
          for (int j = 0; j < nk; j++) {
            s[j] = expf(s[j] - mnew);
            sum += s[j];
          }
          l[i] = l[i] * corr + sum;
          m[i] = mnew;
          if (corr != 1.0f) {
#pragma omp simd
            for (int d = 0; d < D; d++) a[d] *= corr;
          }
          for (int j = 0; j < nk; j++) {
            float p = s[j];
            if (p == 0.0f) continue;
            const float *vr = v + ((j0 + j) * K + g) * D;
#pragma omp simd
            for (int d = 0; d < D; d++) a[d] += p * vr[d];
          }
        }
      }
      for (int i = 0; i < nq; i++) {
        float *o = out + ((i0 + i) * H + h) * D;
        float inv = 1.0f / l[i];
        for (int d = 0; d < D; d++) o[d] = acc[i * D + d] * inv;
      }
    }
    free(S);
    free(acc);
  }
}

// fp64 check mode: one query at a time, every reduction in double, same online softmax.
static void attention_f64(float *out, const float *q, const float *k, const float *v, long Tq,
                          long q0, int H, int K, int D, double scale, long window) {
  int rep = H / K;
#pragma omp parallel
  {
    double *acc = xmalloc(sizeof(double) * D);
#pragma omp for collapse(2) schedule(dynamic, 16)
    for (long i = 0; i < Tq; i++)
      for (int h = 0; h < H; h++) {
        int g = h / rep;
        long qi = q0 + i;
        const float *qr = q + (i * H + h) * D;
        double m = -INFINITY, l = 0.0;
        memset(acc, 0, sizeof(double) * D);
        for (long j = att_first_key(qi, window); j <= qi; j++) {
          const float *kr = k + (j * K + g) * D, *vr = v + (j * K + g) * D;
          double s = 0.0;
          for (int d = 0; d < D; d++) s += (double)qr[d] * kr[d];
          s *= scale;
          if (s > m) {
            double corr = exp(m - s);
            l *= corr;
            for (int d = 0; d < D; d++) acc[d] *= corr;
            m = s;
          }
          double p = exp(s - m);
          l += p;
          for (int d = 0; d < D; d++) acc[d] += p * vr[d];
        }
        float *o = out + (i * H + h) * D;
        for (int d = 0; d < D; d++) o[d] = (float)(acc[d] / l);
      }
    free(acc);
  }
}

static void cpu_attention(float *out, const float *q, const float *k, const float *v, long Tq,
                          long Tk, long q0, int H, int K, int D, float scale, long window,
                          int fp64) {
  CHECK(K > 0 && H % K == 0 && q0 >= 0 && q0 + Tq <= Tk);
  if (Tq == 0) return;
  if (fp64)
    attention_f64(out, q, k, v, Tq, q0, H, K, D, scale, window);
  else
    attention_f32(out, q, k, v, Tq, q0, H, K, D, scale, window);
}

// a[T, F] = silu(a) · b
static void cpu_silu_mul(float *a, const float *b, long T, int F) {
  long n = T * F;
#pragma omp parallel for if (n > PAR_MIN) schedule(static)
  for (long i = 0; i < n; i++) a[i] = a[i] / (1.0f + expf(-a[i])) * b[i];
}

// a[T, F] = a · ½(1 + erf(a / √2))
static void cpu_gelu(float *a, long T, int F) {
  long n = T * F;
#pragma omp parallel for if (n > PAR_MIN) schedule(static)
  for (long i = 0; i < n; i++) a[i] = 0.5f * a[i] * (1.0f + erff(a[i] * (float)M_SQRT1_2));
}

static void cpu_add(float *y, const float *x, long n) {
#pragma omp parallel for simd if (n > PAR_MIN) schedule(static)
  for (long i = 0; i < n; i++) y[i] += x[i];
}

// Log-softmax statistics of one row of logits[V]: nll of target, first argmax.
static void lm_row(const float *lg, int V, int target, int fp64, float *nll, int32_t *argmax) {
  int best = 0;
  float mx = lg[0];
  for (int i = 1; i < V; i++)
    if (lg[i] > mx) {
      mx = lg[i];
      best = i;
    }
  *argmax = best;
  if (fp64) {
    double sum = 0.0;
    for (int i = 0; i < V; i++) sum += exp((double)lg[i] - mx);
    *nll = (float)(mx + log(sum) - lg[target]);
  } else {
    float sum = 0.0f;
    for (int i = 0; i < V; i++) sum += expf(lg[i] - mx);
    *nll = (mx + logf(sum)) - lg[target];
  }
}

static void cpu_lm_head_nll(float *nll, int32_t *argmax, const float *h, const float *w,
                            const int32_t *target, long T, int C, int V, int fp64) {
  if (T == 0) return;
  long bt = T < LM_BT ? T : LM_BT;
  float *logits = xmalloc(sizeof(float) * (size_t)bt * V);  // [LM_BT, V]
  for (long t0 = 0; t0 < T; t0 += LM_BT) {
    long n = T - t0 < LM_BT ? T - t0 : LM_BT;
    cpu_matmul(logits, h + t0 * C, w, NULL, n, C, V);
#pragma omp parallel for schedule(static)
    for (long i = 0; i < n; i++)
      lm_row(logits + i * V, V, target[t0 + i], fp64, &nll[t0 + i], &argmax[t0 + i]);
  }
  free(logits);
}

static const Backend backend_cpu_ops = {
    .name = "cpu",
    .set_threads = cpu_set_threads,
    .alloc = cpu_alloc,
    .free = cpu_free,
    .upload = cpu_copy,
    .download = cpu_copy,
    .matmul = cpu_matmul,
    .rmsnorm = cpu_rmsnorm,
    .layernorm = cpu_layernorm,
    .embedding = cpu_embedding,
    .rope_table = cpu_rope_table,
    .rope_apply = cpu_rope_apply,
    .attention = cpu_attention,
    .silu_mul = cpu_silu_mul,
    .gelu = cpu_gelu,
    .add = cpu_add,
    .lm_head_nll = cpu_lm_head_nll,
};

const Backend *backend_cpu(void) { return &backend_cpu_ops; }
