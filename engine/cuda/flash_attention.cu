// flash_attention.cu — causal GQA attention on tensor cores (mma.sync m16n8k16, bf16/fp16
// operands, fp32 accumulators). See flash_attention.cuh; the arithmetic is flash_twin.h's. The
// trainer's tensor-core attention, forward and backward, follows in its own section (its legend
// and layout there).
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

// ---- training: forward and backward ----
//
// Causal attention for training on the tensor cores (mma.sync m16n8k16, bf16 operands, fp32
// accumulation; sm_80 and later), flash style: no T × T matrix, the forward keeps an online
// softmax per query row and saves the log-sum-exp, the backward recomputes the probabilities
// from it. Three kernels, each block 4 warps, each warp 16 rows:
//   forward  per (64 queries, head): over key blocks j ≤ i: S = Q·Kᵀ, online softmax, O += P·V
//   dK, dV   per (64 keys, kv head): over the heads of its group and the query blocks i ≥ j:
//            Sᵀ = K·Qᵀ, Pᵀ = exp(Sᵀ·scale − lse), dV += Pᵀ·dO, dPᵀ = V·dOᵀ,
//            dSᵀ = Pᵀ∘(dPᵀ − Di), dK += dSᵀ·Q  (dK·scale at the end)
//   dQ       per (64 queries, head): over key blocks j ≤ i: S, P as above, dP = dO·Vᵀ,
//            dS = P∘(dP − Di), dQ += dS·K  (·scale)
// Each output row block belongs to one block of threads (no atomics: deterministic); the dQ
// kernel recomputes S and dP rather than sharing them with the dK/dV kernel (two more products
// per block pair, no fp32 dQ buffer, no atomics).
// Reference: the simple training kernels (attention.cu); tests/gpu/test_train_kernels.c compares
// both with the CPU.
//
// Fragments (PTX ISA, mma.m16n8k16 with .bf16; g = lane / 4, c = lane % 4):
//   A 16×16 row-major: a0 (row g, cols 2c, 2c+1), a1 (row g+8, same), a2 (row g, cols 2c+8, +9),
//     a3 (row g+8, cols 2c+8, +9);  B 16×8: b0 (rows k 2c, 2c+1, col n g), b1 (rows 2c+8, +9);
//   C/D 16×8 fp32: d0, d1 (row g, cols 2c, 2c+1), d2, d3 (row g+8, same).
// So an accumulator pair of 16×8 tiles (n-tiles 2t, 2t+1) packed to bf16 is the A fragment of
// the next product over those 16 columns: P and dS never leave registers. Operands in shared
// memory load with ldmatrix (x4: four 8×8 matrices, lanes 8m..8m+7 giving matrix m's row
// addresses): plain for A and for a B stored [n][k] (K in Q·Kᵀ), .trans for a B stored [k][n]
// (V in P·V). Tiles are [64][D + 8] bf16: rows 16-byte aligned, and the 8 rows of one ldmatrix
// fall in distinct banks.
// Legend: T tokens per sequence, H query heads, K kv heads, D head dim, q0/k0 first query/key of
//         a block, BQ query rows per step of the dK/dV kernel.

enum { FL_ROWS = 64, FL_THREADS = 128 };
#define FL_LOG2E 1.4426950408889634f
#define FL_LN2 0.6931471805599453f

__device__ __forceinline__ void fl_mma(float (&d)[4], const uint32_t (&a)[4], uint32_t b0,
                                       uint32_t b1) {
  ptx_mma_bf16(d, a, b0, b1);
}

__device__ __forceinline__ void fl_ldsm(uint32_t &r0, uint32_t &r1, uint32_t &r2, uint32_t &r3,
                                        const bf16 *p) {
  uint32_t r[4];
  ptx_ldsm_x4(r, p);
  r0 = r[0], r1 = r[1], r2 = r[2], r3 = r[3];
}

__device__ __forceinline__ void fl_ldsm_t(uint32_t &r0, uint32_t &r1, uint32_t &r2, uint32_t &r3,
                                          const bf16 *p) {
  uint32_t r[4];
  ptx_ldsm_x4_trans(r, p);
  r0 = r[0], r1 = r[1], r2 = r[2], r3 = r[3];
}

