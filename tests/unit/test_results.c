// test_results.c — job result JSON: schema fields, atomic write and read back, checks on read; the
// scan of jobs/; the one validity rule and setting invalid results aside; the manifest reader's checks.
#include <stdlib.h>
#include <string.h>

#include "eval.h"
#include "results.h"
#include "test.h"

static char tmpdir[] = "/tmp/bench_test_results_XXXXXX";

static JobResult sample_result(void) {
  JobResult r = {0};
  r.job_id = xstrdup("a1b2c3d4e5f6");
  r.suite = xstrdup("night");
  r.phase = xstrdup("1A");
  r.n_phases = 1;
  r.phases = xcalloc(1, sizeof *r.phases);
  r.phases[0] = xstrdup("1A");
  r.spec = json_pack("{s:s,s:s,s:{s:s,s:s,s:f},s:i}", "model", "tiny", "dataset", "d", "rope",
                     "name", "geo", "type", "geometric", "theta", 500000.0, "length", 64);
  r.status = JOB_OK;
  snprintf(r.started, sizeof r.started, "2025-01-01T00:00:00Z");
  snprintf(r.finished, sizeof r.finished, "2025-01-01T00:00:05Z");
  return r;
}

static EvalResult sample_metrics(void) {
  EvalStats s;
  eval_stats_init(&s, 32);
  float nll[] = {2.0f, 3.0f, 4.0f};
  uint8_t ok[] = {1, 0, 0};
  eval_stats_add_window(&s, nll, ok, 3, 1);
  eval_stats_add_window(&s, nll, ok, 3, 20);
  EvalResult m = {0};
  eval_stats_result(&s, &m);
  eval_stats_free(&s);
  m.tokens_per_s = 100;
  m.forward_s = 0.06;
  m.wall_s = 0.1;
  m.peak_mem_bytes = 123456789;
  m.kv_peak_tokens = 32;
  m.kv_peak_bytes = 4096;
  m.dataset_tokens = 1000;
  m.compute_dtype = "fp32";
  return m;
}

TEST(metrics_json_fields) {
  EvalResult m = sample_metrics();
  json_t *j = eval_metrics_json(&m);
  EXPECT_NEAR(json_real_value(json_object_get(j, "nll")), 3.0, 1e-12, 0);
  EXPECT_NEAR(json_real_value(json_object_get(j, "ppl")), exp(3.0), 1e-12, 0);
  EXPECT_INT_EQ(json_integer_value(json_object_get(j, "tokens")), 6);
  EXPECT_INT_EQ(json_integer_value(json_object_get(j, "peak_mem_bytes")), 123456789);
  EXPECT_INT_EQ(json_integer_value(json_object_get(j, "kv_peak_tokens")), 32);
  json_t *pos = json_object_get(j, "nll_by_position");
  // width 2: offsets 1 | 2,3 | 20,21 | 22 with nll 2 | 3,4 | 2,3 | 4
  EXPECT_INT_EQ(json_array_size(pos), 4);
  EXPECT_INT_EQ(json_integer_value(json_array_get(json_array_get(pos, 0), 0)), 0);
  EXPECT_NEAR(json_real_value(json_array_get(json_array_get(pos, 0), 1)), 2.0, 1e-12, 0);
  EXPECT_INT_EQ(json_integer_value(json_array_get(json_array_get(pos, 1), 0)), 2);
  EXPECT_NEAR(json_real_value(json_array_get(json_array_get(pos, 1), 1)), 3.5, 1e-12, 0);
  EXPECT_INT_EQ(json_integer_value(json_array_get(json_array_get(pos, 2), 0)), 20);
  EXPECT_NEAR(json_real_value(json_array_get(json_array_get(pos, 2), 1)), 2.5, 1e-12, 0);
  EXPECT_INT_EQ(json_integer_value(json_array_get(json_array_get(pos, 3), 0)), 22);
  EXPECT_INT_EQ(json_array_size(json_object_get(j, "window_ppl")), 2);
  const char *keys[] = {"ppl", "nll", "nll_stderr", "tokens", "acc", "tokens_per_s",
                        "peak_mem_bytes", "kv_peak_tokens", "wall_s", "nll_by_position",
                        "window_ppl"};
  for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) EXPECT(json_object_get(j, keys[i]));
  json_decref(j);
  // Not-a-number becomes null: JSON has no NaN.
  m.ppl = NAN;
  j = eval_metrics_json(&m);
  EXPECT(json_is_null(json_object_get(j, "ppl")));
  json_decref(j);
  eval_result_free(&m);
}

