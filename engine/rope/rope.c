// rope.c — RoPE variant specs (JSON) checked and resolved into a RopeTable. See rope.h.
// Legend: R rotary dims, n = R/2 pairs, k pair index, θ base, inv[n] inverse frequencies ω_k.
//
// A spec is checked against its type's parameter table (known keys, JSON kinds, ranges, required
// keys) before anything is computed; mix and compress build their nested specs recursively, and
// `model` turns the checkpoint's rope_scaling into a spec of the matching type and builds that.
#include "rope.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "rope_formulas.h"
#include "json_file.h"

// ---- parameter tables ----

typedef enum {
  K_NUM,       // a JSON number
  K_INT,       // a JSON number with an integral value
  K_BOOL,      // true/false (also 0/1 and "true"/"false", as suites may write them)
  K_STR,       // a JSON string
  K_NUMLIST,   // a JSON array of numbers
  K_SPEC,      // a nested variant spec (object)
  K_SPECPAIR,  // an array of exactly two nested specs
} Kind;

typedef enum {
  R_ANY,     // any finite value
  R_POS,     // > 0
  R_NONNEG,  // >= 0
  R_GE1,     // >= 1
  R_UNIT,    // in [0, 1]
} Range;

typedef struct {
  const char *key;
  Kind kind;
  Range range;
  int required;
} ParamDef;

typedef enum {
  T_MODEL, T_GEOMETRIC, T_LINEAR, T_DYNAMIC, T_NTK, T_YARN, T_LLAMA3, T_LONGROPE,
  T_ANCHORED_SIGMOID, T_ANCHORED_POLY, T_SIGMOID, T_HYBRID, T_MIX, T_FILE, T_COMPRESS,
} TypeId;

#define MAX_PARAMS 10
typedef struct {
  const char *name;
  TypeId id;
  ParamDef params[MAX_PARAMS];  // terminated by a NULL key
} TypeDef;

#define THETA {"theta", K_NUM, R_POS, 0}
static const TypeDef TYPES[] = {
    {"model", T_MODEL, {THETA}},
    {"geometric", T_GEOMETRIC, {THETA}},
    {"linear", T_LINEAR, {THETA, {"factor", K_NUM, R_GE1, 1}}},
    {"dynamic", T_DYNAMIC,
     {THETA, {"factor", K_NUM, R_GE1, 1}, {"original_max_position_embeddings", K_INT, R_GE1, 0}}},
    {"ntk", T_NTK, {THETA, {"factor", K_NUM, R_GE1, 1}}},
    {"yarn", T_YARN,
     {THETA, {"factor", K_NUM, R_GE1, 1}, {"beta_fast", K_NUM, R_POS, 0},
      {"beta_slow", K_NUM, R_POS, 0}, {"attention_factor", K_NUM, R_POS, 0},
      {"mscale", K_NUM, R_ANY, 0}, {"mscale_all_dim", K_NUM, R_ANY, 0},
      {"original_max_position_embeddings", K_INT, R_GE1, 0}, {"truncate", K_BOOL, R_ANY, 0}}},
    {"llama3", T_LLAMA3,
     {THETA, {"factor", K_NUM, R_GE1, 1}, {"low_freq_factor", K_NUM, R_POS, 1},
      {"high_freq_factor", K_NUM, R_POS, 1},
      {"original_max_position_embeddings", K_INT, R_GE1, 1}}},
    {"longrope", T_LONGROPE,
     {THETA, {"short_factor", K_NUMLIST, R_POS, 1}, {"long_factor", K_NUMLIST, R_POS, 1},
      {"original_max_position_embeddings", K_INT, R_GE1, 0},
      {"attention_factor", K_NUM, R_POS, 0}, {"factor", K_NUM, R_GE1, 0}}},
    {"anchored_sigmoid", T_ANCHORED_SIGMOID,
     {THETA, {"anchor_factor", K_NUM, R_POS, 1}, {"anchor_dim", K_NUM, R_NONNEG, 1},
      {"slope", K_NUM, R_NONNEG, 1}}},
    {"anchored_poly", T_ANCHORED_POLY,
     {THETA, {"p", K_NUM, R_POS, 1}, {"omf", K_NUM, R_UNIT, 1}}},
    {"sigmoid", T_SIGMOID,
     {THETA, {"steep", K_NUM, R_POS, 1}, {"mid", K_NUM, R_ANY, 1}, {"omf", K_NUM, R_UNIT, 1}}},
    {"hybrid", T_HYBRID,
     {THETA, {"alpha", K_NUM, R_UNIT, 1}, {"p", K_NUM, R_POS, 1}, {"omf", K_NUM, R_UNIT, 1}}},
    {"mix", T_MIX,
     {THETA, {"of", K_SPECPAIR, R_ANY, 1}, {"weight", K_NUM, R_UNIT, 1},
      {"space", K_STR, R_ANY, 0}}},
    {"file", T_FILE, {THETA, {"path", K_STR, R_ANY, 1}, {"sha256", K_STR, R_ANY, 0}}},
    {"compress", T_COMPRESS,
     {THETA, {"base", K_SPEC, R_ANY, 1}, {"threshold", K_NUM, R_NONNEG, 1},
      {"factor", K_NUM, R_GE1, 1}}},
};
#undef THETA
#define N_TYPES ((int)(sizeof TYPES / sizeof TYPES[0]))

