// sim_cublaslt.cpp — the part of cuBLASLt that bench calls, for the CUDA simulator (see
// cuda_sim.h): D = alpha · op(A) · op(B) + beta · C, column-major, with A/B in fp32, bf16 or fp16
// and C/D in fp32 or bf16, compute type 32F (products summed in double by OpenBLAS and rounded once).
// It refuses what cuBLASLt refuses — a leading dimension shorter than the rows, shapes that do
// not chain, a pointer less aligned than the preference promised, a type pair cuBLASLt has no
// kernel for, an attribute it does not know here — so layout mistakes show without a GPU, with a
// message on stderr. Matrices are read through their device allocations (a product reaching past
// one is refused too).
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>
#include <cublasLt.h>

#include <vector>

#include "cuda_sim.h"
#include "sim_internal.h"

struct cublasLtContext {
  int magic;
};

namespace {

struct Desc {
  cublasComputeType_t compute;
  cudaDataType_t scale;
  cublasOperation_t ta, tb;
};
struct Layout {
  cudaDataType_t type;
  uint64_t rows, cols;
  int64_t ld;
};
struct Pref {
  uint64_t max_ws;
  uint32_t al[4];  // A, B, C, D minimum alignments promised (bytes)
};

static_assert(sizeof(Desc) <= sizeof(cublasLtMatmulDescOpaque_t), "desc");
static_assert(sizeof(Layout) <= sizeof(cublasLtMatrixLayoutOpaque_t), "layout");
static_assert(sizeof(Pref) <= sizeof(cublasLtMatmulPreferenceOpaque_t), "pref");

Desc *desc(cublasLtMatmulDesc_t d) { return reinterpret_cast<Desc *>(d->data); }
Layout *layout(cublasLtMatrixLayout_t l) { return reinterpret_cast<Layout *>(l->data); }
Pref *pref(cublasLtMatmulPreference_t p) { return reinterpret_cast<Pref *>(p->data); }

cublasStatus_t refuse(cublasStatus_t s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
cublasStatus_t refuse(cublasStatus_t s, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "cuda_sim: cuBLASLt: ");
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  return s;
}

size_t type_bytes(cudaDataType_t t) {
  switch (t) {
    case CUDA_R_32F: return 4;
    case CUDA_R_16BF:
    case CUDA_R_16F: return 2;
    default: return 0;
  }
}

double load(const void *p, cudaDataType_t t, size_t i) {
  switch (t) {
    case CUDA_R_32F: return static_cast<const float *>(p)[i];
    case CUDA_R_16BF: return __bfloat162float(static_cast<const __nv_bfloat16 *>(p)[i]);
    case CUDA_R_16F: return __half2float(static_cast<const __half *>(p)[i]);
    default: return 0;
  }
}

void store(void *p, cudaDataType_t t, size_t i, double v) {
  switch (t) {
    case CUDA_R_32F: static_cast<float *>(p)[i] = (float)v; break;
    case CUDA_R_16BF: static_cast<__nv_bfloat16 *>(p)[i] = __float2bfloat16_rn((float)v); break;
    case CUDA_R_16F: static_cast<__half *>(p)[i] = __float2half_rn((float)v); break;
    default: break;
  }
}

uint32_t alignment_of(const void *p) {
  uintptr_t a = (uintptr_t)p;
  uint32_t al = 256;
  while (al > 1 && a % al) al >>= 1;
  return al;
}

// The checks cublasLtMatmulAlgoGetHeuristic and cublasLtMatmul share: shapes (m, n, k).
cublasStatus_t check_shapes(const Desc *d, const Layout *a, const Layout *b, const Layout *c,
                            const Layout *dd, uint64_t *m, uint64_t *n, uint64_t *k) {
  if (d->compute != CUBLAS_COMPUTE_32F || d->scale != CUDA_R_32F)
    return refuse(CUBLAS_STATUS_NOT_SUPPORTED, "only compute type 32F with fp32 scale is simulated");
  for (const Layout *l : {a, b, c, dd})
    if (type_bytes(l->type) == 0 || l->ld < (int64_t)l->rows || l->rows == 0 || l->cols == 0)
      return refuse(CUBLAS_STATUS_INVALID_VALUE,
                    "layout %llu x %llu with ld %lld (type %d): ld must be at least the rows",
                    (unsigned long long)l->rows, (unsigned long long)l->cols, (long long)l->ld,
                    (int)l->type);
  if (a->type != b->type)
    return refuse(CUBLAS_STATUS_NOT_SUPPORTED, "A and B of different types (%d, %d)",
                  (int)a->type, (int)b->type);
  if (c->type != dd->type || c->rows != dd->rows || c->cols != dd->cols || c->ld != dd->ld)
    return refuse(CUBLAS_STATUS_NOT_SUPPORTED, "C and D layouts differ");
  bool ok_types = (a->type == CUDA_R_32F && c->type == CUDA_R_32F) ||
                  (a->type == CUDA_R_16BF && (c->type == CUDA_R_32F || c->type == CUDA_R_16BF)) ||
                  (a->type == CUDA_R_16F && (c->type == CUDA_R_32F || c->type == CUDA_R_16F));
  if (!ok_types)
    return refuse(CUBLAS_STATUS_NOT_SUPPORTED, "no kernel for A/B type %d with C/D type %d",
                  (int)a->type, (int)c->type);
  *m = d->ta == CUBLAS_OP_N ? a->rows : a->cols;
  *k = d->ta == CUBLAS_OP_N ? a->cols : a->rows;
  uint64_t kb = d->tb == CUBLAS_OP_N ? b->rows : b->cols;
  *n = d->tb == CUBLAS_OP_N ? b->cols : b->rows;
  if (kb != *k || c->rows != *m || c->cols != *n)
    return refuse(CUBLAS_STATUS_INVALID_VALUE,
                  "shapes do not chain: op(A) %llu x %llu, op(B) %llu x %llu, D %llu x %llu",
                  (unsigned long long)*m, (unsigned long long)*k, (unsigned long long)kb,
                  (unsigned long long)*n, (unsigned long long)c->rows,
                  (unsigned long long)c->cols);
  return CUBLAS_STATUS_SUCCESS;
}

bool inside(const void *p, const Layout *l) {
  size_t bytes = ((size_t)l->ld * (l->cols - 1) + l->rows) * type_bytes(l->type);
  return cuda_sim::is_device_range(p, bytes);
}

}  // namespace

