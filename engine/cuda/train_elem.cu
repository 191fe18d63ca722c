// train_elem.cu — the training step's row and elementwise kernels: embedding forward/backward,
// RMSNorm forward/backward, RoPE, SwiGLU, gradient sums, scaling and AdamW. See
// train_kernels.cuh; CPU twins in engine/cpu/train_tmpl.h (same formulas, same order of terms).
// Legend: n rows, C hidden, T tokens per sequence, NH heads, D head dim.
#include "cuda_common.cuh"
#include "train_kernels.cuh"

typedef __nv_bfloat16 bf16;

enum { ROW_THREADS = 128, ELEM_THREADS = 256 };

// ---- embedding ----
__global__ void train_embed_fwd_kernel(float *x, const float *E, const int32_t *tok, long T,
                                       int C) {
  long r = blockIdx.x, s = r / T, i = r % T;
  const float *src = E + (size_t)tok[s * (T + 1) + i] * C;
  float *dst = x + (size_t)r * C;
  for (int c = threadIdx.x; c < C; c += blockDim.x) dst[c] = src[c];
}

extern "C" void tk_embed_fwd(float *x, const float *E, const int32_t *tok, long n_seq, long T,
                             int C) {
  long n = n_seq * T;
  if (n <= 0) return;
  train_embed_fwd_kernel<<<(unsigned)n, ROW_THREADS>>>(x, E, tok, T, C);
  cudaCheck(cudaGetLastError());
}

