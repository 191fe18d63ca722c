// slurm.h — `bench submit --slurm`: the matrix as a Slurm job array plus a report step.
//
// Packing. The jobs left to run are split into N shards exactly as `bench run --shard I/N` splits
// them (run_plan.h: by job-id hash), and array task I-1 runs shard I. N is at most the cluster's
// MaxArraySize (array indices are 0..MaxArraySize-1); it is chosen to make the largest shard's
// estimated cost smallest (ties: the smaller N), and only shards with jobs left become array
// tasks, so no task starts empty. Every task writes into the one shared results directory; the
// runner's per-shard locks keep shards apart and its resume skips what a requeued task finished.
//
// Files, in DIR/slurm/ (DIR: the results directory):
//   array.sh        the array: `bench run SUITE --shard $((SLURM_ARRAY_TASK_ID+1))/N --results DIR
//                   --no-report`, with --requeue and --signal=B:TERM@LEAD so bench stops cleanly
//                   (runner.h: no new job, the running one may finish for BENCH_STOP_GRACE) before
//                   the time limit; preemption and requeue send SIGTERM too
//   report.sh       `bench report DIR`, submitted with --dependency=afterany:<array id>
//   logs/           array-<array id>_<task>.out (appended across requeues), report-<job id>.out
//   submitted.json  {"schema":"bench.submit/1","suite":..,"suite_path":..,"submitted":T,
//                    "results":..,"reports":..,"array_job_id":"..","report_job_id":".."|null,
//                    "shards":N,"array":"0-3,7%2","max_array_size":n,"command":..,
//                    "tasks":[{"task":i,"shard":"I/N","jobs":[job ids left at submission]},..]}
// Values written into #SBATCH lines are quoted for sbatch's own parser (backslash and double
// quotes); values in shell lines are single-quoted.
#ifndef BENCH_SLURM_H
#define BENCH_SLURM_H

#include <stdio.h>

#include "util.h"

#define SLURM_SUBMIT_SCHEMA "bench.submit/1"
#define SLURM_DEFAULT_MAX_ARRAY_SIZE 1001   // Slurm's own default
#define SLURM_DEFAULT_SIGNAL_LEAD_S 120     // SIGTERM this long before the time limit when unknown

// ---- packing ----
typedef struct {
  int n_shards;        // N: every task runs `--shard I/N`
  int *task_ids;       // [n_tasks] array indices (I-1) of the shards holding jobs, ascending
  int n_tasks;
  long *shard_jobs;    // [n_shards] jobs per shard
  double max_cost;     // the largest shard's estimated cost
} SlurmPack;

// Packs n jobs (their shard keys, run_plan.h's job_shard_key, and estimated costs; a cost ≤ 0
// counts as 1) into at most max_array_size shards.
void slurm_pack(const char *const *ids, const double *costs, long n, int max_array_size, SlurmPack *p);
void slurm_pack_free(SlurmPack *p);
// "0-3,5,7-9" (+ "%P" when max_parallel > 0) from ascending indices (caller frees).
char *slurm_array_spec(const int *ids, int n, int max_parallel);

// ---- scripts ----
typedef struct {
  const char *bench;        // absolute path of the bench binary the tasks run
  const char *suite_path;   // absolute
  const char *suite_name;
  const char *results;      // absolute results directory
  const char *reports;      // absolute reports directory
  const char *workdir;      // absolute: where the tasks start (--chdir)
  const char *partition, *gres, *time, *account;  // NULL: the cluster's defaults
  int max_parallel;         // 0: no limit on tasks running at once
  const SlurmPack *pack;
} SlurmJobSpec;

// Whether v may go into an #SBATCH option unquoted: letters, digits and _ . , : = + / @ -.
int slurm_value_ok(const char *v);
// A Slurm time limit ("minutes", "MM:SS", "HH:MM:SS", "D-HH", "D-HH:MM", "D-HH:MM:SS") in
// seconds; -1 when malformed. "UNLIMITED"/"INFINITE" are refused too (no limit to stop before).
long slurm_time_seconds(const char *t);
// How long before the time limit the tasks get SIGTERM, and how long the running job may go on.
void slurm_signal_plan(long time_s, long *lead_s, long *grace_s);
// "text" for sbatch's #SBATCH parser (backslash before \ and "). Caller frees.
char *sbatch_quote(const char *s);
// The two batch scripts (caller frees). Paths must hold no newline (slurm_check_path).
char *slurm_array_script(const SlurmJobSpec *j);
char *slurm_report_script(const SlurmJobSpec *j);
// Fails on a path a batch script cannot carry (a newline or other control character).
int slurm_check_path(const char *what, const char *path, BenchErr *err);

// ---- the scheduler's commands ----
// Runs argv (execvp) with stdin closed, capturing stdout and stderr, for at most timeout_s.
// Returns the exit status, 127 when the program could not be started, 124 on timeout.
int slurm_exec(char *const argv[], double timeout_s, StrBuf *out, StrBuf *errout);
// The value of "KEY = value" in `scontrol show config` output (caller frees), NULL when absent.
char *slurm_config_value(const char *config_text, const char *key);
// MaxArraySize from `scontrol show config`; -1 with err when scontrol is unavailable or says none.
int slurm_max_array_size(int *out, BenchErr *err);
// The job id from `sbatch --parsable` output ("123" or "123;cluster"); NULL when none.
char *slurm_parse_job_id(const char *out);

// ---- bench status ----
// DIR/slurm/submitted.json (caller frees).
char *slurm_submitted_path(const char *dir);
// Ids of an earlier submission of DIR still known to squeue ("123 124"), into queued; 1 when some
// are, 0 when none or there is no earlier submission, -1 when squeue could not say.
int slurm_still_queued(const char *dir, StrBuf *queued);
// Prints the array's progress (per task: jobs with results / jobs, and the squeue state when
// squeue answers) when DIR holds a submission; nothing otherwise.
void slurm_status_print(const char *dir, FILE *out);

#endif
