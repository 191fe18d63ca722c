// test_runner.c — the runner's pieces that need no worker process: shards, devices and lanes, byte
// sizes, oom classification, the results-directory lock, the manifest merge, file stamps, a run.log
// write that fails, the disk space a run claims before its first job.
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "results.h"
#include "run_lock.h"
#include "run_plan.h"
#include "run_log.h"
#include "run_probe.h"
#include "run_space.h"
#include "run_status.h"
#include "runner.h"
#include "runner_job.h"
#include "test.h"

static char *tmp_dir(void) {
  char tmpl[] = "/tmp/test_runner.XXXXXX";
  char *d = mkdtemp(tmpl);
  CHECK(d != NULL);
  return xstrdup(d);
}

static void remove_tree(const char *dir) {
  char *cmd = xasprintf("rm -rf '%s'", dir);
  int rc = system(cmd);
  (void)rc;
  free(cmd);
}

TEST(shard_parse_accepts_and_rejects) {
  int i, n;
  BenchErr err;
  EXPECT(shard_parse("2/3", &i, &n, &err) == 0 && i == 2 && n == 3);
  EXPECT(shard_parse("1/1", &i, &n, &err) == 0 && i == 1 && n == 1);
  EXPECT(shard_parse("4/3", &i, &n, &err) != 0);
  EXPECT_CONTAINS(err.msg, "shard 4 of 3 does not exist");
  const char *bad[] = {"0/3", "3", "/3", "2/", "a/b", "2/3x", "-1/3", "1/0", "", "99999999/99999999"};
  for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
    if (shard_parse(bad[k], &i, &n, &err) == 0) TEST_FAIL_AT("'%s' accepted", bad[k]);
  }
  EXPECT(shard_parse("1/9223372036854775807", &i, &n, &err) != 0);
  EXPECT_CONTAINS(err.msg, "'9223372036854775807' is too large (at most 9999999)");
  EXPECT(shard_parse("0/3", &i, &n, &err) != 0);
  EXPECT_CONTAINS(err.msg, "'0' is too small (at least 1)");
  EXPECT(shard_parse("a/3", &i, &n, &err) != 0);
  EXPECT_CONTAINS(err.msg, "'a' is not an integer");
}

// Shards 1..N of many ids: each id in exactly one, the same answer every time, all shards used.
TEST(shards_are_disjoint_covering_and_stable) {
  enum { N_IDS = 3000 };
  for (int n = 1; n <= 5; n++) {
    long count[6] = {0};
    for (int k = 0; k < N_IDS; k++) {
      char id[65];
      char *text = xasprintf("job %d", k);
      sha256_hex(text, strlen(text), id);
      free(text);
      id[JOB_ID_HEX] = 0;
      int s = shard_of(id, n);
      if (s < 1 || s > n) TEST_FAIL_AT("shard %d of %d", s, n);
      else count[s]++;
      EXPECT_INT_EQ(shard_of(id, n), s);
    }
    long sum = 0;
    for (int s = 1; s <= n; s++) {
      sum += count[s];
      EXPECT(count[s] > N_IDS / n / 2);  // roughly balanced
    }
    EXPECT_INT_EQ(sum, N_IDS);
  }
  // A fixed id always lands in the same shard (stable across machines and versions).
  EXPECT_INT_EQ(shard_of("0000000000000005", 3), 3);
  EXPECT_INT_EQ(shard_of("ffffffffffffffff", 2), 2);
}

