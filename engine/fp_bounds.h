// fp_bounds.h — tolerances from the arithmetic, not from one machine's numbers: the unit test
// harness (test.h) and the GPU test programs (tests/gpu) take every bound on a floating-point
// result from here.
// u is the unit roundoff of a format (half an ulp of 1): fp32 2^-24, fp64 2^-53, bf16 2^-8, fp16
// 2^-11. An n-term sum or dot product evaluated in floating point, in any order (blocked,
// pairwise, vectorized, FMA-contracted), lies within γ_n·Σ|terms| of the exact value,
// γ_n = n·u / (1 − n·u) (Higham, Accuracy and Stability of Numerical Algorithms, §3.1); two
// evaluations in different orders (another OpenBLAS kernel, cuBLASLt, a GPU reduction tree)
// therefore differ by at most 2·γ_n·Σ|terms|. A bound written this way holds on every CPU and
// GPU; a bound read off one machine's observed difference does not.
#ifndef BENCH_FP_BOUNDS_H
#define BENCH_FP_BOUNDS_H

#include <math.h>

#define FP32_U 0x1p-24
#define FP64_U 0x1p-53
#define BF16_U 0x1p-8
#define FP16_U 0x1p-11

static inline double fp_gamma(double n, double u) { return n * u / (1.0 - n * u); }

// Two fp32 evaluations of an n-term sum in different orders, one of them possibly on tensor
// cores, which may accumulate rounding toward zero (unit 2u; Fasi, Higham, Mikaitis, Pranesh
// 2021): |a − b| ≤ fp_order32(n)·Σ|terms|.
static inline double fp_order32(double n) { return fp_gamma(n, FP32_U) + fp_gamma(n, 2 * FP32_U); }

// For long chains (hundreds to thousands of terms) the worst case is far looser than any machine
// comes: the probabilistic bound (Higham & Mary, SIAM J. Sci. Comput. 41(5), 2019, Thm. 2.4)
// holds when the rounding errors are independent with mean zero (round to nearest on random
// data): the computed sum lies within γ̃_n·Σ|terms|, γ̃_n = exp(λ·√n·u + n·u²/(1 − u)) − 1
// ≈ λ·√n·u, with probability at least 1 − 2·exp(−λ²(1 − u)²/2). λ = 8: 1 − 2.5e-14 per bound.
#define FP_LAMBDA 8.0
static inline double fp_gamma_prob(double n, double u) {
  return expm1(FP_LAMBDA * sqrt(n) * u + n * u * u / (1.0 - u));
}

// Terms in the longest chain of sums along one token's path through a decoder (`layers` layers,
// width C, head dim D, T keys, MLP width I, vocabulary V): per layer the norm, the q/k/v
// projection, the output and up projections (C terms each), q·k (D), the weighted sum of values
// (T) and the down projection (I); then the final norm and the LM head (C each) and the
// logsumexp (V). To first order, for a well-conditioned network (small random ones are, and
// small trained ones), a token's NLL from two evaluations in different orders differs by at most
// 2·γ̃_K times the size of the quantities it is the difference of (the logsumexp and the target's
// logit): 2·γ̃_K·(nll + ln V) for these small models, whose logits are of ln V's size — rtol
// decoder_nll_rtol, atol that times ln V (a confident prediction's tiny NLL keeps the logits'
// absolute error). Half of it would do against fp64; the full one is kept.
static inline double decoder_chain_terms(int layers, int C, int D, long T, int I, int V) {
  return layers * (4.0 * C + D + (double)T + I) + 2.0 * C + V;
}
static inline double decoder_nll_rtol(int layers, int C, int D, long T, int I, int V, double u) {
  return 2 * fp_gamma_prob(decoder_chain_terms(layers, C, D, T, I, V), u);
}

#endif
