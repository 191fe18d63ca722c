// tok_bpe.c — the BPE model of tokenizer.json, as Hugging Face `tokenizers` runs it.
//
// A piece becomes one symbol per character (its vocab id; else its bytes as <0xNN> tokens with
// byte_fallback; else the unk token, consecutive ones fused with fuse_unk; else nothing), then
// adjacent pairs are merged by rank with a binary heap over a doubly linked list: O(n log n) in
// the piece length n. Heap order is (rank, position), and a popped entry is used only if the pair
// now at its position still merges into the same id, exactly HF's Word::merge_all, so ties and
// stale entries resolve the same way. Results of short pieces are cached per encode call.
#include <stdlib.h>
#include <string.h>

#include "tok_internal.h"

void idvec_push(IdVec *a, int32_t id) {
  if (a->n == a->cap) {
    a->cap = a->cap ? a->cap * 2 : 256;
    a->v = xrealloc(a->v, a->cap * sizeof *a->v);
  }
  a->v[a->n++] = id;
}

uint64_t tok_hash(const void *p, size_t n) {
  const unsigned char *s = p;
  uint64_t h = 0x9E3779B97F4A7C15ull ^ (n * 0xff51afd7ed558ccdull);
  while (n >= 8) {
    uint64_t v;
    memcpy(&v, s, 8);
    h = (h ^ v) * 0xbf58476d1ce4e5b9ull;
    h ^= h >> 29;
    s += 8;
    n -= 8;
  }
  uint64_t v = 0;
  memcpy(&v, s, n);
  h = (h ^ v) * 0x94d049bb133111ebull;
  h ^= h >> 32;
  h *= 0xbf58476d1ce4e5b9ull;
  h ^= h >> 29;
  return h;
}

static uint64_t mix64(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ull;
  x ^= x >> 33;
  return x;
}

// ---- vocabulary ----

int tok_bpe_lookup(const TokBpe *b, const char *s, size_t len) {
  if (!b->slots) return -1;
  uint64_t h = tok_hash(s, len);
  uint32_t tag = (uint32_t)h;
  for (size_t i = (size_t)(h >> 20) & b->slot_mask;; i = (i + 1) & b->slot_mask) {
    int32_t e = b->slots[i];
    if (e < 0) return -1;
    if (b->str_hash[e] == tag && b->str_len[e] == len &&
        memcmp(b->pool + b->str_off[e], s, len) == 0)
      return b->str_id[e];
  }
}

int tok_bpe_build(TokBpe *b, BenchErr *err) {
  size_t cap = 16;
  while (cap < b->n_str * 2) cap *= 2;
  b->slot_mask = cap - 1;
  b->slots = xmalloc(cap * sizeof *b->slots);
  memset(b->slots, 0xff, cap * sizeof *b->slots);
  b->str_hash = xmalloc((b->n_str + 1) * sizeof *b->str_hash);
  for (size_t e = 0; e < b->n_str; e++) {
    uint64_t h = tok_hash(b->pool + b->str_off[e], b->str_len[e]);
    b->str_hash[e] = (uint32_t)h;
    size_t i = (size_t)(h >> 20) & b->slot_mask;
    while (b->slots[i] >= 0) {
      int32_t o = b->slots[i];
      if (b->str_len[o] == b->str_len[e] &&
          memcmp(b->pool + b->str_off[o], b->pool + b->str_off[e], b->str_len[e]) == 0)
        return err_set(err, "duplicate vocab entry: ids %d and %d are the same token", b->str_id[o],
                       b->str_id[e]);
      i = (i + 1) & b->slot_mask;
    }
    b->slots[i] = (int32_t)e;
  }
  for (int k = 0; k < 256; k++) {
    char name[8];
    snprintf(name, sizeof name, "<0x%02X>", k);
    b->byte_id[k] = tok_bpe_lookup(b, name, 6);
  }
  b->bmp_id = xmalloc(0x10000 * sizeof *b->bmp_id);
  memset(b->bmp_id, 0xff, 0x10000 * sizeof *b->bmp_id);
  for (size_t e = 0; e < b->n_str; e++) {
    const unsigned char *s = (const unsigned char *)b->pool + b->str_off[e];
    size_t len = b->str_len[e];
    uint32_t cp = 0;
    if (len == 1 && s[0] < 0x80) cp = s[0];
    else if (len == 2 && (s[0] & 0xE0) == 0xC0) cp = ((s[0] & 0x1Fu) << 6) | (s[1] & 0x3Fu);
    else if (len == 3 && (s[0] & 0xF0) == 0xE0)
      cp = ((s[0] & 0x0Fu) << 12) | ((s[1] & 0x3Fu) << 6) | (s[2] & 0x3Fu);
    else continue;
    b->bmp_id[cp] = b->str_id[e];
  }
  if (b->unk_token) b->unk_id = tok_bpe_lookup(b, b->unk_token, strlen(b->unk_token));
  return 0;
}