TEST(devices_normalise) {
  char out[32];
  BenchErr err;
  EXPECT(device_normalise("cpu", 1, out, sizeof out, &err) == 0);
  EXPECT_STR_EQ(out, "cpu");
  EXPECT(device_normalise("cuda", 1, out, sizeof out, &err) == 0);
  EXPECT_STR_EQ(out, "cuda:0");
  EXPECT(device_normalise("cuda:3", 1, out, sizeof out, &err) == 0);
  EXPECT_STR_EQ(out, "cuda:3");
  EXPECT(device_normalise("2", 1, out, sizeof out, &err) == 0);
  EXPECT_STR_EQ(out, "cuda:2");
  EXPECT(device_normalise("0", 1, out, sizeof out, &err) == 0);
  EXPECT_STR_EQ(out, "cuda:0");
  EXPECT(device_normalise("gpu", 1, out, sizeof out, &err) != 0);
  EXPECT_CONTAINS(err.msg, "unknown device 'gpu'");
  EXPECT(device_normalise("cuda:x", 1, out, sizeof out, &err) != 0);
}

// One rule for where a job runs, whichever asks: bench run's lanes and bench plan's estimates.
TEST(auto_is_the_first_gpu_else_the_cpu_for_run_and_plan_alike) {
  EXPECT_STR_EQ(device_auto(0), "cpu");
  EXPECT_STR_EQ(device_auto(1), "cuda:0");
  EXPECT_STR_EQ(device_auto(4), "cuda:0");
  const char *wants[] = {"auto", "cpu", "cuda", "cuda:2", NULL};
  const char *dflts[] = {"cpu", "cuda:0", "cuda:1"};
  const char *want_on[3][5] = {{"cpu", "cpu", "cuda:0", "cuda:2", "cpu"},
                               {"cuda:0", "cpu", "cuda:0", "cuda:2", "cuda:0"},
                               {"cuda:1", "cpu", "cuda:1", "cuda:2", "cuda:1"}};
  Job jobs[5];
  memset(jobs, 0, sizeof jobs);
  Matrix m;
  memset(&m, 0, sizeof m);
  m.jobs = jobs;
  m.n_jobs = 5;
  for (int k = 0; k < 5; k++) jobs[k].device = wants[k];
  for (int d = 0; d < 3; d++) {
    matrix_place_jobs(&m, dflts[d]);  // bench plan
    Lanes ln;
    BenchErr err;
    EXPECT(lanes_init(&ln, NULL, dflts[d], &err) == 0);  // bench run without --devices
    for (int k = 0; k < 5; k++) {
      char buf[32];
      EXPECT_STR_EQ(jobs[k].runs_on, want_on[d][k]);
      EXPECT_STR_EQ(lane_device(&ln, 0, &jobs[k], buf, sizeof buf), jobs[k].runs_on);
    }
    lanes_free(&ln);
  }
}

TEST(lanes_place_jobs) {
  Lanes ln;
  BenchErr err;
  Job j;
  memset(&j, 0, sizeof j);
  char buf[32];
  // One flexible lane: pinned jobs keep their device, auto follows the fallback.
  EXPECT(lanes_init(&ln, NULL, "cpu", &err) == 0);
  EXPECT(ln.flexible && ln.n == 1);
  j.device = "auto";
  EXPECT_STR_EQ(lane_device(&ln, 0, &j, buf, sizeof buf), "cpu");
  j.device = "cuda:1";
  EXPECT_STR_EQ(lane_device(&ln, 0, &j, buf, sizeof buf), "cuda:1");
  j.device = "cuda";
  EXPECT_STR_EQ(lane_device(&ln, 0, &j, buf, sizeof buf), "cuda:0");
  lanes_free(&ln);
  // Fixed lanes: a job runs only where its pin allows.
  EXPECT(lanes_init(&ln, "0,cuda:1,cpu", "cpu", &err) == 0);
  EXPECT_INT_EQ(ln.n, 3);
  EXPECT_STR_EQ(ln.devices[0], "cuda:0");
  EXPECT_STR_EQ(ln.devices[2], "cpu");
  j.device = "auto";
  for (int k = 0; k < 3; k++) EXPECT(lane_device(&ln, k, &j, buf, sizeof buf) != NULL);
  j.device = "cuda";
  EXPECT(lane_device(&ln, 0, &j, buf, sizeof buf) && lane_device(&ln, 1, &j, buf, sizeof buf));
  EXPECT(lane_device(&ln, 2, &j, buf, sizeof buf) == NULL);
  j.device = "cuda:1";
  EXPECT(lane_device(&ln, 0, &j, buf, sizeof buf) == NULL);
  EXPECT_STR_EQ(lane_device(&ln, 1, &j, buf, sizeof buf), "cuda:1");
  j.device = "cpu";
  EXPECT(lane_device(&ln, 0, &j, buf, sizeof buf) == NULL);
  EXPECT_STR_EQ(lane_device(&ln, 2, &j, buf, sizeof buf), "cpu");
  lanes_free(&ln);
  EXPECT(lanes_init(&ln, "0,0", "cpu", &err) != 0);
  EXPECT_CONTAINS(err.msg, "listed twice");
  EXPECT(lanes_init(&ln, "0,,1", "cpu", &err) != 0);
  EXPECT(lanes_init(&ln, "cpu,cpu", "cpu", &err) == 0);  // several CPU workers split the cores
  EXPECT_INT_EQ(ln.n, 2);
  lanes_free(&ln);
}

