// test_eval_job.c — eval_job on a small random model against forward_score_window called
// directly: chunks, sliding (S = L is chunks; S < L window by window), half and random score
// exactly the NLLs the forward gives for the windows eval.h defines; metrics agree with them;
// job errors (short dataset, decode without a prompt, a policy with a one-pass protocol, ids
// outside the vocabulary). Engines: every protocol on a CPU engine gives bit for bit what it gives
// without one, and runs on an engine's backend and weights (an emulating backend changes the
// numbers exactly as the forward on that backend does; decode passes the backend through).
#include <stdlib.h>

#include "emu_backend.h"
#include "engine.h"
#include "eval.h"
#include "forward.h"
#include "model_init.h"
#include "random_model.h"
#include "rope.h"
#include "test.h"

// Legend: V vocab, C hidden, N dataset tokens.
enum { V = 64, C = 32, N = 200 };

static char tmpdir[] = "/tmp/bench_test_eval_job_XXXXXX";
static Model model;
static int32_t *tokens;  // [N]
static char *bin_path;
static json_t *rope_spec;

static EvalRequest request(const char *protocol, long L, long W, long S, uint64_t seed) {
  EvalRequest q = {0};
  q.model = &model;
  q.dataset_name = "rand";
  q.dataset_path = bin_path;
  q.rope = rope_spec;
  q.protocol = protocol;
  q.length = L;
  q.windows = W;
  q.stride = S;
  q.seed = seed;
  q.dtype = "fp32";
  q.threads = 1;
  q.keep_token_nll = 1;
  return q;
}

// The NLLs forward_score_window gives for the plan's windows with opt (NULL: the CPU's),
// concatenated ([plan.scored]).
static float *direct_nll_on(const WindowPlan *plan, long L, const ForwardOptions *on) {
  RopeModelInfo info = {.head_dim = model.config.head_dim,
                        .partial_rotary_factor = model.config.partial_rotary_factor,
                        .rope_theta = model.config.rope_theta,
                        .max_position_embeddings = model.config.max_position_embeddings,
                        .rope_scaling_json = NULL};
  RopeTable rope;
  BenchErr err;
  if (rope_build(rope_spec, &info, L, &rope, &err) != 0) {
    TEST_FAIL_AT("rope_build: %s", err.msg);
    return NULL;
  }
  float *all = xmalloc((size_t)(plan->scored + 1) * sizeof *all);
  float *nll = xmalloc((size_t)L * sizeof *nll);
  uint8_t *ok = xmalloc((size_t)L);
  ForwardOptions opt = {.threads = 1, .fp64_check = 0};
  if (on) opt = *on;
  long k = 0;
  for (long i = 0; i < plan->n; i++) {
    const EvalWindow *w = &plan->w[i];
    if (forward_score_window(&model, &rope, tokens + w->start, w->len, w->score_from, nll, ok, &opt,
                             &err) != 0)
      TEST_FAIL_AT("forward: %s", err.msg);
    long n = w->len - 1 - w->score_from;
    memcpy(all + k, nll, (size_t)n * sizeof *nll);
    k += n;
  }
  free(nll);
  free(ok);
  rope_table_free(&rope);
  return all;
}

static float *direct_nll(const WindowPlan *plan, long L) { return direct_nll_on(plan, L, NULL); }

static void expect_matches_direct(const char *protocol, long L, long W, long S, uint64_t seed) {
  Protocol p;
  BenchErr err;
  EXPECT_INT_EQ(protocol_from_name(protocol, &p, &err), 0);
  WindowPlan plan;
  EXPECT_INT_EQ(plan_windows(p, N, L, W, S, seed, "rand", &plan, &err), 0);
  EvalRequest q = request(protocol, L, W, S, seed);
  EvalResult r;
  int rc = eval_job(&q, &r, &err);
  EXPECT_INT_EQ(rc, 0);
  if (rc != 0) {
    fprintf(stderr, "eval_job: %s\n", err.msg);
    window_plan_free(&plan);
    return;
  }
  EXPECT_INT_EQ(r.tokens, plan.scored);
  float *want = direct_nll(&plan, L);
  if (want) EXPECT_ARRAY_NEAR(r.token_nll, want, plan.scored, 0, 0);
  double sum = 0;
  for (long i = 0; i < r.tokens; i++) sum += r.token_nll[i];
  EXPECT_NEAR(r.nll, sum / (double)r.tokens, 1e-9, 0);
  EXPECT_NEAR(r.ppl, exp(r.nll), 1e-12, 0);
  EXPECT(r.nll_stderr > 0);
  EXPECT(r.acc >= 0 && r.acc <= 1);
  EXPECT_INT_EQ(r.n_windows, W);
  EXPECT_INT_EQ(r.kv_peak_tokens, L);
  EXPECT_INT_EQ(r.dataset_tokens, N);
  EXPECT(r.peak_mem_bytes > 0);
  EXPECT(r.tokens_per_s > 0);
  EXPECT(r.wall_s >= r.forward_s);
  EXPECT(r.n_by_position >= 1);
  free(want);
  eval_result_free(&r);
  window_plan_free(&plan);
}

