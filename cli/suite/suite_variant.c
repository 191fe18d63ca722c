// suite_variant.c — rope variants, cache policies and train recipes: the parameter schema of
// every type, value parsing (a list where one value is expected is a sweep), member selectors
// `name[key=value,...]`, and references between rope variants (mix.of, compress.base) with their
// cycles.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "suite_internal.h"

typedef enum {
  PT_NUM,        // number
  PT_INT,        // integer
  PT_BOOL,       // true / false
  PT_ENUM,       // one of `choices`
  PT_NUMLIST,    // list of numbers (range applies to each)
  PT_PAIR,       // two rope variant selectors (mix.of)
  PT_REF,        // one rope variant selector (compress.base)
  PT_PATH,       // a file, resolved against the suite's directory
  PT_DATASET,    // a dataset name
  PT_TOKENIZER,  // a model name or a path to tokenizer.json
} PType;

typedef struct {
  const char *key;
  PType type;
  char need;            // 'r' required, 'o' optional, 'd' defaulted to dflt
  Range range;
  const char *choices;  // PT_ENUM, '|'-separated
  const char *dflt;
} ParamSpec;

#define MAX_PARAMS 24
typedef struct {
  const char *type;
  ParamSpec params[MAX_PARAMS];  // ends at key == NULL
} TypeSpec;

#define NONE {0, 0, 0, 0}
#define GT(x) {'>', (x), 0, 0}
#define GE(x) {'g', (x), 0, 0}
#define IN01 {'g', 0, 'l', 1}
#define UNIT_OPEN {'g', 0, '<', 1}
#define THETA_OPT {"theta", PT_NUM, 'o', GT(0), NULL, NULL}
#define OMPE(need) {"original_max_position_embeddings", PT_INT, need, GE(1), NULL, NULL}

static const TypeSpec ROPE_TYPES[] = {
    {"model", {THETA_OPT}},
    {"geometric", {{"theta", PT_NUM, 'r', GT(0), NULL, NULL}}},
    {"linear", {THETA_OPT, {"factor", PT_NUM, 'r', GE(1), NULL, NULL}}},
    {"dynamic", {THETA_OPT, {"factor", PT_NUM, 'r', GE(1), NULL, NULL}, OMPE('o')}},
    {"ntk", {THETA_OPT, {"factor", PT_NUM, 'r', GE(1), NULL, NULL}}},
    {"yarn",
     {THETA_OPT,
      {"factor", PT_NUM, 'r', GE(1), NULL, NULL},
      {"beta_fast", PT_NUM, 'd', GT(0), NULL, "32"},
      {"beta_slow", PT_NUM, 'd', GT(0), NULL, "1"},
      {"attention_factor", PT_NUM, 'o', GT(0), NULL, NULL},
      {"mscale", PT_NUM, 'o', GT(0), NULL, NULL},
      {"mscale_all_dim", PT_NUM, 'o', GE(0), NULL, NULL},
      OMPE('o'),
      {"truncate", PT_BOOL, 'o', NONE, NULL, NULL}}},
    {"llama3",
     {THETA_OPT,
      {"factor", PT_NUM, 'r', GE(1), NULL, NULL},
      {"low_freq_factor", PT_NUM, 'r', GT(0), NULL, NULL},
      {"high_freq_factor", PT_NUM, 'r', GT(0), NULL, NULL},
      OMPE('r')}},
    {"longrope",
     {THETA_OPT,
      {"short_factor", PT_NUMLIST, 'r', GT(0), NULL, NULL},
      {"long_factor", PT_NUMLIST, 'r', GT(0), NULL, NULL},
      OMPE('o'),
      {"attention_factor", PT_NUM, 'o', GT(0), NULL, NULL}}},
    {"anchored_sigmoid",
     {THETA_OPT,
      {"anchor_factor", PT_NUM, 'r', GE(1), NULL, NULL},
      {"anchor_dim", PT_NUM, 'r', GE(0), NULL, NULL},
      {"slope", PT_NUM, 'r', GT(0), NULL, NULL}}},
    {"anchored_poly",
     {THETA_OPT, {"p", PT_NUM, 'r', GT(0), NULL, NULL}, {"omf", PT_NUM, 'r', IN01, NULL, NULL}}},
    {"sigmoid",
     {THETA_OPT,
      {"steep", PT_NUM, 'r', GT(0), NULL, NULL},
      {"mid", PT_NUM, 'r', IN01, NULL, NULL},
      {"omf", PT_NUM, 'r', IN01, NULL, NULL}}},
    {"hybrid",
     {THETA_OPT,
      {"alpha", PT_NUM, 'r', IN01, NULL, NULL},
      {"p", PT_NUM, 'r', GT(0), NULL, NULL},
      {"omf", PT_NUM, 'r', IN01, NULL, NULL}}},
    {"mix",
     {THETA_OPT,
      {"of", PT_PAIR, 'r', NONE, NULL, NULL},
      {"weight", PT_NUM, 'r', IN01, NULL, NULL},
      {"space", PT_ENUM, 'd', NONE, "linear|log", "linear"}}},
    {"file", {THETA_OPT, {"path", PT_PATH, 'r', NONE, NULL, NULL}}},
    {"compress",
     {THETA_OPT,
      {"base", PT_REF, 'r', NONE, NULL, NULL},
      {"threshold", PT_NUM, 'r', GE(1), NULL, NULL},
      {"factor", PT_NUM, 'r', GE(1), NULL, NULL}}},
};

