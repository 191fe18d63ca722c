// suite.h — a suite file parsed (libyaml) and validated into memory. See docs/DESIGN.md,
// "Suite files". cli/suite/suite.c builds it; cli/matrix/matrix.c expands it into jobs.
//
// Everything here is already checked: names referenced by phases exist, every variant parameter
// has the right type for its variant type, ranges hold, ${VAR} are expanded, relative paths are
// resolved against the suite's directory. A list given where the schema wants one value is a sweep
// (Param.n_values > 1); matrix.c expands sweeps into named members `variant[key=value,...]`.
#ifndef BENCH_SUITE_H
#define BENCH_SUITE_H

#include "util.h"

typedef struct {
  int line, col;  // 1-based; 0 when the item was not written in the file (inherited, defaulted)
} Mark;

// ---- variant parameters (rope variants, cache policies, train recipes) ----
typedef enum {
  PV_NUM,      // a number (ints are exact in a double)
  PV_STR,      // a string or a name
  PV_NUMLIST,  // a list of numbers the schema asks for (longrope short_factor/long_factor)
  PV_STRLIST,  // a list of names the schema asks for (mix.of)
  PV_BOOL,     // true / false in num (1 / 0); text "true" / "false" (yarn truncate)
} ParamKind;

typedef struct {
  ParamKind kind;
  double num;
  char *str;
  double *nums;  // [n]
  char **strs;   // [n]
  int n;
  char *text;    // the value as written (for names like anchor_factor=15 and canonical JSON);
                 // lists as "[a,b,c]"; paths as written (str holds the resolved path)
} ParamValue;

typedef struct {
  char *key;
  Mark mark;           // 0 for a default filled in (yarn beta_fast/beta_slow, mix space,
                       // streaming positions)
  ParamValue *values;  // [n_values]; n_values > 1 is a sweep
  int n_values;
} Param;

typedef struct {
  char *name;
  char *type;          // rope: model geometric linear dynamic ntk yarn llama3 longrope anchored_sigmoid
                       //       anchored_poly sigmoid hybrid mix file compress
                       // cache: full window streaming h2o ; train recipes: "train"
  Mark mark;
  Param *params;       // [n_params], in file order, `type` itself excluded, then the defaults
                       // of parameters that were not written
                       // train recipes: `tokenizer` str is a model name of the suite, or else a
                       // resolved path; `data` is a dataset name
  int n_params;
  int n_members;       // product of the sweep sizes (1 when nothing is swept)
} Variant;

// ---- models, datasets ----
typedef struct {
  char *name;
  char *path;          // expanded and resolved
  Mark mark;
  int exists;          // path exists on this machine (missing: warning in validate/plan, error in run)
} ModelDef;

typedef struct {
  char *name;
  char *path;          // .txt | .jsonl | .bin
  char *field;         // jsonl text field (default "text"); NULL for .txt and .bin
  char *model;         // optional: tokenizer of this model for .bin/.txt (NULL: the job's model)
  Mark mark;
  int exists;
} DatasetDef;

// ---- axes and settings shared by `defaults:` and phases ----
typedef struct {
  char **items;
  Mark *marks;
  int n;
} NameList;

typedef struct {
  long *items;
  Mark *marks;
  int n;
} LongList;

// Which Settings fields a block wrote itself (the rest are inherited from defaults).
enum {
  SET_MODEL = 1 << 0, SET_DATASET = 1 << 1, SET_ROPE = 1 << 2, SET_CACHE = 1 << 3,
  SET_LENGTHS = 1 << 4, SET_SEEDS = 1 << 5, SET_DTYPE = 1 << 6, SET_DEVICE = 1 << 7,
  SET_TRAIN = 1 << 8, SET_PROTOCOL = 1 << 9, SET_WINDOWS = 1 << 10, SET_STRIDE = 1 << 11,
  SET_PROMPT = 1 << 12, SET_WARMUP = 1 << 13, SET_BASE_LENGTH = 1 << 14,
};

// A resolved phase always has: datasets, rope, cache, lengths, seeds (non-empty), models
// (non-empty unless the phase trains: a training phase evaluates the models it trains and has
// no models), dtypes (default fp32), devices (default auto), protocol (default chunks), windows
// (default 1), base_length (default: the smallest length). stride/prompt/warmup are 0 unless
// the phase's protocol uses them.
typedef struct {
  unsigned set;          // SET_* bits written in this block
  NameList models;       // model names (a phase may give one name or a list)
  NameList datasets;
  NameList rope;         // variant names; a swept variant name stands for all its members
  NameList cache;
  NameList dtypes;       // bf16 | fp16 | fp32
  NameList devices;      // auto | cpu | cuda | cuda:N
  NameList train;        // train recipe names; empty: evaluate the models as they are
  LongList lengths;      // each >= 2
  LongList seeds;
  char *protocol;        // chunks | random | sliding | half | decode
  long windows;          // >= 1
  long stride;           // sliding; 0 = L/2
  long prompt;           // decode: prefill tokens (>= 1)
  long warmup;           // decode: untimed steps (>= 0)
  long base_length;      // collapse-ratio denominator
  Mark protocol_mark, windows_mark, stride_mark, prompt_mark, warmup_mark, base_length_mark;
} Settings;