__device__ __forceinline__ uint32_t fl_pack(float lo, float hi) {
  __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
  return *reinterpret_cast<uint32_t *>(&v);
}

// rows × D tile from global rows row0.. (row stride ld elements) into shared [rows][D + 8];
// rows at or past `valid` are zeros.
template <int D>
__device__ __forceinline__ void fl_load_tile(bf16 *s, const bf16 *g, long ld, int rows,
                                             long valid) {
  constexpr int VPR = D / 8;  // 16-byte vectors per row
  for (int idx = threadIdx.x; idx < rows * VPR; idx += blockDim.x) {
    int r = idx / VPR, cv = idx % VPR;
    uint4 val = make_uint4(0, 0, 0, 0);
    if (r < valid) val = *reinterpret_cast<const uint4 *>(g + (size_t)r * ld + cv * 8);
    *reinterpret_cast<uint4 *>(s + r * (D + 8) + cv * 8) = val;
  }
}

// A fragment of rows row0..row0+15, cols k0..k0+15 of a [.][D + 8] tile.
template <int D>
__device__ __forceinline__ void fl_frag_a(uint32_t (&a)[4], const bf16 *s, int row0, int k0) {
  int lane = threadIdx.x % 32, m = lane >> 3, r = lane & 7;
  fl_ldsm(a[0], a[1], a[2], a[3], s + (row0 + (m & 1) * 8 + r) * (D + 8) + k0 + (m >> 1) * 8);
}

// B fragments (b0, b1) of n-tiles n0/8 and n0/8 + 1 over k0..k0+15, B stored [n][k] (rows n).
template <int D>
__device__ __forceinline__ void fl_frag_b_nk(uint32_t (&b)[4], const bf16 *s, int n0, int k0) {
  int lane = threadIdx.x % 32, m = lane >> 3, r = lane & 7;
  fl_ldsm(b[0], b[1], b[2], b[3], s + (n0 + (m >> 1) * 8 + r) * (D + 8) + k0 + (m & 1) * 8);
}

// B fragments of n-tiles n0/8, n0/8 + 1 over k0..k0+15, B stored [k][n] (rows k).
template <int D>
__device__ __forceinline__ void fl_frag_b_kn(uint32_t (&b)[4], const bf16 *s, int k0, int n0) {
  int lane = threadIdx.x % 32, m = lane >> 3, r = lane & 7;
  fl_ldsm_t(b[0], b[1], b[2], b[3], s + (k0 + (m & 1) * 8 + r) * (D + 8) + n0 + (m >> 1) * 8);
}

