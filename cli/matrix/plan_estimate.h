// plan_estimate.h — what a job will cost, estimated before anything runs: tokens scored and
// processed, FLOPs, and device memory (weights + KV cache + workspace). Used by `bench plan`.
// Legend: P parameters, L layers, H query heads, K kv heads, D head dim, C hidden, F MLP width,
//         V vocab, T tokens of a window (the job's length), W windows.
#ifndef BENCH_PLAN_ESTIMATE_H
#define BENCH_PLAN_ESTIMATE_H

#include "matrix.h"

// Throughputs assumed for time estimates (stated in plan's output).
#define PLAN_GPU_FLOPS 400e12   // bf16/fp16 on a GPU, about half an H100's dense peak
#define PLAN_GPU_FP32_FLOPS 50e12
#define PLAN_CPU_FLOPS 50e9     // fp32 on a few CPU cores with OpenBLAS

typedef struct {
  int known;                 // the shape fields below are filled
  long max_positions;        // trained positions (max_position_embeddings, a recipe's seq_len); 0 unknown
  int layers, hidden, heads, kv_heads, head_dim, intermediate, vocab;
  int gelu_mlp;              // GPT-NeoX MLP (two matrices) rather than SwiGLU (three)
  int tied;                  // tied input/output embeddings
  double params;             // P; -1 when unknown
} ModelShape;

// From DIR/config.json (read with jansson). n_params_headers ≥ 0 overrides the count computed
// from the shape. Fails when config.json is missing or not a JSON object.
int model_shape_from_config(const char *dir, long long n_params_headers, ModelShape *out, BenchErr *err);
// From a train recipe's parameters (layers, hidden, heads, kv_heads, intermediate, vocab_size,
// seq_len, arch); the shape stays unknown without vocab_size.
void model_shape_from_recipe(const Variant *recipe, int member, ModelShape *out);

typedef struct {
  double tokens_scored;      // targets whose NLL enters the metrics
  double tokens_processed;   // tokens through the forward pass
  double flops;              // 2·P·processed + attention; 0 when the shape is unknown
  long kv_tokens;            // most keys/values held at once
  double weight_bytes, kv_bytes, work_bytes;
} JobCost;

// on_cpu: weights and activations in fp32 (the CPU engine) instead of the job's dtype.
void job_cost(const Job *j, const ModelShape *shape, int on_cpu, JobCost *out);
// Tokens the dataset must hold for the job's windows not to overlap or run short.
long long job_tokens_needed(const Job *j);
// The cache policy's budget of kept tokens (0: unbounded, the full cache).
long cache_budget(const Job *j);
// FLOPs of training one model with a recipe (6·P·tokens + attention); 0 when unknown.
double train_flops(const Variant *recipe, int member, const ModelShape *shape);
// Training's work in job_cost's units: its FLOPs, or (shape unknown: costs are then tokens through
// the model) 3 × the tokens trained on, forward and backward.
double train_work(const Variant *recipe, int member, const ModelShape *shape);

#endif
