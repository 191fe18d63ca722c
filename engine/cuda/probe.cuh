// probe.cuh — device measurements for benchmarks (benchmarks/bench_gpu.c): random fills, event
// timing of enqueued work, device-to-device copies. Errors are recorded like every other CUDA
// call (cuda_check.cuh) and reported at the next cuda_sync.
// Legend: n elements.
#ifndef BENCH_PROBE_CUH
#define BENCH_PROBE_CUH

#include "c_headers.cuh"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif
#include "dtype.h"

// p[n] (dtype) = uniform values in [−a, a], a = std·√3, from a hash of (seed, index): non-zero,
// different for every element, reproducible.
void cuda_fill_random(void *p, DType dtype, size_t n, uint64_t seed, float std);
// Median milliseconds of `reps` runs of fn(arg), each enqueueing device work between two events,
// after `warmup` untimed runs; -1 when a CUDA call failed (recorded).
double cuda_time_ms(void (*fn)(void *arg), void *arg, int warmup, int reps);
// dst[bytes] = src[bytes], both device memory, enqueued.
void cuda_copy_d2d(void *dst, const void *src, size_t bytes);

#ifdef __cplusplus
}
#endif

#endif
