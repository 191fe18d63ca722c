// test_kvcache.c — cache policies on scripted caches (no model), on the CPU backend: spec
// parsing and its errors; each policy's eviction step by step (window keeps the last budget − 1,
// streaming keeps its sinks, h2o keeps the heavy hitters of crafted scores, per kv head); a budget
// is never exceeded, slots stay in reading order, keys, values, scores and token indices move with
// their slot whichever side of the holes moves (small rooms force frequent moves back to the
// front); the device's pick of a step's eviction (lowest_of, kv_argmin) equals the host's select;
// sequences evicted together keep to their own rooms.
// Legend: S sequences, L layers, K kv heads, H query heads, D head dim.
#include <stdlib.h>

#include "kvcache.h"
#include "test.h"

static int policy(const char *json, KVPolicy *p, BenchErr *err) {
  json_error_t je;
  json_t *spec = json_loads(json, 0, &je);
  if (!spec) {
    TEST_FAIL_AT("bad test json %s", json);
    return -1;
  }
  int rc = kv_policy_from_spec(spec, p, err);
  json_decref(spec);
  return rc;
}

static void expect_spec_error(const char *json, const char *want) {
  KVPolicy p;
  BenchErr err;
  EXPECT_INT_EQ(policy(json, &p, &err), -1);
  EXPECT_CONTAINS(err.msg, want);
}

TEST(specs) {
  KVPolicy p;
  BenchErr err;
  EXPECT_INT_EQ(kv_policy_from_spec(NULL, &p, &err), 0);
  EXPECT_STR_EQ(kv_policy_type(&p), "full");
  EXPECT_INT_EQ(p.budget, 0);
  EXPECT_INT_EQ(kv_policy_keep(&p), -1);
  EXPECT_INT_EQ(policy("{\"name\":\"w\",\"type\":\"window\",\"recent\":16}", &p, &err), 0);
  EXPECT_INT_EQ(p.budget, 16);
  EXPECT_INT_EQ(kv_policy_keep(&p), 15);
  EXPECT_INT_EQ(p.positions, KV_POS_ORIGINAL);
  EXPECT_INT_EQ(policy("{\"name\":\"s\",\"type\":\"streaming\",\"sink\":4,\"recent\":252}", &p, &err), 0);
  EXPECT_INT_EQ(p.budget, 256);
  EXPECT_INT_EQ(p.positions, KV_POS_CACHE);
  EXPECT_INT_EQ(p.observe, 0);
  EXPECT_INT_EQ(policy("{\"type\":\"streaming\",\"sink\":0,\"recent\":8,\"positions\":\"original\"}", &p, &err), 0);
  EXPECT_INT_EQ(p.positions, KV_POS_ORIGINAL);
  EXPECT_INT_EQ(p.budget, 8);
  EXPECT_INT_EQ(policy("{\"type\":\"h2o\",\"heavy\":128,\"recent\":128}", &p, &err), 0);
  EXPECT_INT_EQ(p.budget, 256);
  EXPECT_INT_EQ(p.observe, -1);
  EXPECT_INT_EQ(p.positions, KV_POS_ORIGINAL);
  EXPECT_INT_EQ(policy("{\"type\":\"h2o\",\"heavy\":8,\"recent\":8,\"positions\":\"cache\"}", &p, &err), 0);
  EXPECT_INT_EQ(p.positions, KV_POS_CACHE);
  EXPECT_INT_EQ(policy("{\"type\":\"full\",\"name\":\"full\"}", &p, &err), 0);

  expect_spec_error("{\"type\":\"h2\",\"heavy\":1,\"recent\":1}",
                    "unknown cache policy 'h2' (did you mean 'h2o'?)");
  expect_spec_error("{\"type\":\"snapkv\"}", "unknown cache policy 'snapkv'");
  expect_spec_error("{\"name\":\"x\"}", "cache spec has no 'type'");
  expect_spec_error("{\"type\":\"streaming\",\"recent\":8}", "cache policy 'streaming' needs 'sink'");
  expect_spec_error("{\"type\":\"window\",\"recent\":8,\"sink\":1}",
                    "cache policy 'window' has no parameter 'sink'");
  expect_spec_error("{\"type\":\"window\",\"recent\":0}", "'recent' must be ≥ 1");
  expect_spec_error("{\"type\":\"window\",\"recent\":2.5}", "'recent' must be a whole number");
  expect_spec_error("{\"type\":\"window\",\"recent\":\"8\"}", "'recent' must be a whole number");
  expect_spec_error("{\"type\":\"h2o\",\"heavy\":-1,\"recent\":4}", "'heavy' must be a whole number");
  expect_spec_error("{\"type\":\"streaming\",\"sink\":4,\"recent\":4,\"positions\":\"slot\"}",
                    "'positions' must be 'cache' or 'original'");
}

