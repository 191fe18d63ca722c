// model.c — a checkpoint directory → Model: safetensors files (single or sharded), every tensor
// the config implies checked for presence, shape and dtype, weights converted to fp32.
// Legend: V vocab, C hidden, L layers, H query heads, K kv heads, D head dim, F intermediate.
//
// Tensor names (Hugging Face):
//   Llama / Mistral / Qwen2: model.embed_tokens.weight [V, C];
//     model.layers.i.{input_layernorm, post_attention_layernorm}.weight [C];
//     model.layers.i.self_attn.{q,k,v,o}_proj.weight [H·D, C] [K·D, C] [K·D, C] [C, H·D]
//       (+ .bias for q, k, v when qkv_bias, for o when o_bias);
//     model.layers.i.mlp.{gate,up,down}_proj.weight [F, C] [F, C] [C, F];
//     model.norm.weight [C]; lm_head.weight [V, C] unless tied.
//   GPT-NeoX: gpt_neox.embed_in.weight [V, C];
//     gpt_neox.layers.i.{input_layernorm, post_attention_layernorm}.{weight, bias} [C];
//     gpt_neox.layers.i.attention.query_key_value.{weight [3·C, C], bias [3·C]} (fused, per head
//       q,k,v blocks of D rows; split into wq, wk, wv);
//     gpt_neox.layers.i.attention.dense.{weight [C, C], bias [C]};
//     gpt_neox.layers.i.mlp.dense_h_to_4h.{weight [F, C], bias [F]}, dense_4h_to_h.{weight [C, F], bias [C]};
//     gpt_neox.final_layer_norm.{weight, bias} [C]; embed_out.weight [V, C] unless tied.
//
// Fingerprint: checkpoint_fingerprint (fingerprint.h), the one computation of a checkpoint's identity.
#include <jansson.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "fingerprint.h"
#include "model.h"
#include "safetensors.h"

#define CONFIG_MAX_BYTES (16u << 20)

typedef enum { SLOT_PLAIN, SLOT_QKV_W, SLOT_QKV_B } SlotKind;

// One tensor the config implies, and where its fp32 copy goes.
typedef struct {
  char *name;
  int n_dims;
  int64_t shape[2];
  SlotKind kind;
  float **dst;           // PLAIN: the pointer to fill
  LayerWeights *layer;   // QKV: wq/wk/wv (or bq/bk/bv) of this layer
  int file;              // where it was found
  const StTensor *t;
} Slot;

// Every tensor present in the files, sorted by name.
typedef struct {
  const char *name;
  int file;
  const StTensor *t;
  int used;
} Entry;

typedef struct {
  const char *dir;
  StFile *files;
  char **file_names;     // relative to dir
  int n_files;
  Entry *entries;
  int n_entries;
  Slot *slots;
  int n_slots, cap_slots;
} Loader;

static void add_slot(Loader *ld, float **dst, SlotKind kind, LayerWeights *layer, int n_dims,
                     int64_t d0, int64_t d1, const char *fmt, ...) __attribute__((format(printf, 8, 9)));

static void add_slot(Loader *ld, float **dst, SlotKind kind, LayerWeights *layer, int n_dims,
                     int64_t d0, int64_t d1, const char *fmt, ...) {
  if (ld->n_slots == ld->cap_slots) {
    ld->cap_slots = ld->cap_slots ? 2 * ld->cap_slots : 64;
    ld->slots = xrealloc(ld->slots, sizeof(Slot) * (size_t)ld->cap_slots);
  }
  Slot *s = &ld->slots[ld->n_slots++];
  memset(s, 0, sizeof *s);
  va_list ap;
  va_start(ap, fmt);
  char tmp[256];
  vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  s->name = xstrdup(tmp);
  s->n_dims = n_dims;
  s->shape[0] = d0;
  s->shape[1] = d1;
  s->kind = kind;
  s->dst = dst;
  s->layer = layer;
  s->file = -1;
}

