// optim.cu — the training step's sums and parameter update, grid-stride over flat fp32 buffers:
// gradient scaling, Σ g² and Σ x in double by fixed per-block shares (deterministic), AdamW.
// See optim.cuh; CPU twins in engine/cpu/train_tmpl.h (same formulas, same order of terms).
// Legend: n elements.
#include "cuda_common.cuh"
#include "optim.cuh"

enum { ELEM_THREADS = 256 };

__global__ void scale_forward_kernel(float *g, size_t n, float s) {
  size_t stride = (size_t)gridDim.x * blockDim.x;
  for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) g[i] *= s;
}

extern "C" void cuda_scale(float *g, size_t n, float s) {
  if (n == 0) return;
  scale_forward_kernel<<<cuda_blocks(n, ELEM_THREADS), ELEM_THREADS>>>(g, n, s);
  cudaCheck(cudaGetLastError());
}

// partial[block] = Σ (squared ? x² : x) over a fixed grid-stride share (deterministic)
__global__ void sum_partial_forward_kernel(double *partial, const float *x, size_t n, int squared) {
  size_t stride = (size_t)gridDim.x * blockDim.x;
  double a = 0;
  for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
    double v = x[i];
    a += squared ? v * v : v;
  }
  a = block_sum(a);
  if (threadIdx.x == 0) partial[blockIdx.x] = a;
}

__global__ void sum_final_forward_kernel(double *out, const double *partial, int nb, int add) {
  double a = 0;
  for (int b = threadIdx.x; b < nb; b += blockDim.x) a += partial[b];
  a = block_sum(a);
  if (threadIdx.x == 0) *out = add ? *out + a : a;
}

static void sum_launch(double *out, const float *x, size_t n, double *partial, int squared,
                       int add) {
  unsigned nb = cuda_blocks(n, ELEM_THREADS, CUDA_SUM_BLOCKS);
  sum_partial_forward_kernel<<<nb, ELEM_THREADS>>>(partial, x, n, squared);
  if (cudaCheck(cudaGetLastError())) return;
  sum_final_forward_kernel<<<1, ELEM_THREADS>>>(out, partial, (int)nb, add);
  cudaCheck(cudaGetLastError());
}

extern "C" void cuda_grad_sumsq(double *out, const float *g, size_t n, double *partial) {
  sum_launch(out, g, n, partial, 1, 0);
}

extern "C" void cuda_sum_add(double *out, const float *x, size_t n, double *partial) {
  sum_launch(out, x, n, partial, 0, 1);
}

template <typename W>
__global__ void adamw_forward_kernel(float *p, W *mat, const float *g, float *m, float *v,
                                     size_t n, float decay, float step_size, float bc2_sqrt,
                                     float eps, float b2, float one_b1, float one_b2) {
  size_t stride = (size_t)gridDim.x * blockDim.x;
  for (size_t j = (size_t)blockIdx.x * blockDim.x + threadIdx.x; j < n; j += stride) {
    float gj = g[j], mj = m[j], vj = v[j];
    float pj = p[j] * decay;
    mj += one_b1 * (gj - mj);
    vj = vj * b2 + one_b2 * gj * gj;
    float denom = sqrtf(vj) / bc2_sqrt + eps;
    pj -= step_size * (mj / denom);
    p[j] = pj;
    m[j] = mj;
    v[j] = vj;
    if (mat) mat[j] = from_float<W>(pj);
  }
}

extern "C" void cuda_adamw(float *p, void *mat, DType t, const float *g, float *m, float *v,
                           size_t n, float decay, float step_size, float bc2_sqrt, float eps,
                           float b2, float one_b1, float one_b2) {
  if (n == 0) return;
  unsigned blocks = cuda_blocks(n, ELEM_THREADS);
  if (mat && t == DTYPE_BF16)
    adamw_forward_kernel<bf16><<<blocks, ELEM_THREADS>>>(p, (bf16 *)mat, g, m, v, n, decay,
                                                         step_size, bc2_sqrt, eps, b2, one_b1,
                                                         one_b2);
  else
    adamw_forward_kernel<float><<<blocks, ELEM_THREADS>>>(p, (float *)mat, g, m, v, n, decay,
                                                          step_size, bc2_sqrt, eps, b2, one_b1,
                                                          one_b2);
  cudaCheck(cudaGetLastError());
}
