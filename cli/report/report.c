// report.c — `bench report`: results/<suite>/ → reports/<suite>/REPORT.md and figures.
// Order matters for safety: the results are only read; REPORT.md is written first (atomically,
// with the figure links), then the figures are drawn and REPORT.md is rewritten with any figure
// that failed stated in place. A failing gnuplot never loses the report.
#include <stdlib.h>
#include <string.h>

#include "report.h"

static char *dir_basename(const char *dir) {
  size_t n = strlen(dir);
  while (n > 1 && dir[n - 1] == '/') n--;
  size_t s = n;
  while (s > 0 && dir[s - 1] != '/') s--;
  return xstrndup(dir + s, n - s);
}

char *report_default_dir(const char *results_dir, const char *suite_id) {
  char *trimmed = xstrdup(results_dir);
  size_t n = strlen(trimmed);
  while (n > 1 && trimmed[n - 1] == '/') trimmed[--n] = 0;
  char *parent = path_dirname(trimmed);
  char *parent_name = dir_basename(parent);
  char *out;
  if (strcmp(parent_name, "results") == 0) {
    char *root = path_dirname(parent);
    char *reports = path_join(root, "reports");
    out = path_join(reports, suite_id);
    free(root);
    free(reports);
  } else {
    out = xasprintf("reports/%s", suite_id);
  }
  free(trimmed);
  free(parent);
  free(parent_name);
  return out;
}

static int write_report(const char *path, const ReportCtx *ctx, const PhaseData *pds, int n,
                        const char *results_dir, const char *plan_problem, int render, FigureCount *count,
                        BenchErr *err) {
  StrBuf b = {0};
  report_markdown(&b, ctx, pds, n, results_dir, plan_problem, render, count);
  int rc = write_file_atomic(path, b.data, b.len, err);
  sb_free(&b);
  return rc;
}

static void warn_conflicts(const PhaseData *pd) {
  for (int i = 0; i < pd->n_conflicts; i++) {
    const Conflict *k = &pd->conflicts[i];
    fprintf(stderr,
            "bench: warning: phase %s: %s @ %ld, seed %ld: two results with different numbers: PPL %.6g in %s, "
            "PPL %.6g in %s (the report shows both)\n",
            pd->plan->id, pd->configs[k->config].label, k->length, k->seed, k->a->ppl, k->a->path, k->b->ppl,
            k->b->path);
  }
}

int report_generate(const char *results_dir, const char *reports_dir, int no_figures, ReportSummary *sum,
                    BenchErr *err) {
  memset(sum, 0, sizeof *sum);
  if (need_directory(results_dir, "results directory", err) != 0) return -1;
  StoredJobs rs;
  if (stored_jobs_load(results_dir, &rs, err) != 0) return -1;
  Manifest man;
  manifest_read(results_dir, &man);
  // the plan: the suite as run, else what the results say
  ReportPlan plan;
  char *plan_problem = NULL;
  char *yaml = path_join(results_dir, "suite.yaml");
  BenchErr perr;
  if (report_plan_from_suite(yaml, &plan, &perr) == 0) {
    report_plan_add_result_phases(&plan, &rs);
  } else {
    plan_problem = xstrdup(perr.msg);
    char *id = dir_basename(results_dir);
    report_plan_from_results(&rs, id, &plan);
    free(id);
  }
  free(yaml);
  report_plan_mark_results(&plan, &rs);
  char *out_dir = reports_dir ? xstrdup(reports_dir) : report_default_dir(results_dir, plan.suite_id);
  int rc = mkdir_p(out_dir, err);
  PhaseData *pds = xcalloc(plan.n_phases ? (size_t)plan.n_phases : 1, sizeof *pds);
  for (int i = 0; i < plan.n_phases; i++) phase_group(&plan.phases[i], &rs, &pds[i]);
  const char *gp = getenv("BENCH_GNUPLOT");
  ReportCtx ctx = {
      .plan = &plan,
      .manifest = &man,
      .results = &rs,
      .t = report_text(plan.lang),
      .reports_dir = out_dir,
      .gnuplot = gp && gp[0] ? gp : "gnuplot",
      .no_figures = no_figures,
  };
  char *path = path_join(out_dir, "REPORT.md");
  figure_colours_reset();
  if (rc == 0) rc = write_report(path, &ctx, pds, plan.n_phases, results_dir, plan_problem, 0, NULL, err);
  if (rc == 0 && !no_figures) {
    figure_colours_reset();
    rc = write_report(path, &ctx, pds, plan.n_phases, results_dir, plan_problem, 1, &sum->figures, err);
  }
  figure_colours_reset();
  sum->report_path = path;
  sum->n_jobs = rs.n_jobs;
  sum->n_skipped = rs.n_skipped;
  for (int i = 0; i < rs.n_skipped; i++) fprintf(stderr, "bench: warning: skipped %s\n", rs.skipped[i]);
  for (int i = 0; i < plan.n_phases; i++) warn_conflicts(&pds[i]);
  if (plan_problem) fprintf(stderr, "bench: warning: phases taken from the results: %s\n", plan_problem);
  for (int i = 0; i < plan.n_phases; i++) phase_data_free(&pds[i]);
  free(pds);
  free(out_dir);
  free(plan_problem);
  report_plan_free(&plan);
  manifest_free(&man);
  stored_jobs_free(&rs);
  return rc;
}

void report_summary_free(ReportSummary *s) {
  free(s->report_path);
  memset(s, 0, sizeof *s);
}