// ---- merges ----

static void merges_reserve(TokBpe *b, size_t n) {
  size_t cap = 16;
  while (cap < n * 2 + 2) cap *= 2;
  b->m_mask = cap - 1;
  b->m_key = xmalloc(cap * sizeof *b->m_key);
  memset(b->m_key, 0xff, cap * sizeof *b->m_key);
  b->m_rank = xmalloc(cap * sizeof *b->m_rank);
  b->m_new = xmalloc(cap * sizeof *b->m_new);
}

static inline size_t merge_find(const TokBpe *b, uint64_t key) {
  size_t i = (size_t)mix64(key) & b->m_mask;
  while (b->m_key[i] != key && b->m_key[i] != UINT64_MAX) i = (i + 1) & b->m_mask;
  return i;
}

int tok_bpe_add_merge(TokBpe *b, int32_t left, int32_t right, uint32_t rank, int32_t new_id) {
  if (!b->m_key) merges_reserve(b, 1024);
  if ((b->n_merges + 1) * 2 > b->m_mask + 1) {  // grow
    uint64_t *ok = b->m_key;
    uint32_t *orank = b->m_rank;
    int32_t *onew = b->m_new;
    size_t ocap = b->m_mask + 1;
    merges_reserve(b, ocap);
    for (size_t i = 0; i < ocap; i++) {
      if (ok[i] == UINT64_MAX) continue;
      size_t j = merge_find(b, ok[i]);
      b->m_key[j] = ok[i];
      b->m_rank[j] = orank[i];
      b->m_new[j] = onew[i];
    }
    free(ok);
    free(orank);
    free(onew);
  }
  uint64_t key = ((uint64_t)(uint32_t)left << 32) | (uint32_t)right;
  size_t i = merge_find(b, key);
  if (b->m_key[i] == UINT64_MAX) b->n_merges++;
  b->m_key[i] = key;  // a repeated pair takes the later rank, as HF's map does
  b->m_rank[i] = rank;
  b->m_new[i] = new_id;
  return 0;
}

static inline int merge_get(const TokBpe *b, int32_t left, int32_t right, uint32_t *rank,
                            int32_t *new_id) {
  if (!b->m_key) return 0;
  size_t i = merge_find(b, ((uint64_t)(uint32_t)left << 32) | (uint32_t)right);
  if (b->m_key[i] == UINT64_MAX) return 0;
  *rank = b->m_rank[i];
  *new_id = b->m_new[i];
  return 1;
}

void tok_bpe_free(TokBpe *b) {
  free(b->pool);
  free(b->str_off);
  free(b->str_len);
  free(b->str_hash);
  free(b->str_id);
  free(b->slots);
  free(b->m_key);
  free(b->m_rank);
  free(b->m_new);
  free(b->j_key);
  free(b->unk_token);
  free(b->prefix);
  free(b->suffix);
  free(b->bmp_id);
  memset(b, 0, sizeof *b);
}

// ---- per-call work state ----

void bpe_work_init(BpeWork *w) { memset(w, 0, sizeof *w); }

