// plan_estimate.c — token, FLOP and memory estimates of jobs (plan_estimate.h).
#include "plan_estimate.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "forward.h"
#include "json_file.h"

#define CONFIG_MAX_BYTES (16u << 20)
#define WORKSPACE_FIXED_BYTES (256.0 * 1024 * 1024)  // runtime, BLAS buffers, logits chunk

static int get_int(const json_t *o, const char *key, int dflt) {
  json_t *v = json_object_get(o, key);
  return json_is_integer(v) ? (int)json_integer_value(v) : dflt;
}

static double shape_params(const ModelShape *s) {
  double C = s->hidden, D = s->head_dim, H = s->heads, K = s->kv_heads, F = s->intermediate;
  double attn = C * H * D + 2 * C * K * D + H * D * C;
  double mlp = (s->gelu_mlp ? 2 : 3) * C * F;
  return (double)s->vocab * C * (s->tied ? 1 : 2) + s->layers * (attn + mlp);
}

static void shape_finish(ModelShape *s) {
  if (s->kv_heads <= 0) s->kv_heads = s->heads;
  if (s->head_dim <= 0 && s->heads > 0) s->head_dim = s->hidden / s->heads;
  s->known = s->layers > 0 && s->hidden > 0 && s->heads > 0 && s->head_dim > 0 && s->vocab > 0 &&
             s->intermediate > 0;
  if (s->params < 0 && s->known) s->params = shape_params(s);
}

int model_shape_from_config(const char *dir, long long n_params_headers, ModelShape *out, BenchErr *err) {
  memset(out, 0, sizeof *out);
  out->params = n_params_headers > 0 ? (double)n_params_headers : -1;
  char *path = path_join(dir, "config.json");
  char *text;
  size_t len;
  int rc = read_file(path, CONFIG_MAX_BYTES, &text, &len, err);
  if (rc != 0) {
    free(path);
    return -1;
  }
  json_error_t je;
  json_t *c = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
  free(text);
  if (!json_is_object(c)) {
    err_set(err, "%s: not a JSON object (%s)", path, c ? "" : json_error_reason(&je));
    json_decref(c);
    free(path);
    return -1;
  }
  free(path);
  out->max_positions = get_int(c, "max_position_embeddings", 0);
  out->layers = get_int(c, "num_hidden_layers", 0);
  out->hidden = get_int(c, "hidden_size", 0);
  out->heads = get_int(c, "num_attention_heads", 0);
  out->kv_heads = get_int(c, "num_key_value_heads", 0);
  out->head_dim = get_int(c, "head_dim", 0);
  out->intermediate = get_int(c, "intermediate_size", 0);
  out->vocab = get_int(c, "vocab_size", 0);
  const char *type = json_string_value(json_object_get(c, "model_type"));
  out->gelu_mlp = type && strcmp(type, "gpt_neox") == 0;
  json_t *tie = json_object_get(c, "tie_word_embeddings");
  out->tied = json_is_boolean(tie) ? json_is_true(tie) : 0;
  json_decref(c);
  shape_finish(out);
  return 0;
}

static double recipe_num(const Variant *r, int member, const char *key, double dflt) {
  for (int p = 0; p < r->n_params; p++) {
    if (strcmp(r->params[p].key, key) != 0) continue;
    const ParamValue *pv = variant_member_value(r, p, member);
    return pv->kind == PV_NUM ? pv->num : dflt;
  }
  return dflt;
}

void model_shape_from_recipe(const Variant *recipe, int member, ModelShape *out) {
  memset(out, 0, sizeof *out);
  out->params = -1;
  out->layers = (int)recipe_num(recipe, member, "layers", 0);
  out->hidden = (int)recipe_num(recipe, member, "hidden", 0);
  out->heads = (int)recipe_num(recipe, member, "heads", 0);
  out->kv_heads = (int)recipe_num(recipe, member, "kv_heads", 0);
  out->intermediate = (int)recipe_num(recipe, member, "intermediate", 0);
  out->vocab = (int)recipe_num(recipe, member, "vocab_size", 0);
  out->max_positions = (long)recipe_num(recipe, member, "seq_len", 0);
  out->tied = 1;  // models trained from a recipe tie their input and output embeddings
  for (int p = 0; p < recipe->n_params; p++) {
    const ParamValue *pv = variant_member_value(recipe, p, member);
    if (strcmp(recipe->params[p].key, "arch") == 0 && pv->kind == PV_STR && pv->str)
      out->gelu_mlp = strcmp(pv->str, "gpt_neox") == 0;
  }
  shape_finish(out);
}

