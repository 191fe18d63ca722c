// train.h — training a Llama-architecture model from scratch on the CPU (seeds/003): parameters,
// forward with saved activations, backward, AdamW, learning-rate schedule, data order, and
// checkpoints in Hugging Face format that resume bit-identically.
// Legend: B sequences per step, T tokens per sequence (seq_len), V vocab, C hidden, L layers,
//         H query heads, K kv heads, D head dim (C / H), F intermediate, R rotary dims (= D).
//
// What is trained is what engine/forward.c computes for a Llama checkpoint: token embedding;
// per layer x += o_proj(attention(rope(q), rope(k), v)) of RMSNorm(x), then
// x += down(silu(gate) · up) of RMSNorm(x); final RMSNorm; LM head (tied to the embedding or
// not); no biases. Attention is causal with scale 1/sqrt(D), query head h reads kv head
// h / (H/K). RoPE comes from any variant's RopeTable: cos/sin of rope_position(p) · inv_freq in
// double, times attention_scale, rotate_half layout. The loss of a step is the mean over its B·T
// predictions of −log softmax(logits_t)[x_{t+1}]; a sequence is T + 1 consecutive tokens.
//
// Numerics: the reference trainer runs on the CPU in fp32; for gradient checks it runs in fp64
// throughout (every activation, gradient and product in double: `fp64`). Matrix products go
// through BLAS (sgemm / dgemm) split over OpenMP threads; attention keeps one strip of
// 64 queries × T keys per thread (no T × T matrix) and recomputes the probabilities in the
// backward pass from the saved log-sum-exp; the LM head and cross-entropy go by blocks of 64
// tokens (no T × V logits). Saved activations per layer: the residual input and middle, q, k, v
// (after RoPE), the attention output and its log-sum-exp, the gate and up projections, and the
// two RMS factors; RMSNorm outputs and the SwiGLU product are recomputed. The results are
// deterministic for a given thread count (fixed work split, no atomics), which is what makes a
// resumed run bit-identical to an uninterrupted one.
//
// Devices: the step (train_step.c) is one orchestration over a table of ops (train_ops.h) with a
// CPU table per precision and CUDA tables (cuda-fp32, and cuda-bf16: bf16 operands for every
// product with fp32 accumulation, fp32 master weights, gradients and AdamW moments, fp32
// residual stream). The CPU reference passes one sequence at a time; a CUDA trainer passes as
// many sequences as fit at once. A CUDA trainer keeps its arenas on the device: the host arenas
// below are mirrors, current after trainer_to_host; host edits take effect at trainer_to_device.
//
// Optimizer: AdamW as PyTorch computes it (decoupled weight decay p ← p·(1 − lr·wd) before the
// Adam update; bias-corrected moments; eps 1e-8). Weight decay applies to the matrices
// (embedding, projections, LM head) and not to the RMSNorm weights. Global-norm gradient
// clipping as torch.nn.utils.clip_grad_norm_: scale by clip / (norm + 1e-6) when that is < 1.
// Learning rate at step s (0-based): lr · (s + 1) / warmup while s < warmup, then from lr to
// min_lr by the schedule over the remaining steps — cosine min_lr + ½(lr − min_lr)(1 + cos πp),
// linear lr − (lr − min_lr)·p, constant lr — with p = (s − warmup) / (steps − warmup).
//
// Data order: the training tokens (the first `tokens` of the data, or all of it when shorter) are
// cut into N = ⌊(n − 1) / T⌋ sequences starting at multiples of T (each T + 1 tokens long, the
// last token shared with the next). Epoch e visits them in a Fisher–Yates permutation drawn from
// the seed and e; step s reads the sequences s·B .. s·B + B − 1 of the concatenated epochs.
// Initial weights: normal(0, 0.02) for every matrix (transformers' initializer_range), ones for
// the RMSNorm weights, drawn from the seed in tensor order.
#ifndef BENCH_TRAIN_H
#define BENCH_TRAIN_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "model.h"
#include "rope.h"
#include "util.h"