// ---- scripted sequences: one token per step, keys/values carrying the token index ----
enum { SL = 2, SK = 2, SD = 3 };

static int store(KVStore *s, int n_seqs, int L, int K, long cap, long slack, int with_score) {
  BenchErr err;
  int rc = kv_store_init(s, backend_cpu(), n_seqs, L, K, SD, cap, slack, with_score, &err);
  if (rc) TEST_FAIL_AT("kv_store_init: %s", err.msg);
  return rc;
}

// Appends token t to every layer and kv head of every sequence b: k = (t, g, l + 10·b),
// v = (−t, g, l + 10·b).
static void append_token(KVStore *s, long t) {
  BenchErr err;
  int S = s->n_seqs, K = s->n_kv_heads;
  float k[4 * SK * SD], v[4 * SK * SD];
  CHECK(K <= SK && s->head_dim == SD && S <= 4);
  if (kv_store_reserve(s, 0, S, 1, &err)) TEST_FAIL_AT("reserve: %s", err.msg);
  for (int l = 0; l < s->n_layers; l++) {
    for (int b = 0; b < S; b++)
      for (int g = 0; g < K; g++) {
        float *kg = k + (b * K + g) * SD, *vg = v + (b * K + g) * SD;
        kg[0] = (float)t, kg[1] = (float)g, kg[2] = (float)(l + 10 * b);
        vg[0] = (float)-t, vg[1] = (float)g, vg[2] = (float)(l + 10 * b);
      }
    kv_store_append(s, l, 0, S, k, v, 1, t);
  }
}

static void evict_all(KVStore *s, const KVPolicy *p) {
  BenchErr err;
  if (kv_store_evict(s, p, 0, s->n_seqs, &err)) TEST_FAIL_AT("evict: %s", err.msg);
}

// Slots in reading order, each key and value still the token's own.
static void expect_consistent(const KVStore *s) {
  long pos[256];
  for (int b = 0; b < s->n_seqs; b++)
    for (int l = 0; l < s->n_layers; l++)
      for (int g = 0; g < s->n_kv_heads; g++) {
        long n = kv_store_len(s, b, l);
        CHECK(n <= 256);
        kv_store_positions(s, b, l, g, pos);
        for (long i = 0; i < n; i++) {
          const float *k = s->k + (kv_store_row(s, b, l, g) + i) * s->head_dim;
          const float *v = s->v + (kv_store_row(s, b, l, g) + i) * s->head_dim;
          if (i > 0 && pos[i] <= pos[i - 1]) TEST_FAIL_AT("slots out of order at %ld", i);
          if (k[0] != (float)pos[i] || k[1] != (float)g || k[2] != (float)(l + 10 * b) ||
              v[0] != (float)-pos[i])
            TEST_FAIL_AT("slot %ld of sequence %d layer %d head %d holds token %g, not %ld", i, b,
                         l, g, k[0], pos[i]);
        }
      }
}

