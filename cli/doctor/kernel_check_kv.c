// kernel_check_kv.c — kernel_check.c's checks of the decode protocol's KV-cache kernels
// (engine/cuda/kv_cache.cu, engine/cuda/decode_attention.cu) against their CPU twins (backend_cpu_kv.c),
// on random non-zero data, outputs poisoned first, one row per case:
//   kv_append (a prefill's block, a step's tokens), kv_move (random overlapping runs applied in
//   order per group), kv_argmin (integer scores: many ties), kv_gather — all bit for bit;
//   decode_attention (grouped heads, head dims 16..256, slot rotation, sliding-window cut, score
//   folded by accumulation or replacement, fp32 and fp64) and attention_weight_sums (observed
//   queries, windows) at the attention bounds (fp32: check_rows.c's attn_eps, derived from the
//   fp32 unit roundoff; fp64 mode 1e-6).
// Legend: S sequences, H query heads, K kv heads, D head dim, R rotary dims, n slots, T tokens.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "doctor_internal.h"

#ifdef BENCH_CUDA
#include "backend.h"
#include "cuda_mem.cuh"

// ---- bookkeeping ----
static void test_kv_append(Rng *r) {
  const Backend *gpu = backend_cuda(DTYPE_BF16), *cpu = backend_cpu();
  enum { K = 4, D = 80, ROWS = 6 * K * 100 };  // rooms of 100 rows, slot 0 at offsets 0..2
  const struct { long T, per_seq, slot0, t0; } cases[] = {{57, 57, 0, 0}, {6, 1, 41, 1000}};
  int64_t row0[6 * K];
  for (int i = 0; i < 6 * K; i++) row0[i] = (6 * K - 1 - i) * 100 + (i % 3);
  for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
    long T = cases[ci].T;
    float *k = rand_floats(r, (size_t)T * K * D, 1.0), *v = rand_floats(r, (size_t)T * K * D, 1.0);
    float *kc = xmalloc(sizeof(float) * ROWS * D), *vc = xmalloc(sizeof(float) * ROWS * D);
    float *score = xmalloc(sizeof(float) * ROWS), *got = xmalloc(sizeof(float) * ROWS * D);
    int32_t *pos = xmalloc(sizeof(int32_t) * ROWS), *gpos = xmalloc(sizeof(int32_t) * ROWS);
    uint32_t nan_bits = 0x7fc00000u;
    for (int i = 0; i < ROWS * D; i++) memcpy(&kc[i], &nan_bits, 4), memcpy(&vc[i], &nan_bits, 4);
    for (int i = 0; i < ROWS; i++) memcpy(&score[i], &nan_bits, 4), memcpy(&pos[i], &nan_bits, 4);
    float *dkc = dpoison((size_t)ROWS * D), *dvc = dpoison((size_t)ROWS * D);
    float *dscore = dpoison(ROWS);
    int32_t *dpos = dpoison(ROWS);
    float *dk = dput(k, sizeof(float) * T * K * D), *dv = dput(v, sizeof(float) * T * K * D);
    int64_t *drow0 = dput(row0, sizeof row0);
    cpu->kv_append(kc, vc, score, pos, k, v, row0, T, cases[ci].per_seq, cases[ci].slot0,
                   cases[ci].t0, K, D);
    gpu->kv_append(dkc, dvc, dscore, dpos, dk, dv, drow0, T, cases[ci].per_seq, cases[ci].slot0,
                   cases[ci].t0, K, D);
    char what[96];
    snprintf(what, sizeof what, "kv_append T %ld per_seq %ld keys", T, cases[ci].per_seq);
    dget(got, dkc, sizeof(float) * ROWS * D);
    check_close(what, kc, got, (size_t)ROWS * D, NULL, 0.0, 0.0);
    snprintf(what, sizeof what, "kv_append T %ld per_seq %ld values", T, cases[ci].per_seq);
    dget(got, dvc, sizeof(float) * ROWS * D);
    check_close(what, vc, got, (size_t)ROWS * D, NULL, 0.0, 0.0);
    snprintf(what, sizeof what, "kv_append T %ld per_seq %ld scores", T, cases[ci].per_seq);
    dget(got, dscore, sizeof(float) * ROWS);
    check_close(what, score, got, ROWS, NULL, 0.0, 0.0);
    snprintf(what, sizeof what, "kv_append T %ld per_seq %ld positions", T, cases[ci].per_seq);
    dget(gpos, dpos, sizeof(int32_t) * ROWS);
    check_equal_i32(what, pos, gpos, ROWS);
    cuda_free(dkc);
    cuda_free(dvc);
    cuda_free(dscore);
    cuda_free(dpos);
    cuda_free(dk);
    cuda_free(dv);
    cuda_free(drow0);
    free(k);
    free(v);
    free(kc);
    free(vc);
    free(score);
    free(got);
    free(pos);
    free(gpos);
  }
}

