// test_report.c — reading stored results, the plan from the suite as run, grouping per phase,
// sweep member names, shared jobs, partial results, schema mismatches and job matching for compare.
// Runs from the repository root (tests/fixtures/reports/lab_notes, see
// tests/reference/make_report_fixtures.py).
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "compare.h"
#include "report.h"
#include "test.h"

#define FIXTURE "tests/fixtures/reports/lab_notes"

static const PhasePlan *plan_phase(const ReportPlan *p, const char *id) {
  for (int i = 0; i < p->n_phases; i++)
    if (strcmp(p->phases[i].id, id) == 0) return &p->phases[i];
  return NULL;
}

static int config_index(const PhaseData *pd, const char *label) {
  for (int c = 0; c < pd->n_configs; c++)
    if (strcmp(pd->configs[c].label, label) == 0) return c;
  return -1;
}

static double cell_mean_of(const PhaseData *pd, const char *label, long L) {
  int c = config_index(pd, label), l = phase_length_index(pd, L);
  if (c < 0 || l < 0) return NAN;
  const Cell *cell = phase_cell(pd, c, l);
  return cell->n_ok ? cell->mean : NAN;
}

TEST(loads_every_job_result) {
  StoredJobs rs;
  BenchErr err;
  EXPECT_INT_EQ(stored_jobs_load(FIXTURE, &rs, &err), 0);
  EXPECT_INT_EQ(rs.n_jobs, 73);
  EXPECT_INT_EQ(rs.n_skipped, 0);
  int oom = 0;
  for (int i = 0; i < rs.n_jobs; i++) oom += rs.jobs[i].res.status == JOB_OOM;
  EXPECT_INT_EQ(oom, 4);
  stored_jobs_free(&rs);
  EXPECT_INT_EQ(stored_jobs_load("tests/fixtures/reports/does-not-exist", &rs, &err), 0);  // no jobs/: empty
  EXPECT_INT_EQ(rs.n_jobs, 0);
  stored_jobs_free(&rs);
}

TEST(plan_from_the_suite_as_run) {
  ReportPlan p;
  BenchErr err;
  EXPECT_INT_EQ(report_plan_from_suite(FIXTURE "/suite.yaml", &p, &err), 0);
  EXPECT_STR_EQ(p.suite_id, "lab_notes");
  EXPECT_INT_EQ(p.n_phases, 6);
  EXPECT_NEAR(p.severe, 10, 0, 0);
  EXPECT_NEAR(p.boundary, 5, 0, 0);
  const PhasePlan *llama = plan_phase(&p, "llama");
  EXPECT(llama != NULL);
  if (llama) {
    // a swept variant stands for its members, named as the matrix names them
    EXPECT_INT_EQ(llama->axis[AX_ROPE].n, 3);
    EXPECT(strlist_find(&llama->axis[AX_ROPE], "hybrid[factor=1.5]") >= 0);
    EXPECT(strlist_find(&llama->axis[AX_ROPE], "hybrid[factor=2.0]") >= 0);
    EXPECT_INT_EQ(llama->base_length, 16384);
    EXPECT_STR_EQ(llama->reqs[0].name, "improvement");
    EXPECT_STR_EQ(llama->reqs[0].baseline, "native");
  }
  report_plan_free(&p);
  EXPECT_INT_EQ(report_plan_from_suite("tests/fixtures/reports/none.yaml", &p, &err), -1);
  EXPECT_CONTAINS(err.msg, "none.yaml");
}

