// cmd_submit.c — `bench submit SUITE --slurm [--partition P] [--gres G] [--time T] [--account A]
//                   [--max-parallel N] [--results DIR] [--reports DIR] [--dry-run]`
//
// Expands the suite, leaves out the jobs that already have an ok result, packs the rest into array
// tasks (slurm.h), writes DIR/slurm/array.sh and report.sh, then submits the array and the report
// step (`sbatch --dependency=afterany:<array>`) and records both ids in DIR/slurm/submitted.json.
// --dry-run writes the scripts and prints the sbatch commands without submitting. Running it again
// after the array ended submits only what is left; it refuses while an earlier array is queued.
// Exit: 0 submitted (or nothing left), 2 bad input or the scheduler refused.
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "commands.h"
#include "matrix.h"
#include "plan_warnings.h"
#include "results.h"
#include "run_common.h"
#include "run_plan.h"
#include "slurm.h"
#include "suite.h"

#define SBATCH_TIMEOUT_S 120

const char cmd_submit_help[] =
    "options:\n"
    "  --slurm               submit to Slurm (the scheduler bench knows)\n"
    "  --partition P         partition of every task (default: the cluster's)\n"
    "  --gres G              generic resources of each array task, e.g. gpu:1\n"
    "  --time T              time limit of each task (minutes, HH:MM:SS, D-HH:MM, ...)\n"
    "  --account A           account to charge\n"
    "  --max-parallel N      at most N array tasks running at once (array %N)\n"
    "  --results DIR         results directory (default results/<suite>), shared by every task\n"
    "  --reports DIR         where the report step writes (default reports/<suite>)\n"
    "  --dry-run             write the batch scripts and print the sbatch commands; submit nothing\n"
    "\n"
    "The jobs without an ok result are split into shards as `bench run --shard I/N` splits them, with\n"
    "N at most the cluster's MaxArraySize; array task I-1 runs shard I, and a report step runs after\n"
    "the array whatever its outcome (afterany). Scripts and logs go in DIR/slurm/, the job ids in\n"
    "DIR/slurm/submitted.json; `bench status DIR` shows each task's progress. Tasks are requeueable:\n"
    "a requeued or preempted task resumes, and SIGTERM comes before the time limit so the running\n"
    "job can finish. Run the same command again after the array ended to submit what is left.\n"
    "The bench binary, the suite, its models and data and DIR must be on a file system every node\n"
    "sees; other sbatch settings can come from sbatch's SBATCH_* environment variables.\n";

typedef struct {
  const char *suite_path, *results, *reports;
  const char *partition, *gres, *time, *account;
  int max_parallel, slurm, dry_run;
  char *command;
} SubmitArgs;

static int parse_args(int argc, char **argv, SubmitArgs *a) {
  memset(a, 0, sizeof *a);
  a->command = command_text(argc, argv);
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    static const char *const TAKES[] = {"--partition", "--gres", "--time", "--account",
                                        "--max-parallel", "--results", "--reports"};
    const char *val;
    if (option_value(argc, argv, &i, TAKES, sizeof TAKES / sizeof *TAKES, &val) != 0) return EXIT_BAD_INPUT;
    if (strcmp(arg, "--slurm") == 0) a->slurm = 1;
    else if (strcmp(arg, "--dry-run") == 0) a->dry_run = 1;
    else if (strcmp(arg, "--partition") == 0) a->partition = val;
    else if (strcmp(arg, "--gres") == 0) a->gres = val;
    else if (strcmp(arg, "--time") == 0) a->time = val;
    else if (strcmp(arg, "--account") == 0) a->account = val;
    else if (strcmp(arg, "--results") == 0) a->results = val;
    else if (strcmp(arg, "--reports") == 0) a->reports = val;
    else if (strcmp(arg, "--max-parallel") == 0) {
      long n;
      BenchErr err;
      if (parse_int_range(val, 1, 1000000, &n, &err) != 0) return cli_usage_error("--max-parallel: %s", err.msg);
      a->max_parallel = (int)n;
    } else if (arg[0] == '-' && arg[1]) return cli_usage_error("unknown option '%s' for 'submit'", arg);
    else if (!a->suite_path) a->suite_path = arg;
    else return cli_usage_error("unexpected argument '%s' ('submit' takes one suite)", arg);
  }
  if (!a->suite_path) return cli_usage_error("'submit' needs a suite file (bench submit SUITE --slurm)");
  if (!a->slurm) return cli_usage_error("'submit' needs a scheduler: --slurm (the one bench supports)");
  const char *names[] = {"--partition", "--gres", "--account"};
  const char *vals[] = {a->partition, a->gres, a->account};
  for (int k = 0; k < 3; k++)
    if (vals[k] && !slurm_value_ok(vals[k]))
      return cli_usage_error("%s: '%s' is not a Slurm name (letters, digits and _ . , : = + / @ -)", names[k], vals[k]);
  if (a->time && slurm_time_seconds(a->time) < 0)
    return cli_usage_error("--time: '%s' is not a Slurm time limit (minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM, "
                       "D-HH:MM:SS)", a->time);
  return 0;
}

