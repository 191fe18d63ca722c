// run_common.c — what `bench run` and `bench submit` share before any job starts (run_common.h).
#include "run_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "plan_warnings.h"
#include "results.h"
#include "train_job.h"

char *command_text(int argc, char **argv) {
  StrBuf b = {0};
  sb_append(&b, "bench");
  for (int i = 0; i < argc; i++) {
    char *q = shell_quote(argv[i]);
    sb_printf(&b, " %s", q);
    free(q);
  }
  return b.data;
}

int option_value(int argc, char **argv, int *i, const char *const *takes, size_t n,
                 const char **val) {
  *val = NULL;
  for (size_t t = 0; t < n; t++) {
    if (strcmp(argv[*i], takes[t]) != 0) continue;
    if (*i + 1 >= argc) return cli_usage_error("option '%s' needs a value", argv[*i]);
    *val = argv[++*i];
    return 0;
  }
  return 0;
}

int check_missing_paths(const Suite *s, const RunSelection *sel, const char *outcome) {
  int missing = 0;
  for (int i = 0; i < s->n_models; i++) {
    const ModelDef *m = &s->models[i];
    int used = 0;
    for (long k = 0; k < sel->n && !used; k++)
      used = sel->jobs[k].job->model == m || train_job_uses_model(sel->jobs[k].job, m->name);
    if (!used || is_directory(m->path)) continue;
    cli_usage_error("%s:%d:%d: model '%s': path '%s' %s", s->path, m->mark.line, m->mark.col, m->name, m->path,
                    file_exists(m->path) ? "is not a directory (a model is a checkpoint directory)" : "does not exist");
    missing++;
  }
  for (int i = 0; i < s->n_datasets; i++) {
    const DatasetDef *d = &s->datasets[i];
    int used = 0;
    for (long k = 0; k < sel->n && !used; k++)
      used = sel->jobs[k].job->dataset == d || train_job_uses_dataset(sel->jobs[k].job, d->name);
    if (!used || file_exists(d->path)) continue;
    cli_usage_error("%s:%d:%d: dataset '%s': path '%s' does not exist", s->path, d->mark.line,
                    d->mark.col, d->name, d->path);
    missing++;
  }
  if (missing)
    cli_usage_error("%d missing path%s; %s", missing, missing == 1 ? "" : "s", outcome);
  return missing ? -1 : 0;
}

// Every phase --only names exists; an error line with a did-you-mean for each that does not.
static int check_only(const Suite *s, char *const *only, int n_only) {
  int bad = 0;
  for (int i = 0; i < n_only; i++) {
    if (suite_phase(s, only[i])) continue;
    const char **names = xcalloc((size_t)s->n_phases + 1, sizeof *names);
    for (int p = 0; p < s->n_phases; p++) names[p] = s->phases[p].id;
    const char *guess = closest_name(only[i], names, s->n_phases);
    if (guess) cli_usage_error("--only: unknown phase '%s' (did you mean '%s'?)", only[i], guess);
    else cli_usage_error("--only: unknown phase '%s'", only[i]);
    free(names);
    bad = 1;
  }
  return bad ? -1 : 0;
}

int run_prepare(const char *suite_path, char *const *only, int n_only, int shard_i, int shard_n,
                const char *outcome, RunPrep *p) {
  memset(p, 0, sizeof *p);
  Diagnostics diag = {0};
  p->suite = suite_load(suite_path, &diag);
  for (int i = 0; i < diag.n_warnings; i++) {  // missing paths come back below as errors
    const Diagnostic *d = &diag.warnings[i];
    if (strstr(d->message, "does not exist")) continue;
    if (d->mark.line > 0) strlist_add(&p->warnings, "%s:%d:%d: %s", d->file, d->mark.line, d->mark.col, d->message);
    else strlist_add(&p->warnings, "%s: %s", d->file, d->message);
  }
  if (!p->suite) diagnostics_print(&diag, stderr);
  diagnostics_free(&diag);
  if (!p->suite || check_only(p->suite, only, n_only) != 0) return EXIT_BAD_INPUT;
  BenchErr err;
  if (matrix_build(p->suite, &p->mx, &err) != 0) return cli_usage_error("%s", err.msg);
  p->expanded = 1;
  for (int i = 0; i < p->mx.n_notes; i++) strlist_add(&p->warnings, "%s", p->mx.notes[i]);
  p->shapes = suite_model_shapes(p->suite, &p->mx, &p->warnings);
  run_select(p->suite, &p->mx, only, n_only, shard_i, shard_n, p->shapes, &p->sel);
  return check_missing_paths(p->suite, &p->sel, outcome) == 0 ? EXIT_OK : EXIT_BAD_INPUT;
}

void run_prep_free(RunPrep *p) {
  run_selection_free(&p->sel);
  free(p->shapes);
  if (p->expanded) matrix_free(&p->mx);
  strlist_free(&p->warnings);
  suite_free(p->suite);
  memset(p, 0, sizeof *p);
}
