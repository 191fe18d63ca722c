// cpu_vec.h — 8- and 16-lane float vectors (GCC/Clang vector extensions) for the CPU backend's hot
// loops, and an exp that vectorizes. Functions marked CPU_HOT get an AVX2+FMA clone chosen at load
// time on x86-64 CPUs that have it (products and sums fused into FMAs there); elsewhere the same
// code runs as SSE2 pairs. CPU_AVX512 marks a function compiled for AVX-512 (x86-64-v4) only, to be
// called when cpu_has_avx512() says so; 16-lane vectors are single registers there (elsewhere the
// compiler splits them, lane by lane the same arithmetic).
#ifndef BENCH_CPU_VEC_H
#define BENCH_CPU_VEC_H

#include <stdint.h>
#include <string.h>

#if defined(__GNUC__) && !defined(__clang__)
// Vectors are passed only between inlined helpers of one clone: the ABI note does not apply.
#pragma GCC diagnostic ignored "-Wpsabi"
#endif

#if defined(__x86_64__) && defined(__clang__)
#define CPU_HOT __attribute__((target_clones("arch=x86-64-v3", "default")))
#elif defined(__x86_64__)
#define CPU_HOT \
  __attribute__((target_clones("arch=x86-64-v3", "default"), optimize("fp-contract=fast")))
#else
#define CPU_HOT
#endif
#if defined(__x86_64__) && defined(__clang__)
#define CPU_AVX512 __attribute__((target("arch=x86-64-v4")))
#elif defined(__x86_64__)
#define CPU_AVX512 __attribute__((target("arch=x86-64-v4"), optimize("fp-contract=fast")))
#endif
#ifdef CPU_AVX512
// Whether this CPU (and its OS) runs CPU_AVX512 functions.
static inline int cpu_has_avx512(void) {
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
         __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
         __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}
#else
static inline int cpu_has_avx512(void) { return 0; }
#endif
// Helpers of CPU_HOT functions are inlined into each clone to run with its instruction set.
#define CPU_INLINE static inline __attribute__((always_inline))

typedef float v8f __attribute__((vector_size(32)));
typedef int32_t v8i __attribute__((vector_size(32)));
typedef float v16f __attribute__((vector_size(64)));
typedef float v4f __attribute__((vector_size(16)));
typedef int32_t v4i __attribute__((vector_size(16)));
typedef int32_t v16i __attribute__((vector_size(64)));

// The vector helpers are macros (statement expressions), not functions: passing a 32-byte vector
// to a function compiled without AVX changes the ABI, which clang rejects in the SSE2 clone.
// Each is written once for a vector type VF (int lanes VI) and named per width below.
#define VEC_LOAD(p, VF)             \
  ({                                \
    VF vec_l_;                      \
    memcpy(&vec_l_, (p), sizeof vec_l_); \
    vec_l_;                         \
  })
#define VEC_STORE(p, v, VF)          \
  do {                               \
    VF vec_s_ = (v);                 \
    memcpy((p), &vec_s_, sizeof vec_s_); \
  } while (0)
// Lane-wise m ? a : b for a mask m of all-ones / zero lanes (as comparisons return).
#define VSEL_VEC(m, a, b, VF, VI) ((VF)(((VI)(m) & (VI)(VF)(a)) | (~(VI)(m) & (VI)(VF)(b))))
#define VEC_MAX(a, b, VF, VI)                           \
  ({                                                    \
    VF vec_a_ = (a), vec_b_ = (b);                      \
    VSEL_VEC(vec_a_ > vec_b_, vec_a_, vec_b_, VF, VI);  \
  })