TEST(protocols_score_what_the_forward_gives) {
  expect_matches_direct("chunks", 16, 4, 0, 0);
  expect_matches_direct("half", 16, 4, 0, 0);
  expect_matches_direct("sliding", 16, 5, 6, 0);
  expect_matches_direct("sliding", 32, 4, 0, 0);
  expect_matches_direct("random", 24, 5, 0, 42);
}

TEST(sliding_stride_length_equals_chunks) {
  BenchErr err;
  EvalRequest qa = request("sliding", 16, 6, 16, 0), qb = request("chunks", 16, 6, 0, 0);
  EvalResult a, b;
  EXPECT_INT_EQ(eval_job(&qa, &a, &err), 0);
  EXPECT_INT_EQ(eval_job(&qb, &b, &err), 0);
  EXPECT_INT_EQ(a.tokens, b.tokens);
  EXPECT_ARRAY_NEAR(a.token_nll, b.token_nll, a.tokens, 0, 0);
  EXPECT_NEAR(a.nll, b.nll, 0, 0);
  eval_result_free(&a);
  eval_result_free(&b);
}

TEST(random_depends_on_seed_only) {
  BenchErr err;
  EvalRequest q1 = request("random", 16, 3, 0, 7), q2 = request("random", 16, 3, 0, 8);
  EvalResult a, b, c;
  EXPECT_INT_EQ(eval_job(&q1, &a, &err), 0);
  EXPECT_INT_EQ(eval_job(&q1, &b, &err), 0);
  EXPECT_INT_EQ(eval_job(&q2, &c, &err), 0);
  EXPECT_NEAR(a.nll, b.nll, 0, 0);
  EXPECT(a.nll != c.nll);
  eval_result_free(&a);
  eval_result_free(&b);
  eval_result_free(&c);
}

// Every protocol on a CPU engine: the same bits as without an engine, computed in fp32.
TEST(cpu_engine_gives_the_same_bits) {
  Engine e;
  BenchErr err;
  EXPECT_INT_EQ(engine_open(&e, &model, "cpu", DTYPE_BF16, &err), 0);
  const char *protos[] = {"chunks", "half", "sliding", "random", "decode"};
  for (size_t i = 0; i < sizeof protos / sizeof *protos; i++) {
    EvalRequest q = request(protos[i], 16, 4, 6, 3);
    q.prompt = 5;
    EvalResult a, b;
    EXPECT_INT_EQ(eval_job(&q, &a, &err), 0);
    q.engine = &e;
    int rc = eval_job(&q, &b, &err);
    EXPECT_INT_EQ(rc, 0);
    if (rc != 0) {
      fprintf(stderr, "%s on the cpu engine: %s\n", protos[i], err.msg);
      eval_result_free(&a);
      continue;
    }
    EXPECT_INT_EQ(a.tokens, b.tokens);
    EXPECT(memcmp(a.token_nll, b.token_nll, (size_t)a.tokens * sizeof(float)) == 0);
    EXPECT_NEAR(a.nll, b.nll, 0, 0);
    EXPECT_STR_EQ(b.compute_dtype, "fp32");
    EXPECT(b.peak_mem_bytes > 0);
    eval_result_free(&a);
    eval_result_free(&b);
  }
  // An engine opened on another model is refused.
  Model other = model;
  EvalRequest q = request("chunks", 16, 2, 0, 0);
  q.model = &other;
  q.engine = &e;
  EvalResult r;
  EXPECT_INT_EQ(eval_job(&q, &r, &err), -1);
  EXPECT_CONTAINS(err.msg, "another model");
  engine_close(&e);
}

