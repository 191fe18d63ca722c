// gemm.cu — every matrix product through cuBLASLt (handle and workspace of cuda_mem.cu): the
// evaluation's y = x·wᵀ (matmul.cu) and the trainer's, with transposes, an fp32 or bf16 output
// and accumulation. See matmul.cuh.
//
// Layout: cuBLASLt is column-major, and a row-major matrix is its transpose read column-major.
// Row-major C[M, N] = op(A)·op(B) is column-major Cᵀ[N, M] = op(B)ᵀ · op(A)ᵀ, so cuBLASLt's first
// operand is our B and its second our A, m = N, n = M, k = K:
//   B stored [K, N] (tb = 0): column-major [N, K], used as is (N);  stored [N, K] (tb = 1):
//   column-major [K, N], used transposed (T).
//   A stored [M, K] (ta = 0): column-major [K, M], used as is;  stored [K, M] (ta = 1):
//   column-major [M, K], used transposed.
// The heuristic's pick is kept per shape (a small table): a training step, and a decode step,
// asks for the same few dozen products every time, and the query costs host time.
#include <string.h>

#include "convert.cuh"
#include "cuda_common.cuh"
#include "matmul.cuh"

static uint32_t gemm_alignment(const void *p) {
  uintptr_t a = (uintptr_t)p;
  uint32_t al = 256;
  while (al > 1 && (a % al) != 0) al >>= 1;
  return al;
}

static cudaDataType_t lt_type(DType t) {
  return t == DTYPE_BF16 ? CUDA_R_16BF : t == DTYPE_F16 ? CUDA_R_16F : CUDA_R_32F;
}

typedef struct {
  int ta, tb, ab, ct, beta1;
  long M, N, K, lda, ldb, ldc;
  uint32_t al_a, al_b, al_c;
  int device;
  cublasLtMatmulAlgo_t algo;
} GemmPick;

enum { GEMM_PICKS = 128 };
static GemmPick picks[GEMM_PICKS];
static int n_picks, next_pick;

static int same_key(const GemmPick *a, const GemmPick *b) {
  return a->ta == b->ta && a->tb == b->tb && a->ab == b->ab && a->ct == b->ct &&
         a->beta1 == b->beta1 && a->M == b->M && a->N == b->N && a->K == b->K &&
         a->lda == b->lda && a->ldb == b->ldb && a->ldc == b->ldc && a->al_a == b->al_a &&
         a->al_b == b->al_b && a->al_c == b->al_c && a->device == b->device;
}

extern "C" void cuda_gemm_ex(int ta, int tb, long M, long N, long K, const void *A, long lda,
                        const void *B, long ldb, DType ab, float beta, void *C, long ldc, DType ct) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0) {
    if (beta == 0.0f)
      for (long r = 0; r < M; r++)
        cudaCheck(cudaMemset((char *)C + (size_t)r * ldc * dtype_size(ct), 0,
                             (size_t)N * dtype_size(ct)));
    return;
  }
  cublasLtHandle_t lt = cuda_lt_handle();
  size_t ws_bytes = 0;
  void *ws = cuda_lt_workspace(&ws_bytes);
  GemmPick key;
  memset(&key, 0, sizeof key);
  key.ta = ta;
  key.tb = tb;
  key.ab = (int)ab;
  key.ct = (int)ct;
  key.beta1 = beta != 0.0f;
  key.M = M;
  key.N = N;
  key.K = K;
  key.lda = lda;
  key.ldb = ldb;
  key.ldc = ldc;
  key.al_a = gemm_alignment(B);  // cuBLASLt's A is our B
  key.al_b = gemm_alignment(A);
  key.al_c = gemm_alignment(C);
  key.device = cuda_device_current();
  cublasLtMatmulDesc_t op = NULL;
  cublasLtMatrixLayout_t la = NULL, lb = NULL, lc = NULL;
  cublasLtMatmulPreference_t pref = NULL;
  cublasOperation_t opa = tb ? CUBLAS_OP_T : CUBLAS_OP_N, opb = ta ? CUBLAS_OP_T : CUBLAS_OP_N;
  cudaDataType_t abt = lt_type(ab), ctt = lt_type(ct);
  float alpha = 1.0f;
  int found = -1;
  for (int i = 0; i < n_picks; i++)
    if (same_key(&picks[i], &key)) {
      found = i;
      break;
    }
  cublasLtMatmulAlgo_t algo;
  if (cublasCheck(cublasLtMatmulDescCreate(&op, CUBLAS_COMPUTE_32F, CUDA_R_32F)) ||
      cublasCheck(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_TRANSA, &opa, sizeof opa)) ||
      cublasCheck(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_TRANSB, &opb, sizeof opb)) ||
      cublasCheck(cublasLtMatrixLayoutCreate(&la, abt, (uint64_t)(tb ? K : N), (uint64_t)(tb ? N : K),
                                             ldb)) ||
      cublasCheck(cublasLtMatrixLayoutCreate(&lb, abt, (uint64_t)(ta ? M : K), (uint64_t)(ta ? K : M),
                                             lda)) ||
      cublasCheck(cublasLtMatrixLayoutCreate(&lc, ctt, (uint64_t)N, (uint64_t)M, ldc)))
    goto out;
  if (found >= 0) {
    algo = picks[found].algo;
  } else {
    cublasLtMatmulHeuristicResult_t heur;
    int n_found = 0;
    if (cublasCheck(cublasLtMatmulPreferenceCreate(&pref)) ||
        cublasCheck(cublasLtMatmulPreferenceSetAttribute(
            pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws_bytes, sizeof ws_bytes)) ||
        cublasCheck(cublasLtMatmulPreferenceSetAttribute(
            pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, &key.al_a, sizeof key.al_a)) ||
        cublasCheck(cublasLtMatmulPreferenceSetAttribute(
            pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, &key.al_b, sizeof key.al_b)) ||
        cublasCheck(cublasLtMatmulPreferenceSetAttribute(
            pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, &key.al_c, sizeof key.al_c)) ||
        cublasCheck(cublasLtMatmulPreferenceSetAttribute(
            pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, &key.al_c, sizeof key.al_c)) ||
        cublasCheck(cublasLtMatmulAlgoGetHeuristic(lt, op, la, lb, lc, lc, pref, 1, &heur,
                                                   &n_found)))
      goto out;
    if (n_found < 1) {
      cuda_fail("cuBLASLt has no algorithm for a product %s[%ld,%ld]%s x %s[%ld,%ld]%s -> "
                "%s (beta %g)", dtype_name(ab), ta ? K : M, ta ? M : K, ta ? "^T" : "",
                dtype_name(ab), tb ? N : K, tb ? K : N, tb ? "^T" : "",
                dtype_name(ct), (double)beta);
      goto out;
    }
    algo = heur.algo;
    key.algo = algo;
    if (n_picks < GEMM_PICKS) {
      picks[n_picks++] = key;
    } else {
      picks[next_pick] = key;
      next_pick = (next_pick + 1) % GEMM_PICKS;
    }
  }
  cublasCheck(cublasLtMatmul(lt, op, &alpha, B, la, A, lb, &beta, C, lc, C, lc, &algo, ws,
                             ws_bytes, 0));
out:
  if (pref) cublasCheck(cublasLtMatmulPreferenceDestroy(pref));
  if (lc) cublasCheck(cublasLtMatrixLayoutDestroy(lc));
  if (lb) cublasCheck(cublasLtMatrixLayoutDestroy(lb));
  if (la) cublasCheck(cublasLtMatrixLayoutDestroy(la));
  if (op) cublasCheck(cublasLtMatmulDescDestroy(op));
}
