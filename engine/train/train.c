// train.c — the trainer's set-up: parameter layout, the arenas on the host and on the compute's
// device, and their copies (the recipe's rules: train_config.c; the step: train_step.c).
// Legend: B sequences per step, T tokens per sequence, V vocab, C hidden, L layers, H query heads,
//         K kv heads, D head dim, F intermediate.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "train_internal.h"
#include "train_ops.h"

// ---- layout ----
static void add_tensor(Trainer *t, const char *name, int n_dims, long d0, long d1, size_t *off) {
  TrainTensor *x = &t->tensors[t->n_tensors++];
  snprintf(x->name, sizeof x->name, "%s", name);
  x->n_dims = n_dims;
  x->shape[0] = d0;
  x->shape[1] = n_dims == 2 ? d1 : 0;
  x->numel = (size_t)d0 * (n_dims == 2 ? (size_t)d1 : 1);
  x->offset = *off;
  x->decay = n_dims == 2;
  *off += (x->numel + 15) / 16 * 16;  // 64-byte aligned tensors in a float arena
}

static void layout(Trainer *t) {
  const TrainConfig *c = &t->cfg;
  long C = c->hidden_size, V = c->vocab_size, F = c->intermediate_size, D = t->head_dim;
  long HD = c->n_heads * D, KD = c->n_kv_heads * D;
  t->tensors = xcalloc((size_t)(3 + c->n_layers * TT_PER_LAYER), sizeof *t->tensors);
  size_t off = 0;
  char name[64];
  add_tensor(t, "model.embed_tokens.weight", 2, V, C, &off);
  for (int l = 0; l < c->n_layers; l++) {
    static const char *const part[TT_PER_LAYER] = {
        "input_layernorm", "self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj",
        "self_attn.o_proj", "post_attention_layernorm", "mlp.gate_proj", "mlp.up_proj",
        "mlp.down_proj"};
    const long rows[TT_PER_LAYER] = {C, HD, KD, KD, C, C, F, F, C};
    const long cols[TT_PER_LAYER] = {0, C, C, C, HD, 0, C, C, F};
    for (int i = 0; i < TT_PER_LAYER; i++) {
      snprintf(name, sizeof name, "model.layers.%d.%s.weight", l, part[i]);
      add_tensor(t, name, cols[i] ? 2 : 1, rows[i], cols[i], &off);
    }
  }
  add_tensor(t, "model.norm.weight", 1, C, 0, &off);
  t->head_tensor = 0;
  if (!c->tie_embeddings) {
    t->head_tensor = t->n_tensors;
    add_tensor(t, "lm_head.weight", 2, V, C, &off);
  }
  t->n_params = off;
}

const char *train_compute_name(TrainCompute c) {
  switch (c) {
    case TRAIN_CPU_F64: return "cpu-fp64";
    case TRAIN_CUDA_F32: return "cuda-fp32";
    case TRAIN_CUDA_BF16: return "cuda-bf16";
    default: return "cpu-fp32";
  }
}

static const TrainOps *ops_for(TrainCompute c) {
  switch (c) {
    case TRAIN_CPU_F64: return train_ops_cpu_f64();
    case TRAIN_CUDA_F32: return train_ops_cuda(0);
    case TRAIN_CUDA_BF16: return train_ops_cuda(1);
    default: return train_ops_cpu_f32();
  }
}

// The device arenas: the host ones on the CPU; else params, grads and moments in the device's
// memory. The products' copy is separate wherever its element type differs (bf16).
static int device_arenas(Trainer *t, BenchErr *err) {
  const TrainOps *o = t->ops;
  size_t bytes = t->n_params * o->param_size;
  int separate = o->mat_size != o->param_size;
  if (o->on_device) {
    t->d_params = o->alloc(bytes);
    t->d_grads = o->alloc(bytes);
    t->d_m = o->alloc(bytes);
    t->d_v = o->alloc(bytes);
  } else {
    t->d_params = t->params;
    t->d_grads = t->grads;
    t->d_m = t->adam_m;
    t->d_v = t->adam_v;
  }
  t->d_mat = separate ? o->alloc(t->n_params * o->mat_size) : t->d_params;
  if (!t->d_params || !t->d_grads || !t->d_m || !t->d_v || !t->d_mat)
    return err_set(err, "out of memory: %zu parameters with gradients, AdamW moments%s need "
                   "%.2f GiB on %s", train_n_params(&t->cfg), separate ? " and a bf16 copy" : "",
                   (4.0 * bytes + (separate ? t->n_params * o->mat_size : 0)) / 1073741824.0,
                   o->name);
  return 0;
}