// An engine whose backend rounds to bf16 (emu_backend.h): every one-pass protocol scores exactly
// what the forward on that backend and its weights gives, which is not what the CPU gives; decode
// is handed the engine's backend (it either runs on it or refuses it by name).
TEST(protocols_run_on_the_engine_backend) {
  Engine e;
  memset(&e, 0, sizeof e);
  snprintf(e.device, sizeof e.device, "cpu");
  e.gpu = -1;
  e.be = emu_backend(DTYPE_BF16);
  e.dtype = DTYPE_BF16;
  e.model = &model;
  BenchErr err;
  EXPECT_INT_EQ(e.be->weights_upload(&e.weights, &model, &err), 0);
  ForwardOptions on = {.threads = 1, .backend = e.be, .weights = &e.weights};
  const char *protos[] = {"chunks", "half", "sliding", "random"};
  for (size_t i = 0; i < sizeof protos / sizeof *protos; i++) {
    Protocol p;
    EXPECT_INT_EQ(protocol_from_name(protos[i], &p, &err), 0);
    WindowPlan plan;
    EXPECT_INT_EQ(plan_windows(p, N, 16, 4, 6, 3, "rand", &plan, &err), 0);
    EvalRequest q = request(protos[i], 16, 4, 6, 3);
    q.engine = &e;
    EvalResult r;
    EXPECT_INT_EQ(eval_job(&q, &r, &err), 0);
    float *want = direct_nll_on(&plan, 16, &on), *cpu = direct_nll(&plan, 16);
    EXPECT_INT_EQ(r.tokens, plan.scored);
    EXPECT(memcmp(r.token_nll, want, (size_t)plan.scored * sizeof(float)) == 0);
    EXPECT(memcmp(r.token_nll, cpu, (size_t)plan.scored * sizeof(float)) != 0);
    free(want);
    free(cpu);
    eval_result_free(&r);
    window_plan_free(&plan);
  }
  EvalRequest q = request("decode", 16, 2, 0, 0);
  q.prompt = 5;
  EvalResult a, b;
  EXPECT_INT_EQ(eval_job(&q, &a, &err), 0);
  q.engine = &e;
  if (eval_job(&q, &b, &err) == 0) {
    EXPECT(memcmp(a.token_nll, b.token_nll, (size_t)a.tokens * sizeof(float)) != 0);
    eval_result_free(&b);
  } else {
    EXPECT_CONTAINS(err.msg, e.be->name);
  }
  eval_result_free(&a);
  e.be->weights_free(&e.weights);
}

static void expect_job_error(EvalRequest q, const char *want) {
  EvalResult r;
  BenchErr err;
  EXPECT_INT_EQ(eval_job(&q, &r, &err), -1);
  EXPECT_CONTAINS(err.msg, want);
  EXPECT(r.token_nll == NULL && r.window_ppl == NULL);
}

TEST(job_errors) {
  expect_job_error(request("chunks", 64, 4, 0, 0),
                   "dataset 'rand' has 200 tokens; length 64 × 4 windows needs 256");
  expect_job_error(request("decode", 16, 1, 0, 0), "decode prompt 0 is out of range");
  EvalRequest q = request("chunks", 16, 1, 0, 0);
  json_t *cache = json_pack("{s:s,s:i,s:i}", "type", "streaming", "sink", 4, "recent", 12);
  q.cache = cache;
  expect_job_error(q, "cache policy 'streaming' needs protocol 'decode'");
  json_decref(cache);
  q = request("chunks", 16, 1, 0, 0);
  q.dtype = "int8";
  expect_job_error(q, "unknown dtype 'int8'");
  // An id outside the vocabulary.
  int32_t bad[20] = {0};
  bad[13] = V;
  char *p = path_join(tmpdir, "bad.bin");
  BenchErr err;
  EXPECT_INT_EQ(benchtok_write(p, bad, 20, 4, 1, &err), 0);
  q = request("chunks", 16, 1, 0, 0);
  q.dataset_path = p;
  expect_job_error(q, "dataset 'rand': token id 64 at index 13 is outside the model's vocabulary (64)");
  // A text dataset when the model has no tokenizer.
  q.dataset_path = "/nonexistent/t.txt";
  expect_job_error(q, "has no tokenizer.json");
  free(p);
}

