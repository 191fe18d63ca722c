// run_probe.h — facts about this machine a run records and checks before any job: GPUs, CUDA
// versions, and the plan's warnings (which ask the GPUs how much memory they have).
//
// They are gathered in a short-lived child process: a process that has initialised CUDA cannot
// hand a usable CUDA context to the workers it forks later, so the supervisor itself never touches
// the GPU. CPU facts (model name, cores, memory, NVIDIA driver) are read from /proc here.
#ifndef BENCH_RUN_PROBE_H
#define BENCH_RUN_PROBE_H

#include <jansson.h>

#include "matrix.h"
#include "plan_estimate.h"

typedef struct HostProbe {
  json_t *gpus;              // [{"index":i,"name":..,"memory_bytes":n}, ..] (owned)
  int n_gpus;
  int cuda_driver;           // CUDA version the driver supports, as CUDA encodes it (12040); 0 unknown
  int cuda_runtime;          // CUDA runtime linked in; 0 when built without CUDA
  char driver[64];           // NVIDIA kernel driver version ("550.54.15"), "" unknown
  char cpu[160];             // CPU model name, "" unknown
  long cpu_cores;
  double memory_bytes;       // physical memory
  StrList warnings;          // the plan's warnings (plan_warnings.h), one line each
  char problem[256];         // "" when the probe worked; otherwise why the GPU facts are missing
} HostProbe;

// shapes: per suite model, as plan_warnings takes them. device: --device, or --devices' list (its
// first entry is the run's device for the warnings); NULL: auto (device_auto of the GPUs counted).
// The warnings price each job on the device the run puts it on (matrix_place_jobs, in the child).
void host_probe(Matrix *m, const ModelShape *shapes, const char *device, HostProbe *out);
void host_probe_free(HostProbe *p);
// "12.4" from 12040 (into out[16]; "" for 0).
void cuda_version_text(int v, char out[16]);

#endif
