// cuda_mem.cu — the process's CUDA device: open/close, memory with a live/peak count, copies,
// scratch buffers, and the error record behind cudaCheck/cublasCheck. See cuda_mem.cuh.
// All work goes to the legacy default stream, in order; downloads synchronise.
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda_check.cuh"

enum { LT_WORKSPACE_BYTES = 32 << 20 };

typedef struct {
  void *p;
  size_t bytes;
} LiveAlloc;

static struct DeviceState {
  int device = -1;             // -1: none open
  cublasLtHandle_t lt;
  void *lt_ws;
  int failed;                  // a failure is recorded in msg
  char msg[BENCH_ERR_MAX];
  void *scratch[CUDA_SCRATCH_COUNT];
  size_t scratch_bytes[CUDA_SCRATCH_COUNT];
  // live allocations (pointer, bytes): few at a time (weights arena, cache, activations)
  LiveAlloc *live;
  size_t n_live, cap_live;
  size_t live_bytes, peak_bytes;
} dev;

// ---- errors ----

static void record(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void record(const char *fmt, ...) {
  if (dev.failed) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(dev.msg, sizeof dev.msg, fmt, ap);
  va_end(ap);
  dev.failed = 1;
}

// Errors after which the context cannot be used again (the process must be replaced).
static int sticky(cudaError_t e) {
  switch (e) {
    case cudaErrorIllegalAddress:
    case cudaErrorLaunchFailure:
    case cudaErrorHardwareStackError:
    case cudaErrorIllegalInstruction:
    case cudaErrorMisalignedAddress:
    case cudaErrorInvalidAddressSpace:
    case cudaErrorInvalidPc:
    case cudaErrorAssert:
    case cudaErrorECCUncorrectable:
    case cudaErrorLaunchTimeout:
      return 1;
    default:
      return 0;
  }
}

int cuda_check_at(cudaError_t e, const char *call, const char *file, int line) {
  if (e == cudaSuccess) return 0;
  cudaGetLastError();  // clear a non-sticky error so that the next check sees only its own
  if (e == cudaErrorMemoryAllocation)
    record("out of memory on cuda:%d (%s at %s:%d)", dev.device, call, file, line);
  else
    record("cuda error '%s' on cuda:%d: %s (%s at %s:%d)%s", cudaGetErrorName(e), dev.device,
           cudaGetErrorString(e), call, file, line,
           sticky(e) ? " (the device needs a fresh process)" : "");
  return -1;
}

int cublas_check_at(cublasStatus_t s, const char *call, const char *file, int line) {
  if (s == CUBLAS_STATUS_SUCCESS) return 0;
  if (s == CUBLAS_STATUS_ALLOC_FAILED)
    record("out of memory on cuda:%d in cuBLASLt (%s at %s:%d)", dev.device, call, file, line);
  else
    record("cuBLASLt error %d on cuda:%d (%s at %s:%d)", (int)s, dev.device, call, file, line);
  return -1;
}

int cuda_fail_at(const char *file, int line, const char *fmt, ...) {
  char buf[BENCH_ERR_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  record("%s (%s:%d)", buf, file, line);
  return -1;
}

extern "C" int cuda_take_error(BenchErr *err) {
  if (!dev.failed) return 0;
  dev.failed = 0;
  return err_set(err, "%s", dev.msg);
}

extern "C" int cuda_sync(BenchErr *err) {
  cudaCheck(cudaDeviceSynchronize());
  return cuda_take_error(err);
}

// ---- device ----

cublasLtHandle_t cuda_lt_handle(void) { return dev.lt; }

void *cuda_lt_workspace(size_t *bytes) {
  *bytes = dev.lt_ws ? LT_WORKSPACE_BYTES : 0;
  return dev.lt_ws;
}

extern "C" int cuda_device_current(void) { return dev.device; }

extern "C" int cuda_device_open(int device, BenchErr *err) {
  if (dev.device == device) return 0;
  if (dev.device >= 0) cuda_device_close();
  int n = 0;
  cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess) {
    cudaGetLastError();
    return err_set(err, "cuda:%d: no usable CUDA driver or GPU (%s)", device, cudaGetErrorString(e));
  }
  if (device < 0 || device >= n)
    return err_set(err, "cuda:%d does not exist: %d GPU%s found", device, n, n == 1 ? "" : "s");
  e = cudaSetDevice(device);
  if (e != cudaSuccess) {
    cudaGetLastError();
    return err_set(err, "cuda:%d: cannot select the device (%s)", device, cudaGetErrorString(e));
  }
  cublasStatus_t s = cublasLtCreate(&dev.lt);
  if (s != CUBLAS_STATUS_SUCCESS)
    return err_set(err, "cuda:%d: cannot create a cuBLASLt handle (status %d)", device, (int)s);
  e = cudaMalloc(&dev.lt_ws, LT_WORKSPACE_BYTES);
  if (e != cudaSuccess) {
    cudaGetLastError();
    cublasLtDestroy(dev.lt);
    dev.lt_ws = NULL;
    if (e == cudaErrorMemoryAllocation)
      return err_set(err, "out of memory on cuda:%d: the cuBLASLt workspace (%d MiB)", device,
                     LT_WORKSPACE_BYTES >> 20);
    // a context left unusable by an earlier failure in this process fails here too
    return err_set(err, "cuda:%d: cannot allocate the cuBLASLt workspace: %s%s", device,
                   cudaGetErrorString(e), sticky(e) ? " (the device needs a fresh process)" : "");
  }
  dev.device = device;
  dev.failed = 0;
  return 0;
}

extern "C" void cuda_device_close(void) {
  if (dev.device < 0) return;
  for (int i = 0; i < CUDA_SCRATCH_COUNT; i++) cuda_scratch_release((CudaScratch)i);
  cudaFree(dev.lt_ws);
  cublasLtDestroy(dev.lt);
  cudaGetLastError();
  dev.lt_ws = NULL;
  dev.lt = NULL;
  dev.device = -1;
  dev.failed = 0;
}

// ---- memory ----

static void live_add(void *p, size_t bytes) {
  if (dev.n_live == dev.cap_live) {
    dev.cap_live = dev.cap_live ? 2 * dev.cap_live : 64;
    dev.live = (LiveAlloc *)xrealloc(dev.live, dev.cap_live * sizeof *dev.live);
  }
  dev.live[dev.n_live++] = {p, bytes};
  dev.live_bytes += bytes;
  if (dev.live_bytes > dev.peak_bytes) dev.peak_bytes = dev.live_bytes;
}

static void live_remove(void *p) {
  for (size_t i = dev.n_live; i-- > 0;)
    if (dev.live[i].p == p) {
      dev.live_bytes -= dev.live[i].bytes;
      dev.live[i] = dev.live[--dev.n_live];
      return;
    }
}

extern "C" void *cuda_alloc(size_t bytes) {
  void *p = NULL;
  if (cudaMalloc(&p, bytes ? bytes : 1) != cudaSuccess) {
    cudaGetLastError();  // out of memory is the caller's to report; the device stays usable
    return NULL;
  }
  live_add(p, bytes);
  return p;
}

extern "C" void cuda_free(void *p) {
  if (!p) return;
  live_remove(p);
  cudaCheck(cudaFree(p));
}

extern "C" void cuda_upload(void *dst, const void *src, size_t bytes) {
  if (bytes) cudaCheck(cudaMemcpy(dst, src, bytes, cudaMemcpyHostToDevice));
}

extern "C" void cuda_download(void *dst, const void *src, size_t bytes) {
  if (bytes) cudaCheck(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToHost));
}

