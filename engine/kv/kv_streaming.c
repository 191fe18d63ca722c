// kv_streaming.c — the `streaming(sink, recent)` cache policy (StreamingLLM): the first `sink`
// tokens of the sequence (attention sinks) stay for good, plus the most recent ones. Budget =
// sink + recent: a step attends the sinks, the recent − 1 tokens before the one it reads, and that
// one. Positions default to `cache` (StreamingLLM's pos-shift: keys rotated at their slot index).
#include "kvcache.h"

enum { ARG_SINK, ARG_RECENT };

static int streaming_init(KVPolicy *p, BenchErr *err) {
  if (p->arg[ARG_RECENT] < 1)
    return err_set(err, "cache policy 'streaming': 'recent' must be ≥ 1");
  p->budget = p->arg[ARG_SINK] + p->arg[ARG_RECENT];
  p->observe = 0;
  return 0;
}

// Keeps the sink tokens (sequence indices < sink; they are never evicted, so they sit in the first
// slots) and the last keep − (sinks held) slots.
static void streaming_select(const KVPolicy *p, long n, long keep, const long *pos,
                             const float *score, uint8_t *keep_mask) {
  (void)score;
  long sinks = 0;
  while (sinks < n && sinks < keep && pos[sinks] < p->arg[ARG_SINK]) sinks++;
  for (long i = 0; i < n; i++) keep_mask[i] = i < sinks || i >= n - (keep - sinks);
}

const KVPolicyOps kv_policy_streaming = {
    .type = "streaming",
    .args = {"sink", "recent", NULL},
    .default_positions = KV_POS_CACHE,
    .score = KV_SCORE_NONE,
    .init = streaming_init,
    .select = streaming_select,
};
