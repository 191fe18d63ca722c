// model_config.c — config.json of a Hugging Face causal LM → ModelConfig, validated.
// Legend: V vocab, C hidden, L layers, H query heads, K kv heads, D head dim, F intermediate,
//         R rotary dims.
//
// Both transformers spellings are read (see model.h). Defaults for absent keys are those of the
// transformers config class of the architecture, so a config.json that omits a key means what
// transformers would make of it.
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "json_file.h"

#define CONFIG_MAX_BYTES (16u << 20)

static const struct {
  const char *architecture, *model_type;
  Arch arch;
} ARCHS[] = {
    {"LlamaForCausalLM", "llama", ARCH_LLAMA},
    {"MistralForCausalLM", "mistral", ARCH_MISTRAL},
    {"Qwen2ForCausalLM", "qwen2", ARCH_QWEN2},
    {"GPTNeoXForCausalLM", "gpt_neox", ARCH_GPT_NEOX},
};
#define N_ARCHS ((int)(sizeof ARCHS / sizeof ARCHS[0]))

const char *arch_name(Arch a) {
  for (int i = 0; i < N_ARCHS; i++)
    if (ARCHS[i].arch == a) return ARCHS[i].model_type;
  return "unknown";
}

// ---- typed getters: absent or null → default; a wrong type or range is an error ----
typedef struct {
  const char *label;
  json_t *root;
  BenchErr *err;
} Cfg;

static int get_long(Cfg *c, json_t *obj, const char *key, long def, long lo, long hi, long *out) {
  json_t *v = json_object_get(obj, key);
  if (!v || json_is_null(v)) {
    *out = def;
    return 0;
  }
  // Integral reals ("4096.0") are accepted as Python's json would keep them distinct but
  // transformers casts them; fractional ones are not.
  double d;
  if (json_is_integer(v)) d = (double)json_integer_value(v);
  else if (json_is_real(v) && json_real_value(v) == floor(json_real_value(v))) d = json_real_value(v);
  else return err_set(c->err, "%s: '%s' must be an integer", c->label, key);
  if (d < (double)lo || d > (double)hi)
    return err_set(c->err, "%s: '%s' is %.0f, expected %ld..%ld", c->label, key, d, lo, hi);
  *out = (long)d;
  return 0;
}

static int get_int(Cfg *c, json_t *obj, const char *key, long def, long lo, long hi, int *out) {
  long v;
  if (get_long(c, obj, key, def, lo, hi, &v) != 0) return -1;
  *out = (int)v;
  return 0;
}

static int get_double(Cfg *c, json_t *obj, const char *key, double def, double lo, double hi,
                      double *out) {
  json_t *v = json_object_get(obj, key);
  if (!v || json_is_null(v)) {
    *out = def;
    return 0;
  }
  if (!json_is_number(v)) return err_set(c->err, "%s: '%s' must be a number", c->label, key);
  double d = json_number_value(v);
  if (!(d >= lo && d <= hi))
    return err_set(c->err, "%s: '%s' is %g, expected %g..%g", c->label, key, d, lo, hi);
  *out = d;
  return 0;
}

static int get_bool(Cfg *c, const char *key, int def, int *out) {
  json_t *v = json_object_get(c->root, key);
  if (!v || json_is_null(v)) {
    *out = def;
    return 0;
  }
  if (!json_is_boolean(v)) return err_set(c->err, "%s: '%s' must be true or false", c->label, key);
  *out = json_is_true(v);
  return 0;
}

static const char *get_string(Cfg *c, const char *key, const char *def, int *bad) {
  json_t *v = json_object_get(c->root, key);
  *bad = 0;
  if (!v || json_is_null(v)) return def;
  if (!json_is_string(v)) {
    *bad = 1;
    err_set(c->err, "%s: '%s' must be a string", c->label, key);
    return NULL;
  }
  return json_string_value(v);
}

