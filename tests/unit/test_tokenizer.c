// test_tokenizer.c — the pieces of the tokenizer: the byte → character map, merge ranks, the heap
// merge against a naive merge on random strings (short pieces and long, cut pieces), and the
// loader's errors. Ids against HF `tokenizers` are checked end to end by
// tests/reference/compare_tokenizers.py.
#include <stdlib.h>
#include <unistd.h>

#include "test.h"
#include "tok_internal.h"
#include "tokenizer.h"
#include "unicode.h"

static char tmpdir[] = "/tmp/bench_test_tokenizer_XXXXXX";

static char *write_tmp(const char *name, const char *text) {
  char *path = path_join(tmpdir, name);
  BenchErr err;
  CHECK(write_file_atomic(path, text, strlen(text), &err) == 0);
  return path;
}

// Loads JSON text as a tokenizer; returns NULL with err set on failure.
static Tokenizer *load_text(const char *json, BenchErr *err) {
  char *path = write_tmp("tokenizer.json", json);
  Tokenizer *t = NULL;
  tokenizer_load(path, &t, err);
  free(path);
  return t;
}

static size_t encode(const Tokenizer *t, const char *s, int32_t **ids) {
  BenchErr err;
  size_t n = 0;
  if (tokenizer_encode(t, s, strlen(s), 0, ids, &n, &err)) {
    fprintf(stderr, "encode failed: %s\n", err.msg);
    return (size_t)-1;
  }
  return n;
}

