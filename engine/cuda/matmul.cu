// matmul.cu — the backend's products y[T, N] = x[T, Cin] · w[N, Cin]ᵀ (+ b), through
// cuda_gemm_ex (gemm.cu). See matmul.cuh.
#include "convert.cuh"
#include "cuda_common.cuh"
#include "matmul.cuh"

extern "C" void cuda_gemm(float *y, const void *x, const void *w, DType dtype, long T, int Cin,
                          int N) {
  cuda_gemm_ex(0, 1, T, N, Cin, x, Cin, w, Cin, dtype, 0.0f, y, N, DTYPE_F32);
}

// y[T, N] += b[N]
__global__ void bias_add_forward_kernel(float *y, const float *b, size_t n, int N) {
  size_t stride = (size_t)gridDim.x * blockDim.x;
  for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride)
    y[i] += b[i % N];
}

extern "C" void cuda_bias_add(float *y, const float *b, long T, int N) {
  size_t n = (size_t)T * N;
  if (n == 0) return;
  bias_add_forward_kernel<<<cuda_blocks(n, 256), 256>>>(y, b, n, N);
  cudaCheck(cudaGetLastError());
}

extern "C" void cuda_matmul(float *y, const float *x, const void *w, DType wdtype, const float *b,
                            long T, int Cin, int N) {
  if (T <= 0 || N <= 0) return;
  const void *xin = x;
  if (wdtype != DTYPE_F32) {
    size_t n = (size_t)T * Cin;
    void *xs = cuda_scratch(CUDA_SCRATCH_CONVERT, n * dtype_size(wdtype));
    if (!xs) return;
    cuda_convert_from_f32(xs, wdtype, x, n);
    xin = xs;
  }
  cuda_gemm(y, xin, w, wdtype, T, Cin, N);
  if (b) cuda_bias_add(y, b, T, N);
}
