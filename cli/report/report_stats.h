// report_stats.h — the statistics a report states, as pure functions (unit-tested one by one).
// Lower PPL is better everywhere. Undefined values are NAN, never a made-up number.
#ifndef BENCH_REPORT_STATS_H
#define BENCH_REPORT_STATS_H

double stat_mean(const double *x, int n);        // NAN when n == 0
double stat_sample_std(const double *x, int n);  // denominator n − 1; NAN when n < 2
double stat_cv_pct(double mean, double std);     // 100·std/|mean|; NAN when either is undefined
double stat_ratio(double num, double den);       // num/den; NAN unless both finite and den > 0
// 100·(base − x)/base: positive when x is better (lower) than the baseline.
double stat_improvement_pct(double base, double x);
// The collapse ratio is severe (⚠️) when ratio ≥ severe.
int stat_is_severe(double ratio, double severe);
// Collapse boundary: the first i (lengths ascending) with lengths[i] > base whose ratio ≥
// threshold; NAN ratios (no result, OOM) are skipped. -1 when none.
int stat_boundary(const long *lengths, const double *ratios, int n, long base, double threshold);

// Seed 003's rules for claiming a win of config x over a baseline b (per-seed PPL lists):
//   1. every expected seed has finished for both (n_expected_seeds, when known);
//   2. at least two paired seeds (seeds present in both), so stds exist;
//   3. the mean is better: mean_x < mean_b;
//   4. the gap exceeds the stds: mean_b − mean_x > max(std_x, std_b);
//   5. at least 2/3 of the paired seeds improve: 3·improved ≥ 2·paired.
// Anything else is "not yet proven", with the first rule that failed.
typedef enum {
  WHY_WIN,              // every rule holds
  WHY_INCOMPLETE,       // rule 1
  WHY_FEW_SEEDS,        // rule 2
  WHY_MEAN_NOT_BETTER,  // rule 3
  WHY_GAP_WITHIN_STD,   // rule 4
  WHY_FEW_IMPROVE,      // rule 5
} VerdictWhy;

typedef struct {
  int win;
  VerdictWhy why;
  double mean_x, std_x, mean_b, std_b, gap;  // gap = mean_b − mean_x
  int n_x, n_b, n_paired, n_improved;
} Verdict;

Verdict stat_verdict(const double *x, const long *seeds_x, int n_x, const double *b,
                     const long *seeds_b, int n_b, int n_expected_seeds);

#endif