static void free_device_arenas(Trainer *t) {
  const TrainOps *o = t->ops;
  if (!o) return;
  if (t->d_mat && t->d_mat != t->d_params) o->free(t->d_mat);
  if (!o->on_device) return;
  void *p[4] = {t->d_params, t->d_grads, t->d_m, t->d_v};
  for (int i = 0; i < 4; i++)
    if (p[i]) o->free(p[i]);
}

// Sequences per pass: as asked, else one on the CPU; on a device the batch, halved while the
// activations would take more than 90% of what is free.
static long pick_seqs_per_pass(const Trainer *t, const TrainDevice *dev) {
  long B = t->cfg.batch;
  if (dev->seqs_per_pass > 0) return dev->seqs_per_pass;
  if (!t->ops->batch_passes) return 1;
  size_t avail = t->ops->mem_available();
  long n = B;
  while (n > 1 && (double)train_work_bytes(t, n) > 0.9 * (double)avail) n = (n + 1) / 2;
  return n;
}

int trainer_init(Trainer *t, const TrainConfig *cfg, const RopeTable *rope, int fp64,
                 BenchErr *err) {
  TrainDevice dev = {.compute = fp64 ? TRAIN_CPU_F64 : TRAIN_CPU_F32};
  return trainer_init_on(t, cfg, rope, &dev, err);
}

int trainer_init_on(Trainer *t, const TrainConfig *cfg, const RopeTable *rope,
                    const TrainDevice *dev, BenchErr *err) {
  memset(t, 0, sizeof *t);
  if (train_config_check(cfg, err) != 0) return -1;
  t->cfg = *cfg;
  t->compute = dev->compute;
  t->fp64 = dev->compute == TRAIN_CPU_F64;
  t->head_dim = cfg->hidden_size / cfg->n_heads;
  if (rope->rotary_dims != t->head_dim)
    return err_set(err, "rope table rotates %d dims but the head dim is %d", rope->rotary_dims,
                   t->head_dim);
  int cuda = dev->compute == TRAIN_CUDA_F32 || dev->compute == TRAIN_CUDA_BF16;
  if (!dev->ops && cuda && train_ops_cuda_ready(err) != 0)
    return err_prefix(err, "%s training", train_compute_name(dev->compute));
  t->ops = dev->ops ? dev->ops : ops_for(dev->compute);
  t->threads = backend_cpu()->set_threads(train_threads(cfg->threads));
  layout(t);
  size_t T = (size_t)cfg->seq_len, half = (size_t)t->head_dim / 2, el = t->fp64 ? 8 : 4;
  t->rope_cos = malloc(T * half * sizeof(double));
  t->rope_sin = malloc(T * half * sizeof(double));
  t->params = calloc(t->n_params, el);
  t->grads = calloc(t->n_params, el);
  t->adam_m = calloc(t->n_params, el);
  t->adam_v = calloc(t->n_params, el);
  if (!t->rope_cos || !t->rope_sin || !t->params || !t->grads || !t->adam_m || !t->adam_v) {
    trainer_free(t);
    return err_set(err, "out of memory: %zu parameters with gradients and AdamW moments",
                   train_n_params(cfg));
  }
  for (size_t p = 0; p < T; p++) {
    double pos = rope_position(rope, (long)p);
    for (size_t i = 0; i < half; i++) {
      double a = pos * rope->inv_freq[i];
      t->rope_cos[p * half + i] = cos(a) * rope->attention_scale;
      t->rope_sin[p * half + i] = sin(a) * rope->attention_scale;
    }
  }
  if (t->fp64) tr_init_params_f64(t);
  else tr_init_params_f32(t);
  if (device_arenas(t, err) != 0 || trainer_to_device(t, err) != 0) {
    trainer_free(t);
    return -1;
  }
  t->seqs_per_pass = pick_seqs_per_pass(t, dev);
  TrainDims d = {.T = cfg->seq_len, .n_seq = t->seqs_per_pass, .C = cfg->hidden_size,
                 .H = cfg->n_heads, .K = cfg->n_kv_heads, .D = t->head_dim,
                 .F = cfg->intermediate_size, .V = cfg->vocab_size, .threads = t->threads,
                 .attention = dev->attention};
  t->ctx = t->ops->ctx_new(&d, err);
  if (!t->ctx || train_work_alloc(t, err) != 0 || t->ops->sync(err) != 0) {
    trainer_free(t);
    return -1;
  }
  return 0;
}

