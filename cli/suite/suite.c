// suite.c — a suite file → validated Suite (see suite.h and docs/DESIGN.md "Suite files").
// The YAML layer (yaml_tree.c) rejects what YAML may express but a suite may not; this file walks
// the top level: the suite id, models, datasets, the variant sections (suite_variant.c), defaults
// and phases (suite_phase.c) and report options. Errors are collected rather than stopping at the
// first, and come back sorted by position.
#include <stdlib.h>
#include <string.h>

#include "suite_internal.h"

static const char *const TOP_KEYS[] = {"suite", "title", "defaults", "models", "datasets",
                                       "rope",  "cache", "train",    "phases", "report_options"};
static const char *const MODEL_KEYS[] = {"path"};
static const char *const DATASET_KEYS[] = {"path", "field", "model"};
static const char *const REPORT_OPTION_KEYS[] = {"severe", "boundary", "lang"};
static const char *const LANGS[] = {"en", "zh"};
#define COUNT(a) (int)(sizeof(a) / sizeof((a)[0]))

static int ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), k = strlen(suffix);
  return n >= k && strcmp(s + n - k, suffix) == 0;
}

// `path:` of a model or dataset: expanded (yaml_tree.c), resolved, and a warning when missing.
static char *entry_path(Ctx *c, const char *what, const char *name, const YNode *body, Mark m) {
  const YNode *pn = ytree_get(body, "path");
  const char *written;
  if (!pn) {
    ERR(c, m, "%s '%s' needs a 'path'", what, name);
    return NULL;
  }
  if (want_string(c, "path", pn, &written)) return NULL;
  if (!written[0]) {
    ERR(c, pn->mark, "%s '%s': 'path' must not be empty", what, name);
    return NULL;
  }
  char *path = suite_path(c, written);
  if (!file_exists(path) && !strstr(path, "${"))  // an unset ${VAR} is reported already
    WARN(c, pn->mark, "%s '%s': path '%s' does not exist", what, name, path);
  return path;
}

static void parse_models(Ctx *c, const YNode *map) {
  Suite *s = c->s;
  if (want_map(c, "models", map)) return;
  s->models = xcalloc((size_t)map->n + 1, sizeof(ModelDef));
  for (int i = 0; i < map->n; i++) {
    const YNode *k = ytree_key(map, i), *body = ytree_val(map, i);
    const char *name;
    if (want_name(c, "model name", k, &name) || want_map(c, name, body)) continue;
    check_keys(c, body, MODEL_KEYS, COUNT(MODEL_KEYS));
    ModelDef *md = &s->models[s->n_models++];
    md->name = xstrdup(name);
    md->mark = k->mark;
    md->path = entry_path(c, "model", name, body, k->mark);
    md->exists = md->path && file_exists(md->path);
  }
}

static void parse_datasets(Ctx *c, const YNode *map) {
  Suite *s = c->s;
  if (want_map(c, "datasets", map)) return;
  s->datasets = xcalloc((size_t)map->n + 1, sizeof(DatasetDef));
  for (int i = 0; i < map->n; i++) {
    const YNode *k = ytree_key(map, i), *body = ytree_val(map, i);
    const char *name, *str;
    if (want_name(c, "dataset name", k, &name) || want_map(c, name, body)) continue;
    check_keys(c, body, DATASET_KEYS, COUNT(DATASET_KEYS));
    DatasetDef *dd = &s->datasets[s->n_datasets++];
    dd->name = xstrdup(name);
    dd->mark = k->mark;
    dd->path = entry_path(c, "dataset", name, body, k->mark);
    dd->exists = dd->path && file_exists(dd->path);
    int jsonl = dd->path && ends_with(dd->path, ".jsonl");
    if (dd->path && !jsonl && !ends_with(dd->path, ".txt") && !ends_with(dd->path, ".bin"))
      ERR(c, ytree_get(body, "path")->mark, "dataset '%s': path must end in .txt, .jsonl or .bin, got '%s'",
          name, dd->path);
    const YNode *field = ytree_get(body, "field"), *model = ytree_get(body, "model");
    if (field && dd->path && !jsonl)
      ERR(c, field->mark, "'field' applies to .jsonl datasets only");
    else if (field && !want_string(c, "field", field, &str))
      dd->field = xstrdup(str);
    if (!dd->field && jsonl) dd->field = xstrdup("text");
    if (model && !want_string(c, "model", model, &str)) {
      if (suite_model(s, str)) {
        dd->model = xstrdup(str);
      } else {
        const char **names = xcalloc((size_t)s->n_models + 1, sizeof(char *));
        for (int j = 0; j < s->n_models; j++) names[j] = s->models[j].name;
        unknown_name(c, model->mark, "model", str, names, s->n_models);
        free(names);
      }
    }
  }
}

static void parse_report_options(Ctx *c, const YNode *map) {
  ReportOptions *ro = &c->s->report_options;
  if (want_map(c, "report_options", map)) return;
  check_keys(c, map, REPORT_OPTION_KEYS, COUNT(REPORT_OPTION_KEYS));
  const YNode *n;
  double v;
  if ((n = ytree_get(map, "severe")) && !want_number(c, "severe", n, &v) &&
      !check_range(c, "severe", n->mark, v, R_GT(0)))
    ro->severe = v;
  if ((n = ytree_get(map, "boundary")) && !want_number(c, "boundary", n, &v) &&
      !check_range(c, "boundary", n->mark, v, R_GT(0)))
    ro->boundary = v;
  const char *lang;
  if ((n = ytree_get(map, "lang")) && !want_enum(c, "lang", n, LANGS, COUNT(LANGS), &lang)) {
    free(ro->lang);
    ro->lang = xstrdup(lang);
  }
}

