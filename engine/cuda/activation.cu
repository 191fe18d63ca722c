// activation.cu — elementwise kernels (grid-stride): the evaluation's activations and residual
// add, the trainer's SwiGLU forward and backward. See activation.cuh.
// Legend: T rows, F intermediate, n elements.
#include "activation.cuh"
#include "cuda_common.cuh"

enum { ELEM_THREADS = 256 };  // training

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

// ---- training: SwiGLU forward and backward ----
__device__ __forceinline__ float swiglu_sigmoid(float g) { return 1.0f / (1.0f + expf(-g)); }

template <typename X>
__global__ void swiglu_forward_kernel(X *a, const X *g, const X *u, size_t n) {
  size_t stride = (size_t)gridDim.x * blockDim.x;
  for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
    float gi = to_float(g[i]);
    a[i] = from_float<X>(gi * swiglu_sigmoid(gi) * to_float(u[i]));
  }
}

template <typename X>
__global__ void swiglu_backward_kernel(X *da, X *du, const X *g, const X *u, size_t n) {
  size_t stride = (size_t)gridDim.x * blockDim.x;
  for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
    float gi = to_float(g[i]), ui = to_float(u[i]), d = to_float(da[i]);
    float s = swiglu_sigmoid(gi);
    du[i] = from_float<X>(d * gi * s);
    da[i] = from_float<X>(d * ui * s * (1.0f + gi * (1.0f - s)));
  }
}

extern "C" void cuda_swiglu_fwd(void *a, const void *g, const void *u, DType t, long n) {
  if (n <= 0) return;
  unsigned blocks = cuda_blocks((size_t)n, ELEM_THREADS);
  if (t == DTYPE_BF16)
    swiglu_forward_kernel<bf16><<<blocks, ELEM_THREADS>>>((bf16 *)a, (const bf16 *)g,
                                                          (const bf16 *)u, (size_t)n);
  else
    swiglu_forward_kernel<float><<<blocks, ELEM_THREADS>>>((float *)a, (const float *)g,
                                                           (const float *)u, (size_t)n);
  cudaCheck(cudaGetLastError());
}

extern "C" void cuda_swiglu_bwd(void *da, void *du, const void *g, const void *u, DType t, long n) {
  if (n <= 0) return;
  unsigned blocks = cuda_blocks((size_t)n, ELEM_THREADS);
  if (t == DTYPE_BF16)
    swiglu_backward_kernel<bf16><<<blocks, ELEM_THREADS>>>((bf16 *)da, (bf16 *)du, (const bf16 *)g,
                                                           (const bf16 *)u, (size_t)n);
  else
    swiglu_backward_kernel<float><<<blocks, ELEM_THREADS>>>((float *)da, (float *)du,
                                                            (const float *)g, (const float *)u,
                                                            (size_t)n);
  cudaCheck(cudaGetLastError());
}

