// runner_worker.c — a worker process of `bench run` (runner.h): loads its group's model once, then
// runs each job the supervisor hands over on its device's engine (runner_engine.c: weights
// uploaded once per model and dtype) and writes the job's result file itself.
//
// Test hooks. BENCH_FAULT, read only here, injects failures so tests can check what the supervisor
// does with them; a comma-separated list of
//   crash:JOB_ID        the worker segfaults when it starts that job (every try)
//   crash-once:JOB_ID   the same on the job's first try only (the retry runs normally)
//   abort:JOB_ID        abort() (SIGABRT) at the start of that job
//   exit:JOB_ID         the worker exits with status 3 at the start of that job
//   oom:JOB_ID          that job fails on its open engine as an allocation failure does ("out of
//                       memory: ..."): recorded oom, the engine closed and reopened for the next job
//   device-error:JOB_ID that job fails as a device does that needs a fresh process: recorded error,
//                       the worker replaced by a fresh one for the next job
//   engine-fail:DEVICE  the engine cannot be opened on that device ("cpu", "cuda:0"): every job
//                       of the worker fails with the reason
//   hang:JOB_ID         that job never ends (until the worker is killed)
//   crash-load:MODEL    the worker segfaults while loading that model
//   delay:MS            sleep MS milliseconds after every window of every job (to stop a run mid-job)
// Nothing else in bench reads BENCH_FAULT; it changes no result of a job it does not name.
#include "runner_worker.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "eval.h"
#include "runner_engine.h"
#include "runner_job.h"
#include "train_job.h"
#include "worker_beat.h"

// ---- fault hooks ----
typedef struct {
  char *spec;          // the BENCH_FAULT value (owned copy)
  long delay_ms;
} Faults;

static void faults_init(Faults *f) {
  const char *v = getenv("BENCH_FAULT");
  f->spec = xstrdup(v ? v : "");
  f->delay_ms = 0;
  const char *d = strstr(f->spec, "delay:");
  if (d) f->delay_ms = strtol(d + 6, NULL, 10);
}

// Whether the list holds "kind:name" as one entry.
static int fault_has(const Faults *f, const char *kind, const char *name) {
  char *want = xasprintf("%s:%s", kind, name);
  size_t n = strlen(want);
  int found = 0;
  for (const char *p = f->spec; *p && !found;) {
    const char *e = strchr(p, ',');
    size_t len = e ? (size_t)(e - p) : strlen(p);
    found = len == n && strncmp(p, want, n) == 0;
    p += len + (e ? 1 : 0);
  }
  free(want);
  return found;
}

// The message an "engine-fail:DEVICE" entry makes opening the engine fail with; NULL when none.
static const char *engine_open_fault(const Faults *f, const char *device) {
  return fault_has(f, "engine-fail", device)
             ? "cannot open the device: injected by BENCH_FAULT (test hook)"
             : NULL;
}

static void crash_now(void) {
  signal(SIGSEGV, SIG_DFL);
  raise(SIGSEGV);
  _exit(139);
}

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
}