TEST(groups_by_phase_and_spec) {
  StoredJobs rs;
  ReportPlan p;
  BenchErr err;
  EXPECT_INT_EQ(stored_jobs_load(FIXTURE, &rs, &err), 0);
  EXPECT_INT_EQ(report_plan_from_suite(FIXTURE "/suite.yaml", &p, &err), 0);
  PhaseData pd;
  // 1B: its own 8 jobs plus the 4 it shares with 1A (stored under phase "1A")
  phase_group(plan_phase(&p, "1B"), &rs, &pd);
  EXPECT_INT_EQ(pd.n_jobs, 12);
  EXPECT_INT_EQ(pd.n_expected, 12);
  EXPECT_INT_EQ(pd.n_missing, 0);
  EXPECT_INT_EQ(pd.n_configs, 2);
  EXPECT_NEAR(cell_mean_of(&pd, "geo_500k", 16384), 262.278, 0, 1e-9);
  EXPECT_NEAR(cell_mean_of(&pd, "anchored_x20", 24576), 138.3, 0, 1e-9);
  EXPECT_INT_EQ(pd.base_length, 2048);
  phase_data_free(&pd);
  // 2: three seeds at 16384, mean±std as the note; OOM seeds at 49152
  phase_group(plan_phase(&p, "2"), &rs, &pd);
  int c = config_index(&pd, "anchored_x20"), l = phase_length_index(&pd, 16384);
  EXPECT(c >= 0 && l >= 0);
  if (c >= 0 && l >= 0) {
    const Cell *cell = phase_cell(&pd, c, l);
    EXPECT_INT_EQ(cell->n_ok, 3);
    EXPECT_NEAR(cell->mean, 15.44, 1e-9, 0);
    EXPECT_NEAR(cell->std, 2.84, 1e-9, 0);
    const Cell *far = phase_cell(&pd, c, phase_length_index(&pd, 49152));
    EXPECT_INT_EQ(far->n_ok, 1);
    EXPECT_INT_EQ(far->n_oom, 2);
    EXPECT_INT_EQ(far->n_expected_seeds, 3);
  }
  EXPECT_INT_EQ(pd.n_oom, 4);
  phase_data_free(&pd);
  // seeds3: partial — 6 of 18 planned jobs, the rest listed as missing
  phase_group(plan_phase(&p, "seeds3"), &rs, &pd);
  EXPECT_INT_EQ(pd.n_jobs, 6);
  EXPECT_INT_EQ(pd.n_expected, 18);
  EXPECT_INT_EQ(pd.n_missing, 12);
  phase_data_free(&pd);
  // llama: the model does not vary, so configs are named by their rope variant alone
  phase_group(plan_phase(&p, "llama"), &rs, &pd);
  EXPECT(config_index(&pd, "hybrid[factor=2.0]") >= 0);
  EXPECT_INT_EQ(phase_axis_of(&pd, "native"), AX_ROPE);
  int h = config_index(&pd, "hybrid[factor=2.0]");
  EXPECT_INT_EQ(phase_find_sibling(&pd, h, AX_ROPE, "native"), config_index(&pd, "native"));
  phase_data_free(&pd);
  report_plan_free(&p);
  stored_jobs_free(&rs);
}

// Phase 1A with one more copy of its geo_2M @ 16384 result (another machine, an hour later) whose
// PPL is ppl; the copy's file is named copy_path.
static void group_with_copy(double ppl, const char *copy_path, PhaseData *pd, StoredJobs *rs, ReportPlan *p) {
  BenchErr err;
  EXPECT_INT_EQ(stored_jobs_load(FIXTURE, rs, &err), 0);
  EXPECT_INT_EQ(report_plan_from_suite(FIXTURE "/suite.yaml", p, &err), 0);
  rs->jobs = xrealloc(rs->jobs, (size_t)(rs->n_jobs + 1) * sizeof *rs->jobs);
  int src = -1;
  for (int i = 0; i < rs->n_jobs && src < 0; i++)
    if (strcmp(rs->jobs[i].res.phases[0], "1A") == 0 && rs->jobs[i].length == 16384 &&
        strcmp(rs->jobs[i].axis[AX_ROPE], "geo_2M") == 0)
      src = i;
  EXPECT(src >= 0);
  StoredJob copy = rs->jobs[src];
  EXPECT_INT_EQ(job_result_read(rs->jobs[src].path, &copy.res, &err), 0);  // its own copy of the file
  copy.path = xstrdup(copy_path);
  copy.content = xstrdup(copy.content);
  copy.content_any_device = xstrdup(copy.content_any_device);
  copy.axis[AX_DEVICE] = "cuda:1";
  copy.ppl = ppl;
  copy.finished += 3600;
  rs->jobs[rs->n_jobs++] = copy;
  phase_group(plan_phase(p, "1A"), rs, pd);
}

