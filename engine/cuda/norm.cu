// norm.cu — RMSNorm and LayerNorm, one block per row. See norm.cuh.
// Each thread reads and writes the same elements of its row, so y may equal x.
#include "cuda_common.cuh"
#include "norm.cuh"

enum { NORM_THREADS = 256 };

// y[t, :] = (x · r) · w with r = 1 / sqrt(Σx² / C + eps), the sum in Acc.
template <typename Acc>
__global__ void rmsnorm_forward_kernel(float *y, const float *x, const float *w, int C,
                                       float eps) {
  const float *xr = x + (size_t)blockIdx.x * C;
  float *yr = y + (size_t)blockIdx.x * C;
  Acc ss = 0;
  for (int c = threadIdx.x; c < C; c += blockDim.x) ss += (Acc)xr[c] * xr[c];
  ss = block_sum(ss);
  Acc r = acc_rsqrt_of(ss / (Acc)C + (Acc)eps);
  for (int c = threadIdx.x; c < C; c += blockDim.x) yr[c] = (float)(xr[c] * r) * w[c];
}

// y[t, :] = ((x − mean) · r) · w + b with r = 1 / sqrt(Σ(x − mean)² / C + eps), two passes in Acc.
template <typename Acc>
__global__ void layernorm_forward_kernel(float *y, const float *x, const float *w, const float *b,
                                         int C, float eps) {
  const float *xr = x + (size_t)blockIdx.x * C;
  float *yr = y + (size_t)blockIdx.x * C;
  Acc s = 0;
  for (int c = threadIdx.x; c < C; c += blockDim.x) s += xr[c];
  Acc mean = block_sum(s) / (Acc)C;
  Acc v = 0;
  for (int c = threadIdx.x; c < C; c += blockDim.x) v += (xr[c] - mean) * (xr[c] - mean);
  Acc r = acc_rsqrt_of(block_sum(v) / (Acc)C + (Acc)eps);
  for (int c = threadIdx.x; c < C; c += blockDim.x)
    yr[c] = (float)((xr[c] - mean) * r) * w[c] + (b ? b[c] : 0.0f);
}

extern "C" void cuda_rmsnorm(float *y, const float *x, const float *w, long T, int C, float eps,
                             int fp64) {
  if (T <= 0) return;
  if (fp64)
    rmsnorm_forward_kernel<double><<<(unsigned)T, NORM_THREADS>>>(y, x, w, C, eps);
  else
    rmsnorm_forward_kernel<float><<<(unsigned)T, NORM_THREADS>>>(y, x, w, C, eps);
  cudaCheck(cudaGetLastError());
}

extern "C" void cuda_layernorm(float *y, const float *x, const float *w, const float *b, long T,
                               int C, float eps, int fp64) {
  if (T <= 0) return;
  if (fp64)
    layernorm_forward_kernel<double><<<(unsigned)T, NORM_THREADS>>>(y, x, w, b, C, eps);
  else
    layernorm_forward_kernel<float><<<(unsigned)T, NORM_THREADS>>>(y, x, w, b, C, eps);
  cudaCheck(cudaGetLastError());
}
