// rope.cu — RoPE table and rotation, one thread per (row, pair) or (row, head, pair). See rope.cuh.
#include "cuda_common.cuh"
#include "rope.cuh"

__global__ void rope_table_forward_kernel(float *cos_t, float *sin_t, const double *pos,
                                          const double *inv_freq, size_t n, int half,
                                          double scale) {
  size_t stride = (size_t)gridDim.x * blockDim.x;
  for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
    double angle = pos[i / half] * inv_freq[i % half];
    double s, c;
    sincos(angle, &s, &c);
    cos_t[i] = (float)(c * scale);
    sin_t[i] = (float)(s * scale);
  }
}

// The product is kept unfused (__fmul_rn) so the rotation rounds as the CPU twin's does.
__global__ void rope_apply_forward_kernel(float *x, const float *cos_t, const float *sin_t,
                                          size_t n, int NH, int D, int half) {
  size_t stride = (size_t)gridDim.x * blockDim.x;
  for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
    size_t row = i / half;             // t · NH + h
    int k = (int)(i % half);
    size_t t = row / NH;
    float c = cos_t[t * half + k], s = sin_t[t * half + k];
    float *a = x + row * D;
    float ak = a[k], bk = a[k + half];
    a[k] = __fsub_rn(__fmul_rn(ak, c), __fmul_rn(bk, s));
    a[k + half] = __fadd_rn(__fmul_rn(bk, c), __fmul_rn(ak, s));
  }
}

extern "C" void cuda_rope_table(float *cos_t, float *sin_t, const double *pos,
                                const double *inv_freq, long T, int half, double scale) {
  size_t n = (size_t)T * half;
  if (n == 0) return;
  rope_table_forward_kernel<<<cuda_blocks(n, 256), 256>>>(cos_t, sin_t, pos, inv_freq, n, half,
                                                          scale);
  cudaCheck(cudaGetLastError());
}

extern "C" void cuda_rope_apply(float *x, const float *cos_t, const float *sin_t, long T, int NH,
                                int D, int R) {
  int half = R / 2;
  size_t n = (size_t)T * NH * half;
  if (n == 0) return;
  rope_apply_forward_kernel<<<cuda_blocks(n, 256), 256>>>(x, cos_t, sin_t, n, NH, D, half);
  cudaCheck(cudaGetLastError());
}
