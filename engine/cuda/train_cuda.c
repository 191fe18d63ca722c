// train_cuda.c — the CUDA tables of training ops (train_ops.h): cuda-fp32 (every buffer and
// product in fp32: a check mode against the CPU reference) and cuda-bf16 (act buffers and the
// weights' copy in bf16, products on bf16 operands with fp32 accumulation; params, gradients,
// moments, the residual stream and every reduction fp32). The ops are the launchers of the op
// families' files, each beside its evaluation twin (embedding.cuh, norm.cuh, rope.cuh,
// activation.cuh, attention.cuh and flash_attention.cuh, lm_head.cuh, optim.cuh; products
// cuda_gemm_ex of matmul.cuh, copies cuda_mem.cuh): every launch goes to the default stream and
// is checked (cuda_check.cuh), failures recorded for cuda_sync. CPU twins: the ops of the
// cpu-fp32 table (engine/cpu/train_tmpl.h) for fp32, and the emulated bf16 table
// (tests/lib/train_emu_ops.h) for bf16; tests/gpu/test_train_kernels.c compares them. This file
// holds the scratch of a trainer, the tokens' upload with the embedding backward's grouping, the
// LM head by row blocks, and the choice of attention kernels.
// Compiled with -DBENCH_CUDA when nvcc was found; otherwise only the "built without CUDA"
// answers at the end.
// Legend: n rows of a pass (n_seq × T), T tokens per sequence, C hidden, H query heads, D head
//         dim, V vocab, Cin/N a product's input/output features.
//
// LM head: by blocks of rows whose fp32 logits (and their bf16 gradient) take about 1 GiB:
// logits = h·Wᵀ (fp32 out), cross-entropy per row (cuda_cross_entropy: nll and dlogits), then
// dh = dlogits·W and dW += dlogitsᵀ·h. Rows, not vocabulary chunks: each block's three products
// run at full width and nothing is computed twice; the block's logits stay bounded.
#include <stdlib.h>
#include <string.h>

#include "train_ops.h"

#ifdef BENCH_CUDA

#include "activation.cuh"
#include "attention.cuh"
#include "convert.cuh"
#include "cuda_mem.cuh"
#include "embedding.cuh"
#include "flash_attention.cuh"
#include "lm_head.cuh"
#include "matmul.cuh"
#include "norm.cuh"
#include "optim.cuh"
#include "rope.cuh"

enum { LM_BLOCK_BYTES = 1 << 30 };

typedef struct {
  TrainDims d;
  DType act;               // DTYPE_F32 or DTYPE_BF16
  int flash;               // attention on the tensor-core kernels
  long cap;                // rows of the largest pass (n_seq × T)
  // tokens of the current pass and the embedding backward's groups (device)
  int32_t *tok;            // [n_seq, T + 1]
  int32_t *emb_ids;        // [U] distinct tokens, increasing
  int32_t *emb_starts;     // [U + 1]
  int32_t *emb_rows;       // [n] rows grouped by token, increasing within a group
  long n_uniq;
  // host side of the grouping
  int32_t *h_count;        // [V + 1]
  int32_t *h_ids, *h_starts, *h_rows;
  // scratch (device)
  float *rms_partial;      // [⌈cap / CUDA_RMS_ROWS⌉, C]
  float *Di;               // [cap, H]
  float *nll;              // [cap] per row of the pass
  double *sum_partial;     // [CUDA_SUM_BLOCKS]
  double *scalars;         // [2]: NLL total, last Σ g²
  float *logits;           // [lm_rows, Vp]
  void *dlogits;           // [lm_rows, Vp] act (the logits themselves when act is fp32)
  long lm_rows;
  long Vp;                 // V rounded up to 8: the logits' row stride (16-byte rows for the
                           // products that read them)
} CudaTrainCtx;

static size_t act_bytes(const CudaTrainCtx *c) { return c->act == DTYPE_BF16 ? 2 : 4; }