// bos/eos: an integer, a list of integers (the first is used), or null.
static int get_token_id(Cfg *c, const char *key, int def, int *out) {
  json_t *v = json_object_get(c->root, key);
  if (v && json_is_array(v)) v = json_array_size(v) ? json_array_get(v, 0) : NULL;
  if (!v || json_is_null(v)) {
    *out = def;
    return 0;
  }
  if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > INT32_MAX)
    return err_set(c->err, "%s: '%s' must be a non-negative integer, a list of them, or null",
                   c->label, key);
  *out = (int)json_integer_value(v);
  return 0;
}

static int find_arch(Cfg *c, ModelConfig *cfg) {
  json_t *archs = json_object_get(c->root, "architectures");
  const char *name = NULL;
  if (archs && !json_is_null(archs)) {
    if (!json_is_array(archs) || json_array_size(archs) == 0 || !json_is_string(json_array_get(archs, 0)))
      return err_set(c->err, "%s: 'architectures' must be a non-empty list of names", c->label);
    name = json_string_value(json_array_get(archs, 0));
  }
  int bad;
  const char *model_type = get_string(c, "model_type", NULL, &bad);
  if (bad) return -1;
  for (int i = 0; i < N_ARCHS; i++) {
    if (name ? strcmp(name, ARCHS[i].architecture) == 0
             : model_type && strcmp(model_type, ARCHS[i].model_type) == 0) {
      cfg->arch = ARCHS[i].arch;
      snprintf(cfg->architecture, sizeof cfg->architecture, "%s", ARCHS[i].architecture);
      return 0;
    }
  }
  if (!name && !model_type)
    return err_set(c->err, "%s: names no architecture ('architectures' and 'model_type' absent)", c->label);
  return err_set(c->err,
                 "%s: unsupported architecture '%s' (supported: LlamaForCausalLM, MistralForCausalLM, "
                 "Qwen2ForCausalLM, GPTNeoXForCausalLM)",
                 c->label, name ? name : model_type);
}

static int read_dtype(Cfg *c, ModelConfig *cfg) {
  int bad;
  const char *d = get_string(c, "dtype", NULL, &bad);
  if (bad) return -1;
  const char *key = "dtype";
  if (!d) {
    d = get_string(c, "torch_dtype", NULL, &bad);
    key = "torch_dtype";
    if (bad) return -1;
  }
  cfg->dtype = DTYPE_F32;
  cfg->dtype_given = d != NULL;
  if (!d) return 0;
  if (strncmp(d, "torch.", 6) == 0) d += 6;
  if (strcmp(d, "bfloat16") == 0) cfg->dtype = DTYPE_BF16;
  else if (strcmp(d, "float16") == 0 || strcmp(d, "half") == 0) cfg->dtype = DTYPE_F16;
  else if (strcmp(d, "float32") == 0 || strcmp(d, "float") == 0 || strcmp(d, "float64") == 0) cfg->dtype = DTYPE_F32;
  else return err_set(c->err, "%s: unsupported %s '%s' (bfloat16, float16 or float32)", c->label, key, d);
  return 0;
}

