// yaml_tree.c — libyaml events → YNode tree with positions; rejects what the suite language
// forbids at the YAML level (see yaml_tree.h). No recursion while building: open containers sit
// on a stack bounded by YTREE_MAX_DEPTH, so a 10,000-deep input stops with an error at level 65.
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "suite_internal.h"

static Mark mark_of(yaml_mark_t m) { return (Mark){(int)m.line + 1, (int)m.column + 1}; }

// Position of byte `offset` in text, counting characters per line as libyaml does.
static Mark mark_at_offset(const unsigned char *t, size_t len, size_t offset) {
  Mark m = {1, 1};
  for (size_t i = 0; i < offset && i < len; i++) {
    if (t[i] == '\n' || (t[i] == '\r' && (i + 1 >= len || t[i + 1] != '\n'))) {
      m.line++;
      m.col = 1;
    } else if ((t[i] & 0xC0) != 0x80 && t[i] != '\r') {
      m.col++;
    }
  }
  return m;
}

// Allowed characters as YAML 1.1 (and libyaml) define them: tab, line breaks, printable ASCII,
// NEL, and printable non-ASCII planes minus surrogates, U+FEFF and U+FFFE/U+FFFF.
static int printable(uint32_t cp) {
  return cp == 0x9 || cp == 0xA || cp == 0xD || (cp >= 0x20 && cp <= 0x7E) || cp == 0x85 ||
         (cp >= 0xA0 && cp <= 0xD7FF) || (cp >= 0xE000 && cp <= 0xFFFD && cp != 0xFEFF) ||
         (cp >= 0x10000 && cp <= 0x10FFFF);
}

