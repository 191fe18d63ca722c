// results.h — job result files: results/<suite>/jobs/<job_id>.json, schema "bench.job/1"
// (docs/DESIGN.md "Results and reports"), written atomically and read back.
//
// {"schema":"bench.job/1","job_id":..,"suite":..,"phase":..,"spec":{..},
//  "status":"ok"|"oom"|"error"|"crashed","error":null|"one line",
//  "metrics":{"ppl","nll","nll_stderr","tokens","acc","tokens_per_s","peak_mem_bytes",
//             "kv_peak_tokens","kv_peak_bytes","wall_s","forward_s","dataset_tokens",
//             "compute_dtype","nll_by_position":[[bucket_start,mean_nll],..],"window_ppl":[..],
//             decode only: "kv_budget","kv_full_bytes","kv_bytes_saved" (kv_full_bytes −
//             kv_peak_bytes),"kv_prefill_tokens","timed_tokens","timed_s"}
//             | null,
//  "started":"ISO-8601 UTC","finished":"ISO-8601 UTC"}
// A job shared by several phases carries the first one in "phase" and all of them in "phases".
#ifndef BENCH_RESULTS_H
#define BENCH_RESULTS_H

#include <jansson.h>

#include "eval.h"
#include "util.h"

#define JOB_SCHEMA "bench.job/1"

typedef enum { JOB_OK, JOB_OOM, JOB_ERROR, JOB_CRASHED } JobStatus;

typedef struct {
  char *job_id;
  char *suite;
  char *phase;          // the first phase that holds the job
  char **phases;        // [n_phases] every phase that holds it (n_phases ≥ 1 when written)
  int n_phases;
  json_t *spec;         // owned reference
  JobStatus status;
  char *error;          // one line; NULL when ok
  json_t *metrics;      // owned reference; NULL when the job produced none
  char started[32], finished[32];
} JobResult;

const char *job_status_name(JobStatus s);
int job_status_from_name(const char *name, JobStatus *s);

// The metrics object of a finished evaluation.
json_t *eval_metrics_json(const EvalResult *r);

json_t *job_result_to_json(const JobResult *r);
// Checks the schema and the fields' types; messages name `source` (a path).
int job_result_from_json(const json_t *j, const char *source, JobResult *r, BenchErr *err);
void job_result_free(JobResult *r);

// DIR/jobs/<job_id>.json (caller frees).
char *job_result_path(const char *results_dir, const char *job_id);
// Writes DIR/jobs/<job_id>.json atomically (creating DIR/jobs).
int job_result_write(const char *results_dir, const JobResult *r, BenchErr *err);
// Reads one result file. A missing file is an error too; callers check file_exists first.
int job_result_read(const char *path, JobResult *r, BenchErr *err);

#endif
