// emu_backend.h — the CPU backend emulating the CUDA backend's numerics in bf16/fp16 mode: weight
// matrices rounded to the dtype (an fp32 copy holding the rounded values), and every matrix
// product's fp32 input rounded the same way before the fp32 sgemm (cuBLASLt multiplies the same
// rounded values exactly and accumulates in fp32), and attention computed as the CUDA flash kernel
// computes it where the CUDA backend runs that kernel (flash_twin.h: operands and softmax weights
// rounded to the dtype). What remains between this and the GPU is the order of fp32 sums. Used by
// the CPU numerics test and the GPU parity test.
// Legend: T rows, Cin inputs, N outputs, C hidden, V vocab.
#ifndef BENCH_EMU_BACKEND_H
#define BENCH_EMU_BACKEND_H

#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "flash_twin.h"
#include "model.h"
#include "safetensors.h"

static DType emu_dtype = DTYPE_BF16;  // the dtype being emulated (one at a time per process)

static inline float emu_round(float x, DType t) {
  switch (t) {
    case DTYPE_BF16: return st_bf16_to_f32(st_f32_to_bf16(x));
    case DTYPE_F16: return st_f16_to_f32(st_f32_to_f16(x));
    default: return x;
  }
}

// A rounded copy of x[n].
static inline float *emu_rounded(const float *x, size_t n) {
  float *r = xmalloc((n ? n : 1) * sizeof(float));
  for (size_t i = 0; i < n; i++) r[i] = emu_round(x[i], emu_dtype);
  return r;
}

static void emu_matmul(float *y, const float *x, const void *w, const float *b, long T, int Cin,
                       int N) {
  float *xr = emu_rounded(x, (size_t)T * Cin);
  backend_cpu()->matmul(y, xr, w, b, T, Cin, N);
  free(xr);
}

static void emu_lm_head_nll(float *nll, int32_t *argmax, const float *h, const void *w,
                            const int32_t *target, long T, int C, int V, int fp64, float *logits,
                            long block) {
  float *hr = emu_rounded(h, (size_t)T * C);
  backend_cpu()->lm_head_nll(nll, argmax, hr, w, target, T, C, V, fp64, logits, block);
  free(hr);
}

static void emu_attention(float *out, const float *q, const float *k, const float *v, long Tq,
                          long Tk, long q0, int H, int K, int D, float scale, long window,
                          int fp64) {
  if (flash_attention_applies(emu_dtype, D, fp64))
    flash_attention_twin(out, q, k, v, Tq, Tk, q0, H, K, D, scale, window, emu_dtype);
  else
    backend_cpu()->attention(out, q, k, v, Tq, Tk, q0, H, K, D, scale, window, fp64);
}

static int emu_n_layers;  // layers of the model whose weights were last uploaded

// Matrices rounded (own copies); norm weights and biases shared with the model (fp32 on CUDA too).
static int emu_weights_upload(ModelWeights *dst, const Model *m, BenchErr *err) {
  const ModelConfig *c = &m->config;
  const ModelWeights *w = &m->weights;
  size_t V = (size_t)c->vocab_size, C = (size_t)c->hidden_size, F = (size_t)c->intermediate_size;
  size_t HD = (size_t)c->n_heads * c->head_dim, KD = (size_t)c->n_kv_heads * c->head_dim;
  if (backend_cpu()->weights_upload(dst, m, err)) return -1;
  emu_n_layers = c->n_layers;
  dst->embed = emu_rounded(w->embed, V * C);
  dst->lm_head = w->lm_head == w->embed ? dst->embed : emu_rounded(w->lm_head, V * C);
  for (int l = 0; l < c->n_layers; l++) {
    const LayerWeights *s = &w->layers[l];
    LayerWeights *d = &dst->layers[l];
    d->wq = emu_rounded(s->wq, HD * C);
    d->wk = emu_rounded(s->wk, KD * C);
    d->wv = emu_rounded(s->wv, KD * C);
    d->wo = emu_rounded(s->wo, C * HD);
    d->w_gate = s->w_gate ? emu_rounded(s->w_gate, F * C) : NULL;
    d->w_up = emu_rounded(s->w_up, F * C);
    d->w_down = emu_rounded(s->w_down, C * F);
  }
  return 0;
}

// (weights_free gets no config: the layer count is the last upload's, one model at a time)
static void emu_weights_free(ModelWeights *w) {
  for (int l = 0; l < emu_n_layers; l++) {
    LayerWeights *d = &w->layers[l];
    float *p[] = {d->wq, d->wk, d->wv, d->wo, d->w_gate, d->w_up, d->w_down};
    for (size_t i = 0; i < sizeof p / sizeof p[0]; i++) free(p[i]);
  }
  if (w->lm_head != w->embed) free(w->lm_head);
  free(w->embed);
  free(w->layers);
  memset(w, 0, sizeof *w);
}

static Backend emu_backend_ops;

// The emulating backend for dtype (bf16 or fp16).
static inline const Backend *emu_backend(DType dtype) {
  emu_dtype = dtype;
  emu_backend_ops = *backend_cpu();
  emu_backend_ops.name = dtype == DTYPE_F16 ? "cpu-emulating-fp16" : "cpu-emulating-bf16";
  emu_backend_ops.weight_dtype = DTYPE_F32;
  emu_backend_ops.matmul = emu_matmul;
  emu_backend_ops.lm_head_nll = emu_lm_head_nll;
  emu_backend_ops.attention = emu_attention;
  emu_backend_ops.weights_upload = emu_weights_upload;
  emu_backend_ops.weights_free = emu_weights_free;
  return &emu_backend_ops;
}

#endif
