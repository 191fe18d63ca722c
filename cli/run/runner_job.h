// runner_job.h — what the supervisor of `bench run` (runner.c) and its workers (runner_worker.c,
// runner_engine.c) both say about a job: its result's identity, the status of a failure, and why
// it cannot run on a GPU (runner_job.c).
#ifndef BENCH_RUNNER_JOB_H
#define BENCH_RUNNER_JOB_H

#include "matrix.h"
#include "results.h"

// A job's result with its identity filled in (job id, suite, phases, spec with the device);
// status, error, metrics and times are the caller's. job_result_release frees what this allocates.
void job_result_begin(JobResult *r, const Suite *s, const Job *j, const char *device);
void job_result_release(JobResult *r);
// The status a failed job gets from its one-line error: oom for failed allocations, else error.
JobStatus status_for_error(const char *msg);
// -1 with the error of a job, or of --device, naming a GPU device while GPU runs are off.
int gpu_runs_off(const char *device, BenchErr *err);
// The warning of a run that found n_gpus GPUs while GPU runs are off, so that jobs on `auto` run
// on the CPU (an overnight run on a GPU server must not learn that in the morning). Static text.
const char *gpu_runs_off_warning(int n_gpus);

#endif
