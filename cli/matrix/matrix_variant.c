// matrix_variant.c — the members a variant selector names, and a variant written as JSON for the
// job spec, for the engine, or for the job identity (matrix_internal.h).
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "canon_json.h"
#include "matrix_internal.h"

// References nest (a mix of mixes, a compress of a mix); deeper than this is a cycle.
#define MAX_REF_DEPTH 16

int matrix_err_at(BenchErr *err, const Suite *s, Mark mark, const char *fmt, ...) {
  char msg[BENCH_ERR_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (mark.line > 0) return err_set(err, "%s:%d:%d: %s", s->path, mark.line, mark.col, msg);
  return err_set(err, "%s: %s", s->path, msg);
}

int matrix_member_selected(const Variant *v, int member, const char *selector) {
  int *idx = xcalloc((size_t)v->n_params + 1, sizeof *idx);
  variant_member_indices(v, member, idx);
  int ok = variant_member_matches(v, idx, selector);
  free(idx);
  return ok;
}

int matrix_select(const Variant *list, int n, const char *selector, const Variant **v, int **members,
                  int *n_members) {
  const char *br = strchr(selector, '[');
  size_t base = br ? (size_t)(br - selector) : strlen(selector);
  *v = NULL;
  for (int i = 0; i < n && !*v; i++)
    if (strlen(list[i].name) == base && strncmp(list[i].name, selector, base) == 0) *v = &list[i];
  *members = NULL;
  *n_members = 0;
  if (!*v) return -1;
  int nm = variant_n_members(*v);
  for (int k = 0; k < nm; k++) {
    if (br && !matrix_member_selected(*v, k, selector)) continue;
    *members = xrealloc(*members, (size_t)(*n_members + 1) * sizeof **members);
    (*members)[(*n_members)++] = k;
  }
  return 0;
}

static json_t *param_json(const ParamValue *pv) {
  json_t *a;
  switch (pv->kind) {
    case PV_NUM: return json_number_of(pv->num);
    case PV_STR: return json_string(pv->str ? pv->str : "");
    case PV_BOOL: return json_boolean(pv->num != 0);
    case PV_NUMLIST:
      a = json_array();
      for (int i = 0; i < pv->n; i++) json_array_append_new(a, json_number_of(pv->nums[i]));
      return a;
    case PV_STRLIST:
      a = json_array();
      for (int i = 0; i < pv->n; i++) json_array_append_new(a, json_string(pv->strs[i]));
      return a;
  }
  return json_null();
}

static json_t *variant_json_depth(MatrixCtx *c, VariantKind kind, const Variant *v, int member,
                                  VariantJsonMode mode, int depth, BenchErr *err);

// A rope variant named by a mix's `of` or a compress's `base`, inlined.
static json_t *reference_json(MatrixCtx *c, const Variant *from, const Param *p, const char *name,
                              VariantJsonMode mode, int depth, BenchErr *err) {
  const Suite *s = c->s;
  if (depth >= MAX_REF_DEPTH)
    return matrix_err_at(err, s, p->mark, "variant '%s' refers to variants nested too deep (a cycle?)",
                         from->name), NULL;
  const Variant *rv;
  int *members, n_members;
  if (matrix_select(s->rope, s->n_rope, name, &rv, &members, &n_members) != 0 || n_members != 1) {
    free(members);
    return matrix_err_at(err, s, p->mark, "variant '%s' must refer to one rope variant, but '%s' names %d",
                         from->name, name, n_members), NULL;
  }
  int member = members[0];
  free(members);
  return variant_json_depth(c, VK_ROPE, rv, member, mode, depth + 1, err);
}

// A `file` variant's path (resolved by the parser): the path for the engine, its bytes' SHA-256
// for the identity.
static json_t *file_param_json(const char *path, VariantJsonMode mode) {
  if (mode == VJ_ENGINE) return json_string(path);
  char hex[65];
  BenchErr e;
  char *t = file_exists(path) && file_sha256_cached(path, hex, &e) == 0 ? xasprintf("sha256:%s", hex)
                                                                         : xasprintf("missing:%s", path);
  json_t *out = json_string(t);
  free(t);
  return out;
}

// A train recipe's `data` (a dataset name) or `tokenizer` (a model name or a tokenizer.json path)
// in identity mode: their fingerprints.
static json_t *train_ref_json(MatrixCtx *c, const char *key, const ParamValue *pv) {
  if (pv->kind != PV_STR || !pv->str) return NULL;
  if (strcmp(key, "data") == 0) {
    const DatasetDef *d = suite_dataset(c->s, pv->str);
    if (d) return json_string(matrix_dataset_fp(c, matrix_dataset_index(c->s, d)));
  } else if (strcmp(key, "tokenizer") == 0) {
    const ModelDef *md = suite_model(c->s, pv->str);
    if (md) return json_string(matrix_tokenizer_fp(c, matrix_model_index(c->s, md)));
    return file_param_json(pv->str, VJ_IDENTITY);
  }
  return NULL;
}

static json_t *variant_json_depth(MatrixCtx *c, VariantKind kind, const Variant *v, int member,
                                  VariantJsonMode mode, int depth, BenchErr *err) {
  json_t *o = json_object();
  if (mode != VJ_IDENTITY) {
    char *name = variant_member_name(v, member);
    json_object_set_new(o, "name", json_string(name));
    free(name);
  }
  if (kind != VK_TRAIN) json_object_set_new(o, "type", json_string(v->type));
  for (int p = 0; p < v->n_params; p++) {
    const Param *par = &v->params[p];
    const ParamValue *pv = variant_member_value(v, p, member);
    json_t *val = NULL;
    int inline_refs = mode != VJ_SPEC && kind == VK_ROPE;
    if (inline_refs && strcmp(v->type, "mix") == 0 && strcmp(par->key, "of") == 0 &&
        (pv->kind == PV_STRLIST || pv->kind == PV_STR)) {
      val = json_array();
      int n = pv->kind == PV_STRLIST ? pv->n : 1;
      for (int i = 0; i < n; i++) {
        json_t *r = reference_json(c, v, par, pv->kind == PV_STRLIST ? pv->strs[i] : pv->str, mode,
                                   depth, err);
        if (!r) {
          json_decref(val);
          json_decref(o);
          return NULL;
        }
        json_array_append_new(val, r);
      }
    } else if (inline_refs && strcmp(v->type, "compress") == 0 && strcmp(par->key, "base") == 0 &&
               pv->kind == PV_STR) {
      val = reference_json(c, v, par, pv->str, mode, depth, err);
      if (!val) {
        json_decref(o);
        return NULL;
      }
    } else if (mode != VJ_SPEC && kind == VK_ROPE && strcmp(v->type, "file") == 0 &&
               strcmp(par->key, "path") == 0 && pv->kind == PV_STR) {
      val = file_param_json(pv->str, mode);
    } else if (mode == VJ_IDENTITY && kind == VK_TRAIN) {
      val = train_ref_json(c, par->key, pv);
    }
    if (!val) val = param_json(pv);
    json_object_set_new(o, par->key, val);
  }
  return o;
}

json_t *matrix_variant_json(MatrixCtx *c, VariantKind kind, const Variant *v, int member,
                            VariantJsonMode mode, BenchErr *err) {
  return variant_json_depth(c, kind, v, member, mode, 0, err);
}
