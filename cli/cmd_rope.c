// cmd_rope.c — `bench rope SUITE VARIANT [--head-dim D] [--length L] [--json]`: a rope variant of a
// suite resolved as the engine will apply it — per-pair frequencies, attention scale, position map.
//
// The checkpoint it is resolved for: the first model of the first phase that runs the variant
// (else of the defaults) when its config.json exists; for a phase that trains its model, the
// recipe's head dim (hidden / heads) and its seq_len as max positions; otherwise head dim 128
// (or --head-dim), theta 500000 and max positions 8192, with a note on stderr. --head-dim always
// replaces the head dim. --length L sets the evaluated length (dynamic NTK and longrope depend on
// it) and prints the position map for p = 0..L−1.
//
// --json prints exactly {"variant":..,"type":..,"inv_freq":[..],"attention_scale":x,
// "positions":[..]} (positions: p' for p = 0..L−1 with --length, else []).
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "model.h"
#include "rope.h"
#include "rope_spec.h"
#include "suite.h"

#define FALLBACK_HEAD_DIM 128
#define FALLBACK_THETA 500000.0
#define FALLBACK_MAX_POS 8192L
#define MAX_LENGTH 100000000L

// Where the model info came from, for the header line.
typedef struct {
  RopeModelInfo info;
  char *source;          // one line describing the model
  char *scaling;         // owned rope_scaling JSON text (info.rope_scaling_json)
  char *native;          // owned bench_rope JSON text (info.native_spec_json)
} ModelChoice;

static int parse_long_arg(const char *opt, const char *text, long lo, long hi, long *out) {
  BenchErr err;
  if (parse_int_range(text, lo, hi, out, &err) == 0) return 0;
  cli_usage_error("%s: %s", opt, err.msg);
  return -1;
}

// The settings block whose models/train apply: the first phase listing the variant, else defaults.
static const Settings *settings_for(const Suite *s, const char *selector) {
  size_t base = strcspn(selector, "[");
  for (int p = 0; p < s->n_phases; p++) {
    const NameList *r = &s->phases[p].settings.rope;
    for (int i = 0; i < r->n; i++)
      if (strncmp(r->items[i], selector, base) == 0 &&
          (r->items[i][base] == 0 || r->items[i][base] == '['))
        return &s->phases[p].settings;
  }
  return &s->defaults;
}

static double recipe_num(const Variant *recipe, const char *key) {
  const Param *p = variant_param(recipe, key);
  return p && p->n_values > 0 && p->values[0].kind == PV_NUM ? p->values[0].num : 0;
}

// A top-level original_max_position_embeddings in config.json (Phi-3 style), or 0.
static long config_original_max_pos(const char *dir) {
  char *path = path_join(dir, "config.json"), *text = NULL;
  size_t len;
  BenchErr err;
  long v = 0;
  if (read_file(path, 16 << 20, &text, &len, &err) == 0) {
    json_t *j = json_loadb(text, len, 0, NULL);
    const json_t *o = json_object_get(j, "original_max_position_embeddings");
    if (json_is_integer(o) && json_integer_value(o) > 0) v = (long)json_integer_value(o);
    json_decref(j);
  }
  free(text);
  free(path);
  return v;
}

