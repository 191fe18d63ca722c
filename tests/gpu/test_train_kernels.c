// test_train_kernels.c — every op of the CUDA training tables (engine/cuda/train_cuda.c, kernels
// in the op families' .cu files) against its CPU twin on the same bytes: cuda-fp32 against the
// cpu-fp32 table, and cuda-bf16 against the bf16 emulation (tests/lib/train_emu_ops.h: same
// element types, fp32 math, outputs rounded). Random non-zero inputs, outputs poisoned with NaN
// first, every device error reported at the row where it shows; one row per op and shape.
// Backward ops get the reference's forward results as inputs, so that a row isolates one kernel.
// The attention rows run both the simple and the tensor-core (flash) kernels, and compare the two
// on the device.
// Run by tests/gpu/run_gpu_tests.sh; `--device cpu` runs the CPU tables as the device under test
// (a check of this program, in `make test`).
//
// Tolerances. Products (linear, linear_dx, linear_dw) and Σ g²: bounds derived from the unit
// roundoff and the number of summed terms (fp_bounds.h, train_check.h's tc_compare_mag). Others
// (‖d‖/‖ref‖, and every element against |ref| + RMS(ref)): fp32 1e-5 and 1e-4 (fp32
// sums in another order; expf vs the CPU's exp); bf16 1e-2 and 6e-2 (an output rounded to bf16 may
// land one bf16 step, 2^-8, away when the fp32 values straddle a rounding boundary; the flash
// kernels also round probabilities to bf16 before their products).
// Usage: test_train_kernels [--device cuda:N|cpu] [--quick]
// Legend: n rows (n_seq × T), C hidden, H/K heads, D head dim, F intermediate, V vocab.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "train_check.h"
#include "train_emu_ops.h"
#include "train_ops.h"

static const char *device = "cuda:0";
static int quick, threads;

static double tol_of(const TcPair *p) { return p->A == 2 ? 1e-2 : 1e-5; }
static double elem_of(const TcPair *p) { return p->A == 2 ? 6e-2 : 1e-4; }

static void pair_open(TcPair *p, int bf16, TrainDims d, int attention) {
  d.threads = threads;
  d.attention = attention;
  p->mode = bf16 ? "bf16" : "fp32";
  p->ref = bf16 ? train_emu_ops() : train_ops_cpu_f32();
  p->dev = strcmp(device, "cpu") == 0 ? p->ref : train_ops_cuda(bf16);
  p->A = bf16 ? 2 : 4;
  BenchErr err;
  p->rctx = p->ref->ctx_new(&d, &err);
  if (!p->rctx) die("reference scratch: %s", err.msg);
  p->dctx = p->dev->ctx_new(&d, &err);
  if (!p->dctx) die("device scratch: %s", err.msg);
}

static void pair_close(TcPair *p) {
  p->ref->ctx_free(p->rctx);
  p->dev->ctx_free(p->dctx);
}

static TrainDims dims(long T, long n_seq, int C, int H, int K, int F, int V) {
  TrainDims d = {.T = T, .n_seq = n_seq, .C = C, .H = H, .K = K, .D = H ? C / H : 0, .F = F, .V = V};
  return d;
}

static int32_t *random_tokens(Rng *r, long n_seq, long T, int V) {
  int32_t *s = xmalloc(sizeof(int32_t) * (size_t)(n_seq * (T + 1)));
  for (long i = 0; i < n_seq * (T + 1); i++) s[i] = (int32_t)rng_below(r, (uint64_t)V);
  s[0] = 0;
  s[n_seq * (T + 1) - 1] = V - 1;
  return s;
}

