// run_status.c — the plan and status files of a running run (run_status.h).
#include "run_status.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define RUN_FILE_MAX ((size_t)256 << 20)

char *run_file_path(const char *dir, const char *kind, int shard_i, int shard_n) {
  char *name = shard_n > 0 ? xasprintf(".run/%s-shard-%d-of-%d.json", kind, shard_i, shard_n)
                           : xasprintf(".run/%s.json", kind);
  char *p = path_join(dir, name);
  free(name);
  return p;
}

static json_t *time_or_null(double t) {
  if (t <= 0) return json_null();
  char ts[32];
  iso_time_utc(t, ts);
  return json_string(ts);
}

static json_t *shard_json(int i, int n) { return n > 0 ? json_sprintf("%d/%d", i, n) : json_null(); }

static int write_json(const char *path, json_t *j, size_t flags, BenchErr *err) {
  char *text = json_dumps(j, flags | JSON_REAL_PRECISION(10));
  CHECK(text != NULL);
  size_t len = strlen(text);
  text = xrealloc(text, len + 2);
  text[len++] = '\n';
  text[len] = 0;
  int rc = write_file_atomic(path, text, len, err);
  free(text);
  return rc;
}

int run_status_write(const char *dir, const RunStatus *st, BenchErr *err) {
  char host[256] = "";
  gethostname(host, sizeof host - 1);
  json_t *j = json_object();
  json_object_set_new(j, "schema", json_string(RUN_STATUS_SCHEMA));
  json_object_set_new(j, "state", json_string(st->state));
  json_object_set_new(j, "pid", json_integer((json_int_t)getpid()));
  json_object_set_new(j, "host", json_string(host));
  json_object_set_new(j, "command", json_string(st->command ? st->command : ""));
  json_object_set_new(j, "shard", shard_json(st->shard_i, st->shard_n));
  json_object_set_new(j, "started", time_or_null(st->started));
  json_object_set_new(j, "updated", time_or_null(wall_time()));
  json_object_set_new(j, "total", json_integer(st->total));
  json_object_set_new(j, "skipped", json_integer(st->skipped));
  json_object_set_new(j, "ok", json_integer(st->ok));
  json_object_set_new(j, "oom", json_integer(st->oom));
  json_object_set_new(j, "error", json_integer(st->error));
  json_object_set_new(j, "crashed", json_integer(st->crashed));
  json_object_set_new(j, "remaining", json_integer(st->remaining));
  json_object_set_new(j, "eta_s", st->eta_s >= 0 && isfinite(st->eta_s) ? json_real(st->eta_s) : json_null());
  json_object_set_new(j, "rate", st->rate > 0 && isfinite(st->rate) ? json_real(st->rate) : json_null());
  json_t *run = json_array();
  for (int i = 0; i < st->n_running; i++) {
    const StatusRunning *r = &st->running[i];
    json_t *e = json_object();
    json_object_set_new(e, "job_id", json_string(r->job_id));
    json_object_set_new(e, "label", json_string(r->label));
    json_object_set_new(e, "device", json_string(r->device));
    json_object_set_new(e, "pid", json_integer(r->pid));
    json_object_set_new(e, "started", time_or_null(r->started));
    json_object_set_new(e, "windows_done", json_integer(r->windows_done));
    json_object_set_new(e, "windows_total", json_integer(r->windows_total));
    json_object_set_new(e, "steps_done", json_integer(r->steps_done));
    json_object_set_new(e, "steps_total", json_integer(r->steps_total));
    json_object_set_new(e, "tokens_per_s", isfinite(r->tokens_per_s) ? json_real(r->tokens_per_s) : json_null());
    json_array_append_new(run, e);
  }
  json_object_set_new(j, "running", run);
  json_object_set_new(j, "exit_code", st->exit_code >= 0 ? json_integer(st->exit_code) : json_null());
  json_object_set_new(j, "error", st->failure ? json_string(st->failure) : json_null());
  char *path = run_file_path(dir, "status", st->shard_i, st->shard_n);
  int rc = write_json(path, j, JSON_INDENT(1), err);
  free(path);
  json_decref(j);
  return rc;
}

int run_plan_write(const char *dir, const Suite *s, const RunSelection *sel, int shard_i, int shard_n,
                   int fresh, BenchErr *err) {
  json_t *j = json_object();
  json_object_set_new(j, "schema", json_string(RUN_PLAN_SCHEMA));
  json_object_set_new(j, "suite", json_string(s->suite));
  json_object_set_new(j, "suite_sha256", json_string(s->sha256));
  json_object_set_new(j, "written", time_or_null(wall_time()));
  json_object_set_new(j, "shard", shard_json(shard_i, shard_n));
  json_object_set_new(j, "fresh", json_boolean(fresh));
  json_t *jobs = json_array();
  for (long i = 0; i < sel->n; i++)
    json_array_append_new(jobs, json_pack("{s:s,s:s,s:f,s:O}", "job_id", sel->jobs[i].job->id, "label",
                                          sel->jobs[i].label, "cost", sel->jobs[i].cost, "spec",
                                          sel->jobs[i].job->spec));
  json_object_set_new(j, "jobs", jobs);
  char *path = run_file_path(dir, "plan", shard_i, shard_n);
  int rc = write_json(path, j, JSON_COMPACT, err);
  free(path);
  json_decref(j);
  return rc;
}

json_t *run_file_load(const char *path) {
  if (!file_exists(path)) return NULL;
  char *text = NULL;
  size_t len = 0;
  BenchErr err;
  if (read_file(path, RUN_FILE_MAX, &text, &len, &err) != 0) return NULL;
  json_t *j = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
  free(text);
  if (!json_is_object(j)) {
    json_decref(j);
    return NULL;
  }
  return j;
}