// ---- events to the supervisor ----
static void send_event(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void send_event(int fd, const char *fmt, ...) {
  char line[2048];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(line, sizeof line - 1, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  if ((size_t)n > sizeof line - 2) n = (int)sizeof line - 2;
  for (int i = 0; i < n; i++)
    if (line[i] == '\n' || line[i] == '\r') line[i] = ' ';
  line[n++] = '\n';
  for (int off = 0; off < n;) {
    ssize_t w = write(fd, line + off, (size_t)(n - off));
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) _exit(1);  // the supervisor is gone: nothing left to report to
    off += (int)w;
  }
}

typedef struct {
  int fd;
  long index;
  double last_sent;
  long delay_ms;
} Progress;

// Sends "KIND INDEX DONE TOTAL TOKENS SECONDS" at most every 0.25 s (and at the end).
static void send_progress(Progress *p, const char *kind, long done, long total, long tokens, double seconds) {
  double now = mono_time();
  if (done == total || now - p->last_sent >= 0.25) {
    send_event(p->fd, "%s %ld %ld %ld %ld %.6f", kind, p->index, done, total, tokens, seconds);
    p->last_sent = now;
  }
  if (p->delay_ms > 0) sleep_ms(p->delay_ms);
}

// Windows: "prog INDEX DONE TOTAL TOKENS FORWARD_SECONDS".
static void on_progress(void *ctx, long done, long total, long tokens, double forward_s) {
  send_progress(ctx, "prog", done, total, tokens, forward_s);
}

// Training steps: "tprog INDEX STEP STEPS TOKENS SECONDS", steps counted as steps, not windows.
static void on_train_progress(void *ctx, long done, long total, long tokens, double seconds) {
  send_progress(ctx, "tprog", done, total, tokens, seconds);
}

// ---- loaded state: the group's model and the tokenizers used so far ----
typedef struct {
  Model model;
  int loaded;
  BenchErr load_err;    // msg non-empty: loading failed, every job of the group fails with it
  char **tok_paths;
  Tokenizer **toks;     // NULL where loading failed (tok_errors says why)
  char **tok_errors;
  int n_toks;
} Loaded;

static void loaded_free(Loaded *ld) {
  if (ld->loaded) model_free(&ld->model);
  for (int i = 0; i < ld->n_toks; i++) {
    free(ld->tok_paths[i]);
    if (ld->toks[i]) tokenizer_free(ld->toks[i]);
    free(ld->tok_errors[i]);
  }
  free(ld->tok_paths);
  free(ld->toks);
  free(ld->tok_errors);
  memset(ld, 0, sizeof *ld);
}

static int get_tokenizer(Loaded *ld, const char *path, const Tokenizer **tok, BenchErr *err) {
  int i = 0;
  while (i < ld->n_toks && strcmp(ld->tok_paths[i], path) != 0) i++;
  if (i == ld->n_toks) {
    ld->tok_paths = xrealloc(ld->tok_paths, (size_t)(i + 1) * sizeof *ld->tok_paths);
    ld->toks = xrealloc(ld->toks, (size_t)(i + 1) * sizeof *ld->toks);
    ld->tok_errors = xrealloc(ld->tok_errors, (size_t)(i + 1) * sizeof *ld->tok_errors);
    ld->tok_paths[i] = xstrdup(path);
    ld->toks[i] = NULL;
    ld->tok_errors[i] = NULL;
    ld->n_toks++;
    if (tokenizer_load(path, &ld->toks[i], err) != 0) ld->tok_errors[i] = xstrdup(err->msg);
  }
  if (!ld->toks[i]) return err_set(err, "%s", ld->tok_errors[i]);
  *tok = ld->toks[i];
  return 0;
}

// ---- one job ----
// Training progress lines go to stderr, which the supervisor copies into the run log.
static void train_log(void *ctx, const char *line) {
  (void)ctx;
  fprintf(stderr, "%s\n", line);
  fflush(stderr);
}

// The engine job j runs on, for its model (trained first for a training phase's job).
static int job_engine(Loaded *ld, TrainJobs *tj, WorkerEngine *we, const Job *j, Progress *prog,
                      const Model **model, const Engine **eng, const json_t **train_rec,
                      BenchErr *err) {
  DType dtype;
  if (worker_engine_usable(we, err) != 0 || dtype_from_name(j->dtype, &dtype, err) != 0) return -1;
  *model = &ld->model;
  char *key;
  if (!j->model) {  // a training phase's job: its model is trained (or reused) first
    key = xasprintf("train:%s", j->train_id);
    worker_engine_close_unless(we, key);  // another trained model is about to replace its weights
    TrainHooks hooks = {train_log, on_train_progress, prog};
    if (train_jobs_model(tj, j, &hooks, model, train_rec, err) != 0) {
      free(key);
      return -1;
    }
  } else if (ld->load_err.msg[0]) {
    *err = ld->load_err;
    return -1;
  } else {
    key = xasprintf("model:%s", j->model->name);
  }
  int rc = worker_engine_get(we, *model, key, dtype, eng, err);
  free(key);
  return rc;
}

static int run_job(const WorkerSpec *w, Loaded *ld, TrainJobs *tj, WorkerEngine *we,
                   const Faults *f, const Job *j, Progress *prog, EvalResult *res,
                   const json_t **train_rec, BenchErr *err) {
  const Model *model;
  const Engine *eng;
  *train_rec = NULL;
  if (job_engine(ld, tj, we, j, prog, &model, &eng, train_rec, err) != 0) return -1;
  send_event(prog->fd, "prog %ld 0 0 0 0", prog->index);  // alive after a weights upload (stall_s)
  if (fault_has(f, "oom", j->id))
    return err_set(err, "out of memory: injected by BENCH_FAULT for job %s (test hook)", j->id);
  if (fault_has(f, "device-error", j->id))
    return err_set(err, "device error on %s: injected by BENCH_FAULT for job %s (test hook; the "
                   "device needs a fresh process)", eng->device, j->id);
  const JobInputs *in = matrix_job_inputs(j);
  const Tokenizer *tok = NULL;
  if (in->tokenizer_path && get_tokenizer(ld, in->tokenizer_path, &tok, err) != 0) return -1;
  EvalRequest req = {
      .model = model,
      .tokenizer = tok,
      .dataset_name = j->dataset->name,
      .dataset_path = in->dataset_path,
      .dataset_field = in->dataset_field,
      .rope = in->rope,
      .cache = in->cache,
      .protocol = j->protocol,
      .length = j->length,
      .windows = j->windows,
      .stride = j->stride,
      .prompt = j->prompt,
      .warmup = j->warmup,
      .seed = (uint64_t)j->seed,
      .dtype = j->dtype,
      .engine = eng,
      .threads = w->threads,
      .progress = on_progress,
      .progress_ctx = prog,
  };
  return eval_job(&req, res, err);
}

// Runs job `index` of the run and writes its result; sends "done" (after "retire" when a device
// error means this process must give way to a fresh one). Returns 1 when it must, else 0.
static int handle_job(const WorkerSpec *w, Loaded *ld, TrainJobs *tj, WorkerEngine *we,
                      const Faults *f, long index, int attempt) {
  const Job *j = w->jobs[index].job;
  send_event(w->evt_fd, "start %ld", index);
  if (fault_has(f, "crash", j->id) || (attempt == 1 && fault_has(f, "crash-once", j->id))) crash_now();
  if (fault_has(f, "abort", j->id)) abort();
  if (fault_has(f, "exit", j->id)) _exit(3);
  while (fault_has(f, "hang", j->id)) sleep_ms(1000);

  JobResult r;
  job_result_begin(&r, w->suite, j, w->device);
  iso_time_utc(wall_time(), r.started);
  Progress prog = {w->evt_fd, index, 0, f->delay_ms};
  EvalResult res;
  BenchErr err;
  const json_t *train_rec = NULL;
  int rc = run_job(w, ld, tj, we, f, j, &prog, &res, &train_rec, &err);
  int replace = 0;
  iso_time_utc(wall_time(), r.finished);
  char why[BENCH_ERR_MAX];
  if (rc == 0) {
    r.status = eval_result_status(&res, why, sizeof why);
    if (r.status != JOB_OK) r.error = why;
    r.metrics = eval_metrics_json(&res);
    train_metrics_merge(r.metrics, train_rec);
    eval_result_free(&res);
  } else {
    r.status = status_for_error(err.msg);
    r.error = err.msg;
    replace = worker_engine_failed(we, err.msg) == ENGINE_REPLACE;
  }
  BenchErr werr;
  int wrc = job_result_write(w->dir, &r, &werr);
  if (r.metrics) json_decref(r.metrics);
  job_result_release(&r);
  if (replace) send_event(w->evt_fd, "retire\tdevice error in job %s", j->id);
  if (wrc == 0) send_event(w->evt_fd, "done %ld 1\t", index);
  else send_event(w->evt_fd, "done %ld 0\t%s", index, werr.msg);
  return replace;
}

// Reads one "job INDEX ATTEMPT" line; 0 on EOF (time to exit).
static int read_command(int fd, long *index, int *attempt) {
  char line[128];
  size_t n = 0;
  for (;;) {
    char ch;
    ssize_t k = read(fd, &ch, 1);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) return 0;
    if (ch == '\n') break;
    if (n + 1 < sizeof line) line[n++] = ch;
  }
  line[n] = 0;
  return sscanf(line, "job %ld %d", index, attempt) == 2 ? 1 : 0;
}