// ---- products ----
static void test_products(Rng *r, int bf16, long n, int Cin, int N) {
  TcPair p;
  pair_open(&p, bf16, dims(1, 1, Cin, 1, 1, N, 2), TRAIN_ATTN_AUTO);
  size_t A = p.A;
  char what[128];
  TcBuf x = tc_rand(&p, (size_t)n * Cin, A, r, 0, 1), w = tc_rand(&p, (size_t)N * Cin, A, r, 0, 0.05);
  TcBuf dy = tc_rand(&p, (size_t)n * N, A, r, 0, 1);
  // Bounds from the arithmetic (train_check.h's tc_compare_mag): both sides multiply the same
  // elements (bf16·bf16 is exact in fp32) and sum them in fp32 in different orders (the device
  // possibly on tensor cores), so |d| ≤ fp_order32(terms)·Σ|terms| (fp_bounds.h), Σ|terms| taken
  // as the reference op on |inputs| (and |the accumulated buffer|); an act (bf16) output may
  // also round to the other neighbour. Loosened from fixed 1e-5/1e-4 (fp32) and 1e-2/6e-2 (bf16)
  // relative to ‖ref‖ and |ref| + RMS, which a sum of 2048 terms can exceed (γ_2048 = 1.2e-4).
  void *xa = tc_abs_host(x.h, (size_t)n * Cin, A), *wa = tc_abs_host(w.h, (size_t)N * Cin, A);
  void *dya = tc_abs_host(dy.h, (size_t)n * N, A);
  for (int kind = 0; kind < 3; kind++) {  // y stream, y stream accumulated, y act
    int ys = kind < 2, acc = kind == 1;
    TcBuf y = acc ? tc_rand(&p, (size_t)n * N, 4, r, 0, 1) : tc_poison(&p, (size_t)n * N, ys ? 4 : A);
    float *mag = tc_abs_f32(&y);  // |y| before (used only with acc)
    p.ref->linear(p.rctx, mag, 1, xa, wa, n, Cin, N, acc);
    p.ref->linear(p.rctx, y.h, ys, x.h, w.h, n, Cin, N, acc);
    p.dev->linear(p.dctx, y.d, ys, x.d, w.d, n, Cin, N, acc);
    snprintf(what, sizeof what, "linear %s [%ld,%d]x[%d,%d]^T -> %s%s", p.mode, n, Cin, N, Cin,
             ys ? "stream" : "act", acc ? " +=" : "");
    tc_compare_mag(&p, what, &y, mag, fp_order32(Cin + 1));
    tc_free(&p, &y);
    free(mag);
    TcBuf dx = acc ? tc_rand(&p, (size_t)n * Cin, 4, r, 0, 1)
                   : tc_poison(&p, (size_t)n * Cin, ys ? 4 : A);
    mag = tc_abs_f32(&dx);
    p.ref->linear_dx(p.rctx, mag, 1, dya, wa, n, Cin, N, acc);
    p.ref->linear_dx(p.rctx, dx.h, ys, dy.h, w.h, n, Cin, N, acc);
    p.dev->linear_dx(p.dctx, dx.d, ys, dy.d, w.d, n, Cin, N, acc);
    snprintf(what, sizeof what, "linear_dx %s [%ld,%d]x[%d,%d] -> %s%s", p.mode, n, N, N, Cin,
             ys ? "stream" : "act", acc ? " +=" : "");
    tc_compare_mag(&p, what, &dx, mag, fp_order32(N + 1));
    tc_free(&p, &dx);
    free(mag);
  }
  TcBuf dw = tc_rand(&p, (size_t)N * Cin, 4, r, 0, 0.1);
  float *mag = tc_abs_f32(&dw);
  p.ref->linear_dw(p.rctx, mag, dya, xa, n, Cin, N);
  p.ref->linear_dw(p.rctx, dw.h, dy.h, x.h, n, Cin, N);
  p.dev->linear_dw(p.dctx, dw.d, dy.d, x.d, n, Cin, N);
  snprintf(what, sizeof what, "linear_dw %s [%d,%ld]x[%ld,%d] +=", p.mode, N, n, n, Cin);
  tc_compare_mag(&p, what, &dw, mag, fp_order32((double)n + 1));
  tc_free(&p, &dw);
  free(mag);
  free(xa);
  free(wa);
  free(dya);
  tc_free(&p, &x);
  tc_free(&p, &w);
  tc_free(&p, &dy);
  pair_close(&p);
}

