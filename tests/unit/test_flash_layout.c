// test_flash_layout.c — the register choreography of the CUDA flash-attention kernel
// (engine/cuda/flash_attention.cu), replayed on the CPU for one warp: ldmatrix and mma.m16n8k16 are
// emulated from the fragment layouts the PTX ISA gives them, fed by the lane offsets the kernel
// uses (flash_twin.h's flash_ldsm_*), in the kernel's loop order. Checks that
//   S = Q · Kᵀ lands where the kernel's mask and softmax read it (row gr / gr + 8, key
//   n·8 + 2tq + (c & 1)), that the S accumulators reused as the A operand of P · V (packing
//   order pa[0..3]) and V read by ldmatrix.trans give O = P · V, and that O lands where the
//   kernel writes it, for every head dim the kernel is built for. Small integer values: every
//   product and sum is exact, so equality is exact.
// What this cannot check: the instructions' real behaviour (the emulation is the layout as
// documented), shared-memory races, asynchronous copies. The GPU tests compare the kernel
// itself with its twin (tests/gpu/test_kernels.c).
// Legend: D head dim, BK keys per tile, LD shared row stride, lane = 4·gr + tq.
#include <stdint.h>
#include <stdlib.h>

#include "flash_twin.h"
#include "test.h"
#include "util.h"

typedef struct {
  float lo, hi;  // the two 16-bit halves of a 32-bit register (lo: the smaller column/row index)
} Pair;

typedef Pair Frag[32][4];  // four registers per lane

// ldmatrix.sync.aligned.m8n8.x4 (.trans): lane L gives the address of row L % 8 of matrix L / 8;
// register i of lane L holds, of matrix i, row L/4 columns 2(L%4), 2(L%4)+1 — transposed: rows
// 2(L%4), 2(L%4)+1 of column L/4.
static void ldsm_x4(Frag out, const float *smem, int ld, int row0, int col0, int b_style,
                    int trans) {
  const float *rows[4][8];
  for (int lane = 0; lane < 32; lane++) {
    int r = row0 + (b_style ? flash_ldsm_b_row(lane) : flash_ldsm_a_row(lane));
    int c = col0 + (b_style ? flash_ldsm_b_col(lane) : flash_ldsm_a_col(lane));
    rows[lane / 8][lane % 8] = smem + (size_t)r * ld + c;
  }
  for (int lane = 0; lane < 32; lane++)
    for (int i = 0; i < 4; i++) {
      int g = lane / 4, t = lane % 4;
      if (trans)
        out[lane][i] = (Pair){rows[i][2 * t][g], rows[i][2 * t + 1][g]};
      else
        out[lane][i] = (Pair){rows[i][g][2 * t], rows[i][g][2 * t + 1]};
    }
}

// mma.sync.aligned.m16n8k16.row.col: c[16x8] += a[16x16] · b[16x8] with the documented
// fragments: a0 (row g, cols 2t..2t+1), a1 (row g+8), a2 (row g, cols 2t+8..), a3 (row g+8,
// cols 2t+8..); b0 (rows 2t..2t+1, col g), b1 (rows 2t+8..2t+9); c0, c1 (row g, cols 2t, 2t+1),
// c2, c3 (row g+8).
static void mma(float c[32][4], Frag a, Pair b0[32], Pair b1[32]) {
  float A[16][16], B[16][8];
  for (int lane = 0; lane < 32; lane++) {
    int g = lane / 4, t = lane % 4;
    const Pair *r = a[lane];
    A[g][2 * t] = r[0].lo, A[g][2 * t + 1] = r[0].hi;
    A[g + 8][2 * t] = r[1].lo, A[g + 8][2 * t + 1] = r[1].hi;
    A[g][2 * t + 8] = r[2].lo, A[g][2 * t + 9] = r[2].hi;
    A[g + 8][2 * t + 8] = r[3].lo, A[g + 8][2 * t + 9] = r[3].hi;
    B[2 * t][g] = b0[lane].lo, B[2 * t + 1][g] = b0[lane].hi;
    B[2 * t + 8][g] = b1[lane].lo, B[2 * t + 9][g] = b1[lane].hi;
  }
  for (int lane = 0; lane < 32; lane++) {
    int g = lane / 4, t = lane % 4;
    for (int cc = 0; cc < 4; cc++) {
      int row = g + 8 * (cc >> 1), col = 2 * t + (cc & 1);
      float s = 0.0f;
      for (int k = 0; k < 16; k++) s += A[row][k] * B[k][col];
      c[lane][cc] += s;
    }
  }
}

static void regs_of(Pair out[32], Frag f, int i) {
  for (int lane = 0; lane < 32; lane++) out[lane] = f[lane][i];
}

