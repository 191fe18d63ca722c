// manifest_write.c — the one writer of results/<suite>/manifest.json (results.h): the provenance of
// a results directory, merged across runs.
#include "results.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "commands.h"
#include "matrix.h"
#include "run_plan.h"
#include "run_probe.h"
#include "version.h"

#ifndef BENCH_GIT_COMMIT
#define BENCH_GIT_COMMIT "unknown"
#endif

// Defined in main.c, which the unit tests do not link: there the manifest says "unknown".
extern const char BENCH_VERSION[] __attribute__((weak));
static const char *bench_version(void) { return BENCH_VERSION ? BENCH_VERSION : "unknown"; }

static json_t *str_or_null(const char *s) { return s && s[0] ? json_string(s) : json_null(); }

static json_t *iso(double t) {
  char ts[32];
  iso_time_utc(t, ts);
  return json_string(ts);
}

// The existing manifest when it is ours and readable (manifest_read); else a new object.
static json_t *load_existing(const char *dir) {
  Manifest m;
  manifest_read(dir, &m);
  json_t *j = m.root ? json_incref(m.root) : json_object();
  manifest_free(&m);
  return j;
}

static void set_machine(json_t *m, const ManifestRun *r) {
  const HostProbe *p = r->probe;
  char host[256] = "";
  gethostname(host, sizeof host - 1);
  char cuda[16], cuda_drv[16];
  cuda_version_text(p->cuda_runtime, cuda);
  cuda_version_text(p->cuda_driver, cuda_drv);
  json_object_set_new(m, "schema", json_string(MANIFEST_SCHEMA));
  json_object_set_new(m, "suite", json_string(r->suite->suite));
  json_object_set_new(m, "suite_path", json_string(r->suite_path));
  json_object_set_new(m, "suite_sha256", json_string(r->suite->sha256));
  json_object_set_new(m, "bench_version", json_string(bench_version()));
  json_object_set_new(m, "git_commit", json_string(BENCH_GIT_COMMIT));
  json_object_set_new(m, "engine_numerics", json_string(ENGINE_NUMERICS_VERSION));
  json_object_set_new(m, "host", json_string(host));
  json_object_set_new(m, "cpu", str_or_null(p->cpu));
  json_object_set_new(m, "cpu_cores", json_integer(p->cpu_cores));
  json_object_set_new(m, "memory_bytes", json_integer((json_int_t)p->memory_bytes));
  json_object_set(m, "gpus", p->gpus);
  json_object_set_new(m, "driver", str_or_null(p->driver));
  json_object_set_new(m, "cuda", str_or_null(cuda));
  json_object_set_new(m, "cuda_driver", str_or_null(cuda_drv));
}

// Fingerprints of the models and datasets the matrix knows (merged into what is there).
static void set_fingerprints(json_t *m, const ManifestRun *r) {
  const Suite *s = r->suite;
  const Matrix *mx = r->mx;
  json_t *models = json_object_get(m, "models");
  if (!json_is_object(models)) {
    models = json_object();
    json_object_set_new(m, "models", models);
  }
  for (int i = 0; i < s->n_models; i++) {
    const char *fp = mx->model_fp ? mx->model_fp[i] : NULL;
    if (!fp || strncmp(fp, "missing:", 8) == 0) continue;
    json_t *e = json_pack("{s:s}", "fingerprint", fp);
    if (mx->model_params && mx->model_params[i] >= 0)
      json_object_set_new(e, "params", json_integer(mx->model_params[i]));
    json_object_set_new(models, s->models[i].name, e);
  }
  json_t *data = json_object_get(m, "datasets");
  if (!json_is_object(data)) {
    data = json_object();
    json_object_set_new(m, "datasets", data);
  }
  for (int i = 0; i < s->n_datasets; i++) {
    const char *fp = mx->dataset_fp ? mx->dataset_fp[i] : NULL;
    if (!fp || strncmp(fp, "missing:", 8) == 0) continue;
    json_object_set_new(data, s->datasets[i].name, json_pack("{s:s}", "fingerprint", fp));
  }
}

