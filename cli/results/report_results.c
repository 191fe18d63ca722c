// report_results.c — reads results/<suite>/jobs/*.json ("bench.job/1") into JobResults.
// A file that cannot be used (bad JSON, another schema, missing fields) is skipped with a reason;
// it never stops the report. Only reads: nothing under results/ is ever written here.
#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "report.h"

#define JOB_FILE_MAX (64u << 20)  // a job result is a few KB; refuse anything absurd

const char *const REPORT_AXIS_NAMES[N_AXES] = {"model", "dataset", "rope", "cache", "dtype", "train", "device"};

const char *stored_status_name(StoredStatus s) {
  switch (s) {
    case RES_OK: return "ok";
    case RES_OOM: return "oom";
    case RES_ERROR: return "error";
    case RES_CRASHED: return "crashed";
  }
  return "error";
}

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
static const char *spec_name(json_t *spec, const char *key) {
  json_t *v = json_object_get(spec, key);
  if (json_is_string(v)) return json_string_value(v);
  if (json_is_object(v)) {
    json_t *n = json_object_get(v, "name");
    if (json_is_string(n)) return json_string_value(n);
  }
  return "";
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

// Fills r from its JSON; returns a reason (static or allocated into *why) when unusable.
static int job_from_json(StoredJob *r, json_t *root, char **why) {
  *why = NULL;
  json_t *schema = json_object_get(root, "schema");
  if (!json_is_string(schema)) {
    *why = xstrdup("no \"schema\" field: not a bench job result");
    return -1;
  }
  const char *sv = json_string_value(schema);
  if (strcmp(sv, STORED_JOB_SCHEMA) != 0) {
    if (strncmp(sv, "bench.job/", 10) == 0)
      *why = xasprintf("schema '%s' is not '%s': written by another bench version; report it "
                       "with that version, or re-run the job with this one (bench run --fresh)",
                       sv, STORED_JOB_SCHEMA);
    else
      *why = xasprintf("schema '%s' is not '%s': not a bench job result", sv, STORED_JOB_SCHEMA);
    return -1;
  }
  json_t *spec = json_object_get(root, "spec");
  if (!json_is_object(spec)) {
    *why = xstrdup("no \"spec\" object");
    return -1;
  }
  // "phases" lists every phase holding a shared job; "phase" (a string, or a list) the first
  json_t *phase = json_object_get(root, "phases");
  if (!json_is_array(phase) || json_array_size(phase) == 0) phase = json_object_get(root, "phase");
  if (json_is_string(phase)) {
    r->phases = xmalloc(sizeof *r->phases);
    r->phases[0] = json_string_value(phase);
    r->n_phases = 1;
  } else if (json_is_array(phase) && json_array_size(phase) > 0) {
    size_t n = json_array_size(phase);
    r->phases = xcalloc(n, sizeof *r->phases);
    for (size_t i = 0; i < n; i++)
      if (json_is_string(json_array_get(phase, i)))
        r->phases[r->n_phases++] = json_string_value(json_array_get(phase, i));
  }
  if (r->n_phases == 0) {
    *why = xstrdup("no \"phase\" field");
    return -1;
  }
  json_t *status = json_object_get(root, "status");
  const char *st = json_is_string(status) ? json_string_value(status) : "";
  if (strcmp(st, "ok") == 0) r->status = RES_OK;
  else if (strcmp(st, "oom") == 0) r->status = RES_OOM;
  else if (strcmp(st, "error") == 0) r->status = RES_ERROR;
  else if (strcmp(st, "crashed") == 0) r->status = RES_CRASHED;
  else {
    *why = xasprintf("status '%s' is not one of ok, oom, error, crashed", st);
    return -1;
  }
  r->root = root;
  r->spec = spec;
  json_t *id = json_object_get(root, "job_id");
  r->job_id = json_is_string(id) ? json_string_value(id) : "";
  json_t *err = json_object_get(root, "error");
  r->error = json_is_string(err) ? json_string_value(err) : NULL;
  r->axis[AX_MODEL] = spec_name(spec, "model");
  r->axis[AX_DATASET] = spec_name(spec, "dataset");
  r->axis[AX_ROPE] = spec_name(spec, "rope");
  r->axis[AX_CACHE] = spec_name(spec, "cache");
  r->axis[AX_DTYPE] = spec_name(spec, "dtype");
  r->axis[AX_TRAIN] = spec_name(spec, "train");
  r->axis[AX_DEVICE] = spec_name(spec, "device");
  r->protocol = spec_name(spec, "protocol");
  r->length = spec_long(spec, "length");
  r->seed = spec_long(spec, "seed");
  r->windows = spec_long(spec, "windows");
  json_t *m = json_object_get(root, "metrics");
  r->metrics = json_is_object(m) ? m : NULL;
  r->ppl = r->nll = NAN;
  if (r->status == RES_OK) {
    r->ppl = num_or_nan(r->metrics, "ppl");
    r->nll = num_or_nan(r->metrics, "nll");
    if (!isfinite(r->ppl) && isfinite(r->nll)) r->ppl = exp(r->nll);
    if (!isfinite(r->ppl) || r->ppl <= 0) {
      *why = xstrdup("status ok but no positive metrics.ppl");
      return -1;
    }
  }
  json_t *started = json_object_get(root, "started"), *finished = json_object_get(root, "finished");
  r->started = report_parse_time(json_is_string(started) ? json_string_value(started) : NULL);
  r->finished = report_parse_time(json_is_string(finished) ? json_string_value(finished) : NULL);
  r->wall_s = num_or_nan(r->metrics, "wall_s");
  if (!isfinite(r->wall_s) && r->started > 0 && r->finished >= r->started)
    r->wall_s = r->finished - r->started;
  if (r->length <= 0) {
    *why = xstrdup("spec.length is missing or not positive");
    return -1;
  }
  return 0;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static int ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), m = strlen(suffix);
  return n >= m && strcmp(s + n - m, suffix) == 0;
}

