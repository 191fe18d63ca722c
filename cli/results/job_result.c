// job_result.c — the job result file (schema bench.job/1, results.h): the one writer (built, laid out
// and written atomically) and the one reader (every check on the schema and the fields' types).
#include "results.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eval.h"
#include "json_file.h"

#define RESULT_MAX_BYTES ((size_t)64 << 20)
#define RESULT_REAL_DIGITS 12

static const char *const STATUS_NAMES[N_JOB_STATUS] = {"ok", "oom", "error", "crashed", "nonfinite"};

const char *job_status_name(JobStatus s) {
  CHECK((int)s >= 0 && (int)s < N_JOB_STATUS);
  return STATUS_NAMES[s];
}

int job_status_from_name(const char *name, JobStatus *s) {
  for (int i = 0; i < N_JOB_STATUS; i++)
    if (strcmp(name, STATUS_NAMES[i]) == 0) {
      *s = (JobStatus)i;
      return 0;
    }
  return -1;
}

// A real, or null when not finite (JSON has no NaN/inf).
static json_t *real_or_null(double x) { return isfinite(x) ? json_real(x) : json_null(); }

json_t *eval_metrics_json(const EvalResult *r) {
  json_t *m = json_object();
  json_object_set_new(m, "ppl", real_or_null(r->ppl));
  json_object_set_new(m, "nll", real_or_null(r->nll));
  json_object_set_new(m, "nll_stderr", real_or_null(r->nll_stderr));
  json_object_set_new(m, "tokens", json_integer(r->tokens));
  json_object_set_new(m, "acc", real_or_null(r->acc));
  json_object_set_new(m, "tokens_per_s", real_or_null(r->tokens_per_s));
  json_object_set_new(m, "peak_mem_bytes", json_integer((json_int_t)r->peak_mem_bytes));
  json_object_set_new(m, "kv_peak_tokens", json_integer(r->kv_peak_tokens));
  json_object_set_new(m, "kv_peak_bytes", json_integer((json_int_t)r->kv_peak_bytes));
  json_object_set_new(m, "wall_s", real_or_null(r->wall_s));
  json_object_set_new(m, "forward_s", real_or_null(r->forward_s));
  json_object_set_new(m, "dataset_tokens", json_integer(r->dataset_tokens));
  if (r->compute_dtype) json_object_set_new(m, "compute_dtype", json_string(r->compute_dtype));
  if (r->kv_budget > 0) {  // decode
    size_t saved = r->kv_full_bytes > r->kv_peak_bytes ? r->kv_full_bytes - r->kv_peak_bytes : 0;
    json_object_set_new(m, "kv_budget", json_integer(r->kv_budget));
    json_object_set_new(m, "kv_full_bytes", json_integer((json_int_t)r->kv_full_bytes));
    json_object_set_new(m, "kv_bytes_saved", json_integer((json_int_t)saved));
    json_object_set_new(m, "kv_prefill_tokens", json_integer(r->kv_prefill_tokens));
    json_object_set_new(m, "timed_tokens", json_integer(r->timed_tokens));
    json_object_set_new(m, "timed_s", real_or_null(r->timed_s));
  }
  json_t *pos = json_array();
  for (int i = 0; i < r->n_by_position; i++)
    json_array_append_new(pos, json_pack("[Io]", (json_int_t)r->by_position[i].bucket_start,
                                         real_or_null(r->by_position[i].mean_nll)));
  json_object_set_new(m, "nll_by_position", pos);
  json_t *wp = json_array();
  for (long i = 0; i < r->n_windows; i++) json_array_append_new(wp, real_or_null(r->window_ppl[i]));
  json_object_set_new(m, "window_ppl", wp);
  if (r->nonfinite_tokens > 0)
    json_object_set_new(m, "nonfinite", json_pack("{s:I,s:I,s:I}", "window", (json_int_t)r->nonfinite_window,
                                                  "position", (json_int_t)r->nonfinite_position, "tokens",
                                                  (json_int_t)r->nonfinite_tokens));
  return m;
}

JobStatus eval_result_status(const EvalResult *r, char *error, size_t n) {
  if (r->nonfinite_tokens == 0) return JOB_OK;
  double x = r->nonfinite_nll;  // a NaN's sign is whatever the arithmetic left: not printed
  snprintf(error, n, "NLL is %s at window %ld, position %ld (%ld of %ld scored tokens not finite)",
           isnan(x) ? "NaN" : x > 0 ? "+Inf" : "-Inf", r->nonfinite_window, r->nonfinite_position,
           r->nonfinite_tokens, r->tokens);
  return JOB_NONFINITE;
}