static void test_kv_move(Rng *r) {
  const Backend *gpu = backend_cuda(DTYPE_BF16), *cpu = backend_cpu();
  // groups = rooms of ROOM rows; each gets 0..4 random runs (any overlap, up or down, some of
  // shift 1 over long stretches, as compaction makes them)
  enum { ROOM = 96, NG = 300 };
  const int Ds[] = {64, 80, 128};
  for (size_t di = 0; di < sizeof Ds / sizeof Ds[0]; di++) {
    int D = Ds[di];
    size_t rows = (size_t)NG * ROOM;
    int64_t *runs = xmalloc(sizeof(int64_t) * 3 * NG * 4), *groups = xmalloc(sizeof(int64_t) * (NG + 1));
    long nr = 0;
    groups[0] = 0;
    for (int e = 0; e < NG; e++) {
      int k = (int)rng_below(r, 5);
      for (int u = 0; u < k; u++) {
        int64_t count = 1 + (int64_t)rng_below(r, ROOM - 2);
        int64_t shift = rng_below(r, 3) ? 1 + (int64_t)rng_below(r, 3) : 1 + (int64_t)rng_below(r, ROOM - count);
        if (shift > ROOM - count) shift = ROOM - count;
        int64_t lo = (int64_t)rng_below(r, (uint64_t)(ROOM - count - shift + 1));
        int up = (int)rng_below(r, 2);
        int64_t *x = runs + 3 * nr++;
        x[0] = (int64_t)e * ROOM + lo + (up ? 0 : shift);
        x[1] = (int64_t)e * ROOM + lo + (up ? shift : 0);
        x[2] = count;
      }
      groups[e + 1] = nr;
    }
    float *kc = rand_floats(r, rows * D, 1.0), *vc = rand_floats(r, rows * D, 1.0);
    float *score = rand_floats(r, rows, 1.0), *got = xmalloc(sizeof(float) * rows * D);
    int32_t *pos = xmalloc(sizeof(int32_t) * rows), *gpos = xmalloc(sizeof(int32_t) * rows);
    for (size_t i = 0; i < rows; i++) pos[i] = (int32_t)i;
    float *dkc = dput(kc, sizeof(float) * rows * D), *dvc = dput(vc, sizeof(float) * rows * D);
    float *dscore = dput(score, sizeof(float) * rows);
    int32_t *dpos = dput(pos, sizeof(int32_t) * rows);
    int64_t *druns = dput(runs, sizeof(int64_t) * 3 * (nr ? nr : 1));
    int64_t *dgroups = dput(groups, sizeof(int64_t) * (NG + 1));
    cpu->kv_move(kc, vc, score, pos, runs, groups, NG, D);
    gpu->kv_move(dkc, dvc, dscore, dpos, druns, dgroups, NG, D);
    char what[96];
    snprintf(what, sizeof what, "kv_move D %d, %d groups, %ld runs: keys", D, NG, nr);
    dget(got, dkc, sizeof(float) * rows * D);
    check_close(what, kc, got, rows * D, NULL, 0.0, 0.0);
    snprintf(what, sizeof what, "kv_move D %d: values", D);
    dget(got, dvc, sizeof(float) * rows * D);
    check_close(what, vc, got, rows * D, NULL, 0.0, 0.0);
    snprintf(what, sizeof what, "kv_move D %d: scores", D);
    dget(got, dscore, sizeof(float) * rows);
    check_close(what, score, got, rows, NULL, 0.0, 0.0);
    snprintf(what, sizeof what, "kv_move D %d: positions", D);
    dget(gpos, dpos, sizeof(int32_t) * rows);
    check_equal_i32(what, pos, gpos, rows);
    cuda_free(dkc);
    cuda_free(dvc);
    cuda_free(dscore);
    cuda_free(dpos);
    cuda_free(druns);
    cuda_free(dgroups);
    free(runs);
    free(groups);
    free(kc);
    free(vc);
    free(score);
    free(got);
    free(pos);
    free(gpos);
  }
}

