// test_slurm.c — bench submit's Slurm side without a cluster: packing (the same split as
// `bench run --shard`, never more shards than MaxArraySize, the smallest largest shard), array
// specs, time limits, quoting, the batch scripts (run for real by bash with a stand-in bench whose
// path and arguments hold spaces and quotes), scontrol/sbatch output parsing, running commands.
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "run_plan.h"
#include "slurm.h"
#include "test.h"

// n ids of 16 hex digits from a seeded RNG (caller frees ids[0..n) and ids).
static char **random_ids(long n, uint64_t seed) {
  Rng r;
  rng_seed(&r, seed);
  char **ids = xcalloc((size_t)n, sizeof *ids);
  for (long i = 0; i < n; i++) ids[i] = xasprintf("%016llx", (unsigned long long)rng_next(&r));
  return ids;
}

static void free_ids(char **ids, long n) {
  for (long i = 0; i < n; i++) free(ids[i]);
  free(ids);
}

// The largest shard's cost when n jobs split into N shards.
static double max_load(char **ids, const double *costs, long n, int N) {
  double *load = xcalloc((size_t)N, sizeof *load), worst = 0;
  for (long j = 0; j < n; j++) {
    int s = shard_of(ids[j], N) - 1;
    load[s] += costs ? costs[j] : 1;
    if (load[s] > worst) worst = load[s];
  }
  free(load);
  return worst;
}

static void check_pack(char **ids, const double *costs, long n, int cap) {
  SlurmPack p;
  slurm_pack((const char *const *)ids, costs, n, cap, &p);
  EXPECT(p.n_shards >= 1 && p.n_shards <= cap);
  long total = 0;
  for (int s = 0; s < p.n_shards; s++) total += p.shard_jobs[s];
  EXPECT_INT_EQ(total, n);
  // Tasks: exactly the shards holding jobs, ascending.
  int t = 0;
  for (int s = 0; s < p.n_shards; s++)
    if (p.shard_jobs[s]) {
      EXPECT(t < p.n_tasks && p.task_ids[t] == s);
      t++;
    }
  EXPECT_INT_EQ(t, p.n_tasks);
  // Per job: the shard bench run --shard I/N gives it.
  long *count = xcalloc((size_t)p.n_shards, sizeof *count);
  for (long j = 0; j < n; j++) count[shard_of(ids[j], p.n_shards) - 1]++;
  for (int s = 0; s < p.n_shards; s++) EXPECT_INT_EQ(count[s], p.shard_jobs[s]);
  free(count);
  // No N within the cap gives a smaller largest shard; no smaller N gives the same.
  EXPECT_NEAR(p.max_cost, max_load(ids, costs, n, p.n_shards), 1e-12, 0);
  for (int N = 1; N <= cap; N++) {
    double m = max_load(ids, costs, n, N);
    EXPECT(m >= p.max_cost * (1 - 1e-9));
    if (N < p.n_shards) EXPECT(m > p.max_cost * (1 + 1e-12));
  }
  slurm_pack_free(&p);
}

TEST(pack_small_matrix) {
  char **ids = random_ids(6, 1);
  check_pack(ids, NULL, 6, 4);   // packed: 6 jobs, at most 4 shards
  check_pack(ids, NULL, 6, 1001);
  check_pack(ids, NULL, 6, 1);
  SlurmPack p;
  slurm_pack((const char *const *)ids, NULL, 6, 4, &p);
  EXPECT(p.max_cost >= 2);       // 6 jobs in 4 tasks: some task runs two
  slurm_pack_free(&p);
  slurm_pack((const char *const *)ids, NULL, 6, 1001, &p);
  EXPECT_INT_EQ(p.n_tasks, 6);   // room enough: one job per task, no task empty
  EXPECT_NEAR(p.max_cost, 1, 0, 0);
  slurm_pack_free(&p);
  free_ids(ids, 6);
}

