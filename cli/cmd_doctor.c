// cmd_doctor.c — `bench doctor [--device cuda[:N]] [--dtype LIST] [--kernels LIST] [--data FILE]
// [MODEL_DIR ...]`: checks one GPU against the CPU engine (doctor.h) and prints the table: one row
// per check (ok or FAIL, the part, the check, its numbers and bound), then one summary line.
// Always checks afresh and refreshes the cache `bench run` reads.
// Exit status: 0 the check passed, or no GPU to check (nothing was asked of one: --device not
// given); 1 some row failed; 2 bad usage, or --device names a GPU that is not there.
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "device.h"
#include "doctor.h"
#include "run_common.h"

const char cmd_doctor_help[] =
    "Checks one GPU against the CPU engine, in three parts, one table row per check:\n"
    "  1. kernels  every CUDA kernel family against its CPU twin, random data at small shapes\n"
    "              (conversions and gathers bit for bit; sums within bounds derived from the\n"
    "              unit roundoff, each row stating its bound)\n"
    "  2. engine   the CUDA engine against the CPU engine on the shipped models/quickstart over\n"
    "              data/kjv/valid.txt, one 128-token window per case: chunks, random (yarn),\n"
    "              sliding, half, decode with the full, streaming and h2o caches; fp32 (PPL rel\n"
    "              and max |dNLL| <= 1e-3) and bf16 (PPL rel <= 4u, u = 2^-8)\n"
    "  3. model    each MODEL_DIR's own weights: the first 256 tokens of --data (bench run: the\n"
    "              dataset that model's jobs run on; data/kjv/valid.txt when it is too short or\n"
    "              cannot be read, and the row says so) through the CUDA engine in each --dtype\n"
    "              and the CPU engine in fp32; per-token NLLs compared: max |dNLL| <= 64u and\n"
    "              |mean dNLL| <= 4u (u: bf16 2^-8, fp16 2^-11; fp32 1e-3)\n"
    "              Cost: models over 2e9 parameters are probed on 128 tokens. The CPU side holds\n"
    "              the whole model in fp32 (4 bytes per parameter: 32 GB of RAM for 8B, which\n"
    "              the host must have) and computes 2 x params x tokens, 2.1 TFLOP for 8B.\n"
    "              Measured on a 1.2B Llama-3 shape: about 22 GFLOP/s per core and 5 core-s\n"
    "              of loading per 1e9 parameters; so an 8B model costs about 95 core-s of forward\n"
    "              and 45 of loading: under a minute on 16 cores with its weights in RAM\n"
    "options:\n"
    "  --device cuda[:N]  the GPU to check (default cuda:0)\n"
    "  --dtype LIST       dtypes of part 3, comma-separated (default bf16)\n"
    "  --data FILE        the text of part 3 (.txt, .jsonl, .bin; default data/kjv/valid.txt)\n"
    "  --kernels LIST     part 1 for these kernel families only (convert, matmul, norms, embedding,\n"
    "                     rope, attention, flash, dispatch, elementwise, lm_head, kv, failures);\n"
    "                     such a partial check is cached for `bench run` only when it fails\n"
    "A row reads: ok or FAIL, the part, what was compared (kernel, dtype, shape), then the worst\n"
    "difference and its bound; a FAIL row gives the first failing index with reference and value.\n"
    "`bench run` runs parts 1-2 and part 3 for each model it will run on a GPU before the first job\n"
    "there, and reuses an outcome cached per (GPU name and UUID, NVIDIA driver, CUDA driver and\n"
    "runtime, bench build, model and dtype): another card, even of the same model, is checked anew.\n"
    "Without a GPU it says so and what it would check.\n"
    "Exit status: 0 passed (or no GPU and no --device), 1 a check failed, 2 bad usage or no such GPU.\n";