TEST(byte_sizes_and_oom_messages) {
  size_t b;
  BenchErr err;
  EXPECT(parse_byte_size("1048576", &b, &err) == 0 && b == 1048576);
  EXPECT(parse_byte_size("8G", &b, &err) == 0 && b == (size_t)8 << 30);
  EXPECT(parse_byte_size("512M", &b, &err) == 0 && b == (size_t)512 << 20);
  EXPECT(parse_byte_size("1.5GiB", &b, &err) == 0 && b == (size_t)3 << 29);
  EXPECT(parse_byte_size("64k", &b, &err) == 0 && b == 65536);
  const char *bad[] = {"", "G", "8X", "-1G", "0", "8GG", "1e30"};
  for (size_t k = 0; k < sizeof bad / sizeof *bad; k++)
    if (parse_byte_size(bad[k], &b, &err) == 0) TEST_FAIL_AT("'%s' accepted", bad[k]);
  EXPECT(status_for_error("window 0 (tokens 0..8): out of memory: activations for a block") == JOB_OOM);
  EXPECT(status_for_error("'/m': cannot allocate 3.00 GiB for fp32 weights") == JOB_OOM);
  EXPECT(status_for_error("dataset 'x' has 10 tokens; length 64 × 3 windows needs 192") == JOB_ERROR);
}

TEST(lock_refuses_a_second_runner_and_names_the_first) {
  char *dir = tmp_dir();
  char *run = path_join(dir, ".run");
  BenchErr err;
  EXPECT(mkdir_p(run, &err) == 0);
  StrBuf who = {0};
  EXPECT_INT_EQ(run_lock_probe(dir, &who), -1);  // never run here
  RunLock a, b;
  EXPECT(run_lock_acquire(dir, 0, 0, "bench run first.yaml", &a, &err) == 0);
  EXPECT_INT_EQ(run_lock_probe(dir, &who), 1);
  EXPECT_CONTAINS(who.data, "bench run first.yaml");
  sb_free(&who);
  // flock locks belong to open files: a second open in this process is a second runner.
  EXPECT(run_lock_acquire(dir, 0, 0, "bench run second.yaml", &b, &err) != 0);
  char *pid = xasprintf("pid %d", (int)getpid());
  EXPECT_CONTAINS(err.msg, "in use by another run");
  EXPECT_CONTAINS(err.msg, pid);
  EXPECT_CONTAINS(err.msg, "bench run first.yaml");
  free(pid);
  // A shard is refused while a whole run holds the directory.
  EXPECT(run_lock_acquire(dir, 1, 2, "bench run s.yaml --shard 1/2", &b, &err) != 0);
  run_lock_release(&a);
  memset(&who, 0, sizeof who);
  EXPECT_INT_EQ(run_lock_probe(dir, &who), 0);
  // Shards run side by side; the same shard twice and a whole run are refused.
  RunLock s1, s2, s1b;
  EXPECT(run_lock_acquire(dir, 1, 2, "bench run s.yaml --shard 1/2", &s1, &err) == 0);
  EXPECT(run_lock_acquire(dir, 2, 2, "bench run s.yaml --shard 2/2", &s2, &err) == 0);
  EXPECT(run_lock_acquire(dir, 1, 2, "again", &s1b, &err) != 0);
  EXPECT_CONTAINS(err.msg, "shard 1/2");
  EXPECT(run_lock_acquire(dir, 0, 0, "whole", &a, &err) != 0);
  EXPECT_CONTAINS(err.msg, "--shard 1/2");
  EXPECT_CONTAINS(err.msg, "--shard 2/2");
  EXPECT_INT_EQ(run_lock_probe(dir, &who), 1);
  EXPECT_CONTAINS(who.data, "--shard 2/2");
  sb_free(&who);
  run_lock_release(&s1);
  run_lock_release(&s2);
  EXPECT(run_lock_acquire(dir, 0, 0, "whole", &a, &err) == 0);
  run_lock_release(&a);
  remove_tree(dir);
  free(run);
  free(dir);
}