// RoPE: rope_theta / rotary_emb_base, partial_rotary_factor / rotary_pct, rope_scaling (4.x) or
// rope_parameters (5.x, which carries rope_theta and partial_rotary_factor itself).
static int read_rope(Cfg *c, ModelConfig *cfg) {
  int neox = cfg->arch == ARCH_GPT_NEOX;
  json_t *params = json_object_get(c->root, "rope_parameters");
  json_t *scaling = json_object_get(c->root, "rope_scaling");
  if (params && json_is_null(params)) params = NULL;
  if (scaling && json_is_null(scaling)) scaling = NULL;
  if (params && !json_is_object(params))
    return err_set(c->err, "%s: 'rope_parameters' must be an object", c->label);
  if (scaling && !json_is_object(scaling))
    return err_set(c->err, "%s: 'rope_scaling' must be an object or null", c->label);
  json_t *obj = params ? params : scaling;

  double theta;
  if (get_double(c, c->root, neox ? "rotary_emb_base" : "rope_theta", 10000.0, 1e-300, 1e300, &theta) != 0)
    return -1;
  if (neox && json_object_get(c->root, "rope_theta") &&
      get_double(c, c->root, "rope_theta", theta, 1e-300, 1e300, &theta) != 0)
    return -1;
  if (obj && json_object_get(obj, "rope_theta") &&
      get_double(c, obj, "rope_theta", theta, 1e-300, 1e300, &theta) != 0)
    return -1;
  cfg->rope_theta = theta;

  double prf = neox ? 0.25 : 1.0;
  if (get_double(c, c->root, neox ? "rotary_pct" : "partial_rotary_factor", prf, 0.0, 1.0, &prf) != 0)
    return -1;
  if (neox && json_object_get(c->root, "partial_rotary_factor") &&
      get_double(c, c->root, "partial_rotary_factor", prf, 0.0, 1.0, &prf) != 0)
    return -1;
  if (obj && json_object_get(obj, "partial_rotary_factor") &&
      get_double(c, obj, "partial_rotary_factor", prf, 0.0, 1.0, &prf) != 0)
    return -1;
  cfg->partial_rotary_factor = prf;
  cfg->rotary_dims = (int)(cfg->head_dim * prf);  // int() as transformers truncates
  if (cfg->rotary_dims < 2 || cfg->rotary_dims % 2)
    return err_set(c->err, "%s: rotary dims %d (head dim %d x partial rotary factor %g) must be even and at least 2",
                   c->label, cfg->rotary_dims, cfg->head_dim, prf);
  if (!neox && cfg->rotary_dims != cfg->head_dim)
    return err_set(c->err, "%s: partial rotary factor %g is not supported for %s (rotary dims must equal head dim %d)",
                   c->label, prf, cfg->architecture, cfg->head_dim);

  json_t *br = json_object_get(c->root, "bench_rope");
  if (br && !json_is_null(br)) {
    if (!json_is_object(br) || !json_is_string(json_object_get(br, "type")))
      return err_set(c->err, "%s: 'bench_rope' must be a RoPE variant spec (an object with a 'type')",
                     c->label);
    cfg->bench_rope_json = json_dumps(br, JSON_COMPACT | JSON_PRESERVE_ORDER);
    CHECK(cfg->bench_rope_json);
  }
  if (obj) {
    json_t *t = json_object_get(obj, "rope_type");
    if (!t) t = json_object_get(obj, "type");
    if (t && !json_is_string(t))
      return err_set(c->err, "%s: rope type must be a string", c->label);
    if (!t || strcmp(json_string_value(t), "default") != 0) {
      cfg->rope_scaling_json = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER);
      CHECK(cfg->rope_scaling_json);
    }
  }
  return 0;
}

// Mistral: sliding_window (null: none). Qwen2: only when use_sliding_window, for layers ≥
// max_window_layers (or the suffix of 5.x layer_types marked sliding_attention).
static int read_sliding(Cfg *c, ModelConfig *cfg) {
  cfg->sliding_window = 0;
  cfg->sliding_window_from_layer = 0;
  if (cfg->arch != ARCH_MISTRAL && cfg->arch != ARCH_QWEN2) return 0;
  int window;  // both config classes default to 4096 when the key is absent
  json_t *sw = json_object_get(c->root, "sliding_window");
  if (get_int(c, c->root, "sliding_window", sw ? 0 : 4096, 0, INT32_MAX, &window) != 0) return -1;
  if (cfg->arch == ARCH_MISTRAL) {
    cfg->sliding_window = window;
    return 0;
  }
  int use;
  if (get_bool(c, "use_sliding_window", 0, &use) != 0) return -1;
  int from = cfg->n_layers;
  json_t *types = json_object_get(c->root, "layer_types");
  if (types && !json_is_null(types)) {
    if (!json_is_array(types) || (int)json_array_size(types) != cfg->n_layers)
      return err_set(c->err, "%s: 'layer_types' must list one type per layer (%d)", c->label, cfg->n_layers);
    for (int i = cfg->n_layers - 1; i >= 0; i--) {
      const char *s = json_string_value(json_array_get(types, (size_t)i));
      if (!s || (strcmp(s, "full_attention") && strcmp(s, "sliding_attention")))
        return err_set(c->err, "%s: layer_types[%d] must be 'full_attention' or 'sliding_attention'", c->label, i);
      if (strcmp(s, "sliding_attention") == 0) {
        if (from != i + 1)
          return err_set(c->err, "%s: sliding_attention layers must follow all full_attention layers", c->label);
        from = i;
      }
    }
  } else if (use) {
    if (get_int(c, c->root, "max_window_layers", 28, 0, INT32_MAX, &from) != 0) return -1;
    if (from > cfg->n_layers) from = cfg->n_layers;
  }
  if (from < cfg->n_layers && window > 0) {
    cfg->sliding_window = window;
    cfg->sliding_window_from_layer = from;
  }
  return 0;
}

