// flash_attention.cu — causal GQA attention on tensor cores (mma.sync m16n8k16, bf16/fp16
// operands, fp32 accumulators). See flash_attention.cuh; the arithmetic is flash_twin.h's.
// Legend: Tq queries, Tk keys, H query heads, K kv heads, G = H/K, D head dim, BQ query rows per
//         block (16 per warp), BK keys per tile (FLASH_BK), LD shared-memory row stride.
//
// Operands. The backend contract hands q, k, v over in fp32. The launcher first rounds them to
// the half dtype into scratch (one pass: (Tq·H + 2·Tk·K)·D elements, 4 bytes read and 2 written
// each), so that the kernel moves tiles with 16-byte asynchronous copies straight into shared
// memory, double-buffered, at half the bytes of fp32 — each K/V tile is read by Tq/BQ · G blocks,
// far more than once. Converting inside the kernel while staging instead would take registers and
// instructions on the path the tensor cores wait on. For a 16,384-token window of an 8B Llama
// (H 32, K 8, D 128) the pass moves ~0.3 GB per layer, ~0.1 ms, against ~6 ms of attention.
//
// One block per (head h, block of BQ queries); blocks run the heaviest query blocks (most keys)
// first. Shared memory: Q [BQ, LD], K and V [2 buffers][BK, LD], LD = D + 8 (16 bytes of padding
// per row: the 8 rows an ldmatrix phase reads fall in distinct banks). Per key tile t (tiles
// before the block's first visible key and after its last are never visited):
//   S[16, BK] = Q_w · K_tᵀ per warp (Q fragments held in registers from the first tile on);
//   mask (only on tiles that cross the causal diagonal or the window's edge), x = S ·ₙ scale_log2;
//   online softmax per row (max over the quad of lanes sharing a row), P rounded to the half
//   dtype in registers, reused directly as the A operand of O[16, D] += P · V_t (V fragments by
//   ldmatrix.trans); l accumulates the rounded P per lane, reduced over the quad at the end.
// Fragment layouts (PTX ISA, mma.m16n8k16, lane = 4·gr + tq): A regs {a0: row gr, cols 2tq..+1;
// a1: row gr+8; a2: row gr, cols 2tq+8..+9; a3: row gr+8, cols 2tq+8..+9}; B regs {b0: k 2tq..+1,
// col gr; b1: k 2tq+8..+9}; C {c0, c1: row gr, cols 2tq..+1; c2, c3: row gr+8}.
#include <stdint.h>

#include "convert.cuh"
#include "cuda_common.cuh"
#include "flash_attention.cuh"
#include "ptx.cuh"

