// activation.cuh — the MLPs' activations and the residual add; the trainer's SwiGLU forward and
// backward. CPU twins: cpu_silu_mul, cpu_gelu, cpu_add (backend_cpu.c); swiglu_fwd, swiglu_bwd of
// the cpu-fp32 training table (engine/cpu/train_tmpl.h) and of the bf16 emulation
// (tests/lib/train_emu_ops.h). Legend: T rows, F intermediate, n elements; `t` the element type
// of a training pass's act buffers (DTYPE_F32 or DTYPE_BF16), math fp32.
#ifndef BENCH_ACTIVATION_CUH
#define BENCH_ACTIVATION_CUH

#include "c_headers.cuh"

#ifdef __cplusplus
extern "C" {
#endif
#include "dtype.h"

// a[T, F] = silu(a) · b = a / (1 + e^−a) · b   (SwiGLU: a the gate projection, b the up one)
void cuda_silu_mul(float *a, const float *b, long T, int F);
// a[T, F] = a · ½(1 + erf(a / √2))            (exact gelu, GPT-NeoX)
void cuda_gelu(float *a, long T, int F);
// y[n] += x[n]                                 (residual; parallel residual adds two sublayers)
void cuda_add(float *y, const float *x, long n);

// ---- training ----
// a[n] = silu(g)·u                             (g, u, a in t)
void cuda_swiglu_fwd(void *a, const void *g, const void *u, DType t, long n);
// da → dg in place, du[n]: du = da·g·σ(g), dg = da·u·σ(g)·(1 + g·(1 − σ(g)))
void cuda_swiglu_bwd(void *da, void *du, const void *g, const void *u, DType t, long n);

#ifdef __cplusplus
}
#endif

#endif