void bpe_work_free(BpeWork *w) {
  free(w->sym);
  free(w->heap);
  TokCache *c = &w->cache;
  free(c->hash);
  free(c->key_off);
  free(c->key_len);
  free(c->ids_off);
  free(c->ids_n);
  sb_free(&c->keys);
  free(c->ids.v);
  memset(w, 0, sizeof *w);
}

static void sym_push(BpeWork *w, size_t *n, int32_t id, uint32_t len) {
  if (*n == w->sym_cap) {
    w->sym_cap = w->sym_cap ? w->sym_cap * 2 : 256;
    w->sym = xrealloc(w->sym, w->sym_cap * sizeof *w->sym);
  }
  BpeSym *s = &w->sym[*n];
  s->id = id;
  s->len = len;
  s->prev = (int32_t)*n - 1;
  s->next = (int32_t)*n + 1;
  (*n)++;
}

static inline int merge_before(const BpeMerge *a, const BpeMerge *b) {
  return a->rank < b->rank || (a->rank == b->rank && a->pos < b->pos);
}

static void heap_push(BpeWork *w, uint32_t rank, uint32_t pos, int32_t new_id) {
  if (w->heap_n == w->heap_cap) {
    w->heap_cap = w->heap_cap ? w->heap_cap * 2 : 256;
    w->heap = xrealloc(w->heap, w->heap_cap * sizeof *w->heap);
  }
  BpeMerge m = {rank, pos, new_id};
  size_t i = w->heap_n++;
  while (i > 0) {
    size_t p = (i - 1) / 2;
    if (!merge_before(&m, &w->heap[p])) break;
    w->heap[i] = w->heap[p];
    i = p;
  }
  w->heap[i] = m;
}

static BpeMerge heap_pop(BpeWork *w) {
  BpeMerge top = w->heap[0];
  BpeMerge last = w->heap[--w->heap_n];
  size_t n = w->heap_n, i = 0;
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= n) break;
    if (c + 1 < n && merge_before(&w->heap[c + 1], &w->heap[c])) c++;
    if (!merge_before(&w->heap[c], &last)) break;
    w->heap[i] = w->heap[c];
    i = c;
  }
  if (n) w->heap[i] = last;
  return top;
}

// Merges w->sym[0..n) (linked in order) and returns; removed symbols have len 0.
static void merge_all(const TokBpe *b, BpeWork *w, size_t n) {
  if (n == 0) return;
  w->sym[n - 1].next = -1;
  w->heap_n = 0;
  uint32_t rank;
  int32_t nid;
  for (size_t i = 0; i + 1 < n; i++)
    if (merge_get(b, w->sym[i].id, w->sym[i + 1].id, &rank, &nid))
      heap_push(w, rank, (uint32_t)i, nid);
  while (w->heap_n) {
    BpeMerge top = heap_pop(w);
    BpeSym *s = &w->sym[top.pos];
    if (s->len == 0 || s->next < 0) continue;
    int32_t next_pos = s->next;
    BpeSym right = w->sym[next_pos];
    if (!merge_get(b, s->id, right.id, &rank, &nid) || nid != top.new_id) continue;
    s->id = top.new_id;
    s->len += right.len;
    s->next = right.next;
    w->sym[next_pos].len = 0;
    if (right.next >= 0) w->sym[right.next].prev = (int32_t)top.pos;
    if (s->prev >= 0 && merge_get(b, w->sym[s->prev].id, s->id, &rank, &nid))
      heap_push(w, rank, (uint32_t)s->prev, nid);
    if (s->next >= 0 && merge_get(b, s->id, w->sym[s->next].id, &rank, &nid))
      heap_push(w, rank, top.pos, nid);
  }
}

size_t tok_bpe_merge_ids(const TokBpe *b, BpeWork *w, int32_t *ids, size_t n) {
  size_t m = 0;
  for (size_t i = 0; i < n; i++) sym_push(w, &m, ids[i], 1);
  merge_all(b, w, m);
  size_t k = 0;
  for (size_t i = 0; i < m; i++)
    if (w->sym[i].len) ids[k++] = w->sym[i].id;
  return k;
}

