// device.c — device discovery; CUDA queries are compiled in only when nvcc was found.
#include "device.h"

#include <string.h>

const char *device_backends_built(void) {
#ifdef BENCH_CUDA
  return "cpu+cuda";
#else
  return "cpu";
#endif
}

int device_gpu_count(void) {
#ifdef BENCH_CUDA
  return cuda_gpu_count();
#else
  return 0;
#endif
}

int device_gpu_info(int i, GpuInfo *info) {
  memset(info, 0, sizeof *info);
#ifdef BENCH_CUDA
  return cuda_gpu_info(i, info);
#else
  (void)i;
  return -1;
#endif
}

void device_cuda_versions(int *driver, int *runtime, size_t *cublaslt) {
  *driver = *runtime = 0;
  *cublaslt = 0;
#ifdef BENCH_CUDA
  cuda_versions(driver, runtime, cublaslt);
#endif
}