static void test_kv_argmin_gather(Rng *r) {
  const Backend *gpu = backend_cuda(DTYPE_BF16), *cpu = backend_cpu();
  enum { Q = 1000, ROOM = 300 };
  float *score = xmalloc(sizeof(float) * Q * ROOM);
  for (int i = 0; i < Q * ROOM; i++) score[i] = (float)(int)(8 * rng_uniform(r)) + 0.5f;
  int32_t *pos = xmalloc(sizeof(int32_t) * Q * ROOM);
  for (int i = 0; i < Q * ROOM; i++) pos[i] = (int32_t)rng_below(r, 1u << 30);
  int64_t row0[Q];
  for (int q = 0; q < Q; q++) row0[q] = (int64_t)((q * 7) % Q) * ROOM + (q % 11);
  float *dscore = dput(score, sizeof(float) * Q * ROOM);
  int32_t *dpos = dput(pos, sizeof(int32_t) * Q * ROOM);
  int64_t *drow0 = dput(row0, sizeof row0);
  int32_t *ref = xmalloc(sizeof(int32_t) * Q * 256), *got = xmalloc(sizeof(int32_t) * Q * 256);
  const long ms[] = {1, 31, 33, 257};
  for (size_t mi = 0; mi < sizeof ms / sizeof ms[0]; mi++) {
    int32_t *didx = dpoison(Q);
    cpu->kv_argmin(ref, score, row0, Q, ms[mi]);
    gpu->kv_argmin(didx, dscore, drow0, Q, ms[mi]);
    dget(got, didx, sizeof(int32_t) * Q);
    char what[96];
    snprintf(what, sizeof what, "kv_argmin %d rows, m %ld (ties: newest)", Q, ms[mi]);
    check_equal_i32(what, ref, got, Q);
    cuda_free(didx);
  }
  long n = 256;
  float *rs = xmalloc(sizeof(float) * Q * n), *gs = xmalloc(sizeof(float) * Q * n);
  float *dgs = dpoison((size_t)Q * n);
  int32_t *dgp = dpoison((size_t)Q * n);
  cpu->kv_gather(rs, ref, score, pos, row0, Q, n);
  gpu->kv_gather(dgs, dgp, dscore, dpos, drow0, Q, n);
  dget(gs, dgs, sizeof(float) * Q * n);
  dget(got, dgp, sizeof(int32_t) * Q * n);
  check_close("kv_gather scores", rs, gs, (size_t)Q * n, NULL, 0.0, 0.0);
  check_equal_i32("kv_gather positions", ref, got, (size_t)Q * n);
  cuda_free(dgs);
  cuda_free(dgp);
  cuda_free(dscore);
  cuda_free(dpos);
  cuda_free(drow0);
  free(score);
  free(pos);
  free(ref);
  free(got);
  free(rs);
  free(gs);
}