// The tokens sequence b, layer l, kv head g holds, as a string "0 1 7 8".
static char *held_by(const KVStore *s, int b, int l, int g) {
  long pos[256];
  StrBuf sb = {0};
  sb_append(&sb, "");
  kv_store_positions(s, b, l, g, pos);
  for (long i = 0; i < kv_store_len(s, b, l); i++) sb_printf(&sb, i ? " %ld" : "%ld", pos[i]);
  return sb.data;
}
static char *held(const KVStore *s, int l, int g) { return held_by(s, 0, l, g); }

#define EXPECT_HELD(s, l, g, want)   \
  do {                               \
    char *h_ = held(s, l, g);        \
    EXPECT_STR_EQ(h_, want);         \
    free(h_);                        \
  } while (0)

// The policy's score of sequence 0, layer l, kv head g: its len slots (CPU memory).
static float *score_of(const KVStore *s, int l, int g) { return s->score + kv_store_row(s, 0, l, g); }

// Folds observed weights w[H rows, stride] into layer l's scores as the attention ops do: kv head
// g adds the rows of its G query heads g·G .. g·G + G − 1, one after another.
static void add_weights(KVStore *s, int l, const float *w, int H, long stride) {
  int G = H / s->n_kv_heads;
  long n = kv_store_len(s, 0, l);
  for (int g = 0; g < s->n_kv_heads; g++)
    for (int r = 0; r < G; r++)
      for (long j = 0; j < n; j++) score_of(s, l, g)[j] += w[(size_t)(g * G + r) * stride + j];
}

TEST(window_keeps_the_last_budget_minus_one) {
  KVPolicy p;
  BenchErr err;
  EXPECT_INT_EQ(policy("{\"type\":\"window\",\"recent\":4}", &p, &err), 0);
  KVStore s;
  if (store(&s, 1, SL, SK, 8, 2, 0)) return;
  for (long t = 0; t < 12; t++) {
    append_token(&s, t);
    EXPECT(kv_store_len(&s, 0, 0) <= p.budget);  // what the step attends
    evict_all(&s, &p);
    EXPECT(kv_store_len(&s, 0, 0) <= 3 && kv_store_len(&s, 0, 1) == kv_store_len(&s, 0, 0));
    expect_consistent(&s);
  }
  EXPECT_HELD(&s, 0, 0, "9 10 11");
  EXPECT_HELD(&s, 1, 1, "9 10 11");
  kv_store_free(&s);
  // recent 1: nothing survives a step
  EXPECT_INT_EQ(policy("{\"type\":\"window\",\"recent\":1}", &p, &err), 0);
  if (store(&s, 1, SL, SK, 4, 0, 0)) return;
  for (long t = 0; t < 6; t++) {
    append_token(&s, t);
    evict_all(&s, &p);
    EXPECT_INT_EQ(kv_store_len(&s, 0, 0), 0);
  }
  kv_store_free(&s);
}

TEST(streaming_keeps_its_sinks) {
  KVPolicy p;
  BenchErr err;
  EXPECT_INT_EQ(policy("{\"type\":\"streaming\",\"sink\":2,\"recent\":3}", &p, &err), 0);
  KVStore s;
  // A prefill of 10 tokens, then steps.
  if (store(&s, 1, SL, SK, 16, 3, 0)) return;
  for (long t = 0; t < 10; t++) append_token(&s, t);
  evict_all(&s, &p);
  EXPECT_HELD(&s, 0, 0, "0 1 8 9");
  expect_consistent(&s);
  for (long t = 10; t < 20; t++) {
    append_token(&s, t);
    EXPECT(kv_store_len(&s, 0, 0) <= p.budget);
    evict_all(&s, &p);
    expect_consistent(&s);
    char *h = held(&s, 1, 1);
    char *want = xasprintf("0 1 %ld %ld", t - 1, t);
    EXPECT_STR_EQ(h, want);
    free(h);
    free(want);
  }
  kv_store_free(&s);
  // Early on, fewer tokens than sinks: nothing is evicted until the cache is full.
  EXPECT_INT_EQ(policy("{\"type\":\"streaming\",\"sink\":4,\"recent\":1}", &p, &err), 0);
  if (store(&s, 1, SL, SK, 8, 1, 0)) return;
  for (long t = 0; t < 7; t++) {
    append_token(&s, t);
    evict_all(&s, &p);
  }
  EXPECT_HELD(&s, 0, 1, "0 1 2 3");  // recent 1: only the token being read besides the sinks
  kv_store_free(&s);
}

