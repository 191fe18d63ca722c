// attention.cu — causal GQA attention, one block per (block of ATT_BQ queries, query head); the
// trainer's causal attention forward and backward, one warp per query or key. See attention.cuh.
//
// A block has ATT_WARPS warps; warp w owns queries i0 + w·ATT_QPW + r, r < ATT_QPW. Keys go by
// tiles of 32 through shared memory (K padded to D + 1 floats a row: lane j reads row j without
// bank conflicts), shared by the block's queries, which all read the same kv head. Per tile:
//   scores: lane j computes q_r · k_j for its key j and every query r of its warp;
//   online softmax per query: m' = max(m, max_j s_j), l' = l·e^(m−m') + Σ_j e^(s_j−m'),
//   acc' = acc·e^(m−m') + Σ_j e^(s_j−m')·v_j, where lane c owns output dims c, c + 32, ...
// Keys outside a query's range (causal, sliding window, past the tile's end) score −inf.
//
// Training (below): causal attention within sequences, the simple kernels: one warp per query
// (forward with an online softmax, saving the log-sum-exp; dQ) or per key (dK and dV, summed over
// the query heads of its kv head), lanes splitting the head dimension. Any D ≤ 256, fp32 or bf16
// storage, fp32 math; no atomics. The reference for the tensor-core training kernels
// (flash_attention.cu) and the kernels of the cuda-fp32 table.
// Legend (training): n rows (n_seq × T), H query heads, K kv heads, D head dim, i query, j key,
//         g kv head.
#include "attention.cuh"
#include "cuda_common.cuh"

enum { ATT_WARPS = 4, ATT_QPW = 4, ATT_BQ = ATT_WARPS * ATT_QPW, ATT_BK = 32 };

// DPL: output dims per lane, ⌈D / 32⌉ rounded up to a power of two (register arrays need a
// compile-time size).
template <int DPL, typename Acc>
__global__ void __launch_bounds__(ATT_WARPS * 32)
    attention_forward_kernel(float *out, const float *q, const float *k, const float *v, long Tq,
                             long q0, int H, int K, int D, Acc scale, long window) {
  extern __shared__ float smem[];
  const int ks_ld = D + 1;
  float *ks = smem;                 // [ATT_BK, D + 1] key tile
  float *vs = ks + ATT_BK * ks_ld;  // [ATT_BK, D] value tile
  float *qs = vs + ATT_BK * D;      // [ATT_BQ, D] the block's queries
  const int h = blockIdx.y, g = h / (H / K);
  const long i0 = (long)blockIdx.x * ATT_BQ;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;

  for (int idx = threadIdx.x; idx < ATT_BQ * D; idx += blockDim.x) {
    int r = idx / D, d = idx - r * D;
    long i = i0 + r;
    qs[idx] = i < Tq ? q[((size_t)i * H + h) * D + d] : 0.0f;
  }

  Acc m[ATT_QPW], l[ATT_QPW], acc[ATT_QPW][DPL];
#pragma unroll
  for (int r = 0; r < ATT_QPW; r++) {
    m[r] = -INFINITY;
    l[r] = 0;
#pragma unroll
    for (int c = 0; c < DPL; c++) acc[r][c] = 0;
  }

  const long nq = Tq - i0 < ATT_BQ ? Tq - i0 : (long)ATT_BQ;
  const long last = q0 + i0 + nq - 1;  // last key any query of the block sees
  long first = 0;                      // first key any query of the block sees
  if (window > 0 && q0 + i0 - window + 1 > 0) first = q0 + i0 - window + 1;

  for (long j0 = first; j0 <= last; j0 += ATT_BK) {
    const int nk = (int)(last + 1 - j0 < ATT_BK ? last + 1 - j0 : (long)ATT_BK);
    __syncthreads();  // the previous tile is consumed (first pass: the queries are stored)
    for (int idx = threadIdx.x; idx < ATT_BK * D; idx += blockDim.x) {
      int j = idx / D, d = idx - j * D;
      float kv = 0.0f, vv = 0.0f;
      if (j < nk) {
        size_t off = ((size_t)(j0 + j) * K + g) * D + d;
        kv = k[off];
        vv = v[off];
      }
      ks[j * ks_ld + d] = kv;
      vs[j * D + d] = vv;
    }
    __syncthreads();

    Acc s[ATT_QPW];
#pragma unroll
    for (int r = 0; r < ATT_QPW; r++) s[r] = 0;
    const float *kr = ks + lane * ks_ld;
    const float *qw = qs + warp * ATT_QPW * D;
    for (int d = 0; d < D; d++) {
      Acc kd = kr[d];
#pragma unroll
      for (int r = 0; r < ATT_QPW; r++) s[r] += (Acc)qw[r * D + d] * kd;
    }

    const long j = j0 + lane;
    Acc p[ATT_QPW];
#pragma unroll
    for (int r = 0; r < ATT_QPW; r++) {
      const long iq = i0 + warp * ATT_QPW + r;  // query row
      const long qi = q0 + iq;                  // its key index
      bool vis = lane < nk && iq < Tq && j <= qi && (window <= 0 || j > qi - window);
      Acc x = vis ? s[r] * scale : (Acc)-INFINITY;
      Acc mnew = fmax(m[r], warp_max(x));  // warp-uniform
      if (mnew == (Acc)-INFINITY) {         // nothing visible to this query yet
        p[r] = 0;
        continue;
      }
      p[r] = acc_exp(x - mnew);
      Acc corr = acc_exp(m[r] - mnew);  // 0 on the first visible tile (m = −inf)
      l[r] = l[r] * corr + warp_sum(p[r]);
#pragma unroll
      for (int c = 0; c < DPL; c++) acc[r][c] *= corr;
      m[r] = mnew;
    }

    for (int jj = 0; jj < nk; jj++) {
      Acc pj[ATT_QPW];
#pragma unroll
      for (int r = 0; r < ATT_QPW; r++) pj[r] = __shfl_sync(FULL_MASK, p[r], jj);
      const float *vr = vs + jj * D;
#pragma unroll
      for (int c = 0; c < DPL; c++) {
        int d = lane + 32 * c;
        Acc vd = d < D ? (Acc)vr[d] : (Acc)0;
#pragma unroll
        for (int r = 0; r < ATT_QPW; r++) acc[r][c] += pj[r] * vd;
      }
    }
  }

#pragma unroll
  for (int r = 0; r < ATT_QPW; r++) {
    const long iq = i0 + warp * ATT_QPW + r;
    if (iq >= Tq) continue;
    Acc inv = (Acc)1 / l[r];  // l ≥ 1: every query sees its own key
    float *o = out + ((size_t)iq * H + h) * D;
#pragma unroll
    for (int c = 0; c < DPL; c++) {
      int d = lane + 32 * c;
      if (d < D) o[d] = (float)(acc[r][c] * inv);
    }
  }
}

