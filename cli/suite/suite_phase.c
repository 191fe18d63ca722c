// suite_phase.c — `defaults:` and `phases:`: settings (axes, protocol and its keys), inheritance
// from defaults, include/exclude entries and report requests, each checked against what the
// phase actually runs.
#include <stdlib.h>
#include <string.h>

#include "eval.h"
#include "kvcache.h"
#include "suite_internal.h"

#define SETTING_KEYS                                                                            \
  "model", "dataset", "rope", "cache", "train", "lengths", "seeds", "dtype", "device", "protocol", \
      "windows", "stride", "prompt", "warmup", "base_length"
static const char *const DEFAULT_KEYS[] = {SETTING_KEYS};
static const char *const PHASE_KEYS[] = {SETTING_KEYS, "id", "title", "include", "exclude", "report"};
static const char *const AXES[] = {"model", "dataset", "rope", "cache", "length",
                                   "seed",  "dtype",   "device", "train"};
// An include entry may also set the windows of the jobs it adds (seed 004: 3 samples at 5000 tokens).
static const char *const INCLUDE_KEYS[] = {"model", "dataset", "rope", "cache", "length",
                                           "seed",  "dtype",   "device", "train", "windows"};
static const char *const DTYPES[] = {"bf16", "fp16", "fp32"};
static const char *const PROTOCOLS[] = {"chunks", "random", "sliding", "half", "decode"};
static const char *const TABLES[] = {"collapse", "lengths", "seeds", "improvement", "leaderboard", "verdict",
                                     "kv_cost", "metrics"};
static const char *const PLOTS[] = {"ppl_vs_length", "collapse_vs_length", "nll_vs_position",
                                    "ppl_vs_param", "rope_spectrum", "loss_curve"};
static const char *const REPORT_KEYS[] = {"table", "plot", "at", "baseline", "param"};
#define COUNT(a) (int)(sizeof(a) / sizeof((a)[0]))

// ---- lists ----
static void namelist_free(NameList *l) {
  for (int i = 0; i < l->n; i++) free(l->items[i]);
  free(l->items);
  free(l->marks);
  memset(l, 0, sizeof *l);
}

static void namelist_copy(NameList *dst, const NameList *src) {
  dst->n = src->n;
  dst->items = xcalloc((size_t)src->n + 1, sizeof(char *));
  dst->marks = xcalloc((size_t)src->n + 1, sizeof(Mark));
  for (int i = 0; i < src->n; i++) {
    dst->items[i] = xstrdup(src->items[i]);
    dst->marks[i] = src->marks[i];
  }
}

static void longlist_copy(LongList *dst, const LongList *src) {
  dst->n = src->n;
  dst->items = xcalloc((size_t)src->n + 1, sizeof(long));
  dst->marks = xcalloc((size_t)src->n + 1, sizeof(Mark));
  if (src->n == 0) return;
  memcpy(dst->items, src->items, sizeof(long) * (size_t)src->n);
  memcpy(dst->marks, src->marks, sizeof(Mark) * (size_t)src->n);
}

static int namelist_has(const NameList *l, const char *s) {
  for (int i = 0; i < l->n; i++)
    if (strcmp(l->items[i], s) == 0) return 1;
  return 0;
}

static int longlist_has(const LongList *l, long v) {
  for (int i = 0; i < l->n; i++)
    if (l->items[i] == v) return 1;
  return 0;
}

// A single value or a non-empty list of values: sets *items (for a single value, n_ptr itself)
// and returns their count; 0 after an error.
static int list_items(Ctx *c, const char *key, const YNode *const *n_ptr, const YNode *const **items) {
  const YNode *n = *n_ptr;
  if (n->kind == YN_SEQ) {
    if (n->n == 0) ERR(c, n->mark, "'%s' must not be an empty list", key);
    *items = (const YNode *const *)n->kids;
    return n->n;
  }
  if (n->kind == YN_MAP || ytree_is_null(n)) {
    char got[128];
    describe_node(n, got, sizeof got);
    ERR(c, n->mark, "'%s' must be a value or a list of values, got %s", key, got);
    return 0;
  }
  *items = n_ptr;
  return 1;
}

static int parse_names(Ctx *c, const char *key, const YNode *n, NameList *out,
                       const char *const *choices, int n_choices) {
  const YNode *const *items;
  int count = list_items(c, key, &n, &items);
  if (count == 0) return -1;
  out->items = xcalloc((size_t)count, sizeof(char *));
  out->marks = xcalloc((size_t)count, sizeof(Mark));
  int bad = 0;
  for (int i = 0; i < count; i++) {
    const char *s;
    if (choices ? want_enum(c, key, items[i], choices, n_choices, &s) : want_string(c, key, items[i], &s)) {
      bad = 1;
      continue;
    }
    if (namelist_has(out, s)) {
      ERR(c, items[i]->mark, "'%.80s' appears twice in '%s'", s, key);
      bad = 1;
      continue;
    }
    out->items[out->n] = xstrdup(s);
    out->marks[out->n++] = items[i]->mark;
  }
  return bad ? -1 : 0;
}

