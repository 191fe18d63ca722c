// test_decode.c — the decode protocol on small random models of every architecture (Llama with
// grouped queries, Mistral with its sliding window, Qwen2 with biases and tied embeddings,
// GPT-NeoX with partial rotary and parallel residual), fp32:
//   decode with prompt 1 and the full cache scores what one chunks pass scores (to the fp32 bound
//   of two evaluation orders, test.h's decoder_nll_rtol);
//   a larger prompt scores the chunks pass's tail;
//   every policy whose budget covers the sequence gives exactly the full result (bit for bit);
//   window(W) equals the forward with a W-token sliding-window mask;
//   small budgets are never exceeded, cache-mode positions stay below the budget, peak KV = budget;
//   batched windows equal windows stepped alone; a policy defined outside the engine (TOVA's rule:
//   scores replaced by the latest query's weights) runs, and evictions picked on the backend
//   (lowest_of) equal the host's select for it and h2o; job errors.
// Legend: V vocab, C hidden, N dataset tokens, L length, P prompt, W windows.
#include <stdlib.h>

#include "decode.h"
#include "eval.h"
#include "forward.h"
#include "random_model.h"
#include "rope.h"
#include "test.h"

enum { V = 64, C = 32, N = 240, NMODELS = 4 };

static char tmpdir[] = "/tmp/bench_test_decode_XXXXXX";
static Model models[NMODELS];
static const char *model_names[NMODELS] = {"llama", "mistral", "qwen2", "gpt_neox"};
static int32_t *tokens;  // [N]
static char *bin_path;
static json_t *rope_spec;

static EvalRequest request(const Model *m, const char *protocol, long L, long W, long P,
                           const json_t *cache) {
  EvalRequest q = {0};
  q.model = m;
  q.dataset_name = "rand";
  q.dataset_path = bin_path;
  q.rope = rope_spec;
  q.cache = cache;
  q.protocol = protocol;
  q.length = L;
  q.windows = W;
  q.prompt = P;
  q.warmup = 2;
  q.dtype = "fp32";
  q.threads = 1;
  q.keep_token_nll = 1;
  return q;
}

static json_t *cache_spec(const char *json) {
  json_error_t je;
  json_t *j = json_loads(json, 0, &je);
  if (!j) fprintf(stderr, "bad json %s: %s\n", json, je.text);
  return j;
}

// Two evaluation orders of one model over L tokens (the decode steps against one pass, batched
// against alone): a token's NLL within rtol·nll + atol (test.h's decoder_nll_rtol, atol its ln V).
static double order_rtol(const Model *m, long L) {
  const ModelConfig *c = &m->config;
  return decoder_nll_rtol(c->n_layers, c->hidden_size, c->head_dim, L, c->intermediate_size,
                          c->vocab_size, FP32_U);
}
static double order_atol(const Model *m, long L) {
  return order_rtol(m, L) * log((double)m->config.vocab_size);
}

// Runs a job; returns 0 and fills r, or fails the test.
static int run_job(const EvalRequest *q, EvalResult *r) {
  BenchErr err;
  int rc = eval_job(q, r, &err);
  if (rc != 0) TEST_FAIL_AT("eval_job (%s): %s", q->protocol, err.msg);
  return rc;
}

TEST(plan_is_chunks_from_the_prompt) {
  WindowPlan p;
  BenchErr err;
  EXPECT_INT_EQ(decode_plan(100, 20, 4, 6, "d", &p, &err), 0);
  EXPECT_INT_EQ(p.n, 4);
  EXPECT_INT_EQ(p.scored, 4 * 14);
  EXPECT_INT_EQ(p.needed, 80);
  EXPECT_INT_EQ(protocol_tokens_needed(PROTO_DECODE, 20, 4, 0), 80);
  for (long i = 0; i < p.n; i++) {
    EXPECT_INT_EQ(p.w[i].start, 20 * i);
    EXPECT_INT_EQ(p.w[i].len, 20);
    EXPECT_INT_EQ(p.w[i].score_from, 5);
  }
  window_plan_free(&p);
  EXPECT_INT_EQ(decode_plan(79, 20, 4, 6, "d", &p, &err), -1);
  EXPECT_CONTAINS(err.msg, "dataset 'd' has 79 tokens; length 20 × 4 windows needs 80");
  EXPECT_INT_EQ(decode_plan(100, 20, 4, 20, "d", &p, &err), -1);
  EXPECT_CONTAINS(err.msg, "decode prompt 20 is out of range (1 to 19");
  EXPECT(p.w == NULL);
}

