// lm_head.cu — LM head by blocks of rows × vocabulary chunks, with a running log-sum-exp per row.
// See lm_head.cuh and lm_merge.h.
// Training (below): cross-entropy over a block of fp32 logits: per row the log-sum-exp (one pass,
// online max and sum), the NLL of the target, and with backward the gradient of the logits,
// (softmax − onehot)·gs, written in the act type (in place when that is fp32).
// Legend: T tokens, C hidden, V vocab; training: T tokens per sequence, r0 the block's first row
//         within its pass.
#include "convert.cuh"
#include "cuda_common.cuh"
#include "lm_head.cuh"
#include "lm_merge.h"
#include "matmul.cuh"

enum { LM_THREADS = 256 };

__global__ void lm_init_forward_kernel(LmRow *state, long rows) {
  long i = (long)blockIdx.x * blockDim.x + threadIdx.x;
  if (i < rows) lm_row_init(&state[i]);
}

// (value, index) of the larger, the smaller index on ties.
__device__ __forceinline__ void argmax_pair(float &v, int &i, float v2, int i2) {
  if (v2 > v || (v2 == v && i2 < i)) {
    v = v2;
    i = i2;
  }
}

// One block per row of the chunk z[rows, nc] (columns v0..v0+nc of the vocabulary): the chunk's
// max, first argmax and Σ e^(z − max) in Acc, folded into state[row].
template <typename Acc>
__global__ void lm_chunk_forward_kernel(LmRow *state, const float *z, const int32_t *target,
                                        int nc, int v0) {
  __shared__ float sv[32];
  __shared__ int si[32];
  const long row = blockIdx.x;
  const float *zr = z + (size_t)row * nc;
  int lane = threadIdx.x % 32, warp = threadIdx.x / 32, nw = blockDim.x / 32;
  float best = -INFINITY;
  int bi = 0x7fffffff;
  for (int c = threadIdx.x; c < nc; c += blockDim.x) argmax_pair(best, bi, zr[c], c);
  for (int o = 16; o > 0; o >>= 1)
    argmax_pair(best, bi, __shfl_xor_sync(FULL_MASK, best, o), __shfl_xor_sync(FULL_MASK, bi, o));
  if (lane == 0) {
    sv[warp] = best;
    si[warp] = bi;
  }
  __syncthreads();
  best = sv[0];
  bi = si[0];
  for (int w = 1; w < nw; w++) argmax_pair(best, bi, sv[w], si[w]);
  Acc s = 0;
  for (int c = threadIdx.x; c < nc; c += blockDim.x) s += acc_exp((Acc)zr[c] - (Acc)best);
  s = block_sum(s);
  if (threadIdx.x == 0) {
    int y = target[row] - v0;
    int has = y >= 0 && y < nc;
    lm_row_fold(&state[row], best, (double)s, v0 + bi, has, has ? zr[y] : 0.0f);
  }
}

__global__ void lm_finish_forward_kernel(float *nll, int32_t *argmax, const LmRow *state,
                                         long rows) {
  long i = (long)blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= rows) return;
  nll[i] = lm_row_nll(&state[i]);
  argmax[i] = state[i].argmax;
}

extern "C" void cuda_lm_head_nll(float *nll, int32_t *argmax, const float *h, const void *w,
                                 DType wdtype, const int32_t *target, long T, int C, int V,
                                 int fp64, float *logits, size_t elems) {
  if (T <= 0) return;
  long rows;
  int vc;
  lm_plan(T, V, elems, &rows, &vc);
  size_t es = dtype_size(wdtype);
  LmRow *state = (LmRow *)cuda_scratch(CUDA_SCRATCH_LM_STATE, (size_t)rows * sizeof(LmRow));
  void *hin = NULL;
  if (wdtype != DTYPE_F32)
    hin = cuda_scratch(CUDA_SCRATCH_LM_INPUT, (size_t)rows * C * es);
  if (!state || (wdtype != DTYPE_F32 && !hin)) return;
  for (long t0 = 0; t0 < T; t0 += rows) {
    long n = T - t0 < rows ? T - t0 : rows;
    const void *x = h + (size_t)t0 * C;
    if (wdtype != DTYPE_F32) {
      cuda_convert_from_f32(hin, wdtype, h + (size_t)t0 * C, (size_t)n * C);
      x = hin;
    }
    lm_init_forward_kernel<<<cuda_blocks((size_t)n, 256), 256>>>(state, n);
    if (cudaCheck(cudaGetLastError())) return;
    for (int v0 = 0; v0 < V; v0 += vc) {
      int nc = V - v0 < vc ? V - v0 : vc;
      cuda_gemm(logits, x, (const char *)w + (size_t)v0 * C * es, wdtype, n, C, nc);
      if (fp64)
        lm_chunk_forward_kernel<double><<<(unsigned)n, LM_THREADS>>>(state, logits, target + t0,
                                                                     nc, v0);
      else
        lm_chunk_forward_kernel<float><<<(unsigned)n, LM_THREADS>>>(state, logits, target + t0,
                                                                    nc, v0);
      if (cudaCheck(cudaGetLastError())) return;
    }
    lm_finish_forward_kernel<<<cuda_blocks((size_t)n, 256), 256>>>(nll + t0, argmax + t0, state, n);
    if (cudaCheck(cudaGetLastError())) return;
  }
}

