// cmd_compare.c — `bench compare DIR_A DIR_B [--tol PCT]`: exit 0 when every matched job agrees
// within the tolerance (default 1%), 1 when some job differs by more or no job matched (nothing
// compared), 2 on bad input.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "compare.h"

#define DEFAULT_TOL_PCT 1.0
#define MAX_LISTED 50

static int parse_tol(const char *s, double *out) {
  char *end;
  double v = strtod(s, &end);
  if (end == s || (*end && strcmp(end, "%") != 0) || !isfinite(v) || v < 0) return -1;
  *out = v;
  return 0;
}

static int load_side(const char *dir, StoredJobs *rs, Manifest *m) {
  BenchErr err;
  if (need_directory(dir, "results directory", &err) != 0) {
    cli_usage_error("%s", err.msg);
    return -1;
  }
  if (stored_jobs_load(dir, rs, &err) != 0) {
    cli_usage_error("%s", err.msg);
    return -1;
  }
  for (int i = 0; i < rs->n_skipped; i++) fprintf(stderr, "bench: warning: skipped %s\n", rs->skipped[i]);
  manifest_read(dir, m);
  if (m->problem) fprintf(stderr, "bench: warning: %s\n", m->problem);
  return 0;
}

static void print_pair(const ComparePair *p) {
  char name[256], pa[32], pb[32], d[32];
  compare_job_name(p->a, name, sizeof name);
  rfmt_ppl(p->a->ppl, pa);
  rfmt_ppl(p->b->ppl, pb);
  snprintf(d, sizeof d, "%+.3f%%", p->d_ppl);
  printf("  %-16.16s %-48s %10s %10s %10s", p->a->res.job_id, name, pa, pb, isfinite(p->d_ppl) ? d : "—");
  if (isfinite(p->d_nll)) printf("  (nll %+.3f%%)", p->d_nll);
  printf("\n");
}