// Largest frequency file read (a few thousand numbers at most are meaningful).
#define ROPE_FILE_MAX_BYTES (1 << 20)

static const char *spec_name(const json_t *spec) {
  const char *name = json_string_value(json_object_get(spec, "name"));
  if (name) return name;
  const char *type = json_string_value(json_object_get(spec, "type"));
  return type ? type : "(unnamed)";
}

static const char *range_text(Range r) {
  switch (r) {
    case R_POS: return "> 0";
    case R_NONNEG: return ">= 0";
    case R_GE1: return ">= 1";
    case R_UNIT: return "in [0, 1]";
    default: return "finite";
  }
}

static int in_range(double v, Range r) {
  if (!isfinite(v)) return 0;
  switch (r) {
    case R_POS: return v > 0;
    case R_NONNEG: return v >= 0;
    case R_GE1: return v >= 1;
    case R_UNIT: return v >= 0 && v <= 1;
    default: return 1;
  }
}

static const char *json_kind_text(const json_t *v) {
  switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "a list";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: case JSON_REAL: return "a number";
    case JSON_TRUE: case JSON_FALSE: return "a boolean";
    default: return "null";
  }
}

// Reads a K_BOOL value: 1/0, or -1 when it is not one.
static int bool_value(const json_t *v) {
  if (json_is_boolean(v)) return json_is_true(v);
  if (json_is_number(v)) {
    double d = json_number_value(v);
    return d == 1 ? 1 : d == 0 ? 0 : -1;
  }
  const char *s = json_string_value(v);
  if (s && strcmp(s, "true") == 0) return 1;
  if (s && strcmp(s, "false") == 0) return 0;
  return -1;
}

static int check_value(const ParamDef *d, const json_t *v, BenchErr *err) {
  switch (d->kind) {
    case K_NUM:
    case K_INT: {
      if (!json_is_number(v))
        return err_set(err, "parameter '%s' must be a number, got %s", d->key, json_kind_text(v));
      double x = json_number_value(v);
      if (!in_range(x, d->range))
        return err_set(err, "parameter '%s' must be %s, got %g", d->key, range_text(d->range), x);
      if (d->kind == K_INT && (x != floor(x) || x > 1e15))
        return err_set(err, "parameter '%s' must be a whole number, got %g", d->key, x);
      return 0;
    }
    case K_BOOL:
      if (bool_value(v) < 0)
        return err_set(err, "parameter '%s' must be true or false, got %s", d->key,
                       json_kind_text(v));
      return 0;
    case K_STR:
      if (!json_is_string(v) || json_string_length(v) == 0)
        return err_set(err, "parameter '%s' must be a non-empty string, got %s", d->key,
                       json_is_string(v) ? "an empty string" : json_kind_text(v));
      return 0;
    case K_NUMLIST: {
      if (!json_is_array(v) || json_array_size(v) == 0)
        return err_set(err, "parameter '%s' must be a non-empty list of numbers, got %s", d->key,
                       json_is_array(v) ? "an empty list" : json_kind_text(v));
      for (size_t i = 0; i < json_array_size(v); i++) {
        const json_t *e = json_array_get(v, i);
        if (!json_is_number(e))
          return err_set(err, "parameter '%s' item %zu must be a number, got %s", d->key, i,
                         json_kind_text(e));
        if (!in_range(json_number_value(e), d->range))
          return err_set(err, "parameter '%s' item %zu must be %s, got %g", d->key, i,
                         range_text(d->range), json_number_value(e));
      }
      return 0;
    }
    case K_SPEC:
      if (!json_is_object(v))
        return err_set(err, "parameter '%s' must be a variant, got %s", d->key, json_kind_text(v));
      return 0;
    case K_SPECPAIR:
      if (!json_is_array(v) || json_array_size(v) != 2)
        return err_set(err, "parameter '%s' must list exactly two variants, got %s", d->key,
                       json_is_array(v) ? "another count" : json_kind_text(v));
      for (size_t i = 0; i < 2; i++)
        if (!json_is_object(json_array_get(v, i)))
          return err_set(err, "parameter '%s' item %zu must be a variant, got %s", d->key, i,
                         json_kind_text(json_array_get(v, i)));
      return 0;
  }
  return 0;
}

