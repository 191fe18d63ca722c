// runner_internal.h — what the supervisor (runner.c) and the worker (runner_worker.c) share.
#ifndef BENCH_RUNNER_INTERNAL_H
#define BENCH_RUNNER_INTERNAL_H

#include "runner.h"

typedef struct {
  const RunnerConfig *cfg;
  const ModelDef *model;     // the group's model; NULL for jobs that train their model
  const char *device;        // the group's device ("cpu", "cuda:N")
  int threads;               // engine threads (0: all cores)
  int cmd_fd, evt_fd;        // job assignments in, events out
} WorkerSpec;

// The worker process's loop; returns its exit status.
int worker_main(const WorkerSpec *w);

// A job's result with its identity filled in (job id, suite, phases, spec with the device);
// status, error, metrics and times are the caller's. job_result_release frees what this allocates.
void job_result_begin(JobResult *r, const Suite *s, const Job *j, const char *device);
void job_result_release(JobResult *r);

// The result file's identity (inode and mtime), to tell whether a worker replaced it.
typedef struct {
  int exists;
  unsigned long long ino;
  long long mtime_ns;
} FileStamp;
void file_stamp(const char *path, FileStamp *st);
int file_stamp_changed(const FileStamp *before, const char *path);

#endif
