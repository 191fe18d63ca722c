// model_init.c — a random, complete Hugging Face checkpoint (contract: model_init.h).
// Legend: V vocab, C hidden, L layers, H heads, K kv heads, D head dim, F intermediate.
//
// Values: matrices and embeddings ~ N(0, 0.02), biases ~ N(0, 0.02), norm weights 1 (LayerNorm
// biases small random too). Element j of tensor NAME comes from chunk j / INIT_CHUNK, whose
// generator is seeded by sha256(seed, NAME, chunk): values do not depend on sharding, tensor
// order or thread count (bit-identical wherever libm's logf/sincosf agree). Chunks are generated
// and converted in parallel, written in order: memory stays ~100 MB at any model size.
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model_init.h"
#include "safetensors.h"

#define INIT_CHUNK (1 << 20)  // elements per generator chunk
#define INIT_BATCH 16         // chunks generated in parallel per write

void init_model_defaults(InitModelSpec *s, Arch arch) {
  memset(s, 0, sizeof *s);
  int neox = arch == ARCH_GPT_NEOX;
  s->arch = arch;
  s->n_layers = 2;
  s->hidden_size = 64;
  s->n_heads = 4;
  s->n_kv_heads = neox ? 4 : 2;
  s->intermediate_size = neox ? 256 : 192;
  s->vocab_size = 512;
  s->max_position_embeddings = 2048;
  s->rope_theta = 10000.0;
  s->rotary_pct = neox ? 0.25 : 1.0;
  s->tie_word_embeddings = arch == ARCH_QWEN2;
  s->dtype = DTYPE_F32;
  s->n_shards = 1;
  s->config_style = 4;
  s->max_merges = 400;
}

int init_model_check(const InitModelSpec *s, BenchErr *err) {
  if (s->n_layers < 1 || s->n_layers > 4096) return err_set(err, "layers must be 1..4096");
  if (s->hidden_size < 1 || s->hidden_size > (1 << 18)) return err_set(err, "hidden size must be 1..262144");
  if (s->n_heads < 1 || s->hidden_size % s->n_heads != 0)
    return err_set(err, "hidden size %d is not a multiple of heads %d", s->hidden_size, s->n_heads);
  if (s->n_kv_heads < 1 || s->n_heads % s->n_kv_heads != 0)
    return err_set(err, "heads %d is not a multiple of kv heads %d", s->n_heads, s->n_kv_heads);
  if (s->arch == ARCH_GPT_NEOX && s->n_kv_heads != s->n_heads)
    return err_set(err, "gpt_neox has no grouped-query attention: kv heads must equal heads (%d)", s->n_heads);
  if (s->intermediate_size < 1 || s->intermediate_size > (1 << 22))
    return err_set(err, "intermediate size must be 1..4194304");
  if (s->vocab_size < 257 || s->vocab_size > (1 << 24))
    return err_set(err, "vocab must be 257..16777216 (256 byte tokens + <|endoftext|> at least)");
  if (s->max_position_embeddings < 1) return err_set(err, "max positions must be at least 1");
  if (!(s->rope_theta > 0)) return err_set(err, "rope theta must be positive");
  int D = s->hidden_size / s->n_heads;
  int R = (int)(D * s->rotary_pct);
  if (!(s->rotary_pct > 0 && s->rotary_pct <= 1) || R < 2 || R % 2)
    return err_set(err, "rotary pct %g gives %d rotary dims of head dim %d: they must be even and at least 2",
                   s->rotary_pct, R, D);
  if (s->arch != ARCH_GPT_NEOX && s->rotary_pct != 1.0)
    return err_set(err, "rotary pct applies to gpt_neox only");
  if (s->sliding_window < 0) return err_set(err, "sliding window must not be negative");
  if (s->sliding_window && s->arch != ARCH_MISTRAL && s->arch != ARCH_QWEN2)
    return err_set(err, "sliding window applies to mistral and qwen2 only");
  if (s->n_shards < 1 || s->n_shards > 99999) return err_set(err, "shards must be 1..99999");
  if (s->config_style != 4 && s->config_style != 5) return err_set(err, "config style must be 4 or 5");
  if (s->rope_scaling_json) {
    json_error_t je;
    json_t *j = json_loads(s->rope_scaling_json, JSON_REJECT_DUPLICATES, &je);
    int ok = json_is_object(j);
    json_decref(j);
    if (!ok) return err_set(err, "rope scaling must be a JSON object, e.g. '{\"rope_type\":\"linear\",\"factor\":2.0}'");
  }
  return 0;
}

