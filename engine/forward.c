// forward.c — the transformer forward over blocks of tokens, through the backend ops table.
// Legend: T tokens in the window, n tokens in a block, V vocab, C hidden, L layers, H query heads,
//         K kv heads, D head dim, F intermediate, R rotary dims.
#include "forward.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

// ---- KV cache ----

int kv_cache_init(KVCache *c, const Backend *be, const ModelConfig *cfg, long capacity,
                  BenchErr *err) {
  memset(c, 0, sizeof *c);
  c->be = be;
  c->n_layers = cfg->n_layers;
  c->n_kv_heads = cfg->n_kv_heads;
  c->head_dim = cfg->head_dim;
  c->capacity = capacity;
  c->k = xcalloc((size_t)cfg->n_layers, sizeof(float *));
  c->v = xcalloc((size_t)cfg->n_layers, sizeof(float *));
  size_t bytes = (size_t)capacity * cfg->n_kv_heads * cfg->head_dim * sizeof(float);
  for (int l = 0; l < cfg->n_layers; l++) {
    c->k[l] = be->alloc(bytes);
    c->v[l] = be->alloc(bytes);
    if (!c->k[l] || !c->v[l]) {
      kv_cache_free(c);
      return err_set(err, "out of memory: kv cache of %ld tokens needs %.1f MiB per layer",
                     capacity, 2.0 * bytes / (1 << 20));
    }
  }
  return 0;
}

void kv_cache_free(KVCache *c) {
  for (int l = 0; c->k && l < c->n_layers; l++) {
    if (c->k[l]) c->be->free(c->k[l]);
    if (c->v[l]) c->be->free(c->v[l]);
  }
  free(c->k);
  free(c->v);
  memset(c, 0, sizeof *c);
}

// ---- forward state ----

static void alloc_buf(ForwardState *s, void **p, size_t bytes, int *failed) {
  *p = s->be->alloc(bytes);
  if (!*p) *failed = 1;
}

int forward_state_init(ForwardState *s, const Model *m, const Backend *be, long max_block,
                       const ForwardOptions *opt, BenchErr *err) {
  memset(s, 0, sizeof *s);
  const ModelConfig *cfg = &m->config;
  s->model = m;
  s->w = opt && opt->weights ? opt->weights : &m->weights;
  s->be = be;
  if (opt) s->opt = *opt;
  if (s->w == &m->weights && be != backend_cpu()) {
    memset(s, 0, sizeof *s);
    return err_set(err, "the model's weights were not uploaded to the %s backend", be->name);
  }
  be->set_threads(s->opt.threads);
  s->max_block = max_block < 1 ? 1 : max_block;
  size_t n = (size_t)s->max_block, C = (size_t)cfg->hidden_size;
  size_t HD = (size_t)cfg->n_heads * cfg->head_dim, F = (size_t)cfg->intermediate_size;
  long mlp_rows = s->opt.mlp_rows > 0 ? s->opt.mlp_rows : FORWARD_MLP_ROWS;
  s->mlp_rows = s->max_block < mlp_rows ? s->max_block : mlp_rows;
  size_t mr = (size_t)s->mlp_rows, half = (size_t)(cfg->rotary_dims / 2);
  int failed = 0;
  alloc_buf(s, (void **)&s->x, n * C * sizeof(float), &failed);
  alloc_buf(s, (void **)&s->xn, n * C * sizeof(float), &failed);
  alloc_buf(s, (void **)&s->h2, n * C * sizeof(float), &failed);
  alloc_buf(s, (void **)&s->q, n * HD * sizeof(float), &failed);
  alloc_buf(s, (void **)&s->att, n * HD * sizeof(float), &failed);
  alloc_buf(s, (void **)&s->mlp_a, mr * F * sizeof(float), &failed);
  alloc_buf(s, (void **)&s->mlp_b, mr * F * sizeof(float), &failed);
  alloc_buf(s, (void **)&s->mlp_out, mr * C * sizeof(float), &failed);
  alloc_buf(s, (void **)&s->cos_t, n * half * sizeof(float), &failed);
  alloc_buf(s, (void **)&s->sin_t, n * half * sizeof(float), &failed);
  alloc_buf(s, (void **)&s->inv_freq, half * sizeof(double), &failed);
  alloc_buf(s, (void **)&s->pos, n * sizeof(double), &failed);
  alloc_buf(s, (void **)&s->ids, n * sizeof(int32_t), &failed);
  long lm = lm_block_rows(cfg->vocab_size);
  s->lm_rows = s->max_block < lm ? s->max_block : lm;
  alloc_buf(s, (void **)&s->logits, (size_t)s->lm_rows * cfg->vocab_size * sizeof(float), &failed);
  alloc_buf(s, (void **)&s->nll, n * sizeof(float), &failed);
  alloc_buf(s, (void **)&s->argmax, n * sizeof(int32_t), &failed);
  s->argmax_host = malloc(n * sizeof(int32_t));
  if (failed || !s->argmax_host) {
    forward_state_free(s);
    return err_set(err, "out of memory: activations for a block of %zu tokens", n);
  }
  return 0;
}

