// test_matrix.c — job-matrix expansion (products, sweeps, include/exclude, shared jobs), job
// identity and ids, canonical JSON, checkpoint and dataset fingerprints.
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "canon_json.h"
#include "data_stats.h"
#include "fingerprint.h"
#include "kvcache.h"
#include "matrix.h"
#include "model.h"
#include "model_init.h"
#include "rope.h"
#include "rope_spec.h"
#include "suite.h"
#include "test.h"
#include "version.h"
#include "weights_digest.h"

static char tmpdir[256];

// A suite: the common head (one missing model and dataset) followed by `rest`.
static const char HEAD[] =
    "suite: t\n"
    "defaults:\n"
    "  model: m\n"
    "  dataset: d\n"
    "  lengths: [2048]\n"
    "  seeds: [1]\n"
    "  rope: geo\n"
    "  cache: full\n"
    "models:\n"
    "  m: { path: no-such-model }\n"
    "datasets:\n"
    "  d: { path: no-such-data.txt }\n"
    "cache:\n"
    "  full: { type: full }\n"
    "  win: { type: window, recent: 64 }\n"
    "  s1: { type: streaming, sink: 4, recent: 60 }\n"
    "  s2: { type: streaming, sink: 4, recent: 60, positions: cache }\n";

typedef struct {
  Suite *s;
  Matrix m;
  Diagnostics d;
  int ok;
} Built;

static Built build(const char *rest) {
  Built b;
  memset(&b, 0, sizeof b);
  char *text = xasprintf("%s%s", HEAD, rest);
  b.s = suite_load_buffer("t.yaml", tmpdir, text, strlen(text), &b.d);
  free(text);
  if (!b.s) {
    for (int i = 0; i < b.d.n_errors; i++)
      fprintf(stderr, "    suite error %d:%d: %s\n", b.d.errors[i].mark.line, b.d.errors[i].mark.col,
              b.d.errors[i].message);
    return b;
  }
  BenchErr err;
  if (matrix_build(b.s, &b.m, &err) != 0) {
    fprintf(stderr, "    matrix error: %s\n", err.msg);
    return b;
  }
  b.ok = 1;
  return b;
}

static void built_free(Built *b) {
  if (b->ok) matrix_free(&b->m);
  suite_free(b->s);
  diagnostics_free(&b->d);
}

static const Job *phase_job(const Built *b, int phase, int k) {
  return &b->m.jobs[b->m.phases[phase].jobs[k]];
}

// The first job of a phase with this rope name and length, or NULL.
static const Job *find(const Built *b, int phase, const char *rope, long length) {
  for (int k = 0; k < b->m.phases[phase].n_jobs; k++) {
    const Job *j = phase_job(b, phase, k);
    if (strcmp(j->rope.name, rope) == 0 && j->length == length) return j;
  }
  return NULL;
}

static int has_note(const Built *b, const char *needle) {
  for (int i = 0; i < b->m.n_notes; i++)
    if (strstr(b->m.notes[i], needle)) return 1;
  return 0;
}

// ---- canonical JSON ----
static void expect_number(double x, const char *want) {
  char out[32];
  json_format_number(x, out);
  if (strcmp(out, want) != 0) TEST_FAIL_AT("number %.17g printed as '%s', wanted '%s'", x, out, want);
}

TEST(canonical_numbers) {
  expect_number(1.0, "1");
  expect_number(500000.0, "500000");
  expect_number(0.1, "0.1");
  expect_number(0.5, "0.5");
  expect_number(1e-5, "1e-5");
  expect_number(2.5e-7, "2.5e-7");
  expect_number(-0.0, "0");
  expect_number(-3.0, "-3");
  expect_number(1.0 / 3.0, "0.3333333333333333");
  expect_number(6e-4, "0.0006");
  expect_number(1e21, "1e21");
  expect_number(123456789012.0, "123456789012");
  expect_number(3.9, "3.9");
}

TEST(canonical_keys_and_strings) {
  json_t *o = json_pack("{s:i,s:s,s:[i,f],s:{s:b,s:n}}", "zeta", 1, "alpha", "a\"b\\c\n\x01", "mid", 2, 0.25,
                        "beta", "y", 1, "x");
  char *c = json_canonical(o);
  EXPECT_STR_EQ(c, "{\"alpha\":\"a\\\"b\\\\c\\n\\u0001\",\"beta\":{\"x\":null,\"y\":true},\"mid\":[2,0.25],"
                   "\"zeta\":1}");
  free(c);
  json_decref(o);
  json_t *r = json_real(2.0);
  c = json_canonical(r);
  EXPECT_STR_EQ(c, "2");  // integral reals have no decimal point
  free(c);
  json_decref(r);
}

