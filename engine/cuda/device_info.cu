// device_info.cu — CUDA device discovery for engine/device.c (no kernels; queries only).
#include <cublasLt.h>
#include <cuda_runtime.h>
#include <stdio.h>
#include <string.h>

#include "c_headers.cuh"

extern "C" {
#include "device.h"
}

extern "C" int cuda_gpu_count(void) {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();  // clear: no driver or no GPU is not an error here
    return 0;
  }
  return n;
}

extern "C" int cuda_gpu_info(int i, GpuInfo *info) {
  cudaDeviceProp prop;
  if (cudaGetDeviceProperties(&prop, i) != cudaSuccess) {
    cudaGetLastError();
    return -1;
  }
  info->index = i;
  snprintf(info->name, sizeof info->name, "%.127s", prop.name);
  const unsigned char *u = (const unsigned char *)prop.uuid.bytes;
  snprintf(info->uuid, sizeof info->uuid,
           "GPU-%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[0], u[1], u[2],
           u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
  info->total_bytes = prop.totalGlobalMem;
  info->cc_major = prop.major;
  info->cc_minor = prop.minor;
  int prev = 0;
  cudaGetDevice(&prev);
  size_t free_b = 0, total_b = 0;
  if (cudaSetDevice(i) == cudaSuccess && cudaMemGetInfo(&free_b, &total_b) == cudaSuccess)
    info->free_bytes = free_b;
  else
    cudaGetLastError();
  cudaSetDevice(prev);
  return 0;
}

extern "C" void cuda_versions(int *driver, int *runtime, size_t *cublaslt) {
  if (cudaDriverGetVersion(driver) != cudaSuccess) *driver = 0;
  if (cudaRuntimeGetVersion(runtime) != cudaSuccess) *runtime = 0;
  *cublaslt = cublasLtGetVersion();
  cudaGetLastError();
}
