// decode.c — the decode protocol's forward: prefill one sequence as a block, then steps of one
// token for each of B sequences, each against its own KV cache under a policy (decode.h).
// Legend: B sequences, n tokens in a block, C hidden, V vocab, L layers, H query heads,
//         K kv heads, G = H/K, D head dim, R rotary dims, cap slots per cache.
#include "decode.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_vec.h"

#ifdef _OPENMP
#include <omp.h>
#else
static int omp_get_max_threads(void) { return 1; }
static int omp_get_thread_num(void) { return 0; }
#endif

// Work below which a loop stays on one thread (a parallel region costs more than it saves).
#define PAR_MIN_WORK 1048576.0

static int observes(const DecodeState *d) { return d->policy->observe != 0; }
static int cache_positions(const DecodeState *d) { return d->policy->positions == KV_POS_CACHE; }

// ---- set-up ----
int decode_init(DecodeState *d, const Model *m, const Backend *be, const RopeTable *rope,
                const KVPolicy *policy, int B, long cap, long max_prefill,
                const ForwardOptions *opt, BenchErr *err) {
  memset(d, 0, sizeof *d);
  const ModelConfig *cfg = &m->config;
  if (strcmp(be->name, "cpu") != 0)
    return err_set(err, "the decode protocol runs on the cpu backend, not '%s'", be->name);
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
  d->threads = omp_get_max_threads();
  int H = cfg->n_heads, K = cfg->n_kv_heads, D = cfg->head_dim, half = cfg->rotary_dims / 2;
  size_t KD = (size_t)K * D;
  // Evicting caches get room to drop slots at the front (about one slot moved per step).
  long keep = kv_policy_keep(policy), slack = keep < 0 ? 0 : (keep + 1 > 16 ? keep + 1 : 16);
  d->caches = xcalloc((size_t)B, sizeof *d->caches);
  for (int b = 0; b < B; b++)
    if (kv_store_init(&d->caches[b], cfg->n_layers, K, D, cap, slack,
                      policy->ops->update != NULL, err)) {
      decode_free(d);
      return -1;
    }
  d->knew = malloc((size_t)rows * KD * sizeof(float));
  d->vnew = malloc((size_t)rows * KD * sizeof(float));
  d->scratch = malloc((size_t)d->threads * (size_t)cap * (D + 1) * sizeof(float));
  d->keep_mask = malloc((size_t)d->threads * (size_t)cap);
  int failed = !d->knew || !d->vnew || !d->scratch || !d->keep_mask;
  if (observes(d)) {
    d->weights = malloc((size_t)B * H * (size_t)cap * sizeof(float));
    d->pre_weights = malloc((size_t)H * (size_t)(max_prefill > 1 ? max_prefill : 1) * sizeof(float));
    failed |= !d->weights || !d->pre_weights;
  }
  if (cache_positions(d) && half > 0) {
    d->slot_cos = malloc((size_t)cap * half * sizeof(float));
    d->slot_sin = malloc((size_t)cap * half * sizeof(float));
    double *pos = malloc((size_t)cap * sizeof(double));
    failed |= !d->slot_cos || !d->slot_sin || !pos;
    if (!failed) {
      for (long s = 0; s < cap; s++) pos[s] = rope_position(rope, s);
      be->rope_table(d->slot_cos, d->slot_sin, pos, rope->inv_freq, cap, half,
                     rope->attention_scale);
    }
    free(pos);
  }
  if (failed) {
    decode_free(d);
    return err_set(err, "out of memory: decode scratch for %d sequences of %ld slots", B, cap);
  }
  return 0;
}

void decode_free(DecodeState *d) {
  if (!d->model) return;
  forward_state_free(&d->fs);
  for (int b = 0; d->caches && b < d->B; b++) kv_store_free(&d->caches[b]);
  free(d->caches);
  free(d->knew);
  free(d->vnew);
  free(d->slot_cos);
  free(d->slot_sin);
  free(d->weights);
  free(d->pre_weights);
  free(d->scratch);
  free(d->keep_mask);
  memset(d, 0, sizeof *d);
}

// ---- pieces of a layer ----
static int check_ids(const int32_t *ids, long n, int V, const char *what, BenchErr *err) {
  for (long i = 0; i < n; i++)
    if (ids[i] < 0 || ids[i] >= V)
      return err_set(err, "%s %ld is %d, outside the model's vocabulary [0, %d)", what, i,
                     (int)ids[i], V);
  return 0;
}