static void check_dim(int D, Rng *r) {
  enum { BK = FLASH_BK, WARPS = 4, BQ = 16 * WARPS, WARP = 2 };  // warp 2: rows 32..47 of Q
  const int LD = D + 8, KC = D / 16, NT = BK / 8, DT = D / 8;
  float *sq = xcalloc((size_t)BQ * LD, sizeof(float)), *sk = xcalloc((size_t)BK * LD, sizeof(float));
  float *sv = xcalloc((size_t)BK * LD, sizeof(float));
  for (int i = 0; i < BQ; i++)
    for (int d = 0; d < D; d++) sq[i * LD + d] = (float)((int)rng_below(r, 7) - 3);
  for (int j = 0; j < BK; j++)
    for (int d = 0; d < D; d++) {
      sk[j * LD + d] = (float)((int)rng_below(r, 7) - 3);
      sv[j * LD + d] = (float)((int)rng_below(r, 5) - 2);
    }
  Frag *qf = xmalloc(sizeof(Frag) * (size_t)KC);
  for (int kc = 0; kc < KC; kc++) ldsm_x4(qf[kc], sq, LD, WARP * 16, kc * 16, 0, 0);
  // S = Q · Kᵀ, as the kernel: per k-step, pairs of n-tiles (16 keys) per ldmatrix
  float (*s)[32][4] = xcalloc((size_t)NT, sizeof *s);
  for (int kc = 0; kc < KC; kc++)
    for (int n2 = 0; n2 < NT / 2; n2++) {
      Frag b;
      Pair b0[32], b1[32], b2[32], b3[32];
      ldsm_x4(b, sk, LD, n2 * 16, kc * 16, 1, 0);
      regs_of(b0, b, 0), regs_of(b1, b, 1), regs_of(b2, b, 2), regs_of(b3, b, 3);
      mma(s[2 * n2], qf[kc], b0, b1);
      mma(s[2 * n2 + 1], qf[kc], b2, b3);
    }
  long bad_s = 0;
  for (int lane = 0; lane < 32; lane++)
    for (int n = 0; n < NT; n++)
      for (int c = 0; c < 4; c++) {
        int row = WARP * 16 + lane / 4 + 8 * (c >> 1), key = n * 8 + 2 * (lane % 4) + (c & 1);
        float want = 0.0f;
        for (int d = 0; d < D; d++) want += sq[row * LD + d] * sk[key * LD + d];
        bad_s += s[n][lane][c] != want;
      }
  if (bad_s) TEST_FAIL_AT("D %d: %ld of S's elements are not where the kernel reads them", D, bad_s);
  // O = P · V with P = S (exact integers): the S accumulators packed as A operands, V by .trans
  float (*o)[32][4] = xcalloc((size_t)DT, sizeof *o);
  for (int kc = 0; kc < BK / 16; kc++) {
    Frag pa;
    for (int lane = 0; lane < 32; lane++)
      for (int half = 0; half < 2; half++) {
        const float *sn = s[2 * kc + half][lane];
        pa[lane][2 * half] = (Pair){sn[0], sn[1]};
        pa[lane][2 * half + 1] = (Pair){sn[2], sn[3]};
      }
    for (int d2 = 0; d2 < DT / 2; d2++) {
      Frag b;
      Pair b0[32], b1[32], b2[32], b3[32];
      ldsm_x4(b, sv, LD, kc * 16, d2 * 16, 0, 1);
      regs_of(b0, b, 0), regs_of(b1, b, 1), regs_of(b2, b, 2), regs_of(b3, b, 3);
      mma(o[2 * d2], pa, b0, b1);
      mma(o[2 * d2 + 1], pa, b2, b3);
    }
  }
  long bad_o = 0;
  for (int lane = 0; lane < 32; lane++)
    for (int n = 0; n < DT; n++)
      for (int c = 0; c < 4; c++) {
        int row = WARP * 16 + lane / 4 + 8 * (c >> 1), d = n * 8 + 2 * (lane % 4) + (c & 1);
        float want = 0.0f;
        for (int j = 0; j < BK; j++) {
          float p = 0.0f;
          for (int e = 0; e < D; e++) p += sq[row * LD + e] * sk[j * LD + e];
          want += p * sv[j * LD + d];
        }
        bad_o += o[n][lane][c] != want;
      }
  if (bad_o) TEST_FAIL_AT("D %d: %ld of O's elements are not where the kernel writes them", D, bad_o);
  free(sq);
  free(sk);
  free(sv);
  free(qf);
  free(s);
  free(o);
}

TEST(warp_fragments_compute_s_and_o_where_the_kernel_reads_them) {
  Rng r;
  rng_seed(&r, 11);
  const int dims[] = {64, 80, 96, 128};
  for (size_t i = 0; i < sizeof dims / sizeof dims[0]; i++) check_dim(dims[i], &r);
}

// A wrong lane mapping must be caught: swap the A- and B-style offsets for K and expect failures.
TEST(a_wrong_mapping_is_detected) {
  enum { D = 64, LD = D + 8 };
  Rng r;
  rng_seed(&r, 12);
  float *sq = xcalloc(16 * LD, sizeof(float)), *sk = xcalloc(16 * LD, sizeof(float));
  for (int i = 0; i < 16 * LD; i++) sq[i] = (float)((int)rng_below(&r, 7) - 3);
  for (int i = 0; i < 16 * LD; i++) sk[i] = (float)((int)rng_below(&r, 7) - 3);
  Frag qf, b;
  Pair b0[32], b1[32];
  float s[32][4] = {{0}};
  ldsm_x4(qf, sq, LD, 0, 0, 0, 0);
  ldsm_x4(b, sk, LD, 0, 0, 0, 0);  // A-style offsets where the kernel uses B-style
  regs_of(b0, b, 0), regs_of(b1, b, 1);
  mma(s, qf, b0, b1);
  long bad = 0;
  for (int lane = 0; lane < 32; lane++)
    for (int c = 0; c < 4; c++) {
      int row = lane / 4 + 8 * (c >> 1), key = 2 * (lane % 4) + (c & 1);
      float want = 0.0f;
      for (int d = 0; d < 16; d++) want += sq[row * LD + d] * sk[key * LD + d];
      bad += s[lane][c] != want;
    }
  EXPECT(bad > 0);
  free(sq);
  free(sk);
}

int main(void) {
  RUN(warp_fragments_compute_s_and_o_where_the_kernel_reads_them);
  RUN(a_wrong_mapping_is_detected);
  TEST_SUMMARY();
}