extern "C" void cuda_copy(void *dst, const void *src, size_t bytes) {
  if (bytes) cudaCheck(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToDevice));
}

extern "C" void cuda_memset0(void *p, size_t bytes) {
  if (bytes) cudaCheck(cudaMemset(p, 0, bytes));
}

extern "C" void *cuda_scratch(CudaScratch slot, size_t bytes) {
  if (bytes <= dev.scratch_bytes[slot]) return dev.scratch[slot];
  if (dev.scratch[slot]) cuda_free(dev.scratch[slot]);
  dev.scratch[slot] = cuda_alloc(bytes);
  dev.scratch_bytes[slot] = dev.scratch[slot] ? bytes : 0;
  if (!dev.scratch[slot])
    cuda_fail("out of memory on cuda:%d: a scratch buffer of %.1f MiB", dev.device,
              bytes / 1048576.0);
  return dev.scratch[slot];
}

extern "C" void cuda_scratch_release(CudaScratch slot) {
  if (dev.scratch[slot]) cuda_free(dev.scratch[slot]);
  dev.scratch[slot] = NULL;
  dev.scratch_bytes[slot] = 0;
}

extern "C" size_t cuda_mem_live(void) { return dev.live_bytes; }
extern "C" size_t cuda_mem_peak(void) { return dev.peak_bytes; }
extern "C" void cuda_mem_peak_reset(void) { dev.peak_bytes = dev.live_bytes; }

extern "C" int cuda_mem_info(size_t *free_bytes, size_t *total_bytes) {
  if (cudaMemGetInfo(free_bytes, total_bytes) != cudaSuccess) {
    cudaGetLastError();
    *free_bytes = *total_bytes = 0;
    return -1;
  }
  return 0;
}