static int parse_longs(Ctx *c, const char *key, const YNode *n, LongList *out, Range r) {
  const YNode *const *items;
  int count = list_items(c, key, &n, &items);
  if (count == 0) return -1;
  out->items = xcalloc((size_t)count, sizeof(long));
  out->marks = xcalloc((size_t)count, sizeof(Mark));
  int bad = 0;
  for (int i = 0; i < count; i++) {
    long v;
    if (want_int(c, key, items[i], &v) || check_range(c, key, items[i]->mark, (double)v, r)) {
      bad = 1;
      continue;
    }
    if (longlist_has(out, v)) {
      ERR(c, items[i]->mark, "%ld appears twice in '%s'", v, key);
      bad = 1;
      continue;
    }
    out->items[out->n] = v;
    out->marks[out->n++] = items[i]->mark;
  }
  return bad ? -1 : 0;
}

// auto | cpu | cuda | cuda:N
static int valid_device(const char *s) {
  if (!strcmp(s, "auto") || !strcmp(s, "cpu") || !strcmp(s, "cuda")) return 1;
  if (strncmp(s, "cuda:", 5) != 0 || !s[5] || strlen(s + 5) > 4) return 0;
  for (const char *p = s + 5; *p; p++)
    if (*p < '0' || *p > '9') return 0;
  return 1;
}

// Every name of a list refers to a definition of its kind.
static void check_defined(Ctx *c, const char *kind, const NameList *l, const char *const *known,
                          int n_known) {
  for (int i = 0; i < l->n; i++) {
    int ok = 0;
    for (int j = 0; j < n_known && !ok; j++) ok = strcmp(known[j], l->items[i]) == 0;
    if (!ok) unknown_name(c, l->marks[i], kind, l->items[i], known, n_known);
  }
}

typedef struct {
  const char **models, **datasets, **rope, **cache, **train;
} Known;

static Known known_names(const Suite *s) {
  Known k;
  k.models = xcalloc((size_t)s->n_models + 1, sizeof(char *));
  k.datasets = xcalloc((size_t)s->n_datasets + 1, sizeof(char *));
  k.rope = xcalloc((size_t)s->n_rope + 1, sizeof(char *));
  k.cache = xcalloc((size_t)s->n_cache + 1, sizeof(char *));
  k.train = xcalloc((size_t)s->n_train + 1, sizeof(char *));
  for (int i = 0; i < s->n_models; i++) k.models[i] = s->models[i].name;
  for (int i = 0; i < s->n_datasets; i++) k.datasets[i] = s->datasets[i].name;
  for (int i = 0; i < s->n_rope; i++) k.rope[i] = s->rope[i].name;
  for (int i = 0; i < s->n_cache; i++) k.cache[i] = s->cache[i].name;
  for (int i = 0; i < s->n_train; i++) k.train[i] = s->train[i].name;
  return k;
}

static void known_free(Known *k) {
  free(k->models);
  free(k->datasets);
  free(k->rope);
  free(k->cache);
  free(k->train);
}

// The engine's longest window (engine/eval/eval.h): a longer length fails every job at run time.
static void check_engine_length(Ctx *c, long length, Mark m) {
  if (length > EVAL_MAX_LENGTH)
    ERR(c, m, "length %ld is longer than the engine's longest window (%ld tokens)", length, EVAL_MAX_LENGTH);
}

// A cache policy that evicts runs under protocol decode only (engine/kv/kvcache.h).
static void check_cache_protocol(Ctx *c, const Phase *ph, const char *selector, Mark m) {
  const char *br = strchr(selector, '[');
  char *name = br ? xstrndup(selector, (size_t)(br - selector)) : xstrdup(selector);
  const Variant *v = suite_cache(c->s, name);
  const char *protocol = ph->settings.protocol;
  if (v && v->type && protocol && strcmp(protocol, "decode") != 0 && kv_type_needs_decode(v->type))
    ERR(c, m.line > 0 ? m : ph->mark,
        "cache policy '%s' (%s) needs protocol 'decode', but phase '%s' uses protocol '%s', which reads "
        "each window in one pass", name, v->type, ph->id, protocol);
  free(name);
}

