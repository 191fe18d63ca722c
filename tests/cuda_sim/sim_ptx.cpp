// sim_ptx.cpp — the PTX instructions of engine/cuda/ptx.cuh as the PTX ISA documents them, for the
// CUDA simulator: mma.m16n8k16 (bf16/f16 operands, fp32 accumulators), ldmatrix .x4 (plain and
// .trans) and cp.async with its groups. Each warp-wide instruction exchanges the lanes'
// registers through the warp's slots (cuda_sim.h, warp exchanges) and checks its addresses.
#include <stdio.h>

#include "cuda_sim.h"
#include "sim_internal.h"

namespace {

struct MmaIn {
  uint32_t a[4], b[2];
};

inline __attribute__((always_inline)) float bf16_lo(uint32_t r, bool hi) {
  uint16_t h = (uint16_t)(hi ? r >> 16 : r & 0xffff);
  union {
    uint32_t bits;
    float f;
  } u = {(uint32_t)h << 16};
  return u.f;
}

inline __attribute__((always_inline)) float f16_half(uint32_t r, bool hi) {
  __half_raw raw;
  raw.x = (unsigned short)(hi ? r >> 16 : r & 0xffff);
  return __half2float(__half(raw));
}

// A[row][k] and B[k][n] from the lanes' registers in their slots (layouts in engine/cuda/ptx.cuh).
inline __attribute__((always_inline)) const MmaIn &lane_in(int lane) {
  return *static_cast<const MmaIn *>(cuda_sim::lane_slot(lane));
}
inline __attribute__((always_inline)) float a_elem(int row, int k, bool f16) {
  int lane = (row & 7) * 4 + (k & 7) / 2, reg = (row >= 8 ? 1 : 0) + (k >= 8 ? 2 : 0);
  return f16 ? f16_half(lane_in(lane).a[reg], k & 1) : bf16_lo(lane_in(lane).a[reg], k & 1);
}
inline __attribute__((always_inline)) float b_elem(int k, int n, bool f16) {
  int lane = n * 4 + (k & 7) / 2, reg = k >= 8 ? 1 : 0;
  return f16 ? f16_half(lane_in(lane).b[reg], k & 1) : bf16_lo(lane_in(lane).b[reg], k & 1);
}

// This lane's four sums of products of the warp's A and B: products of 16-bit floats are exact
// in fp32; each sum is kept exact (double). Reads the slots in place. (Checked: it calls the
// checked __half2float; see sim_sched.cpp on unchecked functions.)
void mma_products(int lane, bool f16, double *s) {
  int g = lane >> 2, q = lane & 3;
  for (int i = 0; i < 4; i++) {
    int row = g + (i >= 2 ? 8 : 0), col = 2 * q + (i & 1);
    double sum = 0;
    for (int k = 0; k < 16; k++) sum += (double)a_elem(row, k, f16) * b_elem(k, col, f16);
    s[i] = sum;
  }
}

void mma(float *c, const uint32_t *a, uint32_t b0, uint32_t b1, bool f16, const char *what) {
  using namespace cuda_sim;
  int lane = lane_id();
  MmaIn mine;
  memcpy(mine.a, a, sizeof mine.a);
  mine.b[0] = b0;
  mine.b[1] = b1;
  *static_cast<MmaIn *>(lane_slot(lane)) = mine;
  warp_sync(0xffffffffu, what);
  double s[4];
  mma_products(lane, f16, s);
  for (int i = 0; i < 4; i++) c[i] = (float)((double)c[i] + s[i]);  // rounded once
  warp_exchange_end();
}

void ldsm(uint32_t *r, const void *p, bool trans, const char *what) {
  using namespace cuda_sim;
  int lane = lane_id();
  if (((uintptr_t)p & 15) != 0 || !in_dynamic_smem(p, 16))
    fault("%s: lane %d's row address %p is %s", what, lane, p,
          ((uintptr_t)p & 15) ? "not 16-byte aligned" : "outside the dynamic shared memory");
  memcpy(lane_slot(lane), &p, sizeof p);
  warp_sync(0xffffffffu, what);
  const uint16_t *rows[32];
  for (int l = 0; l < 32; l++) memcpy(&rows[l], lane_slot(l), sizeof rows[l]);
  int g = lane >> 2, q = lane & 3;
  for (int m = 0; m < 4; m++) {
    uint16_t lo, hi;
    if (!trans) {
      lo = rows[8 * m + g][2 * q];
      hi = rows[8 * m + g][2 * q + 1];
    } else {
      lo = rows[8 * m + 2 * q][g];
      hi = rows[8 * m + 2 * q + 1][g];
    }
    r[m] = (uint32_t)lo | (uint32_t)hi << 16;
  }
  // a second warp_sync: ldmatrix completes for the whole warp before any lane goes on (and may
  // write the shared memory another lane's row address points into)
  warp_sync(0xffffffffu, what);
  warp_exchange_end();
}

}  // namespace

void ptx_mma_bf16(float *c, const uint32_t *a, uint32_t b0, uint32_t b1) {
  mma(c, a, b0, b1, false, "mma.sync.m16n8k16.bf16");
}
void ptx_mma_f16(float *c, const uint32_t *a, uint32_t b0, uint32_t b1) {
  mma(c, a, b0, b1, true, "mma.sync.m16n8k16.f16");
}
void ptx_ldsm_x4(uint32_t *r, const void *p) { ldsm(r, p, false, "ldmatrix.x4"); }
void ptx_ldsm_x4_trans(uint32_t *r, const void *p) { ldsm(r, p, true, "ldmatrix.x4.trans"); }

void ptx_cp_async16(void *dst, const void *src, bool valid) {
  using namespace cuda_sim;
  if (((uintptr_t)dst & 15) != 0 || !in_dynamic_smem(dst, 16))
    fault("cp.async: destination %p is %s", dst,
          ((uintptr_t)dst & 15) ? "not 16-byte aligned" : "outside the dynamic shared memory");
  if (valid && ((uintptr_t)src & 15) != 0)
    fault("cp.async: source %p is not 16-byte aligned", src);
  if (valid && !is_device_range(src, 16))
    fault("cp.async: source %p..+16 is not inside one device allocation", src);
  ptx_cp_async_push(dst, valid ? src : nullptr);
}
void ptx_cp_async_commit() { cuda_sim::ptx_cp_async_close_group(); }
void cuda_sim_cp_async_wait(int n) { cuda_sim::ptx_cp_async_land(n); }
