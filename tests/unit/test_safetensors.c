// test_safetensors.c — the safetensors reliability list, each item on a file crafted in a temp
// dir: header length limits, offsets (overlap, gap, backward, non-integer, past the end), shape
// overflow, byte count, trailing bytes, unknown dtype, duplicate keys, __metadata__, shard index
// paths escaping the model directory; and the streaming writer.
#include <stdlib.h>
#include <unistd.h>

#include "model.h"
#include "model_init.h"
#include "safetensors.h"
#include "test.h"

static char tmp_root[64];

// Writes tmp_root/name: an 8-byte length (header_len_override, or the header's own length), the
// header text, then data_len bytes 0, 1, 2, ... Returns the path (caller frees).
static char *craft(const char *name, const char *header, uint64_t header_len_override, size_t data_len) {
  char *path = path_join(tmp_root, name);
  FILE *f = fopen(path, "wb");
  CHECK(f);
  uint64_t n = header_len_override ? header_len_override : strlen(header);
  for (int i = 0; i < 8; i++) fputc((int)((n >> (8 * i)) & 0xff), f);
  fputs(header, f);
  for (size_t i = 0; i < data_len; i++) fputc((int)(i & 0xff), f);
  fclose(f);
  return path;
}

// Opens a crafted file and expects failure with a message containing want (and the file name).
static void expect_bad(const char *name, const char *header, uint64_t len_override, size_t data_len,
                       const char *want) {
  char *path = craft(name, header, len_override, data_len);
  StFile f;
  BenchErr err;
  int rc = st_open(path, &f, &err);
  EXPECT(rc != 0);
  if (rc == 0) {
    TEST_FAIL_AT("%s parsed, expected an error containing '%s'", name, want);
    st_close(&f);
  } else {
    EXPECT_CONTAINS(err.msg, want);
    EXPECT_CONTAINS(err.msg, name);
  }
  free(path);
}

TEST(valid_file_parses) {
  const char *h =
      "{\"__metadata__\":{\"format\":\"pt\"},"
      "\"b\":{\"dtype\":\"BF16\",\"shape\":[2,3],\"data_offsets\":[16,28]},"
      "\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
      "\"s\":{\"dtype\":\"F64\",\"shape\":[],\"data_offsets\":[28,36]},"
      "\"z\":{\"dtype\":\"I64\",\"shape\":[0,5],\"data_offsets\":[36,36]}}    ";
  char *path = craft("ok.safetensors", h, 0, 36);
  StFile f;
  BenchErr err;
  int rc = st_open(path, &f, &err);
  if (rc != 0) TEST_FAIL_AT("%s", err.msg);
  if (rc == 0) {
    EXPECT_INT_EQ(f.n_tensors, 4);
    EXPECT_STR_EQ(f.metadata_json, "{\"format\":\"pt\"}");
    const StTensor *b = st_find(&f, "b");
    EXPECT(b && b->dtype == ST_BF16 && b->n_dims == 2 && b->shape[1] == 3 && b->n_elems == 6);
    const StTensor *s = st_find(&f, "s");
    EXPECT(s && s->n_dims == 0 && s->n_elems == 1);
    const StTensor *z = st_find(&f, "z");
    EXPECT(z && z->n_elems == 0);
    EXPECT(st_find(&f, "__metadata__") == NULL);
    EXPECT(st_find(&f, "missing") == NULL);
    EXPECT_INT_EQ(st_tensor_data(&f, st_find(&f, "a"))[1], 1);
    // Integer dtypes parse but do not convert to fp32.
    float tmp[1];
    EXPECT(st_tensor_to_f32(&f, z, tmp, &err) != 0);
    EXPECT_CONTAINS(err.msg, "tensor 'z' has dtype I64");
    st_close(&f);
  }
  free(path);
}

