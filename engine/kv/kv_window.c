// kv_window.c — the `window(recent)` cache policy: the most recent tokens only. Budget = recent:
// a step attends the recent − 1 tokens before the one it reads, and that one — what the model's
// own sliding-window mask of width `recent` lets a query see.
#include "kvcache.h"

enum { ARG_RECENT };

static int window_init(KVPolicy *p, BenchErr *err) {
  if (p->arg[ARG_RECENT] < 1) return err_set(err, "cache policy 'window': 'recent' must be ≥ 1");
  p->budget = p->arg[ARG_RECENT];
  p->observe = 0;
  return 0;
}

// Keeps the last `keep` slots.
static void window_select(const KVPolicy *p, long n, long keep, const long *pos,
                          const float *score, uint8_t *keep_mask) {
  (void)p, (void)pos, (void)score;
  for (long i = 0; i < n; i++) keep_mask[i] = i >= n - keep;
}

const KVPolicyOps kv_policy_window = {
    .type = "window",
    .args = {"recent", NULL},
    .default_positions = KV_POS_ORIGINAL,
    .score = KV_SCORE_NONE,
    .init = window_init,
    .select = window_select,
};
