// test_report_stats.c — every statistic and flag a report states, and how numbers are written.
#include <math.h>

#include "report.h"
#include "report_stats.h"
#include "test.h"

TEST(mean_and_sample_std) {
  double x[] = {2, 4, 4, 4, 5, 5, 7, 9};
  EXPECT_NEAR(stat_mean(x, 8), 5.0, 0, 1e-12);
  // sum of squared deviations 32, n − 1 = 7
  EXPECT_NEAR(stat_sample_std(x, 8), sqrt(32.0 / 7.0), 1e-12, 0);
  EXPECT(isnan(stat_mean(x, 0)));
  EXPECT(isnan(stat_sample_std(x, 1)));
  double two[] = {146.61, 243.31};  // ± one std around 194.96 with n = 3 needs the middle value
  double three[] = {146.61, 194.96, 243.31};
  EXPECT_NEAR(stat_mean(three, 3), 194.96, 1e-12, 0);
  EXPECT_NEAR(stat_sample_std(three, 3), 48.35, 1e-9, 0);
  EXPECT_NEAR(stat_sample_std(two, 2), 48.35 * sqrt(2.0), 1e-9, 0);
}

TEST(coefficient_of_variation) {
  EXPECT_NEAR(stat_cv_pct(15.44, 2.84), 18.393782, 1e-6, 0);  // the note's "变异系数仅18%"
  EXPECT(isnan(stat_cv_pct(NAN, 1)));
  EXPECT(isnan(stat_cv_pct(10, NAN)));
  EXPECT(isnan(stat_cv_pct(0, 1)));
}

TEST(collapse_ratio_and_severe_flag) {
  char r[32];
  rfmt_ratio(stat_ratio(262.278, 11.125), r);
  EXPECT_STR_EQ(r, "23.58x");
  rfmt_ratio(stat_ratio(25.475, 11.118), r);
  EXPECT_STR_EQ(r, "2.29x");
  rfmt_ratio(stat_ratio(9.264, 11.115), r);
  EXPECT_STR_EQ(r, "0.83x");
  rfmt_ratio(stat_ratio(19.041, 11.122), r);
  EXPECT_STR_EQ(r, "1.71x");
  EXPECT(isnan(stat_ratio(1, 0)));
  EXPECT(isnan(stat_ratio(NAN, 1)));
  rfmt_ratio(NAN, r);
  EXPECT_STR_EQ(r, "—");
  EXPECT(stat_is_severe(23.58, 10));
  EXPECT(stat_is_severe(10.0, 10));  // "≥ severe"
  EXPECT(!stat_is_severe(9.99, 10));
  EXPECT(!stat_is_severe(NAN, 10));
}

TEST(improvement_percent) {
  // seed 001's Llama table, best improvement per row as the note rounds it
  struct { double base, x; const char *want; } rows[] = {
      {5.59, 5.56, "1%"}, {8.63, 8.19, "5%"}, {14.04, 12.88, "8%"}, {37.93, 24.71, "35%"}, {69.79, 41.86, "40%"}};
  for (int i = 0; i < 5; i++) {
    char p[32];
    rfmt_pct(stat_improvement_pct(rows[i].base, rows[i].x), 0, p);
    EXPECT_STR_EQ(p, rows[i].want);
  }
  EXPECT_NEAR(stat_improvement_pct(37.93, 24.71), 100.0 * 13.22 / 37.93, 1e-12, 0);
  EXPECT(stat_improvement_pct(2.15, 2.17) < 0);  // worse than the baseline
  EXPECT(isnan(stat_improvement_pct(0, 1)));
}