// Parses the settings keys present in map (a defaults block or a phase) into st.
static void parse_settings(Ctx *c, const YNode *map, Settings *st) {
  Suite *s = c->s;
  Known k = known_names(s);
  for (int i = 0; i < map->n; i++) {
    const char *key = ytree_key(map, i)->str;
    const YNode *v = ytree_val(map, i);
    Mark m = v->mark;
    long l;
    const char *str;
    if (!strcmp(key, "model")) {
      if (!parse_names(c, key, v, &st->models, NULL, 0)) check_defined(c, "model", &st->models, k.models, s->n_models);
      st->set |= SET_MODEL;
    } else if (!strcmp(key, "dataset")) {
      if (!parse_names(c, key, v, &st->datasets, NULL, 0))
        check_defined(c, "dataset", &st->datasets, k.datasets, s->n_datasets);
      st->set |= SET_DATASET;
    } else if (!strcmp(key, "rope")) {
      if (!parse_names(c, key, v, &st->rope, NULL, 0)) check_defined(c, "rope variant", &st->rope, k.rope, s->n_rope);
      st->set |= SET_ROPE;
    } else if (!strcmp(key, "cache")) {
      if (!parse_names(c, key, v, &st->cache, NULL, 0)) check_defined(c, "cache policy", &st->cache, k.cache, s->n_cache);
      st->set |= SET_CACHE;
    } else if (!strcmp(key, "train")) {
      if (!parse_names(c, key, v, &st->train, NULL, 0)) check_defined(c, "train recipe", &st->train, k.train, s->n_train);
      st->set |= SET_TRAIN;
    } else if (!strcmp(key, "lengths")) {
      parse_longs(c, key, v, &st->lengths, R_GE(2));
      for (int j = 0; j < st->lengths.n; j++) check_engine_length(c, st->lengths.items[j], st->lengths.marks[j]);
      st->set |= SET_LENGTHS;
    } else if (!strcmp(key, "seeds")) {
      parse_longs(c, key, v, &st->seeds, R_GE(0));
      st->set |= SET_SEEDS;
    } else if (!strcmp(key, "dtype")) {
      parse_names(c, key, v, &st->dtypes, DTYPES, COUNT(DTYPES));
      st->set |= SET_DTYPE;
    } else if (!strcmp(key, "device")) {
      if (!parse_names(c, key, v, &st->devices, NULL, 0))
        for (int j = 0; j < st->devices.n; j++)
          if (!valid_device(st->devices.items[j]))
            ERR(c, st->devices.marks[j], "'device' must be auto, cpu, cuda or cuda:N, got '%.60s'",
                st->devices.items[j]);
      st->set |= SET_DEVICE;
    } else if (!strcmp(key, "protocol")) {
      if (!want_enum(c, key, v, PROTOCOLS, COUNT(PROTOCOLS), &str)) st->protocol = xstrdup(str);
      st->protocol_mark = m;
      st->set |= SET_PROTOCOL;
    } else if (!strcmp(key, "windows")) {
      if (!want_int(c, key, v, &l) && !check_range(c, key, m, (double)l, R_GE(1))) {
        st->windows = l;
        if (l > EVAL_MAX_WINDOWS)
          ERR(c, m, "'windows' %ld is more than the engine evaluates in one job (%ld)", l, EVAL_MAX_WINDOWS);
      }
      st->windows_mark = m;
      st->set |= SET_WINDOWS;
    } else if (!strcmp(key, "stride")) {
      if (!want_int(c, key, v, &l) && !check_range(c, key, m, (double)l, R_GE(1))) st->stride = l;
      st->stride_mark = m;
      st->set |= SET_STRIDE;
    } else if (!strcmp(key, "prompt")) {
      if (!want_int(c, key, v, &l) && !check_range(c, key, m, (double)l, R_GE(1))) st->prompt = l;
      st->prompt_mark = m;
      st->set |= SET_PROMPT;
    } else if (!strcmp(key, "warmup")) {
      if (!want_int(c, key, v, &l) && !check_range(c, key, m, (double)l, R_GE(0))) st->warmup = l;
      st->warmup_mark = m;
      st->set |= SET_WARMUP;
    } else if (!strcmp(key, "base_length")) {
      if (!want_int(c, key, v, &l) && !check_range(c, key, m, (double)l, R_GE(2))) st->base_length = l;
      st->base_length_mark = m;
      st->set |= SET_BASE_LENGTH;
    }
  }
  known_free(&k);
}

void settings_free(Settings *st) {
  namelist_free(&st->models);
  namelist_free(&st->datasets);
  namelist_free(&st->rope);
  namelist_free(&st->cache);
  namelist_free(&st->dtypes);
  namelist_free(&st->devices);
  namelist_free(&st->train);
  free(st->lengths.items);
  free(st->lengths.marks);
  free(st->seeds.items);
  free(st->seeds.marks);
  free(st->protocol);
  memset(st, 0, sizeof *st);
}

// Protocol keys: which protocol each applies to, and the settings field holding it.
typedef struct {
  const char *key, *protocol;
  unsigned bit;
} ProtocolKey;
static const ProtocolKey PROTOCOL_KEYS[] = {
    {"stride", "sliding", SET_STRIDE}, {"prompt", "decode", SET_PROMPT}, {"warmup", "decode", SET_WARMUP}};

