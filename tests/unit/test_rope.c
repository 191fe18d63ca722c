// test_rope.c — RoPE variants: transformers' own numbers (fixtures), closed forms of our types,
// position maps, frequency files and validation errors.
//
// Reference fixtures: tests/fixtures/rope/hf_rope.json, made by tests/reference/make_rope_fixtures.py
// from transformers' rotary embedding modules (see the script for the command). torch computes
// inv_freq in float32: the exponent 2k/R is rounded to float32 (relative error ≤ 2^-24), which
// θ^(2k/R) turns into a relative error up to ln θ · 2^-24 ≈ 8e-7 for θ = 5e5 and 1e6, plus one
// rounding each for the power, the division and (yarn, llama3) the blend: we compare at
// rtol 2e-6, i.e. about 30 float32 ulps — float32 agreement, far below any effect on perplexity.
// Attention scales are computed by transformers in Python doubles: rtol 1e-12.
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rope.h"
#include "test.h"

#define HF_RTOL 2e-6
#define FIXTURE "tests/fixtures/rope/hf_rope.json"

static const RopeModelInfo LLAMA = {.head_dim = 128, .partial_rotary_factor = 1.0,
                                    .rope_theta = 500000.0, .max_position_embeddings = 8192};

static json_t *spec_of(const char *text) {
  json_error_t je;
  json_t *j = json_loads(text, JSON_REJECT_DUPLICATES, &je);
  if (!j) fprintf(stderr, "bad test json: %s: %s\n", text, je.text);
  return j;
}

// Builds a spec given as JSON text; returns the rope_build status, err filled on failure.
static int build_text(const char *text, const RopeModelInfo *m, long len, RopeTable *t,
                      BenchErr *err) {
  json_t *s = spec_of(text);
  int rc = rope_build(s, m, len, t, err);
  json_decref(s);
  return rc;
}

// Expects an error containing `want`.
#define EXPECT_BUILD_ERR(text, model, want)                              \
  do {                                                                   \
    RopeTable t_;                                                        \
    BenchErr e_ = {{0}};                                                 \
    int rc_ = build_text((text), (model), 0, &t_, &e_);                 \
    EXPECT(rc_ < 0);                                                     \
    if (rc_ < 0) EXPECT_CONTAINS(e_.msg, (want));                        \
    else rope_table_free(&t_);                                           \
  } while (0)

static double max_rel(const double *a, const double *b, int n) {
  double m = 0;
  for (int i = 0; i < n; i++) {
    double r = fabs(a[i] - b[i]) / fabs(b[i]);
    if (r > m) m = r;
  }
  return m;
}

// ---- transformers fixtures ----

static void fixture_info(const json_t *c, RopeModelInfo *m, char **scaling) {
  memset(m, 0, sizeof *m);
  m->head_dim = (int)json_integer_value(json_object_get(c, "head_dim"));
  m->partial_rotary_factor = json_number_value(json_object_get(c, "partial_rotary_factor"));
  m->rope_theta = json_number_value(json_object_get(c, "rope_theta"));
  m->max_position_embeddings = (long)json_integer_value(json_object_get(c, "max_position_embeddings"));
  m->original_max_position_embeddings =
      (long)json_integer_value(json_object_get(c, "original_max_position_embeddings"));
  const json_t *sc = json_object_get(c, "rope_scaling");
  *scaling = sc && !json_is_null(sc) ? json_dumps(sc, JSON_COMPACT) : NULL;
  m->rope_scaling_json = *scaling;
}