// cos/sin of the block's rows (fs.cos_t, fs.sin_t [n, R/2]) at positions pos[n].
static void block_rope(DecodeState *d, const double *pos, long n) {
  const Backend *be = d->be;
  int half = d->model->config.rotary_dims / 2;
  be->upload(d->fs.pos, pos, (size_t)n * sizeof(double));
  be->upload(d->fs.inv_freq, d->rope->inv_freq, (size_t)half * sizeof(double));
  be->rope_table(d->fs.cos_t, d->fs.sin_t, d->fs.pos, d->fs.inv_freq, n, half,
                 d->rope->attention_scale);
}

// x[n, C] += attention output projected (fs.h2), then the MLP, as forward.c's layer does.
static void layer_tail(DecodeState *d, int l, long n) {
  ForwardState *fs = &d->fs;
  const ModelConfig *cfg = &d->model->config;
  const LayerWeights *lw = &fs->w->layers[l];
  long nc = n * cfg->hidden_size;
  d->be->matmul(fs->h2, fs->att, lw->wo, lw->bo, n, cfg->n_heads * cfg->head_dim,
                cfg->hidden_size);
  if (cfg->parallel_residual) {
    forward_norm(fs, fs->xn, fs->x, lw->mlp_norm_w, lw->mlp_norm_b, n);
    forward_mlp(fs, l, fs->h2, n);
    d->be->add(fs->x, fs->h2, nc);
  } else {
    d->be->add(fs->x, fs->h2, nc);
    forward_norm(fs, fs->xn, fs->x, lw->mlp_norm_w, lw->mlp_norm_b, n);
    forward_mlp(fs, l, fs->x, n);
  }
}

// q, knew, vnew of the block's n rows from x (norm, projections); q rotated.
static void layer_qkv(DecodeState *d, int l, long n) {
  ForwardState *fs = &d->fs;
  const ModelConfig *cfg = &d->model->config;
  const LayerWeights *lw = &fs->w->layers[l];
  const Backend *be = d->be;
  int C = cfg->hidden_size, H = cfg->n_heads, K = cfg->n_kv_heads, D = cfg->head_dim;
  forward_norm(fs, fs->xn, fs->x, lw->attn_norm_w, lw->attn_norm_b, n);
  be->matmul(fs->q, fs->xn, lw->wq, lw->bq, n, C, H * D);
  be->matmul(d->knew, fs->xn, lw->wk, lw->bk, n, C, K * D);
  be->matmul(d->vnew, fs->xn, lw->wv, lw->bv, n, C, K * D);
  be->rope_apply(fs->q, fs->cos_t, fs->sin_t, n, H, D, cfg->rotary_dims);
}

// Softmax over s[0..n) in place (float, max-subtracted): s becomes weights summing to 1.
CPU_INLINE void softmax_row(float *s, long n) {
  long n8 = n / 8 * 8;
  v8f vm = v8_splat(-INFINITY);
  for (long j = 0; j < n8; j += 8) vm = v8_max(vm, v8_load(s + j));
  float m = v8_hmax(vm);
  for (long j = n8; j < n; j++) m = s[j] > m ? s[j] : m;
  v8f vs = v8_splat(0.0f);
  for (long j = 0; j < n8; j += 8) {
    v8f e = v8_exp(v8_load(s + j) - m);
    v8_store(s + j, e);
    vs += e;
  }
  float sum = v8_hsum(vs);
  for (long j = n8; j < n; j++) {
    s[j] = vexpf(s[j] - m);
    sum += s[j];
  }
  float inv = 1.0f / sum;
  for (long j = 0; j < n; j++) s[j] *= inv;
}

// q·k[D] with 8 dims per vector, then the D mod 8 tail: the same arithmetic for every key,
// whichever group of keys it is computed with.
#define DOT_TAIL(d, q, k, D8, D)                      \
  for (int e_ = (D8); e_ < (D); e_++) (d) += (q)[e_] * (k)[e_]

