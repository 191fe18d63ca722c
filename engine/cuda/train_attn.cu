// train_attn.cu — causal attention for training, the simple kernels: one warp per query (forward
// with an online softmax, saving the log-sum-exp; dQ) or per key (dK and dV, summed over the
// query heads of its kv head), lanes splitting the head dimension. Any D ≤ 256, fp32 or bf16
// storage, fp32 math; no atomics. The reference for the tensor-core kernels (train_flash.cu)
// and the kernels of the cuda-fp32 table. See train_kernels.cuh; CPU twin: attn_fwd / attn_bwd
// of engine/cpu/train_tmpl.h.
// Legend: n rows (n_seq × T), H query heads, K kv heads, D head dim, i query, j key, g kv head.
#include "cuda_common.cuh"
#include "train_kernels.cuh"

typedef __nv_bfloat16 bf16;

enum { ATT_WARPS = 4, ATT_MAXU = 8 };  // 4 warps per block; up to 8 dims per lane (D ≤ 256)

// Lane's dims d = lane + 32·u, u < ATT_MAXU, d < D.
template <typename X>
__device__ __forceinline__ void att_load(float (&r)[ATT_MAXU], const X *p, int D, int lane) {
#pragma unroll
  for (int u = 0; u < ATT_MAXU; u++) {
    int d = lane + 32 * u;
    r[u] = d < D ? to_float(p[d]) : 0.0f;
  }
}

template <typename X>
__device__ __forceinline__ float att_dot(const float (&a)[ATT_MAXU], const X *p, int D, int lane) {
  float s = 0;
#pragma unroll
  for (int u = 0; u < ATT_MAXU; u++) {
    int d = lane + 32 * u;
    if (d < D) s += a[u] * to_float(p[d]);
  }
  return warp_sum(s);
}

template <typename X>
__device__ __forceinline__ void att_store(X *p, const float (&a)[ATT_MAXU], float f, int D,
                                          int lane) {
#pragma unroll
  for (int u = 0; u < ATT_MAXU; u++) {
    int d = lane + 32 * u;
    if (d < D) p[d] = from_float<X>(a[u] * f);
  }
}

// One warp per (row, query head).
template <typename X>
__global__ void train_attn_fwd_kernel(X *out, float *lse, const X *q, const X *k, const X *v,
                                      long n, long T, int H, int K, int D, float scale) {
  long wid = (long)blockIdx.x * ATT_WARPS + threadIdx.x / 32;
  int lane = threadIdx.x % 32;
  if (wid >= n * H) return;
  long r = wid / H, s = r / T, i = r % T;
  int h = (int)(wid % H), g = h / (H / K);
  float qv[ATT_MAXU], acc[ATT_MAXU];
  att_load(qv, q + (size_t)r * H * D + (size_t)h * D, D, lane);
#pragma unroll
  for (int u = 0; u < ATT_MAXU; u++) acc[u] = 0;
  float m = -INFINITY, l = 0;
  for (long j = 0; j <= i; j++) {
    size_t kr = ((size_t)(s * T + j) * K + g) * D;
    float sc = att_dot(qv, k + kr, D, lane) * scale;
    float mn = fmaxf(m, sc), corr = expf(m - mn), p = expf(sc - mn);
    l = l * corr + p;
#pragma unroll
    for (int u = 0; u < ATT_MAXU; u++) {
      int d = lane + 32 * u;
      acc[u] = acc[u] * corr + (d < D ? p * to_float(v[kr + d]) : 0.0f);
    }
    m = mn;
  }
  att_store(out + (size_t)r * H * D + (size_t)h * D, acc, 1.0f / l, D, lane);
  if (lane == 0) lse[(size_t)r * H + h] = m + logf(l);
}

template <typename X>
__global__ void train_attn_di_kernel(float *Di, const X *dout, const X *out, long n, int H, int D) {
  long wid = (long)blockIdx.x * ATT_WARPS + threadIdx.x / 32;
  int lane = threadIdx.x % 32;
  if (wid >= n * H) return;
  float a[ATT_MAXU];
  att_load(a, dout + (size_t)wid * D, D, lane);
  float s = att_dot(a, out + (size_t)wid * D, D, lane);
  if (lane == 0) Di[wid] = s;
}

// dQ: one warp per (row, query head) over its keys j ≤ i.
template <typename X>
__global__ void train_attn_dq_kernel(X *dq, const X *dout, const float *Di, const float *lse,
                                     const X *q, const X *k, const X *v, long n, long T, int H,
                                     int K, int D, float scale) {
  long wid = (long)blockIdx.x * ATT_WARPS + threadIdx.x / 32;
  int lane = threadIdx.x % 32;
  if (wid >= n * H) return;
  long r = wid / H, s = r / T, i = r % T;
  int h = (int)(wid % H), g = h / (H / K);
  float qv[ATT_MAXU], dov[ATT_MAXU], acc[ATT_MAXU];
  att_load(qv, q + (size_t)wid * D, D, lane);
  att_load(dov, dout + (size_t)wid * D, D, lane);
#pragma unroll
  for (int u = 0; u < ATT_MAXU; u++) acc[u] = 0;
  float l = lse[wid], di = Di[wid];
  for (long j = 0; j <= i; j++) {
    size_t kr = ((size_t)(s * T + j) * K + g) * D;
    float p = expf(att_dot(qv, k + kr, D, lane) * scale - l);
    float ds = p * (att_dot(dov, v + kr, D, lane) - di);
#pragma unroll
    for (int u = 0; u < ATT_MAXU; u++) {
      int d = lane + 32 * u;
      if (d < D) acc[u] += ds * to_float(k[kr + d]);
    }
  }
  att_store(dq + (size_t)wid * D, acc, scale, D, lane);
}