TEST(hf_fixtures) {
  json_error_t je;
  json_t *doc = json_load_file(FIXTURE, JSON_REJECT_DUPLICATES, &je);
  EXPECT(doc != NULL);
  if (!doc) {
    fprintf(stderr, "cannot read %s: %s\n", FIXTURE, je.text);
    return;
  }
  EXPECT_STR_EQ(json_string_value(json_object_get(doc, "schema")), "bench.rope_fixture/1");
  const json_t *cases = json_object_get(doc, "cases");
  EXPECT(json_array_size(cases) >= 20);
  double worst = 0;
  size_t i;
  const json_t *c;
  json_array_foreach(cases, i, c) {
    const char *name = json_string_value(json_object_get(c, "name"));
    RopeModelInfo m;
    char *scaling;
    fixture_info(c, &m, &scaling);
    long len = (long)json_integer_value(json_object_get(c, "eval_length"));
    const json_t *ref = json_object_get(c, "inv_freq");
    int n = (int)json_array_size(ref);
    double *want = malloc((size_t)n * sizeof(double));
    for (int k = 0; k < n; k++) want[k] = json_number_value(json_array_get(ref, (size_t)k));
    double want_scale = json_number_value(json_object_get(c, "attention_scale"));

    // Once through the checkpoint's own config (`model`), once as the explicit type.
    json_t *model_spec = spec_of("{\"name\":\"native\",\"type\":\"model\"}");
    const json_t *specs[2] = {model_spec, json_object_get(c, "spec")};
    for (int s = 0; s < 2; s++) {
      RopeTable t;
      BenchErr err = {{0}};
      if (rope_build(specs[s], &m, len, &t, &err) < 0) {
        TEST_FAIL_AT("%s (%s): %s", name, s ? "spec" : "model", err.msg);
        continue;
      }
      if (t.rotary_dims / 2 != n) {
        TEST_FAIL_AT("%s: %d pairs, reference has %d", name, t.rotary_dims / 2, n);
      } else {
        double r = max_rel(t.inv_freq, want, n);
        if (r > worst) worst = r;
        if (r > HF_RTOL) fprintf(stderr, "case %s (%s):\n", name, s ? "spec" : "model");
        EXPECT_ARRAY_NEAR(t.inv_freq, want, n, HF_RTOL, 0);
        EXPECT_NEAR(t.attention_scale, want_scale, 1e-12, 0);
      }
      rope_table_free(&t);
    }
    json_decref(model_spec);
    free(want);
    free(scaling);
  }
  printf("hf fixtures: %zu cases (transformers %s), max relative difference %.3g (rtol %g)\n",
         json_array_size(cases), json_string_value(json_object_get(doc, "transformers_version")),
         worst, HF_RTOL);
  json_decref(doc);
}

// ---- closed forms ----

TEST(geometric_and_linear_factor_one) {
  RopeTable g, l;
  BenchErr err;
  EXPECT(build_text("{\"type\":\"geometric\",\"theta\":10000}", &LLAMA, 0, &g, &err) == 0);
  EXPECT(build_text("{\"type\":\"linear\",\"factor\":1,\"theta\":10000}", &LLAMA, 0, &l, &err) == 0);
  EXPECT_INT_EQ(g.rotary_dims, 128);
  for (int k = 0; k < 64; k++) EXPECT_NEAR(g.inv_freq[k], pow(10000.0, -2.0 * k / 128), 1e-15, 0);
  EXPECT_ARRAY_NEAR(l.inv_freq, g.inv_freq, 64, 0, 0);
  EXPECT_NEAR(g.attention_scale, 1.0, 0, 0);
  EXPECT_INT_EQ(g.compress, 0);
  for (long p = 0; p < 100; p += 7) EXPECT_NEAR(rope_position(&g, p), (double)p, 0, 0);
  rope_table_free(&g);
  rope_table_free(&l);
}

TEST(theta_defaults_to_checkpoint) {
  RopeTable g;
  BenchErr err;
  EXPECT(build_text("{\"type\":\"geometric\"}", &LLAMA, 0, &g, &err) == 0);
  EXPECT_NEAR(g.inv_freq[1], pow(500000.0, -2.0 / 128), 1e-15, 0);
  rope_table_free(&g);
  // New-style rope_parameters carry their own rope_theta.
  RopeModelInfo m = LLAMA;
  m.rope_theta = 0;
  m.rope_scaling_json = "{\"rope_type\":\"default\",\"rope_theta\":1000000.0}";
  EXPECT_NEAR(rope_checkpoint_theta(&m), 1e6, 0, 0);
  EXPECT(build_text("{\"type\":\"model\"}", &m, 0, &g, &err) == 0);
  EXPECT_NEAR(g.inv_freq[1], pow(1e6, -2.0 / 128), 1e-15, 0);
  rope_table_free(&g);
  // `theta` on `model` overrides the checkpoint's base and keeps its scaling.
  m.rope_scaling_json = "{\"rope_type\":\"linear\",\"factor\":2.0}";
  m.rope_theta = 10000;
  EXPECT(build_text("{\"type\":\"model\",\"theta\":20000}", &m, 0, &g, &err) == 0);
  EXPECT_NEAR(g.inv_freq[1], pow(20000.0, -2.0 / 128) / 2, 1e-15, 0);
  rope_table_free(&g);
}

