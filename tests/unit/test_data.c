// test_data.c — dataset formats (.txt, .jsonl, BENCHTOK .bin, .u16.bin) and the token cache
// (hit, miss, corruption), with a byte-level test encoder (id = byte value).
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data.h"
#include "test.h"

static char tmpdir[] = "/tmp/bench_test_data_XXXXXX";
static int n_encode_calls;

static int byte_encode(void *ctx, const char *text, size_t len, int32_t **ids, size_t *n,
                       BenchErr *err) {
  (void)ctx;
  n_encode_calls++;
  if (len > 0 && text[0] == '!') return err_set(err, "text starts with '!'");
  *ids = malloc(len ? len * sizeof(int32_t) : 1);
  for (size_t i = 0; i < len; i++) (*ids)[i] = (unsigned char)text[i];
  *n = len;
  return 0;
}

static TextEncoder byte_encoder(int32_t sep) {
  TextEncoder e = {"bytes-test-encoder", byte_encode, NULL, sep};
  return e;
}

static char *write_tmp(const char *name, const void *data, size_t len) {
  char *p = path_join(tmpdir, name);
  BenchErr err;
  if (write_file_atomic(p, data, len, &err) != 0) fprintf(stderr, "%s\n", err.msg);
  return p;
}

static void expect_ids(const Tokens *t, const int32_t *want, long n) {
  EXPECT_INT_EQ(t->n, n);
  if (t->n == n) EXPECT_ARRAY_NEAR(t->ids, want, n, 0, 0);
}

TEST(formats_by_suffix) {
  DataFormat f;
  BenchErr err;
  EXPECT_INT_EQ(data_format("a/b.txt", &f, &err), 0);
  EXPECT_INT_EQ(f, DATA_TXT);
  EXPECT_INT_EQ(data_format("x.jsonl", &f, &err), 0);
  EXPECT_INT_EQ(f, DATA_JSONL);
  EXPECT_INT_EQ(data_format("train.u16.bin", &f, &err), 0);
  EXPECT_INT_EQ(f, DATA_U16_BIN);
  EXPECT_INT_EQ(data_format("val.bin", &f, &err), 0);
  EXPECT_INT_EQ(f, DATA_BIN);
  EXPECT_INT_EQ(data_format("data.csv", &f, &err), -1);
  EXPECT_CONTAINS(err.msg, "unknown dataset format");
}

TEST(txt_and_cache_hit_miss) {
  char *p = write_tmp("a.txt", "hello", 5);
  TextEncoder enc = byte_encoder(-1);
  DataSource src = {p, NULL, "a"};
  Tokens t;
  BenchErr err;
  n_encode_calls = 0;
  EXPECT_INT_EQ(dataset_tokens(&src, &enc, &t, &err), 0);
  int32_t want[] = {104, 101, 108, 108, 111};
  expect_ids(&t, want, 5);
  EXPECT_INT_EQ(t.from_cache, 0);
  EXPECT_INT_EQ(n_encode_calls, 1);
  char fp[65];
  EXPECT_INT_EQ(dataset_fingerprint(p, NULL, fp, &err), 0);
  EXPECT_STR_EQ(fp, t.fingerprint);
  tokens_free(&t);
  // Second time: from the cache, without encoding.
  EXPECT_INT_EQ(dataset_tokens(&src, &enc, &t, &err), 0);
  expect_ids(&t, want, 5);
  EXPECT_INT_EQ(t.from_cache, 1);
  EXPECT_INT_EQ(n_encode_calls, 1);
  tokens_free(&t);
  // What `bench plan` reads of it: the count from the header of the file it names.
  char *cpath = token_cache_path(enc.fingerprint, fp, enc.separator);
  EXPECT(file_exists(cpath));
  EXPECT_INT_EQ(token_cache_count(enc.fingerprint, fp, enc.separator), 5);
  EXPECT_INT_EQ(token_cache_count(enc.fingerprint, fp, 7), -1);
  free(cpath);
  // Another encoder fingerprint: a miss.
  TextEncoder other = enc;
  other.fingerprint = "another-encoder";
  EXPECT_INT_EQ(dataset_tokens(&src, &other, &t, &err), 0);
  EXPECT_INT_EQ(t.from_cache, 0);
  EXPECT_INT_EQ(n_encode_calls, 2);
  tokens_free(&t);
  // Changed file bytes: a miss.
  free(write_tmp("a.txt", "hellO", 5));
  EXPECT_INT_EQ(dataset_tokens(&src, &enc, &t, &err), 0);
  EXPECT_INT_EQ(t.from_cache, 0);
  EXPECT_INT_EQ(t.ids[4], 'O');
  tokens_free(&t);
  free(p);
}

