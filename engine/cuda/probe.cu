// probe.cu — random fills, event timing and copies for benchmarks. See probe.cuh.
#include <stdlib.h>

#include "cuda_common.cuh"
#include "probe.cuh"

// splitmix64 of (seed, i) → uniform in [−a, a)
__device__ __forceinline__ float hash_uniform(uint64_t seed, size_t i, float a) {
  uint64_t z = seed + 0x9e3779b97f4a7c15ull * (uint64_t)(i + 1);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  z ^= z >> 31;
  float u = (float)(z >> 40) * (1.0f / 16777216.0f);  // [0, 1)
  return (2.0f * u - 1.0f) * a;
}

template <typename W>
__global__ void fill_random_kernel(W *p, size_t n, uint64_t seed, float a) {
  size_t stride = (size_t)gridDim.x * blockDim.x;
  for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride)
    p[i] = from_float<W>(hash_uniform(seed, i, a));
}

extern "C" void cuda_fill_random(void *p, DType dtype, size_t n, uint64_t seed, float std) {
  if (n == 0) return;
  float a = std * 1.7320508f;
  unsigned blocks = cuda_blocks(n, 256, 65536u);
  switch (dtype) {
    case DTYPE_BF16:
      fill_random_kernel<__nv_bfloat16><<<blocks, 256>>>((__nv_bfloat16 *)p, n, seed, a);
      break;
    case DTYPE_F16:
      fill_random_kernel<__half><<<blocks, 256>>>((__half *)p, n, seed, a);
      break;
    default:
      fill_random_kernel<float><<<blocks, 256>>>((float *)p, n, seed, a);
      break;
  }
  cudaCheck(cudaGetLastError());
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

extern "C" double cuda_time_ms(void (*fn)(void *arg), void *arg, int warmup, int reps) {
  if (reps < 1) reps = 1;
  for (int i = 0; i < warmup; i++) fn(arg);
  cudaEvent_t start = NULL, stop = NULL;
  double *ms = (double *)xmalloc(sizeof(double) * (size_t)reps);
  double result = -1.0;
  if (cudaCheck(cudaEventCreate(&start)) || cudaCheck(cudaEventCreate(&stop))) goto out;
  for (int i = 0; i < reps; i++) {
    float t = 0.0f;
    if (cudaCheck(cudaEventRecord(start))) goto out;
    fn(arg);
    if (cudaCheck(cudaEventRecord(stop)) || cudaCheck(cudaEventSynchronize(stop)) ||
        cudaCheck(cudaEventElapsedTime(&t, start, stop)))
      goto out;
    ms[i] = t;
  }
  qsort(ms, (size_t)reps, sizeof(double), cmp_double);
  result = reps % 2 ? ms[reps / 2] : 0.5 * (ms[reps / 2 - 1] + ms[reps / 2]);
out:
  if (start) cudaCheck(cudaEventDestroy(start));
  if (stop) cudaCheck(cudaEventDestroy(stop));
  free(ms);
  return result;
}

extern "C" void cuda_copy_d2d(void *dst, const void *src, size_t bytes) {
  if (bytes) cudaCheck(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, 0));
}