// ---- expansion ----
TEST(product_counts) {
  Built b = build(
      "rope:\n"
      "  geo: { type: geometric, theta: 10000 }\n"
      "  big: { type: geometric, theta: 500000 }\n"
      "phases:\n"
      "  - id: p\n"
      "    rope: [geo, big]\n"
      "    cache: [full, win]\n"
      "    lengths: [256, 512, 1024]\n"
      "    seeds: [1, 2]\n"
      "    protocol: decode\n"  // a window cache evicts: decode only
      "    prompt: 16\n");
  EXPECT(b.ok);
  if (b.ok) {
    EXPECT_INT_EQ(b.m.phases[0].n_jobs, 2 * 2 * 3 * 2);
    EXPECT_INT_EQ(b.m.n_jobs, 24);
    // nesting: rope outermost of these axes, then cache, seed, length innermost
    EXPECT_STR_EQ(phase_job(&b, 0, 0)->rope.name, "geo");
    EXPECT_INT_EQ(phase_job(&b, 0, 1)->length, 512);
    EXPECT_INT_EQ(phase_job(&b, 0, 3)->seed, 2);
    EXPECT_STR_EQ(phase_job(&b, 0, 6)->cache.name, "win");
    EXPECT_STR_EQ(phase_job(&b, 0, 12)->rope.name, "big");
  }
  built_free(&b);
}

TEST(sweep_names_and_products) {
  Built b = build(
      "rope:\n"
      "  geo: { type: geometric, theta: 10000 }\n"
      "  anchor_sweep: { type: anchored_sigmoid, theta: 500000, anchor_factor: [5, 10, 15],\n"
      "                  anchor_dim: 16, slope: [0.5, 1.0] }\n"
      "phases:\n"
      "  - id: p\n"
      "    rope: [anchor_sweep]\n");
  EXPECT(b.ok);
  if (b.ok) {
    EXPECT_INT_EQ(b.m.phases[0].n_jobs, 6);
    EXPECT_STR_EQ(phase_job(&b, 0, 0)->rope.name, "anchor_sweep[anchor_factor=5,slope=0.5]");
    EXPECT_STR_EQ(phase_job(&b, 0, 1)->rope.name, "anchor_sweep[anchor_factor=5,slope=1.0]");
    EXPECT_STR_EQ(phase_job(&b, 0, 2)->rope.name, "anchor_sweep[anchor_factor=10,slope=0.5]");
    EXPECT_STR_EQ(phase_job(&b, 0, 5)->rope.name, "anchor_sweep[anchor_factor=15,slope=1.0]");
    // the member's spec holds its own values
    const json_t *rope = json_object_get(phase_job(&b, 0, 2)->spec, "rope");
    EXPECT_NEAR(json_number_value(json_object_get(rope, "anchor_factor")), 10, 0, 0);
    EXPECT_NEAR(json_number_value(json_object_get(rope, "slope")), 0.5, 0, 0);
    EXPECT_STR_EQ(json_string_value(json_object_get(rope, "name")), "anchor_sweep[anchor_factor=10,slope=0.5]");
    EXPECT_INT_EQ(variant_n_members(suite_rope(b.s, "anchor_sweep")), 6);
  }
  built_free(&b);
}

static const char SWEEP_PHASE[] =
    "rope:\n"
    "  geo: { type: geometric, theta: [10000, 500000] }\n"
    "  poly: { type: anchored_poly, theta: 10000, p: [2, 3], omf: 0.3 }\n"
    "phases:\n"
    "  - id: p\n"
    "    rope: [geo, poly]\n"
    "    lengths: [256, 512]\n";

TEST(exclude_swept_name_and_member) {
  char *text = xasprintf("%s    exclude:\n      - { rope: geo }\n", SWEEP_PHASE);
  Built b = build(text);
  free(text);
  EXPECT(b.ok);
  if (b.ok) {
    EXPECT_INT_EQ(b.m.phases[0].n_jobs, 4);  // poly's two members × two lengths
    for (int k = 0; k < b.m.phases[0].n_jobs; k++) EXPECT(strncmp(phase_job(&b, 0, k)->rope.name, "poly", 4) == 0);
  }
  built_free(&b);

  text = xasprintf("%s    exclude:\n      - { rope: \"geo[theta=10000]\" }\n", SWEEP_PHASE);
  b = build(text);
  free(text);
  EXPECT(b.ok);
  if (b.ok) {
    EXPECT_INT_EQ(b.m.phases[0].n_jobs, 6);
    EXPECT(find(&b, 0, "geo[theta=10000]", 256) == NULL);
    EXPECT(find(&b, 0, "geo[theta=500000]", 256) != NULL);
  }
  built_free(&b);

  // a partial assignment drops only the jobs matching all its keys
  text = xasprintf("%s    exclude:\n      - { rope: \"poly[p=3]\", length: 512 }\n", SWEEP_PHASE);
  b = build(text);
  free(text);
  EXPECT(b.ok);
  if (b.ok) {
    EXPECT_INT_EQ(b.m.phases[0].n_jobs, 7);
    EXPECT(find(&b, 0, "poly[p=3]", 512) == NULL);
    EXPECT(find(&b, 0, "poly[p=3]", 256) != NULL);
  }
  built_free(&b);
}

