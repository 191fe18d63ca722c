// eval.h — evaluation protocols (exactly which tokens are scored), per-job metrics, and the job
// entry point that runs one evaluation on an engine (engine.h: the CPU or a GPU). See
// docs/DESIGN.md "Evaluation protocols".
// Legend: N dataset tokens, L length (window), W windows, S stride, T tokens fed.
//
// Vocabulary: a window feeds tokens[start, start+T) to the model; the prediction made at window
// position t (having read window tokens 0..t) is scored against target token start+t+1. Window
// position 0 is never a target: it has no context inside the window. "Target offset" j = t+1 is
// the target's position inside its window (1..T−1).
//
// Protocols (every window has T = L):
//   chunks   window i starts at i·L, i < W. Targets: [i·L+1, (i+1)·L) — L−1 per window.
//            Needs W·L tokens.
//   random   W starts drawn one after another, uniformly in [0, N−L], by a Rng seeded with the
//            job seed (util.h: rng_seed(seed), then rng_below(N−L+1) per window). Targets as
//            chunks. Needs L tokens.
//   sliding  window k starts at k·S, k < W (S defaults to L/2, 1 ≤ S ≤ L). Window 0 scores
//            targets [1, L); window k ≥ 1 scores the targets the previous window did not:
//            [max(k·S+1, (k−1)·S+L), k·S+L), i.e. its last min(S, L−1) tokens. Every token of
//            [1, (W−1)·S+L) is scored exactly once, with up to L tokens of context (the Hugging
//            Face / YaRN perplexity method); S = L is exactly chunks. Needs (W−1)·S+L tokens.
//   half     windows as chunks, but only the second half is scored, as llama.cpp's perplexity
//            does: targets [i·L + ⌊L/2⌋ + 1, (i+1)·L) — L−1−⌊L/2⌋ per window. Needs W·L tokens.
//   decode   windows as chunks (window i = tokens [i·L, (i+1)·L), i < W; needs W·L tokens), read
//            as a language model generates: with P = prompt (1 ≤ P < L), tokens 0..P−2 of each
//            window are prefilled as one block (full causal attention among them, nothing scored),
//            the cache policy evicts, then each step reads one token t = P−1, .., L−2 against the
//            cache, scores the prediction of token t+1, and the policy evicts (kvcache.h). Targets:
//            [i·L+P, (i+1)·L) — L−P per window, each predicted by a step that read its token after
//            the previous step's eviction; so no scored prediction attends more keys than the
//            budget. P = 1 prefills nothing: every prediction is a step (StreamingLLM's
//            evaluation). Up to DECODE_BATCH windows step together (one pass over the weights
//            serves them all). The first `warmup` steps of each batch are scored but not timed.
// A dataset shorter than a protocol needs is an error giving both numbers; nothing is shortened.
// Cache policies other than full apply to decode only (the other protocols read a window in one
// pass).
//
// Metrics (EvalResult), over all scored tokens of all windows pooled:
//   nll        mean of the per-token NLLs (natural log); ppl = exp(nll)
//   nll_stderr sample standard deviation of the per-token NLLs (n−1) / sqrt(n); 0 when n < 2
//   acc        fraction of targets equal to the argmax of the prediction
//   by_position  mean NLL per bucket of target offsets: 16 buckets of width B = ⌈L/16⌉, bucket b
//              holding offsets [b·B, (b+1)·B); empty buckets are left out (half and sliding
//              score only part of a window)
//   window_ppl exp(mean NLL of the window's scored tokens), per window in plan order
//   nonfinite  scored tokens whose NLL is NaN or ±Inf, and the first of them (window in plan
//              order, target offset, value); then nll and ppl are not finite either, and a runner
//              records the job as nonfinite, not ok
// Decode adds its KV metrics (EvalResult, per window, fp32 as the engine holds them): the budget,
// the most keys a scored step attended and their bytes, the bytes saved against a full cache of
// the same job, the prefill's keys; tokens/s over the timed steps. Its speed cost against the
// full cache is the ratio of tokens/s to that of the job that differs only in `cache: full`
// (a report-level comparison; such a job need not exist, e.g. where full would not fit).
#ifndef BENCH_EVAL_H
#define BENCH_EVAL_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "data.h"
#include "engine.h"
#include "kvcache.h"
#include "model.h"
#include "rope.h"
#include "tokenizer.h"
#include "util.h"