// Step weights for H = 4 query heads over n slots: head h puts weight on the slots whose token is
// in its favourite set, spread evenly; the rest is uniform.
static void step_weights(float *w, long stride, const KVStore *s, int l, const long *fav, int nfav,
                         int H, int G) {
  long n = kv_store_len(s, 0, l), pos[64];
  CHECK(n <= 64);
  for (int h = 0; h < H; h++) {
    int g = h / G;
    kv_store_positions(s, 0, l, g, pos);
    float *row = w + (size_t)h * stride;
    int hits = 0;
    for (long j = 0; j < n; j++)
      for (int f = 0; f < nfav; f++) hits += pos[j] == fav[f] + h % 2;
    for (long j = 0; j < n; j++) {
      int hit = 0;
      for (int f = 0; f < nfav; f++) hit |= pos[j] == fav[f] + h % 2;
      row[j] = hits ? (hit ? 0.9f / (float)hits : 0.1f / (float)(n - hits > 0 ? n - hits : 1))
                    : 1.0f / (float)n;
    }
  }
}

TEST(h2o_keeps_heavy_hitters_per_kv_head) {
  KVPolicy p;
  BenchErr err;
  EXPECT_INT_EQ(policy("{\"type\":\"h2o\",\"heavy\":3,\"recent\":3}", &p, &err), 0);
  KVStore s;
  enum { CAP = 32, H = 4 };
  if (store(&s, 1, SL, SK, CAP, 5, 1)) return;
  float w[H * CAP];
  // Query heads 0, 1 share kv head 0, heads 2, 3 kv head 1 (G = 2). In layer 0 even heads put 0.9
  // of their weight on tokens 3 and 7 once read, odd heads on 4 and 8; in layer 1 on 4, 9 and
  // 5, 10. A kv head sums one head of each kind.
  const long fav0[] = {3, 7}, fav1[] = {4, 9};
  for (long t = 0; t < 20; t++) {
    append_token(&s, t);
    EXPECT(kv_store_len(&s, 0, 0) <= p.budget);
    step_weights(w, CAP, &s, 0, fav0, 2, H, 2);
    add_weights(&s, 0, w, H, CAP);
    step_weights(w, CAP, &s, 1, fav1, 2, H, 2);
    add_weights(&s, 1, w, H, CAP);
    evict_all(&s, &p);
    EXPECT(kv_store_len(&s, 0, 0) <= 5);
    expect_consistent(&s);
  }
  // Budget 6: the token read last (19) and the one before (18), plus 3 heavy hitters: token 0
  // (all the weight of the first queries, which see nothing else) and the favoured tokens read
  // first (3, 4 in layer 0; 4, 5 in layer 1), which have accumulated more than those favoured
  // later (7, 8; 9, 10) had when they left the recent slots.
  EXPECT_HELD(&s, 0, 0, "0 3 4 18 19");
  EXPECT_HELD(&s, 0, 1, "0 3 4 18 19");
  EXPECT_HELD(&s, 1, 0, "0 4 5 18 19");
  EXPECT_HELD(&s, 1, 1, "0 4 5 18 19");
  kv_store_free(&s);
}

