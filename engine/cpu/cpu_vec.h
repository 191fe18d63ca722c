// cpu_vec.h — 8-lane float vectors (GCC/Clang vector extensions) for the CPU backend's hot loops,
// and an exp that vectorizes. Functions marked CPU_HOT get an AVX2+FMA clone chosen at load time
// on x86-64 CPUs that have it (products and sums fused into FMAs there); elsewhere the same code
// runs as SSE2 pairs.
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
// Helpers of CPU_HOT functions are inlined into each clone to run with its instruction set.
#define CPU_INLINE static inline __attribute__((always_inline))

typedef float v8f __attribute__((vector_size(32)));
typedef int32_t v8i __attribute__((vector_size(32)));

// The vector helpers are macros (statement expressions), not functions: passing a 32-byte vector
// to a function compiled without AVX changes the ABI, which clang rejects in the SSE2 clone.
#define v8_load(p)                \
  ({                              \
    v8f v8_l_;                    \
    memcpy(&v8_l_, (p), sizeof v8_l_); \
    v8_l_;                        \
  })
#define v8_store(p, v)             \
  do {                             \
    v8f v8_s_ = (v);               \
    memcpy((p), &v8_s_, sizeof v8_s_); \
  } while (0)
#define v8_splat(x) ((v8f){0} + (float)(x))
// Lane-wise m ? a : b for a mask m of all-ones / zero lanes (as comparisons return).
#define v8_select(m, a, b)                                                 \
  ({                                                                       \
    v8i v8_m_ = (m);                                                       \
    (v8f)((v8_m_ & (v8i)(v8f)(a)) | (~v8_m_ & (v8i)(v8f)(b)));             \
  })
#define v8_max(a, b)                  \
  ({                                  \
    v8f v8_a_ = (a), v8_b_ = (b);     \
    v8_select(v8_a_ > v8_b_, v8_a_, v8_b_); \
  })
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

#define v8_exp(x)                                                                        \
  ({                                                                                     \
    v8f v8_x_ = (x), v8_lo_ = v8_splat(-87.0f), v8_hi_ = v8_splat(88.0f);                \
    v8f v8_c_ = v8_select(v8_x_ > v8_hi_, v8_hi_, v8_x_);                                \
    v8_c_ = v8_select(v8_c_ < v8_lo_, v8_lo_, v8_c_);                                    \
    v8f v8_n_ = (v8_c_ * VEXP_LOG2E + VEXP_MAGIC) - VEXP_MAGIC;                          \
    v8f v8_r_ = (v8_c_ - v8_n_ * VEXP_LN2_HI) - v8_n_ * VEXP_LN2_LO;                      \
    v8_n_ = v8_select(v8_n_ == v8_n_, v8_n_, v8_splat(0.0f));                            \
    v8f v8_p_ = v8_splat(1.0f / 5040.0f);                                                \
    VEXP_POLY(v8_p_, v8_r_);                                                             \
    v8i v8_e_ = (__builtin_convertvector(v8_n_, v8i) + 127) << 23;                       \
    v8_select(v8_x_ < v8_lo_, v8_splat(0.0f), v8_p_ * (v8f)v8_e_);                       \
  })

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
