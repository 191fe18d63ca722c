// backend_cpu_kv.c — the CPU backend's KV-cache ops for the decode protocol (backend.h, "the
// decode protocol's KV cache"; backend_cpu_kv.h): slot bookkeeping by memcpy/memmove, and the
// attention of one query per sequence over its slots (softmax in float, 8-lane vectors, one
// (sequence, kv head) per thread), with the weights a cache policy observes folded into its score.
// The CPU twins of engine/cuda/kv_cache.cu and engine/cuda/decode_attention.cu.
// Legend: S sequences, H query heads, K kv heads, G = H/K, D head dim, R rotary dims, n slots,
//         T tokens of a block, Q rows named by a list.
#include "backend_cpu_kv.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_vec.h"
#include "util.h"

// Work below which a loop stays on one thread (a parallel region costs more than it saves).
#define PAR_MIN_WORK 1048576.0

// ---- slot bookkeeping ----

void cpu_kv_append(float *kc, float *vc, float *score, int32_t *pos, const float *k,
                   const float *v, const int64_t *row0, long T, long per_seq, long slot0, long t0,
                   int K, int D) {
  CHECK(per_seq > 0);
  for (long i = 0; i < T; i++)
    for (int g = 0; g < K; g++) {
      long j = i % per_seq;
      size_t r = (size_t)(row0[(i / per_seq) * K + g] + slot0 + j);
      memcpy(kc + r * D, k + ((size_t)i * K + g) * D, (size_t)D * sizeof(float));
      memcpy(vc + r * D, v + ((size_t)i * K + g) * D, (size_t)D * sizeof(float));
      pos[r] = (int32_t)(t0 + j);
      if (score) score[r] = 0.0f;
    }
}

void cpu_kv_move(float *kc, float *vc, float *score, int32_t *pos, const int64_t *runs,
                 const int64_t *groups, long n_groups, int D) {
#pragma omp parallel for schedule(dynamic, 16) if (n_groups > 256)
  for (long e = 0; e < n_groups; e++)
    for (int64_t u = groups[e]; u < groups[e + 1]; u++) {
      size_t src = (size_t)runs[3 * u], dst = (size_t)runs[3 * u + 1];
      size_t count = (size_t)runs[3 * u + 2];
      if (count == 0 || src == dst) continue;
      memmove(kc + dst * D, kc + src * D, count * D * sizeof(float));
      memmove(vc + dst * D, vc + src * D, count * D * sizeof(float));
      memmove(pos + dst, pos + src, count * sizeof(int32_t));
      if (score) memmove(score + dst, score + src, count * sizeof(float));
    }
}

void cpu_kv_argmin(int32_t *idx, const float *score, const int64_t *row0, long Q, long m) {
  for (long q = 0; q < Q; q++) {
    const float *s = score + row0[q];
    long best = 0;
    for (long j = 1; j < m; j++)
      if (s[j] <= s[best]) best = j;
    idx[q] = (int32_t)best;
  }
}

void cpu_kv_gather(float *score_out, int32_t *pos_out, const float *score, const int32_t *pos,
                   const int64_t *row0, long Q, long n) {
  for (long q = 0; q < Q; q++) {
    memcpy(pos_out + q * n, pos + row0[q], (size_t)n * sizeof(int32_t));
    if (score_out) memcpy(score_out + q * n, score + row0[q], (size_t)n * sizeof(float));
  }
}

// ---- attention over slots ----

// Softmax over s[0..n) in place (float, max-subtracted): s becomes weights summing to 1.
CPU_INLINE void softmax_row(float *s, long n) {
  long n8 = n / 8 * 8;
  v8f vm = v8_splat(-INFINITY);
  for (long j = 0; j < n8; j += 8) vm = v8_max(vm, v8_load(s + j));
  float m = v8_hmax(vm);
  for (long j = n8; j < n; j++) m = s[j] > m ? s[j] : m;
  v8f vs = v8_splat(0.0f);
  for (long j = 0; j < n8; j += 8) {
    v8f e = v8_exp(v8_load(s + j) - m);
    v8_store(s + j, e);
    vs += e;
  }
  float sum = v8_hsum(vs);
  for (long j = n8; j < n; j++) {
    s[j] = vexpf(s[j] - m);
    sum += s[j];
  }
  float inv = 1.0f / sum;
  for (long j = 0; j < n; j++) s[j] *= inv;
}

