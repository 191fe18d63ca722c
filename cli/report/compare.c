// compare.c — pairs the job results of two result directories and measures how far apart they are.
// Matching: by job_id first; a job whose id has no partner is matched by its phase and its spec
// without "device" (the same job run on another machine, or under another id scheme).
#include "compare.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

// "phase|canonical spec without device".
static char *spec_key(const StoredJob *r) {
  json_t *spec = json_deep_copy(r->res.spec);
  json_object_del(spec, "device");
  char *dump = json_dumps(spec, JSON_SORT_KEYS | JSON_COMPACT);
  json_decref(spec);
  StrBuf b = {0};
  for (int k = 0; k < r->res.n_phases; k++) sb_printf(&b, "%s%s", k ? "," : "", r->res.phases[k]);
  sb_printf(&b, "|%s", dump ? dump : "");
  free(dump);
  return b.data;
}

static double rel_pct(double a, double b) {
  if (!isfinite(a) || !isfinite(b) || a == 0) return NAN;
  return 100.0 * (b - a) / fabs(a);
}

int compare_over_tol(const ComparePair *p, double tol_pct) {
  return (isfinite(p->d_ppl) && fabs(p->d_ppl) > tol_pct) || (isfinite(p->d_nll) && fabs(p->d_nll) > tol_pct);
}

void compare_results(const StoredJobs *a, const StoredJobs *b, double tol_pct, Comparison *out) {
  memset(out, 0, sizeof *out);
  out->tol_pct = tol_pct;
  out->i_max_ppl = -1;
  int *used_b = xcalloc(b->n_jobs ? (size_t)b->n_jobs : 1, sizeof *used_b);
  int *match_a = xcalloc(a->n_jobs ? (size_t)a->n_jobs : 1, sizeof *match_a);
  int *by_spec = xcalloc(a->n_jobs ? (size_t)a->n_jobs : 1, sizeof *by_spec);
  for (int i = 0; i < a->n_jobs; i++) {
    match_a[i] = -1;
    if (!a->jobs[i].res.job_id[0]) continue;
    for (int j = 0; j < b->n_jobs; j++)
      if (!used_b[j] && strcmp(a->jobs[i].res.job_id, b->jobs[j].res.job_id) == 0) {
        match_a[i] = j;
        used_b[j] = 1;
        break;
      }
  }
  char **keys_b = xcalloc(b->n_jobs ? (size_t)b->n_jobs : 1, sizeof *keys_b);
  for (int i = 0; i < a->n_jobs; i++) {
    if (match_a[i] >= 0) continue;
    char *ka = spec_key(&a->jobs[i]);
    for (int j = 0; j < b->n_jobs; j++) {
      if (used_b[j]) continue;
      if (!keys_b[j]) keys_b[j] = spec_key(&b->jobs[j]);
      if (strcmp(ka, keys_b[j]) == 0) {
        match_a[i] = j;
        used_b[j] = 1;
        by_spec[i] = 1;
        break;
      }
    }
    free(ka);
  }
  for (int j = 0; j < b->n_jobs; j++) free(keys_b[j]);
  free(keys_b);
  out->pairs = xcalloc(a->n_jobs ? (size_t)a->n_jobs : 1, sizeof *out->pairs);
  out->only_a = xcalloc(a->n_jobs ? (size_t)a->n_jobs : 1, sizeof *out->only_a);
  out->only_b = xcalloc(b->n_jobs ? (size_t)b->n_jobs : 1, sizeof *out->only_b);
  double sum_ppl = 0, sum_nll = 0;
  int n_nll = 0;
  for (int i = 0; i < a->n_jobs; i++) {
    if (match_a[i] < 0) {
      out->only_a[out->n_only_a++] = &a->jobs[i];
      continue;
    }
    ComparePair *p = &out->pairs[out->n_pairs];
    p->a = &a->jobs[i];
    p->b = &b->jobs[match_a[i]];
    p->by_spec = by_spec[i];
    p->d_ppl = rel_pct(p->a->ppl, p->b->ppl);
    p->d_nll = rel_pct(p->a->nll, p->b->nll);
    if (p->a->res.status != p->b->res.status) out->n_status_differs++;
    if (isfinite(p->d_ppl)) {
      out->n_compared++;
      sum_ppl += fabs(p->d_ppl);
      if (out->i_max_ppl < 0 || fabs(p->d_ppl) > out->max_ppl) {
        out->max_ppl = fabs(p->d_ppl);
        out->i_max_ppl = out->n_pairs;
      }
    }
    if (isfinite(p->d_nll)) {
      n_nll++;
      sum_nll += fabs(p->d_nll);
      if (fabs(p->d_nll) > out->max_nll) out->max_nll = fabs(p->d_nll);
    }
    if (compare_over_tol(p, tol_pct)) out->n_over++;
    out->n_pairs++;
  }
  for (int j = 0; j < b->n_jobs; j++)
    if (!used_b[j]) out->only_b[out->n_only_b++] = &b->jobs[j];
  out->mean_ppl = out->n_compared ? sum_ppl / out->n_compared : NAN;
  out->mean_nll = n_nll ? sum_nll / n_nll : NAN;
  if (!out->n_compared) out->max_ppl = NAN;
  if (!n_nll) out->max_nll = NAN;
  free(used_b);
  free(match_a);
  free(by_spec);
}