// ---- embedding, with repeated tokens for the backward's grouping ----
static void test_embedding(Rng *r, int bf16, long n_seq, long T, int C, int V) {
  TcPair p;
  pair_open(&p, bf16, dims(T, n_seq, C, 1, 1, 1, V), TRAIN_ATTN_AUTO);
  char what[128];
  long n = n_seq * T;
  int32_t *seqs = random_tokens(r, n_seq, T, V);
  TcBuf E = tc_rand(&p, (size_t)V * C, 4, r, 0, 1), x = tc_poison(&p, (size_t)n * C, 4);
  const int32_t *rt = p.ref->tokens(p.rctx, seqs, n_seq, 1), *dt = p.dev->tokens(p.dctx, seqs, n_seq, 1);
  p.ref->embed_fwd(p.rctx, x.h, E.h, rt, n_seq, T, C);
  p.dev->embed_fwd(p.dctx, x.d, E.d, dt, n_seq, T, C);
  snprintf(what, sizeof what, "embed_fwd %s n_seq %ld T %ld C %d V %d", p.mode, n_seq, T, C, V);
  tc_compare(&p, what, &x, 0, 0);
  TcBuf dx = tc_rand(&p, (size_t)n * C, 4, r, 0, 1), dE = tc_rand(&p, (size_t)V * C, 4, r, 0, 1);
  p.ref->embed_bwd(p.rctx, dE.h, dx.h, rt, n_seq, T, C);
  p.dev->embed_bwd(p.dctx, dE.d, dx.d, dt, n_seq, T, C);
  snprintf(what, sizeof what, "embed_bwd %s n_seq %ld T %ld C %d V %d +=", p.mode, n_seq, T, C, V);
  tc_compare(&p, what, &dE, 1e-6, 1e-6);  // same rows in the same order: equal up to fma
  tc_free(&p, &E);
  tc_free(&p, &x);
  tc_free(&p, &dx);
  tc_free(&p, &dE);
  free(seqs);
  pair_close(&p);
}

// ---- RMSNorm ----
static void test_rms(Rng *r, int bf16, long n, int C) {
  TcPair p;
  pair_open(&p, bf16, dims(1, 1, C, 1, 1, 1, 2), TRAIN_ATTN_AUTO);
  char what[128];
  TcBuf x = tc_rand(&p, (size_t)n * C, 4, r, 0.3, 2), w = tc_rand(&p, (size_t)C, 4, r, 1, 0.2);
  TcBuf y = tc_poison(&p, (size_t)n * C, p.A), rs = tc_poison(&p, (size_t)n, 4);
  p.ref->rms_fwd(p.rctx, y.h, rs.h, x.h, w.h, n, C, 1e-5);
  p.dev->rms_fwd(p.dctx, y.d, rs.d, x.d, w.d, n, C, 1e-5);
  snprintf(what, sizeof what, "rms_fwd %s n %ld C %d: y", p.mode, n, C);
  tc_compare(&p, what, &y, tol_of(&p), elem_of(&p));
  snprintf(what, sizeof what, "rms_fwd %s n %ld C %d: rs", p.mode, n, C);
  tc_compare(&p, what, &rs, 1e-5, 1e-5);
  TcBuf rs2 = tc_poison(&p, (size_t)n, 4);
  p.ref->rms_fwd(p.rctx, NULL, rs2.h, x.h, w.h, n, C, 1e-5);
  p.dev->rms_fwd(p.dctx, NULL, rs2.d, x.d, w.d, n, C, 1e-5);
  snprintf(what, sizeof what, "rms_fwd %s n %ld C %d: rs only (y NULL)", p.mode, n, C);
  tc_compare(&p, what, &rs2, 1e-5, 1e-5);
  TcBuf rsr = tc_from(&p, rs.h, (size_t)n, 4);  // the reference's factors for both sides
  TcBuf dy = tc_rand(&p, (size_t)n * C, 4, r, 0, 1), dx = tc_rand(&p, (size_t)n * C, 4, r, 0, 1);
  TcBuf dw = tc_rand(&p, (size_t)C, 4, r, 0, 1);
  p.ref->rms_bwd(p.rctx, dx.h, dw.h, dy.h, x.h, rsr.h, w.h, n, C);
  p.dev->rms_bwd(p.dctx, dx.d, dw.d, dy.d, x.d, rsr.d, w.d, n, C);
  snprintf(what, sizeof what, "rms_bwd %s n %ld C %d: dx +=", p.mode, n, C);
  tc_compare(&p, what, &dx, 1e-5, 1e-4);
  snprintf(what, sizeof what, "rms_bwd %s n %ld C %d: dw +=", p.mode, n, C);
  tc_compare(&p, what, &dw, 1e-5, 1e-4);
  TcBuf *all[] = {&x, &w, &y, &rs, &rs2, &rsr, &dy, &dx, &dw};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) tc_free(&p, all[i]);
  pair_close(&p);
}