// ---- cache ----

static void cache_alloc(TokCache *c, size_t cap) {
  c->cap = cap;
  c->hash = xcalloc(cap, sizeof *c->hash);
  c->key_off = xmalloc(cap * sizeof *c->key_off);
  c->key_len = xmalloc(cap * sizeof *c->key_len);
  c->ids_off = xmalloc(cap * sizeof *c->ids_off);
  c->ids_n = xmalloc(cap * sizeof *c->ids_n);
}

static void cache_free_slots(TokCache *c) {
  free(c->hash);
  free(c->key_off);
  free(c->key_len);
  free(c->ids_off);
  free(c->ids_n);
  c->hash = NULL;
  c->key_off = c->key_len = c->ids_off = c->ids_n = NULL;
}

static size_t cache_slot(const TokCache *c, uint64_t h, const char *s, size_t len) {
  size_t mask = c->cap - 1;
  for (size_t i = (size_t)h & mask;; i = (i + 1) & mask) {
    if (c->hash[i] == 0) return i;
    if (c->hash[i] == h && c->key_len[i] == len &&
        memcmp(c->keys.data + c->key_off[i], s, len) == 0)
      return i;
  }
}

// Makes room for one more entry: doubles the table up to TOK_CACHE_SLOTS, then starts afresh.
static void cache_reserve(TokCache *c) {
  if (c->cap == 0) {
    cache_alloc(c, 4096);
    return;
  }
  if ((c->n_used + 1) * 2 <= c->cap) return;
  if (c->cap >= TOK_CACHE_SLOTS || c->keys.len > (1u << 30) || c->ids.n > (1u << 28)) {
    size_t cap = c->cap;
    cache_free_slots(c);
    cache_alloc(c, cap);
    c->n_used = 0;
    c->keys.len = 0;
    c->ids.n = 0;
    return;
  }
  TokCache old = *c;
  cache_alloc(c, old.cap * 2);
  for (size_t i = 0; i < old.cap; i++) {
    if (!old.hash[i]) continue;
    size_t mask = c->cap - 1, j = (size_t)old.hash[i] & mask;
    while (c->hash[j]) j = (j + 1) & mask;
    c->hash[j] = old.hash[i];
    c->key_off[j] = old.key_off[i];
    c->key_len[j] = old.key_len[i];
    c->ids_off[j] = old.ids_off[i];
    c->ids_n[j] = old.ids_n[i];
  }
  cache_free_slots(&old);
}

// ---- one piece ----

static inline size_t utf8_len_at(const unsigned char *s, size_t len, size_t i) {
  unsigned c = s[i];
  size_t n = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
  return i + n <= len ? n : len - i;
}

static inline int32_t char_id(const TokBpe *b, const unsigned char *s, size_t n) {
  uint32_t cp;
  if (n == 1) cp = s[0];
  else if (n == 2) cp = ((s[0] & 0x1Fu) << 6) | (s[1] & 0x3Fu);
  else if (n == 3) cp = ((s[0] & 0x0Fu) << 12) | ((s[1] & 0x3Fu) << 6) | (s[2] & 0x3Fu);
  else return tok_bpe_lookup(b, (const char *)s, n);
  return b->bmp_id[cp];
}