void forward_state_free(ForwardState *s) {
  if (!s->be) return;
  void *bufs[] = {s->x,     s->xn,       s->h2,  s->q,   s->att,    s->mlp_a,
                  s->mlp_b, s->mlp_out,  s->cos_t, s->sin_t, s->inv_freq, s->pos,
                  s->ids,   s->logits,   s->nll, s->argmax};
  for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
    if (bufs[i]) s->be->free(bufs[i]);
  free(s->argmax_host);
  memset(s, 0, sizeof *s);
}

long forward_layer_window(const ModelConfig *cfg, int layer) {
  if (cfg->sliding_window <= 0 || layer < cfg->sliding_window_from_layer) return 0;
  return cfg->sliding_window;
}

// ---- one layer over a block ----

void forward_norm(const ForwardState *s, float *y, const float *x, const float *w, const float *b,
                  long n) {
  const ModelConfig *cfg = &s->model->config;
  if (cfg->norm_is_layernorm)
    s->be->layernorm(y, x, w, b, n, cfg->hidden_size, (float)cfg->norm_eps, s->opt.fp64_check);
  else
    s->be->rmsnorm(y, x, w, n, cfg->hidden_size, (float)cfg->norm_eps, s->opt.fp64_check);
}

// MLP sublayer over xn[n, C], s->mlp_rows rows at a time: acc[n, C] += mlp(xn).
static void forward_mlp(ForwardState *s, int l, float *acc, long n) {
  const ModelConfig *cfg = &s->model->config;
  const LayerWeights *lw = &s->w->layers[l];
  const Backend *be = s->be;
  int C = cfg->hidden_size, F = cfg->intermediate_size;
  for (long r0 = 0; r0 < n; r0 += s->mlp_rows) {
    long rows = n - r0 < s->mlp_rows ? n - r0 : s->mlp_rows;
    const float *in = s->xn + r0 * C;
    if (cfg->mlp_is_gelu) {
      be->matmul(s->mlp_a, in, lw->w_up, lw->b_up, rows, C, F);
      be->gelu(s->mlp_a, rows, F);
    } else {
      be->matmul(s->mlp_a, in, lw->w_gate, NULL, rows, C, F);
      be->matmul(s->mlp_b, in, lw->w_up, lw->b_up, rows, C, F);
      be->silu_mul(s->mlp_a, s->mlp_b, rows, F);
    }
    be->matmul(s->mlp_out, s->mlp_a, lw->w_down, lw->b_down, rows, F, C);
    be->add(acc + r0 * C, s->mlp_out, rows * C);
  }
}

