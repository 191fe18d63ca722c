// report_plan.c — what each phase expects and asks for: from the suite as run
// (results/<suite>/suite.yaml, read with the suite parser) or, when that file is missing or
// unusable, from the phases the results name.
#include <ctype.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"
#include "matrix.h"
#include "suite.h"

#define SUITE_MAX (4u << 20)

// Calls fn for each member of a variant, in member order, with its name (variant_member_name) and
// its value index per parameter ([n_params]).
typedef void (*MemberFn)(const Variant *v, const char *name, const int *value_index, void *arg);

static void variant_members(const Variant *v, MemberFn fn, void *arg) {
  int *idx = xcalloc((size_t)v->n_params + 1, sizeof *idx);
  for (int k = 0, n = variant_n_members(v); k < n; k++) {
    variant_member_indices(v, k, idx);
    char *name = variant_member_name(v, k);
    fn(v, name, idx, arg);
    free(name);
  }
  free(idx);
}

static void add_member(const Variant *v, const char *name, const int *value_index, void *arg) {
  (void)v;
  (void)value_index;
  StrList *out = arg;
  if (strlist_find(out, name) < 0) strlist_add(out, "%s", name);
}

typedef struct {
  const char *selector;
  StrList *out;
} SelectArg;

static void add_selected(const Variant *v, const char *name, const int *value_index, void *arg) {
  SelectArg *s = arg;
  if (variant_member_matches(v, value_index, s->selector) && strlist_find(s->out, name) < 0)
    strlist_add(s->out, "%s", name);
}

static const Variant *axis_variant(const Suite *s, Axis a, const char *name) {
  if (a == AX_ROPE) return suite_rope(s, name);
  if (a == AX_CACHE) return suite_cache(s, name);
  if (a == AX_TRAIN) return suite_train(s, name);
  return NULL;
}

// The values a name or selector stands for on an axis: a variant's members, the members a
// selector `name[k=v,...]` picks, or the value itself.
static void resolve_values(const Suite *s, Axis a, const char *value, StrList *out) {
  const char *br = strchr(value, '[');
  char *name = br ? xstrndup(value, (size_t)(br - value)) : xstrdup(value);
  const Variant *v = axis_variant(s, a, name);
  free(name);
  if (!v) {
    if (strlist_find(out, value) < 0) strlist_add(out, "%s", value);
  } else if (!br) {
    variant_members(v, add_member, out);
  } else {
    SelectArg arg = {value, out};
    variant_members(v, add_selected, &arg);
  }
}

static void names_resolve(const Suite *s, Axis a, const NameList *names, StrList *out) {
  for (int i = 0; i < names->n; i++) resolve_values(s, a, names->items[i], out);
}

static int cmp_long(const void *a, const void *b) {
  long x = *(const long *)a, y = *(const long *)b;
  return (x > y) - (x < y);
}

// The phase's jobs as the matrix expands it, each keyed as the report keys configs: the phase's
// names on the axes it lists, "" elsewhere (and for the device unless the phase varies it).
static void planned_jobs(const Matrix *mx, const PhaseJobs *pj, PhasePlan *pp) {
  pp->jobs = xcalloc(pj->n_jobs ? (size_t)pj->n_jobs : 1, sizeof *pp->jobs);
  pp->n_jobs = pj->n_jobs;
  for (int k = 0; k < pj->n_jobs; k++) {
    const json_t *spec = pj->specs[k];
    PlannedJob *q = &pp->jobs[k];
    const char *axis[N_AXES];
    report_spec_axes(spec, axis);
    for (int a = 0; a < N_AXES; a++) {
      int listed = a == AX_DEVICE ? pp->axis[a].n > 1 : pp->axis[a].n > 0;
      q->axis[a] = xstrdup(listed ? axis[a] : "");
    }
    q->length = (long)json_integer_value(json_object_get(spec, "length"));
    q->seed = (long)json_integer_value(json_object_get(spec, "seed"));
    q->content = report_spec_content(spec, 1);
    q->id = xstrdup(mx->jobs[pj->jobs[k]].id);
    const char *dev = json_string_value(json_object_get(spec, "device"));
    q->pinned = dev && strcmp(dev, "auto") != 0;
  }
}

