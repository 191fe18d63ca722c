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
#define EXPECT_ERROR(text, want_line, want_col, msg)                                                     \
  do {                                                                                         \
    Diagnostics d_ = {0};                                                                      \
    Suite *s_ = load(text, &d_);                                                               \
    int found_ = 0;                                                                            \
    for (int i_ = 0; i_ < d_.n_errors; i_++)                                                   \
      if (d_.errors[i_].mark.line == (want_line) && d_.errors[i_].mark.col == (want_col) &&              \
          strstr(d_.errors[i_].message, (msg)))                                                \
        found_ = 1;                                                                            \
    if (s_ || !found_) {                                                                       \
      TEST_FAIL_AT("wanted error %d:%d '%s' (suite %s)", (want_line), (want_col), (msg),                 \
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


// ---- helpers for small suites: H3 is lines 1-3, STD lines 1-6 ----
#define H3                                   \
  "suite: t\n"                               \
  "models: {m: {path: /nonexistent/m}}\n"    \
  "datasets: {d: {path: /nonexistent/d.jsonl}}\n"
#define ROPE_GEO "rope: {geo: {type: geometric, theta: 10000}}\n"
#define CACHE_FULL "cache: {full: {type: full}}\n"
#define DEF "defaults: {model: m, dataset: d, rope: geo, cache: full, lengths: [128, 256], seeds: [1]}\n"
#define STD H3 ROPE_GEO CACHE_FULL DEF
#define ONE_PHASE "phases: [{id: p}]\n"

TEST(minimal_suite_is_valid) {
  EXPECT_VALID(STD ONE_PHASE);
  Diagnostics d = {0};
  Suite *s = load(STD ONE_PHASE, &d);
  EXPECT(s != NULL);
  if (s) {
    const Phase *p = &s->phases[0];
    EXPECT_STR_EQ(p->settings.dtypes.items[0], "fp32");  // defaults of what nothing wrote
    EXPECT_STR_EQ(p->settings.devices.items[0], "auto");
    EXPECT_STR_EQ(p->settings.protocol, "chunks");
    EXPECT_INT_EQ(p->settings.windows, 1);
    EXPECT_INT_EQ(p->settings.base_length, 128);
    EXPECT_INT_EQ(p->settings.set, 0);
    EXPECT_INT_EQ(d.n_warnings, 2);  // missing model and dataset paths
    EXPECT_INT_EQ(d.warnings[0].mark.line, 2);
    EXPECT_INT_EQ(d.warnings[0].mark.col, 20);
    EXPECT_CONTAINS(d.warnings[0].message, "path '/nonexistent/m' does not exist");
  }
  suite_free(s);
  diagnostics_free(&d);
}

TEST(relative_paths_resolve_against_the_suite_dir) {
  Diagnostics d = {0};
  Suite *s = suite_load_buffer("dir/t.yaml", "dir", STD ONE_PHASE "\n", strlen(STD ONE_PHASE), &d);
  EXPECT(s != NULL);
  suite_free(s);
  diagnostics_free(&d);
  const char *text = "suite: t\nmodels: {m: {path: ckpt/m}}\ndatasets: {d: {path: x.txt}}\n"
                     ROPE_GEO CACHE_FULL DEF ONE_PHASE;
  s = suite_load_buffer("suites/t.yaml", "suites", text, strlen(text), &d);
  EXPECT(s != NULL);
  if (s) {
    EXPECT_STR_EQ(s->models[0].path, "suites/ckpt/m");
    EXPECT_STR_EQ(s->datasets[0].path, "suites/x.txt");
    EXPECT(s->datasets[0].field == NULL);
  }
  suite_free(s);
  diagnostics_free(&d);
}

TEST(yaml_level_errors) {
  EXPECT_ERROR("suite: t\nrpoe: {}\n", 2, 1, "unknown key 'rpoe' (did you mean 'rope'?)");
  EXPECT_ERROR("suite: t\nsuite: u\n", 2, 1, "duplicate key 'suite' (first at 1:1)");
  EXPECT_ERROR("suite: &a t\n", 1, 8, "YAML anchors are not allowed ('&a')");
  EXPECT_ERROR("suite: t\ntitle: *a\n", 2, 8, "YAML aliases are not allowed ('*a')");
  EXPECT_ERROR("suite: !!str t\n", 1, 8, "YAML tags are not allowed ('tag:yaml.org,2002:str')");
  EXPECT_ERROR("suite: t\ntitle: ab\xff\n", 2, 10, "invalid UTF-8 byte 0xff");
  EXPECT_ERROR("suite: t\ntitle: \xce\xb8\xce\n", 2, 9, "invalid UTF-8 byte 0xce");
  EXPECT_ERROR("suite: t\ntitle: \xc0\x80\n", 2, 8, "invalid UTF-8 byte 0xc0");  // overlong NUL
  EXPECT_ERROR("suite: t\n\ttitle: x\n", 2, 1, "invalid YAML: found a tab character that violates indentation");
  EXPECT_ERROR("", 1, 1, "the suite file is empty");
  EXPECT_ERROR("# only a comment\n", 1, 1, "the suite file is empty");
  EXPECT_ERROR("- suite: t\n", 1, 1, "a suite file must be a mapping (suite:, phases:, ...), got a list");
  EXPECT_ERROR("hello\n", 1, 1, "a suite file must be a mapping (suite:, phases:, ...), got string 'hello'");
  EXPECT_ERROR("suite: t\n---\nsuite: u\n", 2, 1, "one YAML document");
  EXPECT_ERROR("suite: [a\n", 2, 1, "invalid YAML: did not find expected ',' or ']'");
  EXPECT_ERROR("suite: t\n? [a]\n: b\n", 2, 3, "mapping keys must be plain strings, not lists");
  EXPECT_ERROR("suite: t\ntitle: \"a\\x01\"\n", 2, 8, "control character U+0001 in a string");
}

TEST(nul_byte_is_refused) {
  const char text[] = "suite: t\ntitle: a\0b\n";
  Diagnostics d = {0};
  Suite *s = suite_load_buffer("t.yaml", ".", text, sizeof text - 1, &d);
  EXPECT(s == NULL);
  EXPECT(d.n_errors == 1 && d.errors[0].mark.line == 2 && d.errors[0].mark.col == 9);
  if (d.n_errors) EXPECT_CONTAINS(d.errors[0].message, "character U+0000 is not allowed");
  diagnostics_free(&d);
}

TEST(deep_nesting_is_bounded) {
  int depth = 10000;
  char *text = malloc((size_t)depth * 2 + 16);
  strcpy(text, "a: ");
  char *p = text + 3;
  for (int i = 0; i < depth; i++) *p++ = '[';
  for (int i = 0; i < depth; i++) *p++ = ']';
  strcpy(p, "\n");
  // the root mapping is level 1, so the 64th '[' (column 4 + 63) is level 65
  EXPECT_ERROR(text, 1, 67, "nesting deeper than 64 levels");
  p = text;
  for (int i = 0; i < depth; i++) *p++ = '-', *p++ = ' ';
  strcpy(p, "x\n");
  EXPECT_ERROR(text, 1, 129, "nesting deeper than 64 levels");
  free(text);
}

TEST(large_inputs_are_refused) {
  size_t n = (1u << 20) + 10;
  char *text = malloc(n + 1);
  memset(text, '#', n);
  text[n] = 0;
  Diagnostics d = {0};
  Suite *s = suite_load_buffer("t.yaml", ".", text, n, &d);
  EXPECT(s == NULL && d.n_errors == 1);
  if (d.n_errors) EXPECT_CONTAINS(d.errors[0].message, "the file is too large (1048586 bytes, limit 1048576)");
  diagnostics_free(&d);
  // more than 10,000 entries in one list
  StrBuf b = {0};
  sb_append(&b, "suite: t\nl: [");
  for (int i = 0; i < 10001; i++) sb_append(&b, "1,");
  sb_append(&b, "1]\n");
  EXPECT_ERROR(b.data, 2, 5 + 2 * 10000, "more than 10000 entries in one list or mapping");
  sb_free(&b);
  free(text);
}

TEST(variables) {
  unsetenv("BENCH_SURELY_UNSET_42");
  EXPECT_ERROR("suite: t\ntitle: x${BENCH_SURELY_UNSET_42}\n", 2, 8,
               "environment variable 'BENCH_SURELY_UNSET_42' is not set");
  EXPECT_ERROR("suite: t\ntitle: ${1X}\n", 2, 8, "malformed variable reference '${1X}'");
  EXPECT_ERROR("suite: t\ntitle: \"${X\"\n", 2, 8, "unterminated variable reference '${X'");
  setenv("BENCH_TEST_THETA", "25000", 1);
  Diagnostics d = {0};
  // plain in block style: a number once expanded (in flow style "}" would end the scalar)
  const char *text = H3 "rope:\n  geo:\n    type: geometric\n    theta: ${BENCH_TEST_THETA}\n" CACHE_FULL DEF ONE_PHASE;
  Suite *s = load(text, &d);
  EXPECT(s && suite_rope(s, "geo") && variant_param(suite_rope(s, "geo"), "theta")->values[0].num == 25000);
  suite_free(s);
  diagnostics_free(&d);
}

TEST(top_level_and_entries) {
  EXPECT_ERROR("title: x\nphases: [{id: p}]\n", 1, 1, "missing key 'suite'");
  EXPECT_ERROR("suite: t\n", 1, 1, "missing key 'phases'");
  EXPECT_ERROR("suite: a/b\nphases: []\n", 1, 8, "suite id 'a/b' may only contain");
  EXPECT_ERROR("suite: ..\nphases: []\n", 1, 8, "suite id '..'");
  EXPECT_ERROR(STD "phases: []\n", 7, 9, "'phases' must not be an empty list");
  EXPECT_ERROR(STD "phases: {id: p}\n", 7, 9, "'phases' must be a list, got a mapping");
  EXPECT_ERROR("suite: t\nmodels: {m: {pth: x}}\nphases: []\n", 2, 14, "unknown key 'pth' (did you mean 'path'?)");
  EXPECT_ERROR("suite: t\nmodels: {m: {}}\nphases: []\n", 2, 10, "model 'm' needs a 'path'");
  EXPECT_ERROR("suite: t\nmodels: {m: x}\nphases: []\n", 2, 13, "'m' must be a mapping, got string 'x'");
  EXPECT_ERROR("suite: t\nmodels: {\"a b\": {path: x}}\nphases: []\n", 2, 10, "model name 'a b' may only contain");
  EXPECT_ERROR("suite: t\ndatasets: {d: {path: x.csv}}\nphases: []\n", 2, 22,
               "dataset 'd': path must end in .txt, .jsonl or .bin, got '/nonexistent-dir/x.csv'");
  EXPECT_ERROR("suite: t\ndatasets: {d: {path: x.txt, field: body}}\nphases: []\n", 2, 36,
               "'field' applies to .jsonl datasets only");
  EXPECT_ERROR("suite: t\ndatasets: {d: {path: x.bin, model: lama}}\nphases: []\n", 2, 36, "unknown model 'lama'");
  EXPECT_ERROR("suite: t\nreport_options: {severe: -1}\nphases: []\n", 2, 26, "'severe' must be > 0, got -1");
  EXPECT_ERROR("suite: t\nreport_options: {lang: fr}\nphases: []\n", 2, 24,
               "'lang' must be one of en or zh, got 'fr'");
  EXPECT_ERROR("suite: t\nreport_options: {sever: 3}\nphases: []\n", 2, 18, "unknown key 'sever' (did you mean 'severe'?)");
  EXPECT_ERROR("suite: t\ntitle: [a]\nphases: []\n", 2, 8, "'title' must be a string, got a list");
}

TEST(rope_parameters_are_type_checked) {
#define ROPE_ERR(line2, col, msg) EXPECT_ERROR(H3 "rope:\n  v: " line2 "\n" CACHE_FULL ONE_PHASE, 5, col, msg)
  ROPE_ERR("{type: geometric, theta: abc}", 31, "'theta' must be a number, got string 'abc'");
  ROPE_ERR("{type: geometric, theta: \"500000\"}", 31, "'theta' must be a number, got string '500000'");
  ROPE_ERR("{type: geometric, theta: -5}", 31, "'theta' must be > 0, got -5");
  ROPE_ERR("{type: geometric, theta: 0}", 31, "'theta' must be > 0, got 0");
  ROPE_ERR("{type: geometric, theta: .inf}", 31, "'theta' must be a number, got string '.inf'");
  ROPE_ERR("{type: geometric}", 3, "rope variant 'v' (type geometric) needs 'theta'");
  ROPE_ERR("{type: geometric, thta: 5}", 24, "unknown key 'thta' (did you mean 'theta'?)");
  ROPE_ERR("{type: geometirc, theta: 5}", 13, "'type' must be one of model, geometric");
  ROPE_ERR("{type: geometirc, theta: 5}", 13, "(did you mean 'geometric'?)");
  ROPE_ERR("{theta: 5}", 3, "rope variant 'v' needs a 'type'");
  ROPE_ERR("{type: geometric, theta: 5, factor: 2}", 34, "unknown key 'factor'");
  ROPE_ERR("{type: linear, factor: 0.5}", 29, "'factor' must be >= 1, got 0.5");
  ROPE_ERR("{type: dynamic, factor: 2, original_max_position_embeddings: 2048.5}", 67,
           "'original_max_position_embeddings' must be an integer, got 2048.5");
  ROPE_ERR("{type: yarn, factor: 4, truncate: 1}", 40, "'truncate' must be true or false, got number 1");
  ROPE_ERR("{type: yarn, factor: 4, beta_fast: -1}", 41, "'beta_fast' must be > 0, got -1");
  ROPE_ERR("{type: llama3, factor: 8, low_freq_factor: 1, high_freq_factor: 4}", 3,
           "rope variant 'v' (type llama3) needs 'original_max_position_embeddings'");
  ROPE_ERR("{type: llama3, factor: 8, low_freq_factor: 4, high_freq_factor: 1, original_max_position_embeddings: 8192}",
           52, "'high_freq_factor' must be greater than 'low_freq_factor'");
  ROPE_ERR("{type: longrope, short_factor: 5, long_factor: [1]}", 37, "'short_factor' must be a list, got number 5");
  ROPE_ERR("{type: longrope, short_factor: [1, 0], long_factor: [1, 1]}", 41, "'short_factor' must be > 0, got 0");
  ROPE_ERR("{type: longrope, short_factor: [1, 2], long_factor: [1]}", 45,
           "'long_factor' must have as many entries as 'short_factor' (2, got 1)");
  ROPE_ERR("{type: longrope, short_factor: [[1], 2], long_factor: [1]}", 37, "'short_factor' mixes lists and single values");
  ROPE_ERR("{type: anchored_sigmoid, anchor_factor: 20, anchor_dim: -1, slope: 0.5}", 62,
           "'anchor_dim' must be >= 0, got -1");
  ROPE_ERR("{type: anchored_sigmoid, anchor_factor: 20, anchor_dim: 16}", 3,
           "rope variant 'v' (type anchored_sigmoid) needs 'slope'");
  ROPE_ERR("{type: anchored_poly, p: 3.9, omf: 1.5}", 41, "'omf' must be in [0, 1], got 1.5");
  ROPE_ERR("{type: sigmoid, steep: 0, mid: 0.5, omf: 0.3}", 29, "'steep' must be > 0, got 0");
  ROPE_ERR("{type: hybrid, alpha: 2, p: 3, omf: 0.3}", 28, "'alpha' must be in [0, 1], got 2");
  ROPE_ERR("{type: mix, of: [geo], weight: 0.5}", 22, "'of' must name exactly two variants, got 1");
  ROPE_ERR("{type: mix, of: [v, v], weight: 0.5, space: cubic}", 50, "'space' must be one of linear or log, got 'cubic'");
  ROPE_ERR("{type: file}", 3, "rope variant 'v' (type file) needs 'path'");
  ROPE_ERR("{type: compress, base: v, threshold: 0.5, factor: 2}", 43, "'threshold' must be >= 1, got 0.5");
  ROPE_ERR("{type: model, theta: [1, 1]}", 31, "duplicate value '1' in the sweep of 'theta'");
  ROPE_ERR("{type: model, theta: []}", 27, "'theta' must not be an empty list");
  ROPE_ERR("{type: model, theta: [1, [2]]}", 31, "'theta' must be a number, got a list");
  ROPE_ERR("{type: model, theta: null}", 27, "'theta' must be a number, got null");
  ROPE_ERR("{type: model, theta: true}", 27, "'theta' must be a number, got boolean true");
  ROPE_ERR("x", 6, "'v' must be a mapping, got string 'x'");
  ROPE_ERR("{type: mix, of: [geo, nope], weight: 0.5}", 18, "unknown rope variant 'nope'");
  ROPE_ERR("{type: compress, base: ge, threshold: 8192, factor: 2}", 23, "unknown rope variant 'ge'");
  EXPECT_ERROR(H3 "rope: {\"a[b]\": {type: model}}\n", 4, 8, "rope variant 'a[b]' may only contain");
#undef ROPE_ERR
}

TEST(rope_sweeps_and_references) {
  const char *text = H3
      "rope:\n"
      "  geo: {type: geometric, theta: [10000, 500000]}\n"
      "  lr: {type: longrope, short_factor: [[1, 1], [2, 2]], long_factor: [3, 3]}\n"
      "  y: {type: yarn, factor: [2, 4], beta_fast: [16, 32, 64], truncate: false}\n"
      "  m: {type: mix, of: [\"geo[theta=10000]\", \"lr[short_factor=[2,2]]\"], weight: 0.5, space: log}\n"
      "  c: {type: compress, base: m, threshold: 8192, factor: 2}\n"
      CACHE_FULL DEF ONE_PHASE;
  Diagnostics d = {0};
  Suite *s = load(text, &d);
  EXPECT(s != NULL);
  dump_errors(&d);
  if (s) {
    const Variant *lr = suite_rope(s, "lr"), *y = suite_rope(s, "y"), *m = suite_rope(s, "m");
    EXPECT(lr && lr->n_members == 2 && variant_param(lr, "short_factor")->n_values == 2);
    EXPECT(lr && variant_param(lr, "short_factor")->values[1].kind == PV_NUMLIST);
    EXPECT(lr && variant_param(lr, "short_factor")->values[1].n == 2);
    if (lr) EXPECT_STR_EQ(variant_param(lr, "short_factor")->values[1].text, "[2,2]");
    EXPECT(y && y->n_members == 6 && y->n_params == 4);  // factor, beta_fast, truncate, beta_slow
    EXPECT(y && variant_param(y, "truncate")->values[0].kind == PV_BOOL);
    EXPECT(y && variant_param(y, "beta_slow")->values[0].num == 1);  // default filled in
    EXPECT(m && variant_param(m, "of")->values[0].kind == PV_STRLIST);
    if (m) EXPECT_STR_EQ(variant_param(m, "of")->values[0].strs[1], "lr[short_factor=[2,2]]");
    if (m) EXPECT_STR_EQ(variant_param(m, "space")->values[0].str, "log");
    int idx[2] = {1, 0};
    EXPECT(lr && variant_member_matches(lr, idx, "lr[short_factor=[2, 2]]"));
    // member names: swept parameters in file order, values as written, the last varying fastest
    if (y) {
      EXPECT_INT_EQ(variant_n_members(y), 6);
      char *n0 = variant_member_name(y, 0), *n4 = variant_member_name(y, 4);
      EXPECT_STR_EQ(n0, "y[factor=2,beta_fast=16]");
      EXPECT_STR_EQ(n4, "y[factor=4,beta_fast=32]");
      int yi[4];
      variant_member_indices(y, 4, yi);
      EXPECT(yi[0] == 1 && yi[1] == 1 && yi[2] == 0 && yi[3] == 0);
      EXPECT(variant_member_matches(y, yi, n4));
      free(n0), free(n4);
    }
    if (lr) {
      char *n1 = variant_member_name(lr, 1);
      EXPECT_STR_EQ(n1, "lr[short_factor=[2,2]]");
      free(n1);
    }
    char *plain = variant_member_name(suite_rope(s, "c"), 0);
    EXPECT_STR_EQ(plain, "c");
    free(plain);
  }
  suite_free(s);
  diagnostics_free(&d);

#define REF_ERR(lines, line, col, msg) EXPECT_ERROR(H3 "rope:\n" lines CACHE_FULL ONE_PHASE, line, col, msg)
  REF_ERR("  a: {type: mix, of: [b, a], weight: 0.5}\n"
          "  b: {type: mix, of: [a, a], weight: 0.5}\n",
          5, 18, "rope variants refer to each other in a cycle: a -> a");
  REF_ERR("  a: {type: mix, of: [b, g], weight: 0.5}\n"
          "  b: {type: compress, base: a, threshold: 8, factor: 2}\n"
          "  g: {type: geometric, theta: 10000}\n",
          6, 23, "rope variants refer to each other in a cycle: a -> b -> a");
  REF_ERR("  s: {type: geometric, theta: [1, 2]}\n"
          "  c: {type: compress, base: s, threshold: 8, factor: 2}\n",
          6, 23, "'base' of rope variant 'c' must name one variant, but 's' stands for 2 members (name one, e.g. 's[theta=1]')");
  REF_ERR("  s: {type: geometric, theta: [1, 2]}\n"
          "  c: {type: compress, base: \"s[theta=3]\", threshold: 8, factor: 2}\n",
          6, 23, "no member of rope variant 's' has theta=3");
  REF_ERR("  s: {type: geometric, theta: [1, 2]}\n"
          "  c: {type: compress, base: \"s[thta=1]\", threshold: 8, factor: 2}\n",
          6, 23, "rope variant 's' has no parameter 'thta' (did you mean 'theta'?)");
  REF_ERR("  s: {type: geometric, theta: [1, 2]}\n"
          "  c: {type: compress, base: \"s[theta=1\", threshold: 8, factor: 2}\n",
          6, 23, "malformed rope variant 's[theta=1'");
#undef REF_ERR
}

TEST(cache_policies) {
#define CACHE_ERR(body, col, msg) EXPECT_ERROR(H3 ROPE_GEO "cache: {c: " body "}\n" ONE_PHASE, 5, col, msg)
  CACHE_ERR("{type: streaming, sink: -1, recent: 252}", 36, "'sink' must be >= 0, got -1");
  CACHE_ERR("{type: streaming, sink: 4, recent: -3}", 47, "'recent' must be >= 1, got -3");
  CACHE_ERR("{type: streaming, sink: 4, recent: 2.5}", 47, "'recent' must be an integer, got 2.5");
  CACHE_ERR("{type: streaming, sink: 4, recent: 8, positions: orignal}", 61,
            "'positions' must be one of cache or original, got 'orignal' (did you mean 'original'?)");
  CACHE_ERR("{type: window}", 9, "cache policy 'c' (type window) needs 'recent'");
  CACHE_ERR("{type: h2o, heavy: 128, recnt: 128}", 36, "unknown key 'recnt' (did you mean 'recent'?)");
  CACHE_ERR("{type: lru}", 19, "'type' must be one of full, window, streaming or h2o, got 'lru'");
  CACHE_ERR("{type: full, recent: 5}", 25, "unknown key 'recent'");
  CACHE_ERR("{type: h2o, heavy: 4, recent: 4, positions: orignal}", 56,
            "'positions' must be one of cache or original, got 'orignal' (did you mean 'original'?)");
  CACHE_ERR("{type: full, positions: cache}", 25, "unknown key 'positions'");
#undef CACHE_ERR
}

// `positions` is optional for window and h2o, with no default: a policy that does not write it
// keeps the parameters (and so the job spec) it had before the key existed.
TEST(cache_positions_optional) {
  const char *text = H3 ROPE_GEO
      "cache: {full: {type: full}, w: {type: window, recent: 8}, h: {type: h2o, heavy: 4, recent: 4},\n"
      "        hc: {type: h2o, heavy: 4, recent: 4, positions: cache},\n"
      "        wo: {type: window, recent: 8, positions: [cache, original]}}\n"
      "defaults: {model: m, dataset: d, rope: geo, cache: full, lengths: [128], seeds: [1], protocol: decode, prompt: 16}\n"
      "phases: [{id: p, cache: [full, w, h, hc, wo]}]\n";
  Diagnostics d = {0};
  Suite *s = load(text, &d);
  EXPECT(s != NULL);
  if (!s) dump_errors(&d);
  if (s) {
    const Variant *w = suite_cache(s, "w"), *h = suite_cache(s, "h"), *hc = suite_cache(s, "hc"),
                  *wo = suite_cache(s, "wo");
    EXPECT(w && h && hc && wo);
    if (w && h && hc && wo) {
      EXPECT_INT_EQ(w->n_params, 1);
      EXPECT(variant_param(w, "positions") == NULL);
      EXPECT_INT_EQ(h->n_params, 2);
      EXPECT(variant_param(h, "positions") == NULL);
      EXPECT_STR_EQ(variant_param(hc, "positions")->values[0].str, "cache");
      EXPECT_INT_EQ(wo->n_members, 2);  // a sweep, like any parameter
    }
    suite_free(s);
  }
  diagnostics_free(&d);
}

#define RECIPE                                                                                   \
  "{arch: llama, layers: 6, hidden: 512, heads: 8, intermediate: 2048, tokenizer: m, data: d, "  \
  "tokens: 50000000, seq_len: 2048, batch: 32, lr: 0.0006, warmup: 500, schedule: cosine, "      \
  "beta1: 0.9, beta2: 0.95, weight_decay: 0.1, grad_clip: 1.0, dtype: bf16"

TEST(train_recipes) {
  const char *text = H3 ROPE_GEO CACHE_FULL "train: {tiny: " RECIPE ", lr: [0.0006, 0.001]}}\n"
                     "phases: [{id: p, train: tiny, dataset: d, rope: geo, cache: full, lengths: [128], seeds: [1, 2]}]\n";
  Diagnostics d = {0};
  Suite *s = load(text, &d);
  EXPECT(s == NULL);  // lr written twice: duplicate key
  suite_free(s);
  diagnostics_free(&d);
  text = H3 ROPE_GEO CACHE_FULL "train: {tiny: " RECIPE ", kv_heads: 4}}\n"
         "phases: [{id: p, train: tiny, dataset: d, rope: geo, cache: full, lengths: [128], seeds: [1, 2],\n"
         "          report: [{plot: loss_curve}]}]\n";
  s = load(text, &d);
  EXPECT(s != NULL);
  dump_errors(&d);
  if (s) {
    const Variant *r = suite_train(s, "tiny");
    EXPECT(r && strcmp(r->type, "train") == 0 && r->n_params == 19);
    if (r) EXPECT_STR_EQ(variant_param(r, "tokenizer")->values[0].str, "m");
    EXPECT_INT_EQ(s->phases[0].settings.models.n, 0);  // a training phase evaluates what it trains
    EXPECT_STR_EQ(s->phases[0].settings.train.items[0], "tiny");
  }
  suite_free(s);
  diagnostics_free(&d);
#define TRAIN_ERR(extra, col, msg) \
  EXPECT_ERROR(H3 ROPE_GEO CACHE_FULL "train: {r: " RECIPE extra "}}\n" ONE_PHASE, 6, col, msg)
  TRAIN_ERR(", kv_heads: 3", 263, "'heads' (8) must be a multiple of 'kv_heads' (3) in train recipe 'r'");
  TRAIN_ERR(", vocab_size: 0", 275, "'vocab_size' must be >= 1, got 0");
  TRAIN_ERR(", eval_every: x", 275, "'eval_every' must be an integer, got string 'x'");
  TRAIN_ERR(", type: train", 263, "unknown key 'type'");
  TRAIN_ERR(", min_lr: 0.01", 263, "'min_lr' must not exceed 'lr' in train recipe 'r'");
#undef TRAIN_ERR
  EXPECT_ERROR(H3 ROPE_GEO CACHE_FULL "train: {r: {arch: gpt2}}\n" ONE_PHASE, 6, 19,
               "'arch' must be one of llama, qwen2, mistral or gpt_neox, got 'gpt2'");
  EXPECT_ERROR(H3 ROPE_GEO CACHE_FULL "train: {r: {arch: llama}}\n" ONE_PHASE, 6, 9, "train recipe 'r' needs 'layers'");
  EXPECT_ERROR(H3 ROPE_GEO CACHE_FULL "train: {r: {arch: llama, schedule: cosin}}\n" ONE_PHASE, 6, 36,
               "(did you mean 'cosine'?)");
  // data must name a dataset; hidden must split into heads; one step must fit in the tokens
  const char *bad = H3 ROPE_GEO CACHE_FULL
      "train: {r: {arch: llama, layers: 6, hidden: 500, heads: 8, intermediate: 2048, tokenizer: m, data: dd,\n"
      "            tokens: 1000, seq_len: 2048, batch: 32, lr: 0.0006, warmup: 500, schedule: cosine,\n"
      "            beta1: 0.9, beta2: 0.95, weight_decay: 0.1, grad_clip: 1.0, dtype: bf16}}\n" ONE_PHASE;
  EXPECT_ERROR(bad, 6, 94, "unknown dataset 'dd' (did you mean 'd'?)");
  EXPECT_ERROR(bad, 6, 50, "'hidden' (500) must be a multiple of 'heads' (8)");
  EXPECT_ERROR(bad, 7, 13, "'tokens' (1000) is less than one training step (batch x seq_len = 65536)");
  EXPECT_ERROR(H3 ROPE_GEO CACHE_FULL "train: {r: " RECIPE "}}\n" DEF
               "phases: [{id: p, train: r, model: m}]\n", 8, 35, "phase 'p' trains its models ('train'): drop 'model'");
  EXPECT_ERROR(STD "phases: [{id: p, report: [{plot: loss_curve}]}]\n", 7, 27,
               "plot loss_curve needs a phase that trains ('train')");
}

TEST(settings_and_phases) {
  EXPECT_ERROR(H3 ROPE_GEO CACHE_FULL "defaults: {rpoe: geo}\n" ONE_PHASE, 6, 12,
               "unknown key 'rpoe' (did you mean 'rope'?)");
  EXPECT_ERROR(STD "phases: [{id: p, lenghts: [128]}]\n", 7, 18, "unknown key 'lenghts' (did you mean 'lengths'?)");
  EXPECT_ERROR(STD "phases: [{id: p, lengths: []}]\n", 7, 27, "'lengths' must not be an empty list");
  EXPECT_ERROR(STD "phases: [{id: p, lengths: [1, 128]}]\n", 7, 28, "'lengths' must be >= 2, got 1");
  EXPECT_ERROR(STD "phases: [{id: p, lengths: [128, 128]}]\n", 7, 33, "128 appears twice in 'lengths'");
  EXPECT_ERROR(STD "phases: [{id: p, lengths: 16k}]\n", 7, 27, "'lengths' must be an integer, got string '16k'");
  EXPECT_ERROR(STD "phases: [{id: p, seeds: -1}]\n", 7, 25, "'seeds' must be >= 0, got -1");
  EXPECT_ERROR(STD "phases: [{id: p, windows: 0}]\n", 7, 27, "'windows' must be >= 1, got 0");
  EXPECT_ERROR(STD "phases: [{id: p, rope: [geo, geo]}]\n", 7, 30, "'geo' appears twice in 'rope'");
  EXPECT_ERROR(STD "phases: [{id: p, rope: geo5}]\n", 7, 24, "unknown rope variant 'geo5' (did you mean 'geo'?)");
  EXPECT_ERROR(STD "phases: [{id: p, cache: fll}]\n", 7, 25, "unknown cache policy 'fll' (did you mean 'full'?)");
  EXPECT_ERROR(STD "phases: [{id: p, model: x}]\n", 7, 25, "unknown model 'x'");
  EXPECT_ERROR(STD "phases: [{id: p, dataset: [d, e]}]\n", 7, 31, "unknown dataset 'e' (did you mean 'd'?)");
  EXPECT_ERROR(STD "phases: [{id: p, train: tiny}]\n", 7, 25, "unknown train recipe 'tiny'");
  EXPECT_ERROR(STD "phases: [{id: p, dtype: bf17}]\n", 7, 25,
               "'dtype' must be one of bf16, fp16 or fp32, got 'bf17' (did you mean 'bf16'?)");
  EXPECT_ERROR(STD "phases: [{id: p, device: [cpu, gpu]}]\n", 7, 32, "'device' must be auto, cpu, cuda or cuda:N, got 'gpu'");
  EXPECT_ERROR(STD "phases: [{id: p, protocol: chunk}]\n", 7, 28, "(did you mean 'chunks'?)");
  EXPECT_ERROR(STD "phases: [{id: p, rope: {a: b}}]\n", 7, 24, "'rope' must be a value or a list of values, got a mapping");
  EXPECT_ERROR(STD "phases: [{title: x}]\n", 7, 10, "a phase needs an 'id'");
  EXPECT_ERROR(STD "phases: [{id: \"a b\"}]\n", 7, 15, "phase id 'a b' may only contain");
  EXPECT_ERROR(STD "phases: [x]\n", 7, 10, "'phase' must be a mapping, got string 'x'");
  EXPECT_ERROR(STD "phases:\n  - id: p\n  - id: q\n  - id: p\n", 10, 9, "duplicate phase id 'p' (first at 8:9)");
  EXPECT_ERROR(H3 ROPE_GEO CACHE_FULL "phases: [{id: p, model: m, dataset: d, cache: full, lengths: [128], seeds: 1}]\n",
               6, 10, "phase 'p' has no 'rope' (set it in the phase or in defaults)");
  EXPECT_ERROR(H3 ROPE_GEO CACHE_FULL "phases: [{id: p, model: m, dataset: d, rope: geo, lengths: [128], seeds: 1}]\n",
               6, 10, "phase 'p' has no 'cache'");
  EXPECT_ERROR(H3 ROPE_GEO CACHE_FULL "phases: [{id: p, model: m, dataset: d, rope: geo, cache: full, lengths: [128]}]\n",
               6, 10, "phase 'p' has no 'seeds'");
  // a single int is a one-item list; a phase overrides defaults
  Diagnostics d = {0};
  Suite *s = load(STD "phases: [{id: p, seeds: 7, lengths: 512, dtype: [bf16, fp32], device: cuda:1}]\n", &d);
  EXPECT(s != NULL);
  if (s) {
    const Settings *st = &s->phases[0].settings;
    EXPECT(st->seeds.n == 1 && st->seeds.items[0] == 7 && st->lengths.items[0] == 512);
    EXPECT(st->seeds.marks[0].line == 7 && st->seeds.marks[0].col == 25);
    EXPECT(st->dtypes.n == 2 && strcmp(st->devices.items[0], "cuda:1") == 0);
    EXPECT(st->models.n == 1 && st->models.marks[0].line == 6);  // inherited, with its position
    EXPECT(st->set == (SET_SEEDS | SET_LENGTHS | SET_DTYPE | SET_DEVICE));
  }
  suite_free(s);
  diagnostics_free(&d);
}

TEST(protocol_keys) {
  EXPECT_ERROR(STD "phases: [{id: p, stride: 64}]\n", 7, 26, "'stride' applies to protocol sliding only");
  EXPECT_ERROR(STD "phases: [{id: p, protocol: random, prompt: 64}]\n", 7, 44, "'prompt' applies to protocol decode only");
  EXPECT_ERROR(STD "phases: [{id: p, protocol: sliding, warmup: 4}]\n", 7, 45, "'warmup' applies to protocol decode only");
  EXPECT_ERROR(H3 ROPE_GEO CACHE_FULL "defaults: {protocol: chunks, stride: 5}\n" ONE_PHASE, 6, 38,
               "'stride' applies to protocol sliding only");
  EXPECT_ERROR(STD "phases: [{id: p, protocol: decode}]\n", 7, 10, "phase 'p' uses protocol decode and needs 'prompt'");
  EXPECT_ERROR(STD "phases: [{id: p, protocol: decode, prompt: 128}]\n", 6, 68,
               "length 128 must be greater than 'prompt' (128)");
  EXPECT_ERROR(STD "phases: [{id: p, protocol: sliding, stride: 200}]\n", 7, 45, "'stride' (200) must not exceed length 128");
  // keys inherited from defaults follow the phase's protocol
  Diagnostics d = {0};
  Suite *s = load(H3 ROPE_GEO CACHE_FULL
                  "defaults: {model: m, dataset: d, rope: geo, cache: full, lengths: [300], seeds: [1],\n"
                  "           protocol: decode, prompt: 256, warmup: 4}\n"
                  "phases: [{id: a}, {id: b, protocol: chunks}, {id: c, protocol: sliding, stride: 100}]\n", &d);
  EXPECT(s != NULL);
  dump_errors(&d);
  if (s) {
    EXPECT(s->phases[0].settings.prompt == 256 && s->phases[0].settings.warmup == 4);
    EXPECT(s->phases[1].settings.prompt == 0 && s->phases[1].settings.warmup == 0);
    EXPECT_STR_EQ(s->phases[1].settings.protocol, "chunks");
    EXPECT(s->phases[2].settings.stride == 100);
  }
  suite_free(s);
  diagnostics_free(&d);
}

TEST(include_exclude) {
  const char *head = H3
      "rope: {geo: {type: geometric, theta: [10000, 500000]}, other: {type: model}}\n"
      CACHE_FULL DEF;
  StrBuf b = {0};
#define EXC(phase, line, col, msg)                \
  do {                                            \
    b.len = 0;                                    \
    sb_append(&b, head);                          \
    sb_append(&b, phase);                         \
    EXPECT_ERROR(b.data, line, col, msg);         \
  } while (0)
  EXC("phases: [{id: p, exclude: [{rope: other}]}]\n", 7, 35,
      "exclude entry matches nothing: phase 'p' does not run rope variant 'other'");
  EXC("phases: [{id: p, exclude: [{rope: \"geo[theta=5]\"}]}]\n", 7, 35, "no member of rope variant 'geo' has theta=5");
  EXC("phases: [{id: p, exclude: [{length: 512}]}]\n", 7, 37, "exclude entry matches nothing: phase 'p' does not run length 512");
  EXC("phases: [{id: p, exclude: [{seed: 2}]}]\n", 7, 35, "does not run seed 2");
  EXC("phases: [{id: p, exclude: [{lenght: 128}]}]\n", 7, 29, "unknown key 'lenght' (did you mean 'length'?)");
  EXC("phases: [{id: p, exclude: [{}]}]\n", 7, 28, "an 'exclude' entry must name at least one of");
  EXC("phases: [{id: p, exclude: [{dtype: fp16}]}]\n", 7, 36, "does not run dtype 'fp16'");
  EXC("phases: [{id: p, include: [{model: mm}]}]\n", 7, 36, "unknown model 'mm' (did you mean 'm'?)");
  EXC("phases: [{id: p, include: [{device: tpu}]}]\n", 7, 37, "'device' must be auto, cpu, cuda or cuda:N, got 'tpu'");
  EXC("phases: [{id: p, include: x}]\n", 7, 27, "'include' must be a list, got string 'x'");
#undef EXC
  b.len = 0;
  sb_append(&b, head);
  sb_append(&b, "phases: [{id: p, rope: [geo, other], exclude: [{rope: \"geo[theta=1e4]\", length: 256}, {rope: other}],\n"
                "          include: [{rope: other, length: 4096}]}]\n");
  Diagnostics d = {0};
  Suite *s = load(b.data, &d);
  EXPECT(s != NULL);
  dump_errors(&d);
  if (s) {
    const Phase *p = &s->phases[0];
    EXPECT(p->n_exclude == 2 && p->n_include == 1 && p->exclude[0].n == 2);
    EXPECT_STR_EQ(p->exclude[0].axes[1], "length");
    EXPECT_STR_EQ(p->exclude[0].values[1], "256");
    EXPECT_STR_EQ(p->exclude[0].values[0], "geo[theta=1e4]");
    int idx[1] = {0};
    EXPECT(variant_member_matches(suite_rope(s, "geo"), idx, p->exclude[0].values[0]));
  }
  suite_free(s);
  diagnostics_free(&d);
  sb_free(&b);
}

TEST(report_requests) {
  const char *head = H3
      "rope: {geo: {type: geometric, theta: [10000, 500000]}, n: {type: model}}\n"
      CACHE_FULL DEF;
  StrBuf b = {0};
#define REP(phase, line, col, msg)                \
  do {                                            \
    b.len = 0;                                    \
    sb_append(&b, head);                          \
    sb_append(&b, phase);                         \
    EXPECT_ERROR(b.data, line, col, msg);         \
  } while (0)
  REP("phases: [{id: p, report: [{table: collapse, at: 512}]}]\n", 7, 27,
      "table collapse at 512: phase 'p' never runs length 512 (lengths: 128, 256)");
  REP("phases: [{id: p, base_length: 64, report: [{table: collapse, at: 256}]}]\n", 7, 44,
      "table collapse divides by PPL at base_length 64, which phase 'p' never runs");
  REP("phases: [{id: p, base_length: 64, report: [{plot: collapse_vs_length}]}]\n", 7, 44,
      "plot collapse_vs_length divides by PPL at base_length 64");
  REP("phases: [{id: p, report: [{table: collapse}]}]\n", 7, 27, "table collapse needs 'at'");
  REP("phases: [{id: p, report: [{table: colapse, at: 256}]}]\n", 7, 35, "(did you mean 'collapse'?)");
  REP("phases: [{id: p, report: [{plot: ppl_vs_lenght}]}]\n", 7, 34, "(did you mean 'ppl_vs_length'?)");
  REP("phases: [{id: p, report: [{table: lengths, at: 256}]}]\n", 7, 48, "'at' applies to tables collapse, leaderboard and verdict only");
  REP("phases: [{id: p, report: [{table: improvement}]}]\n", 7, 27, "table improvement needs 'baseline'");
  REP("phases: [{id: p, report: [{table: improvement, baseline: n}]}]\n", 7, 27,
      "baseline 'n' is not among the variants of phase 'p'");
  REP("phases: [{id: p, report: [{table: improvement, baseline: geo}]}]\n", 7, 27,
      "baseline 'geo' is not among the variants of phase 'p'");  // two members: name one
  REP("phases: [{id: p, report: [{table: verdict, baseline: \"geo[theta=10000]\"}]}]\n", 7, 27, "table verdict needs 'at'");
  REP("phases: [{id: p, report: [{plot: ppl_vs_param}]}]\n", 7, 27, "plot ppl_vs_param needs 'param'");
  REP("phases: [{id: p, report: [{plot: ppl_vs_param, param: slope}]}]\n", 7, 27,
      "plot ppl_vs_param: no variant of phase 'p' sweeps 'slope'");
  REP("phases: [{id: p, rope: n, report: [{plot: ppl_vs_param, param: theta}]}]\n", 7, 36,
      "plot ppl_vs_param: no variant of phase 'p' sweeps 'theta'");
  REP("phases: [{id: p, report: [{table: seeds, plot: rope_spectrum}]}]\n", 7, 27, "names a 'table' or a 'plot', not both");
  REP("phases: [{id: p, report: [{at: 5}]}]\n", 7, 27, "a report request needs 'table' or 'plot'");
  REP("phases: [{id: p, report: [{table: seeds, colour: red}]}]\n", 7, 42, "unknown key 'colour'");
#undef REP
  b.len = 0;
  sb_append(&b, head);
  sb_append(&b, "phases: [{id: p, rope: [geo, n], report: [{table: verdict, baseline: \"geo[theta=10000]\", at: 256},\n"
                "  {table: improvement, baseline: n}, {table: leaderboard, at: 128}, {plot: ppl_vs_param, param: theta},\n"
                "  {plot: rope_spectrum}, {plot: nll_vs_position}, {table: seeds}]}]\n");
  Diagnostics d = {0};
  Suite *s = load(b.data, &d);
  EXPECT(s != NULL);
  dump_errors(&d);
  if (s) {
    const Phase *p = &s->phases[0];
    EXPECT_INT_EQ(p->n_reports, 7);
    EXPECT_STR_EQ(p->reports[0].baseline, "geo[theta=10000]");
    EXPECT_INT_EQ(p->reports[0].at, 256);
    EXPECT_STR_EQ(p->reports[3].kind, "plot");
    EXPECT_INT_EQ(p->reports[1].mark.line, 8);
    EXPECT_INT_EQ(p->reports[1].mark.col, 3);
  }
  suite_free(s);
  diagnostics_free(&d);
  sb_free(&b);
}

TEST(sweep_and_phase_size_limits) {
  StrBuf b = {0};
  sb_append(&b, H3 "rope: {big: {type: hybrid, alpha: [");
  for (int i = 0; i < 1001; i++) sb_printf(&b, "%s0.%04d", i ? "," : "", i);
  sb_append(&b, "], p: [");
  for (int i = 1; i <= 1000; i++) sb_printf(&b, "%s%d", i > 1 ? "," : "", i);
  sb_append(&b, "], omf: 0.5}}\n" CACHE_FULL ONE_PHASE);
  EXPECT_ERROR(b.data, 4, 8, "rope variant 'big' expands into more than 1000000 members");
  b.len = 0;
  sb_append(&b, H3 "rope: {big: {type: hybrid, alpha: 0.5, p: [");
  for (int i = 1; i <= 1000; i++) sb_printf(&b, "%s%d", i > 1 ? "," : "", i);
  sb_append(&b, "], omf: 0.5}}\n" CACHE_FULL DEF "phases: [{id: p, rope: big, seeds: [");
  for (int i = 1; i <= 1000; i++) sb_printf(&b, "%s%d", i > 1 ? "," : "", i);
  sb_append(&b, "], lengths: [");
  for (int i = 2; i <= 100; i++) sb_printf(&b, "%s%d", i > 2 ? "," : "", i);
  sb_append(&b, "]}]\n");
  EXPECT_ERROR(b.data, 7, 10, "phase 'p' expands into 99000000 jobs (more than 10000000)");
  sb_free(&b);
}

TEST(errors_are_collected_and_sorted) {
  Diagnostics d = {0};
  Suite *s = load(H3 "rope: {geo: {type: geometric, theta: -1}}\n" CACHE_FULL
                  "defaults: {modle: m}\n"
                  "phases: [{id: p, rope: nope}, {id: p}]\n", &d);
  EXPECT(s == NULL);
  EXPECT(d.n_errors >= 4);
  for (int i = 1; i < d.n_errors; i++) {
    const Mark a = d.errors[i - 1].mark, c = d.errors[i].mark;
    EXPECT(a.line < c.line || (a.line == c.line && a.col <= c.col));
  }
  diagnostics_free(&d);
  // printing: one line per diagnostic, "bench: error: FILE:LINE:COL: message"
  EXPECT_ERROR("suite: t\nrpoe: 1\nphases: []\n", 2, 1, "unknown key 'rpoe'");
  s = load("suite: t\nrpoe: 1\n", &d);
  char buf[512] = {0};
  FILE *f = fmemopen(buf, sizeof buf - 1, "w");
  diagnostics_print(&d, f);
  fclose(f);
  EXPECT_CONTAINS(buf, "bench: error: t.yaml:2:1: unknown key 'rpoe' (did you mean 'rope'?)\n");
  EXPECT_CONTAINS(buf, "bench: error: t.yaml:1:1: missing key 'phases'");
  diagnostics_free(&d);
}

TEST(load_from_disk) {
  Diagnostics d = {0};
  Suite *s = suite_load("/nonexistent-dir/suite.yaml", &d);
  EXPECT(s == NULL && d.n_errors == 1);
  if (d.n_errors) EXPECT_CONTAINS(d.errors[0].message, "cannot open '/nonexistent-dir/suite.yaml'");
  diagnostics_free(&d);
}

TEST(odd_values) {
  EXPECT_ERROR("suite: t\nmodels: {m: {path: \"\"}}\nphases: []\n", 2, 20, "model 'm': 'path' must not be empty");
  EXPECT_ERROR(H3 "rope: {f: {type: file, path: ''}}\n" CACHE_FULL DEF ONE_PHASE, 4, 30, "'path' must not be empty");
  EXPECT_ERROR(STD "phases: [{id: p, seeds: 1e300}]\n", 7, 25, "'seeds' is too large, got 1e300");
  EXPECT_ERROR(STD "phases: [{id: p, windows: 9223372036854775807}]\n", 7, 27,
               "'windows' is too large, got 9223372036854775807 (at most 2^53");
  EXPECT_ERROR(STD "phases: [{id: p, seeds: -99999999999999999999}]\n", 7, 25, "'seeds' is too small");
  EXPECT_ERROR(STD "phases: [{id: p, windows: 0x10}]\n", 7, 27, "'windows' must be an integer, got string '0x10'");
  // a quoted value holding a line break stays on one line in the message
  Diagnostics d = {0};
  Suite *s = load(STD "phases: [{id: p, dtype: \"bf\\n16\"}]\n", &d);
  EXPECT(s == NULL && d.n_errors == 1);
  if (d.n_errors) {
    EXPECT(strchr(d.errors[0].message, '\n') == NULL);
    EXPECT_CONTAINS(d.errors[0].message, "got 'bf 16'");
  }
  diagnostics_free(&d);
  // a long cycle is named by its start and end
  StrBuf b = {0};
  sb_append(&b, H3 "rope:\n");
  for (int i = 0; i < 20; i++) sb_printf(&b, "  v%d: {type: compress, base: v%d, threshold: 2, factor: 2}\n", i, (i + 1) % 20);
  sb_append(&b, CACHE_FULL DEF ONE_PHASE);
  EXPECT_ERROR(b.data, 24, 25, "cycle: v0 -> v1 -> v2 -> v3 -> ... (14 more) -> v18 -> v19 -> v0");
  sb_free(&b);
}

TEST(warnings) {
  Diagnostics d = {0};
  Suite *s = load(STD "phases: [{id: p, report: [{table: seeds}]}]\n", &d);
  EXPECT(s != NULL);
  EXPECT_INT_EQ(d.n_warnings, 3);
  if (d.n_warnings == 3) {
    EXPECT_INT_EQ(d.warnings[2].mark.line, 7);
    EXPECT_INT_EQ(d.warnings[2].mark.col, 27);
    EXPECT_CONTAINS(d.warnings[2].message, "table seeds: phase 'p' runs one seed");
  }
  suite_free(s);
  diagnostics_free(&d);
}

TEST(bom_and_crlf_positions) {
  EXPECT_ERROR("\xef\xbb\xbfsuite: t\r\nrpoe: 1\r\nphases: []\r\n", 2, 1, "unknown key 'rpoe' (did you mean 'rope'?)");
  EXPECT_ERROR("suite: t\r\ntitle: \xce\xb8\xce\xb8\xff\r\n", 2, 10, "invalid UTF-8 byte 0xff");
  EXPECT_ERROR("suite: t\ntitle: x\xef\xbb\xbf\n", 2, 9, "character U+FEFF is not allowed");
  EXPECT_ERROR("suite: t\ntitle: \xed\xa0\x80\n", 2, 8, "invalid UTF-8 byte 0xed");  // a surrogate
}

int main(void) {
  RUN(design_example_loads);
  RUN(minimal_suite_is_valid);
  RUN(relative_paths_resolve_against_the_suite_dir);
  RUN(yaml_level_errors);
  RUN(nul_byte_is_refused);
  RUN(deep_nesting_is_bounded);
  RUN(large_inputs_are_refused);
  RUN(variables);
  RUN(top_level_and_entries);
  RUN(rope_parameters_are_type_checked);
  RUN(rope_sweeps_and_references);
  RUN(cache_policies);
  RUN(cache_positions_optional);
  RUN(train_recipes);
  RUN(settings_and_phases);
  RUN(protocol_keys);
  RUN(include_exclude);
  RUN(report_requests);
  RUN(sweep_and_phase_size_limits);
  RUN(errors_are_collected_and_sorted);
  RUN(load_from_disk);
  RUN(odd_values);
  RUN(warnings);
  RUN(bom_and_crlf_positions);
  TEST_SUMMARY();
}