// The tensors a config implies, in file order of a typical checkpoint.
static void plan_slots(Loader *ld, const ModelConfig *c, ModelWeights *w) {
  int64_t V = c->vocab_size, C = c->hidden_size, F = c->intermediate_size;
  int64_t HD = (int64_t)c->n_heads * c->head_dim, KD = (int64_t)c->n_kv_heads * c->head_dim;
  w->layers = xcalloc((size_t)c->n_layers, sizeof(LayerWeights));
  if (c->arch == ARCH_GPT_NEOX) {
    add_slot(ld, &w->embed, SLOT_PLAIN, NULL, 2, V, C, "gpt_neox.embed_in.weight");
    for (int i = 0; i < c->n_layers; i++) {
      LayerWeights *l = &w->layers[i];
      const char *p = "gpt_neox.layers.";
      add_slot(ld, &l->attn_norm_w, SLOT_PLAIN, NULL, 1, C, 0, "%s%d.input_layernorm.weight", p, i);
      add_slot(ld, &l->attn_norm_b, SLOT_PLAIN, NULL, 1, C, 0, "%s%d.input_layernorm.bias", p, i);
      add_slot(ld, &l->mlp_norm_w, SLOT_PLAIN, NULL, 1, C, 0, "%s%d.post_attention_layernorm.weight", p, i);
      add_slot(ld, &l->mlp_norm_b, SLOT_PLAIN, NULL, 1, C, 0, "%s%d.post_attention_layernorm.bias", p, i);
      add_slot(ld, NULL, SLOT_QKV_W, l, 2, 3 * C, C, "%s%d.attention.query_key_value.weight", p, i);
      if (c->qkv_bias)
        add_slot(ld, NULL, SLOT_QKV_B, l, 1, 3 * C, 0, "%s%d.attention.query_key_value.bias", p, i);
      add_slot(ld, &l->wo, SLOT_PLAIN, NULL, 2, C, C, "%s%d.attention.dense.weight", p, i);
      if (c->o_bias) add_slot(ld, &l->bo, SLOT_PLAIN, NULL, 1, C, 0, "%s%d.attention.dense.bias", p, i);
      add_slot(ld, &l->w_up, SLOT_PLAIN, NULL, 2, F, C, "%s%d.mlp.dense_h_to_4h.weight", p, i);
      add_slot(ld, &l->b_up, SLOT_PLAIN, NULL, 1, F, 0, "%s%d.mlp.dense_h_to_4h.bias", p, i);
      add_slot(ld, &l->w_down, SLOT_PLAIN, NULL, 2, C, F, "%s%d.mlp.dense_4h_to_h.weight", p, i);
      add_slot(ld, &l->b_down, SLOT_PLAIN, NULL, 1, C, 0, "%s%d.mlp.dense_4h_to_h.bias", p, i);
    }
    add_slot(ld, &w->final_norm_w, SLOT_PLAIN, NULL, 1, C, 0, "gpt_neox.final_layer_norm.weight");
    add_slot(ld, &w->final_norm_b, SLOT_PLAIN, NULL, 1, C, 0, "gpt_neox.final_layer_norm.bias");
    if (!c->tie_word_embeddings) add_slot(ld, &w->lm_head, SLOT_PLAIN, NULL, 2, V, C, "embed_out.weight");
    return;
  }
  add_slot(ld, &w->embed, SLOT_PLAIN, NULL, 2, V, C, "model.embed_tokens.weight");
  for (int i = 0; i < c->n_layers; i++) {
    LayerWeights *l = &w->layers[i];
    const char *p = "model.layers.";
    add_slot(ld, &l->attn_norm_w, SLOT_PLAIN, NULL, 1, C, 0, "%s%d.input_layernorm.weight", p, i);
    add_slot(ld, &l->wq, SLOT_PLAIN, NULL, 2, HD, C, "%s%d.self_attn.q_proj.weight", p, i);
    add_slot(ld, &l->wk, SLOT_PLAIN, NULL, 2, KD, C, "%s%d.self_attn.k_proj.weight", p, i);
    add_slot(ld, &l->wv, SLOT_PLAIN, NULL, 2, KD, C, "%s%d.self_attn.v_proj.weight", p, i);
    if (c->qkv_bias) {
      add_slot(ld, &l->bq, SLOT_PLAIN, NULL, 1, HD, 0, "%s%d.self_attn.q_proj.bias", p, i);
      add_slot(ld, &l->bk, SLOT_PLAIN, NULL, 1, KD, 0, "%s%d.self_attn.k_proj.bias", p, i);
      add_slot(ld, &l->bv, SLOT_PLAIN, NULL, 1, KD, 0, "%s%d.self_attn.v_proj.bias", p, i);
    }
    add_slot(ld, &l->wo, SLOT_PLAIN, NULL, 2, C, HD, "%s%d.self_attn.o_proj.weight", p, i);
    if (c->o_bias) add_slot(ld, &l->bo, SLOT_PLAIN, NULL, 1, C, 0, "%s%d.self_attn.o_proj.bias", p, i);
    add_slot(ld, &l->mlp_norm_w, SLOT_PLAIN, NULL, 1, C, 0, "%s%d.post_attention_layernorm.weight", p, i);
    add_slot(ld, &l->w_gate, SLOT_PLAIN, NULL, 2, F, C, "%s%d.mlp.gate_proj.weight", p, i);
    add_slot(ld, &l->w_up, SLOT_PLAIN, NULL, 2, F, C, "%s%d.mlp.up_proj.weight", p, i);
    add_slot(ld, &l->w_down, SLOT_PLAIN, NULL, 2, C, F, "%s%d.mlp.down_proj.weight", p, i);
  }
  add_slot(ld, &w->final_norm_w, SLOT_PLAIN, NULL, 1, C, 0, "model.norm.weight");
  if (!c->tie_word_embeddings) add_slot(ld, &w->lm_head, SLOT_PLAIN, NULL, 2, V, C, "lm_head.weight");
}