TEST(ntk_and_dynamic) {
  RopeTable t, g;
  BenchErr err;
  EXPECT(build_text("{\"type\":\"ntk\",\"factor\":4,\"theta\":10000}", &LLAMA, 0, &t, &err) == 0);
  double base = 10000.0 * pow(4.0, 128.0 / 126.0);
  for (int k = 0; k < 64; k++) EXPECT_NEAR(t.inv_freq[k], pow(base, -2.0 * k / 128), 1e-13, 0);
  rope_table_free(&t);
  // Dynamic at or below max positions keeps the base.
  EXPECT(build_text("{\"type\":\"geometric\"}", &LLAMA, 0, &g, &err) == 0);
  EXPECT(build_text("{\"type\":\"dynamic\",\"factor\":2}", &LLAMA, 8192, &t, &err) == 0);
  EXPECT_ARRAY_NEAR(t.inv_freq, g.inv_freq, 64, 1e-15, 0);
  rope_table_free(&t);
  // Beyond: base·(factor·L/max − (factor − 1))^(R/(R−2)), with the max positions overridable.
  EXPECT(build_text("{\"type\":\"dynamic\",\"factor\":2,\"original_max_position_embeddings\":4096}",
                    &LLAMA, 16384, &t, &err) == 0);
  base = 500000.0 * pow(2.0 * 16384 / 4096 - 1, 128.0 / 126.0);
  EXPECT_NEAR(t.inv_freq[10], pow(base, -20.0 / 128), 1e-13, 0);
  rope_table_free(&t);
  rope_table_free(&g);
}

TEST(anchored_sigmoid_closed_form) {
  RopeTable t, g;
  BenchErr err;
  EXPECT(build_text("{\"type\":\"geometric\"}", &LLAMA, 0, &g, &err) == 0);
  EXPECT(build_text("{\"type\":\"anchored_sigmoid\",\"anchor_factor\":20,\"anchor_dim\":40,"
                    "\"slope\":0.5}", &LLAMA, 0, &t, &err) == 0);
  for (int k = 0; k < 64; k++) {
    double damp = 1.0 + 19.0 * 1.0 / (1.0 + exp(-0.5 * (k - 40)));
    EXPECT_NEAR(t.inv_freq[k] * damp, g.inv_freq[k], 1e-14, 0);
  }
  // Well below the anchor dim the frequency stays geometric within 1/(1 + (A−1)σ(s(k−m))).
  for (int k = 0; k < 10; k++) {
    double bound = 19.0 / (1.0 + exp(-0.5 * (k - 40)));
    EXPECT(fabs(t.inv_freq[k] / g.inv_freq[k] - 1.0) <= bound);
    EXPECT(bound < 1e-5);
  }
  // Far above, slowed by A.
  EXPECT_NEAR(t.inv_freq[63] * 20.0, g.inv_freq[63], 1e-4, 0);
  rope_table_free(&t);
  // A = 1 is geometric.
  EXPECT(build_text("{\"type\":\"anchored_sigmoid\",\"anchor_factor\":1,\"anchor_dim\":16,"
                    "\"slope\":0.5}", &LLAMA, 0, &t, &err) == 0);
  EXPECT_ARRAY_NEAR(t.inv_freq, g.inv_freq, 64, 1e-15, 0);
  rope_table_free(&t);
  rope_table_free(&g);
}