void comparison_free(Comparison *c) {
  free(c->pairs);
  free(c->only_a);
  free(c->only_b);
  memset(c, 0, sizeof *c);
}

void compare_job_name(const StoredJob *r, char *out, size_t n) {
  StrBuf b = {0};
  for (int k = 0; k < r->res.n_phases; k++) sb_printf(&b, "%s%s", k ? "," : "", r->res.phases[k]);
  sb_append(&b, " ");
  int first = 1;
  for (int a = 0; a < N_AXES; a++) {
    if (a == AX_DEVICE || !r->axis[a][0]) continue;
    sb_printf(&b, "%s%s", first ? "" : "/", r->axis[a]);
    first = 0;
  }
  sb_printf(&b, " L=%ld seed=%ld", r->length, r->seed);
  snprintf(out, n, "%s", b.data);
  sb_free(&b);
}

// ---- manifests ----
static int is_time_key(const char *key) {
  static const char *const TIME_KEYS[] = {"started", "finished", "start", "end", "start_time", "end_time", NULL};
  const char *leaf = strrchr(key, '.');
  leaf = leaf ? leaf + 1 : key;
  for (int i = 0; TIME_KEYS[i]; i++)
    if (strcmp(leaf, TIME_KEYS[i]) == 0) return 1;
  return 0;
}

// The manifest's "runs" (one record per bench run on the directory) in one line: how many, on which
// hosts and devices, which shards, and the job outcomes; commands and times differ by nature.
static char *runs_summary(json_t *runs) {
  StrList hosts = {0}, devs = {0}, shards = {0};
  long ok = 0, oom = 0, error = 0, crashed = 0;
  size_t i;
  json_t *r;
  json_array_foreach(runs, i, r) {
    const char *h = json_string_value(json_object_get(r, "host"));
    if (h && strlist_find(&hosts, h) < 0) strlist_add(&hosts, "%s", h);
    const char *sh = json_string_value(json_object_get(r, "shard"));
    if (sh && strlist_find(&shards, sh) < 0) strlist_add(&shards, "%s", sh);
    size_t k;
    json_t *d;
    json_array_foreach(json_object_get(r, "devices"), k, d)
      if (json_is_string(d) && strlist_find(&devs, json_string_value(d)) < 0) strlist_add(&devs, "%s", json_string_value(d));
    ok += (long)json_integer_value(json_object_get(r, "ok"));
    oom += (long)json_integer_value(json_object_get(r, "oom"));
    error += (long)json_integer_value(json_object_get(r, "error"));
    crashed += (long)json_integer_value(json_object_get(r, "crashed"));
  }
  StrBuf b = {0};
  size_t n = json_array_size(runs);
  sb_printf(&b, "%zu run%s on ", n, n == 1 ? "" : "s");
  for (int k = 0; k < hosts.n; k++) sb_printf(&b, "%s%s", k ? ", " : "", hosts.items[k]);
  sb_append(&b, " (");
  for (int k = 0; k < devs.n; k++) sb_printf(&b, "%s%s", k ? ", " : "", devs.items[k]);
  sb_append(&b, ")");
  for (int k = 0; k < shards.n; k++) sb_printf(&b, "%s%s", k ? ", " : ", shard ", shards.items[k]);
  sb_printf(&b, "; %ld ok, %ld oom, %ld error, %ld crashed", ok, oom, error, crashed);
  strlist_free(&hosts);
  strlist_free(&devs);
  strlist_free(&shards);
  return b.data;
}

static void flatten(json_t *v, const char *prefix, StrList *keys, StrList *vals) {
  if (strcmp(prefix, "runs") == 0 && json_is_array(v)) {
    char *text = runs_summary(v);
    strlist_add(keys, "%s", prefix);
    strlist_add(vals, "%s", text ? text : "");
    free(text);
    return;
  }
  if (json_is_object(v)) {
    const char *k;
    json_t *child;
    json_object_foreach(v, k, child) {
      char *path = prefix[0] ? xasprintf("%s.%s", prefix, k) : xstrdup(k);
      flatten(child, path, keys, vals);
      free(path);
    }
    return;
  }
  if (is_time_key(prefix)) return;
  char *text;
  if (json_is_string(v)) text = xstrdup(json_string_value(v));
  else text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_SORT_KEYS);
  strlist_add(keys, "%s", prefix);
  strlist_add(vals, "%s", text ? text : "");
  free(text);
}

int compare_manifests(const Manifest *a, const Manifest *b, FILE *out) {
  StrList ka = {0}, va = {0}, kb = {0}, vb = {0};
  if (a->root) flatten(a->root, "", &ka, &va);
  if (b->root) flatten(b->root, "", &kb, &vb);
  int n = 0;
  for (int i = 0; i < ka.n; i++) {
    int j = strlist_find(&kb, ka.items[i]);
    if (j >= 0 && strcmp(va.items[i], vb.items[j]) == 0) continue;
    fprintf(out, "  %s: %s | %s\n", ka.items[i], va.items[i], j >= 0 ? vb.items[j] : "(absent)");
    n++;
  }
  for (int j = 0; j < kb.n; j++) {
    if (strlist_find(&ka, kb.items[j]) >= 0) continue;
    fprintf(out, "  %s: (absent) | %s\n", kb.items[j], vb.items[j]);
    n++;
  }
  strlist_free(&ka);
  strlist_free(&va);
  strlist_free(&kb);
  strlist_free(&vb);
  return n;
}
