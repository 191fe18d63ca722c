// test_sim.cu — the CUDA simulator's own checks (built like engine/cuda/*.cu by rewrite.pl and g++,
// run by `make test`): warp shuffles and block reductions, mma.m16n8k16 and ldmatrix against a
// plain product and the PTX ISA's fragment tables written out here once more, cp.async landing
// at its wait, and each fault the simulator promises to catch: a missing barrier (through the
// reverse order), a deadlock, a warp operation after lanes exited, an unaligned ldmatrix, dynamic
// shared memory over the limit, device memory over the simulated capacity, a cuBLASLt layout with
// ld < rows, a block over __launch_bounds__. Faults are sticky, so each runs in a child process.
#include <cublasLt.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ptx.cuh"

static int passed, failed;

static void check(bool ok, const char *what) {
  printf("%s %s\n", ok ? "ok  " : "FAIL", what);
  (ok ? passed : failed)++;
}

// ---- reductions ----

__global__ void reduce_kernel(float *out, const float *x) {
  __shared__ float part[32];
  float v = x[blockIdx.x * blockDim.x + threadIdx.x];
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  if (threadIdx.x % 32 == 0) part[threadIdx.x / 32] = v;
  __syncthreads();
  if (threadIdx.x == 0) {
    float s = 0;
    for (unsigned w = 0; w < blockDim.x / 32; w++) s += part[w];
    out[blockIdx.x] = s;
  }
}

static void test_reduce() {
  const int B = 3, T = 128;
  float *x, *out, hx[B * T], hout[B];
  cudaMalloc((void **)&x, sizeof hx);
  cudaMalloc((void **)&out, sizeof hout);
  for (int i = 0; i < B * T; i++) hx[i] = (float)(i % 7);
  cudaMemcpy(x, hx, sizeof hx, cudaMemcpyHostToDevice);
  reduce_kernel<<<B, T>>>(out, x);
  cudaMemcpy(hout, out, sizeof hout, cudaMemcpyDeviceToHost);
  bool ok = cudaGetLastError() == cudaSuccess;
  for (int b = 0; b < B; b++) {
    float s = 0;
    for (int i = 0; i < T; i++) s += hx[b * T + i];
    ok = ok && hout[b] == s;
  }
  check(ok, "shuffle + shared memory reduction over 3 blocks of 128");
  cudaFree(x);
  cudaFree(out);
}

// ---- tensor-core fragments ----

static uint16_t bf16_bits(float f) {
  __nv_bfloat16 b = __float2bfloat16_rn(f);
  uint16_t u;
  memcpy(&u, &b, 2);
  return u;
}
static uint32_t pack(uint16_t lo, uint16_t hi) { return (uint32_t)lo | (uint32_t)hi << 16; }

// A [16][16], B [16][8] as bf16 bits (row-major, B as [k][n]); C [16][8] fp32.
__global__ void mma_kernel(float *c, const uint16_t *A, const uint16_t *B) {
  int lane = threadIdx.x, g = lane / 4, q = lane % 4;
  uint32_t a[4] = {pack(A[g * 16 + 2 * q], A[g * 16 + 2 * q + 1]),
                   pack(A[(g + 8) * 16 + 2 * q], A[(g + 8) * 16 + 2 * q + 1]),
                   pack(A[g * 16 + 2 * q + 8], A[g * 16 + 2 * q + 9]),
                   pack(A[(g + 8) * 16 + 2 * q + 8], A[(g + 8) * 16 + 2 * q + 9])};
  uint32_t b0 = pack(B[(2 * q) * 8 + g], B[(2 * q + 1) * 8 + g]);
  uint32_t b1 = pack(B[(2 * q + 8) * 8 + g], B[(2 * q + 9) * 8 + g]);
  float acc[4] = {1.0f, 1.0f, 1.0f, 1.0f};
  ptx_mma_bf16(acc, a, b0, b1);
  c[g * 8 + 2 * q] = acc[0];
  c[g * 8 + 2 * q + 1] = acc[1];
  c[(g + 8) * 8 + 2 * q] = acc[2];
  c[(g + 8) * 8 + 2 * q + 1] = acc[3];
}

static void test_mma() {
  uint16_t hA[256], hB[128];
  float fa[256], fb[128], hc[128];
  for (int i = 0; i < 256; i++) fa[i] = (float)((i * 37) % 11 - 5) / 4, hA[i] = bf16_bits(fa[i]);
  for (int i = 0; i < 128; i++) fb[i] = (float)((i * 13) % 7 - 3) / 2, hB[i] = bf16_bits(fb[i]);
  uint16_t *A, *B;
  float *C;
  cudaMalloc((void **)&A, sizeof hA);
  cudaMalloc((void **)&B, sizeof hB);
  cudaMalloc((void **)&C, sizeof hc);
  cudaMemcpy(A, hA, sizeof hA, cudaMemcpyHostToDevice);
  cudaMemcpy(B, hB, sizeof hB, cudaMemcpyHostToDevice);
  mma_kernel<<<1, 32>>>(C, A, B);
  cudaMemcpy(hc, C, sizeof hc, cudaMemcpyDeviceToHost);
  bool ok = cudaGetLastError() == cudaSuccess;
  for (int i = 0; i < 16; i++)
    for (int j = 0; j < 8; j++) {
      float s = 1.0f;
      for (int k = 0; k < 16; k++) s += fa[i * 16 + k] * fb[k * 8 + j];
      ok = ok && hc[i * 8 + j] == s;
    }
  check(ok, "mma.m16n8k16.bf16 from the documented fragments = A·B + C");
  cudaFree(A);
  cudaFree(B);
  cudaFree(C);
}

