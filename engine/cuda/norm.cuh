// norm.cuh — RMSNorm and LayerNorm over rows. CPU twins: cpu_rmsnorm, cpu_layernorm
// (backend_cpu.c), same formulas and the same float/double accumulation switch.
// Legend: T rows, C channels.
#ifndef BENCH_NORM_CUH
#define BENCH_NORM_CUH

#include "c_headers.cuh"

#ifdef __cplusplus
extern "C" {
#endif

// y[T, C] = x / sqrt(mean(x²) + eps) · w[C]                          (y may equal x)
void cuda_rmsnorm(float *y, const float *x, const float *w, long T, int C, float eps, int fp64);
// y[T, C] = (x − mean) / sqrt(var + eps) · w[C] + b[C] (biased var; b may be NULL; y may equal x)
void cuda_layernorm(float *y, const float *x, const float *w, const float *b, long T, int C,
                    float eps, int fp64);

#ifdef __cplusplus
}
#endif

#endif
