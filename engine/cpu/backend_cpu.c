// backend_cpu.c — the CPU backend: sgemm from OpenBLAS (one slice per OpenMP thread), everything
// else in plain C with OpenMP over rows, heads or blocks, hot loops in 8-lane vectors (cpu_vec.h).
// The reference engine: every number comes from here. The KV-cache ops of the decode protocol are
// in backend_cpu_kv.c.
// Legend: T tokens (rows), C channels, V vocab, H query heads, K kv heads, D head dim,
//         R rotary dims, F intermediate, N output features, Tk keys in the buffer.
#include <cblas.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "backend_cpu_kv.h"
#include "cpu_vec.h"
#include "matmul_few.h"
#include "util.h"

#ifdef _OPENMP
#include <omp.h>
#else  // built without OpenMP (e.g. the fuzzing build): one thread
static int omp_get_num_procs(void) { return 1; }
static int omp_get_max_threads(void) { return 1; }
static void omp_set_num_threads(int n) { (void)n; }
#endif

// Declared by OpenBLAS's cblas.h; repeated so that a reference cblas.h also compiles.
void openblas_set_num_threads(int num_threads);

enum {
  ATT_BQ = 64,    // queries per attention block
  ATT_BK = 64,    // keys per attention block
  PAR_MIN = 4096  // elements below which an op stays on one thread
};

// One pool of threads: OpenMP's. OpenBLAS runs single-threaded inside each OpenMP thread (two
// pools spinning against each other on the same cores cost up to 3× on small machines).
static int cpu_set_threads(int threads) {
  int n = threads > 0 ? threads : omp_get_num_procs();
  omp_set_num_threads(n);
  openblas_set_num_threads(1);
  return n;
}

static void *cpu_alloc(size_t bytes) { return malloc(bytes ? bytes : 1); }
static void cpu_free(void *p) { free(p); }
static void cpu_copy(void *dst, const void *src, size_t bytes) {
  if (bytes) memcpy(dst, src, bytes);
}

// y[rows, cols] (row stride N) = x[rows, Cin] · w[cols, Cin]ᵀ + b[cols], one thread.
static void sgemm_part(float *y, const float *x, const float *w, const float *b, long rows,
                       int Cin, int cols, int N) {
  if (rows <= 0 || cols <= 0) return;
  float beta = 0.0f;
  if (b) {
    for (long t = 0; t < rows; t++) memcpy(y + t * N, b, (size_t)cols * sizeof(float));
    beta = 1.0f;
  }
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows, cols, Cin, 1.0f, x, Cin, w, Cin,
              beta, y, N);
}