TEST(prompt_1_full_equals_chunks) {
  for (int i = 0; i < NMODELS; i++) {
    EvalResult a, b;
    EvalRequest qa = request(&models[i], "decode", 24, 3, 1, NULL);
    EvalRequest qb = request(&models[i], "chunks", 24, 3, 0, NULL);
    if (run_job(&qa, &a) || run_job(&qb, &b)) continue;
    EXPECT_INT_EQ(a.tokens, 3 * 23);
    EXPECT_INT_EQ(b.tokens, a.tokens);
    EXPECT_ARRAY_NEAR(a.token_nll, b.token_nll, a.tokens, order_rtol(&models[i], 24),
                      order_atol(&models[i], 24));
    EXPECT_NEAR(a.nll, b.nll, order_rtol(&models[i], 24), order_atol(&models[i], 24));
    // an argmax may flip only at a near-tie of the top two logits; 0.05 allows three of 69 tokens
    EXPECT_NEAR(a.acc, b.acc, 0, 0.05);
    EXPECT_INT_EQ(a.kv_peak_tokens, 23);
    EXPECT_INT_EQ(a.kv_budget, 23);
    EXPECT_INT_EQ(a.kv_prefill_tokens, 0);
    EXPECT_INT_EQ(a.kv_peak_bytes, a.kv_full_bytes);
    EXPECT_INT_EQ(a.timed_tokens, 3 * (23 - 2));  // warmup 2 steps per batch
    EXPECT(a.tokens_per_s > 0);
    EXPECT_INT_EQ(a.n_windows, 3);
    if (test_current_failed) fprintf(stderr, "  model %s\n", model_names[i]);
    eval_result_free(&a);
    eval_result_free(&b);
  }
}

TEST(prompt_p_full_equals_chunks_tail) {
  enum { L = 24, W = 2, P = 9 };
  for (int i = 0; i < NMODELS; i++) {
    EvalResult a, b;
    EvalRequest qa = request(&models[i], "decode", L, W, P, NULL);
    EvalRequest qb = request(&models[i], "chunks", L, W, 0, NULL);
    if (run_job(&qa, &a) || run_job(&qb, &b)) continue;
    EXPECT_INT_EQ(a.tokens, W * (L - P));
    EXPECT_INT_EQ(a.kv_prefill_tokens, P - 1);
    // chunks scores targets 1..L−1 of each window; decode targets P..L−1.
    for (int w = 0; w < W; w++)
      EXPECT_ARRAY_NEAR(a.token_nll + w * (L - P), b.token_nll + w * (L - 1) + (P - 1), L - P,
                        order_rtol(&models[i], L), order_atol(&models[i], L));
    EXPECT_INT_EQ(a.n_by_position, 8);  // offsets 9..23 in buckets of width 2: 4..11
    if (test_current_failed) fprintf(stderr, "  model %s\n", model_names[i]);
    eval_result_free(&a);
    eval_result_free(&b);
  }
}