static const ParamDef *find_param(const TypeDef *t, const char *key) {
  for (int i = 0; i < MAX_PARAMS && t->params[i].key; i++)
    if (strcmp(t->params[i].key, key) == 0) return &t->params[i];
  return NULL;
}

// Checks one spec level (not its nested specs). Returns its TypeDef, or NULL with err.
static const TypeDef *check_spec(const json_t *spec, int depth, BenchErr *err) {
  if (depth > ROPE_MAX_DEPTH) {
    err_set(err, "variants nest deeper than %d levels", ROPE_MAX_DEPTH);
    return NULL;
  }
  if (!json_is_object(spec)) {
    err_set(err, "a variant must be an object, got %s", json_kind_text(spec));
    return NULL;
  }
  const json_t *type_v = json_object_get(spec, "type");
  if (!type_v) {
    err_set(err, "missing 'type'");
    return NULL;
  }
  const char *type = json_string_value(type_v);
  if (!type) {
    err_set(err, "'type' must be a string, got %s", json_kind_text(type_v));
    return NULL;
  }
  const json_t *name_v = json_object_get(spec, "name");
  if (name_v && !json_is_string(name_v)) {
    err_set(err, "'name' must be a string, got %s", json_kind_text(name_v));
    return NULL;
  }
  const TypeDef *t = NULL;
  const char *names[N_TYPES];
  for (int i = 0; i < N_TYPES; i++) {
    names[i] = TYPES[i].name;
    if (strcmp(TYPES[i].name, type) == 0) t = &TYPES[i];
  }
  if (!t) {
    const char *near = closest_name(type, names, N_TYPES);
    if (near)
      err_set(err, "unknown type '%s' (did you mean '%s'?)", type, near);
    else
      err_set(err, "unknown type '%s'", type);
    return NULL;
  }

  const char *key;
  const json_t *v;
  json_object_foreach((json_t *)spec, key, v) {
    if (strcmp(key, "type") == 0 || strcmp(key, "name") == 0) continue;
    const ParamDef *d = find_param(t, key);
    if (!d) {
      const char *cands[MAX_PARAMS];
      int n = 0;
      while (n < MAX_PARAMS && t->params[n].key) {
        cands[n] = t->params[n].key;
        n++;
      }
      const char *near = closest_name(key, cands, n);
      if (near)
        err_set(err, "unknown parameter '%s' for type '%s' (did you mean '%s'?)", key, t->name,
                near);
      else
        err_set(err, "unknown parameter '%s' for type '%s'", key, t->name);
      return NULL;
    }
    if (check_value(d, v, err) < 0) return NULL;
  }
  for (int i = 0; i < MAX_PARAMS && t->params[i].key; i++) {
    if (t->params[i].required && !json_object_get(spec, t->params[i].key)) {
      err_set(err, "missing parameter '%s' (type '%s')", t->params[i].key, t->name);
      return NULL;
    }
  }
  if (t->id == T_MIX) {
    const char *space = json_string_value(json_object_get(spec, "space"));
    if (space && strcmp(space, "linear") != 0 && strcmp(space, "log") != 0) {
      err_set(err, "parameter 'space' must be 'linear' or 'log', got '%s'", space);
      return NULL;
    }
  }
  if (t->id == T_FILE) {
    const char *sha = json_string_value(json_object_get(spec, "sha256"));
    int ok = sha && strlen(sha) == 64;
    for (int i = 0; ok && i < 64; i++) ok = isxdigit((unsigned char)sha[i]) != 0;
    if (sha && !ok) {
      err_set(err, "parameter 'sha256' must be 64 hexadecimal digits, got '%s'", sha);
      return NULL;
    }
  }
  if (t->id == T_LLAMA3) {
    double lo = json_number_value(json_object_get(spec, "low_freq_factor"));
    double hi = json_number_value(json_object_get(spec, "high_freq_factor"));
    if (!(hi > lo)) {
      err_set(err, "parameter 'high_freq_factor' (%g) must be greater than 'low_freq_factor' (%g)",
              hi, lo);
      return NULL;
    }
  }
  return t;
}

