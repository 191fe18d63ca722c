// forward.h — the transformer forward pass, scoring next-token predictions.
// Legend: T tokens in the window, n tokens in a block, V vocab, C hidden, L layers, H query heads,
//         K kv heads, D head dim, F intermediate, R rotary dims.
//
// Attention goes by blocks of queries against the keys (online softmax): no T×T score matrix is
// held. The LM head and log-softmax go by blocks of tokens: no T×V logits are held. Layers run one
// after another over a block of tokens, so activations are O(n·(C + H·D)) plus O(512·F) for the
// MLP (processed 512 rows at a time); the KV cache is O(T·K·D·L).
//
// What is computed, per architecture, as Hugging Face transformers computes it:
//  - Llama, Mistral, Qwen2: x += o_proj(attn(rope(q,k), v)) of RMSNorm(x); x += down(silu(gate)·up)
//    of RMSNorm(x); final RMSNorm; lm_head (or the tied embedding). q/k/v biases when present
//    (Qwen2). Attention scale 1/sqrt(D); GQA: query head h reads kv head h / (H/K).
//  - GPT-NeoX: LayerNorm with bias; parallel residual x + attn(ln1(x)) + mlp(ln2(x)) when
//    parallel_residual, else sequential as above; partial rotary (R < D); biases on every linear;
//    exact-erf gelu MLP; embed_out.
//  - Sliding window (Mistral; Qwen2 only with use_sliding_window): query at index i sees keys
//    i − W < j ≤ i, as transformers' sliding_window_causal mask does in eager and sdpa attention,
//    in layers ≥ sliding_window_from_layer (Qwen2's max_window_layers; 0 for Mistral). A window
//    ≥ T changes nothing. (transformers 5.x: MistralModel uses the sliding mask on every layer
//    when config.sliding_window is set; Qwen2Config sets sliding_window to None unless
//    use_sliding_window, and marks layers ≥ max_window_layers "sliding_attention".)
// RoPE: cos/sin from rope positions (rope_position) times inv_freq in double, times
// attention_scale; rotate_half layout over the first R dims of each head.
#ifndef BENCH_FORWARD_H
#define BENCH_FORWARD_H

#include <stddef.h>
#include <stdint.h>

#include "backend.h"
#include "model.h"
#include "rope.h"

typedef struct {
  int threads;        // 0: all cores
  int fp64_check;     // accumulate reductions (attention, norms, log-softmax) in double
  const Backend *backend;       // forward_score_window's backend; NULL: backend_cpu()
  const ModelWeights *weights;  // the weights as the backend reads them (its weights_upload);
                                // NULL: the model's own fp32 weights (CPU backend only)
  long block_tokens;  // forward_score_window reads the window in blocks of this many tokens
                      // (0: FORWARD_BLOCK_TOKENS); results do not depend on it beyond the order
                      // of fp32 sums inside matrix products
  int mlp_rows;       // rows per MLP pass (0: FORWARD_MLP_ROWS)
} ForwardOptions;

// Defaults of ForwardOptions.block_tokens and .mlp_rows. Activations are O(block·(C + H·D)) and
// O(mlp_rows·F), whatever the window: an 8B Llama (C 4096, H·D 4096, F 14336) holds 1.3 GiB of
// activations per 16,384-token block and 29 MiB of MLP rows; see forward_memory_bytes.
#define FORWARD_BLOCK_TOKENS 16384
#define FORWARD_MLP_ROWS 512

// Scores one window in one pass over its tokens, read in blocks of opt->block_tokens through
// the KV cache (prefill by blocks: each block's rows are scored before the next block is read). For t in [score_from, T−1):
//   nll[t − score_from]     = −log softmax(logits_t)[tokens[t+1]]
//   correct[t − score_from] = argmax(logits_t) == tokens[t+1]
// where logits_t is the model's output after reading tokens[0..t] at positions
// rope_position(rope, 0..t). Requires 0 ≤ score_from < T; with score_from = T − 1 nothing is
// scored. Runs on opt->backend with opt->weights (engine.h opens both for a device). Returns -1
// with err on failure (a token id outside [0, V), out of memory, a RoPE table whose rotary dims
// differ from the model's, a device error).
int forward_score_window(const Model *m, const RopeTable *rope, const int32_t *tokens, long T,
                         long score_from, float *nll, uint8_t *correct, const ForwardOptions *opt,
                         BenchErr *err);

// ---- Block interface: prefill is one block; decoding reads more blocks against the cache ----

// Where things are: the cache, the activations and the scratch below are backend memory (the
// device under CUDA); the host passes token ids and positions in (uploads) and gets NLLs and
// argmax back (downloads). The decode protocol keeps its caches under a policy in kvcache.h's
// KVStore, also in backend memory, and runs its layers through the same ops (decode.h).
//
// Keys (after RoPE) and values of the tokens read so far, per layer, in reading order:
// slot s holds the s-th token read; attention runs over the slots held.
typedef struct {
  const Backend *be;
  int n_layers, n_kv_heads, head_dim;  // L, K, D
  long capacity;                       // slots allocated
  long len;                            // slots filled
  float **k, **v;                      // [L] → [capacity, K, D] (backend memory)
} KVCache;

