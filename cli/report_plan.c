// report_plan.c — what each phase expects and asks for: from the suite as run
// (results/<suite>/suite.yaml, read with the suite parser) or, when that file is missing or
// unusable, from the phases the results name.
#include <ctype.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"
#include "suite.h"

#define SUITE_MAX (4u << 20)

#pragma weak suite_load
#pragma weak suite_free
#pragma weak diagnostics_free

void strlist_add(StrList *l, const char *s) {
  l->v = xrealloc(l->v, (size_t)(l->n + 1) * sizeof *l->v);
  l->v[l->n++] = xstrdup(s ? s : "");
}

int strlist_find(const StrList *l, const char *s) {
  for (int i = 0; i < l->n; i++)
    if (strcmp(l->v[i], s) == 0) return i;
  return -1;
}

void strlist_free(StrList *l) {
  for (int i = 0; i < l->n; i++) free(l->v[i]);
  free(l->v);
  l->v = NULL;
  l->n = 0;
}

int variant_name_matches(const char *pattern, const char *member) {
  if (strcmp(pattern, member) == 0) return 1;
  size_t n = strlen(pattern);
  return strncmp(pattern, member, n) == 0 && member[n] == '[';
}

// Member names of a variant: "name" alone, or "name[k=v,...]" over the product of its swept
// parameters (file order, the last parameter varying fastest).
static void variant_members(const Variant *v, StrList *out) {
  int swept[64], n_swept = 0;
  for (int i = 0; i < v->n_params && n_swept < 64; i++)
    if (v->params[i].n_values > 1) swept[n_swept++] = i;
  if (n_swept == 0) {
    strlist_add(out, v->name);
    return;
  }
  int idx[64] = {0};
  for (;;) {
    StrBuf b = {0};
    sb_printf(&b, "%s[", v->name);
    for (int s = 0; s < n_swept; s++) {
      const Param *p = &v->params[swept[s]];
      const ParamValue *pv = &p->values[idx[s]];
      sb_printf(&b, "%s%s=%s", s ? "," : "", p->key, pv->text ? pv->text : "");
    }
    sb_append(&b, "]");
    strlist_add(out, b.data);
    sb_free(&b);
    int s = n_swept - 1;
    while (s >= 0 && ++idx[s] == v->params[swept[s]].n_values) idx[s--] = 0;
    if (s < 0) break;
  }
}

static void names_to_members(const NameList *names, const Variant *defs, int n_defs, StrList *out) {
  for (int i = 0; i < names->n; i++) {
    const Variant *v = NULL;
    for (int j = 0; j < n_defs; j++)
      if (strcmp(defs[j].name, names->items[i]) == 0) v = &defs[j];
    if (v) variant_members(v, out);
    else strlist_add(out, names->items[i]);
  }
}

static void names_copy(const NameList *names, StrList *out) {
  for (int i = 0; i < names->n; i++) strlist_add(out, names->items[i]);
}

static int cmp_long(const void *a, const void *b) {
  long x = *(const long *)a, y = *(const long *)b;
  return (x > y) - (x < y);
}

static const char *pool_add(ReportPlan *p, const char *s) {
  strlist_add(&p->pool, s);
  return p->pool.v[p->pool.n - 1];
}

static void exclude_from(ReportPlan *p, const Assignment *a, ExcludeRule *r) {
  memset(r, 0, sizeof *r);
  for (int i = 0; i < a->n; i++) {
    const char *ax = a->axes[i], *val = a->values[i];
    if (strcmp(ax, "length") == 0) {
      r->has_length = 1;
      r->length = strtol(val, NULL, 10);
    } else if (strcmp(ax, "seed") == 0) {
      r->has_seed = 1;
      r->seed = strtol(val, NULL, 10);
    } else {
      for (int k = 0; k < N_AXES; k++)
        if (strcmp(ax, AXIS_NAMES[k]) == 0) r->axis_value[k] = pool_add(p, val);
    }
  }
}

