// runner_engine.c — the engine a worker process evaluates its jobs on: opened once per (model,
// dtype), closed after running out of memory, given up after a device error (runner_engine.h).
#include "runner_engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runner_job.h"

void worker_engine_init(WorkerEngine *we, const char *device, const char *refused) {
  memset(we, 0, sizeof *we);
  snprintf(we->device, sizeof we->device, "%s", device);
  we->refused = refused;
}

// Closes the open engine; on a GPU also the device's handles and scratch buffers, so that nothing
// this process allocated stays on the device.
static void drop(WorkerEngine *we) {
  if (!we->open) return;
  int gpu = we->e.gpu >= 0;
  engine_close(&we->e);
  if (gpu) backend_cuda_close();
  we->open = 0;
  free(we->key);
  we->key = NULL;
}

void worker_engine_close_unless(WorkerEngine *we, const char *key) {
  if (we->open && (!key || strcmp(we->key, key) != 0)) drop(we);
}

// An allocation failure, in the words status_for_error records as oom.
static int is_oom(const char *msg) { return status_for_error(msg) == JOB_OOM; }

int worker_engine_usable(WorkerEngine *we, BenchErr *err) {
  if (!we->unusable[0] && we->refused) snprintf(we->unusable, sizeof we->unusable, "%s", we->refused);
  return we->unusable[0] ? err_set(err, "%s", we->unusable) : 0;
}

int worker_engine_get(WorkerEngine *we, const Model *m, const char *key, DType dtype,
                      const Engine **out, BenchErr *err) {
  if (worker_engine_usable(we, err) != 0) return -1;
  if (we->open && we->dtype == dtype && strcmp(we->key, key) == 0 && we->e.model == m) {
    *out = &we->e;
    return 0;
  }
  drop(we);
  double t0 = mono_time();
  int rc = we->open_fault ? err_set(err, "%s: %s", we->device, we->open_fault)
                          : engine_open(&we->e, m, we->device, dtype, err);
  if (rc != 0) {
    // Memory may be there for the next job (a smaller model or dtype). Anything else is the
    // device: where it opened before in this process, a fresh process may still open it;
    // otherwise it is unusable here.
    if (is_oom(err->msg)) return -1;
    if (we->opened) we->replace = 1;
    else snprintf(we->unusable, sizeof we->unusable, "%s", err->msg);
    return -1;
  }
  we->open = we->opened = 1;
  we->key = xstrdup(key);
  we->dtype = dtype;
  if (we->e.gpu >= 0) {
    double bytes = (double)m->n_params * dtype_size(dtype);
    fprintf(stderr, "%s: weights uploaded in %s (%.2f GiB, %.1f s)\n", we->e.device,
            dtype_name(dtype), bytes / (1024.0 * 1024 * 1024), mono_time() - t0);
    fflush(stderr);
  }
  *out = &we->e;
  return 0;
}

EngineAfter worker_engine_failed(WorkerEngine *we, const char *msg) {
  if (!we->open) return we->replace ? ENGINE_REPLACE : ENGINE_KEPT;
  const char *dev = we->e.device;
  int device_error = strstr(msg, "needs a fresh process") != NULL;
  if (!device_error && is_oom(msg)) {
    fprintf(stderr, "%s: engine closed after running out of memory; it reopens for the next job\n",
            dev);
    fflush(stderr);
    drop(we);
    return ENGINE_CLOSED;
  }
  BenchErr later;
  if (!device_error && we->e.gpu >= 0 && we->e.be->sync(&later) != 0) {
    fprintf(stderr, "%s: the device still reports a failure after the job: %s\n", dev, later.msg);
    fflush(stderr);
    device_error = 1;
  }
  if (!device_error) return ENGINE_KEPT;
  drop(we);
  return ENGINE_REPLACE;
}