TEST(poly_sigmoid_hybrid_endpoints) {
  RopeTable g, t, poly;
  BenchErr err;
  EXPECT(build_text("{\"type\":\"geometric\",\"theta\":100000}", &LLAMA, 0, &g, &err) == 0);
  const char *geometric_like[] = {
      "{\"type\":\"anchored_poly\",\"theta\":100000,\"p\":3.9,\"omf\":0}",
      "{\"type\":\"anchored_poly\",\"theta\":100000,\"p\":1,\"omf\":0.7}",
      "{\"type\":\"sigmoid\",\"theta\":100000,\"steep\":8,\"mid\":0.6,\"omf\":0}",
      "{\"type\":\"hybrid\",\"theta\":100000,\"alpha\":0,\"p\":3.9,\"omf\":0.3}",
  };
  for (size_t i = 0; i < sizeof geometric_like / sizeof geometric_like[0]; i++) {
    EXPECT(build_text(geometric_like[i], &LLAMA, 0, &t, &err) == 0);
    EXPECT_ARRAY_NEAR(t.inv_freq, g.inv_freq, 64, 1e-13, 0);
    rope_table_free(&t);
  }
  // anchored_poly closed form, and hybrid alpha = 1 equals it.
  EXPECT(build_text("{\"type\":\"anchored_poly\",\"theta\":100000,\"p\":3.9,\"omf\":0.3}", &LLAMA,
                    0, &poly, &err) == 0);
  for (int k = 0; k < 64; k++) {
    double u = 2.0 * k / 128;
    EXPECT_NEAR(poly.inv_freq[k], exp(-log(1e5) * (0.7 * u + 0.3 * pow(u, 3.9))), 1e-13, 0);
  }
  EXPECT(build_text("{\"type\":\"hybrid\",\"theta\":100000,\"alpha\":1,\"p\":3.9,\"omf\":0.3}",
                    &LLAMA, 0, &t, &err) == 0);
  EXPECT_ARRAY_NEAR(t.inv_freq, poly.inv_freq, 64, 1e-13, 0);
  rope_table_free(&t);
  EXPECT(build_text("{\"type\":\"hybrid\",\"theta\":100000,\"alpha\":0.2,\"p\":3.9,\"omf\":0.3}",
                    &LLAMA, 0, &t, &err) == 0);
  for (int k = 0; k < 64; k++)
    EXPECT_NEAR(t.inv_freq[k], 0.8 * g.inv_freq[k] + 0.2 * poly.inv_freq[k], 1e-13, 0);
  rope_table_free(&t);
  // sigmoid: g(0) = 0 and g(1) = 1, so ω_0 = 1; the closed form in between.
  EXPECT(build_text("{\"type\":\"sigmoid\",\"theta\":10000,\"steep\":8,\"mid\":0.6,\"omf\":0.3}",
                    &LLAMA, 0, &t, &err) == 0);
  EXPECT_NEAR(t.inv_freq[0], 1.0, 1e-15, 0);
  for (int k = 0; k < 64; k++) {
    double u = 2.0 * k / 128;
    double s0 = 1 / (1 + exp(8 * 0.6)), s1 = 1 / (1 + exp(-8 * 0.4));
    double gu = (1 / (1 + exp(-8 * (u - 0.6))) - s0) / (s1 - s0);
    EXPECT_NEAR(t.inv_freq[k], exp(-log(1e4) * (0.7 * u + 0.3 * gu)), 1e-12, 0);
  }
  rope_table_free(&t);
  rope_table_free(&poly);
  rope_table_free(&g);
}

TEST(mix_endpoints_and_scale) {
  const char *a = "{\"name\":\"geo\",\"type\":\"geometric\",\"theta\":10000}";
  const char *b = "{\"name\":\"yarn4\",\"type\":\"yarn\",\"factor\":4}";
  RopeTable ta, tb, t;
  BenchErr err;
  json_t *sa = spec_of(a), *sb = spec_of(b);
  EXPECT(rope_build(sa, &LLAMA, 0, &ta, &err) == 0);
  EXPECT(rope_build(sb, &LLAMA, 0, &tb, &err) == 0);
  const char *spaces[] = {"linear", "log"};
  for (int s = 0; s < 2; s++) {
    for (int w = 0; w <= 2; w++) {
      json_t *m = json_pack("{s:s,s:s,s:[OO],s:f,s:s}", "name", "m", "type", "mix", "of", sa, sb,
                            "weight", w * 0.5, "space", spaces[s]);
      EXPECT(rope_build(m, &LLAMA, 0, &t, &err) == 0);
      for (int k = 0; k < 64; k++) {
        double x = ta.inv_freq[k], y = tb.inv_freq[k];
        double want = s == 0 ? (1 - w * 0.5) * x + w * 0.5 * y
                             : exp((1 - w * 0.5) * log(x) + w * 0.5 * log(y));
        EXPECT_NEAR(t.inv_freq[k], want, 1e-14, 0);
      }
      double sx = ta.attention_scale, sy = tb.attention_scale;
      double want_scale = s == 0 ? (1 - w * 0.5) * sx + w * 0.5 * sy
                                 : exp((1 - w * 0.5) * log(sx) + w * 0.5 * log(sy));
      EXPECT_NEAR(t.attention_scale, want_scale, 1e-14, 0);
      if (w == 0) EXPECT_ARRAY_NEAR(t.inv_freq, ta.inv_freq, 64, 1e-15, 0);
      if (w == 2) EXPECT_ARRAY_NEAR(t.inv_freq, tb.inv_freq, 64, 1e-15, 0);
      rope_table_free(&t);
      json_decref(m);
    }
  }
  EXPECT(tb.attention_scale > 1.1);  // yarn factor 4: 0.1·ln 4 + 1
  // A mix's theta is the base its members inherit when they give none.
  EXPECT(build_text("{\"type\":\"mix\",\"theta\":20000,\"weight\":0,\"of\":[{\"type\":\"geometric\"},"
                    "{\"type\":\"geometric\"}]}", &LLAMA, 0, &t, &err) == 0);
  EXPECT_NEAR(t.inv_freq[5], pow(20000.0, -10.0 / 128), 1e-15, 0);
  rope_table_free(&t);
  rope_table_free(&ta);
  rope_table_free(&tb);
  json_decref(sa);
  json_decref(sb);
}