TEST(include_adds_and_does_not_duplicate) {
  Built b = build(
      "rope:\n"
      "  geo: { type: geometric, theta: 10000 }\n"
      "  big: { type: geometric, theta: [500000, 1000000] }\n"
      "phases:\n"
      "  - id: p\n"
      "    rope: [geo]\n"
      "    lengths: [256, 512]\n"
      "    protocol: decode\n"
      "    prompt: 16\n"
      "    include:\n"
      "      - { rope: \"big[theta=500000]\", length: 1024 }\n"
      "      - { rope: big, cache: win }\n"
      "      - { rope: geo, length: 256 }\n");
  EXPECT(b.ok);
  if (b.ok) {
    // 2 product jobs + 1 + (2 members × 2 phase lengths) + 0 (already there)
    EXPECT_INT_EQ(b.m.phases[0].n_jobs, 2 + 1 + 4);
    const Job *j = find(&b, 0, "big[theta=500000]", 1024);
    EXPECT(j != NULL);
    if (j) {
      EXPECT_STR_EQ(j->cache.name, "full");  // the phase's setting for the axes it does not name
      EXPECT_INT_EQ(j->seed, 1);
    }
    j = find(&b, 0, "big[theta=1000000]", 512);
    EXPECT(j != NULL);
    if (j) EXPECT_STR_EQ(j->cache.name, "win");
    EXPECT(has_note(&b, "include entry 3 adds no job"));
  }
  built_free(&b);
}

TEST(exclude_combination_matching_nothing_is_noted) {
  Built b = build(
      "rope:\n"
      "  geo: { type: geometric, theta: 10000 }\n"
      "phases:\n"
      "  - id: p\n"
      "    cache: [full, win]\n"
      "    lengths: [256, 512]\n"
      "    protocol: decode\n"
      "    prompt: 16\n"
      "    exclude:\n"
      "      - { cache: win, length: 512 }\n"
      "    include:\n"
      "      - { cache: win, length: 512 }\n");
  EXPECT(b.ok);
  if (b.ok) {
    EXPECT_INT_EQ(b.m.phases[0].n_jobs, 4);  // included jobs are not excluded
    EXPECT(!has_note(&b, "matches no job"));
  }
  built_free(&b);
}

TEST(shared_jobs_across_phases) {
  Built b = build(
      "rope:\n"
      "  geo: { type: geometric, theta: 10000 }\n"
      "  scan: { type: geometric, theta: [10000, 20000] }\n"
      "phases:\n"
      "  - id: a\n"
      "    lengths: [256, 512]\n"
      "  - id: b\n"
      "    rope: [scan]\n"
      "    lengths: [512, 1024]\n");
  EXPECT(b.ok);
  if (b.ok) {
    EXPECT_INT_EQ(b.m.phases[0].n_jobs, 2);
    EXPECT_INT_EQ(b.m.phases[1].n_jobs, 4);
    EXPECT_INT_EQ(b.m.n_jobs, 5);  // geo@512 == scan[theta=10000]@512
    const Job *ja = find(&b, 0, "geo", 512);
    const Job *jb = find(&b, 1, "geo", 512);  // listed under b with its first name
    EXPECT(ja != NULL && jb == ja);
    if (ja) {
      EXPECT_INT_EQ(ja->n_phases, 2);
      EXPECT_INT_EQ(ja->phases[0], 0);
      EXPECT_INT_EQ(ja->phases[1], 1);
      EXPECT_INT_EQ(matrix_find(&b.m, ja->id), (int)(ja - b.m.jobs));
    }
    EXPECT(find(&b, 1, "scan[theta=20000]", 512) != NULL);
    // each phase's entry names the job as that phase does
    for (int k = 0; k < b.m.phases[1].n_jobs; k++) {
      if (phase_job(&b, 1, k) != ja) continue;
      const json_t *rope = json_object_get(b.m.phases[1].specs[k], "rope");
      EXPECT_STR_EQ(json_string_value(json_object_get(rope, "name")), "scan[theta=10000]");
    }
    EXPECT_STR_EQ(json_string_value(json_object_get(json_object_get(b.m.phases[0].specs[1], "rope"), "name")), "geo");
  }
  built_free(&b);
}

// ---- identity ----
static char *first_id(const char *rest) {
  Built b = build(rest);
  char *id = b.ok && b.m.n_jobs > 0 ? xstrdup(b.m.jobs[0].id) : xstrdup("(failed)");
  built_free(&b);
  return id;
}