// y[T, N] = x[T, Cin] · w[N, Cin]ᵀ + b[N]: a few rows (decode steps) read w once (matmul_few.c);
// more go to sgemm, split over output features (each thread packs its slice of w once), or over
// rows when there are too few features for the threads.
static void cpu_matmul(float *y, const float *x, const void *wv, const float *b, long T, int Cin,
                       int N) {
  const float *w = wv;
  CHECK(T >= 0 && T <= INT_MAX);
  if (T == 0) return;
  if (T <= MATMUL_FEW_ROWS) {
    matmul_few(y, x, w, b, (int)T, Cin, N);
    return;
  }
  int p = omp_get_max_threads();
  if (p == 1 || (double)T * N * Cin < 262144.0) {
    sgemm_part(y, x, w, b, T, Cin, N, N);
  } else if (N >= 32 * p) {
    int chunk = ((N + p - 1) / p + 15) / 16 * 16;
#pragma omp parallel for schedule(static)
    for (int i = 0; i < p; i++) {
      int n0 = i * chunk, n1 = n0 + chunk < N ? n0 + chunk : N;
      if (n0 >= N) continue;
      sgemm_part(y + n0, x, w + (size_t)n0 * Cin, b ? b + n0 : NULL, T, Cin, n1 - n0, N);
    }
  } else {
    long chunk = (T + p - 1) / p;
#pragma omp parallel for schedule(static)
    for (int i = 0; i < p; i++) {
      long t0 = i * chunk, t1 = t0 + chunk < T ? t0 + chunk : T;
      if (t0 >= T) continue;
      sgemm_part(y + t0 * N, x + t0 * Cin, w, b, t1 - t0, Cin, N, N);
    }
  }
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
static void cpu_embedding(float *x, const void *tablev, const int32_t *ids, long T, int C) {
  const float *table = tablev;
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

// First key index visible to query key-index qi (inclusive).
static inline long att_first_key(long qi, long window) {
  return (window > 0 && qi - window + 1 > 0) ? qi - window + 1 : 0;
}

// Per-thread scratch of the fp32 attention; Dp = D rounded up to 8 (padding lanes hold zeros).
typedef struct {
  int Dp;
  float *q;    // [BQ, Dp] the block's queries
  float *kt;   // [Dp, BK] the key block, transposed
  float *v;    // [BK, Dp] the value block
  float *s;    // [BQ, BK] scores, then softmax weights of this key block
  float *acc;  // [BQ, Dp] weighted value sums
  float m[ATT_BQ], l[ATT_BQ], corr[ATT_BQ];  // running max, running sum, rescale of this block
} AttScratch;

static void att_scratch_init(AttScratch *w, int D) {
  w->Dp = (D + 7) / 8 * 8;
  w->q = xcalloc((size_t)ATT_BQ * w->Dp, sizeof(float));
  w->kt = xcalloc((size_t)w->Dp * ATT_BK, sizeof(float));
  w->v = xcalloc((size_t)ATT_BK * w->Dp, sizeof(float));
  w->s = xcalloc((size_t)ATT_BQ * ATT_BK, sizeof(float));
  w->acc = xcalloc((size_t)ATT_BQ * w->Dp, sizeof(float));
}

static void att_scratch_free(AttScratch *w) {
  free(w->q);
  free(w->kt);
  free(w->v);
  free(w->s);
  free(w->acc);
}

// s[nq, BK] = q[nq, Dp] · kt[Dp, BK], four query rows × 16 keys per register tile (written out:
// compilers keep named vectors in registers, arrays of them on the stack).
CPU_INLINE void att_scores(AttScratch *w, int nq) {
  int Dp = w->Dp;
  for (int i = 0; i < nq; i += 4) {
    int nr = nq - i < 4 ? nq - i : 4;
    const float *q0 = w->q + i * Dp, *q1 = q0 + Dp, *q2 = q1 + Dp, *q3 = q2 + Dp;
    for (int jb = 0; jb < ATT_BK; jb += 16) {
      v8f a0 = {0}, b0 = {0}, a1 = {0}, b1 = {0}, a2 = {0}, b2 = {0}, a3 = {0}, b3 = {0};
      const float *kt = w->kt + jb;
      for (int d = 0; d < Dp; d++, kt += ATT_BK) {  // rows past nq hold zeros
        v8f k0 = v8_load(kt), k1 = v8_load(kt + 8);
        a0 += q0[d] * k0;
        b0 += q0[d] * k1;
        a1 += q1[d] * k0;
        b1 += q1[d] * k1;
        a2 += q2[d] * k0;
        b2 += q2[d] * k1;
        a3 += q3[d] * k0;
        b3 += q3[d] * k1;
      }
      v8f out[8] = {a0, b0, a1, b1, a2, b2, a3, b3};
      for (int r = 0; r < nr; r++) {
        v8_store(w->s + (i + r) * ATT_BK + jb, out[2 * r]);
        v8_store(w->s + (i + r) * ATT_BK + jb + 8, out[2 * r + 1]);
      }
    }
  }
}

// Row r of a four-row tile at dims [db, db + 8), rescaled: acc · corr (zero past the nr rows).
#define ACC_ROW(r, db) \
  (nr > (r) ? v8_load(acc + (r) * Dp + (db)) * w->corr[i + (r)] : v8_splat(0.0f))

// acc[nq, Dp] = acc · corr + s[nq, BK] · v[BK, Dp] over the first nk keys: four rows × 16 dims per
// register tile (each weight loaded once for two vectors of values), then four rows × 8 dims for
// a last 8; every output the same sum in the same order either way.
CPU_INLINE void att_accumulate(AttScratch *w, int nq, int nk) {
  int Dp = w->Dp;
  for (int i = 0; i < nq; i += 4) {
    int nr = nq - i < 4 ? nq - i : 4;
    const float *s0 = w->s + i * ATT_BK, *s1 = s0 + ATT_BK, *s2 = s1 + ATT_BK, *s3 = s2 + ATT_BK;
    float *acc = w->acc + i * Dp;
    int db = 0;
    for (; db + 16 <= Dp; db += 16) {  // rows past nq: zero weights and accumulators, never stored
      v8f o0 = ACC_ROW(0, db), o1 = ACC_ROW(1, db), o2 = ACC_ROW(2, db), o3 = ACC_ROW(3, db);
      v8f p0 = ACC_ROW(0, db + 8), p1 = ACC_ROW(1, db + 8), p2 = ACC_ROW(2, db + 8),
          p3 = ACC_ROW(3, db + 8);
      const float *vj = w->v + db;
      for (int j = 0; j < nk; j++, vj += Dp) {
        v8f x = v8_load(vj), y = v8_load(vj + 8);
        o0 += s0[j] * x, p0 += s0[j] * y;
        o1 += s1[j] * x, p1 += s1[j] * y;
        o2 += s2[j] * x, p2 += s2[j] * y;
        o3 += s3[j] * x, p3 += s3[j] * y;
      }
      v8f os[4] = {o0, o1, o2, o3}, ps[4] = {p0, p1, p2, p3};
      for (int r = 0; r < nr; r++) {
        v8_store(acc + r * Dp + db, os[r]);
        v8_store(acc + r * Dp + db + 8, ps[r]);
      }
    }
    for (; db < Dp; db += 8) {
      v8f o0 = ACC_ROW(0, db), o1 = ACC_ROW(1, db), o2 = ACC_ROW(2, db), o3 = ACC_ROW(3, db);
      const float *vj = w->v + db;
      for (int j = 0; j < nk; j++, vj += Dp) {
        v8f x = v8_load(vj);
        o0 += s0[j] * x;
        o1 += s1[j] * x;
        o2 += s2[j] * x;
        o3 += s3[j] * x;
      }
      v8f os[4] = {o0, o1, o2, o3};
      for (int r = 0; r < nr; r++) v8_store(acc + r * Dp + db, os[r]);
    }
  }
}
#undef ACC_ROW

// One (head h, block of nq ≤ ATT_BQ queries starting at i0). Keys go by blocks of ATT_BK; each
// block's scores update a running max m, sum l and weighted value sum acc per query (online
// softmax): m' = max(m, max_j s_j), l' = l·e^(m−m') + Σ e^(s_j−m'), acc' = acc·e^(m−m') + Σ e^(s_j−m')·v_j.
CPU_HOT static void att_block_f32(float *out, const float *q, const float *k, const float *v,
                                  long i0, int nq, long q0, int h, int H, int K, int D,
                                  float scale, long window, AttScratch *w) {
  int g = h / (H / K), Dp = w->Dp;
  memset(w->q, 0, sizeof(float) * ATT_BQ * Dp);
  memset(w->acc, 0, sizeof(float) * ATT_BQ * Dp);
  memset(w->s, 0, sizeof(float) * ATT_BQ * ATT_BK);
  for (int i = 0; i < nq; i++) {
    memcpy(w->q + i * Dp, q + ((i0 + i) * H + h) * D, sizeof(float) * D);
    w->m[i] = -INFINITY;
    w->l[i] = 0.0f;
  }
  long hi = q0 + i0 + nq - 1;               // last key any query here sees
  long lo = att_first_key(q0 + i0, window);  // first key any query here sees
  for (long j0 = lo; j0 <= hi; j0 += ATT_BK) {
    int nk = (int)(hi + 1 - j0 < ATT_BK ? hi + 1 - j0 : ATT_BK);
    for (int j = 0; j < nk; j++) {
      const float *kr = k + ((j0 + j) * K + g) * D;
      for (int d = 0; d < D; d++) w->kt[d * ATT_BK + j] = kr[d];
      memcpy(w->v + j * Dp, v + ((j0 + j) * K + g) * D, sizeof(float) * D);
    }
    for (int j = nk; j < ATT_BK; j++) {  // a short last block: zero keys and values
      for (int d = 0; d < D; d++) w->kt[d * ATT_BK + j] = 0.0f;
      memset(w->v + j * Dp, 0, sizeof(float) * Dp);
    }
    att_scores(w, nq);
    for (int i = 0; i < nq; i++) {
      long qi = q0 + i0 + i;
      long jlo = att_first_key(qi, window) - j0, jhi = qi - j0 + 1;  // visible: [jlo, jhi)
      float *s = w->s + i * ATT_BK;
      if (jlo < 0) jlo = 0;
      if (jhi > nk) jhi = nk;
      if (jlo >= jhi) {  // no visible key in this block: weights 0, nothing rescaled
        memset(s, 0, sizeof(float) * ATT_BK);
        w->corr[i] = 1.0f;
        continue;
      }
      v8f mx = v8_splat(-INFINITY);
      for (int jb = 0; jb < ATT_BK; jb += 8) {
        v8i j = {jb, jb + 1, jb + 2, jb + 3, jb + 4, jb + 5, jb + 6, jb + 7};
        v8i vis = (j >= (int)jlo) & (j < (int)jhi);
        v8f x = v8_select(vis, v8_load(s + jb) * scale, v8_splat(-INFINITY));
        v8_store(s + jb, x);
        mx = v8_max(mx, x);
      }
      float mnew = fmaxf(w->m[i], v8_hmax(mx));
      v8f sum = v8_splat(0.0f);
      for (int jb = 0; jb < ATT_BK; jb += 8) {
        v8f p = v8_exp(v8_load(s + jb) - mnew);
        v8_store(s + jb, p);
        sum += p;
      }
      w->corr[i] = vexpf(w->m[i] - mnew);  // 0 on the first visible block (m = −inf)
      w->l[i] = w->l[i] * w->corr[i] + v8_hsum(sum);
      w->m[i] = mnew;
    }
    att_accumulate(w, nq, nk);
  }
  for (int i = 0; i < nq; i++) {
    float *o = out + ((i0 + i) * H + h) * D;
    float inv = 1.0f / w->l[i];
    for (int d = 0; d < D; d++) o[d] = w->acc[i * Dp + d] * inv;
  }
}

static void attention_f32(float *out, const float *q, const float *k, const float *v, long Tq,
                          long q0, int H, int K, int D, float scale, long window) {
  long nqb = (Tq + ATT_BQ - 1) / ATT_BQ;
  double work = (double)Tq * (double)(q0 + Tq) * H * D;  // multiply-adds, at most
#pragma omp parallel if (work > 1048576.0)  // a single-token block stays on one thread
  {
    AttScratch w;
    att_scratch_init(&w, D);
#pragma omp for schedule(dynamic, 1)
    for (long b = 0; b < (long)H * nqb; b++) {
      int h = (int)(b % H);
      long qb = nqb - 1 - b / H;  // longest (latest) blocks first
      long i0 = qb * ATT_BQ;
      int nq = (int)(Tq - i0 < ATT_BQ ? Tq - i0 : ATT_BQ);
      att_block_f32(out, q, k, v, i0, nq, q0, h, H, K, D, scale, window, &w);
    }
    att_scratch_free(&w);
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

// a[T, F] = silu(a) · b = a / (1 + e^−a) · b
CPU_HOT static void cpu_silu_mul(float *a, const float *b, long T, int F) {
  long n = T * F, nv = n / 8;
#pragma omp parallel for if (n > PAR_MIN) schedule(static)
  for (long c = 0; c < nv; c++) {
    v8f x = v8_load(a + 8 * c);
    v8_store(a + 8 * c, x / (1.0f + v8_exp(-x)) * v8_load(b + 8 * c));
  }
  for (long i = 8 * nv; i < n; i++) a[i] = a[i] / (1.0f + vexpf(-a[i])) * b[i];
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
CPU_HOT static void lm_row(const float *lg, int V, int target, int fp64, float *nll,
                           int32_t *argmax) {
  // argmax: each lane keeps its first maximum; then the smallest index among the lanes' maxima
  int nv = V / 8 * 8;
  v8f vmax = v8_splat(-INFINITY);
  v8i vidx = {0}, idx = {0, 1, 2, 3, 4, 5, 6, 7};
  for (int i = 0; i < nv; i += 8, idx += 8) {
    v8f x = v8_load(lg + i);
    v8i gt = x > vmax;
    vmax = v8_select(gt, x, vmax);
    vidx = (gt & idx) | (~gt & vidx);
  }
  float mx = -INFINITY;
  int best = 0;
  for (int l = 0; l < 8 && nv > 0; l++)
    if (vmax[l] > mx || (vmax[l] == mx && vidx[l] < best)) {
      mx = vmax[l];
      best = vidx[l];
    }
  for (int i = nv; i < V; i++)
    if (lg[i] > mx || i == 0) {
      mx = lg[i];
      best = i;
    }
  *argmax = best;
  if (fp64) {
    double sum = 0.0;
    for (int i = 0; i < V; i++) sum += exp((double)lg[i] - mx);
    *nll = (float)(mx + log(sum) - lg[target]);
  } else {
    v8f vsum = v8_splat(0.0f);
    for (int i = 0; i < nv; i += 8) vsum += v8_exp(v8_load(lg + i) - mx);
    float sum = v8_hsum(vsum);
    for (int i = nv; i < V; i++) sum += vexpf(lg[i] - mx);
    *nll = (mx + logf(sum)) - lg[target];
  }
}

static void cpu_lm_head_nll(float *nll, int32_t *argmax, const float *h, const void *w,
                            const int32_t *target, long T, int C, int V, int fp64, float *logits,
                            long block) {
  CHECK(block > 0);
  for (long t0 = 0; t0 < T; t0 += block) {
    long n = T - t0 < block ? T - t0 : block;
    cpu_matmul(logits, h + t0 * C, w, NULL, n, C, V);
#pragma omp parallel for if (n * V > 16 * PAR_MIN) schedule(static)
    for (long i = 0; i < n; i++)
      lm_row(logits + i * V, V, target[t0 + i], fp64, &nll[t0 + i], &argmax[t0 + i]);
  }
}

// Host memory: nothing is queued and nothing fails after the call returns.
static int cpu_sync(BenchErr *err) {
  (void)err;
  return 0;
}

// The CPU reads the model's own fp32 weights: dst shares them (its layers array is its own).
static int cpu_weights_upload(ModelWeights *dst, const Model *m, BenchErr *err) {
  (void)err;
  *dst = m->weights;
  size_t L = (size_t)m->config.n_layers;
  dst->layers = xmalloc((L ? L : 1) * sizeof(LayerWeights));
  if (L) memcpy(dst->layers, m->weights.layers, L * sizeof(LayerWeights));
  return 0;
}

static void cpu_weights_free(ModelWeights *w) {
  free(w->layers);
  memset(w, 0, sizeof *w);
}

static const Backend backend_cpu_ops = {
    .name = "cpu",
    .weight_dtype = DTYPE_F32,
    .set_threads = cpu_set_threads,
    .alloc = cpu_alloc,
    .free = cpu_free,
    .upload = cpu_copy,
    .download = cpu_copy,
    .sync = cpu_sync,
    .weights_upload = cpu_weights_upload,
    .weights_free = cpu_weights_free,
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
    .kv_append = cpu_kv_append,
    .kv_move = cpu_kv_move,
    .kv_argmin = cpu_kv_argmin,
    .kv_gather = cpu_kv_gather,
    .decode_attention = cpu_decode_attention,
    .attention_weight_sums = cpu_attention_weight_sums,
};

const Backend *backend_cpu(void) { return &backend_cpu_ops; }