void forward_layer_qkv(ForwardState *s, int l, float *k, float *v, long n) {
  const ModelConfig *cfg = &s->model->config;
  const LayerWeights *lw = &s->w->layers[l];
  const Backend *be = s->be;
  int C = cfg->hidden_size, H = cfg->n_heads, K = cfg->n_kv_heads, D = cfg->head_dim;
  forward_norm(s, s->xn, s->x, lw->attn_norm_w, lw->attn_norm_b, n);
  be->matmul(s->q, s->xn, lw->wq, lw->bq, n, C, H * D);
  be->matmul(k, s->xn, lw->wk, lw->bk, n, C, K * D);
  be->matmul(v, s->xn, lw->wv, lw->bv, n, C, K * D);
  be->rope_apply(s->q, s->cos_t, s->sin_t, n, H, D, cfg->rotary_dims);
}

void forward_layer_tail(ForwardState *s, int l, long n) {
  const ModelConfig *cfg = &s->model->config;
  const LayerWeights *lw = &s->w->layers[l];
  long nc = n * cfg->hidden_size;
  s->be->matmul(s->h2, s->att, lw->wo, lw->bo, n, cfg->n_heads * cfg->head_dim, cfg->hidden_size);
  if (cfg->parallel_residual) {
    // x = x + (attn(ln1(x)) + mlp(ln2(x)))
    forward_norm(s, s->xn, s->x, lw->mlp_norm_w, lw->mlp_norm_b, n);
    forward_mlp(s, l, s->h2, n);
    s->be->add(s->x, s->h2, nc);
  } else {
    // x = x + attn(norm1(x)); x = x + mlp(norm2(x))
    s->be->add(s->x, s->h2, nc);
    forward_norm(s, s->xn, s->x, lw->mlp_norm_w, lw->mlp_norm_b, n);
    forward_mlp(s, l, s->x, n);
  }
}

// Layer l over a block whose K/V land in the cache's slots [c0, c0 + n), rotated before attention
// reads slots [0, c0 + n).
static void layer_forward(ForwardState *s, KVCache *cache, int l, long c0, long n) {
  const ModelConfig *cfg = &s->model->config;
  int K = cfg->n_kv_heads, D = cfg->head_dim;
  float *kc = cache->k[l] + (size_t)c0 * K * D;  // [n, K, D]
  forward_layer_qkv(s, l, kc, cache->v[l] + (size_t)c0 * K * D, n);
  s->be->rope_apply(kc, s->cos_t, s->sin_t, n, K, D, cfg->rotary_dims);
  s->be->attention(s->att, s->q, cache->k[l], cache->v[l], n, c0 + n, c0, cfg->n_heads, K, D,
                   (float)(1.0 / sqrt((double)D)), forward_layer_window(cfg, l),
                   s->opt.fp64_check);
  forward_layer_tail(s, l, n);
}

void forward_rope_rows(ForwardState *s, const RopeTable *rope, const double *pos, long n) {
  int half = s->model->config.rotary_dims / 2;
  s->be->upload(s->pos, pos, (size_t)n * sizeof(double));
  s->be->upload(s->inv_freq, rope->inv_freq, (size_t)half * sizeof(double));
  s->be->rope_table(s->cos_t, s->sin_t, s->pos, s->inv_freq, n, half, rope->attention_scale);
}

int forward_check_ids(const int32_t *ids, long n, int V, const char *what, BenchErr *err) {
  for (long i = 0; i < n; i++)
    if (ids[i] < 0 || ids[i] >= V)
      return err_set(err, "%s %ld is %d, outside the model's vocabulary [0, %d)", what, i,
                     (int)ids[i], V);
  return 0;
}