static double num_or(const json_t *spec, const char *key, double dflt) {
  const json_t *v = json_object_get(spec, key);
  return v ? json_number_value(v) : dflt;
}

// ---- validation without a checkpoint ----

static int validate_at(const json_t *spec, int depth, BenchErr *err) {
  const TypeDef *t = check_spec(spec, depth, err);
  if (!t) return -1;
  if (t->id == T_MIX) {
    const json_t *of = json_object_get(spec, "of");
    for (size_t i = 0; i < 2; i++) {
      const json_t *m = json_array_get(of, i);
      if (validate_at(m, depth + 1, err) < 0)
        return err_prefix(err, "member '%s' (of[%zu])", spec_name(m), i);
    }
  } else if (t->id == T_COMPRESS) {
    const json_t *b = json_object_get(spec, "base");
    if (validate_at(b, depth + 1, err) < 0) return err_prefix(err, "base '%s'", spec_name(b));
  }
  return 0;
}

int rope_validate(const json_t *spec, BenchErr *err) {
  if (validate_at(spec, 1, err) < 0)
    return err_prefix(err, "rope variant '%s'", json_is_object(spec) ? spec_name(spec) : "?");
  return 0;
}

// ---- model info ----

int rope_rotary_dims(const RopeModelInfo *m, BenchErr *err) {
  if (m->head_dim < 2) return err_set(err, "head dim %d is too small for RoPE", m->head_dim);
  double f = m->partial_rotary_factor;
  if (!(f > 0 && f <= 1))
    return err_set(err, "partial_rotary_factor must be in (0, 1], got %g", f);
  int R = (int)(m->head_dim * f);  // transformers: int(head_dim * partial_rotary_factor)
  if (R < 2 || R % 2 != 0)
    return err_set(err, "rotary dims %d (head dim %d × partial_rotary_factor %g) must be even and "
                   ">= 2", R, m->head_dim, f);
  return R;
}

