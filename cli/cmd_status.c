// cmd_status.c — `bench status RESULTS_DIR`: how far along a run is, what failed, when it will end,
// from the files alone (so it works from another shell, over ssh, or on another machine that sees
// the directory), while the run goes on or after it ended.
//
// Sources: the lock (run_lock.h) says whether a run holds the directory now; .run/plan*.json say
// which jobs the runs cover (total); jobs/*.json say which have results and how they ended;
// .run/status*.json hold what each runner is doing and its ETA from measured throughput.
// Exit 0, or 2 when DIR is not a results directory.
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "commands.h"
#include "results.h"
#include "run_lock.h"
#include "run_log.h"
#include "run_status.h"
#include "slurm.h"

#define MAX_FAILURES_LISTED 20

const char cmd_status_help[] =
    "Reads RESULTS_DIR (results/<suite>, or what --results named) and prints:\n"
    "  state    whether a run holds the directory now (pid, host, command), else how the last\n"
    "           one ended (finished with its exit status, stopped, stopped on an error, or killed)\n"
    "  disk     when the directory's file system has under 1 kB free\n"
    "  jobs     done/total with ok, oom, error and crashed counts, and how many are left\n"
    "  invalid  result files that are not valid results (not counted; the next run sets them aside\n"
    "           in jobs/invalid/ and recomputes them)\n"
    "  running  each running job, its device, window progress and tokens/s\n"
    "  ETA      from the throughput measured so far\n"
    "  failed   each failed job with its one-line error\n"
    "  slurm    after `bench submit --slurm`: each array task's jobs done/total and its squeue state\n"
    "It needs only the files, so it works from another shell, over ssh, or from another machine\n"
    "that sees the directory, while the run goes on.\n";

static double parse_iso(const char *s) {
  if (!s) return 0;
  struct tm tm;
  memset(&tm, 0, sizeof tm);
  const char *end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
  if (!end) return 0;
  return (double)timegm(&tm);
}

// Every .run/<kind>*.json, loaded (NULL entries skipped).
static int load_run_files(const char *dir, const char *kind, json_t ***out) {
  char *rundir = path_join(dir, ".run");
  DIR *d = opendir(rundir);
  int n = 0;
  *out = NULL;
  if (d) {
    struct dirent *e;
    size_t klen = strlen(kind);
    while ((e = readdir(d))) {
      size_t len = strlen(e->d_name);
      if (strncmp(e->d_name, kind, klen) != 0 || len < 5 || strcmp(e->d_name + len - 5, ".json") != 0) continue;
      if (e->d_name[klen] != '.' && e->d_name[klen] != '-') continue;
      char *p = path_join(rundir, e->d_name);
      json_t *j = run_file_load(p);
      free(p);
      if (!j) continue;
      *out = xrealloc(*out, (size_t)(n + 1) * sizeof **out);
      (*out)[n++] = j;
    }
    closedir(d);
  }
  free(rundir);
  return n;
}

static void free_run_files(json_t **v, int n) {
  for (int i = 0; i < n; i++) json_decref(v[i]);
  free(v);
}

// The jobs the latest runs cover: the union of the plan files written for the newest suite
// version (a suite edited since leaves its old plan files out). Object: job_id → its plan entry
// {"label","spec",..}. Jobs of a --fresh run go in *fresh_since too (job_id → the plan's written
// time): an older result of such a job is being recomputed, not done.
static json_t *planned_jobs(json_t **plans, int n, json_t *fresh_since) {
  const char *sha = NULL;
  double newest = -1;
  for (int i = 0; i < n; i++) {
    double t = parse_iso(json_string_value(json_object_get(plans[i], "written")));
    if (t > newest) {
      newest = t;
      sha = json_string_value(json_object_get(plans[i], "suite_sha256"));
    }
  }
  json_t *jobs = json_object();
  for (int i = 0; i < n; i++) {
    const char *s = json_string_value(json_object_get(plans[i], "suite_sha256"));
    if (sha && (!s || strcmp(s, sha) != 0)) continue;
    int fresh = json_is_true(json_object_get(plans[i], "fresh"));
    double written = parse_iso(json_string_value(json_object_get(plans[i], "written")));
    size_t k;
    json_t *e;
    json_array_foreach(json_object_get(plans[i], "jobs"), k, e) {
      const char *id = json_string_value(json_object_get(e, "job_id"));
      if (id) json_object_set(jobs, id, e);
      if (id && fresh) json_object_set_new(fresh_since, id, json_real(written));
    }
  }
  return jobs;
}

typedef struct {
  long n, ok, oom, error, crashed, invalid;
  StrBuf failures;   // one line each
  StrBuf invalids;   // one line each: the file and why it is not valid
  int listed;
} Tally;