// Where keys sit for RoPE (engine/kv/kvcache.h): `cache` re-indexes them inside the cache
// (StreamingLLM's pos-shift), `original` keeps each token's own position. Streaming defaults to
// cache; for window and h2o it is optional with no default, so a spec that does not write it (and
// its job id) stays as it was — the engine then keeps original positions.
#define POSITIONS(need, dflt) {"positions", PT_ENUM, need, NONE, "cache|original", dflt}

static const TypeSpec CACHE_TYPES[] = {
    {"full", {{NULL, 0, 0, NONE, NULL, NULL}}},
    {"window", {{"recent", PT_INT, 'r', GE(1), NULL, NULL}, POSITIONS('o', NULL)}},
    {"streaming",
     {{"sink", PT_INT, 'r', GE(0), NULL, NULL},
      {"recent", PT_INT, 'r', GE(1), NULL, NULL},
      POSITIONS('d', "cache")}},
    {"h2o",
     {{"heavy", PT_INT, 'r', GE(0), NULL, NULL},
      {"recent", PT_INT, 'r', GE(1), NULL, NULL},
      POSITIONS('o', NULL)}},
};

static const TypeSpec TRAIN_TYPES[] = {
    {"train",
     {{"arch", PT_ENUM, 'r', NONE, "llama|qwen2|mistral|gpt_neox", NULL},
      {"layers", PT_INT, 'r', GE(1), NULL, NULL},
      {"hidden", PT_INT, 'r', GE(1), NULL, NULL},
      {"heads", PT_INT, 'r', GE(1), NULL, NULL},
      {"kv_heads", PT_INT, 'o', GE(1), NULL, NULL},
      {"intermediate", PT_INT, 'r', GE(1), NULL, NULL},
      {"vocab_size", PT_INT, 'o', GE(1), NULL, NULL},
      {"tie_embeddings", PT_BOOL, 'o', NONE, NULL, NULL},
      {"tokenizer", PT_TOKENIZER, 'r', NONE, NULL, NULL},
      {"data", PT_DATASET, 'r', NONE, NULL, NULL},
      {"tokens", PT_INT, 'r', GE(1), NULL, NULL},
      {"seq_len", PT_INT, 'r', GE(2), NULL, NULL},
      {"batch", PT_INT, 'r', GE(1), NULL, NULL},
      {"lr", PT_NUM, 'r', GT(0), NULL, NULL},
      {"min_lr", PT_NUM, 'o', GE(0), NULL, NULL},
      {"warmup", PT_INT, 'r', GE(0), NULL, NULL},
      {"schedule", PT_ENUM, 'r', NONE, "cosine|linear|constant", NULL},
      {"beta1", PT_NUM, 'r', UNIT_OPEN, NULL, NULL},
      {"beta2", PT_NUM, 'r', UNIT_OPEN, NULL, NULL},
      {"weight_decay", PT_NUM, 'r', GE(0), NULL, NULL},
      {"grad_clip", PT_NUM, 'r', GE(0), NULL, NULL},
      {"dtype", PT_ENUM, 'r', NONE, "bf16|fp16|fp32", NULL},
      {"eval_every", PT_INT, 'o', GE(1), NULL, NULL},
      {"save_every", PT_INT, 'o', GE(1), NULL, NULL}}},
};

#define N_ROPE_TYPES (int)(sizeof ROPE_TYPES / sizeof ROPE_TYPES[0])
#define N_CACHE_TYPES (int)(sizeof CACHE_TYPES / sizeof CACHE_TYPES[0])

