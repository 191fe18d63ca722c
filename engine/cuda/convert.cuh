// convert.cuh — fp32 ↔ bf16/fp16 conversion on the device. CPU twins: st_f32_to_bf16,
// st_f32_to_f16, st_bf16_to_f32, st_f16_to_f32 (safetensors.h); round to nearest even.
// Legend: n elements.
#ifndef BENCH_CONVERT_CUH
#define BENCH_CONVERT_CUH

#include "c_headers.cuh"

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif
#include "dtype.h"

// dst[n] (dtype) = src[n] (fp32). With DTYPE_F32 a copy.
void cuda_convert_from_f32(void *dst, DType dtype, const float *src, size_t n);
// dst[n] (fp32) = src[n] (dtype).
void cuda_convert_to_f32(float *dst, const void *src, DType dtype, size_t n);

#ifdef __cplusplus
}
#endif

#endif
