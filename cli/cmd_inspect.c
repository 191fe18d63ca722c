// cmd_inspect.c — `bench inspect MODEL_DIR [--json]`: validates config.json and every safetensors
// header (each tensor's presence, shape and dtype; no weights converted), then prints the
// architecture, sizes, parameter count, dtype, native RoPE, max positions, tokenizer, fingerprint.
// Exit 2 with the error when anything is wrong, what the engine would refuse at run time included:
// a rope_scaling it cannot build, a missing or broken tokenizer.json (each named by its file). Tensors holding NaN or ±Inf values are a warning
// on stderr (and "nonfinite_weights" in --json): the checkpoint loads, but its NLLs will not be
// finite.
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "model.h"
#include "tokenizer.h"
#include "weights_check.h"

const char cmd_inspect_help[] =
    "options:\n"
    "  --json   print the same facts as one JSON object\n"
    "exit 0 when every header and tensor shape agrees with config.json, the rope_scaling is one\n"
    "the engine builds and tokenizer.json loads; 2 otherwise;\n"
    "tensors holding NaN or Inf values are a warning\n";

// The scaling object's type ("rope_type" or the older "type") and its other fields as JSON.
static json_t *scaling_object(const ModelConfig *c) {
  if (!c->rope_scaling_json) return json_null();
  json_t *j = json_loads(c->rope_scaling_json, 0, NULL);
  return j ? j : json_null();
}

static const char *scaling_type(json_t *s) {
  json_t *t = json_object_get(s, "rope_type");
  if (!t) t = json_object_get(s, "type");
  return json_is_string(t) ? json_string_value(t) : "unnamed";
}

static json_t *to_json(const Model *m) {
  const ModelConfig *c = &m->config;
  json_t *rope = json_pack("{s:f, s:i, s:f, s:o}", "theta", c->rope_theta, "rotary_dims", c->rotary_dims,
                           "partial_rotary_factor", c->partial_rotary_factor, "scaling", scaling_object(c));
  json_t *j = json_object();
  json_object_set_new(j, "dir", json_string(m->dir));
  json_object_set_new(j, "architecture", json_string(c->architecture));
  json_object_set_new(j, "arch", json_string(arch_name(c->arch)));
  json_object_set_new(j, "layers", json_integer(c->n_layers));
  json_object_set_new(j, "hidden", json_integer(c->hidden_size));
  json_object_set_new(j, "heads", json_integer(c->n_heads));
  json_object_set_new(j, "kv_heads", json_integer(c->n_kv_heads));
  json_object_set_new(j, "head_dim", json_integer(c->head_dim));
  json_object_set_new(j, "intermediate", json_integer(c->intermediate_size));
  json_object_set_new(j, "vocab", json_integer(c->vocab_size));
  json_object_set_new(j, "parameters", json_integer((json_int_t)m->n_params));
  json_object_set_new(j, "dtype", json_string(dtype_name(c->dtype)));
  json_object_set_new(j, "files", json_integer(m->n_files));
  json_object_set_new(j, "file_bytes", json_integer((json_int_t)m->file_bytes));
  json_object_set_new(j, "rope", rope);
  json_object_set_new(j, "max_positions", json_integer(c->max_position_embeddings));
  json_object_set_new(j, "sliding_window", c->sliding_window ? json_integer(c->sliding_window) : json_null());
  json_object_set_new(j, "tie_word_embeddings", json_boolean(c->tie_word_embeddings));
  json_object_set_new(j, "norm", json_string(c->norm_is_layernorm ? "layernorm" : "rmsnorm"));
  json_object_set_new(j, "norm_eps", json_real(c->norm_eps));
  json_object_set_new(j, "parallel_residual", json_boolean(c->parallel_residual));
  json_object_set_new(j, "bos_token_id", c->bos_token_id >= 0 ? json_integer(c->bos_token_id) : json_null());
  json_object_set_new(j, "eos_token_id", c->eos_token_id >= 0 ? json_integer(c->eos_token_id) : json_null());
  json_object_set_new(j, "tokenizer", m->tokenizer_path ? json_string(m->tokenizer_path) : json_null());
  json_object_set_new(j, "fingerprint", json_string(m->fingerprint));
  return j;
}