static int check_activation(Cfg *c, const ModelConfig *cfg) {
  int bad;
  int neox = cfg->arch == ARCH_GPT_NEOX;
  const char *act = get_string(c, "hidden_act", neox ? "gelu" : "silu", &bad);
  if (bad) return -1;
  const char *want = neox ? "gelu" : "silu";
  if (strcmp(act, want) != 0 && !(!neox && strcmp(act, "swish") == 0))
    return err_set(c->err, "%s: hidden_act '%s' is not supported for %s (only '%s')", c->label, act,
                   cfg->architecture, want);
  return 0;
}

static int parse_root(Cfg *c, ModelConfig *cfg) {
  if (find_arch(c, cfg) != 0) return -1;
  int neox = cfg->arch == ARCH_GPT_NEOX;
  json_t *r = c->root;
  if (get_int(c, r, "vocab_size", -1, 1, 1 << 24, &cfg->vocab_size) != 0 ||
      get_int(c, r, "hidden_size", -1, 1, 1 << 18, &cfg->hidden_size) != 0 ||
      get_int(c, r, "num_hidden_layers", -1, 1, 4096, &cfg->n_layers) != 0 ||
      get_int(c, r, "num_attention_heads", -1, 1, 1 << 14, &cfg->n_heads) != 0 ||
      get_int(c, r, "intermediate_size", -1, 1, 1 << 22, &cfg->intermediate_size) != 0)
    return -1;
  const char *required[] = {"vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads",
                            "intermediate_size"};
  int *values[] = {&cfg->vocab_size, &cfg->hidden_size, &cfg->n_layers, &cfg->n_heads,
                   &cfg->intermediate_size};
  for (int i = 0; i < 5; i++)
    if (*values[i] < 0) return err_set(c->err, "%s: '%s' is missing", c->label, required[i]);

  if (neox) {
    cfg->n_kv_heads = cfg->n_heads;
  } else if (get_int(c, r, "num_key_value_heads", cfg->n_heads, 1, 1 << 14, &cfg->n_kv_heads) != 0) {
    return -1;
  }
  if (cfg->n_heads % cfg->n_kv_heads != 0)
    return err_set(c->err, "%s: num_attention_heads %d is not a multiple of num_key_value_heads %d",
                   c->label, cfg->n_heads, cfg->n_kv_heads);
  int default_hd = cfg->hidden_size / cfg->n_heads;
  if (get_int(c, r, "head_dim", neox ? default_hd : 0, 1, 1 << 14, &cfg->head_dim) != 0) return -1;
  if (cfg->head_dim == 0 || neox) {
    if (cfg->hidden_size % cfg->n_heads != 0)
      return err_set(c->err, "%s: hidden_size %d is not a multiple of num_attention_heads %d", c->label,
                     cfg->hidden_size, cfg->n_heads);
    cfg->head_dim = default_hd;
  }

  long default_max = cfg->arch == ARCH_MISTRAL ? 131072 : cfg->arch == ARCH_QWEN2 ? 32768 : 2048;
  if (get_long(c, r, "max_position_embeddings", default_max, 1, 1L << 40, &cfg->max_position_embeddings) != 0)
    return -1;
  if (get_double(c, r, neox ? "layer_norm_eps" : "rms_norm_eps", neox ? 1e-5 : 1e-6, 0.0, 1.0,
                 &cfg->norm_eps) != 0)
    return -1;
  cfg->norm_is_layernorm = neox;
  cfg->mlp_is_gelu = neox;
  if (check_activation(c, cfg) != 0) return -1;

  int attention_bias = 0, mlp_bias = 0;
  if (cfg->arch == ARCH_LLAMA || neox) {
    if (get_bool(c, "attention_bias", neox, &attention_bias) != 0) return -1;
  }
  if (cfg->arch == ARCH_LLAMA && get_bool(c, "mlp_bias", 0, &mlp_bias) != 0) return -1;
  if (mlp_bias) return err_set(c->err, "%s: mlp_bias true is not supported", c->label);
  cfg->qkv_bias = cfg->arch == ARCH_QWEN2 || attention_bias;
  cfg->o_bias = attention_bias;
  cfg->parallel_residual = 0;
  if (neox && get_bool(c, "use_parallel_residual", 1, &cfg->parallel_residual) != 0) return -1;
  if (get_bool(c, "tie_word_embeddings", 0, &cfg->tie_word_embeddings) != 0) return -1;
  if (get_token_id(c, "bos_token_id", -1, &cfg->bos_token_id) != 0 ||
      get_token_id(c, "eos_token_id", -1, &cfg->eos_token_id) != 0)
    return -1;
  if (read_dtype(c, cfg) != 0 || read_rope(c, cfg) != 0 || read_sliding(c, cfg) != 0) return -1;
  return 0;
}