// ---- attention over slots ----
static void test_decode_attention(Rng *r) {
  const Backend *gpu = backend_cuda(DTYPE_BF16), *cpu = backend_cpu();
  const struct { long S, n, pos_lo; int H, K, D, R, rotate; } cases[] = {
      {1, 1, 0, 4, 1, 16, 16, 0},     {16, 255, 0, 32, 32, 80, 20, 1},  {4, 256, 0, 32, 8, 128, 128, 1},
      {3, 300, 150, 8, 2, 64, 64, 0},  {2, 77, 0, 40, 2, 128, 64, 1},    {2, 64, 0, 8, 1, 256, 256, 1},
      {5, 33, 20, 6, 3, 96, 96, 0},    {1, 2048, 0, 16, 4, 128, 128, 0},
      {2, 1500, 700, 8, 2, 64, 64, 1}, {1, 700, 0, 4, 4, 80, 80, 0},
  };
  for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
    long S = cases[ci].S, n = cases[ci].n, pos_lo = cases[ci].pos_lo;
    int H = cases[ci].H, K = cases[ci].K, D = cases[ci].D, R = cases[ci].R, half = R / 2;
    if (check_skip((double)S * n * H)) continue;
    long room = n + 9, rooms = S * K + 2;
    size_t rows = (size_t)rooms * room;
    int64_t *row0 = xmalloc(sizeof(int64_t) * S * K);
    for (long i = 0; i < S * K; i++) row0[i] = (rooms - 1 - i) * room + i % 7;
    float *kc = rand_floats(r, rows * D, 1.0), *vc = rand_floats(r, rows * D, 1.0);
    float *q = rand_floats(r, (size_t)S * H * D, 1.5);
    float *score0 = rand_floats(r, rows, 1.0), *score = xmalloc(sizeof(float) * rows);
    float *gscore = xmalloc(sizeof(float) * rows);
    int32_t *pos = xmalloc(sizeof(int32_t) * rows);
    for (size_t i = 0; i < rows; i++) pos[i] = -1;
    for (long i = 0; i < S * K; i++)
      for (long j = 0, t = 0; j < n; j++, t += 1 + (long)rng_below(r, 2)) pos[row0[i] + j] = (int32_t)t;
    float *cos_t = rand_floats(r, (size_t)n * half + 1, 0.7), *sin_t = rand_floats(r, (size_t)n * half + 1, 0.7);
    float *ref = xmalloc(sizeof(float) * S * H * D), *got = xmalloc(sizeof(float) * S * H * D);
    float *dkc = dput(kc, sizeof(float) * rows * D), *dvc = dput(vc, sizeof(float) * rows * D);
    float *dq = dput(q, sizeof(float) * S * H * D);
    int32_t *dpos = dput(pos, sizeof(int32_t) * rows);
    int64_t *drow0 = dput(row0, sizeof(int64_t) * S * K);
    float *dcos = dput(cos_t, sizeof(float) * (n * half + 1)), *dsin = dput(sin_t, sizeof(float) * (n * half + 1));
    // fp32 bounds (check_rows.c's attn_eps, u = 2^-24): outputs relative to the attention on |v|;
    // the folded scores relative to s_j = (accumulate ? |score0_j| : 0) + W_j, W_j the slot's
    // weight sum over the group's G heads (each weight within attn_weight_eps + 2γ_{10n} relative,
    // their sum and its fold ≤ γ_{G+1} per side). fp64 mode (double inside, fp32 roundings of the
    // results and of the fold on both sides): 1e-6 ≥ 16u of the same magnitudes.
    double rot = 1.0;
    if (cases[ci].rotate)
      for (long i = 0; i < n * half; i++) rot = fmax(rot, fabs(cos_t[i]) + fabs(sin_t[i]));
    double A = 0.0;  // two scales below: the larger
    for (int k2 = 0; k2 < 2; k2++)
      A = fmax(A, (k2 ? 0.125 : 1.0 / sqrt((double)D)) * max_row_norm(q, (size_t)S * H, D) *
                      max_row_norm(kc, rows, D) * rot);
    double eps = attn_eps(A, D, (double)n);
    double weps = attn_weight_eps(A, D) + 2 * fp_gamma(10.0 * n, FP32_U) + 2 * fp_gamma(H / K + 1, FP32_U);
    size_t nout = (size_t)S * H * D;
    float *vabs = xmalloc(sizeof(float) * rows * D), *mag = xmalloc(sizeof(float) * nout);
    for (size_t i = 0; i < rows * D; i++) vabs[i] = fabsf(vc[i]);
    double *obound = xmalloc(sizeof(double) * nout), *sscale = xmalloc(sizeof(double) * rows);
    for (int mode = 0; mode < 4; mode++) {  // fp64 × accumulate
      int fp64 = mode / 2, accumulate = mode % 2;
      float *dout = dpoison((size_t)S * H * D);
      float *dscore = dput(score0, sizeof(float) * rows);
      memcpy(score, score0, sizeof(float) * rows);
      float scale = (float)(1.0 / sqrt((double)D));
      cpu->decode_attention(ref, score, q, kc, vc, pos, row0, S, n, pos_lo, H, K, D, scale,
                            cases[ci].rotate ? cos_t : NULL, sin_t, R, accumulate, fp64);
      gpu->decode_attention(dout, dscore, dq, dkc, dvc, dpos, drow0, S, n, pos_lo, H, K, D, scale,
                            cases[ci].rotate ? dcos : NULL, dsin, R, accumulate, fp64);
      dget(got, dout, sizeof(float) * S * H * D);
      dget(gscore, dscore, sizeof(float) * rows);
      char what[128];
      snprintf(what, sizeof what, "decode_attention S %ld n %ld lo %ld H %d K %d D %d R %d%s%s%s",
               S, n, pos_lo, H, K, D, R, cases[ci].rotate ? " rot" : "", accumulate ? " acc" : " repl",
               fp64 ? " fp64" : "");
      if (fp64) {
        check_close(what, ref, got, nout, NULL, 1e-6, 1e-7);
      } else {
        cpu->decode_attention(mag, NULL, q, kc, vabs, pos, row0, S, n, pos_lo, H, K, D, scale,
                              cases[ci].rotate ? cos_t : NULL, sin_t, R, 1, 1);
        for (size_t i = 0; i < nout; i++) obound[i] = eps * mag[i];
        check_close(what, ref, got, nout, obound, 1.0, 1e-7);
      }
      for (size_t i = 0; i < rows; i++) {
        double s0 = accumulate ? score0[i] : 0.0;
        sscale[i] = fabs(s0) + fabs(score[i] - s0);
      }
      snprintf(what, sizeof what, "  its scores (%s%s)", accumulate ? "accumulated" : "replaced",
               fp64 ? ", fp64" : "");
      check_close(what, score, gscore, rows, sscale, fp64 ? 1e-6 : weps + 4 * FP32_U, 1e-30);
      cuda_free(dout);
      cuda_free(dscore);
    }
    // without scores (a policy that observes nothing): from 512 slots on, and fewer blocks than
    // the GPU holds, the kernel splits the slots over blocks and merges their partial softmaxes
    for (int fp64 = 0; fp64 < 2; fp64++) {
      float *dout = dpoison((size_t)S * H * D);
      const float *ct = cases[ci].rotate ? cos_t : NULL, *dct = cases[ci].rotate ? dcos : NULL;
      cpu->decode_attention(ref, NULL, q, kc, vc, pos, row0, S, n, pos_lo, H, K, D, 0.125f, ct,
                            sin_t, R, 1, fp64);
      gpu->decode_attention(dout, NULL, dq, dkc, dvc, dpos, drow0, S, n, pos_lo, H, K, D, 0.125f,
                            dct, dsin, R, 1, fp64);
      dget(got, dout, sizeof(float) * S * H * D);
      char what[128];
      snprintf(what, sizeof what, "decode_attention S %ld n %ld lo %ld H %d K %d D %d%s, no score%s%s",
               S, n, pos_lo, H, K, D, cases[ci].rotate ? " rot" : "", n >= 512 ? " (split)" : "",
               fp64 ? " fp64" : "");
      if (fp64) {
        check_close(what, ref, got, nout, NULL, 1e-6, 1e-7);
      } else {  // the split's merge of partial softmaxes: more rescalings, within γ_{10n}
        cpu->decode_attention(mag, NULL, q, kc, vabs, pos, row0, S, n, pos_lo, H, K, D, 0.125f, ct,
                              sin_t, R, 1, 1);
        for (size_t i = 0; i < nout; i++) obound[i] = eps * mag[i];
        check_close(what, ref, got, nout, obound, 1.0, 1e-7);
      }
      cuda_free(dout);
    }
    free(vabs);
    free(mag);
    free(obound);
    free(sscale);
    cuda_free(dkc);
    cuda_free(dvc);
    cuda_free(dq);
    cuda_free(dpos);
    cuda_free(drow0);
    cuda_free(dcos);
    cuda_free(dsin);
    free(row0);
    free(kc);
    free(vc);
    free(q);
    free(score0);
    free(score);
    free(gscore);
    free(pos);
    free(cos_t);
    free(sin_t);
    free(ref);
    free(got);
  }
}

