// test.h — a tiny unit-test harness. Each tests/unit/test_*.c defines TEST functions, lists them in
// main with RUN, and ends with TEST_SUMMARY(), which prints "N passed, N failed" and exits non-zero
// when anything failed. A failing EXPECT prints file:line, the expression and the values involved.
#ifndef BENCH_TEST_H
#define BENCH_TEST_H

#include <math.h>
#include <stdio.h>
#include <string.h>

static int test_n_passed, test_n_failed, test_current_failed;
static const char *test_current_name;

#define TEST(name) static void name(void)

#define RUN(name)                                                        \
  do {                                                                   \
    test_current_name = #name;                                           \
    test_current_failed = 0;                                             \
    name();                                                              \
    if (test_current_failed) test_n_failed++; else test_n_passed++;      \
  } while (0)

#define TEST_FAIL_AT(...)                                                          \
  do {                                                                             \
    fprintf(stderr, "FAIL %s (%s:%d): ", test_current_name, __FILE__, __LINE__);  \
    fprintf(stderr, __VA_ARGS__);                                                  \
    fputc('\n', stderr);                                                           \
    test_current_failed = 1;                                                       \
  } while (0)

#define EXPECT(cond) \
  do { if (!(cond)) TEST_FAIL_AT("expected %s", #cond); } while (0)

#define EXPECT_INT_EQ(a, b)                                                             \
  do {                                                                                  \
    long long test_a_ = (long long)(a), test_b_ = (long long)(b);                       \
    if (test_a_ != test_b_) TEST_FAIL_AT("%s == %s: %lld != %lld", #a, #b, test_a_, test_b_); \
  } while (0)

#define EXPECT_STR_EQ(a, b)                                                                 \
  do {                                                                                      \
    const char *test_a_ = (a), *test_b_ = (b);                                              \
    if (!test_a_ || !test_b_ || strcmp(test_a_, test_b_) != 0)                              \
      TEST_FAIL_AT("%s == %s: \"%s\" != \"%s\"", #a, #b, test_a_ ? test_a_ : "(null)",      \
                   test_b_ ? test_b_ : "(null)");                                           \
  } while (0)

#define EXPECT_CONTAINS(haystack, needle)                                                  \
  do {                                                                                     \
    const char *test_h_ = (haystack), *test_n_ = (needle);                                 \
    if (!test_h_ || !strstr(test_h_, test_n_))                                             \
      TEST_FAIL_AT("\"%s\" does not contain \"%s\"", test_h_ ? test_h_ : "(null)", test_n_); \
  } while (0)

// |value - ref| <= atol + rtol * |ref|
#define EXPECT_NEAR(value, ref, rtol, atol)                                                    \
  do {                                                                                         \
    double test_v_ = (double)(value), test_r_ = (double)(ref);                                 \
    if (!(fabs(test_v_ - test_r_) <= (atol) + (rtol) * fabs(test_r_)))                         \
      TEST_FAIL_AT("%s ~ %s: value %.9g, reference %.9g (rtol %g, atol %g)", #value, #ref,     \
                   test_v_, test_r_, (double)(rtol), (double)(atol));                          \
  } while (0)

// Element-wise closeness of two arrays; reports the first bad index.
#define EXPECT_ARRAY_NEAR(value, ref, n, rtol, atol)                                           \
  do {                                                                                         \
    for (long test_i_ = 0; test_i_ < (long)(n); test_i_++) {                                   \
      double test_v_ = (double)(value)[test_i_], test_r_ = (double)(ref)[test_i_];             \
      if (!(fabs(test_v_ - test_r_) <= (atol) + (rtol) * fabs(test_r_))) {                     \
        TEST_FAIL_AT("%s[%ld]: value %.9g, reference %.9g (rtol %g, atol %g)", #value, test_i_, \
                     test_v_, test_r_, (double)(rtol), (double)(atol));                        \
        break;                                                                                 \
      }                                                                                        \
    }                                                                                          \
  } while (0)

#include "fp_bounds.h"

// |value[i] − ref[i]| ≤ bound[i] for every i; reports the first bad index with its bound.
#define EXPECT_ARRAY_WITHIN(value, ref, bound, n)                                               \
  do {                                                                                          \
    for (long test_i_ = 0; test_i_ < (long)(n); test_i_++) {                                    \
      double test_v_ = (double)(value)[test_i_], test_r_ = (double)(ref)[test_i_];              \
      double test_b_ = (double)(bound)[test_i_];                                                \
      if (!(fabs(test_v_ - test_r_) <= test_b_)) {                                              \
        TEST_FAIL_AT("%s[%ld]: value %.9g, reference %.9g, |difference| %.3g > bound %.3g",     \
                     #value, test_i_, test_v_, test_r_, fabs(test_v_ - test_r_), test_b_);      \
        break;                                                                                  \
      }                                                                                         \
    }                                                                                           \
  } while (0)

#define TEST_SUMMARY()                                                 \
  do {                                                                 \
    printf("%d passed, %d failed\n", test_n_passed, test_n_failed);    \
    return test_n_failed ? 1 : 0;                                      \
  } while (0)

#endif
