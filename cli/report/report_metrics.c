// report_metrics.c — the table of what a job measures besides PPL ({table: metrics}): top-1
// accuracy (seed 004 reasons from PPL and accuracy), peak memory (seed 001 §3.2: memory by
// compression factor) and the tokens scored (seed 001's 实际Token数), one row per (config, length).
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"
#include "report_stats.h"

typedef double (*MetricOf)(const StoredJob *r);
static double acc_of(const StoredJob *r) { return r->acc; }
static double mem_of(const StoredJob *r) { return r->peak_mem_bytes; }
static double tokens_of(const StoredJob *r) { return r->tokens; }

// Mean of a metric over the cell's ok runs that report it; NAN when none does.
static double cell_metric(const Cell *cell, MetricOf f) {
  double *v = xcalloc(cell->n_runs ? (size_t)cell->n_runs : 1, sizeof *v);
  int n = 0;
  for (int i = 0; i < cell->n_runs; i++)
    if (cell->runs[i]->res.status == JOB_OK && isfinite(f(cell->runs[i]))) v[n++] = f(cell->runs[i]);
  double m = stat_mean(v, n);
  free(v);
  return m;
}

void table_metrics(StrBuf *b, const PhaseData *pd, const ReportReq *rq, const ReportCtx *ctx) {
  (void)rq;
  const ReportText *t = ctx->t;
  report_heading(b, pd, ctx, t->tbl_metrics);
  sb_printf(b, "| %s | %s | PPL | %s | %s | %s |\n", t->col_config, t->col_length, t->col_acc, t->col_peak_mem,
            t->col_tokens);
  sb_append(b, "|---|---:|---:|---:|---:|---:|\n");
  int multi_seed = 0;
  for (int c = 0; c < pd->n_configs; c++)
    for (int l = 0; l < pd->n_lengths; l++) {
      const Cell *cell = phase_cell(pd, c, l);
      if (cell->n_runs == 0) continue;
      multi_seed |= cell->n_ok > 1;
      char ppl[64], acc[32], mem[32], tok[32];
      report_cell_text(cell, t, ppl);
      double a = cell_metric(cell, acc_of), m = cell_metric(cell, mem_of), k = cell_metric(cell, tokens_of);
      rfmt_pct(100 * a, 1, acc);
      if (isfinite(m)) rfmt_bytes(m, mem);
      else snprintf(mem, sizeof mem, "%s", t->nothing_yet);
      if (isfinite(k)) snprintf(tok, sizeof tok, "%.0f", k);
      else snprintf(tok, sizeof tok, "%s", t->nothing_yet);
      sb_append(b, "| ");
      rfmt_md_escape(b, pd->configs[c].label);
      sb_printf(b, " | %ld | %s | %s | %s | %s |\n", pd->lengths[l], ppl, acc, mem, tok);
    }
  sb_append(b, "\n");
  if (multi_seed)
    sb_printf(b, "*%s*\n\n", strcmp(t->lang, "zh") == 0 ? "多个种子时为均值。" : "Cells with several seeds show the mean.");
}