TEST(compress_positions) {
  RopeTable t, g;
  BenchErr err;
  EXPECT(build_text("{\"type\":\"geometric\"}", &LLAMA, 0, &g, &err) == 0);
  EXPECT(build_text("{\"type\":\"compress\",\"threshold\":8192,\"factor\":1.5,"
                    "\"base\":{\"name\":\"g\",\"type\":\"geometric\"}}", &LLAMA, 16384, &t, &err) == 0);
  EXPECT_ARRAY_NEAR(t.inv_freq, g.inv_freq, 64, 0, 0);
  EXPECT_INT_EQ(t.compress, 1);
  for (long p = 0; p <= 8192; p += 512) EXPECT_NEAR(rope_position(&t, p), (double)p, 0, 0);
  EXPECT_NEAR(rope_position(&t, 8193), 8192 + 1 / 1.5, 1e-15, 0);
  EXPECT_NEAR(rope_position(&t, 9692), 9192, 1e-12, 0);
  EXPECT_NEAR(rope_position(&t, 16383), 8192 + 8191 / 1.5, 1e-12, 0);
  rope_table_free(&t);
  // Threshold at or beyond the length: positions unchanged.
  EXPECT(build_text("{\"type\":\"compress\",\"threshold\":4096,\"factor\":2,"
                    "\"base\":{\"type\":\"geometric\"}}", &LLAMA, 4096, &t, &err) == 0);
  for (long p = 0; p < 4096; p++)
    if (rope_position(&t, p) != (double)p) {
      TEST_FAIL_AT("position %ld maps to %g", p, rope_position(&t, p));
      break;
    }
  rope_table_free(&t);
  // Scale comes from the base too.
  EXPECT(build_text("{\"type\":\"compress\",\"threshold\":100,\"factor\":2,"
                    "\"base\":{\"type\":\"yarn\",\"factor\":4}}", &LLAMA, 0, &t, &err) == 0);
  EXPECT_NEAR(t.attention_scale, 0.1 * log(4.0) + 1, 1e-15, 0);
  rope_table_free(&t);
  rope_table_free(&g);
}

// ---- frequency files ----

static char *tmp_path(const char *suffix) {
  const char *dir = getenv("BENCH_TEST_TMP");
  return xasprintf("%s/rope_test_%d_%s", dir && *dir ? dir : "/tmp", (int)getpid(), suffix);
}

static void write_text(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  if (!f) return;
  fputs(text, f);
  fclose(f);
}

