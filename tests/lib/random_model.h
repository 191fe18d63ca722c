// random_model.h — models with random weights held in memory, and geometric RoPE tables built by
// hand, for forward tests and the CPU benchmark (no checkpoint on disk).
// Legend: V vocab, C hidden, L layers, H query heads, K kv heads, D head dim, F intermediate,
//         R rotary dims.
#ifndef BENCH_RANDOM_MODEL_H
#define BENCH_RANDOM_MODEL_H

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "rope.h"
#include "util.h"

// A config of the given shape with each architecture's switches as Hugging Face sets them.
static inline ModelConfig rm_config(Arch arch, int V, int C, int L, int H, int K, int F,
                                    double rotary) {
  ModelConfig c;
  memset(&c, 0, sizeof c);
  c.arch = arch;
  c.vocab_size = V;
  c.hidden_size = C;
  c.n_layers = L;
  c.n_heads = H;
  c.n_kv_heads = K;
  c.head_dim = C / H;
  c.intermediate_size = F;
  c.partial_rotary_factor = rotary;
  c.rotary_dims = (int)(c.head_dim * rotary);
  c.rotary_dims -= c.rotary_dims % 2;
  c.max_position_embeddings = 4096;
  c.rope_theta = 10000.0;
  c.norm_eps = 1e-5;
  c.bos_token_id = c.eos_token_id = -1;
  switch (arch) {
    case ARCH_LLAMA: strcpy(c.architecture, "LlamaForCausalLM"); break;
    case ARCH_MISTRAL: strcpy(c.architecture, "MistralForCausalLM"); break;
    case ARCH_QWEN2:
      strcpy(c.architecture, "Qwen2ForCausalLM");
      c.qkv_bias = 1;
      c.tie_word_embeddings = 1;
      break;
    case ARCH_GPT_NEOX:
      strcpy(c.architecture, "GPTNeoXForCausalLM");
      c.norm_is_layernorm = 1;
      c.qkv_bias = 1;
      c.o_bias = 1;
      c.mlp_is_gelu = 1;
      c.parallel_residual = 1;
      break;
  }
  return c;
}

// n values ~ mean + std·N(0, 1).
static inline float *rm_tensor(Rng *r, size_t n, double mean, double std) {
  float *p = xmalloc(n * sizeof(float));
  for (size_t i = 0; i < n; i++) p[i] = (float)(mean + std * rng_normal(r));
  return p;
}