// s[j] = q[D] · k[j, D] · scale for j in [j0, n), four keys at a time.
CPU_INLINE void slot_scores(float *s, const float *q, const float *k, long j0, long n, int D,
                            float scale) {
  int D8 = D / 8 * 8;
  long j = j0;
  for (; j + 4 <= n; j += 4) {
    const float *k0 = k + j * D, *k1 = k0 + D, *k2 = k1 + D, *k3 = k2 + D;
    v8f a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0};
    for (int e = 0; e < D8; e += 8) {
      v8f qv = v8_load(q + e);
      a0 += qv * v8_load(k0 + e);
      a1 += qv * v8_load(k1 + e);
      a2 += qv * v8_load(k2 + e);
      a3 += qv * v8_load(k3 + e);
    }
    float d0 = v8_hsum(a0), d1 = v8_hsum(a1), d2 = v8_hsum(a2), d3 = v8_hsum(a3);
    DOT_TAIL(d0, q, k0, D8, D);
    DOT_TAIL(d1, q, k1, D8, D);
    DOT_TAIL(d2, q, k2, D8, D);
    DOT_TAIL(d3, q, k3, D8, D);
    s[j] = d0 * scale, s[j + 1] = d1 * scale, s[j + 2] = d2 * scale, s[j + 3] = d3 * scale;
  }
  for (; j < n; j++) {
    const float *k0 = k + j * D;
    v8f a0 = {0};
    for (int e = 0; e < D8; e += 8) a0 += v8_load(q + e) * v8_load(k0 + e);
    float d0 = v8_hsum(a0);
    DOT_TAIL(d0, q, k0, D8, D);
    s[j] = d0 * scale;
  }
}

// o[D] = Σ_{j ∈ [j0, n)} p[j] v[j, D], 8 dims per vector.
CPU_INLINE void weighted_values(float *o, const float *p, const float *v, long j0, long n, int D) {
  int D8 = D / 8 * 8;
  for (int e = 0; e < D8; e += 8) {
    v8f acc = v8_splat(0.0f);
    for (long j = j0; j < n; j++) acc += p[j] * v8_load(v + j * D + e);
    v8_store(o + e, acc);
  }
  for (int e = D8; e < D; e++) {
    float acc = 0.0f;
    for (long j = j0; j < n; j++) acc += p[j] * v[j * D + e];
    o[e] = acc;
  }
}

// ---- prefill ----
// pre_weights[H, n]: softmax weights of the observed queries of the block (rotated q[n, H, D],
// knew[n, K, D]), summed over those queries; causal, with the layer's sliding window.
CPU_HOT static void prefill_weights(DecodeState *d, int l, long n) {
  const ModelConfig *cfg = &d->model->config;
  int H = cfg->n_heads, K = cfg->n_kv_heads, D = cfg->head_dim, G = H / K;
  long obs = d->policy->observe < 0 || d->policy->observe > n ? n : d->policy->observe;
  long window = forward_layer_window(cfg, l);
  float scale = (float)(1.0 / sqrt((double)D));
  double work = (double)H * obs * n * D;
#pragma omp parallel for schedule(dynamic, 1) if (work > PAR_MIN_WORK)
  for (int h = 0; h < H; h++) {
    // this head's keys, contiguous [n, D]; then the scores [n]
    float *kh = d->scratch + (size_t)omp_get_thread_num() * d->cap * (D + 1), *s = kh + d->cap * D;
    float *acc = d->pre_weights + (size_t)h * n, *q = d->fs.q;
    int g = h / G;
    for (long j = 0; j < n; j++)
      memcpy(kh + j * D, d->knew + ((size_t)j * K + g) * D, (size_t)D * sizeof(float));
    memset(acc, 0, (size_t)n * sizeof(float));
    for (long i = n - obs; i < n; i++) {
      long j0 = window > 0 && i - window + 1 > 0 ? i - window + 1 : 0;
      slot_scores(s, q + ((size_t)i * H + h) * D, kh, j0, i + 1, D, scale);
      softmax_row(s + j0, i + 1 - j0);
      for (long j = j0; j <= i; j++) acc[j] += s[j];
    }
  }
}

