// suite_lookup.c — a loaded Suite's entries by name (suite.h, "lookups"): what the parser's
// later passes (suite_phase.c, suite_variant.c) and every reader of a Suite look up.
#include <string.h>

#include "suite.h"

const ModelDef *suite_model(const Suite *s, const char *name) {
  for (int i = 0; i < s->n_models; i++)
    if (strcmp(s->models[i].name, name) == 0) return &s->models[i];
  return NULL;
}

const DatasetDef *suite_dataset(const Suite *s, const char *name) {
  for (int i = 0; i < s->n_datasets; i++)
    if (strcmp(s->datasets[i].name, name) == 0) return &s->datasets[i];
  return NULL;
}

static const Variant *find_variant(const Variant *v, int n, const char *name) {
  for (int i = 0; i < n; i++)
    if (strcmp(v[i].name, name) == 0) return &v[i];
  return NULL;
}

const Variant *suite_rope(const Suite *s, const char *name) { return find_variant(s->rope, s->n_rope, name); }
const Variant *suite_cache(const Suite *s, const char *name) { return find_variant(s->cache, s->n_cache, name); }
const Variant *suite_train(const Suite *s, const char *name) { return find_variant(s->train, s->n_train, name); }

const Param *variant_param(const Variant *v, const char *key) {
  for (int i = 0; i < v->n_params; i++)
    if (strcmp(v->params[i].key, key) == 0) return &v->params[i];
  return NULL;
}

const Phase *suite_phase(const Suite *s, const char *id) {
  for (int i = 0; i < s->n_phases; i++)
    if (strcmp(s->phases[i].id, id) == 0) return &s->phases[i];
  return NULL;
}