// ---- forward ----
template <int D>
__global__ void __launch_bounds__(FL_THREADS) flash_attention_train_forward_kernel(
    bf16 *out, float *lse, const bf16 *q, const bf16 *k, const bf16 *v, long T, int H, int K,
    float scale_log2) {
  extern __shared__ __align__(16) unsigned char fl_smem[];
  bf16 *Qs = reinterpret_cast<bf16 *>(fl_smem), *Ks = Qs + FL_ROWS * (D + 8),
       *Vs = Ks + FL_ROWS * (D + 8);
  int nqb = (int)((T + FL_ROWS - 1) / FL_ROWS), qb = nqb - 1 - (int)blockIdx.x;
  int h = blockIdx.y, g = h / (H / K);
  long s = blockIdx.z, q0 = (long)qb * FL_ROWS;
  int warp = threadIdx.x / 32, lane = threadIdx.x % 32, gr = lane >> 2, gc = lane & 3;
  const bf16 *qg = q + ((size_t)(s * T + q0) * H + h) * D;
  const bf16 *kg = k + ((size_t)(s * T) * K + g) * D, *vg = v + ((size_t)(s * T) * K + g) * D;
  fl_load_tile<D>(Qs, qg, (long)H * D, FL_ROWS, T - q0);
  __syncthreads();
  uint32_t qf[D / 16][4];
#pragma unroll
  for (int kk = 0; kk < D / 16; kk++) fl_frag_a<D>(qf[kk], Qs, warp * 16, kk * 16);
  float o[D / 8][4];
#pragma unroll
  for (int t = 0; t < D / 8; t++) o[t][0] = o[t][1] = o[t][2] = o[t][3] = 0;
  float mrow[2] = {-INFINITY, -INFINITY}, lrow[2] = {0, 0};
  for (int kb = 0; kb <= qb; kb++) {
    long k0 = (long)kb * FL_ROWS;
    __syncthreads();  // the previous block's K, V are no longer read
    fl_load_tile<D>(Ks, kg + (size_t)k0 * K * D, (long)K * D, FL_ROWS, T - k0);
    fl_load_tile<D>(Vs, vg + (size_t)k0 * K * D, (long)K * D, FL_ROWS, T - k0);
    __syncthreads();
    float sc[8][4];
#pragma unroll
    for (int t = 0; t < 8; t++) sc[t][0] = sc[t][1] = sc[t][2] = sc[t][3] = 0;
#pragma unroll
    for (int kk = 0; kk < D / 16; kk++)
#pragma unroll
      for (int t = 0; t < 8; t += 2) {
        uint32_t b[4];
        fl_frag_b_nk<D>(b, Ks, t * 8, kk * 16);
        fl_mma(sc[t], qf[kk], b[0], b[1]);
        fl_mma(sc[t + 1], qf[kk], b[2], b[3]);
      }
    // scale (log2 units), mask, online softmax per row (g and g + 8 of the warp's 16)
#pragma unroll
    for (int rr = 0; rr < 2; rr++) {
      long qi = q0 + warp * 16 + gr + rr * 8;
      float mx = -INFINITY;
#pragma unroll
      for (int t = 0; t < 8; t++)
#pragma unroll
        for (int e = 0; e < 2; e++) {
          long kj = k0 + t * 8 + 2 * gc + e;
          float x = sc[t][2 * rr + e] * scale_log2;
          if (kj > qi || kj >= T) x = -INFINITY;
          sc[t][2 * rr + e] = x;
          mx = fmaxf(mx, x);
        }
      mx = fmaxf(mx, __shfl_xor_sync(FULL_MASK, mx, 1));
      mx = fmaxf(mx, __shfl_xor_sync(FULL_MASK, mx, 2));
      float mn = fmaxf(mrow[rr], mx), alpha = exp2f(mrow[rr] - mn), ls = 0;
#pragma unroll
      for (int t = 0; t < 8; t++)
#pragma unroll
        for (int e = 0; e < 2; e++) {
          float p = exp2f(sc[t][2 * rr + e] - mn);
          sc[t][2 * rr + e] = p;
          ls += p;
        }
      lrow[rr] = lrow[rr] * alpha + ls;
      mrow[rr] = mn;
#pragma unroll
      for (int t = 0; t < D / 8; t++) {
        o[t][2 * rr] *= alpha;
        o[t][2 * rr + 1] *= alpha;
      }
    }
    // O += P·V over the block's 64 keys, 16 at a time
#pragma unroll
    for (int kk = 0; kk < 4; kk++) {
      uint32_t a[4] = {fl_pack(sc[2 * kk][0], sc[2 * kk][1]), fl_pack(sc[2 * kk][2], sc[2 * kk][3]),
                       fl_pack(sc[2 * kk + 1][0], sc[2 * kk + 1][1]),
                       fl_pack(sc[2 * kk + 1][2], sc[2 * kk + 1][3])};
#pragma unroll
      for (int t = 0; t < D / 8; t += 2) {
        uint32_t b[4];
        fl_frag_b_kn<D>(b, Vs, kk * 16, t * 8);
        fl_mma(o[t], a, b[0], b[1]);
        fl_mma(o[t + 1], a, b[2], b[3]);
      }
    }
  }
#pragma unroll
  for (int rr = 0; rr < 2; rr++) {
    float l = lrow[rr];
    l += __shfl_xor_sync(FULL_MASK, l, 1);
    l += __shfl_xor_sync(FULL_MASK, l, 2);
    long qi = q0 + warp * 16 + gr + rr * 8;
    if (qi >= T) continue;
    float inv = 1.0f / l;
    bf16 *orow = out + ((size_t)(s * T + qi) * H + h) * D;
#pragma unroll
    for (int t = 0; t < D / 8; t++)
      *reinterpret_cast<uint32_t *>(orow + t * 8 + 2 * gc) =
          fl_pack(o[t][2 * rr] * inv, o[t][2 * rr + 1] * inv);
    if (gc == 0) lse[(size_t)(s * T + qi) * H + h] = (mrow[rr] + log2f(l)) * FL_LN2;
  }
}