TEST(write_and_read_back) {
  JobResult r = sample_result();
  EvalResult m = sample_metrics();
  r.metrics = eval_metrics_json(&m);
  eval_result_free(&m);
  BenchErr err;
  char *dir = path_join(tmpdir, "results/night");
  EXPECT_INT_EQ(job_result_write(dir, &r, &err), 0);
  char *path = job_result_path(dir, r.job_id);
  char *want = path_join(tmpdir, "results/night/jobs/a1b2c3d4e5f6.json");
  EXPECT_STR_EQ(path, want);
  JobResult back;
  EXPECT_INT_EQ(job_result_read(path, &back, &err), 0);
  EXPECT_STR_EQ(back.job_id, "a1b2c3d4e5f6");
  EXPECT_STR_EQ(back.suite, "night");
  EXPECT_STR_EQ(back.phase, "1A");
  EXPECT_INT_EQ(back.n_phases, 1);
  EXPECT_INT_EQ(back.status, JOB_OK);
  EXPECT(back.error == NULL);
  EXPECT_STR_EQ(back.started, "2025-01-01T00:00:00Z");
  EXPECT(json_equal(back.spec, r.spec));
  EXPECT_NEAR(json_real_value(json_object_get(back.metrics, "nll")), 3.0, 1e-12, 0);
  job_result_free(&back);
  // The text itself: the schema line and a null error.
  char *text = NULL;
  EXPECT_INT_EQ(read_file(path, 1 << 20, &text, NULL, &err), 0);
  EXPECT_CONTAINS(text, "\"schema\": \"bench.job/1\"");
  EXPECT_CONTAINS(text, "\"error\": null");
  EXPECT_CONTAINS(text, "\n  \"spec\": {\n    \"model\": \"tiny\",\n");
  EXPECT_CONTAINS(text, "\n    \"nll_by_position\": [[0,2.0],[2,3.5],[20,2.5],[22,4.0]],\n");
  EXPECT_CONTAINS(text, "\n  \"status\": \"ok\",\n");
  free(text);
  // A failed job: error line, no metrics, two phases.
  json_decref(r.metrics);
  r.metrics = NULL;
  r.status = JOB_ERROR;
  r.error = xstrdup("dataset 'd' has 10 tokens; length 64 × 1 windows needs 64");
  r.phases = xrealloc(r.phases, 2 * sizeof *r.phases);
  r.phases[1] = xstrdup("1B");
  r.n_phases = 2;
  EXPECT_INT_EQ(job_result_write(dir, &r, &err), 0);
  EXPECT_INT_EQ(job_result_read(path, &back, &err), 0);
  EXPECT_INT_EQ(back.status, JOB_ERROR);
  EXPECT_STR_EQ(back.error, r.error);
  EXPECT(back.metrics == NULL);
  EXPECT_INT_EQ(back.n_phases, 2);
  if (back.n_phases == 2) EXPECT_STR_EQ(back.phases[1], "1B");
  job_result_free(&back);
  // Errors stay one line, and valid UTF-8.
  free(r.error);
  r.error = xstrdup("bad \xff byte\nsecond line");
  EXPECT_INT_EQ(job_result_write(dir, &r, &err), 0);
  EXPECT_INT_EQ(job_result_read(path, &back, &err), 0);
  EXPECT_STR_EQ(back.error, "bad ? byte second line");
  job_result_free(&back);
  job_result_free(&r);
  free(want);
  free(path);
  free(dir);
}

static void expect_read_error(const char *text, const char *want) {
  char *p = path_join(tmpdir, "bad.json");
  BenchErr err;
  EXPECT_INT_EQ(write_file_atomic(p, text, strlen(text), &err), 0);
  JobResult r;
  EXPECT_INT_EQ(job_result_read(p, &r, &err), -1);
  EXPECT_CONTAINS(err.msg, want);
  EXPECT(r.job_id == NULL);
  free(p);
}

