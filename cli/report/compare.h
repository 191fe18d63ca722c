// compare.h — the same jobs run on two machines or versions (`bench compare DIR_A DIR_B`): jobs
// matched by job id, else by phase and spec without the device; relative differences of ppl and
// nll; jobs over a tolerance; jobs on one side only; provenance differences of the manifests.
#ifndef BENCH_COMPARE_H
#define BENCH_COMPARE_H

#include <stdio.h>

#include "report.h"

typedef struct {
  const StoredJob *a, *b;
  int by_spec;          // matched by phase + spec (the job ids differ)
  double d_ppl, d_nll;  // relative difference (b − a)/|a| in %; NAN unless both ok
} ComparePair;

typedef struct {
  ComparePair *pairs;   // [n_pairs]
  int n_pairs;
  const StoredJob **only_a, **only_b;
  int n_only_a, n_only_b;
  int n_compared;       // pairs with both ppl values
  int n_status_differs; // pairs whose status differs (ok vs oom, ...)
  int n_over;           // pairs with |Δppl| or |Δnll| > tolerance
  double max_ppl, mean_ppl, max_nll, mean_nll;  // of |Δ|, %
  int i_max_ppl;        // pair index of max_ppl, -1 none
  double tol_pct;
} Comparison;

void compare_results(const StoredJobs *a, const StoredJobs *b, double tol_pct, Comparison *out);
void comparison_free(Comparison *c);
int compare_over_tol(const ComparePair *p, double tol_pct);

// Key → value lines of a manifest's scalar fields (dotted paths), the run's times left out.
// Prints "  key: A | B" for every key whose values differ; returns how many.
int compare_manifests(const Manifest *a, const Manifest *b, FILE *out);
// A short name of a job: "1A llama3_8b/geo_500k/full L=16384 seed=42".
void compare_job_name(const StoredJob *r, char *out, size_t n);

#endif