json_t *job_result_to_json(const JobResult *r) {
  json_t *j = json_object();
  json_object_set_new(j, "schema", json_string(JOB_SCHEMA));
  json_object_set_new(j, "job_id", json_string(r->job_id));
  json_object_set_new(j, "suite", json_string(r->suite));
  json_object_set_new(j, "phase", json_string(r->phase));
  if (r->n_phases > 1) {
    json_t *ps = json_array();
    for (int i = 0; i < r->n_phases; i++) json_array_append_new(ps, json_string(r->phases[i]));
    json_object_set_new(j, "phases", ps);
  }
  json_object_set(j, "spec", r->spec ? r->spec : json_null());
  json_object_set_new(j, "status", json_string(job_status_name(r->status)));
  json_t *e = json_null();
  if (r->error) {  // one line
    char *line = xstrdup(r->error);
    for (char *c = line; *c; c++)
      if (*c == '\n' || *c == '\r') *c = ' ';
    e = json_string(line);
    if (!e) {  // not UTF-8: keep the ASCII
      for (char *c = line; *c; c++)
        if ((unsigned char)*c >= 0x80) *c = '?';
      e = json_string(line);
    }
    free(line);
  }
  json_object_set_new(j, "error", e);
  json_object_set(j, "metrics", r->metrics ? r->metrics : json_null());
  json_object_set_new(j, "started", json_string(r->started));
  json_object_set_new(j, "finished", json_string(r->finished));
  return j;
}

// KEY of j as a new string: "" when absent; -1 when present but not a string.
static int opt_string(const json_t *j, const char *key, char **out) {
  json_t *v = json_object_get(j, key);
  if (v && !json_is_string(v)) return -1;
  *out = xstrdup(v ? json_string_value(v) : "");
  return 0;
}

// The schema check: the one place a job result's schema is compared.
static int check_schema(const json_t *j, const char *source, BenchErr *err) {
  const char *schema = json_string_value(json_object_get(j, "schema"));
  if (!schema) return err_set(err, "%s: no \"schema\" field: not a bench job result", source);
  if (strcmp(schema, JOB_SCHEMA) == 0) return 0;
  if (strncmp(schema, "bench.job/", 10) == 0)
    return err_set(err, "%s: schema '%s' is not '%s': written by another bench version; report it with that "
                   "version, or re-run the job with this one (bench run --fresh)", source, schema, JOB_SCHEMA);
  return err_set(err, "%s: schema '%s' is not '%s': not a bench job result", source, schema, JOB_SCHEMA);
}

// "phase" (a string) and "phases" (every phase holding a shared job; [phase] when absent).
static int read_phases(const json_t *j, const char *source, JobResult *r, BenchErr *err) {
  json_t *phase = json_object_get(j, "phase");
  if (!json_is_string(phase)) return err_set(err, "%s: no \"phase\" string", source);
  r->phase = xstrdup(json_string_value(phase));
  json_t *ps = json_object_get(j, "phases");
  size_t n = json_is_array(ps) ? json_array_size(ps) : 0;
  if (ps && !json_is_array(ps)) return err_set(err, "%s: field 'phases' is not a list of strings", source);
  r->phases = xcalloc(n ? n : 1, sizeof *r->phases);
  if (n == 0) {
    r->phases[r->n_phases++] = xstrdup(r->phase);
    return 0;
  }
  for (size_t i = 0; i < n; i++) {
    const char *p = json_string_value(json_array_get(ps, i));
    if (!p) return err_set(err, "%s: field 'phases' is not a list of strings", source);
    r->phases[r->n_phases++] = xstrdup(p);
  }
  return 0;
}

static int read_status(const json_t *j, const char *source, JobResult *r, BenchErr *err) {
  const char *st = json_string_value(json_object_get(j, "status"));
  if (st && job_status_from_name(st, &r->status) == 0) return 0;
  StrBuf names = {0};
  for (int i = 0; i < N_JOB_STATUS; i++) sb_printf(&names, "%s%s", i ? ", " : "", STATUS_NAMES[i]);
  err_set(err, "%s: status '%s' is not one of %s", source, st ? st : "", names.data);
  sb_free(&names);
  return -1;
}

// error: a string or null; metrics: an object or null, an object when ok; the optional strings.
static int read_rest(const json_t *j, const char *source, JobResult *r, BenchErr *err) {
  json_t *e = json_object_get(j, "error");
  if (json_is_string(e)) r->error = xstrdup(json_string_value(e));
  else if (e && !json_is_null(e)) return err_set(err, "%s: field 'error' is not a string", source);
  json_t *m = json_object_get(j, "metrics");
  if (json_is_object(m)) r->metrics = json_incref(m);
  else if (m && !json_is_null(m)) return err_set(err, "%s: field 'metrics' is not an object", source);
  else if (r->status == JOB_OK) return err_set(err, "%s: status ok but no metrics", source);
  static const char *const KEYS[] = {"job_id", "suite", "started", "finished"};
  char *v[4] = {0};
  int rc = 0;
  for (int k = 0; k < 4 && rc == 0; k++)
    if (opt_string(j, KEYS[k], &v[k]) != 0) rc = err_set(err, "%s: field '%s' is not a string", source, KEYS[k]);
  if (rc == 0) {
    r->job_id = v[0];
    r->suite = v[1];
    snprintf(r->started, sizeof r->started, "%s", v[2]);
    snprintf(r->finished, sizeof r->finished, "%s", v[3]);
    v[0] = v[1] = NULL;
  }
  for (int k = 0; k < 4; k++) free(v[k]);
  return rc;
}

