// suite_internal.h — shared by the suite parser's files (suite.c, suite_values.c,
// suite_variant.c, suite_phase.c, suite_diag.c, yaml_tree.c); not part of the suite API.
#ifndef BENCH_SUITE_INTERNAL_H
#define BENCH_SUITE_INTERNAL_H

#include "suite.h"
#include "yaml_tree.h"

#define SUITE_MAX_BYTES (1u << 20)      // a suite file larger than this is refused
#define SUITE_MAX_MEMBERS 1000000L      // members one swept variant may expand into
#define SUITE_MAX_PHASE_JOBS 10000000.0 // jobs one phase may expand into

typedef struct {
  Suite *s;
  Diagnostics *d;
  const char *file;   // display name in diagnostics
} Ctx;

// ---- diagnostics (suite_diag.c) ----
void diag_error(Diagnostics *d, const char *file, Mark m, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void diag_warning(Diagnostics *d, const char *file, Mark m, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void diagnostics_sort(Diagnostics *d);
#define ERR(c, m, ...) diag_error((c)->d, (c)->file, (m), __VA_ARGS__)
#define WARN(c, m, ...) diag_warning((c)->d, (c)->file, (m), __VA_ARGS__)

// ---- typed access to YAML values (suite_values.c) ----
// Each want_* returns 0 with the value, or reports "'KEY' must be ..., got ..." and returns -1.
// Numbers are plain scalars (ints or decimals, finite); quoted scalars are always strings.
void describe_node(const YNode *n, char *buf, size_t cap);   // "string 'abc'", "null", "a list"
int node_number(const YNode *n, double *out);                // 1 when n is a plain number
int node_bool(const YNode *n, int *out);                     // 1 when n is plain true/false
int want_number(Ctx *c, const char *key, const YNode *n, double *out);
int want_int(Ctx *c, const char *key, const YNode *n, long *out);
int want_bool(Ctx *c, const char *key, const YNode *n, int *out);
int want_string(Ctx *c, const char *key, const YNode *n, const char **out);
int want_enum(Ctx *c, const char *key, const YNode *n, const char *const *choices, int n_choices,
              const char **out);
int want_map(Ctx *c, const char *key, const YNode *n);
int want_seq(Ctx *c, const char *key, const YNode *n);
// A name (model, dataset, variant, phase id): [A-Za-z0-9_.-]+.
int valid_name(const char *s);
int want_name(Ctx *c, const char *what, const YNode *n, const char **out);
// Reports every key of map not in allowed, with a did-you-mean.
void check_keys(Ctx *c, const YNode *map, const char *const *allowed, int n_allowed);
// "unknown KIND 'name' (did you mean 'x'?)" against a list of defined names.
void unknown_name(Ctx *c, Mark m, const char *kind, const char *name, const char *const *known,
                  int n_known);

typedef struct {
  char lo_op;   // 0 none, '>' strictly greater, 'g' greater or equal
  double lo;
  char hi_op;   // 0 none, '<' strictly less, 'l' less or equal
  double hi;
} Range;
#define R_NONE ((Range){0, 0, 0, 0})
#define R_GT(x) ((Range){'>', (x), 0, 0})
#define R_GE(x) ((Range){'g', (x), 0, 0})
#define R_IN(a, b) ((Range){'g', (a), 'l', (b)})
#define R_GE_LT(a, b) ((Range){'g', (a), '<', (b)})
int check_range(Ctx *c, const char *key, Mark m, double v, Range r);

// Resolves a path written in the suite against its directory. Caller frees.
char *suite_path(const Ctx *c, const char *written);

// ---- variants (suite_variant.c) ----
typedef enum { SEC_ROPE, SEC_CACHE, SEC_TRAIN } Section;
void parse_variants(Ctx *c, const YNode *map, Section sec, Variant **out, int *n_out);
// After every section is parsed: references between rope variants (mix.of, compress.base) and
// their cycles, train recipes' data and tokenizer.
void check_variant_refs(Ctx *c);
void variant_free(Variant *v);
// Checks a selector `name` or `name[key=value,...]` against variants defs[n]; reports errors with
// `what` ("rope variant", ...). Returns the number of members it selects (0 after an error) and
// the variant in *found.
long check_selector(Ctx *c, const char *what, const Variant *defs, int n, const char *selector,
                    Mark m, const Variant **found);

// ---- defaults and phases (suite_phase.c) ----
void parse_defaults(Ctx *c, const YNode *map);
void parse_phases(Ctx *c, const YNode *seq);

// ---- the checkpoints the suite names, where present (suite_models.c) ----
// An error at a model's entry when a phase runs it with a `model` rope variant and the engine
// cannot build its rope_scaling; nothing for a model absent from this machine.
void check_checkpoints(Ctx *c);
void settings_free(Settings *st);
void phase_free(Phase *p);

#endif
