// cmd_run.c — `bench run SUITE [--only PHASE[,PHASE]] [--device auto|cpu|cuda[:N]] [--devices 0,1,..]
//                [--shard I/N] [--results DIR] [--reports DIR] [--fresh] [--force] [--dry-run]
//                [--no-report]`
//
// Before any job: the suite is expanded, every missing model or dataset path is listed at once
// (exit 2), and the plan's warnings are shown. Then, holding the results directory's lock
// (run_lock.h), it writes results/<suite>/suite.yaml, manifest.json (results.h) and the files
// `bench status` reads (run_status.h), and hands the jobs to the supervisor (runner.h), which runs
// them in worker processes and writes one result file per job. Resume is the default: a job whose
// result exists with status ok is not run again unless --fresh; failed jobs run again. After the
// last job `bench report` regenerates the report in a child process; its failure is a warning.
//
// Environment: BENCH_MEM_LIMIT (e.g. 48G) caps each CPU worker's address space, so an allocation
// beyond it fails as the job's oom instead of waking the kernel's OOM killer (GPU workers are not
// capped: the CUDA driver maps device memory into the address space); BENCH_STOP_GRACE
// (seconds, default 30) is how long running jobs may finish after SIGINT/SIGTERM;
// BENCH_JOB_STALL_S (seconds, default 600, 0: never) kills a worker that shows no sign of life (no
// CPU time used, nothing read: runner.h) for that long and records its job crashed, so a hung job
// cannot hold up the rest of a night run.
// GPUs: `auto` is cuda:0 when a GPU is usable. Before the first job on a GPU, that GPU is checked
// against the CPU engine (cli/doctor/doctor.h: kernels, models/quickstart, and each model that
// will run there, in its jobs' dtypes), in a child process, the outcome cached per GPU, driver,
// build and model; it goes into manifest.json and the report header. A GPU that fails runs
// nothing: its jobs are recorded error with the first failing row and the `bench doctor` command
// that shows the whole table; jobs on other devices go on.
// Disk: before the first job, a probe result and a reserve are written (run_space.h): a full disk
// runs nothing; a result that cannot be written stops the run there (runner.h, RunOutcome.failure).
// Exit status: 0 every job ok, 1 some job failed or a result could not be written, 2 bad input or
// no room for results (nothing run), 128+signal when
// stopped by a signal (130 SIGINT, 143 SIGTERM); re-running the same command continues.
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "commands.h"
#include "device.h"
#include "matrix.h"
#include "report.h"
#include "results.h"
#include "run_common.h"
#include "run_gpu_check.h"
#include "run_lock.h"
#include "run_log.h"
#include "run_plan.h"
#include "run_probe.h"
#include "run_space.h"
#include "run_status.h"
#include "runner.h"
#include "runner_job.h"
#include "suite.h"

#define DEFAULT_STOP_GRACE_S 30.0
// Temp files older than this are left-overs of a killed writer (a live writer's last seconds).
#define STALE_TEMP_S 600

