// rope_spec.c — a suite's rope variant member as a rope_build spec. See rope_spec.h.
#include "rope_spec.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rope.h"

static json_t *number_json(double x) {
  if (x == floor(x) && fabs(x) < 9007199254740992.0) return json_integer((json_int_t)x);
  return json_real(x);
}

static json_t *resolve_at(const Suite *s, const char *selector, int depth, BenchErr *err);

static json_t *member_json(const Suite *s, const Variant *v, int member, int depth, BenchErr *err) {
  json_t *o = json_object();
  char *name = variant_member_name(v, member);
  json_object_set_new(o, "name", json_string(name));
  free(name);
  json_object_set_new(o, "type", json_string(v->type));
  for (int p = 0; p < v->n_params; p++) {
    const Param *par = &v->params[p];
    const ParamValue *pv = variant_member_value(v, p, member);
    int is_ref = (strcmp(v->type, "mix") == 0 && strcmp(par->key, "of") == 0) ||
                 (strcmp(v->type, "compress") == 0 && strcmp(par->key, "base") == 0);
    json_t *val = NULL;
    if (is_ref && pv->kind == PV_STRLIST) {
      val = json_array();
      for (int i = 0; i < pv->n; i++) {
        json_t *r = resolve_at(s, pv->strs[i], depth + 1, err);
        if (!r) {
          json_decref(val);
          json_decref(o);
          return NULL;
        }
        json_array_append_new(val, r);
      }
    } else if (is_ref && pv->kind == PV_STR) {
      val = resolve_at(s, pv->str, depth + 1, err);
      if (!val) {
        json_decref(o);
        return NULL;
      }
    } else {
      switch (pv->kind) {
        case PV_NUM: val = number_json(pv->num); break;
        case PV_STR: val = json_string(pv->str ? pv->str : ""); break;
        case PV_BOOL: val = json_boolean(pv->num != 0); break;
        case PV_NUMLIST:
          val = json_array();
          for (int i = 0; i < pv->n; i++) json_array_append_new(val, number_json(pv->nums[i]));
          break;
        case PV_STRLIST:
          val = json_array();
          for (int i = 0; i < pv->n; i++) json_array_append_new(val, json_string(pv->strs[i]));
          break;
      }
    }
    json_object_set_new(o, par->key, val);
  }
  return o;
}

static json_t *resolve_at(const Suite *s, const char *selector, int depth, BenchErr *err) {
  if (depth > ROPE_MAX_DEPTH) {
    err_set(err, "rope variants nest deeper than %d levels at '%s'", ROPE_MAX_DEPTH, selector);
    return NULL;
  }
  const char *br = strchr(selector, '[');
  char *base = br ? xstrndup(selector, (size_t)(br - selector)) : xstrdup(selector);
  const Variant *v = suite_rope(s, base);
  if (!v) {
    const char **names = xmalloc(sizeof(char *) * (size_t)(s->n_rope + 1));
    for (int i = 0; i < s->n_rope; i++) names[i] = s->rope[i].name;
    const char *near = closest_name(base, names, s->n_rope);
    if (near)
      err_set(err, "unknown rope variant '%s' (did you mean '%s'?)", base, near);
    else
      err_set(err, "unknown rope variant '%s'", base);
    free(names);
    free(base);
    return NULL;
  }
  free(base);
  int n = v->n_members > 0 ? v->n_members : 1;
  int *idx = xcalloc((size_t)v->n_params + 1, sizeof(int));
  int found = -1, n_found = 0;
  for (int k = 0; k < n; k++) {
    variant_member_indices(v, k, idx);
    if (variant_member_matches(v, idx, selector)) {
      if (n_found == 0) found = k;
      n_found++;
    }
  }
  json_t *out = NULL;
  if (n_found == 1) {
    out = member_json(s, v, found, depth, err);
  } else {
    StrBuf b = {0};
    for (int k = 0, shown = 0; k < n && shown < 4; k++) {
      variant_member_indices(v, k, idx);
      if (n_found > 1 && !variant_member_matches(v, idx, selector)) continue;
      char *name = variant_member_name(v, k);
      sb_printf(&b, "%s'%s'", shown ? ", " : "", name);
      free(name);
      shown++;
    }
    if (n_found > 1)
      err_set(err, "'%s' stands for %d members of rope variant '%s'; name one: %s%s", selector,
              n_found, v->name, b.data, n_found > 4 ? ", ..." : "");
    else
      err_set(err, "no member of rope variant '%s' matches '%s' (members: %s%s)", v->name,
              selector, b.data, n > 4 ? ", ..." : "");
    sb_free(&b);
  }
  free(idx);
  return out;
}

json_t *rope_spec_resolve(const Suite *s, const char *selector, BenchErr *err) {
  return resolve_at(s, selector, 1, err);
}