int worker_main(const WorkerSpec *w) {
  if (w->beat_s > 0 && worker_beat_start(w->evt_fd, w->beat_s) != 0)
    fprintf(stderr, "bench: warning: cannot start the heartbeat thread: the stall limit may take this "
            "worker for hung\n");
  Faults f;
  faults_init(&f);
  Loaded ld;
  memset(&ld, 0, sizeof ld);
  if (w->model) {
    if (fault_has(&f, "crash-load", w->model->name)) crash_now();
    double t0 = mono_time();
    if (model_load(w->model->path, &ld.model, &ld.load_err) == 0) {
      ld.loaded = 1;
      send_event(w->evt_fd, "load ok %zu %.3f", ld.model.n_params, mono_time() - t0);
    } else {
      err_prefix(&ld.load_err, "model '%s'", w->model->name);
      send_event(w->evt_fd, "load fail\t%s", ld.load_err.msg);
    }
  } else {
    send_event(w->evt_fd, "load ok 0 0");
  }
  TrainJobs *tj = train_jobs_new(w->suite, w->dir, w->threads);
  train_jobs_set_device(tj, w->device);
  WorkerEngine we;
  worker_engine_init(&we, w->device, w->refused);
  we.open_fault = engine_open_fault(&f, w->device);
  long index;
  int attempt;
  while (read_command(w->cmd_fd, &index, &attempt)) {
    if (index < 0 || index >= w->n) continue;
    if (handle_job(w, &ld, tj, &we, &f, index, attempt)) break;
  }
  worker_engine_close_unless(&we, NULL);
  train_jobs_free(tj);
  loaded_free(&ld);
  free(f.spec);
  return 0;
}
