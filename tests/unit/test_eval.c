// test_eval.c — window plans (exactly which dataset tokens each protocol scores, against
// hand-computed lists) and the statistics over crafted per-token NLL arrays.
#include <stdlib.h>

#include "eval.h"
#include "test.h"

// The scored target indices of a plan, in plan order, into out[]; returns how many.
static long scored_targets(const WindowPlan *p, long *out, long cap) {
  long k = 0;
  for (long i = 0; i < p->n; i++)
    for (long t = p->w[i].score_from; t < p->w[i].len - 1; t++)
      if (k < cap) out[k++] = p->w[i].start + t + 1;
  return k;
}

static void expect_plan(Protocol proto, long N, long L, long W, long S, const long *want,
                        long n_want, long needed) {
  WindowPlan p;
  BenchErr err;
  EXPECT_INT_EQ(plan_windows(proto, N, L, W, S, 1, "d", &p, &err), 0);
  long got[256];
  long n = scored_targets(&p, got, 256);
  EXPECT_INT_EQ(n, n_want);
  EXPECT_INT_EQ(p.scored, n_want);
  EXPECT_INT_EQ(p.needed, needed);
  if (n == n_want) EXPECT_ARRAY_NEAR(got, want, n, 0, 0);
  for (long i = 0; i < p.n; i++) EXPECT_INT_EQ(p.w[i].len, L);
  window_plan_free(&p);
}

TEST(protocol_names) {
  Protocol p;
  BenchErr err;
  EXPECT_INT_EQ(protocol_from_name("sliding", &p, &err), 0);
  EXPECT_INT_EQ(p, PROTO_SLIDING);
  EXPECT_STR_EQ(protocol_name(PROTO_HALF), "half");
  EXPECT_INT_EQ(protocol_from_name("chunk", &p, &err), -1);
  EXPECT_CONTAINS(err.msg, "unknown protocol 'chunk' (did you mean 'chunks'?)");
}

TEST(chunks_scores_all_but_first_of_each_window) {
  // N = 13 (one spare token), L = 4, W = 3: windows [0,4) [4,8) [8,12).
  long want[] = {1, 2, 3, 5, 6, 7, 9, 10, 11};
  expect_plan(PROTO_CHUNKS, 13, 4, 3, 0, want, 9, 12);
  long want1[] = {1};
  expect_plan(PROTO_CHUNKS, 2, 2, 1, 0, want1, 1, 2);
}

TEST(half_scores_second_half) {
  // L = 4: targets at offsets 3 (⌊4/2⌋+1 .. 3).
  long want[] = {3, 7, 11};
  expect_plan(PROTO_HALF, 12, 4, 3, 0, want, 3, 12);
  // L = 5: offsets 3, 4.
  long want5[] = {3, 4, 8, 9};
  expect_plan(PROTO_HALF, 10, 5, 2, 0, want5, 4, 10);
  // L = 8: offsets 5..7, as llama.cpp (first = n_ctx/2, scores n_ctx − 1 − first tokens).
  long want8[] = {5, 6, 7, 13, 14, 15};
  expect_plan(PROTO_HALF, 16, 8, 2, 0, want8, 6, 16);
}

TEST(sliding_scores_each_token_once) {
  // N = 10, L = 4, S = 2, W = 4: starts 0 2 4 6; window 0 scores 1..3, then 2 new tokens each.
  long want[] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  expect_plan(PROTO_SLIDING, 10, 4, 4, 2, want, 9, 10);
  // Stride 0 is L/2.
  expect_plan(PROTO_SLIDING, 10, 4, 4, 0, want, 9, 10);
  // S = 1, L = 3: window k starts at k, scores its last token.
  long want1[] = {1, 2, 3, 4, 5};
  expect_plan(PROTO_SLIDING, 6, 3, 4, 1, want1, 5, 6);
  // S = L − 1: windows share one token, which the second cannot score again.
  long want3[] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  expect_plan(PROTO_SLIDING, 10, 4, 3, 3, want3, 9, 10);
  // S = 3, L = 8: starts 0 3 6; window 1 scores 8..10, window 2 scores 11..13.
  long want8[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13};
  expect_plan(PROTO_SLIDING, 14, 8, 3, 3, want8, 13, 14);
  // The contexts: target 9 (window 1, start 3) is predicted from tokens 3..8.
  WindowPlan p;
  BenchErr err;
  EXPECT_INT_EQ(plan_windows(PROTO_SLIDING, 14, 8, 3, 3, 0, "d", &p, &err), 0);
  EXPECT_INT_EQ(p.w[1].start, 3);
  EXPECT_INT_EQ(p.w[1].score_from, 4);
  window_plan_free(&p);
}

