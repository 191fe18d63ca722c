// yaml_tree.h — a YAML file turned (by libyaml's event parser) into a small tree of scalars,
// sequences and mappings, each node carrying its 1-based file position. Everything the suite
// language forbids at the YAML level is rejected here with FILE:LINE:COL: anchors, aliases, tags,
// duplicate keys, non-scalar keys, more than one document, nesting deeper than YTREE_MAX_DEPTH,
// more than YTREE_MAX_ITEMS entries in one collection,
// invalid UTF-8 and control characters. `${VAR}` references in scalars are expanded from the
// environment (an unset or malformed reference is an error naming it).
//
// Nesting is bounded, so every walk over a tree may recurse.
#ifndef BENCH_YAML_TREE_H
#define BENCH_YAML_TREE_H

#include "suite.h"

#define YTREE_MAX_DEPTH 64
#define YTREE_MAX_ITEMS 10000   // entries in one list or mapping

typedef enum { YN_SCALAR, YN_SEQ, YN_MAP } YNodeKind;

typedef struct YNode {
  YNodeKind kind;
  Mark mark;
  char *str;             // scalar: the value, ${VAR} expanded (NUL-terminated)
  int quoted;            // scalar written quoted or as a block literal: always a string
  struct YNode **kids;   // seq: items [n]; map: key, value, key, value, ... [2n]
  int n;                 // seq: items; map: pairs
  int nk, cap;           // entries used and allocated in kids
} YNode;

// Parses text[len] (need not be NUL-terminated). Returns the root node, or NULL when the file is
// empty or broken at the YAML level (errors added to d, named `file`). ${VAR} errors are added to
// d without discarding the tree.
YNode *ytree_parse(const char *file, const char *text, size_t len, Diagnostics *d);
void ytree_free(YNode *n);

// Map lookup (NULL when absent); keys of a map are scalars.
const YNode *ytree_get(const YNode *map, const char *key);
static inline const YNode *ytree_key(const YNode *map, int i) { return map->kids[2 * i]; }
static inline const YNode *ytree_val(const YNode *map, int i) { return map->kids[2 * i + 1]; }

// A plain scalar that YAML reads as null: empty, ~, null.
int ytree_is_null(const YNode *n);

#endif