// A minimal suite + matrix for the manifest: no models or datasets.
TEST(manifest_merges_runs) {
  char *dir = tmp_dir();
  char *run = path_join(dir, ".run");
  BenchErr err;
  EXPECT(mkdir_p(run, &err) == 0);
  Suite s;
  memset(&s, 0, sizeof s);
  s.suite = "m";
  snprintf(s.sha256, sizeof s.sha256, "%064d", 7);
  Matrix mx;
  memset(&mx, 0, sizeof mx);
  mx.suite = &s;
  HostProbe p;
  memset(&p, 0, sizeof p);
  p.gpus = json_array();
  snprintf(p.cpu, sizeof p.cpu, "test cpu");
  p.cuda_runtime = 12040;
  Lanes ln;
  EXPECT(lanes_init(&ln, NULL, "cpu", &err) == 0);
  ManifestRun r = {.suite = &s, .mx = &mx, .probe = &p, .lanes = &ln, .suite_path = "m.yaml",
                   .command = "bench run m.yaml", .started = 1700000000, .jobs = 4, .skipped = 0};
  EXPECT(manifest_begin(dir, &r, &err) == 0);
  ManifestEnd e = {3, 1, 0, 0, "interrupted"};
  EXPECT(manifest_end(dir, &r, &e, &err) == 0);
  ManifestRun r2 = r;
  r2.started = 1700003600;
  r2.skipped = 3;
  EXPECT(manifest_begin(dir, &r2, &err) == 0);
  ManifestEnd e2 = {1, 0, 0, 0, "completed"};
  EXPECT(manifest_end(dir, &r2, &e2, &err) == 0);
  char *path = path_join(dir, "manifest.json");
  json_t *m = json_load_file(path, JSON_REJECT_DUPLICATES, NULL);
  EXPECT(m != NULL);
  EXPECT_STR_EQ(json_string_value(json_object_get(m, "schema")), "bench.manifest/1");
  EXPECT_STR_EQ(json_string_value(json_object_get(m, "started")), "2023-11-14T22:13:20Z");  // the first
  EXPECT_STR_EQ(json_string_value(json_object_get(m, "cuda")), "12.4");
  EXPECT_STR_EQ(json_string_value(json_object_get(m, "cpu")), "test cpu");
  EXPECT_STR_EQ(json_string_value(json_object_get(m, "suite_sha256")), s.sha256);
  EXPECT(json_is_string(json_object_get(m, "finished")));
  json_t *runs = json_object_get(m, "runs");
  EXPECT_INT_EQ(json_array_size(runs), 2);
  EXPECT_STR_EQ(json_string_value(json_object_get(json_array_get(runs, 0), "outcome")), "interrupted");
  EXPECT_STR_EQ(json_string_value(json_object_get(json_array_get(runs, 1), "outcome")), "completed");
  EXPECT_INT_EQ(json_integer_value(json_object_get(json_array_get(runs, 1), "skipped")), 3);
  EXPECT_INT_EQ(json_integer_value(json_object_get(json_array_get(runs, 0), "oom")), 1);
  json_decref(m);
  // A manifest of another schema is replaced, not merged.
  EXPECT(write_file_atomic(path, "{\"schema\":\"other/9\",\"runs\":[1,2,3]}", 35, &err) == 0);
  EXPECT(manifest_begin(dir, &r, &err) == 0);
  m = json_load_file(path, 0, NULL);
  EXPECT_INT_EQ(json_array_size(json_object_get(m, "runs")), 1);
  json_decref(m);
  free(path);
  lanes_free(&ln);
  json_decref(p.gpus);
  remove_tree(dir);
  free(run);
  free(dir);
}

