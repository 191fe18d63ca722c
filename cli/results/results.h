// results.h — the files of a results directory that a run writes and a report reads: the one
// reader and the one writer of each (docs/DESIGN.md "Results and reports").
//
//   DIR/jobs/<job_id>.json   JobResult, schema "bench.job/1" (job_result.c), listed by job_files.c,
//                            counted only when valid (job_valid.c)
//   DIR/jobs/invalid/        results that were not valid, set aside by a run (job_valid.c)
//   DIR/manifest.json        provenance, schema "bench.manifest/1" (manifest_read.c, manifest_write.c);
//                            its "suite" says whose directory it is (results_dir.c)
//
// Job result:
// {"schema":"bench.job/1","job_id":..,"suite":..,"phase":..,"spec":{..},
//  "status":"ok"|"oom"|"error"|"crashed"|"nonfinite","error":null|"one line",
//  "metrics":{"ppl","nll","nll_stderr","tokens","acc","tokens_per_s","peak_mem_bytes",
//             "kv_peak_tokens","kv_peak_bytes","wall_s","forward_s","dataset_tokens",
//             "compute_dtype","nll_by_position":[[bucket_start,mean_nll],..],"window_ppl":[..],
//             decode only: "kv_budget","kv_full_bytes","kv_bytes_saved" (kv_full_bytes −
//             kv_peak_bytes),"kv_prefill_tokens","timed_tokens","timed_s",
//             nonfinite only: "nonfinite":{"window","position","tokens"} (the first scored
//             token whose NLL is NaN or ±Inf: window in plan order, target offset in it; how
//             many such tokens)}
//             | null,
//  "started":"ISO-8601 UTC","finished":"ISO-8601 UTC"}
// Status nonfinite: the evaluation finished but an NLL was NaN or ±Inf (ppl and nll are null); its
// error line names the first such token, and a re-run retries it like any failure.
// A job shared by several phases carries the first one in "phase" and all of them in "phases".
// On read, schema, spec (an object), phase (a string) and status are required, and metrics when
// the status is ok; job_id, suite, started and finished may be absent (read as ""), but a field
// that is present must have its type.
//
// Manifest:
// {"schema":"bench.manifest/1","suite":..,"suite_path":..,"suite_sha256":..,
//  "bench_version":..,"git_commit":..,"engine_numerics":..,
//  "host":..,"cpu":..,"cpu_cores":n,"memory_bytes":n,
//  "gpus":[{"index":i,"name":..,"uuid":"GPU-..","memory_bytes":n}],"driver":"550.54.15"|null,
//  "cuda":"12.4"|null (runtime),"cuda_driver":"12.4"|null (what the driver supports),
//  "models":{"NAME":{"fingerprint":..,"params":n}},"datasets":{"NAME":{"fingerprint":..}},
//  "started":T (the first run's start),"finished":T|null (the last run's end),
//  "runs":[{"started":T,"finished":T|null,"outcome":"running"|"completed"|"interrupted"|"failed",
//           "host":..,"pid":n,"command":..,"shard":"I/N"|null,"devices":[..],
//           "jobs":n,"skipped":n,"ok":n,"oom":n,"error":n,"crashed":n}]}  (outcome "failed": the run
//           stopped on an error, e.g. a result it could not write)
// Re-running into the same directory merges: the first start is kept, the end, the machine facts
// and the fingerprints are updated, and the run is appended to "runs" (every run that wrote results
// here, resumed or sharded, is listed). Updates are serialised by a lock on .run/manifest.lock, so
// shards sharing a directory do not lose each other's entries. Paths are not recorded (they may
// come from environment variables); the suite copy beside the manifest has them as written.
#ifndef BENCH_RESULTS_H
#define BENCH_RESULTS_H

#include <jansson.h>

#include "util.h"

// What the writers are given, declared here so that the readers' users (the report) need none of
// it: EvalResult (engine/eval/eval.h), Suite (suite.h), Matrix (matrix.h), HostProbe (run_probe.h),
// Lanes (run_plan.h).
typedef struct EvalResult EvalResult;
typedef struct Suite Suite;
typedef struct Matrix Matrix;
typedef struct HostProbe HostProbe;
typedef struct Lanes Lanes;

#define JOB_SCHEMA "bench.job/1"
#define MANIFEST_SCHEMA "bench.manifest/1"

// ---- job results (job_result.c) ----
typedef enum { JOB_OK, JOB_OOM, JOB_ERROR, JOB_CRASHED, JOB_NONFINITE, N_JOB_STATUS } JobStatus;

typedef struct {
  char *job_id;         // "" when the file has none
  char *suite;          // "" when the file has none
  char *phase;          // the first phase that holds the job
  char **phases;        // [n_phases] every phase that holds it (n_phases ≥ 1 when written or read)
  int n_phases;
  json_t *spec;         // owned reference
  JobStatus status;
  char *error;          // one line; NULL when ok
  json_t *metrics;      // owned reference; NULL when the job produced none
  char started[48], finished[48];  // ISO-8601; "" when the file has none
} JobResult;

const char *job_status_name(JobStatus s);
int job_status_from_name(const char *name, JobStatus *s);

// The metrics object of a finished evaluation.
json_t *eval_metrics_json(const EvalResult *r);
// The status of a finished evaluation: JOB_OK, or JOB_NONFINITE with its one-line error in
// error[n] ("NLL is NaN at window 2, position 17 (3 of 508 scored tokens not finite)").
JobStatus eval_result_status(const EvalResult *r, char *error, size_t n);