TEST(id_stability) {
  const char *base = "rope:\n  geo: { type: geometric, theta: 500000 }\nphases:\n  - id: p\n";
  char *a = first_id(base);
  char *again = first_id(base);
  char *renamed = first_id("rope:\n  geo: { type: geometric, theta: 7 }\n"
                           "  other_name: { type: geometric, theta: 500000 }\n"
                           "phases:\n  - id: q\n    title: another phase\n    rope: [other_name]\n");
  char *written_differently = first_id("rope:\n  geo: { type: geometric, theta: 5.0e5 }\nphases:\n  - id: p\n");
  char *changed = first_id("rope:\n  geo: { type: geometric, theta: 500001 }\nphases:\n  - id: p\n");
  char *longer = first_id("rope:\n  geo: { type: geometric, theta: 500000 }\nphases:\n  - id: p\n    lengths: [4096]\n");
  char *seed = first_id("rope:\n  geo: { type: geometric, theta: 500000 }\nphases:\n  - id: p\n    seeds: [2]\n");
  char *windows = first_id("rope:\n  geo: { type: geometric, theta: 500000 }\nphases:\n  - id: p\n    windows: 3\n");
  char *dtype = first_id("rope:\n  geo: { type: geometric, theta: 500000 }\nphases:\n  - id: p\n    dtype: bf16\n");
  char *base_length = first_id("rope:\n  geo: { type: geometric, theta: 500000 }\nphases:\n  - id: p\n    base_length: 64\n");
  EXPECT_INT_EQ(strlen(a), JOB_ID_HEX);
  EXPECT_STR_EQ(a, again);
  EXPECT_STR_EQ(a, renamed);              // the variant's and the phase's names are not identity
  EXPECT_STR_EQ(a, written_differently);  // numbers by value
  EXPECT_STR_EQ(a, base_length);          // a report setting changes no number
  EXPECT(strcmp(a, changed) != 0);
  EXPECT(strcmp(a, longer) != 0);
  EXPECT(strcmp(a, seed) != 0);
  EXPECT(strcmp(a, windows) != 0);
  EXPECT(strcmp(a, dtype) != 0);
  free(a), free(again), free(renamed), free(written_differently), free(changed), free(longer);
  free(seed), free(windows), free(dtype), free(base_length);

  // a default written out gives the same job as the default left implicit
  char *implicit = first_id("rope:\n  geo: { type: geometric, theta: 1 }\nphases:\n  - id: p\n    cache: s1\n"
                            "    protocol: decode\n    prompt: 16\n");
  char *explicit_ = first_id("rope:\n  geo: { type: geometric, theta: 1 }\nphases:\n  - id: p\n    cache: s2\n"
                             "    protocol: decode\n    prompt: 16\n");
  EXPECT_STR_EQ(implicit, explicit_);
  EXPECT(strcmp(implicit, "(failed)") != 0);
  free(implicit), free(explicit_);

  // pinned devices compute differently; auto pins nothing
  char *cpu = first_id("rope:\n  geo: { type: geometric, theta: 1 }\nphases:\n  - id: p\n    device: cpu\n");
  char *cuda = first_id("rope:\n  geo: { type: geometric, theta: 1 }\nphases:\n  - id: p\n    device: cuda\n");
  char *cuda1 = first_id("rope:\n  geo: { type: geometric, theta: 1 }\nphases:\n  - id: p\n    device: \"cuda:1\"\n");
  EXPECT(strcmp(cpu, cuda) != 0);
  EXPECT_STR_EQ(cuda, cuda1);
  free(cpu), free(cuda), free(cuda1);
}

TEST(identity_contents) {
  Built b = build(
      "rope:\n"
      "  geo: { type: geometric, theta: 500000 }\n"
      "  poly: { type: anchored_poly, theta: 500000, p: 3.9, omf: 0.3 }\n"
      "  both: { type: mix, of: [geo, poly], weight: 0.5, space: log }\n"
      "  squeeze: { type: compress, base: both, threshold: 8192, factor: 1.5 }\n"
      "phases:\n"
      "  - id: p\n"
      "    rope: [squeeze]\n"
      "    protocol: sliding\n"
      "    device: cpu\n");
  EXPECT(b.ok);
  if (b.ok) {
    const Job *j = &b.m.jobs[0];
    char *want = xasprintf(
        "{\"cache\":{\"type\":\"full\"},\"dataset\":\"missing:%s/no-such-data.txt\",\"device\":\"cpu\","
        "\"dtype\":\"fp32\",\"engine\":\"" ENGINE_NUMERICS_VERSION "\",\"length\":2048,\"model\":\"missing:%s/no-such-model\","
        "\"protocol\":\"sliding\",\"rope\":{\"base\":{\"of\":[{\"theta\":500000,\"type\":\"geometric\"},"
        "{\"omf\":0.3,\"p\":3.9,\"theta\":500000,\"type\":\"anchored_poly\"}],\"space\":\"log\",\"type\":\"mix\","
        "\"weight\":0.5},\"factor\":1.5,\"threshold\":8192,\"type\":\"compress\"},\"seed\":1,\"stride\":1024,"
        "\"tokenizer\":\"missing:%s/no-such-model/tokenizer.json\",\"windows\":1}",
        tmpdir, tmpdir, tmpdir);
    EXPECT_STR_EQ(j->identity, want);
    free(want);
    EXPECT(j->provisional);
    char hex[65];
    sha256_hex(j->identity, strlen(j->identity), hex);
    EXPECT(strncmp(hex, j->id, JOB_ID_HEX) == 0);

    // the engine's rope spec: references inlined with their names
    char *rope = json_canonical(matrix_job_inputs(j)->rope);
    EXPECT_STR_EQ(rope,
                  "{\"base\":{\"name\":\"both\",\"of\":[{\"name\":\"geo\",\"theta\":500000,\"type\":\"geometric\"},"
                  "{\"name\":\"poly\",\"omf\":0.3,\"p\":3.9,\"theta\":500000,\"type\":\"anchored_poly\"}],"
                  "\"space\":\"log\",\"type\":\"mix\",\"weight\":0.5},\"factor\":1.5,\"name\":\"squeeze\","
                  "\"threshold\":8192,\"type\":\"compress\"}");
    free(rope);

    // the spec: DESIGN's keys in DESIGN's order, references by name
    StrBuf sb = {0};
    json_write(&sb, j->spec, 0, 0);
    EXPECT_STR_EQ(sb.data,
                  "{\"model\":\"m\",\"dataset\":\"d\",\"rope\":{\"name\":\"squeeze\",\"type\":\"compress\","
                  "\"base\":\"both\",\"threshold\":8192,\"factor\":1.5},\"cache\":{\"name\":\"full\",\"type\":\"full\"},"
                  "\"length\":2048,\"seed\":1,\"protocol\":\"sliding\",\"windows\":1,\"stride\":1024,"
                  "\"dtype\":\"fp32\",\"device\":\"cpu\"}");
    sb_free(&sb);
    const JobInputs *in = matrix_job_inputs(j);
    char *model_path = xasprintf("%s/no-such-model", tmpdir);
    EXPECT_STR_EQ(in->model_path, model_path);
    free(model_path);
    EXPECT(in->dataset_field == NULL);
    EXPECT_CONTAINS(in->tokenizer_path, "no-such-model/tokenizer.json");
    EXPECT(has_note(&b, "job ids are provisional: 1 model and 1 dataset"));
  }
  built_free(&b);
}

