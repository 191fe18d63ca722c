// activation.cuh — the MLPs' activations and the residual add. CPU twins: cpu_silu_mul, cpu_gelu,
// cpu_add (backend_cpu.c). Legend: T rows, F intermediate, n elements.
#ifndef BENCH_ACTIVATION_CUH
#define BENCH_ACTIVATION_CUH

#include "c_headers.cuh"

#ifdef __cplusplus
extern "C" {
#endif

// a[T, F] = silu(a) · b = a / (1 + e^−a) · b   (SwiGLU: a the gate projection, b the up one)
void cuda_silu_mul(float *a, const float *b, long T, int F);
// a[T, F] = a · ½(1 + erf(a / √2))            (exact gelu, GPT-NeoX)
void cuda_gelu(float *a, long T, int F);
// y[n] += x[n]                                 (residual; parallel residual adds two sublayers)
void cuda_add(float *y, const float *x, long n);

#ifdef __cplusplus
}
#endif

#endif