json_t *job_result_to_json(const JobResult *r);
// Checks the schema and the fields' types; messages start with `source` (a path).
int job_result_from_json(const json_t *j, const char *source, JobResult *r, BenchErr *err);
void job_result_free(JobResult *r);

// DIR/jobs (caller frees).
char *job_results_dir(const char *results_dir);
// DIR/jobs/<job_id>.json (caller frees).
char *job_result_path(const char *results_dir, const char *job_id);
// Writes DIR/jobs/<job_id>.json atomically (creating DIR/jobs).
int job_result_write(const char *results_dir, const JobResult *r, BenchErr *err);
// Reads one result file. A missing file is an error too; callers check file_exists first.
int job_result_read(const char *path, JobResult *r, BenchErr *err);

// ---- the one validity rule (job_valid.c) ----
// A stored result counts only when it reads (above) and: its job_id is its file's name, spec.length
// is a positive integer, an ok result has a positive finite metrics.ppl, and — where the caller
// knows the job as planned (`planned`, its spec; NULL: not known, as for `bench report`) — the
// spec's identity fields (length, seed, protocol, windows, stride, prompt, warmup, dtype) are the
// planned job's. `run` skips, `status` counts and `report` shows only such results; `run` moves the
// others to DIR/jobs/invalid/<id>.json.<UTC time> (never deleted) and recomputes them.
#define JOB_INVALID_DIR "invalid"
typedef enum { RESULT_ABSENT, RESULT_INVALID, RESULT_VALID } ResultState;

// The rule on a result read from DIR/jobs/<file_id>.json; the reason in err (no path).
int job_result_check(const JobResult *r, const char *file_id, const json_t *planned, BenchErr *err);
// Reads DIR/jobs/<id>.json and applies the rule: RESULT_VALID fills r (caller frees); otherwise r is
// empty, and RESULT_INVALID says why in err (path first).
ResultState job_result_load(const char *results_dir, const char *id, const json_t *planned, JobResult *r,
                            BenchErr *err);
// 1 when DIR/jobs/<job_id>.json holds a valid finished (ok) result: a job a re-run skips.
int job_result_ok(const char *results_dir, const char *job_id, const json_t *planned);
// Moves DIR/jobs/<job_id>.json to DIR/jobs/invalid/<job_id>.json.<UTC time> (its new path in
// *moved, caller frees): an invalid result is kept for a look, out of the way of the next run.
int job_result_set_aside(const char *results_dir, const char *job_id, char **moved, BenchErr *err);

// ---- the jobs/ folder (job_files.c) ----
typedef struct {
  char **ids;  // [n] job ids: the names of DIR/jobs/*.json without ".json", in file-name order
  int n;
} JobFiles;

// Lists DIR/jobs/*.json (hidden files and temp files left out). A missing jobs/ is an empty
// list; -1 only when it exists but cannot be listed.
int job_files_list(const char *results_dir, JobFiles *f, BenchErr *err);
void job_files_free(JobFiles *f);

// ---- manifest: read (manifest_read.c) ----
typedef struct {
  json_t *root;      // NULL when absent or unusable
  char *problem;     // why it was not used (NULL when used or simply absent)
} Manifest;

// Reads DIR/manifest.json: absent → root NULL; unreadable, not JSON or not our schema → root NULL
// and the problem said. It never fails: the manifest is optional.
void manifest_read(const char *results_dir, Manifest *m);
void manifest_free(Manifest *m);
// The first of the keys present (dotted paths, e.g. "host.cpu"), as text: strings as they are,
// numbers printed, arrays of strings or of {"name":..} objects joined with ", ". Caller frees;
// NULL when none is present.
char *manifest_text(const Manifest *m, const char *const *keys);

// ---- the directory (results_dir.c) ----
// Whether a command may write into DIR for suite `suite`: not when DIR is "" or exists and is not
// a directory, nor — unless force — when its manifest.json names another suite (two suites'
// results would mix, their reports too). A directory without a manifest is anyone's.
int results_dir_check(const char *dir, const char *suite, int force, BenchErr *err);

// ---- manifest: write (manifest_write.c) ----
typedef struct {
  const Suite *suite;
  const Matrix *mx;
  const HostProbe *probe;
  const Lanes *lanes;
  const char *suite_path;    // as given on the command line
  const char *command;       // "bench run ..." as given
  int shard_i, shard_n;
  double started;            // this run's start (wall time)
  long jobs, skipped;        // selected; already done when it started
  json_t *gpu_check;         // {"cuda:N": {"gpu","passed","summary","first_failure","doctor",
                             //  "cached"}} of the GPUs this run checked (NULL: none)
  const char *gpu_check_summary;  // one line for the report header ("passed — kernels ..")
} ManifestRun;

typedef struct {
  long ok, oom, error, crashed;
  const char *outcome;       // "completed" | "interrupted" | "failed" (stopped on an error)
} ManifestEnd;

// Merges this run into DIR/manifest.json (written atomically).
int manifest_begin(const char *dir, const ManifestRun *r, BenchErr *err);
// Records this run's end and counts.
int manifest_end(const char *dir, const ManifestRun *r, const ManifestEnd *e, BenchErr *err);

#endif
