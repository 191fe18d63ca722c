// norm.cuh — RMSNorm and LayerNorm over rows, and the trainer's RMSNorm forward and backward.
// CPU twins: cpu_rmsnorm, cpu_layernorm (backend_cpu.c), same formulas and the same float/double
// accumulation switch; rms_fwd, rms_bwd of the cpu-fp32 training table (engine/cpu/train_tmpl.h)
// and of the bf16 emulation (tests/lib/train_emu_ops.h), same formulas, same order of terms.
// Legend: T rows, C channels; n rows of a training pass (n_seq × T), `t` the element type of its
//         act buffers (DTYPE_F32 or DTYPE_BF16; every other buffer fp32, math fp32).
#ifndef BENCH_NORM_CUH
#define BENCH_NORM_CUH

#include "c_headers.cuh"

#ifdef __cplusplus
extern "C" {
#endif
#include "dtype.h"

// y[T, C] = x / sqrt(mean(x²) + eps) · w[C]                          (y may equal x)
void cuda_rmsnorm(float *y, const float *x, const float *w, long T, int C, float eps, int fp64);
// y[T, C] = (x − mean) / sqrt(var + eps) · w[C] + b[C] (biased var; b may be NULL; y may equal x)
void cuda_layernorm(float *y, const float *x, const float *w, const float *b, long T, int C,
                    float eps, int fp64);

// ---- training ----
// rs[n] = 1/√(mean(x²) + eps); y[n, C] (t, may be NULL) = x·rs·w.
void cuda_rms_fwd(void *y, DType t, float *rs, const float *x, const float *w, long n, int C,
                  float eps);
// dx[n, C] += rs·(dy∘w) − x·rs³·Σ(dy∘w∘x)/C; dw[C] += Σ_rows dy∘x·rs, by blocks of
// CUDA_RMS_ROWS rows into partial[⌈n / CUDA_RMS_ROWS⌉, C] (scratch), then summed in block order.
enum { CUDA_RMS_ROWS = 256 };
void cuda_rms_bwd(float *dx, float *dw, const float *dy, const float *x, const float *rs,
                  const float *w, long n, int C, float *partial);

#ifdef __cplusplus
}
#endif

#endif
