// attention.cu — causal GQA attention, one block per (block of ATT_BQ queries, query head).
// See attention.cuh.
//
// A block has ATT_WARPS warps; warp w owns queries i0 + w·ATT_QPW + r, r < ATT_QPW. Keys go by
// tiles of 32 through shared memory (K padded to D + 1 floats a row: lane j reads row j without
// bank conflicts), shared by the block's queries, which all read the same kv head. Per tile:
//   scores: lane j computes q_r · k_j for its key j and every query r of its warp;
//   online softmax per query: m' = max(m, max_j s_j), l' = l·e^(m−m') + Σ_j e^(s_j−m'),
//   acc' = acc·e^(m−m') + Σ_j e^(s_j−m')·v_j, where lane c owns output dims c, c + 32, ...
// Keys outside a query's range (causal, sliding window, past the tile's end) score −inf.
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
