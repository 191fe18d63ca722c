// test_kv_ops.c — the CPU backend's KV-cache ops (backend.h, "the decode protocol's KV cache"),
// the twins the CUDA kernels are checked against, against plain double-precision references:
// decode_attention over scattered rooms (grouped queries, sliding-window cut by token index,
// keys rotated at slot positions, weights folded into scores by accumulation or replacement, fp32
// and fp64), attention_weight_sums (observed queries, windows), and the slot bookkeeping:
// kv_append, kv_move (overlapping runs applied in order), kv_argmin (ties: the newest), kv_gather.
// Legend: S sequences, H query heads, K kv heads, G = H/K, D head dim, R rotary dims, n slots,
//         T tokens of a block.
#include <math.h>
#include <stdlib.h>

#include "backend.h"
#include "test.h"

static float *randn(Rng *r, size_t n, double std) {
  float *p = xmalloc((n ? n : 1) * sizeof(float));
  for (size_t i = 0; i < n; i++) p[i] = (float)(std * rng_normal(r));
  return p;
}

// Key j of a room rotated at slot j (rotate_half layout), in double.
static void rotated_key(double *out, const float *k, long j, int D, int R, const float *cos_t,
                        const float *sin_t) {
  int half = R / 2;
  for (int e = 0; e < D; e++) out[e] = k[e];
  for (int i = 0; i < half && cos_t; i++) {
    double c = cos_t[j * half + i], s = sin_t[j * half + i];
    out[i] = (double)k[i] * c - (double)k[i + half] * s;
    out[i + half] = (double)k[i + half] * c + (double)k[i] * s;
  }
}

typedef struct {
  long S, n, pos_lo;
  int H, K, D, R, rotate, accumulate, fp64;
} DecodeCase;

static void check_decode_attention(Rng *r, DecodeCase c) {
  const Backend *be = backend_cpu();
  int G = c.H / c.K, half = c.R / 2;
  long room = c.n + 5, rooms = c.S * c.K + 1, rows = rooms * room;
  // rooms in a shuffled order, slot 0 at an offset inside each
  int64_t *row0 = xmalloc(sizeof(int64_t) * c.S * c.K);
  for (long i = 0; i < c.S * c.K; i++) row0[i] = (rooms - 1 - i) * room + i % 5;
  float *kc = randn(r, (size_t)rows * c.D, 1.0), *vc = randn(r, (size_t)rows * c.D, 1.0);
  float *q = randn(r, (size_t)c.S * c.H * c.D, 1.5);
  float *score = randn(r, (size_t)rows, 1.0), *score0 = xmalloc(sizeof(float) * rows);
  memcpy(score0, score, sizeof(float) * rows);
  int32_t *pos = xmalloc(sizeof(int32_t) * rows);
  for (long i = 0; i < rows; i++) pos[i] = -1;
  for (long i = 0; i < c.S * c.K; i++)  // ascending token indices with gaps
    for (long j = 0, t = (long)rng_below(r, 3); j < c.n; j++, t += 1 + (long)rng_below(r, 3))
      pos[row0[i] + j] = (int32_t)t;
  float *cos_t = randn(r, (size_t)c.n * half + 1, 0.7), *sin_t = randn(r, (size_t)c.n * half + 1, 0.7);
  float *out = xmalloc(sizeof(float) * c.S * c.H * c.D);
  int failed_before = test_current_failed;
  test_current_failed = 0;
  for (long i = 0; i < c.S * c.H * c.D; i++) out[i] = NAN;
  float scale = (float)(1.0 / sqrt((double)c.D));
  be->decode_attention(out, score, q, kc, vc, pos, row0, c.S, c.n, c.pos_lo, c.H, c.K, c.D, scale,
                       c.rotate ? cos_t : NULL, sin_t, c.R, c.accumulate, c.fp64);
  double *key = xmalloc(sizeof(double) * c.D), *s = xmalloc(sizeof(double) * c.n);
  double *fold = xmalloc(sizeof(double) * c.n);
  double tol = c.fp64 ? 1e-6 : 2e-5;
  for (long b = 0; b < c.S; b++)
    for (int g = 0; g < c.K; g++) {
      long r0 = row0[b * c.K + g], lo = 0;
      while (lo < c.n && pos[r0 + lo] < c.pos_lo) lo++;
      for (long j = 0; j < c.n; j++) fold[j] = c.accumulate ? score0[r0 + j] : 0.0;
      for (int gr = 0; gr < G; gr++) {
        int h = g * G + gr;
        const float *qh = q + (b * c.H + h) * c.D;
        double m = -INFINITY, sum = 0.0;
        for (long j = lo; j < c.n; j++) {
          rotated_key(key, kc + (r0 + j) * c.D, j, c.D, c.rotate ? c.R : 0, cos_t, sin_t);
          double d = 0.0;
          for (int e = 0; e < c.D; e++) d += qh[e] * key[e];
          s[j] = d * scale;
          m = fmax(m, s[j]);
        }
        for (long j = lo; j < c.n; j++) sum += s[j] = exp(s[j] - m);
        for (int e = 0; e < c.D; e++) {
          double o = 0.0;
          for (long j = lo; j < c.n; j++) o += s[j] / sum * vc[(r0 + j) * c.D + e];
          float got = out[(b * c.H + h) * c.D + e];
          if (!(fabs(got - o) <= tol * (1.0 + fabs(o))))
            TEST_FAIL_AT("out[%ld,%d,%d] = %.9g, reference %.9g", b, h, e, got, o);
        }
        for (long j = lo; j < c.n; j++) fold[j] += s[j] / sum;
      }
      for (long j = 0; j < c.n; j++)
        if (!(fabs(score[r0 + j] - fold[j]) <= tol * (1.0 + fabs(fold[j]))))
          TEST_FAIL_AT("score slot %ld of (%ld, %d) = %.9g, reference %.9g", j, b, g,
                       score[r0 + j], fold[j]);
    }
  // rows outside the rooms' slots are untouched
  for (long i = 0; i < rows; i++)
    if (pos[i] < 0 && score[i] != score0[i]) TEST_FAIL_AT("score row %ld outside the slots written", i);
  if (test_current_failed)
    fprintf(stderr, "  S %ld n %ld pos_lo %ld H %d K %d D %d R %d rotate %d accumulate %d fp64 %d\n",
            c.S, c.n, c.pos_lo, c.H, c.K, c.D, c.R, c.rotate, c.accumulate, c.fp64);
  test_current_failed |= failed_before;
  free(row0);
  free(kc);
  free(vc);
  free(q);
  free(score);
  free(score0);
  free(pos);
  free(cos_t);
  free(sin_t);
  free(out);
  free(key);
  free(s);
  free(fold);
}