// ---- tensors ----
typedef enum { INIT_NORMAL, INIT_ONES } InitKind;

typedef struct {
  StSpec spec;
  InitKind kind;
} InitTensor;

typedef struct {
  InitTensor *t;
  int n, cap;
} InitList;

static void add(InitList *l, InitKind kind, DType dt, int n_dims, int64_t d0, int64_t d1,
                const char *fmt, ...) __attribute__((format(printf, 7, 8)));

static void add(InitList *l, InitKind kind, DType dt, int n_dims, int64_t d0, int64_t d1,
                const char *fmt, ...) {
  if (l->n == l->cap) l->t = xrealloc(l->t, sizeof(InitTensor) * (size_t)(l->cap = l->cap ? 2 * l->cap : 64));
  InitTensor *t = &l->t[l->n++];
  memset(t, 0, sizeof *t);
  char name[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(name, sizeof name, fmt, ap);
  va_end(ap);
  t->spec.name = xstrdup(name);
  t->spec.dtype = dt == DTYPE_BF16 ? ST_BF16 : dt == DTYPE_F16 ? ST_F16 : ST_F32;
  t->spec.n_dims = n_dims;
  t->spec.shape[0] = d0;
  t->spec.shape[1] = d1;
  t->kind = kind;
}

// The tensors of the architecture, in the order model.c expects them (names: model.c's legend).
static void list_tensors(const InitModelSpec *s, InitList *l) {
  int64_t V = s->vocab_size, C = s->hidden_size, F = s->intermediate_size;
  int64_t D = C / s->n_heads, KD = s->n_kv_heads * D;
  DType dt = s->dtype;
  if (s->arch == ARCH_GPT_NEOX) {
    add(l, INIT_NORMAL, dt, 2, V, C, "gpt_neox.embed_in.weight");
    for (int i = 0; i < s->n_layers; i++) {
      const char *p = "gpt_neox.layers.";
      add(l, INIT_ONES, dt, 1, C, 0, "%s%d.input_layernorm.weight", p, i);
      add(l, INIT_NORMAL, dt, 1, C, 0, "%s%d.input_layernorm.bias", p, i);
      add(l, INIT_ONES, dt, 1, C, 0, "%s%d.post_attention_layernorm.weight", p, i);
      add(l, INIT_NORMAL, dt, 1, C, 0, "%s%d.post_attention_layernorm.bias", p, i);
      add(l, INIT_NORMAL, dt, 2, 3 * C, C, "%s%d.attention.query_key_value.weight", p, i);
      add(l, INIT_NORMAL, dt, 1, 3 * C, 0, "%s%d.attention.query_key_value.bias", p, i);
      add(l, INIT_NORMAL, dt, 2, C, C, "%s%d.attention.dense.weight", p, i);
      add(l, INIT_NORMAL, dt, 1, C, 0, "%s%d.attention.dense.bias", p, i);
      add(l, INIT_NORMAL, dt, 2, F, C, "%s%d.mlp.dense_h_to_4h.weight", p, i);
      add(l, INIT_NORMAL, dt, 1, F, 0, "%s%d.mlp.dense_h_to_4h.bias", p, i);
      add(l, INIT_NORMAL, dt, 2, C, F, "%s%d.mlp.dense_4h_to_h.weight", p, i);
      add(l, INIT_NORMAL, dt, 1, C, 0, "%s%d.mlp.dense_4h_to_h.bias", p, i);
    }
    add(l, INIT_ONES, dt, 1, C, 0, "gpt_neox.final_layer_norm.weight");
    add(l, INIT_NORMAL, dt, 1, C, 0, "gpt_neox.final_layer_norm.bias");
    if (!s->tie_word_embeddings) add(l, INIT_NORMAL, dt, 2, V, C, "embed_out.weight");
    return;
  }
  int bias = s->arch == ARCH_QWEN2;
  add(l, INIT_NORMAL, dt, 2, V, C, "model.embed_tokens.weight");
  for (int i = 0; i < s->n_layers; i++) {
    const char *p = "model.layers.";
    add(l, INIT_ONES, dt, 1, C, 0, "%s%d.input_layernorm.weight", p, i);
    add(l, INIT_NORMAL, dt, 2, C, C, "%s%d.self_attn.q_proj.weight", p, i);
    add(l, INIT_NORMAL, dt, 2, KD, C, "%s%d.self_attn.k_proj.weight", p, i);
    add(l, INIT_NORMAL, dt, 2, KD, C, "%s%d.self_attn.v_proj.weight", p, i);
    if (bias) {
      add(l, INIT_NORMAL, dt, 1, C, 0, "%s%d.self_attn.q_proj.bias", p, i);
      add(l, INIT_NORMAL, dt, 1, KD, 0, "%s%d.self_attn.k_proj.bias", p, i);
      add(l, INIT_NORMAL, dt, 1, KD, 0, "%s%d.self_attn.v_proj.bias", p, i);
    }
    add(l, INIT_NORMAL, dt, 2, C, C, "%s%d.self_attn.o_proj.weight", p, i);
    add(l, INIT_ONES, dt, 1, C, 0, "%s%d.post_attention_layernorm.weight", p, i);
    add(l, INIT_NORMAL, dt, 2, F, C, "%s%d.mlp.gate_proj.weight", p, i);
    add(l, INIT_NORMAL, dt, 2, F, C, "%s%d.mlp.up_proj.weight", p, i);
    add(l, INIT_NORMAL, dt, 2, C, F, "%s%d.mlp.down_proj.weight", p, i);
  }
  add(l, INIT_ONES, dt, 1, C, 0, "model.norm.weight");
  if (!s->tie_word_embeddings) add(l, INIT_NORMAL, dt, 2, V, C, "lm_head.weight");
}

static void list_free(InitList *l) {
  for (int i = 0; i < l->n; i++) free((char *)l->t[i].spec.name);
  free(l->t);
}

static uint64_t elems(const StSpec *s) {
  uint64_t n = 1;
  for (int i = 0; i < s->n_dims; i++) n *= (uint64_t)s->shape[i];
  return n;
}

// Fills x[0..n) with chunk `chunk` of tensor `name`.
static void gen_chunk(uint64_t seed, const char *name, uint64_t chunk, InitKind kind, float *x, size_t n) {
  if (kind == INIT_ONES) {
    for (size_t i = 0; i < n; i++) x[i] = 1.0f;
    return;
  }
  Sha256 h;
  sha256_init(&h);
  uint8_t le[16];
  for (int i = 0; i < 8; i++) le[i] = (uint8_t)(seed >> (8 * i)), le[8 + i] = (uint8_t)(chunk >> (8 * i));
  sha256_update(&h, le, 8);
  sha256_update(&h, name, strlen(name) + 1);
  sha256_update(&h, le + 8, 8);
  uint8_t d[32];
  sha256_final(&h, d);
  uint64_t s64 = 0;
  for (int i = 0; i < 8; i++) s64 |= (uint64_t)d[i] << (8 * i);
  Rng r;
  rng_seed(&r, s64);
  // Box-Muller on 24-bit uniforms in (0, 1]: one 64-bit draw gives two normals.
  for (size_t i = 0; i < n; i += 2) {
    uint64_t b = rng_next(&r);
    float u1 = (float)((b >> 40) + 1) * 0x1.0p-24f, u2 = (float)(((b >> 8) & 0xffffff) + 1) * 0x1.0p-24f;
    float rad = 0.02f * sqrtf(-2.0f * logf(u1)), sn, cs;
    sincosf(6.2831853f * u2, &sn, &cs);
    float v[2] = {rad * cs, rad * sn};
    for (int k = 0; k < 2 && i + (size_t)k < n; k++) x[i + (size_t)k] = v[k] != 0.0f ? v[k] : 0.02f;  // never zero
  }
}

// Streams one tensor's values into the writer.
static int write_tensor(StWriter *w, const InitTensor *t, uint64_t seed, float *vals, uint8_t *bytes,
                        BenchErr *err) {
  uint64_t n = elems(&t->spec), n_chunks = (n + INIT_CHUNK - 1) / INIT_CHUNK;
  size_t es = st_dtype_size(t->spec.dtype);
  for (uint64_t c0 = 0; c0 < n_chunks; c0 += INIT_BATCH) {
    int nb = (int)(n_chunks - c0 < INIT_BATCH ? n_chunks - c0 : INIT_BATCH);
#pragma omp parallel for schedule(dynamic, 1) if (nb > 1)
    for (int b = 0; b < nb; b++) {
      uint64_t c = c0 + (uint64_t)b, lo = c * INIT_CHUNK, m = n - lo < INIT_CHUNK ? n - lo : INIT_CHUNK;
      float *x = vals + (size_t)b * INIT_CHUNK;
      gen_chunk(seed, t->spec.name, c, t->kind, x, (size_t)m);
      st_convert_from_f32(t->spec.dtype, x, (size_t)m, bytes + (size_t)b * INIT_CHUNK * es);
    }
    uint64_t lo = c0 * INIT_CHUNK, hi = (c0 + (uint64_t)nb) * INIT_CHUNK;
    if (hi > n) hi = n;
    if (st_writer_write(w, bytes, (size_t)((hi - lo) * es), err) != 0) return -1;
  }
  return 0;
}

static char *shard_name(int i, int n) {
  return n == 1 ? xstrdup("model.safetensors") : xasprintf("model-%05d-of-%05d.safetensors", i + 1, n);
}

// Writes the tensors into n_shards files, split by bytes; with several, also the index.
static int write_weights(const char *dir, const InitModelSpec *s, InitList *l, uint64_t *bytes_out,
                         int *shards_out, BenchErr *err) {
  int n_shards = s->n_shards < l->n ? s->n_shards : l->n;
  *shards_out = n_shards;
  uint64_t total = 0;
  for (int i = 0; i < l->n; i++) total += st_spec_bytes(&l->t[i].spec);
  *bytes_out = total;
  // first[k]: index of shard k's first tensor. A shard closes once the running total reaches its
  // share, leaving at least one tensor for each later shard.
  int *first = xmalloc(sizeof(int) * (size_t)(n_shards + 1));
  first[0] = 0;
  uint64_t acc = 0;
  int k = 1;
  for (int i = 0; i < l->n && k < n_shards; i++) {
    acc += st_spec_bytes(&l->t[i].spec);
    int left_tensors = l->n - (i + 1), left_shards = n_shards - k;
    if ((acc >= total / (uint64_t)n_shards * (uint64_t)k && left_tensors >= left_shards) ||
        left_tensors == left_shards)
      first[k++] = i + 1;
  }
  first[n_shards] = l->n;

  float *vals = xmalloc(sizeof(float) * (size_t)INIT_CHUNK * INIT_BATCH);
  uint8_t *buf = xmalloc(st_dtype_size(l->t[0].spec.dtype) * (size_t)INIT_CHUNK * INIT_BATCH);
  json_t *weight_map = json_object();
  int rc = 0;
  for (int sh = 0; sh < n_shards && rc == 0; sh++) {
    char *name = shard_name(sh, n_shards), *path = path_join(dir, name);
    int n = first[sh + 1] - first[sh];
    StSpec *specs = xmalloc(sizeof(StSpec) * (size_t)n);
    for (int i = 0; i < n; i++) {
      specs[i] = l->t[first[sh] + i].spec;
      json_object_set_new(weight_map, specs[i].name, json_string(name));
    }
    StWriter w;
    rc = st_writer_open(&w, path, specs, n, "{\"format\":\"pt\"}", err);
    for (int i = 0; i < n && rc == 0; i++) rc = write_tensor(&w, &l->t[first[sh] + i], s->seed, vals, buf, err);
    if (rc == 0) rc = st_writer_close(&w, err);
    else st_writer_abort(&w);
    free(specs);
    free(name);
    free(path);
  }
  free(vals);
  free(buf);
  free(first);
  if (rc == 0 && n_shards > 1) {
    json_t *index = json_pack("{s:{s:I}, s:o}", "metadata", "total_size", (json_int_t)total,
                              "weight_map", json_incref(weight_map));
    char *text = json_dumps(index, JSON_INDENT(2) | JSON_SORT_KEYS);
    json_decref(index);
    char *path = path_join(dir, "model.safetensors.index.json");
    StrBuf b = {0};
    sb_append(&b, text);
    sb_append(&b, "\n");
    rc = write_file_atomic(path, b.data, b.len, err);
    sb_free(&b);
    free(text);
    free(path);
  }
  json_decref(weight_map);
  return rc;
}

// ---- config files ----
static const char *torch_dtype_name(DType d) {
  return d == DTYPE_BF16 ? "bfloat16" : d == DTYPE_F16 ? "float16" : "float32";
}

static void set_real(json_t *o, const char *k, double v) { json_object_set_new(o, k, json_real(v)); }
static void set_int(json_t *o, const char *k, long v) { json_object_set_new(o, k, json_integer(v)); }

// config.json as transformers writes it: 4.x (rope_theta / rotary_emb_base + rope_scaling,
// torch_dtype) or 5.x (rope_parameters, dtype). Keys sorted, indent 2, trailing newline.
static json_t *make_config(const InitModelSpec *s, int eot) {
  static const char *archs[] = {[ARCH_LLAMA] = "LlamaForCausalLM", [ARCH_MISTRAL] = "MistralForCausalLM",
                                [ARCH_QWEN2] = "Qwen2ForCausalLM", [ARCH_GPT_NEOX] = "GPTNeoXForCausalLM"};
  int v5 = s->config_style == 5, neox = s->arch == ARCH_GPT_NEOX;
  json_t *c = json_object();
  json_object_set_new(c, "architectures", json_pack("[s]", archs[s->arch]));
  json_object_set_new(c, "model_type", json_string(arch_name(s->arch)));
  set_real(c, "attention_dropout", 0.0);
  set_int(c, "bos_token_id", eot);
  set_int(c, "eos_token_id", eot);
  json_object_set_new(c, "hidden_act", json_string(neox ? "gelu" : "silu"));
  set_int(c, "hidden_size", s->hidden_size);
  set_real(c, "initializer_range", 0.02);
  set_int(c, "intermediate_size", s->intermediate_size);
  set_int(c, "max_position_embeddings", s->max_position_embeddings);
  set_int(c, "num_attention_heads", s->n_heads);
  set_int(c, "num_hidden_layers", s->n_layers);
  json_object_set_new(c, "tie_word_embeddings", json_boolean(s->tie_word_embeddings));
  json_object_set_new(c, v5 ? "dtype" : "torch_dtype", json_string(torch_dtype_name(s->dtype)));
  json_object_set_new(c, "transformers_version", json_string(v5 ? "5.0.0" : "4.46.3"));
  json_object_set_new(c, "use_cache", json_true());
  set_int(c, "vocab_size", s->vocab_size);
  if (v5) json_object_set_new(c, "pad_token_id", json_null());
  if (!neox) {
    set_int(c, "num_key_value_heads", s->n_kv_heads);
    set_real(c, "rms_norm_eps", s->arch == ARCH_LLAMA ? 1e-5 : 1e-6);
  }
  switch (s->arch) {
    case ARCH_LLAMA:
      json_object_set_new(c, "attention_bias", json_false());
      json_object_set_new(c, "mlp_bias", json_false());
      set_int(c, "head_dim", s->hidden_size / s->n_heads);
      set_int(c, "pretraining_tp", 1);
      break;
    case ARCH_MISTRAL:
      set_int(c, "head_dim", s->hidden_size / s->n_heads);
      json_object_set_new(c, "sliding_window", s->sliding_window ? json_integer(s->sliding_window) : json_null());
      break;
    case ARCH_QWEN2:
      // A window applies to every layer (max_window_layers 0), or to none.
      set_int(c, "max_window_layers", s->sliding_window ? 0 : s->n_layers);
      json_object_set_new(c, "sliding_window", s->sliding_window ? json_integer(s->sliding_window) : json_null());
      json_object_set_new(c, "use_sliding_window", json_boolean(s->sliding_window > 0));
      if (v5) {
        json_t *types = json_array();
        for (int i = 0; i < s->n_layers; i++)
          json_array_append_new(types, json_string(s->sliding_window ? "sliding_attention" : "full_attention"));
        json_object_set_new(c, "layer_types", types);
      }
      break;
    case ARCH_GPT_NEOX:
      json_object_set_new(c, "attention_bias", json_true());
      set_real(c, "classifier_dropout", 0.1);
      set_real(c, "hidden_dropout", 0.0);
      set_real(c, "layer_norm_eps", 1e-5);
      json_object_set_new(c, "use_parallel_residual", json_true());
      if (v5) json_object_set_new(c, "is_decoder", json_false());
      break;
  }
  json_t *scaling = s->rope_scaling_json ? json_loads(s->rope_scaling_json, 0, NULL) : NULL;
  if (v5) {
    json_t *p = scaling ? scaling : json_pack("{s:s}", "rope_type", "default");
    set_real(p, "rope_theta", s->rope_theta);
    if (neox) set_real(p, "partial_rotary_factor", s->rotary_pct);
    json_object_set_new(c, "rope_parameters", p);
  } else {
    if (neox) {
      set_real(c, "rotary_emb_base", s->rope_theta);
      set_real(c, "rotary_pct", s->rotary_pct);
    } else {
      set_real(c, "rope_theta", s->rope_theta);
    }
    json_object_set_new(c, "rope_scaling", scaling ? scaling : json_null());
  }
  return c;
}

static int write_json(const char *dir, const char *name, json_t *j, BenchErr *err) {
  char *text = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS | JSON_REAL_PRECISION(15));
  json_decref(j);
  CHECK(text);
  StrBuf b = {0};
  sb_append(&b, text);
  sb_append(&b, "\n");
  free(text);
  char *path = path_join(dir, name);
  int rc = write_file_atomic(path, b.data, b.len, err);
  free(path);
  sb_free(&b);
  return rc;
}

