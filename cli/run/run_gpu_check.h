// run_gpu_check.h — the GPU check before a run's first job (cli/doctor/doctor.h), for each GPU the
// jobs left to run will use, each in a child process (the supervisor never touches CUDA): parts
// 1–2, and part 3 for every (model, dtype) of the jobs that may run there (jobs that train their
// model have no checkpoint yet). GPUs the probe did not count are left to the engine, whose error
// each of their jobs records.
#ifndef BENCH_RUN_GPU_CHECK_H
#define BENCH_RUN_GPU_CHECK_H

#include <jansson.h>

#include "run_log.h"
#include "run_plan.h"

typedef struct {
  char **refused;   // [n]: why GPU N runs nothing, NULL when it passed
  int n;
  json_t *manifest; // {"cuda:N": {..}} or NULL when no GPU is used
  char *summary;    // "passed — .." (one GPU) or "cuda:0 passed — ..; cuda:1 FAILED — .."
} GpuChecks;

// Checks the GPUs jobs[0..n) use on their lanes (n_gpus: those the probe counted), logging each
// outcome (a GPU that fails: a warning naming why no job runs there); fills g (all empty when no
// job uses a GPU).
void gpu_checks_run(const RunJob *jobs, long n, const Lanes *lanes, int n_gpus, RunLog *lg, GpuChecks *g);
void gpu_checks_free(GpuChecks *g);

#endif