TEST(file_stamps_see_a_replaced_file) {
  char *dir = tmp_dir();
  char *path = path_join(dir, "x.json");
  BenchErr err;
  FileStamp st;
  file_stamp(path, &st);
  EXPECT(!st.exists);
  EXPECT(!file_stamp_changed(&st, path));
  EXPECT(write_file_atomic(path, "a", 1, &err) == 0);
  EXPECT(file_stamp_changed(&st, path));
  file_stamp(path, &st);
  EXPECT(!file_stamp_changed(&st, path));
  EXPECT(write_file_atomic(path, "b", 1, &err) == 0);  // rename: a new inode
  EXPECT(file_stamp_changed(&st, path));
  remove_tree(dir);
  free(path);
  free(dir);
}

TEST(status_file_paths) {
  char *a = run_file_path("r", "status", 0, 0);
  char *b = run_file_path("r", "plan", 2, 3);
  EXPECT_STR_EQ(a, "r/.run/status.json");
  EXPECT_STR_EQ(b, "r/.run/plan-shard-2-of-3.json");
  free(a);
  free(b);
}

TEST(gpu_refusal_names_the_failed_gpu_only) {
  const char *refused[3] = {NULL, "GPU check failed on cuda:1", NULL};
  EXPECT(gpu_refusal(refused, 3, "cpu") == NULL);
  EXPECT(gpu_refusal(refused, 3, "cuda:0") == NULL);
  EXPECT_STR_EQ(gpu_refusal(refused, 3, "cuda:1"), "GPU check failed on cuda:1");
  EXPECT(gpu_refusal(refused, 3, "cuda:7") == NULL);
  EXPECT(gpu_refusal(NULL, 0, "cuda:0") == NULL);
}

// A run.log line that cannot be written is kept as the log's write_error, naming the path; the run
// checks it before its first job. run.log is a regular file (a device is refused), so the full disk
// is played by /dev/full put under the open log's descriptor: every write then fails with ENOSPC.
TEST(log_write_failure_is_recorded) {
  RunLog lg;
  BenchErr err;
  char *dir = tmp_dir(), *path = xasprintf("%s/run.log", dir);
  RunLog device;
  EXPECT_INT_EQ(run_log_open(&device, "/dev/full", &err), -1);
  EXPECT_CONTAINS(err.msg, "not a regular file");
  EXPECT_INT_EQ(run_log_open(&lg, path, &err), 0);
  int full = open("/dev/full", O_WRONLY);
  EXPECT(full >= 0 && dup2(full, lg.fd) == lg.fd);
  close(full);
  EXPECT(lg.write_error == NULL);
  fflush(stderr);
  int saved = dup(STDERR_FILENO), null = open("/dev/null", O_WRONLY);
  dup2(null, STDERR_FILENO);  // the one stderr line it prints
  run_log(&lg, "one line");
  run_log(&lg, "another");
  fflush(stderr);
  dup2(saved, STDERR_FILENO);
  close(saved);
  close(null);
  EXPECT(lg.write_error != NULL);
  if (lg.write_error) {
    char *want = xasprintf("cannot write '%s': No space left on device", path);
    EXPECT_CONTAINS(lg.write_error, want);
    EXPECT_CONTAINS(lg.write_error, "free");
    free(want);
  }
  run_log_close(&lg);
  remove_tree(dir);
  free(path);
  free(dir);
}

