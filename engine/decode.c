// decode.c — the decode protocol's forward: prefill one sequence as a block, then steps of one
// token for each of B sequences, each against its own KV cache under a policy (decode.h). Every
// touch of activations and cache memory is a backend op; this file sequences them.
// Legend: B sequences, n tokens in a block, C hidden, V vocab, L layers, H query heads,
//         K kv heads, G = H/K, D head dim, R rotary dims, cap slots per cache.
#include "decode.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int cache_positions(const DecodeState *d) { return d->policy->positions == KV_POS_CACHE; }
static int accumulates(const DecodeState *d) { return d->policy->ops->score == KV_SCORE_SUM; }

// ---- set-up ----
// slot_cos/slot_sin [cap, R/2]: the rotation of slot s at rope_position(s).
static int slot_table(DecodeState *d, int half, BenchErr *err) {
  const Backend *be = d->be;
  long cap = d->cap;
  d->slot_cos = be->alloc((size_t)cap * half * sizeof(float));
  d->slot_sin = be->alloc((size_t)cap * half * sizeof(float));
  double *pos = xmalloc((size_t)cap * sizeof(double));
  double *dpos = be->alloc((size_t)cap * sizeof(double));
  int rc = 0;
  if (!d->slot_cos || !d->slot_sin || !dpos) {
    rc = err_set(err, "out of memory: rotation table of %ld slots", cap);
  } else {
    for (long s = 0; s < cap; s++) pos[s] = rope_position(d->rope, s);
    be->upload(dpos, pos, (size_t)cap * sizeof(double));
    be->upload(d->fs.inv_freq, d->rope->inv_freq, (size_t)half * sizeof(double));
    be->rope_table(d->slot_cos, d->slot_sin, dpos, d->fs.inv_freq, cap, half,
                   d->rope->attention_scale);
    rc = be->sync(err);
  }
  if (dpos) be->free(dpos);
  free(pos);
  return rc;
}

int decode_init(DecodeState *d, const Model *m, const Backend *be, const RopeTable *rope,
                const KVPolicy *policy, int B, long cap, long max_prefill,
                const ForwardOptions *opt, BenchErr *err) {
  memset(d, 0, sizeof *d);
  const ModelConfig *cfg = &m->config;
  if (rope->rotary_dims != cfg->rotary_dims)
    return err_set(err, "rope table rotates %d dims but the model has %d rotary dims",
                   rope->rotary_dims, cfg->rotary_dims);
  if (B < 1 || cap < 1) return err_set(err, "decode needs at least one sequence and one slot");
  d->model = m;
  d->be = be;
  d->rope = rope;
  d->policy = policy;
  d->B = B;
  d->cap = cap;
  long rows = max_prefill > B ? max_prefill : B;
  if (forward_state_init(&d->fs, m, be, rows, opt, err) != 0) {
    decode_free(d);
    return -1;
  }
  int K = cfg->n_kv_heads, D = cfg->head_dim, half = cfg->rotary_dims / 2;
  size_t KD = (size_t)K * D;
  // Evicting caches get room to drop slots at the front (about one slot moved per step).
  long keep = kv_policy_keep(policy), slack = keep < 0 ? 0 : (keep + 1 > 16 ? keep + 1 : 16);
  if (kv_store_init(&d->cache, be, B, cfg->n_layers, K, D, cap, slack,
                    policy->ops->score != KV_SCORE_NONE, err)) {
    decode_free(d);
    return -1;
  }
  d->knew = be->alloc((size_t)rows * KD * sizeof(float));
  d->vnew = be->alloc((size_t)rows * KD * sizeof(float));
  if (!d->knew || !d->vnew) {
    decode_free(d);
    return err_set(err, "out of memory: decode scratch for %ld rows of %zu keys", rows, KD);
  }
  if (cache_positions(d) && half > 0 && slot_table(d, half, err)) {
    decode_free(d);
    return -1;
  }
  return 0;
}

void decode_free(DecodeState *d) {
  if (!d->model) return;
  const Backend *be = d->be;
  forward_state_free(&d->fs);
  kv_store_free(&d->cache);
  float *bufs[] = {d->knew, d->vnew, d->slot_cos, d->slot_sin};
  for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
    if (bufs[i]) be->free(bufs[i]);
  memset(d, 0, sizeof *d);
}