TEST(h2o_heads_choose_apart) {
  // One query head per kv head (G = 1): kv head 0 favours token 1, kv head 1 token 4.
  KVPolicy p;
  BenchErr err;
  EXPECT_INT_EQ(policy("{\"type\":\"h2o\",\"heavy\":1,\"recent\":2}", &p, &err), 0);
  KVStore s;
  enum { CAP = 16 };
  if (store(&s, 1, 1, 2, CAP, 0, 1)) return;
  float w[2 * CAP];
  long pos[CAP];
  for (long t = 0; t < 10; t++) {
    append_token(&s, t);
    for (int g = 0; g < 2; g++) {
      long fav = g == 0 ? 1 : 4, n = kv_store_len(&s, 0, 0);
      kv_store_positions(&s, 0, 0, g, pos);
      for (long j = 0; j < n; j++) w[g * CAP + j] = pos[j] == fav ? 0.8f : 0.2f / (float)n;
    }
    add_weights(&s, 0, w, 2, CAP);
    evict_all(&s, &p);
    expect_consistent(&s);
  }
  EXPECT_HELD(&s, 0, 0, "1 9");
  EXPECT_HELD(&s, 0, 1, "4 9");
  kv_store_free(&s);
}

TEST(h2o_prefill_sort_matches_ranking) {
  // A prefill of 12 tokens with known scores, evicted to 5 (heavy 3, recent 3 → keep 5: the last
  // 2 plus the 3 best of the 10 older). Ties keep the older token.
  KVPolicy p;
  BenchErr err;
  EXPECT_INT_EQ(policy("{\"type\":\"h2o\",\"heavy\":3,\"recent\":3}", &p, &err), 0);
  KVStore s;
  if (store(&s, 1, 1, 1, 12, 4, 1)) return;
  for (long t = 0; t < 12; t++) append_token(&s, t);
  const float sc[12] = {0.5f, 3, 1, 7, 1, 3, 0.2f, 0.1f, 2, 2.5f, 9, 9};
  memcpy(score_of(&s, 0, 0), sc, sizeof sc);
  evict_all(&s, &p);
  EXPECT_HELD(&s, 0, 0, "1 3 5 10 11");
  EXPECT_NEAR(score_of(&s, 0, 0)[0], 3, 0, 0);
  EXPECT_NEAR(score_of(&s, 0, 0)[1], 7, 0, 0);
  EXPECT_NEAR(score_of(&s, 0, 0)[4], 9, 0, 0);
  expect_consistent(&s);
  kv_store_free(&s);
}

// Random policies and scripted random weights, on two sequences: the cache never holds more than
// budget − 1 after an eviction, sinks stay, recent tokens stay; h2o's steps decided on the device
// (lowest_of) hold what the host's select holds (a second store whose policy has no lowest_of).
TEST(budgets_are_never_exceeded) {
  Rng r;
  rng_seed(&r, 5);
  float w[4 * 64];
  for (int trial = 0; trial < 60; trial++) {
    KVPolicy p, q;
    BenchErr err;
    long a = (long)rng_below(&r, 6), b = 1 + (long)rng_below(&r, 8);
    char *json = trial % 3 == 0   ? xasprintf("{\"type\":\"window\",\"recent\":%ld}", b)
                 : trial % 3 == 1 ? xasprintf("{\"type\":\"streaming\",\"sink\":%ld,\"recent\":%ld}", a, b)
                                  : xasprintf("{\"type\":\"h2o\",\"heavy\":%ld,\"recent\":%ld}", a, b);
    EXPECT_INT_EQ(policy(json, &p, &err), 0);
    KVPolicyOps host_only = *p.ops;  // the same policy choosing every eviction on the host
    host_only.lowest_of = NULL;
    q = p;
    q.ops = &host_only;
    int scored = p.ops->score != KV_SCORE_NONE;
    KVStore s, s2;
    if (store(&s, 2, 1, 2, 64, trial % 5, scored)) return;
    if (store(&s2, 2, 1, 2, 64, trial % 5, scored)) return;
    long prefill = (long)rng_below(&r, 30);
    for (long t = 0; t < prefill + 30; t++) {
      append_token(&s, t);
      append_token(&s2, t);
      if (t >= prefill) EXPECT(kv_store_len(&s, 0, 0) <= p.budget);  // a step attends ≤ the budget
      if (t < prefill - 1) continue;  // the prefill evicts once, at its end
      if (scored) {
        for (int j = 0; j < 4 * 64; j++) w[j] = (float)(int)(8 * rng_uniform(&r));  // with ties
        add_weights(&s, 0, w, 4, 64);
        add_weights(&s2, 0, w, 4, 64);
      }
      evict_all(&s, &p);
      evict_all(&s2, &q);
      EXPECT(kv_store_len(&s, 0, 0) <= p.budget - 1 && kv_store_len(&s, 1, 0) == kv_store_len(&s, 0, 0));
      expect_consistent(&s);
      for (int sq = 0; sq < 2; sq++)
        for (int g = 0; g < 2; g++) {
          long pos[64], n = kv_store_len(&s, sq, 0);
          char *h1 = held_by(&s, sq, 0, g), *h2 = held_by(&s2, sq, 0, g);
          EXPECT_STR_EQ(h1, h2);
          free(h1);
          free(h2);
          kv_store_positions(&s, sq, 0, g, pos);
          if (b > 1) EXPECT_INT_EQ(pos[n - 1], t);  // the token just read stays
          if (b > 1 && n >= b - 1) EXPECT_INT_EQ(pos[n - (b - 1)], t - (b - 2));  // and recent − 2 before
          if (trial % 3 == 1)
            for (long i = 0; i < a && i < n; i++) EXPECT_INT_EQ(pos[i], i);  // sinks stay
        }
      if (test_current_failed) {
        fprintf(stderr, "  trial %d: %s, prefill %ld, t %ld\n", trial, json, prefill, t);
        break;
      }
    }
    kv_store_free(&s);
    kv_store_free(&s2);
    free(json);
  }
}

