// device.h — which compute devices exist and which backends this binary was built with.
#ifndef BENCH_DEVICE_H
#define BENCH_DEVICE_H

#include <stddef.h>

#include "util.h"

typedef struct {
  int index;
  char name[128];
  char uuid[48];       // "GPU-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx", as nvidia-smi -L prints it; "" unknown
  size_t total_bytes;  // device memory
  size_t free_bytes;
  int cc_major, cc_minor;  // compute capability
} GpuInfo;

// "cpu" or "cpu+cuda".
const char *device_backends_built(void);
// Number of usable CUDA GPUs; 0 when built without CUDA or when no driver/GPU is present.
int device_gpu_count(void);
// Resolves a device as suites and --device write it: "auto" (cuda:0 when a GPU is usable, else
// cpu), "cpu", "cuda" (cuda:0) or "cuda:N". Writes the resolved name ("cpu", "cuda:N") to out
// and the GPU index (-1 for the CPU) to *gpu. -1 with err for an unknown name, a GPU that does
// not exist, or cuda in a build without CUDA.
#define DEVICE_NAME_MAX 24
int device_resolve(const char *spec, char out[DEVICE_NAME_MAX], int *gpu, BenchErr *err);
// What `auto` stands for on a machine with n_gpus usable GPUs: "cuda:0" when there is one, else
// "cpu". The one rule of bench run (its default device) and bench plan (its estimates).
const char *device_auto(int n_gpus);
// Where a job whose suite asks for `want` (auto, cpu, cuda or cuda:N; NULL: auto) runs when the
// run's device is `dflt` (a resolved name: --device, else device_auto): auto → dflt; cuda → dflt
// when that is a GPU, else cuda:0; cpu and cuda:N as asked. Into out.
void device_for_job(const char *want, const char *dflt, char out[DEVICE_NAME_MAX]);
// The NVIDIA kernel driver's version ("550.54.15", from /proc/driver/nvidia/version) into out;
// "" when there is none.
void device_nvidia_driver(char out[64]);
// Fills info for GPU i; -1 when it cannot be queried.
int device_gpu_info(int i, GpuInfo *info);
// Driver and runtime versions as CUDA encodes them (e.g. 12040); 0 when unknown.
void device_cuda_versions(int *driver, int *runtime, size_t *cublaslt);
// 1 once this process has called into the CUDA runtime through the functions above (and so
// through device_resolve and engine_open), which initialises it. A process that has done so cannot
// hand a working CUDA context to the children it forks: a process that forks workers asks this
// first (the runner's supervisor counts GPUs in a short-lived child instead).
int device_cuda_touched(void);

// Implemented in engine/cuda/device_info.cu when built with CUDA.
int cuda_gpu_count(void);
int cuda_gpu_info(int i, GpuInfo *info);
void cuda_versions(int *driver, int *runtime, size_t *cublaslt);

#endif
