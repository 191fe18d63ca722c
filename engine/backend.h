// backend.h — the table of compute operations a forward pass is built from. The CPU backend
// (backend_cpu.c) fills it with OpenBLAS and OpenMP; the CUDA backend (backend_cuda.c) fills the
// same table with kernels (kernels/*.cu). Every pointer argument is memory of the backend's
// device; shapes are row-major.
// Legend: T tokens (rows), C channels, V vocab, H query heads, K kv heads, D head dim,
//         R rotary dims (even, ≤ D), F intermediate, N output features, Tk keys in the buffer.
//
// Weights: a backend reads the model's weights from its own copy (weights_upload). Weight
// matrices — matmul's and lm_head_nll's `w`, embedding's `table`, and in a backend's copy of
// ModelWeights the fields embed, wq, wk, wv, wo, w_gate, w_up, w_down, lm_head — hold elements
// of the backend's weight_dtype (fp32, bf16 or fp16 bits); norm weights and biases are fp32.
// Activations are fp32 everywhere.
//
// Numerics: each op takes `fp64` where it reduces (norms, attention, log-sum-exp). fp64 = 1
// accumulates those reductions in double (a check mode); 0 keeps them in float. Matrix products
// accumulate in float: sgemm on the CPU; on CUDA cuBLASLt with fp32 accumulation, its inputs in
// the weight dtype (fp32 activations are rounded to bf16/fp16 for the product). CUDA attention
// with bf16/fp16 weights runs on tensor cores the same way: q, k, v and the softmax weights
// rounded to the dtype, scores, softmax and sums in fp32 (flash_twin.h states it exactly; the
// fp32 tables and the fp64 check mode keep the exact kernel).
//
// Errors: ops return nothing; a device backend records its first failure and reports it at the
// next sync, which the forward calls at the end of each block and after each download.
#ifndef BENCH_BACKEND_H
#define BENCH_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "model.h"
#include "util.h"

// Tokens per block of the fused LM head: about 64 MiB of logits (2^24 / V rows), 64 to 1024
// rows. Fewer rows would re-read (and repack) the V × C head more often than it is worth.
static inline long lm_block_rows(int V) {
  long r = (1L << 24) / (V > 0 ? V : 1);
  return r < 64 ? 64 : (r > 1024 ? 1024 : r);
}

