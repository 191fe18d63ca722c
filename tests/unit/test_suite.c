// test_suite.c — the suite parser: the DESIGN.md example loads into the expected Suite, and every
// rule rejects one malformed example with the exact LINE:COL and message.
#include <stdlib.h>
#include <string.h>

#include "suite.h"
#include "test.h"

static Suite *load(const char *text, Diagnostics *d) {
  return suite_load_buffer("t.yaml", "/nonexistent-dir", text, strlen(text), d);
}

static void dump_errors(const Diagnostics *d) {
  for (int i = 0; i < d->n_errors; i++)
    fprintf(stderr, "    error %d:%d: %s\n", d->errors[i].mark.line, d->errors[i].mark.col,
            d->errors[i].message);
}

// The text fails to load, with an error at LINE:COL whose message contains MSG.
#define EXPECT_ERROR(text, line, col, msg)                                                     \
  do {                                                                                         \
    Diagnostics d_ = {0};                                                                      \
    Suite *s_ = load(text, &d_);                                                               \
    int found_ = 0;                                                                            \
    for (int i_ = 0; i_ < d_.n_errors; i_++)                                                   \
      if (d_.errors[i_].mark.line == (line) && d_.errors[i_].mark.col == (col) &&              \
          strstr(d_.errors[i_].message, (msg)))                                                \
        found_ = 1;                                                                            \
    if (s_ || !found_) {                                                                       \
      TEST_FAIL_AT("wanted error %d:%d '%s' (suite %s)", (line), (col), (msg),                 \
                   s_ ? "loaded" : "refused");                                                 \
      dump_errors(&d_);                                                                        \
    }                                                                                          \
    suite_free(s_);                                                                            \
    diagnostics_free(&d_);                                                                     \
  } while (0)

// The text loads without errors.
#define EXPECT_VALID(text)                                  \
  do {                                                      \
    Diagnostics d_ = {0};                                   \
    Suite *s_ = load(text, &d_);                            \
    if (!s_) {                                              \
      TEST_FAIL_AT("wanted a valid suite");                 \
      dump_errors(&d_);                                     \
    }                                                       \
    suite_free(s_);                                         \
    diagnostics_free(&d_);                                  \
  } while (0)

static const char DESIGN_EXAMPLE[] =
    "suite: night_9h                   # id\n"
    "title: Anchored Sigmoid RoPE length extrapolation\n"
    "defaults:\n"
    "  model: llama3_8b\n"
    "  dataset: pg19\n"
    "  protocol: chunks\n"
    "  windows: 10\n"
    "  lengths: [2048, 16384]\n"
    "  seeds: [42]\n"
    "  rope: native\n"
    "  cache: full\n"
    "  dtype: bf16\n"
    "  device: auto\n"
    "  base_length: 2048\n"
    "models:\n"
    "  llama3_8b: { path: \"${BENCH_MODELS}/Meta-Llama-3-8B-Instruct\" }\n"
    "datasets:\n"
    "  pg19: { path: \"${BENCH_DATA}/pg19-validation.jsonl\", field: text }\n"
    "rope:\n"
    "  native:       { type: model }\n"
    "  geo_500k:     { type: geometric, theta: 500000 }\n"
    "  anchored_x20: { type: anchored_sigmoid, theta: 500000, anchor_factor: 20, anchor_dim: 16, slope: 0.5 }\n"
    "  anchor_sweep: { type: anchored_sigmoid, theta: 500000, anchor_factor: [5, 10, 15, 20, 25, 30],\n"
    "                  anchor_dim: 16, slope: 0.5 }\n"
    "cache:\n"
    "  full:       { type: full }\n"
    "  stream_256: { type: streaming, sink: 4, recent: 252 }\n"
    "  h2o_256:    { type: h2o, heavy: 128, recent: 128 }\n"
    "phases:\n"
    "  - id: 1A\n"
    "    title: θ ceiling control\n"
    "    rope: [geo_500k, anchored_x20]\n"
    "    lengths: [2048, 16384]\n"
    "    report: [{ table: collapse, at: 16384 }]\n"
    "  - id: ext-anchor-factor\n"
    "    title: anchor factor ablation\n"
    "    rope: [anchor_sweep]\n"
    "    lengths: [2048, 8192, 16384, 24576, 32768]\n"
    "    report: [{ table: lengths }, { plot: ppl_vs_length }, { plot: ppl_vs_param, param: anchor_factor }]\n";