static const char *section_what(Section sec) {
  return sec == SEC_ROPE ? "rope variant" : sec == SEC_CACHE ? "cache policy" : "train recipe";
}

static int n_specs(const TypeSpec *t) {
  int n = 0;
  while (n < MAX_PARAMS && t->params[n].key) n++;
  return n;
}

// ---- freeing ----
static void value_free(ParamValue *v) {
  free(v->str);
  free(v->nums);
  for (int i = 0; i < v->n; i++)
    if (v->strs) free(v->strs[i]);
  free(v->strs);
  free(v->text);
}

void variant_free(Variant *v) {
  for (int i = 0; i < v->n_params; i++) {
    for (int j = 0; j < v->params[i].n_values; j++) value_free(&v->params[i].values[j]);
    free(v->params[i].values);
    free(v->params[i].key);
  }
  free(v->params);
  free(v->name);
  free(v->type);
}

// ---- one value ----
// A choice list "a|b|c" split into a static array (at most 8 choices).
static int split_choices(const char *choices, char buf[8][24], const char *ptrs[8]) {
  int n = 0;
  const char *p = choices;
  while (*p && n < 8) {
    const char *bar = strchr(p, '|');
    size_t len = bar ? (size_t)(bar - p) : strlen(p);
    if (len > 23) len = 23;
    memcpy(buf[n], p, len);
    buf[n][len] = 0;
    ptrs[n] = buf[n];
    n++;
    p = bar ? bar + 1 : p + strlen(p);
  }
  return n;
}

static int parse_scalar(Ctx *c, const ParamSpec *sp, const YNode *n, ParamValue *out) {
  memset(out, 0, sizeof *out);
  switch (sp->type) {
    case PT_NUM:
    case PT_INT: {
      double v;
      if (sp->type == PT_INT) {
        long l;
        if (want_int(c, sp->key, n, &l)) return -1;
        v = (double)l;
      } else if (want_number(c, sp->key, n, &v)) {
        return -1;
      }
      if (check_range(c, sp->key, n->mark, v, sp->range)) return -1;
      out->kind = PV_NUM;
      out->num = v;
      out->text = xstrdup(n->str);
      return 0;
    }
    case PT_BOOL: {
      int b;
      if (want_bool(c, sp->key, n, &b)) return -1;
      out->kind = PV_BOOL;
      out->num = b;
      out->text = xstrdup(b ? "true" : "false");
      return 0;
    }
    case PT_ENUM: {
      char buf[8][24];
      const char *choices[8];
      int nc = split_choices(sp->choices, buf, choices);
      const char *got;
      if (want_enum(c, sp->key, n, choices, nc, &got)) return -1;
      out->kind = PV_STR;
      out->str = xstrdup(got);
      out->text = xstrdup(got);
      return 0;
    }
    case PT_REF:
    case PT_PATH:
    case PT_DATASET:
    case PT_TOKENIZER: {
      const char *s;
      if (want_string(c, sp->key, n, &s)) return -1;
      if (!s[0]) {
        ERR(c, n->mark, "'%s' must not be empty", sp->key);
        return -1;
      }
      out->kind = PV_STR;
      out->str = sp->type == PT_PATH ? suite_path(c, s) : xstrdup(s);
      out->text = xstrdup(s);
      if (sp->type == PT_PATH && !file_exists(out->str))
        WARN(c, n->mark, "rope file '%s' does not exist", out->str);
      return 0;
    }
    default:
      return -1;
  }
}

// A list-typed value: numbers (PT_NUMLIST) or two selectors (PT_PAIR). n is a sequence of scalars.
static int parse_list(Ctx *c, const ParamSpec *sp, const YNode *n, ParamValue *out) {
  memset(out, 0, sizeof *out);
  if (n->n == 0) {
    ERR(c, n->mark, "'%s' must not be an empty list", sp->key);
    return -1;
  }
  StrBuf text = {0};
  sb_append(&text, "[");
  int bad = 0;
  if (sp->type == PT_PAIR) {
    if (n->n != 2) {
      ERR(c, n->mark, "'%s' must name exactly two variants, got %d", sp->key, n->n);
      sb_free(&text);
      return -1;
    }
    out->kind = PV_STRLIST;
    out->strs = xcalloc(2, sizeof(char *));
    for (int i = 0; i < 2; i++) {
      const char *s;
      if (want_string(c, sp->key, n->kids[i], &s)) {
        bad = 1;
        continue;
      }
      out->strs[i] = xstrdup(s);
      sb_printf(&text, "%s%s", i ? "," : "", s);
    }
    out->n = 2;
  } else {
    out->kind = PV_NUMLIST;
    out->nums = xcalloc((size_t)n->n, sizeof(double));
    out->n = n->n;
    for (int i = 0; i < n->n; i++) {
      const YNode *it = n->kids[i];
      if (want_number(c, sp->key, it, &out->nums[i]) ||
          check_range(c, sp->key, it->mark, out->nums[i], sp->range)) {
        bad = 1;
        continue;
      }
      sb_printf(&text, "%s%s", i ? "," : "", it->str);
    }
  }
  sb_append(&text, "]");
  out->text = text.data;
  if (bad) {
    value_free(out);
    memset(out, 0, sizeof *out);
    return -1;
  }
  return 0;
}