TEST(pack_large_matrix_and_costs) {
  long n = 3000;
  char **ids = random_ids(n, 7);
  check_pack(ids, NULL, n, 1001);
  check_pack(ids, NULL, n, 50);
  double *costs = xcalloc((size_t)n, sizeof *costs);
  for (long j = 0; j < n; j++) costs[j] = 1 + (double)(j % 17);
  costs[5] = 5000;  // one job dominates: it ends up alone in its shard's load bound
  check_pack(ids, costs, n, 200);
  free(costs);
  free_ids(ids, n);
}

TEST(pack_nothing) {
  SlurmPack p;
  slurm_pack(NULL, NULL, 0, 10, &p);
  EXPECT_INT_EQ(p.n_tasks, 0);
  EXPECT_INT_EQ(p.n_shards, 1);
  slurm_pack_free(&p);
}

TEST(array_specs) {
  int a[] = {0, 1, 2, 5, 7, 8};
  char *s = slurm_array_spec(a, 6, 0);
  EXPECT_STR_EQ(s, "0-2,5,7-8");
  free(s);
  s = slurm_array_spec(a, 6, 3);
  EXPECT_STR_EQ(s, "0-2,5,7-8%3");
  free(s);
  int b[] = {4};
  s = slurm_array_spec(b, 1, 0);
  EXPECT_STR_EQ(s, "4");
  free(s);
}