// The checkpoint's rope_scaling / rope_parameters object, or NULL (absent or JSON null).
static json_t *load_scaling(const RopeModelInfo *m, BenchErr *err, int *failed) {
  *failed = 0;
  if (!m->rope_scaling_json) return NULL;
  json_error_t je;
  json_t *j = json_loads(m->rope_scaling_json, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
  if (!j) {
    *failed = 1;
    err_set(err, "checkpoint rope_scaling is not valid JSON: %s", json_error_reason(&je));
    return NULL;
  }
  if (json_is_null(j)) {
    json_decref(j);
    return NULL;
  }
  if (!json_is_object(j)) {
    *failed = 1;
    err_set(err, "checkpoint rope_scaling must be an object, got %s", json_kind_text(j));
    json_decref(j);
    return NULL;
  }
  return j;
}

double rope_checkpoint_theta(const RopeModelInfo *m) {
  BenchErr err;
  int failed;
  json_t *sc = load_scaling(m, &err, &failed);
  double theta = m->rope_theta;
  if (sc) {
    const json_t *t = json_object_get(sc, "rope_theta");
    if (json_is_number(t) && json_number_value(t) > 0) theta = json_number_value(t);
    json_decref(sc);
  }
  return theta;
}

void rope_geometric(double theta, int rotary_dims, double *out) {
  rf_geometric(rotary_dims, theta, out);
}

// ---- building ----

typedef struct {
  const RopeModelInfo *model;
  int R;
  double theta;       // base inherited by a spec without `theta` (checkpoint's, or an outer one)
  long eval_length;
} Ctx;

static int build_at(const json_t *spec, const Ctx *ctx, int depth, RopeTable *out, BenchErr *err);

static void table_init(RopeTable *t, int R) {
  memset(t, 0, sizeof *t);
  t->rotary_dims = R;
  t->inv_freq = xcalloc((size_t)(R / 2), sizeof(double));
  t->attention_scale = 1.0;
}

// Reads a frequency file: a JSON array, or one number per line ('#' starts a comment).
static int read_freq_file(const json_t *spec, int n, double *inv, BenchErr *err) {
  const char *path = json_string_value(json_object_get(spec, "path"));
  char *text;
  size_t len;
  if (read_file(path, ROPE_FILE_MAX_BYTES, &text, &len, err) < 0) return -1;
  const char *want = json_string_value(json_object_get(spec, "sha256"));
  if (want) {
    char got[65];
    sha256_hex(text, len, got);
    if (strcasecmp(got, want) != 0) {
      free(text);
      return err_set(err, "'%s': sha256 is %s, the variant expects %s", path, got, want);
    }
  }
  int count = 0, rc = 0;
  const char *p = text;
  while (*p && isspace((unsigned char)*p)) p++;
  if (*p == '[') {
    json_error_t je;
    json_t *arr = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!arr || !json_is_array(arr)) {
      rc = arr ? err_set(err, "'%s': expected a JSON array of numbers", path)
               : err_set(err, "'%s':%d:%d: %s (expected a JSON array of numbers)", path, je.line,
                         je.column, json_error_reason(&je));
    } else {
      for (size_t i = 0; i < json_array_size(arr) && rc == 0; i++) {
        const json_t *e = json_array_get(arr, i);
        if (!json_is_number(e)) {
          rc = err_set(err, "'%s': item %zu is %s, expected a number", path, i, json_kind_text(e));
          break;
        }
        double x = json_number_value(e);
        if (!(isfinite(x) && x > 0))
          rc = err_set(err, "'%s': frequency %zu is %g, expected positive and finite", path, i, x);
        else if (count < n)
          inv[count] = x;
        count++;
      }
    }
    json_decref(arr);
  } else {
    int line = 0;
    for (char *s = text; s && *s && rc == 0;) {
      char *nl = strchr(s, '\n');
      if (nl) *nl = 0;
      line++;
      char *hash = strchr(s, '#');
      if (hash) *hash = 0;
      char *q = s;
      while (isspace((unsigned char)*q)) q++;
      if (*q) {
        char *end;
        double x = strtod(q, &end);
        while (isspace((unsigned char)*end)) end++;
        // the file's text is never quoted: its place and what was expected
        if (end == q || *end)
          rc = err_set(err, "'%s':%d:%d: expected one number per line ('#' starts a comment)", path, line,
                       (int)((end == q ? q : end) - s) + 1);
        else if (!(isfinite(x) && x > 0))
          rc = err_set(err, "'%s':%d:%d: frequency %g is not positive and finite", path, line,
                       (int)(q - s) + 1, x);
        else if (count < n)
          inv[count] = x;
        count++;
      }
      s = nl ? nl + 1 : NULL;
    }
  }
  free(text);
  if (rc < 0) return -1;
  if (count != n)
    return err_set(err, "'%s' holds %d frequencies, expected %d (rotary dims %d / 2)", path, count,
                   n, 2 * n);
  return 0;
}

// Copies a list parameter into out[n] after checking its length against the rotary pairs.
static int list_param(const json_t *spec, const char *key, int n, double *out, BenchErr *err) {
  const json_t *a = json_object_get(spec, key);
  if ((int)json_array_size(a) != n)
    return err_set(err, "parameter '%s' has %zu values, expected %d (rotary dims %d / 2)", key,
                   json_array_size(a), n, 2 * n);
  for (int i = 0; i < n; i++) out[i] = json_number_value(json_array_get(a, (size_t)i));
  return 0;
}

// Builds a member of mix/compress: inherits the context (and an outer theta) one level down.
static int build_member(const json_t *m, const json_t *outer, const Ctx *ctx, int depth,
                        RopeTable *out, BenchErr *err) {
  Ctx sub = *ctx;
  sub.theta = num_or(outer, "theta", ctx->theta);
  return build_at(m, &sub, depth + 1, out, err);
}