// M [32][8] of b16 in shared memory (four 8×8 matrices stacked); out [32 lanes][4 regs] (plain)
// then [32][4] (.trans).
__global__ void ldsm_kernel(uint32_t *out, const uint16_t *M) {
  extern __shared__ __align__(16) unsigned char smem[];
  uint16_t *s = reinterpret_cast<uint16_t *>(smem);
  int lane = threadIdx.x;
  for (int i = 0; i < 8; i++) s[lane * 8 + i] = M[lane * 8 + i];
  __syncthreads();
  uint32_t r[4];
  ptx_ldsm_x4(r, s + lane * 8);
  for (int m = 0; m < 4; m++) out[lane * 4 + m] = r[m];
  ptx_ldsm_x4_trans(r, s + lane * 8);
  for (int m = 0; m < 4; m++) out[128 + lane * 4 + m] = r[m];
}

static void test_ldmatrix() {
  uint16_t hM[256];
  uint32_t hout[256];
  for (int i = 0; i < 256; i++) hM[i] = (uint16_t)i;
  uint16_t *M;
  uint32_t *out;
  cudaMalloc((void **)&M, sizeof hM);
  cudaMalloc((void **)&out, sizeof hout);
  cudaMemcpy(M, hM, sizeof hM, cudaMemcpyHostToDevice);
  ldsm_kernel<<<1, 32, 512>>>(out, M);
  cudaMemcpy(hout, out, sizeof hout, cudaMemcpyDeviceToHost);
  bool ok = cudaGetLastError() == cudaSuccess;
  for (int lane = 0; lane < 32; lane++)
    for (int m = 0; m < 4; m++) {
      int g = lane / 4, q = lane % 4;
      // plain: row g, columns 2q, 2q+1 of matrix m; .trans: rows 2q, 2q+1 of column g
      ok = ok && hout[lane * 4 + m] == pack(hM[(8 * m + g) * 8 + 2 * q],
                                            hM[(8 * m + g) * 8 + 2 * q + 1]);
      ok = ok && hout[128 + lane * 4 + m] == pack(hM[(8 * m + 2 * q) * 8 + g],
                                                  hM[(8 * m + 2 * q + 1) * 8 + g]);
    }
  check(ok, "ldmatrix.x4 and .x4.trans hand out the documented elements");
  cudaFree(M);
  cudaFree(out);
}

// ---- cp.async: before the wait shared memory still holds the poison, after it the data ----

__global__ void cp_async_kernel(float *out, const float *src) {
  extern __shared__ __align__(16) unsigned char smem[];
  float *s = reinterpret_cast<float *>(smem);
  ptx_cp_async16(s + 4 * threadIdx.x, src + 4 * threadIdx.x, true);
  ptx_cp_async_commit();
  out[threadIdx.x] = s[4 * threadIdx.x];
  ptx_cp_async_wait<0>();
  out[32 + threadIdx.x] = s[4 * threadIdx.x];
}

static void test_cp_async() {
  float hsrc[128], hout[64];
  for (int i = 0; i < 128; i++) hsrc[i] = (float)i;
  float *src, *out;
  cudaMalloc((void **)&src, sizeof hsrc);
  cudaMalloc((void **)&out, sizeof hout);
  cudaMemcpy(src, hsrc, sizeof hsrc, cudaMemcpyHostToDevice);
  cp_async_kernel<<<1, 32, 512>>>(out, src);
  cudaMemcpy(hout, out, sizeof hout, cudaMemcpyDeviceToHost);
  bool ok = cudaGetLastError() == cudaSuccess;
  for (int t = 0; t < 32; t++) ok = ok && isnan(hout[t]) && hout[32 + t] == (float)(4 * t);
  check(ok, "cp.async lands at cp.async.wait_group, not before");
  cudaFree(src);
  cudaFree(out);
}

// ---- a missing barrier changes the result when the threads run in reverse ----

__global__ void racy_kernel(float *out) {
  __shared__ float s[64];
  s[threadIdx.x] = (float)threadIdx.x;
  // no __syncthreads here: reading a neighbour's slot races
  out[threadIdx.x] = s[threadIdx.x ^ 1];
}

static void run_racy(float *h) {
  float *out;
  cudaMalloc((void **)&out, 64 * sizeof(float));
  racy_kernel<<<1, 64>>>(out);
  cudaMemcpy(h, out, 64 * sizeof(float), cudaMemcpyDeviceToHost);
  cudaFree(out);
}

