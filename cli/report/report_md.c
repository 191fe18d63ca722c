// report_md.c — REPORT.md laid out like the lab notes: a header (title, model, device, dates,
// duration, commit, suite checksum, the command to reproduce), the experiment list, then per
// phase its tables, key findings and figures, and last the notes (missing, skipped, problems).
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"

#define MAX_MISSING_LISTED 12
#define MAX_SKIPPED_LISTED 20

static char *mtext(const Manifest *m, const char *k1, const char *k2, const char *k3) {
  const char *keys[] = {k1, k2, k3, NULL};
  return manifest_text(m, keys);
}

static void header_line(StrBuf *b, const char *label, const char *value) {
  sb_printf(b, "**%s**: %s  \n", label, value);
}

static const char *basename_of(const char *path) {
  const char *s = strrchr(path, '/');
  return s && s[1] ? s + 1 : path;
}

static void header_models(StrBuf *b, const ReportCtx *ctx, const PhaseData *pds, int n) {
  StrList names = {0};
  for (int i = 0; i < n; i++)
    for (int c = 0; c < pds[i].n_configs; c++) {
      const char *m = pds[i].configs[c].axis[AX_MODEL];
      if (m[0] && strlist_find(&names, m) < 0) strlist_add(&names, "%s", m);
    }
  if (names.n == 0) {
    strlist_free(&names);
    return;
  }
  StrBuf v = {0};
  for (int i = 0; i < names.n; i++) {
    if (i) sb_append(&v, ", ");
    sb_append(&v, names.items[i]);
    int k = strlist_find(&ctx->plan->model_names, names.items[i]);
    const char *path = k >= 0 ? ctx->plan->model_paths.items[k] : NULL;
    char key1[300], key2[300];
    snprintf(key1, sizeof key1, "models.%s.fingerprint", names.items[i]);
    snprintf(key2, sizeof key2, "models.%s", names.items[i]);
    char *fp = mtext(ctx->manifest, key1, key2, NULL);
    if ((path && path[0]) || fp) {
      sb_append(&v, " (");
      if (path && path[0]) sb_printf(&v, "`%s`", basename_of(path));
      if (fp) sb_printf(&v, "%sfingerprint `%.12s`", path && path[0] ? ", " : "", fp);
      sb_append(&v, ")");
    }
    free(fp);
  }
  header_line(b, ctx->t->models, v.data);
  sb_free(&v);
  strlist_free(&names);
}

static int ran_on_cuda(const StoredJobs *rs) {
  for (int i = 0; i < rs->n_jobs; i++)
    if (strncmp(rs->jobs[i].axis[AX_DEVICE], "cuda", 4) == 0) return 1;
  return 0;
}

// The device line: the GPU (else the CPU), with the driver and CUDA versions only when a GPU ran
// something — the CUDA toolkit a CPU-only run was built with says nothing about the run.
static void header_device(StrBuf *b, const ReportCtx *ctx, const StoredJobs *rs) {
  const Manifest *m = ctx->manifest;
  char *gpu = mtext(m, "gpu", "gpus", "device");
  char *cpu = mtext(m, "cpu", "host.cpu", NULL);
  int on_gpu = gpu || ran_on_cuda(rs);
  char *driver = on_gpu ? mtext(m, "driver", "gpu_driver", "cuda_driver") : NULL;
  char *cuda = on_gpu ? mtext(m, "cuda", "cuda_version", "cuda_runtime") : NULL;
  StrBuf v = {0};
  if (gpu) sb_append(&v, gpu);
  else if (cpu) sb_append(&v, cpu);
  if (driver) sb_printf(&v, " · driver %s", driver);
  if (cuda) sb_printf(&v, " · CUDA %s", cuda);
  if (!v.len) {  // no manifest: the devices the jobs name
    StrList devs = {0};
    for (int i = 0; i < rs->n_jobs; i++) {
      const char *d = rs->jobs[i].axis[AX_DEVICE];
      if (d[0] && strlist_find(&devs, d) < 0) strlist_add(&devs, "%s", d);
    }
    for (int i = 0; i < devs.n; i++) sb_printf(&v, "%s%s", i ? ", " : "", devs.items[i]);
    strlist_free(&devs);
  }
  if (v.len) header_line(b, ctx->t->device, v.data);
  sb_free(&v);
  char *check = mtext(m, "gpu_check_summary", NULL, NULL);  // bench run's check of its GPUs
  if (check) header_line(b, ctx->t->gpu_check, check);
  free(check);
  char *host = mtext(m, "host", "hostname", "host.name");
  if (host && gpu && cpu) {
    char *line = xasprintf("%s · %s", host, cpu);
    header_line(b, ctx->t->host, line);
    free(line);
  } else if (host) {
    header_line(b, ctx->t->host, host);
  }
  free(host);
  free(gpu);
  free(cpu);
  free(driver);
  free(cuda);
}