TEST(covering_budgets_equal_full_exactly) {
  enum { L = 20, W = 2, P = 5 };
  const char *specs[] = {
      "{\"type\":\"window\",\"recent\":19}",
      "{\"type\":\"window\",\"recent\":100}",
      "{\"type\":\"streaming\",\"sink\":2,\"recent\":17}",
      "{\"type\":\"streaming\",\"sink\":2,\"recent\":17,\"positions\":\"original\"}",
      "{\"type\":\"streaming\",\"sink\":0,\"recent\":40,\"positions\":\"cache\"}",
      "{\"type\":\"h2o\",\"heavy\":3,\"recent\":16}",
      "{\"type\":\"h2o\",\"heavy\":0,\"recent\":19,\"positions\":\"cache\"}",
  };
  for (int i = 0; i < NMODELS; i++) {
    EvalResult full;
    EvalRequest qf = request(&models[i], "decode", L, W, P, NULL);
    if (run_job(&qf, &full)) continue;
    for (size_t s = 0; s < sizeof specs / sizeof specs[0]; s++) {
      json_t *spec = cache_spec(specs[s]);
      EvalRequest q = request(&models[i], "decode", L, W, P, spec);
      EvalResult r;
      if (run_job(&q, &r) == 0) {
        EXPECT_INT_EQ(r.tokens, full.tokens);
        EXPECT_ARRAY_NEAR(r.token_nll, full.token_nll, r.tokens, 0, 0);
        EXPECT_NEAR(r.acc, full.acc, 0, 0);
        EXPECT_INT_EQ(r.kv_peak_tokens, L - 1);
        if (test_current_failed) fprintf(stderr, "  model %s, cache %s\n", model_names[i], specs[s]);
        eval_result_free(&r);
      }
      json_decref(spec);
    }
    eval_result_free(&full);
  }
}

// The forward over a window with every layer masked to a sliding window of W tokens.
static void sliding_reference(const Model *m, long W, long start, long L, float *nll) {
  Model masked = *m;
  masked.config.sliding_window = (int)W;
  masked.config.sliding_window_from_layer = 0;
  RopeTable rope = rm_rope(m->config.rotary_dims, 10000.0, 1.0);
  uint8_t *ok = xmalloc((size_t)L);
  ForwardOptions opt = {.threads = 1};
  BenchErr err;
  if (forward_score_window(&masked, &rope, tokens + start, L, 0, nll, ok, &opt, &err) != 0)
    TEST_FAIL_AT("forward: %s", err.msg);
  free(ok);
  rm_rope_free(&rope);
}

TEST(window_equals_sliding_window_mask) {
  enum { L = 24, W = 2, R = 5 };
  json_t *spec = cache_spec("{\"type\":\"window\",\"recent\":5}");
  float ref[L];
  for (int i = 0; i < NMODELS; i++) {
    for (long P = 1; P <= R + 1; P += R) {  // prompts whose prefill fits the window: 1, R + 1
      EvalRequest q = request(&models[i], "decode", L, W, P, spec);
      EvalResult r;
      if (run_job(&q, &r)) continue;
      EXPECT_INT_EQ(r.kv_peak_tokens, R);
      EXPECT_INT_EQ(r.kv_budget, R);
      for (int w = 0; w < W; w++) {
        sliding_reference(&models[i], R, (long)w * L, L, ref);
        EXPECT_ARRAY_NEAR(r.token_nll + w * (L - P), ref + (P - 1), L - P, order_rtol(&models[i], L),
                          order_atol(&models[i], L));
      }
      if (test_current_failed) fprintf(stderr, "  model %s, prompt %ld\n", model_names[i], P);
      eval_result_free(&r);
    }
  }
  json_decref(spec);
}