// q·k[D] with 8 dims per vector, then the D mod 8 tail: the same arithmetic for every key,
// whichever group of keys it is computed with.
#define DOT_TAIL(d, q, k, D8, D)                      \
  for (int e_ = (D8); e_ < (D); e_++) (d) += (q)[e_] * (k)[e_]

// s[j] = q[D] · k[j, D] · scale for j in [j0, n), four keys at a time.
CPU_INLINE void slot_scores(float *s, const float *q, const float *k, long j0, long n, int D,
                            float scale) {
  int D8 = D / 8 * 8;
  long j = j0;
  for (; j + 4 <= n; j += 4) {
    const float *k0 = k + j * D, *k1 = k0 + D, *k2 = k1 + D, *k3 = k2 + D;
    v8f a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0};
    v8_dot4(q, k0, k1, k2, k3, D8, a0, a1, a2, a3);
    float d0 = v8_hsum(a0), d1 = v8_hsum(a1), d2 = v8_hsum(a2), d3 = v8_hsum(a3);
    DOT_TAIL(d0, q, k0, D8, D);
    DOT_TAIL(d1, q, k1, D8, D);
    DOT_TAIL(d2, q, k2, D8, D);
    DOT_TAIL(d3, q, k3, D8, D);
    s[j] = d0 * scale, s[j + 1] = d1 * scale, s[j + 2] = d2 * scale, s[j + 3] = d3 * scale;
  }
  for (; j < n; j++) {
    const float *k0 = k + j * D;
    v8f a0 = {0};
    for (int e = 0; e < D8; e += 8) a0 += v8_load(q + e) * v8_load(k0 + e);
    float d0 = v8_hsum(a0);
    DOT_TAIL(d0, q, k0, D8, D);
    s[j] = d0 * scale;
  }
}

// o[D] = Σ_{j ∈ [j0, n)} p[j] v[j, D], 8 dims per vector.
CPU_INLINE void weighted_values(float *o, const float *p, const float *v, long j0, long n, int D) {
  int D8 = D / 8 * 8;
  for (int e = 0; e < D8; e += 8) {
    v8f acc = v8_splat(0.0f);
    for (long j = j0; j < n; j++) acc += p[j] * v8_load(v + j * D + e);
    v8_store(o + e, acc);
  }
  for (int e = D8; e < D; e++) {
    float acc = 0.0f;
    for (long j = j0; j < n; j++) acc += p[j] * v[j * D + e];
    o[e] = acc;
  }
}

// dst[n, D] = src[n, D] rotated at slot positions 0..n−1 (cos_t, sin_t [n, R/2]), the arithmetic
// of the backend's rope_apply (kept out of the FMA-contracted clones so that both agree bit for
// bit: a cache that never evicts then computes exactly what rotating keys on insertion computes).
__attribute__((noinline)) static void rotate_slots(float *dst, const float *src, long n, int D,
                                                   int R, const float *cos_t,
                                                   const float *sin_t) {
  int half = R / 2;
  memcpy(dst, src, (size_t)n * D * sizeof(float));
  for (long s = 0; s < n; s++) {
    const float *cs = cos_t + s * half, *sn = sin_t + s * half;
    float *a = dst + s * D, *bb = a + half;
    for (int i = 0; i < half; i++) {
      float ai = a[i], bi = bb[i];
      a[i] = ai * cs[i] - bi * sn[i];
      bb[i] = bi * cs[i] + ai * sn[i];
    }
  }
}

// out[G, D] for the G query heads q[G, D] of one kv head over keys k[n, D], values v[n, D],
// slots [j0, n): softmax(q·k·scale) v. s[n] scratch; w[G rows, stride] the weights (0 before j0)
// when non-NULL.
CPU_HOT static void attend_slots(float *out, const float *q, const float *k, const float *v,
                                 long j0, long n, int G, int D, float scale, float *s, float *w,
                                 long stride) {
  for (int r = 0; r < G; r++) {
    slot_scores(s, q + (size_t)r * D, k, j0, n, D, scale);
    softmax_row(s + j0, n - j0);
    weighted_values(out + (size_t)r * D, s, v, j0, n, D);
    if (w) {
      float *wr = w + (size_t)r * stride;
      memset(wr, 0, (size_t)j0 * sizeof(float));
      memcpy(wr + j0, s + j0, (size_t)(n - j0) * sizeof(float));
    }
  }
}

