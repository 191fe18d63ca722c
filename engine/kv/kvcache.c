// kvcache.c — the policy registry and spec parsing, and the KV store of S sequences: allocation in
// backend memory, the host's bookkeeping (slots held, each room's offset), appends, and eviction
// by compaction — the policy's choice made on the host, the slots moved by the backend (kv_move).
// The rules are in kvcache.h; each policy in kv_<type>.c.
// Legend: S sequences, L layers, K kv heads, D head dim, n slots held, Q rooms named by a list.
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

int kv_type_needs_decode(const char *type) { return type && strcmp(type, kv_policy_full.type) != 0; }

long kv_policy_keep(const KVPolicy *p) { return p->budget > 0 ? p->budget - 1 : -1; }

int kv_policy_observes(const KVPolicy *p) {
  return p->ops->score != KV_SCORE_NONE && p->observe != 0;
}

// ---- the store ----
size_t kv_bytes(int n_layers, int n_kv_heads, int head_dim, long tokens, size_t elem) {
  return 2 * (size_t)n_layers * (size_t)n_kv_heads * (size_t)head_dim * (size_t)tokens * elem;
}

// Lists of one eviction or set of front moves, on the host and their backend copies, grown on
// demand: runs[n_runs, 3] (src, dst, count) by room (groups[n_groups + 1] offsets into runs), the
// rooms a selection looks at (rows[Q]: their slot 0), and what comes back (idx[Q], or scores and
// positions [Q, n]).
struct KVMoves {
  int64_t *runs, *groups, *rows, *row0;  // host: runs, groups, rows; row0 [L, S, K]
  long n_runs, n_groups;
  size_t runs_cap, groups_cap, rows_cap;
  int32_t *idx, *gpos;                   // host [Q], [Q, n]
  float *gscore;                         // host [Q, n]
  size_t idx_cap, gpos_cap, gscore_cap;
  long *pos;                             // [cap] one room's positions for select
  uint8_t *mask;                         // [cap]
  int row0_stale;
  // backend copies (contents are uploaded before each use)
  int64_t *d_runs, *d_groups, *d_rows;
  int32_t *d_idx, *d_gpos;
  float *d_gscore;
  size_t d_runs_bytes, d_groups_bytes, d_rows_bytes, d_idx_bytes, d_gpos_bytes, d_gscore_bytes;
};

// Backend buffer *p of at least `bytes` (its contents are not kept).
static int dev_reserve(const Backend *be, void **p, size_t *have, size_t bytes, BenchErr *err) {
  if (bytes <= *have) return 0;
  if (*p) be->free(*p);
  size_t want = bytes + bytes / 2;
  *p = be->alloc(want);
  *have = *p ? want : 0;
  if (!*p)
    return err_set(err, "out of memory: %.1f MiB of kv cache bookkeeping", bytes / 1048576.0);
  return 0;
}

static void host_reserve(void **p, size_t *have, size_t n, size_t elem) {
  if (n <= *have) return;
  *have = n + n / 2 + 16;
  *p = xrealloc(*p, *have * elem);
}

static size_t room_index(const KVStore *s, int b, int l, int g) {
  return ((size_t)b * s->n_layers + l) * s->n_kv_heads + g;
}

static int64_t room_base(const KVStore *s, size_t r) { return (int64_t)(r * (size_t)s->room); }

int kv_store_init(KVStore *s, const Backend *be, int n_seqs, int n_layers, int n_kv_heads,
                  int head_dim, long cap, long slack, int with_score, BenchErr *err) {
  memset(s, 0, sizeof *s);
  s->be = be;
  s->n_seqs = n_seqs;
  s->n_layers = n_layers;
  s->n_kv_heads = n_kv_heads;
  s->head_dim = head_dim;
  s->cap = cap < 1 ? 1 : cap;
  s->room = s->cap + (slack > 0 ? slack : 0);
  size_t rooms = (size_t)n_seqs * n_layers * n_kv_heads, rows = rooms * (size_t)s->room;
  s->len = xcalloc((size_t)n_seqs * n_layers + 1, sizeof *s->len);
  s->start = xcalloc(rooms + 1, sizeof *s->start);
  s->moves = xcalloc(1, sizeof *s->moves);
  s->moves->row0 = xcalloc(rooms + 1, sizeof(int64_t));
  s->moves->pos = xmalloc((size_t)s->cap * sizeof(long));
  s->moves->mask = xmalloc((size_t)s->cap);
  s->k = be->alloc(rows * head_dim * sizeof(float));
  s->v = be->alloc(rows * head_dim * sizeof(float));
  s->pos = be->alloc(rows * sizeof(int32_t));
  s->row0 = be->alloc((rooms + 1) * sizeof(int64_t));
  if (with_score) s->score = be->alloc(rows * sizeof(float));
  if (!s->k || !s->v || !s->pos || !s->row0 || (with_score && !s->score)) {
    long slots = s->room;
    kv_store_free(s);
    return err_set(err, "out of memory: kv caches of %d sequence%s × %ld slots need %.1f MiB",
                   n_seqs, n_seqs == 1 ? "" : "s", slots,
                   (double)kv_bytes(n_layers, n_kv_heads, head_dim, slots, sizeof(float)) *
                       n_seqs / (1 << 20));
  }
  s->moves->row0_stale = 1;
  return 0;
}