// A checkpoint on disk and a text dataset: eval_job loads the model and its tokenizer.json itself,
// and gives what it gives with the same model loaded by the caller.
TEST(loads_model_and_tokenizer_from_dir) {
  char *dir = path_join(tmpdir, "ckpt");
  InitModelSpec spec;
  init_model_defaults(&spec, ARCH_QWEN2);
  spec.seed = 5;
  InitModelResult out;
  BenchErr err;
  EXPECT_INT_EQ(init_model_write(dir, &spec, &out, &err), 0);
  char *txt = path_join(tmpdir, "words.txt");
  StrBuf b = {0};
  for (int i = 0; i < 200; i++) sb_printf(&b, "word %d and the river %d. ", i, i * 7 % 13);
  EXPECT_INT_EQ(write_file_atomic(txt, b.data, b.len, &err), 0);
  sb_free(&b);
  EvalRequest q = request("chunks", 64, 3, 0, 0);
  q.model = NULL;
  q.model_dir = dir;
  q.dataset_path = txt;
  q.dataset_name = "words";
  json_t *native = json_pack("{s:s,s:s}", "name", "native", "type", "model");
  q.rope = native;
  EvalResult a, c;
  int rc = eval_job(&q, &a, &err);
  EXPECT_INT_EQ(rc, 0);
  if (rc != 0) fprintf(stderr, "eval_job: %s\n", err.msg);
  Model m;
  EXPECT_INT_EQ(model_load(dir, &m, &err), 0);
  q.model = &m;
  EXPECT_INT_EQ(eval_job(&q, &c, &err), 0);
  if (rc == 0) {
    EXPECT_INT_EQ(a.tokens, 3 * 63);
    EXPECT(a.dataset_tokens > 192);
    EXPECT_INT_EQ(a.dataset_tokens, c.dataset_tokens);
    EXPECT_NEAR(a.nll, c.nll, 0, 0);
    EXPECT_INT_EQ(c.tokens_from_cache, 1);  // the first job wrote the token cache
  }
  model_free(&m);
  eval_result_free(&a);
  eval_result_free(&c);
  // A missing checkpoint is a job error naming it.
  q.model = NULL;
  q.model_dir = "/nonexistent/ckpt";
  EXPECT_INT_EQ(eval_job(&q, &a, &err), -1);
  EXPECT_CONTAINS(err.msg, "/nonexistent/ckpt");
  json_decref(native);
  free(txt);
  free(dir);
}

int main(void) {
  if (!mkdtemp(tmpdir)) return 1;
  char *cache = path_join(tmpdir, "cache");
  setenv("BENCH_CACHE_DIR", cache, 1);
  free(cache);
  ModelConfig cfg = rm_config(ARCH_LLAMA, V, C, 2, 4, 2, 64, 1.0);
  rm_init(&model, &cfg, 1234);
  model.dir = tmpdir;
  tokens = rm_tokens(N, V, 99);
  bin_path = path_join(tmpdir, "rand.bin");
  BenchErr err;
  if (benchtok_write(bin_path, tokens, N, 4, 1, &err) != 0) {
    fprintf(stderr, "%s\n", err.msg);
    return 1;
  }
  rope_spec = json_pack("{s:s,s:s,s:f}", "name", "geo", "type", "geometric", "theta", 10000.0);
  RUN(protocols_score_what_the_forward_gives);
  RUN(sliding_stride_length_equals_chunks);
  RUN(random_depends_on_seed_only);
  RUN(job_errors);
  RUN(loads_model_and_tokenizer_from_dir);
  RUN(cpu_engine_gives_the_same_bits);
  RUN(protocols_run_on_the_engine_backend);
  json_decref(rope_spec);
  free(tokens);
  free(bin_path);
  model.dir = NULL;
  rm_free(&model);
  char *cmd = xasprintf("rm -rf %s", tmpdir);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
  free(cmd);
  TEST_SUMMARY();
}