static void phase_from_suite(const Suite *s, const Phase *ph, const Matrix *mx, const PhaseJobs *pj,
                             PhasePlan *pp) {
  const Settings *st = &ph->settings;
  pp->id = xstrdup(ph->id);
  pp->title = xstrdup(ph->title ? ph->title : "");
  pp->planned = 1;
  names_resolve(s, AX_MODEL, &st->models, &pp->axis[AX_MODEL]);
  names_resolve(s, AX_DATASET, &st->datasets, &pp->axis[AX_DATASET]);
  names_resolve(s, AX_ROPE, &st->rope, &pp->axis[AX_ROPE]);
  names_resolve(s, AX_CACHE, &st->cache, &pp->axis[AX_CACHE]);
  names_resolve(s, AX_DTYPE, &st->dtypes, &pp->axis[AX_DTYPE]);
  names_resolve(s, AX_TRAIN, &st->train, &pp->axis[AX_TRAIN]);
  names_resolve(s, AX_DEVICE, &st->devices, &pp->axis[AX_DEVICE]);
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
  planned_jobs(mx, pj, pp);
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

// The directory the suite's relative paths mean: the one of the suite file the run read (the
// manifest's suite_path, when it is still there from here), else the results directory holding
// the copy.
static char *suite_base_dir(const char *suite_yaml) {
  char *dir = path_dirname(suite_yaml);
  Manifest m;
  manifest_read(dir, &m);
  const char *orig = json_string_value(json_object_get(m.root, "suite_path"));
  if (orig && file_exists(orig)) {
    free(dir);
    dir = path_dirname(orig);
  }
  manifest_free(&m);
  return dir;
}

int report_plan_from_suite(const char *suite_yaml, ReportPlan *p, BenchErr *err) {
  memset(p, 0, sizeof *p);
  char *text = NULL;
  size_t len = 0;
  if (read_file(suite_yaml, SUITE_MAX, &text, &len, err) != 0) return -1;
  define_missing_vars(text);
  char sha[65];
  sha256_hex(text, len, sha);
  char *dir = suite_base_dir(suite_yaml);
  Diagnostics diag = {0};
  Suite *s = suite_load_buffer(suite_yaml, dir, text, len, &diag);
  free(dir);
  free(text);
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
  Matrix mx;
  if (matrix_build(s, &mx, err) != 0) {
    suite_free(s);
    return -1;
  }
  p->from_suite = 1;
  p->suite_id = xstrdup(s->suite ? s->suite : "");
  p->title = xstrdup(s->title && s->title[0] ? s->title : p->suite_id);
  p->suite_path = xstrdup(suite_yaml);
  p->suite_sha256 = xstrdup(sha);
  for (int i = 0; i < s->n_models; i++) {
    strlist_add(&p->model_names, "%s", s->models[i].name);
    strlist_add(&p->model_paths, "%s", s->models[i].path ? s->models[i].path : "");
  }
  p->severe = s->report_options.severe > 0 ? s->report_options.severe : 10;
  p->boundary = s->report_options.boundary > 0 ? s->report_options.boundary : 5;
  snprintf(p->lang, sizeof p->lang, "%s",
           s->report_options.lang && strcmp(s->report_options.lang, "zh") == 0 ? "zh" : "en");
  p->n_phases = s->n_phases;
  p->phases = xcalloc(s->n_phases ? (size_t)s->n_phases : 1, sizeof *p->phases);
  for (int i = 0; i < s->n_phases; i++) phase_from_suite(s, &s->phases[i], &mx, &mx.phases[i], &p->phases[i]);
  matrix_free(&mx);
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

void report_plan_add_result_phases(ReportPlan *p, const StoredJobs *rs) {
  StrList ids = {0};
  for (int i = 0; i < rs->n_jobs; i++)
    for (int k = 0; k < rs->jobs[i].res.n_phases; k++) {
      const char *id = rs->jobs[i].res.phases[k];
      int known = strlist_find(&ids, id) >= 0;
      for (int ph = 0; ph < p->n_phases && !known; ph++) known = strcmp(p->phases[ph].id, id) == 0;
      if (!known) strlist_add(&ids, "%s", id);
    }
  if (ids.n > 1) qsort(ids.items, (size_t)ids.n, sizeof *ids.items, cmp_version);
  p->phases = xrealloc(p->phases, (size_t)(p->n_phases + ids.n + 1) * sizeof *p->phases);
  for (int k = 0; k < ids.n; k++) {
    PhasePlan *pp = &p->phases[p->n_phases++];
    memset(pp, 0, sizeof *pp);
    pp->id = xstrdup(ids.items[k]);
    pp->title = xstrdup("");
    for (int i = 0; i < rs->n_jobs; i++) {
      const StoredJob *r = &rs->jobs[i];
      int mine = 0;
      for (int j = 0; j < r->res.n_phases; j++) mine |= strcmp(r->res.phases[j], pp->id) == 0;
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

void report_plan_from_results(const StoredJobs *rs, const char *suite_id, ReportPlan *p) {
  memset(p, 0, sizeof *p);
  p->suite_id = xstrdup(suite_id);
  p->title = xstrdup(suite_id);
  p->severe = 10;
  p->boundary = 5;
  snprintf(p->lang, sizeof p->lang, "en");
  report_plan_add_result_phases(p, rs);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int has_str(char **sorted, int n, const char *key) {
  return bsearch(&key, sorted, (size_t)n, sizeof *sorted, cmp_str) != NULL;
}

static int names_phase_id(const StoredJob *r, const char *id) {
  for (int k = 0; k < r->res.n_phases; k++)
    if (strcmp(r->res.phases[k], id) == 0) return 1;
  return 0;
}

void report_plan_mark_results(const ReportPlan *p, StoredJobs *rs) {
  // per phase: the contents of its pinned jobs and of its "auto" jobs, sorted
  char ***pinned = xcalloc(p->n_phases ? (size_t)p->n_phases : 1, sizeof *pinned);
  char ***autos = xcalloc(p->n_phases ? (size_t)p->n_phases : 1, sizeof *autos);
  int *n_pinned = xcalloc(p->n_phases ? (size_t)p->n_phases : 1, sizeof *n_pinned);
  int *n_auto = xcalloc(p->n_phases ? (size_t)p->n_phases : 1, sizeof *n_auto);
  for (int ph = 0; ph < p->n_phases; ph++) {
    const PhasePlan *pp = &p->phases[ph];
    pinned[ph] = xcalloc(pp->n_jobs ? (size_t)pp->n_jobs : 1, sizeof **pinned);
    autos[ph] = xcalloc(pp->n_jobs ? (size_t)pp->n_jobs : 1, sizeof **autos);
    for (int k = 0; k < pp->n_jobs; k++) {
      if (pp->jobs[k].pinned) pinned[ph][n_pinned[ph]++] = pp->jobs[k].content;
      else autos[ph][n_auto[ph]++] = pp->jobs[k].content;
    }
    qsort(pinned[ph], (size_t)n_pinned[ph], sizeof **pinned, cmp_str);
    qsort(autos[ph], (size_t)n_auto[ph], sizeof **autos, cmp_str);
  }
  for (int i = 0; i < rs->n_jobs; i++) {
    StoredJob *r = &rs->jobs[i];
    int named = 0;
    for (int ph = 0; ph < p->n_phases; ph++) named |= p->phases[ph].planned && names_phase_id(r, p->phases[ph].id);
    r->pinned_job = r->auto_job = 0;
    for (int ph = 0; ph < p->n_phases; ph++) {
      if (named && !names_phase_id(r, p->phases[ph].id)) continue;
      r->pinned_job |= has_str(pinned[ph], n_pinned[ph], r->content);
      r->auto_job |= has_str(autos[ph], n_auto[ph], r->content_any_device);
    }
  }
  for (int ph = 0; ph < p->n_phases; ph++) {
    free(pinned[ph]);
    free(autos[ph]);
  }
  free(pinned);
  free(autos);
  free(n_pinned);
  free(n_auto);
}

void report_plan_free(ReportPlan *p) {
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
    for (int k = 0; k < pp->n_jobs; k++) {
      for (int a = 0; a < N_AXES; a++) free(pp->jobs[k].axis[a]);
      free(pp->jobs[k].content);
      free(pp->jobs[k].id);
    }
    free(pp->jobs);
  }
  free(p->phases);
  free(p->suite_id);
  free(p->title);
  free(p->suite_path);
  free(p->suite_sha256);
  strlist_free(&p->model_names);
  strlist_free(&p->model_paths);
  memset(p, 0, sizeof *p);
}
