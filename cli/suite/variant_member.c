// variant_member.c — the members of a swept variant: which value each parameter takes, and the
// member's name `name[key=value,...]` (suite.h; docs/DESIGN.md "Suite files").
#include <stdlib.h>

#include "suite.h"

int variant_n_members(const Variant *v) {
  long n = 1;
  for (int p = 0; p < v->n_params; p++)
    if (v->params[p].n_values > 1) n *= v->params[p].n_values;
  CHECK(n <= 1L << 30);
  return (int)n;
}

// Mixed radix over the swept parameters in file order, the last one varying fastest.
static int value_index(const Variant *v, int p, int member) {
  for (int q = v->n_params - 1; q >= 0; q--) {
    int nv = v->params[q].n_values;
    if (nv <= 1) continue;
    if (q == p) return member % nv;
    member /= nv;
  }
  return 0;
}

void variant_member_indices(const Variant *v, int member, int *idx) {
  for (int p = 0; p < v->n_params; p++) idx[p] = value_index(v, p, member);
}

const ParamValue *variant_member_value(const Variant *v, int p, int member) {
  CHECK(p >= 0 && p < v->n_params && v->params[p].n_values >= 1);
  return &v->params[p].values[value_index(v, p, member)];
}

char *variant_member_name(const Variant *v, int member) {
  if (variant_n_members(v) == 1) return xstrdup(v->name);
  StrBuf b = {0};
  sb_append(&b, v->name);
  sb_append(&b, "[");
  int first = 1;
  for (int p = 0; p < v->n_params; p++) {
    if (v->params[p].n_values <= 1) continue;
    const ParamValue *pv = variant_member_value(v, p, member);
    sb_printf(&b, "%s%s=%s", first ? "" : ",", v->params[p].key, pv->text ? pv->text : "");
    first = 0;
  }
  sb_append(&b, "]");
  return b.data;
}