typedef struct {
  const char *name;    // "cpu", "cuda"
  DType weight_dtype;  // element type of weight matrices in the backend's copy (see above)

  // Threads for the following calls (0: all cores). Returns the number in use.
  int (*set_threads)(int threads);

  // Device memory; alloc returns NULL when the memory is not available (caller reports oom).
  void *(*alloc)(size_t bytes);
  void (*free)(void *p);
  // Copies between host memory and device memory (bytes).
  void (*upload)(void *dst_device, const void *src_host, size_t bytes);
  void (*download)(void *dst_host, const void *src_device, size_t bytes);
  // 0, or -1 with err holding the first failure since the last call (then cleared). A device
  // backend waits for its queued work first. Out of memory reads "out of memory: ...".
  int (*sync)(BenchErr *err);

  // The model's weights as this backend reads them, made once per model: dst gets its own
  // layers array and pointers into backend memory (the CPU backend points at m's fp32 weights).
  // -1 with err ("out of memory: ..." when they do not fit).
  int (*weights_upload)(ModelWeights *dst, const Model *m, BenchErr *err);
  void (*weights_free)(ModelWeights *w);

  // y[T, N] = x[T, Cin] · w[N, Cin]ᵀ + b[N]   (b may be NULL; w as PyTorch nn.Linear stores it,
  // in weight_dtype)
  void (*matmul)(float *y, const float *x, const void *w, const float *b, long T, int Cin, int N);

  // y[T, C] = x / sqrt(mean(x²) + eps) · w[C]                           (y may equal x)
  void (*rmsnorm)(float *y, const float *x, const float *w, long T, int C, float eps, int fp64);
  // y[T, C] = (x − mean) / sqrt(var + eps) · w[C] + b[C], biased var    (y may equal x)
  void (*layernorm)(float *y, const float *x, const float *w, const float *b, long T, int C,
                    float eps, int fp64);

  // x[T, C] = table[ids[t], :] for table[V, C] (weight_dtype), ids[T]
  void (*embedding)(float *x, const void *table, const int32_t *ids, long T, int C);

  // cos[T, R/2], sin[T, R/2] = cos / sin(pos[t] · inv_freq[i]) · scale, computed in double.
  // pos[T] (possibly fractional positions), inv_freq[R/2].
  void (*rope_table)(float *cos_t, float *sin_t, const double *pos, const double *inv_freq, long T,
                     int half, double scale);
  // In place on x[T, NH, D]: for each head, dims (i, i + R/2), i < R/2, rotate by the angle of
  // row t: (a, b) → (a·cos − b·sin, b·cos + a·sin) (HF rotate_half layout); dims R..D−1 unchanged.
  // cos_t, sin_t [T, R/2] from rope_table.
  void (*rope_apply)(float *x, const float *cos_t, const float *sin_t, long T, int NH, int D,
                     int R);

  // Causal attention with grouped kv heads (query head h reads kv head h / (H/K)), by blocks of
  // queries with an online softmax (no Tq × Tk matrix held):
  //   out[i, h, :] = Σ_j softmax_j(q[i,h,:] · k[j,g,:] · scale) v[j,g,:]
  // over keys j ≤ q0 + i (query i sits at key index q0 + i) and, when window > 0, j > q0 + i − window.
  // out[Tq, H, D], q[Tq, H, D], k[Tk, K, D], v[Tk, K, D]; requires q0 + Tq ≤ Tk.
  void (*attention)(float *out, const float *q, const float *k, const float *v, long Tq, long Tk,
                    long q0, int H, int K, int D, float scale, long window, int fp64);

  // a[T, F] = silu(a) · b  (SwiGLU: a the gate projection, b the up projection)
  void (*silu_mul)(float *a, const float *b, long T, int F);
  // a[T, F] = gelu(a), exact: a · ½(1 + erf(a / √2))
  void (*gelu)(float *a, long T, int F);
  // y[n] += x[n]
  void (*add)(float *y, const float *x, long n);

  // Fused LM head + log-softmax + NLL + argmax, by blocks of `block` tokens (no T × V logits):
  //   logits_t = h[t, :] · w[V, C]ᵀ;  nll[t] = logsumexp(logits_t) − logits_t[target[t]];
  //   argmax[t] = first index of max(logits_t).
  // h[T, C], w[V, C] (weight_dtype), target[T] (each in [0, V)), nll[T], argmax[T],
  // logits[min(T, block), V] scratch (a backend may use it as [rows, vocabulary chunk] blocks of
  // the same total size).
  void (*lm_head_nll)(float *nll, int32_t *argmax, const float *h, const void *w,
                      const int32_t *target, long T, int C, int V, int fp64, float *logits,
                      long block);
} Backend;

// The CPU backend (OpenBLAS sgemm + OpenMP); weights fp32.
const Backend *backend_cpu(void);

// The CUDA backend holding weights in dtype, on the device that backend_cuda_open selected; NULL
// when built without CUDA. backend_cuda.c; compiled in when nvcc was found.
const Backend *backend_cuda(DType dtype);
// Selects GPU `device` for this process (one device per process): creates the cuBLASLt handle
// and workspace. -1 with err when built without CUDA, when the device does not exist, or when
// the driver refuses.
int backend_cuda_open(int device, BenchErr *err);
// Releases what backend_cuda_open made (device memory the caller still holds stays valid until
// freed); safe to call when nothing is open.
void backend_cuda_close(void);

#endif