const char cmd_run_help[] =
    "options:\n"
    "  --only PHASE[,PHASE]  run only these phases (a job shared with another phase runs once)\n"
    "  --device auto|cpu|cuda[:N]  where jobs whose suite says `auto` run (auto: cuda:0 when a GPU\n"
    "                        is usable, else the CPU)\n"
    "  --devices 0,1,..      one worker per listed device (GPU indices, cuda:N, or cpu), jobs spread\n"
    "  --shard I/N           run only shard I of N (split by job id: disjoint, covering, the same on\n"
    "                        every machine); shards may share one results directory\n"
    "  --results DIR         results directory (default results/<suite>; jobs go in DIR/jobs/)\n"
    "  --reports DIR         where the report goes (default reports/<suite>, as bench report)\n"
    "  --fresh               recompute jobs that already finished\n"
    "  --force               write into a results directory that holds another suite's results\n"
    "                        (refused otherwise, naming both suites)\n"
    "  --dry-run             list the jobs that would run and the plan's warnings; write nothing\n"
    "  --no-report           do not rewrite the report at the end (a Slurm array's tasks leave it to\n"
    "                        the report step that runs after them)\n"
    "\n"
    "Jobs run in worker processes, one model loaded once per worker and its weights put on the\n"
    "device once per dtype. A job that runs out of memory is recorded oom (the device is cleared for\n"
    "the next job), one that fails on a device error is recorded error (a fresh worker takes the\n"
    "next job), one that kills its worker (segfault, abort) is recorded crashed and tried once more\n"
    "at the end; the run goes on either way. Re-running resumes: a job whose result says \"ok\" is\n"
    "skipped, failed jobs run again. A second run on the same results directory is refused.\n"
    "SIGINT/SIGTERM: no new jobs, the running one may finish (up to BENCH_STOP_GRACE seconds,\n"
    "default 30), then the run stops; run the same command to continue.\n"
    "Progress: a live line on a terminal, timestamped lines in DIR/run.log (`tail -f` it) and\n"
    "`bench status DIR` from anywhere. At the end the report is rewritten from every result in DIR.\n"
    "GPUs: before the first job on a GPU, that GPU is checked against the CPU engine as `bench\n"
    "doctor` does (kernels, models/quickstart, and the suite's models in their dtypes; cached per GPU,\n"
    "driver, build and model). The outcome is in manifest.json and the report header; a GPU that\n"
    "fails runs nothing: its jobs are recorded error with the first failing check and the `bench\n"
    "doctor` command that shows the rest. Jobs on other devices go on.\n"
    "Disk: before the first job a probe result and a small reserve are written, so a full disk runs\n"
    "nothing (exit 2, naming the path and the free space); a result that cannot be written during\n"
    "the run stops it there (exit 1; `bench status` says so). Make room and run it again.\n"
    "Exit status: 0 all ok, 1 some job failed or a result could not be written, 2 bad input or no\n"
    "room for results (nothing run), 130/143 stopped.\n"
    "\n"
    "environment:\n"
    "  BENCH_MEM_LIMIT=48G   cap each CPU worker's memory, so a job beyond it fails as oom\n"
    "  BENCH_STOP_GRACE=S    seconds the running job may finish after SIGINT/SIGTERM (30)\n"
    "  BENCH_JOB_STALL_S=S   kill and record crashed a job whose worker shows no sign of life (no\n"
    "                        CPU time used, nothing read) for S seconds (600; 0: never)\n";

typedef struct {
  const char *suite_path;
  char **only;           // [n_only] phase ids
  int n_only;
  const char *device;    // --device (NULL: auto)
  const char *devices;   // --devices list (NULL: one lane)
  int shard_i, shard_n;  // 0/0: unsharded
  const char *results;   // results dir (NULL: results/<suite>)
  const char *reports;   // reports dir (NULL: the report's default)
  int fresh, dry_run, no_report;
  int force;             // --force: write into another suite's results directory
  char *command;         // "bench run ..." as given
} RunArgs;

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
  a->command = command_text(argc, argv);
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    const char *val;
    static const char *const TAKES[] = {"--only", "--results", "--reports", "--device", "--devices", "--shard"};
    if (option_value(argc, argv, &i, TAKES, sizeof TAKES / sizeof *TAKES, &val) != 0) return EXIT_BAD_INPUT;
    if (strcmp(arg, "--only") == 0) split_commas(val, &a->only, &a->n_only);
    else if (strcmp(arg, "--results") == 0) a->results = val;
    else if (strcmp(arg, "--reports") == 0) a->reports = val;
    else if (strcmp(arg, "--device") == 0) a->device = val;
    else if (strcmp(arg, "--devices") == 0) a->devices = val;
    else if (strcmp(arg, "--shard") == 0) {
      BenchErr err;
      if (shard_parse(val, &a->shard_i, &a->shard_n, &err) != 0) return cli_usage_error("%s", err.msg);
    } else if (strcmp(arg, "--fresh") == 0) a->fresh = 1;
    else if (strcmp(arg, "--force") == 0) a->force = 1;
    else if (strcmp(arg, "--dry-run") == 0) a->dry_run = 1;
    else if (strcmp(arg, "--no-report") == 0) a->no_report = 1;
    else if (arg[0] == '-' && arg[1]) return cli_usage_error("unknown option '%s' for 'run'", arg);
    else if (!a->suite_path) a->suite_path = arg;
    else return cli_usage_error("unexpected argument '%s' ('run' takes one suite)", arg);
  }
  if (!a->suite_path) return cli_usage_error("'run' needs a suite file (bench run SUITE)");
  if (a->device && a->devices) return cli_usage_error("give either --device or --devices, not both");
  return 0;
}

