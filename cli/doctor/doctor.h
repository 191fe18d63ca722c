// doctor.h — the check of one GPU against the CPU engine, which `bench doctor` prints and `bench
// run` runs before the first job on a GPU (docs/DESIGN.md, "GPU runs"):
//   1. kernels: every CUDA kernel family against its CPU twin on random data at small shapes
//      (kernel_check.c; tests/gpu/test_kernels.c runs the same checks at full sizes too);
//   2. engine: the CUDA engine against the CPU engine on the shipped models/quickstart over
//      data/kjv/valid.txt — every protocol, the streaming and h2o cache policies, fp32 and bf16 —
//      with the GPU tests' bounds (engine_check.c);
//   3. model: per model, its own weights: the first DOCTOR_PROBE_TOKENS tokens of the dataset its
//      jobs run on (data/kjv/valid.txt when it is too short or cannot be read; fewer tokens for
//      large models, doctor_probe_tokens) through the CUDA engine in the job's dtype and the CPU
//      engine in fp32, per-token NLL compared (engine_check.c).
// The outcome is cached per (GPU name and UUID, NVIDIA and CUDA driver, CUDA runtime, bench commit
// and binary, model fingerprint and dtype), so a night run pays once (doctor.c).
#ifndef BENCH_DOCTOR_H
#define BENCH_DOCTOR_H

#include <stddef.h>
#include <stdio.h>

#include "eval.h"
#include "model.h"
#include "util.h"

typedef struct {
  int passed, failed;
  char first_fail[512];  // "part: check: detail" of the first failing row
  size_t peak_bytes;     // device memory held at most (kernels)
} CheckTally;

// Part 1 on GPU gpu (quick: small cases; only: NULL or a comma list of families). -1 with err when
// the device cannot be opened; otherwise 0, the rows in t.
int kernel_check(int gpu, int quick, const char *only, FILE *out, CheckTally *t, BenchErr *err);
// Part 2: models/quickstart and data/kjv/valid.txt under root (the repository).
int engine_check(int gpu, const char *root, FILE *out, CheckTally *t, BenchErr *err);

// Part 3 for one model in one dtype.
#define DOCTOR_PROBE_TOKENS 256
typedef struct {
  const char *name;    // as a suite names it (or the directory)
  const char *dir;
  const char *dtype;   // the jobs' dtype: bf16, fp16 or fp32
  // The text its jobs run on (the first of them): the probe reads its first tokens. NULL data:
  // data/kjv/valid.txt. field: a jsonl's text field; tokenizer: a text dataset's tokenizer.json
  // when not the model's own; data_name: the suite's name for it (NULL: the path).
  const char *data, *data_field, *tokenizer, *data_name;
} DoctorModel;
typedef struct {
  double max_dnll, mean_dnll;  // over the scored tokens: max |ΔNLL| and |mean ΔNLL|
  long tokens;
  char text[96];               // the text probed: the dataset's name, or data/kjv/valid.txt
} ProbeResult;
// Tokens probed for a model of n_params parameters: DOCTOR_PROBE_TOKENS up to 2e9 parameters,
// then 128 (the CPU's fp32 forward over an 8B model then costs about 2 TFLOP).
long doctor_probe_tokens(long long n_params);
// root: the repository (doctor_root; NULL when not found).
int model_probe(int gpu, const DoctorModel *m, const char *root, FILE *out, CheckTally *t, ProbeResult *pr,
                BenchErr *err);
// The text part 3 reads and the CPU engine's fp32 reference over its first T tokens: the model's
// dataset (DoctorModel.data) when the CPU engine can score T tokens of it, else root's
// data/kjv/valid.txt; label says which, and why not the dataset ("dataset 'pg19'", or
// "data/kjv/valid.txt (dataset 'x' not used: ..)"). -1 with err when neither can be scored.
typedef struct {
  const char *path, *field, *tokenizer, *name;  // what eval_job reads (path owned)
  char label[400];
  char short_name[96];                          // for the summary line
} ProbeText;
int probe_reference(const Model *m, const DoctorModel *dm, const char *root, long T, ProbeText *txt,
                    EvalResult *ref, BenchErr *err);
void probe_text_free(ProbeText *txt);

// ---- the whole check of one GPU ----
#define DOCTOR_MAX_MODELS 16
typedef struct {
  int gpu;
  const DoctorModel *models;  // [n_models] part 3; 0 models: parts 1–2 only
  int n_models;
  int use_cache;              // take a cached outcome of the same key; always write the new one
  const char *kernels;        // part 1's families (kernel_check's `only`); NULL: all. A partial
                              // check is cached only when it failed
  FILE *out;                  // the table (NULL: nothing printed)
} DoctorRequest;

typedef struct {
  int passed;                 // every row of every part passed
  int from_cache;
  char gpu_name[128];
  CheckTally kernels, engine, models[DOCTOR_MAX_MODELS];
  ProbeResult probes[DOCTOR_MAX_MODELS];
  int n_models;
  char summary[2048];         // "passed — kernels 344/344, engine 14/14, llama3_8b bf16 max |ΔNLL| ..."
  char first_fail[512];       // the first failing row ("" when passed)
} DoctorOutcome;

// ---- the cache key ----
// What an outcome is cached under: the card itself (its name and UUID, so that a faulty card
// never passes on the result of another card of the same model), the NVIDIA kernel driver, the
// CUDA driver and runtime versions, bench's commit and the binary (its size and mtime: a rebuild
// at one commit). Part 3 adds the model's fingerprint and the dtype.
typedef struct {
  const char *gpu_name, *gpu_uuid, *nvidia_driver;
  int cuda_driver, cuda_runtime;
  const char *commit;
  long long exe_size, exe_mtime;
} GpuCheckIdentity;
char *doctor_cache_key(const GpuCheckIdentity *id);                                  // caller frees
char *doctor_model_key(const char *base, const char *fingerprint, const char *dtype);  // caller frees

// The repository root that holds models/quickstart (found from the binary's own path, upward;
// $BENCH_ROOT when set). NULL when not found (caller frees).
char *doctor_root(void);
// Runs the check in this process (which then has initialised CUDA). -1 with err when it could
// not run at all (no such GPU, no CUDA in this build).
int doctor_check_gpu(const DoctorRequest *rq, DoctorOutcome *out, BenchErr *err);
// The same in a short-lived child process, for a process that forks CUDA workers later (bench run's
// supervisor); the table, when out is set, is printed by the child.
int doctor_check_gpu_child(const DoctorRequest *rq, DoctorOutcome *out, BenchErr *err);
// What `bench doctor` says for cuda:gpu so that the whole table shows ("bench doctor --device
// cuda:0 DIR ..") into buf.
void doctor_command(const DoctorRequest *rq, char *buf, size_t n);

#endif
