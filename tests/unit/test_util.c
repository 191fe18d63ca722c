// test_util.c — SHA-256 vectors, edit distance, atomic writes, special files, random numbers.
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test.h"
#include "util.h"

TEST(sha256_known_vectors) {
  char hex[65];
  sha256_hex("", 0, hex);
  EXPECT_STR_EQ(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  sha256_hex("abc", 3, hex);
  EXPECT_STR_EQ(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  const char *two_blocks = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  sha256_hex(two_blocks, strlen(two_blocks), hex);
  EXPECT_STR_EQ(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST(did_you_mean) {
  const char *names[] = {"rope", "cache", "model", "lengths"};
  EXPECT_STR_EQ(closest_name("rpoe", names, 4), "rope");
  EXPECT_STR_EQ(closest_name("length", names, 4), "lengths");
  EXPECT(closest_name("zzzzzzzz", names, 4) == NULL);
  EXPECT_INT_EQ(edit_distance("kitten", "sitting"), 3);
}

TEST(atomic_write_roundtrip) {
  char dir[] = "/tmp/bench_test_util_XXXXXX";
  EXPECT(mkdtemp(dir) != NULL);
  char *sub = path_join(dir, "a/b/c");
  BenchErr err;
  EXPECT_INT_EQ(mkdir_p(sub, &err), 0);
  char *file = path_join(sub, "x.json");
  EXPECT_INT_EQ(write_file_atomic(file, "{\"a\":1}", 7, &err), 0);
  char *data = NULL;
  size_t len = 0;
  EXPECT_INT_EQ(read_file(file, 100, &data, &len, &err), 0);
  EXPECT_STR_EQ(data, "{\"a\":1}");
  free(data);
  EXPECT_INT_EQ(read_file(file, 3, &data, &len, &err), -1);
  EXPECT_CONTAINS(err.msg, "too large");
  free(data);
  free(file);
  free(sub);
}

// A FIFO nobody writes, a directory and a device: refused at once, by kind (never a blocked open;
// SIGALRM ends the test if one blocks).
TEST(special_files_are_refused_not_waited_on) {
  char dir[] = "/tmp/bench_test_util_XXXXXX";
  EXPECT(mkdtemp(dir) != NULL);
  char *fifo = path_join(dir, "config.json");
  EXPECT_INT_EQ(mkfifo(fifo, 0644), 0);
  alarm(20);
  BenchErr err = {{0}};
  char *data = NULL;
  size_t len = 0;
  EXPECT_INT_EQ(read_file(fifo, 100, &data, &len, &err), -1);
  char *want = xasprintf("'%s' is a FIFO, not a regular file", fifo);
  EXPECT_CONTAINS(err.msg, want);
  char hex[65];
  EXPECT_INT_EQ(sha256_file_hex(fifo, hex, &err), -1);
  EXPECT_CONTAINS(err.msg, want);
  EXPECT(fopen_regular(fifo, &err) == NULL);
  EXPECT_CONTAINS(err.msg, want);
  EXPECT(open_regular_append(fifo, &err) < 0);
  EXPECT_CONTAINS(err.msg, want);
  struct stat st;
  EXPECT_INT_EQ(stat_regular(fifo, &st, &err), -1);
  EXPECT_CONTAINS(err.msg, want);
  EXPECT_INT_EQ(open_regular(dir, &err), -1);
  EXPECT_CONTAINS(err.msg, "is a directory, not a regular file");
  EXPECT_INT_EQ(open_regular("/dev/null", &err), -1);
  EXPECT_CONTAINS(err.msg, "'/dev/null' is a character device, not a regular file");
  alarm(0);
  unlink(fifo);
  rmdir(dir);
  free(want);
  free(fifo);
}

// One rule for every cache folder: BENCH_CACHE_DIR, else an absolute XDG_CACHE_HOME, else HOME.
TEST(cache_dir_rule) {
  char *saved[3];
  const char *names[3] = {"BENCH_CACHE_DIR", "XDG_CACHE_HOME", "HOME"};
  for (int i = 0; i < 3; i++) saved[i] = getenv(names[i]) ? xstrdup(getenv(names[i])) : NULL;
  setenv("BENCH_CACHE_DIR", "/c", 1);
  setenv("XDG_CACHE_HOME", "/x", 1);
  setenv("HOME", "/h", 1);
  char *d = bench_cache_dir("tokens");
  EXPECT_STR_EQ(d, "/c/tokens");
  free(d);
  unsetenv("BENCH_CACHE_DIR");
  d = bench_cache_dir("gpu-check");
  EXPECT_STR_EQ(d, "/x/bench/gpu-check");
  free(d);
  setenv("XDG_CACHE_HOME", "relative", 1);  // not absolute: ignored, as the XDG spec says
  d = bench_cache_dir("fingerprints");
  EXPECT_STR_EQ(d, "/h/.cache/bench/fingerprints");
  free(d);
  unsetenv("XDG_CACHE_HOME");
  unsetenv("HOME");
  EXPECT(bench_cache_dir("tokens") == NULL);
  for (int i = 0; i < 3; i++) {
    if (saved[i]) setenv(names[i], saved[i], 1);
    else unsetenv(names[i]);
    free(saved[i]);
  }
}

TEST(rng_is_deterministic_and_uniform) {
  Rng a, b;
  rng_seed(&a, 42);
  rng_seed(&b, 42);
  for (int i = 0; i < 100; i++) EXPECT(rng_next(&a) == rng_next(&b));
  double sum = 0;
  for (int i = 0; i < 100000; i++) sum += rng_uniform(&a);
  EXPECT_NEAR(sum / 100000, 0.5, 0, 0.01);
  for (int i = 0; i < 1000; i++) EXPECT(rng_below(&a, 7) < 7);
}

// One parser of whole numbers for options: what is wrong said as such, 2^63-1 "too large".
static void expect_int_error(const char *text, long lo, long hi, const char *want) {
  long v = 7;
  BenchErr err;
  EXPECT_INT_EQ(parse_int_range(text, lo, hi, &v, &err), -1);
  EXPECT_CONTAINS(err.msg, want);
  EXPECT_INT_EQ(v, 7);
}

TEST(int_range) {
  long v = 0;
  BenchErr err;
  EXPECT_INT_EQ(parse_int_range("42", 1, 100, &v, &err), 0);
  EXPECT_INT_EQ(v, 42);
  EXPECT_INT_EQ(parse_int_range("-5", -10, 10, &v, &err), 0);
  EXPECT_INT_EQ(v, -5);
  expect_int_error("two", 1, 100, "'two' is not an integer");
  expect_int_error("4x", 1, 100, "'4x' is not an integer");
  expect_int_error("", 1, 100, "'' is not an integer");
  expect_int_error("101", 1, 100, "'101' is too large (at most 100)");
  expect_int_error("9223372036854775807", 1, 100, "'9223372036854775807' is too large (at most 100)");
  expect_int_error("9223372036854775808", 1, 100, "is too large");
  expect_int_error("99999999999999999999", 1, 100, "is too large");
  expect_int_error("0", 1, 100, "'0' is too small (at least 1)");
  expect_int_error("-99999999999999999999", 1, 100, "is too small");
}

int main(void) {
  RUN(sha256_known_vectors);
  RUN(did_you_mean);
  RUN(atomic_write_roundtrip);
  RUN(special_files_are_refused_not_waited_on);
  RUN(cache_dir_rule);
  RUN(rng_is_deterministic_and_uniform);
  RUN(int_range);
  TEST_SUMMARY();
}