// Every file in the cache directory, corrupted by fn.
static int corrupt_cache(void (*fn)(const char *path)) {
  char *dir = token_cache_dir();
  char *cmd = xasprintf("ls %s/*.tok 2>/dev/null", dir);
  FILE *ls = popen(cmd, "r");
  char line[4096];
  int n = 0;
  while (ls && fgets(line, sizeof line, ls)) {
    line[strcspn(line, "\n")] = 0;
    fn(line);
    n++;
  }
  if (ls) pclose(ls);
  free(cmd);
  free(dir);
  return n;
}

static void flip_last_byte(const char *path) {
  FILE *f = fopen(path, "r+b");
  fseek(f, -1, SEEK_END);
  int c = fgetc(f);
  fseek(f, -1, SEEK_END);
  fputc(c ^ 0x5a, f);
  fclose(f);
}
static void truncate_half(const char *path) {
  struct stat st;
  stat(path, &st);
  if (truncate(path, st.st_size / 2) != 0) perror("truncate");
}
static void garbage(const char *path) {
  FILE *f = fopen(path, "wb");
  fputs("not a token file", f);
  fclose(f);
}

TEST(cache_corruption_is_rebuilt) {
  char *p = write_tmp("c.txt", "cache me", 8);
  TextEncoder enc = byte_encoder(-1);
  DataSource src = {p, NULL, NULL};
  Tokens t;
  BenchErr err;
  EXPECT_INT_EQ(dataset_tokens(&src, &enc, &t, &err), 0);
  tokens_free(&t);
  void (*damage[])(const char *) = {flip_last_byte, truncate_half, garbage};
  for (int k = 0; k < 3; k++) {
    EXPECT(corrupt_cache(damage[k]) >= 1);
    n_encode_calls = 0;
    EXPECT_INT_EQ(dataset_tokens(&src, &enc, &t, &err), 0);
    EXPECT_INT_EQ(t.from_cache, 0);
    EXPECT_INT_EQ(n_encode_calls, 1);
    EXPECT_INT_EQ(t.n, 8);
    if (t.n == 8) EXPECT_INT_EQ(t.ids[7], 'e');
    tokens_free(&t);
    // Rebuilt: the next read hits again.
    EXPECT_INT_EQ(dataset_tokens(&src, &enc, &t, &err), 0);
    EXPECT_INT_EQ(t.from_cache, 1);
    tokens_free(&t);
  }
  free(p);
}

TEST(jsonl_documents_and_separator) {
  const char *text = "{\"text\": \"ab\", \"id\": 1}\n\n  \n{\"text\":\"\"}\r\n{\"id\":2,\"text\":\"c\"}\n";
  char *p = write_tmp("d.jsonl", text, strlen(text));
  TextEncoder enc = byte_encoder(7);
  DataSource src = {p, NULL, "d"};
  Tokens t;
  BenchErr err;
  EXPECT_INT_EQ(dataset_tokens(&src, &enc, &t, &err), 0);
  int32_t want[] = {'a', 'b', 7, 'c'};  // the empty document is skipped: one separator
  expect_ids(&t, want, 4);
  tokens_free(&t);
  // No separator.
  TextEncoder nosep = byte_encoder(-1);
  EXPECT_INT_EQ(dataset_tokens(&src, &nosep, &t, &err), 0);
  EXPECT_INT_EQ(t.from_cache, 0);  // the separator is part of the cache key
  int32_t want2[] = {'a', 'b', 'c'};
  expect_ids(&t, want2, 3);
  tokens_free(&t);
  free(p);
}

TEST(jsonl_other_field) {
  const char *text = "{\"body\":\"xy\",\"text\":\"no\"}\n{\"body\":\"z\"}";  // no final newline
  char *p = write_tmp("f.jsonl", text, strlen(text));
  TextEncoder enc = byte_encoder(0);
  DataSource src = {p, "body", NULL};
  Tokens t;
  BenchErr err;
  EXPECT_INT_EQ(dataset_tokens(&src, &enc, &t, &err), 0);
  int32_t want[] = {'x', 'y', 0, 'z'};
  expect_ids(&t, want, 4);
  char fp_body[65], fp_text[65];
  EXPECT_INT_EQ(dataset_fingerprint(p, "body", fp_body, &err), 0);
  EXPECT_INT_EQ(dataset_fingerprint(p, NULL, fp_text, &err), 0);
  EXPECT_STR_EQ(fp_body, t.fingerprint);
  EXPECT(strcmp(fp_body, fp_text) != 0);
  tokens_free(&t);
  free(p);
}