int forward_block(ForwardState *s, KVCache *cache, const RopeTable *rope, const int32_t *tokens,
                  const double *pos, long n, BenchErr *err) {
  const ModelConfig *cfg = &s->model->config;
  const Backend *be = s->be;
  if (n < 0 || n > s->max_block)
    return err_set(err, "block of %ld tokens exceeds the %ld prepared for", n, s->max_block);
  if (cache->len + n > cache->capacity)
    return err_set(err, "kv cache full: %ld slots held, %ld more do not fit in %ld", cache->len, n,
                   cache->capacity);
  if (rope->rotary_dims != cfg->rotary_dims)
    return err_set(err, "rope table rotates %d dims but the model has %d rotary dims",
                   rope->rotary_dims, cfg->rotary_dims);
  if (forward_check_ids(tokens, n, cfg->vocab_size, "token", err)) return -1;
  s->n = n;
  if (n == 0) return 0;
  long c0 = cache->len;
  be->upload(s->ids, tokens, (size_t)n * sizeof(int32_t));
  forward_rope_rows(s, rope, pos, n);
  be->embedding(s->x, s->w->embed, s->ids, n, cfg->hidden_size);
  for (int l = 0; l < cfg->n_layers; l++) layer_forward(s, cache, l, c0, n);
  cache->len = c0 + n;
  forward_norm(s, s->xn, s->x, s->w->final_norm_w, s->w->final_norm_b, n);
  return be->sync(err);
}

int forward_score(ForwardState *s, long r0, long count, const int32_t *targets, float *nll,
                  uint8_t *correct, BenchErr *err) {
  const ModelConfig *cfg = &s->model->config;
  if (r0 < 0 || count < 0 || r0 + count > s->n)
    return err_set(err, "rows [%ld, %ld) are outside the %ld tokens of the last block", r0,
                   r0 + count, s->n);
  if (forward_check_ids(targets, count, cfg->vocab_size, "target token", err)) return -1;
  if (count == 0) return 0;
  const Backend *be = s->be;
  be->upload(s->ids, targets, (size_t)count * sizeof(int32_t));
  be->lm_head_nll(s->nll, s->argmax, s->xn + r0 * cfg->hidden_size, s->w->lm_head, s->ids, count,
                  cfg->hidden_size, cfg->vocab_size, s->opt.fp64_check, s->logits, s->lm_rows);
  be->download(nll, s->nll, (size_t)count * sizeof(float));
  be->download(s->argmax_host, s->argmax, (size_t)count * sizeof(int32_t));
  if (be->sync(err)) return -1;
  for (long i = 0; i < count; i++) correct[i] = s->argmax_host[i] == targets[i];
  return 0;
}

// ---- one window ----

int forward_score_window(const Model *m, const RopeTable *rope, const int32_t *tokens, long T,
                         long score_from, float *nll, uint8_t *correct, const ForwardOptions *opt,
                         BenchErr *err) {
  if (T < 1) return err_set(err, "window of %ld tokens: need at least 1", T);
  if (score_from < 0 || score_from >= T)
    return err_set(err, "score_from %ld is outside the window of %ld tokens", score_from, T);
  ForwardOptions o = opt ? *opt : (ForwardOptions){0};
  const Backend *be = o.backend ? o.backend : backend_cpu();
  double *pos = malloc((size_t)T * sizeof(double));
  if (!pos) return err_set(err, "out of memory: positions of %ld tokens", T);
  for (long t = 0; t < T; t++) pos[t] = rope_position(rope, t);
  long block = o.block_tokens > 0 ? o.block_tokens : FORWARD_BLOCK_TOKENS;
  if (block > T) block = T;
  KVCache cache;
  ForwardState s;
  int rc = -1;
  if (kv_cache_init(&cache, be, &m->config, T, err)) {
    free(pos);
    return -1;
  }
  if (forward_state_init(&s, m, be, block, &o, err)) goto out_cache;
  // Blocks [p, p + n): read them (keys of earlier blocks are in the cache), then score the rows
  // t in [p, p + n) with score_from ≤ t < T − 1 before the next block overwrites the activations.
  for (long p = 0; p < T; p += block) {
    long n = T - p < block ? T - p : block;
    if (forward_block(&s, &cache, rope, tokens + p, pos + p, n, err)) goto out_state;
    long a = p > score_from ? p : score_from, b = p + n < T - 1 ? p + n : T - 1;
    if (b > a && forward_score(&s, a - p, b - a, tokens + a + 1, nll + (a - score_from),
                               correct + (a - score_from), err))
      goto out_state;
  }
  rc = 0;
out_state:
  forward_state_free(&s);
out_cache:
  kv_cache_free(&cache);
  free(pos);
  return rc;
}

