// suite_values.c — typed access to YAML values for the suite parser: numbers, integers, booleans,
// strings, enums, names, ranges and unknown-key checks, each failure reported with the value's
// position as "'KEY' must be ..., got ...".
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "suite_internal.h"

int ytree_is_null(const YNode *n) {
  if (n->kind != YN_SCALAR || n->quoted) return 0;
  const char *s = n->str;
  return !s[0] || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 || strcmp(s, "Null") == 0 ||
         strcmp(s, "NULL") == 0;
}

int node_bool(const YNode *n, int *out) {
  if (n->kind != YN_SCALAR || n->quoted) return 0;
  const char *s = n->str;
  if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE")) { *out = 1; return 1; }
  if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE")) { *out = 0; return 1; }
  return 0;
}

// Decimal numbers only: [+-] digits [. digits] [e [+-] digits] (also ".5" and "5."); no hex,
// no inf/nan, no underscores.
int node_number(const YNode *n, double *out) {
  if (n->kind != YN_SCALAR || n->quoted) return 0;
  const char *s = n->str;
  const char *p = s;
  if (*p == '+' || *p == '-') p++;
  int digits = 0;
  while (isdigit((unsigned char)*p)) p++, digits++;
  if (*p == '.') {
    p++;
    while (isdigit((unsigned char)*p)) p++, digits++;
  }
  if (!digits) return 0;
  if (*p == 'e' || *p == 'E') {
    p++;
    if (*p == '+' || *p == '-') p++;
    if (!isdigit((unsigned char)*p)) return 0;
    while (isdigit((unsigned char)*p)) p++;
  }
  if (*p) return 0;
  errno = 0;
  double v = strtod(s, NULL);
  if (!isfinite(v)) return 0;
  *out = v;
  return 1;
}

void describe_node(const YNode *n, char *buf, size_t cap) {
  double v;
  int b;
  if (n->kind == YN_SEQ) snprintf(buf, cap, "a list");
  else if (n->kind == YN_MAP) snprintf(buf, cap, "a mapping");
  else if (ytree_is_null(n)) snprintf(buf, cap, "null");
  else if (node_bool(n, &b)) snprintf(buf, cap, "boolean %s", n->str);
  else if (node_number(n, &v)) snprintf(buf, cap, "number %s", n->str);
  else if (strlen(n->str) > 60) snprintf(buf, cap, "string '%.57s...'", n->str);
  else snprintf(buf, cap, "string '%s'", n->str);
}

static int type_error(Ctx *c, const char *key, const YNode *n, const char *wanted) {
  char got[128];
  describe_node(n, got, sizeof got);
  ERR(c, n->mark, "'%s' must be %s, got %s", key, wanted, got);
  return -1;
}

int want_number(Ctx *c, const char *key, const YNode *n, double *out) {
  if (node_number(n, out)) return 0;
  return type_error(c, key, n, "a number");
}

int want_int(Ctx *c, const char *key, const YNode *n, long *out) {
  double v;
  if (!node_number(n, &v)) return type_error(c, key, n, "an integer");
  if (v != floor(v)) {
    ERR(c, n->mark, "'%s' must be an integer, got %.80s", key, n->str);
    return -1;
  }
  if (fabs(v) > 9007199254740992.0) {  // 2^53: where a double stops holding every integer
    ERR(c, n->mark, "'%s' is too %s, got %.80s (at most 2^53 = 9007199254740992 in size)", key,
        v > 0 ? "large" : "small", n->str);
    return -1;
  }
  *out = (long)v;
  return 0;
}

int want_bool(Ctx *c, const char *key, const YNode *n, int *out) {
  if (node_bool(n, out)) return 0;
  return type_error(c, key, n, "true or false");
}

int want_string(Ctx *c, const char *key, const YNode *n, const char **out) {
  if (n->kind != YN_SCALAR || ytree_is_null(n)) return type_error(c, key, n, "a string");
  *out = n->str;
  return 0;
}

static void join_choices(const char *const *choices, int n, char *buf, size_t cap) {
  size_t len = 0;
  buf[0] = 0;
  for (int i = 0; i < n && len + 1 < cap; i++) {
    int w = snprintf(buf + len, cap - len, "%s%s", i ? (i == n - 1 ? " or " : ", ") : "", choices[i]);
    if (w < 0) break;
    len += (size_t)w;
  }
}

