// results.c — job result JSON (schema bench.job/1): build, write atomically, read and check.
#include "results.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define RESULT_MAX_BYTES ((size_t)64 << 20)
#define RESULT_REAL_DIGITS 12

static const char *const STATUS_NAMES[] = {"ok", "oom", "error", "crashed"};

const char *job_status_name(JobStatus s) {
  CHECK((int)s >= 0 && (int)s < 4);
  return STATUS_NAMES[s];
}

int job_status_from_name(const char *name, JobStatus *s) {
  for (int i = 0; i < 4; i++)
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
  return m;
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

static int get_string(const json_t *j, const char *key, const char *source, char **out,
                      BenchErr *err) {
  json_t *v = json_object_get(j, key);
  if (!json_is_string(v)) return err_set(err, "'%s': field '%s' missing or not a string", source, key);
  *out = xstrdup(json_string_value(v));
  return 0;
}

int job_result_from_json(const json_t *j, const char *source, JobResult *r, BenchErr *err) {
  memset(r, 0, sizeof *r);
  if (!json_is_object(j)) return err_set(err, "'%s': not a JSON object", source);
  const char *schema = json_string_value(json_object_get(j, "schema"));
  if (!schema) return err_set(err, "'%s': no 'schema' field", source);
  if (strcmp(schema, JOB_SCHEMA) != 0)
    return err_set(err, "'%s': schema '%s', this bench reads '%s' (re-run the job with --fresh)",
                   source, schema, JOB_SCHEMA);
  char *status = NULL, *started = NULL, *finished = NULL;
  int rc = 0;
  if (get_string(j, "job_id", source, &r->job_id, err) != 0 ||
      get_string(j, "suite", source, &r->suite, err) != 0 ||
      get_string(j, "phase", source, &r->phase, err) != 0 ||
      get_string(j, "status", source, &status, err) != 0 ||
      get_string(j, "started", source, &started, err) != 0 ||
      get_string(j, "finished", source, &finished, err) != 0)
    rc = -1;
  if (rc == 0 && job_status_from_name(status, &r->status) != 0)
    rc = err_set(err, "'%s': unknown status '%s'", source, status);
  if (rc == 0) {
    snprintf(r->started, sizeof r->started, "%s", started);
    snprintf(r->finished, sizeof r->finished, "%s", finished);
    json_t *e = json_object_get(j, "error");
    if (json_is_string(e)) r->error = xstrdup(json_string_value(e));
    else if (e && !json_is_null(e)) rc = err_set(err, "'%s': field 'error' is not a string", source);
  }
  if (rc == 0) {
    json_t *spec = json_object_get(j, "spec");
    if (!json_is_object(spec)) rc = err_set(err, "'%s': field 'spec' is not an object", source);
    else r->spec = json_incref(spec);
  }
  if (rc == 0) {
    json_t *m = json_object_get(j, "metrics");
    if (json_is_object(m)) r->metrics = json_incref(m);
    else if (m && !json_is_null(m)) rc = err_set(err, "'%s': field 'metrics' is not an object", source);
    else if (r->status == JOB_OK) rc = err_set(err, "'%s': status ok but no metrics", source);
  }
  if (rc == 0) {
    json_t *ps = json_object_get(j, "phases");
    if (json_is_array(ps) && json_array_size(ps) > 0) {
      r->n_phases = (int)json_array_size(ps);
      r->phases = xcalloc((size_t)r->n_phases, sizeof *r->phases);
      for (int i = 0; i < r->n_phases; i++) {
        const char *p = json_string_value(json_array_get(ps, (size_t)i));
        r->phases[i] = xstrdup(p ? p : "");
      }
    } else {
      r->n_phases = 1;
      r->phases = xcalloc(1, sizeof *r->phases);
      r->phases[0] = xstrdup(r->phase);
    }
  }
  free(status);
  free(started);
  free(finished);
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

char *job_result_path(const char *results_dir, const char *job_id) {
  char *jobs = path_join(results_dir, "jobs");
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
  char *jobs = path_join(results_dir, "jobs");
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
  if (!j) return err_set(err, "%s:%d:%d: %s", path, jerr.line, jerr.column, jerr.text);
  int rc = job_result_from_json(j, path, r, err);
  json_decref(j);
  return rc;
}