namespace {

// ---- half-precision pairs and tensor-core products ----

template <typename T> struct Half;

template <> struct Half<__nv_bfloat16> {
  // (lo, hi) rounded to nearest even, lo in the low 16 bits (the smaller column index)
  static __device__ __forceinline__ uint32_t pack(float lo, float hi) {
    __nv_bfloat162 h = __floats2bfloat162_rn(lo, hi);
    return *reinterpret_cast<uint32_t *>(&h);
  }
  static __device__ __forceinline__ float2 unpack(uint32_t u) {
    return __bfloat1622float2(*reinterpret_cast<__nv_bfloat162 *>(&u));
  }
  // c[16x8] += a[16x16] · b[16x8]
  static __device__ __forceinline__ void mma(float *c, const uint32_t *a, uint32_t b0,
                                             uint32_t b1) {
    ptx_mma_bf16(c, a, b0, b1);
  }
};

template <> struct Half<__half> {
  static __device__ __forceinline__ uint32_t pack(float lo, float hi) {
    __half2 h = __floats2half2_rn(lo, hi);
    return *reinterpret_cast<uint32_t *>(&h);
  }
  static __device__ __forceinline__ float2 unpack(uint32_t u) {
    return __half22float2(*reinterpret_cast<__half2 *>(&u));
  }
  static __device__ __forceinline__ void mma(float *c, const uint32_t *a, uint32_t b0,
                                             uint32_t b1) {
    ptx_mma_f16(c, a, b0, b1);
  }
};

struct FlashArgs {
  float *out;             // [Tq, H, D] fp32
  const void *q, *k, *v;  // [Tq, H, D], [Tk, K, D], [Tk, K, D] in the half dtype
  long Tq, Tk, q0, window;
  int H, K, G;
  float sl2;              // scale · log2(e)
};

// Rows [r0, r0 + rows) of a [*, stride]-strided half matrix, D columns from column `col0`, into
// shared [rows][LD], 16 bytes per copy; rows ≥ valid_rows are zero-filled.
template <typename T, int D, int LD, int THREADS>
__device__ __forceinline__ void load_rows(T *dst, const T *src, long r0, int rows, long valid_rows,
                                          size_t stride, size_t col0) {
  constexpr int CH = D / 8;  // 16-byte chunks per row
  for (int c = threadIdx.x; c < rows * CH; c += THREADS) {
    int r = c / CH, col = (c - r * CH) * 8;
    bool ok = r0 + r < valid_rows;
    const T *s = src + (ok ? (size_t)(r0 + r) * stride + col0 + col : 0);
    ptx_cp_async16(dst + r * LD + col, s, ok);
  }
}

template <typename T, int D, int WARPS>
__global__ void __launch_bounds__(WARPS * 32)
    flash_attention_forward_kernel(const FlashArgs a) {
  constexpr int BQ = 16 * WARPS, BK = FLASH_BK, LD = D + 8, THREADS = WARPS * 32;
  constexpr int KC = D / 16;  // k-steps of Q·Kᵀ
  constexpr int NT = BK / 8;  // n-tiles of S
  constexpr int DT = D / 8;   // n-tiles of O
  extern __shared__ __align__(16) unsigned char smem_raw[];
  T *sq = reinterpret_cast<T *>(smem_raw);  // [BQ][LD]
  T *sk = sq + BQ * LD;                     // [2][BK][LD]
  T *sv = sk + 2 * BK * LD;                 // [2][BK][LD]

  const int h = blockIdx.x, g = h / a.G;
  const long i0 = (long)(gridDim.y - 1 - blockIdx.y) * BQ;  // heaviest query blocks first
  const long nq = a.Tq - i0 < BQ ? a.Tq - i0 : BQ;
  const long last = a.q0 + i0 + nq - 1;  // last key any query of the block sees
  long first = 0;                        // first key any query of the block sees
  if (a.window > 0 && a.q0 + i0 - a.window + 1 > 0) first = a.q0 + i0 - a.window + 1;
  const long t_begin = first / BK, t_end = last / BK;

  const T *q = static_cast<const T *>(a.q), *k = static_cast<const T *>(a.k);
  const T *v = static_cast<const T *>(a.v);
  const size_t kv_stride = (size_t)a.K * D, kv_col = (size_t)g * D;
  load_rows<T, D, LD, THREADS>(sq, q, i0, BQ, a.Tq, (size_t)a.H * D, (size_t)h * D);
  load_rows<T, D, LD, THREADS>(sk, k, t_begin * BK, BK, a.Tk, kv_stride, kv_col);
  load_rows<T, D, LD, THREADS>(sv, v, t_begin * BK, BK, a.Tk, kv_stride, kv_col);
  ptx_cp_async_commit();

  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int gr = lane >> 2, tq = lane & 3;
  const long row0 = i0 + warp * 16 + gr;  // this lane's two query rows: row0, row0 + 8
  const long qi0 = a.q0 + row0, qi1 = qi0 + 8;  // their key indices
  // ldmatrix row/column offsets of this lane: A-style (rows 0-15, k halves) and B-style
  const int a_row = flash_ldsm_a_row(lane), a_col = flash_ldsm_a_col(lane);
  const int b_row = flash_ldsm_b_row(lane), b_col = flash_ldsm_b_col(lane);

  uint32_t qf[KC][4];
  float o[DT][4];
#pragma unroll
  for (int n = 0; n < DT; n++) o[n][0] = o[n][1] = o[n][2] = o[n][3] = 0.0f;
  float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.0f, 0.0f};