// The rope specs the matrix hands the engine are what rope_build takes.
TEST(engine_rope_specs_build) {
  Built b = build(
      "rope:\n"
      "  geo: { type: model }\n"
      "  g: { type: geometric, theta: 500000 }\n"
      "  a: { type: anchored_sigmoid, theta: 500000, anchor_factor: [5, 20], anchor_dim: 16, slope: 0.5 }\n"
      "  p: { type: anchored_poly, theta: 500000, p: 3.9, omf: 0.3 }\n"
      "  s: { type: sigmoid, theta: 10000, steep: 8, mid: 0.6, omf: 0.3 }\n"
      "  h: { type: hybrid, theta: 100000, alpha: 0.2, p: 3.9, omf: 0.3 }\n"
      "  y: { type: yarn, factor: 8, original_max_position_embeddings: 256 }\n"
      "  d: { type: dynamic, factor: 4 }\n"
      "  mx: { type: mix, of: [s, \"a[anchor_factor=20]\"], weight: 0.5, space: log }\n"
      "  c: { type: compress, base: mx, threshold: 1024, factor: [1.5, 2.0] }\n"
      "phases:\n"
      "  - id: p\n"
      "    rope: [geo, g, a, p, s, h, y, d, mx, c]\n");
  EXPECT(b.ok);
  if (b.ok) {
    EXPECT_INT_EQ(b.m.phases[0].n_jobs, 12);
    RopeModelInfo info = {.head_dim = 64, .partial_rotary_factor = 1.0, .rope_theta = 10000,
                          .max_position_embeddings = 2048};
    for (int k = 0; k < b.m.phases[0].n_jobs; k++) {
      const Job *j = phase_job(&b, 0, k);
      BenchErr err;
      RopeTable t;
      if (rope_validate(j->inputs.rope, &err) != 0 || rope_build(j->inputs.rope, &info, j->length, &t, &err) != 0) {
        TEST_FAIL_AT("rope '%s': %s", j->rope.name, err.msg);
        continue;
      }
      EXPECT_INT_EQ(t.rotary_dims, 64);
      rope_table_free(&t);
      // the same spec `bench rope` resolves for this member
      json_t *other = rope_spec_resolve(b.s, j->rope.name, &err);
      if (!other) {
        TEST_FAIL_AT("rope_spec_resolve '%s': %s", j->rope.name, err.msg);
        continue;
      }
      EXPECT(json_equal(other, (json_t *)j->inputs.rope));
      json_decref(other);
    }
    const Job *c = find(&b, 0, "c[factor=2.0]", 2048);
    EXPECT(c != NULL);
    if (c) {
      const json_t *of = json_object_get(json_object_get(c->inputs.rope, "base"), "of");
      EXPECT_STR_EQ(json_string_value(json_object_get(json_array_get(of, 1), "name")), "a[anchor_factor=20]");
      EXPECT_NEAR(json_number_value(json_object_get(json_array_get(of, 1), "anchor_factor")), 20, 0, 0);
    }
  }
  built_free(&b);
}