static long *protocol_value(Settings *st, unsigned bit, Mark **mark) {
  if (bit == SET_STRIDE) return *mark = &st->stride_mark, &st->stride;
  if (bit == SET_PROMPT) return *mark = &st->prompt_mark, &st->prompt;
  return *mark = &st->warmup_mark, &st->warmup;
}

void parse_defaults(Ctx *c, const YNode *map) {
  if (want_map(c, "defaults", map)) return;
  check_keys(c, map, DEFAULT_KEYS, COUNT(DEFAULT_KEYS));
  Settings *d = &c->s->defaults;
  parse_settings(c, map, d);
  if (!(d->set & SET_PROTOCOL) || !d->protocol) return;  // keys are then checked per phase
  for (int i = 0; i < COUNT(PROTOCOL_KEYS); i++) {
    Mark *m;
    protocol_value(d, PROTOCOL_KEYS[i].bit, &m);
    if ((d->set & PROTOCOL_KEYS[i].bit) && strcmp(d->protocol, PROTOCOL_KEYS[i].protocol) != 0)
      ERR(c, *m, "'%s' applies to protocol %s only", PROTOCOL_KEYS[i].key, PROTOCOL_KEYS[i].protocol);
  }
}

// ---- inheritance ----
static void inherit(Settings *p, const Settings *d) {
  unsigned have = p->set;
  if (!(have & SET_MODEL)) namelist_copy(&p->models, &d->models);
  if (!(have & SET_DATASET)) namelist_copy(&p->datasets, &d->datasets);
  if (!(have & SET_ROPE)) namelist_copy(&p->rope, &d->rope);
  if (!(have & SET_CACHE)) namelist_copy(&p->cache, &d->cache);
  if (!(have & SET_TRAIN)) namelist_copy(&p->train, &d->train);
  if (!(have & SET_DTYPE)) namelist_copy(&p->dtypes, &d->dtypes);
  if (!(have & SET_DEVICE)) namelist_copy(&p->devices, &d->devices);
  if (!(have & SET_LENGTHS)) longlist_copy(&p->lengths, &d->lengths);
  if (!(have & SET_SEEDS)) longlist_copy(&p->seeds, &d->seeds);
  if (!(have & SET_PROTOCOL) && d->protocol) {
    p->protocol = xstrdup(d->protocol);
    p->protocol_mark = d->protocol_mark;
  }
  if (!(have & SET_WINDOWS)) p->windows = d->windows, p->windows_mark = d->windows_mark;
  if (!(have & SET_STRIDE)) p->stride = d->stride, p->stride_mark = d->stride_mark;
  if (!(have & SET_PROMPT)) p->prompt = d->prompt, p->prompt_mark = d->prompt_mark;
  if (!(have & SET_WARMUP)) p->warmup = d->warmup, p->warmup_mark = d->warmup_mark;
  if (!(have & SET_BASE_LENGTH)) p->base_length = d->base_length, p->base_length_mark = d->base_length_mark;
}

static void default_name(NameList *l, const char *name) {
  if (l->n) return;
  free(l->items);
  free(l->marks);
  l->items = xcalloc(1, sizeof(char *));
  l->marks = xcalloc(1, sizeof(Mark));
  l->items[0] = xstrdup(name);
  l->n = 1;
}

