// norm.cu — RMSNorm and LayerNorm, one block per row; the trainer's RMSNorm forward (saving the
// reciprocal RMS per row) and backward. See norm.cuh.
// The evaluation kernels: each thread reads and writes the same elements of its row, so y may
// equal x.
// Legend: T rows, C channels; n rows of a training pass.
#include "cuda_common.cuh"
#include "norm.cuh"

enum { NORM_THREADS = 256, ROW_THREADS = 128 };  // evaluation; training

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

// ---- training: forward and backward ----
template <typename Y>
__global__ void rmsnorm_train_forward_kernel(Y *y, float *rs, const float *x, const float *w,
                                             int C, float eps) {
  size_t r = blockIdx.x;
  const float *xr = x + r * C;
  float ss = 0;
  for (int c = threadIdx.x; c < C; c += blockDim.x) ss += xr[c] * xr[c];
  ss = block_sum(ss);
  float rr = 1.0f / sqrtf(ss / (float)C + eps);
  if (threadIdx.x == 0) rs[r] = rr;
  if (y)
    for (int c = threadIdx.x; c < C; c += blockDim.x) y[r * C + c] = from_float<Y>((xr[c] * rr) * w[c]);
}

extern "C" void cuda_rms_fwd(void *y, DType t, float *rs, const float *x, const float *w, long n,
                             int C, float eps) {
  if (n <= 0) return;
  if (t == DTYPE_BF16)
    rmsnorm_train_forward_kernel<bf16><<<(unsigned)n, ROW_THREADS>>>((bf16 *)y, rs, x, w, C, eps);
  else
    rmsnorm_train_forward_kernel<float><<<(unsigned)n, ROW_THREADS>>>((float *)y, rs, x, w, C,
                                                                      eps);
  cudaCheck(cudaGetLastError());
}

// dx[r, :] += r·(dy∘w) − x·r³·Σ(dy∘w∘x)/C
__global__ void rmsnorm_dx_backward_kernel(float *dx, const float *dy, const float *x,
                                           const float *rs, const float *w, int C) {
  size_t row = blockIdx.x;
  const float *xr = x + row * C, *g = dy + row * C;
  float r = rs[row], dot = 0;
  for (int c = threadIdx.x; c < C; c += blockDim.x) dot += g[c] * w[c] * xr[c];
  dot = block_sum(dot);
  float k = r * r * r * dot / (float)C;
  float *d = dx + row * C;
  for (int c = threadIdx.x; c < C; c += blockDim.x) d[c] += r * g[c] * w[c] - xr[c] * k;
}

// partial[b, c] = Σ over rows b·CUDA_RMS_ROWS .. of dy∘x·rs: 32 columns × 8 row lanes per block.
__global__ void rmsnorm_dw_partial_backward_kernel(float *partial, const float *dy, const float *x,
                                                   const float *rs, long n, int C) {
  __shared__ float part[8][33];
  int c = blockIdx.x * 32 + threadIdx.x;
  long r0 = (long)blockIdx.y * CUDA_RMS_ROWS,
       r1 = r0 + CUDA_RMS_ROWS < n ? r0 + CUDA_RMS_ROWS : n;
  float a = 0;
  if (c < C)
    for (long r = r0 + threadIdx.y; r < r1; r += 8) a += dy[(size_t)r * C + c] * x[(size_t)r * C + c] * rs[r];
  part[threadIdx.y][threadIdx.x] = a;
  __syncthreads();
  if (threadIdx.y == 0 && c < C) {
    float s = 0;
    for (int k = 0; k < 8; k++) s += part[k][threadIdx.x];
    partial[(size_t)blockIdx.y * C + c] = s;
  }
}

__global__ void rmsnorm_dw_sum_backward_kernel(float *dw, const float *partial, int nb, int C) {
  int c = blockIdx.x * blockDim.x + threadIdx.x;
  if (c >= C) return;
  float s = 0;
  for (int b = 0; b < nb; b++) s += partial[(size_t)b * C + c];
  dw[c] += s;
}

extern "C" void cuda_rms_bwd(float *dx, float *dw, const float *dy, const float *x,
                             const float *rs, const float *w, long n, int C, float *partial) {
  if (n <= 0) return;
  rmsnorm_dx_backward_kernel<<<(unsigned)n, ROW_THREADS>>>(dx, dy, x, rs, w, C);
  if (cudaCheck(cudaGetLastError())) return;
  unsigned nb = (unsigned)((n + CUDA_RMS_ROWS - 1) / CUDA_RMS_ROWS);
  rmsnorm_dw_partial_backward_kernel<<<dim3((unsigned)(C + 31) / 32, nb), dim3(32, 8)>>>(
      partial, dy, x, rs, n, C);
  if (cudaCheck(cudaGetLastError())) return;
  rmsnorm_dw_sum_backward_kernel<<<(unsigned)(C + 255) / 256, 256>>>(dw, partial, (int)nb, C);
  cudaCheck(cudaGetLastError());
}