// ---- faults, each in a child: returns whether the child saw the expected error ----

__global__ void deadlock_kernel(float *out) {
  if (threadIdx.x < 16)
    __syncthreads();
  else
    out[threadIdx.x] = __shfl_sync(0xffffffffu, 1.0f, 0);
}

__global__ void exited_lanes_kernel(float *out) {
  if (threadIdx.x >= 8) return;
  out[threadIdx.x] = __shfl_xor_sync(0xffffffffu, 1.0f, 1);
}

__global__ void unaligned_ldsm_kernel(uint32_t *out) {
  extern __shared__ __align__(16) unsigned char smem[];
  uint32_t r[4];
  ptx_ldsm_x4(r, smem + 8 * threadIdx.x + 4);
  out[threadIdx.x] = r[0];
}

__global__ void big_smem_kernel(float *out) {
  extern __shared__ float big[];
  big[threadIdx.x] = 1.0f;
  out[threadIdx.x] = big[threadIdx.x];
}

__global__ void __launch_bounds__(64) bounded_kernel(float *out) { out[threadIdx.x % 64] = 1.0f; }

static int fault_case(int which) {
  float *out;
  if (cudaMalloc((void **)&out, 64 * sizeof(float)) != cudaSuccess) return 0;
  cudaError_t e = cudaSuccess;
  switch (which) {
    case 0: deadlock_kernel<<<1, 32>>>(out); break;
    case 1: exited_lanes_kernel<<<1, 32>>>(out); break;
    case 2: unaligned_ldsm_kernel<<<1, 32, 1024>>>((uint32_t *)out); break;
    case 6:  // within the bound runs; past it faults
      bounded_kernel<<<1, 64>>>(out);
      if (cudaGetLastError() != cudaSuccess) return 0;
      bounded_kernel<<<1, 128>>>(out);
      break;
    case 3:  // 64 KiB without raising the limit: refused; raised: runs
      big_smem_kernel<<<1, 32, 64 << 10>>>(out);
      if (cudaGetLastError() != cudaErrorInvalidValue) return 0;
      cudaFuncSetAttribute(big_smem_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, 64 << 10);
      big_smem_kernel<<<1, 32, 64 << 10>>>(out);
      return cudaGetLastError() == cudaSuccess;
    case 4: {  // 2 GiB on a 1 GiB device
      void *p;
      return cudaMalloc(&p, (size_t)2 << 30) == cudaErrorMemoryAllocation &&
             cudaMalloc(&p, 1 << 20) == cudaSuccess;
    }
    case 5: {  // ld shorter than the rows
      cublasLtMatrixLayout_t l;
      cublasLtMatmulDesc_t op;
      cublasLtMatmulPreference_t pref;
      cublasLtHandle_t h;
      cublasLtMatmulHeuristicResult_t res;
      int found = 0;
      cublasLtCreate(&h);
      cublasLtMatmulDescCreate(&op, CUBLAS_COMPUTE_32F, CUDA_R_32F);
      cublasLtMatrixLayoutCreate(&l, CUDA_R_32F, 16, 16, 8);
      cublasLtMatmulPreferenceCreate(&pref);
      return cublasLtMatmulAlgoGetHeuristic(h, op, l, l, l, l, pref, 1, &res, &found) ==
                 CUBLAS_STATUS_INVALID_VALUE &&
             found == 0;
    }
  }
  e = cudaGetLastError();
  // sticky: the next call fails too
  return e == cudaErrorLaunchFailure && cudaMemset(out, 0, 4) == cudaErrorLaunchFailure;
}

static void test_faults() {
  const char *names[] = {"deadlock (__syncthreads vs a warp shuffle) is reported, sticky",
                         "a full-warp shuffle after lanes exited is reported, sticky",
                         "an unaligned ldmatrix row address is reported, sticky",
                         "dynamic shared memory over 48 KiB is refused until the limit is raised",
                         "cudaMalloc past CUDA_SIM_MEMORY_MB fails as out of memory",
                         "cuBLASLt refuses a layout with ld < rows",
                         "a block over the kernel's __launch_bounds__ is reported, sticky"};
  for (int i = 0; i < 7; i++) {
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
      if (!freopen("/dev/null", "w", stderr)) _exit(3);
      _exit(fault_case(i) ? 0 : 1);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    check(WIFEXITED(st) && WEXITSTATUS(st) == 0, names[i]);
  }
}

int main() {
  setenv("CUDA_SIM_MEMORY_MB", "1024", 1);
  test_reduce();
  test_mma();
  test_ldmatrix();
  test_cp_async();
  float fwd[64], rev[64];
  run_racy(fwd);
  cuda_sim_set_reverse(true);
  run_racy(rev);
  cuda_sim_set_reverse(false);
  check(memcmp(fwd, rev, sizeof fwd) != 0, "a missing __syncthreads shows in the reverse order");
  test_faults();
  printf("%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