static void test_attention_weight_sums(Rng *r) {
  const Backend *gpu = backend_cuda(DTYPE_BF16), *cpu = backend_cpu();
  const struct { long T, obs; int H, K, D; long window; } cases[] = {
      {1, 1, 4, 1, 16, 0},      {129, 129, 8, 2, 64, 0}, {300, 300, 32, 32, 80, 0},
      {200, 1, 8, 8, 128, 0},   {257, 64, 16, 4, 128, 0}, {500, 500, 4, 2, 96, 100},
      {64, 64, 2, 1, 256, 0},
  };
  for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
    long T = cases[ci].T, obs = cases[ci].obs, window = cases[ci].window;
    int H = cases[ci].H, K = cases[ci].K, D = cases[ci].D;
    if (check_skip((double)obs * (window > 0 && window < T ? window : T) * H / 3)) continue;
    long room = T + 5;
    size_t rows = (size_t)(K + 1) * room;
    int64_t *row0 = xmalloc(sizeof(int64_t) * K);
    for (int g = 0; g < K; g++) row0[g] = (int64_t)(K - g) * room + 3;
    float *q = rand_floats(r, (size_t)T * H * D, 1.0), *k = rand_floats(r, (size_t)T * K * D, 1.0);
    float *score0 = rand_floats(r, rows, 1.0), *score = xmalloc(sizeof(float) * rows);
    float *got = xmalloc(sizeof(float) * rows);
    float *dq = dput(q, sizeof(float) * T * H * D), *dk = dput(k, sizeof(float) * T * K * D);
    int64_t *drow0 = dput(row0, sizeof(int64_t) * K);
    // fp32: each weight within attn_weight_eps + 2γ_{10T} relative (gpu_check.h; u = 2^-24), sums
    // of obs·G weights and the fold ≤ γ_{obs·G+1} per side, relative to s_j = (accumulate ?
    // |score0_j| : 0) + W_j (W_j: the slot's weight sum); fp64 mode (double inside, fp32
    // roundings of the sums and the fold on both sides): 1e-6 ≥ 16u of the same.
    float wscale = (float)(1.0 / sqrt((double)D)) * 2.0f;
    double A = wscale * max_row_norm(q, (size_t)T * H, D) * max_row_norm(k, (size_t)T * K, D);
    double weps = attn_weight_eps(A, D) + 2 * fp_gamma(10.0 * T, FP32_U) +
                  2 * fp_gamma((double)obs * (H / K) + 1, FP32_U) + 4 * FP32_U;
    double *sscale = xmalloc(sizeof(double) * rows);
    for (int mode = 0; mode < 4; mode++) {
      int fp64 = mode / 2, accumulate = mode % 2;
      float *dscore = dput(score0, sizeof(float) * rows);
      memcpy(score, score0, sizeof(float) * rows);
      float scale = wscale;
      cpu->attention_weight_sums(score, q, k, row0, T, obs, H, K, D, scale, window, accumulate, fp64);
      gpu->attention_weight_sums(dscore, dq, dk, drow0, T, obs, H, K, D, scale, window, accumulate,
                                 fp64);
      dget(got, dscore, sizeof(float) * rows);
      char what[128];
      snprintf(what, sizeof what, "attention_weight_sums T %ld obs %ld H %d K %d D %d w %ld%s%s", T,
               obs, H, K, D, window, accumulate ? " acc" : " repl", fp64 ? " fp64" : "");
      for (size_t i = 0; i < rows; i++) {
        double s0 = accumulate ? score0[i] : 0.0;
        sscale[i] = fabs(s0) + fabs(score[i] - s0);
      }
      check_close(what, score, got, rows, sscale, fp64 ? 1e-6 : weps, 1e-30);
      cuda_free(dscore);
    }
    free(sscale);
    cuda_free(dq);
    cuda_free(dk);
    cuda_free(drow0);
    free(row0);
    free(q);
    free(k);
    free(score0);
    free(score);
    free(got);
  }
}

void kernel_check_kv(Rng *r) {
  test_kv_append(r);
  test_kv_move(r);
  test_kv_argmin_gather(r);
  test_decode_attention(r);
  test_attention_weight_sums(r);
}

#endif  // BENCH_CUDA
