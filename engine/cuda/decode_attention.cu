// decode_attention.cu — attention of the decode protocol's steps over cache slots, and the
// prefill's observed weight sums. See decode_attention.cuh.
//
// decode_attention: one block per (sequence, kv head), its G query heads taken DA_HB at a time;
// warp w owns heads w·DA_HPW + r. The (sequence, kv head)'s slots are consecutive rows, read by
// tiles of DA_BK keys into shared memory (K padded to D + 1 floats a row; rotated at their slot
// index on the way in, cache positions), shared by the block's heads. Per tile, as attention.cu:
// lane j scores key j against each head of its warp; online softmax per head; lane c owns output
// dims c, c + 32, ... When a policy observes, a second pass over the tiles recomputes each score,
// turns it into the final weight e^(s − m)/l, and folds the block's heads into the slot's score in
// head order (through shared memory), so the sum runs in the CPU twin's order.
//
// Split over keys (flash-decoding): one block per (sequence, kv head) leaves most of a GPU idle at
// small batches (8 kv heads at batch 1: 8 blocks on 132 SMs), so when no policy observes the
// weights (score NULL) and there are enough slots, the slots from lo on are cut into nsplit runs
// of split_len (a multiple of DA_BK) along blockIdx.y; each block writes its heads' running max
// m, sum l and unnormalised output o to scratch, and decode_merge_forward_kernel combines them:
// out = Σ_p o_p·e^(m_p − M) / Σ_p l_p·e^(m_p − M), M = max_p m_p. With a score to fold, the
// single pass keeps the CPU twin's summation order for it. The host sizes the splits by n (lo is
// found on the device), so under a model's sliding window (pos_lo) the splits past the window's
// n − lo slots are empty: correct, with fewer busy blocks.
//
// attention_weight_sums: pass 1, one warp per (observed query i, head h): the max and sum of
// e^(s − max) over the keys i sees (lanes split the head dim; keys one after another); pass 2, one
// warp per (kv head g, key j): for each of g's heads in order, Σ over the queries that see j of
// e^(s − max_i)/sum_i, added to the slot's score. Work O(H·obs·T·D) each, like the attention.
#include "cuda_common.cuh"
#include "decode_attention.cuh"

enum { DA_WARPS = 4, DA_HPW = 4, DA_HB = DA_WARPS * DA_HPW, DA_BK = 32 };
// Splits: at least DA_SPLIT_MIN slots each, and about DA_SPLIT_BLOCKS blocks in all (two waves
// of an H100's 132 SMs).
enum { DA_SPLIT_MIN = 256, DA_SPLIT_BLOCKS = 264 };

// Tile of nk keys (and values when vs is non-NULL) of slots j0.. from rows r0 + j0..: ks[j, d]
// (row stride D + 1), keys rotated at their slot index when cos_t is non-NULL — the products
// unfused (__fmul_rn) so that they round as the CPU twin's rotation does.
__device__ __forceinline__ void load_tile(float *ks, float *vs, const float *kc, const float *vc,
                                          size_t r0, long j0, int nk, int D,
                                          const float *cos_t, const float *sin_t, int half) {
  const int ks_ld = D + 1;
  for (int idx = threadIdx.x; idx < DA_BK * D; idx += blockDim.x) {
    int j = idx / D, d = idx - j * D;
    float kv = 0.0f, vv = 0.0f;
    if (j < nk) {
      const float *kr = kc + (r0 + j0 + j) * D;
      kv = kr[d];
      if (cos_t && d < 2 * half) {
        int i = d < half ? d : d - half;
        float c = cos_t[(size_t)(j0 + j) * half + i], s = sin_t[(size_t)(j0 + j) * half + i];
        kv = d < half ? __fsub_rn(__fmul_rn(kv, c), __fmul_rn(kr[d + half], s))
                      : __fadd_rn(__fmul_rn(kv, c), __fmul_rn(kr[d - half], s));
      }
      if (vs) vv = vc[(r0 + j0 + j) * D + d];
    }
    ks[j * ks_ld + d] = kv;
    if (vs) vs[j * D + d] = vv;
  }
}