// Checks the encoding before libyaml sees it, so that the error carries a line and column.
static int prescan(const char *file, const unsigned char *t, size_t len, Diagnostics *d) {
  Mark m = {1, 1};
  size_t i = 0;
  if (len >= 3 && t[0] == 0xEF && t[1] == 0xBB && t[2] == 0xBF) i = 3;  // UTF-8 byte order mark
  while (i < len) {
    unsigned c = t[i];
    size_t w;
    uint32_t cp;
    if (c < 0x80) { w = 1; cp = c; }
    else if (c >= 0xC2 && c <= 0xDF) { w = 2; cp = c & 0x1F; }
    else if (c >= 0xE0 && c <= 0xEF) { w = 3; cp = c & 0x0F; }
    else if (c >= 0xF0 && c <= 0xF4) { w = 4; cp = c & 0x07; }
    else { w = 0; cp = 0; }
    int ok = w > 0 && i + w <= len;
    for (size_t k = 1; ok && k < w; k++) {
      if ((t[i + k] & 0xC0) != 0x80) ok = 0;
      cp = cp << 6 | (t[i + k] & 0x3F);
    }
    if (ok && ((w == 3 && cp < 0x800) || (w == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
               (cp >= 0xD800 && cp <= 0xDFFF)))
      ok = 0;
    if (!ok) {
      diag_error(d, file, m, "invalid UTF-8 byte 0x%02x", c);
      return -1;
    }
    if (!printable(cp)) {
      diag_error(d, file, m, "character U+%04X is not allowed in a YAML file", (unsigned)cp);
      return -1;
    }
    if (cp == '\n' || cp == 0x85 || cp == 0x2028 || cp == 0x2029 ||
        (cp == '\r' && (i + 1 >= len || t[i + 1] != '\n'))) {
      m.line++;
      m.col = 1;
    } else if (cp != '\r') {
      m.col++;
    }
    i += w;
  }
  return 0;
}

static int name_char(char ch, int first) {
  return ch == '_' || (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
         (!first && ch >= '0' && ch <= '9');
}

// Expands ${NAME} from the environment. Errors (unset, malformed) keep the reference as written.
static char *expand_vars(const char *file, Mark m, const char *s, Diagnostics *d) {
  if (!strstr(s, "${")) return NULL;
  StrBuf out = {0};
  sb_append(&out, "");
  const char *p = s;
  while (*p) {
    const char *start = strstr(p, "${");
    if (!start) {
      sb_append(&out, p);
      break;
    }
    sb_appendn(&out, p, (size_t)(start - p));
    const char *close = strchr(start + 2, '}');
    if (!close) {
      diag_error(d, file, m, "unterminated variable reference '%.40s' (write ${NAME})", start);
      sb_append(&out, start);
      break;
    }
    size_t n = (size_t)(close - start - 2);
    int ok = n > 0 && n <= 200;
    for (size_t i = 0; ok && i < n; i++) ok = name_char(start[2 + i], i == 0);
    if (!ok) {
      diag_error(d, file, m, "malformed variable reference '%.*s' (write ${NAME})",
                 (int)(n > 60 ? 60 : n) + 3, start);
      sb_appendn(&out, start, n + 3);
    } else {
      char *name = xstrndup(start + 2, n);
      const char *v = getenv(name);
      if (!v) {
        diag_error(d, file, m, "environment variable '%s' is not set", name);
        sb_appendn(&out, start, n + 3);
      } else {
        sb_append(&out, v);
      }
      free(name);
    }
    p = close + 1;
  }
  return out.data;
}

void ytree_free(YNode *n) {
  if (!n) return;
  for (int i = 0; i < n->nk; i++) ytree_free(n->kids[i]);
  free(n->kids);
  free(n->str);
  free(n);
}

const YNode *ytree_get(const YNode *map, const char *key) {
  if (!map || map->kind != YN_MAP) return NULL;
  for (int i = 0; i < map->n; i++) {
    const YNode *k = ytree_key(map, i);
    if (k->kind == YN_SCALAR && strcmp(k->str, key) == 0) return ytree_val(map, i);
  }
  return NULL;
}

static void add_kid(YNode *parent, YNode *kid) {
  if (parent->nk == parent->cap) {
    parent->cap = parent->cap ? 2 * parent->cap : 4;
    parent->kids = xrealloc(parent->kids, sizeof(YNode *) * (size_t)parent->cap);
  }
  parent->kids[parent->nk++] = kid;
  parent->n = parent->kind == YN_MAP ? parent->nk / 2 : parent->nk;
}

static int cmp_keys(const void *pa, const void *pb) {
  const YNode *a = *(const YNode *const *)pa, *b = *(const YNode *const *)pb;
  int c = strcmp(a->str, b->str);
  if (c) return c;
  if (a->mark.line != b->mark.line) return a->mark.line < b->mark.line ? -1 : 1;
  return a->mark.col < b->mark.col ? -1 : a->mark.col > b->mark.col;
}

// Duplicate keys of one mapping, in O(n log n): each repeat names the first occurrence.
static int check_duplicates(const char *file, const YNode *map, Diagnostics *d) {
  int n = 0, bad = 0;
  const YNode **keys = xmalloc(sizeof(YNode *) * (size_t)(map->n + 1));
  for (int i = 0; i < map->n; i++)
    if (ytree_key(map, i)->kind == YN_SCALAR) keys[n++] = ytree_key(map, i);
  qsort(keys, (size_t)n, sizeof(YNode *), cmp_keys);
  for (int i = 1; i < n; i++) {
    int first = i - 1;
    while (i < n && strcmp(keys[i]->str, keys[first]->str) == 0) {
      diag_error(d, file, keys[i]->mark, "duplicate key '%.80s' (first at %d:%d)", keys[i]->str,
                 keys[first]->mark.line, keys[first]->mark.col);
      bad++;
      i++;
    }
  }
  free(keys);
  return bad;
}

// A scalar's value may not hold NUL or other control characters (from escapes like "\0" or "\e").
static int check_scalar_chars(const char *file, Mark m, const unsigned char *v, size_t len,
                              Diagnostics *d) {
  for (size_t i = 0; i < len; i++)
    if ((v[i] < 0x20 && v[i] != '\t' && v[i] != '\n') || v[i] == 0x7F) {
      diag_error(d, file, m, "control character U+%04X in a string is not allowed", v[i]);
      return -1;
    }
  return 0;
}

static void libyaml_error(const char *file, const yaml_parser_t *p, const unsigned char *t,
                          size_t len, Diagnostics *d) {
  const char *problem = p->problem ? p->problem : "unknown error";
  if (p->error == YAML_MEMORY_ERROR) {
    diag_error(d, file, (Mark){0, 0}, "out of memory while parsing YAML");
  } else if (p->error == YAML_READER_ERROR) {
    diag_error(d, file, mark_at_offset(t, len, p->problem_offset), "invalid YAML: %s", problem);
  } else if (p->context) {
    Mark cm = mark_of(p->context_mark);
    diag_error(d, file, mark_of(p->problem_mark), "invalid YAML: %s (%s at %d:%d)", problem,
               p->context, cm.line, cm.col);
  } else {
    diag_error(d, file, mark_of(p->problem_mark), "invalid YAML: %s", problem);
  }
}

// What an event may carry that the suite language refuses: an anchor or an explicit tag.
static int check_props(const char *file, Mark m, const yaml_char_t *anchor, const yaml_char_t *tag,
                       Diagnostics *d) {
  int bad = 0;
  if (anchor) {
    diag_error(d, file, m, "YAML anchors are not allowed ('&%.40s'): write the value out", anchor);
    bad++;
  }
  if (tag) {
    diag_error(d, file, m, "YAML tags are not allowed ('%.40s'): quote the value for a string", tag);
    bad++;
  }
  return bad;
}

static YNode *build_tree(const char *file, const char *text, size_t len, Diagnostics *d) {
  const unsigned char *t = (const unsigned char *)text;
  if (prescan(file, t, len, d) != 0) return NULL;

  yaml_parser_t parser;
  if (!yaml_parser_initialize(&parser)) die("cannot initialise the YAML parser");
  yaml_parser_set_input_string(&parser, t, len);

  YNode *stack[YTREE_MAX_DEPTH];
  int depth = 0, docs = 0, errors = 0, done = 0;
  YNode *root = NULL;
  while (!done) {
    yaml_event_t ev;
    if (!yaml_parser_parse(&parser, &ev)) {
      libyaml_error(file, &parser, t, len, d);
      errors++;
      break;
    }
    Mark m = mark_of(ev.start_mark);
    YNode *node = NULL;
    switch (ev.type) {
      case YAML_STREAM_END_EVENT:
        done = 1;
        break;
      case YAML_DOCUMENT_START_EVENT:
        if (++docs > 1) {
          diag_error(d, file, m, "a suite file holds one YAML document; found a second one");
          errors++;
          done = 1;
        }
        break;
      case YAML_ALIAS_EVENT:
        diag_error(d, file, m, "YAML aliases are not allowed ('*%.40s'): write the value out",
                   ev.data.alias.anchor);
        errors++;
        node = xcalloc(1, sizeof(YNode));
        node->kind = YN_SCALAR;
        node->str = xstrdup("");
        break;
      case YAML_SCALAR_EVENT: {
        errors += check_props(file, m, ev.data.scalar.anchor, ev.data.scalar.tag, d);
        if (check_scalar_chars(file, m, ev.data.scalar.value, ev.data.scalar.length, d)) errors++;
        node = xcalloc(1, sizeof(YNode));
        node->kind = YN_SCALAR;
        node->str = xstrndup((const char *)ev.data.scalar.value, ev.data.scalar.length);
        node->quoted = ev.data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
        break;
      }
      case YAML_SEQUENCE_START_EVENT:
      case YAML_MAPPING_START_EVENT: {
        int is_seq = ev.type == YAML_SEQUENCE_START_EVENT;
        errors += check_props(file, m, is_seq ? ev.data.sequence_start.anchor : ev.data.mapping_start.anchor,
                              is_seq ? ev.data.sequence_start.tag : ev.data.mapping_start.tag, d);
        if (depth == YTREE_MAX_DEPTH) {
          diag_error(d, file, m, "nesting deeper than %d levels", YTREE_MAX_DEPTH);
          errors++;
          done = 1;
          break;
        }
        node = xcalloc(1, sizeof(YNode));
        node->kind = is_seq ? YN_SEQ : YN_MAP;
        break;
      }
      case YAML_SEQUENCE_END_EVENT:
      case YAML_MAPPING_END_EVENT:
        CHECK(depth > 0);
        depth--;
        if (stack[depth]->kind == YN_MAP) errors += check_duplicates(file, stack[depth], d);
        break;
      default:
        break;
    }
    if (node) {
      node->mark = m;
      if (depth == 0) {
        CHECK(!root);
        root = node;
      } else {
        YNode *parent = stack[depth - 1];
        if (parent->kind == YN_MAP && parent->nk % 2 == 0 && node->kind != YN_SCALAR) {
          diag_error(d, file, m, "mapping keys must be plain strings, not %s",
                     node->kind == YN_SEQ ? "lists" : "mappings");
          errors++;
          done = 1;  // what follows would only repeat it
        }
        add_kid(parent, node);
        if (parent->n > YTREE_MAX_ITEMS) {
          diag_error(d, file, m, "more than %d entries in one list or mapping", YTREE_MAX_ITEMS);
          errors++;
          done = 1;
        }
      }
      if (node->kind != YN_SCALAR && !done) stack[depth++] = node;
    }
    yaml_event_delete(&ev);
  }
  yaml_parser_delete(&parser);

  if (errors) {
    ytree_free(root);
    return NULL;
  }
  if (!root) {
    diag_error(d, file, (Mark){1, 1}, "the suite file is empty");
    return NULL;
  }
  return root;
}

// Expands ${VAR} in every scalar (keys excepted). Recursion is bounded by YTREE_MAX_DEPTH.
static void expand_tree(const char *file, YNode *n, Diagnostics *d) {
  if (n->kind == YN_SCALAR) {
    char *v = expand_vars(file, n->mark, n->str, d);
    if (v) {
      free(n->str);
      n->str = v;
    }
    return;
  }
  for (int i = 0; i < n->nk; i++)
    if (n->kind == YN_SEQ || i % 2 == 1) expand_tree(file, n->kids[i], d);
}

YNode *ytree_parse(const char *file, const char *text, size_t len, Diagnostics *d) {
  YNode *root = build_tree(file, text, len, d);
  if (root) expand_tree(file, root, d);
  return root;
}