// One include/exclude entry: a partial assignment {axis: value, ...}. rope/cache/train values are
// selectors: a variant name (all its members) or `name[key=value,...]` (the members with those
// values). Checked: every exclude value is one the phase runs (an entry matching nothing is an
// error); every include value is defined in the suite (it may add a combination).
typedef struct {
  char **axes;     // model dataset rope cache length seed dtype device train
  char **values;   // as written (lengths/seeds in decimal)
  Mark *marks;
  int n;
  Mark mark;
} Assignment;

typedef struct {
  char *kind;      // "table" or "plot"
  char *name;      // table: collapse lengths seeds improvement leaderboard verdict
                   // plot: ppl_vs_length collapse_vs_length nll_vs_position ppl_vs_param rope_spectrum
                   //       loss_curve
  long at;         // collapse/leaderboard/verdict length (0 when not given); one of the lengths
  char *baseline;  // improvement/verdict: a rope variant of the phase (or a member selector naming
                   // one member), or a cache policy, model or train recipe of the phase
  char *param;     // ppl_vs_param parameter name
  Mark mark;
} ReportRequest;

typedef struct {
  char *id;
  char *title;
  Mark mark;               // the phase's mapping
  Mark id_mark;
  Settings settings;       // fully resolved: defaults merged in
  Assignment *include;     // [n_include]
  int n_include;
  Assignment *exclude;     // [n_exclude]
  int n_exclude;
  ReportRequest *reports;  // [n_reports]
  int n_reports;
} Phase;

typedef struct {
  double severe;           // collapse ratio flagged ⚠️ (default 10)
  double boundary;         // collapse boundary threshold (default 5)
  char *lang;              // "en" (default) or "zh"
} ReportOptions;

typedef struct Suite {
  char *path;              // the suite file as given
  char *dir;               // its directory (relative paths resolve against it)
  char *text;              // the file's bytes
  char sha256[65];         // of text
  char *suite;             // id: names results/<suite>/, reports/<suite>/
  char *title;
  Settings defaults;
  ModelDef *models;        int n_models;
  DatasetDef *datasets;    int n_datasets;
  Variant *rope;           int n_rope;
  Variant *cache;          int n_cache;
  Variant *train;          int n_train;
  Phase *phases;           int n_phases;
  ReportOptions report_options;
} Suite;

// A diagnostic: "FILE:LINE:COL: message" (LINE/COL omitted when mark is 0).
typedef struct {
  char *file;
  Mark mark;
  char *message;
} Diagnostic;

typedef struct {
  Diagnostic *errors;   int n_errors;
  Diagnostic *warnings; int n_warnings;
} Diagnostics;

// Parses and validates. Returns NULL when there is any error (diag->n_errors > 0). Warnings
// (missing model/dataset paths, ...) are collected either way. Diagnostics come sorted by position.
Suite *suite_load(const char *path, Diagnostics *diag);
// The same from memory: display_path names the file in diagnostics (and Suite.path), dir is the
// directory relative paths resolve against.
Suite *suite_load_buffer(const char *display_path, const char *dir, const char *text, size_t len,
                         Diagnostics *diag);
void suite_free(Suite *s);
void diagnostics_free(Diagnostics *d);
// Prints "bench: error: FILE:LINE:COL: message" (and "bench: warning: ...") lines to out.
void diagnostics_print(const Diagnostics *d, FILE *out);

// Lookups (NULL when absent; suite_lookup.c).
const ModelDef *suite_model(const Suite *s, const char *name);
const DatasetDef *suite_dataset(const Suite *s, const char *name);
const Variant *suite_rope(const Suite *s, const char *name);
const Variant *suite_cache(const Suite *s, const char *name);
const Variant *suite_train(const Suite *s, const char *name);
const Param *variant_param(const Variant *v, const char *key);
const Phase *suite_phase(const Suite *s, const char *id);
// Members of a variant: the product of its swept parameters' sizes (1 when nothing is swept);
// member k (0 ≤ k < that) takes, per parameter, the value of index variant_member_indices(v, k)
// gives: mixed radix over the swept parameters in file order, the last one varying fastest.
int variant_n_members(const Variant *v);
void variant_member_indices(const Variant *v, int member, int *idx);  // idx[v->n_params]
// The value member `member` takes for parameter index p.
const ParamValue *variant_member_value(const Variant *v, int p, int member);
// A member's name: v's name when nothing is swept, else `name[key=value,...]`, the swept parameters
// in file order with their values as written (caller frees).
char *variant_member_name(const Variant *v, int member);
// Whether the member of v given by value_index (per param: the index of its value, [n_params];
// NULL for all zeros) is selected by `selector`: v's name, or `name[key=value,...]` with each
// value equal to that member's (numbers compare by value).
int variant_member_matches(const Variant *v, const int *value_index, const char *selector);

#endif