TEST(collapse_boundary) {
  // seed 000 Phase 1B, ratios against PPL@2048
  long L[] = {2048, 8192, 16384, 24576, 32768, 49152};
  double geo[] = {1, 9.52 / 11.125, 262.3 / 11.125, 1375 / 11.125, 2345 / 11.125, 3811 / 11.125};
  double anc[] = {1, 9.41 / 11.122, 19.0 / 11.122, 138.3 / 11.122, 636.5 / 11.122, 1503.9 / 11.122};
  EXPECT_INT_EQ(stat_boundary(L, geo, 6, 2048, 5), 2);  // 16384
  EXPECT_INT_EQ(stat_boundary(L, anc, 6, 2048, 5), 3);  // 24576: shifted 1.5x
  double flat[] = {1, 0.9, 0.83, NAN, 2, 4.99};
  EXPECT_INT_EQ(stat_boundary(L, flat, 6, 2048, 5), -1);
  double gap[] = {1, NAN, 6, 7, 8, 9};  // a missing (OOM) length is skipped, not a boundary
  EXPECT_INT_EQ(stat_boundary(L, gap, 6, 2048, 5), 2);
  double at_base[] = {50, 1, 1, 1, 1, 1};  // the base length itself is never the boundary
  EXPECT_INT_EQ(stat_boundary(L, at_base, 6, 2048, 5), -1);
}

TEST(verdict_win) {
  double x[] = {16.2, 16.3, 16.4}, b[] = {17.9, 18.0, 18.1};
  long s[] = {42, 123, 7};
  Verdict v = stat_verdict(x, s, 3, b, s, 3, 3);
  EXPECT(v.win);
  EXPECT_INT_EQ(v.why, WHY_WIN);
  EXPECT_INT_EQ(v.n_paired, 3);
  EXPECT_INT_EQ(v.n_improved, 3);
  EXPECT_NEAR(v.gap, 1.7, 1e-9, 0);
}

TEST(verdict_incomplete_seeds) {
  // seed 003: one of three seeds finished — not yet proven even though it looks better
  double x[] = {16.316}, b[] = {16.991};
  long s[] = {42};
  Verdict v = stat_verdict(x, s, 1, b, s, 1, 3);
  EXPECT(!v.win);
  EXPECT_INT_EQ(v.why, WHY_INCOMPLETE);
  v = stat_verdict(x, s, 1, b, s, 1, 0);  // seeds unknown: still needs two paired seeds
  EXPECT_INT_EQ(v.why, WHY_FEW_SEEDS);
}

TEST(verdict_mean_not_better) {
  double x[] = {18.0, 18.2, 18.4}, b[] = {17.9, 18.0, 18.1};
  long s[] = {1, 2, 3};
  Verdict v = stat_verdict(x, s, 3, b, s, 3, 3);
  EXPECT_INT_EQ(v.why, WHY_MEAN_NOT_BETTER);
}

TEST(verdict_gap_within_std) {
  double x[] = {15.0, 17.0, 19.0}, b[] = {17.5, 17.6, 17.7};  // mean 17.0 vs 17.6, std 2.0
  long s[] = {1, 2, 3};
  Verdict v = stat_verdict(x, s, 3, b, s, 3, 3);
  EXPECT_INT_EQ(v.why, WHY_GAP_WITHIN_STD);
}

TEST(verdict_two_thirds_of_paired_seeds) {
  // mean better by 1.0, both stds below 1.0, but only seed 3 improves (1/3 < 2/3)
  double x[] = {10.0, 10.0, 8.4}, b[] = {9.9, 9.9, 11.6};
  long s[] = {1, 2, 3};
  Verdict v = stat_verdict(x, s, 3, b, s, 3, 3);
  EXPECT(v.gap > v.std_x && v.gap > v.std_b);
  EXPECT_INT_EQ(v.n_improved, 1);
  EXPECT_INT_EQ(v.why, WHY_FEW_IMPROVE);
  // pairing is by seed, not by position in the list
  double x2[] = {16.4, 16.2, 16.3}, b2[] = {18.1, 17.9, 18.0};
  long sx[] = {7, 42, 123}, sb[] = {7, 42, 123};
  v = stat_verdict(x2, sx, 3, b2, sb, 3, 3);
  EXPECT(v.win);
  long sb_other[] = {1, 2, 3};  // no seed in common
  v = stat_verdict(x2, sx, 3, b2, sb_other, 3, 3);
  EXPECT_INT_EQ(v.n_paired, 0);
  EXPECT_INT_EQ(v.why, WHY_FEW_SEEDS);
  // exactly 2 of 3 improving is enough
  double x3[] = {16.0, 16.1, 17.0}, b3[] = {17.0, 17.1, 16.95};
  v = stat_verdict(x3, sx, 3, b3, sb, 3, 3);
  EXPECT_INT_EQ(v.n_improved, 2);
  EXPECT_INT_EQ(v.why, WHY_WIN);
}

