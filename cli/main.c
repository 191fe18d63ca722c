// main.c — `bench COMMAND ...`: looks the command up in the dispatch table and runs it.
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "cpu_env.h"
#include "util.h"

#ifndef BENCH_GIT_COMMIT
#define BENCH_GIT_COMMIT "unknown"
#endif

const char BENCH_VERSION[] = "0.1.0";

const Command COMMANDS[] = {
    {"run", cmd_run,
     "run SUITE [--only PHASE[,PHASE]] [--device auto|cpu|cuda[:N]] [--devices 0,1,..] "
     "[--shard I/N] [--results DIR] [--reports DIR] [--fresh] [--dry-run]",
     "run every job of a suite (resumes by default) and write the report", cmd_run_help},
    {"plan", cmd_plan, "plan SUITE [--device auto|cpu|cuda[:N]] [--json]",
     "show the expanded job matrix: phases, jobs, ids, cost estimate, warnings", cmd_plan_help},
    {"validate", cmd_validate, "validate SUITE", "parse and check a suite; errors name file:line:col", NULL},
    {"status", cmd_status, "status RESULTS_DIR", "done/total, running job, failures, ETA of a run", cmd_status_help},
    {"report", cmd_report, "report RESULTS_DIR [--reports DIR]",
     "(re)generate REPORT.md and figures from stored results", NULL},
    {"compare", cmd_compare, "compare DIR_A DIR_B [--tol PCT]",
     "relative differences of the same jobs run on two machines or versions", NULL},
    {"submit", cmd_submit, "submit SUITE --slurm [...]",
     "submit a suite as a Slurm job array plus a dependent report step", cmd_submit_help},
    {"rope", cmd_rope, "rope SUITE VARIANT [--head-dim D] [--length L] [--json]",
     "print a RoPE variant's frequencies, positions and attention scale", NULL},
    {"init-model", cmd_init_model,
     "init-model DIR --arch llama|qwen2|mistral|gpt_neox [--layers N] [--seed S] [...]",
     "write a random, complete Hugging Face checkpoint", cmd_init_model_help},
    {"doctor", cmd_doctor, "doctor [--device cuda[:N]] [--dtype LIST] [--kernels LIST] [--data FILE] [MODEL_DIR ...]",
     "check a GPU against the CPU engine: kernels, the quickstart model, each model's weights",
     cmd_doctor_help},
    {"inspect", cmd_inspect, "inspect MODEL_DIR",
     "validate a checkpoint and print its architecture, parameters, dtype and RoPE", cmd_inspect_help},
    {"tokenize", cmd_tokenize, "tokenize MODEL_DIR|tokenizer.json [FILE] [--bos] [--jsonl] [--stats]",
     "print the token ids of FILE (or stdin) as a JSON array", NULL},
    {"version", cmd_version, "version", "print the version", NULL},
    {"help", cmd_help, "help [COMMAND]", "list the commands or describe one", NULL},
};
const int N_COMMANDS = (int)(sizeof COMMANDS / sizeof COMMANDS[0]);

const Command *find_command(const char *name) {
  for (int i = 0; i < N_COMMANDS; i++)
    if (strcmp(COMMANDS[i].name, name) == 0) return &COMMANDS[i];
  return NULL;
}

int wants_help(int argc, char **argv) {
  for (int i = 1; i < argc; i++)
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) return 1;
  return 0;
}

void print_command_help(const Command *c, FILE *out) {
  fprintf(out, "usage: bench %s\n\n%s\n", c->usage, c->summary);
  if (c->help) fprintf(out, "\n%s", c->help);
}

static void print_overview(FILE *out) {
  fprintf(out, "usage: bench COMMAND [ARGS]\n\nlong-context language-model benchmark runner\n\n");
  for (int i = 0; i < N_COMMANDS; i++)
    fprintf(out, "  %-11s %s\n", COMMANDS[i].name, COMMANDS[i].summary);
  fprintf(out, "\n'bench help COMMAND' or 'bench COMMAND --help' describes one.\n");
}

int cmd_version(int argc, char **argv) {
  (void)argc;
  (void)argv;
  printf("bench %s (commit %s", BENCH_VERSION, BENCH_GIT_COMMIT);
#ifdef BENCH_CUDA
  printf(", cuda");
#else
  printf(", cpu only");
#endif
  printf(")\n");
  return EXIT_OK;
}

int cmd_help(int argc, char **argv) {
  if (argc < 2) {
    print_overview(stdout);
    return EXIT_OK;
  }
  const Command *c = find_command(argv[1]);
  if (!c) return cli_usage_error("unknown command '%s'", argv[1]);
  print_command_help(c, stdout);
  return EXIT_OK;
}

int main(int argc, char **argv) {
  cpu_env_apply(argv);  // threads asleep, BLAS kernels for this CPU (unless set): re-executes once
  if (argc < 2) {
    print_overview(stderr);
    return EXIT_BAD_INPUT;
  }
  if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) return cmd_help(1, argv);
  if (strcmp(argv[1], "--version") == 0) return cmd_version(1, argv);
  const Command *c = find_command(argv[1]);
  if (!c) {
    const char *names[64];
    for (int i = 0; i < N_COMMANDS; i++) names[i] = COMMANDS[i].name;
    const char *guess = closest_name(argv[1], names, N_COMMANDS);
    if (guess) return cli_usage_error("unknown command '%s' (did you mean '%s'?)", argv[1], guess);
    return cli_usage_error("unknown command '%s'; 'bench help' lists them", argv[1]);
  }
  if (wants_help(argc - 1, argv + 1)) {
    print_command_help(c, stdout);
    return EXIT_OK;
  }
  return c->fn(argc - 1, argv + 1);
}
