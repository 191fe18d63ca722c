// report_failures.c — why a job failed, in a table cell (short) and under the phase's tables (in
// full), so that no cell says a bare "error".
#include <string.h>

#include "report.h"

#define MAX_FAILURES_LISTED 30

// Known reasons with a short name: the engine's "dataset 'x' has N tokens; length L needs M".
static int dataset_too_short(const char *error) {
  return strncmp(error, "dataset ", 8) == 0 && strstr(error, " tokens; length ") != NULL;
}

void report_error_short(const char *error, const ReportText *t, char out[48]) {
  if (!error || !*error) {
    out[0] = 0;
    return;
  }
  if (dataset_too_short(error)) {
    snprintf(out, 48, "%s", t->why_too_short);
    return;
  }
  size_t n = strcspn(error, ";:(\n");
  while (n > 0 && error[n - 1] == ' ') n--;
  if (n > 40) {  // cut at a word, with an ellipsis
    n = 40;
    while (n > 20 && error[n] != ' ') n--;
    snprintf(out, 48, "%.*s…", (int)n, error);
  } else {
    snprintf(out, 48, "%.*s", (int)n, error);
  }
}

static int failed_with_reason(const StoredJob *r) {
  return r->res.status != JOB_OK && (r->res.status != JOB_OOM || (r->res.error && r->res.error[0]));
}

void report_failures(StrBuf *b, const PhaseData *pd, const ReportText *t) {
  int n = 0;
  for (int i = 0; i < pd->n_jobs; i++) n += failed_with_reason(pd->jobs[i]);
  if (n == 0) return;
  char line[256];
  snprintf(line, sizeof line, t->n_failures, n);
  sb_printf(b, "*%s*\n\n", line);
  int shown = 0;
  for (int c = 0; c < pd->n_configs; c++)
    for (int l = 0; l < pd->n_lengths; l++) {
      const Cell *cell = phase_cell(pd, c, l);
      for (int i = 0; i < cell->n_runs; i++) {
        const StoredJob *r = cell->runs[i];
        if (!failed_with_reason(r) || shown++ >= MAX_FAILURES_LISTED) continue;
        sb_append(b, "- `");
        rfmt_md_escape(b, pd->configs[c].label);
        sb_printf(b, "` @ %ld", pd->lengths[l]);
        if (pd->plan->n_seeds > 1) sb_printf(b, " (seed %ld)", r->seed);
        sb_printf(b, ": %s", job_status_name(r->res.status));
        if (r->res.error && r->res.error[0]) {
          sb_append(b, ": ");
          rfmt_md_escape(b, r->res.error);
        }
        sb_append(b, "\n");
      }
    }
  if (n > MAX_FAILURES_LISTED) {
    snprintf(line, sizeof line, t->n_missing_more, n - MAX_FAILURES_LISTED);
    sb_printf(b, "- %s\n", line);
  }
  sb_append(b, "\n");
}
