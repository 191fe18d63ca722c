// cuda_sim.h — runs the CUDA kernels of engine/cuda/*.cu on the CPU, so that a machine without a GPU
// (CI) executes the kernels' own source, not only their CPU twins. g++ compiles each .cu with
// this header included first (-include), after tests/cuda_sim/rewrite.pl turned every launch
// `k<<<grid, block, smem, stream>>>(args)` into `cuda_sim::bind(k, "k", cuda_sim::Config(grid,
// block, smem, stream))(args)` and every `extern __shared__ T name[];` into a pointer to the
// launch's dynamic shared memory. sim_runtime.cpp stands in for the CUDA runtime and
// sim_cublaslt.cpp for cuBLASLt, so the programs link without libcudart.
//
// Model: a launch runs its blocks one after another; the threads of a block are fibers on the
// calling thread, switched only where CUDA synchronises them: __syncthreads, a warp shuffle,
// ldmatrix, mma. Between two such points the fibers run in a fixed order (CUDA_SIM_ORDER=reverse
// runs them backwards, and the blocks from the last: a missing barrier, or blocks depending on
// each other's order, then change the result), so every run is deterministic. What the simulator checks, and reports by aborting the launch with a message
// naming the kernel (the error is then sticky, as a device fault is on a GPU):
//   - a barrier some threads can never reach (deadlock), a warp operation after lanes exited;
//   - ldmatrix rows and cp.async destinations outside the launch's dynamic shared memory or not
//     16-byte aligned; cp.async sources not 16-byte aligned;
//   - a launch configuration a GPU refuses (threads per block, also over the kernel's
//     __launch_bounds__, grid size, dynamic shared memory over 48 KiB without
//     cudaFuncAttributeMaxDynamicSharedMemorySize, or over 227 KiB).
// Shared memory is filled with 0xff bytes (NaN in every float type) at the start of each block
// (static __shared__ variables from the block after the one that first declared them on), and cp.async copies land only at the cp.async.wait_group that covers them, so reading
// shared memory before it is written or waited for shows. Device memory is host memory
// (AddressSanitizer sees out-of-bounds accesses when the simulator is built with it).
// Not modelled: concurrency between blocks, memory ordering, timing, warp-synchronous code that
// relies on lanes running in lockstep without a synchronising instruction.
#ifndef BENCH_CUDA_SIM_H
#define BENCH_CUDA_SIM_H

#define BENCH_CUDA_SIM 1

// Storage and execution-space keywords, defined before the CUDA headers so that they keep these
// meanings: shared memory is a static variable (blocks run one at a time).
#undef __shared__
#define __shared__ static
#define __launch_bounds__(...)

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include <tuple>
#include <utility>

