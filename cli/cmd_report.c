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
      if (i + 1 >= argc) {
        fprintf(stderr, "bench: error: '--reports' needs a directory\n");
        return EXIT_BAD_INPUT;
      }
      reports = argv[++i];
    } else if (strncmp(argv[i], "--reports=", 10) == 0) {
      reports = argv[i] + 10;
    } else if (strcmp(argv[i], "--no-figures") == 0) {
      no_figures = 1;
    } else if (argv[i][0] == '-' && argv[i][1]) {
      fprintf(stderr, "bench: error: unknown option '%s' (usage: bench report RESULTS_DIR [--reports DIR])\n",
              argv[i]);
      return EXIT_BAD_INPUT;
    } else if (!results) {
      results = argv[i];
    } else {
      fprintf(stderr, "bench: error: unexpected argument '%s' (one results directory)\n", argv[i]);
      return EXIT_BAD_INPUT;
    }
  }
  if (!results) {
    fprintf(stderr, "bench: error: missing RESULTS_DIR (usage: bench report RESULTS_DIR [--reports DIR])\n");
    return EXIT_BAD_INPUT;
  }
  ReportSummary sum;
  BenchErr err;
  if (report_generate(results, reports, no_figures, &sum, &err) != 0) {
    fprintf(stderr, "bench: error: %s\n", err.msg);
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
