// cmd_validate.c — `bench validate SUITE`: parse and check a suite without running anything.
// Prints every warning and error (FILE:LINE:COL) to stderr; on success a one-line summary to
// stdout. Exit 0 when valid, 2 on any error or on bad usage.
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "matrix.h"
#include "suite.h"

static const char *plural(long n, const char *one, const char *many) { return n == 1 ? one : many; }

static long members(const Variant *v, int n) {
  long total = 0;
  for (int i = 0; i < n; i++) total += v[i].n_members;
  return total;
}

int cmd_validate(int argc, char **argv) {
  if (argc != 2 || argv[1][0] == '-') {
    if (argc > 1 && argv[1][0] == '-')
      cli_usage_error("unknown option '%s'", argv[1]);
    fprintf(stderr, "usage: bench validate SUITE\n");
    return EXIT_BAD_INPUT;
  }
  Diagnostics diag = {0};
  Suite *s = suite_load(argv[1], &diag);
  diagnostics_print(&diag, stderr);
  if (!s) {
    diagnostics_free(&diag);
    return EXIT_BAD_INPUT;
  }
  // a suite bench run would refuse for its size (matrix.h); an expansion error is plan's to report
  int n_warnings = diag.n_warnings, exact;
  BenchErr err;
  double jobs = matrix_count(s, NULL, &exact, &err);
  if (jobs > MATRIX_MAX_JOBS) {
    char msg[BENCH_ERR_MAX];
    matrix_too_large(jobs, exact, msg, sizeof msg);
    fprintf(stderr, "bench: warning: %s: %s; `bench run` refuses it\n", s->path, msg);
    n_warnings++;
  }
  long rope_members = members(s->rope, s->n_rope), cache_members = members(s->cache, s->n_cache);
  printf("%s: valid: %d %s, %d %s, %d %s, %d rope %s", s->path, s->n_phases,
         plural(s->n_phases, "phase", "phases"), s->n_models, plural(s->n_models, "model", "models"),
         s->n_datasets, plural(s->n_datasets, "dataset", "datasets"), s->n_rope,
         plural(s->n_rope, "variant", "variants"));
  if (rope_members != s->n_rope) printf(" (%ld with sweeps)", rope_members);
  printf(", %d cache %s", s->n_cache, plural(s->n_cache, "policy", "policies"));
  if (cache_members != s->n_cache) printf(" (%ld with sweeps)", cache_members);
  if (s->n_train) printf(", %d train %s", s->n_train, plural(s->n_train, "recipe", "recipes"));
  if (n_warnings) printf(", %d %s", n_warnings, plural(n_warnings, "warning", "warnings"));
  printf("\n");
  suite_free(s);
  diagnostics_free(&diag);
  return EXIT_OK;
}