// One block per distinct token: its rows added in increasing order, as the CPU loop does.
__global__ void train_embed_bwd_kernel(float *dE, const float *dx, const int32_t *ids,
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

extern "C" void tk_embed_bwd(float *dE, const float *dx, const int32_t *ids, const int32_t *starts,
                             const int32_t *rows, long n_uniq, int C) {
  if (n_uniq <= 0) return;
  train_embed_bwd_kernel<<<(unsigned)n_uniq, ROW_THREADS>>>(dE, dx, ids, starts, rows, C);
  cudaCheck(cudaGetLastError());
}

// ---- RMSNorm ----
template <typename Y>
__global__ void train_rms_fwd_kernel(Y *y, float *rs, const float *x, const float *w, int C,
                                     float eps) {
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

extern "C" void tk_rms_fwd(void *y, DType t, float *rs, const float *x, const float *w, long n,
                           int C, float eps) {
  if (n <= 0) return;
  if (t == DTYPE_BF16)
    train_rms_fwd_kernel<bf16><<<(unsigned)n, ROW_THREADS>>>((bf16 *)y, rs, x, w, C, eps);
  else
    train_rms_fwd_kernel<float><<<(unsigned)n, ROW_THREADS>>>((float *)y, rs, x, w, C, eps);
  cudaCheck(cudaGetLastError());
}

// dx[r, :] += r·(dy∘w) − x·r³·Σ(dy∘w∘x)/C
__global__ void train_rms_bwd_dx_kernel(float *dx, const float *dy, const float *x, const float *rs,
                                        const float *w, int C) {
  size_t row = blockIdx.x;
  const float *xr = x + row * C, *g = dy + row * C;
  float r = rs[row], dot = 0;
  for (int c = threadIdx.x; c < C; c += blockDim.x) dot += g[c] * w[c] * xr[c];
  dot = block_sum(dot);
  float k = r * r * r * dot / (float)C;
  float *d = dx + row * C;
  for (int c = threadIdx.x; c < C; c += blockDim.x) d[c] += r * g[c] * w[c] - xr[c] * k;
}

// partial[b, c] = Σ over rows b·TK_RMS_ROWS .. of dy∘x·rs: 32 columns × 8 row lanes per block.
__global__ void train_rms_bwd_dw_partial_kernel(float *partial, const float *dy, const float *x,
                                                const float *rs, long n, int C) {
  __shared__ float part[8][33];
  int c = blockIdx.x * 32 + threadIdx.x;
  long r0 = (long)blockIdx.y * TK_RMS_ROWS, r1 = r0 + TK_RMS_ROWS < n ? r0 + TK_RMS_ROWS : n;
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

__global__ void train_rms_bwd_dw_sum_kernel(float *dw, const float *partial, int nb, int C) {
  int c = blockIdx.x * blockDim.x + threadIdx.x;
  if (c >= C) return;
  float s = 0;
  for (int b = 0; b < nb; b++) s += partial[(size_t)b * C + c];
  dw[c] += s;
}

extern "C" void tk_rms_bwd(float *dx, float *dw, const float *dy, const float *x, const float *rs,
                           const float *w, long n, int C, float *partial) {
  if (n <= 0) return;
  train_rms_bwd_dx_kernel<<<(unsigned)n, ROW_THREADS>>>(dx, dy, x, rs, w, C);
  if (cudaCheck(cudaGetLastError())) return;
  unsigned nb = (unsigned)((n + TK_RMS_ROWS - 1) / TK_RMS_ROWS);
  train_rms_bwd_dw_partial_kernel<<<dim3((unsigned)(C + 31) / 32, nb), dim3(32, 8)>>>(partial, dy, x,
                                                                                    rs, n, C);
  if (cudaCheck(cudaGetLastError())) return;
  train_rms_bwd_dw_sum_kernel<<<(unsigned)(C + 255) / 256, 256>>>(dw, partial, (int)nb, C);
  cudaCheck(cudaGetLastError());
}

// ---- RoPE ----
template <typename X>
__global__ void train_rope_kernel(X *x, const float *cs, const float *sn, size_t total, long T,
                                  int NH, int D, int inverse) {
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

extern "C" void tk_rope(void *x, DType t, const float *cs, const float *sn, long n, long T, int NH,
                        int D, int inverse) {
  size_t total = (size_t)n * NH * (D / 2);
  if (total == 0) return;
  unsigned blocks = cuda_blocks(total, ELEM_THREADS);
  if (t == DTYPE_BF16)
    train_rope_kernel<bf16><<<blocks, ELEM_THREADS>>>((bf16 *)x, cs, sn, total, T, NH, D, inverse);
  else
    train_rope_kernel<float><<<blocks, ELEM_THREADS>>>((float *)x, cs, sn, total, T, NH, D, inverse);
  cudaCheck(cudaGetLastError());
}

// ---- SwiGLU ----
__device__ __forceinline__ float train_sigmoid(float g) { return 1.0f / (1.0f + expf(-g)); }

template <typename X>
__global__ void train_swiglu_fwd_kernel(X *a, const X *g, const X *u, size_t n) {
  size_t stride = (size_t)gridDim.x * blockDim.x;
  for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
    float gi = to_float(g[i]);
    a[i] = from_float<X>(gi * train_sigmoid(gi) * to_float(u[i]));
  }
}

template <typename X>
__global__ void train_swiglu_bwd_kernel(X *da, X *du, const X *g, const X *u, size_t n) {
  size_t stride = (size_t)gridDim.x * blockDim.x;
  for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
    float gi = to_float(g[i]), ui = to_float(u[i]), d = to_float(da[i]);
    float s = train_sigmoid(gi);
    du[i] = from_float<X>(d * gi * s);
    da[i] = from_float<X>(d * ui * s * (1.0f + gi * (1.0f - s)));
  }
}

extern "C" void tk_swiglu_fwd(void *a, const void *g, const void *u, DType t, long n) {
  if (n <= 0) return;
  unsigned blocks = cuda_blocks((size_t)n, ELEM_THREADS);
  if (t == DTYPE_BF16)
    train_swiglu_fwd_kernel<bf16><<<blocks, ELEM_THREADS>>>((bf16 *)a, (const bf16 *)g,
                                                            (const bf16 *)u, (size_t)n);
  else
    train_swiglu_fwd_kernel<float><<<blocks, ELEM_THREADS>>>((float *)a, (const float *)g,
                                                             (const float *)u, (size_t)n);
  cudaCheck(cudaGetLastError());
}

extern "C" void tk_swiglu_bwd(void *da, void *du, const void *g, const void *u, DType t, long n) {
  if (n <= 0) return;
  unsigned blocks = cuda_blocks((size_t)n, ELEM_THREADS);
  if (t == DTYPE_BF16)
    train_swiglu_bwd_kernel<bf16><<<blocks, ELEM_THREADS>>>((bf16 *)da, (bf16 *)du, (const bf16 *)g,
                                                            (const bf16 *)u, (size_t)n);
  else
    train_swiglu_bwd_kernel<float><<<blocks, ELEM_THREADS>>>((float *)da, (float *)du,
                                                             (const float *)g, (const float *)u,
                                                             (size_t)n);
  cudaCheck(cudaGetLastError());
}

// ---- sums, scaling, AdamW ----
__global__ void train_scale_kernel(float *g, size_t n, float s) {
  size_t stride = (size_t)gridDim.x * blockDim.x;
  for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) g[i] *= s;
}

extern "C" void tk_scale(float *g, size_t n, float s) {
  if (n == 0) return;
  train_scale_kernel<<<cuda_blocks(n, ELEM_THREADS), ELEM_THREADS>>>(g, n, s);
  cudaCheck(cudaGetLastError());
}

// partial[block] = Σ (squared ? x² : x) over a fixed grid-stride share (deterministic)
__global__ void train_sum_partial_kernel(double *partial, const float *x, size_t n, int squared) {
  size_t stride = (size_t)gridDim.x * blockDim.x;
  double a = 0;
  for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
    double v = x[i];
    a += squared ? v * v : v;
  }
  a = block_sum(a);
  if (threadIdx.x == 0) partial[blockIdx.x] = a;
}