  for (long t = t_begin; t <= t_end; t++) {
    const int buf = (int)((t - t_begin) & 1);
    if (t < t_end) {  // the next tile into the other buffer (its readers passed the last barrier)
      load_rows<T, D, LD, THREADS>(sk + (buf ^ 1) * BK * LD, k, (t + 1) * BK, BK, a.Tk, kv_stride,
                                   kv_col);
      load_rows<T, D, LD, THREADS>(sv + (buf ^ 1) * BK * LD, v, (t + 1) * BK, BK, a.Tk, kv_stride,
                                   kv_col);
    }
    ptx_cp_async_commit();
    ptx_cp_async_wait<1>();  // everything but the group just committed: tile t (and Q) landed
    __syncthreads();
    if (t == t_begin) {
#pragma unroll
      for (int kc = 0; kc < KC; kc++)
        ptx_ldsm_x4(qf[kc], sq + (warp * 16 + a_row) * LD + kc * 16 + a_col);
    }
    const T *kt = sk + buf * BK * LD, *vt = sv + buf * BK * LD;

    // S = Q · Kᵀ: key pairs of n-tiles (16 keys) per ldmatrix
    float s[NT][4];
#pragma unroll
    for (int n = 0; n < NT; n++) s[n][0] = s[n][1] = s[n][2] = s[n][3] = 0.0f;
#pragma unroll
    for (int kc = 0; kc < KC; kc++) {
#pragma unroll
      for (int n2 = 0; n2 < NT / 2; n2++) {
        uint32_t b[4];
        ptx_ldsm_x4(b, kt + (n2 * 16 + b_row) * LD + kc * 16 + b_col);
        Half<T>::mma(s[2 * n2], qf[kc], b[0], b[1]);
        Half<T>::mma(s[2 * n2 + 1], qf[kc], b[2], b[3]);
      }
    }

    // scale (one rounded product: the twin's x), mask where a tile crosses an edge
    const long j0 = t * BK;
    const bool edge = j0 + BK - 1 > a.q0 + i0 || (a.window > 0 && j0 <= last - a.window);
    float tmax[2] = {-INFINITY, -INFINITY};
#pragma unroll
    for (int n = 0; n < NT; n++)
#pragma unroll
      for (int c = 0; c < 4; c++) {
        float x = __fmul_rn(s[n][c], a.sl2);
        if (edge) {
          const long j = j0 + n * 8 + 2 * tq + (c & 1), qi = c < 2 ? qi0 : qi1;
          if (j > qi || (a.window > 0 && j <= qi - a.window)) x = -INFINITY;
        }
        s[n][c] = x;
        tmax[c >> 1] = fmaxf(tmax[c >> 1], x);
      }
    float msub[2], corr[2];
#pragma unroll
    for (int r = 0; r < 2; r++) {
      tmax[r] = fmaxf(tmax[r], __shfl_xor_sync(FULL_MASK, tmax[r], 1));
      tmax[r] = fmaxf(tmax[r], __shfl_xor_sync(FULL_MASK, tmax[r], 2));
      const float mnew = fmaxf(m[r], tmax[r]);
      // nothing visible yet: keep m, l, o (all p are 2^-inf = 0 with msub 0)
      msub[r] = mnew == -INFINITY ? 0.0f : mnew;
      corr[r] = m[r] == -INFINITY ? 0.0f : exp2f(m[r] - mnew);
      if (mnew == -INFINITY) corr[r] = 1.0f;
      m[r] = mnew;
      l[r] *= corr[r];
    }
#pragma unroll
    for (int n = 0; n < DT; n++) {
      o[n][0] *= corr[0];
      o[n][1] *= corr[0];
      o[n][2] *= corr[1];
      o[n][3] *= corr[1];
    }

    // P (rounded) as A fragments, 16 keys per k-step; O += P · V
#pragma unroll
    for (int kc = 0; kc < BK / 16; kc++) {
      uint32_t pa[4];
#pragma unroll
      for (int half = 0; half < 2; half++) {  // n-tiles 2kc (a0, a1) and 2kc + 1 (a2, a3)
        const float *sn = s[2 * kc + half];
        const uint32_t p01 = Half<T>::pack(exp2f(sn[0] - msub[0]), exp2f(sn[1] - msub[0]));
        const uint32_t p23 = Half<T>::pack(exp2f(sn[2] - msub[1]), exp2f(sn[3] - msub[1]));
        const float2 f01 = Half<T>::unpack(p01), f23 = Half<T>::unpack(p23);
        l[0] += f01.x + f01.y;
        l[1] += f23.x + f23.y;
        pa[2 * half] = p01;
        pa[2 * half + 1] = p23;
      }
#pragma unroll
      for (int d2 = 0; d2 < DT / 2; d2++) {
        uint32_t b[4];
        ptx_ldsm_x4_trans(b, vt + (kc * 16 + a_row) * LD + d2 * 16 + a_col);
        Half<T>::mma(o[2 * d2], pa, b[0], b[1]);
        Half<T>::mma(o[2 * d2 + 1], pa, b[2], b[3]);
      }
    }
    __syncthreads();  // every warp is done with buffer `buf` before it is refilled
  }
  ptx_cp_async_wait<0>();

#pragma unroll
  for (int r = 0; r < 2; r++) {
    l[r] += __shfl_xor_sync(FULL_MASK, l[r], 1);
    l[r] += __shfl_xor_sync(FULL_MASK, l[r], 2);
  }
  const float inv0 = 1.0f / l[0], inv1 = 1.0f / l[1];  // l ≥ 1: each query sees its own key
#pragma unroll
  for (int n = 0; n < DT; n++) {
    const int d = n * 8 + 2 * tq;
    if (row0 < a.Tq)
      *reinterpret_cast<float2 *>(a.out + ((size_t)row0 * a.H + h) * D + d) =
          make_float2(o[n][0] * inv0, o[n][1] * inv0);
    if (row0 + 8 < a.Tq)
      *reinterpret_cast<float2 *>(a.out + ((size_t)(row0 + 8) * a.H + h) * D + d) =
          make_float2(o[n][2] * inv1, o[n][3] * inv1);
  }
}

