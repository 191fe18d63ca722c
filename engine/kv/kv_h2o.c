// kv_h2o.c — the `h2o(heavy, recent)` cache policy (Heavy-Hitter Oracle, Zhang et al. 2023):
// per layer and kv head, the most recent tokens plus the `heavy` older tokens that have received
// the most attention. Budget = heavy + recent: a step attends the recent − 1 tokens before the one
// it reads, that one, and the heavy hitters.
//
// Score of a slot (score SUM, observe −1): the attention weight its token received from every
// query since it was read — the prefill's queries (all of them) and each step's query, the query's
// own token included — summed (by the backend's attention ops, on the device under CUDA). An
// evicted token's score is gone with it. This is the reference implementation's accumulated
// attention (H2O's real-drop KV cache: softmax weights summed over queries, added to the surviving
// tokens' scores each step). The reference runs on multi-head models (OPT, LLaMA-1/2,
// GPT-NeoX/Pythia: one query head per kv head) and scores each head on its own; with grouped
// queries (G query heads per kv head) a kv head's score here is the sum over its G query heads —
// one ranking per kv head, the same as their mean gives.
//
// Selection: the last recent − 1 slots stay; among the older slots, the `heavy` with the largest
// scores stay (on equal scores the older token stays). A step drops one slot: the device finds
// the lowest score among the older slots (lowest_of); a prefill's eviction sorts on the host.
#include <stdlib.h>

#include "kvcache.h"

enum { ARG_HEAVY, ARG_RECENT };

static int h2o_init(KVPolicy *p, BenchErr *err) {
  if (p->arg[ARG_RECENT] < 1) return err_set(err, "cache policy 'h2o': 'recent' must be ≥ 1");
  p->budget = p->arg[ARG_HEAVY] + p->arg[ARG_RECENT];
  p->observe = -1;
  return 0;
}

typedef struct {
  float score;
  long slot;
} Ranked;

// Larger score first; on equal scores the older slot first.
static int ranked_cmp(const void *a, const void *b) {
  const Ranked *x = a, *y = b;
  if (x->score != y->score) return x->score > y->score ? -1 : 1;
  return (x->slot > y->slot) - (x->slot < y->slot);
}

// Of the older slots [0, n − recent'), recent' = min(recent − 1, keep), the keep − recent' best
// ranked stay. A step drops one slot: a scan for the lowest score (on a tie the newest); a prefill
// may drop many: a sort.
static void h2o_select(const KVPolicy *p, long n, long keep, const long *pos, const float *score,
                       uint8_t *keep_mask) {
  (void)pos;
  long recent = p->arg[ARG_RECENT] - 1 < keep ? p->arg[ARG_RECENT] - 1 : keep;
  long older = n - recent, drop = n - keep;
  for (long i = 0; i < n; i++) keep_mask[i] = 1;
  if (drop <= 4) {
    for (long d = 0; d < drop; d++) {
      long worst = -1;
      for (long i = 0; i < older; i++)
        if (keep_mask[i] && (worst < 0 || score[i] <= score[worst])) worst = i;
      keep_mask[worst] = 0;
    }
    return;
  }
  Ranked *r = xmalloc((size_t)older * sizeof *r);
  for (long i = 0; i < older; i++) r[i] = (Ranked){score[i], i};
  qsort(r, (size_t)older, sizeof *r, ranked_cmp);
  for (long i = older - drop; i < older; i++) keep_mask[r[i].slot] = 0;
  free(r);
}

// One slot to drop: the scan of h2o_select, the lowest score among the older slots.
static long h2o_lowest_of(const KVPolicy *p, long n, long keep) {
  long recent = p->arg[ARG_RECENT] - 1 < keep ? p->arg[ARG_RECENT] - 1 : keep;
  return n - recent;
}

const KVPolicyOps kv_policy_h2o = {
    .type = "h2o",
    .args = {"heavy", "recent", NULL},
    .default_positions = KV_POS_ORIGINAL,
    .score = KV_SCORE_SUM,
    .init = h2o_init,
    .select = h2o_select,
    .lowest_of = h2o_lowest_of,
};
