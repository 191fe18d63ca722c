// test_decode_reference.c — the decode protocol under every cache policy against an independent
// float64 implementation on transformers' modules (tests/reference/make_decode_fixtures.py):
// tiny sharpened GPT-NeoX (multi-head, partial rotary) and Llama (4 query heads on 2 kv heads)
// checkpoints, per-token NLLs for full, window, streaming (cache and original positions) and h2o
// with several prompts. fp32 against float64: relative 1e-4.
#include <stdlib.h>

#include "eval.h"
#include "test.h"

static char tmpdir[] = "/tmp/bench_test_decode_ref_XXXXXX";

static void check_case(const char *name) {
  char *dir = xasprintf("tests/fixtures/decode/%s", name);
  char *model_dir = path_join(dir, "model"), *fixture = path_join(dir, "decode.json");
  json_error_t je;
  json_t *fx = json_load_file(fixture, JSON_REJECT_DUPLICATES, &je);
  Model m;
  BenchErr err;
  if (!fx) {
    TEST_FAIL_AT("%s: %s", fixture, je.text);
  } else if (model_load(model_dir, &m, &err) != 0) {
    TEST_FAIL_AT("%s: %s", model_dir, err.msg);
  } else {
    json_t *toks = json_object_get(fx, "tokens");
    long n = (long)json_array_size(toks);
    int32_t *ids = xmalloc(sizeof(int32_t) * (size_t)n);
    for (long i = 0; i < n; i++) ids[i] = (int32_t)json_integer_value(json_array_get(toks, (size_t)i));
    char *bin = xasprintf("%s/%s.bin", tmpdir, name);
    EXPECT_INT_EQ(benchtok_write(bin, ids, n, 4, 1, &err), 0);
    json_t *rope = json_pack("{s:s,s:s}", "name", "native", "type", "model");
    long L = (long)json_integer_value(json_object_get(fx, "length"));
    long W = (long)json_integer_value(json_object_get(fx, "windows"));
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(fx, "cases"), i, c) {
      EvalRequest q = {0};
      q.model = &m;
      q.dataset_name = name;
      q.dataset_path = bin;
      q.rope = rope;
      q.cache = json_object_get(c, "cache");
      q.protocol = "decode";
      q.length = L;
      q.windows = W;
      q.prompt = (long)json_integer_value(json_object_get(c, "prompt"));
      q.dtype = "fp32";
      q.threads = 1;
      q.keep_token_nll = 1;
      EvalResult r;
      if (eval_job(&q, &r, &err) != 0) {
        TEST_FAIL_AT("%s case %zu: %s", name, i, err.msg);
        continue;
      }
      json_t *want = json_object_get(c, "nll");
      EXPECT_INT_EQ(r.tokens, (long)json_array_size(want));
      double *ref = xmalloc(sizeof(double) * (json_array_size(want) + 1));
      for (size_t k = 0; k < json_array_size(want); k++)
        ref[k] = json_real_value(json_array_get(want, k));
      int before = test_current_failed;
      test_current_failed = 0;
      // both fp32 in other orders: test.h's bound for a decoder's chain of sums
      double rtol = decoder_nll_rtol(m.config.n_layers, m.config.hidden_size, m.config.head_dim, L,
                                     m.config.intermediate_size, m.config.vocab_size, FP32_U);
      EXPECT_ARRAY_NEAR(r.token_nll, ref, r.tokens, rtol, rtol * log((double)m.config.vocab_size));
      if (test_current_failed) {
        char *spec = json_dumps(q.cache, JSON_COMPACT);
        fprintf(stderr, "  %s, cache %s, prompt %ld\n", name, spec, q.prompt);
        free(spec);
      }
      test_current_failed |= before;
      free(ref);
      eval_result_free(&r);
    }
    json_decref(rope);
    free(bin);
    free(ids);
    model_free(&m);
  }
  json_decref(fx);
  free(dir);
  free(model_dir);
  free(fixture);
}

TEST(gpt_neox_policies_match_reference) { check_case("gpt_neox"); }
TEST(llama_gqa_policies_match_reference) { check_case("llama_gqa"); }

int main(void) {
  if (!mkdtemp(tmpdir)) return 1;
  RUN(gpt_neox_policies_match_reference);
  RUN(llama_gqa_policies_match_reference);
  char *cmd = xasprintf("rm -rf %s", tmpdir);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
  free(cmd);
  TEST_SUMMARY();
}