int decode_prefill(DecodeState *d, int b, const int32_t *tokens, long n, BenchErr *err) {
  const ModelConfig *cfg = &d->model->config;
  ForwardState *fs = &d->fs;
  const Backend *be = d->be;
  KVStore *c = &d->caches[b];
  int H = cfg->n_heads, K = cfg->n_kv_heads, D = cfg->head_dim;
  if (b < 0 || b >= d->B) return err_set(err, "sequence %d of a batch of %d", b, d->B);
  if (n < 1 || n > fs->max_block || n > d->cap)
    return err_set(err, "prefill of %ld tokens exceeds the %ld prepared for", n,
                   fs->max_block < d->cap ? fs->max_block : d->cap);
  if (c->len[0] != 0) return err_set(err, "prefill into a cache that holds tokens");
  if (check_ids(tokens, n, cfg->vocab_size, "token", err)) return -1;
  double *pos = xmalloc((size_t)n * sizeof(double));
  for (long i = 0; i < n; i++) pos[i] = rope_position(d->rope, i);
  block_rope(d, pos, n);
  free(pos);
  be->upload(fs->ids, tokens, (size_t)n * sizeof(int32_t));
  be->embedding(fs->x, fs->w->embed, fs->ids, n, cfg->hidden_size);
  float scale = (float)(1.0 / sqrt((double)D));
  for (int l = 0; l < cfg->n_layers; l++) {
    layer_qkv(d, l, n);
    if (cache_positions(d)) kv_store_append(c, l, d->knew, d->vnew, n, 0);  // stored unrotated
    be->rope_apply(d->knew, fs->cos_t, fs->sin_t, n, K, D, cfg->rotary_dims);
    if (!cache_positions(d)) kv_store_append(c, l, d->knew, d->vnew, n, 0);
    be->attention(fs->att, fs->q, d->knew, d->vnew, n, n, 0, H, K, D, scale,
                  forward_layer_window(cfg, l), fs->opt.fp64_check);
    if (observes(d)) {
      prefill_weights(d, l, n);
      kv_store_update(c, d->policy, l, d->pre_weights, H, n);
    }
    layer_tail(d, l, n);
  }
  fs->n = n;
  if (n > d->prefill_keys) d->prefill_keys = n;
  for (int l = 0; l < cfg->n_layers; l++) kv_store_evict(c, d->policy, l, d->keep_mask);
  return 0;
}

// ---- step ----
// dst[n, D] = src[n, D] rotated at slot positions 0..n−1 (the slot table), the arithmetic of the
// backend's rope_apply (kept out of the FMA-contracted clones so that both agree bit for bit).
__attribute__((noinline)) static void rotate_slots(float *dst, const float *src, long n, int D,
                                                   int R, const float *cos_t,
                                                   const float *sin_t) {
  int half = R / 2;
  memcpy(dst, src, (size_t)n * D * sizeof(float));
  for (long s = 0; s < n; s++) {
    const float *cs = cos_t + s * half, *sn = sin_t + s * half;
    float *a = dst + s * D, *bb = a + half;
    for (int i = 0; i < half; i++) {
      float ai = a[i], bi = bb[i];
      a[i] = ai * cs[i] - bi * sn[i];
      bb[i] = bi * cs[i] + ai * sn[i];
    }
  }
}

// out[G, D] for the G query heads q[G, D] of one kv head over keys k[n, D], values v[n, D],
// slots [j0, n): softmax(q·k·scale) v. s[n] scratch; w[G rows, stride] the weights (0 before j0)
// when non-NULL.
CPU_HOT static void attend_slots(float *out, const float *q, const float *k, const float *v,
                                 long j0, long n, int G, int D, float scale, float *s, float *w,
                                 long stride) {
  for (int r = 0; r < G; r++) {
    slot_scores(s, q + (size_t)r * D, k, j0, n, D, scale);
    softmax_row(s + j0, n - j0);
    weighted_values(out + (size_t)r * D, s, v, j0, n, D);
    if (w) {
      float *wr = w + (size_t)r * stride;
      memset(wr, 0, (size_t)j0 * sizeof(float));
      memcpy(wr + j0, s + j0, (size_t)(n - j0) * sizeof(float));
    }
  }
}