TEST(header_length_limits) {
  expect_bad("huge.safetensors", "{}", 200ull * 1000 * 1000, 0, "exceeds the limit");
  expect_bad("past.safetensors", "{}", 1000, 0, "header length 1000 exceeds the file size");
  expect_bad("tiny.safetensors", "", 0, 0, "header is not valid JSON");
  char *path = path_join(tmp_root, "short.safetensors");
  BenchErr err;
  CHECK(write_file_atomic(path, "abc", 3, &err) == 0);
  StFile f;
  EXPECT(st_open(path, &f, &err) != 0);
  EXPECT_CONTAINS(err.msg, "too small to be a safetensors file (3 bytes)");
  EXPECT(st_parse("mem", (const uint8_t *)"", 0, &f, &err) != 0);
  free(path);
  EXPECT(st_open("/nonexistent/x.safetensors", &f, &err) != 0);
  EXPECT_CONTAINS(err.msg, "cannot open '/nonexistent/x.safetensors'");
}

TEST(offsets_must_tile_the_data) {
  expect_bad("overlap.safetensors",
             "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
             "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 0, 12,
             "tensor 'b' at [4, 12) overlaps tensor 'a'");
  expect_bad("gap.safetensors",
             "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
             "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[12,20]}}", 0, 20,
             "bytes [8, 12) of the data section belong to no tensor (gap before tensor 'b')");
  expect_bad("first-gap.safetensors",
             "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 0, 12,
             "bytes [0, 4) of the data section belong to no tensor");
  expect_bad("backward.safetensors",
             "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", 0, 8,
             "data_offsets [8, 0] go backward");
  expect_bad("trailing.safetensors",
             "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 0, 11,
             "3 trailing bytes after the last tensor");
  expect_bad("past-end.safetensors",
             "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 0, 6,
             "tensor 'a' ends at byte 8, past the end of the data section (6 bytes)");
  expect_bad("nonint.safetensors",
             "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8.0]}}", 0, 8,
             "data_offsets must be non-negative integers");
  expect_bad("string-offset.safetensors",
             "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[\"0\",8]}}", 0, 8,
             "data_offsets must be non-negative integers");
  expect_bad("negative-offset.safetensors",
             "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[-8,0]}}", 0, 8,
             "data_offsets must be non-negative integers");
  expect_bad("three-offsets.safetensors",
             "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8,16]}}", 0, 8,
             "data_offsets is not a [begin, end] pair");
}

TEST(shape_and_byte_count) {
  expect_bad("overflow.safetensors",
             "{\"a\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904,8],\"data_offsets\":[0,8]}}", 0, 8,
             "shape [4611686018427387904, 8] overflows the byte size");
  expect_bad("overflow-wraps-to-zero.safetensors",
             "{\"a\":{\"dtype\":\"U8\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,0]}}", 0, 0,
             "overflows the byte size");
  expect_bad("overflow-dtype.safetensors",
             "{\"a\":{\"dtype\":\"F64\",\"shape\":[4611686018427387904],\"data_offsets\":[0,8]}}", 0, 8,
             "overflows the byte size");
  expect_bad("bytes.safetensors",
             "{\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,20]}}", 0, 20,
             "data_offsets [0, 20] hold 20 bytes, shape [2, 3] of F32 needs 24");
  expect_bad("negative-dim.safetensors",
             "{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 0, 8,
             "shape entry 0 is not a non-negative integer");
  expect_bad("real-dim.safetensors",
             "{\"a\":{\"dtype\":\"F32\",\"shape\":[2.0],\"data_offsets\":[0,8]}}", 0, 8,
             "shape entry 0 is not a non-negative integer");
  expect_bad("dims.safetensors",
             "{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", 0, 4,
             "has 9 dimensions (at most 8)");
  // A zero dimension after a huge one is an empty tensor, not an overflow.
  char *path = craft("zero-after-huge.safetensors",
                     "{\"a\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904,8,0],\"data_offsets\":[0,0]}}", 0, 0);
  StFile f;
  BenchErr err;
  EXPECT(st_open(path, &f, &err) == 0);
  st_close(&f);
  free(path);
}