void trainer_free(Trainer *t) {
  if (t->work) train_work_free(t);
  if (t->ctx) t->ops->ctx_free(t->ctx);
  free_device_arenas(t);
  free(t->tensors);
  free(t->rope_cos);
  free(t->rope_sin);
  free(t->params);
  free(t->grads);
  free(t->adam_m);
  free(t->adam_v);
  memset(t, 0, sizeof *t);
}

int trainer_to_host(Trainer *t, BenchErr *err) {
  const TrainOps *o = t->ops;
  if (!o->on_device) return 0;
  size_t bytes = t->n_params * o->param_size;
  o->download(t->params, t->d_params, bytes);
  o->download(t->grads, t->d_grads, bytes);
  o->download(t->adam_m, t->d_m, bytes);
  o->download(t->adam_v, t->d_v, bytes);
  return o->sync(err);
}

int trainer_to_device(Trainer *t, BenchErr *err) {
  const TrainOps *o = t->ops;
  if (o->on_device) {
    size_t bytes = t->n_params * o->param_size;
    o->upload(t->d_params, t->params, bytes);
    o->upload(t->d_grads, t->grads, bytes);
    o->upload(t->d_m, t->adam_m, bytes);
    o->upload(t->d_v, t->adam_v, bytes);
  }
  if (t->d_mat != t->d_params) o->mat_refresh(t->ctx, t->d_mat, t->d_params, t->n_params);
  return o->sync(err);
}

int trainer_tensor_index(const Trainer *t, const char *name) {
  for (int i = 0; i < t->n_tensors; i++)
    if (strcmp(t->tensors[i].name, name) == 0) return i;
  return -1;
}

double trainer_param(const Trainer *t, size_t i) {
  return t->fp64 ? ((double *)t->params)[i] : ((float *)t->params)[i];
}
void trainer_set_param(Trainer *t, size_t i, double v) {
  if (t->fp64) ((double *)t->params)[i] = v;
  else ((float *)t->params)[i] = (float)v;
}
double trainer_grad(const Trainer *t, size_t i) {
  return t->fp64 ? ((double *)t->grads)[i] : ((float *)t->grads)[i];
}

// The checkpoint tensor a trainer tensor reads from (NULL when the model lacks it).
static const float *model_tensor(const Model *m, int i, const Trainer *t) {
  const ModelWeights *w = &m->weights;
  int L = t->cfg.n_layers;
  if (i == 0) return w->embed;
  if (i == 1 + L * TT_PER_LAYER) return w->final_norm_w;
  if (i > 1 + L * TT_PER_LAYER) return w->lm_head;
  const LayerWeights *lw = &w->layers[(i - 1) / TT_PER_LAYER];
  switch ((i - 1) % TT_PER_LAYER) {
    case TT_ATTN_NORM: return lw->attn_norm_w;
    case TT_Q: return lw->wq;
    case TT_K: return lw->wk;
    case TT_V: return lw->wv;
    case TT_O: return lw->wo;
    case TT_MLP_NORM: return lw->mlp_norm_w;
    case TT_GATE: return lw->w_gate;
    case TT_UP: return lw->w_up;
    default: return lw->w_down;
  }
}

