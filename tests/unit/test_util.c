// test_util.c — SHA-256 vectors, edit distance, atomic writes, random numbers.
#include <stdlib.h>
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

int main(void) {
  RUN(sha256_known_vectors);
  RUN(did_you_mean);
  RUN(atomic_write_roundtrip);
  RUN(rng_is_deterministic_and_uniform);
  TEST_SUMMARY();
}
