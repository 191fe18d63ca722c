// runner.h — the supervisor of `bench run`: runs jobs in worker processes so that nothing a job
// does (running out of memory, a segfault, a sticky CUDA error, an abort) loses a finished result
// or stops the remaining jobs.
//
// Processes. The supervisor never loads a model or touches a GPU. Per lane (one per --devices
// entry, else one) it forks one worker at a time for a (model, device) group; the worker loads the
// model once and runs that group's jobs as the supervisor hands them over:
//   supervisor → worker   "job INDEX ATTEMPT\n" on a pipe; closing the pipe tells it to exit
//   worker → supervisor   "load ok PARAMS SECONDS" | "load fail\tMESSAGE", "start INDEX",
//                         "prog INDEX WINDOWS_DONE WINDOWS_TOTAL TOKENS FORWARD_S",
//                         "retire\tMESSAGE" (before "done": hand this worker no more jobs),
//                         "done INDEX WROTE\tMESSAGE" (WROTE 0: the result could not be written)
//   worker stderr         forwarded line by line to run.log; the last line names a crash's cause
// The worker writes each job's result file itself, atomically (results.h), then says "done".
//
// Devices. A worker evaluates on one device, the lane's ("cpu" or "cuda:N", one CUDA device per
// process), through an Engine (engine.h) opened once per model and dtype (runner_engine.h). The
// supervisor never initialises CUDA: a process that has cannot hand a working CUDA context to the
// workers it forks, so the GPUs are counted in a short-lived child (run_probe.h), and runner_run
// refuses to start in a process that has called into CUDA (device_cuda_touched).
//
// Failures. A job that fails inside the engine is recorded by the worker with status error, or oom
// when an allocation failed (the message says "out of memory" or "cannot allocate"), and the worker
// goes on: after oom on a closed and reopened engine; after a device error (a CUDA context that
// failed) it says "retire" and exits once the job is recorded, and a fresh worker, with a fresh
// context, takes the next job. A device that cannot be opened fails every job of its worker with
// the reason. A worker that dies — killed by a signal or exiting non-zero — while running a job gets
// the job recorded `crashed` by the supervisor (signal or exit status, and the worker's last stderr
// line), and a fresh worker takes the next job; the crashed job is tried again at the end of the
// queue, and given up after RUNNER_MAX_CRASHES crashes in one run. A worker that dies while loading
// its model is restarted; after RUNNER_MAX_CRASHES such deaths every job of that model is recorded
// crashed. A job whose result file was replaced before its worker died keeps that result. A worker
// that shows no sign of life (worker_beat.h: no CPU time used, nothing read) for stall_s while it
// loads its model or runs a job is taken for hung: it is killed and the job recorded crashed like
// any other crash, the reason saying so. Progress is the worker's heartbeat, never the job's length,
// so however slow a window is, a working job is not killed.
//
// Stopping. On SIGINT, SIGTERM or SIGHUP the supervisor hands out no more jobs, lets running jobs
// finish for up to stop_grace_s seconds, then kills the workers; an abandoned job records nothing
// (its previous result, if any, stays). A second signal abandons at once. Workers ignore these
// signals (a terminal's Ctrl-C reaches the whole process group) and are killed by the kernel if the
// supervisor dies (PR_SET_PDEATHSIG), so a kill -9 never leaves a worker running.
#ifndef BENCH_RUNNER_H
#define BENCH_RUNNER_H

#include <stddef.h>

#include "matrix.h"
#include "results.h"
#include "run_lock.h"
#include "run_log.h"
#include "run_plan.h"
#include "run_space.h"

#define RUNNER_MAX_CRASHES 2
// The stall limit when BENCH_JOB_STALL_S is not set: 10 minutes without a sign of life.
#define RUNNER_DEFAULT_STALL_S 600.0

typedef struct {
  const Suite *suite;
  const Matrix *mx;
  const char *dir;           // results directory
  const RunJob *jobs;        // [n] the jobs to run now, in run order
  long n;
  long total, skipped;       // the run's whole selection; already done before it started
  const Lanes *lanes;
  RunLog *log;
  RunLock *lock;             // workers close it without unlocking
  const char *command;       // "bench run ..." for the status file
  int shard_i, shard_n;
  double started;            // wall time
  double stop_grace_s;       // after a stop signal, how long running jobs may go on
  size_t mem_limit;          // address-space limit of each CPU worker (RLIMIT_AS); 0: none
  double stall_s;            // a worker with no sign of life this long is killed; 0: never
  const char *const *gpu_refused;  // [n_gpu_refused] per GPU index: why no job may run on it (its
  int n_gpu_refused;               // check failed, cmd_run.c), NULL where jobs may; such jobs are
                                   // recorded error before any worker starts
  RunSpace *space;           // the run's reserve (run_space.h): given back when a result cannot be
                             // written, so that the run's last files still fit
} RunnerConfig;

typedef struct {
  long ok, oom, error, crashed;  // final results recorded in this run
  long abandoned;                // running jobs given up when the run was stopped
  long unkept;                   // jobs computed whose result could not be written
  int stop_signal;               // the signal that stopped the run; 0 when it ran to the end
  char failure[BENCH_ERR_MAX];   // what stopped the run on an error ("" when nothing did): a
                                 // result that could not be written (a full disk) stops it there,
                                 // running jobs abandoned, as nothing more could be kept
  int in_worker;                 // 1: this process is a worker that has finished: clean up and
  int worker_exit;               //    exit with worker_exit (never write run files from here)
} RunOutcome;

// Runs the jobs. Returns 0 (out says how it went), or -1 with err when the run could not start.
int runner_run(const RunnerConfig *c, RunOutcome *out, BenchErr *err);

#endif