TEST(ppl_rounding_rule) {
  char o[32];
  rfmt_ppl(11.125, o);
  EXPECT_STR_EQ(o, "11.125");
  rfmt_ppl(9.264, o);
  EXPECT_STR_EQ(o, "9.264");
  rfmt_ppl(262.278, o);
  EXPECT_STR_EQ(o, "262.28");
  rfmt_ppl(1375, o);
  EXPECT_STR_EQ(o, "1375.0");
  rfmt_ppl(12345.6, o);
  EXPECT_STR_EQ(o, "12346");
  rfmt_ppl(INFINITY, o);
  EXPECT_STR_EQ(o, "inf");
  char ms[64];
  rfmt_mean_std(194.96, 48.35, ms);
  EXPECT_STR_EQ(ms, "194.96±48.35");
  rfmt_mean_std(15.44, 2.84, ms);
  EXPECT_STR_EQ(ms, "15.440±2.840");
  rfmt_mean_std(15.44, NAN, ms);
  EXPECT_STR_EQ(ms, "15.440");
}

TEST(durations_times_and_escaping) {
  char d[32];
  rfmt_duration(45, d);
  EXPECT_STR_EQ(d, "45s");
  rfmt_duration(13 * 60 + 2, d);
  EXPECT_STR_EQ(d, "13m 02s");
  rfmt_duration(8 * 3600 + 13 * 60, d);
  EXPECT_STR_EQ(d, "8h 13m");
  rfmt_duration(NAN, d);
  EXPECT_STR_EQ(d, "—");
  EXPECT_NEAR(report_parse_time("2026-02-14T01:04:00Z"), 1771031040.0, 0, 0.5);
  EXPECT_NEAR(report_parse_time("2026-02-14T09:04:00+08:00"), 1771031040.0, 0, 0.5);
  EXPECT_NEAR(report_parse_time("2026-02-14T01:04:00.5Z"), 1771031040.5, 0, 1e-6);
  EXPECT(report_parse_time("yesterday") == 0);
  char t[32];
  rfmt_time(1771031040.0, t);
  EXPECT_STR_EQ(t, "2026-02-14 01:04 UTC");
  StrBuf b = {0};
  rfmt_md_escape(&b, "a|b*c`d<e");
  EXPECT_STR_EQ(b.data, "a\\|b\\*c\\`d&lt;e");
  sb_free(&b);
}

TEST(words_in_chinese) {
  const ReportText *zh = report_text("zh"), *en = report_text("en");
  EXPECT_STR_EQ(zh->experiment_list, "实验清单");
  EXPECT_STR_EQ(zh->key_findings, "关键发现");
  EXPECT_STR_EQ(zh->severe, "严重崩溃");
  EXPECT_STR_EQ(zh->best, "最佳");
  EXPECT_STR_EQ(en->severe, "severe collapse");
  EXPECT(report_text(NULL) == en);
  char n[16];
  report_section_number(zh, 2, n);
  EXPECT_STR_EQ(n, "二、");
  report_section_number(zh, 12, n);
  EXPECT_STR_EQ(n, "十二、");
  report_section_number(en, 3, n);
  EXPECT_STR_EQ(n, "3. ");
}

int main(void) {
  RUN(mean_and_sample_std);
  RUN(coefficient_of_variation);
  RUN(collapse_ratio_and_severe_flag);
  RUN(improvement_percent);
  RUN(collapse_boundary);
  RUN(verdict_win);
  RUN(verdict_incomplete_seeds);
  RUN(verdict_mean_not_better);
  RUN(verdict_gap_within_std);
  RUN(verdict_two_thirds_of_paired_seeds);
  RUN(ppl_rounding_rule);
  RUN(durations_times_and_escaping);
  RUN(words_in_chinese);
  TEST_SUMMARY();
}
