// run_plan.c — job selection (--only, --shard), run order, costs and lanes (run_plan.h).
#include "run_plan.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "plan_warnings.h"

// ---- shards ----
// A whole number of at most 7 digits in [s, end).
static int parse_uint(const char *s, const char *end, long *out) {
  if (s == end || end - s > 7) return -1;
  long v = 0;
  for (const char *p = s; p < end; p++) {
    if (*p < '0' || *p > '9') return -1;
    v = v * 10 + (*p - '0');
  }
  *out = v;
  return 0;
}

#define SHARD_MAX 9999999

int shard_parse(const char *text, int *i, int *n, BenchErr *err) {
  const char *slash = strchr(text, '/');
  if (!slash) return err_set(err, "--shard: '%s' is not I/N with whole numbers 1 ≤ I ≤ N (e.g. 2/3)", text);
  long a, b;
  char *first = xstrndup(text, (size_t)(slash - text));
  BenchErr why;
  int rc = parse_int_range(first, 1, SHARD_MAX, &a, &why) == 0 && parse_int_range(slash + 1, 1, SHARD_MAX, &b, &why) == 0;
  free(first);
  if (!rc) return err_set(err, "--shard: '%s': %s (I/N with whole numbers 1 ≤ I ≤ N, e.g. 2/3)", text, why.msg);
  if (a > b) return err_set(err, "--shard: '%s': shard %ld of %ld does not exist (1 ≤ I ≤ N)", text, a, b);
  *i = (int)a;
  *n = (int)b;
  return 0;
}

int shard_of(const char *job_id, int n) {
  uint64_t h = 0;
  for (int k = 0; k < JOB_ID_HEX && job_id[k]; k++) {
    char c = job_id[k];
    int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : 0;
    h = h << 4 | (uint64_t)d;
  }
  return 1 + (int)(h % (uint64_t)(n < 1 ? 1 : n));
}

const char *job_shard_key(const Job *j) { return j->train_id[0] ? j->train_id : j->id; }

// ---- selection ----
static char *job_label(const Suite *s, const Job *j) {
  return xasprintf("%s %s %s L=%ld seed=%ld rope=%s", s->phases[j->phases[0]].id, j->id, j->protocol,
                   j->length, j->seed, j->rope.name ? j->rope.name : "?");
}

static int same_text(const char *a, const char *b) { return a == b || (a && b && strcmp(a, b) == 0); }

static int cmp_run_jobs(const void *a, const void *b) {
  const RunJob *x = a, *y = b;
  if (x->group != y->group) return x->group < y->group ? -1 : 1;
  if (x->engine != y->engine) return x->engine < y->engine ? -1 : 1;
  return x->index < y->index ? -1 : x->index > y->index;
}

void run_select(const Suite *s, const Matrix *m, char *const *only, int n_only, int shard_i,
                int shard_n, const ModelShape *shapes, RunSelection *out) {
  out->jobs = xcalloc((size_t)m->n_jobs + 1, sizeof *out->jobs);
  out->n = 0;
  const ModelDef **models = xcalloc((size_t)s->n_models + 1, sizeof *models);
  int n_models = 0;
  const Job **engines = xcalloc((size_t)m->n_jobs + 1, sizeof *engines);  // first job of each
  int n_engines = 0;
  for (int i = 0; i < m->n_jobs; i++) {
    const Job *job = &m->jobs[i];
    int keep = n_only == 0;
    for (int p = 0; p < job->n_phases && !keep; p++)
      for (int o = 0; o < n_only && !keep; o++) keep = strcmp(s->phases[job->phases[p]].id, only[o]) == 0;
    if (!keep || (shard_n > 0 && shard_of(job_shard_key(job), shard_n) != shard_i)) continue;
    RunJob *r = &out->jobs[out->n++];
    r->job = job;
    r->index = i;
    int g = 0;
    while (g < n_models && models[g] != job->model) g++;
    if (g == n_models) models[n_models++] = job->model;
    r->group = g;
    int e = 0;
    while (e < n_engines && !(engines[e]->model == job->model && same_text(engines[e]->device, job->device) &&
                              same_text(engines[e]->dtype, job->dtype)))
      e++;
    if (e == n_engines) engines[n_engines++] = job;
    r->engine = e;
    r->label = job_label(s, job);
    ModelShape scratch;
    const ModelShape *sh = job_shape(m, job, shapes, &scratch);
    JobCost c;
    job_cost(job, sh, strcmp(job->device, "cpu") == 0, &c);
    r->cost = c.flops > 0 ? c.flops : c.tokens_processed;
  }
  free(models);
  free(engines);
  qsort(out->jobs, (size_t)out->n, sizeof *out->jobs, cmp_run_jobs);
  // the first job of each trained model trains it: its cost includes the training's
  for (long k = 0; k < out->n; k++) {
    RunJob *r = &out->jobs[k];
    if (!r->job->train_id[0]) continue;
    int first = 1;
    for (long q = 0; q < k && first; q++) first = strcmp(out->jobs[q].job->train_id, r->job->train_id) != 0;
    if (!first) continue;
    ModelShape scratch;
    const ModelShape *sh = job_shape(m, r->job, shapes, &scratch);
    r->train_cost = train_work(r->job->train.variant, r->job->train.member, sh);
    r->cost += r->train_cost;
  }
}