// ---- prefill ----
int decode_prefill(DecodeState *d, int b, const int32_t *tokens, long n, BenchErr *err) {
  const ModelConfig *cfg = &d->model->config;
  ForwardState *fs = &d->fs;
  const Backend *be = d->be;
  KVStore *c = &d->cache;
  int H = cfg->n_heads, K = cfg->n_kv_heads, D = cfg->head_dim;
  if (b < 0 || b >= d->B) return err_set(err, "sequence %d of a batch of %d", b, d->B);
  if (n < 1 || n > fs->max_block || n > d->cap)
    return err_set(err, "prefill of %ld tokens exceeds the %ld prepared for", n,
                   fs->max_block < d->cap ? fs->max_block : d->cap);
  if (kv_store_len(c, b, 0) != 0) return err_set(err, "prefill into a cache that holds tokens");
  if (forward_check_ids(tokens, n, cfg->vocab_size, "token", err)) return -1;
  double *pos = xmalloc((size_t)n * sizeof(double));
  for (long i = 0; i < n; i++) pos[i] = rope_position(d->rope, i);
  forward_rope_rows(fs, d->rope, pos, n);
  free(pos);
  if (kv_store_reserve(c, b, 1, n, err)) return -1;
  be->upload(fs->ids, tokens, (size_t)n * sizeof(int32_t));
  be->embedding(fs->x, fs->w->embed, fs->ids, n, cfg->hidden_size);
  float scale = (float)(1.0 / sqrt((double)D));
  long observed = d->policy->observe < 0 || d->policy->observe > n ? n : d->policy->observe;
  for (int l = 0; l < cfg->n_layers; l++) {
    long window = forward_layer_window(cfg, l);
    forward_layer_qkv(fs, l, d->knew, d->vnew, n);
    if (cache_positions(d)) kv_store_append(c, l, b, 1, d->knew, d->vnew, n, 0);  // unrotated
    be->rope_apply(d->knew, fs->cos_t, fs->sin_t, n, K, D, cfg->rotary_dims);
    if (!cache_positions(d)) kv_store_append(c, l, b, 1, d->knew, d->vnew, n, 0);
    be->attention(fs->att, fs->q, d->knew, d->vnew, n, n, 0, H, K, D, scale, window,
                  fs->opt.fp64_check);
    if (kv_policy_observes(d->policy))  // slots 0..n−1 are the block's tokens, in order
      be->attention_weight_sums(c->score, fs->q, d->knew, kv_store_row0(c, l, b), n, observed, H,
                                K, D, scale, window, accumulates(d), fs->opt.fp64_check);
    forward_layer_tail(fs, l, n);
  }
  fs->n = n;
  if (n > d->prefill_keys) d->prefill_keys = n;
  if (kv_store_evict(c, d->policy, b, 1, err)) return -1;
  return be->sync(err);
}

// ---- step ----
int decode_step(DecodeState *d, const int32_t *tokens, long t, const int32_t *targets, float *nll,
                uint8_t *correct, BenchErr *err) {
  const ModelConfig *cfg = &d->model->config;
  ForwardState *fs = &d->fs;
  const Backend *be = d->be;
  KVStore *c = &d->cache;
  int B = d->B, H = cfg->n_heads, K = cfg->n_kv_heads, D = cfg->head_dim, R = cfg->rotary_dims;
  long held = kv_store_len(c, 0, 0);
  if (held + 1 > d->cap)
    return err_set(err, "kv cache full: %ld slots held, a step needs one more of %ld", held,
                   d->cap);
  if (forward_check_ids(tokens, B, cfg->vocab_size, "token", err)) return -1;
  // Every sequence and layer holds `held` slots: the query sits at the step's slot in cache mode.
  double p = rope_position(d->rope, cache_positions(d) ? held : t);
  double *pos = xmalloc((size_t)B * sizeof(double));
  for (int b = 0; b < B; b++) pos[b] = p;
  forward_rope_rows(fs, d->rope, pos, B);
  free(pos);
  if (kv_store_reserve(c, 0, B, 1, err)) return -1;
  be->upload(fs->ids, tokens, (size_t)B * sizeof(int32_t));
  be->embedding(fs->x, fs->w->embed, fs->ids, B, cfg->hidden_size);
  float scale = (float)(1.0 / sqrt((double)D));
  const float *slot_cos = cache_positions(d) ? d->slot_cos : NULL;
  float *score = kv_policy_observes(d->policy) ? c->score : NULL;
  for (int l = 0; l < cfg->n_layers; l++) {
    long W = forward_layer_window(cfg, l);
    forward_layer_qkv(fs, l, d->knew, d->vnew, B);
    if (!cache_positions(d)) be->rope_apply(d->knew, fs->cos_t, fs->sin_t, B, K, D, R);
    kv_store_append(c, l, 0, B, d->knew, d->vnew, 1, t);
    // the model's sliding window by token index: slots holding tokens > t − W
    be->decode_attention(fs->att, score, fs->q, c->k, c->v, c->pos, kv_store_row0(c, l, 0), B,
                         held + 1, W > 0 ? t - W + 1 : 0, H, K, D, scale, slot_cos, d->slot_sin,
                         R, accumulates(d), fs->opt.fp64_check);
    forward_layer_tail(fs, l, B);
  }
  forward_norm(fs, fs->xn, fs->x, fs->w->final_norm_w, fs->w->final_norm_b, B);
  fs->n = B;
  if (held + 1 > d->peak_keys) d->peak_keys = held + 1;
  if (forward_score(fs, 0, B, targets, nll, correct, err) != 0) return -1;
  if (kv_store_evict(c, d->policy, 0, B, err)) return -1;
  return be->sync(err);
}
