// kvcache.c — the policy registry and spec parsing, and the per-sequence KV store: allocation,
// score updates, eviction by compaction. The rules are in kvcache.h; each policy in kv_<type>.c.
// Legend: L layers, K kv heads, H query heads, G = H/K, D head dim, n slots held.
#include "kvcache.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const KVPolicyOps *const POLICIES[] = {&kv_policy_full, &kv_policy_window,
                                              &kv_policy_streaming, &kv_policy_h2o};
#define N_POLICIES (int)(sizeof POLICIES / sizeof POLICIES[0])

static int spec_key_known(const KVPolicyOps *ops, const char *key) {
  if (!strcmp(key, "name") || !strcmp(key, "type") || !strcmp(key, "positions")) return 1;
  for (int i = 0; ops->args[i]; i++)
    if (!strcmp(key, ops->args[i])) return 1;
  return 0;
}

int kv_policy_from_spec(const json_t *spec, KVPolicy *p, BenchErr *err) {
  memset(p, 0, sizeof *p);
  if (!spec) {
    p->ops = &kv_policy_full;
    return p->ops->init(p, err);
  }
  if (!json_is_object(spec)) return err_set(err, "cache spec is not an object");
  const char *type = json_string_value(json_object_get(spec, "type"));
  if (!type) return err_set(err, "cache spec has no 'type'");
  const char *names[N_POLICIES];
  for (int i = 0; i < N_POLICIES; i++) {
    names[i] = POLICIES[i]->type;
    if (!strcmp(type, names[i])) p->ops = POLICIES[i];
  }
  if (!p->ops) {
    const char *guess = closest_name(type, names, N_POLICIES);
    if (guess) return err_set(err, "unknown cache policy '%s' (did you mean '%s'?)", type, guess);
    return err_set(err, "unknown cache policy '%s' (full, window, streaming or h2o)", type);
  }
  const char *key;
  json_t *val;
  json_object_foreach((json_t *)spec, key, val) {
    if (!spec_key_known(p->ops, key))
      return err_set(err, "cache policy '%s' has no parameter '%s'", type, key);
  }
  for (int i = 0; p->ops->args[i]; i++) {
    json_t *v = json_object_get(spec, p->ops->args[i]);
    if (!v) return err_set(err, "cache policy '%s' needs '%s'", type, p->ops->args[i]);
    double x = json_number_value(v);
    if (!json_is_number(v) || x != floor(x) || x < 0 || x > 1e15)
      return err_set(err, "cache policy '%s': '%s' must be a whole number ≥ 0", type,
                     p->ops->args[i]);
    p->arg[i] = (long)x;
  }
  p->positions = p->ops->default_positions;
  json_t *pv = json_object_get(spec, "positions");
  if (pv) {
    const char *ps = json_string_value(pv);
    if (ps && !strcmp(ps, "cache")) p->positions = KV_POS_CACHE;
    else if (ps && !strcmp(ps, "original")) p->positions = KV_POS_ORIGINAL;
    else return err_set(err, "cache policy '%s': 'positions' must be 'cache' or 'original'", type);
  }
  return p->ops->init(p, err);
}

const char *kv_policy_type(const KVPolicy *p) { return p->ops->type; }

long kv_policy_keep(const KVPolicy *p) { return p->budget > 0 ? p->budget - 1 : -1; }

// ---- the store ----
size_t kv_bytes(int n_layers, int n_kv_heads, int head_dim, long tokens, size_t elem) {
  return 2 * (size_t)n_layers * (size_t)n_kv_heads * (size_t)head_dim * (size_t)tokens * elem;
}

int kv_store_init(KVStore *s, int n_layers, int n_kv_heads, int head_dim, long cap, long slack,
                  int with_score, BenchErr *err) {
  memset(s, 0, sizeof *s);
  s->n_layers = n_layers;
  s->n_kv_heads = n_kv_heads;
  s->head_dim = head_dim;
  s->cap = cap < 1 ? 1 : cap;
  s->room = s->cap + (slack > 0 ? slack : 0);
  s->len = xcalloc((size_t)n_layers, sizeof *s->len);
  s->start = xcalloc((size_t)n_layers, sizeof *s->start);
  s->k = xcalloc((size_t)n_layers, sizeof *s->k);
  s->v = xcalloc((size_t)n_layers, sizeof *s->v);
  s->pos = xcalloc((size_t)n_layers, sizeof *s->pos);
  if (with_score) s->score = xcalloc((size_t)n_layers, sizeof *s->score);
  size_t slots = (size_t)n_kv_heads * (size_t)s->room;
  int failed = 0;
  for (int l = 0; l < n_layers && !failed; l++) {
    s->start[l] = xcalloc((size_t)n_kv_heads, sizeof **s->start);
    s->k[l] = malloc(slots * (size_t)head_dim * sizeof(float));
    s->v[l] = malloc(slots * (size_t)head_dim * sizeof(float));
    s->pos[l] = malloc(slots * sizeof(long));
    if (with_score) s->score[l] = malloc(slots * sizeof(float));
    failed = !s->k[l] || !s->v[l] || !s->pos[l] || (with_score && !s->score[l]);
  }
  if (failed) {
    kv_store_free(s);
    return err_set(err, "out of memory: kv cache of %ld tokens needs %.1f MiB", cap,
                   (double)kv_bytes(n_layers, n_kv_heads, head_dim, cap, sizeof(float)) /
                       (1 << 20));
  }
  return 0;
}

