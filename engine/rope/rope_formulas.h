// rope_formulas.h — the frequency formulas of each RoPE type, as plain math on validated numbers
// (rope.c parses and checks the JSON specs, then calls these). Internal to the engine.
// Legend: R rotary dims (even, >= 2), n = R/2 pairs, k pair index, u_k = 2k/R, θ base,
//         inv[k] = ω_k, the inverse frequency of pair k. Everything in double precision.
//
// The Hugging Face types follow transformers' modeling_rope_utils step by step (same branch
// conditions, same defaults), in double where torch uses float32.
#ifndef BENCH_ROPE_FORMULAS_H
#define BENCH_ROPE_FORMULAS_H

// Logistic function, stable for large |x|.
double rope_sigmoid(double x);

// ω_k = θ^(−u_k). inv[R/2]
void rf_geometric(int R, double theta, double *inv);
// Linear position interpolation: geometric / factor.
void rf_linear(int R, double theta, double factor, double *inv);
// Dynamic NTK: seq = max(eval_length, max_pos) (max_pos when eval_length <= 0);
// θ' = θ·(factor·seq/max_pos − (factor − 1))^(R/(R−2)). Needs R > 2.
void rf_dynamic(int R, double theta, double factor, long max_pos, long eval_length, double *inv);
// Static NTK-aware: θ' = θ·factor^(R/(R−2)). Needs R > 2.
void rf_ntk(int R, double theta, double factor, double *inv);

typedef struct {
  double factor;
  double beta_fast, beta_slow;      // 32, 1 by default
  double attention_factor;          // <= 0: derived from factor (and mscale/mscale_all_dim)
  double mscale, mscale_all_dim;    // 0: not given
  long original_max_pos;
  int truncate;                     // floor/ceil the correction range (default 1)
} YarnParams;
// YaRN: ramp between interpolated (ω/factor) and extrapolated (ω) frequencies over the
// correction range; returns the attention factor.
double rf_yarn(int R, double theta, const YarnParams *p, double *inv);

// Llama 3.1: wavelengths above original/low_freq_factor are divided by factor, below
// original/high_freq_factor kept, smoothly interpolated between. Attention factor 1.
void rf_llama3(int R, double theta, double factor, double low_freq_factor, double high_freq_factor,
               long original_max_pos, double *inv);

// LongRoPE: ω_k = 1/(ext_k·θ^(u_k)), ext = long_factor when eval_length > original_max_pos, else
// short_factor. Returns the attention factor: the given one when > 0, else
// sqrt(1 + ln(factor)/ln(original)) for factor > 1, else 1.
double rf_longrope(int R, double theta, const double *short_factor, const double *long_factor,
                   double factor, double attention_factor, long original_max_pos,
                   long eval_length, double *inv);

// ω_k = θ^(−u_k) / (1 + (A − 1)·σ(s·(k − m))).
void rf_anchored_sigmoid(int R, double theta, double anchor_factor, double anchor_dim, double slope,
                         double *inv);
// ln ω_k = −ln θ·((1 − omf)·u_k + omf·u_k^p).
void rf_anchored_poly(int R, double theta, double p, double omf, double *inv);
// ln ω_k = −ln θ·((1 − omf)·u_k + omf·g(u_k)),
// g(u) = (σ(s(u − m)) − σ(−s·m)) / (σ(s(1 − m)) − σ(−s·m)). Returns -1 when the denominator
// vanishes (g undefined), 0 otherwise.
int rf_sigmoid(int R, double theta, double steep, double mid, double omf, double *inv);
// ω = (1 − alpha)·geometric(θ) + alpha·anchored_poly(θ, p, omf).
void rf_hybrid(int R, double theta, double alpha, double p, double omf, double *inv);

#endif
