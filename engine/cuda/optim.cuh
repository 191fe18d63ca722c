// optim.cuh — the training step's sums and parameter update over flat buffers: gradient scaling,
// Σ g² (gradient clipping) and Σ x (the pass's NLL) in double, AdamW. C-callable; ops of the
// cuda-fp32 and cuda-bf16 tables (engine/cuda/train_cuda.c). CPU twins: grad_sumsq, scale, adamw
// of the cpu-fp32 training table (engine/cpu/train_tmpl.h) and of the bf16 emulation
// (tests/lib/train_emu_ops.h).
// Legend: n elements; `t` the element type of the weights' copy (DTYPE_F32 or DTYPE_BF16); params,
//         gradients and moments fp32, math fp32 (the sums double).
#ifndef BENCH_OPTIM_CUH
#define BENCH_OPTIM_CUH

#include "c_headers.cuh"

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif
#include "dtype.h"

// g[n] *= s
void cuda_scale(float *g, size_t n, float s);
// Σ g² over g[n] in double: per-block partial sums (scratch partial[CUDA_SUM_BLOCKS]) then one
// block; the result lands in *out (device memory).
enum { CUDA_SUM_BLOCKS = 1024 };
void cuda_grad_sumsq(double *out, const float *g, size_t n, double *partial);
// *out += Σ x[n] in double, same scheme.
void cuda_sum_add(double *out, const float *x, size_t n, double *partial);
// AdamW on p[n] (fp32) with g, m, v; mat (t, NULL: none) gets the new weights rounded.
void cuda_adamw(float *p, void *mat, DType t, const float *g, float *m, float *v, size_t n,
                float decay, float step_size, float bc2_sqrt, float eps, float b2, float one_b1,
                float one_b2);

#ifdef __cplusplus
}
#endif

#endif
