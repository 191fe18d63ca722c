// cuda_check.cuh — error checks and device state for engine/cuda/*.cu (C++ only; C code includes
// cuda_mem.cuh). Every CUDA runtime and cuBLASLt call, and every launch, goes through cudaCheck or
// cublasCheck: a failure is recorded once (the first since the last cuda_take_error) with the
// call, file and line, and the caller gets -1; nothing exits.
//   cudaCheck(cudaMemcpy(...));  kernel<<<g, b>>>(...); cudaCheck(cudaGetLastError());
#ifndef BENCH_CUDA_CHECK_CUH
#define BENCH_CUDA_CHECK_CUH

#include <cublasLt.h>
#include <cuda_runtime.h>

#include "cuda_mem.cuh"

int cuda_check_at(cudaError_t e, const char *call, const char *file, int line);
int cublas_check_at(cublasStatus_t s, const char *call, const char *file, int line);
#define cudaCheck(call) cuda_check_at((call), #call, __FILE__, __LINE__)
#define cublasCheck(call) cublas_check_at((call), #call, __FILE__, __LINE__)

// Records a failure that is not a CUDA status (an unsupported shape, say), printf-style;
// returns -1.
int cuda_fail_at(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
#define cuda_fail(...) cuda_fail_at(__FILE__, __LINE__, __VA_ARGS__)

// The open device's cuBLASLt handle and workspace (backend_cuda_open made them).
cublasLtHandle_t cuda_lt_handle(void);
void *cuda_lt_workspace(size_t *bytes);

// Launch helpers.
static inline unsigned cuda_blocks(size_t n, unsigned threads, unsigned cap = 65536u * 16u) {
  size_t b = (n + threads - 1) / threads;
  return (unsigned)(b < 1 ? 1 : (b > cap ? cap : b));
}

#endif
