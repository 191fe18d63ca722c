// commands.h — one entry point per subcommand (cli/cmd_<name>.c) and the dispatch table.
// Each command takes argv with argv[0] = the command name, returns the process exit code:
// 0 success, 1 some jobs failed, 2 bad input or usage.
#ifndef BENCH_COMMANDS_H
#define BENCH_COMMANDS_H

#include <stdio.h>

#define EXIT_OK 0
#define EXIT_JOBS_FAILED 1
#define EXIT_BAD_INPUT 2

typedef int (*CommandFn)(int argc, char **argv);

typedef struct {
  const char *name;
  CommandFn fn;         // NULL: not built yet (weak symbol not linked)
  const char *usage;    // one line, after "bench "
  const char *summary;  // one line
  const char *help;     // detail printed by --help (may be NULL)
} Command;

extern const Command COMMANDS[];
extern const int N_COMMANDS;
const Command *find_command(const char *name);
// Prints "usage: bench <usage>" and the help text of a command.
void print_command_help(const Command *c, FILE *out);
// True when argv holds --help or -h (commands call this first).
int wants_help(int argc, char **argv);
// The version string (also in manifests).
extern const char BENCH_VERSION[];

// Declared weak: a command is built when its cli/cmd_<name>.c is linked in; until then its
// pointer is NULL and the dispatcher says "not built yet". Adding a command never edits main.c.
#define BENCH_COMMAND_FN(name) int name(int argc, char **argv) __attribute__((weak))
BENCH_COMMAND_FN(cmd_run);
BENCH_COMMAND_FN(cmd_plan);
BENCH_COMMAND_FN(cmd_validate);
BENCH_COMMAND_FN(cmd_status);
BENCH_COMMAND_FN(cmd_report);
BENCH_COMMAND_FN(cmd_compare);
BENCH_COMMAND_FN(cmd_submit);
BENCH_COMMAND_FN(cmd_rope);
BENCH_COMMAND_FN(cmd_init_model);
BENCH_COMMAND_FN(cmd_inspect);
BENCH_COMMAND_FN(cmd_tokenize);
// A command may also define `const char cmd_<name>_help[]`: the text `--help` prints after the
// usage line (options, examples). Weak too, so it is optional.
#define BENCH_COMMAND_HELP(name) extern const char name[] __attribute__((weak))
BENCH_COMMAND_HELP(cmd_run_help);
BENCH_COMMAND_HELP(cmd_plan_help);
BENCH_COMMAND_HELP(cmd_validate_help);
BENCH_COMMAND_HELP(cmd_status_help);
BENCH_COMMAND_HELP(cmd_report_help);
BENCH_COMMAND_HELP(cmd_compare_help);
BENCH_COMMAND_HELP(cmd_submit_help);
BENCH_COMMAND_HELP(cmd_rope_help);
BENCH_COMMAND_HELP(cmd_init_model_help);
BENCH_COMMAND_HELP(cmd_inspect_help);
BENCH_COMMAND_HELP(cmd_tokenize_help);
int cmd_version(int argc, char **argv);
int cmd_help(int argc, char **argv);

#endif