// path made absolute against the current directory (the file need not exist). Caller frees.
static char *absolute(const char *path) {
  if (path[0] == '/') return xstrdup(path);
  char cwd[PATH_MAX];
  if (!getcwd(cwd, sizeof cwd)) return xstrdup(path);
  const char *p = path;
  while (p[0] == '.' && p[1] == '/') p += 2;
  return strcmp(p, ".") == 0 || !*p ? xstrdup(cwd) : path_join(cwd, p);
}

// The running binary's absolute path.
static char *self_path(const char *argv0) {
  char buf[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n > 0) {
    buf[n] = 0;
    return xstrdup(buf);
  }
  return absolute(argv0);
}

static int write_script(const char *path, const char *text, BenchErr *err) {
  if (write_file_atomic(path, text, strlen(text), err) != 0) return -1;
  if (chmod(path, 0755) != 0) return err_set(err, "cannot make '%s' executable", path);
  return 0;
}

// sbatch ARGS... SCRIPT → the job id, or NULL with a message.
static char *sbatch(char **argv, BenchErr *err) {
  StrBuf o = {0}, e = {0};
  int rc = slurm_exec(argv, SBATCH_TIMEOUT_S, &o, &e);
  char *id = rc == 0 ? slurm_parse_job_id(o.data) : NULL;
  if (!id) {
    size_t n = e.data ? strcspn(e.data, "\n") : 0;
    if (rc == 127) err_set(err, "sbatch not found: submit from a machine with the Slurm client tools "
                                "(--dry-run writes the scripts without submitting)");
    else if (rc == 124) err_set(err, "sbatch did not answer within %d s", SBATCH_TIMEOUT_S);
    else err_set(err, "sbatch refused the job (exit %d): %.*s", rc, (int)n, e.data ? e.data : "");
  }
  sb_free(&o);
  sb_free(&e);
  return id;
}

static json_t *submission_json(const SubmitArgs *a, const Suite *s, const SlurmJobSpec *js,
                               const char **ids, const char **keys, long n, int max_array, const char *array_id,
                               const char *report_id) {
  const SlurmPack *p = js->pack;
  char when[32];
  iso_time_utc(wall_time(), when);
  char *spec = slurm_array_spec(p->task_ids, p->n_tasks, a->max_parallel);
  json_t *tasks = json_array();
  for (int t = 0; t < p->n_tasks; t++) {
    int shard = p->task_ids[t] + 1;
    json_t *jobs = json_array();
    for (long k = 0; k < n; k++)
      if (shard_of(keys[k], p->n_shards) == shard) json_array_append_new(jobs, json_string(ids[k]));
    char *sh = xasprintf("%d/%d", shard, p->n_shards);
    json_array_append_new(tasks, json_pack("{s:i, s:s, s:o}", "task", shard - 1, "shard", sh, "jobs", jobs));
    free(sh);
  }
  json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:i, s:s, s:i, s:s, s:o}",
                        "schema", SLURM_SUBMIT_SCHEMA, "suite", s->suite, "suite_path", js->suite_path,
                        "submitted", when, "results", js->results, "reports", js->reports,
                        "array_job_id", array_id, "report_job_id",
                        report_id ? json_string(report_id) : json_null(), "shards", p->n_shards,
                        "array", spec, "max_array_size", max_array, "command", a->command, "tasks", tasks);
  free(spec);
  return j;
}