// ---- backward: dK, dV ----
template <int D, int BQ>
__global__ void __launch_bounds__(FL_THREADS) flash_attention_dkv_backward_kernel(
    bf16 *dk, bf16 *dv, const bf16 *dout, const float *Di, const float *lse, const bf16 *q,
    const bf16 *k, const bf16 *v, long T, int H, int K, float scale, float scale_log2) {
  extern __shared__ __align__(16) unsigned char fl_smem[];
  bf16 *Ks = reinterpret_cast<bf16 *>(fl_smem), *Vs = Ks + FL_ROWS * (D + 8);
  bf16 *Qs = Vs + FL_ROWS * (D + 8), *dOs = Qs + BQ * (D + 8);
  float *lse_s = reinterpret_cast<float *>(dOs + BQ * (D + 8)), *di_s = lse_s + BQ;
  int kb = blockIdx.x, g = blockIdx.y, group = H / K;
  long s = blockIdx.z, k0 = (long)kb * FL_ROWS;
  int warp = threadIdx.x / 32, lane = threadIdx.x % 32, gr = lane >> 2, gc = lane & 3;
  fl_load_tile<D>(Ks, k + ((size_t)(s * T + k0) * K + g) * D, (long)K * D, FL_ROWS, T - k0);
  fl_load_tile<D>(Vs, v + ((size_t)(s * T + k0) * K + g) * D, (long)K * D, FL_ROWS, T - k0);
  float dka[D / 8][4], dva[D / 8][4];
#pragma unroll
  for (int t = 0; t < D / 8; t++)
#pragma unroll
    for (int e = 0; e < 4; e++) dka[t][e] = dva[t][e] = 0;
  for (int h = g * group; h < (g + 1) * group; h++)
    for (long q0 = k0; q0 < T; q0 += BQ) {
      __syncthreads();  // the previous step's Q, dO are no longer read
      fl_load_tile<D>(Qs, q + ((size_t)(s * T + q0) * H + h) * D, (long)H * D, BQ, T - q0);
      fl_load_tile<D>(dOs, dout + ((size_t)(s * T + q0) * H + h) * D, (long)H * D, BQ, T - q0);
      for (int i = threadIdx.x; i < BQ; i += blockDim.x) {
        size_t qr = (size_t)(s * T + q0 + i) * H + h;
        lse_s[i] = q0 + i < T ? lse[qr] * FL_LOG2E : 0.0f;
        di_s[i] = q0 + i < T ? Di[qr] : 0.0f;
      }
      __syncthreads();
      // Sᵀ (warp's 16 keys × BQ queries) and dPᵀ
      float st[BQ / 8][4], dpt[BQ / 8][4];
#pragma unroll
      for (int t = 0; t < BQ / 8; t++)
#pragma unroll
        for (int e = 0; e < 4; e++) st[t][e] = dpt[t][e] = 0;
#pragma unroll
      for (int kk = 0; kk < D / 16; kk++) {
        uint32_t ak[4], av[4];
        fl_frag_a<D>(ak, Ks, warp * 16, kk * 16);
        fl_frag_a<D>(av, Vs, warp * 16, kk * 16);
#pragma unroll
        for (int t = 0; t < BQ / 8; t += 2) {
          uint32_t b[4];
          fl_frag_b_nk<D>(b, Qs, t * 8, kk * 16);
          fl_mma(st[t], ak, b[0], b[1]);
          fl_mma(st[t + 1], ak, b[2], b[3]);
          fl_frag_b_nk<D>(b, dOs, t * 8, kk * 16);
          fl_mma(dpt[t], av, b[0], b[1]);
          fl_mma(dpt[t + 1], av, b[2], b[3]);
        }
      }
      // Pᵀ and dSᵀ in place
#pragma unroll
      for (int t = 0; t < BQ / 8; t++)
#pragma unroll
        for (int e = 0; e < 4; e++) {
          long kj = k0 + warp * 16 + gr + (e >> 1) * 8;
          int il = t * 8 + 2 * gc + (e & 1);
          long qi = q0 + il;
          float p = (qi < kj || qi >= T || kj >= T) ? 0.0f : exp2f(st[t][e] * scale_log2 - lse_s[il]);
          st[t][e] = p;
          dpt[t][e] = p * (dpt[t][e] - di_s[il]);
        }
      // dV += Pᵀ·dO, dK += dSᵀ·Q over the BQ queries, 16 at a time
#pragma unroll
      for (int kk = 0; kk < BQ / 16; kk++) {
        uint32_t ap[4] = {fl_pack(st[2 * kk][0], st[2 * kk][1]), fl_pack(st[2 * kk][2], st[2 * kk][3]),
                          fl_pack(st[2 * kk + 1][0], st[2 * kk + 1][1]),
                          fl_pack(st[2 * kk + 1][2], st[2 * kk + 1][3])};
        uint32_t ad[4] = {fl_pack(dpt[2 * kk][0], dpt[2 * kk][1]),
                          fl_pack(dpt[2 * kk][2], dpt[2 * kk][3]),
                          fl_pack(dpt[2 * kk + 1][0], dpt[2 * kk + 1][1]),
                          fl_pack(dpt[2 * kk + 1][2], dpt[2 * kk + 1][3])};
#pragma unroll
        for (int t = 0; t < D / 8; t += 2) {
          uint32_t b[4];
          fl_frag_b_kn<D>(b, dOs, kk * 16, t * 8);
          fl_mma(dva[t], ap, b[0], b[1]);
          fl_mma(dva[t + 1], ap, b[2], b[3]);
          fl_frag_b_kn<D>(b, Qs, kk * 16, t * 8);
          fl_mma(dka[t], ad, b[0], b[1]);
          fl_mma(dka[t + 1], ad, b[2], b[3]);
        }
      }
    }
#pragma unroll
  for (int rr = 0; rr < 2; rr++) {
    long kj = k0 + warp * 16 + gr + rr * 8;
    if (kj >= T) continue;
    size_t base = ((size_t)(s * T + kj) * K + g) * D;
#pragma unroll
    for (int t = 0; t < D / 8; t++) {
      *reinterpret_cast<uint32_t *>(dk + base + t * 8 + 2 * gc) =
          fl_pack(dka[t][2 * rr] * scale, dka[t][2 * rr + 1] * scale);
      *reinterpret_cast<uint32_t *>(dv + base + t * 8 + 2 * gc) =
          fl_pack(dva[t][2 * rr], dva[t][2 * rr + 1]);
    }
  }
}

