// test_report_kv.c — the KV-cache table's arithmetic: which full-cache job a policy's job is
// compared with (same spec but the cache, among all results), the speed ratio over seeds, the
// bytes saved, and human byte sizes.
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "report.h"
#include "test.h"

// One decode job result. cache: "full", "h2o" or NULL (no cache in the spec); tps < 0: no metrics.
typedef struct {
  const char *id, *cache, *device, *status, *finished;
  long length, seed, prompt;
  double tps;
} J;

static char *job_text(const J *j) {
  char cache[160] = "";
  if (j->cache && strcmp(j->cache, "full") == 0)
    snprintf(cache, sizeof cache, "\"cache\":{\"name\":\"full\",\"type\":\"full\"},");
  else if (j->cache)
    snprintf(cache, sizeof cache, "\"cache\":{\"name\":\"h\",\"type\":\"%s\",\"heavy\":8,\"recent\":8},", j->cache);
  int full = !j->cache || strcmp(j->cache, "full") == 0;
  long budget = full ? j->length - 1 : 16, peak = budget;
  char *metrics = strcmp(j->status, "ok") != 0
                      ? xstrdup("null")
                      : xasprintf("{\"ppl\":10.0,\"tokens_per_s\":%g,\"kv_budget\":%ld,\"kv_peak_tokens\":%ld,"
                                  "\"kv_peak_bytes\":%ld,\"kv_full_bytes\":%ld,\"kv_bytes_saved\":%ld}",
                                  j->tps, budget, peak, peak * 1024, (j->length - 1) * 1024,
                                  (j->length - 1 - peak) * 1024);
  char *text = xasprintf(
      "{\"schema\":\"bench.job/1\",\"job_id\":\"%s\",\"suite\":\"s\",\"phase\":\"p\","
      "\"spec\":{\"model\":\"m\",\"dataset\":\"d\",\"rope\":{\"name\":\"native\",\"type\":\"model\"},%s"
      "\"length\":%ld,\"seed\":%ld,\"protocol\":\"decode\",\"windows\":2,\"prompt\":%ld,\"warmup\":4,"
      "\"dtype\":\"fp32\",\"device\":\"%s\"},"
      "\"status\":\"%s\",\"error\":%s,\"metrics\":%s,\"started\":\"2026-01-01T00:00:00Z\",\"finished\":\"%s\"}",
      j->id, cache, j->length, j->seed, j->prompt ? j->prompt : 16, j->device ? j->device : "cpu", j->status,
      strcmp(j->status, "ok") ? "\"out of memory\"" : "null", metrics,
      j->finished ? j->finished : "2026-01-01T00:01:00Z");
  free(metrics);
  return text;
}

// Writes the jobs into a fresh DIR/jobs and loads them.
static char *load_jobs(const J *jobs, int n, StoredJobs *rs) {
  char tmpl[] = "/tmp/bench-report-kv.XXXXXX";
  char *dir = mkdtemp(tmpl);
  if (!dir) return NULL;
  char *jdir = path_join(dir, "jobs");
  BenchErr err;
  mkdir_p(jdir, &err);
  for (int i = 0; i < n; i++) {
    char *name = xasprintf("%s/%s.json", jdir, jobs[i].id);
    char *text = job_text(&jobs[i]);
    write_file_atomic(name, text, strlen(text), &err);
    free(text);
    free(name);
  }
  free(jdir);
  if (stored_jobs_load(dir, rs, &err) != 0) memset(rs, 0, sizeof *rs);
  return xstrdup(dir);
}

static void remove_jobs(char *dir, const J *jobs, int n) {
  for (int i = 0; i < n; i++) {
    char *p = xasprintf("%s/jobs/%s.json", dir, jobs[i].id);
    unlink(p);
    free(p);
  }
  char *jdir = path_join(dir, "jobs");
  rmdir(jdir);
  rmdir(dir);
  free(jdir);
  free(dir);
}

static const StoredJob *by_id(const StoredJobs *rs, const char *id) {
  for (int i = 0; i < rs->n_jobs; i++)
    if (strcmp(rs->jobs[i].res.job_id, id) == 0) return &rs->jobs[i];
  return NULL;
}

