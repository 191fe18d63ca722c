// convert.cu — fp32 ↔ bf16/fp16 conversion kernels. See convert.cuh.
#include "convert.cuh"
#include "cuda_common.cuh"

// dst[n] = W(src[n]), round to nearest even (grid-stride).
template <typename W>
__global__ void convert_from_f32_kernel(W *dst, const float *src, size_t n) {
  size_t stride = (size_t)gridDim.x * blockDim.x;
  for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride)
    dst[i] = from_float<W>(src[i]);
}

template <typename W>
__global__ void convert_to_f32_kernel(float *dst, const W *src, size_t n) {
  size_t stride = (size_t)gridDim.x * blockDim.x;
  for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride)
    dst[i] = to_float(src[i]);
}

extern "C" void cuda_convert_from_f32(void *dst, DType dtype, const float *src, size_t n) {
  if (n == 0) return;
  const unsigned threads = 256;
  unsigned blocks = cuda_blocks(n, threads);
  switch (dtype) {
    case DTYPE_F32:
      cudaCheck(cudaMemcpy(dst, src, n * sizeof(float), cudaMemcpyDeviceToDevice));
      return;
    case DTYPE_BF16:
      convert_from_f32_kernel<__nv_bfloat16><<<blocks, threads>>>((__nv_bfloat16 *)dst, src, n);
      break;
    case DTYPE_F16:
      convert_from_f32_kernel<__half><<<blocks, threads>>>((__half *)dst, src, n);
      break;
  }
  cudaCheck(cudaGetLastError());
}

extern "C" void cuda_convert_to_f32(float *dst, const void *src, DType dtype, size_t n) {
  if (n == 0) return;
  const unsigned threads = 256;
  unsigned blocks = cuda_blocks(n, threads);
  switch (dtype) {
    case DTYPE_F32:
      cudaCheck(cudaMemcpy(dst, src, n * sizeof(float), cudaMemcpyDeviceToDevice));
      return;
    case DTYPE_BF16:
      convert_to_f32_kernel<__nv_bfloat16><<<blocks, threads>>>(dst, (const __nv_bfloat16 *)src, n);
      break;
    case DTYPE_F16:
      convert_to_f32_kernel<__half><<<blocks, threads>>>(dst, (const __half *)src, n);
      break;
  }
  cudaCheck(cudaGetLastError());
}
