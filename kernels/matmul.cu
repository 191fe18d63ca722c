// matmul.cu — cuBLASLt products for row-major y[T, N] = x[T, Cin] · w[N, Cin]ᵀ. See matmul.cuh.
//
// Layout: cuBLASLt is column-major, and a row-major matrix is its transpose read column-major.
// So row-major y[T, N] is column-major D[N, T] (ld N); w[N, Cin] is column-major A[Cin, N]
// (ld Cin), used transposed: op(A) = [N, Cin]; x[T, Cin] is column-major B[Cin, T] (ld Cin).
// D = op(A) · B, i.e. m = N, n = T, k = Cin; no data moves.
#include "convert.cuh"
#include "cuda_common.cuh"
#include "matmul.cuh"

// Largest power of two (≤ 256) dividing the address: cuBLASLt's heuristics assume 256-byte
// alignment unless told otherwise, and rows of a block (x + r0·Cin) are often less aligned.
static uint32_t ptr_alignment(const void *p) {
  uintptr_t a = (uintptr_t)p;
  uint32_t al = 256;
  while (al > 1 && (a % al) != 0) al >>= 1;
  return al;
}

static cudaDataType_t cuda_type(DType t) {
  switch (t) {
    case DTYPE_BF16: return CUDA_R_16BF;
    case DTYPE_F16: return CUDA_R_16F;
    default: return CUDA_R_32F;
  }
}

extern "C" void cuda_gemm(float *y, const void *x, const void *w, DType dtype, long T, int Cin,
                          int N) {
  if (T <= 0 || N <= 0) return;
  if (Cin <= 0) {
    cudaCheck(cudaMemset(y, 0, (size_t)T * N * sizeof(float)));
    return;
  }
  cublasLtHandle_t lt = cuda_lt_handle();
  size_t ws_bytes = 0;
  void *ws = cuda_lt_workspace(&ws_bytes);
  cudaDataType_t ab = cuda_type(dtype);
  cublasLtMatmulDesc_t op = NULL;
  cublasLtMatrixLayout_t la = NULL, lb = NULL, ld = NULL;
  cublasLtMatmulPreference_t pref = NULL;
  cublasOperation_t ta = CUBLAS_OP_T, tb = CUBLAS_OP_N;
  uint32_t al_a = ptr_alignment(w), al_b = ptr_alignment(x), al_d = ptr_alignment(y);
  cublasLtMatmulHeuristicResult_t heur;
  int found = 0;
  float alpha = 1.0f, beta = 0.0f;
  if (cublasCheck(cublasLtMatmulDescCreate(&op, CUBLAS_COMPUTE_32F, CUDA_R_32F)) ||
      cublasCheck(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof ta)) ||
      cublasCheck(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof tb)) ||
      cublasCheck(cublasLtMatrixLayoutCreate(&la, ab, (uint64_t)Cin, (uint64_t)N, Cin)) ||
      cublasCheck(cublasLtMatrixLayoutCreate(&lb, ab, (uint64_t)Cin, (uint64_t)T, Cin)) ||
      cublasCheck(cublasLtMatrixLayoutCreate(&ld, CUDA_R_32F, (uint64_t)N, (uint64_t)T, N)) ||
      cublasCheck(cublasLtMatmulPreferenceCreate(&pref)) ||
      cublasCheck(cublasLtMatmulPreferenceSetAttribute(
          pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws_bytes, sizeof ws_bytes)) ||
      cublasCheck(cublasLtMatmulPreferenceSetAttribute(
          pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, &al_a, sizeof al_a)) ||
      cublasCheck(cublasLtMatmulPreferenceSetAttribute(
          pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, &al_b, sizeof al_b)) ||
      cublasCheck(cublasLtMatmulPreferenceSetAttribute(
          pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, &al_d, sizeof al_d)) ||
      cublasCheck(cublasLtMatmulPreferenceSetAttribute(
          pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, &al_d, sizeof al_d)) ||
      cublasCheck(cublasLtMatmulAlgoGetHeuristic(lt, op, la, lb, ld, ld, pref, 1, &heur, &found)))
    goto out;
  if (found < 1) {
    cuda_fail("cuBLASLt has no algorithm for a %s product [%ld, %d] x [%d, %d]^T",
              model_dtype_name(dtype), T, Cin, N, Cin);
    goto out;
  }
  cublasCheck(cublasLtMatmul(lt, op, &alpha, w, la, x, lb, &beta, y, ld, y, ld, &heur.algo, ws,
                             ws_bytes, 0));
out:
  if (pref) cublasCheck(cublasLtMatmulPreferenceDestroy(pref));
  if (ld) cublasCheck(cublasLtMatrixLayoutDestroy(ld));
  if (lb) cublasCheck(cublasLtMatrixLayoutDestroy(lb));
  if (la) cublasCheck(cublasLtMatrixLayoutDestroy(la));
  if (op) cublasCheck(cublasLtMatmulDescDestroy(op));
}

// y[T, N] += b[N]
__global__ void bias_add_forward_kernel(float *y, const float *b, size_t n, int N) {
  size_t stride = (size_t)gridDim.x * blockDim.x;
  for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride)
    y[i] += b[i % N];
}

extern "C" void cuda_bias_add(float *y, const float *b, long T, int N) {
  size_t n = (size_t)T * N;
  if (n == 0) return;
  bias_add_forward_kernel<<<cuda_blocks(n, 256), 256>>>(y, b, n, N);
  cudaCheck(cudaGetLastError());
}

extern "C" void cuda_matmul(float *y, const float *x, const void *w, DType wdtype, const float *b,
                            long T, int Cin, int N) {
  if (T <= 0 || N <= 0) return;
  const void *xin = x;
  if (wdtype != DTYPE_F32) {
    size_t n = (size_t)T * Cin;
    void *xs = cuda_scratch(CUDA_SCRATCH_CONVERT, n * dtype_size(wdtype));
    if (!xs) return;
    cuda_convert_from_f32(xs, wdtype, x, n);
    xin = xs;
  }
  cuda_gemm(y, xin, w, wdtype, T, Cin, N);
  if (b) cuda_bias_add(y, b, T, N);
}