static int build_mix(const json_t *spec, const Ctx *ctx, int depth, RopeTable *out, BenchErr *err) {
  const json_t *of = json_object_get(spec, "of");
  RopeTable t[2];
  for (int i = 0; i < 2; i++) {
    const json_t *m = json_array_get(of, (size_t)i);
    if (build_member(m, spec, ctx, depth, &t[i], err) < 0) {
      if (i == 1) rope_table_free(&t[0]);
      return err_prefix(err, "member '%s' (of[%d])", spec_name(m), i);
    }
  }
  int rc = 0;
  if (t[0].compress != t[1].compress ||
      (t[0].compress && (t[0].compress_threshold != t[1].compress_threshold ||
                         t[0].compress_factor != t[1].compress_factor))) {
    rc = err_set(err, "members '%s' and '%s' map positions differently; mix combines frequencies "
                 "of variants sharing one position map", spec_name(json_array_get(of, 0)),
                 spec_name(json_array_get(of, 1)));
  } else {
    double a = json_number_value(json_object_get(spec, "weight"));
    const char *space = json_string_value(json_object_get(spec, "space"));
    int log_space = space && strcmp(space, "log") == 0;
    table_init(out, ctx->R);
    for (int k = 0; k < ctx->R / 2; k++) {
      double x = t[0].inv_freq[k], y = t[1].inv_freq[k];
      out->inv_freq[k] = log_space ? exp((1 - a) * log(x) + a * log(y)) : (1 - a) * x + a * y;
    }
    double s0 = t[0].attention_scale, s1 = t[1].attention_scale;
    out->attention_scale = log_space ? exp((1 - a) * log(s0) + a * log(s1)) : (1 - a) * s0 + a * s1;
    out->compress = t[0].compress;
    out->compress_threshold = t[0].compress_threshold;
    out->compress_factor = t[0].compress_factor;
  }
  rope_table_free(&t[0]);
  rope_table_free(&t[1]);
  return rc;
}

static int build_compress(const json_t *spec, const Ctx *ctx, int depth, RopeTable *out,
                          BenchErr *err) {
  const json_t *b = json_object_get(spec, "base");
  if (build_member(b, spec, ctx, depth, out, err) < 0)
    return err_prefix(err, "base '%s'", spec_name(b));
  if (out->compress) {
    rope_table_free(out);
    return err_set(err, "base '%s' already compresses positions; compress one map at a time",
                   spec_name(b));
  }
  out->compress = 1;
  out->compress_threshold = json_number_value(json_object_get(spec, "threshold"));
  out->compress_factor = json_number_value(json_object_get(spec, "factor"));
  return 0;
}

// Copies config key `key` into spec as `as` when present and not null (and, for `skip_zero`,
// not 0: transformers reads beta_fast/beta_slow with `or default`).
static void copy_key(json_t *spec, const json_t *cfg, const char *key, int skip_zero) {
  json_t *v = json_object_get(cfg, key);
  if (!v || json_is_null(v)) return;
  if (skip_zero && json_is_number(v) && json_number_value(v) == 0) return;
  json_object_set(spec, key, v);
}