TEST(results_merged_from_two_machines) {
  // the same job written twice: equal numbers are one result; different ones a conflict that
  // neither hides the other
  static const struct {
    double ppl;
    const char *path;
    int duplicates, conflicts;
    const char *cell;
  } cases[] = {
      {9.264, "other/jobs/copy.json", 1, 0, "9.264"},
      {9.5, "other/jobs/0123456789abcdef.json", 0, 1, ") ≠ 9.500 (01234567)"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    StoredJobs rs;
    ReportPlan p;
    PhaseData pd;
    group_with_copy(cases[i].ppl, cases[i].path, &pd, &rs, &p);
    EXPECT_INT_EQ(pd.n_jobs, 8);
    EXPECT_INT_EQ(pd.n_duplicates, cases[i].duplicates);
    EXPECT_INT_EQ(pd.n_conflicts, cases[i].conflicts);
    if (pd.n_conflicts == 1) {
      EXPECT_STR_EQ(pd.configs[pd.conflicts[0].config].label, "geo_2M");
      EXPECT_INT_EQ(pd.conflicts[0].length, 16384);
      EXPECT_NEAR(pd.conflicts[0].a->ppl, 9.264, 0, 1e-12);
      EXPECT_STR_EQ(pd.conflicts[0].b->path, cases[i].path);
    }
    int c = config_index(&pd, "geo_2M"), l = phase_length_index(&pd, 16384);
    char text[64];
    report_cell_text(phase_cell(&pd, c, l), report_text("en"), text);
    EXPECT_CONTAINS(text, cases[i].cell);
    if (cases[i].conflicts) EXPECT_CONTAINS(text, "conflict: 9.264 (");
    phase_data_free(&pd);
    report_plan_free(&p);
    stored_jobs_free(&rs);
  }
}

TEST(failed_cells_say_why) {
  const ReportText *en = report_text("en"), *zh = report_text("zh");
  char out[48];
  report_error_short("dataset 'tiny' has 40 tokens; length 64 × 2 windows needs 128", en, out);
  EXPECT_STR_EQ(out, "dataset too short");
  report_error_short("dataset 'tiny' has 40 tokens; length 64 needs 65", zh, out);
  EXPECT_STR_EQ(out, "数据集太短");
  report_error_short("cannot open model: no such file", en, out);  // the first clause
  EXPECT_STR_EQ(out, "cannot open model");
  report_error_short("the worker stopped answering after a very long time without progress", en, out);
  EXPECT_STR_EQ(out, "the worker stopped answering after a…");  // cut at a word
  report_error_short(NULL, en, out);
  EXPECT_STR_EQ(out, "");
}

static char *tmpdir_with_jobs(const char *const *names, const char *const *texts, int n) {
  char tmpl[] = "/tmp/bench-report-test.XXXXXX";
  char *dir = mkdtemp(tmpl);
  if (!dir) return NULL;
  char *jobs = path_join(dir, "jobs");
  BenchErr err;
  mkdir_p(jobs, &err);
  for (int i = 0; i < n; i++) {
    char *path = path_join(jobs, names[i]);
    write_file_atomic(path, texts[i], strlen(texts[i]), &err);
    free(path);
  }
  free(jobs);
  return xstrdup(dir);
}

static void remove_tmpdir(const char *dir, const char *const *names, int n) {
  for (int i = 0; i < n; i++) {
    char *p = xasprintf("%s/jobs/%s", dir, names[i]);
    unlink(p);
    free(p);
  }
  char *jobs = path_join(dir, "jobs");
  rmdir(jobs);
  free(jobs);
  rmdir(dir);
}

TEST(schema_mismatch_and_bad_files_are_skipped) {
  static const char *const names[] = {"a.json", "b.json", "c.json", "d.json", "e.json"};
  static const char *const texts[] = {
      "{\"schema\":\"bench.job/1\",\"job_id\":\"a\",\"phase\":\"1A\",\"status\":\"ok\","
      "\"spec\":{\"rope\":{\"name\":\"geo\"},\"length\":2048,\"seed\":1},\"metrics\":{\"ppl\":11.1}}",
      "{\"schema\":\"bench.job/2\",\"job_id\":\"b\",\"phase\":\"1A\",\"status\":\"ok\",\"spec\":{}}",
      "{not json",
      "{\"schema\":\"bench.job/1\",\"job_id\":\"d\",\"phase\":\"1A\",\"status\":\"ok\","
      "\"spec\":{\"length\":2048},\"metrics\":{}}",
      "{\"schema\":\"bench.job/1\",\"job_id\":\"e\",\"phase\":\"1A\",\"status\":\"ok\",\"status\":\"oom\","
      "\"spec\":{\"length\":2048}}",
  };
  char *dir = tmpdir_with_jobs(names, texts, 5);
  EXPECT(dir != NULL);
  if (!dir) return;
  StoredJobs rs;
  BenchErr err;
  EXPECT_INT_EQ(stored_jobs_load(dir, &rs, &err), 0);
  EXPECT_INT_EQ(rs.n_jobs, 1);
  EXPECT_INT_EQ(rs.n_skipped, 4);
  EXPECT_CONTAINS(rs.skipped[0], "schema 'bench.job/2' is not 'bench.job/1'");
  EXPECT_CONTAINS(rs.skipped[1], "invalid JSON");
  EXPECT_CONTAINS(rs.skipped[2], "metrics.ppl is not a positive number");
  EXPECT_CONTAINS(rs.skipped[3], "duplicate");
  // without a suite, the phases come from the results
  ReportPlan p;
  report_plan_from_results(&rs, "x", &p);
  EXPECT_INT_EQ(p.n_phases, 1);
  EXPECT_STR_EQ(p.phases[0].id, "1A");
  report_plan_free(&p);
  stored_jobs_free(&rs);
  remove_tmpdir(dir, names, 5);
  free(dir);
}

TEST(compare_matches_and_measures) {
  StoredJobs a, b;
  BenchErr err;
  EXPECT_INT_EQ(stored_jobs_load(FIXTURE, &a, &err), 0);
  EXPECT_INT_EQ(stored_jobs_load(FIXTURE, &b, &err), 0);
  Comparison c;
  compare_results(&a, &b, 1.0, &c);
  EXPECT_INT_EQ(c.n_pairs, 73);
  EXPECT_INT_EQ(c.n_over, 0);
  EXPECT_INT_EQ(c.n_compared, 69);  // the 4 OOM jobs have no ppl
  EXPECT_NEAR(c.max_ppl, 0, 0, 0);
  comparison_free(&c);
  // seed 003's alignment check: geo_500k 16.991 (A100) vs 17.947 (A800) is 5.6%
  int k = -1;
  for (int i = 0; i < b.n_jobs && k < 0; i++)
    if (fabs(b.jobs[i].ppl - 16.991) < 1e-9) k = i;
  EXPECT(k >= 0);
  if (k < 0) return;
  b.jobs[k].ppl = 17.947;
  free(b.jobs[k].res.job_id);
  b.jobs[k].res.job_id = xstrdup("renamed");  // different id: matched by phase + spec
  b.jobs[k].axis[AX_DEVICE] = "cuda:3";
  compare_results(&a, &b, 1.0, &c);
  EXPECT_INT_EQ(c.n_pairs, 73);
  EXPECT_INT_EQ(c.n_over, 1);
  EXPECT_NEAR(c.max_ppl, 100.0 * (17.947 - 16.991) / 16.991, 1e-9, 0);
  EXPECT(c.i_max_ppl >= 0 && c.pairs[c.i_max_ppl].by_spec);
  comparison_free(&c);
  compare_results(&a, &b, 6.0, &c);
  EXPECT_INT_EQ(c.n_over, 0);
  comparison_free(&c);
  b.n_jobs--;  // a job missing on one side
  compare_results(&a, &b, 6.0, &c);
  EXPECT_INT_EQ(c.n_only_a, 1);
  EXPECT_INT_EQ(c.n_only_b, 0);
  comparison_free(&c);
  b.n_jobs++;
  stored_jobs_free(&a);
  stored_jobs_free(&b);
}

TEST(default_reports_dir) {
  char *d = report_default_dir("runs/results/night_9h", "night_9h");
  EXPECT_STR_EQ(d, "runs/reports/night_9h");
  free(d);
  d = report_default_dir("results/night_9h/", "night_9h");
  EXPECT_STR_EQ(d, "reports/night_9h");
  free(d);
  d = report_default_dir("/data/run1", "night_9h");
  EXPECT_STR_EQ(d, "reports/night_9h");
  free(d);
}

int main(void) {
  RUN(loads_every_job_result);
  RUN(plan_from_the_suite_as_run);
  RUN(groups_by_phase_and_spec);
  RUN(results_merged_from_two_machines);
  RUN(failed_cells_say_why);
  RUN(schema_mismatch_and_bad_files_are_skipped);
  RUN(compare_matches_and_measures);
  RUN(default_reports_dir);
  TEST_SUMMARY();
}
