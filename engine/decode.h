// decode.h — the forward pass of the decode protocol: a batch of B sequences, each with its own
// KV cache under one policy (kvcache.h), read one token per step so that one pass over the
// weights serves all B. The prefill reads a sequence's first tokens as one block.
// Legend: B sequences, n tokens in a block, C hidden, V vocab, L layers, H query heads,
//         K kv heads, G = H/K, D head dim, R rotary dims, cap slots per cache.
//
// Per layer, exactly as forward.c computes it (norms, projections, RoPE on the first R dims,
// MLP, residuals), with attention over the slots a sequence holds:
//   prefill  tokens 0..n−1 of sequence b at positions 0..n−1 (slot = position in both position
//            modes), full causal attention within the block (the backend's kernel, the model's
//            sliding window applied); then every layer is evicted to the policy's budget − 1.
//   step     token t of each sequence: its K/V appended as slot len; its query attends slots
//            0..len of its own cache (keys rotated at their token's position, or at their slot
//            index in cache mode; the model's sliding window applied by token index); the
//            prediction of token t + 1 scored; then every layer of every sequence is evicted.
// Everything runs through the backend's ops (backend.h), so one code path serves the CPU and
// CUDA: the layers' norms, projections, RoPE tables, residuals and MLP by forward.c's own pieces
// (forward_rope_rows, forward_layer_qkv, forward_layer_tail); the prefill's attention by
// the backend's causal attention over the block; a step's attention by decode_attention over each
// sequence's slots (rotating keys at slot positions in cache mode, folding observed weights into
// the policy's scores); the cache's memory through kv_append, kv_move and the eviction lists of
// kvcache.c. Keys, values, scores and activations stay in backend memory; the host holds token
// ids, positions, the cache's bookkeeping and the policy's decisions (kvcache.h, "Where things
// are"), and receives the step's NLLs and argmax.
#ifndef BENCH_DECODE_H
#define BENCH_DECODE_H

#include <stdint.h>

#include "backend.h"
#include "forward.h"
#include "kvcache.h"
#include "model.h"
#include "rope.h"

typedef struct {
  const Model *model;
  const Backend *be;
  const RopeTable *rope;
  const KVPolicy *policy;
  int B;                  // sequences
  long cap;               // slots per cache
  ForwardState fs;        // activations for max(B, max_prefill) rows
  KVStore cache;          // the B sequences' caches
  float *knew, *vnew;     // [rows, K·D] keys and values of the block being read (backend memory)
  float *slot_cos, *slot_sin;  // cache mode: [cap, R/2] rotation at slot index s (backend memory)
  long peak_keys;         // most keys one step attended
  long prefill_keys;      // most keys a prefill held
} DecodeState;

// Prepares B caches of `cap` slots and activations for steps of B rows and prefills of up to
// max_prefill tokens. cap must cover what the protocol reads: the budget − 1 slots plus the token
// of a step (or the whole sequence for full), and the prefill. Errors: out of memory (a message
// with "out of memory"), a RoPE table whose R differs from the model's.
int decode_init(DecodeState *d, const Model *m, const Backend *be, const RopeTable *rope,
                const KVPolicy *policy, int B, long cap, long max_prefill,
                const ForwardOptions *opt, BenchErr *err);
void decode_free(DecodeState *d);

// Reads tokens[0..n) into sequence b's empty cache (1 ≤ n ≤ max_prefill), then evicts.
int decode_prefill(DecodeState *d, int b, const int32_t *tokens, long n, BenchErr *err);

// One step: sequence b reads tokens[b], its token at index t (every sequence has read t tokens
// before). Scores the predictions against targets[b]: nll[b], correct[b]. Then evicts.
int decode_step(DecodeState *d, const int32_t *tokens, long t, const int32_t *targets, float *nll,
                uint8_t *correct, BenchErr *err);

#endif
