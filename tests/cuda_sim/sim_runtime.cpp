// sim_runtime.cpp — the part of the CUDA runtime API that bench calls, for the CUDA simulator
// (see cuda_sim.h): one simulated device, "cuda_sim", whose memory is host memory.
//   CUDA_SIM_MEMORY_MB   device memory in MiB (default 8192): cudaMalloc past it fails with
//                        cudaErrorMemoryAllocation, so out-of-memory paths run for real
//   CUDA_SIM_DEVICES     number of devices cudaGetDeviceCount reports (default 1; 0: no GPU)
// Checks a GPU makes as well: copies whose device side is not inside one live allocation (a
// swapped direction, a size past the end) fail with cudaErrorInvalidValue and a message.
// Fresh allocations are filled with 0xff bytes (NaN in every float type): reading memory never
// written shows.
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <map>

#include "cuda_sim.h"
#include "sim_internal.h"

namespace cuda_sim {

namespace {

std::map<const char *, size_t> g_allocs;  // live allocations: start → bytes
size_t g_used = 0;
cudaError_t g_last = cudaSuccess;    // returned (and cleared) by cudaGetLastError
cudaError_t g_sticky = cudaSuccess;  // a kernel fault: every later call fails
int g_device = 0;

size_t capacity() {
  const char *e = getenv("CUDA_SIM_MEMORY_MB");
  long mb = e ? atol(e) : 8192;
  return (size_t)(mb > 0 ? mb : 8192) << 20;
}

int device_count() {
  const char *e = getenv("CUDA_SIM_DEVICES");
  return e ? atoi(e) : 1;
}

cudaError_t fail(cudaError_t e) {
  g_last = e;
  return e;
}

void vreport(const char *what, const char *fmt, va_list ap) {
  fprintf(stderr, "cuda_sim: %s: ", what);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
}

}  // namespace

cudaError_t sim_sticky_error() { return g_sticky; }

void sim_launch_error(cudaError_t e, const char *kernel, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char what[256];
  snprintf(what, sizeof what, "launch of %s refused", kernel);
  vreport(what, fmt, ap);
  va_end(ap);
  g_last = e;
}

void sim_kernel_fault(const char *kernel, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char what[256];
  snprintf(what, sizeof what, "kernel %s faulted", kernel);
  vreport(what, fmt, ap);
  va_end(ap);
  g_sticky = g_last = cudaErrorLaunchFailure;
}

bool is_device_range(const void *p, size_t bytes) {
  const char *c = static_cast<const char *>(p);
  auto it = g_allocs.upper_bound(c);
  if (it == g_allocs.begin()) return false;
  --it;
  return c >= it->first && c + bytes <= it->first + it->second;
}

}  // namespace cuda_sim

using namespace cuda_sim;

#define STICKY()                                              \
  do {                                                        \
    if (g_sticky != cudaSuccess) return fail(g_sticky);       \
  } while (0)

static void copy_error(const char *call, const void *dst, const void *src, size_t n,
                       const char *side) {
  fprintf(stderr, "cuda_sim: %s(dst %p, src %p, %zu bytes): the %s is not inside one device "
          "allocation\n", call, dst, src, n, side);
}

static cudaError_t check_copy(const char *call, void *dst, const void *src, size_t n,
                              cudaMemcpyKind kind) {
  if (n == 0) return cudaSuccess;
  bool dst_dev = kind == cudaMemcpyHostToDevice || kind == cudaMemcpyDeviceToDevice;
  bool src_dev = kind == cudaMemcpyDeviceToHost || kind == cudaMemcpyDeviceToDevice;
  if (kind == cudaMemcpyDefault) {
    dst_dev = src_dev = false;
  }
  if (dst_dev && !is_device_range(dst, n)) {
    copy_error(call, dst, src, n, "destination");
    return fail(cudaErrorInvalidValue);
  }
  if (src_dev && !is_device_range(src, n)) {
    copy_error(call, dst, src, n, "source");
    return fail(cudaErrorInvalidValue);
  }
  if (kind == cudaMemcpyHostToDevice && is_device_range(src, 1)) {
    copy_error(call, dst, src, n, "source a host buffer (it is device memory)");
    return fail(cudaErrorInvalidValue);
  }
  if (kind == cudaMemcpyDeviceToHost && is_device_range(dst, 1)) {
    copy_error(call, dst, src, n, "destination a host buffer (it is device memory)");
    return fail(cudaErrorInvalidValue);
  }
  return cudaSuccess;
}