static int choose_model(const Suite *s, const char *selector, ModelChoice *mc) {
  memset(mc, 0, sizeof *mc);
  const Settings *st = settings_for(s, selector);
  const Variant *recipe = st->train.n > 0 ? suite_train(s, st->train.items[0]) : NULL;
  const ModelDef *md = st->models.n > 0 ? suite_model(s, st->models.items[0]) : NULL;
  if (recipe) {
    double hidden = recipe_num(recipe, "hidden"), heads = recipe_num(recipe, "heads");
    if (hidden > 0 && heads > 0) {
      mc->info.head_dim = (int)(hidden / heads);
      mc->info.partial_rotary_factor = 1.0;
      mc->info.rope_theta = 10000.0;
      mc->info.max_position_embeddings = (long)recipe_num(recipe, "seq_len");
      mc->source = xasprintf("trained with recipe '%s': head dim %d (hidden %g / heads %g), "
                             "max positions %ld", recipe->name, mc->info.head_dim, hidden, heads,
                             mc->info.max_position_embeddings);
      return 0;
    }
  }
  if (md && md->exists) {
    ModelConfig cfg;
    BenchErr err;
    if (model_config_load(md->path, &cfg, &err) != 0) {
      cli_usage_error("model '%s': %s", md->name, err.msg);
      return -1;
    }
    mc->info.head_dim = cfg.head_dim;
    mc->info.partial_rotary_factor = cfg.partial_rotary_factor;
    mc->info.rope_theta = cfg.rope_theta;
    mc->info.max_position_embeddings = cfg.max_position_embeddings;
    mc->scaling = cfg.rope_scaling_json ? xstrdup(cfg.rope_scaling_json) : NULL;
    mc->info.rope_scaling_json = mc->scaling;
    mc->native = cfg.bench_rope_json ? xstrdup(cfg.bench_rope_json) : NULL;
    mc->info.native_spec_json = mc->native;
    mc->info.original_max_position_embeddings = config_original_max_pos(md->path);
    mc->source = xasprintf("model '%s' (%s): head dim %d, partial rotary %g, theta %g, max "
                           "positions %ld%s%s%s%s", md->name, md->path, cfg.head_dim,
                           cfg.partial_rotary_factor, cfg.rope_theta, cfg.max_position_embeddings,
                           mc->scaling ? ", rope_scaling " : "", mc->scaling ? mc->scaling : "",
                           mc->native ? ", bench_rope " : "", mc->native ? mc->native : "");
    model_config_free(&cfg);
    return 0;
  }
  mc->info.head_dim = FALLBACK_HEAD_DIM;
  mc->info.partial_rotary_factor = 1.0;
  mc->info.rope_theta = FALLBACK_THETA;
  mc->info.max_position_embeddings = FALLBACK_MAX_POS;
  mc->source = xasprintf("no checkpoint: head dim %d, theta %g, max positions %ld",
                         FALLBACK_HEAD_DIM, FALLBACK_THETA, FALLBACK_MAX_POS);
  if (md)
    fprintf(stderr, "bench: note: model '%s' not found at '%s'; using head dim %d, theta %g and "
            "max positions %ld (--head-dim sets the head dim)\n", md->name, md->path,
            FALLBACK_HEAD_DIM, FALLBACK_THETA, FALLBACK_MAX_POS);
  else
    fprintf(stderr, "bench: note: no model for variant '%s'; using head dim %d, theta %g and "
            "max positions %ld (--head-dim sets the head dim)\n", selector, FALLBACK_HEAD_DIM,
            FALLBACK_THETA, FALLBACK_MAX_POS);
  return 0;
}

// Shortest text that reads back as the same double (whole numbers without exponent).
static void append_number(StrBuf *b, double x) {
  char buf[40];
  if (x == floor(x) && fabs(x) < 1e15) {
    snprintf(buf, sizeof buf, "%.0f", x);
    sb_append(b, buf);
    return;
  }
  for (int prec = 1; prec <= 17; prec++) {
    snprintf(buf, sizeof buf, "%.*g", prec, x);
    if (strtod(buf, NULL) == x) break;
  }
  sb_append(b, buf);
}

static void append_string(StrBuf *b, const char *s) {
  json_t *j = json_string(s);
  char *text = json_dumps(j, JSON_ENCODE_ANY);
  sb_append(b, text);
  free(text);
  json_decref(j);
}

static void print_json(const char *name, const char *type, const RopeTable *t, long length) {
  StrBuf b = {0};
  sb_append(&b, "{\"variant\":");
  append_string(&b, name);
  sb_append(&b, ",\"type\":");
  append_string(&b, type);
  sb_append(&b, ",\"inv_freq\":[");
  for (int k = 0; k < t->rotary_dims / 2; k++) {
    if (k) sb_append(&b, ",");
    append_number(&b, t->inv_freq[k]);
  }
  sb_append(&b, "],\"attention_scale\":");
  append_number(&b, t->attention_scale);
  sb_append(&b, ",\"positions\":[");
  for (long p = 0; p < length; p++) {
    if (p) sb_append(&b, ",");
    append_number(&b, rope_position(t, p));
  }
  sb_append(&b, "]}\n");
  fputs(b.data, stdout);
  sb_free(&b);
}