int job_result_from_json(const json_t *j, const char *source, JobResult *r, BenchErr *err) {
  memset(r, 0, sizeof *r);
  if (!json_is_object(j)) return err_set(err, "%s: not a JSON object", source);
  if (check_schema(j, source, err) != 0) return -1;
  json_t *spec = json_object_get(j, "spec");
  if (!json_is_object(spec)) return err_set(err, "%s: no \"spec\" object", source);
  r->spec = json_incref(spec);
  int rc = read_phases(j, source, r, err);
  if (rc == 0) rc = read_status(j, source, r, err);
  if (rc == 0) rc = read_rest(j, source, r, err);
  if (rc != 0) job_result_free(r);
  return rc;
}

void job_result_free(JobResult *r) {
  free(r->job_id);
  free(r->suite);
  free(r->phase);
  for (int i = 0; i < r->n_phases; i++) free(r->phases[i]);
  free(r->phases);
  free(r->error);
  if (r->spec) json_decref(r->spec);
  if (r->metrics) json_decref(r->metrics);
  memset(r, 0, sizeof *r);
}

char *job_results_dir(const char *results_dir) { return path_join(results_dir, "jobs"); }

char *job_result_path(const char *results_dir, const char *job_id) {
  char *jobs = job_results_dir(results_dir);
  char *name = xasprintf("%s.json", job_id);
  char *p = path_join(jobs, name);
  free(name);
  free(jobs);
  return p;
}

// Appends v compactly ("[[0,6.2],[128,6.1]]"); reals with RESULT_REAL_DIGITS digits.
static void append_compact(StrBuf *b, const json_t *v) {
  char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(RESULT_REAL_DIGITS));
  CHECK(text != NULL);
  sb_append(b, text);
  free(text);
}

// The file layout: one top-level member per line, the members of top-level objects (spec,
// metrics) one per line below them, everything deeper compact — readable and greppable.
static void format_result(StrBuf *b, const json_t *j) {
  sb_append(b, "{\n");
  const char *key;
  json_t *v;
  size_t i = 0, n = json_object_size(j);
  json_object_foreach((json_t *)j, key, v) {
    json_t *k = json_string(key);
    sb_append(b, "  ");
    append_compact(b, k);
    sb_append(b, ": ");
    if (json_is_object(v) && json_object_size(v) > 0) {
      sb_append(b, "{\n");
      const char *key2;
      json_t *v2;
      size_t i2 = 0, n2 = json_object_size(v);
      json_object_foreach(v, key2, v2) {
        json_t *k2 = json_string(key2);
        sb_append(b, "    ");
        append_compact(b, k2);
        sb_append(b, ": ");
        append_compact(b, v2);
        sb_append(b, ++i2 < n2 ? ",\n" : "\n");
        json_decref(k2);
      }
      sb_append(b, "  }");
    } else {
      append_compact(b, v);
    }
    sb_append(b, ++i < n ? ",\n" : "\n");
    json_decref(k);
  }
  sb_append(b, "}\n");
}

int job_result_write(const char *results_dir, const JobResult *r, BenchErr *err) {
  char *jobs = job_results_dir(results_dir);
  int rc = mkdir_p(jobs, err);
  free(jobs);
  if (rc != 0) return -1;
  json_t *j = job_result_to_json(r);
  StrBuf b = {0};
  format_result(&b, j);
  json_decref(j);
  char *path = job_result_path(results_dir, r->job_id);
  rc = write_file_atomic(path, b.data, b.len, err);
  free(path);
  sb_free(&b);
  return rc;
}

int job_result_read(const char *path, JobResult *r, BenchErr *err) {
  memset(r, 0, sizeof *r);
  char *text = NULL;
  size_t len = 0;
  if (read_file(path, RESULT_MAX_BYTES, &text, &len, err) != 0) return -1;
  json_error_t jerr;
  json_t *j = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
  free(text);
  if (!j)
    return err_set(err, "%s:%d:%d: invalid JSON: %s", path, jerr.line, jerr.column, json_error_reason(&jerr));
  int rc = job_result_from_json(j, path, r, err);
  json_decref(j);
  return rc;
}