// Steps a batch by hand and checks, before every step, what each cache holds.
static void expect_budget_kept(const Model *m, const char *json, long prefill, long steps) {
  json_t *spec = cache_spec(json);
  KVPolicy p;
  BenchErr err;
  if (kv_policy_from_spec(spec, &p, &err) != 0) {
    TEST_FAIL_AT("%s: %s", json, err.msg);
    json_decref(spec);
    return;
  }
  enum { B = 2 };
  RopeTable rope = rm_rope(m->config.rotary_dims, 10000.0, 1.0);
  DecodeState d;
  ForwardOptions opt = {.threads = 1};
  long cap = prefill > p.budget ? prefill : p.budget;
  if (decode_init(&d, m, backend_cpu(), &rope, &p, B, cap, prefill, &opt, &err) != 0) {
    TEST_FAIL_AT("decode_init: %s", err.msg);
  } else {
    for (int b = 0; b < B; b++)
      if (decode_prefill(&d, b, tokens + b * 100, prefill, &err) != 0)
        TEST_FAIL_AT("prefill: %s", err.msg);
    EXPECT_INT_EQ(d.prefill_keys, prefill);
    long *pos = xmalloc(sizeof(long) * (size_t)cap), *pos0 = xmalloc(sizeof(long) * (size_t)cap);
    for (long t = prefill; t < prefill + steps; t++) {
      int32_t tok[B] = {tokens[t], tokens[100 + t]}, tgt[B] = {tokens[t + 1], tokens[101 + t]};
      for (int b = 0; b < B; b++)
        for (int l = 0; l < m->config.n_layers; l++) {
          long held = kv_store_len(&d.cache, b, l);
          // the step's query sits at slot `held`; in cache mode that is its position
          if (held > p.budget - 1) TEST_FAIL_AT("%s: %ld slots held before step %ld", json, held, t);
          for (int g = 0; g < m->config.n_kv_heads; g++) {
            kv_store_positions(&d.cache, b, l, g, pos);
            for (long s = 0; s < held; s++) {
              if (pos[s] >= t) TEST_FAIL_AT("future token held");
              if (s > 0 && pos[s] <= pos[s - 1]) TEST_FAIL_AT("slots out of order");
            }
            // without scores every layer and kv head of a sequence holds the same tokens
            if (l == 0 && g == 0) memcpy(pos0, pos, sizeof(long) * (size_t)held);
            if (p.ops->score == KV_SCORE_NONE && memcmp(pos, pos0, sizeof(long) * (size_t)held))
              TEST_FAIL_AT("%s: layer %d kv head %d holds other tokens than layer 0", json, l, g);
          }
        }
      float nll[B];
      uint8_t ok[B];
      if (decode_step(&d, tok, t, tgt, nll, ok, &err) != 0) TEST_FAIL_AT("step: %s", err.msg);
      EXPECT(isfinite(nll[0]) && isfinite(nll[1]));
    }
    EXPECT_INT_EQ(d.peak_keys, p.budget);
    decode_free(&d);
    free(pos);
    free(pos0);
  }
  rm_rope_free(&rope);
  json_decref(spec);
}

TEST(small_budgets_are_never_exceeded) {
  for (int i = 0; i < NMODELS; i++) {
    expect_budget_kept(&models[i], "{\"type\":\"streaming\",\"sink\":2,\"recent\":4}", 9, 20);
    expect_budget_kept(&models[i], "{\"type\":\"streaming\",\"sink\":3,\"recent\":2,\"positions\":\"original\"}", 2, 20);
    expect_budget_kept(&models[i], "{\"type\":\"h2o\",\"heavy\":3,\"recent\":3}", 12, 20);
    expect_budget_kept(&models[i], "{\"type\":\"h2o\",\"heavy\":2,\"recent\":1,\"positions\":\"cache\"}", 1, 20);
    expect_budget_kept(&models[i], "{\"type\":\"window\",\"recent\":3}", 7, 20);
    expect_budget_kept(&models[i], "{\"type\":\"window\",\"recent\":1}", 3, 10);
  }
  // Through the job: peak = budget, savings against the full cache of the same job.
  json_t *spec = cache_spec("{\"type\":\"h2o\",\"heavy\":4,\"recent\":4}");
  EvalRequest q = request(&models[3], "decode", 40, 2, 12, spec);
  EvalResult r;
  if (run_job(&q, &r) == 0) {
    const ModelConfig *c = &models[3].config;
    EXPECT_INT_EQ(r.tokens, 2 * 28);
    EXPECT_INT_EQ(r.kv_budget, 8);
    EXPECT_INT_EQ(r.kv_peak_tokens, 8);
    EXPECT_INT_EQ(r.kv_prefill_tokens, 11);
    EXPECT_INT_EQ(r.kv_peak_bytes, kv_bytes(c->n_layers, c->n_kv_heads, c->head_dim, 8, 4));
    EXPECT_INT_EQ(r.kv_full_bytes, kv_bytes(c->n_layers, c->n_kv_heads, c->head_dim, 39, 4));
    EXPECT(isfinite(r.nll));
    eval_result_free(&r);
  }
  json_decref(spec);
}

