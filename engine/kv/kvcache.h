// kvcache.h — KV caches under a policy, for the decode protocol: what each sequence keeps of the
// keys and values it has read, and the policies that choose it (docs/DESIGN.md "KV-cache
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
// block, k > 0 the block's last k), and KVPolicyOps.score how their weights, summed over those
// queries, fold into a per-slot score of each (layer, kv head): added to it (SUM: the mass a token
// has received since it was read, H2O) or replacing it (LAST: the latest block's weights only, as
// TOVA ranks). With grouped queries (G > 1) the G query heads of a kv head each contribute their
// weights. The fold happens where the weights are computed, inside the backend's attention ops
// (backend.h: decode_attention for steps, attention_weight_sums for the prefill's observed
// queries); no weight matrix is held.
//
// Where things are. Keys, values, token indices and scores of the slots live in backend memory
// (the device under CUDA) and move there (backend kv_append, kv_move); what a step attends never
// leaves the device. The host keeps the bookkeeping: slots held per (sequence, layer), the offset
// of each (sequence, layer, kv head)'s slot 0, and runs the policy's select. What crosses to the
// host per eviction is small:
//  - a policy without score: the token indices of one (layer, kv head) per sequence (its
//    decisions depend on positions only, so every layer and kv head of a sequence holds the same
//    tokens and takes the same decision): budget int32s per sequence;
//  - H2O at a step (one slot to drop per (layer, kv head), lowest_of): the index of the lowest
//    score, computed on the device (kv_argmin): one int32 per (sequence, layer, kv head) — 64 KiB
//    per step for 16 sequences of Pythia-2.8B (32 layers × 32 heads);
//  - otherwise (an H2O prefill dropping many slots, a policy without lowest_of): scores and token
//    indices of every (layer, kv head) (kv_gather): 8 bytes per slot — 16 MiB for one
//    2,048-token Pythia-2.8B prefill, once per sequence.
// The host sends the moves that close the holes (three int64s per run of slots moved, at most one
// run per room at a step, plus one int64 per room: 512 KiB per step for the 16 sequences above)
// and the rows of each room's slot 0 (one int64 per room: 128 KiB). Against a step of a few
// milliseconds that reads the weights once (5.6 GB in bf16), these copies take tens of µs.
//
// Writing a policy (one file): its args, init (budget, observe), score (NONE, SUM, LAST), select
// (host, from token indices and scores), and optionally lowest_of (a step's single eviction picked
// on the device). SnapKV fits as observe = its window, score SUM, a select that pools the
// downloaded prefill scores; TOVA as observe = 1, score LAST, select and lowest_of ranking all
// slots by score.
#ifndef BENCH_KVCACHE_H
#define BENCH_KVCACHE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "backend.h"
#include "util.h"

#define KV_MAX_ARGS 4

typedef enum { KV_POS_ORIGINAL, KV_POS_CACHE } KVPositions;

// How observed attention weights fold into a slot's score.
typedef enum {
  KV_SCORE_NONE,  // the policy keeps no score
  KV_SCORE_SUM,   // added to it: attention mass accumulated since the token was read
  KV_SCORE_LAST,  // replace it: the latest observed block's weights
} KVScore;

typedef struct KVPolicy KVPolicy;

