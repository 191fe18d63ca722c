// matrix.h — a validated Suite expanded into jobs, each with its spec and its id
// (docs/DESIGN.md "Suite files", "Results and reports").
//
// Per phase: the cartesian product of its axes, in this nesting (outermost first)
//   model × dataset × train recipe × rope × cache × dtype × device × seed × length,
// where a swept variant (a list-valued parameter) stands for all its members, named
// `variant[param=value,...]` (variant_member_name, suite.h; two swept lists expand as a product,
// the first one varying slowest). Then, as in CI matrices, `exclude`
// entries (partial assignments) drop every product job matching all their keys — a swept variant's
// name matches all its members, a member's name that member — and `include` entries add jobs: the
// axes they name take their values, the others the phase's (all of them, as a product). Included
// jobs are not excluded. A job already in the phase is not added twice.
//
// Identity: the canonical JSON (canon_json.h) of everything that changes the numbers —
//   engine     ENGINE_NUMERICS_VERSION (engine/version.h)
//   model      checkpoint fingerprint (engine/model/fingerprint.h); absent when the job trains its model
//   tokenizer  SHA-256 of the tokenizer.json that encodes a text dataset (absent for token files)
//   dataset    dataset fingerprint (data_stats.h)
//   rope       the resolved variant: type and parameters, a mix's `of` and a compress's `base`
//              inlined as nested objects, a `file` variant's path replaced by its bytes' SHA-256;
//              the variant's name is not part of it
//   cache      type and parameters
//   length, seed, protocol, windows; stride (sliding, effective: L/2 when 0); prompt and warmup
//              (decode); dtype
//   device     "cpu" or "cuda" when the job pins its device (cuda:N counts as cuda); absent for
//              auto. Pinned devices compute differently, and a phase comparing them must keep
//              both jobs.
//   train      the recipe's parameters, its tokenizer and data replaced by their fingerprints
// job id = the first 16 hex digits of SHA-256(identity). A path that does not exist fingerprints
// as "missing:<path>": such ids are provisional (Matrix.notes says so) and change once it exists.
#ifndef BENCH_MATRIX_H
#define BENCH_MATRIX_H

#include <jansson.h>

#include "data_stats.h"
#include "device.h"
#include "suite.h"

#define JOB_ID_HEX 16

// One member of a (possibly swept) variant: a rope variant, a cache policy or a train recipe.
typedef struct {
  const Variant *variant;  // NULL: none (a job that does not train)
  int member;              // 0 .. n_members − 1
  char *name;              // "geo_500k", "anchor_sweep[anchor_factor=15]"; NULL when variant is
} Member;

// What the runner hands the engine for one job (borrowed from the Matrix).
typedef struct {
  const char *model_path;      // checkpoint directory; NULL when the job trains its model
  const char *dataset_path;    // .txt | .jsonl | .bin | .u16.bin
  const char *dataset_field;   // jsonl field; NULL for other formats
  const char *tokenizer_path;  // tokenizer.json for text datasets: the dataset's `model`, else the
                               // job's model, else (training) the recipe's tokenizer; NULL for
                               // token files
  const json_t *rope;          // {"name","type",params..}, mix `of` / compress `base` inlined as
                               // such objects: what rope_build takes
  const json_t *cache;         // {"name","type",params..}
  const json_t *train;         // {"name",params..} or NULL
} JobInputs;