template <int DPL, typename Acc>
__global__ void __launch_bounds__(DA_WARPS * 32)
    decode_attention_forward_kernel(float *out, float *score, const float *q, const float *kc,
                                    const float *vc, const int32_t *pos, const int64_t *row0,
                                    long n, long pos_lo, int H, int K, int D, Acc scale,
                                    const float *cos_t, const float *sin_t, int half,
                                    int accumulate, long split_len, Acc *part) {
  extern __shared__ float smem[];
  const int ks_ld = D + 1;
  float *ks = smem;                 // [DA_BK, D + 1] key tile
  float *vs = ks + DA_BK * ks_ld;   // [DA_BK, D] value tile
  float *qs = vs + DA_BK * D;       // [DA_HB, D] the heads of this round
  float *ws = qs + DA_HB * D;       // [DA_HB, DA_BK] a tile's weights, for the fold
  __shared__ long lo_s;
  const int sg = blockIdx.x, b = sg / K, g = sg % K, G = H / K;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const size_t r0 = (size_t)row0[sg];
  if (threadIdx.x == 0) {  // first slot with pos ≥ pos_lo (positions ascend)
    long a = 0, e = n;
    while (pos_lo > 0 && a < e) {
      long mid = a + (e - a) / 2;
      if (pos[r0 + mid] >= pos_lo) e = mid;
      else a = mid + 1;
    }
    lo_s = a;
  }
  __syncthreads();
  // this block's slots [lo, hi): all from lo on, or its split's run (part: per head m, l, o)
  long lo = lo_s, hi = n;
  if (part) {
    lo += (long)blockIdx.y * split_len;
    hi = lo + split_len < n ? lo + split_len : n;
  }

  for (int h0 = 0; h0 < G; h0 += DA_HB) {
    const int nh = G - h0 < DA_HB ? G - h0 : DA_HB;
    __syncthreads();  // the previous round is done with qs and ws
    for (int idx = threadIdx.x; idx < DA_HB * D; idx += blockDim.x) {
      int r = idx / D, d = idx - r * D;
      qs[idx] = r < nh ? q[((size_t)b * H + (size_t)g * G + h0 + r) * D + d] : 0.0f;
    }
    Acc m[DA_HPW], l[DA_HPW], acc[DA_HPW][DPL];
#pragma unroll
    for (int r = 0; r < DA_HPW; r++) {
      m[r] = -INFINITY;
      l[r] = 0;
#pragma unroll
      for (int c = 0; c < DPL; c++) acc[r][c] = 0;
    }
    const float *qw = qs + warp * DA_HPW * D;

    for (long j0 = lo; j0 < hi; j0 += DA_BK) {
      const int nk = (int)(hi - j0 < DA_BK ? hi - j0 : (long)DA_BK);
      __syncthreads();  // the previous tile is consumed (first pass: the heads are stored)
      load_tile(ks, vs, kc, vc, r0, j0, nk, D, cos_t, sin_t, half);
      __syncthreads();
      Acc s[DA_HPW];
#pragma unroll
      for (int r = 0; r < DA_HPW; r++) s[r] = 0;
      const float *kr = ks + lane * ks_ld;
      for (int d = 0; d < D; d++) {
        Acc kd = kr[d];
#pragma unroll
        for (int r = 0; r < DA_HPW; r++) s[r] += (Acc)qw[r * D + d] * kd;
      }
      Acc p[DA_HPW];
#pragma unroll
      for (int r = 0; r < DA_HPW; r++) {
        bool vis = lane < nk && warp * DA_HPW + r < nh;
        Acc x = vis ? s[r] * scale : (Acc)-INFINITY;
        Acc mnew = fmax(m[r], warp_max(x));  // warp-uniform
        if (mnew == (Acc)-INFINITY) {         // a head past nh
          p[r] = 0;
          continue;
        }
        p[r] = acc_exp(x - mnew);
        Acc corr = acc_exp(m[r] - mnew);  // 0 on the first tile (m = −inf)
        l[r] = l[r] * corr + warp_sum(p[r]);
#pragma unroll
        for (int c = 0; c < DPL; c++) acc[r][c] *= corr;
        m[r] = mnew;
      }
      for (int jj = 0; jj < nk; jj++) {
        Acc pj[DA_HPW];
#pragma unroll
        for (int r = 0; r < DA_HPW; r++) pj[r] = __shfl_sync(FULL_MASK, p[r], jj);
        const float *vr = vs + jj * D;
#pragma unroll
        for (int c = 0; c < DPL; c++) {
          int d = lane + 32 * c;
          Acc vd = d < D ? (Acc)vr[d] : (Acc)0;
#pragma unroll
          for (int r = 0; r < DA_HPW; r++) acc[r][c] += pj[r] * vd;
        }
      }
    }

    if (part) {  // this split's m, l and unnormalised o per head: [sg][split][head][D + 2]
#pragma unroll
      for (int r = 0; r < DA_HPW; r++) {
        const int hr = warp * DA_HPW + r;
        if (hr >= nh) continue;
        Acc *pp = part + (((size_t)sg * gridDim.y + blockIdx.y) * G + h0 + hr) * (D + 2);
        if (lane == 0) {
          pp[0] = m[r];
          pp[1] = l[r];
        }
#pragma unroll
        for (int c = 0; c < DPL; c++) {
          int d = lane + 32 * c;
          if (d < D) pp[2 + d] = acc[r][c];
        }
      }
      continue;  // no score with splits
    }

    Acc inv[DA_HPW];
#pragma unroll
    for (int r = 0; r < DA_HPW; r++) {
      inv[r] = l[r] > 0 ? (Acc)1 / l[r] : (Acc)0;  // l = 0: no visible slot, output 0
      const int hr = warp * DA_HPW + r;
      if (hr >= nh) continue;
      float *o = out + ((size_t)b * H + (size_t)g * G + h0 + hr) * D;
#pragma unroll
      for (int c = 0; c < DPL; c++) {
        int d = lane + 32 * c;
        if (d < D) o[d] = (float)(acc[r][c] * inv[r]);
      }
    }
    if (!score) continue;

    // the weights, folded into the slots' scores in head order
    const bool fresh = h0 == 0 && !accumulate;
    if (fresh)
      for (long j = threadIdx.x; j < lo; j += blockDim.x) score[r0 + j] = 0.0f;
    for (long j0 = lo; j0 < n; j0 += DA_BK) {
      const int nk = (int)(n - j0 < DA_BK ? n - j0 : (long)DA_BK);
      __syncthreads();  // the previous tile's fold is done with ws
      load_tile(ks, NULL, kc, vc, r0, j0, nk, D, cos_t, sin_t, half);
      __syncthreads();
      Acc s[DA_HPW];
#pragma unroll
      for (int r = 0; r < DA_HPW; r++) s[r] = 0;
      const float *kr = ks + lane * ks_ld;
      for (int d = 0; d < D; d++) {
        Acc kd = kr[d];
#pragma unroll
        for (int r = 0; r < DA_HPW; r++) s[r] += (Acc)qw[r * D + d] * kd;
      }
#pragma unroll
      for (int r = 0; r < DA_HPW; r++) {
        bool vis = lane < nk && warp * DA_HPW + r < nh && l[r] > 0;
        Acc w = vis ? acc_exp(s[r] * scale - m[r]) * inv[r] : (Acc)0;
        ws[(warp * DA_HPW + r) * DA_BK + lane] = (float)w;
      }
      __syncthreads();
      if (threadIdx.x < nk) {
        float sc = fresh ? 0.0f : score[r0 + j0 + threadIdx.x];
        for (int hr = 0; hr < nh; hr++) sc += ws[hr * DA_BK + threadIdx.x];
        score[r0 + j0 + threadIdx.x] = sc;
      }
    }
  }
}

