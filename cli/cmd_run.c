// cmd_run.c — `bench run SUITE`: expands the suite into jobs and runs them one after another on the
// CPU engine, in this process, writing one result file per job (results.h). Finished jobs (status
// ok) are skipped unless --fresh; a failed job is recorded with its one-line error and the run goes
// on. Jobs run grouped by model so each model is loaded once.
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "eval.h"
#include "matrix.h"
#include "report.h"
#include "results.h"
#include "suite.h"

const char cmd_run_help[] =
    "options:\n"
    "  --only PHASE[,PHASE]  run only these phases (a job shared with another phase runs once)\n"
    "  --results DIR         results directory (default results/<suite>; jobs go in DIR/jobs/)\n"
    "  --reports DIR         where the report goes (default reports/<suite>, as bench report)\n"
    "  --fresh               recompute jobs that already finished\n"
    "  --dry-run             list the jobs that would run; write nothing\n"
    "  --device cpu|auto     where jobs run (this build runs jobs on the CPU engine)\n"
    "\n"
    "Re-running resumes: a job whose result file says \"ok\" is skipped. A failed job is\n"
    "recorded (status error or oom, with its error) and the run goes on; the exit status is 1\n"
    "when some job failed, 2 when the suite is invalid or a model or dataset path is missing.\n"
    "Progress lines go to stdout and DIR/run.log; at the end the report is (re)written from\n"
    "every result in DIR, as `bench report DIR` does.\n";

typedef struct {
  const char *suite_path;
  char **only;           // [n_only] phase ids
  int n_only;
  const char *results;   // results dir (NULL: results/<suite>)
  const char *reports;   // reports dir (NULL: report_default_dir)
  int fresh, dry_run;
} RunArgs;

static int usage_error(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "bench: error: ");
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\n");
  va_end(ap);
  return EXIT_BAD_INPUT;
}

static void split_commas(const char *s, char ***out, int *n) {
  for (const char *p = s; *p;) {
    const char *e = strchr(p, ',');
    size_t len = e ? (size_t)(e - p) : strlen(p);
    if (len > 0) {
      *out = xrealloc(*out, (size_t)(*n + 1) * sizeof **out);
      (*out)[(*n)++] = xstrndup(p, len);
    }
    p += len + (e ? 1 : 0);
  }
}

static int parse_args(int argc, char **argv, RunArgs *a) {
  memset(a, 0, sizeof *a);
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    const char *val = NULL;
    int takes = strcmp(arg, "--only") == 0 || strcmp(arg, "--results") == 0 ||
                strcmp(arg, "--reports") == 0 || strcmp(arg, "--device") == 0;
    if (takes) {
      if (i + 1 >= argc) return usage_error("option '%s' needs a value", arg);
      val = argv[++i];
    }
    if (strcmp(arg, "--only") == 0) split_commas(val, &a->only, &a->n_only);
    else if (strcmp(arg, "--results") == 0) a->results = val;
    else if (strcmp(arg, "--reports") == 0) a->reports = val;
    else if (strcmp(arg, "--device") == 0) {
      if (strcmp(val, "cpu") != 0 && strcmp(val, "auto") != 0)
        return usage_error("device '%s' is not supported by this run yet (cpu or auto)", val);
    } else if (strcmp(arg, "--fresh") == 0) a->fresh = 1;
    else if (strcmp(arg, "--dry-run") == 0) a->dry_run = 1;
    else if (arg[0] == '-' && arg[1]) return usage_error("unknown option '%s' for 'run'", arg);
    else if (!a->suite_path) a->suite_path = arg;
    else return usage_error("unexpected argument '%s' ('run' takes one suite)", arg);
  }
  if (!a->suite_path) return usage_error("'run' needs a suite file (bench run SUITE)");
  return 0;
}

static void free_args(RunArgs *a) {
  for (int i = 0; i < a->n_only; i++) free(a->only[i]);
  free(a->only);
}

// ---- log: timestamped lines to stdout and results/<suite>/run.log ----
typedef struct {
  FILE *file;  // NULL in a dry run
} RunLog;

