// kv_cache.cu — KV-cache bookkeeping kernels of the decode protocol. See kv_cache.cuh.
//   append: one thread per (token, kv head, dim), grid-stride.
//   move:   one block per group of runs; a run goes by chunks of rows no longer than its shift
//           (so a chunk's sources and destinations never overlap), in the direction memmove
//           copies, a barrier between chunks: each row is read before anything is written over it.
//   argmin: one warp per row: each lane scans its strided slots, then a butterfly of (score,
//           slot) pairs ordered by score, then by slot (larger first).
//   gather: one thread per (row, slot), grid-stride.
#include "cuda_common.cuh"
#include "kv_cache.cuh"

__global__ void kv_append_forward_kernel(float *kc, float *vc, float *score, int32_t *pos,
                                         const float *k, const float *v, const int64_t *row0,
                                         size_t n, long per_seq, long slot0, long t0, int K,
                                         int D) {
  size_t stride = (size_t)gridDim.x * blockDim.x;
  for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
    int d = (int)(i % D);
    size_t tg = i / D;
    int g = (int)(tg % K);
    long t = (long)(tg / K), j = t % per_seq;
    size_t r = (size_t)(row0[(t / per_seq) * K + g] + slot0 + j);
    kc[r * D + d] = k[i];
    vc[r * D + d] = v[i];
    if (d == 0) {
      pos[r] = (int32_t)(t0 + j);
      if (score) score[r] = 0.0f;
    }
  }
}

__global__ void kv_move_forward_kernel(float *kc, float *vc, float *score, int32_t *pos,
                                       const int64_t *runs, const int64_t *groups, long n_groups,
                                       int D) {
  for (long e = blockIdx.x; e < n_groups; e += gridDim.x) {
    for (int64_t u = groups[e]; u < groups[e + 1]; u++) {
      const int64_t src = runs[3 * u], dst = runs[3 * u + 1], count = runs[3 * u + 2];
      if (count <= 0 || src == dst) continue;  // the same for every thread of the block
      const int64_t shift = dst > src ? dst - src : src - dst;
      const int64_t chunk = shift < count ? shift : count;
      for (int64_t done = 0; done < count; done += chunk) {
        const int64_t nc = count - done < chunk ? count - done : chunk;
        const int64_t first = dst < src ? done : count - done - nc;  // rows of the run moved now
        const size_t ne = (size_t)nc * D;
        const size_t s0 = (size_t)(src + first) * D, d0 = (size_t)(dst + first) * D;
        for (size_t i = threadIdx.x; i < ne; i += blockDim.x) {
          kc[d0 + i] = kc[s0 + i];
          vc[d0 + i] = vc[s0 + i];
        }
        for (int64_t i = threadIdx.x; i < nc; i += blockDim.x) {
          pos[dst + first + i] = pos[src + first + i];
          if (score) score[dst + first + i] = score[src + first + i];
        }
        __syncthreads();
      }
    }
  }
}

__global__ void kv_argmin_forward_kernel(int32_t *idx, const float *score, const int64_t *row0,
                                         long Q, long m) {
  const long q = (long)(((size_t)blockIdx.x * blockDim.x + threadIdx.x) / 32);
  const int lane = threadIdx.x % 32;
  if (q >= Q) return;  // whole warps
  const float *s = score + row0[q];
  float best = INFINITY;
  long bj = -1;
  for (long j = lane; j < m; j += 32)
    if (bj < 0 || s[j] <= best) {
      best = s[j];
      bj = j;
    }
  for (int o = 16; o > 0; o >>= 1) {
    float ob = __shfl_xor_sync(FULL_MASK, best, o);
    long oj = __shfl_xor_sync(FULL_MASK, bj, o);
    if (oj >= 0 && (bj < 0 || ob < best || (ob == best && oj > bj))) {
      best = ob;
      bj = oj;
    }
  }
  if (lane == 0) idx[q] = (int32_t)bj;
}

__global__ void kv_gather_forward_kernel(float *score_out, int32_t *pos_out, const float *score,
                                         const int32_t *pos, const int64_t *row0, size_t total,
                                         long n) {
  size_t stride = (size_t)gridDim.x * blockDim.x;
  for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += stride) {
    size_t r = (size_t)row0[i / n] + i % n;
    pos_out[i] = pos[r];
    if (score_out) score_out[i] = score[r];
  }
}

extern "C" void cuda_kv_append(float *kc, float *vc, float *score, int32_t *pos, const float *k,
                               const float *v, const int64_t *row0, long T, long per_seq,
                               long slot0, long t0, int K, int D) {
  size_t n = (size_t)T * K * D;
  if (n == 0) return;
  if (per_seq < 1) {
    cuda_fail("kv_append: per_seq %ld < 1", per_seq);
    return;
  }
  kv_append_forward_kernel<<<cuda_blocks(n, 256), 256>>>(kc, vc, score, pos, k, v, row0, n,
                                                          per_seq, slot0, t0, K, D);
  cudaCheck(cudaGetLastError());
}

extern "C" void cuda_kv_move(float *kc, float *vc, float *score, int32_t *pos,
                             const int64_t *runs, const int64_t *groups, long n_groups, int D) {
  if (n_groups <= 0) return;
  unsigned blocks = (unsigned)(n_groups < 65536L * 16 ? n_groups : 65536L * 16);
  kv_move_forward_kernel<<<blocks, 128>>>(kc, vc, score, pos, runs, groups, n_groups, D);
  cudaCheck(cudaGetLastError());
}

extern "C" void cuda_kv_argmin(int32_t *idx, const float *score, const int64_t *row0, long Q,
                               long m) {
  if (Q <= 0) return;
  if (m < 1) {
    cuda_fail("kv_argmin: empty slot range (m %ld)", m);
    return;
  }
  kv_argmin_forward_kernel<<<cuda_blocks((size_t)Q * 32, 128, 1u << 30), 128>>>(idx, score, row0,
                                                                               Q, m);
  cudaCheck(cudaGetLastError());
}

extern "C" void cuda_kv_gather(float *score_out, int32_t *pos_out, const float *score,
                               const int32_t *pos, const int64_t *row0, long Q, long n) {
  size_t total = (size_t)Q * n;
  if (total == 0) return;
  kv_gather_forward_kernel<<<cuda_blocks(total, 256), 256>>>(score_out, pos_out, score, pos, row0,
                                                             total, n);
  cudaCheck(cudaGetLastError());
}