TEST(decode_attention_matches_reference) {
  Rng r;
  rng_seed(&r, 11);
  const DecodeCase cases[] = {
      {3, 1, 0, 4, 2, 16, 16, 0, 1, 0},     {2, 37, 0, 8, 2, 64, 64, 1, 1, 0},
      {4, 37, 0, 4, 4, 80, 20, 1, 0, 0},    {2, 50, 30, 6, 2, 40, 40, 0, 1, 0},
      {1, 9, 0, 2, 1, 5, 4, 1, 1, 0},       {2, 64, 20, 8, 1, 32, 16, 1, 0, 1},
      {2, 33, 0, 4, 2, 24, 24, 1, 1, 1},    {1, 129, 100, 16, 2, 64, 64, 0, 1, 0},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) check_decode_attention(&r, cases[i]);
}

TEST(decode_attention_with_nothing_visible) {
  // every slot before pos_lo: output 0, weights 0 (replace: scores 0, accumulate: unchanged)
  float kc[4 * 2] = {1, 2, 3, 4, 5, 6, 7, 8}, vc[4 * 2] = {1, 1, 1, 1, 1, 1, 1, 1};
  float q[2] = {1, 1}, out[2] = {NAN, NAN}, score[4] = {5, 5, 5, 5};
  int32_t pos[4] = {0, 1, 2, 3};
  int64_t row0[1] = {0};
  backend_cpu()->decode_attention(out, score, q, kc, vc, pos, row0, 1, 4, 10, 1, 1, 2, 1.0f, NULL,
                                  NULL, 0, 1, 0);
  EXPECT(out[0] == 0 && out[1] == 0 && score[0] == 5 && score[3] == 5);
  backend_cpu()->decode_attention(out, score, q, kc, vc, pos, row0, 1, 4, 10, 1, 1, 2, 1.0f, NULL,
                                  NULL, 0, 0, 0);
  EXPECT(score[0] == 0 && score[3] == 0);
}