// `positions` reaches the job spec and the engine's policy for window and h2o too; left out, the
// spec has no such key (ids unchanged) and the engine keeps original positions.
TEST(cache_positions_reach_the_engine) {
  Built b = build(
      "  h: { type: h2o, heavy: 8, recent: 8 }\n"
      "  hc: { type: h2o, heavy: 8, recent: 8, positions: cache }\n"
      "  wc: { type: window, recent: 16, positions: cache }\n"
      "rope:\n"
      "  geo: { type: geometric, theta: 10000 }\n"
      "phases:\n"
      "  - id: p\n"
      "    protocol: decode\n"
      "    prompt: 16\n"
      "    cache: [h, hc, wc, s1]\n");
  EXPECT(b.ok);
  if (b.ok) {
    static const char *const names[] = {"h", "hc", "wc", "s1"};
    static const char *const in_spec[] = {NULL, "cache", "cache", "cache"};
    static const KVPositions want[] = {KV_POS_ORIGINAL, KV_POS_CACHE, KV_POS_CACHE, KV_POS_CACHE};
    EXPECT_INT_EQ(b.m.phases[0].n_jobs, 4);
    for (int k = 0; k < b.m.phases[0].n_jobs && k < 4; k++) {
      const Job *j = phase_job(&b, 0, k);
      EXPECT_STR_EQ(j->cache.name, names[k]);
      const char *pos = json_string_value(json_object_get(json_object_get(j->spec, "cache"), "positions"));
      if (in_spec[k]) EXPECT_STR_EQ(pos ? pos : "(none)", in_spec[k]);
      else EXPECT(pos == NULL);
      KVPolicy pol;
      BenchErr err;
      EXPECT_INT_EQ(kv_policy_from_spec(j->inputs.cache, &pol, &err), 0);
      EXPECT_INT_EQ((int)pol.positions, (int)want[k]);
    }
  }
  built_free(&b);
}

// ---- fingerprints ----
static void write_bytes(const char *path, const void *data, size_t n) {
  FILE *f = fopen(path, "wb");
  if (!f) {
    perror(path);
    return;
  }
  fwrite(data, 1, n, f);
  fclose(f);
}

// A safetensors file with one F32 tensor of the given shape (zeros).
static void write_safetensors(const char *path, int rows, int cols, float fill) {
  char header[256];
  int n = snprintf(header, sizeof header, "{\"w\":{\"dtype\":\"F32\",\"shape\":[%d,%d],\"data_offsets\":[0,%d]}}",
                   rows, cols, rows * cols * 4);
  size_t total = 8 + (size_t)n + (size_t)rows * cols * 4;
  unsigned char *buf = xcalloc(total, 1);
  for (int i = 0; i < 8; i++) buf[i] = (unsigned char)(((uint64_t)n >> (8 * i)) & 0xff);
  memcpy(buf + 8, header, (size_t)n);
  float *w = (float *)(buf + 8 + n);
  for (int i = 0; i < rows * cols; i++) memcpy(&w[i], &fill, sizeof fill);
  write_bytes(path, buf, total);
  free(buf);
}

TEST(checkpoint_fingerprints) {
  char *dir = xasprintf("%s/ckpt", tmpdir);
  BenchErr err;
  EXPECT(mkdir_p(dir, &err) == 0);
  char *cfg = xasprintf("%s/config.json", dir), *st = xasprintf("%s/model.safetensors", dir);
  write_bytes(cfg, "{\"hidden_size\": 8}", 18);
  write_safetensors(st, 2, 3, 0.0f);
  char a[65], b[65];
  long long n = 0;
  EXPECT(checkpoint_fingerprint(dir, a, &n, &err) == 0);
  EXPECT_INT_EQ(n, 6);
  write_safetensors(st, 2, 3, 1.5f);  // other weights, same header: another checkpoint
  EXPECT(checkpoint_fingerprint(dir, b, NULL, &err) == 0);
  EXPECT(strcmp(a, b) != 0);
  write_safetensors(st, 2, 3, 0.0f);  // the same bytes again: the same checkpoint
  EXPECT(checkpoint_fingerprint(dir, b, NULL, &err) == 0);
  EXPECT_STR_EQ(a, b);
  write_safetensors(st, 3, 2, 0.0f);  // other shape
  EXPECT(checkpoint_fingerprint(dir, b, NULL, &err) == 0);
  EXPECT(strcmp(a, b) != 0);
  write_safetensors(st, 2, 3, 0.0f);
  write_bytes(cfg, "{\"hidden_size\": 9}", 18);  // other config
  EXPECT(checkpoint_fingerprint(dir, b, NULL, &err) == 0);
  EXPECT(strcmp(a, b) != 0);

  // the digest: config bytes, then each file's length prefix, header and weights digest
  {
    char *text;
    size_t len;
    StrBuf all = {0};
    EXPECT(read_file(cfg, 1 << 20, &text, &len, &err) == 0);
    sb_appendn(&all, text, len);
    free(text);
    EXPECT(read_file(st, 1 << 20, &text, &len, &err) == 0);
    uint64_t n_hdr = 0;
    for (int i = 7; i >= 0; i--) n_hdr = (n_hdr << 8) | (unsigned char)text[i];
    sb_appendn(&all, text, 8 + (size_t)n_hdr);
    uint8_t word[8];  // one chunk: XXH64 (seed = chunk 0) of it, then of that word (seed = size)
    uint64_t chunk = xxh64(text, len, 0);
    for (int i = 0; i < 8; i++) word[i] = (uint8_t)(chunk >> (8 * i));
    uint64_t digest = xxh64(word, 8, len);
    for (int i = 0; i < 8; i++) word[i] = (uint8_t)(digest >> (8 * i));
    sb_appendn(&all, (const char *)word, 8);
    free(text);
    char want[65];
    sha256_hex(all.data, all.len, want);
    EXPECT(checkpoint_fingerprint(dir, b, NULL, &err) == 0);
    EXPECT_STR_EQ(b, want);
    sb_free(&all);
  }

  // shards named by the index, each counted once (when there is no model.safetensors)
  unlink(st);
  char *idx = xasprintf("%s/model.safetensors.index.json", dir), *s1 = xasprintf("%s/a.safetensors", dir),
       *s2 = xasprintf("%s/b.safetensors", dir);
  write_safetensors(s1, 2, 2, 0.0f);
  write_safetensors(s2, 5, 1, 0.0f);
  const char *index = "{\"weight_map\":{\"x\":\"a.safetensors\",\"y\":\"b.safetensors\",\"z\":\"a.safetensors\"}}";
  write_bytes(idx, index, strlen(index));
  EXPECT(checkpoint_fingerprint(dir, b, &n, &err) == 0);
  EXPECT_INT_EQ(n, 4 + 5);
  const char *escape = "{\"weight_map\":{\"x\":\"../a.safetensors\"}}";
  write_bytes(idx, escape, strlen(escape));
  EXPECT(checkpoint_fingerprint(dir, b, &n, &err) != 0);
  EXPECT_CONTAINS(err.msg, "not a file name inside the model directory");
  unlink(idx);
  write_safetensors(st, 2, 3, 0.0f);
  // a header length beyond the file
  write_bytes(st, "\xff\xff\x00\x00\x00\x00\x00\x00{}", 10);
  EXPECT(checkpoint_fingerprint(dir, b, &n, &err) != 0);
  EXPECT_CONTAINS(err.msg, "out of range");
  unlink(st);
  EXPECT(checkpoint_fingerprint(dir, b, &n, &err) != 0);
  EXPECT_CONTAINS(err.msg, "has no model.safetensors or model.safetensors.index.json");
  free(cfg), free(st), free(idx), free(s1), free(s2), free(dir);
}