TEST(full_cache_and_same_spec_but_cache) {
  static const J jobs[] = {
      {.id = "h1", .cache = "h2o", .status = "ok", .length = 96, .seed = 1, .tps = 100},
      {.id = "f1", .cache = "full", .status = "ok", .length = 96, .seed = 1, .tps = 200},
      {.id = "n1", .cache = NULL, .status = "ok", .length = 96, .seed = 1, .tps = 200},  // no cache: full
      {.id = "f2", .cache = "full", .status = "ok", .length = 96, .seed = 2, .tps = 200},     // other seed
      {.id = "fL", .cache = "full", .status = "ok", .length = 40, .seed = 1, .tps = 200},     // other length
      {.id = "fP", .cache = "full", .status = "ok", .length = 96, .seed = 1, .prompt = 32, .tps = 200},
      {.id = "hc", .cache = "h2o", .status = "ok", .length = 96, .seed = 1, .device = "cuda:0", .tps = 100},
      {.id = "fc", .cache = "full", .status = "ok", .length = 96, .seed = 1, .device = "cuda:1", .tps = 200},
  };
  int n = (int)(sizeof jobs / sizeof jobs[0]);
  StoredJobs rs;
  char *dir = load_jobs(jobs, n, &rs);
  EXPECT(dir != NULL);
  EXPECT_INT_EQ(rs.n_jobs, n);
  if (rs.n_jobs == n) {
    EXPECT(!stored_job_full_cache(by_id(&rs, "h1")));
    EXPECT(stored_job_full_cache(by_id(&rs, "f1")));
    EXPECT(stored_job_full_cache(by_id(&rs, "n1")));
    const StoredJob *h1 = by_id(&rs, "h1");
    EXPECT(stored_jobs_same_but_cache(h1, by_id(&rs, "f1")));
    EXPECT(stored_jobs_same_but_cache(h1, by_id(&rs, "n1")));  // a spec without a cache key
    EXPECT(!stored_jobs_same_but_cache(h1, by_id(&rs, "f2")));
    EXPECT(!stored_jobs_same_but_cache(h1, by_id(&rs, "fL")));
    EXPECT(!stored_jobs_same_but_cache(h1, by_id(&rs, "fP")));
    EXPECT(!stored_jobs_same_but_cache(h1, by_id(&rs, "fc")));  // cpu is not cuda
    EXPECT(stored_jobs_same_but_cache(by_id(&rs, "hc"), by_id(&rs, "fc")));  // cuda:0 and cuda:1 alike
    // every result is searched, not one phase's: f1 and n1 match h1 (both finished alike: the first)
    int failed = -1;
    const StoredJob *m = kv_full_match(&rs, h1, &failed);
    EXPECT(m != NULL && (m == by_id(&rs, "f1") || m == by_id(&rs, "n1")));
    EXPECT_INT_EQ(failed, 0);
    EXPECT(kv_full_match(&rs, by_id(&rs, "hc"), NULL) == by_id(&rs, "fc"));
  }
  stored_jobs_free(&rs);
  remove_jobs(dir, jobs, n);
}

TEST(match_prefers_the_latest_ok_and_counts_failures) {
  static const J jobs[] = {
      {.id = "h", .cache = "h2o", .status = "ok", .length = 96, .seed = 1, .tps = 100},
      {.id = "fa", .cache = "full", .status = "ok", .length = 96, .seed = 1, .tps = 150,
       .finished = "2026-01-01T00:01:00Z"},
      {.id = "fb", .cache = "full", .status = "ok", .length = 96, .seed = 1, .tps = 250,
       .finished = "2026-01-02T00:01:00Z"},
      {.id = "fx", .cache = "full", .status = "oom", .length = 96, .seed = 1,
       .finished = "2026-01-03T00:01:00Z"},
      {.id = "g", .cache = "h2o", .status = "ok", .length = 200, .seed = 1, .tps = 100},
      {.id = "gx", .cache = "full", .status = "oom", .length = 200, .seed = 1},
  };
  int n = (int)(sizeof jobs / sizeof jobs[0]);
  StoredJobs rs;
  char *dir = load_jobs(jobs, n, &rs);
  EXPECT_INT_EQ(rs.n_jobs, n);
  if (rs.n_jobs == n) {
    int failed = 0;
    EXPECT(kv_full_match(&rs, by_id(&rs, "h"), &failed) == by_id(&rs, "fb"));  // ok beats a later OOM
    EXPECT_INT_EQ(failed, 1);
    EXPECT(kv_full_match(&rs, by_id(&rs, "g"), &failed) == NULL);
    EXPECT_INT_EQ(failed, 1);
    // rows: speed against the latest ok full job; a failed full job is told apart from none
    StoredJob *runs[1] = {(StoredJob *)by_id(&rs, "h")};
    Cell cell = {.runs = runs, .n_runs = 1};
    KvRow r;
    kv_row(&rs, &cell, &r);
    EXPECT_NEAR(r.speed, 100.0 / 250.0, 0, 1e-12);
    EXPECT_INT_EQ(r.full_failed, 0);
    runs[0] = (StoredJob *)by_id(&rs, "g");
    kv_row(&rs, &cell, &r);
    EXPECT(isnan(r.speed));
    EXPECT_INT_EQ(r.n_matched, 0);
    EXPECT_INT_EQ(r.full_failed, 1);
  }
  stored_jobs_free(&rs);
  remove_jobs(dir, jobs, n);
}