void kv_store_free(KVStore *s) {
  if (!s->be) return;
  const Backend *be = s->be;
  void *dev[] = {s->k, s->v, s->pos, s->score, s->row0, NULL, NULL, NULL, NULL, NULL, NULL};
  KVMoves *m = s->moves;
  if (m) {
    void *md[] = {m->d_runs, m->d_groups, m->d_rows, m->d_idx, m->d_gpos, m->d_gscore};
    memcpy(dev + 5, md, sizeof md);
    free(m->runs);
    free(m->groups);
    free(m->rows);
    free(m->row0);
    free(m->idx);
    free(m->gpos);
    free(m->gscore);
    free(m->pos);
    free(m->mask);
    free(m);
  }
  for (size_t i = 0; i < sizeof dev / sizeof dev[0]; i++)
    if (dev[i]) be->free(dev[i]);
  free(s->len);
  free(s->start);
  memset(s, 0, sizeof *s);
}

void kv_store_positions(const KVStore *s, int b, int l, int g, long *out) {
  long n = kv_store_len(s, b, l);
  int32_t *p = xmalloc((size_t)(n ? n : 1) * sizeof *p);
  s->be->download(p, s->pos + kv_store_row(s, b, l, g), (size_t)n * sizeof *p);
  for (long i = 0; i < n; i++) out[i] = p[i];
  free(p);
}

// ---- lists of moves ----
static void moves_reset(KVMoves *m) {
  m->n_runs = 0;
  m->n_groups = 0;
  host_reserve((void **)&m->groups, &m->groups_cap, 1, sizeof(int64_t));
  m->groups[0] = 0;
}

static void add_run(KVMoves *m, int64_t src, int64_t dst, int64_t count) {
  if (count <= 0 || src == dst) return;
  host_reserve((void **)&m->runs, &m->runs_cap, 3 * (size_t)(m->n_runs + 1), sizeof(int64_t));
  int64_t *r = m->runs + 3 * m->n_runs++;
  r[0] = src, r[1] = dst, r[2] = count;
}

// Ends the runs of one room (a group when it has any).
static void close_group(KVMoves *m) {
  if (m->n_runs == m->groups[m->n_groups]) return;
  host_reserve((void **)&m->groups, &m->groups_cap, (size_t)m->n_groups + 2, sizeof(int64_t));
  m->groups[++m->n_groups] = m->n_runs;
}

// Applies the listed moves in backend memory (one kv_move).
static int moves_flush(KVStore *s, BenchErr *err) {
  KVMoves *m = s->moves;
  const Backend *be = s->be;
  if (m->n_groups == 0) return 0;
  size_t rb = 3 * (size_t)m->n_runs * sizeof(int64_t);
  size_t gb = ((size_t)m->n_groups + 1) * sizeof(int64_t);
  if (dev_reserve(be, (void **)&m->d_runs, &m->d_runs_bytes, rb, err) ||
      dev_reserve(be, (void **)&m->d_groups, &m->d_groups_bytes, gb, err))
    return -1;
  be->upload(m->d_runs, m->runs, rb);
  be->upload(m->d_groups, m->groups, gb);
  be->kv_move(s->k, s->v, s->score, s->pos, m->d_runs, m->d_groups, m->n_groups, s->head_dim);
  m->row0_stale = 1;
  return 0;
}

// Room r (n slots) loses slot h: the side of the hole holding fewer slots moves.
static void drop_one(KVStore *s, size_t r, long h, long n) {
  KVMoves *m = s->moves;
  int64_t at = room_base(s, r) + s->start[r];
  long after = n - 1 - h, before = h;
  if (after <= before) {
    add_run(m, at + h + 1, at + h, after);
  } else {
    add_run(m, at, at + 1, before);
    s->start[r] += 1;
  }
  close_group(m);
}