// out[b, h, :] from the splits of (b, kv head h / G): one block per (sequence, head).
template <typename Acc>
__global__ void decode_merge_forward_kernel(float *out, const Acc *part, int nsplit, int H, int K,
                                            int D) {
  const int G = H / K, b = blockIdx.x / H, h = blockIdx.x % H, g = h / G, r = h % G;
  const size_t sg = (size_t)b * K + g, stride = (size_t)G * (D + 2);
  const Acc *p0 = part + (sg * nsplit * G + r) * (D + 2);  // split p at p0 + p·stride
  Acc M = -INFINITY;
  for (int p = 0; p < nsplit; p++) M = fmax(M, p0[p * stride]);
  Acc L = 0;
  for (int p = 0; p < nsplit; p++)
    if (p0[p * stride] != (Acc)-INFINITY) L += p0[p * stride + 1] * acc_exp(p0[p * stride] - M);
  const Acc inv = L > 0 ? (Acc)1 / L : (Acc)0;  // no visible slot: output 0
  for (int d = threadIdx.x; d < D; d += blockDim.x) {
    Acc o = 0;
    for (int p = 0; p < nsplit; p++)
      if (p0[p * stride] != (Acc)-INFINITY)
        o += p0[p * stride + 2 + d] * acc_exp(p0[p * stride] - M);
    out[((size_t)b * H + h) * D + d] = (float)(o * inv);
  }
}