// Counts the valid result files of the planned jobs (every file when there is no plan), held to
// the one rule (results.h) with each job's planned spec; the others are listed as invalid. A result
// a --fresh run has yet to replace (finished before that run's plan was written) is not counted.
static void tally_results(const char *dir, json_t *planned, json_t *fresh_since, Tally *t) {
  JobFiles files;
  BenchErr err;
  if (job_files_list(dir, &files, &err) != 0) return;  // nothing to count
  int use_plan = json_object_size(planned) > 0;
  for (int i = 0; i < files.n; i++) {
    const char *id = files.ids[i];
    json_t *entry = json_object_get(planned, id);
    if (use_plan && !entry) continue;
    const char *label = json_string_value(json_object_get(entry, "label"));
    JobResult r;
    if (job_result_load(dir, id, json_object_get(entry, "spec"), &r, &err) != RESULT_VALID) {
      if (t->invalid++ < MAX_FAILURES_LISTED) sb_printf(&t->invalids, "  %s\n", err.msg);
      continue;
    }
    json_t *since = json_object_get(fresh_since, id);
    if (since && parse_iso(r.finished) < json_number_value(since)) {
      job_result_free(&r);
      continue;
    }
    t->n++;
    if (r.status == JOB_OK) t->ok++;
    else {
      if (r.status == JOB_OOM) t->oom++;
      else if (r.status == JOB_CRASHED) t->crashed++;
      else t->error++;
      if (t->listed++ < MAX_FAILURES_LISTED)
        sb_printf(&t->failures, "  %s: %s: %s\n", label ? label : id, job_status_name(r.status),
                  r.error ? r.error : "");
    }
    job_result_free(&r);
  }
  job_files_free(&files);
}

static void print_runner(const json_t *st, double now, int running) {
  const char *state = json_string_value(json_object_get(st, "state"));
  const char *shard = json_string_value(json_object_get(st, "shard"));
  const char *host = json_string_value(json_object_get(st, "host"));
  const char *updated = json_string_value(json_object_get(st, "updated"));
  long pid = (long)json_integer_value(json_object_get(st, "pid"));
  char prefix[48] = "";
  if (shard) snprintf(prefix, sizeof prefix, "shard %s: ", shard);
  if (!running) return;
  json_t *run = json_object_get(st, "running");
  size_t i;
  json_t *e;
  int any = 0;
  json_array_foreach(run, i, e) {
    any = 1;
    double started = parse_iso(json_string_value(json_object_get(e, "started")));
    long wd = (long)json_integer_value(json_object_get(e, "windows_done"));
    long wt = (long)json_integer_value(json_object_get(e, "windows_total"));
    long sd = (long)json_integer_value(json_object_get(e, "steps_done"));
    long stp = (long)json_integer_value(json_object_get(e, "steps_total"));
    double tps = json_number_value(json_object_get(e, "tokens_per_s"));
    char el[48];
    format_eta(now - started, el, sizeof el);
    printf("running   %s%s on %s (worker %lld)", prefix, json_string_value(json_object_get(e, "label")),
           json_string_value(json_object_get(e, "device")),
           (long long)json_integer_value(json_object_get(e, "pid")));
    if (wt > 0) printf(", window %ld/%ld", wd, wt);
    else if (stp > 0) printf(", training step %ld/%ld", sd, stp);
    if (tps > 0) printf(", %.0f tokens/s", tps);
    printf(", for %s\n", el);
  }
  if (!any) printf("running   %s%s (pid %ld on host '%s'): between jobs\n", prefix, state ? state : "?", pid,
                   host ? host : "?");
  json_t *eta = json_object_get(st, "eta_s");
  double upd = parse_iso(updated);
  if (json_is_number(eta)) {
    double left = json_number_value(eta) - (upd > 0 ? now - upd : 0);
    if (left < 0) left = 0;
    char t[48], at[32];
    format_eta(left, t, sizeof t);
    iso_time_utc(now + left, at);
    printf("ETA       %s%s (about %s), from the throughput measured so far\n", prefix, t, at);
  } else {
    printf("ETA       %sunknown until a job has made progress\n", prefix);
  }
}

