// suite_models.c — the suite checked against the checkpoints it names, where they are on this
// machine: a rope_scaling the engine cannot build fails every job that runs the model with a
// `model` variant, so it is an error at the model's entry (file:line:col). A model whose directory
// is absent, or holds no readable config.json, is left to the path warning and to `bench plan`'s
// notes (as is a missing tokenizer.json): a suite can be checked away from its models.
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "suite_internal.h"

// Whether a selector (`name` or `name[key=value]`) names a rope variant of type `model`.
static int reads_checkpoint_rope(const Suite *s, const char *selector) {
  const char *br = strchr(selector, '[');
  size_t n = br ? (size_t)(br - selector) : strlen(selector);
  for (int i = 0; i < s->n_rope; i++)
    if (strlen(s->rope[i].name) == n && strncmp(s->rope[i].name, selector, n) == 0)
      return s->rope[i].type && strcmp(s->rope[i].type, "model") == 0;
  return 0;
}

// Whether a phase runs model md with its own RoPE.
static int runs_checkpoint_rope(const Suite *s, const ModelDef *md) {
  for (int p = 0; p < s->n_phases; p++) {
    const Settings *st = &s->phases[p].settings;
    int runs = 0, own = 0;
    for (int i = 0; i < st->models.n; i++) runs |= strcmp(st->models.items[i], md->name) == 0;
    for (int i = 0; runs && i < st->rope.n; i++) own |= reads_checkpoint_rope(s, st->rope.items[i]);
    if (own) return 1;
  }
  return 0;
}

void check_checkpoints(Ctx *c) {
  for (int i = 0; i < c->s->n_models; i++) {
    const ModelDef *md = &c->s->models[i];
    ModelConfig cfg;
    BenchErr err;
    if (!md->exists || !runs_checkpoint_rope(c->s, md) || model_config_load(md->path, &cfg, &err) != 0) continue;
    if (model_check_rope(&cfg, &err) != 0) {
      char *config = path_join(md->path, "config.json");
      ERR(c, md->mark, "model '%s' (%s): %s", md->name, config, err.msg);
      free(config);
    }
    model_config_free(&cfg);
  }
}
