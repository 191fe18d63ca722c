// backend_cuda.c — the CUDA backend: the ops table of backend.h filled with the launchers of
// engine/cuda/*.cu (each named like its CPU twin: cpu_rmsnorm ↔ cuda_rmsnorm), one table per weight
// dtype, and the weights' upload. Compiled with -DBENCH_CUDA when nvcc was found; otherwise only
// the "built without CUDA" answers at the end of this file.
// Legend: V vocab, C hidden, L layers, H query heads, K kv heads, D head dim, F intermediate.
//
// Why the ops table and not a separate device forward: every op of backend.h already takes
// backend memory and shapes, and the forward (forward.c) only sequences them, so one forward,
// one KV cache and one block interface serve both devices (the decode protocol and its cache
// policies too: decode.c and kvcache.c over the KV-cache ops, engine/cuda/kv_cache.cu and
// engine/cuda/decode_attention.cu); what differs (weight dtype, errors
// raised asynchronously) is in the table: weight_dtype, weights_upload, sync.
//
// Attention: bf16/fp16 tables run the tensor-core flash kernel (flash_attention.cuh: q, k, v and
// the softmax weights rounded to the dtype, like every matrix product's inputs) where
// flash_attention_applies says so; the fp32 table, the fp64 check mode and other head dims run
// the exact fp32 kernel (attention.cuh).
//
// Weights on the device: one allocation; matrices in the table's dtype, norm weights and biases
// fp32, every tensor 256-byte aligned, embed first (its pointer is the allocation's). A tied LM
// head shares the embedding. Conversion from the host's fp32 goes through a staging buffer of at
// most 64 MiB, converted on the device.
#include <stdlib.h>
#include <string.h>

#include "backend.h"

#ifdef BENCH_CUDA

#include "activation.cuh"
#include "attention.cuh"
#include "convert.cuh"
#include "cuda_mem.cuh"
#include "decode_attention.cuh"
#include "embedding.cuh"
#include "flash_attention.cuh"
#include "kv_cache.cuh"
#include "lm_head.cuh"
#include "matmul.cuh"
#include "norm.cuh"
#include "rope.cuh"

enum { STAGING_FLOATS = 16 << 20 };  // 64 MiB of fp32 per upload step

// ---- weights ----

typedef struct {
  const float *src;  // host fp32
  float **dst;       // the field of the device copy to set
  size_t n;          // elements
  int matrix;        // held in the weight dtype (else fp32)
} WeightEntry;

typedef struct {
  WeightEntry *e;
  int n, cap;
} WeightList;

static void wl_add(WeightList *l, const float *src, float **dst, size_t n, int matrix) {
  *dst = NULL;
  if (!src) return;
  if (l->n == l->cap) {
    l->cap = l->cap ? 2 * l->cap : 64;
    l->e = xrealloc(l->e, (size_t)l->cap * sizeof *l->e);
  }
  l->e[l->n++] = (WeightEntry){src, dst, n, matrix};
}

// Every tensor of the model, embed first.
static void weight_list(WeightList *l, const Model *m, ModelWeights *dst) {
  const ModelConfig *c = &m->config;
  const ModelWeights *w = &m->weights;
  size_t V = (size_t)c->vocab_size, C = (size_t)c->hidden_size, F = (size_t)c->intermediate_size;
  size_t HD = (size_t)c->n_heads * c->head_dim, KD = (size_t)c->n_kv_heads * c->head_dim;
  wl_add(l, w->embed, &dst->embed, V * C, 1);
  for (int i = 0; i < c->n_layers; i++) {
    const LayerWeights *s = &w->layers[i];
    LayerWeights *d = &dst->layers[i];
    wl_add(l, s->attn_norm_w, &d->attn_norm_w, C, 0);
    wl_add(l, s->attn_norm_b, &d->attn_norm_b, C, 0);
    wl_add(l, s->wq, &d->wq, HD * C, 1);
    wl_add(l, s->wk, &d->wk, KD * C, 1);
    wl_add(l, s->wv, &d->wv, KD * C, 1);
    wl_add(l, s->bq, &d->bq, HD, 0);
    wl_add(l, s->bk, &d->bk, KD, 0);
    wl_add(l, s->bv, &d->bv, KD, 0);
    wl_add(l, s->wo, &d->wo, C * HD, 1);
    wl_add(l, s->bo, &d->bo, C, 0);
    wl_add(l, s->mlp_norm_w, &d->mlp_norm_w, C, 0);
    wl_add(l, s->mlp_norm_b, &d->mlp_norm_b, C, 0);
    wl_add(l, s->w_gate, &d->w_gate, F * C, 1);
    wl_add(l, s->w_up, &d->w_up, F * C, 1);
    wl_add(l, s->b_up, &d->b_up, F, 0);
    wl_add(l, s->w_down, &d->w_down, C * F, 1);
    wl_add(l, s->b_down, &d->b_down, C, 0);
  }
  wl_add(l, w->final_norm_w, &dst->final_norm_w, C, 0);
  wl_add(l, w->final_norm_b, &dst->final_norm_b, C, 0);
  if (w->lm_head != w->embed) wl_add(l, w->lm_head, &dst->lm_head, V * C, 1);
}