// ---- memory ----
static void *ct_alloc(size_t bytes) { return cuda_alloc(bytes); }
static void ct_free(void *p) { cuda_free(p); }
static void ct_upload(void *dst, const void *src, size_t bytes) { cuda_upload(dst, src, bytes); }
static void ct_download(void *dst, const void *src, size_t bytes) { cuda_download(dst, src, bytes); }
static void ct_zero(void *p, size_t bytes) { cuda_memset0(p, bytes); }
static void ct_copy(void *dst, const void *src, size_t bytes) { cuda_copy(dst, src, bytes); }
static int ct_sync(BenchErr *err) { return cuda_sync(err); }
static size_t ct_mem_available(void) {
  size_t fr = 0, tot = 0;
  cuda_mem_info(&fr, &tot);
  return fr;
}

// ---- scratch ----
static void ct_ctx_free(void *vc) {
  CudaTrainCtx *c = vc;
  if (!c) return;
  void *dev[] = {c->tok, c->emb_ids, c->emb_starts, c->emb_rows, c->rms_partial, c->Di, c->nll,
                 c->sum_partial, c->scalars, c->logits,
                 c->dlogits != (void *)c->logits ? c->dlogits : NULL};
  for (size_t i = 0; i < sizeof dev / sizeof dev[0]; i++)
    if (dev[i]) cuda_free(dev[i]);
  free(c->h_count);
  free(c->h_ids);
  free(c->h_starts);
  free(c->h_rows);
  free(c);
}

static void *ctx_new_as(const TrainDims *d, DType act, BenchErr *err) {
  CudaTrainCtx *c = xcalloc(1, sizeof *c);
  c->d = *d;
  c->act = act;
  c->cap = d->n_seq * d->T;
  int can_flash = cuda_flash_attn_supports(act, d->D);
  c->flash = d->attention == TRAIN_ATTN_SIMPLE ? 0 : can_flash;
  size_t cap = (size_t)c->cap, V = (size_t)d->V, U = cap < V ? cap : V;
  c->Vp = (long)(V + 7) / 8 * 8;
  long rows = (long)(LM_BLOCK_BYTES / ((size_t)c->Vp * (4 + (act == DTYPE_BF16 ? 2 : 0))));
  rows = rows / 64 * 64;
  if (rows < 64) rows = 64;
  if (rows > c->cap) rows = c->cap;
  c->lm_rows = rows;
  size_t nb = (cap + CUDA_RMS_ROWS - 1) / CUDA_RMS_ROWS;
  c->tok = cuda_alloc((size_t)d->n_seq * (d->T + 1) * sizeof(int32_t));
  c->emb_ids = cuda_alloc(U * sizeof(int32_t));
  c->emb_starts = cuda_alloc((U + 1) * sizeof(int32_t));
  c->emb_rows = cuda_alloc(cap * sizeof(int32_t));
  c->rms_partial = cuda_alloc(nb * (size_t)d->C * sizeof(float));
  c->Di = cuda_alloc(cap * (size_t)d->H * sizeof(float));
  c->nll = cuda_alloc(cap * sizeof(float));
  c->sum_partial = cuda_alloc(CUDA_SUM_BLOCKS * sizeof(double));
  c->scalars = cuda_alloc(2 * sizeof(double));
  c->logits = cuda_alloc((size_t)rows * c->Vp * sizeof(float));
  c->dlogits = act == DTYPE_BF16 ? cuda_alloc((size_t)rows * c->Vp * 2) : c->logits;
  c->h_count = malloc((V + 1) * sizeof(int32_t));
  c->h_ids = malloc((U + 1) * sizeof(int32_t));
  c->h_starts = malloc((U + 2) * sizeof(int32_t));
  c->h_rows = malloc((cap + 1) * sizeof(int32_t));
  if (!c->tok || !c->emb_ids || !c->emb_starts || !c->emb_rows || !c->rms_partial || !c->Di ||
      !c->nll || !c->sum_partial || !c->scalars || !c->logits || !c->dlogits || !c->h_count ||
      !c->h_ids || !c->h_starts || !c->h_rows) {
    ct_ctx_free(c);
    err_set(err, "out of memory: training scratch on cuda (LM head blocks of %ld rows × %zu)",
            rows, V);
    return NULL;
  }
  cuda_memset0(c->scalars, 2 * sizeof(double));
  return c;
}