template <int DPL, typename Acc>
static void launch_decode(float *out, float *score, const float *q, const float *kc,
                          const float *vc, const int32_t *pos, const int64_t *row0, long S, long n,
                          long pos_lo, int H, int K, int D, Acc scale, const float *cos_t,
                          const float *sin_t, int half, int accumulate) {
  size_t smem = (size_t)(DA_BK * (D + 1) + DA_BK * D + DA_HB * D + DA_HB * DA_BK) * sizeof(float);
  if (smem > 48 * 1024 &&
      cudaCheck(cudaFuncSetAttribute(decode_attention_forward_kernel<DPL, Acc>,
                                     cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem)))
    return;
  // splits when nothing observes the weights and the blocks would not fill the GPU
  long nsplit = 1, split_len = n;
  if (!score && S * K < DA_SPLIT_BLOCKS) {
    long want = (DA_SPLIT_BLOCKS + S * K - 1) / (S * K), most = n / DA_SPLIT_MIN;
    if ((want < most ? want : most) > 1) {
      nsplit = want < most ? want : most;
      split_len = ((n + nsplit - 1) / nsplit + DA_BK - 1) / DA_BK * DA_BK;
      nsplit = (n + split_len - 1) / split_len;
    }
  }
  Acc *part = NULL;
  if (nsplit > 1) {
    part = (Acc *)cuda_scratch(CUDA_SCRATCH_DECODE_SPLIT,
                               (size_t)S * H * nsplit * (D + 2) * sizeof(Acc));
    if (!part) return;
  }
  dim3 grid((unsigned)(S * K), (unsigned)nsplit);
  decode_attention_forward_kernel<DPL, Acc><<<grid, DA_WARPS * 32, smem>>>(
      out, score, q, kc, vc, pos, row0, n, pos_lo, H, K, D, scale, cos_t, sin_t, half, accumulate,
      split_len, part);
  if (cudaCheck(cudaGetLastError()) || !part) return;
  decode_merge_forward_kernel<Acc><<<(unsigned)(S * H), 128>>>(out, part, (int)nsplit, H, K, D);
  cudaCheck(cudaGetLastError());
}

template <typename Acc>
static void dispatch_decode(float *out, float *score, const float *q, const float *kc,
                            const float *vc, const int32_t *pos, const int64_t *row0, long S,
                            long n, long pos_lo, int H, int K, int D, Acc scale,
                            const float *cos_t, const float *sin_t, int half, int accumulate) {
  int dpl = (D + 31) / 32;
#define DA_LAUNCH(N)                                                                            \
  launch_decode<N, Acc>(out, score, q, kc, vc, pos, row0, S, n, pos_lo, H, K, D, scale, cos_t, \
                        sin_t, half, accumulate)
  if (dpl <= 1) DA_LAUNCH(1);
  else if (dpl <= 2) DA_LAUNCH(2);
  else if (dpl <= 4) DA_LAUNCH(4);
  else DA_LAUNCH(8);
#undef DA_LAUNCH
}

