// runner_engine.h — the engine a worker process of `bench run` evaluates its jobs on
// (runner_engine.c).
//
// A worker evaluates every job through one Engine (engine.h) on its device at a time: opened for
// the first job on a (model, dtype) pair and reused by the jobs that follow on that pair (weights
// uploaded once; the run order keeps them together, run_plan.h), closed when the pair changes and
// when the worker ends. After a job fails:
//   out of memory   the engine is closed (on a GPU with the device's scratch buffers and handles)
//                   so that the next job starts on a clean device; it reopens for that job
//   device error    the failure says the device needs a fresh process, or (GPU) the device still
//                   reports a failure once the job has ended: the engine is closed and the worker
//                   is to be replaced (a CUDA context that failed cannot be trusted; a fresh
//                   process gets a new one)
//   anything else   (a dataset too short, a bad RoPE) leaves the engine open
// An engine that cannot be reopened for another reason than memory, on a device that opened
// before in this process, fails that job and the worker is to be replaced as after a device error.
// An engine that cannot be opened at all (no such GPU, GPU runs not enabled, a device that does not
// answer a fresh process) fails that job and every later job of the worker with the same message:
// the device is unusable here, and the run goes on.
#ifndef BENCH_RUNNER_ENGINE_H
#define BENCH_RUNNER_ENGINE_H

#include "device.h"
#include "engine.h"

typedef struct {
  char device[DEVICE_NAME_MAX];  // the worker's device: "cpu" or "cuda:N"
  const char *refused;           // why jobs may not run on this device (its GPU check failed,
                                 // RunnerConfig.gpu_refused); NULL: they may
  const char *open_fault;        // test hook: opening fails with this message; NULL: never
  Engine e;
  int open;
  int opened;                    // an engine was open in this process before
  int replace;                   // reopening failed where it had worked: replace the worker
  char *key;                     // the open engine's model: "model:NAME" or "train:ID"
  DType dtype;
  char unusable[BENCH_ERR_MAX];  // non-empty: the device could not be opened; every job fails so
} WorkerEngine;

typedef enum {
  ENGINE_KEPT,      // the engine stays open for the next job
  ENGINE_CLOSED,    // closed after running out of memory; the next job reopens it
  ENGINE_REPLACE,   // a device error: closed; this worker must give way to a fresh process
} EngineAfter;

void worker_engine_init(WorkerEngine *we, const char *device, const char *refused);
// 0 when jobs may still run on the device; -1 with the reason when not (GPU runs not enabled, or
// the device could not be opened before).
int worker_engine_usable(WorkerEngine *we, BenchErr *err);
// The engine for model m, known across reloads by key, in dtype: the open one when it matches,
// else a new one (the old one closed first). -1 with err when it cannot be opened.
int worker_engine_get(WorkerEngine *we, const Model *m, const char *key, DType dtype,
                      const Engine **out, BenchErr *err);
// What becomes of the engine after a job failed with msg (see above).
EngineAfter worker_engine_failed(WorkerEngine *we, const char *msg);
// Closes the engine unless it is open on key (NULL: always): before the model behind it is
// replaced (a trained model is loaded into the same Model) and at the end.
void worker_engine_close_unless(WorkerEngine *we, const char *key);

#endif
