// rope.cu — RoPE table and rotation, one thread per (row, pair) or (row, head, pair); the
// trainer's rotation (and its inverse, the backward) of fp32 or bf16 rows. See rope.cuh.
// Legend: T tokens, NH heads, D head dim, R rotary dims; n rows of a training pass.
#include "cuda_common.cuh"
#include "rope.cuh"

enum { ELEM_THREADS = 256 };  // training

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

// ---- training: forward and backward ----
// inverse: the rotation by −angle, the backward of the forward's.
template <typename X>
__global__ void rope_train_forward_kernel(X *x, const float *cs, const float *sn, size_t total,
                                          long T, int NH, int D, int inverse) {
  int half = D / 2;
  size_t stride = (size_t)gridDim.x * blockDim.x;
  for (size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x; idx < total; idx += stride) {
    int i = (int)(idx % half);
    size_t rh = idx / half;                 // row · NH + head
    long pos = (long)(rh / NH) % T;
    float c = cs[pos * half + i], s = sn[pos * half + i];
    X *a = x + rh * D;
    float ai = to_float(a[i]), bi = to_float(a[i + half]);
    if (inverse) {
      a[i] = from_float<X>(ai * c + bi * s);
      a[i + half] = from_float<X>(bi * c - ai * s);
    } else {
      a[i] = from_float<X>(ai * c - bi * s);
      a[i + half] = from_float<X>(bi * c + ai * s);
    }
  }
}

extern "C" void cuda_rope(void *x, DType t, const float *cs, const float *sn, long n, long T,
                          int NH, int D, int inverse) {
  size_t total = (size_t)n * NH * (D / 2);
  if (total == 0) return;
  unsigned blocks = cuda_blocks(total, ELEM_THREADS);
  if (t == DTYPE_BF16)
    rope_train_forward_kernel<bf16><<<blocks, ELEM_THREADS>>>((bf16 *)x, cs, sn, total, T, NH, D,
                                                              inverse);
  else
    rope_train_forward_kernel<float><<<blocks, ELEM_THREADS>>>((float *)x, cs, sn, total, T, NH,
                                                               D, inverse);
  cudaCheck(cudaGetLastError());
}

