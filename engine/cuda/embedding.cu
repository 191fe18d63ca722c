// embedding.cu — embedding lookup, one thread per output element (grid-stride). See embedding.cuh.
#include "cuda_common.cuh"
#include "embedding.cuh"

template <typename W>
__global__ void embedding_forward_kernel(float *x, const W *table, const int32_t *ids, size_t n,
                                         int C) {
  size_t stride = (size_t)gridDim.x * blockDim.x;
  for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
    size_t t = i / C, c = i % C;
    x[i] = to_float(table[(size_t)ids[t] * C + c]);
  }
}

extern "C" void cuda_embedding(float *x, const void *table, DType dtype, const int32_t *ids,
                               long T, int C) {
  size_t n = (size_t)T * C;
  if (n == 0) return;
  unsigned blocks = cuda_blocks(n, 256);
  switch (dtype) {
    case DTYPE_F32:
      embedding_forward_kernel<float><<<blocks, 256>>>(x, (const float *)table, ids, n, C);
      break;
    case DTYPE_BF16:
      embedding_forward_kernel<__nv_bfloat16><<<blocks, 256>>>(x, (const __nv_bfloat16 *)table,
                                                               ids, n, C);
      break;
    case DTYPE_F16:
      embedding_forward_kernel<__half><<<blocks, 256>>>(x, (const __half *)table, ids, n, C);
      break;
  }
  cudaCheck(cudaGetLastError());
}
