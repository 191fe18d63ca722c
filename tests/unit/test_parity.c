// test_parity.c — the CPU forward against Hugging Face transformers on tiny random checkpoints of
// every architecture (tests/fixtures/parity/<case>: the committed checkpoint and parity.json with
// transformers' per-token NLL and argmax; regenerate with tests/reference/make_parity_fixtures.py).
// The RoPE table is the checkpoint's own: rope_build with spec {"type": "model"}.
// Bounds: fp32 max |ΔNLL| ≤ 1e-4 against transformers in float32, argmax equal at every token;
// fp64_check max |ΔNLL| ≤ 1e-4 against transformers in float64. Prints max |Δ| per case.
#include <jansson.h>
#include <stdlib.h>

#include "forward.h"
#include "model.h"
#include "rope.h"
#include "test.h"

static const char *const CASES[] = {"llama",      "llama_rope_llama3", "mistral_window",
                                    "qwen2_tied", "gpt_neox",          "gpt_neox_sequential"};
#define N_CASES ((int)(sizeof CASES / sizeof CASES[0]))
#define FIXTURES "tests/fixtures/parity"

static double *json_doubles(json_t *arr, long n) {
  double *v = xmalloc(sizeof(double) * (size_t)n);
  for (long i = 0; i < n; i++) v[i] = json_number_value(json_array_get(arr, (size_t)i));
  return v;
}

static void parity_case(const char *name) {
  char *dir = xasprintf(FIXTURES "/%s", name);
  char *model_dir = path_join(dir, "model"), *fixture = path_join(dir, "parity.json");
  BenchErr err;
  Model m;
  json_error_t jerr;
  json_t *fx = json_load_file(fixture, JSON_REJECT_DUPLICATES, &jerr);
  if (!fx) {
    TEST_FAIL_AT("%s: %s", fixture, jerr.text);
    goto out;
  }
  if (model_load(model_dir, &m, &err)) {
    TEST_FAIL_AT("%s: %s", model_dir, err.msg);
    json_decref(fx);
    goto out;
  }
  json_t *jt = json_object_get(fx, "tokens");
  long T = (long)json_array_size(jt), n = T - 1;
  int32_t *tok = xmalloc(sizeof(int32_t) * (size_t)T);
  for (long i = 0; i < T; i++) tok[i] = (int32_t)json_integer_value(json_array_get(jt, (size_t)i));
  double *ref = json_doubles(json_object_get(fx, "nll"), n);
  double *ref64 = json_doubles(json_object_get(fx, "nll_fp64"), n);
  double *ref_am = json_doubles(json_object_get(fx, "argmax"), n);

  const ModelConfig *c = &m.config;
  RopeModelInfo info = {.head_dim = c->head_dim,
                        .partial_rotary_factor = c->partial_rotary_factor,
                        .rope_theta = c->rope_theta,
                        .max_position_embeddings = c->max_position_embeddings,
                        .rope_scaling_json = c->rope_scaling_json};
  json_t *spec = json_pack("{s:s, s:s}", "name", "native", "type", "model");
  RopeTable rope;
  if (rope_build(spec, &info, T, &rope, &err)) {
    TEST_FAIL_AT("%s: rope: %s", name, err.msg);
  } else {
    float *nll = xmalloc(sizeof(float) * (size_t)n);
    uint8_t *ok = xmalloc((size_t)n);
    double d32 = 0.0, d64 = 0.0;
    long worst = 0, bad_argmax = 0;
    ForwardOptions f32 = {.fp64_check = 0}, f64 = {.fp64_check = 1};
    EXPECT_INT_EQ(forward_score_window(&m, &rope, tok, T, 0, nll, ok, &f32, &err), 0);
    for (long t = 0; t < n; t++) {
      if (fabs(nll[t] - ref[t]) > d32) {
        d32 = fabs(nll[t] - ref[t]);
        worst = t;
      }
      if (ok[t] != ((int32_t)ref_am[t] == tok[t + 1])) bad_argmax++;
    }
    if (d32 > 1e-4)
      TEST_FAIL_AT("%s: fp32 nll[%ld]: value %.7f, transformers %.7f", name, worst, nll[worst],
                   ref[worst]);
    EXPECT_INT_EQ(forward_score_window(&m, &rope, tok, T, 0, nll, ok, &f64, &err), 0);
    for (long t = 0; t < n; t++) d64 = fmax(d64, fabs(nll[t] - ref64[t]));
    if (d64 > 1e-4) TEST_FAIL_AT("%s: fp64_check max |dnll| %.3g vs transformers fp64", name, d64);

    // argmax itself, through the block interface
    KVCache cache;
    ForwardState s;
    EXPECT_INT_EQ(kv_cache_init(&cache, backend_cpu(), c, T, &err), 0);
    EXPECT_INT_EQ(forward_state_init(&s, &m, backend_cpu(), T, &f32, &err), 0);
    double *pos = xmalloc(sizeof(double) * (size_t)T);
    for (long t = 0; t < T; t++) pos[t] = rope_position(&rope, t);
    EXPECT_INT_EQ(forward_block(&s, &cache, &rope, tok, pos, T, &err), 0);
    EXPECT_INT_EQ(forward_score(&s, 0, n, tok + 1, nll, ok, &err), 0);
    for (long t = 0; t < n; t++)
      if (s.argmax_host[t] != (int32_t)ref_am[t]) {
        if (!bad_argmax)
          TEST_FAIL_AT("%s: argmax[%ld] %d, transformers %d", name, t, s.argmax_host[t],
                       (int)ref_am[t]);
        bad_argmax++;
      }
    EXPECT_INT_EQ(bad_argmax, 0);
    printf("parity %-20s %-8s T %ld: max |dNLL| fp32 %.2e (transformers fp32), fp64_check %.2e "
           "(transformers fp64), argmax %ld/%ld equal\n",
           name, arch_name(c->arch), T, d32, d64, n - bad_argmax, n);
    forward_state_free(&s);
    kv_cache_free(&cache);
    free(pos);
    free(nll);
    free(ok);
    rope_table_free(&rope);
  }
  json_decref(spec);
  free(tok);
  free(ref);
  free(ref64);
  free(ref_am);
  json_decref(fx);
  model_free(&m);
out:
  free(dir);
  free(model_dir);
  free(fixture);
}

TEST(forward_matches_transformers) {
  for (int i = 0; i < N_CASES; i++) parity_case(CASES[i]);
}

int main(void) {
  RUN(forward_matches_transformers);
  TEST_SUMMARY();
}