int kv_cache_init(KVCache *c, const Backend *be, const ModelConfig *cfg, long capacity,
                  BenchErr *err);
void kv_cache_free(KVCache *c);

// Activations and scratch for blocks of up to max_block tokens (backend memory, but argmax_host).
typedef struct {
  const Model *model;
  const ModelWeights *w;    // weights as the backend reads them
  const Backend *be;
  ForwardOptions opt;
  long max_block;           // n ≤ max_block
  long n;                   // tokens in the last block read
  float *x;                 // [n, C] residual stream
  float *xn;                // [n, C] normed sublayer input; after forward_block the final-normed
                            //        hidden states that forward_score reads
  float *h2;                // [n, C] attention output (o_proj)
  float *q;                 // [n, H·D]
  float *att;               // [n, H·D]
  long mlp_rows;            // rows per MLP pass: min(max_block, opt.mlp_rows or FORWARD_MLP_ROWS)
  float *mlp_a, *mlp_b;     // [mlp_rows, F]
  float *mlp_out;           // [mlp_rows, C]
  float *cos_t, *sin_t;     // [n, R/2]
  double *inv_freq;         // [R/2]
  double *pos;              // [n]
  int32_t *ids;             // [n] token ids, then targets
  long lm_rows;             // rows per LM-head block: min(max_block, lm_block_rows(V))
  float *logits;            // [lm_rows, V] LM-head scratch
  float *nll;               // [n]
  int32_t *argmax;          // [n]
  int32_t *argmax_host;     // [n]
} ForwardState;

// Weights: opt->weights when given, else m's own (which only the CPU backend can read).
int forward_state_init(ForwardState *s, const Model *m, const Backend *be, long max_block,
                       const ForwardOptions *opt, BenchErr *err);
void forward_state_free(ForwardState *s);

// Reads tokens[0..n) at rope positions pos[0..n) after the cache's len slots: runs every layer,
// appends each layer's K/V to the cache (len += n), and leaves the final-normed hidden states of
// the n tokens in s->xn. Keys are causal over slots: token i sees slots < len + i + 1 (and the
// sliding window, counted in slots). Returns -1 with err for a token id outside [0, V), a block
// larger than max_block, a cache without room, or a RoPE table whose R differs from the model's.
int forward_block(ForwardState *s, KVCache *cache, const RopeTable *rope, const int32_t *tokens,
                  const double *pos, long n, BenchErr *err);

// Scores rows [r0, r0 + count) of the last block's hidden states against targets[count]:
// nll[i] = −log softmax(logits)[targets[i]], correct[i] = (argmax == targets[i]).
// Targets must be in [0, V). Returns -1 with err otherwise.
int forward_score(ForwardState *s, long r0, long count, const int32_t *targets, float *nll,
                  uint8_t *correct, BenchErr *err);

// The pieces of a layer that forward_block and the decode protocol (decode.c) both run over a
// block of n rows; between forward_layer_qkv and forward_layer_tail each rotates and stores the
// keys and runs attention its own way (the cache it reads, the positions), leaving s->att.
// y[n, C] = the model's norm (LayerNorm or RMSNorm) of x[n, C] with weight w[C] and bias b[C]
// (b NULL for RMSNorm).
void forward_norm(const ForwardState *s, float *y, const float *x, const float *w, const float *b,
                  long n);
// s->cos_t, s->sin_t [n, R/2] = the rotation at rope positions pos[n].
void forward_rope_rows(ForwardState *s, const RopeTable *rope, const double *pos, long n);
// s->xn = attention norm of s->x; s->q [n, H·D] (rotated by s->cos_t, s->sin_t), k [n, K·D] (not
// rotated), v [n, K·D] = their projections of s->xn (+ biases) in layer l.
void forward_layer_qkv(ForwardState *s, int l, float *k, float *v, long n);
// s->x [n, C] += o_proj(s->att [n, H·D]) and the MLP of layer l: sequential (x += attn, then
// x += mlp(norm2(x))) or parallel residual (x += attn + mlp(norm2(x)), s->h2 the sum).
void forward_layer_tail(ForwardState *s, int l, long n);

// 0 when every ids[i], i < n, is in [0, V); else -1 with err naming `what`, i and the id.
int forward_check_ids(const int32_t *ids, long n, int V, const char *what, BenchErr *err);

// The sliding window of a layer (0: full causal attention).
long forward_layer_window(const ModelConfig *cfg, int layer);

// Bytes the forward of one window of T tokens allocates beyond the weights with default options
// (KV cache of T tokens, activations of one block of min(T, FORWARD_BLOCK_TOKENS) tokens, MLP
// rows, LM-head block), for memory checks before a job runs. A device backend adds its scratch
// (CUDA: the matmul input in the weight dtype, flash attention's half q, k, v; a few % more).
size_t forward_memory_bytes(const ModelConfig *cfg, long T);

// FLOPs of forward_score_window over T tokens scoring `scored` of them (matmuls, attention over
// the causal (or windowed) key range, LM head): for tokens/s → GFLOP/s.
double forward_flops(const ModelConfig *cfg, long T, long scored);

#endif
