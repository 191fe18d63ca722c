// embedding.cu — embedding lookup, one thread per output element (grid-stride); the trainer's
// lookup and its backward, one block per row or per distinct token. See embedding.cuh.
// Legend: T tokens, C channels; n rows of a training pass.
#include "cuda_common.cuh"
#include "embedding.cuh"

enum { ROW_THREADS = 128 };  // training

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

// ---- training: forward and backward ----
__global__ void embedding_train_forward_kernel(float *x, const float *E, const int32_t *tok,
                                               long T, int C) {
  long r = blockIdx.x, s = r / T, i = r % T;
  const float *src = E + (size_t)tok[s * (T + 1) + i] * C;
  float *dst = x + (size_t)r * C;
  for (int c = threadIdx.x; c < C; c += blockDim.x) dst[c] = src[c];
}

extern "C" void cuda_embed_fwd(float *x, const float *E, const int32_t *tok, long n_seq, long T,
                               int C) {
  long n = n_seq * T;
  if (n <= 0) return;
  embedding_train_forward_kernel<<<(unsigned)n, ROW_THREADS>>>(x, E, tok, T, C);
  cudaCheck(cudaGetLastError());
}

// One block per distinct token: its rows added in increasing order, as the CPU loop does.
__global__ void embedding_backward_kernel(float *dE, const float *dx, const int32_t *ids,
                                          const int32_t *starts, const int32_t *rows, int C) {
  long u = blockIdx.x;
  float *dst = dE + (size_t)ids[u] * C;
  int j0 = starts[u], j1 = starts[u + 1];
  for (int c = threadIdx.x; c < C; c += blockDim.x) {
    float a = dst[c];
    for (int j = j0; j < j1; j++) a += dx[(size_t)rows[j] * C + c];
    dst[c] = a;
  }
}

extern "C" void cuda_embed_bwd(float *dE, const float *dx, const int32_t *ids,
                               const int32_t *starts, const int32_t *rows, long n_uniq, int C) {
  if (n_uniq <= 0) return;
  embedding_backward_kernel<<<(unsigned)n_uniq, ROW_THREADS>>>(dE, dx, ids, starts, rows, C);
  cudaCheck(cudaGetLastError());
}