TEST(time_limits) {
  EXPECT_INT_EQ(slurm_time_seconds("10"), 600);
  EXPECT_INT_EQ(slurm_time_seconds("1:30"), 90);
  EXPECT_INT_EQ(slurm_time_seconds("2:00:00"), 7200);
  EXPECT_INT_EQ(slurm_time_seconds("1-0"), 86400);
  EXPECT_INT_EQ(slurm_time_seconds("1-2:30"), 86400 + 9000);
  EXPECT_INT_EQ(slurm_time_seconds("1-02:30:15"), 86400 + 9015);
  const char *bad[] = {"", "x", "1:2:3:4", "-5", "UNLIMITED", "1-", "0", ":5", "5:", "1.5"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
    if (slurm_time_seconds(bad[i]) != -1) TEST_FAIL_AT("'%s' accepted", bad[i]);
  long lead, grace;
  slurm_signal_plan(-1, &lead, &grace);
  EXPECT_INT_EQ(lead, SLURM_DEFAULT_SIGNAL_LEAD_S);
  EXPECT(grace < lead);
  slurm_signal_plan(600, &lead, &grace);
  EXPECT_INT_EQ(lead, 60);
  slurm_signal_plan(100, &lead, &grace);
  EXPECT_INT_EQ(lead, 30);
  slurm_signal_plan(2 * 86400, &lead, &grace);
  EXPECT_INT_EQ(lead, 300);
  EXPECT(grace > 0 && grace < lead);
}

TEST(quoting) {
  char *q = shell_quote("abc/d.e");
  EXPECT_STR_EQ(q, "abc/d.e");
  free(q);
  q = shell_quote("a b");
  EXPECT_STR_EQ(q, "'a b'");
  free(q);
  q = shell_quote("it's $HOME");
  EXPECT_STR_EQ(q, "'it'\\''s $HOME'");
  free(q);
  q = shell_quote("");
  EXPECT_STR_EQ(q, "''");
  free(q);
  q = sbatch_quote("a \"b\" \\c #d");
  EXPECT_STR_EQ(q, "\"a \\\"b\\\" \\\\c #d\"");
  free(q);
  EXPECT(slurm_value_ok("gpu:a100:1"));
  EXPECT(slurm_value_ok("my-part_2"));
  EXPECT(!slurm_value_ok("a b"));
  EXPECT(!slurm_value_ok("x\"y"));
  EXPECT(!slurm_value_ok(""));
  BenchErr err;
  EXPECT(slurm_check_path("results directory", "/a b/c'd", &err) == 0);
  EXPECT(slurm_check_path("results directory", "/a\nb", &err) != 0);
  EXPECT_CONTAINS(err.msg, "control character");
}

static SlurmJobSpec spec_for(const SlurmPack *p, const char *dir, const char *bench) {
  SlurmJobSpec j = {.bench = bench, .suite_path = "/s p/it's.yaml", .suite_name = "night",
                    .results = dir, .reports = "/r e/p%orts", .workdir = "/w d",
                    .partition = "gpu", .gres = "gpu:1", .time = "2:00:00", .account = "lab",
                    .max_parallel = 2, .pack = p};
  return j;
}

TEST(scripts_text) {
  int tasks[] = {0, 2, 3};
  long jobs[] = {2, 0, 1, 3};
  SlurmPack p = {.n_shards = 4, .task_ids = tasks, .n_tasks = 3, .shard_jobs = jobs, .max_cost = 3};
  SlurmJobSpec j = spec_for(&p, "/res ults/50%", "/opt/be nch/bench");
  char *a = slurm_array_script(&j);
  EXPECT_CONTAINS(a, "#!/bin/bash\n");
  EXPECT_CONTAINS(a, "#SBATCH --array=0,2-3%2\n");
  EXPECT_CONTAINS(a, "#SBATCH --output=\"/res ults/50%%/slurm/logs/array-%A_%a.out\"\n");
  EXPECT_CONTAINS(a, "#SBATCH --chdir=\"/w d\"\n");
  EXPECT_CONTAINS(a, "#SBATCH --requeue\n");
  EXPECT_CONTAINS(a, "#SBATCH --signal=B:TERM@300\n");  // 2 h / 10 = 720 s, capped at 300
  EXPECT_CONTAINS(a, "#SBATCH --partition=gpu\n");
  EXPECT_CONTAINS(a, "#SBATCH --account=lab\n");
  EXPECT_CONTAINS(a, "#SBATCH --gres=gpu:1\n");
  EXPECT_CONTAINS(a, "#SBATCH --time=2:00:00\n");
  EXPECT_CONTAINS(a, "export BENCH_STOP_GRACE=225\n");
  EXPECT_CONTAINS(a, "--shard \"$((SLURM_ARRAY_TASK_ID + 1))/4\"");
  EXPECT_CONTAINS(a, "--no-report");
  EXPECT_CONTAINS(a, "6 jobs in 3 array tasks");
  char *r = slurm_report_script(&j);
  EXPECT_CONTAINS(r, "#SBATCH --output=\"/res ults/50%%/slurm/logs/report-%j.out\"\n");
  EXPECT_CONTAINS(r, "#SBATCH --time=60:00\n");  // the report step needs far less than the tasks
  EXPECT(!strstr(r, "--gres"));
  EXPECT(!strstr(r, "--array"));
  EXPECT_CONTAINS(r, "'/opt/be nch/bench' report '/res ults/50%' --reports '/r e/p%orts'\n");
  free(a);
  free(r);
}

// Runs a script with bash and SLURM_ARRAY_TASK_ID=2; a stand-in bench prints its arguments.
TEST(scripts_run_by_bash) {
  char tmpl[] = "/tmp/bench slurm test.XXXXXX";
  char *dir = mkdtemp(tmpl);
  EXPECT(dir != NULL);
  if (!dir) return;
  BenchErr err;
  char *sub = path_join(dir, "it's a \"dir\"");
  EXPECT(mkdir_p(sub, &err) == 0);
  char *bench = path_join(sub, "bench");
  const char *fake = "#!/bin/sh\nfor a in \"$@\"; do printf '[%s]\\n' \"$a\"; done\n"
                     "printf 'grace=%s\\n' \"$BENCH_STOP_GRACE\"\n";
  EXPECT(write_file_atomic(bench, fake, strlen(fake), &err) == 0);
  chmod(bench, 0755);
  int tasks[] = {0, 1, 2};
  long jobs[] = {1, 1, 1};
  SlurmPack p = {.n_shards = 3, .task_ids = tasks, .n_tasks = 3, .shard_jobs = jobs, .max_cost = 1};
  SlurmJobSpec j = spec_for(&p, sub, bench);
  j.time = NULL;
  char *a = slurm_array_script(&j);
  char *script = path_join(dir, "array.sh");
  EXPECT(write_file_atomic(script, a, strlen(a), &err) == 0);
  char *argv[] = {"env", "SLURM_ARRAY_TASK_ID=2", "bash", script, NULL};
  StrBuf out = {0}, e = {0};
  EXPECT_INT_EQ(slurm_exec(argv, 30, &out, &e), 0);
  char *want = xasprintf("[run]\n[/s p/it's.yaml]\n[--shard]\n[3/3]\n[--results]\n[%s]\n[--reports]\n"
                         "[/r e/p%%orts]\n[--no-report]\ngrace=90\n", sub);
  EXPECT_STR_EQ(out.data, want);
  free(want);
  sb_free(&out);
  sb_free(&e);
  char *r = slurm_report_script(&j);
  EXPECT(write_file_atomic(script, r, strlen(r), &err) == 0);
  char *argv2[] = {"bash", script, NULL};
  EXPECT_INT_EQ(slurm_exec(argv2, 30, &out, &e), 0);
  want = xasprintf("[report]\n[%s]\n[--reports]\n[/r e/p%%orts]\ngrace=\n", sub);
  EXPECT_STR_EQ(out.data, want);
  free(want);
  sb_free(&out);
  sb_free(&e);
  unlink(script);
  unlink(bench);
  rmdir(sub);
  rmdir(dir);
  free(a);
  free(r);
  free(script);
  free(bench);
  free(sub);
}

TEST(scheduler_output) {
  const char *cfg = "Configuration data as of 2026-01-01T00:00:00\nMaxArraySizeX = 9\n"
                    "MaxArraySize            = 4\nMaxJobCount             = 10000\n";
  char *v = slurm_config_value(cfg, "MaxArraySize");
  EXPECT_STR_EQ(v, "4");
  free(v);
  v = slurm_config_value(cfg, "MaxJobCount");
  EXPECT_STR_EQ(v, "10000");
  free(v);
  EXPECT(slurm_config_value(cfg, "KillWait") == NULL);
  char *id = slurm_parse_job_id("123\n");
  EXPECT_STR_EQ(id, "123");
  free(id);
  id = slurm_parse_job_id("4567;cluster\n");
  EXPECT_STR_EQ(id, "4567");
  free(id);
  EXPECT(slurm_parse_job_id("") == NULL);
  EXPECT(slurm_parse_job_id("sbatch: error: x") == NULL);
}

TEST(exec_commands) {
  char *a[] = {"sh", "-c", "echo out; echo err >&2; exit 3", NULL};
  StrBuf o = {0}, e = {0};
  EXPECT_INT_EQ(slurm_exec(a, 10, &o, &e), 3);
  EXPECT_STR_EQ(o.data, "out\n");
  EXPECT_STR_EQ(e.data, "err\n");
  sb_free(&o);
  sb_free(&e);
  char *b[] = {"/nonexistent/bench-no-such-program", NULL};
  EXPECT_INT_EQ(slurm_exec(b, 10, NULL, NULL), 127);
  char *c[] = {"sleep", "5", NULL};
  double t0 = mono_time();
  EXPECT_INT_EQ(slurm_exec(c, 0.2, NULL, NULL), 124);
  EXPECT(mono_time() - t0 < 3);
}

int main(void) {
  RUN(pack_small_matrix);
  RUN(pack_large_matrix_and_costs);
  RUN(pack_nothing);
  RUN(array_specs);
  RUN(time_limits);
  RUN(quoting);
  RUN(scripts_text);
  RUN(scripts_run_by_bash);
  RUN(scheduler_output);
  RUN(exec_commands);
  TEST_SUMMARY();
}