static void check_weight_sums(Rng *r, long T, long obs, int H, int K, int D, long window,
                              int accumulate, int fp64) {
  int G = H / K;
  float *q = randn(r, (size_t)T * H * D, 1.5), *k = randn(r, (size_t)T * K * D, 1.0);
  long room = T + 3;
  int64_t *row0 = xmalloc(sizeof(int64_t) * K);
  for (int g = 0; g < K; g++) row0[g] = (K - 1 - g) * room + 2;
  float *score = randn(r, (size_t)K * room, 1.0), *score0 = xmalloc(sizeof(float) * K * room);
  memcpy(score0, score, sizeof(float) * K * room);
  float scale = (float)(1.0 / sqrt((double)D));
  backend_cpu()->attention_weight_sums(score, q, k, row0, T, obs, H, K, D, scale, window,
                                       accumulate, fp64);
  double *a = xmalloc(sizeof(double) * T), *s = xmalloc(sizeof(double) * T);
  double tol = fp64 ? 1e-6 : 2e-5;
  for (int g = 0; g < K; g++) {
    double *want = xcalloc((size_t)T, sizeof(double));
    for (long j = 0; j < T; j++) want[j] = accumulate ? score0[row0[g] + j] : 0.0;
    for (int gr = 0; gr < G; gr++) {
      int h = g * G + gr;
      for (long j = 0; j < T; j++) a[j] = 0.0;
      for (long i = T - obs; i < T; i++) {
        long j0 = window > 0 && i - window + 1 > 0 ? i - window + 1 : 0;
        double m = -INFINITY, sum = 0.0;
        for (long j = j0; j <= i; j++) {
          double d = 0.0;
          for (int e = 0; e < D; e++) d += (double)q[(i * H + h) * D + e] * k[(j * K + g) * D + e];
          s[j] = d * scale;
          m = fmax(m, s[j]);
        }
        for (long j = j0; j <= i; j++) sum += s[j] = exp(s[j] - m);
        for (long j = j0; j <= i; j++) a[j] += s[j] / sum;
      }
      for (long j = 0; j < T; j++) want[j] += a[j];
    }
    for (long j = 0; j < T; j++)
      if (!(fabs(score[row0[g] + j] - want[j]) <= tol * (1.0 + fabs(want[j]))))
        TEST_FAIL_AT("T %ld obs %ld window %ld: score of key %ld, kv head %d = %.9g, reference "
                     "%.9g", T, obs, window, j, g, score[row0[g] + j], want[j]);
    free(want);
  }
  for (int g = 0; g < K; g++) {  // the room's rows outside [0, T) untouched
    if (score[row0[g] - 1] != score0[row0[g] - 1]) TEST_FAIL_AT("score before the slots written");
  }
  free(q);
  free(k);
  free(row0);
  free(score);
  free(score0);
  free(a);
  free(s);
}

TEST(attention_weight_sums_match_reference) {
  Rng r;
  rng_seed(&r, 12);
  check_weight_sums(&r, 1, 1, 2, 1, 8, 0, 1, 0);
  check_weight_sums(&r, 40, 40, 4, 2, 16, 0, 1, 0);
  check_weight_sums(&r, 40, 7, 4, 2, 16, 0, 0, 0);
  check_weight_sums(&r, 70, 70, 6, 3, 20, 9, 1, 0);
  check_weight_sums(&r, 33, 33, 2, 2, 80, 0, 1, 1);
  check_weight_sums(&r, 50, 12, 8, 1, 24, 16, 0, 1);
}

// ---- slot bookkeeping ----

TEST(kv_append_writes_rows) {
  enum { K = 2, D = 3, ROWS = 40 };
  float kc[ROWS * D], vc[ROWS * D], score[ROWS];
  int32_t pos[ROWS];
  for (int i = 0; i < ROWS * D; i++) kc[i] = vc[i] = -1;
  for (int i = 0; i < ROWS; i++) score[i] = 9, pos[i] = -1;
  // prefill-like: one sequence, 3 tokens to slots 2..4 of rooms at rows 10 (g 0) and 30 (g 1)
  float k[3 * K * D], v[3 * K * D];
  for (int i = 0; i < 3 * K * D; i++) k[i] = (float)i, v[i] = (float)-i;
  int64_t row0[4] = {10, 30, 0, 20};
  backend_cpu()->kv_append(kc, vc, score, pos, k, v, row0, 3, 3, 2, 100, K, D);
  EXPECT(kc[(12 + 1) * D + 2] == k[(1 * K + 0) * D + 2] && vc[(34 * D) + 0] == v[(2 * K + 1) * D]);
  EXPECT(pos[12] == 100 && pos[13] == 101 && pos[34] == 102 && score[13] == 0 && score[11] == 9);
  // step-like: two sequences, one token each, at slot 5: sequence 1's rooms at rows 0 and 20
  backend_cpu()->kv_append(kc, vc, NULL, pos, k, v, row0, 2, 1, 5, 7, K, D);
  EXPECT(kc[25 * D + 1] == k[(1 * K + 1) * D + 1] && kc[5 * D] == k[(1 * K + 0) * D]);
  EXPECT(pos[5] == 7 && pos[25] == 7 && pos[15] == 7 && pos[35] == 7 && score[5] == 9);
}