typedef enum { PROTO_CHUNKS, PROTO_RANDOM, PROTO_SLIDING, PROTO_HALF, PROTO_DECODE } Protocol;

#define EVAL_POSITION_BUCKETS 16

int protocol_from_name(const char *name, Protocol *p, BenchErr *err);
const char *protocol_name(Protocol p);

typedef struct {
  long start;       // dataset index of the window's first token
  long len;         // T
  long score_from;  // scored window positions t ∈ [score_from, T−1): targets start+score_from+1..start+T−1
} EvalWindow;

typedef struct {
  EvalWindow *w;    // [n]
  long n;
  long needed;      // tokens the protocol needs from the dataset
  long scored;      // targets over all windows
} WindowPlan;

// Windows of a decode job stepped together.
#define DECODE_BATCH 16

// Tokens a protocol needs (stride 0: L/2).
// The longest window (length, context) and the most windows a job may ask for: large enough for
// any real job, small enough that W·L cannot overflow a long. Suites are checked against them
// (cli/suite) before anything runs.
#define EVAL_MAX_LENGTH (1L << 40)
#define EVAL_MAX_WINDOWS (1L << 20)

long protocol_tokens_needed(Protocol p, long length, long windows, long stride);
// The windows of a job over a dataset of n_tokens (dataset_name for messages). Errors: decode
// (its windows need the prompt: decode_plan), length < 2, windows < 1, stride outside [1, L],
// dataset too short (with both numbers).
int plan_windows(Protocol p, long n_tokens, long length, long windows, long stride, uint64_t seed,
                 const char *dataset_name, WindowPlan *out, BenchErr *err);
void window_plan_free(WindowPlan *p);

// ---- statistics (pure: per-token NLLs in, metrics out) ----
typedef struct {
  long bucket_start;   // first target offset of the bucket
  double mean_nll;
  long n;              // targets in the bucket
} PositionBucket;

typedef struct {
  long length;                 // L
  long bucket_width;           // ⌈L/16⌉
  double bucket_sum[EVAL_POSITION_BUCKETS];
  long bucket_n[EVAL_POSITION_BUCKETS];
  long n, correct;             // scored targets, correct argmax predictions
  double mean, m2;             // running mean and sum of squared deviations (Welford)
  double *window_mean;         // [n_windows] mean NLL of each window
  long n_windows, cap;
  long n_nonfinite;            // targets whose NLL is NaN or ±Inf
  long nonfinite_window, nonfinite_offset;  // the first of them (−1 when none)
  double nonfinite_nll;
} EvalStats;

void eval_stats_init(EvalStats *s, long length);
// Adds one window's scored targets: nll[i], correct[i] (NULL: none correct) for target offsets
// first_offset + i, i < n.
void eval_stats_add_window(EvalStats *s, const float *nll, const uint8_t *correct, long n,
                           long first_offset);
void eval_stats_free(EvalStats *s);

typedef struct EvalResult {
  double ppl, nll, nll_stderr, acc;
  long tokens;                 // scored targets
  double tokens_per_s;         // tokens / forward_s (decode: timed_tokens / timed_s; NaN when no
                               //   step was timed)
  double forward_s;            // wall time inside the forward passes
  double wall_s;               // the whole job (model load when eval_job loads it, data, forwards)
  size_t peak_mem_bytes;       // CPU: peak RSS during the job (getrusage; reset per job on Linux);
                               //   GPU: device memory held at most during the job (weights included)
  long kv_peak_tokens;         // most keys/values held for one query (L for full attention;
                               //   decode: most keys a scored step attended, ≤ the budget)
  size_t kv_peak_bytes;        // their size: 2 · layers · kv heads · head dim · tokens · 4 (fp32)
  // decode only (kv_budget 0 otherwise); per window, in the engine's fp32:
  long kv_budget;              // most keys a step may attend: the policy's budget (L − 1 for full)
  size_t kv_full_bytes;        // what a full cache's peak would be on the same job: (L − 1) tokens
  long kv_prefill_tokens;      // keys the prefill held before the first eviction (P − 1)
  long timed_tokens;           // predictions in timed steps (tokens_per_s = timed_tokens / timed_s)
  double timed_s;              // wall time of the timed steps
  long dataset_tokens;         // N
  int tokens_from_cache;       // the dataset's ids came from the token cache
  const char *compute_dtype;   // what the engine computed in (engine_compute_dtype: "fp32" on the CPU)
  PositionBucket *by_position; // [n_by_position], non-empty buckets in order
  int n_by_position;
  double *window_ppl;          // [n_windows]
  long n_windows;
  float *token_nll;            // [tokens] in plan order, when EvalRequest.keep_token_nll; else NULL
  long nonfinite_tokens;       // scored targets whose NLL is NaN or ±Inf (0: the job is sound)
  long nonfinite_window;       // the first such target: its window (plan order), target offset
  long nonfinite_position;     //   in that window and NLL; meaningful when nonfinite_tokens > 0
  double nonfinite_nll;
} EvalResult;