// ---- sizes ----

// An 8B Llama-3 (L 32, C 4096, H 32, K 8, D 128, F 14336, V 128256) over one window of
// T = 131,072 tokens: weights 16.1 GB in bf16 (not counted here); KV cache 2·L·T·K·D·4 bytes =
// 34.4 GB (32 GiB); one block of 16,384 tokens: x, xn, h2 [n, C] and q, att [n, H·D] fp32 =
// 16384·(3·4096 + 2·4096)·4 = 1.34 GB, rope tables 8 MB, MLP rows 512·(2·14336 + 4096)·4 = 67 MB,
// LM-head block 130·128256·4 = 67 MB: 35.9 GB (33.4 GiB) here, 51.9 GB (48.3 GiB) with the weights,
// plus CUDA scratch (matmul input [n, C] bf16 134 MB; flash attention's bf16 q [n, H·D] 134 MB
// and k, v [T, K·D] 537 MB; LM-head input 8 MB; cuBLASLt workspace 32 MiB): about 49.1 GiB on an
// 80 GB card. Read in one block instead, the activations would be 10.7 GB and the scratch 1.9 GB
// more: 64 GB (59.6 GiB).
size_t forward_memory_bytes(const ModelConfig *cfg, long T) {
  size_t t = (size_t)(T < 1 ? 1 : T), C = (size_t)cfg->hidden_size;
  size_t n = t < FORWARD_BLOCK_TOKENS ? t : FORWARD_BLOCK_TOKENS;
  size_t HD = (size_t)cfg->n_heads * cfg->head_dim, KD = (size_t)cfg->n_kv_heads * cfg->head_dim;
  size_t F = (size_t)cfg->intermediate_size, mr = n < FORWARD_MLP_ROWS ? n : FORWARD_MLP_ROWS;
  size_t kv = 2 * (size_t)cfg->n_layers * t * KD * sizeof(float);
  size_t act = n * (3 * C + 2 * HD + (size_t)cfg->rotary_dims) * sizeof(float) +
               n * (sizeof(double) + 3 * sizeof(int32_t) + sizeof(float)) +
               mr * (2 * F + C) * sizeof(float);
  size_t lm_rows = (size_t)lm_block_rows(cfg->vocab_size);
  size_t lm = (n < lm_rows ? n : lm_rows) * (size_t)cfg->vocab_size * sizeof(float);
  return kv + act + lm;
}

double forward_flops(const ModelConfig *cfg, long T, long scored) {
  double C = cfg->hidden_size, H = cfg->n_heads, K = cfg->n_kv_heads, D = cfg->head_dim;
  double F = cfg->intermediate_size, V = cfg->vocab_size;
  double proj = C * (H * D) * 2 + C * (K * D) * 2;          // q, o; k, v
  double mlp = (cfg->mlp_is_gelu ? 2.0 : 3.0) * C * F;
  double per_token = 2.0 * (proj + mlp) * cfg->n_layers;
  double pairs = 0.0;  // (query, key) pairs attended, per layer
  for (int l = 0; l < cfg->n_layers; l++) {
    long w = forward_layer_window(cfg, l);
    double t = (double)T;
    if (w > 0 && w < T)
      pairs += w * (w + 1) / 2.0 + (t - w) * w;
    else
      pairs += t * (t + 1) / 2.0;
  }
  double attn = pairs * H * D * 4.0;  // q·k and p·v, 2 FLOPs each
  return per_token * T + attn + 2.0 * C * V * scored;
}