static void free_args(RunArgs *a) {
  for (int i = 0; i < a->n_only; i++) free(a->only[i]);
  free(a->only);
  free(a->command);
}

// A GPU device this run would use: refused, before anything runs, when this bench has no CUDA
// or the GPU is not there (the count comes from the probe's child process).
static int check_gpu(const char *dev, const char *given, const HostProbe *p) {
  if (strncmp(dev, "cuda:", 5) != 0) return 0;
  int idx = atoi(dev + 5);
  if (strcmp(device_backends_built(), "cpu") == 0)
    return cli_usage_error("device '%s': this bench was built without CUDA (nvcc was not found when it "
                           "was built); use --device cpu", given);
  if (p->n_gpus == 0)
    return cli_usage_error("device '%s': no CUDA GPU is usable on this machine%s%s%s; use --device cpu",
                           given, p->problem[0] ? " (" : "", p->problem, p->problem[0] ? ")" : "");
  if (idx >= p->n_gpus)
    return cli_usage_error("device '%s' does not exist: %d GPU%s found (cuda:0..cuda:%d)", given,
                           p->n_gpus, p->n_gpus == 1 ? "" : "s", p->n_gpus - 1);
  return 0;
}

// The lanes of the run: --devices, else one lane whose `auto` device follows --device (auto:
// cuda:0 when the probe counted a GPU, else the CPU).
static int make_lanes(const RunArgs *a, const HostProbe *p, Lanes *ln) {
  BenchErr err;
  char dev[32];
  const char *given = a->device ? a->device : "auto";
  if (strcmp(given, "auto") == 0)
    snprintf(dev, sizeof dev, "%s", device_auto(p->n_gpus));
  else if (device_normalise(given, 1, dev, sizeof dev, &err) != 0)
    return cli_usage_error("--device: %s", err.msg);
  if (!a->devices && check_gpu(dev, given, p) != 0) return -1;
  if (lanes_init(ln, a->devices, dev, &err) != 0) return cli_usage_error("%s", err.msg);
  for (int k = 0; !ln->flexible && k < ln->n; k++)
    if (check_gpu(ln->devices[k], ln->devices[k], p) != 0) {
      lanes_free(ln);
      return -1;
    }
  return 0;
}

// Removes temp files (NAME.tmp.PID) a killed writer left in dir. With shards sharing the
// directory a live writer's temp file may exist: only old ones are removed then.
static void remove_stale_temps(const char *dir, int all) {
  DIR *d = opendir(dir);
  if (!d) return;
  struct dirent *e;
  double now = wall_time();
  while ((e = readdir(d))) {
    if (!strstr(e->d_name, ".tmp.")) continue;
    char *p = path_join(dir, e->d_name);
    struct stat st;
    if (lstat(p, &st) == 0 && S_ISREG(st.st_mode) && (all || now - (double)st.st_mtime > STALE_TEMP_S))
      unlink(p);
    free(p);
  }
  closedir(d);
}

