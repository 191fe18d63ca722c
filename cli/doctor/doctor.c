// doctor.c — the whole check of one GPU (doctor.h): its three parts, their cache, the summary
// line a run records, and the same in a child process for bench run's supervisor.
//
// Cache: bench_cache_dir("gpu-check") (util.h: $BENCH_CACHE_DIR/gpu-check, else $XDG_CACHE_HOME/...,
// else ~/.cache/...), one JSON file per key (doctor_cache_key): parts 1–2 under sha256(GPU
// name and UUID, NVIDIA driver, CUDA driver and runtime, bench commit, this binary's size and
// mtime), part 3 per model under that key plus the model's fingerprint and dtype. Failed outcomes are cached too (the same card and binary
// fail the same way); `bench doctor` always checks afresh and rewrites them.
#include "doctor.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "device.h"
#include "doctor_internal.h"
#include "fingerprint.h"
#include "json_file.h"

#define GPU_CHECK_SCHEMA "bench.gpu_check/1"

char *doctor_root(void) {
  const char *env = getenv("BENCH_ROOT");
  if (env && env[0]) return xstrdup(env);
  char exe[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n <= 0) return NULL;
  exe[n] = 0;
  for (int up = 0; up < 4; up++) {
    char *slash = strrchr(exe, '/');
    if (!slash) break;
    *slash = 0;
    char *probe = xasprintf("%s/models/quickstart/config.json", exe[0] ? exe : "/");
    int found = access(probe, R_OK) == 0;
    free(probe);
    if (found) return xstrdup(exe[0] ? exe : "/");
  }
  return NULL;
}

// ---- cache ----
static char *cache_dir(void) { return bench_cache_dir("gpu-check"); }

char *doctor_cache_key(const GpuCheckIdentity *id) {
  return xasprintf("gpu %s\nuuid %s\nnvidia driver %s\ncuda driver %d\ncuda runtime %d\nbench %s\nbinary %lld %lld",
                   id->gpu_name, id->gpu_uuid, id->nvidia_driver, id->cuda_driver, id->cuda_runtime, id->commit,
                   id->exe_size, id->exe_mtime);
}

char *doctor_model_key(const char *base, const char *fingerprint, const char *dtype) {
  return xasprintf("%s\nmodel %s\ndtype %s", base, fingerprint, dtype);
}