extern "C" {

cudaError_t cudaGetDeviceCount(int *count) {
  *count = device_count();
  return *count > 0 ? cudaSuccess : fail(cudaErrorNoDevice);
}

cudaError_t cudaSetDevice(int device) {
  if (device < 0 || device >= device_count()) return fail(cudaErrorInvalidDevice);
  g_device = device;
  return cudaSuccess;
}

cudaError_t cudaGetDevice(int *device) {
  *device = g_device;
  return cudaSuccess;
}

cudaError_t cudaGetDeviceProperties(cudaDeviceProp *prop, int device) {
  if (device < 0 || device >= device_count()) return fail(cudaErrorInvalidDevice);
  memset(prop, 0, sizeof *prop);
  snprintf(prop->name, sizeof prop->name, "cuda_sim (the CUDA simulator, on the CPU)");
  prop->totalGlobalMem = capacity();
  prop->major = 9;
  prop->minor = 0;
  prop->multiProcessorCount = 1;
  prop->warpSize = 32;
  prop->maxThreadsPerBlock = 1024;
  prop->sharedMemPerBlock = 48 << 10;
  prop->sharedMemPerBlockOptin = 227 << 10;
  return cudaSuccess;
}

cudaError_t cudaDriverGetVersion(int *v) {
  *v = CUDART_VERSION;
  return cudaSuccess;
}

cudaError_t cudaRuntimeGetVersion(int *v) {
  *v = CUDART_VERSION;
  return cudaSuccess;
}

cudaError_t cudaMemGetInfo(size_t *free_bytes, size_t *total) {
  STICKY();
  *total = capacity();
  *free_bytes = *total - g_used;
  return cudaSuccess;
}

cudaError_t cudaMalloc(void **p, size_t bytes) {
  STICKY();
  *p = nullptr;
  if (bytes == 0) return cudaSuccess;
  if (g_used + bytes > capacity()) return fail(cudaErrorMemoryAllocation);
  void *m = nullptr;
  if (posix_memalign(&m, 256, bytes) != 0) return fail(cudaErrorMemoryAllocation);
  memset(m, 0xff, bytes);
  g_allocs[static_cast<char *>(m)] = bytes;
  g_used += bytes;
  *p = m;
  return cudaSuccess;
}

cudaError_t cudaFree(void *p) {
  if (!p) return cudaSuccess;
  auto it = g_allocs.find(static_cast<char *>(p));
  if (it == g_allocs.end()) {
    fprintf(stderr, "cuda_sim: cudaFree(%p): not the start of a live device allocation\n", p);
    return fail(cudaErrorInvalidValue);
  }
  g_used -= it->second;
  g_allocs.erase(it);
  free(p);
  return g_sticky != cudaSuccess ? fail(g_sticky) : cudaSuccess;
}

cudaError_t cudaMemcpy(void *dst, const void *src, size_t n, cudaMemcpyKind kind) {
  STICKY();
  cudaError_t e = check_copy("cudaMemcpy", dst, src, n, kind);
  if (e != cudaSuccess) return e;
  if (n) memmove(dst, src, n);
  return cudaSuccess;
}

cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t n, cudaMemcpyKind kind,
                            cudaStream_t) {
  STICKY();
  cudaError_t e = check_copy("cudaMemcpyAsync", dst, src, n, kind);
  if (e != cudaSuccess) return e;
  if (n) memmove(dst, src, n);
  return cudaSuccess;
}

cudaError_t cudaMemset(void *p, int value, size_t n) {
  STICKY();
  if (n && !is_device_range(p, n)) {
    fprintf(stderr, "cuda_sim: cudaMemset(%p, %zu bytes): not inside one device allocation\n", p,
            n);
    return fail(cudaErrorInvalidValue);
  }
  memset(p, value, n);
  return cudaSuccess;
}

cudaError_t cudaDeviceSynchronize(void) {
  STICKY();
  return cudaSuccess;
}

cudaError_t cudaGetLastError(void) {
  cudaError_t e = g_last;
  g_last = g_sticky;
  return e;
}

cudaError_t cudaPeekAtLastError(void) { return g_last; }

cudaError_t cudaFuncSetAttribute(const void *func, cudaFuncAttribute attr, int value) {
  STICKY();
  if (attr == cudaFuncAttributeMaxDynamicSharedMemorySize) {
    if (value < 0 || value > (227 << 10)) return fail(cudaErrorInvalidValue);
    set_max_dynamic_smem(func, value);
  }
  return cudaSuccess;
}

// Events: host clock readings (the simulator runs launches synchronously).
struct CUevent_st {
  double t;
};

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

cudaError_t cudaEventCreate(cudaEvent_t *e) {
  *e = new CUevent_st{0};
  return cudaSuccess;
}
cudaError_t cudaEventDestroy(cudaEvent_t e) {
  delete e;
  return cudaSuccess;
}
cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t) {
  STICKY();
  e->t = now_ms();
  return cudaSuccess;
}
cudaError_t cudaEventSynchronize(cudaEvent_t) {
  STICKY();
  return cudaSuccess;
}
cudaError_t cudaEventElapsedTime(float *ms, cudaEvent_t a, cudaEvent_t b) {
  *ms = (float)(b->t - a->t);
  return cudaSuccess;
}

const char *cudaGetErrorName(cudaError_t e) {
  switch (e) {
    case cudaSuccess: return "cudaSuccess";
    case cudaErrorInvalidValue: return "cudaErrorInvalidValue";
    case cudaErrorMemoryAllocation: return "cudaErrorMemoryAllocation";
    case cudaErrorInvalidConfiguration: return "cudaErrorInvalidConfiguration";
    case cudaErrorLaunchFailure: return "cudaErrorLaunchFailure";
    case cudaErrorNoDevice: return "cudaErrorNoDevice";
    case cudaErrorInvalidDevice: return "cudaErrorInvalidDevice";
    default: return "cudaErrorUnknown";
  }
}

const char *cudaGetErrorString(cudaError_t e) {
  switch (e) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorInvalidConfiguration: return "invalid configuration argument";
    case cudaErrorLaunchFailure: return "unspecified launch failure";
    case cudaErrorNoDevice: return "no CUDA-capable device is detected";
    case cudaErrorInvalidDevice: return "invalid device ordinal";
    default: return "unknown error";
  }
}

}  // extern "C"