// fp64 check mode of attend_slots: scores, softmax and sums in double; weights rounded to float.
// s[n] scratch.
static void attend_slots_f64(float *out, const float *q, const float *k, const float *v, long j0,
                             long n, int G, int D, double scale, double *s, float *w,
                             long stride) {
  for (int r = 0; r < G; r++) {
    const float *qr = q + (size_t)r * D;
    double m = -INFINITY, sum = 0.0;
    for (long j = j0; j < n; j++) {
      double d = 0.0;
      for (int e = 0; e < D; e++) d += (double)qr[e] * k[j * D + e];
      s[j] = d * scale;
      m = s[j] > m ? s[j] : m;
    }
    for (long j = j0; j < n; j++) {
      s[j] = exp(s[j] - m);
      sum += s[j];
    }
    for (int e = 0; e < D; e++) {
      double acc = 0.0;
      for (long j = j0; j < n; j++) acc += s[j] * v[j * D + e];
      out[(size_t)r * D + e] = (float)(acc / sum);
    }
    if (w) {
      float *wr = w + (size_t)r * stride;
      memset(wr, 0, (size_t)j0 * sizeof(float));
      for (long j = j0; j < n; j++) wr[j] = (float)(s[j] / sum);
    }
  }
}

// score[n] = (accumulate ? score : 0) + w[0] + w[1] + ... + w[G − 1] (rows `stride` apart), in
// float, one row after another.
static void fold_weights(float *score, const float *w, int G, long stride, long n,
                         int accumulate) {
  if (!accumulate) memset(score, 0, (size_t)n * sizeof(float));
  for (int r = 0; r < G; r++) {
    const float *row = w + (size_t)r * stride;
    for (long j = 0; j < n; j++) score[j] += row[j];
  }
}

// The first of n ascending positions that is ≥ lo (n when none is).
static long first_at_least(const int32_t *pos, long n, long lo) {
  long a = 0, b = n;
  while (a < b) {
    long mid = a + (b - a) / 2;
    if (pos[mid] >= lo) b = mid;
    else a = mid + 1;
  }
  return a;
}

void cpu_decode_attention(float *out, float *score, const float *q, const float *kc,
                          const float *vc, const int32_t *pos, const int64_t *row0, long S, long n,
                          long pos_lo, int H, int K, int D, float scale, const float *cos_t,
                          const float *sin_t, int R, int accumulate, int fp64) {
  CHECK(K > 0 && H % K == 0 && n >= 1 && (pos || pos_lo <= 0));
  int G = H / K, rotate = cos_t && R > 0;
  double work = (double)S * H * (double)n * D;  // multiply-adds
#pragma omp parallel if (work > PAR_MIN_WORK)
  {
    // per thread: rotated keys [n, D], scores [n] (double in fp64 mode), weights [G, n]
    float *keys = rotate ? xmalloc((size_t)n * D * sizeof(float)) : NULL;
    float *s = xmalloc((size_t)n * sizeof(double));
    float *w = score ? xmalloc((size_t)G * n * sizeof(float)) : NULL;
#pragma omp for schedule(dynamic, 1)
    for (long task = 0; task < S * K; task++) {
      int b = (int)(task / K), g = (int)(task % K);
      size_t r0 = (size_t)row0[task];
      const float *k = kc + r0 * D, *v = vc + r0 * D;
      if (rotate) {
        rotate_slots(keys, k, n, D, R, cos_t, sin_t);
        k = keys;
      }
      long j0 = pos_lo > 0 ? first_at_least(pos + r0, n, pos_lo) : 0;
      float *o = out + ((size_t)b * H + (size_t)g * G) * D;
      const float *qg = q + ((size_t)b * H + (size_t)g * G) * D;
      if (j0 >= n) {  // no visible slot: nothing attended, nothing observed
        memset(o, 0, (size_t)G * D * sizeof(float));
        if (w) memset(w, 0, (size_t)G * n * sizeof(float));
      } else if (fp64) {
        attend_slots_f64(o, qg, k, v, j0, n, G, D, scale, (double *)s, w, n);
      } else {
        attend_slots(o, qg, k, v, j0, n, G, D, scale, s, w, n);
      }
      if (w) fold_weights(score + r0, w, G, n, n, accumulate);
    }
    free(keys);
    free(s);
    free(w);
  }
}