// ---- training: forward and backward ----
enum { CE_THREADS = 512 };

// (m, s) ⊕ (m2, s2) for s = Σ exp(x − m); an empty side has m = −inf.
__device__ __forceinline__ void lse_merge(float &m, float &s, float m2, float s2) {
  if (m2 == -INFINITY) return;
  if (m == -INFINITY) {
    m = m2;
    s = s2;
    return;
  }
  float mx = fmaxf(m, m2);
  s = s * expf(m - mx) + s2 * expf(m2 - mx);
  m = mx;
}

template <typename G>
__global__ void cross_entropy_forward_kernel(float *nll, G *dlogits, const float *logits, long ld,
                                             const int32_t *tok, long T, long r0, int V, float gs,
                                             int backward) {
  __shared__ float sm[32], ss[32];
  __shared__ float target_logit, lse_all;
  long i = blockIdx.x, r = r0 + i;
  long s = r / T, p = r % T;
  int tg = tok[s * (T + 1) + p + 1];
  const float *lg = logits + (size_t)i * ld;
  if (threadIdx.x == 0) target_logit = lg[tg];  // read before any thread writes dlogits
  float m = -INFINITY, sum = 0;
  for (int j = threadIdx.x; j < V; j += blockDim.x) {
    float x = lg[j];
    if (x > m) {
      sum = (m == -INFINITY ? 0.0f : sum * expf(m - x)) + 1.0f;
      m = x;
    } else {
      sum += expf(x - m);
    }
  }
  for (int o = 16; o > 0; o >>= 1) {
    float m2 = __shfl_xor_sync(FULL_MASK, m, o), s2 = __shfl_xor_sync(FULL_MASK, sum, o);
    lse_merge(m, sum, m2, s2);
  }
  int lane = threadIdx.x % 32, warp = threadIdx.x / 32, nw = blockDim.x / 32;
  if (lane == 0) {
    sm[warp] = m;
    ss[warp] = sum;
  }
  __syncthreads();
  if (warp == 0) {
    m = lane < nw ? sm[lane] : -INFINITY;
    sum = lane < nw ? ss[lane] : 0.0f;
    for (int o = 16; o > 0; o >>= 1) {
      float m2 = __shfl_xor_sync(FULL_MASK, m, o), s2 = __shfl_xor_sync(FULL_MASK, sum, o);
      lse_merge(m, sum, m2, s2);
    }
    if (lane == 0) {
      float l = m + logf(sum);
      lse_all = l;
      nll[r] = l - target_logit;
    }
  }
  __syncthreads();
  if (!backward) return;
  float l = lse_all;
  G *d = dlogits + (size_t)i * ld;
  for (int j = threadIdx.x; j < V; j += blockDim.x) {
    float g = expf(lg[j] - l) * gs;
    if (j == tg) g -= gs;
    d[j] = from_float<G>(g);
  }
}

extern "C" void cuda_cross_entropy(float *nll, void *dlogits, DType t, const float *logits,
                                   long ld, const int32_t *tok, long T, long r0, long rows, int V,
                                   float gs, int backward) {
  if (rows <= 0) return;
  if (t == DTYPE_BF16)
    cross_entropy_forward_kernel<bf16><<<(unsigned)rows, CE_THREADS>>>(
        nll, (bf16 *)dlogits, logits, ld, tok, T, r0, V, gs, backward);
  else
    cross_entropy_forward_kernel<float><<<(unsigned)rows, CE_THREADS>>>(
        nll, (float *)dlogits, logits, ld, tok, T, r0, V, gs, backward);
  cudaCheck(cudaGetLastError());
}