void run_selection_free(RunSelection *sel) {
  for (long i = 0; i < sel->n; i++) free(sel->jobs[i].label);
  free(sel->jobs);
  memset(sel, 0, sizeof *sel);
}

// ---- devices and lanes ----
int device_normalise(const char *text, int index_default, char *out, size_t out_len, BenchErr *err) {
  const char *num = NULL;
  if (strcmp(text, "cpu") == 0) {
    snprintf(out, out_len, "cpu");
    return 0;
  }
  if (strcmp(text, "cuda") == 0 && index_default) num = "0";
  else if (strncmp(text, "cuda:", 5) == 0) num = text + 5;
  else if (text[0] >= '0' && text[0] <= '9') num = text;
  long idx;
  if (!num || parse_uint(num, num + strlen(num), &idx) != 0)
    return err_set(err, "unknown device '%s' (cpu, cuda, cuda:N or a GPU index N)", text);
  snprintf(out, out_len, "cuda:%ld", idx);
  return 0;
}

int lanes_init(Lanes *ln, const char *list, const char *fallback, BenchErr *err) {
  memset(ln, 0, sizeof *ln);
  if (!list) {
    ln->flexible = 1;
    ln->n = 1;
    ln->devices = xcalloc(1, sizeof *ln->devices);
    ln->devices[0] = xstrdup(fallback);
    return 0;
  }
  for (const char *p = list;;) {
    const char *e = strchr(p, ',');
    size_t len = e ? (size_t)(e - p) : strlen(p);
    char *item = xstrndup(p, len);
    char dev[32];
    int rc = len == 0 ? err_set(err, "--devices: empty entry in '%s'", list)
                      : device_normalise(item, 1, dev, sizeof dev, err);
    free(item);
    if (rc != 0) {
      err_prefix(err, "--devices");
      lanes_free(ln);
      return -1;
    }
    for (int k = 0; k < ln->n; k++)
      if (strcmp(ln->devices[k], dev) == 0 && strcmp(dev, "cpu") != 0) {
        err_set(err, "--devices: '%s' is listed twice (one worker per GPU)", dev);
        lanes_free(ln);
        return -1;
      }
    ln->devices = xrealloc(ln->devices, (size_t)(ln->n + 1) * sizeof *ln->devices);
    ln->devices[ln->n++] = xstrdup(dev);
    if (!e) break;
    p = e + 1;
  }
  return 0;
}

void lanes_free(Lanes *ln) {
  for (int k = 0; k < ln->n; k++) free(ln->devices[k]);
  free(ln->devices);
  memset(ln, 0, sizeof *ln);
}

const char *lane_device(const Lanes *ln, int k, const Job *j, char *buf, size_t len) {
  const char *lane = ln->devices[k];
  const char *want = j->device ? j->device : "auto";
  int lane_cuda = strncmp(lane, "cuda", 4) == 0;
  if (ln->flexible) {
    char dev[DEVICE_NAME_MAX];
    device_for_job(want, lane, dev);
    snprintf(buf, len, "%s", dev);
    return buf;
  }
  int ok = strcmp(want, "auto") == 0 || strcmp(want, lane) == 0 ||
           (strcmp(want, "cuda") == 0 && lane_cuda);
  if (!ok) return NULL;
  snprintf(buf, len, "%s", lane);
  return buf;
}