void kv_store_free(KVStore *s) {
  for (int l = 0; s->k && l < s->n_layers; l++) {
    free(s->start[l]);
    free(s->k[l]);
    free(s->v[l]);
    free(s->pos[l]);
    if (s->score) free(s->score[l]);
  }
  free(s->len);
  free(s->start);
  free(s->k);
  free(s->v);
  free(s->pos);
  free(s->score);
  memset(s, 0, sizeof *s);
}

// Moves `count` slots of layer l, kv head g from room index `from` to room index `to` (the runs
// may overlap).
static void move_slots(KVStore *s, int l, int g, long from, long to, long count) {
  if (from == to || count <= 0) return;
  size_t D = (size_t)s->head_dim, base = (size_t)g * s->room;
  memmove(s->k[l] + (base + to) * D, s->k[l] + (base + from) * D, (size_t)count * D * sizeof(float));
  memmove(s->v[l] + (base + to) * D, s->v[l] + (base + from) * D, (size_t)count * D * sizeof(float));
  memmove(s->pos[l] + base + to, s->pos[l] + base + from, (size_t)count * sizeof(long));
  if (s->score)
    memmove(s->score[l] + base + to, s->score[l] + base + from, (size_t)count * sizeof(float));
}

void kv_store_append(KVStore *s, int l, const float *k, const float *v, long n, long t0) {
  int K = s->n_kv_heads, D = s->head_dim;
  long len = s->len[l];
  CHECK(n >= 0 && len + n <= s->cap);
  for (int g = 0; g < K; g++) {
    if (s->start[l][g] + len + n > s->room) {  // back to the front of the room
      move_slots(s, l, g, s->start[l][g], 0, len);
      s->start[l][g] = 0;
    }
    float *kc = kv_store_k(s, l, g) + (size_t)len * D, *vc = kv_store_v(s, l, g) + (size_t)len * D;
    long *pos = kv_store_pos(s, l, g) + len;
    float *score = kv_store_score(s, l, g);
    for (long i = 0; i < n; i++) {
      memcpy(kc + (size_t)i * D, k + ((size_t)i * K + g) * D, (size_t)D * sizeof(float));
      memcpy(vc + (size_t)i * D, v + ((size_t)i * K + g) * D, (size_t)D * sizeof(float));
      pos[i] = t0 + i;
      if (score) score[len + i] = 0.0f;
    }
  }
  s->len[l] = len + n;
}

void kv_store_update(KVStore *s, const KVPolicy *p, int l, const float *w, int H, long stride) {
  if (!p->ops->update) return;
  CHECK(s->score && H % s->n_kv_heads == 0);
  int G = H / s->n_kv_heads;
  for (int g = 0; g < s->n_kv_heads; g++)
    p->ops->update(p, kv_store_score(s, l, g), w + (size_t)g * G * stride, G, stride, s->len[l]);
}

// Closes the holes of one (layer, kv head) (keep[i] = 0) by moving the side that holds fewer kept
// slots: the slots after the first hole move down, or those before the last hole move up (and
// slot 0 moves up with them).
static void compact_head(KVStore *s, int l, int g, const uint8_t *keep, long n, long kept) {
  long first = 0, last = n - 1;
  while (first < n && keep[first]) first++;
  while (last >= 0 && keep[last]) last--;
  if (first >= n) return;
  long after = 0, before = 0;  // kept slots after the first hole, before the last
  for (long i = first + 1; i < n; i++) after += keep[i] != 0;
  for (long i = 0; i < last; i++) before += keep[i] != 0;
  long s0 = s->start[l][g];
  if (after <= before) {
    long w = first;
    for (long i = first + 1; i < n; i++)
      if (keep[i]) move_slots(s, l, g, s0 + i, s0 + w++, 1);
  } else {
    long w = last;
    for (long i = last - 1; i >= 0; i--)
      if (keep[i]) move_slots(s, l, g, s0 + i, s0 + w--, 1);
    s->start[l][g] = s0 + (n - kept);
  }
}

void kv_store_evict(KVStore *s, const KVPolicy *p, int l, uint8_t *keep_mask) {
  long keep = kv_policy_keep(p), n = s->len[l];
  if (keep < 0 || n <= keep) return;
  for (int g = 0; g < s->n_kv_heads; g++) {
    if (keep == 0) {
      memset(keep_mask, 0, (size_t)n);
    } else {
      p->ops->select(p, n, keep, kv_store_pos(s, l, g), kv_store_score(s, l, g), keep_mask);
      long kept = 0;
      for (long i = 0; i < n; i++) kept += keep_mask[i] != 0;
      CHECK(kept == keep);  // a policy that breaks its contract is a bug, not an input error
    }
    compact_head(s, l, g, keep_mask, n, keep);
  }
  s->len[l] = keep;
}