TEST(sliding_with_stride_length_is_chunks) {
  WindowPlan a, b;
  BenchErr err;
  EXPECT_INT_EQ(plan_windows(PROTO_SLIDING, 100, 16, 5, 16, 3, "d", &a, &err), 0);
  EXPECT_INT_EQ(plan_windows(PROTO_CHUNKS, 100, 16, 5, 0, 3, "d", &b, &err), 0);
  EXPECT_INT_EQ(a.n, b.n);
  for (long i = 0; i < a.n && i < b.n; i++) {
    EXPECT_INT_EQ(a.w[i].start, b.w[i].start);
    EXPECT_INT_EQ(a.w[i].score_from, b.w[i].score_from);
  }
  EXPECT_INT_EQ(a.needed, b.needed);
  window_plan_free(&a);
  window_plan_free(&b);
}

TEST(random_offsets_follow_the_seed) {
  WindowPlan a, b, c;
  BenchErr err;
  EXPECT_INT_EQ(plan_windows(PROTO_RANDOM, 20, 5, 2000, 0, 42, "d", &a, &err), 0);
  EXPECT_INT_EQ(plan_windows(PROTO_RANDOM, 20, 5, 2000, 0, 42, "d", &b, &err), 0);
  EXPECT_INT_EQ(plan_windows(PROTO_RANDOM, 20, 5, 2000, 0, 43, "d", &c, &err), 0);
  EXPECT_INT_EQ(a.needed, 5);
  Rng r;
  rng_seed(&r, 42);
  int same_ab = 1, same_ac = 1, follows_rng = 1, saw_first = 0, saw_last = 0, in_range = 1;
  for (long i = 0; i < a.n; i++) {
    same_ab &= a.w[i].start == b.w[i].start;
    same_ac &= a.w[i].start == c.w[i].start;
    follows_rng &= a.w[i].start == (long)rng_below(&r, 16);
    in_range &= a.w[i].start >= 0 && a.w[i].start <= 15 && a.w[i].score_from == 0;
    saw_first |= a.w[i].start == 0;
    saw_last |= a.w[i].start == 15;
  }
  EXPECT(same_ab);
  EXPECT(!same_ac);
  EXPECT(follows_rng);
  EXPECT(in_range);
  EXPECT(saw_first && saw_last);
  EXPECT_INT_EQ(a.scored, 2000 * 4);
  window_plan_free(&a);
  window_plan_free(&b);
  window_plan_free(&c);
  // N = L: the only offset is 0.
  EXPECT_INT_EQ(plan_windows(PROTO_RANDOM, 5, 5, 3, 0, 7, "d", &a, &err), 0);
  EXPECT_INT_EQ(a.w[0].start + a.w[1].start + a.w[2].start, 0);
  window_plan_free(&a);
}

static void expect_plan_error(Protocol proto, long N, long L, long W, long S, const char *want) {
  WindowPlan p;
  BenchErr err;
  EXPECT_INT_EQ(plan_windows(proto, N, L, W, S, 1, "pg19", &p, &err), -1);
  EXPECT_CONTAINS(err.msg, want);
  EXPECT(p.w == NULL);
}

