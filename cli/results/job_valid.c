// job_valid.c — the one rule of a stored job result that counts (results.h): what `run` skips,
// what `status` counts done and what `report` shows are the files this rule accepts; the others
// are set aside under DIR/jobs/invalid/ by the next run and recomputed.
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "results.h"

// The spec fields that are the job's identity as written (matrix.h): a stored spec whose fields
// differ from the planned job's is another job's result. Names (model, rope, ..) are left out:
// renaming a variant keeps its jobs.
static const char *const IDENTITY_KEYS[] = {"length", "seed", "protocol", "windows", "stride",
                                            "prompt", "warmup", "dtype"};

int job_result_check(const JobResult *r, const char *file_id, const json_t *planned, BenchErr *err) {
  if (strcmp(r->job_id, file_id) != 0)
    return err_set(err, "job_id '%s' is not its file's name '%s'", r->job_id, file_id);
  json_t *len = json_object_get(r->spec, "length");
  if (!json_is_integer(len) || json_integer_value(len) <= 0)
    return err_set(err, "spec.length is not a positive integer");
  if (r->status == JOB_OK) {
    json_t *ppl = json_object_get(r->metrics, "ppl");
    double v = json_is_number(ppl) ? json_number_value(ppl) : NAN;
    if (!(isfinite(v) && v > 0)) return err_set(err, "status ok but metrics.ppl is not a positive number");
  }
  for (size_t k = 0; planned && k < sizeof IDENTITY_KEYS / sizeof *IDENTITY_KEYS; k++) {
    json_t *a = json_object_get(r->spec, IDENTITY_KEYS[k]), *b = json_object_get(planned, IDENTITY_KEYS[k]);
    if (a == b || (a && b && json_equal(a, b))) continue;
    return err_set(err, "spec.%s differs from the planned job's: the result of another job", IDENTITY_KEYS[k]);
  }
  return 0;
}

ResultState job_result_load(const char *dir, const char *id, const json_t *planned, JobResult *r,
                            BenchErr *err) {
  memset(r, 0, sizeof *r);
  char *path = job_result_path(dir, id);
  ResultState st = RESULT_VALID;
  BenchErr why;
  if (!file_exists(path)) st = RESULT_ABSENT, err_set(err, "%s: no result file", path);
  else if (job_result_read(path, r, err) != 0) st = RESULT_INVALID;
  else if (job_result_check(r, id, planned, &why) != 0) {
    err_set(err, "%s: %s", path, why.msg);
    job_result_free(r);
    st = RESULT_INVALID;
  }
  free(path);
  return st;
}

int job_result_ok(const char *results_dir, const char *job_id, const json_t *planned) {
  JobResult r;
  BenchErr err;
  if (job_result_load(results_dir, job_id, planned, &r, &err) != RESULT_VALID) return 0;
  int ok = r.status == JOB_OK;
  job_result_free(&r);
  return ok;
}

int job_result_set_aside(const char *results_dir, const char *job_id, char **moved, BenchErr *err) {
  *moved = NULL;
  char *jobs = job_results_dir(results_dir), *aside = path_join(jobs, JOB_INVALID_DIR);
  char *from = job_result_path(results_dir, job_id);
  char stamp[32];
  iso_time_utc(wall_time(), stamp);
  for (char *c = stamp; *c; c++)
    if (*c == ':') *c = '-';  // a file name every file system takes
  int rc = mkdir_p(aside, err);
  for (int n = 0; rc == 0 && !*moved; n++) {
    char *name = n ? xasprintf("%s.json.%s.%d", job_id, stamp, n) : xasprintf("%s.json.%s", job_id, stamp);
    char *to = path_join(aside, name);
    free(name);
    if (file_exists(to)) {  // two set aside in one second: never overwrite the first
      free(to);
      continue;
    }
    if (rename(from, to) != 0) {
      rc = err_set(err, "cannot move '%s' to '%s': %s", from, to, strerror(errno));
      free(to);
    } else {
      *moved = to;
    }
  }
  free(from);
  free(aside);
  free(jobs);
  return rc;
}
