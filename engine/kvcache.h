// kvcache.h — KV caches under a policy, for the decode protocol: what each sequence keeps of the
// keys and values it has read, and the policies that choose it (../shared/DESIGN.md "KV-cache
// policies"). One file per policy: kv_full.c, kv_window.c, kv_streaming.c, kv_h2o.c.
// Legend: L layers, K kv heads, H query heads, G = H/K query heads per kv head, D head dim,
//         n slots held, B budget.
//
// Budget. B is the most keys one decode step attends, the token being read included. Between
// steps a sequence holds at most B − 1 slots per (layer, kv head); a step appends its token as
// slot n and attends slots 0..n (n + 1 ≤ B keys); then kv_store_evict brings every (layer, kv
// head) back to min(n + 1, B − 1) slots. The policy decides which slots stay, never how many, so
// every (layer, kv head) of a sequence holds the same number of slots, in reading order; which
// tokens they hold may differ between heads (H2O). `full` has no budget: nothing is evicted.
// What the parameters mean under this rule ("recent" counts the token being read):
//   full                     every token read so far
//   window(recent)           B = recent: the recent − 1 tokens before the one read, and it — the
//                            model's own sliding-window mask with W = recent
//   streaming(sink, recent)  B = sink + recent: the first `sink` tokens of the sequence plus the
//                            recent − 1 before the one read, and it (StreamingLLM)
//   h2o(heavy, recent)       B = heavy + recent: the recent − 1 most recent tokens and the token
//                            read, plus the `heavy` older tokens with the largest attention mass
//                            accumulated since they were read, per layer and kv head (H2O)
//
// Positions (the spec's optional "positions"; streaming defaults to cache, the others original):
//   original  each key is rotated at its token's position rope_position(t) when it is inserted and
//             stored rotated; the query of token t sits at rope_position(t).
//   cache     StreamingLLM's pos-shift: keys are stored unrotated and rotated at their slot index
//             s, rope_position(s), every step; the query sits at its own slot index n. Positions
//             stay below the budget.
// A budget ≥ the sequence never evicts, and then both modes compute exactly what `full` computes.
//
// Attention weights. A policy may read the softmax weights of the queries of each block (the
// prefill, then each step): KVPolicy.observe says which queries (0 none, −1 every query of the
// block, k > 0 the block's last k), and ops->update folds their weights, summed over those
// queries, into a per-slot score of each (layer, kv head). With grouped queries (G > 1) the G
// query heads of a kv head each contribute their weights: update receives all G rows.
#ifndef BENCH_KVCACHE_H
#define BENCH_KVCACHE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

#define KV_MAX_ARGS 4

typedef enum { KV_POS_ORIGINAL, KV_POS_CACHE } KVPositions;

typedef struct KVPolicy KVPolicy;

// One policy (a static const table in its own file, listed in kvcache.c).
typedef struct {
  const char *type;                      // "h2o"
  const char *args[KV_MAX_ARGS + 1];     // integer parameters (≥ 0), NULL-terminated, required
  KVPositions default_positions;
  // Checks the arguments (p->arg, in `args` order) and sets p->budget (0: unbounded) and
  // p->observe. Returns -1 with err naming the parameter when one is out of range.
  int (*init)(KVPolicy *p, BenchErr *err);
  // Folds attention weights into the per-slot score of one (layer, kv head): w[G rows, stride
  // apart][n], each row one query head's softmax weights summed over the observed queries.
  // NULL: the policy keeps no score.
  void (*update)(const KVPolicy *p, float *score, const float *w, int G, long stride, long n);
  // Marks exactly `keep` of the n slots of one (layer, kv head) to stay (keep_mask[i] = 1),
  // 0 < keep < n. pos[n] the tokens' indices in the sequence (ascending), score[n] the policy's
  // score (NULL when it keeps none).
  void (*select)(const KVPolicy *p, long n, long keep, const long *pos, const float *score,
                 uint8_t *keep_mask);
} KVPolicyOps;