extern "C" void cuda_decode_attention(float *out, float *score, const float *q, const float *kc,
                                      const float *vc, const int32_t *pos, const int64_t *row0,
                                      long S, long n, long pos_lo, int H, int K, int D,
                                      float scale, const float *cos_t, const float *sin_t, int R,
                                      int accumulate, int fp64) {
  if (S <= 0) return;
  if (D < 1 || D > 256 || K < 1 || H % K != 0 || n < 1 || S * K > 2147483647L || R > D ||
      (pos_lo > 0 && !pos)) {
    cuda_fail("decode_attention: unsupported shape (S %ld, H %d, K %d, D %d, R %d, n %ld): needs "
              "1 <= D <= 256, H a multiple of K, n >= 1, R <= D",
              S, H, K, D, R, n);
    return;
  }
  int half = cos_t ? R / 2 : 0;
  if (fp64)
    dispatch_decode<double>(out, score, q, kc, vc, pos, row0, S, n, pos_lo, H, K, D,
                            (double)scale, cos_t, sin_t, half, accumulate);
  else
    dispatch_decode<float>(out, score, q, kc, vc, pos, row0, S, n, pos_lo, H, K, D, scale, cos_t,
                           sin_t, half, accumulate);
}

// ---- the prefill's observed weights ----

// mstat, lstat [obs, H]: max and Σ e^(s − max) of the scores of observed query T − obs + i'.
template <int DPL, typename Acc>
__global__ void weight_stats_forward_kernel(Acc *mstat, Acc *lstat, const float *q,
                                            const float *k, long T, long obs, int H, int K,
                                            int D, Acc scale, long window) {
  const long w = (long)(((size_t)blockIdx.x * blockDim.x + threadIdx.x) / 32);
  const int lane = threadIdx.x % 32;
  if (w >= obs * H) return;  // whole warps
  const long i = T - obs + w / H;
  const int h = (int)(w % H), g = h / (H / K);
  Acc qv[DPL];
#pragma unroll
  for (int c = 0; c < DPL; c++) {
    int d = lane + 32 * c;
    qv[c] = d < D ? (Acc)q[((size_t)i * H + h) * D + d] : (Acc)0;
  }
  const long j0 = window > 0 && i - window + 1 > 0 ? i - window + 1 : 0;
  Acc m = -INFINITY, l = 0;
  for (long j = j0; j <= i; j++) {
    const float *kr = k + ((size_t)j * K + g) * D;
    Acc s = 0;
#pragma unroll
    for (int c = 0; c < DPL; c++) {
      int d = lane + 32 * c;
      if (d < D) s += qv[c] * (Acc)kr[d];
    }
    s = warp_sum(s) * scale;
    Acc mnew = fmax(m, s);
    l = l * acc_exp(m - mnew) + acc_exp(s - mnew);
    m = mnew;
  }
  if (lane == 0) {
    mstat[w] = m;
    lstat[w] = l;
  }
}