// One piece (or one independent stretch of a long piece): symbols, merges, cache.
static int bpe_word(const TokBpe *b, BpeWork *w, const char *s, size_t len, IdVec *out,
                    BenchErr *err) {
  TokCache *c = &w->cache;
  uint64_t h = 0;
  if (len <= TOK_CACHE_MAX_KEY) {
    h = tok_hash(s, len) | 1;
    if (c->cap) {
      size_t i = cache_slot(c, h, s, len);
      if (c->hash[i]) {
        for (uint32_t k = 0; k < c->ids_n[i]; k++) idvec_push(out, c->ids.v[c->ids_off[i] + k]);
        return 0;
      }
    }
  }

  const unsigned char *u = (const unsigned char *)s;
  size_t n = 0;
  int has_unk = 0;
  int32_t unk = -1;
  StrBuf tmp = {0};
  for (size_t i = 0; i < len;) {
    size_t cl = utf8_len_at(u, len, i);
    int first = i == 0, last = i + cl == len;
    const char *sym = s + i;
    size_t sl = cl;
    int32_t id;
    if ((b->prefix && !first) || (b->suffix && last)) {
      tmp.len = 0;
      if (b->prefix && !first) sb_appendn(&tmp, b->prefix, b->prefix_len);
      sb_appendn(&tmp, s + i, cl);
      if (b->suffix && last) sb_appendn(&tmp, b->suffix, b->suffix_len);
      sym = tmp.data;
      sl = tmp.len;
      id = tok_bpe_lookup(b, sym, sl);
    } else {
      id = char_id(b, u + i, cl);
    }
    if (id >= 0) {
      if (has_unk) {
        sym_push(w, &n, unk, 1);
        has_unk = 0;
      }
      sym_push(w, &n, id, (uint32_t)cl);
      i += cl;
      continue;
    }
    if (b->byte_fallback) {
      size_t k = 0;
      while (k < sl && b->byte_id[(unsigned char)sym[k]] >= 0) k++;
      if (k == sl) {
        for (k = 0; k < sl; k++) sym_push(w, &n, b->byte_id[(unsigned char)sym[k]], 1);
        i += cl;
        continue;
      }
    }
    if (b->unk_token) {
      if (b->unk_id < 0) {
        sb_free(&tmp);
        return err_set(err, "unk token '%s' is not in the vocabulary", b->unk_token);
      }
      if (has_unk && !b->fuse_unk) sym_push(w, &n, unk, 1);
      has_unk = 1;
      unk = b->unk_id;
    }
    i += cl;
  }
  if (has_unk) sym_push(w, &n, unk, 1);
  sb_free(&tmp);

  merge_all(b, w, n);
  size_t first_out = out->n;
  for (size_t i = 0; i < n; i++)
    if (w->sym[i].len) idvec_push(out, w->sym[i].id);

  if (h) {
    cache_reserve(c);
    size_t i = cache_slot(c, h, s, len);
    c->hash[i] = h;
    c->key_off[i] = (uint32_t)c->keys.len;
    c->key_len[i] = (uint32_t)len;
    sb_appendn(&c->keys, s, len);
    c->ids_off[i] = (uint32_t)c->ids.n;
    c->ids_n[i] = (uint32_t)(out->n - first_out);
    for (size_t k = first_out; k < out->n; k++) idvec_push(&c->ids, out->v[k]);
    c->n_used++;
  }
  return 0;
}

// ---- long pieces ----
//
// A piece with no pre-tokenizer (Llama-2, Mistral) can be a whole document. A boundary between
// adjacent characters x y that are both one-character vocab entries is never crossed by a merge
// unless some merge (A, B) has A ending with x and B starting with y: the symbols on either side
// always end with x and start with y. Cutting the piece at the other boundaries and merging each
// stretch alone gives exactly the global result (the heap order within a stretch is unchanged),
// and lets the cache serve the repeated stretches.

static inline uint64_t join_key(uint32_t x, uint32_t y) { return ((uint64_t)x << 21) | y; }

static uint32_t last_cp(const char *s, size_t len) {
  size_t i = len;
  while (i > 0 && ((unsigned char)s[i - 1] & 0xC0) == 0x80) i--;
  if (i > 0) i--;
  uint32_t cp = 0;
  const unsigned char *u = (const unsigned char *)s + i;
  size_t n = len - i;
  if (n == 1) cp = u[0];
  else if (n == 2) cp = ((u[0] & 0x1Fu) << 6) | (u[1] & 0x3Fu);
  else if (n == 3) cp = ((u[0] & 0x0Fu) << 12) | ((u[1] & 0x3Fu) << 6) | (u[2] & 0x3Fu);
  else if (n == 4)
    cp = ((u[0] & 0x07u) << 18) | ((u[1] & 0x3Fu) << 12) | ((u[2] & 0x3Fu) << 6) | (u[3] & 0x3Fu);
  return cp;
}