// Moves applied one row at a time, in the order that reads each row before writing over it.
static void move_reference(float *kc, int32_t *pos, const int64_t *runs, long n_runs, int D) {
  for (long u = 0; u < n_runs; u++) {
    int64_t src = runs[3 * u], dst = runs[3 * u + 1], n = runs[3 * u + 2];
    for (int64_t i = 0; i < n; i++) {
      int64_t a = dst < src ? i : n - 1 - i;
      memcpy(kc + (dst + a) * D, kc + (src + a) * D, sizeof(float) * D);
      pos[dst + a] = pos[src + a];
    }
  }
}

TEST(kv_move_applies_runs_in_order) {
  enum { D = 5, ROWS = 60 };
  float kc[ROWS * D], vc[ROWS * D], score[ROWS], ref[ROWS * D];
  int32_t pos[ROWS], refpos[ROWS];
  for (int i = 0; i < ROWS * D; i++) kc[i] = ref[i] = (float)i, vc[i] = (float)-i;
  for (int i = 0; i < ROWS; i++) pos[i] = refpos[i] = i, score[i] = (float)(2 * i);
  // group 0 (rows 0..29): two holes closed downwards (shift 1 then 2), then a front move;
  // group 1 (rows 30..59): a run moved up by 1 over itself, then one moved up by 3
  int64_t runs[] = {5, 4, 6, 12, 10, 5, 10, 0, 3, 40, 41, 10, 32, 35, 5};
  int64_t groups[] = {0, 3, 5};
  backend_cpu()->kv_move(kc, vc, score, pos, runs, groups, 2, D);
  move_reference(ref, refpos, runs, 5, D);
  EXPECT_ARRAY_NEAR(kc, ref, ROWS * D, 0, 0);
  for (int i = 0; i < ROWS; i++) {
    EXPECT_INT_EQ(pos[i], refpos[i]);
    EXPECT_NEAR(score[i], 2.0 * refpos[i], 0, 0);  // scores moved with their rows
    EXPECT_NEAR(vc[i * D], -ref[i * D], 0, 0);
  }
}

TEST(kv_argmin_picks_the_newest_lowest) {
  float score[20] = {3, 1, 2, 1, 5, 0, 0, 9, 9, 9, 4, 4, 4, 4, 4, 7, 1, 1, 1, 8};
  int64_t row0[4] = {0, 4, 10, 15};
  int32_t idx[4];
  backend_cpu()->kv_argmin(idx, score, row0, 4, 4);
  EXPECT(idx[0] == 3 && idx[1] == 2 && idx[2] == 3 && idx[3] == 3);
  backend_cpu()->kv_argmin(idx, score, row0, 4, 1);
  EXPECT(idx[0] == 0 && idx[1] == 0 && idx[2] == 0 && idx[3] == 0);
}

TEST(kv_gather_copies_slots) {
  float score[12];
  int32_t pos[12], gp[6];
  float gs[6];
  for (int i = 0; i < 12; i++) score[i] = (float)i / 2, pos[i] = 100 + i;
  int64_t row0[2] = {7, 2};
  backend_cpu()->kv_gather(gs, gp, score, pos, row0, 2, 3);
  EXPECT(gp[0] == 107 && gp[2] == 109 && gp[3] == 102 && gs[1] == 4.0f && gs[5] == 2.0f);
  gp[0] = 0;
  backend_cpu()->kv_gather(NULL, gp, NULL, pos, row0, 1, 3);
  EXPECT(gp[0] == 107);
}

int main(void) {
  backend_cpu()->set_threads(2);
  RUN(decode_attention_matches_reference);
  RUN(decode_attention_with_nothing_visible);
  RUN(attention_weight_sums_match_reference);
  RUN(kv_append_writes_rows);
  RUN(kv_move_applies_runs_in_order);
  RUN(kv_argmin_picks_the_newest_lowest);
  RUN(kv_gather_copies_slots);
  TEST_SUMMARY();
}