static void print_text(const Model *m) {
  const ModelConfig *c = &m->config;
  printf("%-15s %s\n", "checkpoint", m->dir);
  printf("%-15s %s (%s)\n", "architecture", c->architecture, arch_name(c->arch));
  printf("%-15s %d\n", "layers", c->n_layers);
  printf("%-15s %d\n", "hidden", c->hidden_size);
  printf("%-15s %d (kv heads %d, head dim %d)\n", "heads", c->n_heads, c->n_kv_heads, c->head_dim);
  printf("%-15s %d (%s)\n", "intermediate", c->intermediate_size, c->mlp_is_gelu ? "gelu" : "swiglu");
  printf("%-15s %d%s\n", "vocab", c->vocab_size, c->tie_word_embeddings ? " (tied embeddings)" : "");
  double p = (double)m->n_params;
  printf("%-15s %zu (%.2f %s)\n", "parameters", m->n_params,
         p >= 1e9 ? p / 1e9 : p / 1e6, p >= 1e9 ? "B" : "M");
  double mib = m->file_bytes / 1048576.0;
  printf("%-15s %s (%d safetensors file%s, %.2f %s)\n", "dtype", dtype_name(c->dtype), m->n_files,
         m->n_files == 1 ? "" : "s", mib >= 1024 ? mib / 1024 : mib, mib >= 1024 ? "GiB" : "MiB");
  printf("%-15s theta %g, rotary dims %d of %d", "rope", c->rope_theta, c->rotary_dims, c->head_dim);
  json_t *s = scaling_object(c);
  if (json_is_object(s)) {
    json_t *rest = json_deep_copy(s);
    json_object_del(rest, "rope_type");
    json_object_del(rest, "type");
    json_object_del(rest, "rope_theta");
    char *params = json_dumps(rest, JSON_COMPACT | JSON_PRESERVE_ORDER);
    printf(", scaling %s %s\n", scaling_type(s), params ? params : "{}");
    free(params);
    json_decref(rest);
  } else {
    printf(", scaling none\n");
  }
  json_decref(s);
  printf("%-15s %ld\n", "max positions", c->max_position_embeddings);
  if (c->sliding_window)
    printf("%-15s %d (layers %d..%d)\n", "sliding window", c->sliding_window, c->sliding_window_from_layer,
           c->n_layers - 1);
  printf("%-15s %s, eps %g%s\n", "norm", c->norm_is_layernorm ? "layernorm" : "rmsnorm", c->norm_eps,
         c->parallel_residual ? ", parallel residual" : "");
  printf("%-15s %s\n", "tokenizer", m->tokenizer_path ? m->tokenizer_path : "none (no tokenizer.json)");
  printf("%-15s %s\n", "fingerprint", m->fingerprint);
}

// Warns on stderr about every tensor holding NaN/Inf values; their list as JSON.
static json_t *warn_nonfinite(const NonfiniteTensor *bad, int n) {
  json_t *list = json_array();
  for (int i = 0; i < n; i++) {
    fprintf(stderr, "bench: warning: tensor '%s' in '%s' holds %llu NaN/Inf value%s (the first at element %llu): "
            "its evaluations will be nonfinite\n", bad[i].tensor, bad[i].file, (unsigned long long)bad[i].count,
            bad[i].count == 1 ? "" : "s", (unsigned long long)bad[i].first);
    json_array_append_new(list, json_pack("{s:s,s:s,s:I,s:I}", "file", bad[i].file, "tensor", bad[i].tensor,
                                          "values", (json_int_t)bad[i].count, "first", (json_int_t)bad[i].first));
  }
  return list;
}

// What the engine refuses at run time, named by file: the checkpoint's rope_scaling (its type
// and parameters, as `rope: model` builds it) and the tokenizer.json every text dataset needs.
static int check_runnable(const char *dir, const Model *m, BenchErr *err) {
  char *config = path_join(dir, "config.json");
  int rc = model_check_rope(&m->config, err);
  if (rc != 0) err_prefix(err, "%s", config);
  free(config);
  if (rc != 0) return -1;
  if (!m->tokenizer_path) {
    char *tok = path_join(dir, "tokenizer.json");
    err_set(err, "%s: no such file: the checkpoint has no tokenizer to encode text datasets", tok);
    free(tok);
    return -1;
  }
  Tokenizer *t;
  if (tokenizer_load(m->tokenizer_path, &t, err) != 0) return -1;
  tokenizer_free(t);
  return 0;
}

int cmd_inspect(int argc, char **argv) {
  const char *dir = NULL;
  int as_json = 0;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--json") == 0) {
      as_json = 1;
    } else if (strncmp(argv[i], "--", 2) == 0) {
      return cli_usage_error("unknown option '%s' (inspect takes MODEL_DIR [--json])", argv[i]);
    } else if (!dir) {
      dir = argv[i];
    } else {
      return cli_usage_error("unexpected argument '%s'", argv[i]);
    }
  }
  if (!dir) {
    return cli_usage_error("inspect needs a model directory: bench inspect MODEL_DIR [--json]");
  }
  Model m;
  BenchErr err;
  if (model_inspect(dir, &m, &err) != 0) return cli_usage_error("%s", err.msg);
  NonfiniteTensor *bad;
  int n_bad;
  if (weights_nonfinite(dir, &bad, &n_bad, &err) != 0) {
    model_free(&m);
    return cli_usage_error("%s", err.msg);
  }
  if (check_runnable(dir, &m, &err) != 0) {
    nonfinite_tensors_free(bad, n_bad);
    model_free(&m);
    return cli_usage_error("%s", err.msg);
  }
  json_t *bad_json = warn_nonfinite(bad, n_bad);
  nonfinite_tensors_free(bad, n_bad);
  if (as_json) {
    json_t *j = to_json(&m);
    json_object_set(j, "nonfinite_weights", bad_json);
    char *text = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15));
    printf("%s\n", text);
    free(text);
    json_decref(j);
  } else {
    print_text(&m);
  }
  json_decref(bad_json);
  model_free(&m);
  return EXIT_OK;
}
