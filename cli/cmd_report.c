// cmd_report.c — `bench report RESULTS_DIR [--reports DIR] [--no-figures]`.
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "report.h"

int cmd_report(int argc, char **argv) {
  const char *results = NULL, *reports = NULL;
  int no_figures = 0;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--reports") == 0) {
      if (i + 1 >= argc) return cli_usage_error("'--reports' needs a directory");
      reports = argv[++i];
    } else if (strncmp(argv[i], "--reports=", 10) == 0) {
      reports = argv[i] + 10;
    } else if (strcmp(argv[i], "--no-figures") == 0) {
      no_figures = 1;
    } else if (argv[i][0] == '-' && argv[i][1]) {
      return cli_usage_error("unknown option '%s' (usage: bench report RESULTS_DIR [--reports DIR])",
                             argv[i]);
    } else if (!results) {
      results = argv[i];
    } else {
      return cli_usage_error("unexpected argument '%s' (one results directory)", argv[i]);
    }
  }
  if (!results) {
    return cli_usage_error("missing RESULTS_DIR (usage: bench report RESULTS_DIR [--reports DIR])");
  }
  ReportSummary sum;
  BenchErr err;
  if (report_generate(results, reports, no_figures, &sum, &err) != 0) {
    cli_usage_error("%s", err.msg);
    report_summary_free(&sum);
    return EXIT_BAD_INPUT;
  }
  printf("wrote %s: %d job results, %d figures", sum.report_path, sum.n_jobs, sum.figures.made);
  if (sum.figures.failed) printf(", %d figures failed (see the report)", sum.figures.failed);
  if (sum.n_skipped) printf(", %d result files skipped", sum.n_skipped);
  printf("\n");
  report_summary_free(&sum);
  return EXIT_OK;
}