#define JOB_HEAD "{\"schema\":\"bench.job/1\",\"spec\":{},"

TEST(read_checks) {
  expect_read_error("{\"schema\":\"bench.job/2\"}",
                    "schema 'bench.job/2' is not 'bench.job/1': written by another bench version");
  expect_read_error("{\"schema\":\"other/1\"}", "not a bench job result");
  expect_read_error("[1]", "not a JSON object");
  expect_read_error("{\"schema\":\"bench.job/1\",", "bad.json:1:");
  expect_read_error(JOB_HEAD "\"phase\":\"p\",\"status\":\"fine\"}", "status 'fine' is not one of ok, oom, error, crashed");
  expect_read_error(JOB_HEAD "\"phase\":\"p\",\"status\":\"ok\",\"metrics\":null}", "status ok but no metrics");
  expect_read_error(JOB_HEAD "\"phase\":\"p\",\"status\":\"oom\",\"job_id\":3}", "field 'job_id' is not a string");
  expect_read_error(JOB_HEAD "\"phase\":\"p\",\"status\":\"oom\",\"error\":[1]}", "field 'error' is not a string");
  expect_read_error("{\"schema\":\"bench.job/1\",\"phase\":\"p\",\"status\":\"oom\"}", "no \"spec\" object");
  // "phase" is a string; "phases" a list of strings
  expect_read_error(JOB_HEAD "\"phase\":[\"p\"],\"status\":\"oom\"}", "no \"phase\" string");
  expect_read_error(JOB_HEAD "\"phase\":\"p\",\"phases\":[\"p\",2],\"status\":\"oom\"}", "'phases' is not a list of strings");
  expect_read_error("{\"schema\":\"bench.job/1\",\"schema\":\"bench.job/1\"}", "duplicate");
  // job_id, suite, started and finished may be absent
  char *p = path_join(tmpdir, "min.json");
  BenchErr err;
  const char *text = JOB_HEAD "\"phase\":\"p\",\"status\":\"crashed\"}";
  EXPECT_INT_EQ(write_file_atomic(p, text, strlen(text), &err), 0);
  JobResult r;
  EXPECT_INT_EQ(job_result_read(p, &r, &err), 0);
  EXPECT_STR_EQ(r.job_id, "");
  EXPECT_STR_EQ(r.started, "");
  EXPECT_INT_EQ(r.n_phases, 1);
  EXPECT_INT_EQ(r.status, JOB_CRASHED);
  job_result_free(&r);
  free(p);
}

// The one scan of jobs/: result files only, in file-name order; no jobs/ is no results.
TEST(job_files) {
  char *dir = path_join(tmpdir, "scan");
  JobFiles f;
  BenchErr err;
  EXPECT_INT_EQ(job_files_list(dir, &f, &err), 0);
  EXPECT_INT_EQ(f.n, 0);
  job_files_free(&f);
  static const char *const names[] = {"b2.json", "a1.json", ".hidden.json", "c3.json.tmp.42", "notes.txt"};
  for (int i = 0; i < 5; i++) {
    char *p = xasprintf("%s/jobs/%s", dir, names[i]);
    if (i == 0) {
      char *jobs = job_results_dir(dir);
      EXPECT_INT_EQ(mkdir_p(jobs, &err), 0);
      free(jobs);
    }
    EXPECT_INT_EQ(write_file_atomic(p, "{}", 2, &err), 0);
    free(p);
  }
  EXPECT_INT_EQ(job_files_list(dir, &f, &err), 0);
  EXPECT_INT_EQ(f.n, 2);
  if (f.n == 2) {
    EXPECT_STR_EQ(f.ids[0], "a1");
    EXPECT_STR_EQ(f.ids[1], "b2");
  }
  job_files_free(&f);
  free(dir);
}

// The one validity rule (job_valid.c), which run, status and report share.
static void expect_invalid(JobResult *r, const char *file_id, const json_t *planned, const char *want) {
  BenchErr err;
  EXPECT_INT_EQ(job_result_check(r, file_id, planned, &err), -1);
  EXPECT_CONTAINS(err.msg, want);
}