// `model`: the checkpoint's own RoPE as transformers standardises it — type from "rope_type" or
// "type" (default "default"), rope_theta from rope_parameters or the config,
// original_max_position_embeddings from the config's top level, else rope_scaling, else
// max_position_embeddings; a yarn factor left out is max_position_embeddings / original.
static int build_model(const json_t *spec, const Ctx *ctx, int depth, RopeTable *out,
                       BenchErr *err) {
  const RopeModelInfo *m = ctx->model;
  if (m->native_spec_json) {  // trained by bench with this variant: its spec, `theta` overriding
    json_error_t je;
    json_t *native = json_loads(m->native_spec_json, JSON_REJECT_DUPLICATES, &je);
    if (!json_is_object(native)) {
      json_decref(native);
      return err_set(err, "checkpoint bench_rope is not a JSON object");
    }
    const json_t *th = json_object_get(spec, "theta");
    if (th) json_object_set(native, "theta", (json_t *)th);
    int rc = build_at(native, ctx, depth + 1, out, err);
    json_decref(native);
    return rc < 0 ? err_prefix(err, "checkpoint bench_rope") : 0;
  }
  int failed;
  json_t *cfg = load_scaling(m, err, &failed);
  if (failed) return -1;
  const char *hf_type = "default";
  if (cfg) {
    const json_t *tv = json_object_get(cfg, "rope_type");
    if (!tv || json_is_null(tv)) tv = json_object_get(cfg, "type");
    if (tv && !json_is_null(tv)) {
      if (!json_is_string(tv)) {
        json_decref(cfg);
        return err_set(err, "checkpoint rope_scaling 'rope_type' must be a string");
      }
      hf_type = json_string_value(tv);
    }
  }
  json_t *s = json_object();
  int rc = 0;
  json_object_set_new(s, "name", json_string("checkpoint"));
  double theta = num_or(spec, "theta", rope_checkpoint_theta(m));
  json_object_set_new(s, "theta", json_real(theta));
  long orig = m->original_max_position_embeddings > 0 ? m->original_max_position_embeddings : 0;
  if (!orig && cfg) {
    const json_t *o = json_object_get(cfg, "original_max_position_embeddings");
    if (json_is_number(o)) orig = (long)json_number_value(o);
  }
  if (!orig) orig = m->max_position_embeddings;

  if (strcmp(hf_type, "default") == 0) {
    json_object_set_new(s, "type", json_string("geometric"));
  } else if (strcmp(hf_type, "linear") == 0 || strcmp(hf_type, "dynamic") == 0) {
    json_object_set_new(s, "type", json_string(hf_type));
    copy_key(s, cfg, "factor", 0);
  } else if (strcmp(hf_type, "yarn") == 0) {
    json_object_set_new(s, "type", json_string("yarn"));
    const char *keys[] = {"factor", "attention_factor", "mscale", "mscale_all_dim", "truncate"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) copy_key(s, cfg, keys[i], 0);
    copy_key(s, cfg, "beta_fast", 1);
    copy_key(s, cfg, "beta_slow", 1);
    json_object_set_new(s, "original_max_position_embeddings", json_integer(orig));
    if (!json_object_get(s, "factor"))
      json_object_set_new(s, "factor", json_real((double)m->max_position_embeddings / orig));
  } else if (strcmp(hf_type, "llama3") == 0) {
    json_object_set_new(s, "type", json_string("llama3"));
    copy_key(s, cfg, "factor", 0);
    copy_key(s, cfg, "low_freq_factor", 0);
    copy_key(s, cfg, "high_freq_factor", 0);
    json_object_set_new(s, "original_max_position_embeddings", json_integer(orig));
  } else if (strcmp(hf_type, "longrope") == 0) {
    json_object_set_new(s, "type", json_string("longrope"));
    const char *keys[] = {"short_factor", "long_factor", "attention_factor", "factor"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) copy_key(s, cfg, keys[i], 0);
    json_object_set_new(s, "original_max_position_embeddings", json_integer(orig));
  } else {
    rc = err_set(err, "checkpoint rope type '%s' is not supported (supported: default, linear, "
                 "dynamic, yarn, llama3, longrope)", hf_type);
  }
  if (rc == 0 && build_at(s, ctx, depth + 1, out, err) < 0)
    rc = err_prefix(err, "checkpoint rope_scaling (type '%s')", hf_type);
  json_decref(s);
  json_decref(cfg);
  return rc;
}