int model_config_parse(const char *label, const char *text, size_t len, ModelConfig *cfg,
                       BenchErr *err) {
  memset(cfg, 0, sizeof *cfg);
  json_error_t je;
  json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
  if (!root)
    return err_set(err, "%s:%d:%d: %s", label, je.line, je.column, json_error_reason(&je));
  if (!json_is_object(root)) {
    json_decref(root);
    return err_set(err, "%s: not a JSON object", label);
  }
  Cfg c = {label, root, err};
  int rc = parse_root(&c, cfg);
  json_decref(root);
  if (rc != 0) model_config_free(cfg);
  return rc;
}

int model_config_load(const char *dir, ModelConfig *cfg, BenchErr *err) {
  memset(cfg, 0, sizeof *cfg);
  if (need_directory(dir, "model directory", err) != 0) return -1;
  char *path = path_join(dir, "config.json");
  char *text;
  size_t len;
  int rc = read_file(path, CONFIG_MAX_BYTES, &text, &len, err);
  if (rc == 0) {
    rc = model_config_parse(path, text, len, cfg, err);
    free(text);
  }
  free(path);
  return rc;
}

void model_config_free(ModelConfig *cfg) {
  free(cfg->rope_scaling_json);
  cfg->rope_scaling_json = NULL;
  free(cfg->bench_rope_json);
  cfg->bench_rope_json = NULL;
}

void model_rope_info(const ModelConfig *c, RopeModelInfo *out) {
  *out = (RopeModelInfo){.head_dim = c->head_dim,
                         .partial_rotary_factor = c->partial_rotary_factor,
                         .rope_theta = c->rope_theta,
                         .max_position_embeddings = c->max_position_embeddings,
                         .rope_scaling_json = c->rope_scaling_json,
                         .native_spec_json = c->bench_rope_json};
}

int model_check_rope(const ModelConfig *c, BenchErr *err) {
  RopeModelInfo info;
  model_rope_info(c, &info);
  json_t *spec = json_pack("{s:s,s:s}", "name", "model", "type", "model");
  RopeTable t;
  int rc = rope_build(spec, &info, 0, &t, err);
  json_decref(spec);
  if (rc == 0) rope_table_free(&t);
  return rc;
}