static void expect_jsonl_error(const char *text, const char *want) {
  char *p = write_tmp("bad.jsonl", text, strlen(text));
  TextEncoder enc = byte_encoder(-1);
  DataSource src = {p, NULL, NULL};
  Tokens t;
  BenchErr err;
  EXPECT_INT_EQ(dataset_tokens(&src, &enc, &t, &err), -1);
  EXPECT_CONTAINS(err.msg, want);
  EXPECT(t.ids == NULL);
  free(p);
}

TEST(jsonl_bad_lines_name_file_and_line) {
  char want[512];
  snprintf(want, sizeof want, "%s/bad.jsonl:2: not a JSON object", tmpdir);
  expect_jsonl_error("{\"text\":\"a\"}\n{\"text\": oops}\n", want);
  expect_jsonl_error("{\"text\":\"a\"}\n\n[1, 2]\n", "bad.jsonl:3: expected a JSON object");
  expect_jsonl_error("{\"body\":\"a\",\"title\":\"t\"}\n",
                     "bad.jsonl:1: no field 'text' (fields: 'body', 'title')");
  expect_jsonl_error("{\"text\":\"a\"}\n{\"text\":42}\n", "bad.jsonl:2: field 'text' is not a string");
  expect_jsonl_error("{\"text\":\"a\",\"text\":\"b\"}\n", "bad.jsonl:1: not a JSON object");
  expect_jsonl_error("{\"text\":\"a\"} {\"text\":\"b\"}\n", "bad.jsonl:1:");
  expect_jsonl_error("{\"text\":\"ok\"}\n{\"text\":\"!fails\"}\n", "bad.jsonl:2: text starts with '!'");
}

TEST(text_needs_an_encoder) {
  char *p = write_tmp("n.txt", "x", 1);
  DataSource src = {p, NULL, "n"};
  Tokens t;
  BenchErr err;
  EXPECT_INT_EQ(dataset_tokens(&src, NULL, &t, &err), -1);
  EXPECT_CONTAINS(err.msg, "needs a tokenizer");
  free(p);
  DataSource missing = {"/nonexistent/x.txt", NULL, "gone"};
  TextEncoder enc = byte_encoder(-1);
  EXPECT_INT_EQ(dataset_tokens(&missing, &enc, &t, &err), -1);
  EXPECT_CONTAINS(err.msg, "dataset 'gone': cannot open '/nonexistent/x.txt'");
}

TEST(benchtok_roundtrip) {
  int32_t ids[] = {0, 1, 65535, 70000, 2147483647};
  BenchErr err;
  char *p = path_join(tmpdir, "t32.bin");
  EXPECT_INT_EQ(benchtok_write(p, ids, 5, 4, 1, &err), 0);
  DataSource src = {p, NULL, NULL};
  Tokens t;
  EXPECT_INT_EQ(dataset_tokens(&src, NULL, &t, &err), 0);
  expect_ids(&t, ids, 5);
  tokens_free(&t);
  // uint16 ids without a checksum.
  EXPECT_INT_EQ(benchtok_write(p, ids, 3, 2, 0, &err), 0);
  EXPECT_INT_EQ(dataset_tokens(&src, NULL, &t, &err), 0);
  expect_ids(&t, ids, 3);
  tokens_free(&t);
  EXPECT_INT_EQ(benchtok_write(p, ids, 4, 2, 0, &err), -1);
  EXPECT_CONTAINS(err.msg, "does not fit 2 bytes");
  // The exact byte layout.
  EXPECT_INT_EQ(benchtok_write(p, ids, 2, 4, 0, &err), 0);
  char *data = NULL;
  size_t len = 0;
  EXPECT_INT_EQ(read_file(p, 1000, &data, &len, &err), 0);
  unsigned char want[40] = {'B', 'E', 'N', 'C', 'H', 'T', 'O', 'K', 1, 0, 0, 0, 4, 0, 0, 0,
                            2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                            0, 0, 0, 0, 1, 0, 0, 0};
  EXPECT_INT_EQ(len, 40);
  EXPECT(len == 40 && memcmp(data, want, 40) == 0);
  free(data);
  free(p);
}

static void expect_bin_error(const unsigned char *data, size_t len, const char *want) {
  char *p = write_tmp("bad.bin", data, len);
  DataSource src = {p, NULL, NULL};
  Tokens t;
  BenchErr err;
  EXPECT_INT_EQ(dataset_tokens(&src, NULL, &t, &err), -1);
  EXPECT_CONTAINS(err.msg, want);
  free(p);
}