int cmd_status(int argc, char **argv) {
  const char *dir = NULL;
  for (int i = 1; i < argc; i++) {
    if (argv[i][0] == '-' && argv[i][1]) {
      return cli_usage_error("unknown option '%s' for 'status' (usage: bench status RESULTS_DIR)", argv[i]);
    }
    if (dir) {
      return cli_usage_error("unexpected argument '%s' (usage: bench status RESULTS_DIR)", argv[i]);
    }
    dir = argv[i];
  }
  if (!dir) {
    return cli_usage_error("'status' needs a results directory (usage: bench status RESULTS_DIR)");
  }
  char *jobs_dir = job_results_dir(dir), *suite = path_join(dir, "suite.yaml");
  char *submitted = slurm_submitted_path(dir);
  int is_results = is_directory(jobs_dir) || file_exists(suite) || file_exists(submitted);
  free(jobs_dir);
  free(suite);
  free(submitted);
  BenchErr derr;
  if (need_directory(dir, "results directory", &derr) != 0) return cli_usage_error("%s", derr.msg);
  if (!is_results) return cli_usage_error("'%s' is not a results directory (no jobs/ or suite.yaml in it)", dir);
  double now = wall_time();
  StrBuf holders = {0};
  int running = run_lock_probe(dir, &holders) == 1;
  json_t **plans, **stats;
  int n_plans = load_run_files(dir, "plan", &plans);
  int n_stats = load_run_files(dir, "status", &stats);
  json_t *fresh_since = json_object();
  json_t *planned = planned_jobs(plans, n_plans, fresh_since);
  const char *suite_name = n_plans ? json_string_value(json_object_get(plans[0], "suite")) : NULL;

  printf("results   %s%s%s%s\n", dir, suite_name ? " (suite '" : "", suite_name ? suite_name : "",
         suite_name ? "')" : "");
  if (running) {
    for (char *c = holders.data; c && *c; c++)
      if (*c == '\n') *c = ';';
    printf("state     running: %s\n", holders.data);
  } else {
    // The newest status file says how the last run ended.
    const json_t *last = NULL;
    double newest = -1;
    for (int i = 0; i < n_stats; i++) {
      double t = parse_iso(json_string_value(json_object_get(stats[i], "updated")));
      if (t > newest) {
        newest = t;
        last = stats[i];
      }
    }
    const char *state = last ? json_string_value(json_object_get(last, "state")) : NULL;
    const char *upd = last ? json_string_value(json_object_get(last, "updated")) : NULL;
    json_t *code = last ? json_object_get(last, "exit_code") : NULL;
    if (!state) printf("state     not running\n");
    else if (strcmp(state, "finished") == 0)
      printf("state     not running; the last run finished at %s (exit %lld)\n", upd ? upd : "?",
             (long long)json_integer_value(code));
    else if (strcmp(state, "failed") == 0)
      printf("state     not running; the last run stopped on an error at %s: %s; make room or fix it, then "
             "run the same command to continue\n", upd ? upd : "?",
             json_string_value(json_object_get(last, "error")) ? json_string_value(json_object_get(last, "error"))
                                                                : "(not recorded)");
    else if (strcmp(state, "interrupted") == 0)
      printf("state     not running; the last run was stopped at %s; running the same command continues it\n",
             upd ? upd : "?");
    else
      printf("state     not running; the last run ended without finishing (killed?) after %s; running the "
             "same command continues it\n", upd ? upd : "?");
  }
  char room[48];
  disk_free_text(dir, room, sizeof room);
  if (strncmp(room, "0 bytes", 7) == 0 || (room[0] != 'f' && strstr(room, "bytes free")))
    printf("disk      %s on the file system of %s: a run there cannot write its results; make room first\n",
           room, dir);
  Tally t;
  memset(&t, 0, sizeof t);
  tally_results(dir, planned, fresh_since, &t);
  long total = json_object_size(planned) ? (long)json_object_size(planned) : t.n + t.invalid;
  long failed = t.oom + t.error + t.crashed;
  if (total == 0) {
    printf("jobs      none: no run has recorded its plan or a result here\n");
  } else {
    printf("jobs      %ld/%ld done (%.0f%%): %ld ok, %ld failed", t.n, total, 100.0 * (double)t.n / (double)total,
           t.ok, failed);
    if (failed) printf(" (%ld oom, %ld error, %ld crashed)", t.oom, t.error, t.crashed);
    printf("; %ld to go\n", total - t.n);
  }
  if (t.invalid) {
    printf("invalid   %ld result file%s not valid, not counted done (the next 'bench run' moves %s to "
           "jobs/%s/ and recomputes %s):\n%s", t.invalid, t.invalid == 1 ? "" : "s", t.invalid == 1 ? "it" : "them",
           JOB_INVALID_DIR, t.invalid == 1 ? "it" : "them", t.invalids.data);
    if (t.invalid > MAX_FAILURES_LISTED) printf("  ... and %ld more\n", t.invalid - MAX_FAILURES_LISTED);
  }
  if (running)
    for (int i = 0; i < n_stats; i++) {
      const char *state = json_string_value(json_object_get(stats[i], "state"));
      if (state && (strcmp(state, "running") == 0 || strcmp(state, "stopping") == 0)) print_runner(stats[i], now, 1);
    }
  slurm_status_print(dir, stdout);
  if (failed) {
    printf("failed\n%s", t.failures.data ? t.failures.data : "");
    if (t.listed > MAX_FAILURES_LISTED) printf("  ... and %d more\n", t.listed - MAX_FAILURES_LISTED);
  }
  sb_free(&t.failures);
  sb_free(&t.invalids);
  sb_free(&holders);
  json_decref(planned);
  json_decref(fresh_since);
  free_run_files(plans, n_plans);
  free_run_files(stats, n_stats);
  return EXIT_OK;
}