static int values_equal(const ParamValue *a, const ParamValue *b) {
  if (a->kind == PV_NUM && b->kind == PV_NUM) return a->num == b->num;
  return strcmp(a->text, b->text) == 0;
}

// Parses param `sp` from node n into p (key and mark set by the caller). A list where the schema
// wants one value, or a list of lists for list-typed keys, is a sweep.
static int parse_param(Ctx *c, const ParamSpec *sp, const YNode *n, Param *p) {
  int list_typed = sp->type == PT_NUMLIST || sp->type == PT_PAIR;
  const YNode *const *items = (const YNode *const *)&n;
  int count = 1, sweep = 0;
  if (list_typed) {
    if (want_seq(c, sp->key, n)) return -1;
    int n_seq = 0;
    for (int i = 0; i < n->n; i++) n_seq += n->kids[i]->kind == YN_SEQ;
    if (n_seq > 0 && n_seq < n->n) {
      ERR(c, n->mark, "'%s' mixes lists and single values: give one list, or a list of lists to sweep",
          sp->key);
      return -1;
    }
    sweep = n->n > 0 && n_seq == n->n;
  } else if (n->kind == YN_SEQ) {
    sweep = 1;
  }
  if (sweep) {
    if (n->n == 0) {
      ERR(c, n->mark, "'%s' must not be an empty list", sp->key);
      return -1;
    }
    items = (const YNode *const *)n->kids;
    count = n->n;
  }
  p->values = xcalloc((size_t)count, sizeof(ParamValue));
  int bad = 0;
  for (int i = 0; i < count; i++) {
    const YNode *it = items[i];
    int rc;
    if (list_typed) {
      rc = it->kind == YN_SEQ ? parse_list(c, sp, it, &p->values[p->n_values]) : want_seq(c, sp->key, it);
    } else {
      rc = parse_scalar(c, sp, it, &p->values[p->n_values]);
    }
    if (rc) {
      bad = 1;
      continue;
    }
    for (int j = 0; j < p->n_values; j++)
      if (values_equal(&p->values[j], &p->values[p->n_values])) {
        ERR(c, it->mark, "duplicate value '%.60s' in the sweep of '%s'", p->values[p->n_values].text,
            sp->key);
        bad = 1;
        break;
      }
    p->n_values++;
  }
  return bad ? -1 : 0;
}

// The smallest and largest value of a numeric param (over its sweep).
static int num_bounds(const Variant *v, const char *key, double *lo, double *hi) {
  const Param *p = variant_param(v, key);
  if (!p || p->values[0].kind != PV_NUM) return 0;
  *lo = *hi = p->values[0].num;
  for (int i = 1; i < p->n_values; i++) {
    if (p->values[i].num < *lo) *lo = p->values[i].num;
    if (p->values[i].num > *hi) *hi = p->values[i].num;
  }
  return 1;
}