TEST(policies_change_the_numbers_when_they_evict) {
  enum { L = 40, W = 2, P = 4 };
  const char *specs[] = {
      "{\"type\":\"window\",\"recent\":6}",
      "{\"type\":\"streaming\",\"sink\":2,\"recent\":4}",
      "{\"type\":\"streaming\",\"sink\":2,\"recent\":4,\"positions\":\"original\"}",
      "{\"type\":\"h2o\",\"heavy\":3,\"recent\":3}",
  };
  double nll[4];
  EvalResult full;
  EvalRequest qf = request(&models[0], "decode", L, W, P, NULL);
  if (run_job(&qf, &full)) return;
  for (int s = 0; s < 4; s++) {
    json_t *spec = cache_spec(specs[s]);
    EvalRequest q = request(&models[0], "decode", L, W, P, spec);
    EvalResult a, b;
    if (run_job(&q, &a) == 0 && run_job(&q, &b) == 0) {
      nll[s] = a.nll;
      EXPECT(a.nll != full.nll);
      EXPECT_ARRAY_NEAR(a.token_nll, b.token_nll, a.tokens, 0, 0);  // deterministic
      // the predictions made before anything was evicted agree with full
      EXPECT_ARRAY_NEAR(a.token_nll, full.token_nll, 2, 0, 0);
      eval_result_free(&a);
      eval_result_free(&b);
    }
    json_decref(spec);
  }
  // window 6 and streaming 2 + 4 hold the same budget but different tokens; cache and original
  // positions rotate the same tokens differently.
  EXPECT(nll[0] != nll[1] && nll[1] != nll[2] && nll[3] != nll[1]);
  eval_result_free(&full);
}

TEST(batched_windows_equal_windows_alone) {
  enum { B = 3, P = 6, T = 30 };
  KVPolicy p;
  BenchErr err;
  json_t *spec = cache_spec("{\"type\":\"h2o\",\"heavy\":3,\"recent\":4}");
  EXPECT_INT_EQ(kv_policy_from_spec(spec, &p, &err), 0);
  const Model *m = &models[0];
  RopeTable rope = rm_rope(m->config.rotary_dims, 10000.0, 1.0);
  ForwardOptions opt = {.threads = 1};
  float batched[B][T], alone[B][T];
  DecodeState d;
  EXPECT_INT_EQ(decode_init(&d, m, backend_cpu(), &rope, &p, B, 8, P, &opt, &err), 0);
  for (int b = 0; b < B; b++) EXPECT_INT_EQ(decode_prefill(&d, b, tokens + 50 * b, P, &err), 0);
  for (long t = P; t < T; t++) {
    int32_t tok[B], tgt[B];
    float nll[B];
    uint8_t ok[B];
    for (int b = 0; b < B; b++) tok[b] = tokens[50 * b + t], tgt[b] = tokens[50 * b + t + 1];
    EXPECT_INT_EQ(decode_step(&d, tok, t, tgt, nll, ok, &err), 0);
    for (int b = 0; b < B; b++) batched[b][t] = nll[b];
  }
  decode_free(&d);
  for (int b = 0; b < B; b++) {
    EXPECT_INT_EQ(decode_init(&d, m, backend_cpu(), &rope, &p, 1, 8, P, &opt, &err), 0);
    EXPECT_INT_EQ(decode_prefill(&d, 0, tokens + 50 * b, P, &err), 0);
    for (long t = P; t < T; t++) {
      uint8_t ok;
      EXPECT_INT_EQ(decode_step(&d, tokens + 50 * b + t, t, tokens + 50 * b + t + 1, &alone[b][t],
                                &ok, &err),
                    0);
    }
    decode_free(&d);
    EXPECT_ARRAY_NEAR(batched[b] + P, alone[b] + P, T - P, order_rtol(m, T), order_atol(m, T));
  }
  rm_rope_free(&rope);
  json_decref(spec);
}

// A policy written outside the engine, as a new one would be (kvcache.h, "Writing a policy"):
// TOVA's rule — the `budget` − 1 slots that the latest query weighs most stay (score LAST, observe
// the block's last query); on equal scores the older stays.
static int tova_init(KVPolicy *p, BenchErr *err) {
  if (p->arg[0] < 1) return err_set(err, "'budget' must be ≥ 1");
  p->budget = p->arg[0];
  p->observe = 1;
  return 0;
}