// ---- RoPE, tables through put_reals (compressed positions, an attention scale) ----
static void test_rope(Rng *r, int bf16, long n_seq, long T, int NH, int D) {
  TcPair p;
  pair_open(&p, bf16, dims(T, n_seq, NH * D, NH, NH, 1, 2), TRAIN_ATTN_AUTO);
  char what[128];
  int half = D / 2;
  size_t nt = (size_t)T * half;
  double *c = xmalloc(nt * sizeof(double)), *s = xmalloc(nt * sizeof(double));
  for (long t = 0; t < T; t++)
    for (int i = 0; i < half; i++) {
      double pos = t < T / 2 ? (double)t : T / 2 + (t - T / 2) / 3.0;
      double a = pos * pow(500000.0, -2.0 * i / D);
      c[t * half + i] = cos(a) * 1.1;
      s[t * half + i] = sin(a) * 1.1;
    }
  TcBuf cs = tc_poison(&p, nt, 4), sn = tc_poison(&p, nt, 4);
  p.ref->put_reals(p.rctx, cs.h, c, nt);
  p.ref->put_reals(p.rctx, sn.h, s, nt);
  p.dev->put_reals(p.dctx, cs.d, c, nt);
  p.dev->put_reals(p.dctx, sn.d, s, nt);
  snprintf(what, sizeof what, "put_reals %s (RoPE cos table) T %ld", p.mode, T);
  tc_compare(&p, what, &cs, 0, 0);
  long n = n_seq * T;
  for (int inv = 0; inv < 2; inv++) {
    TcBuf x = tc_rand(&p, (size_t)n * NH * D, p.A, r, 0, 1);
    p.ref->rope(p.rctx, x.h, cs.h, sn.h, n, T, NH, D, inv);
    p.dev->rope(p.dctx, x.d, cs.d, sn.d, n, T, NH, D, inv);
    snprintf(what, sizeof what, "rope%s %s n_seq %ld T %ld NH %d D %d", inv ? " inverse" : "",
             p.mode, n_seq, T, NH, D);
    tc_compare(&p, what, &x, tol_of(&p), elem_of(&p));
    tc_free(&p, &x);
  }
  tc_free(&p, &cs);
  tc_free(&p, &sn);
  free(c);
  free(s);
  pair_close(&p);
}

// ---- SwiGLU ----
static void test_swiglu(Rng *r, int bf16, long n) {
  TcPair p;
  pair_open(&p, bf16, dims(1, 1, 2, 1, 1, 1, 2), TRAIN_ATTN_AUTO);
  char what[128];
  TcBuf g = tc_rand(&p, (size_t)n, p.A, r, 0, 2), u = tc_rand(&p, (size_t)n, p.A, r, 0, 1);
  TcBuf a = tc_poison(&p, (size_t)n, p.A);
  p.ref->swiglu_fwd(p.rctx, a.h, g.h, u.h, n);
  p.dev->swiglu_fwd(p.dctx, a.d, g.d, u.d, n);
  snprintf(what, sizeof what, "swiglu_fwd %s n %ld", p.mode, n);
  tc_compare(&p, what, &a, tol_of(&p), elem_of(&p));
  TcBuf da = tc_rand(&p, (size_t)n, p.A, r, 0, 1), du = tc_poison(&p, (size_t)n, p.A);
  p.ref->swiglu_bwd(p.rctx, da.h, du.h, g.h, u.h, n);
  p.dev->swiglu_bwd(p.dctx, da.d, du.d, g.d, u.d, n);
  snprintf(what, sizeof what, "swiglu_bwd %s n %ld: dg (in place)", p.mode, n);
  tc_compare(&p, what, &da, tol_of(&p), elem_of(&p));
  snprintf(what, sizeof what, "swiglu_bwd %s n %ld: du", p.mode, n);
  tc_compare(&p, what, &du, tol_of(&p), elem_of(&p));
  TcBuf *all[] = {&g, &u, &a, &da, &du};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) tc_free(&p, all[i]);
  pair_close(&p);
}