TEST(benchtok_bad_files) {
  unsigned char h[40] = {'B', 'E', 'N', 'C', 'H', 'T', 'O', 'K', 2, 0, 0, 0, 4, 0, 0, 0,
                         2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  expect_bin_error(h, 40, "is BENCHTOK version 2; this bench reads version 1: re-create");
  h[8] = 1;
  h[12] = 3;
  expect_bin_error(h, 40, "bytes per id is 3");
  h[12] = 4;
  expect_bin_error(h, 36, "header says 2 ids of 4 bytes but 4 bytes follow it");
  expect_bin_error(h, 20, "header truncated");
  h[24] = 9;  // a checksum that does not match
  expect_bin_error(h, 40, "checksum mismatch");
  h[24] = 0;
  h[16] = 0xff, h[17] = 0xff, h[18] = 0xff, h[19] = 0xff, h[20] = 0xff, h[21] = 0xff, h[22] = 0xff, h[23] = 0xff;
  expect_bin_error(h, 40, "header says 18446744073709551615 ids");
  expect_bin_error((const unsigned char *)"\x01\x00\x02\x00", 4,
                   "has no BENCHTOK header (a raw uint16 token file, as nanoGPT writes, must be "
                   "named *.u16.bin)");
  h[16] = 1, h[17] = h[18] = h[19] = h[20] = h[21] = h[22] = h[23] = 0;
  h[32] = h[33] = h[34] = 0, h[35] = 0x80;  // id 2^31
  expect_bin_error(h, 36, "out of range");
}

TEST(u16_raw_files) {
  unsigned char raw[6] = {1, 0, 0x34, 0x12, 0xff, 0xff};
  char *p = write_tmp("nano.u16.bin", raw, 6);
  DataSource src = {p, NULL, NULL};
  Tokens t;
  BenchErr err;
  EXPECT_INT_EQ(dataset_tokens(&src, NULL, &t, &err), 0);
  int32_t want[] = {1, 0x1234, 65535};
  expect_ids(&t, want, 3);
  tokens_free(&t);
  free(p);
  p = write_tmp("odd.u16.bin", raw, 5);
  DataSource odd = {p, NULL, NULL};
  EXPECT_INT_EQ(dataset_tokens(&odd, NULL, &t, &err), -1);
  EXPECT_CONTAINS(err.msg, "size (5 bytes) is odd");
  free(p);
}

TEST(cache_dir_from_environment) {
  const char *saved = getenv("BENCH_CACHE_DIR");
  char *keep = saved ? xstrdup(saved) : NULL;
  unsetenv("BENCH_CACHE_DIR");
  setenv("XDG_CACHE_HOME", "/x/cache", 1);
  char *d = token_cache_dir();
  EXPECT_STR_EQ(d, "/x/cache/bench/tokens");
  free(d);
  unsetenv("XDG_CACHE_HOME");
  setenv("HOME", "/home/u", 1);
  d = token_cache_dir();
  EXPECT_STR_EQ(d, "/home/u/.cache/bench/tokens");
  free(d);
  setenv("BENCH_CACHE_DIR", "/c", 1);
  d = token_cache_dir();
  EXPECT_STR_EQ(d, "/c/tokens");
  free(d);
  if (keep) setenv("BENCH_CACHE_DIR", keep, 1);
  free(keep);
}

TEST(unwritable_cache_still_works) {
  char *p = write_tmp("u.txt", "zz", 2);
  setenv("BENCH_CACHE_DIR", "/proc/no/such/place", 1);
  TextEncoder enc = byte_encoder(-1);
  DataSource src = {p, NULL, NULL};
  Tokens t;
  BenchErr err;
  EXPECT_INT_EQ(dataset_tokens(&src, &enc, &t, &err), 0);
  EXPECT_INT_EQ(t.n, 2);
  tokens_free(&t);
  free(p);
}

int main(void) {
  if (!mkdtemp(tmpdir)) return 1;
  char *cache = path_join(tmpdir, "cache");
  setenv("BENCH_CACHE_DIR", cache, 1);
  RUN(formats_by_suffix);
  RUN(txt_and_cache_hit_miss);
  RUN(cache_corruption_is_rebuilt);
  RUN(jsonl_documents_and_separator);
  RUN(jsonl_other_field);
  RUN(jsonl_bad_lines_name_file_and_line);
  RUN(text_needs_an_encoder);
  RUN(benchtok_roundtrip);
  RUN(benchtok_bad_files);
  RUN(u16_raw_files);
  RUN(cache_dir_from_environment);
  setenv("BENCH_CACHE_DIR", cache, 1);
  RUN(unwritable_cache_still_works);
  free(cache);
  char *cmd = xasprintf("rm -rf %s", tmpdir);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
  free(cmd);
  TEST_SUMMARY();
}