#define v8_load(p) VEC_LOAD(p, v8f)
#define v8_store(p, v) VEC_STORE(p, v, v8f)
#define v8_splat(x) ((v8f){0} + (float)(x))
#define v8_select(m, a, b) VSEL_VEC(m, a, b, v8f, v8i)
#define v8_max(a, b) VEC_MAX(a, b, v8f, v8i)
#define v8_hmax(v)                                        \
  ({                                                      \
    v8f v8_h_ = (v);                                      \
    float v8_r_ = v8_h_[0];                               \
    for (int v8_i_ = 1; v8_i_ < 8; v8_i_++)               \
      v8_r_ = v8_h_[v8_i_] > v8_r_ ? v8_h_[v8_i_] : v8_r_; \
    v8_r_;                                                \
  })
#define v8_hsum(v)                                                                   \
  ({                                                                                 \
    v8f v8_h_ = (v);                                                                 \
    ((v8_h_[0] + v8_h_[4]) + (v8_h_[1] + v8_h_[5])) + ((v8_h_[2] + v8_h_[6]) + (v8_h_[3] + v8_h_[7])); \
  })

// 16-lane counterparts: load, store, splat, select, max; the horizontal max and sum in a fixed
// order (the sum as v8_hsum2 below).
#define v16_load(p) VEC_LOAD(p, v16f)
#define v16_store(p, v) VEC_STORE(p, v, v16f)
#define v16_splat(x) ((v16f){0} + (float)(x))
#define v16_select(m, a, b) VSEL_VEC(m, a, b, v16f, v16i)
#define v16_max(a, b) VEC_MAX(a, b, v16f, v16i)
#define v4_max(a, b) VEC_MAX(a, b, v4f, v4i)
#define v16_hmax(v)                                                                        \
  ({                                                                                       \
    v16f v16_h_ = (v);                                                                     \
    v8f v16_a_ = v8_max(__builtin_shufflevector(v16_h_, v16_h_, 0, 1, 2, 3, 4, 5, 6, 7),  \
                        __builtin_shufflevector(v16_h_, v16_h_, 8, 9, 10, 11, 12, 13, 14, 15)); \
    v4f v16_b_ = v4_max(__builtin_shufflevector(v16_a_, v16_a_, 0, 1, 2, 3),              \
                        __builtin_shufflevector(v16_a_, v16_a_, 4, 5, 6, 7));             \
    float v16_x_ = v16_b_[0] > v16_b_[2] ? v16_b_[0] : v16_b_[2];                          \
    float v16_y_ = v16_b_[1] > v16_b_[3] ? v16_b_[1] : v16_b_[3];                          \
    v16_x_ > v16_y_ ? v16_x_ : v16_y_;                                                     \
  })
// The sum of the 16 lanes of (lo, hi): lanes i and i + 8, then i and i + 4 of those, then
// (0 + 2) + (1 + 3). v16_hsum sums one 16-lane vector in that order.
#define v8_hsum2(lo, hi)                                                                   \
  ({                                                                                       \
    v8f v8_a_ = (lo) + (hi);                                                               \
    v4f v8_b_ = __builtin_shufflevector(v8_a_, v8_a_, 0, 1, 2, 3) +                        \
                __builtin_shufflevector(v8_a_, v8_a_, 4, 5, 6, 7);                         \
    (v8_b_[0] + v8_b_[2]) + (v8_b_[1] + v8_b_[3]);                                         \
  })
#define v16_lo(v) __builtin_shufflevector((v), (v), 0, 1, 2, 3, 4, 5, 6, 7)
#define v16_hi(v) __builtin_shufflevector((v), (v), 8, 9, 10, 11, 12, 13, 14, 15)
#define v16_hsum(v)                          \
  ({                                         \
    v16f v16_h_ = (v);                       \
    v8_hsum2(v16_lo(v16_h_), v16_hi(v16_h_)); \
  })

// a0..a3 (v8f lvalues, zeroed) += x[n8] · rows r0..r3 lane by lane, n8 a multiple of 8: four dot
// products sharing each load of x, their lanes not yet summed.
#define v8_dot4(x, r0, r1, r2, r3, n8, a0, a1, a2, a3) \
  for (long v8_e_ = 0; v8_e_ < (long)(n8); v8_e_ += 8) { \
    v8f v8_x_ = v8_load((x) + v8_e_);                   \
    (a0) += v8_x_ * v8_load((r0) + v8_e_);              \
    (a1) += v8_x_ * v8_load((r1) + v8_e_);              \
    (a2) += v8_x_ * v8_load((r2) + v8_e_);              \
    (a3) += v8_x_ * v8_load((r3) + v8_e_);              \
  }

