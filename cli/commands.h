// commands.h — one entry point per subcommand (cli/cmd_<name>.c), the dispatch table and the
// command line's one error function.
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
  CommandFn fn;
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
// Prints "bench: error: MESSAGE" on stderr, the one way the command line reports an error;
// returns EXIT_BAD_INPUT.
int cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
// The version string (also in manifests).
extern const char BENCH_VERSION[];

int cmd_run(int argc, char **argv);
int cmd_plan(int argc, char **argv);
int cmd_validate(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_compare(int argc, char **argv);
int cmd_submit(int argc, char **argv);
int cmd_rope(int argc, char **argv);
int cmd_init_model(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_doctor(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_version(int argc, char **argv);
int cmd_help(int argc, char **argv);
// What `--help` prints after the usage line (options, examples), for the commands that say more.
extern const char cmd_run_help[], cmd_status_help[], cmd_submit_help[], cmd_init_model_help[],
    cmd_inspect_help[], cmd_doctor_help[], cmd_plan_help[];

#endif
