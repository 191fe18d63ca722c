// train_ops.h — the table of compute operations a training step is built from, in the manner of
// backend.h for the forward. train_step.c holds the one orchestration (forward with saved
// activations, backward, gradient norm, clipping, AdamW) and calls only these ops; each table
// fills them for one device and precision:
//   cpu-fp32   train_tmpl.h as float, sgemm: the reference trainer
//   cpu-fp64   train_tmpl.h as double, dgemm: gradient checks
//   cuda-fp32  train_cuda.c + the launchers of engine/cuda's op families (norm.cuh, rope.cuh, ...),
//              every product and buffer fp32 (a check mode)
//   cuda-bf16  the same kernels, products on bf16 operands with fp32 accumulation
// Every pointer argument is memory of the table's device; shapes are row-major.
// Legend: n rows (n_seq sequences × T tokens, sequence-major), T tokens per sequence, C hidden,
//         H query heads, K kv heads, D head dim, F intermediate, V vocab, Cin/N a product's
//         input / output features.
//
// Why one orchestration over a table rather than a separate GPU trainer: the CPU trainer already
// sequenced its passes as calls on whole row blocks (products, norms, attention strips, the LM
// head by blocks), so routing those calls through a table changed no arithmetic (the CPU results
// stay bit for bit what they were), and every line that decides which buffer goes where, in
// which order, is run by `make test` on the CPU; on a GPU only the kernel bodies are new.
//
// Element types. Five kinds of memory, each with its own element size in the table:
//   param   master weights, gradients, AdamW moments (float; double in cpu-fp64)
//   mat     the weights as products read them (a bf16 copy in cuda-bf16, refreshed by adamw;
//           the params themselves elsewhere)
//   act     activations that feed products: norm outputs, q/k/v, the attention output, gate,
//           up, the SwiGLU product, and the gradients fed to products (bf16 in cuda-bf16)
//   stream  the residual stream and its gradient, RMS factors, log-sum-exps, RoPE tables, the
//           gradient of a norm's output (float in every table but cpu-fp64)
//   tokens  int32, as `tokens` returned them
// Norm weights and the embedding rows are read from the params (master) arena.
//
// Numerics of the CUDA tables: reductions (norms, softmax, attention, cross-entropy, the
// gradient norm) in fp32 (the gradient norm in double); gradients of weights accumulate in fp32
// (the param arena) across products and passes; AdamW in fp32. Results are deterministic for a
// given shape: no atomics (the embedding backward goes by token groups sorted on the host).
//
// Errors: ops return nothing; a device table records its first failure (out of memory included)
// and reports it at sync, which train_step.c calls at the end of each pass and step.
#ifndef BENCH_TRAIN_OPS_H
#define BENCH_TRAIN_OPS_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

// The shapes a table's scratch is made for.
typedef struct {
  long T;          // tokens per sequence
  long n_seq;      // most sequences in one pass
  int C, H, K, D, F, V;
  int threads;     // CPU tables: OpenMP threads
  int attention;   // CUDA tables: TRAIN_ATTN_*
} TrainDims;

// Attention kernels of the CUDA tables: auto takes the tensor-core (flash) kernels when they
// apply (bf16, D 64 or 128) and the simple ones otherwise; the other two force one.
enum { TRAIN_ATTN_AUTO, TRAIN_ATTN_SIMPLE, TRAIN_ATTN_FLASH };

// AdamW scalars of one step (train_step.c computes them in double; tables round them to their
// element type): p ← p·decay; m ← m + one_b1·(g − m); v ← v·b2 + one_b2·g²;
// p ← p − step_size · m / (√v / bc2_sqrt + eps).
typedef struct {
  double decay, step_size, bc2_sqrt, eps, b2, one_b1, one_b2;
} TrainAdamW;