long cache_budget(const Job *j) {
  const json_t *c = j->inputs.cache;
  const char *type = json_string_value(json_object_get(c, "type"));
  if (!type || strcmp(type, "full") == 0) return 0;
  long budget = 0;
  const char *keys[] = {"sink", "recent", "heavy"};
  for (int i = 0; i < 3; i++) {
    json_t *v = json_object_get(c, keys[i]);
    if (json_is_number(v)) budget += (long)json_number_value(v);
  }
  return budget;
}

static int is_protocol(const Job *j, const char *p) { return strcmp(j->protocol, p) == 0; }

long long job_tokens_needed(const Job *j) {
  if (is_protocol(j, "sliding")) return (long long)j->length + (long long)(j->windows - 1) * j->stride;
  return (long long)j->length * j->windows;
}

static double dtype_bytes(const char *dtype) { return dtype && strcmp(dtype, "fp32") == 0 ? 4 : 2; }

void job_cost(const Job *j, const ModelShape *s, int on_cpu, JobCost *out) {
  memset(out, 0, sizeof *out);
  double L = (double)j->length, W = (double)j->windows;
  if (is_protocol(j, "sliding")) out->tokens_scored = (L - 1) + (W - 1) * (double)j->stride;
  else if (is_protocol(j, "half")) out->tokens_scored = W * floor(L / 2);
  else if (is_protocol(j, "decode")) out->tokens_scored = W * fmax(0, L - (double)j->prompt);
  else out->tokens_scored = W * (L - 1);
  out->tokens_processed = W * L;
  long budget = cache_budget(j);
  out->kv_tokens = budget > 0 && budget < j->length ? budget : j->length;
  if (!s || !s->known || s->params <= 0) return;

  // Attention multiply-adds per layer and head: q·k and p·v over each query's keys, 2·D·keys
  // FLOPs each. A causal window of T queries sees T²/2 keys in all; a decode step sees the cache.
  double per_key = 4.0 * s->layers * s->heads * s->head_dim;
  double attn;
  if (is_protocol(j, "decode")) {
    double P = (double)j->prompt, B = budget > 0 ? (double)budget : L, keys = 0;
    for (double p = P; p < L; p += 1) keys += fmin(p + 1, B);
    attn = W * (per_key * P * P / 2 + per_key * keys);
  } else {
    attn = W * per_key * L * L / 2;
  }
  out->flops = 2.0 * s->params * out->tokens_processed + attn;

  double eb = on_cpu ? 4 : dtype_bytes(j->dtype);
  out->weight_bytes = s->params * eb;
  out->kv_bytes = 2.0 * s->layers * s->kv_heads * s->head_dim * (double)out->kv_tokens * eb;
  // Activations of one layer for the tokens in flight (the forward goes layer by layer, attention
  // and the LM head by blocks), in fp32. A one-pass window longer than FORWARD_BLOCK_TOKENS is
  // read in blocks of that many tokens (forward.c); a decode prompt is prefilled in one block.
  double in_flight = is_protocol(j, "decode") ? fmax(1, (double)j->prompt)
                                               : fmin(L, (double)FORWARD_BLOCK_TOKENS);
  out->work_bytes = in_flight * (8.0 * s->hidden + 3.0 * s->intermediate) * 4 + WORKSPACE_FIXED_BYTES;
  // The CPU attention lays one layer's keys and values out by tiles for each call: a second copy
  // of that layer's share of the cache (engine/cpu/attention_cpu.c).
  if (on_cpu && s->layers > 0) out->work_bytes += out->kv_bytes / s->layers;
}

double train_work(const Variant *recipe, int member, const ModelShape *s) {
  double f = train_flops(recipe, member, s);
  return f > 0 ? f : 3.0 * recipe_num(recipe, member, "tokens", 0);
}

double train_flops(const Variant *recipe, int member, const ModelShape *s) {
  if (!s->known || s->params <= 0) return 0;
  double tokens = recipe_num(recipe, member, "tokens", 0);
  double T = s->max_positions > 0 ? (double)s->max_positions : 0;
  // forward + backward ≈ 3 × forward: 6·P per token, attention 3 × 2·L·H·D·T per token
  return tokens * (6.0 * s->params + 6.0 * s->layers * s->heads * s->head_dim * T);
}
