// train_emu_ops.h — a CPU table of training ops (train_ops.h) with the element types of the
// cuda-bf16 table: params and stream fp32, mat and act bf16 (as uint16 bits), as many sequences
// per pass as asked. Each op widens its bf16 inputs to fp32, runs the cpu-fp32 op, and rounds its
// bf16 outputs (nearest even), which is what the CUDA kernels do up to the order of their fp32
// sums. So it is both the CPU twin of every cuda-bf16 kernel (tests/gpu/test_train_kernels.c)
// and a run of the orchestration with act ≠ stream and a separate bf16 weight copy on the CPU
// (tests/unit/test_train_ops.c), where a buffer of the wrong kind shows up at once.
// Legend: n rows, C hidden, H/K heads, D head dim, F intermediate, V vocab, Cin/N features.
#ifndef BENCH_TRAIN_EMU_OPS_H
#define BENCH_TRAIN_EMU_OPS_H

#include <cblas.h>
#include <stdlib.h>
#include <string.h>

#include "safetensors.h"
#include "train_ops.h"

#define EMU_F32 (train_ops_cpu_f32())

static float *emu_wide(const void *src, size_t n) {
  const uint16_t *h = src;
  float *f = xmalloc((n ? n : 1) * sizeof(float));
  for (size_t i = 0; i < n; i++) f[i] = st_bf16_to_f32(h[i]);
  return f;
}

static void emu_narrow(void *dst, const float *src, size_t n) {
  uint16_t *h = dst;
  for (size_t i = 0; i < n; i++) h[i] = st_f32_to_bf16(src[i]);
}

static const int32_t *emu_tokens(void *ctx, const int32_t *seqs, long n_seq, int backward) {
  return EMU_F32->tokens(ctx, seqs, n_seq, backward);
}

static void emu_put_reals(void *ctx, void *dst, const double *src, size_t n) {
  EMU_F32->put_reals(ctx, dst, src, n);
}

static const void *emu_to_act(void *ctx, void *dst, const void *src, size_t n) {
  (void)ctx;
  emu_narrow(dst, src, n);
  return dst;
}

static void emu_mat_refresh(void *ctx, void *mat, const void *params, size_t n) {
  (void)ctx;
  emu_narrow(mat, params, n);
}

static void emu_rms_fwd(void *ctx, void *y, void *rs, const void *x, const void *w, long n, int C,
                        double eps) {
  float *yf = y ? xmalloc(sizeof(float) * (size_t)n * C) : NULL;
  EMU_F32->rms_fwd(ctx, yf, rs, x, w, n, C, eps);
  if (y) emu_narrow(y, yf, (size_t)n * C);
  free(yf);
}

// y (stream fp32, or act rounded) from fp32 results r[count]
static void emu_store(void *y, int y_stream, const float *r, size_t count) {
  if (y_stream) memcpy(y, r, count * sizeof(float));
  else emu_narrow(y, r, count);
}

static void emu_linear(void *ctx, void *y, int y_stream, const void *x, const void *w, long n,
                       int Cin, int N, int acc) {
  float *xf = emu_wide(x, (size_t)n * Cin), *wf = emu_wide(w, (size_t)N * Cin);
  float *yf = xmalloc(sizeof(float) * (size_t)n * N);
  if (acc) memcpy(yf, y, sizeof(float) * (size_t)n * N);  // acc only with stream outputs
  EMU_F32->linear(ctx, yf, 1, xf, wf, n, Cin, N, acc);
  emu_store(y, y_stream, yf, (size_t)n * N);
  free(xf);
  free(wf);
  free(yf);
}

static void emu_linear_dx(void *ctx, void *dx, int dx_stream, const void *dy, const void *w, long n,
                          int Cin, int N, int acc) {
  float *dyf = emu_wide(dy, (size_t)n * N), *wf = emu_wide(w, (size_t)N * Cin);
  float *r = xmalloc(sizeof(float) * (size_t)n * Cin);
  if (acc) memcpy(r, dx, sizeof(float) * (size_t)n * Cin);
  EMU_F32->linear_dx(ctx, r, 1, dyf, wf, n, Cin, N, acc);
  emu_store(dx, dx_stream, r, (size_t)n * Cin);
  free(dyf);
  free(wf);
  free(r);
}

static void emu_linear_dw(void *ctx, void *dw, const void *dy, const void *x, long n, int Cin,
                          int N) {
  float *dyf = emu_wide(dy, (size_t)n * N), *xf = emu_wide(x, (size_t)n * Cin);
  EMU_F32->linear_dw(ctx, dw, dyf, xf, n, Cin, N);
  free(dyf);
  free(xf);
}

static void emu_rope(void *ctx, void *x, const void *cs, const void *sn, long n, long T, int NH,
                     int D, int inverse) {
  float *xf = emu_wide(x, (size_t)n * NH * D);
  EMU_F32->rope(ctx, xf, cs, sn, n, T, NH, D, inverse);
  emu_narrow(x, xf, (size_t)n * NH * D);
  free(xf);
}