static int dir_is_empty(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return 0;
  struct dirent *e;
  int empty = 1;
  while (empty && (e = readdir(d)))
    empty = strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0;
  closedir(d);
  return empty;
}

// "model-NNNNN-of-NNNNN.safetensors"
static int is_shard_name(const char *n) {
  const char *pat = "model-#####-of-#####.safetensors";
  if (strlen(n) != strlen(pat)) return 0;
  for (size_t i = 0; pat[i]; i++)
    if (pat[i] == '#' ? !(n[i] >= '0' && n[i] <= '9') : n[i] != pat[i]) return 0;
  return 1;
}

// Weight files a previous init-model may have left (another shard count) would confuse loaders.
static int remove_old_weights(const char *dir, BenchErr *err) {
  DIR *d = opendir(dir);
  if (!d) return err_set(err, "cannot read directory '%s': %s", dir, strerror(errno));
  struct dirent *e;
  int rc = 0;
  while ((e = readdir(d)) && rc == 0) {
    if (is_shard_name(e->d_name) || strcmp(e->d_name, "model.safetensors") == 0 ||
        strcmp(e->d_name, "model.safetensors.index.json") == 0) {
      char *p = path_join(dir, e->d_name);
      if (unlink(p) != 0) rc = err_set(err, "cannot remove '%s': %s", p, strerror(errno));
      free(p);
    }
  }
  closedir(d);
  return rc;
}