// Fills what nothing wrote, and checks that the phase has every axis and coherent protocol keys.
static void resolve(Ctx *c, Phase *ph) {
  Settings *st = &ph->settings;
  const Settings *d = &c->s->defaults;
  unsigned own = st->set;
  inherit(st, d);
  if (st->train.n > 0 && st->models.n > 0) {
    if (own & SET_MODEL)
      ERR(c, st->models.marks[0], "phase '%s' trains its models ('train'): drop 'model'", ph->id);
    namelist_free(&st->models);  // inherited from defaults: a training phase evaluates what it trains
  }
  // Missing axes; a key written but unreadable was reported already.
  struct { int n; unsigned bits; const char *key; } need[] = {
      {st->models.n + st->train.n, SET_MODEL | SET_TRAIN, "model"},
      {st->datasets.n, SET_DATASET, "dataset"}, {st->rope.n, SET_ROPE, "rope"},
      {st->cache.n, SET_CACHE, "cache"}, {st->lengths.n, SET_LENGTHS, "lengths"},
      {st->seeds.n, SET_SEEDS, "seeds"}};
  for (int i = 0; i < COUNT(need); i++)
    if (need[i].n == 0 && !((own | d->set) & need[i].bits))
      ERR(c, ph->mark, "phase '%s' has no '%s' (set it in the phase or in defaults)", ph->id, need[i].key);
  default_name(&st->dtypes, "fp32");
  default_name(&st->devices, "auto");
  if (!st->protocol) st->protocol = xstrdup("chunks");
  if (st->windows == 0) st->windows = 1;

  for (int i = 0; i < COUNT(PROTOCOL_KEYS); i++) {
    const ProtocolKey *pk = &PROTOCOL_KEYS[i];
    Mark *m;
    long *val = protocol_value(st, pk->bit, &m);
    int written_here = (own & pk->bit) != 0, inherited = !written_here && (d->set & pk->bit);
    if ((!written_here && !inherited) || strcmp(st->protocol, pk->protocol) == 0) continue;
    if (written_here) {
      ERR(c, *m, "'%s' applies to protocol %s only", pk->key, pk->protocol);
    } else if (own & SET_PROTOCOL) {
      *val = 0;  // the phase chose another protocol: the defaults' key does not apply to it
      *m = (Mark){0, 0};
    } else if (!(d->set & SET_PROTOCOL)) {
      ERR(c, *m, "'%s' applies to protocol %s only", pk->key, pk->protocol);
    }
  }
  if (strcmp(st->protocol, "decode") == 0) {
    if (st->prompt == 0)
      ERR(c, ph->mark, "phase '%s' uses protocol decode and needs 'prompt' (tokens to prefill)", ph->id);
    else
      for (int i = 0; i < st->lengths.n; i++)
        if (st->lengths.items[i] <= st->prompt)
          ERR(c, st->lengths.marks[i],
              "length %ld must be greater than 'prompt' (%ld): with protocol decode a length is "
              "prompt + generated tokens",
              st->lengths.items[i], st->prompt);
  }
  if (strcmp(st->protocol, "sliding") == 0 && st->stride > 0)
    for (int i = 0; i < st->lengths.n; i++)
      if (st->stride > st->lengths.items[i])
        ERR(c, st->stride_mark, "'stride' (%ld) must not exceed length %ld", st->stride,
            st->lengths.items[i]);
  if (st->base_length == 0 && st->lengths.n > 0) {
    st->base_length = st->lengths.items[0];
    for (int i = 1; i < st->lengths.n; i++)
      if (st->lengths.items[i] < st->base_length) st->base_length = st->lengths.items[i];
    st->base_length_mark = (Mark){0, 0};
  }
}

// ---- include / exclude ----
static void assignment_free(Assignment *a) {
  for (int i = 0; i < a->n; i++) {
    free(a->axes[i]);
    free(a->values[i]);
  }
  free(a->axes);
  free(a->values);
  free(a->marks);
}

static void parse_assignments(Ctx *c, const char *key, const YNode *n, Assignment **out, int *n_out) {
  if (want_seq(c, key, n)) return;
  if (n->n == 0) {
    ERR(c, n->mark, "'%s' must not be an empty list", key);
    return;
  }
  *out = xcalloc((size_t)n->n, sizeof(Assignment));
  for (int i = 0; i < n->n; i++) {
    const YNode *e = n->kids[i];
    if (want_map(c, key, e)) continue;
    if (e->n == 0) {
      ERR(c, e->mark, "an '%s' entry must name at least one of model, dataset, rope, cache, length, "
                      "seed, dtype, device, train", key);
      continue;
    }
    int is_include = !strcmp(key, "include");
    if (is_include) check_keys(c, e, INCLUDE_KEYS, COUNT(INCLUDE_KEYS));
    else check_keys(c, e, AXES, COUNT(AXES));
    Assignment *a = &(*out)[(*n_out)++];
    a->mark = e->mark;
    a->axes = xcalloc((size_t)e->n, sizeof(char *));
    a->values = xcalloc((size_t)e->n, sizeof(char *));
    a->marks = xcalloc((size_t)e->n, sizeof(Mark));
    for (int j = 0; j < e->n; j++) {
      const char *axis = ytree_key(e, j)->str;
      const YNode *v = ytree_val(e, j);
      int known = 0;
      for (int k = 0; k < COUNT(AXES) && !known; k++) known = strcmp(AXES[k], axis) == 0;
      if (!known && !(is_include && !strcmp(axis, "windows"))) continue;
      const char *str;
      long l;
      char num[32];
      if (!strcmp(axis, "length") || !strcmp(axis, "seed") || !strcmp(axis, "windows")) {
        if (want_int(c, axis, v, &l)) continue;
        if (!strcmp(axis, "windows") && check_range(c, axis, v->mark, (double)l, R_GE(1))) continue;
        snprintf(num, sizeof num, "%ld", l);
        str = num;
      } else if (want_string(c, axis, v, &str)) {
        continue;
      }
      a->axes[a->n] = xstrdup(axis);
      a->values[a->n] = xstrdup(str);
      a->marks[a->n++] = v->mark;
    }
  }
}