// Checks between parameters of one variant, over every combination of a sweep.
static void cross_checks(Ctx *c, const Variant *v) {
  double lo1, hi1, lo2, hi2;
  if (strcmp(v->type, "llama3") == 0 && num_bounds(v, "low_freq_factor", &lo1, &hi1) &&
      num_bounds(v, "high_freq_factor", &lo2, &hi2) && !(lo2 > hi1))
    ERR(c, variant_param(v, "high_freq_factor")->mark,
        "'high_freq_factor' must be greater than 'low_freq_factor' in rope variant '%s'", v->name);
  if (strcmp(v->type, "longrope") == 0) {
    const Param *s = variant_param(v, "short_factor"), *l = variant_param(v, "long_factor");
    if (s && l)
      for (int i = 0; i < s->n_values; i++)
        for (int j = 0; j < l->n_values; j++)
          if (s->values[i].n != l->values[j].n) {
            ERR(c, l->mark, "'long_factor' must have as many entries as 'short_factor' (%d, got %d)",
                s->values[i].n, l->values[j].n);
            return;
          }
  }
  if (strcmp(v->type, "train") == 0) {
    const Param *hidden = variant_param(v, "hidden"), *heads = variant_param(v, "heads"),
                *kv = variant_param(v, "kv_heads");
    if (hidden && heads)
      for (int i = 0; i < hidden->n_values; i++)
        for (int j = 0; j < heads->n_values; j++)
          if (fmod(hidden->values[i].num, heads->values[j].num) != 0) {
            ERR(c, heads->mark, "'hidden' (%s) must be a multiple of 'heads' (%s) in train recipe '%s'",
                hidden->values[i].text, heads->values[j].text, v->name);
            goto kv_check;
          }
  kv_check:
    if (heads && kv)
      for (int i = 0; i < heads->n_values; i++)
        for (int j = 0; j < kv->n_values; j++)
          if (fmod(heads->values[i].num, kv->values[j].num) != 0) {
            ERR(c, kv->mark, "'heads' (%s) must be a multiple of 'kv_heads' (%s) in train recipe '%s'",
                heads->values[i].text, kv->values[j].text, v->name);
            goto lr_check;
          }
  lr_check:
    if (num_bounds(v, "min_lr", &lo1, &hi1) && num_bounds(v, "lr", &lo2, &hi2) && hi1 > lo2)
      ERR(c, variant_param(v, "min_lr")->mark, "'min_lr' must not exceed 'lr' in train recipe '%s'",
          v->name);
    double tok_lo, tok_hi, b_lo, b_hi, s_lo, s_hi;
    if (num_bounds(v, "tokens", &tok_lo, &tok_hi) && num_bounds(v, "batch", &b_lo, &b_hi) &&
        num_bounds(v, "seq_len", &s_lo, &s_hi) && tok_lo < b_hi * s_hi)
      ERR(c, variant_param(v, "tokens")->mark,
          "'tokens' (%g) is less than one training step (batch x seq_len = %g) in train recipe '%s'",
          tok_lo, b_hi * s_hi, v->name);
  }
}

static int parse_variant(Ctx *c, Section sec, const YNode *keynode, const YNode *body, Variant *v) {
  const char *what = section_what(sec);
  const char *name;
  memset(v, 0, sizeof *v);
  if (want_name(c, what, keynode, &name)) return -1;
  if (want_map(c, name, body)) return -1;
  v->name = xstrdup(name);
  v->mark = keynode->mark;
  v->n_members = 1;

  const TypeSpec *ts = NULL;
  if (sec == SEC_TRAIN) {
    ts = &TRAIN_TYPES[0];
  } else {
    const TypeSpec *types = sec == SEC_ROPE ? ROPE_TYPES : CACHE_TYPES;
    int nt = sec == SEC_ROPE ? N_ROPE_TYPES : N_CACHE_TYPES;
    const char *names[N_ROPE_TYPES];
    for (int i = 0; i < nt; i++) names[i] = types[i].type;
    const YNode *tn = ytree_get(body, "type");
    const char *type;
    if (!tn) ERR(c, keynode->mark, "%s '%s' needs a 'type'", what, name);
    if (!tn || want_enum(c, "type", tn, names, nt, &type)) {
      v->type = xstrdup("");  // kept, so that references to it do not cascade into errors
      return -1;
    }
    for (int i = 0; i < nt; i++)
      if (strcmp(types[i].type, type) == 0) ts = &types[i];
  }
  v->type = xstrdup(ts->type);

  int ns = n_specs(ts);
  const char *allowed[MAX_PARAMS + 1];
  for (int i = 0; i < ns; i++) allowed[i] = ts->params[i].key;
  int n_allowed = ns;
  if (sec != SEC_TRAIN) allowed[n_allowed++] = "type";
  check_keys(c, body, allowed, n_allowed);

  int bad = 0;
  v->params = xcalloc((size_t)ns, sizeof(Param));
  for (int i = 0; i < body->n; i++) {  // written parameters, in file order
    const YNode *k = ytree_key(body, i);
    const ParamSpec *sp = NULL;
    for (int j = 0; j < ns; j++)
      if (strcmp(ts->params[j].key, k->str) == 0) sp = &ts->params[j];
    if (!sp) continue;
    Param *p = &v->params[v->n_params++];
    p->key = xstrdup(sp->key);
    p->mark = k->mark;
    if (parse_param(c, sp, ytree_val(body, i), p)) {  // dropped: the variant stays, without it
      bad = 1;
      for (int j = 0; j < p->n_values; j++) value_free(&p->values[j]);
      free(p->values);
      free(p->key);
      memset(p, 0, sizeof *p);
      v->n_params--;
    }
  }
  for (int j = 0; j < ns; j++) {  // missing: required is an error, defaults are filled in
    const ParamSpec *sp = &ts->params[j];
    if (ytree_get(body, sp->key)) continue;
    if (sp->need == 'r') {
      if (sec == SEC_TRAIN)
        ERR(c, keynode->mark, "train recipe '%s' needs '%s'", name, sp->key);
      else
        ERR(c, keynode->mark, "%s '%s' (type %s) needs '%s'", what, name, ts->type, sp->key);
      bad = 1;
    } else if (sp->need == 'd') {
      Param *p = &v->params[v->n_params++];
      p->key = xstrdup(sp->key);
      p->values = xcalloc(1, sizeof(ParamValue));
      p->n_values = 1;
      ParamValue *pv = &p->values[0];
      if (sp->type == PT_NUM) {
        pv->kind = PV_NUM;
        pv->num = strtod(sp->dflt, NULL);
      } else {
        pv->kind = PV_STR;
        pv->str = xstrdup(sp->dflt);
      }
      pv->text = xstrdup(sp->dflt);
    }
  }
  if (bad) return -1;

  long members = 1;
  for (int i = 0; i < v->n_params; i++) {
    if (members > SUITE_MAX_MEMBERS / v->params[i].n_values) {
      ERR(c, keynode->mark, "%s '%s' expands into more than %ld members", what, name,
          SUITE_MAX_MEMBERS);
      return -1;
    }
    members *= v->params[i].n_values;
  }
  v->n_members = (int)members;
  cross_checks(c, v);
  return 0;
}