// Room r (n slots) keeps the `kept` slots with keep[i] = 1, in order: the slots after the first
// hole move down, or those before the last hole move up (and slot 0 moves up with them), whichever
// are fewer; runs of consecutive slots move together, in the order that reads each slot before
// writing over it.
static void compact(KVStore *s, size_t r, const uint8_t *keep, long n, long kept) {
  KVMoves *m = s->moves;
  long first = 0, last = n - 1;
  while (first < n && keep[first]) first++;
  while (last >= 0 && keep[last]) last--;
  if (first >= n) return;
  long after = 0, before = 0;  // kept slots after the first hole, before the last
  for (long i = first + 1; i < n; i++) after += keep[i] != 0;
  for (long i = 0; i < last; i++) before += keep[i] != 0;
  int64_t at = room_base(s, r) + s->start[r];
  if (after <= before) {
    long w = first;
    for (long i = first + 1; i < n;) {
      if (!keep[i]) {
        i++;
        continue;
      }
      long i0 = i;
      while (i < n && keep[i]) i++;
      add_run(m, at + i0, at + w, i - i0);
      w += i - i0;
    }
  } else {
    long w = last;
    for (long i = last - 1; i >= 0;) {
      if (!keep[i]) {
        i--;
        continue;
      }
      long i1 = i;
      while (i >= 0 && keep[i]) i--;
      long count = i1 - i;  // slots i + 1 .. i1
      add_run(m, at + i + 1, at + w - count + 1, count);
      w -= count;
    }
    s->start[r] += n - kept;
  }
  close_group(m);
}

// ---- appends ----
int kv_store_reserve(KVStore *s, int b0, int nb, long n, BenchErr *err) {
  KVMoves *m = s->moves;
  int L = s->n_layers, K = s->n_kv_heads;
  moves_reset(m);
  for (int b = b0; b < b0 + nb; b++)
    for (int l = 0; l < L; l++) {
      long len = kv_store_len(s, b, l);
      CHECK(len + n <= s->cap);
      for (int g = 0; g < K; g++) {
        size_t r = room_index(s, b, l, g);
        if (s->start[r] + len + n <= s->room) continue;
        add_run(m, room_base(s, r) + s->start[r], room_base(s, r), len);
        close_group(m);
        s->start[r] = 0;
        m->row0_stale = 1;
      }
    }
  if (moves_flush(s, err)) return -1;
  if (m->row0_stale) {
    int S = s->n_seqs;
    for (int l = 0; l < L; l++)
      for (int b = 0; b < S; b++)
        for (int g = 0; g < K; g++)
          m->row0[((size_t)l * S + b) * K + g] = kv_store_row(s, b, l, g);
    s->be->upload(s->row0, m->row0, (size_t)L * S * K * sizeof(int64_t));
    m->row0_stale = 0;
  }
  return 0;
}

void kv_store_append(KVStore *s, int l, int b0, int nb, const float *k, const float *v, long n,
                     long t0) {
  long len = kv_store_len(s, b0, l);
  CHECK(!s->moves->row0_stale && n >= 0);
  for (int b = b0; b < b0 + nb; b++) {
    CHECK(kv_store_len(s, b, l) == len && len + n <= s->cap);
    for (int g = 0; g < s->n_kv_heads; g++)
      CHECK(s->start[room_index(s, b, l, g)] + len + n <= s->room);
    s->len[(size_t)b * s->n_layers + l] = len + n;
  }
  if (n > 0)
    s->be->kv_append(s->k, s->v, s->score, s->pos, k, v, kv_store_row0(s, l, b0), (long)nb * n, n,
                     len, t0, s->n_kv_heads, s->head_dim);
}

// ---- eviction ----
// Backend buffers for a selection over Q rooms of n slots: their rows uploaded.
static int select_rows(KVStore *s, long Q, long n, int with_score, BenchErr *err) {
  KVMoves *m = s->moves;
  const Backend *be = s->be;
  size_t qb = (size_t)Q * sizeof(int64_t), gb = (size_t)Q * n;
  if (dev_reserve(be, (void **)&m->d_rows, &m->d_rows_bytes, qb, err) ||
      dev_reserve(be, (void **)&m->d_idx, &m->d_idx_bytes, (size_t)Q * sizeof(int32_t), err) ||
      dev_reserve(be, (void **)&m->d_gpos, &m->d_gpos_bytes, gb * sizeof(int32_t), err) ||
      (with_score &&
       dev_reserve(be, (void **)&m->d_gscore, &m->d_gscore_bytes, gb * sizeof(float), err)))
    return -1;
  host_reserve((void **)&m->idx, &m->idx_cap, (size_t)Q, sizeof(int32_t));
  host_reserve((void **)&m->gpos, &m->gpos_cap, gb, sizeof(int32_t));
  if (with_score) host_reserve((void **)&m->gscore, &m->gscore_cap, gb, sizeof(float));
  be->upload(m->d_rows, m->rows, qb);
  return 0;
}

