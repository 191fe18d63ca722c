// report_jobs.c — the job results of a directory as the report sees them: each file read by the
// results module's reader (results.h), then its axes, lengths and numbers picked out of its spec and
// metrics. A file that is not a valid result (the one rule of results.h: bad JSON, another schema,
// missing fields, a bad ppl, ..) is skipped with a reason; it never stops the report. Only reads: nothing under results/ is ever written here.
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "canon_json.h"
#include "report.h"

const char *const REPORT_AXIS_NAMES[N_AXES] = {"model", "dataset", "rope", "cache", "dtype", "train", "device"};

double report_parse_time(const char *s) {
  if (!s || !*s) return 0;
  struct tm tm;
  memset(&tm, 0, sizeof tm);
  const char *rest = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
  if (!rest) rest = strptime(s, "%Y-%m-%d %H:%M:%S", &tm);
  if (!rest) return 0;
  double t = (double)timegm(&tm);
  if (*rest == '.') {  // fraction of a second
    char *end;
    double frac = strtod(rest, &end);
    t += frac;
    rest = end;
  }
  if (*rest == '+' || *rest == '-') {  // ±hh:mm offset from UTC
    int sign = *rest == '+' ? 1 : -1, hh = 0, mm = 0;
    if (sscanf(rest + 1, "%2d:%2d", &hh, &mm) >= 1) t -= sign * (hh * 3600.0 + mm * 60.0);
  }
  return t;
}

// A spec field that is either "name" or {"name": ...}.
static const char *spec_name(const json_t *spec, const char *key) {
  json_t *v = json_object_get(spec, key);
  if (json_is_string(v)) return json_string_value(v);
  if (json_is_object(v)) {
    json_t *n = json_object_get(v, "name");
    if (json_is_string(n)) return json_string_value(n);
  }
  return "";
}

void report_spec_axes(const json_t *spec, const char *axis[N_AXES]) {
  for (int a = 0; a < N_AXES; a++) axis[a] = spec_name(spec, REPORT_AXIS_NAMES[a]);
}

// Drops every "name" of a variant and of the variants it inlines (a mix's `of`, a compress's `base`).
static void strip_names(json_t *v) {
  if (json_is_object(v)) {
    json_object_del(v, "name");
    const char *k;
    json_t *x;
    json_object_foreach(v, k, x) strip_names(x);
  } else if (json_is_array(v)) {
    size_t i;
    json_t *x;
    json_array_foreach(v, i, x) strip_names(x);
  }
}

char *report_spec_content(const json_t *spec, int with_device) {
  json_t *c = json_deep_copy(spec);
  if (!json_is_object(c)) {
    json_decref(c);
    return xstrdup("");
  }
  static const char *const variants[] = {"rope", "cache", "train"};
  for (size_t i = 0; i < sizeof variants / sizeof variants[0]; i++) strip_names(json_object_get(c, variants[i]));
  const char *dev = json_string_value(json_object_get(c, "device"));
  if (!with_device || !dev || strcmp(dev, "auto") == 0) {
    json_object_del(c, "device");
  } else {
    size_t n = strcspn(dev, ":");
    json_object_set_new(c, "device", json_stringn(dev, n));
  }
  char *text = json_canonical(c);
  json_decref(c);
  return text;
}

static long spec_long(json_t *o, const char *key) {
  json_t *v = json_object_get(o, key);
  if (json_is_integer(v)) return (long)json_integer_value(v);
  if (json_is_real(v)) return (long)json_real_value(v);
  return 0;
}

static double num_or_nan(json_t *o, const char *key) {
  json_t *v = json_object_get(o, key);
  return json_is_number(v) ? json_number_value(v) : NAN;
}

// Fills the report's view of r->res, a valid result (results.h).
static void job_view(StoredJob *r) {
  json_t *spec = r->res.spec, *m = r->res.metrics;
  report_spec_axes(spec, r->axis);
  r->content = report_spec_content(spec, 1);
  r->content_any_device = report_spec_content(spec, 0);
  r->protocol = spec_name(spec, "protocol");
  r->length = spec_long(spec, "length");
  r->seed = spec_long(spec, "seed");
  r->windows = spec_long(spec, "windows");
  r->ppl = r->nll = NAN;
  if (r->res.status == JOB_OK) {  // valid (results.h): ppl is a positive number
    r->ppl = num_or_nan(m, "ppl");
    r->nll = num_or_nan(m, "nll");
  }
  r->acc = num_or_nan(m, "acc");
  r->peak_mem_bytes = num_or_nan(m, "peak_mem_bytes");
  if (!(r->peak_mem_bytes > 0)) r->peak_mem_bytes = NAN;  // 0: not measured (the CPU engine)
  r->tokens = num_or_nan(m, "tokens");
  r->started = report_parse_time(r->res.started);
  r->finished = report_parse_time(r->res.finished);
  r->wall_s = num_or_nan(m, "wall_s");
  if (!isfinite(r->wall_s) && r->started > 0 && r->finished >= r->started) r->wall_s = r->finished - r->started;
}

int stored_jobs_load(const char *results_dir, StoredJobs *rs, BenchErr *err) {
  memset(rs, 0, sizeof *rs);
  JobFiles files;
  if (job_files_list(results_dir, &files, err) != 0) return -1;
  rs->jobs = xcalloc(files.n ? (size_t)files.n : 1, sizeof *rs->jobs);
  rs->skipped = xcalloc(files.n ? (size_t)files.n : 1, sizeof *rs->skipped);
  for (int i = 0; i < files.n; i++) {
    StoredJob *r = &rs->jobs[rs->n_jobs];
    BenchErr ferr;
    if (job_result_load(results_dir, files.ids[i], NULL, &r->res, &ferr) != RESULT_VALID) {
      rs->skipped[rs->n_skipped++] = xstrdup(ferr.msg);
      memset(r, 0, sizeof *r);
      continue;
    }
    job_view(r);
    r->path = job_result_path(results_dir, files.ids[i]);
    rs->n_jobs++;
  }
  job_files_free(&files);
  return 0;
}

void stored_jobs_free(StoredJobs *rs) {
  for (int i = 0; i < rs->n_jobs; i++) {
    free(rs->jobs[i].path);
    free(rs->jobs[i].content);
    free(rs->jobs[i].content_any_device);
    job_result_free(&rs->jobs[i].res);
  }
  for (int i = 0; i < rs->n_skipped; i++) free(rs->skipped[i]);
  free(rs->jobs);
  free(rs->skipped);
  memset(rs, 0, sizeof *rs);
}
