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
// Why no job may run on device ("cuda:N"): refused[N] when N < n (a GPU whose check failed), else
// NULL (the CPU, or a GPU that passed).
const char *gpu_refusal(const char *const *refused, int n, const char *device);

#endif