// The key of parts 1–2 on this GPU with this binary. A card whose UUID the driver does not give
// (all zeros) is told apart by its index.
static char *base_key(int gpu, const GpuInfo *info) {
  GpuCheckIdentity id = {.gpu_name = info->name, .commit = BENCH_GIT_COMMIT};
  char nvidia[64], uuid[64];
  device_nvidia_driver(nvidia);
  id.nvidia_driver = nvidia;
  size_t lt = 0;
  device_cuda_versions(&id.cuda_driver, &id.cuda_runtime, &lt);
  if (info->uuid[0] && strspn(info->uuid, "GPU-0") != strlen(info->uuid)) snprintf(uuid, sizeof uuid, "%s", info->uuid);
  else snprintf(uuid, sizeof uuid, "unknown, cuda:%d", gpu);
  id.gpu_uuid = uuid;
  struct stat st;
  if (stat("/proc/self/exe", &st) == 0) {
    id.exe_size = (long long)st.st_size;
    id.exe_mtime = (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
  }
  return doctor_cache_key(&id);
}

static char *entry_path(const char *key) {
  char *dir = cache_dir();
  if (!dir) return NULL;
  char hex[65];
  sha256_hex(key, strlen(key), hex);
  hex[32] = 0;
  char *p = xasprintf("%s/%s.json", dir, hex);
  free(dir);
  return p;
}

static int cache_read(const char *key, CheckTally *t, ProbeResult *pr) {
  char *p = entry_path(key);
  if (!p) return -1;
  json_t *j = json_load_regular(p, JSON_REJECT_DUPLICATES, NULL, NULL);
  free(p);
  const char *schema = json_string_value(json_object_get(j, "schema"));
  const char *k = json_string_value(json_object_get(j, "key"));
  int ok = schema && strcmp(schema, GPU_CHECK_SCHEMA) == 0 && k && strcmp(k, key) == 0;
  if (ok) {
    memset(t, 0, sizeof *t);
    t->passed = (int)json_integer_value(json_object_get(j, "passed"));
    t->failed = (int)json_integer_value(json_object_get(j, "failed"));
    const char *ff = json_string_value(json_object_get(j, "first_fail"));
    snprintf(t->first_fail, sizeof t->first_fail, "%s", ff ? ff : "");
    if (pr) {
      pr->max_dnll = json_real_value(json_object_get(j, "max_dnll"));
      pr->mean_dnll = json_real_value(json_object_get(j, "mean_dnll"));
      pr->tokens = (long)json_integer_value(json_object_get(j, "tokens"));
      const char *text = json_string_value(json_object_get(j, "text"));
      snprintf(pr->text, sizeof pr->text, "%s", text ? text : "");
    }
  }
  json_decref(j);
  return ok ? 0 : -1;
}

static void cache_write(const char *key, const CheckTally *t, const ProbeResult *pr) {
  char *p = entry_path(key);
  if (!p) return;
  BenchErr err;
  char *dir = cache_dir();
  if (mkdir_p(dir, &err) == 0) {
    json_t *j = json_pack("{s:s, s:s, s:i, s:i, s:s}", "schema", GPU_CHECK_SCHEMA, "key", key, "passed",
                          t->passed, "failed", t->failed, "first_fail", t->first_fail);
    if (pr) {
      json_object_set_new(j, "max_dnll", json_real(pr->max_dnll));
      json_object_set_new(j, "mean_dnll", json_real(pr->mean_dnll));
      json_object_set_new(j, "tokens", json_integer(pr->tokens));
      json_object_set_new(j, "text", json_string(pr->text));
    }
    char *text = json_dumps(j, JSON_COMPACT);
    write_file_atomic(p, text, strlen(text), &err);  // a cache: a failed write costs a re-check
    free(text);
    json_decref(j);
  }
  free(dir);
  free(p);
}

// ---- the check ----
static void model_label(const DoctorModel *m, char *buf, size_t n) {
  snprintf(buf, n, "%s %s", m->name, m->dtype);
}

static void summarise(const DoctorRequest *rq, DoctorOutcome *o) {
  StrBuf sb = {0};
  o->passed = o->kernels.failed == 0 && o->engine.failed == 0 && o->kernels.passed > 0 && o->engine.passed > 0;
  const CheckTally *parts[2] = {&o->kernels, &o->engine};
  o->first_fail[0] = 0;
  for (int k = 0; k < 2; k++)
    if (parts[k]->failed && !o->first_fail[0]) snprintf(o->first_fail, sizeof o->first_fail, "%s", parts[k]->first_fail);
  for (int i = 0; i < o->n_models; i++) {
    if (o->models[i].failed || !o->models[i].passed) o->passed = 0;
    if (o->models[i].failed && !o->first_fail[0])
      snprintf(o->first_fail, sizeof o->first_fail, "%s", o->models[i].first_fail);
  }
  sb_printf(&sb, "%s — kernels %d/%d, engine %d/%d", o->passed ? "passed" : "FAILED", o->kernels.passed,
            o->kernels.passed + o->kernels.failed, o->engine.passed, o->engine.passed + o->engine.failed);
  for (int i = 0; i < o->n_models; i++) {
    char label[160];
    model_label(&rq->models[i], label, sizeof label);
    if (o->models[i].failed || !o->probes[i].tokens)
      sb_printf(&sb, ", %s failed", label);
    else
      sb_printf(&sb, ", %s max |ΔNLL| %.1e over %ld tokens of %s", label, o->probes[i].max_dnll,
                o->probes[i].tokens, o->probes[i].text[0] ? o->probes[i].text : "text");
  }
  snprintf(o->summary, sizeof o->summary, "%s", sb.data);
  sb_free(&sb);
}

static void part_header(FILE *out, const char *title) {
  if (out) fprintf(out, "\n%s\n%-4s  %-8s %-52s %s\n", title, "", "part", "check", "detail");
}

int doctor_check_gpu(const DoctorRequest *rq, DoctorOutcome *o, BenchErr *err) {
  memset(o, 0, sizeof *o);
  if (rq->n_models > DOCTOR_MAX_MODELS) return err_set(err, "at most %d models per check", DOCTOR_MAX_MODELS);
  char dev[32];
  snprintf(dev, sizeof dev, "cuda:%d", rq->gpu);
  char resolved[DEVICE_NAME_MAX];
  int idx;
  if (device_resolve(dev, resolved, &idx, err) != 0) return -1;
  GpuInfo info;
  memset(&info, 0, sizeof info);
  if (device_gpu_info(rq->gpu, &info) != 0) snprintf(info.name, sizeof info.name, "GPU %d", rq->gpu);
  snprintf(o->gpu_name, sizeof o->gpu_name, "%s", info.name);
  char *root = doctor_root();
  char *key = base_key(rq->gpu, &info);
  o->n_models = rq->n_models;
  int cached = rq->use_cache && cache_read(key, &o->kernels, NULL) == 0;
  if (cached) {
    char *ek = xasprintf("%s\nengine", key);
    cached = cache_read(ek, &o->engine, NULL) == 0;
    free(ek);
  }
  o->from_cache = cached;
  if (!cached) {
    part_header(rq->out, "1. kernels against their CPU twins (small shapes)");
    if (kernel_check(rq->gpu, 1, rq->kernels, rq->out, &o->kernels, err) != 0) {
      free(key);
      free(root);
      return -1;
    }
    part_header(rq->out, "2. the CUDA engine against the CPU engine on models/quickstart");
    if (!root) {
      check_rows_now = (CheckRows){&o->engine, rq->out, "engine"};
      check_row(0, "models/quickstart", "not found beside the bench binary (set BENCH_ROOT to the bench checkout)");
      check_rows_now = (CheckRows){0};
    } else {
      engine_check(rq->gpu, root, rq->out, &o->engine, err);
    }
    if (!rq->kernels || o->kernels.failed || o->engine.failed) {  // a partial pass proves nothing
      cache_write(key, &o->kernels, NULL);
      char *ek = xasprintf("%s\nengine", key);
      cache_write(ek, &o->engine, NULL);
      free(ek);
    }
  }
  if (rq->n_models) part_header(rq->out, "3. each model's own weights: CUDA in its dtype against the CPU in fp32");
  for (int i = 0; i < rq->n_models; i++) {
    const DoctorModel *m = &rq->models[i];
    char fp[65] = "";
    BenchErr ferr;
    if (checkpoint_fingerprint(m->dir, fp, NULL, &ferr) != 0) {
      check_rows_now = (CheckRows){&o->models[i], rq->out, "model"};
      check_row(0, m->name, "%s", ferr.msg);
      check_rows_now = (CheckRows){0};
      continue;
    }
    char *mk = doctor_model_key(key, fp, m->dtype);
    if (rq->use_cache && cache_read(mk, &o->models[i], &o->probes[i]) == 0) {
      free(mk);
      continue;
    }
    o->from_cache = 0;
    model_probe(rq->gpu, m, root, rq->out, &o->models[i], &o->probes[i], err);
    cache_write(mk, &o->models[i], &o->probes[i]);
    free(mk);
  }
  summarise(rq, o);
  free(key);
  free(root);
  return 0;
}

// ---- in a child process ----
typedef struct {
  int rc;
  char err[sizeof(((BenchErr *)0)->msg)];
  DoctorOutcome o;
} ChildReply;

int doctor_check_gpu_child(const DoctorRequest *rq, DoctorOutcome *out, BenchErr *err) {
  int fds[2];
  if (pipe(fds) != 0) return err_set(err, "GPU check: pipe: %s", strerror(errno));
  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    return err_set(err, "GPU check: fork: %s", strerror(errno));
  }
  if (pid == 0) {
    close(fds[0]);
    ChildReply *rep = xcalloc(1, sizeof *rep);
    BenchErr e;
    rep->rc = doctor_check_gpu(rq, &rep->o, &e);
    if (rep->rc != 0) snprintf(rep->err, sizeof rep->err, "%s", e.msg);
    fflush(NULL);
    const char *p = (const char *)rep;
    size_t left = sizeof *rep;
    while (left > 0) {
      ssize_t w = write(fds[1], p, left);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) break;
      p += w;
      left -= (size_t)w;
    }
    _exit(0);
  }
  close(fds[1]);
  ChildReply *rep = xcalloc(1, sizeof *rep);
  char *p = (char *)rep;
  size_t got = 0;
  while (got < sizeof *rep) {
    ssize_t k = read(fds[0], p + got, sizeof *rep - got);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) break;
    got += (size_t)k;
  }
  close(fds[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
  int rc;
  if (got != sizeof *rep) {
    if (WIFSIGNALED(status))
      rc = err_set(err, "the GPU check process was killed by signal %d", WTERMSIG(status));
    else
      rc = err_set(err, "the GPU check process exited with status %d before reporting", WEXITSTATUS(status));
  } else if (rep->rc != 0) {
    rc = err_set(err, "%s", rep->err);
  } else {
    *out = rep->o;
    rc = 0;
  }
  free(rep);
  return rc;
}

void doctor_command(const DoctorRequest *rq, char *buf, size_t n) {
  StrBuf sb = {0};
  sb_printf(&sb, "bench doctor --device cuda:%d", rq->gpu);
  StrBuf dts = {0};
  for (int i = 0; i < rq->n_models; i++)
    if (!strstr(dts.data ? dts.data : "", rq->models[i].dtype))
      sb_printf(&dts, "%s%s", dts.data && dts.data[0] ? "," : "", rq->models[i].dtype);
  if (dts.data && strcmp(dts.data, "bf16") != 0) sb_printf(&sb, " --dtype %s", dts.data);
  int one_text = rq->n_models > 0 && rq->models[0].data;
  for (int i = 1; i < rq->n_models && one_text; i++)
    one_text = rq->models[i].data && strcmp(rq->models[i].data, rq->models[0].data) == 0;
  if (one_text) sb_printf(&sb, " --data %s", rq->models[0].data);
  for (int i = 0; i < rq->n_models; i++) {
    int dup = 0;
    for (int k = 0; k < i; k++) dup |= strcmp(rq->models[k].dir, rq->models[i].dir) == 0;
    if (!dup) sb_printf(&sb, " %s", rq->models[i].dir);
  }
  snprintf(buf, n, "%s", sb.data);
  sb_free(&sb);
  sb_free(&dts);
}