TEST(byte_level_map) {
  int seen[400] = {0};
  for (unsigned b = 0; b < 256; b++) {
    uint32_t c = tok_byte_char(b);
    EXPECT(c < 400);
    if (c < 400) seen[c]++;
    if ((b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE) EXPECT_INT_EQ(c, b);
  }
  int distinct = 0;
  for (int c = 0; c < 400; c++) {
    EXPECT(seen[c] <= 1);
    distinct += seen[c];
  }
  EXPECT_INT_EQ(distinct, 256);
  EXPECT_INT_EQ(tok_byte_char(' '), 0x120);   // Ġ
  EXPECT_INT_EQ(tok_byte_char('\n'), 0x10A);  // Ċ
  EXPECT_INT_EQ(tok_byte_char(0), 0x100);
  EXPECT_INT_EQ(tok_byte_char(0x7F), 0x121);
  EXPECT_INT_EQ(tok_byte_char(0xA0), 0x142);
  EXPECT_INT_EQ(tok_byte_char(0xAD), 0x143);
}

// ---- a random BPE over a small alphabet ----

#define MAX_TOK 256
typedef struct {
  char str[MAX_TOK][64];
  int n;
  int left[MAX_TOK], right[MAX_TOK];  // merge k (rank k) joins tokens left[k] + right[k]
  int n_merges;
} RandBpe;

static int find_tok(const RandBpe *r, const char *s) {
  for (int i = 0; i < r->n; i++)
    if (strcmp(r->str[i], s) == 0) return i;
  return -1;
}

static void rand_bpe(RandBpe *r, Rng *rng, const char *alphabet, int n_merges) {
  memset(r, 0, sizeof *r);
  for (const char *a = alphabet; *a; a++) {
    r->str[r->n][0] = *a;
    r->n++;
  }
  while (r->n_merges < n_merges && r->n < MAX_TOK) {
    int l = (int)rng_below(rng, (uint64_t)r->n), rr = (int)rng_below(rng, (uint64_t)r->n);
    char joined[128];
    snprintf(joined, sizeof joined, "%s%s", r->str[l], r->str[rr]);
    if (strlen(joined) >= 64) continue;
    int dup = 0;
    for (int k = 0; k < r->n_merges; k++) dup |= r->left[k] == l && r->right[k] == rr;
    if (dup) continue;
    if (find_tok(r, joined) < 0) strcpy(r->str[r->n++], joined);
    r->left[r->n_merges] = l;
    r->right[r->n_merges] = rr;
    r->n_merges++;
  }
}

static char *rand_bpe_json(const RandBpe *r) {
  StrBuf b = {0};
  sb_append(&b, "{\"version\":\"1.0\",\"added_tokens\":[],\"normalizer\":null,"
                "\"pre_tokenizer\":null,\"post_processor\":null,\"decoder\":null,"
                "\"model\":{\"type\":\"BPE\",\"dropout\":null,\"unk_token\":null,\"vocab\":{");
  for (int i = 0; i < r->n; i++) sb_printf(&b, "%s\"%s\":%d", i ? "," : "", r->str[i], i);
  sb_append(&b, "},\"merges\":[");
  for (int k = 0; k < r->n_merges; k++) {  // both merge formats
    if (k % 2) sb_printf(&b, "%s\"%s %s\"", k ? "," : "", r->str[r->left[k]], r->str[r->right[k]]);
    else sb_printf(&b, "%s[\"%s\",\"%s\"]", k ? "," : "", r->str[r->left[k]], r->str[r->right[k]]);
  }
  sb_append(&b, "]}}");
  return b.data;
}

// Repeatedly applies the lowest-rank merge present, leftmost first: the definition of BPE.
static size_t naive_merge(const RandBpe *r, const char *s, int *out) {
  size_t n = 0;
  for (const char *p = s; *p; p++) {
    char c[2] = {*p, 0};
    out[n++] = find_tok(r, c);
  }
  for (;;) {
    int best_rank = -1;
    size_t best_pos = 0;
    for (size_t i = 0; i + 1 < n; i++)
      for (int k = 0; k < r->n_merges; k++)
        if (r->left[k] == out[i] && r->right[k] == out[i + 1] && (best_rank < 0 || k < best_rank)) {
          best_rank = k;
          best_pos = i;
        }
    if (best_rank < 0) break;
    char joined[128];
    snprintf(joined, sizeof joined, "%s%s", r->str[out[best_pos]], r->str[out[best_pos + 1]]);
    out[best_pos] = find_tok(r, joined);
    memmove(out + best_pos + 1, out + best_pos + 2, (n - best_pos - 2) * sizeof *out);
    n--;
  }
  return n;
}

static void check_random_bpe(const char *alphabet, int n_merges, size_t max_len, int trials,
                             uint64_t seed) {
  Rng rng;
  rng_seed(&rng, seed);
  for (int model = 0; model < 4; model++) {
    RandBpe r;
    rand_bpe(&r, &rng, alphabet, n_merges);
    char *json = rand_bpe_json(&r);
    BenchErr err;
    Tokenizer *t = load_text(json, &err);
    free(json);
    EXPECT(t != NULL);
    if (!t) {
      fprintf(stderr, "load failed: %s\n", err.msg);
      return;
    }
    size_t alen = strlen(alphabet);
    char *s = xmalloc(max_len + 1);
    int *want = xmalloc((max_len + 1) * sizeof *want);
    int32_t *direct = xmalloc((max_len + 1) * sizeof *direct);
    BpeWork w;
    bpe_work_init(&w);
    for (int trial = 0; trial < trials; trial++) {
      size_t len = 1 + (size_t)rng_below(&rng, max_len);
      for (size_t i = 0; i < len; i++) s[i] = alphabet[rng_below(&rng, alen)];
      s[len] = 0;
      size_t nw = naive_merge(&r, s, want);
      // the heap merge alone
      for (size_t i = 0; i < len; i++) {
        char c[2] = {s[i], 0};
        direct[i] = find_tok(&r, c);
      }
      size_t nd = tok_bpe_merge_ids(&t->bpe, &w, direct, len);
      int same = nd == nw;
      for (size_t i = 0; same && i < nw; i++) same = direct[i] == want[i];
      EXPECT(same);
      // the whole encode path (cache, cutting of long pieces)
      int32_t *ids;
      size_t ne = encode(t, s, &ids);
      same = ne == nw;
      for (size_t i = 0; same && i < nw; i++) same = ids[i] == want[i];
      EXPECT(same);
      if (!same) {
        fprintf(stderr, "mismatch on '%s'\n", s);
        free(ids);
        break;
      }
      free(ids);
    }
    bpe_work_free(&w);
    free(s);
    free(want);
    free(direct);
    tokenizer_free(t);
  }
}

TEST(heap_merge_matches_naive_short) { check_random_bpe("abcd", 60, 40, 300, 11); }

TEST(heap_merge_matches_naive_long) {
  // Pieces over 256 bytes are cut where no merge joins the two characters; alphabets where
  // some pairs never merge give such cuts.
  check_random_bpe("abcdefgh", 40, 900, 25, 12);
  check_random_bpe("ab", 30, 600, 25, 13);
}

TEST(merge_ranks_and_duplicates) {
  // "a b" appears twice: the later rank wins (as in HF's merge map), so "bc" merges first.
  const char *json =
      "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":1,\"c\":2,\"ab\":3,\"bc\":4,"
      "\"abc\":5},\"merges\":[\"a b\",\"b c\",\"a b\",\"a bc\"]}}";
  BenchErr err;
  Tokenizer *t = load_text(json, &err);
  EXPECT(t != NULL);
  if (!t) return;
  EXPECT_INT_EQ(t->bpe.n_merges, 3);
  int32_t *ids;
  size_t n = encode(t, "abc", &ids);
  EXPECT_INT_EQ(n, 1);
  EXPECT_INT_EQ(ids[0], 5);  // b c (rank 1) first, then a bc
  free(ids);
  n = encode(t, "ab", &ids);
  EXPECT_INT_EQ(n, 1);
  EXPECT_INT_EQ(ids[0], 3);
  free(ids);
  n = encode(t, "", &ids);
  EXPECT_INT_EQ(n, 0);
  free(ids);
  EXPECT_INT_EQ(tokenizer_vocab_size(t), 6);
  EXPECT_INT_EQ(tokenizer_bos_id(t), -1);
  tokenizer_free(t);
}

TEST(byte_fallback_and_unk) {
  StrBuf b = {0};
  sb_append(&b, "{\"model\":{\"type\":\"BPE\",\"unk_token\":\"<unk>\",\"fuse_unk\":true,"
                "\"byte_fallback\":true,\"vocab\":{\"<unk>\":0,\"a\":1");
  for (int i = 0; i < 256; i++) sb_printf(&b, ",\"<0x%02X>\":%d", i, 2 + i);
  sb_append(&b, "},\"merges\":[]}}");
  BenchErr err;
  Tokenizer *t = load_text(b.data, &err);
  sb_free(&b);
  EXPECT(t != NULL);
  if (!t) return;
  int32_t *ids;
  size_t n = encode(t, "a\xC3\xA9", &ids);  // é is not in the vocab: its two bytes
  EXPECT_INT_EQ(n, 3);
  if (n == 3) {
    EXPECT_INT_EQ(ids[0], 1);
    EXPECT_INT_EQ(ids[1], 2 + 0xC3);
    EXPECT_INT_EQ(ids[2], 2 + 0xA9);
  }
  free(ids);
  tokenizer_free(t);

  // without byte fallback: consecutive unknowns fuse into one <unk>
  t = load_text("{\"model\":{\"type\":\"BPE\",\"unk_token\":\"<unk>\",\"fuse_unk\":true,"
                "\"vocab\":{\"<unk>\":0,\"a\":1},\"merges\":[]}}", &err);
  EXPECT(t != NULL);
  if (!t) return;
  n = encode(t, "xya\xE4\xB8\xAD", &ids);
  EXPECT_INT_EQ(n, 3);
  if (n == 3) {
    EXPECT_INT_EQ(ids[0], 0);
    EXPECT_INT_EQ(ids[1], 1);
    EXPECT_INT_EQ(ids[2], 0);
  }
  free(ids);
  tokenizer_free(t);
}

static void expect_load_error(const char *json, const char *want) {
  BenchErr err = {{0}};
  Tokenizer *t = load_text(json, &err);
  EXPECT(t == NULL);
  EXPECT_CONTAINS(err.msg, want);
  EXPECT_CONTAINS(err.msg, "tokenizer.json");
  tokenizer_free(t);
}

#define MODEL "\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":1,\"ab\":2},\"merges\":[\"a b\"]}"

TEST(load_errors_name_the_problem) {
  expect_load_error("{\"model\":{\"type\":\"Unigram\",\"vocab\":[]}}", "unsupported model 'Unigram'");
  expect_load_error("{" MODEL ",\"normalizer\":{\"type\":\"BertNormalizer\"}}",
                    "unsupported normalizer 'BertNormalizer'");
  expect_load_error("{" MODEL ",\"normalizer\":{\"type\":\"Sequence\",\"normalizers\":[{\"type\":"
                    "\"NFKC\"}]}}", "unsupported normalizer 'NFKC'");
  expect_load_error("{" MODEL ",\"pre_tokenizer\":{\"type\":\"Whitespace\"}}",
                    "unsupported pre_tokenizer 'Whitespace'");
  expect_load_error("{" MODEL ",\"post_processor\":{\"type\":\"Weird\"}}",
                    "unsupported post_processor 'Weird'");
  expect_load_error("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[\"a b\"]}}",
                    "merge 1: its second token is not in the vocab");
  expect_load_error("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":1},\"merges\":[\"a b\"]}}",
                    "merge 1: the merged token is not in the vocab");
  expect_load_error("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[\"a\"]}}",
                    "merge 1");
  // the file's own text (tokens, merges, JSON) is never quoted in an error: its place instead
  const char *leaks[][2] = {
      {"{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[\"a SECRET\"]}}", "merge 1: its second"},
      {"{\"model\":{\"type\":\"BPE\",\"vocab\":{\"SECRET\":0,\"b\":1},\"merges\":[\"SECRET b\"]}}",
       "merge 1: the merged token"},
      {"{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[\"SECRET\"]}}", "merge 1 is not two"},
      {"{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"SECRET\":-1},\"merges\":[]}}", "vocab entry 2"},
      {"{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":SECRET},\"merges\":[]}}", ":1:"},
  };
  for (size_t i = 0; i < sizeof leaks / sizeof leaks[0]; i++) {
    BenchErr err = {{0}};
    Tokenizer *t = load_text(leaks[i][0], &err);
    EXPECT(t == NULL);
    EXPECT_CONTAINS(err.msg, leaks[i][1]);
    if (strstr(err.msg, "SECRET")) TEST_FAIL_AT("the error quotes the file: %s", err.msg);
    tokenizer_free(t);
  }
  expect_load_error("{\"model\":{\"type\":\"BPE\",\"dropout\":0.1,\"vocab\":{},\"merges\":[]}}",
                    "dropout");
  expect_load_error("{" MODEL ",\"pre_tokenizer\":{\"type\":\"Split\",\"pattern\":{\"Regex\":"
                    "\"(unclosed\"},\"behavior\":\"Isolated\"}}", "invalid regex '(unclosed'");
  expect_load_error("{" MODEL ",\"pre_tokenizer\":{\"type\":\"Split\",\"pattern\":{\"Regex\":"
                    "\"a\"},\"behavior\":\"Sideways\"}}", "'behavior' must be one of");
  expect_load_error("{" MODEL ",\"pre_tokenizer\":{\"type\":\"Metaspace\",\"replacement\":"
                    "\"_\",\"add_prefix_space\":false}}", "add_prefix_space false");
  expect_load_error("{" MODEL ",\"pre_tokenizer\":{\"type\":\"Metaspace\",\"replacement\":"
                    "\"ab\"}}", "must be one character");
  expect_load_error("{\"model\": {,}}", "invalid JSON");
  expect_load_error("{\"version\":\"2.0\"," MODEL "}", "unsupported tokenizer.json version '2.0'");
  expect_load_error("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"a\":1},\"merges\":[]}}",
                    "invalid JSON");
}