static void tova_select(const KVPolicy *p, long n, long keep, const long *pos, const float *score,
                        uint8_t *keep_mask) {
  (void)p, (void)pos;
  for (long i = 0; i < n; i++) keep_mask[i] = 1;
  for (long d = 0; d < n - keep; d++) {  // drop the lowest, the newest of equals
    long worst = -1;
    for (long i = 0; i < n; i++)
      if (keep_mask[i] && (worst < 0 || score[i] <= score[worst])) worst = i;
    keep_mask[worst] = 0;
  }
}

static long tova_lowest_of(const KVPolicy *p, long n, long keep) {
  (void)p, (void)keep;
  return n;
}

static const KVPolicyOps tova_ops = {
    .type = "tova",
    .args = {"budget", NULL},
    .default_positions = KV_POS_ORIGINAL,
    .score = KV_SCORE_LAST,
    .init = tova_init,
    .select = tova_select,
    .lowest_of = tova_lowest_of,
};

// NLLs of B = 2 windows decoded under p: prefill P, then steps to T.
static void decode_windows(const Model *m, const KVPolicy *p, long P, long T, float *nll) {
  RopeTable rope = rm_rope(m->config.rotary_dims, 10000.0, 1.0);
  ForwardOptions opt = {.threads = 1};
  long keep = kv_policy_keep(p), cap = keep < 0 || keep + 1 < P ? T : keep + 1;
  DecodeState d;
  BenchErr err;
  if (decode_init(&d, m, backend_cpu(), &rope, p, 2, cap, P, &opt, &err) != 0) {
    TEST_FAIL_AT("decode_init: %s", err.msg);
    rm_rope_free(&rope);
    return;
  }
  for (int b = 0; b < 2; b++)
    if (decode_prefill(&d, b, tokens + 100 * b, P, &err)) TEST_FAIL_AT("prefill: %s", err.msg);
  for (long t = P; t < T; t++) {
    int32_t tok[2] = {tokens[t], tokens[100 + t]}, tgt[2] = {tokens[t + 1], tokens[101 + t]};
    uint8_t ok[2];
    if (decode_step(&d, tok, t, tgt, nll + 2 * (t - P), ok, &err)) TEST_FAIL_AT("step: %s", err.msg);
    if (p->budget > 0 && d.peak_keys > p->budget) TEST_FAIL_AT("budget exceeded");
  }
  decode_free(&d);
  rm_rope_free(&rope);
}

TEST(a_policy_from_its_own_file_runs_and_device_picks_agree) {
  enum { P = 9, T = 40 };
  float a[2 * T], b[2 * T], full[2 * T];
  for (int i = 0; i < NMODELS; i++) {
    // TOVA through the device's pick (kv_argmin) and through its select: the same numbers
    KVPolicy p = {.ops = &tova_ops, .arg = {6}, .positions = KV_POS_ORIGINAL}, q;
    BenchErr err;
    EXPECT_INT_EQ(tova_init(&p, &err), 0);
    KVPolicyOps host_only = tova_ops;
    host_only.lowest_of = NULL;
    q = p;
    q.ops = &host_only;
    decode_windows(&models[i], &p, P, T, a);
    decode_windows(&models[i], &q, P, T, b);
    EXPECT_ARRAY_NEAR(a, b, 2 * (T - P), 0, 0);
    for (long k = 0; k < 2 * (T - P); k++) EXPECT(isfinite(a[k]));
    // a budget covering the sequence gives exactly full
    KVPolicy f, cover = p;
    cover.budget = T + 1;
    EXPECT_INT_EQ(kv_policy_from_spec(NULL, &f, &err), 0);
    decode_windows(&models[i], &cover, P, T, a);
    decode_windows(&models[i], &f, P, T, full);
    EXPECT_ARRAY_NEAR(a, full, 2 * (T - P), 0, 0);
    // h2o the same way: its steps picked on the device, or all on the host
    json_t *spec = cache_spec("{\"type\":\"h2o\",\"heavy\":3,\"recent\":4}");
    EXPECT_INT_EQ(kv_policy_from_spec(spec, &p, &err), 0);
    host_only = *p.ops;
    host_only.lowest_of = NULL;
    q = p;
    q.ops = &host_only;
    decode_windows(&models[i], &p, P, T, a);
    decode_windows(&models[i], &q, P, T, b);
    EXPECT_ARRAY_NEAR(a, b, 2 * (T - P), 0, 0);
    json_decref(spec);
    if (test_current_failed) fprintf(stderr, "  model %s\n", model_names[i]);
  }
}