TEST(validity_rule) {
  JobResult r = sample_result();
  r.metrics = json_pack("{s:f}", "ppl", 12.5);
  BenchErr err;
  EXPECT_INT_EQ(job_result_check(&r, "a1b2c3d4e5f6", NULL, &err), 0);
  expect_invalid(&r, "ffffffffffff", NULL, "job_id 'a1b2c3d4e5f6' is not its file's name 'ffffffffffff'");
  json_object_set_new(r.metrics, "ppl", json_real(-1.0));
  expect_invalid(&r, "a1b2c3d4e5f6", NULL, "metrics.ppl is not a positive number");
  json_object_set_new(r.metrics, "ppl", json_null());  // how a NaN is written
  expect_invalid(&r, "a1b2c3d4e5f6", NULL, "metrics.ppl is not a positive number");
  r.status = JOB_OOM;  // a failed job has no ppl to check
  EXPECT_INT_EQ(job_result_check(&r, "a1b2c3d4e5f6", NULL, &err), 0);
  json_object_set_new(r.spec, "length", json_string("64"));
  expect_invalid(&r, "a1b2c3d4e5f6", NULL, "spec.length is not a positive integer");
  json_object_set_new(r.spec, "length", json_integer(64));
  // the planned job: its identity fields must match; names need not (a renamed variant)
  json_t *planned = json_pack("{s:s,s:i,s:i}", "model", "renamed", "length", 64, "seed", 1);
  expect_invalid(&r, "a1b2c3d4e5f6", planned, "spec.seed differs from the planned job's");
  json_object_set_new(r.spec, "seed", json_integer(1));
  EXPECT_INT_EQ(job_result_check(&r, "a1b2c3d4e5f6", planned, &err), 0);
  json_object_set_new(planned, "length", json_integer(128));
  expect_invalid(&r, "a1b2c3d4e5f6", planned, "spec.length differs from the planned job's");
  json_decref(planned);
  job_result_free(&r);
}

// An invalid result is set aside, never deleted, and never overwrites one set aside before.
TEST(set_aside) {
  char *dir = path_join(tmpdir, "aside");
  char *jobs = job_results_dir(dir), *p = job_result_path(dir, "abc");
  BenchErr err;
  EXPECT_INT_EQ(mkdir_p(jobs, &err), 0);
  char *moved[2] = {0};
  for (int i = 0; i < 2; i++) {
    EXPECT_INT_EQ(write_file_atomic(p, i ? "second" : "first", i ? 6 : 5, &err), 0);
    EXPECT_INT_EQ(job_result_set_aside(dir, "abc", &moved[i], &err), 0);
    EXPECT(!file_exists(p));
    EXPECT(moved[i] && strstr(moved[i], "/jobs/invalid/abc.json.") != NULL);
  }
  EXPECT(moved[0] && moved[1] && strcmp(moved[0], moved[1]) != 0);
  char *text = NULL;
  size_t len = 0;
  EXPECT_INT_EQ(read_file(moved[0], 64, &text, &len, &err), 0);
  EXPECT_STR_EQ(text, "first");
  JobResult r;
  EXPECT_INT_EQ(job_result_load(dir, "abc", NULL, &r, &err), RESULT_ABSENT);
  free(text);
  free(moved[0]);
  free(moved[1]);
  free(p);
  free(jobs);
  free(dir);
}