// Random weights: linear layers ~ N(0, 1/in) so activations stay O(1); norm weights near 1;
// biases small; embeddings N(0, 1). Biases follow the config (qkv_bias, o_bias; GPT-NeoX's MLP).
static inline void rm_init(Model *m, const ModelConfig *cfg, uint64_t seed) {
  memset(m, 0, sizeof *m);
  m->config = *cfg;
  Rng r;
  rng_seed(&r, seed);
  size_t V = cfg->vocab_size, C = cfg->hidden_size, F = cfg->intermediate_size;
  size_t HD = (size_t)cfg->n_heads * cfg->head_dim, KD = (size_t)cfg->n_kv_heads * cfg->head_dim;
  int neox = cfg->arch == ARCH_GPT_NEOX;
  ModelWeights *w = &m->weights;
  w->embed = rm_tensor(&r, V * C, 0.0, 1.0);
  w->layers = xcalloc((size_t)cfg->n_layers, sizeof(LayerWeights));
  for (int l = 0; l < cfg->n_layers; l++) {
    LayerWeights *lw = &w->layers[l];
    lw->attn_norm_w = rm_tensor(&r, C, 1.0, 0.1);
    lw->mlp_norm_w = rm_tensor(&r, C, 1.0, 0.1);
    if (cfg->norm_is_layernorm) {
      lw->attn_norm_b = rm_tensor(&r, C, 0.0, 0.1);
      lw->mlp_norm_b = rm_tensor(&r, C, 0.0, 0.1);
    }
    // q and k a little larger than 1/in so that attention is far from uniform
    lw->wq = rm_tensor(&r, HD * C, 0.0, 2.0 / sqrt((double)C));
    lw->wk = rm_tensor(&r, KD * C, 0.0, 2.0 / sqrt((double)C));
    lw->wv = rm_tensor(&r, KD * C, 0.0, 1.0 / sqrt((double)C));
    lw->wo = rm_tensor(&r, C * HD, 0.0, 1.0 / sqrt((double)HD));
    if (cfg->qkv_bias) {
      lw->bq = rm_tensor(&r, HD, 0.0, 0.1);
      lw->bk = rm_tensor(&r, KD, 0.0, 0.1);
      lw->bv = rm_tensor(&r, KD, 0.0, 0.1);
    }
    if (cfg->o_bias) lw->bo = rm_tensor(&r, C, 0.0, 0.1);
    if (!cfg->mlp_is_gelu) lw->w_gate = rm_tensor(&r, F * C, 0.0, 1.0 / sqrt((double)C));
    lw->w_up = rm_tensor(&r, F * C, 0.0, 1.0 / sqrt((double)C));
    lw->w_down = rm_tensor(&r, C * F, 0.0, 1.0 / sqrt((double)F));
    if (neox) {
      lw->b_up = rm_tensor(&r, F, 0.0, 0.1);
      lw->b_down = rm_tensor(&r, C, 0.0, 0.1);
    }
  }
  w->final_norm_w = rm_tensor(&r, C, 1.0, 0.1);
  if (cfg->norm_is_layernorm) w->final_norm_b = rm_tensor(&r, C, 0.0, 0.1);
  w->lm_head = cfg->tie_word_embeddings ? w->embed
                                        : rm_tensor(&r, V * C, 0.0, 1.0 / sqrt((double)C));
}

static inline void rm_free(Model *m) {
  ModelWeights *w = &m->weights;
  for (int l = 0; l < m->config.n_layers; l++) {
    LayerWeights *lw = &w->layers[l];
    float *p[] = {lw->attn_norm_w, lw->attn_norm_b, lw->wq, lw->wk, lw->wv, lw->bq, lw->bk,
                  lw->bv, lw->wo, lw->bo, lw->mlp_norm_w, lw->mlp_norm_b, lw->w_gate, lw->w_up,
                  lw->b_up, lw->w_down, lw->b_down};
    for (size_t i = 0; i < sizeof p / sizeof p[0]; i++) free(p[i]);
  }
  free(w->layers);
  if (w->lm_head != w->embed) free(w->lm_head);
  free(w->embed);
  free(w->final_norm_w);
  free(w->final_norm_b);
  memset(m, 0, sizeof *m);
}

// Geometric RoPE over R dims: inv_freq[i] = theta^(−2i/R), identity position map.
static inline RopeTable rm_rope(int R, double theta, double attention_scale) {
  RopeTable t;
  memset(&t, 0, sizeof t);
  t.rotary_dims = R;
  t.inv_freq = xmalloc(sizeof(double) * (size_t)(R / 2 > 0 ? R / 2 : 1));
  for (int i = 0; i < R / 2; i++) t.inv_freq[i] = pow(theta, -2.0 * i / R);
  t.attention_scale = attention_scale;
  return t;
}

static inline void rm_rope_free(RopeTable *t) {
  free(t->inv_freq);
  t->inv_freq = NULL;
}

// n token ids in [0, V), deterministic by seed.
static inline int32_t *rm_tokens(long n, int V, uint64_t seed) {
  Rng r;
  rng_seed(&r, seed);
  int32_t *t = xmalloc(sizeof(int32_t) * (size_t)(n > 0 ? n : 1));
  for (long i = 0; i < n; i++) t[i] = (int32_t)rng_below(&r, (uint64_t)V);
  return t;
}

#endif