static void parse_top(Ctx *c, const YNode *root) {
  Suite *s = c->s;
  if (root->kind != YN_MAP) {
    char got[128];
    describe_node(root, got, sizeof got);
    ERR(c, root->mark, "a suite file must be a mapping (suite:, phases:, ...), got %s", got);
    return;
  }
  check_keys(c, root, TOP_KEYS, COUNT(TOP_KEYS));
  const YNode *n;
  const char *str;
  if (!(n = ytree_get(root, "suite"))) {
    ERR(c, root->mark, "missing key 'suite' (the suite's id, which names results/<suite>/)");
  } else if (!want_string(c, "suite", n, &str)) {
    if (!valid_name(str) || !strcmp(str, ".") || !strcmp(str, ".."))
      ERR(c, n->mark, "suite id '%.80s' may only contain letters, digits, '_', '-' and '.' (and is not "
                      "'.' or '..')", str);
    else
      s->suite = xstrdup(str);
  }
  if ((n = ytree_get(root, "title")) && !want_string(c, "title", n, &str)) s->title = xstrdup(str);
  // Definitions first, whatever their order in the file: phases and defaults refer to them.
  if ((n = ytree_get(root, "models"))) parse_models(c, n);
  if ((n = ytree_get(root, "datasets"))) parse_datasets(c, n);
  if ((n = ytree_get(root, "rope"))) parse_variants(c, n, SEC_ROPE, &s->rope, &s->n_rope);
  if ((n = ytree_get(root, "cache"))) parse_variants(c, n, SEC_CACHE, &s->cache, &s->n_cache);
  if ((n = ytree_get(root, "train"))) parse_variants(c, n, SEC_TRAIN, &s->train, &s->n_train);
  check_variant_refs(c);
  if ((n = ytree_get(root, "report_options"))) parse_report_options(c, n);
  if ((n = ytree_get(root, "defaults"))) parse_defaults(c, n);
  if (!(n = ytree_get(root, "phases")))
    ERR(c, root->mark, "missing key 'phases' (the list of experiments)");
  else
    parse_phases(c, n);
  check_checkpoints(c);
}

Suite *suite_load_buffer(const char *display_path, const char *dir, const char *text, size_t len,
                         Diagnostics *diag) {
  Suite *s = xcalloc(1, sizeof *s);
  s->path = xstrdup(display_path);
  s->dir = xstrdup(dir && dir[0] ? dir : ".");
  s->text = xmalloc(len + 1);
  memcpy(s->text, text, len);
  s->text[len] = 0;
  sha256_hex(text, len, s->sha256);
  s->report_options.severe = 10;
  s->report_options.boundary = 5;
  s->report_options.lang = xstrdup("en");
  Ctx c = {s, diag, display_path};
  int errors_before = diag->n_errors;
  if (len > SUITE_MAX_BYTES) {
    ERR(&c, ((Mark){0, 0}), "the file is too large (%zu bytes, limit %u)", len, SUITE_MAX_BYTES);
  } else {
    YNode *root = ytree_parse(display_path, text, len, diag);
    if (root) parse_top(&c, root);
    ytree_free(root);
  }
  diagnostics_sort(diag);
  if (diag->n_errors > errors_before) {
    suite_free(s);
    return NULL;
  }
  return s;
}

Suite *suite_load(const char *path, Diagnostics *diag) {
  char *text;
  size_t len;
  BenchErr err;
  if (read_file(path, SUITE_MAX_BYTES, &text, &len, &err) != 0) {
    diag_error(diag, NULL, (Mark){0, 0}, "%s", err.msg);
    return NULL;
  }
  char *dir = path_dirname(path);
  Suite *s = suite_load_buffer(path, dir, text, len, diag);
  free(dir);
  free(text);
  return s;
}

void suite_free(Suite *s) {
  if (!s) return;
  for (int i = 0; i < s->n_models; i++) {
    free(s->models[i].name);
    free(s->models[i].path);
  }
  for (int i = 0; i < s->n_datasets; i++) {
    free(s->datasets[i].name);
    free(s->datasets[i].path);
    free(s->datasets[i].field);
    free(s->datasets[i].model);
  }
  for (int i = 0; i < s->n_rope; i++) variant_free(&s->rope[i]);
  for (int i = 0; i < s->n_cache; i++) variant_free(&s->cache[i]);
  for (int i = 0; i < s->n_train; i++) variant_free(&s->train[i]);
  for (int i = 0; i < s->n_phases; i++) phase_free(&s->phases[i]);
  settings_free(&s->defaults);
  free(s->models);
  free(s->datasets);
  free(s->rope);
  free(s->cache);
  free(s->train);
  free(s->phases);
  free(s->report_options.lang);
  free(s->suite);
  free(s->title);
  free(s->path);
  free(s->dir);
  free(s->text);
  free(s);
}