TEST(row_over_seeds) {
  static const J jobs[] = {
      {.id = "h1", .cache = "h2o", .status = "ok", .length = 97, .seed = 1, .tps = 100},
      {.id = "h2", .cache = "h2o", .status = "ok", .length = 97, .seed = 2, .tps = 300},
      {.id = "h3", .cache = "h2o", .status = "oom", .length = 97, .seed = 3},
      {.id = "f1", .cache = "full", .status = "ok", .length = 97, .seed = 1, .tps = 50},
      {.id = "f2", .cache = "full", .status = "ok", .length = 97, .seed = 2, .tps = 150},
  };
  int n = (int)(sizeof jobs / sizeof jobs[0]);
  StoredJobs rs;
  char *dir = load_jobs(jobs, n, &rs);
  EXPECT_INT_EQ(rs.n_jobs, n);
  if (rs.n_jobs == n) {
    StoredJob *runs[3] = {(StoredJob *)by_id(&rs, "h1"), (StoredJob *)by_id(&rs, "h2"),
                          (StoredJob *)by_id(&rs, "h3")};
    Cell cell = {.runs = runs, .n_runs = 3};
    KvRow r;
    kv_row(&rs, &cell, &r);
    EXPECT_INT_EQ(r.full, 0);
    EXPECT_INT_EQ(r.n_ok, 2);  // the OOM seed counts for nothing
    EXPECT_INT_EQ(r.n_matched, 2);
    EXPECT_NEAR(r.tokens_per_s, 200, 0, 1e-12);
    EXPECT_NEAR(r.speed, 200.0 / 100.0, 0, 1e-12);  // mean tokens/s ÷ the matched full jobs' mean
    EXPECT_NEAR(r.budget, 16, 0, 0);
    EXPECT_NEAR(r.peak_tokens, 16, 0, 0);
    EXPECT_NEAR(r.peak_bytes, 16 * 1024, 0, 0);
    EXPECT_NEAR(r.saved_bytes, 80 * 1024, 0, 0);
    EXPECT_NEAR(r.saved_pct, 100.0 * 80 / 96, 0, 1e-12);
    // one seed's full job gone: the ratio pairs the seeds that have one
    rs.jobs[(int)(by_id(&rs, "f1") - rs.jobs)].res.status = JOB_ERROR;
    kv_row(&rs, &cell, &r);
    EXPECT_INT_EQ(r.n_matched, 1);
    EXPECT_NEAR(r.speed, 300.0 / 150.0, 0, 1e-12);
    EXPECT_NEAR(r.tokens_per_s, 200, 0, 1e-12);
    // a full-cache row: saved 0, speed 1, whatever the other full jobs say
    StoredJob *fr[1] = {(StoredJob *)by_id(&rs, "f2")};
    Cell fc = {.runs = fr, .n_runs = 1};
    kv_row(&rs, &fc, &r);
    EXPECT_INT_EQ(r.full, 1);
    EXPECT_NEAR(r.speed, 1, 0, 0);
    EXPECT_NEAR(r.saved_bytes, 0, 0, 0);
    EXPECT_NEAR(r.saved_pct, 0, 0, 0);
    EXPECT_NEAR(r.budget, 96, 0, 0);
    // a cell with no run at all
    Cell empty = {0};
    kv_row(&rs, &empty, &r);
    EXPECT_INT_EQ(r.n_ok, 0);
    EXPECT(isnan(r.speed) && isnan(r.tokens_per_s));
  }
  stored_jobs_free(&rs);
  remove_jobs(dir, jobs, n);
}

TEST(human_bytes) {
  char out[32];
  rfmt_bytes(0, out);
  EXPECT_STR_EQ(out, "0 B");
  rfmt_bytes(512, out);
  EXPECT_STR_EQ(out, "512 B");
  rfmt_bytes(39936, out);
  EXPECT_STR_EQ(out, "39.0 KiB");
  rfmt_bytes(1.2 * 1024 * 1024 * 1024, out);
  EXPECT_STR_EQ(out, "1.2 GiB");
  rfmt_bytes(1048575, out);  // 1023.999 KiB prints as the next unit
  EXPECT_STR_EQ(out, "1.0 MiB");
  rfmt_bytes(3.5 * 1024.0 * 1024 * 1024 * 1024, out);
  EXPECT_STR_EQ(out, "3.5 TiB");
  rfmt_bytes(NAN, out);
  EXPECT_STR_EQ(out, "—");
}

int main(void) {
  RUN(full_cache_and_same_spec_but_cache);
  RUN(match_prefers_the_latest_ok_and_counts_failures);
  RUN(row_over_seeds);
  RUN(human_bytes);
  TEST_SUMMARY();
}