static void log_line(RunLog *lg, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void log_line(RunLog *lg, const char *fmt, ...) {
  char ts[32];
  iso_time_utc(wall_time(), ts);
  va_list ap;
  va_start(ap, fmt);
  char *msg = NULL;
  if (vasprintf(&msg, fmt, ap) < 0) msg = NULL;
  va_end(ap);
  if (!msg) return;
  printf("%s %s\n", ts, msg);
  fflush(stdout);
  if (lg->file) {
    fprintf(lg->file, "%s %s\n", ts, msg);
    fflush(lg->file);
  }
  free(msg);
}

// ---- jobs ----
// A job of the plan, in run order.
typedef struct {
  const Job *job;
  int model_index;       // order of first appearance of its model: jobs run grouped by it
  long order;            // position in the plan
} RunJob;

static int cmp_jobs(const void *a, const void *b) {
  const RunJob *x = a, *y = b;
  if (x->model_index != y->model_index) return x->model_index < y->model_index ? -1 : 1;
  return x->order < y->order ? -1 : x->order > y->order;
}

static const char *first_phase(const Suite *s, const Job *j) { return s->phases[j->phases[0]].id; }

// A short description of a job for log lines (caller frees).
static char *job_label(const Suite *s, const Job *j) {
  return xasprintf("%s %s %s L=%ld seed=%ld rope=%s", first_phase(s, j), j->id, j->protocol,
                   j->length, j->seed, j->rope.name ? j->rope.name : "?");
}

// Every model and dataset path the jobs use that does not exist: one error line each.
static int check_paths(const Suite *s, const RunJob *jobs, long n) {
  int missing = 0;
  for (int i = 0; i < s->n_models; i++) {
    const ModelDef *m = &s->models[i];
    int used = 0;
    for (long k = 0; k < n && !used; k++) used = jobs[k].job->model == m;
    if (!used || is_directory(m->path)) continue;
    fprintf(stderr, "bench: error: %s:%d:%d: model '%s': path '%s' does not exist\n", s->path,
            m->mark.line, m->mark.col, m->name, m->path);
    missing++;
  }
  for (int i = 0; i < s->n_datasets; i++) {
    const DatasetDef *d = &s->datasets[i];
    int used = 0;
    for (long k = 0; k < n && !used; k++) used = jobs[k].job->dataset == d;
    if (!used || file_exists(d->path)) continue;
    fprintf(stderr, "bench: error: %s:%d:%d: dataset '%s': path '%s' does not exist\n", s->path,
            d->mark.line, d->mark.col, d->name, d->path);
    missing++;
  }
  if (missing)
    fprintf(stderr, "bench: error: %d missing path%s; no job was run\n", missing,
            missing == 1 ? "" : "s");
  return missing ? -1 : 0;
}

// Loaded state shared by the jobs: the current model (one at a time: jobs run grouped by model)
// and every tokenizer loaded so far (by path; small).
typedef struct {
  const ModelDef *def;
  Model model;
  int loaded;
  BenchErr load_err;               // msg non-empty: loading failed; every job of the model fails so
  char **tok_paths;
  Tokenizer **toks;                // NULL where loading failed (tok_errors says why)
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

static void use_model(Loaded *ld, const ModelDef *def, RunLog *lg) {
  if (ld->def == def) return;
  if (ld->loaded) model_free(&ld->model);
  ld->loaded = 0;
  ld->load_err.msg[0] = 0;
  ld->def = def;
  double t0 = mono_time();
  if (model_load(def->path, &ld->model, &ld->load_err) != 0) {
    log_line(lg, "model '%s' failed to load: %s", def->name, ld->load_err.msg);
    err_prefix(&ld->load_err, "model '%s'", def->name);
    return;
  }
  ld->loaded = 1;
  log_line(lg, "model '%s' loaded: %zu parameters (%.1f s)", def->name, ld->model.n_params,
           mono_time() - t0);
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

static int run_one(const Job *j, Loaded *ld, EvalResult *res, BenchErr *err) {
  if (!j->model) return err_set(err, "training a model ('train:') is not built yet");
  if (j->device && strncmp(j->device, "cuda", 4) == 0)
    return err_set(err, "the job is pinned to device '%s'; this run has only the CPU engine",
                   j->device);
  if (ld->load_err.msg[0]) {
    *err = ld->load_err;
    return -1;
  }
  const JobInputs *in = matrix_job_inputs(j);
  const Tokenizer *tok = NULL;
  if (in->tokenizer_path && get_tokenizer(ld, in->tokenizer_path, &tok, err) != 0) return -1;
  EvalRequest req = {
      .model = &ld->model,
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
      .threads = 0,
  };
  return eval_job(&req, res, err);
}

// 1 when DIR/jobs/<id>.json holds a finished (ok) result.
static int already_done(const char *dir, const char *job_id) {
  char *path = job_result_path(dir, job_id);
  int done = 0;
  if (file_exists(path)) {
    JobResult r;
    BenchErr err;
    if (job_result_read(path, &r, &err) == 0) {
      done = r.status == JOB_OK;
      job_result_free(&r);
    }
  }
  free(path);
  return done;
}

static JobStatus status_of_error(const char *msg) {
  return strstr(msg, "out of memory") ? JOB_OOM : JOB_ERROR;
}

// Runs the job and writes its result; returns 0 when it succeeded.
static int run_and_record(const Suite *s, const char *dir, const Job *j, Loaded *ld, RunLog *lg,
                          long k, long n) {
  char *label = job_label(s, j);
  JobResult r = {0};
  r.job_id = (char *)j->id;
  r.suite = s->suite;
  r.phase = (char *)first_phase(s, j);
  r.n_phases = j->n_phases;
  r.phases = xcalloc((size_t)j->n_phases, sizeof *r.phases);
  for (int p = 0; p < j->n_phases; p++) r.phases[p] = s->phases[j->phases[p]].id;
  r.spec = json_deep_copy(j->spec);
  json_object_set_new(r.spec, "device", json_string("cpu"));
  iso_time_utc(wall_time(), r.started);
  EvalResult res;
  BenchErr err;
  int rc = run_one(j, ld, &res, &err);
  iso_time_utc(wall_time(), r.finished);
  if (rc == 0) {
    r.status = JOB_OK;
    r.metrics = eval_metrics_json(&res);
    log_line(lg, "[%ld/%ld] %s: ok ppl %.4g nll %.4f±%.4f %ld tokens (%.1f s)", k, n, label,
             res.ppl, res.nll, res.nll_stderr, res.tokens, res.wall_s);
    eval_result_free(&res);
  } else {
    r.status = status_of_error(err.msg);
    r.error = err.msg;
    log_line(lg, "[%ld/%ld] %s: %s: %s", k, n, label, job_status_name(r.status), err.msg);
  }
  BenchErr werr;
  int wrc = job_result_write(dir, &r, &werr);
  if (wrc != 0) log_line(lg, "cannot write the result of job %s: %s", j->id, werr.msg);
  json_decref(r.spec);
  if (r.metrics) json_decref(r.metrics);
  free(r.phases);
  free(label);
  return rc == 0 && wrc == 0 ? 0 : -1;
}

static int check_only(const Suite *s, const RunArgs *a) {
  int bad = 0;
  for (int i = 0; i < a->n_only; i++) {
    if (suite_phase(s, a->only[i])) continue;
    const char **names = xcalloc((size_t)s->n_phases + 1, sizeof *names);
    for (int p = 0; p < s->n_phases; p++) names[p] = s->phases[p].id;
    const char *guess = closest_name(a->only[i], names, s->n_phases);
    if (guess)
      fprintf(stderr, "bench: error: --only: unknown phase '%s' (did you mean '%s'?)\n", a->only[i],
              guess);
    else
      fprintf(stderr, "bench: error: --only: unknown phase '%s'\n", a->only[i]);
    free(names);
    bad = 1;
  }
  return bad ? -1 : 0;
}

// The jobs of the selected phases, grouped by model (first appearance), else in plan order.
static RunJob *select_jobs(const Suite *s, const Matrix *mx, const RunArgs *a, long *n_out) {
  RunJob *jobs = xcalloc((size_t)mx->n_jobs + 1, sizeof *jobs);
  const ModelDef **models = xcalloc((size_t)s->n_models + 1, sizeof *models);
  int n_models = 0;
  long n = 0;
  for (int i = 0; i < mx->n_jobs; i++) {
    const Job *job = &mx->jobs[i];
    int keep = a->n_only == 0;
    for (int p = 0; p < job->n_phases && !keep; p++)
      for (int o = 0; o < a->n_only && !keep; o++)
        keep = strcmp(s->phases[job->phases[p]].id, a->only[o]) == 0;
    if (!keep) continue;
    RunJob *j = &jobs[n];
    j->job = job;
    j->order = n;
    int idx = 0;
    while (idx < n_models && models[idx] != job->model) idx++;
    if (idx == n_models) models[n_models++] = job->model;
    j->model_index = idx;
    n++;
  }
  free(models);
  qsort(jobs, (size_t)n, sizeof *jobs, cmp_jobs);
  *n_out = n;
  return jobs;
}

static int prepare_dir(const Suite *s, const char *dir, RunLog *lg) {
  BenchErr err;
  char *jobs = path_join(dir, "jobs");
  int rc = mkdir_p(jobs, &err);
  free(jobs);
  if (rc != 0) return usage_error("%s", err.msg);
  char *copy = path_join(dir, "suite.yaml");
  rc = write_file_atomic(copy, s->text, strlen(s->text), &err);
  free(copy);
  if (rc != 0) return usage_error("%s", err.msg);
  char *log = path_join(dir, "run.log");
  lg->file = fopen(log, "a");
  if (!lg->file) rc = usage_error("cannot open '%s' for appending", log);
  free(log);
  return rc;
}

static int run_jobs(const Suite *s, const char *dir, const RunJob *jobs, long n, const RunArgs *a,
                    RunLog *lg) {
  long done = 0, failed = 0, skipped = 0;
  double t0 = mono_time();
  Loaded ld;
  memset(&ld, 0, sizeof ld);
  for (long k = 0; k < n; k++) {
    const Job *j = jobs[k].job;
    if (!a->fresh && already_done(dir, j->id)) {
      skipped++;
      continue;
    }
    if (a->dry_run) {
      char *label = job_label(s, j);
      log_line(lg, "[%ld/%ld] %s: would run", k + 1, n, label);
      free(label);
      continue;
    }
    if (j->model) use_model(&ld, j->model, lg);
    if (run_and_record(s, dir, j, &ld, lg, k + 1, n) == 0) done++;
    else failed++;
  }
  loaded_free(&ld);
  if (a->dry_run)
    log_line(lg, "dry run: %ld jobs would run, %ld already done", n - skipped, skipped);
  else
    log_line(lg, "finished: %ld ok, %ld failed, %ld already done (%.1f s); results in %s", done,
             failed, skipped, mono_time() - t0, dir);
  return failed ? EXIT_JOBS_FAILED : EXIT_OK;
}

// The report of everything in the results directory; a report that cannot be written is logged
// and does not change the exit status (the results are safe; `bench report` can retry).
static void write_report(const char *dir, const char *reports, RunLog *lg) {
  ReportSummary sum;
  BenchErr err;
  if (report_generate(dir, reports, 0, &sum, &err) == 0)
    log_line(lg, "report: %s (%d job results, %d figures)", sum.report_path, sum.n_jobs,
             sum.figures.made);
  else
    log_line(lg, "report not written: %s", err.msg);
  report_summary_free(&sum);
}

int cmd_run(int argc, char **argv) {
  RunArgs a;
  if (parse_args(argc, argv, &a) != 0) {
    free_args(&a);
    return EXIT_BAD_INPUT;
  }
  Diagnostics diag = {0};
  Suite *s = suite_load(a.suite_path, &diag);
  diagnostics_print(&diag, stderr);
  diagnostics_free(&diag);
  if (!s) {
    free_args(&a);
    return EXIT_BAD_INPUT;
  }
  int rc = EXIT_BAD_INPUT;
  Matrix mx;
  BenchErr err;
  RunJob *jobs = NULL;
  long n = 0;
  char *dir = a.results ? xstrdup(a.results) : xasprintf("results/%s", s->suite);
  RunLog lg = {NULL};
  if (check_only(s, &a) != 0) goto out_suite;
  if (matrix_build(s, &mx, &err) != 0) {
    fprintf(stderr, "bench: error: %s\n", err.msg);
    goto out_suite;
  }
  for (int i = 0; i < mx.n_notes; i++) fprintf(stderr, "bench: warning: %s\n", mx.notes[i]);
  jobs = select_jobs(s, &mx, &a, &n);
  if (check_paths(s, jobs, n) != 0) goto out_matrix;
  if (!a.dry_run && prepare_dir(s, dir, &lg) != 0) goto out_matrix;
  log_line(&lg, "suite '%s' (%s): %ld jobs%s", s->suite, a.suite_path, n,
           a.fresh ? ", --fresh: recomputing finished jobs" : "");
  rc = run_jobs(s, dir, jobs, n, &a, &lg);
  if (!a.dry_run) write_report(dir, a.reports, &lg);
  if (lg.file) fclose(lg.file);
out_matrix:
  free(jobs);
  matrix_free(&mx);
out_suite:
  free(dir);
  suite_free(s);
  free_args(&a);
  return rc;
}