// The policy's choice for one room from its gathered positions pos[n] and scores (NULL: none):
// m->mask; returns the hole when exactly one slot goes, else −1.
static long choose(KVStore *s, const KVPolicy *p, long n, long keep, const int32_t *pos,
                   const float *score) {
  KVMoves *m = s->moves;
  for (long i = 0; i < n; i++) m->pos[i] = pos[i];
  p->ops->select(p, n, keep, m->pos, score, m->mask);
  long kept = 0, hole = -1;
  for (long i = 0; i < n; i++) {
    kept += m->mask[i] != 0;
    if (!m->mask[i]) hole = i;
  }
  CHECK(kept == keep);  // a policy that breaks its contract is a bug, not an input error
  return n - kept == 1 ? hole : -1;
}

int kv_store_evict(KVStore *s, const KVPolicy *p, int b0, int nb, BenchErr *err) {
  KVMoves *m = s->moves;
  const Backend *be = s->be;
  int L = s->n_layers, K = s->n_kv_heads;
  long keep = kv_policy_keep(p), n = kv_store_len(s, b0, 0);
  for (int b = b0; b < b0 + nb; b++)
    for (int l = 0; l < L; l++) CHECK(kv_store_len(s, b, l) == n);
  if (keep < 0 || n <= keep) return 0;
  moves_reset(m);
  if (keep > 0 && p->ops->score != KV_SCORE_NONE) {
    // every room chooses for itself, from its own scores
    CHECK(s->score != NULL);
    long Q = (long)nb * L * K;
    host_reserve((void **)&m->rows, &m->rows_cap, (size_t)Q, sizeof(int64_t));
    for (long q = 0; q < Q; q++)
      m->rows[q] = room_base(s, room_index(s, b0, 0, 0) + (size_t)q) +
                   s->start[room_index(s, b0, 0, 0) + (size_t)q];
    int fast = n - keep == 1 && p->ops->lowest_of;
    if (select_rows(s, Q, n, !fast, err)) return -1;
    if (fast) {
      long lim = p->ops->lowest_of(p, n, keep);
      CHECK(lim >= 1 && lim <= n);
      be->kv_argmin(m->d_idx, s->score, m->d_rows, Q, lim);
      be->download(m->idx, m->d_idx, (size_t)Q * sizeof(int32_t));
      if (be->sync(err)) return -1;
      for (long q = 0; q < Q; q++) {
        if (m->idx[q] < 0 || m->idx[q] >= lim)
          return err_set(err, "%s kv_argmin returned slot %d outside [0, %ld)", be->name,
                         (int)m->idx[q], lim);
        drop_one(s, room_index(s, b0, 0, 0) + (size_t)q, m->idx[q], n);
      }
    } else {
      be->kv_gather(m->d_gscore, m->d_gpos, s->score, s->pos, m->d_rows, Q, n);
      be->download(m->gscore, m->d_gscore, (size_t)Q * n * sizeof(float));
      be->download(m->gpos, m->d_gpos, (size_t)Q * n * sizeof(int32_t));
      if (be->sync(err)) return -1;
      for (long q = 0; q < Q; q++) {
        size_t r = room_index(s, b0, 0, 0) + (size_t)q;
        long hole = choose(s, p, n, keep, m->gpos + q * n, m->gscore + q * n);
        if (hole >= 0) drop_one(s, r, hole, n);
        else compact(s, r, m->mask, n, keep);
      }
    }
  } else if (keep > 0) {
    // positions only: every layer and kv head of a sequence holds the same tokens (appended
    // together, evicted by the same rule), so one room per sequence chooses for all of them
    host_reserve((void **)&m->rows, &m->rows_cap, (size_t)nb, sizeof(int64_t));
    for (int b = 0; b < nb; b++) m->rows[b] = kv_store_row(s, b0 + b, 0, 0);
    if (select_rows(s, nb, n, 0, err)) return -1;
    be->kv_gather(NULL, m->d_gpos, NULL, s->pos, m->d_rows, nb, n);
    be->download(m->gpos, m->d_gpos, (size_t)nb * n * sizeof(int32_t));
    if (be->sync(err)) return -1;
    for (int b = 0; b < nb; b++) {
      long hole = choose(s, p, n, keep, m->gpos + (size_t)b * n, NULL);
      for (int l = 0; l < L; l++)
        for (int g = 0; g < K; g++) {
          size_t r = room_index(s, b0 + b, l, g);
          if (hole >= 0) drop_one(s, r, hole, n);
          else compact(s, r, m->mask, n, keep);
        }
    }
  }
  // keep = 0: nothing stays, nothing moves
  if (moves_flush(s, err)) return -1;
  for (int b = b0; b < b0 + nb; b++)
    for (int l = 0; l < L; l++) s->len[(size_t)b * L + l] = keep;
  m->row0_stale = 1;
  return 0;
}