void parse_variants(Ctx *c, const YNode *map, Section sec, Variant **out, int *n_out) {
  const char *section = sec == SEC_ROPE ? "rope" : sec == SEC_CACHE ? "cache" : "train";
  if (want_map(c, section, map)) return;
  *out = xcalloc((size_t)map->n + 1, sizeof(Variant));
  for (int i = 0; i < map->n; i++) {
    Variant *v = &(*out)[*n_out];
    if (parse_variant(c, sec, ytree_key(map, i), ytree_val(map, i), v) == 0 || v->type) {
      // keep a variant with bad parameters so that references to it do not cascade into errors
      (*n_out)++;
    } else {
      variant_free(v);
    }
  }
}

// ---- selectors: `name` or `name[key=value,...]` ----
typedef struct {
  char *name;
  char **keys, **vals;
  int n;
} Selector;

static void selector_free(Selector *s) {
  for (int i = 0; i < s->n; i++) {
    free(s->keys[i]);
    free(s->vals[i]);
  }
  free(s->keys);
  free(s->vals);
  free(s->name);
}

// Splits a selector; -1 when malformed. Values may hold brackets (lists), split at depth 0 commas.
static int selector_parse(const char *text, Selector *s) {
  memset(s, 0, sizeof *s);
  const char *open = strchr(text, '[');
  if (!open) {
    s->name = xstrdup(text);
    return valid_name(s->name) ? 0 : -1;
  }
  s->name = xstrndup(text, (size_t)(open - text));
  size_t len = strlen(text);
  if (!valid_name(s->name) || text[len - 1] != ']') return -1;
  const char *p = open + 1, *end = text + len - 1;
  if (p == end) return -1;
  while (p < end) {
    const char *q = p;
    int depth = 0;
    while (q < end && (depth > 0 || *q != ',')) {
      if (*q == '[') depth++;
      if (*q == ']') depth--;
      if (depth < 0) return -1;
      q++;
    }
    const char *eq = memchr(p, '=', (size_t)(q - p));
    if (!eq || eq == p || eq + 1 == q) return -1;
    s->keys = xrealloc(s->keys, sizeof(char *) * (size_t)(s->n + 1));
    s->vals = xrealloc(s->vals, sizeof(char *) * (size_t)(s->n + 1));
    s->keys[s->n] = xstrndup(p, (size_t)(eq - p));
    s->vals[s->n] = xstrndup(eq + 1, (size_t)(q - eq - 1));
    s->n++;
    p = q < end ? q + 1 : q;
    if (q < end && p == end) return -1;  // trailing comma
  }
  return 0;
}