int trainer_load_model(Trainer *t, const Model *m, BenchErr *err) {
  const ModelConfig *mc = &m->config;
  const TrainConfig *c = &t->cfg;
  if (mc->arch != ARCH_LLAMA || mc->qkv_bias || mc->o_bias || mc->norm_is_layernorm ||
      mc->mlp_is_gelu)
    return err_set(err, "'%s': only Llama checkpoints without biases can be trained",
                   m->dir ? m->dir : "model");
  if (mc->n_layers != c->n_layers || mc->hidden_size != c->hidden_size ||
      mc->n_heads != c->n_heads || mc->n_kv_heads != c->n_kv_heads ||
      mc->intermediate_size != c->intermediate_size || mc->vocab_size != c->vocab_size ||
      !mc->tie_word_embeddings != !c->tie_embeddings || mc->head_dim != t->head_dim)
    return err_set(err, "'%s' has another shape than the trainer (layers %d, hidden %d, heads %d/%d, "
                   "intermediate %d, vocab %d, tied %d)", m->dir ? m->dir : "model", mc->n_layers,
                   mc->hidden_size, mc->n_heads, mc->n_kv_heads, mc->intermediate_size,
                   mc->vocab_size, mc->tie_word_embeddings);
  for (int i = 0; i < t->n_tensors; i++) {
    const float *src = model_tensor(m, i, t);
    const TrainTensor *tt = &t->tensors[i];
    CHECK(src);
    for (size_t j = 0; j < tt->numel; j++) trainer_set_param(t, tt->offset + j, src[j]);
  }
  t->cfg.norm_eps = mc->norm_eps;
  return trainer_to_device(t, err);
}

int trainer_model_view(const Trainer *t, Model *m, BenchErr *err) {
  memset(m, 0, sizeof *m);
  if (t->fp64) return err_set(err, "a model view needs the fp32 trainer");
  const TrainConfig *c = &t->cfg;
  ModelConfig *mc = &m->config;
  mc->arch = ARCH_LLAMA;
  snprintf(mc->architecture, sizeof mc->architecture, "LlamaForCausalLM");
  mc->vocab_size = c->vocab_size;
  mc->hidden_size = c->hidden_size;
  mc->n_layers = c->n_layers;
  mc->n_heads = c->n_heads;
  mc->n_kv_heads = c->n_kv_heads;
  mc->head_dim = t->head_dim;
  mc->intermediate_size = c->intermediate_size;
  mc->rotary_dims = t->head_dim;
  mc->partial_rotary_factor = 1.0;
  mc->max_position_embeddings = c->seq_len;
  mc->rope_theta = 10000.0;
  mc->norm_eps = c->norm_eps;
  mc->tie_word_embeddings = c->tie_embeddings;
  mc->bos_token_id = mc->eos_token_id = -1;
  mc->dtype = DTYPE_F32;
  float *P = t->params;
  ModelWeights *w = &m->weights;
  int L = c->n_layers;
  w->embed = P + t->tensors[0].offset;
  w->layers = xcalloc((size_t)L, sizeof *w->layers);
  for (int l = 0; l < L; l++) {
    const TrainTensor *b = &t->tensors[1 + l * TT_PER_LAYER];
    LayerWeights *lw = &w->layers[l];
    lw->attn_norm_w = P + b[TT_ATTN_NORM].offset;
    lw->wq = P + b[TT_Q].offset;
    lw->wk = P + b[TT_K].offset;
    lw->wv = P + b[TT_V].offset;
    lw->wo = P + b[TT_O].offset;
    lw->mlp_norm_w = P + b[TT_MLP_NORM].offset;
    lw->w_gate = P + b[TT_GATE].offset;
    lw->w_up = P + b[TT_UP].offset;
    lw->w_down = P + b[TT_DOWN].offset;
  }
  w->final_norm_w = P + t->tensors[1 + L * TT_PER_LAYER].offset;
  w->lm_head = P + t->tensors[t->head_tensor].offset;
  m->n_params = train_n_params(c);
  return 0;
}

void train_rope_info(const TrainConfig *c, double theta, RopeModelInfo *info) {
  memset(info, 0, sizeof *info);
  info->head_dim = c->hidden_size / c->n_heads;
  info->partial_rotary_factor = 1.0;
  info->rope_theta = theta > 0 ? theta : 10000.0;
  info->max_position_embeddings = c->seq_len;
}