static void *ct_ctx_new_f32(const TrainDims *d, BenchErr *err) {
  return ctx_new_as(d, DTYPE_F32, err);
}
static void *ct_ctx_new_bf16(const TrainDims *d, BenchErr *err) {
  return ctx_new_as(d, DTYPE_BF16, err);
}

// Uploads the tokens; with backward, groups the pass's rows by token (a counting sort: distinct
// tokens increasing, rows increasing within each) for the embedding backward.
static const int32_t *ct_tokens(void *vc, const int32_t *seqs, long n_seq, int backward) {
  CudaTrainCtx *c = vc;
  long T = c->d.T, n = n_seq * T;
  int V = c->d.V;
  cuda_upload(c->tok, seqs, (size_t)n_seq * (T + 1) * sizeof(int32_t));
  if (!backward) return c->tok;
  memset(c->h_count, 0, (size_t)(V + 1) * sizeof(int32_t));
  for (long s = 0; s < n_seq; s++)
    for (long i = 0; i < T; i++) c->h_count[seqs[s * (T + 1) + i] + 1]++;
  long u = 0;
  for (int v = 0; v < V; v++) {
    if (c->h_count[v + 1] > 0) {
      c->h_ids[u] = v;
      c->h_starts[u] = c->h_count[v];
      u++;
    }
    c->h_count[v + 1] += c->h_count[v];  // h_count[v] = first slot of token v
  }
  c->h_starts[u] = (int32_t)n;
  for (long s = 0; s < n_seq; s++)
    for (long i = 0; i < T; i++) {
      int32_t v = seqs[s * (T + 1) + i];
      c->h_rows[c->h_count[v]++] = (int32_t)(s * T + i);
    }
  c->n_uniq = u;
  cuda_upload(c->emb_ids, c->h_ids, (size_t)u * sizeof(int32_t));
  cuda_upload(c->emb_starts, c->h_starts, (size_t)(u + 1) * sizeof(int32_t));
  cuda_upload(c->emb_rows, c->h_rows, (size_t)n * sizeof(int32_t));
  return c->tok;
}

static void ct_put_reals(void *vc, void *dst, const double *src, size_t n) {
  (void)vc;
  float *f = xmalloc((n ? n : 1) * sizeof(float));
  for (size_t i = 0; i < n; i++) f[i] = (float)src[i];
  cuda_upload(dst, f, n * sizeof(float));
  free(f);
}

static const void *ct_to_act(void *vc, void *dst, const void *src, size_t n) {
  CudaTrainCtx *c = vc;
  if (c->act == DTYPE_F32) return src;
  cuda_convert_from_f32(dst, c->act, src, n);
  return dst;
}

static void ct_mat_refresh_bf16(void *vc, void *mat, const void *params, size_t n) {
  (void)vc;
  cuda_convert_from_f32(mat, DTYPE_BF16, params, n);
}

// ---- forward and backward ----
static void ct_embed_fwd(void *vc, void *x, const void *E, const int32_t *tok, long n_seq, long T,
                         int C) {
  (void)vc;
  cuda_embed_fwd(x, E, tok, n_seq, T, C);
}

static void ct_embed_bwd(void *vc, void *dE, const void *dx, const int32_t *tok, long n_seq,
                         long T, int C) {
  CudaTrainCtx *c = vc;
  (void)tok;
  (void)n_seq;
  (void)T;
  cuda_embed_bwd(dE, dx, c->emb_ids, c->emb_starts, c->emb_rows, c->n_uniq, C);
}

static void ct_rms_fwd(void *vc, void *y, void *rs, const void *x, const void *w, long n, int C,
                       double eps) {
  CudaTrainCtx *c = vc;
  cuda_rms_fwd(y, c->act, rs, x, w, n, C, (float)eps);
}

static void ct_rms_bwd(void *vc, void *dx, void *dw, const void *dy, const void *x, const void *rs,
                       const void *w, long n, int C) {
  CudaTrainCtx *c = vc;
  cuda_rms_bwd(dx, dw, dy, x, rs, w, n, C, c->rms_partial);
}