int cmd_compare(int argc, char **argv) {
  const char *dir_a = NULL, *dir_b = NULL;
  double tol = DEFAULT_TOL_PCT;
  for (int i = 1; i < argc; i++) {
    const char *val = NULL;
    if (strcmp(argv[i], "--tol") == 0) {
      if (i + 1 >= argc) return cli_usage_error("'--tol' needs a percentage");
      val = argv[++i];
    } else if (strncmp(argv[i], "--tol=", 6) == 0) {
      val = argv[i] + 6;
    } else if (argv[i][0] == '-' && argv[i][1]) {
      return cli_usage_error("unknown option '%s' (usage: bench compare DIR_A DIR_B [--tol PCT])", argv[i]);
    } else if (!dir_a) {
      dir_a = argv[i];
    } else if (!dir_b) {
      dir_b = argv[i];
    } else {
      return cli_usage_error("unexpected argument '%s' (two results directories)", argv[i]);
    }
    if (val && parse_tol(val, &tol) != 0) {
      return cli_usage_error("'--tol' takes a non-negative percentage, not '%s'", val);
    }
  }
  if (!dir_a || !dir_b) {
    return cli_usage_error("missing results directories (usage: bench compare DIR_A DIR_B [--tol PCT])");
  }
  StoredJobs a, b;
  Manifest ma, mb;
  memset(&a, 0, sizeof a);
  memset(&b, 0, sizeof b);
  memset(&ma, 0, sizeof ma);
  memset(&mb, 0, sizeof mb);
  if (load_side(dir_a, &a, &ma) != 0 || load_side(dir_b, &b, &mb) != 0) {
    stored_jobs_free(&a);
    stored_jobs_free(&b);
    manifest_free(&ma);
    manifest_free(&mb);
    return EXIT_BAD_INPUT;
  }
  printf("A: %s (%d jobs)\nB: %s (%d jobs)\n", dir_a, a.n_jobs, dir_b, b.n_jobs);
  if (!ma.root || !mb.root) {
    printf("provenance: manifest.json %s\n", !ma.root && !mb.root ? "absent on both sides"
                                             : !ma.root ? "absent in A" : "absent in B");
  }
  if (ma.root || mb.root) {
    printf("provenance differences (A | B):\n");
    if (compare_manifests(&ma, &mb, stdout) == 0) printf("  none\n");
  }
  Comparison c;
  compare_results(&a, &b, tol, &c);
  int n_spec = 0;
  for (int i = 0; i < c.n_pairs; i++) n_spec += c.pairs[i].by_spec;
  printf("matched %d jobs (%d by job id, %d by phase and spec); %d only in A, %d only in B\n", c.n_pairs,
         c.n_pairs - n_spec, n_spec, c.n_only_a, c.n_only_b);
  if (c.n_pairs > 0) {  // every matched job with its values
    printf("  %-16s %-48s %10s %10s %10s\n", "JOB", "PHASE CONFIG", "PPL A", "PPL B", "Δ PPL");
    for (int i = 0; i < c.n_pairs && i < MAX_LISTED; i++) print_pair(&c.pairs[i]);
    if (c.n_pairs > MAX_LISTED) printf("  ... and %d more\n", c.n_pairs - MAX_LISTED);
  }
  if (c.n_compared > 0) {
    char name[256];
    compare_job_name(c.pairs[c.i_max_ppl].a, name, sizeof name);
    printf("ppl: %d compared, max |Δ| %.3f%% (%s), mean |Δ| %.3f%%\n", c.n_compared, c.max_ppl, name, c.mean_ppl);
    if (isfinite(c.max_nll)) printf("nll: max |Δ| %.3f%%, mean |Δ| %.3f%%\n", c.max_nll, c.mean_nll);
  } else {
    printf("ppl: no job has a ppl on both sides\n");
  }
  printf("over tolerance %g%%: %d job%s\n", tol, c.n_over, c.n_over == 1 ? "" : "s");
  if (c.n_over > 0) {
    printf("  %-16s %-48s %10s %10s %10s\n", "JOB", "PHASE CONFIG", "PPL A", "PPL B", "Δ PPL");
    for (int i = 0, shown = 0; i < c.n_pairs && shown < MAX_LISTED; i++)
      if (compare_over_tol(&c.pairs[i], tol)) {
        print_pair(&c.pairs[i]);
        shown++;
      }
  }
  if (c.n_status_differs > 0) {
    printf("status differs: %d job%s\n", c.n_status_differs, c.n_status_differs == 1 ? "" : "s");
    for (int i = 0, shown = 0; i < c.n_pairs && shown < MAX_LISTED; i++) {
      const ComparePair *p = &c.pairs[i];
      if (p->a->res.status == p->b->res.status) continue;
      char name[256];
      compare_job_name(p->a, name, sizeof name);
      printf("  %-16.16s %-48s %s | %s\n", p->a->res.job_id, name, job_status_name(p->a->res.status),
             job_status_name(p->b->res.status));
      shown++;
    }
  }
  for (int side = 0; side < 2; side++) {
    int n = side ? c.n_only_b : c.n_only_a;
    const StoredJob **only = side ? c.only_b : c.only_a;
    if (n == 0) continue;
    printf("only in %s: %d job%s\n", side ? "B" : "A", n, n == 1 ? "" : "s");
    for (int i = 0; i < n && i < MAX_LISTED; i++) {
      char name[256];
      compare_job_name(only[i], name, sizeof name);
      printf("  %-16.16s %s\n", only[i]->res.job_id, name);
    }
  }
  if (c.n_pairs == 0)  // nothing was compared: not a pass
    fprintf(stderr, "bench: error: no job of %s matches one of %s (by job id or by phase and spec): nothing "
            "was compared\n", dir_a, dir_b);
  int rc = c.n_over > 0 || c.n_pairs == 0 ? EXIT_JOBS_FAILED : EXIT_OK;
  comparison_free(&c);
  stored_jobs_free(&a);
  stored_jobs_free(&b);
  manifest_free(&ma);
  manifest_free(&mb);
  return rc;
}