static void expect_job_error(EvalRequest q, const char *want) {
  EvalResult r;
  BenchErr err;
  EXPECT_INT_EQ(eval_job(&q, &r, &err), -1);
  EXPECT_CONTAINS(err.msg, want);
}

TEST(job_errors) {
  expect_job_error(request(&models[0], "decode", 16, 1, 0, NULL),
                   "decode prompt 0 is out of range (1 to 15: a length of 16 is prompt + generated tokens)");
  expect_job_error(request(&models[0], "decode", 16, 1, 16, NULL), "decode prompt 16 is out of range");
  expect_job_error(request(&models[0], "decode", 100, 3, 4, NULL),
                   "dataset 'rand' has 240 tokens; length 100 × 3 windows needs 300");
  json_t *spec = cache_spec("{\"type\":\"streaming\",\"sink\":4,\"recent\":12}");
  expect_job_error(request(&models[0], "chunks", 16, 1, 0, spec),
                   "cache policy 'streaming' needs protocol 'decode'");
  json_decref(spec);
  spec = cache_spec("{\"type\":\"h2o\",\"heavy\":4}");
  expect_job_error(request(&models[0], "decode", 16, 1, 4, spec), "cache policy 'h2o' needs 'recent'");
  json_decref(spec);
}

int main(void) {
  if (!mkdtemp(tmpdir)) return 1;
  ModelConfig cfgs[NMODELS] = {
      rm_config(ARCH_LLAMA, V, C, 2, 4, 2, 64, 1.0),
      rm_config(ARCH_MISTRAL, V, C, 2, 4, 2, 64, 1.0),
      rm_config(ARCH_QWEN2, V, C, 2, 4, 1, 64, 1.0),
      rm_config(ARCH_GPT_NEOX, V, C, 2, 4, 4, 64, 0.5),
  };
  cfgs[1].sliding_window = 7;  // Mistral: the model's own window, applied by token index
  for (int i = 0; i < NMODELS; i++) {
    rm_init(&models[i], &cfgs[i], 100 + (uint64_t)i);
    models[i].dir = tmpdir;
  }
  tokens = rm_tokens(N, V, 77);
  bin_path = path_join(tmpdir, "rand.bin");
  BenchErr err;
  if (benchtok_write(bin_path, tokens, N, 4, 1, &err) != 0) {
    fprintf(stderr, "%s\n", err.msg);
    return 1;
  }
  rope_spec = json_pack("{s:s,s:s,s:f}", "name", "geo", "type", "geometric", "theta", 10000.0);
  RUN(plan_is_chunks_from_the_prompt);
  RUN(prompt_1_full_equals_chunks);
  RUN(prompt_p_full_equals_chunks_tail);
  RUN(covering_budgets_equal_full_exactly);
  RUN(window_equals_sliding_window_mask);
  RUN(small_budgets_are_never_exceeded);
  RUN(policies_change_the_numbers_when_they_evict);
  RUN(batched_windows_equal_windows_alone);
  RUN(a_policy_from_its_own_file_runs_and_device_picks_agree);
  RUN(job_errors);
  json_decref(rope_spec);
  free(tokens);
  free(bin_path);
  for (int i = 0; i < NMODELS; i++) {
    models[i].dir = NULL;
    rm_free(&models[i]);
  }
  char *cmd = xasprintf("rm -rf %s", tmpdir);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
  free(cmd);
  TEST_SUMMARY();
}
