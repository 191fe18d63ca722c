// matmul.cuh — matrix products through cuBLASLt with fp32 accumulation, and the bias add.
// CPU twin: cpu_matmul (backend_cpu.c), sgemm. Legend: T rows, Cin inputs, N outputs.
#ifndef BENCH_MATMUL_CUH
#define BENCH_MATMUL_CUH

#include "c_headers.cuh"

#ifdef __cplusplus
extern "C" {
#endif
#include "dtype.h"

// Row-major C[M, N] = op(A)[M, K] · op(B)[K, N] + beta·C through cuBLASLt, fp32 accumulation
// (CUBLAS_COMPUTE_32F: true fp32 for fp32 operands). ta: A is stored [K, M]; tb: B is stored
// [N, K]. A and B in ab (fp32, bf16 or fp16), C in ct (fp32, or bf16 with beta 0). beta 0 or 1.
// Leading dimensions in elements. The algorithm cuBLASLt picks is kept per shape (gemm.cu).
void cuda_gemm_ex(int ta, int tb, long M, long N, long K, const void *A, long lda, const void *B,
                  long ldb, DType ab, float beta, void *C, long ldc, DType ct);
// y[T, N] (fp32) = x[T, Cin] · w[N, Cin]ᵀ, x and w both in dtype, products accumulated in fp32
// (CUBLAS_COMPUTE_32F: true fp32 for fp32 inputs, never TF32). Any pointer alignment.
void cuda_gemm(float *y, const void *x, const void *w, DType dtype, long T, int Cin, int N);
// y[T, N] += b[N]
void cuda_bias_add(float *y, const float *b, long T, int N);
// The backend's matmul: y[T, N] = x[T, Cin] · w[N, Cin]ᵀ + b[N] with x fp32 (rounded to wdtype
// first, in scratch, when wdtype is bf16/fp16), w in wdtype, b fp32 or NULL.
void cuda_matmul(float *y, const float *x, const void *w, DType wdtype, const float *b, long T,
                 int Cin, int N);

#ifdef __cplusplus
}
#endif

#endif