static int build_at(const json_t *spec, const Ctx *ctx, int depth, RopeTable *out, BenchErr *err) {
  memset(out, 0, sizeof *out);
  const TypeDef *t = check_spec(spec, depth, err);
  if (!t) return -1;
  switch (t->id) {
    case T_MODEL: return build_model(spec, ctx, depth, out, err);
    case T_MIX: return build_mix(spec, ctx, depth, out, err);
    case T_COMPRESS: return build_compress(spec, ctx, depth, out, err);
    default: break;
  }
  int R = ctx->R, n = R / 2;
  const RopeModelInfo *m = ctx->model;
  double theta = num_or(spec, "theta", ctx->theta);
  if (!(theta > 0 && isfinite(theta)))
    return err_set(err, "base theta must be > 0, got %g (set 'theta')", theta);
  double factor = num_or(spec, "factor", 1.0);
  long orig = (long)num_or(spec, "original_max_position_embeddings",
                           (double)m->max_position_embeddings);
  if ((t->id == T_DYNAMIC || t->id == T_NTK) && R <= 2)
    return err_set(err, "type '%s' needs rotary dims > 2, got %d", t->name, R);
  if ((t->id == T_DYNAMIC || t->id == T_YARN || t->id == T_LONGROPE) && orig < 1)
    return err_set(err, "type '%s' needs 'original_max_position_embeddings' (the checkpoint "
                   "gives no max_position_embeddings)", t->name);

  table_init(out, R);
  double *inv = out->inv_freq;
  int rc = 0;
  switch (t->id) {
    case T_GEOMETRIC: rf_geometric(R, theta, inv); break;
    case T_LINEAR: rf_linear(R, theta, factor, inv); break;
    case T_DYNAMIC: rf_dynamic(R, theta, factor, orig, ctx->eval_length, inv); break;
    case T_NTK: rf_ntk(R, theta, factor, inv); break;
    case T_YARN: {
      int truncate = 1;
      const json_t *tr = json_object_get(spec, "truncate");
      if (tr) truncate = bool_value(tr);
      YarnParams p = {
          .factor = factor,
          .beta_fast = num_or(spec, "beta_fast", 32.0),
          .beta_slow = num_or(spec, "beta_slow", 1.0),
          .attention_factor = num_or(spec, "attention_factor", 0.0),
          .mscale = num_or(spec, "mscale", 0.0),
          .mscale_all_dim = num_or(spec, "mscale_all_dim", 0.0),
          .original_max_pos = orig,
          .truncate = truncate,
      };
      out->attention_scale = rf_yarn(R, theta, &p, inv);
      break;
    }
    case T_LLAMA3:
      rf_llama3(R, theta, factor, num_or(spec, "low_freq_factor", 0),
                num_or(spec, "high_freq_factor", 0), orig, inv);
      break;
    case T_LONGROPE: {
      double *sf = xmalloc((size_t)n * sizeof(double)), *lf = xmalloc((size_t)n * sizeof(double));
      rc = list_param(spec, "short_factor", n, sf, err);
      if (rc == 0) rc = list_param(spec, "long_factor", n, lf, err);
      if (rc == 0) {
        // transformers: factor defaults to max_position_embeddings / original.
        double f = num_or(spec, "factor", (double)m->max_position_embeddings / (double)orig);
        out->attention_scale = rf_longrope(R, theta, sf, lf, f,
                                           num_or(spec, "attention_factor", 0.0), orig,
                                           ctx->eval_length, inv);
      }
      free(sf);
      free(lf);
      break;
    }
    case T_ANCHORED_SIGMOID:
      rf_anchored_sigmoid(R, theta, num_or(spec, "anchor_factor", 1), num_or(spec, "anchor_dim", 0),
                          num_or(spec, "slope", 0), inv);
      break;
    case T_ANCHORED_POLY:
      rf_anchored_poly(R, theta, num_or(spec, "p", 1), num_or(spec, "omf", 0), inv);
      break;
    case T_SIGMOID:
      if (rf_sigmoid(R, theta, num_or(spec, "steep", 1), num_or(spec, "mid", 0),
                     num_or(spec, "omf", 0), inv) < 0)
        rc = err_set(err, "parameters 'steep' and 'mid' make the sigmoid flat on [0, 1]");
      break;
    case T_HYBRID:
      rf_hybrid(R, theta, num_or(spec, "alpha", 0), num_or(spec, "p", 1), num_or(spec, "omf", 0),
                inv);
      break;
    case T_FILE: rc = read_freq_file(spec, n, inv, err); break;
    default: die("rope type %s not dispatched", t->name);
  }
  for (int k = 0; rc == 0 && k < n; k++)
    if (!(isfinite(inv[k]) && inv[k] > 0))
      rc = err_set(err, "the parameters give frequency %g at pair %d (must be positive and "
                   "finite)", inv[k], k);
  if (rc == 0 && !(isfinite(out->attention_scale) && out->attention_scale > 0))
    rc = err_set(err, "the parameters give attention scale %g (must be positive and finite)",
                 out->attention_scale);
  if (rc < 0) rope_table_free(out);
  return rc;
}

int rope_build(const json_t *spec, const RopeModelInfo *model, long eval_length, RopeTable *out,
               BenchErr *err) {
  memset(out, 0, sizeof *out);
  const char *name = json_is_object(spec) ? spec_name(spec) : "?";
  int R = rope_rotary_dims(model, err);
  if (R < 0) return err_prefix(err, "rope variant '%s'", name);
  Ctx ctx = {.model = model, .R = R, .theta = rope_checkpoint_theta(model),
             .eval_length = eval_length};
  if (build_at(spec, &ctx, 1, out, err) < 0) return err_prefix(err, "rope variant '%s'", name);
  return 0;
}

double rope_position(const RopeTable *t, long p) {
  double x = (double)p;
  if (t->compress && x > t->compress_threshold)
    return t->compress_threshold + (x - t->compress_threshold) / t->compress_factor;
  return x;
}

void rope_table_free(RopeTable *t) {
  if (!t) return;
  free(t->inv_freq);
  memset(t, 0, sizeof *t);
}