// e^x: x = n·ln2 + r with |r| ≤ ln2/2 (Cody–Waite split of ln2), e^r by its degree-7 Taylor
// polynomial (truncation error < 1e-8 relative), times 2^n assembled in the exponent bits.
// Accurate to a few ulp on [−87, 88]; exactly 0 below −87 (so −inf gives 0); e^88 above 88 (only
// silu's e^−a reaches there, where the result is 0 either way); NaN stays NaN: its lanes take
// n = 0 (a float → int conversion of NaN is undefined) and the NaN goes on through r.
#define VEXP_LOG2E 1.44269504088896341f
#define VEXP_LN2_HI 0.693145751953125f
#define VEXP_LN2_LO 1.42860682030941723e-6f
#define VEXP_MAGIC 12582912.0f  // 1.5·2^23: adding and subtracting it rounds to an integer
#define VEXP_POLY(p, r)        \
  do {                         \
    p = p * r + 1.0f / 720.0f; \
    p = p * r + 1.0f / 120.0f; \
    p = p * r + 1.0f / 24.0f;  \
    p = p * r + 1.0f / 6.0f;   \
    p = p * r + 0.5f;          \
    p = p * r + 1.0f;          \
    p = p * r + 1.0f;          \
  } while (0)

// The vector exp for float vectors of type VF with int lanes VI (v8f/v8i, v16f/v16i).
#define VEXP_VEC(x, VF, VI)                                                                 \
  ({                                                                                        \
    VF vx_x_ = (x), vx_lo_ = (VF){0} - 87.0f, vx_hi_ = (VF){0} + 88.0f;                      \
    VF vx_c_ = VSEL_VEC(vx_x_ > vx_hi_, vx_hi_, vx_x_, VF, VI);                             \
    vx_c_ = VSEL_VEC(vx_c_ < vx_lo_, vx_lo_, vx_c_, VF, VI);                                \
    VF vx_n_ = (vx_c_ * VEXP_LOG2E + VEXP_MAGIC) - VEXP_MAGIC;                              \
    VF vx_r_ = (vx_c_ - vx_n_ * VEXP_LN2_HI) - vx_n_ * VEXP_LN2_LO;                          \
    vx_n_ = VSEL_VEC(vx_n_ == vx_n_, vx_n_, (VF){0}, VF, VI);                                \
    VF vx_p_ = (VF){0} + 1.0f / 5040.0f;                                                    \
    VEXP_POLY(vx_p_, vx_r_);                                                                \
    VI vx_e_ = (__builtin_convertvector(vx_n_, VI) + 127) << 23;                            \
    VSEL_VEC(vx_x_ < vx_lo_, (VF){0}, vx_p_ * (VF)vx_e_, VF, VI);                           \
  })
#define v8_exp(x) VEXP_VEC(x, v8f, v8i)
#define v16_exp(x) VEXP_VEC(x, v16f, v16i)

// The same for one float (loop tails).
static inline float vexpf(float x) {
  float xc = x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x);
  float n = (xc * VEXP_LOG2E + VEXP_MAGIC) - VEXP_MAGIC;
  float r = (xc - n * VEXP_LN2_HI) - n * VEXP_LN2_LO;
  float p = 1.0f / 5040.0f;
  VEXP_POLY(p, r);
  uint32_t bits = (uint32_t)((n == n ? (int32_t)n : 0) + 127) << 23;  // n ∈ [−126, 127]
  float two_n;
  memcpy(&two_n, &bits, sizeof two_n);
  return x < -87.0f ? 0.0f : p * two_n;
}

#endif