int want_enum(Ctx *c, const char *key, const YNode *n, const char *const *choices, int n_choices,
              const char **out) {
  char list[256];
  join_choices(choices, n_choices, list, sizeof list);
  if (n->kind != YN_SCALAR || ytree_is_null(n)) {
    char wanted[300];
    snprintf(wanted, sizeof wanted, "one of %s", list);
    return type_error(c, key, n, wanted);
  }
  for (int i = 0; i < n_choices; i++)
    if (strcmp(n->str, choices[i]) == 0) {
      *out = choices[i];
      return 0;
    }
  const char *close = closest_name(n->str, choices, n_choices);
  if (close)
    ERR(c, n->mark, "'%s' must be one of %s, got '%.80s' (did you mean '%s'?)", key, list, n->str, close);
  else
    ERR(c, n->mark, "'%s' must be one of %s, got '%.80s'", key, list, n->str);
  return -1;
}

int want_map(Ctx *c, const char *key, const YNode *n) {
  if (n->kind == YN_MAP) return 0;
  return type_error(c, key, n, "a mapping");
}

int want_seq(Ctx *c, const char *key, const YNode *n) {
  if (n->kind == YN_SEQ) return 0;
  return type_error(c, key, n, "a list");
}

int valid_name(const char *s) {
  if (!s[0]) return 0;
  for (const char *p = s; *p; p++)
    if (!isalnum((unsigned char)*p) && *p != '_' && *p != '-' && *p != '.') return 0;
  return 1;
}

int want_name(Ctx *c, const char *what, const YNode *n, const char **out) {
  if (n->kind != YN_SCALAR || ytree_is_null(n)) return type_error(c, what, n, "a name");
  if (!valid_name(n->str)) {
    ERR(c, n->mark, "%s '%.80s' may only contain letters, digits, '_', '-' and '.'", what, n->str);
    return -1;
  }
  *out = n->str;
  return 0;
}

void check_keys(Ctx *c, const YNode *map, const char *const *allowed, int n_allowed) {
  for (int i = 0; i < map->n; i++) {
    const YNode *k = ytree_key(map, i);
    int ok = 0;
    for (int j = 0; j < n_allowed && !ok; j++) ok = strcmp(k->str, allowed[j]) == 0;
    if (ok) continue;
    const char *close = closest_name(k->str, allowed, n_allowed);
    if (close)
      ERR(c, k->mark, "unknown key '%.80s' (did you mean '%s'?)", k->str, close);
    else
      ERR(c, k->mark, "unknown key '%.80s'", k->str);
  }
}

void unknown_name(Ctx *c, Mark m, const char *kind, const char *name, const char *const *known,
                  int n_known) {
  const char *close = closest_name(name, known, n_known);
  if (close)
    ERR(c, m, "unknown %s '%.80s' (did you mean '%s'?)", kind, name, close);
  else
    ERR(c, m, "unknown %s '%.80s'", kind, name);
}

int check_range(Ctx *c, const char *key, Mark m, double v, Range r) {
  int bad = (r.lo_op == '>' && !(v > r.lo)) || (r.lo_op == 'g' && !(v >= r.lo)) ||
            (r.hi_op == '<' && !(v < r.hi)) || (r.hi_op == 'l' && !(v <= r.hi));
  if (!bad) return 0;
  if (r.lo_op && r.hi_op)
    ERR(c, m, "'%s' must be in %c%g, %g%c, got %g", key, r.lo_op == 'g' ? '[' : '(', r.lo, r.hi,
        r.hi_op == 'l' ? ']' : ')', v);
  else if (r.lo_op)
    ERR(c, m, "'%s' must be %s %g, got %g", key, r.lo_op == 'g' ? ">=" : ">", r.lo, v);
  else
    ERR(c, m, "'%s' must be %s %g, got %g", key, r.hi_op == 'l' ? "<=" : "<", r.hi, v);
  return -1;
}

char *suite_path(const Ctx *c, const char *written) {
  return path_join(c->s->dir, written);
}