template <typename T, int D, int WARPS>
void launch(const FlashArgs &a) {
  constexpr int BQ = 16 * WARPS, LD = D + 8;
  const size_t smem = (size_t)(BQ + 4 * FLASH_BK) * LD * sizeof(T);
  static bool raised = false;  // the dynamic shared-memory limit, once per instantiation
  if (!raised) {
    if (cudaCheck(cudaFuncSetAttribute(flash_attention_forward_kernel<T, D, WARPS>,
                                       cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem)))
      return;
    raised = true;
  }
  dim3 grid((unsigned)a.H, (unsigned)((a.Tq + BQ - 1) / BQ));
  flash_attention_forward_kernel<T, D, WARPS><<<grid, WARPS * 32, smem>>>(a);
  cudaCheck(cudaGetLastError());
}

template <typename T, int WARPS>
void dispatch_dim(const FlashArgs &a, int D) {
  switch (D) {
    case 64: launch<T, 64, WARPS>(a); break;
    case 80: launch<T, 80, WARPS>(a); break;
    case 96: launch<T, 96, WARPS>(a); break;
    default: launch<T, 128, WARPS>(a); break;
  }
}

template <typename T>
void dispatch(const FlashArgs &a, int D, int warps) {
  if (warps == 8)
    dispatch_dim<T, 8>(a, D);
  else
    dispatch_dim<T, 4>(a, D);
}

}  // namespace

extern "C" void cuda_flash_attention_warps(float *out, const float *q, const float *k,
                                           const float *v, long Tq, long Tk, long q0, int H, int K,
                                           int D, float scale, long window, DType dtype,
                                           int warps) {
  if (Tq <= 0) return;
  const long BQ = 16L * warps;
  if (!flash_attention_supported(D) || K < 1 || H < 1 || H % K != 0 || q0 < 0 || q0 + Tq > Tk ||
      (dtype != DTYPE_BF16 && dtype != DTYPE_F16) || (warps != 4 && warps != 8) ||
      (Tq + BQ - 1) / BQ > 65535) {
    cuda_fail("flash attention: unsupported shape (H %d, K %d, D %d, Tq %ld, Tk %ld, q0 %ld, "
              "dtype %s, warps %d): needs D in {64, 80, 96, 128}, H a multiple of K, "
              "q0 + Tq <= Tk, bf16 or fp16, 4 or 8 warps, Tq <= %ld",
              H, K, D, Tq, Tk, q0, dtype_name(dtype), warps, 65535 * BQ);
    return;
  }
  const size_t nq = (size_t)Tq * H * D, nkv = (size_t)Tk * K * D;
  const size_t align = 128;  // elements: 256-byte aligned parts
  const size_t nq_pad = (nq + align - 1) / align * align, nkv_pad = (nkv + align - 1) / align * align;
  char *scratch = (char *)cuda_scratch(CUDA_SCRATCH_FLASH, (nq_pad + 2 * nkv_pad) * 2);
  if (!scratch) return;
  char *hq = scratch, *hk = hq + nq_pad * 2, *hv = hk + nkv_pad * 2;
  cuda_convert_from_f32(hq, dtype, q, nq);
  cuda_convert_from_f32(hk, dtype, k, nkv);
  cuda_convert_from_f32(hv, dtype, v, nkv);
  FlashArgs a;
  a.out = out;
  a.q = hq;
  a.k = hk;
  a.v = hv;
  a.Tq = Tq;
  a.Tk = Tk;
  a.q0 = q0;
  a.window = window;
  a.H = H;
  a.K = K;
  a.G = H / K;
  a.sl2 = flash_scale_log2(scale);
  if (dtype == DTYPE_BF16)
    dispatch<__nv_bfloat16>(a, D, warps);
  else
    dispatch<__half>(a, D, warps);
}

extern "C" void cuda_flash_attention(float *out, const float *q, const float *k, const float *v,
                                     long Tq, long Tk, long q0, int H, int K, int D, float scale,
                                     long window, DType dtype) {
  cuda_flash_attention_warps(out, q, k, v, Tq, Tk, q0, H, K, D, scale, window, dtype,
                             FLASH_WARPS_DEFAULT);
}