int cmd_doctor(int argc, char **argv) {
  const char *device = NULL, *dtypes = "bf16", *kernels = NULL, *data = NULL;
  const char **dirs = xcalloc((size_t)argc + 1, sizeof *dirs);
  char *dtype_copy = NULL;
  int n_dirs = 0, rc = EXIT_BAD_INPUT;
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i], *val;
    static const char *const TAKES[] = {"--device", "--dtype", "--kernels", "--data"};
    if (option_value(argc, argv, &i, TAKES, 4, &val) != 0) goto out;
    if (strcmp(arg, "--device") == 0) device = val;
    else if (strcmp(arg, "--data") == 0) data = val;
    else if (strcmp(arg, "--kernels") == 0) kernels = val;
    else if (strcmp(arg, "--dtype") == 0) dtypes = val;
    else if (argv[i][0] == '-' && argv[i][1]) {
      cli_usage_error("unknown option '%s' for 'doctor'", argv[i]);
      goto out;
    } else dirs[n_dirs++] = argv[i];
  }
  int gpu = 0;
  if (device) {
    if (strcmp(device, "cuda") == 0) gpu = 0;
    else if (strncmp(device, "cuda:", 5) == 0 && device[5] >= '0' && device[5] <= '9') gpu = atoi(device + 5);
    else {
      cli_usage_error("--device: '%s' is not a GPU (cuda or cuda:N)", device);
      goto out;
    }
  }
  char *dtype_list[8];
  int n_dt = 0;
  dtype_copy = xstrdup(dtypes);
  for (char *save = NULL, *tok = strtok_r(dtype_copy, ",", &save); tok && n_dt < 8;
       tok = strtok_r(NULL, ",", &save)) {
    if (strcmp(tok, "bf16") && strcmp(tok, "fp16") && strcmp(tok, "fp32")) {
      cli_usage_error("--dtype: '%s' is not bf16, fp16 or fp32", tok);
      goto out;
    }
    dtype_list[n_dt++] = tok;
  }
  if (n_dirs * n_dt > DOCTOR_MAX_MODELS) {
    cli_usage_error("at most %d (model, dtype) pairs per check", DOCTOR_MAX_MODELS);
    goto out;
  }
  int n_gpus = device_gpu_count();
  if (n_gpus == 0 || gpu >= n_gpus) {
    if (n_gpus == 0)
      printf("bench doctor: no CUDA GPU found (this bench was built with backends: %s).\n",
             device_backends_built());
    else
      printf("bench doctor: %s does not exist: %d GPU%s found.\n", device, n_gpus, n_gpus == 1 ? "" : "s");
    printf("On a GPU it would check, against the CPU engine:\n"
           "  1. kernels  every CUDA kernel family against its CPU twin at small shapes\n"
           "  2. engine   the CUDA engine on models/quickstart: every protocol, the streaming and h2o\n"
           "              caches, fp32 and bf16\n"
           "  3. model    each MODEL_DIR given (%d) on its own weights, per-token NLL in %s over the\n"
           "              first tokens of %s\n"
           "Jobs run on the CPU here; nothing was checked.\n", n_dirs, dtypes, data ? data : "data/kjv/valid.txt");
    rc = device ? EXIT_BAD_INPUT : EXIT_OK;
    goto out;
  }
  DoctorModel models[DOCTOR_MAX_MODELS];
  int n_models = 0;
  for (int i = 0; i < n_dirs; i++) {
    const char *base = strrchr(dirs[i], '/');
    while (base && base[1] == 0 && base > dirs[i]) base = NULL;  // "dir/": the whole path names it
    for (int d = 0; d < n_dt; d++)
      models[n_models++] = (DoctorModel){base ? base + 1 : dirs[i], dirs[i], dtype_list[d], .data = data};
  }
  DoctorRequest rq = {.gpu = gpu, .models = models, .n_models = n_models, .use_cache = 0, .kernels = kernels,
                      .out = stdout};
  setvbuf(stdout, NULL, _IOLBF, 0);
  printf("bench doctor: cuda:%d against the CPU engine (bench %s)\n", gpu, BENCH_GIT_COMMIT);
  DoctorOutcome o;
  BenchErr err;
  if (doctor_check_gpu(&rq, &o, &err) != 0) {
    rc = cli_usage_error("%s", err.msg);
    goto out;
  }
  printf("\nGPU check of cuda:%d (%s): %s\n", gpu, o.gpu_name, o.summary);
  if (!o.passed && o.first_fail[0]) printf("first failure: %s\n", o.first_fail);
  rc = o.passed ? EXIT_OK : EXIT_JOBS_FAILED;
out:
  free(dtype_copy);
  free(dirs);
  return rc;
}