TEST(file_round_trip) {
  RopeModelInfo m = {.head_dim = 16, .partial_rotary_factor = 1.0, .rope_theta = 10000,
                     .max_position_embeddings = 2048};
  double geo[8];
  rope_geometric(10000, 16, geo);
  StrBuf lines = {0}, arr = {0};
  sb_append(&lines, "# eight frequencies\n");
  sb_append(&arr, "[");
  for (int k = 0; k < 8; k++) {
    sb_printf(&lines, "%.17g\n", geo[k]);
    sb_printf(&arr, "%s%.17g", k ? ", " : "", geo[k]);
  }
  sb_append(&arr, "]\n");
  char *p1 = tmp_path("lines.txt"), *p2 = tmp_path("array.json");
  write_text(p1, lines.data);
  write_text(p2, arr.data);
  char sha[65];
  sha256_hex(lines.data, lines.len, sha);
  RopeTable t;
  BenchErr err = {{0}};
  char *spec = xasprintf("{\"type\":\"file\",\"path\":\"%s\",\"sha256\":\"%s\"}", p1, sha);
  EXPECT(build_text(spec, &m, 0, &t, &err) == 0);
  if (t.inv_freq) EXPECT_ARRAY_NEAR(t.inv_freq, geo, 8, 0, 0);
  rope_table_free(&t);
  free(spec);
  spec = xasprintf("{\"type\":\"file\",\"theta\":10000,\"path\":\"%s\"}", p2);
  EXPECT(build_text(spec, &m, 0, &t, &err) == 0);
  if (t.inv_freq) EXPECT_ARRAY_NEAR(t.inv_freq, geo, 8, 0, 0);
  rope_table_free(&t);
  free(spec);

  // Wrong count, non-finite values, bad sha256: errors naming the file.
  RopeModelInfo m32 = m;
  m32.head_dim = 32;
  spec = xasprintf("{\"type\":\"file\",\"path\":\"%s\"}", p1);
  EXPECT_BUILD_ERR(spec, &m32, "holds 8 frequencies, expected 16");
  EXPECT_BUILD_ERR(spec, &m32, p1);
  free(spec);
  spec = xasprintf("{\"type\":\"file\",\"path\":\"%s\",\"sha256\":\"%064d\"}", p1, 0);
  EXPECT_BUILD_ERR(spec, &m, "sha256 is");
  free(spec);
  write_text(p1, "1\n0.5\nnan\n");
  spec = xasprintf("{\"type\":\"file\",\"path\":\"%s\"}", p1);
  EXPECT_BUILD_ERR(spec, &m, ":3:1: frequency nan is not positive and finite");
  write_text(p1, "1\n0.5\nabc\n");
  EXPECT_BUILD_ERR(spec, &m, ":3:1: expected one number per line");
  write_text(p1, "1\n0.5\nSECRET text\n");
  EXPECT_BUILD_ERR(spec, &m, ":3:1: expected one number per line");
  write_text(p1, "1\n 0.5 SECRET\n");
  EXPECT_BUILD_ERR(spec, &m, ":2:6: expected one number per line");
  write_text(p1, "[1, 0.5, SECRET]");
  EXPECT_BUILD_ERR(spec, &m, ":1:15: invalid token (expected a JSON array of numbers)");
  {  // the file's text is never quoted: a `file:` variant's error goes to run.log and the job result
    const char *texts[] = {"1\n0.5\nSECRET text\n", "[1, 0.5, SECRET]", "[1, 0.5, \"SECRET\"]"};
    for (int i = 0; i < 3; i++) {
      write_text(p1, texts[i]);
      RopeTable t_;
      BenchErr e_ = {{0}};
      EXPECT(build_text(spec, &m, 0, &t_, &e_) < 0);
      if (strstr(e_.msg, "SECRET")) TEST_FAIL_AT("the error quotes the file: %s", e_.msg);
    }
  }
  write_text(p1, "[1, -0.5]");
  EXPECT_BUILD_ERR(spec, &m, "frequency 1 is -0.5");
  unlink(p1);
  EXPECT_BUILD_ERR(spec, &m, p1);
  free(spec);
  unlink(p2);
  free(p1);
  free(p2);
  sb_free(&lines);
  sb_free(&arr);
}

// ---- validation ----