// Fills the statistical fields of r (ppl, nll, nll_stderr, acc, tokens, by_position, window_ppl,
// nonfinite_*).
void eval_stats_result(const EvalStats *s, EvalResult *r);
void eval_result_free(EvalResult *r);

// ---- one job ----
typedef struct {
  const Model *model;            // loaded model; NULL: eval_job loads model_dir (and frees it)
  const char *model_dir;
  const Tokenizer *tokenizer;    // NULL: loaded from tokenizer_path or the model's tokenizer.json
  const char *tokenizer_path;    //   when the dataset is text
  const char *dataset_name;      // for messages (NULL: the path)
  const char *dataset_path;      // .txt | .jsonl | .bin | .u16.bin
  const char *dataset_field;     // jsonl field (NULL: "text")
  const json_t *rope;            // rope spec as rope_build takes it
  const json_t *cache;           // cache spec {"type":"full",..}; NULL is full
  const char *protocol;          // chunks | random | sliding | half | decode
  long length, windows, stride;  // stride: sliding, 0 = L/2
  long prompt, warmup;           // decode: tokens prefilled + first step (≥ 1), untimed steps
  uint64_t seed;
  const char *dtype;             // bf16 | fp16 | fp32 (the CPU engine computes in fp32)
  const Engine *engine;          // where the forward passes run, opened on `model` in `dtype`
                                 //   (engine.h); NULL: the CPU backend on the model's own weights
  int threads;                   // 0: all cores
  int keep_token_nll;            // keep every scored NLL in EvalResult.token_nll
  // Called after every window when set: windows done of total, targets scored so far, seconds
  // inside the forward passes so far (a runner's live tokens/s and ETA). Decode, whose windows
  // finish together in batches, also calls it within a batch (at most every 0.25 s).
  void (*progress)(void *ctx, long done, long total, long tokens, double forward_s);
  void *progress_ctx;
} EvalRequest;

// Runs one job. On failure returns -1 with a one-line message in err and r holds nothing.
int eval_job(const EvalRequest *req, EvalResult *r, BenchErr *err);

// ---- decode (eval_decode.c) ----
// The windows of a decode job (chunks' windows, score_from = P − 1). Errors as plan_windows's,
// and a prompt outside [1, L).
int decode_plan(long n_tokens, long length, long windows, long prompt, const char *dataset_name,
                WindowPlan *out, BenchErr *err);
// Runs the decode protocol over the plan: adds every window's scored targets to stats (plan
// order) and fills r's timing, KV and (keep_token_nll) token_nll fields.
int eval_decode(const EvalRequest *req, const Model *m, const RopeTable *rope, const int32_t *ids,
                const WindowPlan *plan, const KVPolicy *policy, EvalStats *stats,
                EvalResult *r, BenchErr *err);

// Adapts a Tokenizer to the dataset encoder (separator: the id between jsonl documents).
void text_encoder_from_tokenizer(const Tokenizer *tok, int32_t separator, TextEncoder *enc);

// Peak resident memory: reset the high-water mark (Linux /proc/self/clear_refs; a no-op where
// that is not allowed) and read it (getrusage), in bytes.
void peak_rss_reset(void);
size_t peak_rss_bytes(void);

#endif