static void ct_linear(void *vc, void *y, int y_stream, const void *x, const void *w, long n,
                      int Cin, int N, int acc) {
  CudaTrainCtx *c = vc;
  cuda_gemm_ex(0, 1, n, N, Cin, x, Cin, w, Cin, c->act, acc ? 1.0f : 0.0f, y, N,
          y_stream ? DTYPE_F32 : c->act);
}

static void ct_linear_dx(void *vc, void *dx, int dx_stream, const void *dy, const void *w, long n,
                         int Cin, int N, int acc) {
  CudaTrainCtx *c = vc;
  cuda_gemm_ex(0, 0, n, Cin, N, dy, N, w, Cin, c->act, acc ? 1.0f : 0.0f, dx, Cin,
          dx_stream ? DTYPE_F32 : c->act);
}

static void ct_linear_dw(void *vc, void *dw, const void *dy, const void *x, long n, int Cin,
                         int N) {
  CudaTrainCtx *c = vc;
  cuda_gemm_ex(1, 0, N, Cin, n, dy, N, x, Cin, c->act, 1.0f, dw, Cin, DTYPE_F32);
}

static void ct_rope(void *vc, void *x, const void *cs, const void *sn, long n, long T, int NH,
                    int D, int inverse) {
  CudaTrainCtx *c = vc;
  cuda_rope(x, c->act, cs, sn, n, T, NH, D, inverse);
}

static void ct_swiglu_fwd(void *vc, void *a, const void *g, const void *u, long n) {
  CudaTrainCtx *c = vc;
  cuda_swiglu_fwd(a, g, u, c->act, n);
}

static void ct_swiglu_bwd(void *vc, void *da, void *du, const void *g, const void *u, long n) {
  CudaTrainCtx *c = vc;
  cuda_swiglu_bwd(da, du, g, u, c->act, n);
}

static void ct_attn_fwd(void *vc, void *out, void *lse, const void *q, const void *k, const void *v,
                        long n_seq, long T, int H, int K, int D) {
  CudaTrainCtx *c = vc;
  if (c->flash && cuda_flash_attn_fwd(out, lse, q, k, v, n_seq, T, H, K, D) == 0) return;
  cuda_attn_fwd(out, lse, q, k, v, c->act, n_seq, T, H, K, D);
}

static void ct_attn_bwd(void *vc, void *dq, void *dk, void *dv, const void *dout, const void *out,
                        const void *lse, const void *q, const void *k, const void *v, long n_seq,
                        long T, int H, int K, int D) {
  CudaTrainCtx *c = vc;
  cuda_attn_di(c->Di, dout, out, c->act, n_seq * T, H, D);
  if (c->flash &&
      cuda_flash_attn_bwd(dq, dk, dv, dout, c->Di, lse, q, k, v, n_seq, T, H, K, D) == 0)
    return;
  cuda_attn_bwd(dq, dk, dv, dout, c->Di, lse, q, k, v, c->act, n_seq, T, H, K, D);
}

static void ct_lm_head(void *vc, const void *h, const int32_t *tok, long n_seq, long T,
                       const void *W, double gs, int backward, void *dh, void *dW, int C, int V) {
  CudaTrainCtx *c = vc;
  long n = n_seq * T;
  size_t ab = act_bytes(c);
  for (long r0 = 0; r0 < n; r0 += c->lm_rows) {
    long rows = n - r0 < c->lm_rows ? n - r0 : c->lm_rows;
    const char *hb = (const char *)h + (size_t)r0 * C * ab;
    cuda_gemm_ex(0, 1, rows, V, C, hb, C, W, C, c->act, 0.0f, c->logits, c->Vp, DTYPE_F32);
    cuda_cross_entropy(c->nll, c->dlogits, c->act, c->logits, c->Vp, tok, T, r0, rows, V,
                       (float)gs, backward);
    if (!backward) continue;
    cuda_gemm_ex(0, 0, rows, C, V, c->dlogits, c->Vp, W, C, c->act, 0.0f, (float *)dh + (size_t)r0 * C,
            C, DTYPE_F32);
    cuda_gemm_ex(1, 0, V, C, rows, c->dlogits, c->Vp, hb, C, c->act, 1.0f, dW, C, DTYPE_F32);
  }
  cuda_sum_add(&c->scalars[0], c->nll, (size_t)n, c->sum_partial);
}