static void emu_swiglu_fwd(void *ctx, void *a, const void *g, const void *u, long n) {
  float *gf = emu_wide(g, (size_t)n), *uf = emu_wide(u, (size_t)n);
  float *af = xmalloc(sizeof(float) * (size_t)(n ? n : 1));
  EMU_F32->swiglu_fwd(ctx, af, gf, uf, n);
  emu_narrow(a, af, (size_t)n);
  free(gf);
  free(uf);
  free(af);
}

static void emu_swiglu_bwd(void *ctx, void *da, void *du, const void *g, const void *u, long n) {
  float *gf = emu_wide(g, (size_t)n), *uf = emu_wide(u, (size_t)n), *daf = emu_wide(da, (size_t)n);
  float *duf = xmalloc(sizeof(float) * (size_t)(n ? n : 1));
  EMU_F32->swiglu_bwd(ctx, daf, duf, gf, uf, n);
  emu_narrow(da, daf, (size_t)n);
  emu_narrow(du, duf, (size_t)n);
  free(gf);
  free(uf);
  free(daf);
  free(duf);
}

static void emu_attn_fwd(void *ctx, void *out, void *lse, const void *q, const void *k,
                         const void *v, long n_seq, long T, int H, int K, int D) {
  size_t n = (size_t)(n_seq * T);
  float *qf = emu_wide(q, n * H * D), *kf = emu_wide(k, n * K * D), *vf = emu_wide(v, n * K * D);
  float *of = xmalloc(sizeof(float) * (n * H * D + 1));
  EMU_F32->attn_fwd(ctx, of, lse, qf, kf, vf, n_seq, T, H, K, D);
  emu_narrow(out, of, n * H * D);
  free(qf);
  free(kf);
  free(vf);
  free(of);
}

static void emu_attn_bwd(void *ctx, void *dq, void *dk, void *dv, const void *dout,
                         const void *out, const void *lse, const void *q, const void *k,
                         const void *v, long n_seq, long T, int H, int K, int D) {
  size_t n = (size_t)(n_seq * T), hd = n * H * D, kd = n * K * D;
  float *dof = emu_wide(dout, hd), *of = emu_wide(out, hd), *qf = emu_wide(q, hd);
  float *kf = emu_wide(k, kd), *vf = emu_wide(v, kd);
  float *dqf = xmalloc(sizeof(float) * (hd + 1)), *dkf = xmalloc(sizeof(float) * (kd + 1));
  float *dvf = xmalloc(sizeof(float) * (kd + 1));
  EMU_F32->attn_bwd(ctx, dqf, dkf, dvf, dof, of, lse, qf, kf, vf, n_seq, T, H, K, D);
  emu_narrow(dq, dqf, hd);
  emu_narrow(dk, dkf, kd);
  emu_narrow(dv, dvf, kd);
  free(dof);
  free(of);
  free(qf);
  free(kf);
  free(vf);
  free(dqf);
  free(dkf);
  free(dvf);
}

static void emu_lm_head(void *ctx, const void *h, const int32_t *tok, long n_seq, long T,
                        const void *W, double gs, int backward, void *dh, void *dW, int C, int V) {
  float *hf = emu_wide(h, (size_t)(n_seq * T) * C), *Wf = emu_wide(W, (size_t)V * C);
  EMU_F32->lm_head(ctx, hf, tok, n_seq, T, Wf, gs, backward, dh, dW, C, V);
  free(hf);
  free(Wf);
}

static void emu_adamw(void *ctx, const TrainAdamW *a, void *p, void *mat, const void *g, void *m,
                      void *v, size_t n) {
  EMU_F32->adamw(ctx, a, p, NULL, g, m, v, n);
  if (mat) emu_narrow(mat, p, n);
}

static TrainOps emu_train_ops_table;

// The table (built on first use from the cpu-fp32 one).
static inline const TrainOps *train_emu_ops(void) {
  TrainOps *o = &emu_train_ops_table;
  if (o->name) return o;
  *o = *EMU_F32;
  o->name = "cpu-bf16-emulated";
  o->batch_passes = 1;
  o->mat_size = 2;
  o->act_size = 2;
  o->tokens = emu_tokens;
  o->put_reals = emu_put_reals;
  o->to_act = emu_to_act;
  o->mat_refresh = emu_mat_refresh;
  o->rms_fwd = emu_rms_fwd;
  o->linear = emu_linear;
  o->linear_dx = emu_linear_dx;
  o->linear_dw = emu_linear_dw;
  o->rope = emu_rope;
  o->swiglu_fwd = emu_swiglu_fwd;
  o->swiglu_bwd = emu_swiglu_bwd;
  o->attn_fwd = emu_attn_fwd;
  o->attn_bwd = emu_attn_bwd;
  o->lm_head = emu_lm_head;
  o->adamw = emu_adamw;
  return o;
}

#endif