static void dry_run(const RunArgs *a, const RunSelection *sel, const char *dir, RunLog *lg) {
  long skipped = 0;
  for (long k = 0; k < sel->n; k++) {
    const RunJob *rj = &sel->jobs[k];
    JobResult r;
    BenchErr err;
    ResultState st = job_result_load(dir, rj->job->id, rj->job->spec, &r, &err);
    int done = !a->fresh && st == RESULT_VALID && r.status == JOB_OK;
    if (st == RESULT_VALID) job_result_free(&r);
    skipped += done;
    if (st == RESULT_INVALID)
      run_log(lg, "[%ld/%ld] %s: would set aside its invalid result and run (%s)", k + 1, sel->n, rj->label, err.msg);
    else run_log(lg, "[%ld/%ld] %s: %s", k + 1, sel->n, rj->label, done ? "already done" : "would run");
  }
  run_log(lg, "dry run: %ld jobs would run, %ld already done", sel->n - skipped, skipped);
}

// The report of every result in DIR (report_generate, as `bench report DIR` does), written by a
// child process: whatever happens there — an error, even a crash — the results, the exit status
// and the lock stay the run's. A failure is a warning naming the command that retries it.
static void regenerate_report(RunLog *lg, const char *dir, const char *reports) {
  int fds[2];
  pid_t pid = -1;
  fflush(NULL);
  if (pipe(fds) == 0 && (pid = fork()) == 0) {
    close(fds[0]);
    ReportSummary sum;
    BenchErr err;
    memset(&sum, 0, sizeof sum);
    int rc = report_generate(dir, reports, 0, &sum, &err);
    char *line = rc == 0 ? xasprintf("report: %s (%d job results, %d figures%s)", sum.report_path, sum.n_jobs,
                                     sum.figures.made, sum.figures.failed ? ", some figures failed" : "")
                         : xasprintf("%s", err.msg);
    ssize_t w = write(fds[1], line, strlen(line));
    (void)w;
    _exit(rc == 0 ? 0 : 1);
  }
  char msg[2048] = "";
  if (pid > 0) {
    close(fds[1]);
    size_t len = 0;
    for (;;) {
      ssize_t k = read(fds[0], msg + len, sizeof msg - 1 - len);
      if (k < 0 && errno == EINTR) continue;
      if (k <= 0) break;
      len += (size_t)k;
      if (len + 1 >= sizeof msg) break;
    }
    msg[len] = 0;
    close(fds[0]);
  }
  int status = -1;
  if (pid > 0) {
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
  }
  if (status == 0) {
    run_log(lg, "%s", msg);
    return;
  }
  char how[64];
  if (pid < 0) snprintf(how, sizeof how, "the report process could not start: %s", strerror(errno));
  else if (WIFSIGNALED(status)) snprintf(how, sizeof how, "the report process was killed by signal %d", WTERMSIG(status));
  else snprintf(how, sizeof how, "the report process exited with status %d", WEXITSTATUS(status));
  run_log_warn(lg, "report not written: %s; every result is kept in %s (retry with 'bench report %s')",
               msg[0] && !WIFSIGNALED(status) ? msg : how, dir, dir);
}

// A number of seconds from the environment (fallback when unset); -1 with a message when malformed.
static double env_seconds(const char *name, double fallback) {
  const char *v = getenv(name);
  if (!v || !v[0]) return fallback;
  char *end;
  double g = strtod(v, &end);
  if (*end || !(g >= 0) || g > 1e9) {
    cli_usage_error("%s: '%s' is not a number of seconds", name, v);
    return -1;
  }
  return g;
}

// 1 when the job has a valid ok result (and not --fresh): skipped. A result that is not valid
// (results.h) is moved to jobs/invalid/ with a warning, and the job runs again.
static int job_done_or_set_aside(const char *dir, const RunJob *rj, int fresh, RunLog *lg) {
  JobResult r;
  BenchErr err;
  ResultState st = job_result_load(dir, rj->job->id, rj->job->spec, &r, &err);
  if (st == RESULT_VALID) {
    int ok = r.status == JOB_OK;
    job_result_free(&r);
    return ok && !fresh;
  }
  if (st == RESULT_INVALID) {
    char *moved;
    BenchErr merr;
    if (job_result_set_aside(dir, rj->job->id, &moved, &merr) == 0)
      run_log_warn(lg, "%s: not a valid result (%s): moved to %s; the job runs again", rj->label, err.msg, moved);
    else run_log_warn(lg, "%s: not a valid result (%s), and %s; the job runs again", rj->label, err.msg, merr.msg);
    free(moved);
  }
  return 0;
}

