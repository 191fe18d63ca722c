// cuda_common.cuh — device-side helpers shared by the kernels: typed weight loads, warp and block
// reductions, and the accumulator type's math (Acc = float normally, double in fp64 check mode).
#ifndef BENCH_CUDA_COMMON_CUH
#define BENCH_CUDA_COMMON_CUH

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <math.h>

#include "cuda_check.cuh"

#define FULL_MASK 0xffffffffu

typedef __nv_bfloat16 bf16;  // the trainer's bf16 act buffers

// One element of weight memory as float (bf16 and fp16 convert exactly).
__device__ __forceinline__ float to_float(float x) { return x; }
__device__ __forceinline__ float to_float(__nv_bfloat16 x) { return __bfloat162float(x); }
__device__ __forceinline__ float to_float(__half x) { return __half2float(x); }

// fp32 → weight type, round to nearest even.
template <typename W> __device__ __forceinline__ W from_float(float x);
template <> __device__ __forceinline__ float from_float<float>(float x) { return x; }
template <> __device__ __forceinline__ __nv_bfloat16 from_float<__nv_bfloat16>(float x) {
  return __float2bfloat16_rn(x);
}
template <> __device__ __forceinline__ __half from_float<__half>(float x) {
  return __float2half_rn(x);
}

__device__ __forceinline__ float acc_exp(float x) { return expf(x); }
__device__ __forceinline__ double acc_exp(double x) { return exp(x); }
__device__ __forceinline__ float acc_log(float x) { return logf(x); }
__device__ __forceinline__ double acc_log(double x) { return log(x); }
__device__ __forceinline__ float acc_rsqrt_of(float x) { return 1.0f / sqrtf(x); }
__device__ __forceinline__ double acc_rsqrt_of(double x) { return 1.0 / sqrt(x); }

// Reductions over a warp; every lane gets lane 0's result (xor-butterfly sums may differ in the
// last bit between lanes otherwise).
template <typename T> __device__ __forceinline__ T warp_sum(T v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(FULL_MASK, v, o);
  return __shfl_sync(FULL_MASK, v, 0);
}
template <typename T> __device__ __forceinline__ T warp_max(T v) {
  for (int o = 16; o > 0; o >>= 1) v = fmax(v, __shfl_xor_sync(FULL_MASK, v, o));
  return v;
}

// Sum over the block (blockDim.x a multiple of 32, at most 1024); every thread gets the result.
// Safe to call repeatedly in one kernel.
template <typename T> __device__ T block_sum(T v) {
  __shared__ T part[32];
  int lane = threadIdx.x % 32, warp = threadIdx.x / 32, nw = blockDim.x / 32;
  v = warp_sum(v);
  __syncthreads();  // the previous call's readers are done with part[]
  if (lane == 0) part[warp] = v;
  __syncthreads();
  T r = lane < nw ? part[lane] : (T)0;
  return warp_sum(r);
}

#endif