static int usage(const char *msg, const char *arg) {
  if (msg) cli_usage_error("%s '%s'", msg, arg);
  fprintf(stderr, "usage: bench rope SUITE VARIANT [--head-dim D] [--length L] [--json]\n");
  return EXIT_BAD_INPUT;
}

int cmd_rope(int argc, char **argv) {
  const char *pos[2] = {NULL, NULL};
  int n_pos = 0, as_json = 0;
  long head_dim = 0, length = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--json") == 0) {
      as_json = 1;
    } else if (strcmp(a, "--head-dim") == 0 || strcmp(a, "--length") == 0) {
      if (i + 1 >= argc) return usage("missing value for", a);
      int is_head = strcmp(a, "--head-dim") == 0;
      if (parse_long_arg(a, argv[++i], is_head ? 2 : 1, is_head ? 65536 : MAX_LENGTH,
                         is_head ? &head_dim : &length) != 0)
        return usage(NULL, NULL);
    } else if (a[0] == '-' && a[1]) {
      return usage("unknown option", a);
    } else if (n_pos < 2) {
      pos[n_pos++] = a;
    } else {
      return usage("unexpected argument", a);
    }
  }
  if (n_pos != 2) {
    cli_usage_error("bench rope needs a suite and a variant name");
    return usage(NULL, NULL);
  }

  Diagnostics diag = {0};
  Suite *s = suite_load(pos[0], &diag);
  if (!s) {
    diagnostics_print(&diag, stderr);
    diagnostics_free(&diag);
    return EXIT_BAD_INPUT;
  }
  diagnostics_free(&diag);

  BenchErr err = {{0}};
  int rc = EXIT_BAD_INPUT;
  ModelChoice mc = {0};
  RopeTable t = {0};
  json_t *spec = rope_spec_resolve(s, pos[1], &err);
  if (!spec) {
    cli_usage_error("%s: %s", s->path, err.msg);
    goto done;
  }
  if (choose_model(s, pos[1], &mc) != 0) goto done;
  if (head_dim > 0 && head_dim != mc.info.head_dim) {
    char *src = xasprintf("%s; head dim %ld from --head-dim", mc.source, head_dim);
    free(mc.source);
    mc.source = src;
    mc.info.head_dim = (int)head_dim;
  }
  if (rope_build(spec, &mc.info, length, &t, &err) != 0) {
    cli_usage_error("%s", err.msg);
    goto done;
  }
  const char *name = json_string_value(json_object_get(spec, "name"));
  const char *type = json_string_value(json_object_get(spec, "type"));
  if (as_json) {
    print_json(name, type, &t, length);
  } else {
    const json_t *th = json_object_get(spec, "theta");
    double ref_theta = json_is_number(th) ? json_number_value(th) : rope_checkpoint_theta(&mc.info);
    char *spec_text = json_dumps(spec, JSON_COMPACT | JSON_PRESERVE_ORDER);
    printf("rope variant '%s' (type %s)\n", name, type);
    printf("spec: %s\n", spec_text);
    printf("checkpoint: %s\n", mc.source);
    printf("rotary dims: %d (%d pairs)\n", t.rotary_dims, t.rotary_dims / 2);
    if (length > 0) printf("evaluated length: %ld\n", length);
    printf("\n");
    rope_print_table(stdout, &t, ref_theta);
    if (length > 0)
      rope_print_positions(stdout, &t, length);
    else if (t.compress)
      printf("positions: p' = p for p <= %g, %g + (p - %g) / %g beyond (--length L shows the "
             "map)\n", t.compress_threshold, t.compress_threshold, t.compress_threshold,
             t.compress_factor);
    else
      printf("positions: p' = p (no position map)\n");
    free(spec_text);
  }
  rc = EXIT_OK;
done:
  rope_table_free(&t);
  json_decref(spec);
  free(mc.source);
  free(mc.scaling);
  free(mc.native);
  suite_free(s);
  return rc;
}