// Everything after the checks: directory, lock, files, the supervisor, the report.
static int run_for_real(const RunArgs *a, const Suite *s, const Matrix *mx, const RunSelection *sel,
                        const char *dir, const Lanes *lanes, const HostProbe *probe, const StrList *warnings,
                        size_t mem_limit, double grace, double stall) {
  BenchErr err;
  char *jobs_dir = job_results_dir(dir), *run_dir = path_join(dir, ".run");
  int rc = mkdir_p(jobs_dir, &err) == 0 && mkdir_p(run_dir, &err) == 0 ? 0 : -1;
  if (rc != 0) {
    free(jobs_dir);
    free(run_dir);
    return cli_usage_error("%s", err.msg);
  }
  RunLock lock;
  if (run_lock_acquire(dir, a->shard_i, a->shard_n, a->command, &lock, &err) != 0) {
    free(jobs_dir);
    free(run_dir);
    return cli_usage_error("%s", err.msg);
  }
  RunLog lg;
  char *log_path = path_join(dir, "run.log");
  if (run_log_open(&lg, log_path, &err) != 0) {
    free(log_path);
    free(jobs_dir);
    free(run_dir);
    run_lock_release(&lock);
    return cli_usage_error("%s", err.msg);
  }
  free(log_path);
  double started = wall_time();
  int unsharded = a->shard_n == 0;
  remove_stale_temps(dir, unsharded);
  remove_stale_temps(jobs_dir, unsharded);
  remove_stale_temps(run_dir, unsharded);
  // Nothing is computed that could not be kept: a result and the run's own files must fit first.
  RunSpace space;
  int claimed = run_space_claim(dir, a->shard_i, a->shard_n, &space, &err) == 0;
  if (claimed) run_log(&lg, "%s", a->command);
  if (!claimed || lg.write_error) {
    if (claimed) run_space_release(&space);
    cli_usage_error("%s; no job was run", claimed ? lg.write_error : err.msg);
    run_log_close(&lg);
    run_lock_release(&lock);
    free(jobs_dir);
    free(run_dir);
    return EXIT_BAD_INPUT;
  }
  char *copy = path_join(dir, "suite.yaml");
  if (write_file_atomic(copy, s->text, strlen(s->text), &err) != 0) run_log_warn(&lg, "%s", err.msg);
  free(copy);

  // What is left to do.
  RunJob *todo = xcalloc((size_t)sel->n + 1, sizeof *todo);
  long n_todo = 0, skipped = 0;
  for (long k = 0; k < sel->n; k++) {
    if (job_done_or_set_aside(dir, &sel->jobs[k], a->fresh, &lg)) skipped++;
    else todo[n_todo++] = sel->jobs[k];
  }
  StrBuf lanes_text = {0};
  for (int k = 0; k < lanes->n; k++) sb_printf(&lanes_text, "%s%s", k ? ", " : "", lanes->devices[k]);
  run_log(&lg, "suite '%s' (%s, sha256 %.12s): %ld jobs%s%s%s; %ld already done, %ld to run on %s%s",
          s->suite, a->suite_path, s->sha256, sel->n, a->shard_n ? " in this shard" : "",
          a->n_only ? " of the phases given to --only" : "", a->fresh ? ", --fresh: recomputing finished jobs" : "",
          skipped, n_todo, lanes_text.data, lanes->n > 1 ? " (one worker each)" : "");
  sb_free(&lanes_text);
  if (probe->problem[0]) run_log_warn(&lg, "device facts unavailable: %s", probe->problem);
  for (int i = 0; i < warnings->n; i++) run_log_warn(&lg, "%s", warnings->items[i]);
  if (run_plan_write(dir, s, sel, a->shard_i, a->shard_n, a->fresh, &err) != 0) run_log_warn(&lg, "%s", err.msg);
  GpuChecks checks;
  gpu_checks_run(todo, n_todo, lanes, probe->n_gpus, &lg, &checks);
  ManifestRun mr = {.suite = s, .mx = mx, .probe = probe, .lanes = lanes, .suite_path = a->suite_path,
                    .command = a->command, .shard_i = a->shard_i, .shard_n = a->shard_n,
                    .started = started, .jobs = sel->n, .skipped = skipped, .gpu_check = checks.manifest,
                    .gpu_check_summary = checks.summary};
  if (manifest_begin(dir, &mr, &err) != 0) run_log_warn(&lg, "manifest: %s", err.msg);

  RunnerConfig cfg = {.suite = s, .mx = mx, .dir = dir, .jobs = todo, .n = n_todo, .total = sel->n,
                      .skipped = skipped, .lanes = lanes, .log = &lg, .lock = &lock,
                      .command = a->command, .shard_i = a->shard_i, .shard_n = a->shard_n,
                      .started = started, .stop_grace_s = grace, .mem_limit = mem_limit,
                      .stall_s = stall, .gpu_refused = (const char *const *)checks.refused,
                      .n_gpu_refused = checks.n, .space = &space};
  RunOutcome out;
  double t0 = mono_time();
  if (runner_run(&cfg, &out, &err) != 0) {
    run_log(&lg, "the run could not start: %s", err.msg);
    out.error = 1;
    out.stop_signal = 0;
    out.in_worker = 0;
  }
  if (out.in_worker) {  // a worker process: its supervisor owns every file above
    free(space.reserve);  // the supervisor's to remove
    run_log_close(&lg);
    gpu_checks_free(&checks);
    free(todo);
    free(jobs_dir);
    free(run_dir);
    return out.worker_exit;
  }
  long failed = out.oom + out.error + out.crashed;
  run_space_release(&space);
  ManifestEnd me = {out.ok, out.oom, out.error, out.crashed,
                    out.failure[0] ? "failed" : out.stop_signal ? "interrupted" : "completed"};
  if (manifest_end(dir, &mr, &me, &err) != 0) run_log_warn(&lg, "manifest: %s", err.msg);
  int code;
  if (out.failure[0]) {
    run_log(&lg, "stopped on an error: %ld ok, %ld failed, %ld not kept, %ld abandoned, %ld already done, %ld not "
            "started (%.1f s); make room and run the same command again to continue", out.ok, failed, out.unkept,
            out.abandoned, skipped, n_todo - out.ok - failed - out.unkept - out.abandoned, mono_time() - t0);
    cli_usage_error("%s", out.failure);
    code = EXIT_JOBS_FAILED;
  } else if (out.stop_signal) {
    run_log(&lg, "stopped by SIG%s: %ld ok, %ld failed, %ld abandoned, %ld already done, %ld not started "
            "(%.1f s); run the same command again to continue", sigabbrev_np(out.stop_signal),
            out.ok, failed, out.abandoned, skipped, n_todo - out.ok - failed - out.abandoned, mono_time() - t0);
    code = 128 + out.stop_signal;
  } else {
    run_log(&lg, "finished: %ld ok, %ld failed, %ld already done (%.1f s); results in %s", out.ok, failed,
            skipped, mono_time() - t0, dir);
    if (failed)
      run_log(&lg, "failed: %ld oom, %ld error, %ld crashed; 'bench status %s' lists them, and running the "
              "same command again retries them", out.oom, out.error, out.crashed, dir);
    if (!a->no_report) regenerate_report(&lg, dir, a->reports);
    code = failed ? EXIT_JOBS_FAILED : EXIT_OK;
  }
  run_log_close(&lg);
  run_lock_release(&lock);
  gpu_checks_free(&checks);
  free(todo);
  free(jobs_dir);
  free(run_dir);
  return code;
}