static uint32_t first_cp(const char *s, size_t len, size_t *n) {
  const unsigned char *u = (const unsigned char *)s;
  *n = utf8_len_at(u, len, 0);
  if (*n == 1) return u[0];
  if (*n == 2) return ((u[0] & 0x1Fu) << 6) | (u[1] & 0x3Fu);
  if (*n == 3) return ((u[0] & 0x0Fu) << 12) | ((u[1] & 0x3Fu) << 6) | (u[2] & 0x3Fu);
  return ((u[0] & 0x07u) << 18) | ((u[1] & 0x3Fu) << 12) | ((u[2] & 0x3Fu) << 6) | (u[3] & 0x3Fu);
}

void tok_bpe_note_join(TokBpe *b, const char *l, size_t ll, const char *r, size_t rl) {
  if (ll == 0 || rl == 0) return;
  size_t n;
  uint64_t key = join_key(last_cp(l, ll), first_cp(r, rl, &n));
  if (!b->j_key || (b->n_join + 1) * 2 > b->j_mask + 1) {
    size_t ocap = b->j_key ? b->j_mask + 1 : 0, cap = ocap ? ocap * 2 : 4096;
    uint64_t *old = b->j_key;
    b->j_key = xmalloc(cap * sizeof *b->j_key);
    memset(b->j_key, 0xff, cap * sizeof *b->j_key);
    b->j_mask = cap - 1;
    for (size_t i = 0; i < ocap; i++) {
      if (old[i] == UINT64_MAX) continue;
      size_t j = (size_t)mix64(old[i]) & b->j_mask;
      while (b->j_key[j] != UINT64_MAX) j = (j + 1) & b->j_mask;
      b->j_key[j] = old[i];
    }
    free(old);
  }
  size_t j = (size_t)mix64(key) & b->j_mask;
  while (b->j_key[j] != UINT64_MAX && b->j_key[j] != key) j = (j + 1) & b->j_mask;
  if (b->j_key[j] == UINT64_MAX) {
    b->j_key[j] = key;
    b->n_join++;
  }
}

static inline int joinable(const TokBpe *b, uint32_t x, uint32_t y) {
  if (!b->j_key) return 0;
  uint64_t key = join_key(x, y);
  size_t j = (size_t)mix64(key) & b->j_mask;
  while (b->j_key[j] != UINT64_MAX) {
    if (b->j_key[j] == key) return 1;
    j = (j + 1) & b->j_mask;
  }
  return 0;
}

#define LONG_PIECE 256  // pieces longer than this are cut where no merge can cross

int tok_bpe_tokenize(const TokBpe *b, BpeWork *w, const char *s, size_t len, IdVec *out,
                     BenchErr *err) {
  if (len == 0) return 0;
  if (len > INT32_MAX / 2) return err_set(err, "a piece of %zu bytes is too long for BPE", len);
  if (b->ignore_merges) {  // HF: a piece that is itself a vocab entry is emitted whole
    int32_t id = tok_bpe_lookup(b, s, len);
    if (id >= 0) {
      idvec_push(out, id);
      return 0;
    }
  }
  if (len <= LONG_PIECE || b->prefix || b->suffix) return bpe_word(b, w, s, len, out, err);
  const unsigned char *u = (const unsigned char *)s;
  size_t start = 0, n;
  uint32_t x = first_cp(s, len, &n);
  int x_in_vocab = char_id(b, u, n) >= 0;
  for (size_t i = n; i < len; i += n) {
    uint32_t y = first_cp(s + i, len - i, &n);
    int y_in_vocab = char_id(b, u + i, n) >= 0;
    if (x_in_vocab && y_in_vocab && !joinable(b, x, y)) {
      if (bpe_word(b, w, s + start, i - start, out, err)) return -1;
      start = i;
    }
    x = y;
    x_in_vocab = y_in_vocab;
  }
  return bpe_word(b, w, s + start, len - start, out, err);
}
