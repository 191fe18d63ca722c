// rope_formulas.c — see rope_formulas.h.
// Legend: R rotary dims, n = R/2 pairs, k pair index, u_k = 2k/R, θ base, inv[n] inverse frequencies.
#include "rope_formulas.h"

#include <math.h>

double rope_sigmoid(double x) {
  if (x >= 0) return 1.0 / (1.0 + exp(-x));
  double e = exp(x);
  return e / (1.0 + e);
}

void rf_geometric(int R, double theta, double *inv) {
  for (int k = 0; k < R / 2; k++) inv[k] = 1.0 / pow(theta, (double)(2 * k) / R);
}

void rf_linear(int R, double theta, double factor, double *inv) {
  rf_geometric(R, theta, inv);
  for (int k = 0; k < R / 2; k++) inv[k] /= factor;
}

void rf_dynamic(int R, double theta, double factor, long max_pos, long eval_length, double *inv) {
  // transformers: seq_len = max(seq_len, max_position_embeddings); None (init) → max_pos.
  double seq = (double)(eval_length > max_pos ? eval_length : max_pos);
  double base = theta * pow(factor * seq / (double)max_pos - (factor - 1.0), (double)R / (R - 2));
  rf_geometric(R, base, inv);
}

void rf_ntk(int R, double theta, double factor, double *inv) {
  rf_geometric(R, theta * pow(factor, (double)R / (R - 2)), inv);
}

// 0.1·m·ln(s) + 1 for s > 1, else 1 (YaRN's mscale).
static double yarn_mscale(double scale, double m) {
  if (scale <= 1.0) return 1.0;
  return 0.1 * m * log(scale) + 1.0;
}

// The (fractional) dimension index whose wavelength makes `rotations` turns over `max_pos`.
static double yarn_correction_dim(double rotations, int R, double theta, long max_pos) {
  return R * log((double)max_pos / (rotations * 2.0 * M_PI)) / (2.0 * log(theta));
}

double rf_yarn(int R, double theta, const YarnParams *p, double *inv) {
  double attn;
  if (p->attention_factor > 0)
    attn = p->attention_factor;
  else if (p->mscale != 0 && p->mscale_all_dim != 0)
    attn = yarn_mscale(p->factor, p->mscale) / yarn_mscale(p->factor, p->mscale_all_dim);
  else
    attn = yarn_mscale(p->factor, 1.0);

  double low = yarn_correction_dim(p->beta_fast, R, theta, p->original_max_pos);
  double high = yarn_correction_dim(p->beta_slow, R, theta, p->original_max_pos);
  if (p->truncate) {
    low = floor(low);
    high = ceil(high);
  }
  if (low < 0) low = 0;
  if (high > R - 1) high = R - 1;
  if (low == high) high += 0.001;  // as transformers: avoid a zero-width ramp

  for (int k = 0; k < R / 2; k++) {
    double extrapolated = 1.0 / pow(theta, (double)(2 * k) / R);
    double interpolated = extrapolated / p->factor;
    double ramp = ((double)k - low) / (high - low);
    if (ramp < 0) ramp = 0;
    if (ramp > 1) ramp = 1;
    double keep = 1.0 - ramp;  // share of the extrapolated (unscaled) frequency
    inv[k] = interpolated * (1.0 - keep) + extrapolated * keep;
  }
  return attn;
}

void rf_llama3(int R, double theta, double factor, double low_freq_factor, double high_freq_factor,
               long original_max_pos, double *inv) {
  double old_len = (double)original_max_pos;
  double low_wavelen = old_len / low_freq_factor;
  double high_wavelen = old_len / high_freq_factor;
  for (int k = 0; k < R / 2; k++) {
    double w = 1.0 / pow(theta, (double)(2 * k) / R);
    double wavelen = 2.0 * M_PI / w;
    if (wavelen > low_wavelen) {
      inv[k] = w / factor;
    } else if (wavelen < high_wavelen) {
      inv[k] = w;
    } else {
      double smooth = (old_len / wavelen - low_freq_factor) / (high_freq_factor - low_freq_factor);
      inv[k] = (1.0 - smooth) * w / factor + smooth * w;
    }
  }
}

double rf_longrope(int R, double theta, const double *short_factor, const double *long_factor,
                   double factor, double attention_factor, long original_max_pos,
                   long eval_length, double *inv) {
  double attn;
  if (attention_factor > 0)
    attn = attention_factor;
  else if (factor <= 1.0)
    attn = 1.0;
  else
    attn = sqrt(1.0 + log(factor) / log((double)original_max_pos));
  const double *ext = eval_length > original_max_pos ? long_factor : short_factor;
  for (int k = 0; k < R / 2; k++) inv[k] = 1.0 / (ext[k] * pow(theta, (double)(2 * k) / R));
  return attn;
}

void rf_anchored_sigmoid(int R, double theta, double anchor_factor, double anchor_dim, double slope,
                         double *inv) {
  for (int k = 0; k < R / 2; k++) {
    double geo = 1.0 / pow(theta, (double)(2 * k) / R);
    inv[k] = geo / (1.0 + (anchor_factor - 1.0) * rope_sigmoid(slope * ((double)k - anchor_dim)));
  }
}

void rf_anchored_poly(int R, double theta, double p, double omf, double *inv) {
  double ln_theta = log(theta);
  for (int k = 0; k < R / 2; k++) {
    double u = (double)(2 * k) / R;
    inv[k] = exp(-ln_theta * ((1.0 - omf) * u + omf * pow(u, p)));
  }
}

int rf_sigmoid(int R, double theta, double steep, double mid, double omf, double *inv) {
  double lo = rope_sigmoid(-steep * mid);
  double den = rope_sigmoid(steep * (1.0 - mid)) - lo;
  if (!(fabs(den) > 1e-300)) return -1;
  double ln_theta = log(theta);
  for (int k = 0; k < R / 2; k++) {
    double u = (double)(2 * k) / R;
    double g = (rope_sigmoid(steep * (u - mid)) - lo) / den;
    inv[k] = exp(-ln_theta * ((1.0 - omf) * u + omf * g));
  }
  return 0;
}

void rf_hybrid(int R, double theta, double alpha, double p, double omf, double *inv) {
  double ln_theta = log(theta);
  for (int k = 0; k < R / 2; k++) {
    double u = (double)(2 * k) / R;
    double geo = exp(-ln_theta * u);
    double poly = exp(-ln_theta * ((1.0 - omf) * u + omf * pow(u, p)));
    inv[k] = (1.0 - alpha) * geo + alpha * poly;
  }
}