template <int DPL, typename Acc>
static void launch(float *out, const float *q, const float *k, const float *v, long Tq, long q0,
                   int H, int K, int D, Acc scale, long window) {
  size_t smem = (size_t)(ATT_BK * (D + 1) + ATT_BK * D + ATT_BQ * D) * sizeof(float);
  if (smem > 48 * 1024 &&
      cudaCheck(cudaFuncSetAttribute(attention_forward_kernel<DPL, Acc>,
                                     cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem)))
    return;
  dim3 grid((unsigned)((Tq + ATT_BQ - 1) / ATT_BQ), (unsigned)H);
  attention_forward_kernel<DPL, Acc><<<grid, ATT_WARPS * 32, smem>>>(out, q, k, v, Tq, q0, H, K, D,
                                                                      scale, window);
  cudaCheck(cudaGetLastError());
}

template <typename Acc>
static void dispatch(float *out, const float *q, const float *k, const float *v, long Tq, long q0,
                     int H, int K, int D, Acc scale, long window) {
  int dpl = (D + 31) / 32;
  if (dpl <= 1)
    launch<1, Acc>(out, q, k, v, Tq, q0, H, K, D, scale, window);
  else if (dpl <= 2)
    launch<2, Acc>(out, q, k, v, Tq, q0, H, K, D, scale, window);
  else if (dpl <= 4)
    launch<4, Acc>(out, q, k, v, Tq, q0, H, K, D, scale, window);
  else
    launch<8, Acc>(out, q, k, v, Tq, q0, H, K, D, scale, window);
}

extern "C" void cuda_attention(float *out, const float *q, const float *k, const float *v,
                               long Tq, long Tk, long q0, int H, int K, int D, float scale,
                               long window, int fp64) {
  if (Tq <= 0) return;
  if (D < 1 || D > 256 || K < 1 || H % K != 0 || q0 < 0 || q0 + Tq > Tk || H > 65535) {
    cuda_fail("attention: unsupported shape (H %d, K %d, D %d, Tq %ld, Tk %ld, q0 %ld): needs "
              "1 <= D <= 256, H a multiple of K, q0 + Tq <= Tk",
              H, K, D, Tq, Tk, q0);
    return;
  }
#ifdef BENCH_BROKEN_SOFTMAX_SCALE  // a test-only build (Makefile: build/sim/broken/bench) whose GPU
  scale = 1.0f;                    // check must fail, naming this kernel
#endif
  if (fp64)
    dispatch<double>(out, q, k, v, Tq, q0, H, K, D, (double)scale, window);
  else
    dispatch<float>(out, q, k, v, Tq, q0, H, K, D, scale, window);
}