// A variant axis value (rope, cache, train): a selector over the suite's definitions; for exclude,
// its variant must also be one the phase runs.
static void check_variant_value(Ctx *c, const Phase *ph, const char *what, const Variant *defs,
                                int n, const NameList *phase_list, const char *value, Mark m,
                                int is_exclude) {
  const Variant *v;
  if (check_selector(c, what, defs, n, value, m, &v) == 0) return;
  if (is_exclude && !namelist_has(phase_list, v->name))
    ERR(c, m, "exclude entry matches nothing: phase '%s' does not run %s '%s'", ph->id, what, v->name);
}

static void check_assignment(Ctx *c, const Phase *ph, const Assignment *a, int is_exclude) {
  const Suite *s = c->s;
  const Settings *st = &ph->settings;
  for (int i = 0; i < a->n; i++) {
    const char *axis = a->axes[i], *val = a->values[i];
    Mark m = a->marks[i];
    if (!strcmp(axis, "rope")) {
      check_variant_value(c, ph, "rope variant", s->rope, s->n_rope, &st->rope, val, m, is_exclude);
    } else if (!strcmp(axis, "cache")) {
      check_variant_value(c, ph, "cache policy", s->cache, s->n_cache, &st->cache, val, m, is_exclude);
      if (!is_exclude) check_cache_protocol(c, ph, val, m);
    } else if (!strcmp(axis, "train")) {
      check_variant_value(c, ph, "train recipe", s->train, s->n_train, &st->train, val, m, is_exclude);
    } else if (!strcmp(axis, "model") || !strcmp(axis, "dataset")) {
      int is_model = axis[0] == 'm';
      const NameList *l = is_model ? &st->models : &st->datasets;
      int defined = is_model ? suite_model(s, val) != NULL : suite_dataset(s, val) != NULL;
      if (!defined) {
        Known k = known_names(s);
        unknown_name(c, m, axis, val, is_model ? k.models : k.datasets,
                     is_model ? s->n_models : s->n_datasets);
        known_free(&k);
      } else if (is_exclude && !namelist_has(l, val)) {
        ERR(c, m, "exclude entry matches nothing: phase '%s' does not run %s '%s'", ph->id, axis, val);
      }
    } else if (!strcmp(axis, "length") || !strcmp(axis, "seed")) {
      long v = strtol(val, NULL, 10);
      const LongList *l = axis[0] == 'l' ? &st->lengths : &st->seeds;
      if (axis[0] == 'l' && v < 2)
        ERR(c, m, "'length' must be >= 2, got %ld", v);
      else if (axis[0] == 'l' && v > EVAL_MAX_LENGTH)
        check_engine_length(c, v, m);
      else if (is_exclude && !longlist_has(l, v))
        ERR(c, m, "exclude entry matches nothing: phase '%s' does not run %s %ld", ph->id, axis, v);
    } else if (!strcmp(axis, "dtype") || !strcmp(axis, "device")) {
      int is_dtype = axis[1] == 't';
      int valid = is_dtype ? (!strcmp(val, "bf16") || !strcmp(val, "fp16") || !strcmp(val, "fp32"))
                           : valid_device(val);
      if (!valid)
        ERR(c, m, "'%s' must be %s, got '%.60s'", axis,
            is_dtype ? "one of bf16, fp16 or fp32" : "auto, cpu, cuda or cuda:N", val);
      else if (is_exclude && !namelist_has(is_dtype ? &st->dtypes : &st->devices, val))
        ERR(c, m, "exclude entry matches nothing: phase '%s' does not run %s '%s'", ph->id, axis, val);
    }
  }
}

// ---- report requests ----
static void parse_reports(Ctx *c, Phase *ph, const YNode *n) {
  if (want_seq(c, "report", n)) return;
  ph->reports = xcalloc((size_t)n->n + 1, sizeof(ReportRequest));
  for (int i = 0; i < n->n; i++) {
    const YNode *e = n->kids[i];
    if (want_map(c, "report", e)) continue;
    check_keys(c, e, REPORT_KEYS, COUNT(REPORT_KEYS));
    const YNode *table = ytree_get(e, "table"), *plot = ytree_get(e, "plot");
    const YNode *at = ytree_get(e, "at"), *baseline = ytree_get(e, "baseline"), *param = ytree_get(e, "param");
    if (!table == !plot) {
      ERR(c, e->mark, table ? "a report request names a 'table' or a 'plot', not both"
                            : "a report request needs 'table' or 'plot'");
      continue;
    }
    const char *name;
    if (table ? want_enum(c, "table", table, TABLES, COUNT(TABLES), &name)
              : want_enum(c, "plot", plot, PLOTS, COUNT(PLOTS), &name))
      continue;
    ReportRequest *r = &ph->reports[ph->n_reports++];
    r->kind = xstrdup(table ? "table" : "plot");
    r->name = xstrdup(name);
    r->mark = e->mark;
    int wants_at = table && (!strcmp(name, "collapse") || !strcmp(name, "leaderboard") || !strcmp(name, "verdict"));
    int wants_base = table && (!strcmp(name, "improvement") || !strcmp(name, "verdict"));
    int wants_param = plot && !strcmp(name, "ppl_vs_param");
    const char *what = table ? "table" : "plot";
    if (at && !wants_at)
      ERR(c, at->mark, "'at' applies to tables collapse, leaderboard and verdict only");
    else if (at && !want_int(c, "at", at, &r->at) && check_range(c, "at", at->mark, (double)r->at, R_GE(2)))
      r->at = 0;
    else if (!at && wants_at)
      ERR(c, e->mark, "%s %s needs 'at' (the length it reports)", what, name);
    const char *str;
    if (baseline && !wants_base)
      ERR(c, baseline->mark, "'baseline' applies to tables improvement and verdict only");
    else if (baseline && !want_string(c, "baseline", baseline, &str))
      r->baseline = xstrdup(str);
    else if (!baseline && wants_base)
      ERR(c, e->mark, "%s %s needs 'baseline' (the variant to compare with)", what, name);
    if (param && !wants_param)
      ERR(c, param->mark, "'param' applies to plot ppl_vs_param only");
    else if (param && !want_string(c, "param", param, &str))
      r->param = xstrdup(str);
    else if (!param && wants_param)
      ERR(c, e->mark, "%s %s needs 'param' (the swept parameter)", what, name);
  }
}