static size_t align256(size_t x) { return (x + 255) / 256 * 256; }

// One tensor into the arena at dst: fp32 straight, else through staging and conversion.
static int upload_tensor(char *dst, const WeightEntry *e, DType dt) {
  if (!e->matrix || dt == DTYPE_F32) {
    cuda_upload(dst, e->src, e->n * sizeof(float));
    return 0;
  }
  size_t chunk = e->n < STAGING_FLOATS ? e->n : STAGING_FLOATS;
  float *stage = cuda_scratch(CUDA_SCRATCH_STAGING, chunk * sizeof(float));
  if (!stage) return -1;
  for (size_t i = 0; i < e->n; i += chunk) {
    size_t k = e->n - i < chunk ? e->n - i : chunk;
    cuda_upload(stage, e->src + i, k * sizeof(float));
    cuda_convert_from_f32(dst + i * dtype_size(dt), dt, stage, k);
  }
  return 0;
}

static int weights_upload_as(ModelWeights *dst, const Model *m, DType dt, BenchErr *err) {
  const ModelConfig *c = &m->config;
  memset(dst, 0, sizeof *dst);
  dst->layers = xcalloc((size_t)(c->n_layers > 0 ? c->n_layers : 1), sizeof(LayerWeights));
  WeightList l = {0};
  weight_list(&l, m, dst);
  size_t total = 0;
  for (int i = 0; i < l.n; i++)
    total = align256(total) + l.e[i].n * (l.e[i].matrix ? dtype_size(dt) : sizeof(float));
  char *arena = cuda_alloc(total);
  if (!arena) {
    size_t fr = 0, tot = 0;
    cuda_mem_info(&fr, &tot);
    free(l.e);
    free(dst->layers);
    memset(dst, 0, sizeof *dst);
    return err_set(err, "out of memory: the model's weights need %.2f GiB in %s on cuda:%d "
                   "(%.2f GiB free of %.2f)", total / 1073741824.0, dtype_name(dt),
                   cuda_device_current(), fr / 1073741824.0, tot / 1073741824.0);
  }
  size_t off = 0;
  int rc = 0;
  for (int i = 0; i < l.n && rc == 0; i++) {
    off = align256(off);
    *l.e[i].dst = (float *)(arena + off);
    rc = upload_tensor(arena + off, &l.e[i], dt);
    off += l.e[i].n * (l.e[i].matrix ? dtype_size(dt) : sizeof(float));
  }
  if (m->weights.lm_head == m->weights.embed) dst->lm_head = dst->embed;
  free(l.e);
  cuda_scratch_release(CUDA_SCRATCH_STAGING);
  int failed = cuda_sync(err) != 0;  // a failed staging buffer is recorded there
  if (!failed && rc != 0) failed = err_set(err, "out of memory: staging the weights' upload") != 0;
  if (failed) {
    cuda_free(arena);
    free(dst->layers);
    memset(dst, 0, sizeof *dst);
    return -1;
  }
  return 0;
}

static void cuda_weights_free(ModelWeights *w) {
  cuda_free(w->embed);  // the arena
  free(w->layers);
  memset(w, 0, sizeof *w);
}

// ---- ops that do not depend on the weight dtype ----

static int cuda_set_threads(int threads) {
  (void)threads;
  return 1;
}

// ---- one table per weight dtype ----

