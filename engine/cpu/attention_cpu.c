// attention_cpu.c — the CPU backend's causal attention (attention_cpu.h). fp32: each call lays its
// keys and values out by tiles of ATT_BK keys aligned to key 0 (keys transposed), then every (head,
// block of ATT_BQ queries) runs on one thread through the tiles its queries see, with an online
// softmax (attention_tile.h): tiles past the diagonal or before the window are never touched, and
// each tile is read once per query block. fp64 check mode: one query at a time, in double.
// Legend: Tq queries, Tk keys, H query heads, K kv heads, D head dim, Dp = D padded to 16,
//         BQ queries per block, BK keys per tile.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "attention_cpu.h"
#include "cpu_vec.h"
#include "util.h"

#ifdef _OPENMP
#include <omp.h>
#else  // built without OpenMP: one thread
static int omp_get_max_threads(void) { return 1; }
#endif

enum {
  ATT_BQ = 256,  // queries per block (a multiple of 8): each key tile read once per 256 queries
  ATT_BK = 64    // keys per tile (a multiple of 32)
};

// First key index visible to query key-index qi (inclusive).
static inline long att_first_key(long qi, long window) {
  return (window > 0 && qi - window + 1 > 0) ? qi - window + 1 : 0;
}

// A call's keys and values by tiles, from tile t0 (keys [t0·BK, t0·BK + BK)) on, `tiles` of them
// per kv head: kt[K, tiles, D, BK] (each tile transposed), vt[K, tiles, BK, Dp]; keys past Tk and
// dims past D hold zeros.
typedef struct {
  float *kt, *vt;
  long t0, tiles;
  int D, Dp;
} AttTiles;

// Per-thread scratch of one query block.
typedef struct {
  float *q;    // [BQ, Dp] the block's queries (rows past the block zero)
  float *s;    // [BQ, BK] scores, then weights, of the current tile
  float *acc;  // [BQ, Dp] weighted value sums
  float m[ATT_BQ], l[ATT_BQ], corr[ATT_BQ];  // running max, running sum, rescale of this tile
} AttScratch;

#define ATT_LANES 8
#define ATT_ATTR CPU_HOT
#define ATT_FN(name) name##_v8
#include "attention_tile.h"
#undef ATT_LANES
#undef ATT_ATTR
#undef ATT_FN

#ifdef CPU_AVX512
#define ATT_LANES 16
#define ATT_ATTR CPU_AVX512
#define ATT_FN(name) name##_v16
#include "attention_tile.h"
#undef ATT_LANES
#undef ATT_ATTR
#undef ATT_FN
#endif

static int att_lanes_forced;  // 0: the CPU's widest

static int att_lanes_now(void) {
  return att_lanes_forced ? att_lanes_forced : cpu_has_avx512() ? 16 : 8;
}

int cpu_attention_lanes(int lanes) {
  if (lanes != 0 && lanes != 8 && lanes != 16) return 0;
  if (lanes == 16 && !cpu_has_avx512()) return 0;
  att_lanes_forced = lanes;
  return att_lanes_now();
}

// Lays out keys [first, last] of every kv head by tiles (AttTiles).
static void att_tiles_fill(AttTiles *kv, const float *k, const float *v, long Tk, long first,
                           long last, int K, int D) {
  kv->D = D;
  kv->Dp = (D + 15) / 16 * 16;
  kv->t0 = first / ATT_BK;
  kv->tiles = last / ATT_BK - kv->t0 + 1;
  int Dp = kv->Dp;
  kv->kt = xmalloc(sizeof(float) * (size_t)K * kv->tiles * D * ATT_BK);
  kv->vt = xmalloc(sizeof(float) * (size_t)K * kv->tiles * ATT_BK * Dp);
  long n = (long)K * kv->tiles;
#pragma omp parallel for if (n * ATT_BK * D > 65536) schedule(static)
  for (long gt = 0; gt < n; gt++) {
    int g = (int)(gt / kv->tiles);
    long j0 = (kv->t0 + gt % kv->tiles) * ATT_BK;
    float *kt = kv->kt + gt * D * ATT_BK, *vt = kv->vt + gt * ATT_BK * Dp;
    for (int j = 0; j < ATT_BK; j++) {
      float *vr = vt + j * Dp;
      if (j0 + j < Tk) {
        const float *kr = k + ((j0 + j) * K + g) * D;
        for (int d = 0; d < D; d++) kt[d * ATT_BK + j] = kr[d];
        memcpy(vr, v + ((j0 + j) * K + g) * D, sizeof(float) * D);
        memset(vr + D, 0, sizeof(float) * (size_t)(Dp - D));
      } else {
        for (int d = 0; d < D; d++) kt[d * ATT_BK + j] = 0.0f;
        memset(vr, 0, sizeof(float) * Dp);
      }
    }
  }
}

static void attention_f32(float *out, const float *q, const float *k, const float *v, long Tq,
                          long Tk, long q0, int H, int K, int D, float scale, long window) {
  AttTiles kv;
  att_tiles_fill(&kv, k, v, Tk, att_first_key(q0, window), q0 + Tq - 1, K, D);
  int lanes = att_lanes_now();
  (void)lanes;  // one width only where the compiler has no AVX-512 target
  // Blocks of bq ≤ ATT_BQ queries: as tall as keeps every thread busy (a row's result does not
  // depend on its block: tiles are aligned to key 0), so short windows on many cores still split.
  long bq = ATT_BQ;
  while (bq > 64 && (long)H * ((Tq + bq - 1) / bq) < 4L * omp_get_max_threads()) bq /= 2;
  long nqb = (Tq + bq - 1) / bq;
  double work = (double)Tq * (double)(q0 + Tq) * H * D;  // multiply-adds, at most
#pragma omp parallel if (work > 1048576.0)  // a single-token block stays on one thread
  {
    AttScratch w;
    w.q = xcalloc((size_t)ATT_BQ * kv.Dp, sizeof(float));
    w.s = xcalloc((size_t)ATT_BQ * ATT_BK, sizeof(float));
    w.acc = xcalloc((size_t)ATT_BQ * kv.Dp, sizeof(float));
#pragma omp for schedule(dynamic, 1)
    for (long b = 0; b < (long)H * nqb; b++) {
      int h = (int)(b % H);
      long qb = nqb - 1 - b / H;  // longest (latest) blocks first
      long i0 = qb * bq;
      int nq = (int)(Tq - i0 < bq ? Tq - i0 : bq);
#ifdef CPU_AVX512
      if (lanes == 16) {
        att_block_v16(out, q, &kv, i0, nq, q0, h, H, K, scale, window, &w);
        continue;
      }
#endif
      att_block_v8(out, q, &kv, i0, nq, q0, h, H, K, scale, window, &w);
    }
    free(w.q);
    free(w.s);
    free(w.acc);
  }
  free(kv.kt);
  free(kv.vt);
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

void cpu_attention(float *out, const float *q, const float *k, const float *v, long Tq, long Tk,
                   long q0, int H, int K, int D, float scale, long window, int fp64) {
  CHECK(K > 0 && H % K == 0 && q0 >= 0 && q0 + Tq <= Tk);
  if (Tq == 0) return;
  if (fp64)
    attention_f64(out, q, k, v, Tq, q0, H, K, D, scale, window);
  else
    attention_f32(out, q, k, v, Tq, Tk, q0, H, K, D, scale, window);
}
