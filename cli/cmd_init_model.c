// cmd_init_model.c — `bench init-model DIR --arch ARCH [options]`: writes a random, complete
// Hugging Face checkpoint (config.json, generation_config.json, safetensors weights, byte-level
// tokenizer.json) so tests and benchmarks need no download.
//
// Options (defaults: model_init.h's init_model_defaults):
//   --arch llama|qwen2|mistral|gpt_neox   --layers N   --hidden C   --heads H   --kv-heads K
//   --intermediate F   --vocab V   --max-positions P   --rope-theta T   --rotary-pct X (gpt_neox)
//   --rope-scaling JSON   --sliding-window W   --tie-embeddings 0|1   --dtype fp32|bf16|fp16
//   --seed S   --shards N   --config-style 4|5   --merges M   --force (write into a non-empty DIR)
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "model_init.h"

static const char *const OPTIONS[] = {
    "--arch", "--layers", "--hidden", "--heads", "--kv-heads", "--intermediate", "--vocab",
    "--max-positions", "--rope-theta", "--rotary-pct", "--rope-scaling", "--sliding-window",
    "--tie-embeddings", "--dtype", "--seed", "--shards", "--config-style", "--merges", "--force"};
#define N_OPTIONS ((int)(sizeof OPTIONS / sizeof OPTIONS[0]))

const char cmd_init_model_help[] =
    "options (small defaults: 2 layers, hidden 64, 4 heads, vocab 512):\n"
    "  --arch llama|qwen2|mistral|gpt_neox  architecture (required)\n"
    "  --layers N  --hidden C  --heads H  --kv-heads K  --intermediate F  --vocab V\n"
    "  --max-positions P  --rope-theta T  --rotary-pct X (gpt_neox)  --rope-scaling JSON\n"
    "  --sliding-window W  --tie-embeddings 0|1  --dtype fp32|bf16|fp16  --seed S\n"
    "  --shards N  --config-style 4|5 (transformers 4.x or 5.x config spelling)  --merges M\n"
    "  --force     write into a non-empty DIR (old weight files there are removed)\n"
    "\nexample (an 8B Llama-3 shape for GPU benchmarks):\n"
    "  bench init-model /data/llama8b-random --arch llama --layers 32 --hidden 4096 --heads 32 \\\n"
    "      --kv-heads 8 --intermediate 14336 --vocab 128256 --rope-theta 500000 --dtype bf16\n";

static int parse_long(const char *opt, const char *s, long lo, long hi, long *out) {
  BenchErr err;
  if (parse_int_range(s, lo, hi, out, &err) == 0) return 0;
  cli_usage_error("%s: %s", opt, err.msg);
  return -1;
}

static int parse_double(const char *opt, const char *s, double *out) {
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (errno || end == s || *end) {
    cli_usage_error("%s '%s' is not a number", opt, s);
    return -1;
  }
  *out = v;
  return 0;
}

static int parse_arch(const char *s, Arch *out) {
  static const struct { const char *name; Arch a; } archs[] = {
      {"llama", ARCH_LLAMA}, {"mistral", ARCH_MISTRAL}, {"qwen2", ARCH_QWEN2}, {"gpt_neox", ARCH_GPT_NEOX}};
  for (int i = 0; i < 4; i++)
    if (strcmp(s, archs[i].name) == 0) {
      *out = archs[i].a;
      return 0;
    }
  return -1;
}

static void human_bytes(uint64_t b, char *out, size_t cap) {
  if (b >= (1ull << 30)) snprintf(out, cap, "%.2f GiB", b / 1073741824.0);
  else if (b >= (1ull << 20)) snprintf(out, cap, "%.2f MiB", b / 1048576.0);
  else snprintf(out, cap, "%.1f KiB", b / 1024.0);
}

