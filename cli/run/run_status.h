// run_status.h — the small files a running `bench run` keeps up to date so that `bench status`
// (from another shell or machine) can say how far along it is from the files alone.
//
//   DIR/.run/plan[-shard-I-of-N].json    written once when the run starts: every job it covers
//     {"schema":"bench.plan/1","suite":..,"suite_sha256":..,"written":T,"shard":"I/N"|null,
//      "fresh":true|false (--fresh: a result finished before "written" is not done),
//      "jobs":[{"job_id":..,"label":..,"cost":x,"spec":{..}},..]}  (spec: the job as planned, which
//      `bench status` holds a stored result to, results.h)
//   DIR/.run/status[-shard-I-of-N].json  rewritten atomically every few seconds and at the end
//     {"schema":"bench.status/1","state":"running"|"stopping"|"finished"|"interrupted"|"failed",
//      "pid":..,"host":..,"command":..,"shard":"I/N"|null,"started":T,"updated":T,
//      "total":n,"skipped":n (done before this run),"ok":n,"oom":n,"error":n,"crashed":n,
//      "remaining":n,"eta_s":x|null,"rate":x|null (cost per second per lane, measured),
//      "running":[{"job_id":..,"label":..,"device":..,"pid":..,"started":T,
//                  "windows_done":n,"windows_total":n,"steps_done":n,"steps_total":n,
//                  "tokens_per_s":x}],
//      "exit_code":n|null,"error":"one line"|null (state failed: what stopped the run, e.g. a
//      result that could not be written)}
// T: ISO-8601 UTC. Cost: a job's estimated work (run_plan.h), so ETA = remaining cost / rate.
#ifndef BENCH_RUN_STATUS_H
#define BENCH_RUN_STATUS_H

#include <jansson.h>

#include "run_plan.h"

#define RUN_PLAN_SCHEMA "bench.plan/1"
#define RUN_STATUS_SCHEMA "bench.status/1"

// DIR/.run/<kind>[-shard-I-of-N].json (caller frees).
char *run_file_path(const char *dir, const char *kind, int shard_i, int shard_n);

typedef struct {
  const char *job_id, *label, *device;
  long pid;
  double started;               // wall time
  long windows_done, windows_total;
  long steps_done, steps_total;  // training steps (0/0 when the job is not training)
  double tokens_per_s;          // 0: not measured yet
} StatusRunning;

typedef struct {
  const char *state;
  const char *command;
  int shard_i, shard_n;
  double started;
  long total, skipped, ok, oom, error, crashed, remaining;
  double eta_s;                 // < 0: unknown
  double rate;                  // ≤ 0: unknown
  const StatusRunning *running;
  int n_running;
  int exit_code;                // < 0: still running
  const char *failure;          // state "failed": what stopped the run (NULL otherwise)
} RunStatus;

// Writes the status file atomically.
int run_status_write(const char *dir, const RunStatus *st, BenchErr *err);
// Writes the plan file of a run covering sel (fresh: the run recomputes finished jobs).
int run_plan_write(const char *dir, const Suite *s, const RunSelection *sel, int shard_i, int shard_n,
                   int fresh, BenchErr *err);
// Reads a JSON file of .run/ (size-limited); NULL when missing or malformed.
json_t *run_file_load(const char *path);

#endif