// The space a run claims before its first job: a probe result (removed) and the reserve (kept
// until released); the probes of killed runs are removed, never counted as results; a results
// directory that cannot take them is refused with the path.
TEST(space_claim_and_release) {
  char *dir = tmp_dir();
  char *jobs = path_join(dir, "jobs"), *run = path_join(dir, ".run");
  BenchErr err;
  EXPECT_INT_EQ(mkdir_p(jobs, &err), 0);
  EXPECT_INT_EQ(mkdir_p(run, &err), 0);
  RunSpace sp;
  EXPECT_INT_EQ(run_space_claim(dir, 2, 3, &sp, &err), 0);
  EXPECT(sp.reserve && strstr(sp.reserve, "/.run/reserve-shard-2-of-3") != NULL);
  struct stat st;
  EXPECT(sp.reserve && stat(sp.reserve, &st) == 0 && (size_t)st.st_size == RUN_RESERVE_BYTES);
  JobFiles f;
  EXPECT_INT_EQ(job_files_list(dir, &f, &err), 0);
  EXPECT_INT_EQ(f.n, 0);  // the probe is gone
  job_files_free(&f);
  char *reserve = sp.reserve ? xstrdup(sp.reserve) : NULL;
  run_space_release(&sp);
  EXPECT(reserve && !file_exists(reserve));
  free(reserve);
  // a run killed while probing left its probe: the next claim removes it (its process is gone);
  // a live run's probe stays; no scan ever counts a probe as a result
  pid_t dead = fork();
  if (dead == 0) _exit(0);
  waitpid(dead, NULL, 0);
  char *stale = xasprintf("%s/.probe.%ld", jobs, (long)dead), *live = xasprintf("%s/.probe.%ld", jobs, (long)getppid());
  EXPECT_INT_EQ(write_file_atomic(stale, "x", 1, &err), 0);
  EXPECT_INT_EQ(write_file_atomic(live, "x", 1, &err), 0);
  EXPECT_INT_EQ(job_files_list(dir, &f, &err), 0);
  EXPECT_INT_EQ(f.n, 0);
  job_files_free(&f);
  EXPECT_INT_EQ(run_space_claim(dir, 0, 0, &sp, &err), 0);
  EXPECT(!file_exists(stale));
  EXPECT(file_exists(live));
  run_space_release(&sp);
  unlink(live);
  free(stale);
  free(live);
  rmdir(run);
  rmdir(jobs);
  // jobs/ is a file: nothing can be written there
  EXPECT_INT_EQ(write_file_atomic(jobs, "x", 1, &err), 0);
  EXPECT_INT_EQ(run_space_claim(dir, 0, 0, &sp, &err), -1);
  EXPECT_CONTAINS(err.msg, "cannot write '");
  EXPECT_CONTAINS(err.msg, "/jobs/.probe.");
  unlink(jobs);
  rmdir(dir);
  free(jobs);
  free(run);
  free(dir);
}

int main(void) {
  RUN(shard_parse_accepts_and_rejects);
  RUN(gpu_refusal_names_the_failed_gpu_only);
  RUN(shards_are_disjoint_covering_and_stable);
  RUN(devices_normalise);
  RUN(auto_is_the_first_gpu_else_the_cpu_for_run_and_plan_alike);
  RUN(lanes_place_jobs);
  RUN(byte_sizes_and_oom_messages);
  RUN(lock_refuses_a_second_runner_and_names_the_first);
  RUN(manifest_merges_runs);
  RUN(file_stamps_see_a_replaced_file);
  RUN(status_file_paths);
  RUN(log_write_failure_is_recorded);
  RUN(space_claim_and_release);
  TEST_SUMMARY();
}