// ---- files ----

// A weight_map value must stay inside the model directory: relative, no '..' component.
static int cmp_entry(const void *a, const void *b) {
  return strcmp(((const Entry *)a)->name, ((const Entry *)b)->name);
}

static Entry *find_entry(Loader *ld, const char *name) {
  Entry key = {name, 0, NULL, 0};
  return bsearch(&key, ld->entries, (size_t)ld->n_entries, sizeof(Entry), cmp_entry);
}

// Opens every safetensors file and builds the sorted tensor table; with an index, checks that
// the index and the files agree tensor by tensor.
static int open_files(Loader *ld, BenchErr *err) {
  StShards sh;
  int rc = st_shards_find(ld->dir, &sh, err);
  json_t *weight_map = sh.weight_map;
  ld->file_names = sh.files;
  ld->n_files = sh.n_files;
  char *index = path_join(ld->dir, ST_INDEX_FILE);
  if (rc == 0) {
    ld->files = xcalloc((size_t)ld->n_files, sizeof(StFile));
    for (int i = 0; i < ld->n_files && rc == 0; i++) {
      char *path = path_join(ld->dir, ld->file_names[i]);
      rc = st_open(path, &ld->files[i], err);
      if (rc != 0 && weight_map) err_prefix(err, "%s names '%s'", index, ld->file_names[i]);
      free(path);
    }
  }
  if (rc == 0) {
    int total = 0;
    for (int i = 0; i < ld->n_files; i++) total += ld->files[i].n_tensors;
    ld->entries = xcalloc((size_t)total + 1, sizeof(Entry));
    for (int i = 0; i < ld->n_files; i++)
      for (int k = 0; k < ld->files[i].n_tensors; k++)
        ld->entries[ld->n_entries++] = (Entry){ld->files[i].tensors[k].name, i, &ld->files[i].tensors[k], 0};
    qsort(ld->entries, (size_t)ld->n_entries, sizeof(Entry), cmp_entry);
    for (int k = 1; k < ld->n_entries && rc == 0; k++)
      if (strcmp(ld->entries[k].name, ld->entries[k - 1].name) == 0)
        rc = err_set(err, "%s: tensor '%s' is also in %s", ld->files[ld->entries[k].file].path,
                     ld->entries[k].name, ld->files[ld->entries[k - 1].file].path);
  }
  if (rc == 0 && weight_map) {
    const char *name;
    json_t *v;
    json_object_foreach(weight_map, name, v) {
      Entry *e = find_entry(ld, name);
      const char *want = json_string_value(v);
      if (!e || strcmp(ld->file_names[e->file], want) != 0) {
        char *path = path_join(ld->dir, want);
        rc = err_set(err, "%s: tensor '%s' is not there, though %s says it is", path, name,
                     ST_INDEX_FILE);
        free(path);
        break;
      }
    }
    for (int k = 0; k < ld->n_entries && rc == 0; k++)
      if (!json_object_get(weight_map, ld->entries[k].name))
        rc = err_set(err, "%s: tensor '%s' is not listed in %s", ld->files[ld->entries[k].file].path,
                     ld->entries[k].name, ST_INDEX_FILE);
  }
  json_decref(weight_map);
  free(index);
  return rc;
}

static void format_dims(const int64_t *shape, int n, char *out, size_t cap) {
  size_t k = (size_t)snprintf(out, cap, "[");
  for (int i = 0; i < n && k < cap; i++)
    k += (size_t)snprintf(out + k, cap - k, "%s%lld", i ? ", " : "", (long long)shape[i]);
  if (k < cap) snprintf(out + k, cap - k, "]");
}