// ---- attention: the simple and the flash kernels against the CPU, and against each other ----
static void test_attention(Rng *r, int bf16, long n_seq, long T, int H, int K, int D) {
  const char *impl_name[2] = {"simple", "flash"};
  int impls[2] = {TRAIN_ATTN_SIMPLE, TRAIN_ATTN_FLASH};
  long n = n_seq * T;
  size_t hd = (size_t)n * H * D, kd = (size_t)n * K * D;
  float *dev_out[2][4] = {{0}};  // device results per impl: out, dq, dk, dv
  char what[160];
  int flash_ok = bf16 && (D == 64 || D == 128);
  for (int im = 0; im < 2; im++) {
    if (im == 1 && !flash_ok) break;
    TcPair p;
    pair_open(&p, bf16, dims(T, n_seq, H * D, H, K, 1, 2), impls[im]);
    size_t A = p.A;
    Rng rr = *r;  // the same inputs for both kernels
    TcBuf q = tc_rand(&p, hd, A, &rr, 0, 1), k = tc_rand(&p, kd, A, &rr, 0, 1);
    TcBuf v = tc_rand(&p, kd, A, &rr, 0, 1), dout = tc_rand(&p, hd, A, &rr, 0, 1);
    TcBuf out = tc_poison(&p, hd, A), lse = tc_poison(&p, (size_t)n * H, 4);
    p.ref->attn_fwd(p.rctx, out.h, lse.h, q.h, k.h, v.h, n_seq, T, H, K, D);
    p.dev->attn_fwd(p.dctx, out.d, lse.d, q.d, k.d, v.d, n_seq, T, H, K, D);
    snprintf(what, sizeof what, "attn_fwd %s %s n_seq %ld T %ld H %d K %d D %d: out", impl_name[im],
             p.mode, n_seq, T, H, K, D);
    tc_compare(&p, what, &out, tol_of(&p), elem_of(&p) * 2);
    snprintf(what, sizeof what, "attn_fwd %s %s n_seq %ld T %ld H %d K %d D %d: lse", impl_name[im],
             p.mode, n_seq, T, H, K, D);
    tc_compare(&p, what, &lse, 1e-5, 1e-5);
    dev_out[im][0] = xmalloc(hd * sizeof(float) + 4);
    {
      void *raw = xmalloc(hd * A + 4);
      p.dev->download(raw, out.d, hd * A);
      for (size_t i = 0; i < hd; i++) dev_out[im][0][i] = tc_get(raw, i, A);
      free(raw);
    }
    // backward from the reference's out and lse
    TcBuf outr = tc_from(&p, out.h, hd, A), lser = tc_from(&p, lse.h, (size_t)n * H, 4);
    TcBuf dq = tc_poison(&p, hd, A), dk = tc_poison(&p, kd, A), dv = tc_poison(&p, kd, A);
    p.ref->attn_bwd(p.rctx, dq.h, dk.h, dv.h, dout.h, outr.h, lser.h, q.h, k.h, v.h, n_seq, T, H,
                    K, D);
    p.dev->attn_bwd(p.dctx, dq.d, dk.d, dv.d, dout.d, outr.d, lser.d, q.d, k.d, v.d, n_seq, T, H,
                    K, D);
    const char *gname[3] = {"dq", "dk", "dv"};
    TcBuf *gb[3] = {&dq, &dk, &dv};
    for (int gi = 0; gi < 3; gi++) {
      snprintf(what, sizeof what, "attn_bwd %s %s n_seq %ld T %ld H %d K %d D %d: %s",
               impl_name[im], p.mode, n_seq, T, H, K, D, gname[gi]);
      tc_compare(&p, what, gb[gi], tol_of(&p) * (bf16 ? 2 : 10), elem_of(&p) * 2);
      size_t cnt = gi == 0 ? hd : kd;
      dev_out[im][1 + gi] = xmalloc(cnt * sizeof(float) + 4);
      void *raw = xmalloc(cnt * A + 4);
      p.dev->download(raw, gb[gi]->d, cnt * A);
      for (size_t i = 0; i < cnt; i++) dev_out[im][1 + gi][i] = tc_get(raw, i, A);
      free(raw);
    }
    TcBuf *all[] = {&q, &k, &v, &dout, &out, &lse, &outr, &lser, &dq, &dk, &dv};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) tc_free(&p, all[i]);
    pair_close(&p);
  }
  if (flash_ok) {
    const char *gname[4] = {"out", "dq", "dk", "dv"};
    for (int gi = 0; gi < 4; gi++) {
      snprintf(what, sizeof what, "attn flash vs simple on the device T %ld H %d K %d D %d: %s", T,
               H, K, D, gname[gi]);
      tc_compare_f(what, dev_out[0][gi], dev_out[1][gi], gi == 0 || gi == 1 ? hd : kd, 2e-2, 1.2e-1);
    }
  }
  for (int im = 0; im < 2; im++)
    for (int gi = 0; gi < 4; gi++) free(dev_out[im][gi]);
  // advance the caller's generator past the inputs drawn above
  for (size_t i = 0; i < 2 * hd + 2 * kd; i++) rng_normal(r);
}

