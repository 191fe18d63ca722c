// runner_worker.h — a worker process of `bench run` (runner.h): runs the jobs its supervisor hands
// over on one device (runner_engine.h) and writes their result files (runner_worker.c).
#ifndef BENCH_RUNNER_WORKER_H
#define BENCH_RUNNER_WORKER_H

#include "run_plan.h"

typedef struct {
  const Suite *suite;
  const char *dir;           // results directory
  const RunJob *jobs;        // [n] the run's jobs; the supervisor hands over indices into them
  long n;
  const char *refused;       // why jobs may not run on the device (RunnerConfig.gpu_refused); NULL: they may
  const ModelDef *model;     // the group's model; NULL for jobs that train their model
  const char *device;        // the group's device ("cpu", "cuda:N")
  int threads;               // engine threads (0: all cores)
  int cmd_fd, evt_fd;        // job assignments in, events out
  double beat_s;             // heartbeat interval (worker_beat.h); 0: no heartbeat
} WorkerSpec;

// The worker process's loop; returns its exit status.
int worker_main(const WorkerSpec *w);

#endif