static int is_known_buffer(const char *name) {
  static const char *suffixes[] = {".rotary_emb.inv_freq", ".attention.bias", ".attention.masked_bias"};
  size_t n = strlen(name);
  for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
    size_t k = strlen(suffixes[i]);
    if (n >= k && strcmp(name + n - k, suffixes[i]) == 0) return 1;
  }
  return 0;
}

// Matches slots to tensors: presence, shape, floating dtype; then no tensor left unexplained.
static int match_slots(Loader *ld, const ModelConfig *c, BenchErr *err) {
  for (int i = 0; i < ld->n_slots; i++) {
    Slot *s = &ld->slots[i];
    Entry *e = find_entry(ld, s->name);
    if (!e) {
      if (ld->n_files == 1)
        return err_set(err, "%s: tensor '%s' is missing (config.json implies it)", ld->files[0].path, s->name);
      return err_set(err, "%s: tensor '%s' is missing from every shard (config.json implies it)",
                     ld->dir, s->name);
    }
    const StTensor *t = e->t;
    const char *path = ld->files[e->file].path;
    if (t->n_dims != s->n_dims || t->shape[0] != s->shape[0] || (s->n_dims == 2 && t->shape[1] != s->shape[1])) {
      char have[256], want[64];
      format_dims(t->shape, t->n_dims, have, sizeof have);
      format_dims(s->shape, s->n_dims, want, sizeof want);
      return err_set(err, "%s: tensor '%s' has shape %s, config implies %s", path, s->name, have, want);
    }
    if (t->dtype != ST_F32 && t->dtype != ST_BF16 && t->dtype != ST_F16 && t->dtype != ST_F64)
      return err_set(err, "%s: tensor '%s' has dtype %s; only F64, F32, F16 and BF16 are supported", path,
                     s->name, st_dtype_name(t->dtype));
    e->used = 1;
    s->file = e->file;
    s->t = t;
  }
  const char *tied_head = c->arch == ARCH_GPT_NEOX ? "embed_out.weight" : "lm_head.weight";
  for (int k = 0; k < ld->n_entries; k++) {
    Entry *e = &ld->entries[k];
    if (e->used || is_known_buffer(e->name)) continue;
    if (c->tie_word_embeddings && strcmp(e->name, tied_head) == 0) continue;
    return err_set(err, "%s: unexpected tensor '%s' (not part of a %s with this config.json)",
                   ld->files[e->file].path, e->name, c->architecture);
  }
  return 0;
}

// ---- conversion ----
static size_t mem_available_bytes(void) {
  FILE *f = fopen("/proc/meminfo", "r");
  if (!f) return 0;
  char line[256];
  size_t kb = 0;
  while (fgets(line, sizeof line, f))
    if (sscanf(line, "MemAvailable: %zu kB", &kb) == 1) break;
  fclose(f);
  return kb * 1024;
}

static size_t round16(size_t n) { return (n + 15) / 16 * 16; }  // 64-byte aligned pieces