typedef enum { SCHED_COSINE, SCHED_LINEAR, SCHED_CONSTANT } TrainSchedule;

typedef struct {
  // architecture (Llama)
  int n_layers;            // L
  int hidden_size;         // C
  int n_heads;             // H
  int n_kv_heads;          // K (H must be a multiple)
  int intermediate_size;   // F
  int vocab_size;          // V
  int tie_embeddings;      // the LM head is the embedding matrix
  double norm_eps;         // RMSNorm epsilon (1e-5)
  double init_std;         // initial weights' standard deviation (0.02)
  // steps
  long seq_len;            // T
  long batch;              // B
  long steps;              // optimizer steps in the whole run
  // optimizer and schedule
  double lr, min_lr;
  long warmup;             // steps
  TrainSchedule schedule;
  double beta1, beta2, adam_eps, weight_decay;
  double grad_clip;        // 0: no clipping
  uint64_t seed;           // initial weights and data order
  int threads;             // 0: OMP_NUM_THREADS when set, else all cores
} TrainConfig;

// The thread count a trainer uses for cfg.threads = threads (0 when that means all cores).
int train_threads(int threads);
// Defaults for everything but the sizes and steps: AdamW (0.9, 0.95), eps 1e-8, weight decay
// 0.1, clip 1.0, cosine to 0, norm eps 1e-5, init std 0.02, tied embeddings, seed 0, all cores.
void train_config_defaults(TrainConfig *c);
// Checks sizes and hyperparameters; errors name the quantity.
int train_config_check(const TrainConfig *c, BenchErr *err);
// Learning rate of step s (0-based).
double train_lr_at(const TrainConfig *c, long step);
// FLOPs of one training step per token (forward + backward: 6 per weight of the matrices, the
// LM head included, plus causal attention's 12·T/2·H·D per layer), for tokens/s → GFLOP/s and MFU.
double train_flops_per_token(const TrainConfig *c);
// Parameters of the model (a tied head counted once).
size_t train_n_params(const TrainConfig *c);

// One parameter tensor in the flat arena, named as in a Hugging Face Llama checkpoint.
typedef struct {
  char name[64];           // "model.layers.0.self_attn.q_proj.weight"
  int n_dims;              // 1 or 2
  long shape[2];
  size_t offset, numel;    // elements into the arena
  int decay;               // weight decay applies (matrices)
} TrainTensor;

// Layer tensor indices: tensor 0 is the embedding, then 9 per layer in this order, then the
// final norm, then lm_head when untied.
enum { TT_ATTN_NORM, TT_Q, TT_K, TT_V, TT_O, TT_MLP_NORM, TT_GATE, TT_UP, TT_DOWN, TT_PER_LAYER };

struct TrainOps;

// Where and in which precision a trainer computes (train_ops.h has the tables).
typedef enum { TRAIN_CPU_F32, TRAIN_CPU_F64, TRAIN_CUDA_F32, TRAIN_CUDA_BF16 } TrainCompute;
// "cpu-fp32", "cpu-fp64", "cuda-fp32", "cuda-bf16"
const char *train_compute_name(TrainCompute c);

typedef struct {
  TrainCompute compute;
  long seqs_per_pass;      // 0: the table's default (CPU: 1; CUDA: the batch, halved until the
                           // activations fit in 90% of the free device memory)
  int attention;           // TRAIN_ATTN_* (train_ops.h): CUDA attention kernels
  const struct TrainOps *ops;  // a table other than the compute's own (tests: an emulation);
                               // NULL: the compute's
} TrainDevice;