static void phase_from_suite(ReportPlan *p, const Suite *s, const Phase *ph, PhasePlan *pp) {
  const Settings *st = &ph->settings;
  pp->id = xstrdup(ph->id);
  pp->title = xstrdup(ph->title ? ph->title : "");
  names_copy(&st->models, &pp->axis[AX_MODEL]);
  names_copy(&st->datasets, &pp->axis[AX_DATASET]);
  names_to_members(&st->rope, s->rope, s->n_rope, &pp->axis[AX_ROPE]);
  names_to_members(&st->cache, s->cache, s->n_cache, &pp->axis[AX_CACHE]);
  names_copy(&st->dtypes, &pp->axis[AX_DTYPE]);
  names_copy(&st->train, &pp->axis[AX_TRAIN]);
  names_copy(&st->devices, &pp->axis[AX_DEVICE]);
  pp->n_lengths = st->lengths.n;
  pp->lengths = xcalloc(st->lengths.n ? (size_t)st->lengths.n : 1, sizeof *pp->lengths);
  memcpy(pp->lengths, st->lengths.items, (size_t)st->lengths.n * sizeof *pp->lengths);
  qsort(pp->lengths, (size_t)pp->n_lengths, sizeof *pp->lengths, cmp_long);
  pp->n_seeds = st->seeds.n;
  pp->seeds = xcalloc(st->seeds.n ? (size_t)st->seeds.n : 1, sizeof *pp->seeds);
  memcpy(pp->seeds, st->seeds.items, (size_t)st->seeds.n * sizeof *pp->seeds);
  pp->base_length = st->base_length;
  pp->protocol = st->protocol ? xstrdup(st->protocol) : NULL;
  pp->windows = st->windows;
  pp->n_reqs = ph->n_reports;
  pp->reqs = xcalloc(ph->n_reports ? (size_t)ph->n_reports : 1, sizeof *pp->reqs);
  for (int i = 0; i < ph->n_reports; i++) {
    const ReportRequest *rq = &ph->reports[i];
    ReportReq *q = &pp->reqs[i];
    q->kind = xstrdup(rq->kind ? rq->kind : "");
    q->name = xstrdup(rq->name ? rq->name : "");
    q->at = rq->at;
    q->baseline = rq->baseline ? xstrdup(rq->baseline) : NULL;
    q->param = rq->param ? xstrdup(rq->param) : NULL;
  }
  pp->n_excl = ph->n_exclude;
  pp->excl = xcalloc(ph->n_exclude ? (size_t)ph->n_exclude : 1, sizeof *pp->excl);
  for (int i = 0; i < ph->n_exclude; i++) exclude_from(p, &ph->exclude[i], &pp->excl[i]);
}

// The report only needs names and numbers, never model or data paths: a variable the suite
// names but this machine lacks (${BENCH_MODELS} on a laptop) is set empty so the suite as run
// still parses here.
static void define_missing_vars(const char *text) {
  for (const char *p = strstr(text, "${"); p; p = strstr(p + 2, "${")) {
    const char *end = strchr(p + 2, '}');
    if (!end || end - p - 2 <= 0 || end - p - 2 > 200) continue;
    char name[256];
    memcpy(name, p + 2, (size_t)(end - p - 2));
    name[end - p - 2] = 0;
    int ok = 1;
    for (char *c = name; *c; c++)
      if (!isalnum((unsigned char)*c) && *c != '_') ok = 0;
    if (ok && !getenv(name)) setenv(name, "", 0);
  }
}

int plan_from_suite_file(const char *suite_yaml, ReportPlan *p, BenchErr *err) {
  memset(p, 0, sizeof *p);
  char *text = NULL;
  size_t len = 0;
  if (!suite_load) return err_set(err, "the suite parser is not part of this build");
  if (read_file(suite_yaml, SUITE_MAX, &text, &len, err) != 0) return -1;
  define_missing_vars(text);
  char sha[65];
  sha256_hex(text, len, sha);
  free(text);
  Diagnostics diag = {0};
  Suite *s = suite_load(suite_yaml, &diag);
  if (!s) {
    if (diag.n_errors > 0) {
      const Diagnostic *d = &diag.errors[0];
      if (d->mark.line > 0)
        err_set(err, "%s:%d:%d: %s", d->file ? d->file : suite_yaml, d->mark.line, d->mark.col,
                d->message);
      else
        err_set(err, "%s: %s", d->file ? d->file : suite_yaml, d->message);
    } else {
      err_set(err, "cannot read the suite '%s'", suite_yaml);
    }
    diagnostics_free(&diag);
    return -1;
  }
  diagnostics_free(&diag);
  p->from_suite = 1;
  p->suite_id = xstrdup(s->suite ? s->suite : "");
  p->title = xstrdup(s->title && s->title[0] ? s->title : p->suite_id);
  p->suite_path = xstrdup(suite_yaml);
  p->suite_sha256 = xstrdup(sha);
  for (int i = 0; i < s->n_models; i++) {
    strlist_add(&p->model_names, s->models[i].name);
    strlist_add(&p->model_paths, s->models[i].path ? s->models[i].path : "");
  }
  p->severe = s->report_options.severe > 0 ? s->report_options.severe : 10;
  p->boundary = s->report_options.boundary > 0 ? s->report_options.boundary : 5;
  snprintf(p->lang, sizeof p->lang, "%s",
           s->report_options.lang && strcmp(s->report_options.lang, "zh") == 0 ? "zh" : "en");
  p->n_phases = s->n_phases;
  p->phases = xcalloc(s->n_phases ? (size_t)s->n_phases : 1, sizeof *p->phases);
  for (int i = 0; i < s->n_phases; i++) phase_from_suite(p, s, &s->phases[i], &p->phases[i]);
  suite_free(s);
  return 0;
}