// ---- training: forward and backward ----
// 4 warps per block; up to 8 dims per lane (D ≤ 256)
enum { ATT_TRAIN_WARPS = 4, ATT_MAXU = 8 };

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
__global__ void attention_train_forward_kernel(X *out, float *lse, const X *q, const X *k,
                                               const X *v, long n, long T, int H, int K, int D,
                                               float scale) {
  long wid = (long)blockIdx.x * ATT_TRAIN_WARPS + threadIdx.x / 32;
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
__global__ void attention_di_backward_kernel(float *Di, const X *dout, const X *out, long n, int H,
                                             int D) {
  long wid = (long)blockIdx.x * ATT_TRAIN_WARPS + threadIdx.x / 32;
  int lane = threadIdx.x % 32;
  if (wid >= n * H) return;
  float a[ATT_MAXU];
  att_load(a, dout + (size_t)wid * D, D, lane);
  float s = att_dot(a, out + (size_t)wid * D, D, lane);
  if (lane == 0) Di[wid] = s;
}

// dQ: one warp per (row, query head) over its keys j ≤ i.
template <typename X>
__global__ void attention_dq_backward_kernel(X *dq, const X *dout, const float *Di,
                                             const float *lse, const X *q, const X *k, const X *v,
                                             long n, long T, int H, int K, int D, float scale) {
  long wid = (long)blockIdx.x * ATT_TRAIN_WARPS + threadIdx.x / 32;
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
__global__ void attention_dkv_backward_kernel(X *dk, X *dv, const X *dout, const float *Di,
                                              const float *lse, const X *q, const X *k,
                                              const X *v, long n, long T, int H, int K, int D,
                                              float scale) {
  long wid = (long)blockIdx.x * ATT_TRAIN_WARPS + threadIdx.x / 32;
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

static unsigned att_blocks(long warps) {
  return (unsigned)((warps + ATT_TRAIN_WARPS - 1) / ATT_TRAIN_WARPS);
}

extern "C" void cuda_attn_fwd(void *out, float *lse, const void *q, const void *k, const void *v,
                              DType t, long n_seq, long T, int H, int K, int D) {
  long n = n_seq * T;
  if (n <= 0) return;
  if (D > 32 * ATT_MAXU) {
    cuda_fail("training attention: head dim %d is over %d", D, 32 * ATT_MAXU);
    return;
  }
  float scale = 1.0f / sqrtf((float)D);
  unsigned blocks = att_blocks(n * H), threads = 32 * ATT_TRAIN_WARPS;
  if (t == DTYPE_BF16)
    attention_train_forward_kernel<bf16><<<blocks, threads>>>((bf16 *)out, lse, (const bf16 *)q,
                                                              (const bf16 *)k, (const bf16 *)v, n,
                                                              T, H, K, D, scale);
  else
    attention_train_forward_kernel<float><<<blocks, threads>>>((float *)out, lse,
                                                               (const float *)q, (const float *)k,
                                                               (const float *)v, n, T, H, K, D,
                                                               scale);
  cudaCheck(cudaGetLastError());
}

extern "C" void cuda_attn_di(float *Di, const void *dout, const void *out, DType t, long n, int H,
                             int D) {
  if (n <= 0) return;
  if (D > 32 * ATT_MAXU) {
    cuda_fail("training attention: head dim %d is over %d", D, 32 * ATT_MAXU);
    return;
  }
  unsigned blocks = att_blocks(n * H), threads = 32 * ATT_TRAIN_WARPS;
  if (t == DTYPE_BF16)
    attention_di_backward_kernel<bf16><<<blocks, threads>>>(Di, (const bf16 *)dout,
                                                            (const bf16 *)out, n, H, D);
  else
    attention_di_backward_kernel<float><<<blocks, threads>>>(Di, (const float *)dout,
                                                             (const float *)out, n, H, D);
  cudaCheck(cudaGetLastError());
}

extern "C" void cuda_attn_bwd(void *dq, void *dk, void *dv, const void *dout, const float *Di,
                              const float *lse, const void *q, const void *k, const void *v,
                              DType t, long n_seq, long T, int H, int K, int D) {
  long n = n_seq * T;
  if (n <= 0) return;
  if (D > 32 * ATT_MAXU) {
    cuda_fail("training attention: head dim %d is over %d", D, 32 * ATT_MAXU);
    return;
  }
  float scale = 1.0f / sqrtf((float)D);
  unsigned threads = 32 * ATT_TRAIN_WARPS;
  if (t == DTYPE_BF16) {
    attention_dq_backward_kernel<bf16><<<att_blocks(n * H), threads>>>(
        (bf16 *)dq, (const bf16 *)dout, Di, lse, (const bf16 *)q, (const bf16 *)k, (const bf16 *)v,
        n, T, H, K, D, scale);
    if (cudaCheck(cudaGetLastError())) return;
    attention_dkv_backward_kernel<bf16><<<att_blocks(n * K), threads>>>(
        (bf16 *)dk, (bf16 *)dv, (const bf16 *)dout, Di, lse, (const bf16 *)q, (const bf16 *)k,
        (const bf16 *)v, n, T, H, K, D, scale);
  } else {
    attention_dq_backward_kernel<float><<<att_blocks(n * H), threads>>>(
        (float *)dq, (const float *)dout, Di, lse, (const float *)q, (const float *)k,
        (const float *)v, n, T, H, K, D, scale);
    if (cudaCheck(cudaGetLastError())) return;
    attention_dkv_backward_kernel<float><<<att_blocks(n * K), threads>>>(
        (float *)dk, (float *)dv, (const float *)dout, Di, lse, (const float *)q, (const float *)k,
        (const float *)v, n, T, H, K, D, scale);
  }
  cudaCheck(cudaGetLastError());
}