static json_t *run_entry(const ManifestRun *r) {
  char host[256] = "";
  gethostname(host, sizeof host - 1);
  json_t *e = json_object();
  json_object_set_new(e, "started", iso(r->started));
  json_object_set_new(e, "finished", json_null());
  json_object_set_new(e, "outcome", json_string("running"));
  json_object_set_new(e, "host", json_string(host));
  json_object_set_new(e, "pid", json_integer((json_int_t)getpid()));
  json_object_set_new(e, "command", json_string(r->command));
  json_object_set_new(e, "shard", r->shard_n > 0 ? json_sprintf("%d/%d", r->shard_i, r->shard_n) : json_null());
  json_t *devs = json_array();
  for (int k = 0; r->lanes && k < r->lanes->n; k++) json_array_append_new(devs, json_string(r->lanes->devices[k]));
  json_object_set_new(e, "devices", devs);
  json_object_set_new(e, "jobs", json_integer(r->jobs));
  if (r->gpu_check) json_object_set(e, "gpu_check", r->gpu_check);
  json_object_set_new(e, "skipped", json_integer(r->skipped));
  return e;
}

// This run's entry in runs[] (same host, pid and start), or NULL.
static json_t *find_run(json_t *runs, const ManifestRun *r) {
  char host[256] = "", ts[32];
  gethostname(host, sizeof host - 1);
  iso_time_utc(r->started, ts);
  size_t i;
  json_t *e;
  json_array_foreach(runs, i, e) {
    const char *h = json_string_value(json_object_get(e, "host"));
    const char *st = json_string_value(json_object_get(e, "started"));
    if (h && st && strcmp(h, host) == 0 && strcmp(st, ts) == 0 &&
        json_integer_value(json_object_get(e, "pid")) == (json_int_t)getpid())
      return e;
  }
  return NULL;
}

// Read-modify-write under .run/manifest.lock.
static int update(const char *dir, const ManifestRun *r, const ManifestEnd *end, BenchErr *err) {
  char *lock_path = path_join(dir, ".run/manifest.lock");
  int lfd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  free(lock_path);
  if (lfd >= 0) flock(lfd, LOCK_EX);
  char *path = path_join(dir, "manifest.json");
  json_t *m = load_existing(dir);
  set_machine(m, r);
  set_fingerprints(m, r);
  if (r->gpu_check) {  // the latest check of the GPUs (each run's own is in its entry)
    json_object_set(m, "gpu_check", r->gpu_check);
    json_object_set_new(m, "gpu_check_summary", str_or_null(r->gpu_check_summary));
  }
  if (!json_is_string(json_object_get(m, "started"))) json_object_set_new(m, "started", iso(r->started));
  json_t *runs = json_object_get(m, "runs");
  if (!json_is_array(runs)) {
    runs = json_array();
    json_object_set_new(m, "runs", runs);
  }
  json_t *e = find_run(runs, r);
  if (!e) {
    e = run_entry(r);
    json_array_append_new(runs, e);
  }
  if (end) {
    double now = wall_time();
    json_object_set_new(e, "finished", iso(now));
    json_object_set_new(e, "outcome", json_string(end->outcome));
    json_object_set_new(e, "ok", json_integer(end->ok));
    json_object_set_new(e, "oom", json_integer(end->oom));
    json_object_set_new(e, "error", json_integer(end->error));
    json_object_set_new(e, "crashed", json_integer(end->crashed));
    json_object_set_new(m, "finished", iso(now));
  } else if (!json_object_get(m, "finished")) {
    json_object_set_new(m, "finished", json_null());
  }
  char *text = json_dumps(m, JSON_INDENT(2));
  json_decref(m);
  CHECK(text != NULL);
  size_t len = strlen(text);
  text = xrealloc(text, len + 2);
  text[len++] = '\n';
  text[len] = 0;
  int rc = write_file_atomic(path, text, len, err);
  free(text);
  free(path);
  if (lfd >= 0) close(lfd);  // releases the lock
  return rc;
}

int manifest_begin(const char *dir, const ManifestRun *r, BenchErr *err) { return update(dir, r, NULL, err); }

int manifest_end(const char *dir, const ManifestRun *r, const ManifestEnd *e, BenchErr *err) {
  return update(dir, r, e, err);
}