typedef struct TrainOps {
  const char *name;
  int on_device;       // arenas live in device memory; the Trainer's host arenas are mirrors
  int batch_passes;    // a pass takes as many sequences as fit (else exactly one, as the CPU
                       // reference does: its sums then never depend on the batch size)
  size_t param_size, mat_size, act_size, stream_size;

  // ---- memory of the device ----
  void *(*alloc)(size_t bytes);     // NULL when not available
  void (*free)(void *p);
  void (*upload)(void *dst, const void *src_host, size_t bytes);
  void (*download)(void *dst_host, const void *src, size_t bytes);
  void (*zero)(void *p, size_t bytes);
  void (*copy)(void *dst, const void *src, size_t bytes);   // within the device
  // Waits for queued work; 0, or -1 with the first failure since the last sync.
  int (*sync)(BenchErr *err);
  // Bytes that can still be allocated (SIZE_MAX when the table does not know).
  size_t (*mem_available)(void);

  // ---- scratch of one trainer ----
  void *(*ctx_new)(const TrainDims *d, BenchErr *err);
  void (*ctx_free)(void *ctx);
  // The tokens of a pass, seqs[n_seq][T + 1] in host memory, as the ops read them (valid until
  // the next call); with backward, also what embed_bwd needs.
  const int32_t *(*tokens)(void *ctx, const int32_t *seqs, long n_seq, int backward);
  // dst[n] (stream) = src[n] (host doubles)
  void (*put_reals)(void *ctx, void *dst, const double *src, size_t n);
  // The act-typed view of a stream buffer src[n]: src itself when the types agree, else dst
  // (act, n elements) filled with src rounded.
  const void *(*to_act)(void *ctx, void *dst, const void *src, size_t n);
  // mat[n] = params[n] rounded (only called when mat is a separate copy; ctx may be NULL).
  void (*mat_refresh)(void *ctx, void *mat, const void *params, size_t n);

  // ---- forward and backward ----
  // x[n, C] (stream) = E[tok, :] (param) for the n_seq · T positions: row s·T + i reads token
  // tok[s·(T + 1) + i].
  void (*embed_fwd)(void *ctx, void *x, const void *E, const int32_t *tok, long n_seq, long T,
                    int C);
  // dE[tok, :] += dx[row, :] (param += stream), same rows as embed_fwd.
  void (*embed_bwd)(void *ctx, void *dE, const void *dx, const int32_t *tok, long n_seq, long T,
                    int C);
  // rs[n] = 1/√(mean(x²) + eps); y[n, C] (act, may be NULL) = x·rs·w. x stream, w param.
  void (*rms_fwd)(void *ctx, void *y, void *rs, const void *x, const void *w, long n, int C,
                  double eps);
  // dx[n, C] += rs·(dy∘w) − x·rs³·Σ(dy∘w∘x)/C;  dw[C] += Σ_rows dy∘x·rs.
  // dx, dy, x, rs stream; w param; dw param (a gradient).
  void (*rms_bwd)(void *ctx, void *dx, void *dw, const void *dy, const void *x, const void *rs,
                  const void *w, long n, int C);
  // y[n, N] (= or += with acc) x[n, Cin] · w[N, Cin]ᵀ. x act, w mat; y stream when y_stream,
  // else act (acc only with stream).
  void (*linear)(void *ctx, void *y, int y_stream, const void *x, const void *w, long n, int Cin,
                 int N, int acc);
  // dx[n, Cin] (= or += with acc) dy[n, N] · w[N, Cin]. dy act, w mat; dx stream or act as above.
  void (*linear_dx)(void *ctx, void *dx, int dx_stream, const void *dy, const void *w, long n,
                    int Cin, int N, int acc);
  // dw[N, Cin] += dy[n, N]ᵀ · x[n, Cin]. dy, x act; dw param.
  void (*linear_dw)(void *ctx, void *dw, const void *dy, const void *x, long n, int Cin, int N);
  // In place on x[n, NH, D] (act): pairs (i, i + D/2) of row r rotated by the angle of position
  // r mod T: (a, b) → (a·c − b·s, b·c + a·s); inverse: (a·c + b·s, b·c − a·s).
  // cs, sn [T, D/2] stream.
  void (*rope)(void *ctx, void *x, const void *cs, const void *sn, long n, long T, int NH, int D,
               int inverse);
  // a[n] = silu(g)·u  (act)
  void (*swiglu_fwd)(void *ctx, void *a, const void *g, const void *u, long n);
  // da[n] → dg (in place), du[n]: du = da·g·σ, dg = da·u·σ·(1 + g·(1 − σ)), σ = sigmoid(g). act.
  void (*swiglu_bwd)(void *ctx, void *da, void *du, const void *g, const void *u, long n);
  // Causal attention within each sequence, scale 1/√D, query head h reads kv head h/(H/K):
  // out[n, H, D] (act), lse[n, H] (stream) from q[n, H, D], k, v[n, K, D] (act).
  void (*attn_fwd)(void *ctx, void *out, void *lse, const void *q, const void *k, const void *v,
                   long n_seq, long T, int H, int K, int D);
  // The gradients dq[n, H, D], dk, dv[n, K, D] (act, overwritten) from dout[n, H, D] (act) and
  // the forward's out, lse, q, k, v (probabilities recomputed from lse).
  void (*attn_bwd)(void *ctx, void *dq, void *dk, void *dv, const void *dout, const void *out,
                   const void *lse, const void *q, const void *k, const void *v, long n_seq,
                   long T, int H, int K, int D);
  // LM head and cross-entropy, by blocks of rows (no n × V logits): logits = h · W[V, C]ᵀ,
  // nll of row s·T + i against target tok[s·(T + 1) + i + 1]; the sum of this call's NLLs is
  // added to the total that take_nll returns. With backward: dh[n, C] (stream, overwritten) =
  // gradient of Σ nll × gs, dW[V, C] (param) += its weight gradient. h act, W mat.
  void (*lm_head)(void *ctx, const void *h, const int32_t *tok, long n_seq, long T, const void *W,
                  double gs, int backward, void *dh, void *dW, int C, int V);
  // The NLL total since the last call (waits for the device), then 0.
  double (*take_nll)(void *ctx);

  // ---- optimizer (param arenas) ----
  double (*grad_sumsq)(void *ctx, const void *g, size_t n);   // Σ g² in double
  void (*scale)(void *ctx, void *g, size_t n, double s);      // g *= s
  // AdamW on one tensor of n elements; mat (NULL when the table has no separate copy) gets the
  // updated weights rounded.
  void (*adamw)(void *ctx, const TrainAdamW *a, void *p, void *mat, const void *g, void *m,
                void *v, size_t n);
} TrainOps;

// The CPU tables (train_f32.c, train_f64.c).
const TrainOps *train_ops_cpu_f32(void);
const TrainOps *train_ops_cpu_f64(void);
// The CUDA tables (train_cuda.c): act_bf16 picks cuda-bf16, else cuda-fp32. NULL when built
// without CUDA. The device must be open (backend_cuda_open): train_ops_cuda_ready says so,
// or -1 with err (also when built without CUDA).
const TrainOps *train_ops_cuda(int act_bf16);
int train_ops_cuda_ready(BenchErr *err);

#endif