TEST(header_json_is_checked) {
  expect_bad("dtype.safetensors", "{\"a\":{\"dtype\":\"F17\",\"shape\":[2],\"data_offsets\":[0,8]}}", 0, 8,
             "tensor 'a' has unknown dtype 'F17'");
  expect_bad("dup.safetensors",
             "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
             "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 0, 8, "duplicate");
  expect_bad("dup-inner.safetensors",
             "{\"a\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 0, 4, "duplicate");
  expect_bad("notjson.safetensors", "{\"a\":", 0, 0, "header is not valid JSON");
  expect_bad("array.safetensors", "[1,2]", 0, 0, "header is not a JSON object");
  expect_bad("entry.safetensors", "{\"a\":5}", 0, 0, "tensor 'a' is not a JSON object");
  expect_bad("lacks.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", 0, 4, "tensor 'a' lacks 'data_offsets'");
  expect_bad("extra-key.safetensors",
             "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"x\":1}}", 0, 4,
             "tensor 'a' has unexpected key 'x'");
  expect_bad("dtype-type.safetensors", "{\"a\":{\"dtype\":3,\"shape\":[1],\"data_offsets\":[0,4]}}", 0, 4,
             "dtype is not a string");
  expect_bad("shape-type.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":1,\"data_offsets\":[0,4]}}", 0, 4,
             "shape is not an array");
  expect_bad("empty-name.safetensors", "{\"\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 0, 4,
             "a tensor has an empty name");
  expect_bad("nul.safetensors", "{\"a\\u0000b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 0, 4,
             "header is not valid JSON");
  expect_bad("metadata-type.safetensors", "{\"__metadata__\":[1]}", 0, 0, "__metadata__ is not a JSON object");
  expect_bad("metadata-value.safetensors", "{\"__metadata__\":{\"n\":1}}", 0, 0,
             "__metadata__ value 'n' is not a string");
  // Metadata only, no tensors: a valid, empty file.
  char *path = craft("metadata-only.safetensors", "{\"__metadata__\":{\"format\":\"pt\"}}", 0, 0);
  StFile f;
  BenchErr err;
  EXPECT(st_open(path, &f, &err) == 0);
  EXPECT_INT_EQ(f.n_tensors, 0);
  st_close(&f);
  free(path);
}

TEST(writer_round_trip) {
  char *path = path_join(tmp_root, "written.safetensors");
  StSpec specs[3] = {{"w", ST_BF16, 2, {3, 2}}, {"empty", ST_F32, 1, {0}}, {"b", ST_F16, 1, {3}}};
  StWriter w;
  BenchErr err;
  EXPECT(st_writer_open(&w, path, specs, 3, "{\"format\":\"pt\"}", &err) == 0);
  const float a[6] = {1, 2, 3, 4, 5, 6}, b[3] = {-1, 0.5f, 0.25f};
  EXPECT(st_writer_write_f32(&w, a, 4, &err) == 0);
  EXPECT(st_writer_write_f32(&w, a + 4, 2, &err) == 0);
  EXPECT(st_writer_write_f32(&w, b, 4, &err) != 0);  // crosses the end of 'b'
  EXPECT_CONTAINS(err.msg, "cross the end");
  EXPECT(st_writer_write_f32(&w, b, 3, &err) == 0);
  EXPECT(st_writer_close(&w, &err) == 0);
  StFile f;
  EXPECT(st_open(path, &f, &err) == 0);
  EXPECT_INT_EQ(f.n_tensors, 3);
  EXPECT_INT_EQ((8 + f.header_len) % 8, 0);
  float out[6];
  EXPECT(st_tensor_to_f32(&f, st_find(&f, "w"), out, &err) == 0);
  EXPECT_ARRAY_NEAR(out, a, 6, 0, 0);
  EXPECT(st_tensor_to_f32(&f, st_find(&f, "b"), out, &err) == 0);
  EXPECT_ARRAY_NEAR(out, b, 3, 0, 0);
  EXPECT_STR_EQ(f.metadata_json, "{\"format\":\"pt\"}");
  st_close(&f);

  // An incomplete file is never left in place.
  unlink(path);
  EXPECT(st_writer_open(&w, path, specs, 3, NULL, &err) == 0);
  EXPECT(st_writer_write_f32(&w, a, 6, &err) == 0);
  EXPECT(st_writer_close(&w, &err) != 0);
  EXPECT_CONTAINS(err.msg, "tensor 'b' is incomplete (0 of 6 bytes written)");
  EXPECT(!file_exists(path));
  // Too many bytes.
  EXPECT(st_writer_open(&w, path, specs, 1, NULL, &err) == 0);
  uint8_t raw[16] = {0};
  EXPECT(st_writer_write(&w, raw, 16, &err) != 0);
  EXPECT_CONTAINS(err.msg, "more bytes written than the header declares");
  st_writer_abort(&w);
  EXPECT(!file_exists(path));
  // Duplicate names are refused up front.
  StSpec dup[2] = {{"x", ST_F32, 1, {1}}, {"x", ST_F32, 1, {1}}};
  EXPECT(st_writer_open(&w, path, dup, 2, NULL, &err) != 0);
  free(path);
}

// Shard names that are not plain file names in the model directory: the error names the index
// and the tensor.
TEST(shard_index_paths_stay_inside) {
  char *dir = path_join(tmp_root, "escape");
  InitModelSpec s;
  init_model_defaults(&s, ARCH_LLAMA);
  s.n_shards = 2;
  InitModelResult r;
  BenchErr err;
  CHECK(init_model_write(dir, &s, &r, &err) == 0);
  char *index = path_join(dir, "model.safetensors.index.json");
  const char *bad[] = {"../model-00001-of-00002.safetensors", "/tmp/x.safetensors",
                       "sub/../../x.safetensors", "sub/x.safetensors", "..", ".", ""};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    char *text = xasprintf("{\"metadata\":{},\"weight_map\":{\"model.norm.weight\":\"%s\"}}", bad[i]);
    CHECK(write_file_atomic(index, text, strlen(text), &err) == 0);
    free(text);
    char *single = path_join(dir, "model.safetensors");
    unlink(single);
    free(single);
    Model m;
    int rc = model_inspect(dir, &m, &err);
    EXPECT(rc != 0);
    if (rc == 0) {
      model_free(&m);
      continue;
    }
    EXPECT_CONTAINS(err.msg, "model.safetensors.index.json: tensor 'model.norm.weight' maps to");
    EXPECT_CONTAINS(err.msg, "not a file name inside the model directory");
  }
  // Not an object / no weight map.
  CHECK(write_file_atomic(index, "{\"metadata\":{}}", 15, &err) == 0);
  Model m;
  EXPECT(model_inspect(dir, &m, &err) != 0);
  EXPECT_CONTAINS(err.msg, "no 'weight_map' object");
  CHECK(write_file_atomic(index, "{\"weight_map\":{\"a\":\"x\",\"a\":\"y\"}}", 32, &err) == 0);
  EXPECT(model_inspect(dir, &m, &err) != 0);
  EXPECT_CONTAINS(err.msg, "duplicate");
  free(index);
  free(dir);
}

int main(void) {
  snprintf(tmp_root, sizeof tmp_root, "/tmp/bench_test_st_XXXXXX");
  if (!mkdtemp(tmp_root)) return 1;
  RUN(valid_file_parses);
  RUN(header_length_limits);
  RUN(offsets_must_tile_the_data);
  RUN(shape_and_byte_count);
  RUN(header_json_is_checked);
  RUN(writer_round_trip);
  RUN(shard_index_paths_stay_inside);
  char *cmd = xasprintf("rm -rf '%s'", tmp_root);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmp_root);
  free(cmd);
  TEST_SUMMARY();
}