// dK, dV: one warp per (row j, kv head g) over the queries i ≥ j of every head of the group.
template <typename X>
__global__ void train_attn_dkv_kernel(X *dk, X *dv, const X *dout, const float *Di,
                                      const float *lse, const X *q, const X *k, const X *v, long n,
                                      long T, int H, int K, int D, float scale) {
  long wid = (long)blockIdx.x * ATT_WARPS + threadIdx.x / 32;
  int lane = threadIdx.x % 32;
  if (wid >= n * K) return;
  long r = wid / K, s = r / T, j = r % T;
  int g = (int)(wid % K), group = H / K;
  float kv[ATT_MAXU], vv[ATT_MAXU], ak[ATT_MAXU], av[ATT_MAXU];
  att_load(kv, k + (size_t)wid * D, D, lane);
  att_load(vv, v + (size_t)wid * D, D, lane);
#pragma unroll
  for (int u = 0; u < ATT_MAXU; u++) ak[u] = av[u] = 0;
  for (int h = g * group; h < (g + 1) * group; h++)
    for (long i = j; i < T; i++) {
      size_t qr = (size_t)(s * T + i) * H + h;
      const X *qp = q + qr * D, *dop = dout + qr * D;
      float p = expf(att_dot(kv, qp, D, lane) * scale - lse[qr]);
      float ds = p * (att_dot(vv, dop, D, lane) - Di[qr]);
#pragma unroll
      for (int u = 0; u < ATT_MAXU; u++) {
        int d = lane + 32 * u;
        if (d < D) {
          av[u] += p * to_float(dop[d]);
          ak[u] += ds * to_float(qp[d]);
        }
      }
    }
  att_store(dk + (size_t)wid * D, ak, scale, D, lane);
  att_store(dv + (size_t)wid * D, av, 1.0f, D, lane);
}

static unsigned att_blocks(long warps) { return (unsigned)((warps + ATT_WARPS - 1) / ATT_WARPS); }

extern "C" void tk_attn_fwd(void *out, float *lse, const void *q, const void *k, const void *v,
                            DType t, long n_seq, long T, int H, int K, int D) {
  long n = n_seq * T;
  if (n <= 0) return;
  if (D > 32 * ATT_MAXU) {
    cuda_fail("training attention: head dim %d is over %d", D, 32 * ATT_MAXU);
    return;
  }
  float scale = 1.0f / sqrtf((float)D);
  unsigned blocks = att_blocks(n * H), threads = 32 * ATT_WARPS;
  if (t == DTYPE_BF16)
    train_attn_fwd_kernel<bf16><<<blocks, threads>>>((bf16 *)out, lse, (const bf16 *)q,
                                                     (const bf16 *)k, (const bf16 *)v, n, T, H, K,
                                                     D, scale);
  else
    train_attn_fwd_kernel<float><<<blocks, threads>>>((float *)out, lse, (const float *)q,
                                                      (const float *)k, (const float *)v, n, T, H,
                                                      K, D, scale);
  cudaCheck(cudaGetLastError());
}

extern "C" void tk_attn_di(float *Di, const void *dout, const void *out, DType t, long n, int H,
                           int D) {
  if (n <= 0) return;
  if (D > 32 * ATT_MAXU) {
    cuda_fail("training attention: head dim %d is over %d", D, 32 * ATT_MAXU);
    return;
  }
  unsigned blocks = att_blocks(n * H), threads = 32 * ATT_WARPS;
  if (t == DTYPE_BF16)
    train_attn_di_kernel<bf16><<<blocks, threads>>>(Di, (const bf16 *)dout, (const bf16 *)out, n,
                                                    H, D);
  else
    train_attn_di_kernel<float><<<blocks, threads>>>(Di, (const float *)dout, (const float *)out,
                                                     n, H, D);
  cudaCheck(cudaGetLastError());
}

extern "C" void tk_attn_bwd(void *dq, void *dk, void *dv, const void *dout, const float *Di,
                            const float *lse, const void *q, const void *k, const void *v, DType t,
                            long n_seq, long T, int H, int K, int D) {
  long n = n_seq * T;
  if (n <= 0) return;
  if (D > 32 * ATT_MAXU) {
    cuda_fail("training attention: head dim %d is over %d", D, 32 * ATT_MAXU);
    return;
  }
  float scale = 1.0f / sqrtf((float)D);
  unsigned threads = 32 * ATT_WARPS;
  if (t == DTYPE_BF16) {
    train_attn_dq_kernel<bf16><<<att_blocks(n * H), threads>>>(
        (bf16 *)dq, (const bf16 *)dout, Di, lse, (const bf16 *)q, (const bf16 *)k, (const bf16 *)v,
        n, T, H, K, D, scale);
    if (cudaCheck(cudaGetLastError())) return;
    train_attn_dkv_kernel<bf16><<<att_blocks(n * K), threads>>>(
        (bf16 *)dk, (bf16 *)dv, (const bf16 *)dout, Di, lse, (const bf16 *)q, (const bf16 *)k,
        (const bf16 *)v, n, T, H, K, D, scale);
  } else {
    train_attn_dq_kernel<float><<<att_blocks(n * H), threads>>>(
        (float *)dq, (const float *)dout, Di, lse, (const float *)q, (const float *)k,
        (const float *)v, n, T, H, K, D, scale);
    if (cudaCheck(cudaGetLastError())) return;
    train_attn_dkv_kernel<float><<<att_blocks(n * K), threads>>>(
        (float *)dk, (float *)dv, (const float *)dout, Di, lse, (const float *)q, (const float *)k,
        (const float *)v, n, T, H, K, D, scale);
  }
  cudaCheck(cudaGetLastError());
}