#define CUDA_DTYPE_OPS(SUFFIX, DT)                                                               \
  static void cuda_matmul_##SUFFIX(float *y, const float *x, const void *w, const float *b,     \
                                   long T, int Cin, int N) {                                    \
    cuda_matmul(y, x, w, DT, b, T, Cin, N);                                                     \
  }                                                                                              \
  static void cuda_embedding_##SUFFIX(float *x, const void *table, const int32_t *ids, long T,  \
                                      int C) {                                                  \
    cuda_embedding(x, table, DT, ids, T, C);                                                    \
  }                                                                                              \
  static void cuda_lm_head_nll_##SUFFIX(float *nll, int32_t *argmax, const float *h,            \
                                        const void *w, const int32_t *target, long T, int C,    \
                                        int V, int fp64, float *logits, long block) {           \
    size_t rows = (size_t)(T < block ? T : block);                                              \
    cuda_lm_head_nll(nll, argmax, h, w, DT, target, T, C, V, fp64, logits, rows * (size_t)V);   \
  }                                                                                              \
  static void cuda_attention_##SUFFIX(float *out, const float *q, const float *k,               \
                                      const float *v, long Tq, long Tk, long q0, int H, int K,  \
                                      int D, float scale, long window, int fp64) {              \
    if (flash_attention_applies(DT, D, fp64))                                                    \
      cuda_flash_attention(out, q, k, v, Tq, Tk, q0, H, K, D, scale, window, DT);               \
    else                                                                                         \
      cuda_attention(out, q, k, v, Tq, Tk, q0, H, K, D, scale, window, fp64);                   \
  }                                                                                              \
  static int cuda_weights_upload_##SUFFIX(ModelWeights *dst, const Model *m, BenchErr *err) {   \
    return weights_upload_as(dst, m, DT, err);                                                  \
  }                                                                                              \
  static const Backend backend_cuda_##SUFFIX = {                                                \
      .name = "cuda",                                                                            \
      .weight_dtype = DT,                                                                        \
      .set_threads = cuda_set_threads,                                                           \
      .alloc = cuda_alloc,                                                                       \
      .free = cuda_free,                                                                         \
      .upload = cuda_upload,                                                                     \
      .download = cuda_download,                                                                 \
      .sync = cuda_sync,                                                                         \
      .weights_upload = cuda_weights_upload_##SUFFIX,                                            \
      .weights_free = cuda_weights_free,                                                         \
      .matmul = cuda_matmul_##SUFFIX,                                                            \
      .rmsnorm = cuda_rmsnorm,                                                                   \
      .layernorm = cuda_layernorm,                                                               \
      .embedding = cuda_embedding_##SUFFIX,                                                      \
      .rope_table = cuda_rope_table,                                                             \
      .rope_apply = cuda_rope_apply,                                                             \
      .attention = cuda_attention_##SUFFIX,                                                      \
      .silu_mul = cuda_silu_mul,                                                                 \
      .gelu = cuda_gelu,                                                                         \
      .add = cuda_add,                                                                           \
      .lm_head_nll = cuda_lm_head_nll_##SUFFIX,                                                  \
      .kv_append = cuda_kv_append,                                                               \
      .kv_move = cuda_kv_move,                                                                   \
      .kv_argmin = cuda_kv_argmin,                                                               \
      .kv_gather = cuda_kv_gather,                                                               \
      .decode_attention = cuda_decode_attention,                                                 \
      .attention_weight_sums = cuda_attention_weight_sums,                                       \
  };

CUDA_DTYPE_OPS(f32, DTYPE_F32)
CUDA_DTYPE_OPS(bf16, DTYPE_BF16)
CUDA_DTYPE_OPS(f16, DTYPE_F16)

const Backend *backend_cuda(DType dtype) {
  switch (dtype) {
    case DTYPE_BF16: return &backend_cuda_bf16;
    case DTYPE_F16: return &backend_cuda_f16;
    default: return &backend_cuda_f32;
  }
}

int backend_cuda_open(int device, BenchErr *err) { return cuda_device_open(device, err); }

void backend_cuda_close(void) { cuda_device_close(); }

#else  // built without CUDA

const Backend *backend_cuda(DType dtype) {
  (void)dtype;
  return NULL;
}

int backend_cuda_open(int device, BenchErr *err) {
  return err_set(err, "cuda:%d: this bench was built without CUDA (nvcc was not found when it "
                 "was built)", device);
}

void backend_cuda_close(void) {}

#endif
