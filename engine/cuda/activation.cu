// activation.cu — elementwise kernels (grid-stride). See activation.cuh.
#include "activation.cuh"
#include "cuda_common.cuh"

__global__ void silu_mul_forward_kernel(float *a, const float *b, size_t n) {
  size_t stride = (size_t)gridDim.x * blockDim.x;
  for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
    float x = a[i];
    a[i] = x / (1.0f + expf(-x)) * b[i];
  }
}

__global__ void gelu_forward_kernel(float *a, size_t n) {
  size_t stride = (size_t)gridDim.x * blockDim.x;
  for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
    float x = a[i];
    a[i] = 0.5f * x * (1.0f + erff(x * (float)M_SQRT1_2));
  }
}

__global__ void add_forward_kernel(float *y, const float *x, size_t n) {
  size_t stride = (size_t)gridDim.x * blockDim.x;
  for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) y[i] += x[i];
}

extern "C" void cuda_silu_mul(float *a, const float *b, long T, int F) {
  size_t n = (size_t)T * F;
  if (n == 0) return;
  silu_mul_forward_kernel<<<cuda_blocks(n, 256), 256>>>(a, b, n);
  cudaCheck(cudaGetLastError());
}

extern "C" void cuda_gelu(float *a, long T, int F) {
  size_t n = (size_t)T * F;
  if (n == 0) return;
  gelu_forward_kernel<<<cuda_blocks(n, 256), 256>>>(a, n);
  cudaCheck(cudaGetLastError());
}

extern "C" void cuda_add(float *y, const float *x, long n) {
  if (n <= 0) return;
  add_forward_kernel<<<cuda_blocks((size_t)n, 256), 256>>>(y, x, (size_t)n);
  cudaCheck(cudaGetLastError());
}