static int convert_weights(Loader *ld, Model *m, BenchErr *err) {
  const ModelConfig *c = &m->config;
  size_t floats = 0;
  for (int i = 0; i < ld->n_slots; i++) {
    size_t n = (size_t)ld->slots[i].t->n_elems;
    floats += ld->slots[i].kind == SLOT_PLAIN ? round16(n) : 3 * round16(n / 3);
  }
  size_t bytes = floats * sizeof(float);
  size_t avail = mem_available_bytes();
  if (avail && bytes > avail)
    return err_set(err, "'%s': fp32 weights need %.2f GiB, only %.2f GiB of memory is available",
                   ld->dir, bytes / 1073741824.0, avail / 1073741824.0);
  m->arena = aligned_alloc(64, bytes ? bytes : 64);
  if (!m->arena)
    return err_set(err, "'%s': cannot allocate %.2f GiB for fp32 weights", ld->dir, bytes / 1073741824.0);
  m->weight_bytes = bytes;
  float *next = m->arena;
  int64_t C = c->hidden_size, D = c->head_dim, H = c->n_heads;
  for (int i = 0; i < ld->n_slots; i++) {
    Slot *s = &ld->slots[i];
    const StFile *f = &ld->files[s->file];
    size_t n = (size_t)s->t->n_elems;
    if (s->kind == SLOT_PLAIN) {
      *s->dst = next;
      memset(next + n, 0, (round16(n) - n) * sizeof(float));  // padding is defined too
      next += round16(n);
      if (st_tensor_to_f32(f, s->t, *s->dst, err) != 0) return -1;
      continue;
    }
    // Fused GPT-NeoX qkv: rows h·3D + [0, D) → q, + [D, 2D) → k, + [2D, 3D) → v, per head h.
    int w = s->kind == SLOT_QKV_W;
    int64_t cols = w ? C : 1;
    float **dst[3] = {w ? &s->layer->wq : &s->layer->bq, w ? &s->layer->wk : &s->layer->bk,
                      w ? &s->layer->wv : &s->layer->bv};
    for (int j = 0; j < 3; j++) {
      *dst[j] = next;
      memset(next + n / 3, 0, (round16(n / 3) - n / 3) * sizeof(float));
      next += round16(n / 3);
    }
    float *fused = malloc(n * sizeof(float));
    if (!fused) return err_set(err, "'%s': cannot allocate a conversion buffer", ld->dir);
    if (st_tensor_to_f32(f, s->t, fused, err) != 0) {
      free(fused);
      return -1;
    }
    for (int64_t h = 0; h < H; h++)
      for (int j = 0; j < 3; j++)
        memcpy(*dst[j] + h * D * cols, fused + (h * 3 + j) * D * cols, (size_t)(D * cols) * sizeof(float));
    free(fused);
  }
  if (c->tie_word_embeddings) m->weights.lm_head = m->weights.embed;
  return 0;
}

// ---- entry points ----
static void loader_free(Loader *ld) {
  for (int i = 0; i < ld->n_files; i++) {
    if (ld->files) st_close(&ld->files[i]);
    free(ld->file_names[i]);
  }
  free(ld->files);
  free(ld->file_names);
  free(ld->entries);
  for (int i = 0; i < ld->n_slots; i++) free(ld->slots[i].name);
  free(ld->slots);
}

static int model_open(const char *dir, Model *m, int with_weights, BenchErr *err) {
  memset(m, 0, sizeof *m);
  if (need_directory(dir, "model directory", err) != 0) return -1;
  char *config_path = path_join(dir, "config.json");
  char *text = NULL;
  size_t len = 0;
  int rc = read_file(config_path, CONFIG_MAX_BYTES, &text, &len, err);
  if (rc == 0) rc = model_config_parse(config_path, text, len, &m->config, err);
  free(config_path);
  if (rc != 0) {
    free(text);
    return -1;
  }
  m->dir = xstrdup(dir);
  Loader ld = {.dir = dir};
  plan_slots(&ld, &m->config, &m->weights);
  rc = open_files(&ld, err);
  if (rc == 0) rc = match_slots(&ld, &m->config, err);
  if (rc == 0) {
    for (int i = 0; i < ld.n_slots; i++) m->n_params += (size_t)ld.slots[i].t->n_elems;
    for (int i = 0; i < ld.n_files; i++) m->file_bytes += ld.files[i].size;
    m->n_files = ld.n_files;
    if (!m->config.dtype_given) {  // the embedding's dtype stands for the checkpoint's
      StDtype d = ld.slots[0].t->dtype;
      m->config.dtype = d == ST_BF16 ? DTYPE_BF16 : d == ST_F16 ? DTYPE_F16 : DTYPE_F32;
    }
    rc = checkpoint_fingerprint(dir, m->fingerprint, NULL, err);
    char *tok = path_join(dir, "tokenizer.json");
    if (file_exists(tok)) m->tokenizer_path = tok;
    else free(tok);
    if (with_weights && rc == 0) rc = convert_weights(&ld, m, err);
  }
  free(text);
  loader_free(&ld);
  if (rc != 0) {
    model_free(m);
    return -1;
  }
  if (!with_weights) {  // nothing points anywhere without weights
    free(m->weights.layers);
    m->weights.layers = NULL;
  }
  return 0;
}

int model_load(const char *dir, Model *m, BenchErr *err) { return model_open(dir, m, 1, err); }
int model_inspect(const char *dir, Model *m, BenchErr *err) { return model_open(dir, m, 0, err); }

void model_free(Model *m) {
  free(m->arena);
  free(m->weights.layers);
  free(m->tokenizer_path);
  free(m->dir);
  model_config_free(&m->config);
  memset(m, 0, sizeof *m);
}
