// ptx.cuh — the PTX instructions the tensor-core kernels use (flash_attention.cu: the evaluation's
// and the trainer's), one inline function each, so that the kernels name operations rather than
// hold assembly, and so that tests/cuda_sim (which runs the kernels on the CPU, BENCH_CUDA_SIM)
// can give each one its documented meaning instead.
// Fragment layouts (PTX ISA, mma.m16n8k16 with .bf16/.f16; lane = 4·g + c):
//   A 16×16 row-major: a[0] (row g, cols 2c, 2c+1), a[1] (row g+8, same), a[2] (row g, cols
//     2c+8, +9), a[3] (row g+8, cols 2c+8, +9);  B 16×8: b0 (k 2c, 2c+1; col g), b1 (k 2c+8, +9);
//   C/D 16×8 fp32: c[0], c[1] (row g, cols 2c, 2c+1), c[2], c[3] (row g+8, same).
//   Each 32-bit register holds two 16-bit values, the lower column (or k) in the low half.
// ldmatrix .x4: four 8×8 b16 matrices; lanes 8m..8m+7 give the (16-byte aligned) row addresses
//   of matrix m; lane 4·g + c receives r[m] = row g, columns 2c, 2c+1 (.trans: rows 2c, 2c+1 of
//   column g).
#ifndef BENCH_PTX_CUH
#define BENCH_PTX_CUH

#include <stdint.h>

#ifndef BENCH_CUDA_SIM

// c[16×8] += a[16×16] · b[16×8], bf16 operands, fp32 accumulators.
__device__ __forceinline__ void ptx_mma_bf16(float *c, const uint32_t *a, uint32_t b0,
                                             uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, "
      "{%8,%9}, {%0,%1,%2,%3};\n"
      : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// The same with fp16 operands.
__device__ __forceinline__ void ptx_mma_f16(float *c, const uint32_t *a, uint32_t b0,
                                            uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, "
      "{%8,%9}, {%0,%1,%2,%3};\n"
      : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

__device__ __forceinline__ uint32_t ptx_smem_addr(const void *p) {
  return (uint32_t)__cvta_generic_to_shared(p);
}

// 16 bytes global → shared (both 16-byte aligned), asynchronously; zero-filled, nothing read,
// when !valid. Lands once a cp.async.wait_group covering its group returns.
__device__ __forceinline__ void ptx_cp_async16(void *dst, const void *src, bool valid) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(ptx_smem_addr(dst)),
               "l"(src), "r"(valid ? 16 : 0)
               : "memory");
}
// Closes the group of this thread's copies issued since the last commit.
__device__ __forceinline__ void ptx_cp_async_commit() {
  asm volatile("cp.async.commit_group;\n" ::: "memory");
}
// Waits until at most N of this thread's committed groups are still in flight.
template <int N> __device__ __forceinline__ void ptx_cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory");
}

__device__ __forceinline__ void ptx_ldsm_x4(uint32_t *r, const void *p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(ptx_smem_addr(p)));
}
__device__ __forceinline__ void ptx_ldsm_x4_trans(uint32_t *r, const void *p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(ptx_smem_addr(p)));
}

#endif  // BENCH_CUDA_SIM
#endif