// ---- backward: dQ ----
template <int D>
__global__ void __launch_bounds__(FL_THREADS) flash_attention_dq_backward_kernel(
    bf16 *dq, const bf16 *dout, const float *Di, const float *lse, const bf16 *q, const bf16 *k,
    const bf16 *v, long T, int H, int K, float scale, float scale_log2) {
  extern __shared__ __align__(16) unsigned char fl_smem[];
  bf16 *Qs = reinterpret_cast<bf16 *>(fl_smem), *dOs = Qs + FL_ROWS * (D + 8);
  bf16 *Ks = dOs + FL_ROWS * (D + 8), *Vs = Ks + FL_ROWS * (D + 8);
  int nqb = (int)((T + FL_ROWS - 1) / FL_ROWS), qb = nqb - 1 - (int)blockIdx.x;
  int h = blockIdx.y, g = h / (H / K);
  long s = blockIdx.z, q0 = (long)qb * FL_ROWS;
  int warp = threadIdx.x / 32, lane = threadIdx.x % 32, gr = lane >> 2, gc = lane & 3;
  fl_load_tile<D>(Qs, q + ((size_t)(s * T + q0) * H + h) * D, (long)H * D, FL_ROWS, T - q0);
  fl_load_tile<D>(dOs, dout + ((size_t)(s * T + q0) * H + h) * D, (long)H * D, FL_ROWS, T - q0);
  float lrow[2], drow[2];
#pragma unroll
  for (int rr = 0; rr < 2; rr++) {
    long qi = q0 + warp * 16 + gr + rr * 8;
    size_t qr = (size_t)(s * T + qi) * H + h;
    lrow[rr] = qi < T ? lse[qr] * FL_LOG2E : 0.0f;
    drow[rr] = qi < T ? Di[qr] : 0.0f;
  }
  float dqa[D / 8][4];
#pragma unroll
  for (int t = 0; t < D / 8; t++) dqa[t][0] = dqa[t][1] = dqa[t][2] = dqa[t][3] = 0;
  const bf16 *kg = k + ((size_t)(s * T) * K + g) * D, *vg = v + ((size_t)(s * T) * K + g) * D;
  for (int kb = 0; kb <= qb; kb++) {
    long k0 = (long)kb * FL_ROWS;
    __syncthreads();
    fl_load_tile<D>(Ks, kg + (size_t)k0 * K * D, (long)K * D, FL_ROWS, T - k0);
    fl_load_tile<D>(Vs, vg + (size_t)k0 * K * D, (long)K * D, FL_ROWS, T - k0);
    __syncthreads();
    float sc[8][4], dp[8][4];
#pragma unroll
    for (int t = 0; t < 8; t++)
#pragma unroll
      for (int e = 0; e < 4; e++) sc[t][e] = dp[t][e] = 0;
#pragma unroll
    for (int kk = 0; kk < D / 16; kk++) {
      uint32_t aq[4], ado[4];
      fl_frag_a<D>(aq, Qs, warp * 16, kk * 16);
      fl_frag_a<D>(ado, dOs, warp * 16, kk * 16);
#pragma unroll
      for (int t = 0; t < 8; t += 2) {
        uint32_t b[4];
        fl_frag_b_nk<D>(b, Ks, t * 8, kk * 16);
        fl_mma(sc[t], aq, b[0], b[1]);
        fl_mma(sc[t + 1], aq, b[2], b[3]);
        fl_frag_b_nk<D>(b, Vs, t * 8, kk * 16);
        fl_mma(dp[t], ado, b[0], b[1]);
        fl_mma(dp[t + 1], ado, b[2], b[3]);
      }
    }
#pragma unroll
    for (int t = 0; t < 8; t++)
#pragma unroll
      for (int e = 0; e < 4; e++) {
        int rr = e >> 1;
        long qi = q0 + warp * 16 + gr + rr * 8, kj = k0 + t * 8 + 2 * gc + (e & 1);
        float p = (kj > qi || kj >= T || qi >= T) ? 0.0f : exp2f(sc[t][e] * scale_log2 - lrow[rr]);
        dp[t][e] = p * (dp[t][e] - drow[rr]);
      }
    // dQ += dS·K over the block's 64 keys, 16 at a time
#pragma unroll
    for (int kk = 0; kk < 4; kk++) {
      uint32_t a[4] = {fl_pack(dp[2 * kk][0], dp[2 * kk][1]), fl_pack(dp[2 * kk][2], dp[2 * kk][3]),
                       fl_pack(dp[2 * kk + 1][0], dp[2 * kk + 1][1]),
                       fl_pack(dp[2 * kk + 1][2], dp[2 * kk + 1][3])};
#pragma unroll
      for (int t = 0; t < D / 8; t += 2) {
        uint32_t b[4];
        fl_frag_b_kn<D>(b, Ks, kk * 16, t * 8);
        fl_mma(dqa[t], a, b[0], b[1]);
        fl_mma(dqa[t + 1], a, b[2], b[3]);
      }
    }
  }
#pragma unroll
  for (int rr = 0; rr < 2; rr++) {
    long qi = q0 + warp * 16 + gr + rr * 8;
    if (qi >= T) continue;
    bf16 *row = dq + ((size_t)(s * T + qi) * H + h) * D;
#pragma unroll
    for (int t = 0; t < D / 8; t++)
      *reinterpret_cast<uint32_t *>(row + t * 8 + 2 * gc) =
          fl_pack(dqa[t][2 * rr] * scale, dqa[t][2 * rr + 1] * scale);
  }
}

