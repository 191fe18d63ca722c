// forward.h — the transformer forward pass on the CPU, scoring next-token predictions.
// Legend: T tokens in the window, V vocab, C hidden.
//
// Attention goes by blocks of queries against the keys (online softmax): no T×T score matrix is
// held. The LM head and log-softmax go by blocks of tokens: no T×V logits are held.
#ifndef BENCH_FORWARD_H
#define BENCH_FORWARD_H

#include <stdint.h>

#include "model.h"
#include "rope.h"

typedef struct {
  int threads;        // 0: all cores
  int fp64_check;     // accumulate reductions (attention, norms, log-softmax) in double
} ForwardOptions;

// Scores one window in one pass. For t in [score_from, T−1):
//   nll[t − score_from]     = −log softmax(logits_t)[tokens[t+1]]
//   correct[t − score_from] = argmax(logits_t) == tokens[t+1]
// where logits_t is the model's output after reading tokens[0..t] at positions
// rope_position(rope, 0..t). Returns -1 with err on failure (e.g. a token id ≥ V).
int forward_score_window(const Model *m, const RopeTable *rope, const int32_t *tokens, long T,
                         long score_from, float *nll, uint8_t *correct, const ForwardOptions *opt,
                         BenchErr *err);

#endif
