// backend.h — the table of compute operations a forward pass is built from. The CPU backend
// (backend_cpu.c) fills it with OpenBLAS and OpenMP; a device backend fills the same table with
// kernels. Every pointer argument is memory of the backend's device; shapes are row-major.
// Legend: T tokens (rows), C channels, V vocab, H query heads, K kv heads, D head dim,
//         R rotary dims (even, ≤ D), F intermediate, N output features, Tk keys in the buffer.
//
// Numerics: each op takes `fp64` where it reduces (norms, attention, log-sum-exp). fp64 = 1
// accumulates those reductions in double (a check mode); 0 keeps them in float. Matrix products
// are always float (sgemm).
#ifndef BENCH_BACKEND_H
#define BENCH_BACKEND_H

#include <stddef.h>
#include <stdint.h>

// Tokens per block of the fused LM head: about 64 MiB of logits (2^24 / V rows), 64 to 1024
// rows. Fewer rows would re-read (and repack) the V × C head more often than it is worth.
static inline long lm_block_rows(int V) {
  long r = (1L << 24) / (V > 0 ? V : 1);
  return r < 64 ? 64 : (r > 1024 ? 1024 : r);
}

typedef struct {
  const char *name;  // "cpu"

  // Threads for the following calls (0: all cores). Returns the number in use.
  int (*set_threads)(int threads);

  // Device memory; alloc returns NULL when the memory is not available (caller reports oom).
  void *(*alloc)(size_t bytes);
  void (*free)(void *p);
  // Copies between host memory and device memory (bytes).
  void (*upload)(void *dst_device, const void *src_host, size_t bytes);
  void (*download)(void *dst_host, const void *src_device, size_t bytes);

  // y[T, N] = x[T, Cin] · w[N, Cin]ᵀ + b[N]   (b may be NULL; w as PyTorch nn.Linear stores it)
  void (*matmul)(float *y, const float *x, const float *w, const float *b, long T, int Cin, int N);

  // y[T, C] = x / sqrt(mean(x²) + eps) · w[C]                           (y may equal x)
  void (*rmsnorm)(float *y, const float *x, const float *w, long T, int C, float eps, int fp64);
  // y[T, C] = (x − mean) / sqrt(var + eps) · w[C] + b[C], biased var    (y may equal x)
  void (*layernorm)(float *y, const float *x, const float *w, const float *b, long T, int C,
                    float eps, int fp64);

  // x[T, C] = table[ids[t], :] for table[V, C], ids[T]
  void (*embedding)(float *x, const float *table, const int32_t *ids, long T, int C);

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
  // h[T, C], w[V, C], target[T] (each in [0, V)), nll[T], argmax[T],
  // logits[min(T, block), V] scratch.
  void (*lm_head_nll)(float *nll, int32_t *argmax, const float *h, const float *w,
                      const int32_t *target, long T, int C, int V, int fp64, float *logits,
                      long block);
} Backend;

// The CPU backend (OpenBLAS sgemm + OpenMP).
const Backend *backend_cpu(void);

#endif