TEST(too_short_datasets_give_both_numbers) {
  expect_plan_error(PROTO_CHUNKS, 9139, 40960, 10, 0,
                    "dataset 'pg19' has 9139 tokens; length 40960 × 10 windows needs 409600");
  expect_plan_error(PROTO_HALF, 11, 4, 3, 0, "dataset 'pg19' has 11 tokens; length 4 × 3 windows needs 12");
  expect_plan_error(PROTO_RANDOM, 4, 5, 3, 0, "dataset 'pg19' has 4 tokens; length 5 needs 5");
  expect_plan_error(PROTO_SLIDING, 9, 4, 4, 2,
                    "dataset 'pg19' has 9 tokens; length 4 × 4 windows at stride 2 needs 10");
  expect_plan_error(PROTO_DECODE, 100, 4, 1, 0, "protocol 'decode' plans its windows with decode_plan");
  expect_plan_error(PROTO_SLIDING, 100, 4, 1, 5, "stride 5 is out of range (1 to the length 4)");
  expect_plan_error(PROTO_CHUNKS, 100, 1, 1, 0, "length 1 is out of range");
  expect_plan_error(PROTO_CHUNKS, 100, 4, 0, 0, "windows 0 is out of range");
}

TEST(stats_mean_stderr_ppl_acc) {
  EvalStats s;
  eval_stats_init(&s, 8);
  float w1[] = {1, 2};
  float w2[] = {3, 4};
  uint8_t c1[] = {1, 0}, c2[] = {1, 1};
  eval_stats_add_window(&s, w1, c1, 2, 1);
  eval_stats_add_window(&s, w2, c2, 2, 1);
  EvalResult r = {0};
  eval_stats_result(&s, &r);
  EXPECT_INT_EQ(r.tokens, 4);
  EXPECT_NEAR(r.nll, 2.5, 1e-12, 0);
  EXPECT_NEAR(r.ppl, exp(2.5), 1e-12, 0);
  // sample variance of 1,2,3,4 = 5/3; stderr = sqrt(5/3)/2
  EXPECT_NEAR(r.nll_stderr, sqrt(5.0 / 3.0) / 2.0, 1e-12, 0);
  EXPECT_NEAR(r.acc, 0.75, 1e-12, 0);
  EXPECT_INT_EQ(r.n_windows, 2);
  EXPECT_NEAR(r.window_ppl[0], exp(1.5), 1e-12, 0);
  EXPECT_NEAR(r.window_ppl[1], exp(3.5), 1e-12, 0);
  eval_result_free(&r);
  eval_stats_free(&s);
}

// A NaN or Inf NLL is counted and its first place kept (window in plan order, target offset), so
// the runner records the job as nonfinite instead of ok with a null PPL.
TEST(stats_nonfinite_first_window_and_position) {
  EvalStats s;
  eval_stats_init(&s, 8);
  float w0[] = {1, 2, 3}, w1[] = {1, NAN, INFINITY}, w2[] = {-INFINITY, 2, 3};
  eval_stats_add_window(&s, w0, NULL, 3, 1);
  EvalResult r = {0};
  eval_stats_result(&s, &r);
  EXPECT_INT_EQ(r.nonfinite_tokens, 0);
  EXPECT(isfinite(r.ppl));
  eval_stats_add_window(&s, w1, NULL, 3, 4);
  eval_stats_add_window(&s, w2, NULL, 3, 1);
  eval_stats_result(&s, &r);
  EXPECT_INT_EQ(r.nonfinite_tokens, 3);
  EXPECT_INT_EQ(r.nonfinite_window, 1);
  EXPECT_INT_EQ(r.nonfinite_position, 5);
  EXPECT(isnan(r.nonfinite_nll));
  EXPECT(!isfinite(r.nll) && !isfinite(r.ppl));
  eval_result_free(&r);
  eval_stats_free(&s);
}