static double ct_take_nll(void *vc) {
  CudaTrainCtx *c = vc;
  double v = 0;
  cuda_download(&v, &c->scalars[0], sizeof v);
  cuda_memset0(&c->scalars[0], sizeof(double));
  return v;
}

// ---- optimizer ----
static double ct_grad_sumsq(void *vc, const void *g, size_t n) {
  CudaTrainCtx *c = vc;
  double v = 0;
  cuda_grad_sumsq(&c->scalars[1], g, n, c->sum_partial);
  cuda_download(&v, &c->scalars[1], sizeof v);
  return v;
}

static void ct_scale(void *vc, void *g, size_t n, double s) {
  (void)vc;
  cuda_scale(g, n, (float)s);
}

static void ct_adamw(void *vc, const TrainAdamW *a, void *p, void *mat, const void *g, void *m,
                     void *v, size_t n) {
  CudaTrainCtx *c = vc;
  cuda_adamw(p, mat, c->act, g, m, v, n, (float)a->decay, (float)a->step_size,
             (float)a->bc2_sqrt, (float)a->eps, (float)a->b2, (float)a->one_b1, (float)a->one_b2);
}

#define CUDA_TRAIN_TABLE(NAME, ACT_SIZE, CTX_NEW, REFRESH)                                       \
  {                                                                                              \
    .name = NAME, .on_device = 1, .batch_passes = 1, .param_size = 4, .mat_size = ACT_SIZE,     \
    .act_size = ACT_SIZE, .stream_size = 4, .alloc = ct_alloc, .free = ct_free,                  \
    .upload = ct_upload, .download = ct_download, .zero = ct_zero, .copy = ct_copy,              \
    .sync = ct_sync, .mem_available = ct_mem_available, .ctx_new = CTX_NEW,                      \
    .ctx_free = ct_ctx_free, .tokens = ct_tokens, .put_reals = ct_put_reals,                     \
    .to_act = ct_to_act, .mat_refresh = REFRESH, .embed_fwd = ct_embed_fwd,                      \
    .embed_bwd = ct_embed_bwd, .rms_fwd = ct_rms_fwd, .rms_bwd = ct_rms_bwd,                     \
    .linear = ct_linear, .linear_dx = ct_linear_dx, .linear_dw = ct_linear_dw,                   \
    .rope = ct_rope, .swiglu_fwd = ct_swiglu_fwd, .swiglu_bwd = ct_swiglu_bwd,                   \
    .attn_fwd = ct_attn_fwd, .attn_bwd = ct_attn_bwd, .lm_head = ct_lm_head,                     \
    .take_nll = ct_take_nll, .grad_sumsq = ct_grad_sumsq, .scale = ct_scale,                     \
    .adamw = ct_adamw,                                                                           \
  }

static void ct_mat_refresh_none(void *vc, void *mat, const void *params, size_t n) {
  (void)vc;
  if (mat != params) cuda_copy(mat, params, n * sizeof(float));
}

static const TrainOps cuda_train_f32 =
    CUDA_TRAIN_TABLE("cuda-fp32", 4, ct_ctx_new_f32, ct_mat_refresh_none);
static const TrainOps cuda_train_bf16 =
    CUDA_TRAIN_TABLE("cuda-bf16", 2, ct_ctx_new_bf16, ct_mat_refresh_bf16);

const TrainOps *train_ops_cuda(int act_bf16) {
  return act_bf16 ? &cuda_train_bf16 : &cuda_train_f32;
}

int train_ops_cuda_ready(BenchErr *err) {
  if (cuda_device_current() < 0)
    return err_set(err, "no cuda device is open (the caller opens one: backend_cuda_open)");
  return 0;
}

#else  // built without CUDA

const TrainOps *train_ops_cuda(int act_bf16) {
  (void)act_bf16;
  return NULL;
}

int train_ops_cuda_ready(BenchErr *err) {
  return err_set(err, "this bench was built without CUDA (nvcc was not found when it was built)");
}

#endif