static void run_span(const ReportCtx *ctx, const StoredJobs *rs, double *start, double *end) {
  char *s = mtext(ctx->manifest, "started", "start", "start_time");
  char *e = mtext(ctx->manifest, "finished", "end", "end_time");
  *start = report_parse_time(s);
  *end = report_parse_time(e);
  free(s);
  free(e);
  if (*start > 0 && *end > 0) return;
  double lo = 0, hi = 0;
  for (int i = 0; i < rs->n_jobs; i++) {
    const StoredJob *r = &rs->jobs[i];
    if (r->started > 0 && (lo == 0 || r->started < lo)) lo = r->started;
    if (r->finished > 0 && r->finished > hi) hi = r->finished;
  }
  if (!(*start > 0)) *start = lo;
  if (!(*end > 0)) *end = hi;
}

static int cmp_ptr(const void *a, const void *b) {
  uintptr_t x = (uintptr_t) * (const void *const *)a, y = (uintptr_t) * (const void *const *)b;
  return (x > y) - (x < y);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

static void header(StrBuf *b, const ReportCtx *ctx, const PhaseData *pds, int n, const char *results_dir) {
  const ReportText *t = ctx->t;
  const ReportPlan *plan = ctx->plan;
  sb_append(b, "# ");
  rfmt_md_escape(b, plan->title);  // the suite's text, like a phase title: no raw HTML, one line
  sb_append(b, "\n\n");
  header_models(b, ctx, pds, n);
  header_device(b, ctx, ctx->results);
  double start, end;
  run_span(ctx, ctx->results, &start, &end);
  if (start > 0 || end > 0) {
    char s[32], e[32], line[96];
    rfmt_time(start, s);
    rfmt_time(end, e);
    snprintf(line, sizeof line, "%s → %s", s, e);
    header_line(b, t->dates, line);
    if (start > 0 && end >= start) {
      char d[32];
      rfmt_duration(end - start, d);
      header_line(b, t->duration, d);
    }
  }
  char *ver = mtext(ctx->manifest, "bench_version", "version", NULL);
  char *commit = mtext(ctx->manifest, "git_commit", "commit", NULL);
  if (ver || commit) {
    char *line = xasprintf("bench %s%s%s%s", ver ? ver : "", ver && commit ? ", " : "",
                           commit ? "commit " : "", commit ? commit : "");
    header_line(b, t->commit, line);
    free(line);
  }
  char *msha = mtext(ctx->manifest, "suite_sha256", "suite.sha256", NULL);
  const char *sha = msha ? msha : plan->suite_sha256;
  if (sha) {
    char *line = xasprintf("`%s`", sha);
    header_line(b, t->suite_checksum, line);
    free(line);
  }
  char *spath = mtext(ctx->manifest, "suite_path", "suite_file", NULL);
  char *yaml = path_join(results_dir, "suite.yaml");
  if (spath || plan->from_suite) {  // the suite as given to `bench run`, else the copy kept with the results
    char *cmd = xasprintf("`bench run %s`", spath ? spath : yaml);
    header_line(b, t->reproduce, cmd);
    free(cmd);
  }
  free(yaml);
  free(spath);
  free(ver);
  free(commit);
  free(msha);
  // a job two phases share counts once
  int ok = 0, oom = 0, error = 0, found = 0, expected = 0, known = 1;
  const StoredJob **seen = NULL;
  const char **ids = NULL;
  int n_seen = 0, n_ids = 0;
  for (int i = 0; i < n; i++) {
    seen = xrealloc(seen, (size_t)(n_seen + pds[i].n_jobs + 1) * sizeof *seen);
    for (int k = 0; k < pds[i].n_jobs; k++) seen[n_seen++] = pds[i].jobs[k];
    const PhasePlan *pp = pds[i].plan;
    ids = xrealloc(ids, (size_t)(n_ids + pp->n_jobs + 1) * sizeof *ids);
    for (int k = 0; k < pp->n_jobs; k++) ids[n_ids++] = pp->jobs[k].id;
    if (pds[i].n_expected == 0) known = 0;
  }
  qsort(seen, (size_t)n_seen, sizeof *seen, cmp_ptr);
  qsort(ids, (size_t)n_ids, sizeof *ids, cmp_str);
  for (int k = 0; k < n_seen; k++) {
    if (k > 0 && seen[k] == seen[k - 1]) continue;
    found++;
    JobStatus st = seen[k]->res.status;
    if (st == JOB_OK) ok++;
    else if (st == JOB_OOM) oom++;
    else error++;
  }
  for (int k = 0; k < n_ids; k++) expected += k == 0 || strcmp(ids[k], ids[k - 1]) != 0;
  free(seen);
  free(ids);
  char line[256];
  if (known && expected > 0) snprintf(line, sizeof line, t->results_line, found, expected, ok, oom, error);
  else snprintf(line, sizeof line, t->results_line_noexp, found, ok, oom, error);
  sb_printf(b, "**%s**\n\n---\n\n", line);
}

static void experiment_list(StrBuf *b, const ReportCtx *ctx, const PhaseData *pds, int n, int section) {
  const ReportText *t = ctx->t;
  char num[16];
  report_section_number(t, section, num);
  sb_printf(b, "## %s%s\n\n", num, t->experiment_list);
  sb_printf(b, "| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", t->col_num, t->col_phase, t->col_title,
            t->col_jobs, t->col_ok, t->col_oom, t->col_error, t->col_missing, t->col_wall);
  sb_append(b, "|---:|---|---|---:|---:|---:|---:|---:|---:|\n");
  for (int i = 0; i < n; i++) {
    const PhaseData *pd = &pds[i];
    char wall[32], jobs[48], missing[16];
    rfmt_duration(pd->n_jobs ? pd->wall_s + phase_train_wall_s(pd) : NAN, wall);
    if (pd->n_expected > 0) snprintf(jobs, sizeof jobs, "%d/%d", pd->n_jobs, pd->n_expected);
    else snprintf(jobs, sizeof jobs, "%d", pd->n_jobs);
    if (pd->n_expected > 0) snprintf(missing, sizeof missing, "%d", pd->n_missing);
    else snprintf(missing, sizeof missing, "%s", t->nothing_yet);
    sb_printf(b, "| %d | %s | ", i + 1, pd->plan->id);
    rfmt_md_escape(b, pd->plan->title);
    sb_printf(b, " | %s | %d | %d | %d | %s | %s |\n", jobs, pd->n_ok, pd->n_oom, pd->n_error, missing, wall);
  }
  sb_append(b, "\n---\n\n");
}

static void missing_list(StrBuf *b, const PhaseData *pd, const ReportText *t) {
  if (pd->n_missing == 0 || pd->n_jobs == 0) return;
  char line[256];
  snprintf(line, sizeof line, t->n_missing, pd->n_missing, pd->n_expected);
  sb_printf(b, "*%s*", line);
  int multi_seed = pd->plan->n_seeds > 1;
  for (int i = 0; i < pd->n_missing && i < MAX_MISSING_LISTED; i++) {
    const MissingCell *m = &pd->missing[i];
    sb_printf(b, "%s`", i ? ", " : " ");
    rfmt_md_escape(b, m->config->label);
    sb_printf(b, "` @ %ld", m->length);
    if (multi_seed) sb_printf(b, " (seed %ld)", m->seed);
  }
  if (pd->n_missing > MAX_MISSING_LISTED) {
    snprintf(line, sizeof line, t->n_missing_more, pd->n_missing - MAX_MISSING_LISTED);
    sb_printf(b, " %s", line);
  }
  sb_append(b, "\n\n");
}

// Each conflict in full: the job, both values and both files.
static void conflict_list(StrBuf *b, const PhaseData *pd, const ReportText *t) {
  if (pd->n_conflicts == 0) return;
  char line[512];
  snprintf(line, sizeof line, t->n_conflicts, pd->n_conflicts);
  sb_printf(b, "*%s*\n\n", line);
  for (int i = 0; i < pd->n_conflicts; i++) {
    const Conflict *k = &pd->conflicts[i];
    char a[32], c[32];
    rfmt_ppl(k->a->ppl, a);
    rfmt_ppl(k->b->ppl, c);
    sb_append(b, "- `");
    rfmt_md_escape(b, pd->configs[k->config].label);
    sb_printf(b, "` @ %ld, seed %ld: PPL %s in `", k->length, k->seed, a);
    rfmt_md_escape(b, k->a->path);
    sb_printf(b, "`, PPL %s in `", c);
    rfmt_md_escape(b, k->b->path);
    sb_append(b, "`\n");
  }
  sb_append(b, "\n");
}

typedef void (*TableFn)(StrBuf *, const PhaseData *, const ReportReq *, const ReportCtx *);

static TableFn table_fn(const char *name) {
  if (strcmp(name, "collapse") == 0) return table_collapse;
  if (strcmp(name, "lengths") == 0) return table_lengths;
  if (strcmp(name, "seeds") == 0) return table_seeds;
  if (strcmp(name, "improvement") == 0) return table_improvement;
  if (strcmp(name, "leaderboard") == 0) return table_leaderboard;
  if (strcmp(name, "verdict") == 0) return table_verdict;
  if (strcmp(name, "kv_cost") == 0) return table_kv_cost;
  if (strcmp(name, "metrics") == 0) return table_metrics;
  return NULL;
}

static void phase_section(StrBuf *b, const ReportCtx *ctx, const PhaseData *pd, int section, int render,
                          FigureCount *count) {
  const ReportText *t = ctx->t;
  char num[16];
  report_section_number(t, section, num);
  sb_printf(b, "## %s%s %s", num, t->phase, pd->plan->id);
  if (pd->plan->title[0]) {
    sb_append(b, ": ");
    rfmt_md_escape(b, pd->plan->title);
  }
  sb_append(b, "\n\n");
  if (pd->n_jobs == 0) {
    char line[256];
    snprintf(line, sizeof line, t->n_no_results, pd->n_expected);
    sb_printf(b, "*%s*\n\n---\n\n", line);
    return;
  }
  phase_training(b, pd, ctx);
  phase_numerics(b, pd, ctx);
  int kv_asked = 0;
  for (int i = 0; i < pd->plan->n_reqs; i++) {
    const ReportReq *rq = &pd->plan->reqs[i];
    TableFn fn = strcmp(rq->kind, "table") == 0 ? table_fn(rq->name) : NULL;
    if (fn) fn(b, pd, rq, ctx);
    kv_asked |= fn == table_kv_cost;
  }
  if (!kv_asked && phase_shows_kv(pd)) table_kv_cost(b, pd, NULL, ctx);  // a cache policy ran: its cost
  conflict_list(b, pd, t);
  report_failures(b, pd, t);
  StrBuf f = {0};
  phase_findings(&f, pd, ctx);
  if (f.len) {
    report_heading(b, pd, ctx, t->key_findings);
    sb_printf(b, "%s\n", f.data);
  }
  sb_free(&f);
  int has_plot = 0;
  for (int i = 0; i < pd->plan->n_reqs; i++) has_plot |= strcmp(pd->plan->reqs[i].kind, "plot") == 0;
  if (has_plot) {
    report_heading(b, pd, ctx, t->figures);
    phase_figures(b, pd, ctx, render, count);
  }
  missing_list(b, pd, t);
  if (pd->n_duplicates > 0) {
    char line[256];
    snprintf(line, sizeof line, t->n_duplicates, pd->n_duplicates);
    sb_printf(b, "*%s*\n\n", line);
  }
  sb_append(b, "---\n\n");
}

static void notes(StrBuf *b, const ReportCtx *ctx, const char *plan_problem, int section) {
  const ReportText *t = ctx->t;
  StrBuf n = {0};
  char line[1200];
  if (plan_problem) {
    snprintf(line, sizeof line, t->n_no_plan, plan_problem);
    sb_printf(&n, "- %s\n", line);
  }
  if (!ctx->manifest->root && !ctx->manifest->problem) sb_printf(&n, "- %s\n", t->n_manifest_absent);
  if (ctx->manifest->problem) {
    snprintf(line, sizeof line, t->n_manifest_bad, ctx->manifest->problem);
    sb_printf(&n, "- %s\n", line);
  }
  char *msha = mtext(ctx->manifest, "suite_sha256", "suite.sha256", NULL);
  if (msha && ctx->plan->suite_sha256 && strcmp(msha, ctx->plan->suite_sha256) != 0) {
    snprintf(line, sizeof line, t->n_sha_differs, ctx->plan->suite_sha256, msha);
    sb_printf(&n, "- %s\n", line);
  }
  free(msha);
  const StoredJobs *rs = ctx->results;
  if (rs->n_skipped > 0) {
    snprintf(line, sizeof line, t->n_skipped, rs->n_skipped);
    sb_printf(&n, "- %s\n", line);
    for (int i = 0; i < rs->n_skipped && i < MAX_SKIPPED_LISTED; i++) {
      sb_append(&n, "  - ");
      rfmt_md_escape(&n, rs->skipped[i]);
      sb_append(&n, "\n");
    }
    if (rs->n_skipped > MAX_SKIPPED_LISTED) {
      snprintf(line, sizeof line, t->n_missing_more, rs->n_skipped - MAX_SKIPPED_LISTED);
      sb_printf(&n, "  - %s\n", line);
    }
  }
  if (n.len) {
    char num[16];
    report_section_number(t, section, num);
    sb_printf(b, "## %s%s\n\n%s\n", num, t->notes, n.data);
  }
  sb_free(&n);
}

void report_markdown(StrBuf *b, const ReportCtx *ctx, const PhaseData *pds, int n, const char *results_dir,
                     const char *plan_problem, int render, FigureCount *count) {
  header(b, ctx, pds, n, results_dir);
  int section = 1;
  experiment_list(b, ctx, pds, n, section++);
  for (int i = 0; i < n; i++) phase_section(b, ctx, &pds[i], section++, render, count);
  notes(b, ctx, plan_problem, section);
  char now[32];
  rfmt_time(wall_time(), now);
  sb_printf(b, "*%s %s · bench report %s*\n", strcmp(ctx->t->lang, "zh") == 0 ? "生成于" : "Generated at", now,
            results_dir);
}