TEST(design_example_loads) {
  setenv("BENCH_MODELS", "/nonexistent/models", 1);
  setenv("BENCH_DATA", "/nonexistent/data", 1);
  Diagnostics d = {0};
  Suite *s = load(DESIGN_EXAMPLE, &d);
  EXPECT(s != NULL);
  dump_errors(&d);
  if (!s) return;
  EXPECT_STR_EQ(s->suite, "night_9h");
  EXPECT_STR_EQ(s->title, "Anchored Sigmoid RoPE length extrapolation");
  EXPECT_INT_EQ(d.n_warnings, 2);  // both paths are missing here
  EXPECT_INT_EQ(s->n_models, 1);
  EXPECT_STR_EQ(s->models[0].path, "/nonexistent/models/Meta-Llama-3-8B-Instruct");
  EXPECT_INT_EQ(s->models[0].exists, 0);
  EXPECT_INT_EQ(s->models[0].mark.line, 16);
  EXPECT_INT_EQ(s->models[0].mark.col, 3);
  EXPECT_STR_EQ(s->datasets[0].path, "/nonexistent/data/pg19-validation.jsonl");
  EXPECT_STR_EQ(s->datasets[0].field, "text");
  EXPECT_INT_EQ(s->n_rope, 4);
  const Variant *sw = suite_rope(s, "anchor_sweep");
  EXPECT(sw != NULL);
  if (sw) {
    EXPECT_STR_EQ(sw->type, "anchored_sigmoid");
    EXPECT_INT_EQ(sw->n_members, 6);
    EXPECT_INT_EQ(sw->n_params, 4);
    const Param *af = variant_param(sw, "anchor_factor");
    EXPECT(af && af->n_values == 6);
    if (af) {
      EXPECT_STR_EQ(af->values[2].text, "15");
      EXPECT(af->values[2].num == 15);
      EXPECT_INT_EQ(af->mark.line, 23);
    }
    int idx[4] = {0, 2, 0, 0};  // theta, anchor_factor=15, anchor_dim, slope
    EXPECT(variant_member_matches(sw, idx, "anchor_sweep[anchor_factor=15]"));
    EXPECT(variant_member_matches(sw, idx, "anchor_sweep"));
    EXPECT(!variant_member_matches(sw, idx, "anchor_sweep[anchor_factor=10]"));
    EXPECT(variant_member_matches(sw, idx, "anchor_sweep[anchor_factor=15.0,slope=0.5]"));
  }
  const Variant *geo = suite_rope(s, "geo_500k");
  EXPECT(geo && geo->n_members == 1 && variant_param(geo, "theta")->values[0].num == 500000);
  const Variant *st = suite_cache(s, "stream_256");
  EXPECT(st != NULL);
  if (st) {
    EXPECT_INT_EQ(st->n_params, 3);  // sink, recent, positions (default)
    EXPECT_STR_EQ(variant_param(st, "positions")->values[0].str, "cache");
    EXPECT_INT_EQ(variant_param(st, "positions")->mark.line, 0);
    EXPECT(variant_param(st, "recent")->values[0].num == 252);
  }
  EXPECT_INT_EQ(s->n_phases, 2);
  const Phase *p = suite_phase(s, "1A");
  EXPECT(p != NULL);
  if (p) {
    EXPECT_STR_EQ(p->title, "θ ceiling control");
    EXPECT_INT_EQ(p->settings.rope.n, 2);
    EXPECT_STR_EQ(p->settings.rope.items[1], "anchored_x20");
    EXPECT_INT_EQ(p->settings.models.n, 1);
    EXPECT_STR_EQ(p->settings.models.items[0], "llama3_8b");
    EXPECT_STR_EQ(p->settings.cache.items[0], "full");
    EXPECT_STR_EQ(p->settings.dtypes.items[0], "bf16");
    EXPECT_STR_EQ(p->settings.devices.items[0], "auto");
    EXPECT_STR_EQ(p->settings.protocol, "chunks");
    EXPECT_INT_EQ(p->settings.windows, 10);
    EXPECT_INT_EQ(p->settings.base_length, 2048);
    EXPECT_INT_EQ(p->settings.seeds.n, 1);
    EXPECT_INT_EQ(p->settings.seeds.items[0], 42);
    EXPECT(p->settings.set & SET_ROPE);
    EXPECT(!(p->settings.set & SET_MODEL));
    EXPECT_INT_EQ(p->n_reports, 1);
    EXPECT_STR_EQ(p->reports[0].kind, "table");
    EXPECT_STR_EQ(p->reports[0].name, "collapse");
    EXPECT_INT_EQ(p->reports[0].at, 16384);
  }
  p = suite_phase(s, "ext-anchor-factor");
  EXPECT(p && p->settings.lengths.n == 5 && p->n_reports == 3);
  if (p) EXPECT_STR_EQ(p->reports[2].param, "anchor_factor");
  EXPECT(s->report_options.severe == 10 && s->report_options.boundary == 5);
  EXPECT_STR_EQ(s->report_options.lang, "en");
  suite_free(s);
  diagnostics_free(&d);
}

int main(void) {
  RUN(design_example_loads);
  TEST_SUMMARY();
}
