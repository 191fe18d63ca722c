// backend.h — the table of compute operations a forward pass is built from. The CPU backend
// (backend_cpu.c) fills it with OpenBLAS and OpenMP; the CUDA backend (backend_cuda.c) fills the
// same table with kernels (engine/cuda/*.cu). Every pointer argument is memory of the backend's
// device; shapes are row-major.
// Legend: T tokens (rows), C channels, V vocab, H query heads, K kv heads, G = H/K, D head dim,
//         R rotary dims (even, ≤ D), F intermediate, N output features, Tk keys in the buffer,
//         S sequences, n slots held, Q rows of a KV cache named by a list.
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

  // ---- the decode protocol's KV cache (kvcache.h) ----
  // A cache is one buffer of rows per tensor: kc[rows, D], vc[rows, D] keys and values, pos[rows]
  // the token index each row holds (int32), score[rows] a policy's per-slot score (NULL when the
  // policy keeps none). The slots of one (sequence, kv head) are consecutive rows in reading order:
  // slot j at row row0 + j, row0 given per (sequence, kv head) in row0[S, K] (int64).

  // Writes T tokens: token i is slot slot0 + (i mod per_seq) of sequence i / per_seq; for each kv
  // head g, at row r = row0[(i / per_seq)·K + g] + slot0 + i mod per_seq:
  //   kc[r] = k[i, g, :], vc[r] = v[i, g, :], pos[r] = t0 + i mod per_seq, score[r] = 0.
  // k, v [T, K, D]; score may be NULL.
  void (*kv_append)(float *kc, float *vc, float *score, int32_t *pos, const float *k,
                    const float *v, const int64_t *row0, long T, long per_seq, long slot0, long t0,
                    int K, int D);
  // Moves rows inside the cache: run u = runs[3u .. 3u + 2] (src, dst, count) moves rows
  // [src, src + count) to [dst, dst + count) as memmove does (overlap allowed) in kc, vc (D floats
  // a row), pos and score (when non-NULL). The runs of group e, [groups[e], groups[e + 1]), apply
  // one after another; different groups touch disjoint rows. runs[groups[n_groups], 3] int64,
  // groups[n_groups + 1] int64.
  void (*kv_move)(float *kc, float *vc, float *score, int32_t *pos, const int64_t *runs,
                  const int64_t *groups, long n_groups, int D);
  // idx[q] = the slot j < m whose score[row0[q] + j] is smallest; of equal scores the largest j.
  // row0[Q] int64, idx[Q] int32; m ≥ 1.
  void (*kv_argmin)(int32_t *idx, const float *score, const int64_t *row0, long Q, long m);
  // score_out[q, j] = score[row0[q] + j], pos_out[q, j] = pos[row0[q] + j] for j < n.
  // score_out[Q, n] (NULL: positions only), pos_out[Q, n] int32, row0[Q] int64.
  void (*kv_gather)(float *score_out, int32_t *pos_out, const float *score, const int32_t *pos,
                    const int64_t *row0, long Q, long n);
  // One query row per sequence against its own cache slots 0..n−1:
  //   out[s, h, :] = Σ_{j ∈ [lo, n)} softmax_j(q[s,h,:] · key_j · scale) vc[row0[s,g] + j, :],
  // g = h / G; key_j = kc[row0[s,g] + j], rotated at row j of cos_t/sin_t [n, R/2] as rope_apply
  // rotates when cos_t is non-NULL (keys stored unrotated: cache positions); lo = the first slot
  // whose pos ≥ pos_lo (a sliding window; slots hold ascending token indices; pos may be NULL
  // when pos_lo ≤ 0). When score is non-NULL the softmax weights w_h[j] (0 outside [lo, n)) fold
  // into each kv head's slots, its G query heads in order:
  //   score[row0[s,g] + j] = (accumulate ? score : 0) + w_{gG}[j] + w_{gG+1}[j] + ...   (float)
  // out[S, H, D], q[S, H, D], row0[S, K].
  void (*decode_attention)(float *out, float *score, const float *q, const float *kc,
                           const float *vc, const int32_t *pos, const int64_t *row0, long S,
                           long n, long pos_lo, int H, int K, int D, float scale,
                           const float *cos_t, const float *sin_t, int R, int accumulate,
                           int fp64);
  // The softmax weights of a block's last `obs` queries, summed per key, folded into the cache's
  // score: for kv head g and key j < T,
  //   a_h[j] = Σ_{i ∈ [T − obs, T)} softmax_j(q[i,h,:] · k[j,g,:] · scale) over the keys i sees
  //   (j ≤ i and, when window > 0, j > i − window; 0 for the others), summed in ascending i;
  //   score[row0[g] + j] = (accumulate ? score : 0) + a_{gG}[j] + a_{gG+1}[j] + ...   (float)
  // q[T, H, D], k[T, K, D] (the block's keys: key j is slot j), row0[K]; 1 ≤ obs ≤ T.
  void (*attention_weight_sums)(float *score, const float *q, const float *k,
                                const int64_t *row0, long T, long obs, int H, int K, int D,
                                float scale, long window, int accumulate, int fp64);
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