TEST(fixture_properties) {
  BenchErr err;
  Tokenizer *t;
  EXPECT_INT_EQ(tokenizer_load("tests/fixtures/tokenizers/llama3.json", &t, &err), 0);
  if (t) {
    int32_t *ids;
    size_t n;
    EXPECT_INT_EQ(tokenizer_encode(t, "", 0, 1, &ids, &n, &err), 0);
    EXPECT_INT_EQ(n, 1);  // <|begin_of_text|> alone
    if (n == 1) EXPECT_INT_EQ(ids[0], tokenizer_bos_id(t));
    free(ids);
    EXPECT(tokenizer_bos_id(t) >= 0);
    EXPECT(tokenizer_vocab_size(t) > tokenizer_bos_id(t));
    char hex[65];
    EXPECT_INT_EQ(sha256_file_hex("tests/fixtures/tokenizers/llama3.json", hex, &err), 0);
    EXPECT_STR_EQ(tokenizer_fingerprint(t), hex);
    tokenizer_free(t);
  }
  EXPECT_INT_EQ(tokenizer_load("tests/fixtures/tokenizers/gpt2.json", &t, &err), 0);
  if (t) {
    EXPECT_INT_EQ(tokenizer_bos_id(t), -1);
    tokenizer_free(t);
  }
  EXPECT_INT_EQ(tokenizer_load("tests/fixtures/tokenizers/llama2.json", &t, &err), 0);
  if (t) {
    EXPECT_INT_EQ(tokenizer_bos_id(t), 1);
    tokenizer_free(t);
  }
  EXPECT_INT_EQ(tokenizer_load("tests/fixtures/no_such_dir", &t, &err), -1);
  EXPECT_CONTAINS(err.msg, "no_such_dir");
}

int main(void) {
  CHECK(mkdtemp(tmpdir) != NULL);
  RUN(byte_level_map);
  RUN(heap_merge_matches_naive_short);
  RUN(heap_merge_matches_naive_long);
  RUN(merge_ranks_and_duplicates);
  RUN(byte_fallback_and_unk);
  RUN(load_errors_name_the_problem);
  RUN(fixture_properties);
  char *p = path_join(tmpdir, "tokenizer.json");
  unlink(p);
  free(p);
  rmdir(tmpdir);
  TEST_SUMMARY();
}
