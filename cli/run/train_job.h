// train_job.h — the jobs of a training phase (`train: RECIPE`, docs/DESIGN.md "Training from
// scratch"): the runner hands each such job (Job.model == NULL) here first; this trains the
// job's model once per train_id (recipe × rope variant × seed) into
// <results>/models/<train_id>/, or reuses it when it is complete, loads it, and returns it with
// its training record. The runner then evaluates it as any model and merges the training metrics
// into the job's metrics.
//
// A recipe is read as follows (engine/train/train.h has the numerics):
//   arch llama (the only trainable architecture), layers, hidden, heads, kv_heads (default heads),
//   intermediate, vocab_size (default the tokenizer's), tie_embeddings (default true);
//   tokenizer: a suite model (its tokenizer.json) or a tokenizer.json path;
//   data: a suite dataset, encoded with that tokenizer (documents of a .jsonl separated by the
//   tokenizer's end-of-text token when it has one); the first `tokens` + 1 tokens are used,
//   steps = ⌊tokens / (batch · seq_len)⌋ (several epochs when the data is shorter);
//   lr, min_lr (default 0), warmup (steps), schedule, beta1, beta2, weight_decay, grad_clip;
//   dtype: on the CPU the trainer computes in fp32 whatever the recipe says; on a CUDA lane (whose
//   GPU passed the run's check, docs/DESIGN.md "GPU runs"), bf16 trains in cuda-bf16 (bf16 products,
//   fp32 master weights) and anything else in cuda-fp32; the record says dtype, compute_dtype
//   and compute (the trainer's table: cpu-fp32, cuda-fp32, cuda-bf16);
//   eval_every: held-out loss every N steps on the first 4 windows of the job's evaluation
//   dataset; save_every: checkpoint period (default a tenth of the run).
// The rope variant of the job gives the training frequencies (rope_build with head dim C/H,
// base theta the variant's or 10000, max positions seq_len); the seed gives the initial weights
// and the data order. Two runners sharing a results directory train a model once: the second
// waits on <results>/models/<train_id>.lock and then reuses the finished model.
//
// Job metrics added: "loss_curve": [[step, loss],..], "val_curve", and "train": {train_id,
// model_dir, steps, tokens, params, final_loss, final_loss_avg10, final_val_loss, tokens_per_s,
// gflops_per_s, wall_s, resumed_from, reused, threads, dtype, compute_dtype, compute}.
#ifndef BENCH_TRAIN_JOB_H
#define BENCH_TRAIN_JOB_H

#include <jansson.h>

#include "matrix.h"
#include "model.h"
#include "suite.h"
#include "train.h"

typedef struct TrainJobs TrainJobs;

// What a training run reports while it goes (each may be NULL).
typedef struct {
  // lines for the run log: "train <id>: step s/N loss x, n tokens/s" (first, last, every 30 s)
  void (*log)(void *ctx, const char *line);
  // after every step: steps done of total, tokens trained and seconds in steps so far (the
  // runner's progress signature: the supervisor sees a training job advance)
  void (*step)(void *ctx, long done, long total, long tokens, double seconds);
  void *ctx;
} TrainHooks;

TrainJobs *train_jobs_new(const Suite *s, const char *results_dir, int threads);
void train_jobs_free(TrainJobs *tj);
// The device of the lane the jobs run on ("cpu", "cuda:N"; default "cpu").
void train_jobs_set_device(TrainJobs *tj, const char *device);

// Where a job of a recipe with this dtype trains on a lane: fills dev (cpu-fp32, cuda-bf16 for
// bf16 on a CUDA lane, else cuda-fp32) and *gpu (the GPU index, -1 for the CPU).
// Returns 1 when that is a GPU.
int train_job_device(const char *lane_device, const char *dtype, TrainDevice *dev, int *gpu);

// The trained model of job j (j->model == NULL), trained now when needed. *model and *record stay
// valid until the next call or train_jobs_free. -1 with err when training cannot run.
int train_jobs_model(TrainJobs *tj, const Job *j, const TrainHooks *hooks, const Model **model,
                     const json_t **record, BenchErr *err);

// Whether job j's train recipe reads suite dataset `name` (its data) or suite model `name` (its
// tokenizer): for the runner's check of missing paths before any job starts.
int train_job_uses_dataset(const Job *j, const char *name);
int train_job_uses_model(const Job *j, const char *name);

// Adds a training record's metrics to a job's metrics object (see above).
void train_metrics_merge(json_t *metrics, const json_t *record);

#endif