// With --only, a warning about another phase ("phase 'X': ...") is not this run's: left out.
static int warning_selected(const char *w, const RunArgs *a) {
  const char *p = strstr(w, "phase '");
  if (!p || a->n_only == 0) return 1;
  p += 7;
  const char *end = strchr(p, '\'');
  if (!end) return 1;
  for (int i = 0; i < a->n_only; i++)
    if (strlen(a->only[i]) == (size_t)(end - p) && strncmp(a->only[i], p, (size_t)(end - p)) == 0) return 1;
  return 0;
}

static void drop_unselected_warnings(StrList *w, const RunArgs *a) {
  int k = 0;
  for (int i = 0; i < w->n; i++) {
    if (warning_selected(w->items[i], a)) w->items[k++] = w->items[i];
    else free(w->items[i]);
  }
  w->n = k;
}

int cmd_run(int argc, char **argv) {
  RunArgs a;
  if (parse_args(argc, argv, &a) != 0) {
    free_args(&a);
    return EXIT_BAD_INPUT;
  }
  size_t mem_limit = 0;
  const char *ml = getenv("BENCH_MEM_LIMIT");
  if (ml && ml[0]) {
    BenchErr err;
    if (parse_byte_size(ml, &mem_limit, &err) != 0) {
      free_args(&a);
      return cli_usage_error("BENCH_MEM_LIMIT: %s", err.msg);
    }
  }
  double grace = env_seconds("BENCH_STOP_GRACE", DEFAULT_STOP_GRACE_S);
  double stall = env_seconds("BENCH_JOB_STALL_S", RUNNER_DEFAULT_STALL_S);
  if (grace < 0 || stall < 0) {
    free_args(&a);
    return EXIT_BAD_INPUT;
  }
  RunPrep prep;
  int rc = run_prepare(a.suite_path, a.only, a.n_only, a.shard_i, a.shard_n, "no job was run", &prep);
  HostProbe probe;
  memset(&probe, 0, sizeof probe);
  Lanes lanes;
  memset(&lanes, 0, sizeof lanes);
  if (rc != EXIT_OK) goto out;
  rc = EXIT_BAD_INPUT;
  const Suite *s = prep.suite;
  StrList *warnings = &prep.warnings;
  host_probe(&prep.mx, prep.shapes, a.devices ? a.devices : a.device, &probe);
  for (int i = 0; i < probe.warnings.n; i++)
    if (warning_selected(probe.warnings.items[i], &a)) strlist_add(warnings, "%s", probe.warnings.items[i]);
  drop_unselected_warnings(warnings, &a);
  if (make_lanes(&a, &probe, &lanes) != 0) goto out;
  matrix_place_jobs(&prep.mx, lanes.devices[0]);
  char *dir = a.results ? xstrdup(a.results) : xasprintf("results/%s", s->suite);
  BenchErr derr;
  if (results_dir_check(dir, s->suite, a.force, &derr) != 0) {
    free(dir);
    cli_usage_error("%s; no job was run", derr.msg);
    goto out;
  }
  if (a.dry_run) {
    RunLog lg;
    BenchErr err;
    run_log_open(&lg, NULL, &err);
    for (int i = 0; i < warnings->n; i++) run_log_warn(&lg, "%s", warnings->items[i]);
    dry_run(&a, &prep.sel, dir, &lg);
    run_log_close(&lg);
    rc = EXIT_OK;
  } else {
    rc = run_for_real(&a, s, &prep.mx, &prep.sel, dir, &lanes, &probe, warnings, mem_limit, grace, stall);
  }
  free(dir);
out:
  lanes_free(&lanes);
  host_probe_free(&probe);
  run_prep_free(&prep);
  free_args(&a);
  return rc;
}