struct KVPolicy {
  const KVPolicyOps *ops;
  long arg[KV_MAX_ARGS];  // the ops' args, in order
  KVPositions positions;
  long budget;            // B; 0: unbounded (full)
  long observe;           // attention weights read: 0 none, −1 every query of a block, k > 0 the last k
};

extern const KVPolicyOps kv_policy_full, kv_policy_window, kv_policy_streaming, kv_policy_h2o;

// The policy of a cache spec {"name":..,"type":..,params..,"positions"?:"cache"|"original"}
// (NULL: full). Unknown types and parameters, missing or non-integer ones, are errors.
int kv_policy_from_spec(const json_t *spec, KVPolicy *p, BenchErr *err);
const char *kv_policy_type(const KVPolicy *p);
// Slots a sequence keeps between steps: B − 1, or −1 when unbounded.
long kv_policy_keep(const KVPolicy *p);

// ---- the cache of one sequence ----
// Each (layer, kv head) keeps its slots contiguous and in reading order inside a larger run of
// `room` slots, from an offset `start`: an eviction closes its holes by moving whichever side of
// them holds fewer slots (dropping the oldest non-sink slot moves the sinks, not the recent slots;
// a window moves nothing), and an append that reaches the end of the room first moves the slots
// back to offset 0 — with room = cap + slack, about one slot moved per step.
typedef struct {
  int n_layers, n_kv_heads, head_dim;  // L, K, D
  long cap;                            // slots a (layer, kv head) may hold
  long room;                           // slots allocated per (layer, kv head): cap + slack
  long *len;                           // [L] slots held (the same for every kv head)
  long **start;                        // [L] → [K] offset of slot 0 in the room
  float **k, **v;                      // [L] → [K, room, D] keys (rotated or not: KVPositions), values
  long **pos;                          // [L] → [K, room] index in the sequence of each slot's token
  float **score;                       // [L] → [K, room] the policy's score; NULL without update
} KVStore;

// Allocates `cap` slots plus `slack` per (layer, kv head) (0 for a cache that never evicts);
// with_score allocates scores. Returns -1 with an "out of memory" err naming the size when the
// memory is not there.
int kv_store_init(KVStore *s, int n_layers, int n_kv_heads, int head_dim, long cap, long slack,
                  int with_score, BenchErr *err);
void kv_store_free(KVStore *s);
// Slot 0 of layer l, kv head g: keys and values [len, D], token indices and scores [len].
static inline size_t kv_store_at(const KVStore *s, int l, int g) {
  return (size_t)g * s->room + (size_t)s->start[l][g];
}
static inline float *kv_store_k(const KVStore *s, int l, int g) {
  return s->k[l] + kv_store_at(s, l, g) * s->head_dim;
}
static inline float *kv_store_v(const KVStore *s, int l, int g) {
  return s->v[l] + kv_store_at(s, l, g) * s->head_dim;
}
static inline long *kv_store_pos(const KVStore *s, int l, int g) {
  return s->pos[l] + kv_store_at(s, l, g);
}
static inline float *kv_store_score(const KVStore *s, int l, int g) {
  return s->score ? s->score[l] + kv_store_at(s, l, g) : NULL;
}
// Appends n tokens t0..t0+n−1 to layer l: k[n, K, D], v[n, K, D] (rows as the projections give
// them); their scores start at 0. The cache must have room: len + n ≤ cap.
void kv_store_append(KVStore *s, int l, const float *k, const float *v, long n, long t0);
// Bytes of keys and values of `tokens` slots in every layer and kv head, at `elem` bytes each.
size_t kv_bytes(int n_layers, int n_kv_heads, int head_dim, long tokens, size_t elem);

// Folds observed attention weights into layer l's scores: w[H, stride], one row per query head
// (kv head g's rows are g·G .. g·G + G − 1), over the layer's len slots. No-op without
// ops->update.
void kv_store_update(KVStore *s, const KVPolicy *p, int l, const float *w, int H, long stride);
// Evicts layer l down to kv_policy_keep(p) slots (nothing when it holds no more), keeping each
// kv head's kept slots in order. keep_mask: scratch of cap bytes.
void kv_store_evict(KVStore *s, const KVPolicy *p, int l, uint8_t *keep_mask);

#endif
