// report_stats.c — mean, sample std, CV, ratios, improvement, collapse boundary, seed 003 verdict.
#include "report_stats.h"

#include <math.h>

double stat_mean(const double *x, int n) {
  if (n <= 0) return NAN;
  double s = 0;
  for (int i = 0; i < n; i++) s += x[i];
  return s / n;
}

double stat_sample_std(const double *x, int n) {
  if (n < 2) return NAN;
  double m = stat_mean(x, n), ss = 0;
  for (int i = 0; i < n; i++) ss += (x[i] - m) * (x[i] - m);
  return sqrt(ss / (n - 1));
}

double stat_cv_pct(double mean, double std) {
  if (!isfinite(mean) || !isfinite(std) || mean == 0) return NAN;
  return 100.0 * std / fabs(mean);
}

double stat_ratio(double num, double den) {
  if (!isfinite(num) || !isfinite(den) || den <= 0) return NAN;
  return num / den;
}

double stat_improvement_pct(double base, double x) {
  if (!isfinite(base) || !isfinite(x) || base == 0) return NAN;
  return 100.0 * (base - x) / base;
}

int stat_is_severe(double ratio, double severe) { return isfinite(ratio) && ratio >= severe; }

int stat_boundary(const long *lengths, const double *ratios, int n, long base, double threshold) {
  for (int i = 0; i < n; i++)
    if (lengths[i] > base && isfinite(ratios[i]) && ratios[i] >= threshold) return i;
  return -1;
}

Verdict stat_verdict(const double *x, const long *seeds_x, int n_x, const double *b,
                     const long *seeds_b, int n_b, int n_expected_seeds) {
  Verdict v = {0};
  v.n_x = n_x;
  v.n_b = n_b;
  v.mean_x = stat_mean(x, n_x);
  v.mean_b = stat_mean(b, n_b);
  v.std_x = stat_sample_std(x, n_x);
  v.std_b = stat_sample_std(b, n_b);
  v.gap = v.mean_b - v.mean_x;
  for (int i = 0; i < n_x; i++)
    for (int j = 0; j < n_b; j++)
      if (seeds_x[i] == seeds_b[j]) {
        v.n_paired++;
        if (x[i] < b[j]) v.n_improved++;
      }
  if (n_expected_seeds > 0 && (n_x < n_expected_seeds || n_b < n_expected_seeds))
    v.why = WHY_INCOMPLETE;
  else if (v.n_paired < 2 || !isfinite(v.std_x) || !isfinite(v.std_b))
    v.why = WHY_FEW_SEEDS;
  else if (!(v.mean_x < v.mean_b))
    v.why = WHY_MEAN_NOT_BETTER;
  else if (!(v.gap > fmax(v.std_x, v.std_b)))
    v.why = WHY_GAP_WITHIN_STD;
  else if (3 * v.n_improved < 2 * v.n_paired)
    v.why = WHY_FEW_IMPROVE;
  else
    v.why = WHY_WIN;
  v.win = v.why == WHY_WIN;
  return v;
}