// ---- the prefill's observed weights ----

// acc[T] = Σ_{i ∈ [T − obs, T)} softmax weights of query q_h[i] (rows H·D apart) over the keys
// kh[T, D] it sees (causal, window), in float; s[T] scratch.
CPU_HOT static void weight_sums_f32(float *acc, const float *qh, long qstride, const float *kh,
                                    long T, long obs, int D, float scale, long window, float *s) {
  memset(acc, 0, (size_t)T * sizeof(float));
  for (long i = T - obs; i < T; i++) {
    long j0 = window > 0 && i - window + 1 > 0 ? i - window + 1 : 0;
    slot_scores(s, qh + i * qstride, kh, j0, i + 1, D, scale);
    softmax_row(s + j0, i + 1 - j0);
    for (long j = j0; j <= i; j++) acc[j] += s[j];
  }
}

// The same in double (fp64 check mode); the sums rounded to float at the end.
static void weight_sums_f64(float *acc, const float *qh, long qstride, const float *kh, long T,
                            long obs, int D, double scale, long window, double *s) {
  double *a = s + T;
  memset(a, 0, (size_t)T * sizeof(double));
  for (long i = T - obs; i < T; i++) {
    long j0 = window > 0 && i - window + 1 > 0 ? i - window + 1 : 0;
    const float *qi = qh + i * qstride;
    double m = -INFINITY, sum = 0.0;
    for (long j = j0; j <= i; j++) {
      double d = 0.0;
      for (int e = 0; e < D; e++) d += (double)qi[e] * kh[j * D + e];
      s[j] = d * scale;
      m = s[j] > m ? s[j] : m;
    }
    for (long j = j0; j <= i; j++) {
      s[j] = exp(s[j] - m);
      sum += s[j];
    }
    for (long j = j0; j <= i; j++) a[j] += s[j] / sum;
  }
  for (long j = 0; j < T; j++) acc[j] = (float)a[j];
}

void cpu_attention_weight_sums(float *score, const float *q, const float *k, const int64_t *row0,
                               long T, long obs, int H, int K, int D, float scale, long window,
                               int accumulate, int fp64) {
  CHECK(K > 0 && H % K == 0 && obs >= 1 && obs <= T);
  int G = H / K;
  float *acc = xmalloc((size_t)H * T * sizeof(float));  // [H, T] per query head
  double work = (double)H * obs * T * D;
#pragma omp parallel if (work > PAR_MIN_WORK)
  {
    // per thread: this head's keys, contiguous [T, D]; scores [T] (fp64: [2T] doubles)
    float *kh = xmalloc((size_t)T * D * sizeof(float));
    double *s = xmalloc((size_t)T * 2 * sizeof(double));
#pragma omp for schedule(dynamic, 1)
    for (int h = 0; h < H; h++) {
      int g = h / G;
      for (long j = 0; j < T; j++)
        memcpy(kh + j * D, k + ((size_t)j * K + g) * D, (size_t)D * sizeof(float));
      if (fp64)
        weight_sums_f64(acc + (size_t)h * T, q + (size_t)h * D, (long)H * D, kh, T, obs, D, scale,
                        window, s);
      else
        weight_sums_f32(acc + (size_t)h * T, q + (size_t)h * D, (long)H * D, kh, T, obs, D, scale,
                        window, (float *)s);
    }
    free(kh);
    free(s);
  }
  for (int g = 0; g < K; g++)
    fold_weights(score + row0[g], acc + (size_t)g * G * T, G, T, T, accumulate);
  free(acc);
}