__global__ void train_sum_final_kernel(double *out, const double *partial, int nb, int add) {
  double a = 0;
  for (int b = threadIdx.x; b < nb; b += blockDim.x) a += partial[b];
  a = block_sum(a);
  if (threadIdx.x == 0) *out = add ? *out + a : a;
}

static void sum_launch(double *out, const float *x, size_t n, double *partial, int squared,
                       int add) {
  unsigned nb = cuda_blocks(n, ELEM_THREADS, TK_SUM_BLOCKS);
  train_sum_partial_kernel<<<nb, ELEM_THREADS>>>(partial, x, n, squared);
  if (cudaCheck(cudaGetLastError())) return;
  train_sum_final_kernel<<<1, ELEM_THREADS>>>(out, partial, (int)nb, add);
  cudaCheck(cudaGetLastError());
}

extern "C" void tk_sumsq(double *out, const float *g, size_t n, double *partial) {
  sum_launch(out, g, n, partial, 1, 0);
}

extern "C" void tk_sum_add(double *out, const float *x, size_t n, double *partial) {
  sum_launch(out, x, n, partial, 0, 1);
}

extern "C" void tk_copy(void *dst, const void *src, size_t bytes) {
  if (bytes) cudaCheck(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToDevice));
}

template <typename W>
__global__ void train_adamw_kernel(float *p, W *mat, const float *g, float *m, float *v, size_t n,
                                   float decay, float step_size, float bc2_sqrt, float eps, float b2,
                                   float one_b1, float one_b2) {
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

extern "C" void tk_adamw(float *p, void *mat, DType t, const float *g, float *m, float *v, size_t n,
                         float decay, float step_size, float bc2_sqrt, float eps, float b2,
                         float one_b1, float one_b2) {
  if (n == 0) return;
  unsigned blocks = cuda_blocks(n, ELEM_THREADS);
  if (mat && t == DTYPE_BF16)
    train_adamw_kernel<bf16><<<blocks, ELEM_THREADS>>>(p, (bf16 *)mat, g, m, v, n, decay, step_size,
                                                       bc2_sqrt, eps, b2, one_b1, one_b2);
  else
    train_adamw_kernel<float><<<blocks, ELEM_THREADS>>>(p, (float *)mat, g, m, v, n, decay,
                                                        step_size, bc2_sqrt, eps, b2, one_b1, one_b2);
  cudaCheck(cudaGetLastError());
}