// First slot a query reading token t may see in a layer of sliding window W: token index > t − W
// (slots hold tokens in ascending order).
static long first_visible(const long *pos, long n, long t, long W) {
  if (W <= 0) return 0;
  long lo = 0, hi = n;  // first slot with pos > t − W
  while (lo < hi) {
    long mid = lo + (hi - lo) / 2;
    if (pos[mid] > t - W) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

// fs.att[B, H·D] for the step's queries fs.q[B, H, D] against each sequence's layer-l cache (the
// step's token already appended); weights[B, H, cap] when the policy observes.
static void step_attention(DecodeState *d, int l, long t) {
  const ModelConfig *cfg = &d->model->config;
  int H = cfg->n_heads, K = cfg->n_kv_heads, D = cfg->head_dim, G = H / K, R = cfg->rotary_dims;
  long W = forward_layer_window(cfg, l);
  float scale = (float)(1.0 / sqrt((double)D));
  int rotate = cache_positions(d) && R > 0;
  double work = (double)d->B * H * (double)d->caches[0].len[l] * D;  // multiply-adds
#pragma omp parallel for schedule(dynamic, 1) if (work > PAR_MIN_WORK)
  for (long task = 0; task < (long)d->B * K; task++) {
    int b = (int)(task / K), g = (int)(task % K);
    KVStore *c = &d->caches[b];
    long n = c->len[l];
    float *scr = d->scratch + (size_t)omp_get_thread_num() * d->cap * (D + 1);
    const float *k = kv_store_k(c, l, g);
    if (rotate) {
      rotate_slots(scr, k, n, D, R, d->slot_cos, d->slot_sin);
      k = scr;
    }
    long j0 = first_visible(kv_store_pos(c, l, g), n, t, W);
    float *w = d->weights ? d->weights + ((size_t)b * H + (size_t)g * G) * d->cap : NULL;
    attend_slots(d->fs.att + ((size_t)b * H + (size_t)g * G) * D,
                 d->fs.q + ((size_t)b * H + (size_t)g * G) * D, k, kv_store_v(c, l, g), j0, n, G,
                 D, scale, scr + (size_t)d->cap * D, w, d->cap);
  }
}

int decode_step(DecodeState *d, const int32_t *tokens, long t, const int32_t *targets, float *nll,
                uint8_t *correct, BenchErr *err) {
  const ModelConfig *cfg = &d->model->config;
  ForwardState *fs = &d->fs;
  const Backend *be = d->be;
  int B = d->B, H = cfg->n_heads, K = cfg->n_kv_heads, D = cfg->head_dim;
  long held = d->caches[0].len[0];
  if (held + 1 > d->cap)
    return err_set(err, "kv cache full: %ld slots held, a step needs one more of %ld", held,
                   d->cap);
  if (check_ids(tokens, B, cfg->vocab_size, "token", err)) return -1;
  // Every sequence and layer holds `held` slots: the query sits at the step's slot in cache mode.
  double p = rope_position(d->rope, cache_positions(d) ? held : t);
  double *pos = xmalloc((size_t)B * sizeof(double));
  for (int b = 0; b < B; b++) pos[b] = p;
  block_rope(d, pos, B);
  free(pos);
  be->upload(fs->ids, tokens, (size_t)B * sizeof(int32_t));
  be->embedding(fs->x, fs->w->embed, fs->ids, B, cfg->hidden_size);
  for (int l = 0; l < cfg->n_layers; l++) {
    layer_qkv(d, l, B);
    if (!cache_positions(d))
      be->rope_apply(d->knew, fs->cos_t, fs->sin_t, B, K, D, cfg->rotary_dims);
    for (int b = 0; b < B; b++)
      kv_store_append(&d->caches[b], l, d->knew + (size_t)b * K * D,
                      d->vnew + (size_t)b * K * D, 1, t);
    step_attention(d, l, t);
    if (observes(d))
      for (int b = 0; b < B; b++)
        kv_store_update(&d->caches[b], d->policy, l, d->weights + (size_t)b * H * d->cap, H,
                        d->cap);
    layer_tail(d, l, B);
  }
  forward_norm(fs, fs->xn, fs->x, fs->w->final_norm_w, fs->w->final_norm_b, B);
  fs->n = B;
  if (held + 1 > d->peak_keys) d->peak_keys = held + 1;
  if (forward_score(fs, 0, B, targets, nll, correct, err) != 0) return -1;
  long keep = kv_policy_keep(d->policy);
  if (keep < 0 || held + 1 <= keep) return 0;  // nothing to evict
  int L = cfg->n_layers;
  double work = (double)B * L * K * (double)(held + 1);  // slots the policies look at
#pragma omp parallel for schedule(dynamic, 1) if (work > PAR_MIN_WORK)
  for (long task = 0; task < (long)B * L; task++)
    kv_store_evict(&d->caches[task / L], d->policy, (int)(task % L),
                   d->keep_mask + (size_t)omp_get_thread_num() * d->cap);
  return 0;
}