// ---- LM head and cross-entropy (several row blocks when n is large) ----
static void test_lm_head(Rng *r, int bf16, long n_seq, long T, int C, int V) {
  TcPair p;
  pair_open(&p, bf16, dims(T, n_seq, C, 1, 1, 1, V), TRAIN_ATTN_AUTO);
  char what[160];
  long n = n_seq * T;
  int32_t *seqs = random_tokens(r, n_seq, T, V);
  const int32_t *rt = p.ref->tokens(p.rctx, seqs, n_seq, 0), *dt = p.dev->tokens(p.dctx, seqs, n_seq, 0);
  TcBuf h = tc_rand(&p, (size_t)n * C, p.A, r, 0, 1), W = tc_rand(&p, (size_t)V * C, p.A, r, 0, 0.06);
  double gs = 1.0 / (double)n;
  p.ref->lm_head(p.rctx, h.h, rt, n_seq, T, W.h, gs, 0, NULL, NULL, C, V);
  p.dev->lm_head(p.dctx, h.d, dt, n_seq, T, W.d, gs, 0, NULL, NULL, C, V);
  double a = p.ref->take_nll(p.rctx), b = p.dev->take_nll(p.dctx);
  snprintf(what, sizeof what, "lm_head %s n_seq %ld T %ld C %d V %d: NLL sum", p.mode, n_seq, T, C, V);
  tc_compare_scalar(&p, what, a, b, bf16 ? 2e-4 : 1e-5);
  TcBuf dh = tc_poison(&p, (size_t)n * C, 4), dW = tc_rand(&p, (size_t)V * C, 4, r, 0, 1e-4);
  p.ref->lm_head(p.rctx, h.h, rt, n_seq, T, W.h, gs, 1, dh.h, dW.h, C, V);
  p.dev->lm_head(p.dctx, h.d, dt, n_seq, T, W.d, gs, 1, dh.d, dW.d, C, V);
  a = p.ref->take_nll(p.rctx);
  b = p.dev->take_nll(p.dctx);
  snprintf(what, sizeof what, "lm_head %s n_seq %ld T %ld C %d V %d: NLL sum (backward)", p.mode,
           n_seq, T, C, V);
  tc_compare_scalar(&p, what, a, b, bf16 ? 2e-4 : 1e-5);
  snprintf(what, sizeof what, "lm_head %s n_seq %ld T %ld C %d V %d: dh", p.mode, n_seq, T, C, V);
  tc_compare(&p, what, &dh, tol_of(&p) * (bf16 ? 1 : 10), elem_of(&p));
  snprintf(what, sizeof what, "lm_head %s n_seq %ld T %ld C %d V %d: dW +=", p.mode, n_seq, T, C, V);
  tc_compare(&p, what, &dW, tol_of(&p) * (bf16 ? 1 : 10), elem_of(&p));
  TcBuf *all[] = {&h, &W, &dh, &dW};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) tc_free(&p, all[i]);
  free(seqs);
  pair_close(&p);
}