extern "C" {

size_t cublasLtGetVersion(void) { return CUBLAS_VERSION; }

cublasStatus_t cublasLtCreate(cublasLtHandle_t *h) {
  *h = new cublasLtContext{0x5117};
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtDestroy(cublasLtHandle_t h) {
  delete h;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatmulDescCreate(cublasLtMatmulDesc_t *d, cublasComputeType_t compute,
                                        cudaDataType_t scale) {
  *d = new cublasLtMatmulDescOpaque_t();
  *desc(*d) = Desc{compute, scale, CUBLAS_OP_N, CUBLAS_OP_N};
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatmulDescDestroy(cublasLtMatmulDesc_t d) {
  delete d;
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatmulDescSetAttribute(cublasLtMatmulDesc_t d,
                                              cublasLtMatmulDescAttributes_t attr,
                                              const void *buf, size_t bytes) {
  if ((attr == CUBLASLT_MATMUL_DESC_TRANSA || attr == CUBLASLT_MATMUL_DESC_TRANSB) &&
      bytes == sizeof(cublasOperation_t)) {
    cublasOperation_t op;
    memcpy(&op, buf, sizeof op);
    if (op != CUBLAS_OP_N && op != CUBLAS_OP_T)
      return refuse(CUBLAS_STATUS_NOT_SUPPORTED, "only N and T operations are simulated");
    (attr == CUBLASLT_MATMUL_DESC_TRANSA ? desc(d)->ta : desc(d)->tb) = op;
    return CUBLAS_STATUS_SUCCESS;
  }
  return refuse(CUBLAS_STATUS_NOT_SUPPORTED, "matmul attribute %d (%zu bytes) is not simulated",
                (int)attr, bytes);
}

cublasStatus_t cublasLtMatrixLayoutCreate(cublasLtMatrixLayout_t *l, cudaDataType type,
                                          uint64_t rows, uint64_t cols, int64_t ld) {
  *l = new cublasLtMatrixLayoutOpaque_t();
  *layout(*l) = Layout{type, rows, cols, ld};
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatrixLayoutDestroy(cublasLtMatrixLayout_t l) {
  delete l;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatmulPreferenceCreate(cublasLtMatmulPreference_t *p) {
  *p = new cublasLtMatmulPreferenceOpaque_t();
  *pref(*p) = Pref{0, {256, 256, 256, 256}};
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatmulPreferenceDestroy(cublasLtMatmulPreference_t p) {
  delete p;
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatmulPreferenceSetAttribute(cublasLtMatmulPreference_t p,
                                                    cublasLtMatmulPreferenceAttributes_t attr,
                                                    const void *buf, size_t bytes) {
  Pref *q = pref(p);
  switch (attr) {
    case CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES:
      if (bytes != sizeof(uint64_t)) break;
      memcpy(&q->max_ws, buf, bytes);
      return CUBLAS_STATUS_SUCCESS;
    case CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES:
    case CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES:
    case CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES:
    case CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES:
      if (bytes != sizeof(uint32_t)) break;
      memcpy(&q->al[attr - CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES], buf, bytes);
      return CUBLAS_STATUS_SUCCESS;
    default: break;
  }
  return refuse(CUBLAS_STATUS_INVALID_VALUE,
                "preference attribute %d with %zu bytes is not simulated", (int)attr, bytes);
}

cublasStatus_t cublasLtMatmulAlgoGetHeuristic(
    cublasLtHandle_t, cublasLtMatmulDesc_t op, cublasLtMatrixLayout_t a,
    cublasLtMatrixLayout_t b, cublasLtMatrixLayout_t c, cublasLtMatrixLayout_t d,
    cublasLtMatmulPreference_t p, int requested, cublasLtMatmulHeuristicResult_t *results,
    int *found) {
  *found = 0;
  uint64_t m, n, k;
  cublasStatus_t s = check_shapes(desc(op), layout(a), layout(b), layout(c), layout(d), &m, &n, &k);
  if (s != CUBLAS_STATUS_SUCCESS) return s;
  if (requested < 1) return CUBLAS_STATUS_INVALID_VALUE;
  memset(&results[0], 0, sizeof results[0]);
  // the algorithm remembers the alignments it was chosen for
  memcpy(results[0].algo.data, pref(p)->al, sizeof pref(p)->al);
  results[0].workspaceSize = 0;
  results[0].state = CUBLAS_STATUS_SUCCESS;
  results[0].wavesCount = 1.0f;
  *found = 1;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatmul(cublasLtHandle_t h, cublasLtMatmulDesc_t op, const void *alpha,
                              const void *A, cublasLtMatrixLayout_t la, const void *B,
                              cublasLtMatrixLayout_t lb, const void *beta, const void *C,
                              cublasLtMatrixLayout_t lc, void *D, cublasLtMatrixLayout_t ld,
                              const cublasLtMatmulAlgo_t *algo, void *, size_t, cudaStream_t) {
  if (!h || h->magic != 0x5117) return refuse(CUBLAS_STATUS_NOT_INITIALIZED, "bad handle");
  if (cuda_sim::sim_sticky_error() != cudaSuccess) return CUBLAS_STATUS_EXECUTION_FAILED;
  const Desc *d = desc(op);
  const Layout *a = layout(la), *b = layout(lb), *c = layout(lc), *dd_layout = layout(ld);
  uint64_t m, n, k;
  cublasStatus_t s = check_shapes(d, a, b, c, dd_layout, &m, &n, &k);
  if (s != CUBLAS_STATUS_SUCCESS) return s;
  if (!algo) return refuse(CUBLAS_STATUS_NOT_SUPPORTED, "no algorithm given (simulated)");
  uint32_t al[4];
  memcpy(al, algo->data, sizeof al);
  const void *ptrs[4] = {A, B, C, D};
  for (int i = 0; i < 4; i++)
    if (alignment_of(ptrs[i]) < al[i])
      return refuse(CUBLAS_STATUS_INVALID_VALUE,
                    "matrix %c at %p is %u-byte aligned; the algorithm was chosen for %u",
                    "ABCD"[i], ptrs[i], alignment_of(ptrs[i]), al[i]);
  if (!inside(A, a) || !inside(B, b) || !inside(C, c) || !inside(D, dd_layout))
    return refuse(CUBLAS_STATUS_INVALID_VALUE,
                  "a matrix reaches past its device allocation (m %llu, n %llu, k %llu)",
                  (unsigned long long)m, (unsigned long long)n, (unsigned long long)k);
  float al_f, be_f;
  memcpy(&al_f, alpha, 4);
  memcpy(&be_f, beta, 4);
  // op(A) [m, k] and op(B) [k, n] widened to double, column-major, then one exact-enough dgemm
  std::vector<double> da(m * k), db(k * n), dd((size_t)m * n);
  for (uint64_t p = 0; p < k; p++)
    for (uint64_t i = 0; i < m; i++)
      da[i + p * m] = load(A, a->type, d->ta == CUBLAS_OP_N ? i + p * (size_t)a->ld
                                                            : p + i * (size_t)a->ld);
  for (uint64_t j = 0; j < n; j++)
    for (uint64_t p = 0; p < k; p++)
      db[p + j * k] = load(B, b->type, d->tb == CUBLAS_OP_N ? p + j * (size_t)b->ld
                                                            : j + p * (size_t)b->ld);
  cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, (int)m, (int)n, (int)k, 1.0, da.data(),
              (int)m, db.data(), (int)k, 0.0, dd.data(), (int)m);
  for (uint64_t j = 0; j < n; j++)
    for (uint64_t i = 0; i < m; i++) {
      double v = (double)al_f * dd[i + j * m];
      if (be_f != 0.0f) v += (double)be_f * load(C, c->type, i + j * (size_t)c->ld);
      store(D, dd_layout->type, i + j * (size_t)dd_layout->ld, v);
    }
  return CUBLAS_STATUS_SUCCESS;
}

}  // extern "C"