static void lengths_text(const LongList *l, char *buf, size_t cap) {
  size_t len = 0;
  buf[0] = 0;
  for (int i = 0; i < l->n && len + 24 < cap; i++)
    len += (size_t)snprintf(buf + len, cap - len, "%s%ld", i ? ", " : "", l->items[i]);
}

// Whether a name written as a report baseline selects exactly one config of the phase.
static int baseline_ok(Ctx *c, const Phase *ph, const ReportRequest *r) {
  const Settings *st = &ph->settings;
  const char *b = r->baseline;
  if (namelist_has(&st->cache, b) || namelist_has(&st->models, b) || namelist_has(&st->train, b))
    return 1;
  Diagnostics scratch = {0};  // selector errors are not the user's concern here: one message below
  Ctx quiet = {c->s, &scratch, c->file};
  const Variant *v;
  long k = check_selector(&quiet, "rope variant", c->s->rope, c->s->n_rope, b, r->mark, &v);
  diagnostics_free(&scratch);
  return k == 1 && namelist_has(&st->rope, v->name);
}

static int phase_sweeps(const Suite *s, const Phase *ph, const char *param) {
  const Settings *st = &ph->settings;
  const NameList *lists[3] = {&st->rope, &st->cache, &st->train};
  for (int l = 0; l < 3; l++)
    for (int i = 0; i < lists[l]->n; i++) {
      const Variant *v = l == 0 ? suite_rope(s, lists[l]->items[i])
                         : l == 1 ? suite_cache(s, lists[l]->items[i])
                                  : suite_train(s, lists[l]->items[i]);
      const Param *p = v ? variant_param(v, param) : NULL;
      if (p && p->n_values > 1) return 1;
    }
  return 0;
}

static void check_reports(Ctx *c, const Phase *ph) {
  const Settings *st = &ph->settings;
  char lens[256];
  lengths_text(&st->lengths, lens, sizeof lens);
  for (int i = 0; i < ph->n_reports; i++) {
    const ReportRequest *r = &ph->reports[i];
    if (r->at > 0 && st->lengths.n > 0 && !longlist_has(&st->lengths, r->at))
      ERR(c, r->mark, "%s %s at %ld: phase '%s' never runs length %ld (lengths: %s)", r->kind, r->name,
          r->at, ph->id, r->at, lens);
    int needs_base = !strcmp(r->name, "collapse") || !strcmp(r->name, "collapse_vs_length");
    if (needs_base && st->lengths.n > 0 && !longlist_has(&st->lengths, st->base_length))
      ERR(c, r->mark, "%s %s divides by PPL at base_length %ld, which phase '%s' never runs (lengths: %s)",
          r->kind, r->name, st->base_length, ph->id, lens);
    if (r->baseline && !baseline_ok(c, ph, r))
      ERR(c, r->mark, "baseline '%.80s' is not among the variants of phase '%s'", r->baseline, ph->id);
    if (r->param && !phase_sweeps(c->s, ph, r->param))
      ERR(c, r->mark, "plot ppl_vs_param: no variant of phase '%s' sweeps '%.60s'", ph->id, r->param);
    if (!strcmp(r->name, "loss_curve") && st->train.n == 0)
      ERR(c, r->mark, "plot loss_curve needs a phase that trains ('train')");
    if ((!strcmp(r->name, "seeds") || !strcmp(r->name, "verdict")) && st->seeds.n == 1)
      WARN(c, r->mark, "table %s: phase '%s' runs one seed; mean, std and paired seeds need several",
           r->name, ph->id);
  }
}