typedef struct {
  char id[JOB_ID_HEX + 1];
  char *identity;              // canonical JSON hashed into id
  const ModelDef *model;       // NULL when the job trains its model
  const DatasetDef *dataset;
  Member rope, cache, train;
  long length, seed;
  const char *dtype, *device;
  char runs_on[DEVICE_NAME_MAX];  // where it runs on this machine ("cpu", "cuda:N"): set by
                                  // matrix_place_jobs; "" until then
  const char *protocol;
  long windows;
  long stride, prompt, warmup; // the effective values the protocol uses; 0 otherwise
  json_t *spec;                // DESIGN's job spec: model, dataset, rope, cache, length, seed,
                               // protocol, windows, [stride | prompt, warmup], dtype, device, [train],
                               // with the names of the first phase that holds the job
  char train_id[JOB_ID_HEX + 1];  // id of the trained model (recipe, rope, seed, data): jobs that
                                  // share it share one training run; "" when not training
  int provisional;             // some fingerprint is "missing:..."
  int *phases;                 // [n_phases] indices of the phases holding the job, ascending
  int n_phases;
  JobInputs inputs;
  // owned storage behind inputs
  json_t *rope_json, *cache_json, *train_json;
  char *tokenizer_path;
  char *tokenizer_fp;          // SHA-256 of tokenizer_path's bytes ("missing:..."); NULL with it
} Job;

typedef struct {
  const Phase *phase;
  int *jobs;                   // [n_jobs] indices into Matrix.jobs, in expansion order
  json_t **specs;              // [n_jobs] each job's spec with the names this phase gives it (a
                               // shared job may be `geo_500k` here, `theta_scan[theta=500000]`
                               // in another phase)
  int n_jobs;
} PhaseJobs;

typedef struct Matrix {
  const Suite *suite;
  Job *jobs;                   // [n_jobs] unique jobs, in order of first appearance
  int n_jobs;
  PhaseJobs *phases;           // [n_phases] one per suite phase, in suite order
  int n_phases;
  char **notes;                // [n_notes] expansion warnings (provisional ids, an include that
  int n_notes;                 // adds nothing, an exclude that matches nothing, ...)
  // per suite model / dataset (same indices as Suite.models / Suite.datasets)
  long long *model_params;     // elements in the safetensors headers; -1 when unknown
  DataStats *dataset_stats;    // valid where dataset_ok
  int *dataset_ok;
  // private
  char **model_fp, **tokenizer_fp, **dataset_fp;
  int *slots;                  // open-addressing table of job indices by id
  int n_slots;
} Matrix;

// The most jobs one suite may expand to (counting a job once per phase that holds it): above it
// matrix_build refuses the suite, and `bench plan` prints only the counts. One result file per job
// and a plan a person can read both end long before; at today's cost (about 25 µs and 7 KB a job
// to build) the limit takes seconds and under 1 GB.
#define MATRIX_MAX_JOBS 100000
// matrix_count walks the drafts (excludes applied) up to this many; beyond, it gives the bound.
#define MATRIX_COUNT_DRAFTS 1e7

// Jobs s's phases hold (a job once per phase that holds it), counted without building any: exact
// (*exact = 1) when the products and include entries give at most MATRIX_COUNT_DRAFTS, else their
// size before exclude entries (*exact = 0). per_phase: [s->n_phases] or NULL. -1 with err on the
// references matrix_build would refuse.
double matrix_count(const Suite *s, double *per_phase, int *exact, BenchErr *err);
// "the suite expands to N jobs, more than the ... (docs/DESIGN.md, Scale): ..." into out.
void matrix_too_large(double n, int exact, char *out, size_t len);
// 1234567 -> "1,234,567".
void matrix_format_count(double x, char *out, size_t n);

// Expands s. Fails (err: "FILE:LINE:COL: message") on what the suite's validation leaves to the
// expansion: an include/exclude naming no variant member, a reference to a whole swept variant;
// and (err: "FILE: message") on a suite of more than MATRIX_MAX_JOBS jobs.
int matrix_build(const Suite *s, Matrix *m, BenchErr *err);
void matrix_free(Matrix *m);
// Sets every job's runs_on for a run whose device is dflt (resolved: --device, else
// device_auto(GPUs here)), by device_for_job: what bench plan prices and bench run's lanes use.
void matrix_place_jobs(Matrix *m, const char *dflt);
// Index of the job with this id, or -1.
int matrix_find(const Matrix *m, const char *id);
// The engine's inputs for a job.
const JobInputs *matrix_job_inputs(const Job *j);

#endif