TEST(validation_errors) {
  EXPECT_BUILD_ERR("{\"name\":\"g\",\"type\":\"geometric\",\"theta\":-5}", &LLAMA,
                   "rope variant 'g': parameter 'theta' must be > 0, got -5");
  EXPECT_BUILD_ERR("{\"type\":\"geometric\",\"theta\":0}", &LLAMA, "'theta' must be > 0");
  EXPECT_BUILD_ERR("{\"type\":\"linear\",\"factor\":0.5}", &LLAMA, "'factor' must be >= 1, got 0.5");
  EXPECT_BUILD_ERR("{\"type\":\"yarn\"}", &LLAMA, "missing parameter 'factor'");
  EXPECT_BUILD_ERR("{\"type\":\"llama3\",\"factor\":8,\"low_freq_factor\":1,\"high_freq_factor\":4}",
                   &LLAMA, "missing parameter 'original_max_position_embeddings'");
  EXPECT_BUILD_ERR("{\"type\":\"llama3\",\"factor\":8,\"low_freq_factor\":4,\"high_freq_factor\":4,"
                   "\"original_max_position_embeddings\":8192}", &LLAMA,
                   "'high_freq_factor' (4) must be greater");
  EXPECT_BUILD_ERR("{\"type\":\"anchored_sigmoid\",\"anchor_factr\":20,\"anchor_dim\":16,\"slope\":1}",
                   &LLAMA, "unknown parameter 'anchor_factr' for type 'anchored_sigmoid' (did you "
                   "mean 'anchor_factor'?)");
  EXPECT_BUILD_ERR("{\"type\":\"geometrc\"}", &LLAMA, "unknown type 'geometrc' (did you mean "
                   "'geometric'?)");
  EXPECT_BUILD_ERR("{\"theta\":1}", &LLAMA, "missing 'type'");
  EXPECT_BUILD_ERR("{\"type\":\"geometric\",\"theta\":\"big\"}", &LLAMA,
                   "'theta' must be a number, got a string");
  EXPECT_BUILD_ERR("{\"type\":\"hybrid\",\"alpha\":1.5,\"p\":2,\"omf\":0.3}", &LLAMA,
                   "'alpha' must be in [0, 1], got 1.5");
  EXPECT_BUILD_ERR("{\"type\":\"yarn\",\"factor\":4,\"original_max_position_embeddings\":4096.5}",
                   &LLAMA, "must be a whole number");
  EXPECT_BUILD_ERR("{\"type\":\"yarn\",\"factor\":4,\"truncate\":\"maybe\"}", &LLAMA,
                   "'truncate' must be true or false");
  EXPECT_BUILD_ERR("{\"type\":\"mix\",\"weight\":0.5,\"of\":[{\"type\":\"geometric\"}]}", &LLAMA,
                   "'of' must list exactly two variants");
  EXPECT_BUILD_ERR("{\"type\":\"mix\",\"weight\":0.5,\"space\":\"cubic\",\"of\":[{\"type\":"
                   "\"geometric\"},{\"type\":\"geometric\"}]}", &LLAMA, "'linear' or 'log'");
  EXPECT_BUILD_ERR("{\"name\":\"m\",\"type\":\"mix\",\"weight\":0.5,\"of\":[{\"type\":\"geometric\"},"
                   "{\"name\":\"bad\",\"type\":\"geometric\",\"theta\":-1}]}", &LLAMA,
                   "rope variant 'm': member 'bad' (of[1]): parameter 'theta' must be > 0");
  EXPECT_BUILD_ERR("{\"type\":\"mix\",\"weight\":0.5,\"of\":[{\"type\":\"geometric\"},"
                   "{\"type\":\"compress\",\"threshold\":10,\"factor\":2,\"base\":{\"type\":"
                   "\"geometric\"}}]}", &LLAMA, "map positions differently");
  EXPECT_BUILD_ERR("{\"type\":\"compress\",\"threshold\":10,\"factor\":0.5,\"base\":{\"type\":"
                   "\"geometric\"}}", &LLAMA, "'factor' must be >= 1");
  EXPECT_BUILD_ERR("{\"type\":\"compress\",\"threshold\":10,\"factor\":2,\"base\":{\"name\":\"c\","
                   "\"type\":\"compress\",\"threshold\":5,\"factor\":2,\"base\":{\"type\":"
                   "\"geometric\"}}}", &LLAMA, "already compresses positions");
  EXPECT_BUILD_ERR("{\"type\":\"longrope\",\"short_factor\":[1,1],\"long_factor\":[1,1]}", &LLAMA,
                   "'short_factor' has 2 values, expected 64");
  EXPECT_BUILD_ERR("{\"type\":\"longrope\",\"short_factor\":[1,0],\"long_factor\":[1,1]}", &LLAMA,
                   "'short_factor' item 1 must be > 0");
  EXPECT_BUILD_ERR("{\"type\":\"file\",\"path\":\"x\",\"sha256\":\"abc\"}", &LLAMA,
                   "'sha256' must be 64 hexadecimal digits");
  EXPECT_BUILD_ERR("{\"type\":\"sigmoid\",\"steep\":0,\"mid\":0.5,\"omf\":0.3}", &LLAMA,
                   "'steep' must be > 0");

  // Nesting deeper than the bound.
  StrBuf deep = {0};
  for (int i = 0; i < ROPE_MAX_DEPTH; i++)
    sb_append(&deep, "{\"type\":\"mix\",\"weight\":0,\"of\":[{\"type\":\"geometric\"},");
  sb_append(&deep, "{\"type\":\"geometric\"}");
  for (int i = 0; i < ROPE_MAX_DEPTH; i++) sb_append(&deep, "]}");
  EXPECT_BUILD_ERR(deep.data, &LLAMA, "nest deeper than 8 levels");
  json_t *dj = spec_of(deep.data);
  BenchErr err = {{0}};
  EXPECT(rope_validate(dj, &err) < 0);
  EXPECT_CONTAINS(err.msg, "nest deeper");
  json_decref(dj);
  sb_free(&deep);

  // Checkpoint problems.
  RopeModelInfo odd = LLAMA;
  odd.head_dim = 10;
  odd.partial_rotary_factor = 0.5;
  EXPECT_BUILD_ERR("{\"type\":\"geometric\"}", &odd, "rotary dims 5");
  RopeModelInfo m = LLAMA;
  m.rope_scaling_json = "{\"rope_type\":\"mrope\",\"mrope_section\":[16,24,24]}";
  EXPECT_BUILD_ERR("{\"type\":\"model\"}", &m, "checkpoint rope type 'mrope' is not supported");
  m.rope_scaling_json = "{\"rope_type\":\"linear\"}";
  EXPECT_BUILD_ERR("{\"name\":\"native\",\"type\":\"model\"}", &m,
                   "rope variant 'native': checkpoint rope_scaling (type 'linear'): missing "
                   "parameter 'factor'");
  EXPECT_BUILD_ERR("{\"type\":\"model\",\"factor\":2}", &m, "unknown parameter 'factor'");
}