// Whether a param value is the one written in a selector (numbers compare by value, lists
// ignoring spaces).
static int value_matches(const ParamValue *pv, const char *want) {
  if (strcmp(pv->text, want) == 0) return 1;
  if (pv->kind == PV_NUM) {
    YNode tmp = {.kind = YN_SCALAR, .str = (char *)want};
    double x;
    return node_number(&tmp, &x) && x == pv->num;
  }
  if (pv->kind == PV_NUMLIST || pv->kind == PV_STRLIST) {
    char *squeezed = xstrdup(want);
    char *o = squeezed;
    for (const char *p = want; *p; p++)
      if (*p != ' ') *o++ = *p;
    *o = 0;
    int eq = strcmp(pv->text, squeezed) == 0;
    free(squeezed);
    return eq;
  }
  return 0;
}

int variant_member_matches(const Variant *v, const int *value_index, const char *selector) {
  Selector s;
  int ok = selector_parse(selector, &s) == 0 && strcmp(s.name, v->name) == 0;
  for (int i = 0; ok && i < s.n; i++) {
    int found = 0;
    for (int j = 0; j < v->n_params && !found; j++) {
      const Param *p = &v->params[j];
      if (strcmp(p->key, s.keys[i]) != 0) continue;
      found = 1;
      int idx = value_index ? value_index[j] : 0;
      ok = idx >= 0 && idx < p->n_values && value_matches(&p->values[idx], s.vals[i]);
    }
    if (!found) ok = 0;
  }
  selector_free(&s);
  return ok;
}

long check_selector(Ctx *c, const char *what, const Variant *defs, int n, const char *selector,
                    Mark m, const Variant **found) {
  *found = NULL;
  Selector s;
  if (selector_parse(selector, &s) != 0) {
    ERR(c, m, "malformed %s '%.80s' (write NAME or NAME[key=value,...])", what, selector);
    selector_free(&s);
    return 0;
  }
  const Variant *v = NULL;
  for (int i = 0; i < n && !v; i++)
    if (strcmp(defs[i].name, s.name) == 0) v = &defs[i];
  if (!v) {
    const char **names = xmalloc(sizeof(char *) * (size_t)(n + 1));
    for (int i = 0; i < n; i++) names[i] = defs[i].name;
    unknown_name(c, m, what, s.name, names, n);
    free(names);
    selector_free(&s);
    return 0;
  }
  long count = v->n_members;
  for (int i = 0; i < s.n && count > 0; i++) {
    const Param *p = variant_param(v, s.keys[i]);
    for (int j = 0; j < i; j++)
      if (strcmp(s.keys[j], s.keys[i]) == 0) {
        ERR(c, m, "'%s' appears twice in '%.80s'", s.keys[i], selector);
        count = 0;
      }
    if (count == 0) break;
    if (!p) {
      const char **keys = xmalloc(sizeof(char *) * (size_t)(v->n_params + 1));
      for (int j = 0; j < v->n_params; j++) keys[j] = v->params[j].key;
      const char *close = closest_name(s.keys[i], keys, v->n_params);
      if (close)
        ERR(c, m, "%s '%s' has no parameter '%.60s' (did you mean '%s'?)", what, v->name, s.keys[i],
            close);
      else
        ERR(c, m, "%s '%s' has no parameter '%.60s'", what, v->name, s.keys[i]);
      free(keys);
      count = 0;
      break;
    }
    int matching = 0;
    for (int j = 0; j < p->n_values; j++) matching += value_matches(&p->values[j], s.vals[i]);
    if (!matching) {
      ERR(c, m, "no member of %s '%s' has %s=%.60s", what, v->name, p->key, s.vals[i]);
      count = 0;
      break;
    }
    count = count / p->n_values * matching;
  }
  selector_free(&s);
  if (count > 0) *found = v;
  return count;
}

// ---- references between variants, and the train recipes' names ----
typedef struct {
  int *to;       // [n] referenced variant indices
  Mark *marks;   // [n] where each reference is written
  int n;
} Edges;

static int rope_index(const Suite *s, const Variant *v) { return (int)(v - s->rope); }