static int cmp_version(const void *a, const void *b) {
  return strverscmp(*(char *const *)a, *(char *const *)b);
}

static void add_long_unique(long **v, int *n, long x) {
  for (int i = 0; i < *n; i++)
    if ((*v)[i] == x) return;
  *v = xrealloc(*v, (size_t)(*n + 1) * sizeof **v);
  (*v)[(*n)++] = x;
}

void plan_add_result_phases(ReportPlan *p, const ResultSet *rs) {
  StrList ids = {0};
  for (int i = 0; i < rs->n_jobs; i++)
    for (int k = 0; k < rs->jobs[i].n_phases; k++) {
      const char *id = rs->jobs[i].phases[k];
      int known = strlist_find(&ids, id) >= 0;
      for (int ph = 0; ph < p->n_phases && !known; ph++) known = strcmp(p->phases[ph].id, id) == 0;
      if (!known) strlist_add(&ids, id);
    }
  if (ids.n > 1) qsort(ids.v, (size_t)ids.n, sizeof *ids.v, cmp_version);
  p->phases = xrealloc(p->phases, (size_t)(p->n_phases + ids.n + 1) * sizeof *p->phases);
  for (int k = 0; k < ids.n; k++) {
    PhasePlan *pp = &p->phases[p->n_phases++];
    memset(pp, 0, sizeof *pp);
    pp->id = xstrdup(ids.v[k]);
    pp->title = xstrdup("");
    for (int i = 0; i < rs->n_jobs; i++) {
      const JobResult *r = &rs->jobs[i];
      int mine = 0;
      for (int j = 0; j < r->n_phases; j++) mine |= strcmp(r->phases[j], pp->id) == 0;
      if (!mine) continue;
      add_long_unique(&pp->lengths, &pp->n_lengths, r->length);
      add_long_unique(&pp->seeds, &pp->n_seeds, r->seed);
    }
    if (pp->n_lengths > 1) qsort(pp->lengths, (size_t)pp->n_lengths, sizeof *pp->lengths, cmp_long);
    pp->n_reqs = 2;
    pp->reqs = xcalloc(2, sizeof *pp->reqs);
    pp->reqs[0].kind = xstrdup("table");
    pp->reqs[0].name = xstrdup("lengths");
    pp->reqs[1].kind = xstrdup("plot");
    pp->reqs[1].name = xstrdup("ppl_vs_length");
  }
  strlist_free(&ids);
}

void plan_from_results(const ResultSet *rs, const char *suite_id, ReportPlan *p) {
  memset(p, 0, sizeof *p);
  p->suite_id = xstrdup(suite_id);
  p->title = xstrdup(suite_id);
  p->severe = 10;
  p->boundary = 5;
  snprintf(p->lang, sizeof p->lang, "en");
  plan_add_result_phases(p, rs);
}

void plan_free(ReportPlan *p) {
  for (int i = 0; i < p->n_phases; i++) {
    PhasePlan *pp = &p->phases[i];
    free(pp->id);
    free(pp->title);
    for (int a = 0; a < N_AXES; a++) strlist_free(&pp->axis[a]);
    free(pp->lengths);
    free(pp->seeds);
    free(pp->protocol);
    for (int k = 0; k < pp->n_reqs; k++) {
      free(pp->reqs[k].kind);
      free(pp->reqs[k].name);
      free(pp->reqs[k].baseline);
      free(pp->reqs[k].param);
    }
    free(pp->reqs);
    free(pp->excl);
  }
  free(p->phases);
  free(p->suite_id);
  free(p->title);
  free(p->suite_path);
  free(p->suite_sha256);
  strlist_free(&p->model_names);
  strlist_free(&p->model_paths);
  strlist_free(&p->pool);
  memset(p, 0, sizeof *p);
}
