// cuda_mem.cuh — the CUDA device of this process: opening it, memory, copies, errors. C-callable
// (backend_cuda.c includes it); implemented in cuda_mem.cu.
//
// Errors: kernels and copies record their first failure (cuda_check.cuh); cuda_sync waits for the
// device and hands the record over as a BenchErr. An allocation that fails is not recorded:
// cuda_alloc returns NULL and the caller reports "out of memory" with its own numbers; the device
// stays usable. Failures that leave the context unusable (an illegal address in a kernel, say)
// read "cuda error ... (the device needs a fresh process)".
#ifndef BENCH_CUDA_MEM_CUH
#define BENCH_CUDA_MEM_CUH

#include "c_headers.cuh"

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif
#include "util.h"

// Selects the device, creates the cuBLASLt handle and its workspace. Reopening the open device
// does nothing; opening another one closes the first.
int cuda_device_open(int device, BenchErr *err);
void cuda_device_close(void);
// The open device's index, or -1.
int cuda_device_current(void);

// Device memory (NULL when it is not available; the failed request is cleared).
void *cuda_alloc(size_t bytes);
void cuda_free(void *p);
void cuda_upload(void *dst_device, const void *src_host, size_t bytes);
void cuda_download(void *dst_host, const void *src_device, size_t bytes);
void cuda_copy(void *dst_device, const void *src_device, size_t bytes);
void cuda_memset0(void *p, size_t bytes);

// Scratch buffers kept by the device between calls and grown on demand, one per use. NULL (with
// an "out of memory" failure recorded) when one cannot grow. Freed by cuda_device_close.
typedef enum {
  CUDA_SCRATCH_CONVERT,   // matmul: its fp32 input rounded to the weight dtype
  CUDA_SCRATCH_STAGING,   // weight upload: fp32 chunks before conversion
  CUDA_SCRATCH_LM_INPUT,  // LM head: a block of hidden states in the weight dtype
  CUDA_SCRATCH_LM_STATE,  // LM head: running log-sum-exp state per row
  CUDA_SCRATCH_WEIGHT_STATS,  // attention_weight_sums: softmax max and sum per observed query
  CUDA_SCRATCH_FLASH,     // flash attention: q, k, v rounded to the weight dtype
  CUDA_SCRATCH_DECODE_SPLIT,  // decode attention split over keys: each split's m, l and o
  CUDA_SCRATCH_COUNT
} CudaScratch;
void *cuda_scratch(CudaScratch slot, size_t bytes);
// Frees one scratch buffer now (one that is needed rarely, such as the upload's staging).
void cuda_scratch_release(CudaScratch slot);

// Waits for the device; 0, or -1 with the first recorded failure (cleared).
int cuda_sync(BenchErr *err);
// The first recorded failure without waiting (cleared); 0 when none.
int cuda_take_error(BenchErr *err);

// Bytes this process holds on the device now (cuda_alloc and scratch), the most since the last
// reset, and the device's free and total memory.
size_t cuda_mem_live(void);
size_t cuda_mem_peak(void);
void cuda_mem_peak_reset(void);
int cuda_mem_info(size_t *free_bytes, size_t *total_bytes);

#ifdef __cplusplus
}
#endif

#endif