// Writes the scripts, then submits (or prints the commands). Returns the exit code.
static int submit(const SubmitArgs *a, const Suite *s, const char **ids, const char **keys, const double *costs, long n,
                  const char *dir, const char *argv0) {
  BenchErr err;
  int rc = EXIT_BAD_INPUT;
  char *rel_reports = a->reports ? NULL : xasprintf("reports/%s", s->suite);
  char *results = absolute(dir), *reports = absolute(a->reports ? a->reports : rel_reports);
  char *suite_path = absolute(s->path), *bench = self_path(argv0), *workdir = absolute(".");
  char *slurm_dir = path_join(results, "slurm"), *logs = path_join(slurm_dir, "logs");
  char *array_sh = path_join(slurm_dir, "array.sh"), *report_sh = path_join(slurm_dir, "report.sh");
  char *array_id = NULL, *report_id = NULL, *array_script = NULL, *report_script = NULL;
  StrBuf queued = {0};
  SlurmPack pack;
  memset(&pack, 0, sizeof pack);
  const char *paths[][2] = {{"results directory", results}, {"reports directory", reports},
                            {"suite path", suite_path}, {"bench binary", bench}, {"working directory", workdir}};
  for (size_t k = 0; k < sizeof paths / sizeof *paths; k++)
    if (slurm_check_path(paths[k][0], paths[k][1], &err) != 0) {
      cli_usage_error("%s", err.msg);
      goto out;
    }
  int q = slurm_still_queued(results, &queued);
  if (q == 1 && !a->dry_run) {
    cli_usage_error("%s: jobs %s of an earlier submit are still queued; wait for them (bench status %s) or "
                "cancel them (scancel) before submitting again", dir, queued.data, dir);
    goto out;
  }
  int max_array = SLURM_DEFAULT_MAX_ARRAY_SIZE;
  if (slurm_max_array_size(&max_array, &err) != 0) {
    if (!a->dry_run) {
      cli_usage_error("cannot read the cluster's MaxArraySize: %s", err.msg);
      goto out;
    }
    printf("note: %s; packing for Slurm's default MaxArraySize %d\n", err.msg, max_array);
  }
  if (n == 0) {
    printf("every job of suite '%s' already has an ok result in %s: nothing to submit ('bench report %s' "
           "rewrites the report)\n", s->suite, dir, dir);
    rc = EXIT_OK;
    goto out;
  }
  slurm_pack(keys, costs, n, max_array, &pack);
  SlurmJobSpec js = {.bench = bench, .suite_path = suite_path, .suite_name = s->suite, .results = results,
                     .reports = reports, .workdir = workdir, .partition = a->partition, .gres = a->gres,
                     .time = a->time, .account = a->account, .max_parallel = a->max_parallel, .pack = &pack};
  array_script = slurm_array_script(&js);
  report_script = slurm_report_script(&js);
  if (mkdir_p(logs, &err) != 0 || write_script(array_sh, array_script, &err) != 0 ||
      write_script(report_sh, report_script, &err) != 0) {
    cli_usage_error("%s", err.msg);
    goto out;
  }
  char *qa = shell_quote(array_sh), *qr = shell_quote(report_sh);
  printf("suite '%s': %ld job%s to run in %d array task%s (%d shard%s, MaxArraySize %d)\n", s->suite, n,
         n == 1 ? "" : "s", pack.n_tasks, pack.n_tasks == 1 ? "" : "s", pack.n_shards, pack.n_shards == 1 ? "" : "s",
         max_array);
  printf("wrote %s and %s\n", array_sh, report_sh);
  if (a->dry_run) {
    printf("dry run: nothing submitted; the commands would be\n");
    printf("  sbatch --parsable %s\n", qa);
    printf("  sbatch --parsable --dependency=afterany:<array job id> %s\n", qr);
    if (q == 1) printf("note: jobs %s of an earlier submit are still queued\n", queued.data);
    free(qa);
    free(qr);
    rc = EXIT_OK;
    goto out;
  }
  free(qa);
  free(qr);
  char *argv_a[] = {"sbatch", "--parsable", array_sh, NULL};
  array_id = sbatch(argv_a, &err);
  if (!array_id) {
    cli_usage_error("%s", err.msg);
    goto out;
  }
  char *dep = xasprintf("--dependency=afterany:%s", array_id);
  char *argv_r[] = {"sbatch", "--parsable", dep, report_sh, NULL};
  report_id = sbatch(argv_r, &err);
  free(dep);
  json_t *j = submission_json(a, s, &js, ids, keys, n, max_array, array_id, report_id);
  char *text = json_dumps(j, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
  char *sub_path = slurm_submitted_path(results);
  BenchErr werr;
  int wrote = write_file_atomic(sub_path, text, strlen(text), &werr);
  free(sub_path);
  free(text);
  json_decref(j);
  printf("submitted array job %s (%d task%s)", array_id, pack.n_tasks, pack.n_tasks == 1 ? "" : "s");
  if (report_id) printf(" and report job %s (afterany:%s)\n", report_id, array_id);
  else printf("\n");
  printf("progress: bench status %s\n", dir);
  if (wrote != 0) fprintf(stderr, "bench: warning: %s\n", werr.msg);
  if (!report_id) {
    cli_usage_error("the array runs, but the report step was not submitted: %s; run 'bench report %s' when "
                "the array has ended", err.msg, dir);
    goto out;
  }
  rc = EXIT_OK;
out:
  slurm_pack_free(&pack);
  free(array_script);
  free(report_script);
  free(array_id);
  free(report_id);
  sb_free(&queued);
  free(rel_reports);
  free(results);
  free(reports);
  free(suite_path);
  free(bench);
  free(workdir);
  free(slurm_dir);
  free(logs);
  free(array_sh);
  free(report_sh);
  return rc;
}

int cmd_submit(int argc, char **argv) {
  SubmitArgs a;
  if (parse_args(argc, argv, &a) != 0) {
    free(a.command);
    return EXIT_BAD_INPUT;
  }
  RunPrep prep;
  int rc = run_prepare(a.suite_path, NULL, 0, 0, 0, "nothing was submitted", &prep);
  if (rc == EXIT_OK) {
    const Suite *s = prep.suite;
    const RunSelection *sel = &prep.sel;
    char *dir = a.results ? xstrdup(a.results) : xasprintf("results/%s", s->suite);
    BenchErr derr;
    if (results_dir_check(dir, s->suite, 0, &derr) != 0) {  // its tasks' `bench run` would refuse it
      cli_usage_error("%s; nothing was submitted", derr.msg);
      free(dir);
      run_prep_free(&prep);
      free(a.command);
      return EXIT_BAD_INPUT;
    }
    const char **ids = xcalloc((size_t)sel->n + 1, sizeof *ids), **keys = xcalloc((size_t)sel->n + 1, sizeof *keys);
    double *costs = xcalloc((size_t)sel->n + 1, sizeof *costs);
    long n = 0;
    for (long k = 0; k < sel->n; k++) {
      if (job_result_ok(dir, sel->jobs[k].job->id, sel->jobs[k].job->spec)) continue;
      ids[n] = sel->jobs[k].job->id;
      keys[n] = job_shard_key(sel->jobs[k].job);
      costs[n++] = sel->jobs[k].cost;
    }
    if (n < sel->n) printf("%ld of %ld jobs already have an ok result in %s\n", sel->n - n, sel->n, dir);
    rc = submit(&a, s, ids, keys, costs, n, dir, argv[0]);
    free((void *)ids);
    free((void *)keys);
    free(costs);
    free(dir);
  }
  run_prep_free(&prep);
  free(a.command);
  return rc;
}