typedef struct {
  TrainConfig cfg;
  TrainCompute compute;
  int fp64;                // arenas hold double instead of float (cpu-fp64)
  int threads;             // in use
  int head_dim;            // D
  // RoPE of the run for sequences of T tokens: cos/sin of rope_position(t) · inv_freq times
  // attention_scale, computed in double.
  double *rope_cos, *rope_sin;   // [T, D/2]
  TrainTensor *tensors;    // [n_tensors]
  int n_tensors;
  int head_tensor;         // index of the LM head (0 when tied)
  size_t n_params;         // arena elements (each tensor padded to a multiple of 16; padding 0)
  void *params, *grads;    // [n_params] float or double
  void *adam_m, *adam_v;   // [n_params] AdamW moments, same type
  long step;               // optimizer steps taken
  // the compute (train_step.c)
  const struct TrainOps *ops;
  void *ctx;               // the table's scratch
  void *d_params, *d_grads, *d_m, *d_v;  // the arenas in the table's memory (the host ones on
                                          // the CPU)
  void *d_mat;             // weights as products read them (d_params unless a bf16 copy)
  long seqs_per_pass;
  void *work;              // activations of one pass
} Trainer;

// Sets up a trainer with freshly initialised weights (from cfg->seed; the same draw on every
// device). rope must rotate D dims. trainer_init computes on the CPU (fp64: cpu-fp64, else
// cpu-fp32); trainer_init_on where dev says (a CUDA compute needs the device open:
// backend_cuda_open). "out of memory: ..." errors when the arenas or activations do not fit.
int trainer_init(Trainer *t, const TrainConfig *cfg, const RopeTable *rope, int fp64,
                 BenchErr *err);
int trainer_init_on(Trainer *t, const TrainConfig *cfg, const RopeTable *rope,
                    const TrainDevice *dev, BenchErr *err);
void trainer_free(Trainer *t);
// Replaces the weights with a checkpoint's (same architecture; llama, no biases). -1 with err
// when the shapes differ.
int trainer_load_model(Trainer *t, const Model *m, BenchErr *err);
// Device trainers: copies weights, gradients and moments to the host arenas / the host arenas
// (weights and moments) to the device (and refreshes the products' copy). No-ops on the CPU.
int trainer_to_host(Trainer *t, BenchErr *err);
int trainer_to_device(Trainer *t, BenchErr *err);
// The index of a tensor by name, or -1.
int trainer_tensor_index(const Trainer *t, const char *name);
// Element i of the host arenas as double (either precision).
double trainer_param(const Trainer *t, size_t i);
void trainer_set_param(Trainer *t, size_t i, double v);
double trainer_grad(const Trainer *t, size_t i);

// Zeroes the gradients.
void trainer_zero_grad(Trainer *t);
// Forward (and backward when `backward`) of n sequences seqs[n][T + 1]: returns the sum of the
// n·T next-token NLLs; with backward, adds the gradient of (that sum × grad_scale) to the grads.
// -1 with err on a token outside [0, V).
int trainer_forward_backward(Trainer *t, const int32_t *seqs, long n, double grad_scale,
                             int backward, double *nll_sum, BenchErr *err);
// √Σ g² over every parameter (in double).
double trainer_grad_norm(Trainer *t);
// Multiplies the gradients by s.
void trainer_scale_grad(Trainer *t, double s);
// One AdamW update at learning rate lr with the current gradients; step += 1.
void trainer_adamw(Trainer *t, double lr);

// One whole optimizer step on seqs[B][T + 1]: zero, forward/backward with grad_scale 1/(B·T),
// clip, AdamW at train_lr_at(step). Returns the mean loss before the update and the gradient
// norm before clipping.
typedef struct {
  double loss, grad_norm, lr;
} TrainStepStats;
int trainer_step(Trainer *t, const int32_t *seqs, TrainStepStats *st, BenchErr *err);

// A Model whose config and weights are views of an fp32 trainer's host parameters (no copy), for
// forward_score_window (a device trainer: after trainer_to_host). Reads the weights as they are when used; free with model_free (which
// frees the view, not the trainer's arena).
int trainer_model_view(const Trainer *t, Model *m, BenchErr *err);