int stored_jobs_load(const char *results_dir, StoredJobs *rs, BenchErr *err) {
  memset(rs, 0, sizeof *rs);
  char *jobs_dir = path_join(results_dir, "jobs");
  DIR *d = opendir(jobs_dir);
  if (!d) {
    int absent = !file_exists(jobs_dir);
    if (!absent) err_set(err, "cannot list '%s'", jobs_dir);
    free(jobs_dir);
    return absent ? 0 : -1;
  }
  char **names = NULL;
  int n_names = 0, cap = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.' || !ends_with(e->d_name, ".json")) continue;  // temp files, hidden
    if (n_names == cap) {
      cap = cap ? cap * 2 : 64;
      names = xrealloc(names, (size_t)cap * sizeof *names);
    }
    names[n_names++] = xstrdup(e->d_name);
  }
  closedir(d);
  if (n_names > 1) qsort(names, (size_t)n_names, sizeof *names, cmp_str);
  rs->jobs = xcalloc(n_names ? (size_t)n_names : 1, sizeof *rs->jobs);
  rs->skipped = xcalloc(n_names ? (size_t)n_names : 1, sizeof *rs->skipped);
  for (int i = 0; i < n_names; i++) {
    char *path = path_join(jobs_dir, names[i]);
    free(names[i]);
    char *text = NULL;
    size_t len = 0;
    BenchErr ferr;
    if (read_file(path, JOB_FILE_MAX, &text, &len, &ferr) != 0) {
      rs->skipped[rs->n_skipped++] = xstrdup(ferr.msg);
      free(path);
      continue;
    }
    json_error_t jerr;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    free(text);
    if (!root || !json_is_object(root)) {
      rs->skipped[rs->n_skipped++] =
          root ? xasprintf("%s: not a JSON object", path)
               : xasprintf("%s:%d:%d: invalid JSON: %s", path, jerr.line, jerr.column, jerr.text);
      json_decref(root);
      free(path);
      continue;
    }
    StoredJob *r = &rs->jobs[rs->n_jobs];
    memset(r, 0, sizeof *r);
    char *why = NULL;
    if (job_from_json(r, root, &why) != 0) {
      rs->skipped[rs->n_skipped++] = xasprintf("%s: %s", path, why);
      free(why);
      free(r->phases);
      memset(r, 0, sizeof *r);
      json_decref(root);
      free(path);
      continue;
    }
    r->path = path;
    rs->n_jobs++;
  }
  free(names);
  free(jobs_dir);
  return 0;
}

void stored_jobs_free(StoredJobs *rs) {
  for (int i = 0; i < rs->n_jobs; i++) {
    free(rs->jobs[i].path);
    free(rs->jobs[i].phases);
    json_decref(rs->jobs[i].root);
  }
  for (int i = 0; i < rs->n_skipped; i++) free(rs->skipped[i]);
  free(rs->jobs);
  free(rs->skipped);
  memset(rs, 0, sizeof *rs);
}