// ---- optimizer: Σ g², scaling, AdamW (with the bf16 copy), and the conversions ----
static void test_optimizer(Rng *r, int bf16, size_t n) {
  TcPair p;
  pair_open(&p, bf16, dims(1, 1, 2, 1, 1, 1, 2), TRAIN_ATTN_AUTO);
  char what[128];
  TcBuf g = tc_rand(&p, n, 4, r, 0, 0.01);
  double a = p.ref->grad_sumsq(p.rctx, g.h, n), b = p.dev->grad_sumsq(p.dctx, g.d, n);
  snprintf(what, sizeof what, "grad_sumsq %s n %zu", p.mode, n);
  // Σ g² in double on both sides (fp32 squares are exact in double): n positive terms in two
  // orders differ by ≤ 2γ_n(2^-53) relative (6.7e-10 at n 3e6; 2.2e-12 at the quick 10001)
  tc_compare_scalar(&p, what, a, b, 2 * fp_gamma((double)n, 1.0 / 9007199254740992.0));
  p.ref->scale(p.rctx, g.h, n, 0.37);
  p.dev->scale(p.dctx, g.d, n, 0.37);
  snprintf(what, sizeof what, "scale %s n %zu", p.mode, n);
  tc_compare(&p, what, &g, 0, 0);
  TcBuf prm = tc_rand(&p, n, 4, r, 0, 0.05), m = tc_rand(&p, n, 4, r, 0, 0.001);
  TcBuf v = tc_rand(&p, n, 4, r, 0, 0.001);
  for (size_t i = 0; i < n; i++) {  // v ≥ 0 on both sides
    float x = fabsf(((float *)v.h)[i]);
    ((float *)v.h)[i] = x;
  }
  p.dev->upload(v.d, v.h, n * 4);
  TcBuf mat = tc_poison(&p, n, p.A);
  TrainAdamW aw = {.decay = 1 - 3e-4 * 0.1, .step_size = 3e-4 / (1 - pow(0.9, 3)),
                   .bc2_sqrt = sqrt(1 - pow(0.95, 3)), .eps = 1e-8, .b2 = 0.95, .one_b1 = 0.1,
                   .one_b2 = 0.05};
  void *mh = bf16 ? mat.h : NULL, *md = bf16 ? mat.d : NULL;
  p.ref->adamw(p.rctx, &aw, prm.h, mh, g.h, m.h, v.h, n);
  p.dev->adamw(p.dctx, &aw, prm.d, md, g.d, m.d, v.d, n);
  snprintf(what, sizeof what, "adamw %s n %zu: params", p.mode, n);
  tc_compare(&p, what, &prm, 1e-6, 1e-6);
  snprintf(what, sizeof what, "adamw %s n %zu: m", p.mode, n);
  tc_compare(&p, what, &m, 1e-6, 1e-6);
  snprintf(what, sizeof what, "adamw %s n %zu: v", p.mode, n);
  tc_compare(&p, what, &v, 1e-6, 1e-6);
  if (bf16) {
    snprintf(what, sizeof what, "adamw %s n %zu: bf16 weight copy", p.mode, n);
    tc_compare(&p, what, &mat, 1e-2, 1e-2);
    // conversions round to nearest even on both sides: the same bits
    TcBuf src = tc_rand(&p, n, 4, r, 0, 3), dst = tc_poison(&p, n, 2);
    const void *hv = p.ref->to_act(p.rctx, dst.h, src.h, n);
    const void *dv = p.dev->to_act(p.dctx, dst.d, src.d, n);
    snprintf(what, sizeof what, "to_act %s n %zu: returns the act buffer", p.mode, n);
    tc_row(hv == dst.h && dv == dst.d, what, hv == dst.h && dv == dst.d ? "yes" : "no");
    snprintf(what, sizeof what, "to_act %s n %zu (bits)", p.mode, n);
    tc_compare(&p, what, &dst, 0, 0);
    TcBuf mr = tc_poison(&p, n, 2);
    p.ref->mat_refresh(p.rctx, mr.h, src.h, n);
    p.dev->mat_refresh(p.dctx, mr.d, src.d, n);
    snprintf(what, sizeof what, "mat_refresh %s n %zu (bits)", p.mode, n);
    tc_compare(&p, what, &mr, 0, 0);
    tc_free(&p, &src);
    tc_free(&p, &dst);
    tc_free(&p, &mr);
  }
  TcBuf *all[] = {&g, &prm, &m, &v, &mat};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) tc_free(&p, all[i]);
  pair_close(&p);
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);  // rows appear as they are checked, also in a log
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--device") == 0 && i + 1 < argc) device = argv[++i];
    else if (strcmp(argv[i], "--quick") == 0) quick = 1;
    else {
      fprintf(stderr, "usage: test_train_kernels [--device cuda:N|cpu] [--quick]\n");
      return 2;
    }
  }
  BenchErr err;
  int gpu = strncmp(device, "cuda:", 5) == 0;
  if (gpu && backend_cuda_open(atoi(device + 5), &err)) {
    fprintf(stderr, "test_train_kernels: %s\n", err.msg);
    return 2;
  }
  if (!gpu && strcmp(device, "cpu") != 0) {
    fprintf(stderr, "test_train_kernels: device '%s' is neither cuda:N nor cpu\n", device);
    return 2;
  }
  threads = backend_cpu()->set_threads(0);
  printf("# Training kernels vs their CPU twins (device under test: %s%s)\n\n", device,
         quick ? ", quick" : "");
  Rng r;
  rng_seed(&r, 20261123);
  for (int bf16 = 0; bf16 < 2; bf16++) {
    test_products(&r, bf16, 37, 48, 80);
    if (!quick) test_products(&r, bf16, 4096, 512, 2048);
    test_embedding(&r, bf16, 3, 50, 40, 17);
    if (!quick) test_embedding(&r, bf16, 4, 2048, 512, 50304);
    test_rms(&r, bf16, 37, 48);
    if (!quick) test_rms(&r, bf16, 1000, 512);
    test_rope(&r, bf16, 2, 37, 3, 16);
    if (!quick) test_rope(&r, bf16, 2, 2048, 8, 64);
    test_swiglu(&r, bf16, 1001);
    test_attention(&r, bf16, 2, 37, 4, 2, 16);
    test_attention(&r, bf16, 2, 100, 4, 2, 64);      // one partial block of 64: masking edges
    test_attention(&r, bf16, 1, 130, 2, 1, 128);     // D 128, three blocks, the last of 2 rows
    if (!quick) {
      test_attention(&r, bf16, 2, 512, 8, 8, 64);
      test_attention(&r, bf16, 1, 2048, 8, 8, 64);   // the 50.9M recipe's shape, one sequence
    }
    test_lm_head(&r, bf16, 2, 33, 48, 61);
    if (!quick) test_lm_head(&r, bf16, 2, 2048, 512, 50304);  // 2 row blocks in bf16
    test_optimizer(&r, bf16, quick ? 10001 : 3000017);
  }
  if (gpu) backend_cuda_close();
  printf("\n%d passed, %d failed\n", tc_passed, tc_failed);
  return tc_failed ? 1 : 0;
}