// One policy (a static const table in its own file, listed in kvcache.c).
typedef struct {
  const char *type;                      // "h2o"
  const char *args[KV_MAX_ARGS + 1];     // integer parameters (≥ 0), NULL-terminated, required
  KVPositions default_positions;
  KVScore score;
  // Checks the arguments (p->arg, in `args` order) and sets p->budget (0: unbounded) and
  // p->observe. Returns -1 with err naming the parameter when one is out of range.
  int (*init)(KVPolicy *p, BenchErr *err);
  // Marks exactly `keep` of the n slots of one (layer, kv head) to stay (keep_mask[i] = 1),
  // 0 < keep < n. pos[n] the tokens' indices in the sequence (ascending), score[n] the policy's
  // score (NULL when it keeps none). Runs on the host.
  void (*select)(const KVPolicy *p, long n, long keep, const long *pos, const float *score,
                 uint8_t *keep_mask);
  // Optional, for policies with a score: when one slot of n is to go (keep = n − 1), select drops
  // the lowest-scored of slots [0, m) (on equal scores the newest), m = lowest_of(p, n, keep),
  // 1 ≤ m ≤ n; the device then finds it (kv_argmin) without the scores leaving it. NULL: select.
  long (*lowest_of)(const KVPolicy *p, long n, long keep);
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
// 1 when a policy of this type can run only under protocol decode: every type but `full` evicts
// between steps, and the other protocols read each window in one pass.
int kv_type_needs_decode(const char *type);
// Slots a sequence keeps between steps: B − 1, or −1 when unbounded.
long kv_policy_keep(const KVPolicy *p);
// Whether the policy keeps scores that a block's attention updates (score ≠ NONE, observe ≠ 0).
int kv_policy_observes(const KVPolicy *p);

// ---- the caches of S sequences, in backend memory ----
// Each (sequence, layer, kv head) — a room — keeps its slots contiguous and in reading order
// inside `room` rows of its own, from an offset `start`: an eviction closes its holes by moving
// whichever side of them holds fewer slots (dropping the oldest non-sink slot moves the sinks, not
// the recent slots; a window moves nothing), and an append that would pass the end of the room
// first moves the slots back to offset 0 — with room = cap + slack, about one slot moved per step.
// Every layer and kv head of a sequence holds the same number of slots; sequences appended and
// evicted together must hold the same number too (the decode protocol's sequences do).
typedef struct KVMoves KVMoves;

typedef struct {
  const Backend *be;
  int n_seqs, n_layers, n_kv_heads, head_dim;  // S, L, K, D
  long cap;                            // slots a room may hold
  long room;                           // rows allocated per room: cap + slack
  long *len;                           // [S, L] slots held (host)
  long *start;                         // [S, L, K] offset of slot 0 in its room (host)
  // backend memory; room (s, l, g) = (s·L + l)·K + g holds rows [room·that, room·(that + 1))
  float *k, *v;                        // [rows, D] keys (rotated or not: KVPositions), values
  int32_t *pos;                        // [rows] index in the sequence of each slot's token
  float *score;                        // [rows] the policy's score; NULL without one
  int64_t *row0;                       // [L, S, K] row of each room's slot 0 (kv_store_reserve)
  KVMoves *moves;                      // host and backend lists for moves and evictions
} KVStore;

// Allocates rooms of `cap` slots plus `slack` for S sequences (slack 0 for caches that never
// evict) in be's memory; with_score allocates scores. Returns -1 with an "out of memory" err
// naming the size when the memory is not there.
int kv_store_init(KVStore *s, const Backend *be, int n_seqs, int n_layers, int n_kv_heads,
                  int head_dim, long cap, long slack, int with_score, BenchErr *err);
void kv_store_free(KVStore *s);
// Slots sequence b holds in layer l.
static inline long kv_store_len(const KVStore *s, int b, int l) {
  return s->len[(size_t)b * s->n_layers + l];
}
// The row of slot 0 of sequence b, layer l, kv head g: its slots are rows row .. row + len − 1.
static inline long kv_store_row(const KVStore *s, int b, int l, int g) {
  size_t r = ((size_t)b * s->n_layers + l) * s->n_kv_heads + g;
  return (long)(r * (size_t)s->room) + s->start[r];
}
// Backend copy of the rows of slot 0 of sequences b.. in layer l: [S − b, K], as the attention
// and append ops take them. Current after kv_store_reserve.
static inline const int64_t *kv_store_row0(const KVStore *s, int l, int b) {
  return s->row0 + ((size_t)l * s->n_seqs + b) * s->n_kv_heads;
}
// Token indices of the slots of sequence b, layer l, kv head g: out[len] (copied from the backend).
void kv_store_positions(const KVStore *s, int b, int l, int g, long *out);
// Makes room for n more slots in every layer of sequences [b0, b0 + nb) (moving slots back to the
// front of rooms an append would pass the end of) and brings row0 up to date. len + n ≤ cap.
// -1 with err when the lists of moves do not fit in memory.
int kv_store_reserve(KVStore *s, int b0, int nb, long n, BenchErr *err);
// Appends n tokens t0..t0+n−1 to layer l of each of sequences [b0, b0 + nb): k[nb·n, K, D],
// v[nb·n, K, D] in backend memory (rows as the projections give them: sequence b0 + i / n);
// their scores start at 0. After kv_store_reserve for them.
void kv_store_append(KVStore *s, int l, int b0, int nb, const float *k, const float *v, long n,
                     long t0);
// Bytes of keys and values of `tokens` slots in every layer and kv head, at `elem` bytes each.
size_t kv_bytes(int n_layers, int n_kv_heads, int head_dim, long tokens, size_t elem);

// Evicts every layer of sequences [b0, b0 + nb) down to kv_policy_keep(p) slots (nothing when
// they hold no more), keeping each room's kept slots in order. -1 with err on a device failure or
// when the lists of moves do not fit in memory.
int kv_store_evict(KVStore *s, const KVPolicy *p, int b0, int nb, BenchErr *err);

#endif