// The one manifest reader: absent is no problem; not ours (no schema, another schema) is not used.
TEST(manifest_read_checks) {
  char *dir = path_join(tmpdir, "man");
  char *path = path_join(dir, "manifest.json");
  BenchErr err;
  EXPECT_INT_EQ(mkdir_p(dir, &err), 0);
  Manifest m;
  manifest_read(dir, &m);
  EXPECT(m.root == NULL && m.problem == NULL);
  manifest_free(&m);
  static const char *const texts[] = {"{\"host\":\"h\"}", "{\"schema\":\"bench.manifest/2\"}", "{\"schema\":"};
  static const char *const want[] = {"no \"schema\" field", "is not 'bench.manifest/1'", "invalid JSON"};
  for (int i = 0; i < 3; i++) {
    EXPECT_INT_EQ(write_file_atomic(path, texts[i], strlen(texts[i]), &err), 0);
    manifest_read(dir, &m);
    EXPECT(m.root == NULL);
    EXPECT_CONTAINS(m.problem ? m.problem : "", want[i]);
    manifest_free(&m);
  }
  const char *ok = "{\"schema\":\"bench.manifest/1\",\"gpus\":[{\"name\":\"H\"},{\"name\":\"H\"}]}";
  EXPECT_INT_EQ(write_file_atomic(path, ok, strlen(ok), &err), 0);
  manifest_read(dir, &m);
  EXPECT(m.root != NULL && m.problem == NULL);
  static const char *const keys[] = {"gpu", "gpus", NULL};
  char *gpus = manifest_text(&m, keys);
  EXPECT_STR_EQ(gpus ? gpus : "", "2× H");
  free(gpus);
  manifest_free(&m);
  free(path);
  free(dir);
}

// A finished evaluation with a NaN NLL is its own status, with where it happened, in the file
// and back; a re-run does not count it done.
TEST(nonfinite_status) {
  EvalResult m = sample_metrics();
  char why[256] = "";
  EXPECT_INT_EQ(eval_result_status(&m, why, sizeof why), JOB_OK);
  m.nonfinite_tokens = 3;
  m.nonfinite_window = 2;
  m.nonfinite_position = 17;
  m.nonfinite_nll = -NAN;
  m.tokens = 508;
  EXPECT_INT_EQ(eval_result_status(&m, why, sizeof why), JOB_NONFINITE);
  EXPECT_STR_EQ(why, "NLL is NaN at window 2, position 17 (3 of 508 scored tokens not finite)");
  char *dir = xasprintf("%s/nonfinite", tmpdir);
  JobResult r = {.job_id = "abc", .suite = "s", .phase = "1A", .status = JOB_NONFINITE, .error = why};
  char *phases[] = {"1A"};
  r.phases = phases;
  r.n_phases = 1;
  r.spec = json_pack("{s:s}", "model", "tiny");
  r.metrics = eval_metrics_json(&m);
  BenchErr err;
  EXPECT_INT_EQ(job_result_write(dir, &r, &err), 0);
  char *path = job_result_path(dir, "abc");
  JobResult back;
  EXPECT_INT_EQ(job_result_read(path, &back, &err), 0);
  EXPECT_INT_EQ(back.status, JOB_NONFINITE);
  EXPECT_STR_EQ(back.error, why);
  json_t *nf = json_object_get(back.metrics, "nonfinite");
  EXPECT_INT_EQ(json_integer_value(json_object_get(nf, "window")), 2);
  EXPECT_INT_EQ(json_integer_value(json_object_get(nf, "position")), 17);
  EXPECT_INT_EQ(json_integer_value(json_object_get(nf, "tokens")), 3);
  EXPECT(!job_result_ok(dir, "abc", NULL));
  job_result_free(&back);
  json_decref(r.spec);
  json_decref(r.metrics);
  eval_result_free(&m);
  free(path);
  free(dir);
}

TEST(status_names) {
  JobStatus s;
  EXPECT_STR_EQ(job_status_name(JOB_CRASHED), "crashed");
  EXPECT_STR_EQ(job_status_name(JOB_NONFINITE), "nonfinite");
  EXPECT_INT_EQ(job_status_from_name("nonfinite", &s), 0);
  EXPECT_INT_EQ(s, JOB_NONFINITE);
  EXPECT_INT_EQ(job_status_from_name("oom", &s), 0);
  EXPECT_INT_EQ(s, JOB_OOM);
  EXPECT_INT_EQ(job_status_from_name("OK", &s), -1);
}

int main(void) {
  if (!mkdtemp(tmpdir)) return 1;
  RUN(metrics_json_fields);
  RUN(write_and_read_back);
  RUN(read_checks);
  RUN(job_files);
  RUN(manifest_read_checks);
  RUN(nonfinite_status);
  RUN(status_names);
  RUN(validity_rule);
  RUN(set_aside);
  char *cmd = xasprintf("rm -rf %s", tmpdir);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
  free(cmd);
  TEST_SUMMARY();
}
