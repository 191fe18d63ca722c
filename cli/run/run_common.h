// run_common.h — what `bench run` (cmd_run.c) and `bench submit` (cmd_submit.c) share before any
// job starts: the command line as typed, option values, the suite made ready to run (loaded,
// expanded, selected, every path it uses checked), and which jobs already have an ok result.
#ifndef BENCH_RUN_COMMON_H
#define BENCH_RUN_COMMON_H

#include <stddef.h>

#include "plan_estimate.h"
#include "run_plan.h"
#include "suite.h"

// "bench ARG .." with each argument quoted for a POSIX shell where it needs it (caller frees): the
// command that reproduces a run, for logs, manifests and lock files.
char *command_text(int argc, char **argv);

// When argv[*i] is one of the n options in takes[] (each takes a value): *val = argv[*i + 1] and
// *i moves past it; otherwise *val = NULL. -1 after a usage error when the value is missing.
int option_value(int argc, char **argv, int *i, const char *const *takes, size_t n,
                 const char **val);

// Every model and dataset path the selected jobs use (a training recipe's data and tokenizer
// model included) that does not exist: one error line each with the suite position, then
// "N missing paths; OUTCOME". 0 when none is missing, else -1.
int check_missing_paths(const Suite *s, const RunSelection *sel, const char *outcome);

// A suite made ready to run: loaded, expanded into its matrix, the models' shapes read (for the
// costs and warnings), the jobs of the phases in only[n_only] (all when 0) and of shard shard_i of
// shard_n (all when 0) selected in run order.
typedef struct {
  Suite *suite;
  Matrix mx;
  int expanded;        // mx holds the matrix
  ModelShape *shapes;  // [suite->n_models]
  RunSelection sel;
  StrList warnings;    // the suite's warnings (but missing paths: errors here), the matrix's notes,
                       // model configs that cannot be read
} RunPrep;

// Loads and expands the suite, checks --only's phases (with a did-you-mean) and that every path
// the selected jobs use exists (check_missing_paths with outcome). EXIT_OK, or EXIT_BAD_INPUT with
// the errors printed; run_prep_free either way.
int run_prepare(const char *suite_path, char *const *only, int n_only, int shard_i, int shard_n,
                const char *outcome, RunPrep *p);
void run_prep_free(RunPrep *p);

#endif