// A batch evicted in one call: each sequence keeps to its own rooms and its own scores.
TEST(sequences_keep_their_own_slots) {
  KVPolicy p;
  BenchErr err;
  EXPECT_INT_EQ(policy("{\"type\":\"h2o\",\"heavy\":1,\"recent\":2}", &p, &err), 0);
  KVStore s;
  enum { CAP = 8 };
  if (store(&s, 3, SL, SK, CAP, 2, 1)) return;
  for (long t = 0; t < 8; t++) {
    append_token(&s, t);
    // sequence b favours token b in every layer and kv head
    for (int b = 0; b < 3; b++)
      for (int l = 0; l < SL; l++)
        for (int g = 0; g < SK; g++) {
          long pos[CAP], n = kv_store_len(&s, b, l);
          kv_store_positions(&s, b, l, g, pos);
          float *sc = s.score + kv_store_row(&s, b, l, g);
          for (long j = 0; j < n; j++) sc[j] += pos[j] == b ? 1.0f : 0.01f;
        }
    evict_all(&s, &p);
    expect_consistent(&s);
  }
  for (int b = 0; b < 3; b++) {
    char *h = held_by(&s, b, 1, 1), *want = xasprintf("%d 7", b);
    EXPECT_STR_EQ(h, want);
    free(h);
    free(want);
  }
  kv_store_free(&s);
}

TEST(bytes) {
  // Pythia-2.8B: 32 layers, 32 heads of 80: 640 KiB per token in fp32.
  EXPECT_INT_EQ(kv_bytes(32, 32, 80, 1, 4), 655360);
  EXPECT_INT_EQ(kv_bytes(32, 32, 80, 256, 2), 256 * 327680L);
}

int main(void) {
  RUN(specs);
  RUN(window_keeps_the_last_budget_minus_one);
  RUN(streaming_keeps_its_sinks);
  RUN(h2o_keeps_heavy_hitters_per_kv_head);
  RUN(h2o_heads_choose_apart);
  RUN(h2o_prefill_sort_matches_ranking);
  RUN(budgets_are_never_exceeded);
  RUN(sequences_keep_their_own_slots);
  RUN(bytes);
  TEST_SUMMARY();
}
