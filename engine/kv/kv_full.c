// kv_full.c — the `full` cache policy: every token read stays; no budget, nothing evicted.
#include "kvcache.h"

static int full_init(KVPolicy *p, BenchErr *err) {
  (void)err;
  p->budget = 0;
  p->observe = 0;
  return 0;
}

// Never called: an unbounded policy evicts nothing.
static void full_select(const KVPolicy *p, long n, long keep, const long *pos, const float *score,
                        uint8_t *keep_mask) {
  (void)p, (void)keep, (void)pos, (void)score;
  for (long i = 0; i < n; i++) keep_mask[i] = 1;
}

const KVPolicyOps kv_policy_full = {
    .type = "full",
    .args = {NULL},
    .default_positions = KV_POS_ORIGINAL,
    .score = KV_SCORE_NONE,
    .init = full_init,
    .select = full_select,
};
