// train_ce.cu — cross-entropy over a block of fp32 logits: per row the log-sum-exp (one pass,
// online max and sum), the NLL of the target, and with backward the gradient of the logits,
// (softmax − onehot)·gs, written in the act type (in place when that is fp32). See
// train_kernels.cuh; CPU twin: the softmax loop of lm_head in engine/cpu/train_tmpl.h.
// Legend: V vocab, T tokens per sequence, r0 the block's first row within its pass.
#include "cuda_common.cuh"
#include "train_kernels.cuh"

typedef __nv_bfloat16 bf16;

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
__global__ void train_ce_kernel(float *nll, G *dlogits, const float *logits, long ld,
                                const int32_t *tok, long T, long r0, int V, float gs, int backward) {
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

extern "C" void tk_cross_entropy(float *nll, void *dlogits, DType t, const float *logits, long ld,
                                 const int32_t *tok, long T, long r0, long rows, int V, float gs,
                                 int backward) {
  if (rows <= 0) return;
  if (t == DTYPE_BF16)
    train_ce_kernel<bf16><<<(unsigned)rows, CE_THREADS>>>(nll, (bf16 *)dlogits, logits, ld, tok, T,
                                                          r0, V, gs, backward);
  else
    train_ce_kernel<float><<<(unsigned)rows, CE_THREADS>>>(nll, (float *)dlogits, logits, ld, tok,
                                                           T, r0, V, gs, backward);
  cudaCheck(cudaGetLastError());
}