// ---- launchers ----
extern "C" int cuda_flash_attn_supports(DType t, int D) {
  return t == DTYPE_BF16 && (D == 64 || D == 128);
}

// Dynamic shared memory above 48 KiB needs the kernel's limit raised first.
template <typename F> static int fl_smem_limit(F *kernel, size_t bytes) {
  if (bytes <= 48 * 1024) return 0;
  return cudaCheck(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                        (int)bytes));
}

template <int D>
static void fl_fwd(void *out, float *lse, const void *q, const void *k, const void *v, long n_seq,
                   long T, int H, int K) {
  size_t smem = 3 * FL_ROWS * (D + 8) * sizeof(bf16);
  if (fl_smem_limit(flash_attention_train_forward_kernel<D>, smem)) return;
  dim3 grid((unsigned)((T + FL_ROWS - 1) / FL_ROWS), (unsigned)H, (unsigned)n_seq);
  flash_attention_train_forward_kernel<D><<<grid, FL_THREADS, smem>>>(
      (bf16 *)out, lse, (const bf16 *)q, (const bf16 *)k, (const bf16 *)v, T, H, K,
      FL_LOG2E / sqrtf((float)D));
  cudaCheck(cudaGetLastError());
}

template <int D, int BQ>
static void fl_bwd(void *dq, void *dk, void *dv, const void *dout, const float *Di,
                   const float *lse, const void *q, const void *k, const void *v, long n_seq,
                   long T, int H, int K) {
  float scale = 1.0f / sqrtf((float)D), scale_log2 = scale * FL_LOG2E;
  unsigned nb = (unsigned)((T + FL_ROWS - 1) / FL_ROWS);
  size_t smem_kv = (2 * FL_ROWS + 2 * BQ) * (D + 8) * sizeof(bf16) + 2 * BQ * sizeof(float);
  if (fl_smem_limit(flash_attention_dkv_backward_kernel<D, BQ>, smem_kv)) return;
  flash_attention_dkv_backward_kernel<D, BQ>
      <<<dim3(nb, (unsigned)K, (unsigned)n_seq), FL_THREADS, smem_kv>>>(
      (bf16 *)dk, (bf16 *)dv, (const bf16 *)dout, Di, lse, (const bf16 *)q, (const bf16 *)k,
      (const bf16 *)v, T, H, K, scale, scale_log2);
  if (cudaCheck(cudaGetLastError())) return;
  size_t smem_q = 4 * FL_ROWS * (D + 8) * sizeof(bf16);
  if (fl_smem_limit(flash_attention_dq_backward_kernel<D>, smem_q)) return;
  flash_attention_dq_backward_kernel<D>
      <<<dim3(nb, (unsigned)H, (unsigned)n_seq), FL_THREADS, smem_q>>>(
      (bf16 *)dq, (const bf16 *)dout, Di, lse, (const bf16 *)q, (const bf16 *)k, (const bf16 *)v, T,
      H, K, scale, scale_log2);
  cudaCheck(cudaGetLastError());
}

extern "C" int cuda_flash_attn_fwd(void *out, float *lse, const void *q, const void *k,
                                   const void *v, long n_seq, long T, int H, int K, int D) {
  if (!cuda_flash_attn_supports(DTYPE_BF16, D)) return -1;
  if (n_seq <= 0 || T <= 0) return 0;
  if (D == 64) fl_fwd<64>(out, lse, q, k, v, n_seq, T, H, K);
  else fl_fwd<128>(out, lse, q, k, v, n_seq, T, H, K);
  return 0;
}

extern "C" int cuda_flash_attn_bwd(void *dq, void *dk, void *dv, const void *dout, const float *Di,
                                   const float *lse, const void *q, const void *k, const void *v,
                                   long n_seq, long T, int H, int K, int D) {
  if (!cuda_flash_attn_supports(DTYPE_BF16, D)) return -1;
  if (n_seq <= 0 || T <= 0) return 0;
  if (D == 64) fl_bwd<64, 64>(dq, dk, dv, dout, Di, lse, q, k, v, n_seq, T, H, K);
  else fl_bwd<128, 32>(dq, dk, dv, dout, Di, lse, q, k, v, n_seq, T, H, K);
  return 0;
}