// score[row0[g] + j] (+)= Σ_r Σ_i e^(s_ij − m_i)/l_i over the observed queries i that see key j,
// one warp per (g, j).
template <int DPL, typename Acc>
__global__ void weight_sums_forward_kernel(float *score, const Acc *mstat, const Acc *lstat,
                                           const float *q, const float *k, const int64_t *row0,
                                           long T, long obs, int H, int K, int D, Acc scale,
                                           long window, int accumulate) {
  const long w = (long)(((size_t)blockIdx.x * blockDim.x + threadIdx.x) / 32);
  const int lane = threadIdx.x % 32;
  if (w >= (long)K * T) return;  // whole warps
  const int g = (int)(w / T), G = H / K;
  const long j = w % T;
  Acc kv[DPL];
#pragma unroll
  for (int c = 0; c < DPL; c++) {
    int d = lane + 32 * c;
    kv[c] = d < D ? (Acc)k[((size_t)j * K + g) * D + d] : (Acc)0;
  }
  const long i_lo = T - obs > j ? T - obs : j;               // queries at or after key j
  const long i_hi = window > 0 && j + window < T ? j + window : T;  // and within its window
  float sc = accumulate ? score[row0[g] + j] : 0.0f;
  for (int r = 0; r < G; r++) {
    const int h = g * G + r;
    Acc a = 0;
    for (long i = i_lo; i < i_hi; i++) {
      const float *qr = q + ((size_t)i * H + h) * D;
      Acc s = 0;
#pragma unroll
      for (int c = 0; c < DPL; c++) {
        int d = lane + 32 * c;
        if (d < D) s += (Acc)qr[d] * kv[c];
      }
      s = warp_sum(s) * scale;
      const size_t st = (size_t)(i - (T - obs)) * H + h;
      a += acc_exp(s - mstat[st]) / lstat[st];
    }
    sc += (float)a;
  }
  if (lane == 0) score[row0[g] + j] = sc;
}

template <int DPL, typename Acc>
static void launch_sums(float *score, const float *q, const float *k, const int64_t *row0, long T,
                        long obs, int H, int K, int D, Acc scale, long window, int accumulate) {
  Acc *stats = (Acc *)cuda_scratch(CUDA_SCRATCH_WEIGHT_STATS, 2 * (size_t)obs * H * sizeof(Acc));
  if (!stats) return;  // the failure is recorded
  Acc *mstat = stats, *lstat = stats + (size_t)obs * H;
  size_t w1 = (size_t)obs * H, w2 = (size_t)K * T;
  weight_stats_forward_kernel<DPL, Acc><<<cuda_blocks(w1 * 32, 128, 1u << 30), 128>>>(
      mstat, lstat, q, k, T, obs, H, K, D, scale, window);
  if (cudaCheck(cudaGetLastError())) return;
  weight_sums_forward_kernel<DPL, Acc><<<cuda_blocks(w2 * 32, 128, 1u << 30), 128>>>(
      score, mstat, lstat, q, k, row0, T, obs, H, K, D, scale, window, accumulate);
  cudaCheck(cudaGetLastError());
}

template <typename Acc>
static void dispatch_sums(float *score, const float *q, const float *k, const int64_t *row0,
                          long T, long obs, int H, int K, int D, Acc scale, long window,
                          int accumulate) {
  int dpl = (D + 31) / 32;
#define WS_LAUNCH(N) \
  launch_sums<N, Acc>(score, q, k, row0, T, obs, H, K, D, scale, window, accumulate)
  if (dpl <= 1) WS_LAUNCH(1);
  else if (dpl <= 2) WS_LAUNCH(2);
  else if (dpl <= 4) WS_LAUNCH(4);
  else WS_LAUNCH(8);
#undef WS_LAUNCH
}

extern "C" void cuda_attention_weight_sums(float *score, const float *q, const float *k,
                                           const int64_t *row0, long T, long obs, int H, int K,
                                           int D, float scale, long window, int accumulate,
                                           int fp64) {
  if (T <= 0) return;
  if (D < 1 || D > 256 || K < 1 || H % K != 0 || obs < 1 || obs > T) {
    cuda_fail("attention_weight_sums: unsupported shape (T %ld, obs %ld, H %d, K %d, D %d): "
              "needs 1 <= D <= 256, H a multiple of K, 1 <= obs <= T",
              T, obs, H, K, D);
    return;
  }
  if (fp64)
    dispatch_sums<double>(score, q, k, row0, T, obs, H, K, D, (double)scale, window, accumulate);
  else
    dispatch_sums<float>(score, q, k, row0, T, obs, H, K, D, scale, window, accumulate);
}
