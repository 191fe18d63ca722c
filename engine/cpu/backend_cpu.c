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
#include "attention_cpu.h"
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