// ---- phases ----
static long members_of(const NameList *l, const Variant *defs, int n) {
  long total = 0;
  for (int i = 0; i < l->n; i++)
    for (int j = 0; j < n; j++)
      if (strcmp(defs[j].name, l->items[i]) == 0) total += defs[j].n_members;
  return total;
}

void phase_free(Phase *p) {
  free(p->id);
  free(p->title);
  settings_free(&p->settings);
  for (int i = 0; i < p->n_include; i++) assignment_free(&p->include[i]);
  for (int i = 0; i < p->n_exclude; i++) assignment_free(&p->exclude[i]);
  free(p->include);
  free(p->exclude);
  for (int i = 0; i < p->n_reports; i++) {
    free(p->reports[i].kind);
    free(p->reports[i].name);
    free(p->reports[i].baseline);
    free(p->reports[i].param);
  }
  free(p->reports);
}

static void parse_phase(Ctx *c, const YNode *item, Phase *ph) {
  Suite *s = c->s;
  ph->mark = item->mark;
  check_keys(c, item, PHASE_KEYS, COUNT(PHASE_KEYS));
  const YNode *id = ytree_get(item, "id"), *title = ytree_get(item, "title");
  const char *str;
  if (!id)
    ERR(c, item->mark, "a phase needs an 'id'");
  else if (!want_name(c, "phase id", id, &str))
    ph->id = xstrdup(str), ph->id_mark = id->mark;
  if (!ph->id) ph->id = xasprintf("#%d", (int)(ph - s->phases) + 1);
  if (title && !want_string(c, "title", title, &str)) ph->title = xstrdup(str);
  parse_settings(c, item, &ph->settings);
  resolve(c, ph);
  const YNode *inc = ytree_get(item, "include"), *exc = ytree_get(item, "exclude");
  if (inc) parse_assignments(c, "include", inc, &ph->include, &ph->n_include);
  if (exc) parse_assignments(c, "exclude", exc, &ph->exclude, &ph->n_exclude);
  for (int i = 0; i < ph->settings.cache.n; i++)
    check_cache_protocol(c, ph, ph->settings.cache.items[i], ph->settings.cache.marks ? ph->settings.cache.marks[i] : ph->mark);
  for (int i = 0; i < ph->n_include; i++) check_assignment(c, ph, &ph->include[i], 0);
  for (int i = 0; i < ph->n_exclude; i++) check_assignment(c, ph, &ph->exclude[i], 1);
  const YNode *rep = ytree_get(item, "report");
  if (rep) parse_reports(c, ph, rep);
  check_reports(c, ph);

  const Settings *st = &ph->settings;
  double jobs = (double)(st->models.n ? st->models.n : 1) * st->datasets.n *
                (double)members_of(&st->rope, s->rope, s->n_rope) *
                (double)members_of(&st->cache, s->cache, s->n_cache) * st->lengths.n * st->seeds.n *
                st->dtypes.n * st->devices.n *
                (double)(st->train.n ? members_of(&st->train, s->train, s->n_train) : 1);
  if (jobs > SUITE_MAX_PHASE_JOBS)
    ERR(c, ph->mark, "phase '%s' expands into %.0f jobs (more than %.0f)", ph->id, jobs,
        SUITE_MAX_PHASE_JOBS);
}

static int cmp_phase_ids(const void *pa, const void *pb) {
  const Phase *a = *(const Phase *const *)pa, *b = *(const Phase *const *)pb;
  int c = strcmp(a->id, b->id);
  return c ? c : (a < b ? -1 : a > b);
}

void parse_phases(Ctx *c, const YNode *seq) {
  Suite *s = c->s;
  if (want_seq(c, "phases", seq)) return;
  if (seq->n == 0) {
    ERR(c, seq->mark, "'phases' must not be an empty list");
    return;
  }
  s->phases = xcalloc((size_t)seq->n, sizeof(Phase));
  for (int i = 0; i < seq->n; i++) {
    const YNode *item = seq->kids[i];
    if (want_map(c, "phase", item)) continue;
    parse_phase(c, item, &s->phases[s->n_phases++]);
  }
  // Duplicate ids, in O(n log n): each repeat names the first phase with that id.
  const Phase **order = xmalloc(sizeof(Phase *) * ((size_t)s->n_phases + 1));
  for (int i = 0; i < s->n_phases; i++) order[i] = &s->phases[i];
  qsort(order, (size_t)s->n_phases, sizeof(Phase *), cmp_phase_ids);
  for (int i = 1; i < s->n_phases; i++) {
    int first = i - 1;
    while (i < s->n_phases && strcmp(order[i]->id, order[first]->id) == 0) {
      ERR(c, order[i]->id_mark, "duplicate phase id '%s' (first at %d:%d)", order[i]->id,
          order[first]->id_mark.line, order[first]->id_mark.col);
      i++;
    }
  }
  free(order);
}