TEST(validate_without_model) {
  BenchErr err = {{0}};
  json_t *ok = spec_of("{\"name\":\"c\",\"type\":\"compress\",\"threshold\":8192,\"factor\":1.5,"
                       "\"base\":{\"type\":\"mix\",\"weight\":0.3,\"space\":\"log\",\"of\":["
                       "{\"type\":\"geometric\",\"theta\":1e5},{\"type\":\"hybrid\",\"alpha\":0.2,"
                       "\"p\":3.9,\"omf\":0.3}]}}");
  EXPECT_INT_EQ(rope_validate(ok, &err), 0);
  json_decref(ok);
  json_t *bad = spec_of("{\"name\":\"c\",\"type\":\"compress\",\"threshold\":-1,\"factor\":1.5,"
                        "\"base\":{\"type\":\"geometric\"}}");
  EXPECT(rope_validate(bad, &err) < 0);
  EXPECT_CONTAINS(err.msg, "rope variant 'c': parameter 'threshold' must be >= 0");
  json_decref(bad);
}

// ---- output helpers ----

TEST(print_and_spectrum) {
  RopeTable t;
  BenchErr err = {{0}};
  EXPECT(build_text("{\"type\":\"compress\",\"threshold\":8192,\"factor\":2,\"base\":{\"type\":"
                    "\"yarn\",\"factor\":2}}", &LLAMA, 0, &t, &err) == 0);
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  rope_print_table(f, &t, 500000);
  rope_print_positions(f, &t, 16384);
  fclose(f);
  EXPECT_CONTAINS(buf, "ratio to geometric(theta=500000)");
  EXPECT_CONTAINS(buf, "attention scale: 1.06931");
  EXPECT_CONTAINS(buf, "8192 -> 8192.0000  (threshold)");
  EXPECT_CONTAINS(buf, "16383 -> 12287.5000");
  EXPECT_CONTAINS(buf, "\n  63  1.22757040e-06");
  free(buf);

  char *path = tmp_path("spectrum.dat");
  const char *names[] = {"a", "b"};
  const RopeTable *tables[] = {&t, &t};
  EXPECT_INT_EQ(rope_write_spectrum_data(path, names, tables, 2, &err), 0);
  char *text = NULL;
  size_t n = 0;
  EXPECT_INT_EQ(read_file(path, 1 << 20, &text, &n, &err), 0);
  EXPECT_CONTAINS(text, "# variant a\n0 1\n");
  EXPECT_CONTAINS(text, "\n\n\n# variant b\n0 1\n");
  free(text);
  unlink(path);
  free(path);
  rope_table_free(&t);
}

int main(void) {
  RUN(hf_fixtures);
  RUN(geometric_and_linear_factor_one);
  RUN(theta_defaults_to_checkpoint);
  RUN(ntk_and_dynamic);
  RUN(anchored_sigmoid_closed_form);
  RUN(poly_sigmoid_hybrid_endpoints);
  RUN(mix_endpoints_and_scale);
  RUN(compress_positions);
  RUN(file_round_trip);
  RUN(validation_errors);
  RUN(validate_without_model);
  RUN(print_and_spectrum);
  TEST_SUMMARY();
}
