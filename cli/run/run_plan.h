// run_plan.h — what one `bench run` runs: the jobs --only and --shard select, in run order
// (grouped by model so a worker loads each model once, and within a model by device and dtype so
// its engine puts the weights on a device once per dtype), the lanes they run in (one worker at a
// time per lane: one per --devices entry, else one lane whose device follows each job), and each
// job's estimated cost, from which the ETA is measured.
//
// Shards: job j belongs to shard 1 + (h mod N), h the 16 hex digits of its shard key read as a
// 64-bit number: the job id, or for a job that trains its model the trained model's id, so every
// job of one trained model lands in one shard and two machines never train the same model (seed
// 003's split A / split B). Ids are hashes of what a job computes, so the split is disjoint,
// covers the matrix, and is the same on every machine that sees the same checkpoints and data.
#ifndef BENCH_RUN_PLAN_H
#define BENCH_RUN_PLAN_H

#include "matrix.h"
#include "plan_estimate.h"

typedef struct {
  const Job *job;
  int index;          // in Matrix.jobs
  int group;          // order of first appearance of its model: jobs run grouped by it
  int engine;         // order of first appearance of its (model, device, dtype): within a group,
                      // jobs run grouped by it (they share one engine)
  char *label;        // "PHASE JOB_ID PROTOCOL L=.. seed=.. rope=.." for logs and status
  double cost;        // estimated work: FLOPs, or tokens through the model when its size is unknown;
                      // training included for the first job of each trained model in run order
  double train_cost;  // of which training (0 when the job trains nothing)
} RunJob;

typedef struct {
  RunJob *jobs;       // [n] in run order
  long n;
} RunSelection;

// Parses "I/N" (1 ≤ I ≤ N).
int shard_parse(const char *text, int *i, int *n, BenchErr *err);
// The shard (1..n) a shard key belongs to.
int shard_of(const char *job_id, int n);
// A job's shard key: its trained model's id when it trains one, else its job id.
const char *job_shard_key(const Job *j);

// The jobs of the phases in only[n_only] (all when n_only is 0) that belong to shard shard_i of
// shard_n (all when shard_n is 0). shapes: per suite model, for the costs.
void run_select(const Suite *s, const Matrix *m, char *const *only, int n_only, int shard_i,
                int shard_n, const ModelShape *shapes, RunSelection *out);
void run_selection_free(RunSelection *sel);

// ---- lanes and devices ----
typedef struct Lanes {
  char **devices;     // [n] each lane's device ("cpu", "cuda:N"); flexible: [1] the fallback
  int n;
  int flexible;       // no --devices: one lane, each job on its pinned device, else the fallback
} Lanes;

// Normalises a device name: "cpu", "cuda" → "cuda:0" when index_default, "cuda:N", a bare "N" → "cuda:N".
// Fails on anything else.
int device_normalise(const char *text, int index_default, char *out, size_t out_len, BenchErr *err);
// --devices LIST (comma-separated GPU indices, cuda:N or cpu) into fixed lanes, or (list NULL)
// one flexible lane whose fallback is `fallback` (a normalised device).
int lanes_init(Lanes *ln, const char *list, const char *fallback, BenchErr *err);
void lanes_free(Lanes *ln);
// The device job j runs on in lane k (into buf), or NULL when that lane cannot run it.
const char *lane_device(const Lanes *ln, int k, const Job *j, char *buf, size_t len);

#endif