// XXH64 against the reference implementation's values (xxhash 4.1.0).
TEST(xxh64_reference_values) {
  EXPECT(xxh64("", 0, 0) == 0xef46db3751d8e999ULL);
  EXPECT(xxh64("a", 1, 0) == 0xd24ec4f1a98c6e5bULL);
  EXPECT(xxh64("abc", 3, 0) == 0x44bc2cf5ad770999ULL);
  EXPECT(xxh64("abc", 3, 7) == 0x9e755206156676d7ULL);
  unsigned char buf[771];  // stripes, then 8-, 4- and 1-byte tails
  for (int i = 0; i < 768; i++) buf[i] = (unsigned char)(i & 0xff);
  memcpy(buf + 768, "xyz", 3);
  EXPECT(xxh64(buf, sizeof buf, 0) == 0xe921a1b45bd779f8ULL);
  EXPECT(xxh64(buf, sizeof buf, 7) == 0xb63555d1bf05377fULL);
}

static void set_mtime(const char *path, time_t t) {
  struct timespec ts[2] = {{t, 0}, {t, 0}};
  if (utimensat(AT_FDCWD, path, ts, 0) != 0) perror(path);
}

// The cache: used for an unchanged file, keyed so that a file overwritten in place (same size and
// mtime) is hashed again, and never written for a file modified just now.
TEST(weights_digest_cache) {
  char *cache = xasprintf("%s/wcache", tmpdir), *path = xasprintf("%s/w.safetensors", tmpdir);
  char *saved = xstrdup(getenv("BENCH_CACHE_DIR"));
  setenv("BENCH_CACHE_DIR", cache, 1);
  char *entries = xasprintf("%s/fingerprints", cache);
  BenchErr err;
  uint64_t d1, d2;
  write_safetensors(path, 2, 3, 0.0f);  // fresh: hashed, not cached
  EXPECT(weights_digest(path, &d1, &err) == 0);
  EXPECT(!is_directory(entries));
  time_t old = time(NULL) - 100;
  set_mtime(path, old);  // settled: cached
  EXPECT(weights_digest(path, &d2, &err) == 0);
  EXPECT(d1 == d2);
  char *cmd = xasprintf("cd '%s' && sed -i 's/\"digest\": \"[0-9a-f]*\"/\"digest\": \"00000000000000ff\"/' *.json",
                        entries);
  EXPECT(system(cmd) == 0);  // a forged entry shows the cache is read
  EXPECT(weights_digest(path, &d2, &err) == 0);
  EXPECT(d2 == 0xff);
  usleep(20000);
  write_safetensors(path, 2, 3, 1.5f);  // in place, same size, mtime put back: ctime differs
  set_mtime(path, old);
  EXPECT(weights_digest(path, &d2, &err) == 0);
  EXPECT(d2 != 0xff && d2 != d1);
  if (saved) setenv("BENCH_CACHE_DIR", saved, 1);
  free(cmd), free(entries), free(saved), free(path), free(cache);
}