TEST(stats_single_token_and_large_offsets) {
  EvalStats s;
  eval_stats_init(&s, 2);
  float one[] = {0.25f};
  eval_stats_add_window(&s, one, NULL, 1, 1);
  EvalResult r = {0};
  eval_stats_result(&s, &r);
  EXPECT_NEAR(r.nll, 0.25, 1e-12, 0);
  EXPECT_NEAR(r.nll_stderr, 0, 0, 0);
  EXPECT_NEAR(r.acc, 0, 0, 0);
  EXPECT_INT_EQ(r.n_by_position, 1);
  EXPECT_INT_EQ(r.by_position[0].bucket_start, 1);  // L = 2: buckets of width 1
  eval_result_free(&r);
  eval_stats_free(&s);
  // Welford stays exact where naive sums of squares lose the variance: 1e6 + {0, 1, 2}.
  eval_stats_init(&s, 4);
  float big[] = {1e6f, 1e6f + 1, 1e6f + 2};
  eval_stats_add_window(&s, big, NULL, 3, 1);
  eval_stats_result(&s, &r);
  EXPECT_NEAR(r.nll_stderr, 1.0 / sqrt(3.0), 1e-9, 0);
  eval_result_free(&r);
  eval_stats_free(&s);
}

TEST(position_buckets) {
  // L = 32: width 2; targets at offsets 1..31 with nll = offset.
  EvalStats s;
  eval_stats_init(&s, 32);
  EXPECT_INT_EQ(s.bucket_width, 2);
  float nll[31];
  for (int i = 0; i < 31; i++) nll[i] = (float)(i + 1);
  eval_stats_add_window(&s, nll, NULL, 31, 1);
  eval_stats_add_window(&s, nll, NULL, 31, 1);
  EvalResult r = {0};
  eval_stats_result(&s, &r);
  EXPECT_INT_EQ(r.n_by_position, 16);
  EXPECT_INT_EQ(r.by_position[0].bucket_start, 0);
  EXPECT_NEAR(r.by_position[0].mean_nll, 1.0, 1e-12, 0);  // only offset 1
  EXPECT_INT_EQ(r.by_position[0].n, 2);
  EXPECT_INT_EQ(r.by_position[1].bucket_start, 2);
  EXPECT_NEAR(r.by_position[1].mean_nll, 2.5, 1e-12, 0);
  EXPECT_INT_EQ(r.by_position[15].bucket_start, 30);
  EXPECT_NEAR(r.by_position[15].mean_nll, 30.5, 1e-12, 0);
  eval_result_free(&r);
  eval_stats_free(&s);
  // L = 20: width ⌈20/16⌉ = 2, ten buckets; half protocol: offsets 11..19 only.
  eval_stats_init(&s, 20);
  float half[9];
  for (int i = 0; i < 9; i++) half[i] = (float)(11 + i);
  eval_stats_add_window(&s, half, NULL, 9, 11);
  eval_stats_result(&s, &r);
  EXPECT_INT_EQ(r.n_by_position, 5);  // buckets 10, 12, 14, 16, 18
  EXPECT_INT_EQ(r.by_position[0].bucket_start, 10);
  EXPECT_NEAR(r.by_position[0].mean_nll, 11.0, 1e-12, 0);
  EXPECT_INT_EQ(r.by_position[4].bucket_start, 18);
  EXPECT_NEAR(r.by_position[4].mean_nll, 18.5, 1e-12, 0);
  eval_result_free(&r);
  eval_stats_free(&s);
  // L = 2048: width 128.
  eval_stats_init(&s, 2048);
  EXPECT_INT_EQ(s.bucket_width, 128);
  eval_stats_free(&s);
}

int main(void) {
  RUN(protocol_names);
  RUN(chunks_scores_all_but_first_of_each_window);
  RUN(half_scores_second_half);
  RUN(sliding_scores_each_token_once);
  RUN(sliding_with_stride_length_is_chunks);
  RUN(random_offsets_follow_the_seed);
  RUN(too_short_datasets_give_both_numbers);
  RUN(stats_mean_stderr_ppl_acc);
  RUN(stats_nonfinite_first_window_and_position);
  RUN(stats_single_token_and_large_offsets);
  RUN(position_buckets);
  TEST_SUMMARY();
}