namespace cuda_sim {

// The simulator's own bookkeeping (fiber switches, warp exchanges) is left out of
// AddressSanitizer's checks, which are for the kernels' accesses; the small accessors below are
// inlined into the kernels (and checked there).
#if defined(__SANITIZE_ADDRESS__)
#define CUDA_SIM_UNCHECKED __attribute__((no_sanitize_address))
#else
#define CUDA_SIM_UNCHECKED
#endif
#define CUDA_SIM_INLINE static inline __attribute__((always_inline))

struct Config {
  dim3 grid, block;
  size_t smem;
  Config(dim3 g, dim3 b, size_t s = 0, cudaStream_t st = 0) : grid(g), block(b), smem(s) {
    (void)st;
  }
};

// The running thread and the running launch, as sim_sched.cpp keeps them current (read inline:
// every threadIdx, blockDim and shuffle goes through them).
struct Thread {
  uint3 tid;
  int lane;
  int bank;                   // the exchange slots' bank this lane uses next (warp exchanges)
  unsigned char *slots[2];    // its warp's slots in each bank: [lane 32][64 bytes]
};
struct Shape {
  uint3 block;
  dim3 block_dim, grid_dim;
  void *smem;
};
extern Thread *g_thread;
extern Shape g_shape;
CUDA_SIM_INLINE const uint3 &thread_idx() { return g_thread->tid; }
CUDA_SIM_INLINE const uint3 &block_idx() { return g_shape.block; }
CUDA_SIM_INLINE const dim3 &block_dim() { return g_shape.block_dim; }
CUDA_SIM_INLINE const dim3 &grid_dim() { return g_shape.grid_dim; }
CUDA_SIM_INLINE void *dynamic_smem() { return g_shape.smem; }

// Runs body() once per thread of every block of the launch (the fiber scheduler).
typedef void (*Body)(void *ctx);
void launch(const void *kernel, const char *name, const Config &c, Body body, void *ctx);

// A static __shared__ variable (rewrite.pl adds the call at its declaration): filled with 0xff
// bytes at the start of every block from the next one on. Returns true.
bool register_shared(void *p, size_t bytes);

// __launch_bounds__(max_threads) of the running kernel (rewrite.pl moves it into the body):
// faults when the block has more threads.
void launch_bounds(int max_threads, int min_blocks = 0);

// Synchronisation points.
void syncthreads();
// Warp exchanges: each lane writes its slot (64 bytes), warp_sync() waits for the whole warp,
// then each lane reads any lane's slot of the same warp. The slots come in two banks: a lane that
// has read calls warp_exchange_end(), which moves it to the other bank, so the next exchange
// needs no second warp_sync (a lane that writes bank b again has passed a warp_sync that every
// lane reached after reading bank b).
CUDA_SIM_INLINE void *lane_slot(int lane) {
  return g_thread->slots[g_thread->bank] + (size_t)(lane & 31) * 64;
}
CUDA_SIM_INLINE void warp_exchange_end() { g_thread->bank ^= 1; }
CUDA_SIM_INLINE int lane_id() { return g_thread->lane; }
// Waits until every lane of the warp has reached a warp_sync; the lanes arriving first hand the
// CPU to the warp's next runnable lane directly, the last one releases the warp and goes on.
void warp_sync(unsigned mask, const char *what);
// Aborts the launch with a message (the running fiber never resumes).
[[noreturn]] void fault(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

// (No memcpy here: an unchecked function must not hand its own stack to AddressSanitizer's
// interceptors, which would read the shadow of frames that ran there before.)
template <typename T> CUDA_SIM_UNCHECKED T shuffle_from(unsigned mask, T v, int src, const char *what) {
  static_assert(sizeof(T) <= 16 && alignof(T) <= 16, "shuffle of a type over 16 bytes");
  *static_cast<T *>(lane_slot(lane_id())) = v;
  warp_sync(mask, what);
  T r = *static_cast<const T *>(lane_slot(src));
  warp_exchange_end();
  return r;
}

template <typename... P> struct Bound {
  void (*fn)(P...);
  const char *name;
  Config c;
  template <typename... A> void operator()(A &&...a) {
    std::tuple<P...> args(std::forward<A>(a)...);
    struct Ctx {
      void (*fn)(P...);
      std::tuple<P...> *args;
    } ctx = {fn, &args};
    launch(reinterpret_cast<const void *>(fn), name, c, [](void *p) {
      Ctx *x = static_cast<Ctx *>(p);
      std::apply(x->fn, *x->args);
    }, &ctx);
  }
};
template <typename... P> Bound<P...> bind(void (*fn)(P...), const char *name, Config c) {
  return Bound<P...>{fn, name, c};
}

}  // namespace cuda_sim

#define threadIdx (cuda_sim::thread_idx())
#define blockIdx (cuda_sim::block_idx())
#define blockDim (cuda_sim::block_dim())
#define gridDim (cuda_sim::grid_dim())

// cudaFuncSetAttribute on a kernel (the runtime's template overload exists for nvcc only).
template <typename... P>
static inline cudaError_t cudaFuncSetAttribute(void (*kernel)(P...), cudaFuncAttribute attr,
                                               int value) {
  return cudaFuncSetAttribute(reinterpret_cast<const void *>(kernel), attr, value);
}

static inline void __syncthreads() { cuda_sim::syncthreads(); }

template <typename T> static inline T __shfl_sync(unsigned mask, T v, int src, int width = 32) {
  int lane = cuda_sim::lane_id();
  return cuda_sim::shuffle_from(mask, v, (lane & ~(width - 1)) | (src & (width - 1)),
                                "__shfl_sync");
}
template <typename T>
static inline T __shfl_xor_sync(unsigned mask, T v, int lane_mask, int width = 32) {
  int lane = cuda_sim::lane_id(), src = lane ^ lane_mask;
  if ((src & ~(width - 1)) != (lane & ~(width - 1))) src = lane;
  return cuda_sim::shuffle_from(mask, v, src, "__shfl_xor_sync");
}

// Rounded arithmetic: plain IEEE operations on the host (built with -ffp-contract=off).
static inline float __fmul_rn(float a, float b) { return a * b; }
static inline float __fadd_rn(float a, float b) { return a + b; }
static inline float __fsub_rn(float a, float b) { return a - b; }

// Runs the threads of a block in reverse order between synchronisation points from now on
// (CUDA_SIM_ORDER=reverse sets it for a whole program).
void cuda_sim_set_reverse(bool reverse);

// The PTX instructions of engine/cuda/ptx.cuh, with their documented meaning (sim_ptx.cpp).
void ptx_mma_bf16(float *c, const uint32_t *a, uint32_t b0, uint32_t b1);
void ptx_mma_f16(float *c, const uint32_t *a, uint32_t b0, uint32_t b1);
void ptx_ldsm_x4(uint32_t *r, const void *p);
void ptx_ldsm_x4_trans(uint32_t *r, const void *p);
void ptx_cp_async16(void *dst, const void *src, bool valid);
void ptx_cp_async_commit();
void cuda_sim_cp_async_wait(int n);
template <int N> static inline void ptx_cp_async_wait() { cuda_sim_cp_async_wait(N); }

#endif