int init_model_write(const char *dir, const InitModelSpec *s, InitModelResult *out, BenchErr *err) {
  memset(out, 0, sizeof *out);
  if (init_model_check(s, err) != 0) return -1;
  if (mkdir_p(dir, err) != 0) return -1;
  if (!s->overwrite && !dir_is_empty(dir))
    return err_set(err, "'%s' is not empty (--force writes the checkpoint over what is there)", dir);
  if (remove_old_weights(dir, err) != 0) return -1;
  int max_merges = s->vocab_size - 257 < s->max_merges ? s->vocab_size - 257 : s->max_merges;
  char *tok_path = path_join(dir, "tokenizer.json");
  int rc = init_tokenizer_write(tok_path, max_merges, &out->n_merges, &out->eot_id, err);
  free(tok_path);
  if (rc != 0) return -1;
  int eot = out->eot_id;
  json_t *tok_cfg = json_pack("{s:b, s:b, s:s, s:s, s:s, s:b, s:I, s:s}", "add_bos_token", 0,
                              "add_eos_token", 0, "bos_token", "<|endoftext|>", "eos_token",
                              "<|endoftext|>", "unk_token", "<|endoftext|>",
                              "clean_up_tokenization_spaces", 0, "model_max_length",
                              (json_int_t)s->max_position_embeddings, "tokenizer_class",
                              "PreTrainedTokenizerFast");
  json_t *gen = json_pack("{s:b, s:i, s:i, s:s}", "_from_model_config", 1, "bos_token_id", eot,
                          "eos_token_id", eot, "transformers_version",
                          s->config_style == 5 ? "5.0.0" : "4.46.3");
  rc = write_json(dir, "tokenizer_config.json", tok_cfg, err);
  if (rc == 0) rc = write_json(dir, "generation_config.json", gen, err);
  else json_decref(gen);
  if (rc == 0) rc = write_json(dir, "config.json", make_config(s, eot), err);
  if (rc != 0) return -1;
  InitList l = {0};
  list_tensors(s, &l);
  for (int i = 0; i < l.n; i++) out->n_params += elems(&l.t[i].spec);
  rc = write_weights(dir, s, &l, &out->weight_bytes, &out->n_shards, err);
  list_free(&l);
  return rc;
}
