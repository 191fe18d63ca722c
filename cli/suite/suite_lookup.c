// suite_lookup.c — a loaded Suite's entries by name (suite.h, "lookups"): what the parser's
// later passes (suite_phase.c, suite_variant.c) and every reader of a Suite look up.
#include <string.h>

#include "suite.h"

// The entry named `name` among n entries of `size` bytes each whose first member is the name
// (ModelDef, DatasetDef, Variant, Phase's id, Param's key); NULL when none is.
static const void *find_named(const void *entries, size_t size, int n, const char *name) {
  for (int i = 0; i < n; i++) {
    const char *e = (const char *)entries + (size_t)i * size;
    if (strcmp(*(char *const *)e, name) == 0) return e;
  }
  return NULL;
}

const ModelDef *suite_model(const Suite *s, const char *name) {
  return find_named(s->models, sizeof *s->models, s->n_models, name);
}
const DatasetDef *suite_dataset(const Suite *s, const char *name) {
  return find_named(s->datasets, sizeof *s->datasets, s->n_datasets, name);
}
const Variant *suite_rope(const Suite *s, const char *name) {
  return find_named(s->rope, sizeof *s->rope, s->n_rope, name);
}
const Variant *suite_cache(const Suite *s, const char *name) {
  return find_named(s->cache, sizeof *s->cache, s->n_cache, name);
}
const Variant *suite_train(const Suite *s, const char *name) {
  return find_named(s->train, sizeof *s->train, s->n_train, name);
}
const Phase *suite_phase(const Suite *s, const char *id) {
  return find_named(s->phases, sizeof *s->phases, s->n_phases, id);
}
const Param *variant_param(const Variant *v, const char *key) {
  return find_named(v->params, sizeof *v->params, v->n_params, key);
}