// One reference (mix.of item, compress.base) must select exactly one variant.
static void check_ref(Ctx *c, const Variant *from, const Param *p, const char *sel, Edges *e) {
  const Variant *to;
  long k = check_selector(c, "rope variant", c->s->rope, c->s->n_rope, sel, p->mark, &to);
  if (k == 0) return;
  if (k > 1) {
    const char *key = NULL, *val = NULL;
    for (int i = 0; i < to->n_params && !key; i++)
      if (to->params[i].n_values > 1) key = to->params[i].key, val = to->params[i].values[0].text;
    ERR(c, p->mark,
        "'%s' of rope variant '%s' must name one variant, but '%.80s' stands for %ld members "
        "(name one, e.g. '%s[%s=%s]')",
        p->key, from->name, sel, k, to->name, key ? key : "", val ? val : "");
    return;
  }
  e->to = xrealloc(e->to, sizeof(int) * (size_t)(e->n + 1));
  e->marks = xrealloc(e->marks, sizeof(Mark) * (size_t)(e->n + 1));
  e->to[e->n] = rope_index(c->s, to);
  e->marks[e->n] = p->mark;
  e->n++;
}

// Depth-first search with an explicit stack; each back edge closes a cycle, reported once.
static void report_cycles(Ctx *c, const Edges *edges) {
  int n = c->s->n_rope;
  int *state = xcalloc((size_t)n + 1, sizeof(int));  // 0 new, 1 on the stack, 2 done
  int *stack = xmalloc(sizeof(int) * ((size_t)n + 1));
  int *next = xcalloc((size_t)n + 1, sizeof(int));  // next edge to follow, per node
  for (int start = 0; start < n; start++) {
    if (state[start]) continue;
    int top = 0;
    stack[top++] = start;
    state[start] = 1;
    while (top > 0) {
      int u = stack[top - 1];
      if (next[u] == edges[u].n) {
        state[u] = 2;
        top--;
        continue;
      }
      int e = next[u]++;
      int w = edges[u].to[e];
      if (state[w] == 0) {
        state[w] = 1;
        stack[top++] = w;
      } else if (state[w] == 1) {
        StrBuf path = {0};
        int from = top - 1;
        while (stack[from] != w) from--;
        for (int i = from; i < top; i++) {
          if (top - from > 8 && i == from + 4) {  // a long cycle: its start and its end
            sb_printf(&path, "... (%d more) -> ", top - from - 6);
            i = top - 2;
          }
          sb_printf(&path, "%s -> ", c->s->rope[stack[i]].name);
        }
        sb_append(&path, c->s->rope[w].name);
        ERR(c, edges[u].marks[e], "rope variants refer to each other in a cycle: %s", path.data);
        sb_free(&path);
      }
    }
  }
  free(state);
  free(stack);
  free(next);
}

static void check_train_refs(Ctx *c, Variant *v) {
  Suite *s = c->s;
  const char **names = xmalloc(sizeof(char *) * (size_t)(s->n_datasets + 1));
  for (int i = 0; i < s->n_datasets; i++) names[i] = s->datasets[i].name;
  for (int i = 0; i < v->n_params; i++) {
    Param *p = &v->params[i];
    for (int j = 0; j < p->n_values; j++) {
      ParamValue *pv = &p->values[j];
      if (strcmp(p->key, "data") == 0 && !suite_dataset(s, pv->str))
        unknown_name(c, p->mark, "dataset", pv->str, names, s->n_datasets);
      if (strcmp(p->key, "tokenizer") == 0 && !suite_model(s, pv->str)) {
        char *path = suite_path(c, pv->str);
        if (!file_exists(path))
          WARN(c, p->mark, "tokenizer '%s' is neither a model of this suite nor an existing file",
               pv->str);
        free(pv->str);
        pv->str = path;
      }
    }
  }
  free(names);
}

void check_variant_refs(Ctx *c) {
  Suite *s = c->s;
  Edges *edges = xcalloc((size_t)s->n_rope + 1, sizeof(Edges));
  for (int i = 0; i < s->n_rope; i++) {
    const Variant *v = &s->rope[i];
    for (int j = 0; j < v->n_params; j++) {
      const Param *p = &v->params[j];
      int is_of = strcmp(v->type, "mix") == 0 && strcmp(p->key, "of") == 0;
      int is_base = strcmp(v->type, "compress") == 0 && strcmp(p->key, "base") == 0;
      if (!is_of && !is_base) continue;
      for (int k = 0; k < p->n_values; k++) {
        const ParamValue *pv = &p->values[k];
        if (is_base) check_ref(c, v, p, pv->str, &edges[i]);
        for (int m = 0; is_of && m < pv->n; m++) check_ref(c, v, p, pv->strs[m], &edges[i]);
      }
    }
  }
  report_cycles(c, edges);
  for (int i = 0; i < s->n_rope; i++) {
    free(edges[i].to);
    free(edges[i].marks);
  }
  free(edges);
  for (int i = 0; i < s->n_train; i++) check_train_refs(c, &s->train[i]);
}