int cmd_init_model(int argc, char **argv) {
  const char *dir = NULL, *arch_s = NULL;
  // First pass: the directory and the architecture, which set the defaults.
  int force = 0;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--arch") == 0 && i + 1 < argc) arch_s = argv[++i];
    else if (strcmp(argv[i], "--force") == 0) force = 1;
    else if (strncmp(argv[i], "--", 2) == 0) i++;
    else if (!dir) dir = argv[i];
    else return cli_usage_error("unexpected argument '%s'", argv[i]);
  }
  if (!dir) return cli_usage_error("init-model needs a directory: bench init-model DIR --arch ARCH");
  if (!arch_s) return cli_usage_error("init-model needs --arch llama|qwen2|mistral|gpt_neox");
  Arch arch;
  if (parse_arch(arch_s, &arch) != 0)
    return cli_usage_error("unknown architecture '%s' (llama, qwen2, mistral or gpt_neox)", arch_s);
  InitModelSpec s;
  init_model_defaults(&s, arch);
  s.overwrite = force;
  int kv_given = 0;

  for (int i = 1; i < argc; i++) {
    const char *opt = argv[i];
    if (strncmp(opt, "--", 2) != 0 || strcmp(opt, "--force") == 0) continue;  // the directory
    int known = 0;
    for (int k = 0; k < N_OPTIONS && !known; k++) known = strcmp(opt, OPTIONS[k]) == 0;
    if (!known) {
      const char *guess = closest_name(opt, OPTIONS, N_OPTIONS);
      if (guess) return cli_usage_error("unknown option '%s' (did you mean '%s'?)", opt, guess);
      return cli_usage_error("unknown option '%s'; 'bench init-model --help' lists them", opt);
    }
    if (i + 1 >= argc) return cli_usage_error("%s needs a value", opt);
    const char *v = argv[++i];
    long n = 0;
    int rc = 0;
    if (strcmp(opt, "--arch") == 0) continue;
    else if (strcmp(opt, "--layers") == 0) { rc = parse_long(opt, v, 1, 4096, &n); s.n_layers = (int)n; }
    else if (strcmp(opt, "--hidden") == 0) { rc = parse_long(opt, v, 1, 1 << 18, &n); s.hidden_size = (int)n; }
    else if (strcmp(opt, "--heads") == 0) { rc = parse_long(opt, v, 1, 1 << 14, &n); s.n_heads = (int)n; }
    else if (strcmp(opt, "--kv-heads") == 0) { rc = parse_long(opt, v, 1, 1 << 14, &n); s.n_kv_heads = (int)n; kv_given = 1; }
    else if (strcmp(opt, "--intermediate") == 0) { rc = parse_long(opt, v, 1, 1 << 22, &n); s.intermediate_size = (int)n; }
    else if (strcmp(opt, "--vocab") == 0) { rc = parse_long(opt, v, 257, 1 << 24, &n); s.vocab_size = (int)n; }
    else if (strcmp(opt, "--max-positions") == 0) { rc = parse_long(opt, v, 1, 1L << 40, &n); s.max_position_embeddings = n; }
    else if (strcmp(opt, "--rope-theta") == 0) rc = parse_double(opt, v, &s.rope_theta);
    else if (strcmp(opt, "--rotary-pct") == 0) rc = parse_double(opt, v, &s.rotary_pct);
    else if (strcmp(opt, "--rope-scaling") == 0) s.rope_scaling_json = v;
    else if (strcmp(opt, "--sliding-window") == 0) { rc = parse_long(opt, v, 0, INT32_MAX, &n); s.sliding_window = (int)n; }
    else if (strcmp(opt, "--tie-embeddings") == 0) { rc = parse_long(opt, v, 0, 1, &n); s.tie_word_embeddings = (int)n; }
    else if (strcmp(opt, "--seed") == 0) {
      char *end;
      errno = 0;
      unsigned long long seed = strtoull(v, &end, 10);
      if (errno || end == v || *end || v[0] == '-')
        return cli_usage_error("--seed '%s' must be a non-negative integer", v);
      s.seed = seed;
    }
    else if (strcmp(opt, "--shards") == 0) { rc = parse_long(opt, v, 1, 99999, &n); s.n_shards = (int)n; }
    else if (strcmp(opt, "--config-style") == 0) { rc = parse_long(opt, v, 4, 5, &n); s.config_style = (int)n; }
    else if (strcmp(opt, "--merges") == 0) { rc = parse_long(opt, v, 0, 3000, &n); s.max_merges = (int)n; }
    else if (strcmp(opt, "--dtype") == 0) {
      if (strcmp(v, "fp32") == 0) s.dtype = DTYPE_F32;
      else if (strcmp(v, "bf16") == 0) s.dtype = DTYPE_BF16;
      else if (strcmp(v, "fp16") == 0) s.dtype = DTYPE_F16;
      else return cli_usage_error("--dtype '%s' must be fp32, bf16 or fp16", v);
    }
    if (rc != 0) return EXIT_BAD_INPUT;
  }
  // With --heads but no --kv-heads, keep the default's ratio (GPT-NeoX: equal).
  if (!kv_given) s.n_kv_heads = arch == ARCH_GPT_NEOX || s.n_heads % 2 ? s.n_heads : s.n_heads / 2;

  BenchErr err;
  if (init_model_check(&s, &err) != 0) return cli_usage_error("%s", err.msg);
  InitModelResult r;
  double t0 = mono_time();
  if (init_model_write(dir, &s, &r, &err) != 0) return cli_usage_error("%s", err.msg);
  char size[32];
  human_bytes(r.weight_bytes, size, sizeof size);
  int D = s.hidden_size / s.n_heads;
  printf("wrote %s: %s, %d layers, hidden %d, %d heads (%d kv, head dim %d), intermediate %d, vocab %d\n",
         dir, arch_name(arch), s.n_layers, s.hidden_size, s.n_heads, s.n_kv_heads, D,
         s.intermediate_size, s.vocab_size);
  printf("  %llu parameters, %s, seed %llu, rope theta %g, max positions %ld%s\n",
         (unsigned long long)r.n_params, dtype_name(s.dtype), (unsigned long long)s.seed,
         s.rope_theta, s.max_position_embeddings, s.tie_word_embeddings ? ", tied embeddings" : "");
  printf("  config.json (transformers %d.x spelling), generation_config.json\n", s.config_style);
  if (r.n_shards == 1) printf("  model.safetensors (%s)\n", size);
  else printf("  %d shards model-*-of-%05d.safetensors + model.safetensors.index.json (%s)\n",
              r.n_shards, r.n_shards, size);
  printf("  tokenizer.json (256 bytes + %d merges, <|endoftext|> = %d), tokenizer_config.json\n",
         r.n_merges, r.eot_id);
  printf("  in %.1f s\n", mono_time() - t0);
  return EXIT_OK;
}
