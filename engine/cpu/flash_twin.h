// flash_twin.h — attention with half-precision operands, computed by tiles of keys with an online
// softmax: the CPU twin of the CUDA flash-attention kernel (engine/cuda/flash_attention.cu), and the
// rule that says when a backend runs it. Plain C, shared by the kernel (tile size, rule, scale),
// the CUDA backend, the CPU backend emulating bf16/fp16 (tests/lib/emu_backend.h) and the tests.
// Legend: Tq queries, Tk keys, H query heads, K kv heads, D head dim, BK keys per tile.
//
// What is computed, for query i (key index qi = q0 + i) of head h, kv head g = h / (H/K):
//   q̃, k̃, ṽ = q, k, v rounded to the half dtype (round to nearest even)
//   keys visible: j ≤ qi, and j > qi − window when window > 0
//   tiles: keys [t·BK, t·BK + BK), t from the tile of the first visible key to that of qi
//   per tile: s_j = Σ_d q̃_d k̃_jd (fp32; products of half values are exact in fp32)
//             x_j = s_j ·ₙ scale_log2 (one rounded fp32 product; −inf when j is not visible)
//             m' = max(m, max_j x_j);  c = 2^(m − m');  p̃_j = round_half(2^(x_j − m'))
//             l' = l·c + Σ_j p̃_j;  o' = o·c + Σ_j p̃_j ṽ_j    (fp32)
//   out = o · (1 / l)
// with scale_log2 = scale · log2(e) (flash_scale_log2). The weights p̃ that multiply V are the
// ones summed into l, so the output is an exact convex combination of the rounded values up to
// fp32 sums. Against exact attention the differences are the rounding of q, k, v (like every
// matrix product of a bf16/fp16 engine, whose inputs are rounded the same way) and of p
// (relative 2^-9 in bf16, 2^-12 in fp16, per weight). Against the kernel only the order of fp32
// sums differs (and, rarely, a p that rounds the other way after a last-bit difference of 2^x).
#ifndef BENCH_FLASH_TWIN_H
#define BENCH_FLASH_TWIN_H

#include "dtype.h"

// Keys per tile: the online softmax folds keys in tiles aligned to multiples of FLASH_BK from key
// 0. The kernel's query blocks (16 rows per warp) do not change any row's result: a tile a row
// sees no key of leaves its m, l and o exactly as they were (c = 2^0 = 1, p̃ = 0).
#define FLASH_BK 64

#ifdef __CUDACC__
#define FLASH_HD __host__ __device__
#else
#define FLASH_HD
#endif

// Shared-memory offsets (row, column) a lane (0..31) gives ldmatrix.x4 in the kernel, here so
// that tests/unit/test_flash_layout.c checks them against the instructions' fragment layouts:
//   A-style: a 16 x 16 block as matrices (rows 0-7, cols 0-7), (8-15, 0-7), (0-7, 8-15),
//            (8-15, 8-15): the A operand of m16n8k16 from row-major Q; with .trans, from V stored
//            [key][dim], the B operands of two 8-column n-tiles (dims 0-7, then 8-15).
//   B-style: matrices (rows 0-7, cols 0-7), (0-7, 8-15), (8-15, 0-7), (8-15, 8-15): from K stored
//            [key][dim], the B operands of two 8-key n-tiles (keys 0-7, then 8-15).
FLASH_HD static inline int flash_ldsm_a_row(int lane) { return (lane & 7) + 8 * ((lane >> 3) & 1); }
FLASH_HD static inline int flash_ldsm_a_col(int lane) { return 8 * (lane >> 4); }
FLASH_HD static inline int flash_ldsm_b_row(int lane) { return (lane & 7) + 8 * (lane >> 4); }
FLASH_HD static inline int flash_ldsm_b_col(int lane) { return 8 * ((lane >> 3) & 1); }

// Head dims the kernel is built for (others run the exact fp32 kernel).
static inline int flash_attention_supported(int D) {
  return D == 64 || D == 80 || D == 96 || D == 128;
}

// Whether a backend holding weight matrices in `dtype` computes attention this way: bf16 or fp16
// weights, fp32 accumulation (the fp64 check mode keeps the exact kernel), a supported head dim.
static inline int flash_attention_applies(DType dtype, int D, int fp64) {
  return (dtype == DTYPE_BF16 || dtype == DTYPE_F16) && !fp64 && flash_attention_supported(D);
}

// scale · log2(e), rounded once to fp32: what the kernel and the twin multiply scores by.
static inline float flash_scale_log2(float scale) {
  return (float)((double)scale * 1.4426950408889634);
}

// out[Tq, H, D] from q[Tq, H, D], k[Tk, K, D], v[Tk, K, D] (fp32, host memory) as above; dtype
// DTYPE_BF16 or DTYPE_F16 (anything else is a broken invariant). Requires q0 + Tq ≤ Tk, H a
// multiple of K; any D ≥ 1 (the twin is not limited to the kernel's head dims).
void flash_attention_twin(float *out, const float *q, const float *k, const float *v, long Tq,
                          long Tk, long q0, int H, int K, int D, float scale, long window,
                          DType dtype);

#endif