// The digest the model loader stores: a job id names the checkpoint the runner loads.
TEST(checkpoint_fingerprint_is_the_loaders) {
  const Arch arches[] = {ARCH_LLAMA, ARCH_GPT_NEOX};
  for (int a = 0; a < 2; a++) {
    for (int shards = 1; shards <= 2; shards++) {
      InitModelSpec spec;
      init_model_defaults(&spec, arches[a]);
      spec.n_shards = shards;
      char *dir = xasprintf("%s/init-%d-%d", tmpdir, a, shards);
      InitModelResult res;
      BenchErr err;
      if (init_model_write(dir, &spec, &res, &err) != 0) {
        TEST_FAIL_AT("init-model: %s", err.msg);
        free(dir);
        continue;
      }
      Model m;
      char fp[65];
      long long n = 0;
      EXPECT(model_inspect(dir, &m, &err) == 0);
      EXPECT(checkpoint_fingerprint(dir, fp, &n, &err) == 0);
      EXPECT_STR_EQ(fp, m.fingerprint);
      EXPECT_INT_EQ(n, (long long)res.n_params);
      model_free(&m);
      free(dir);
    }
  }
}

TEST(dataset_stats_and_cache) {
  char *jsonl = xasprintf("%s/d.jsonl", tmpdir);
  const char *text = "{\"text\": \"hello\", \"id\": 1}\n\n{\"text\": \"abc\"}\n";
  write_bytes(jsonl, text, strlen(text));
  DataStats s;
  BenchErr err;
  EXPECT(data_stats(jsonl, NULL, &s, &err) == 0);
  EXPECT_INT_EQ(s.text_bytes, 8);
  EXPECT_INT_EQ(s.docs, 2);
  EXPECT_INT_EQ(s.tokens, -1);
  EXPECT_INT_EQ(s.bytes, (long long)strlen(text));
  char file_hex[65], want[65];
  sha256_hex(text, strlen(text), file_hex);
  EXPECT_STR_EQ(s.file_sha256, file_hex);
  char *msg = xasprintf("%s\ntext", file_hex);
  sha256_hex(msg, strlen(msg), want);  // engine/eval/data.h's dataset fingerprint
  EXPECT_STR_EQ(s.fingerprint, want);
  free(msg);
  // the second look comes from the cache
  char *cache_dir = bench_fingerprint_cache_dir();
  EXPECT_CONTAINS(cache_dir, tmpdir);
  DataStats again;
  EXPECT(data_stats(jsonl, "text", &again, &err) == 0);
  EXPECT_STR_EQ(again.fingerprint, s.fingerprint);
  EXPECT_INT_EQ(again.text_bytes, 8);
  // another field is another fingerprint; a line without it is noted
  EXPECT(data_stats(jsonl, "body", &again, &err) == 0);
  EXPECT(strcmp(again.fingerprint, s.fingerprint) != 0);
  EXPECT_CONTAINS(again.problem, "line 1 is not a JSON object with a string field 'body'");
  // editing the file changes it
  write_bytes(jsonl, "{\"text\": \"hellO\"}\n", 18);
  EXPECT(data_stats(jsonl, NULL, &again, &err) == 0);
  EXPECT(strcmp(again.fingerprint, s.fingerprint) != 0);
  EXPECT_INT_EQ(again.text_bytes, 5);

  // token files: exact counts
  char *bin = xasprintf("%s/t.bin", tmpdir), *u16 = xasprintf("%s/t.u16.bin", tmpdir);
  unsigned char hdr[32 + 12] = "BENCHTOK";
  hdr[8] = 1;
  hdr[12] = 4;
  hdr[16] = 3;
  write_bytes(bin, hdr, sizeof hdr);
  EXPECT(data_stats(bin, NULL, &s, &err) == 0);
  EXPECT_INT_EQ(s.tokens, 3);
  write_bytes(u16, "abcdef", 6);
  EXPECT(data_stats(u16, NULL, &s, &err) == 0);
  EXPECT_INT_EQ(s.tokens, 3);
  char *missing = xasprintf("%s/none.txt", tmpdir);
  EXPECT(data_stats(missing, NULL, &s, &err) != 0);
  free(missing), free(bin), free(u16), free(cache_dir), free(jsonl);
}

int main(void) {
  const char *base = getenv("BENCH_TEST_TMP");
  snprintf(tmpdir, sizeof tmpdir, "%s/matrix.XXXXXX", base && base[0] ? base : "/tmp");
  if (!mkdtemp(tmpdir)) {
    perror("mkdtemp");
    return 1;
  }
  char *cache = xasprintf("%s/cache", tmpdir);
  setenv("BENCH_CACHE_DIR", cache, 1);
  free(cache);
  RUN(canonical_numbers);
  RUN(canonical_keys_and_strings);
  RUN(product_counts);
  RUN(sweep_names_and_products);
  RUN(exclude_swept_name_and_member);
  RUN(include_adds_and_does_not_duplicate);
  RUN(exclude_combination_matching_nothing_is_noted);
  RUN(shared_jobs_across_phases);
  RUN(id_stability);
  RUN(identity_contents);
  RUN(engine_rope_specs_build);
  RUN(cache_positions_reach_the_engine);
  RUN(checkpoint_fingerprints);
  RUN(xxh64_reference_values);
  RUN(weights_digest_cache);
  RUN(checkpoint_fingerprint_is_the_loaders);
  RUN(dataset_stats_and_cache);
  char *cmd = xasprintf("rm -rf '%s'", tmpdir);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
  free(cmd);
  TEST_SUMMARY();
}