// ---- data order ----
typedef struct {
  long n_seq;              // N sequences
  long seq_len;            // T
  uint64_t seed;
  long epoch;              // epoch whose permutation perm holds (-1: none yet)
  long *perm;              // [N]
} DataOrder;

// -1 with err when fewer than T + 1 tokens.
int data_order_init(DataOrder *o, long n_tokens, long seq_len, uint64_t seed, BenchErr *err);
void data_order_free(DataOrder *o);
// Token offset of the k-th sequence read (k = step·B + b).
long data_order_start(DataOrder *o, long k);

// ---- a whole run with checkpoints ----
//
// Directory of a trained model (dir):
//   config.json, model.safetensors (fp32), tokenizer.json, generation_config.json
//                                       the final Hugging Face checkpoint
//   training.json                       the run's record (below); written last: its presence
//                                       means the model is complete
//   checkpoint/                         during the run: the same HF files plus optimizer.bin and
//                                       trainer_state.json, replaced atomically every save_every
//                                       steps (written as checkpoint.tmp/, then renamed over);
//                                       removed when the run completes
// config.json is a LlamaForCausalLM config with max_position_embeddings = T and rope_theta the
// variant's base; a variant other than plain geometric also stores its JSON spec under the key
// "bench_rope" (transformers keeps unknown keys), which rope type `model` then builds (rope.h).
//
// training.json: {"schema":"bench.train/1","steps":..,"tokens":..,"params":..,"loss_curve":
//   [[step, loss],..],"val_curve":[[step, loss],..],"grad_norm":[..],"lr":[..],"final_loss":..,
//   "tokens_per_s":..,"gflops_per_s":..,"wall_s":..,"resumed_from":step,"threads":..,
//   "compute":"cpu-fp32"|"cuda-fp32"|"cuda-bf16","seqs_per_pass":..,"config":{..}}
// with step counted from 1 (the loss of step s is measured before its update).
typedef struct {
  const int32_t *train_ids;      // training tokens
  long n_train;
  const int32_t *val_ids;        // held-out tokens for eval_every (NULL: none)
  long n_val;
  long val_windows;              // windows of T + 1 tokens scored at every eval (default 4)
  long eval_every;               // 0: never
  long save_every;               // 0: every ⌈steps / 10⌉ steps
  const char *dir;               // the model directory
  const char *tokenizer_path;    // copied into the checkpoints (NULL: none)
  const json_t *rope_spec;       // the variant's spec ({"name","type",..}) for config.json
  double rope_theta;             // base written as rope_theta
  int bos_token_id, eos_token_id;  // -1: null
  long stop_after;               // testing: return after this many steps of this call (0: all)
  TrainDevice device;            // where to compute (zero: the CPU reference; fp64 is not for
                                 // runs and reads as fp32)
  // progress: called after every step
  void (*progress)(void *ctx, long step, long steps, double loss, double tokens_per_s);
  void *progress_ctx;
} TrainRun;

typedef struct {
  json_t *record;                // training.json's object (caller decrefs)
  long resumed_from;             // step the run started from (0: fresh)
  int completed;                 // 1 when all steps are done (0 after stop_after)
} TrainOutcome;

// Trains (resuming from dir/checkpoint when it is there), writes the final checkpoint and
// training.json. A dir that already holds training.json is loaded, not retrained. A checkpoint
// of one compute resumes on another (the record's compute is the last one's).
int train_run(const TrainConfig *cfg, const RopeTable *rope, const TrainRun *run,
              TrainOutcome *out, BenchErr *err);
// The record of a completed model directory (NULL with err when absent or invalid).
json_t *train_record_load(const char *dir, BenchErr *err);

// The base written as config.json's rope_theta for a variant spec: its `theta`, else its
// compress base's or first mix member's, else 10000.
double train_rope_theta(const json_t *spec);

// The RopeModelInfo a training run builds its variant with: head dim C / H, full rotary,
// rope_theta theta (10000 when the variant gives none), max_position_embeddings T.
void train_rope_info(const TrainConfig *c, double theta, RopeModelInfo *info);

#endif
