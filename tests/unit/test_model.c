// test_model.c — checkpoint loading: every architecture from init-model output (both config.json
// spellings), sharded equals unsharded, GPT-NeoX's fused qkv split, config/tensor disagreements
// named by file and tensor, config.json parsing of real-world spellings, fp16/bf16 conversion.
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <unistd.h>

#include "model.h"
#include "model_init.h"
#include "safetensors.h"
#include "test.h"

static char tmp_root[64];

static char *tmp_path(const char *name) { return path_join(tmp_root, name); }

// init-model into tmp_root/name; returns the directory (caller frees).
static char *make_model(const char *name, Arch arch, int style, DType dt, int shards, uint64_t seed) {
  InitModelSpec s;
  init_model_defaults(&s, arch);
  s.config_style = style;
  s.dtype = dt;
  s.n_shards = shards;
  s.seed = seed;
  char *dir = tmp_path(name);
  InitModelResult r;
  BenchErr err;
  if (init_model_write(dir, &s, &r, &err) != 0) {
    fprintf(stderr, "init_model_write: %s\n", err.msg);
    free(dir);
    return NULL;
  }
  return dir;
}

static void write_text(const char *dir, const char *name, const char *text) {
  char *p = path_join(dir, name);
  BenchErr err;
  CHECK(write_file_atomic(p, text, strlen(text), &err) == 0);
  free(p);
}

static char *read_text(const char *dir, const char *name) {
  char *p = path_join(dir, name), *text;
  BenchErr err;
  CHECK(read_file(p, 1 << 24, &text, NULL, &err) == 0);
  free(p);
  return text;
}

// Replaces the first occurrence of `from` by `to` in dir/name.
static void edit_file(const char *dir, const char *name, const char *from, const char *to) {
  char *text = read_text(dir, name);
  char *at = strstr(text, from);
  CHECK(at);
  StrBuf b = {0};
  sb_appendn(&b, text, (size_t)(at - text));
  sb_append(&b, to);
  sb_append(&b, at + strlen(from));
  write_text(dir, name, b.data);
  sb_free(&b);
  free(text);
}

// One tensor of a single-file checkpoint as fp32 (caller frees).
static float *file_tensor(const char *dir, const char *name, size_t *n) {
  char *p = path_join(dir, "model.safetensors");
  StFile f;
  BenchErr err;
  CHECK(st_open(p, &f, &err) == 0);
  const StTensor *t = st_find(&f, name);
  CHECK(t);
  float *x = xmalloc(sizeof(float) * (size_t)t->n_elems);
  CHECK(st_tensor_to_f32(&f, t, x, &err) == 0);
  *n = (size_t)t->n_elems;
  st_close(&f);
  free(p);
  return x;
}

TEST(every_architecture_loads) {
  const Arch archs[] = {ARCH_LLAMA, ARCH_MISTRAL, ARCH_QWEN2, ARCH_GPT_NEOX};
  for (int style = 4; style <= 5; style++) {
    for (int a = 0; a < 4; a++) {
      char name[64];
      snprintf(name, sizeof name, "%s-v%d", arch_name(archs[a]), style);
      char *dir = make_model(name, archs[a], style, DTYPE_F32, 1, 7);
      EXPECT(dir != NULL);
      if (!dir) continue;
      Model m;
      BenchErr err;
      int rc = model_load(dir, &m, &err);
      if (rc != 0) TEST_FAIL_AT("%s: %s", name, err.msg);
      if (rc == 0) {
        const ModelConfig *c = &m.config;
        int neox = archs[a] == ARCH_GPT_NEOX;
        EXPECT_INT_EQ(c->arch, archs[a]);
        EXPECT_INT_EQ(c->n_layers, 2);
        EXPECT_INT_EQ(c->hidden_size, 64);
        EXPECT_INT_EQ(c->n_heads, 4);
        EXPECT_INT_EQ(c->n_kv_heads, neox ? 4 : 2);
        EXPECT_INT_EQ(c->head_dim, 16);
        EXPECT_INT_EQ(c->rotary_dims, neox ? 4 : 16);
        EXPECT_INT_EQ(c->vocab_size, 512);
        EXPECT_NEAR(c->rope_theta, 10000.0, 0, 0);
        EXPECT(c->rope_scaling_json == NULL);
        EXPECT_INT_EQ(c->norm_is_layernorm, neox);
        EXPECT_INT_EQ(c->mlp_is_gelu, neox);
        EXPECT_INT_EQ(c->parallel_residual, neox);
        EXPECT_INT_EQ(c->qkv_bias, neox || archs[a] == ARCH_QWEN2);
        EXPECT_INT_EQ(c->o_bias, neox);
        EXPECT_INT_EQ(c->tie_word_embeddings, archs[a] == ARCH_QWEN2);
        EXPECT_INT_EQ(c->bos_token_id, 511);
        EXPECT_INT_EQ(c->eos_token_id, 511);
        EXPECT_INT_EQ(c->dtype, DTYPE_F32);
        EXPECT(m.tokenizer_path && strstr(m.tokenizer_path, "tokenizer.json"));
        EXPECT_INT_EQ(strlen(m.fingerprint), 64);
        const ModelWeights *w = &m.weights;
        EXPECT(w->embed && w->lm_head && w->final_norm_w && w->layers);
        EXPECT((w->lm_head == w->embed) == (archs[a] == ARCH_QWEN2));
        EXPECT((w->final_norm_b != NULL) == neox);
        for (int i = 0; i < c->n_layers; i++) {
          const LayerWeights *l = &w->layers[i];
          EXPECT(l->wq && l->wk && l->wv && l->wo && l->w_up && l->w_down && l->attn_norm_w && l->mlp_norm_w);
          EXPECT((l->w_gate != NULL) == !neox);
          EXPECT((l->bq != NULL) == (neox || archs[a] == ARCH_QWEN2));
          EXPECT((l->bo != NULL) == neox);
          EXPECT((l->b_up != NULL) == neox && (l->b_down != NULL) == neox);
          EXPECT((l->attn_norm_b != NULL) == neox);
          EXPECT_NEAR(l->attn_norm_w[0], 1.0, 0, 0);
        }
        // The embedding equals the file's, value for value.
        size_t n;
        float *e = file_tensor(dir, neox ? "gpt_neox.embed_in.weight" : "model.embed_tokens.weight", &n);
        EXPECT_INT_EQ(n, 512 * 64);
        EXPECT_ARRAY_NEAR(w->embed, e, n, 0, 0);
        free(e);
        size_t want = 512 * 64 * (archs[a] == ARCH_QWEN2 ? 1 : 2) + 64 + (neox ? 64 : 0);
        EXPECT(m.n_params > want);
        model_free(&m);
      }
      free(dir);
    }
  }
}

TEST(both_spellings_give_the_same_config_and_weights) {
  char *a = make_model("same-v4", ARCH_GPT_NEOX, 4, DTYPE_BF16, 1, 3);
  char *b = make_model("same-v5", ARCH_GPT_NEOX, 5, DTYPE_BF16, 1, 3);
  Model ma, mb;
  BenchErr err;
  EXPECT(model_load(a, &ma, &err) == 0);
  EXPECT(model_load(b, &mb, &err) == 0);
  EXPECT_NEAR(ma.config.partial_rotary_factor, mb.config.partial_rotary_factor, 0, 0);
  EXPECT_INT_EQ(ma.config.rotary_dims, mb.config.rotary_dims);
  EXPECT_INT_EQ(ma.config.dtype, DTYPE_BF16);
  EXPECT_INT_EQ(mb.config.dtype, DTYPE_BF16);
  EXPECT_INT_EQ(ma.weight_bytes, mb.weight_bytes);
  EXPECT(memcmp(ma.arena, mb.arena, ma.weight_bytes) == 0);
  EXPECT(strcmp(ma.fingerprint, mb.fingerprint) != 0);  // config.json differs
  model_free(&ma);
  model_free(&mb);
  free(a);
  free(b);
}

TEST(sharded_equals_unsharded) {
  const Arch archs[] = {ARCH_LLAMA, ARCH_GPT_NEOX};
  for (int a = 0; a < 2; a++) {
    char n1[64], n3[64];
    snprintf(n1, sizeof n1, "one-%s", arch_name(archs[a]));
    snprintf(n3, sizeof n3, "three-%s", arch_name(archs[a]));
    char *d1 = make_model(n1, archs[a], 4, DTYPE_BF16, 1, 11);
    char *d3 = make_model(n3, archs[a], 4, DTYPE_BF16, 3, 11);
    char *index = path_join(d3, "model.safetensors.index.json");
    char *shard = path_join(d3, "model-00003-of-00003.safetensors");
    EXPECT(file_exists(index) && file_exists(shard));
    Model m1, m3;
    BenchErr err;
    EXPECT(model_load(d1, &m1, &err) == 0);
    int rc = model_load(d3, &m3, &err);
    if (rc != 0) TEST_FAIL_AT("%s", err.msg);
    if (rc == 0) {
      EXPECT_INT_EQ(m3.n_files, 3);
      EXPECT_INT_EQ(m1.n_params, m3.n_params);
      EXPECT_INT_EQ(m1.weight_bytes, m3.weight_bytes);
      EXPECT(memcmp(m1.arena, m3.arena, m1.weight_bytes) == 0);
      model_free(&m3);
    }
    model_free(&m1);
    free(index);
    free(shard);
    free(d1);
    free(d3);
  }
}

TEST(seed_changes_weights_and_is_deterministic) {
  char *a = make_model("seed-a", ARCH_LLAMA, 4, DTYPE_F32, 1, 5);
  char *b = make_model("seed-b", ARCH_LLAMA, 4, DTYPE_F32, 1, 5);
  char *c = make_model("seed-c", ARCH_LLAMA, 4, DTYPE_F32, 1, 6);
  char *fa = path_join(a, "model.safetensors"), *fb = path_join(b, "model.safetensors"),
       *fc = path_join(c, "model.safetensors");
  char ha[65], hb[65], hc[65];
  BenchErr err;
  EXPECT(sha256_file_hex(fa, ha, &err) == 0 && sha256_file_hex(fb, hb, &err) == 0 &&
         sha256_file_hex(fc, hc, &err) == 0);
  EXPECT_STR_EQ(ha, hb);
  EXPECT(strcmp(ha, hc) != 0);
  Model m;
  EXPECT(model_load(a, &m, &err) == 0);
  // N(0, 0.02): no zero, sample std near 0.02.
  const float *x = m.weights.embed;
  size_t n = 512 * 64, zeros = 0;
  double s2 = 0;
  for (size_t i = 0; i < n; i++) {
    zeros += x[i] == 0.0f;
    s2 += (double)x[i] * x[i];
  }
  EXPECT_INT_EQ(zeros, 0);
  EXPECT_NEAR(sqrt(s2 / n), 0.02, 0.02, 0);
  model_free(&m);
  free(fa); free(fb); free(fc);
  free(a); free(b); free(c);
}

TEST(neox_qkv_is_split_per_head) {
  char *dir = make_model("qkv", ARCH_GPT_NEOX, 4, DTYPE_F32, 1, 9);
  Model m;
  BenchErr err;
  EXPECT(model_load(dir, &m, &err) == 0);
  size_t n, nb;
  float *w = file_tensor(dir, "gpt_neox.layers.1.attention.query_key_value.weight", &n);
  float *b = file_tensor(dir, "gpt_neox.layers.1.attention.query_key_value.bias", &nb);
  const LayerWeights *l = &m.weights.layers[1];
  int C = 64, D = 16, H = 4;
  EXPECT_INT_EQ(n, 3 * C * C);
  for (int h = 0; h < H; h++)
    for (int r = 0; r < D; r++) {
      int row = h * D + r;
      EXPECT_ARRAY_NEAR(l->wq + (size_t)row * C, w + (size_t)(h * 3 * D + r) * C, C, 0, 0);
      EXPECT_ARRAY_NEAR(l->wk + (size_t)row * C, w + (size_t)(h * 3 * D + D + r) * C, C, 0, 0);
      EXPECT_ARRAY_NEAR(l->wv + (size_t)row * C, w + (size_t)(h * 3 * D + 2 * D + r) * C, C, 0, 0);
      EXPECT_NEAR(l->bq[row], b[h * 3 * D + r], 0, 0);
      EXPECT_NEAR(l->bk[row], b[h * 3 * D + D + r], 0, 0);
      EXPECT_NEAR(l->bv[row], b[h * 3 * D + 2 * D + r], 0, 0);
    }
  free(w);
  free(b);
  model_free(&m);
  free(dir);
}

static void expect_load_error(const char *dir, const char *want1, const char *want2) {
  Model m;
  BenchErr err;
  int rc = model_load(dir, &m, &err);
  EXPECT(rc != 0);
  if (rc == 0) {
    model_free(&m);
    return;
  }
  EXPECT_CONTAINS(err.msg, want1);
  if (want2) EXPECT_CONTAINS(err.msg, want2);
  Model mi;  // inspect agrees
  EXPECT(model_inspect(dir, &mi, &err) != 0);
}

TEST(config_tensor_disagreement_names_file_and_tensor) {
  char *dir = make_model("disagree", ARCH_LLAMA, 4, DTYPE_F32, 1, 1);
  edit_file(dir, "config.json", "\"intermediate_size\": 192", "\"intermediate_size\": 256");
  expect_load_error(dir, "model.safetensors: tensor 'model.layers.0.mlp.gate_proj.weight' has shape [192, 64]",
                    "config implies [256, 64]");
  free(dir);

  dir = make_model("disagree-sharded", ARCH_LLAMA, 4, DTYPE_F32, 2, 1);
  edit_file(dir, "config.json", "\"num_key_value_heads\": 2", "\"num_key_value_heads\": 4");
  expect_load_error(dir, "model-00001-of-00002.safetensors: tensor 'model.layers.0.self_attn.k_proj.weight'",
                    "has shape [32, 64], config implies [64, 64]");
  free(dir);

  dir = make_model("extra-layer", ARCH_QWEN2, 4, DTYPE_F32, 1, 1);  // config says 3 layers, file has 2
  edit_file(dir, "config.json", "\"num_hidden_layers\": 2", "\"num_hidden_layers\": 3");
  expect_load_error(dir, "tensor 'model.layers.2.", "is missing");
  free(dir);

  dir = make_model("fewer-layers", ARCH_GPT_NEOX, 4, DTYPE_F32, 1, 1);  // config 1 layer, file 2
  edit_file(dir, "config.json", "\"num_hidden_layers\": 2", "\"num_hidden_layers\": 1");
  expect_load_error(dir, "model.safetensors: unexpected tensor 'gpt_neox.layers.1.", "GPTNeoXForCausalLM");
  free(dir);

  dir = make_model("untied", ARCH_QWEN2, 4, DTYPE_F32, 1, 1);  // config untied, file has no head
  edit_file(dir, "config.json", "\"tie_word_embeddings\": true", "\"tie_word_embeddings\": false");
  expect_load_error(dir, "tensor 'lm_head.weight' is missing", NULL);
  free(dir);
}

TEST(index_and_files_must_agree) {
  char *dir = make_model("index-lies", ARCH_LLAMA, 4, DTYPE_F32, 2, 1);
  edit_file(dir, "model.safetensors.index.json", "\"model.norm.weight\": \"model-00002-of-00002.safetensors\"",
            "\"model.norm.weight\": \"model-00001-of-00002.safetensors\"");
  expect_load_error(dir, "model-00001-of-00002.safetensors: tensor 'model.norm.weight' is not there", NULL);
  free(dir);

  dir = make_model("index-escapes", ARCH_LLAMA, 4, DTYPE_F32, 2, 1);
  edit_file(dir, "model.safetensors.index.json", "\"model.norm.weight\": \"model-00002-of-00002.safetensors\"",
            "\"model.norm.weight\": \"../model-00002-of-00002.safetensors\"");
  expect_load_error(dir, "model.safetensors.index.json: tensor 'model.norm.weight' maps to '../model-00002-of-00002.safetensors'",
                    "not a file name inside the model directory");
  free(dir);

  dir = make_model("index-absolute", ARCH_LLAMA, 4, DTYPE_F32, 2, 1);
  edit_file(dir, "model.safetensors.index.json", "\"model.norm.weight\": \"model-00002-of-00002.safetensors\"",
            "\"model.norm.weight\": \"/etc/passwd\"");
  expect_load_error(dir, "tensor 'model.norm.weight' maps to '/etc/passwd'",
                    "not a file name inside the model directory");
  free(dir);

  // A tensor in a shard that the index does not list; a tensor in two shards.
  dir = make_model("index-unlisted", ARCH_LLAMA, 4, DTYPE_F32, 2, 1);
  char *index_text = read_text(dir, "model.safetensors.index.json");
  json_t *index = json_loads(index_text, 0, NULL);
  json_object_del(json_object_get(index, "weight_map"), "model.norm.weight");
  char *dumped = json_dumps(index, JSON_INDENT(2));
  write_text(dir, "model.safetensors.index.json", dumped);
  expect_load_error(dir, "model-00002-of-00002.safetensors: tensor 'model.norm.weight' is not listed in model.safetensors.index.json", NULL);
  free(dumped);
  json_object_set_new(json_object_get(index, "weight_map"), "model.norm.weight",
                      json_string("copy-of-00002.safetensors"));
  dumped = json_dumps(index, JSON_INDENT(2));
  write_text(dir, "model.safetensors.index.json", dumped);
  char *src = path_join(dir, "model-00002-of-00002.safetensors"), *dst = path_join(dir, "copy-of-00002.safetensors");
  char *copy = xasprintf("cp '%s' '%s'", src, dst);
  CHECK(system(copy) == 0);
  expect_load_error(dir, "' is also in ", "copy-of-00002.safetensors");
  free(copy);
  free(src);
  free(dst);
  free(dumped);
  free(index_text);
  json_decref(index);
  free(dir);

  dir = make_model("index-missing-shard", ARCH_LLAMA, 4, DTYPE_F32, 2, 1);
  char *p = path_join(dir, "model-00002-of-00002.safetensors");
  unlink(p);
  free(p);
  expect_load_error(dir, "model.safetensors.index.json names 'model-00002-of-00002.safetensors'", "cannot open");
  free(dir);
}

TEST(missing_pieces_are_errors) {
  char *dir = tmp_path("nothing-here");
  expect_load_error(dir, "does not exist", NULL);
  BenchErr err;
  EXPECT(mkdir_p(dir, &err) == 0);
  expect_load_error(dir, "config.json", "cannot open");
  free(dir);
  dir = make_model("no-weights", ARCH_LLAMA, 4, DTYPE_F32, 1, 1);
  char *p = path_join(dir, "model.safetensors");
  unlink(p);
  free(p);
  expect_load_error(dir, "has no model.safetensors or model.safetensors.index.json", NULL);
  free(dir);
}

TEST(unknown_architecture_is_named) {
  ModelConfig c;
  BenchErr err;
  const char *t = "{\"architectures\": [\"BertForMaskedLM\"], \"hidden_size\": 8}";
  EXPECT(model_config_parse("x/config.json", t, strlen(t), &c, &err) != 0);
  EXPECT_CONTAINS(err.msg, "x/config.json: unsupported architecture 'BertForMaskedLM'");
  const char *dup = "{\"architectures\": [\"LlamaForCausalLM\"], \"hidden_size\": 8, \"hidden_size\": 9}";
  EXPECT(model_config_parse("x/config.json", dup, strlen(dup), &c, &err) != 0);
  EXPECT_CONTAINS(err.msg, "duplicate");
}

static int parse(const char *text, ModelConfig *c, BenchErr *err) {
  return model_config_parse("config.json", text, strlen(text), c, err);
}

TEST(real_world_config_spellings) {
  ModelConfig c;
  BenchErr err;
  // Pythia-70m as published (transformers 4.24): no attention_bias, rotary_pct, rotary_emb_base.
  const char *pythia =
      "{\"architectures\": [\"GPTNeoXForCausalLM\"], \"bos_token_id\": 0, \"eos_token_id\": 0,"
      " \"hidden_act\": \"gelu\", \"hidden_size\": 512, \"initializer_range\": 0.02,"
      " \"intermediate_size\": 2048, \"layer_norm_eps\": 1e-05, \"max_position_embeddings\": 2048,"
      " \"model_type\": \"gpt_neox\", \"num_attention_heads\": 8, \"num_hidden_layers\": 6,"
      " \"rotary_emb_base\": 10000, \"rotary_pct\": 0.25, \"tie_word_embeddings\": false,"
      " \"torch_dtype\": \"float16\", \"transformers_version\": \"4.24.0\", \"use_cache\": true,"
      " \"use_parallel_residual\": true, \"vocab_size\": 50304}";
  EXPECT(parse(pythia, &c, &err) == 0);
  EXPECT_INT_EQ(c.head_dim, 64);
  EXPECT_INT_EQ(c.rotary_dims, 16);
  EXPECT_INT_EQ(c.qkv_bias, 1);
  EXPECT_INT_EQ(c.o_bias, 1);
  EXPECT_INT_EQ(c.dtype, DTYPE_F16);
  EXPECT_INT_EQ(c.bos_token_id, 0);
  model_config_free(&c);

  // Llama-3.1 style: llama3 rope_scaling, eos list, GQA.
  const char *llama31 =
      "{\"architectures\": [\"LlamaForCausalLM\"], \"hidden_size\": 4096, \"intermediate_size\": 14336,"
      " \"num_attention_heads\": 32, \"num_hidden_layers\": 32, \"num_key_value_heads\": 8,"
      " \"vocab_size\": 128256, \"max_position_embeddings\": 131072, \"rms_norm_eps\": 1e-05,"
      " \"rope_theta\": 500000.0, \"rope_scaling\": {\"factor\": 8.0, \"low_freq_factor\": 1.0,"
      " \"high_freq_factor\": 4.0, \"original_max_position_embeddings\": 8192, \"rope_type\": \"llama3\"},"
      " \"bos_token_id\": 128000, \"eos_token_id\": [128001, 128008, 128009], \"torch_dtype\": \"bfloat16\"}";
  EXPECT(parse(llama31, &c, &err) == 0);
  EXPECT_INT_EQ(c.head_dim, 128);
  EXPECT_INT_EQ(c.n_kv_heads, 8);
  EXPECT_NEAR(c.rope_theta, 500000.0, 0, 0);
  EXPECT_CONTAINS(c.rope_scaling_json, "\"rope_type\":\"llama3\"");
  EXPECT_CONTAINS(c.rope_scaling_json, "\"factor\":8.0");
  EXPECT_INT_EQ(c.eos_token_id, 128001);
  EXPECT_INT_EQ(c.dtype, DTYPE_BF16);
  model_config_free(&c);

  // transformers 5.x: rope_parameters carries theta and the scaling; dtype.
  const char *v5 =
      "{\"architectures\": [\"LlamaForCausalLM\"], \"hidden_size\": 64, \"intermediate_size\": 128,"
      " \"num_attention_heads\": 4, \"num_hidden_layers\": 2, \"vocab_size\": 300,"
      " \"rope_parameters\": {\"rope_type\": \"linear\", \"factor\": 2.0, \"rope_theta\": 20000.0},"
      " \"dtype\": \"float16\"}";
  EXPECT(parse(v5, &c, &err) == 0);
  EXPECT_NEAR(c.rope_theta, 20000.0, 0, 0);
  EXPECT_CONTAINS(c.rope_scaling_json, "\"rope_type\":\"linear\"");
  EXPECT_INT_EQ(c.dtype, DTYPE_F16);
  EXPECT_INT_EQ(c.n_kv_heads, 4);
  model_config_free(&c);

  // 5.x default rope_parameters: no scaling; GPT-NeoX partial factor inside.
  const char *v5neox =
      "{\"architectures\": [\"GPTNeoXForCausalLM\"], \"hidden_size\": 64, \"intermediate_size\": 128,"
      " \"num_attention_heads\": 4, \"num_hidden_layers\": 2, \"vocab_size\": 300,"
      " \"rope_parameters\": {\"rope_type\": \"default\", \"rope_theta\": 5000, \"partial_rotary_factor\": 0.5}}";
  EXPECT(parse(v5neox, &c, &err) == 0);
  EXPECT(c.rope_scaling_json == NULL);
  EXPECT_NEAR(c.rope_theta, 5000.0, 0, 0);
  EXPECT_INT_EQ(c.rotary_dims, 8);
  EXPECT_INT_EQ(c.dtype_given, 0);
  model_config_free(&c);

  // Old "type" spelling kept verbatim; Qwen2 sliding window only with use_sliding_window.
  const char *qwen =
      "{\"architectures\": [\"Qwen2ForCausalLM\"], \"hidden_size\": 64, \"intermediate_size\": 128,"
      " \"num_attention_heads\": 4, \"num_key_value_heads\": 1, \"num_hidden_layers\": 4, \"vocab_size\": 300,"
      " \"rope_scaling\": {\"type\": \"yarn\", \"factor\": 4.0}, \"use_sliding_window\": true,"
      " \"sliding_window\": 128, \"max_window_layers\": 2, \"rope_theta\": 1000000.0}";
  EXPECT(parse(qwen, &c, &err) == 0);
  EXPECT_CONTAINS(c.rope_scaling_json, "\"type\":\"yarn\"");
  EXPECT_INT_EQ(c.sliding_window, 128);
  EXPECT_INT_EQ(c.sliding_window_from_layer, 2);
  EXPECT_INT_EQ(c.qkv_bias, 1);
  EXPECT_INT_EQ(c.o_bias, 0);
  model_config_free(&c);

  // Mistral: sliding_window defaults to 4096 when absent, null means none.
  const char *mistral =
      "{\"architectures\": [\"MistralForCausalLM\"], \"hidden_size\": 64, \"intermediate_size\": 128,"
      " \"num_attention_heads\": 4, \"num_hidden_layers\": 2, \"vocab_size\": 300}";
  EXPECT(parse(mistral, &c, &err) == 0);
  EXPECT_INT_EQ(c.sliding_window, 4096);
  EXPECT_INT_EQ(c.max_position_embeddings, 131072);
  model_config_free(&c);
}

TEST(bad_configs_are_errors) {
  ModelConfig c;
  BenchErr err;
  struct { const char *text, *want; } cases[] = {
      {"[1]", "not a JSON object"},
      {"{\"architectures\": [\"LlamaForCausalLM\"]}", "'vocab_size' is missing"},
      {"{\"architectures\": [\"LlamaForCausalLM\"], \"vocab_size\": 10, \"hidden_size\": 65, \"num_hidden_layers\": 1,"
       " \"num_attention_heads\": 4, \"intermediate_size\": 8}", "hidden_size 65 is not a multiple of num_attention_heads 4"},
      {"{\"architectures\": [\"LlamaForCausalLM\"], \"vocab_size\": 10, \"hidden_size\": 64, \"num_hidden_layers\": 1,"
       " \"num_attention_heads\": 4, \"num_key_value_heads\": 3, \"intermediate_size\": 8}", "not a multiple of num_key_value_heads 3"},
      {"{\"architectures\": [\"LlamaForCausalLM\"], \"vocab_size\": \"10\", \"hidden_size\": 64}", "'vocab_size' must be an integer"},
      {"{\"architectures\": [\"LlamaForCausalLM\"], \"vocab_size\": -3, \"hidden_size\": 64}", "'vocab_size' is -3"},
      {"{\"architectures\": [\"GPTNeoXForCausalLM\"], \"vocab_size\": 10, \"hidden_size\": 64, \"num_hidden_layers\": 1,"
       " \"num_attention_heads\": 4, \"intermediate_size\": 8, \"rotary_pct\": 0.1}", "rotary dims 1"},
      {"{\"architectures\": [\"LlamaForCausalLM\"], \"vocab_size\": 10, \"hidden_size\": 64, \"num_hidden_layers\": 1,"
       " \"num_attention_heads\": 4, \"intermediate_size\": 8, \"hidden_act\": \"relu\"}", "hidden_act 'relu' is not supported"},
      {"{\"architectures\": [\"LlamaForCausalLM\"], \"vocab_size\": 10, \"hidden_size\": 64, \"num_hidden_layers\": 1,"
       " \"num_attention_heads\": 4, \"intermediate_size\": 8, \"torch_dtype\": \"int8\"}", "unsupported torch_dtype 'int8'"},
      {"{\"architectures\": [\"LlamaForCausalLM\"], \"vocab_size\": 10, \"hidden_size\": 64, \"num_hidden_layers\": 1,"
       " \"num_attention_heads\": 4, \"intermediate_size\": 8, \"rope_theta\": -1}", "'rope_theta' is -1"},
      {"{\"model_type\": \"t5\"}", "unsupported architecture 't5'"},
      {"{}", "names no architecture"},
      {"{\"architectures\": [\"LlamaForCausalLM\"], ", "config.json:1:"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    int rc = parse(cases[i].text, &c, &err);
    EXPECT(rc != 0);
    if (rc == 0) model_config_free(&c);
    else EXPECT_CONTAINS(err.msg, cases[i].want);
  }
}

TEST(fp16_and_bf16_conversion_is_exact) {
  // Known values.
  EXPECT_NEAR(st_bf16_to_f32(0x3f80), 1.0, 0, 0);
  EXPECT_NEAR(st_bf16_to_f32(0xc040), -3.0, 0, 0);
  EXPECT_NEAR(st_bf16_to_f32(0x3c24), 0.010009765625, 0, 0);
  EXPECT(isinf(st_bf16_to_f32(0x7f80)) && st_bf16_to_f32(0x7f80) > 0);
  EXPECT(isnan(st_bf16_to_f32(0x7fc0)));
  EXPECT_NEAR(st_f16_to_f32(0x3c00), 1.0, 0, 0);
  EXPECT_NEAR(st_f16_to_f32(0xc000), -2.0, 0, 0);
  EXPECT_NEAR(st_f16_to_f32(0x7bff), 65504.0, 0, 0);
  EXPECT_NEAR(st_f16_to_f32(0x0001), ldexp(1.0, -24), 0, 0);   // smallest subnormal
  EXPECT_NEAR(st_f16_to_f32(0x03ff), 1023 * ldexp(1.0, -24), 0, 0);
  EXPECT_NEAR(st_f16_to_f32(0x0400), ldexp(1.0, -14), 0, 0);   // smallest normal
  EXPECT_NEAR(st_f16_to_f32(0x3555), 0.333251953125, 0, 0);
  EXPECT(isinf(st_f16_to_f32(0xfc00)) && st_f16_to_f32(0xfc00) < 0);
  EXPECT(isnan(st_f16_to_f32(0x7e00)));
  EXPECT(signbit(st_f16_to_f32(0x8000)));
  // Every non-NaN half and bfloat16 survives fp32 and back.
  int bad16 = 0, badbf = 0;
  for (uint32_t h = 0; h < 65536; h++) {
    float f = st_f16_to_f32((uint16_t)h), b = st_bf16_to_f32((uint16_t)h);
    if (!isnan(f) && st_f32_to_f16(f) != h) bad16++;
    if (!isnan(b) && st_f32_to_bf16(b) != h) badbf++;
  }
  EXPECT_INT_EQ(bad16, 0);
  EXPECT_INT_EQ(badbf, 0);
  // Rounding to nearest, ties to even.
  EXPECT_INT_EQ(st_f32_to_bf16(1.0f + ldexpf(1, -8)), 0x3f80);
  EXPECT_INT_EQ(st_f32_to_bf16(1.0f + 3 * ldexpf(1, -8)), 0x3f82);
  EXPECT_INT_EQ(st_f32_to_f16(1.0f + ldexpf(1, -11)), 0x3c00);
  EXPECT_INT_EQ(st_f32_to_f16(1.0f + 3 * ldexpf(1, -11)), 0x3c02);
  EXPECT_INT_EQ(st_f32_to_f16(65520.0f), 0x7c00);
  EXPECT_INT_EQ(st_f32_to_f16(65519.0f), 0x7bff);
  EXPECT_INT_EQ(st_f32_to_f16(ldexpf(1, -25)), 0x0000);          // tie to even (0)
  EXPECT_INT_EQ(st_f32_to_f16(ldexpf(3, -25)), 0x0002);          // tie to even (2)
  EXPECT(isnan(st_f16_to_f32(st_f32_to_f16(NAN))));
}

TEST(bf16_and_fp16_checkpoints_load_exactly) {
  // A file of known values in each dtype, read back through the loader's converter.
  const float vals[] = {1.0f, -2.5f, 0.0078125f, 65504.0f, ldexpf(1, -24), -0.0f, 3.140625f, 1e-3f};
  const StDtype dts[] = {ST_BF16, ST_F16, ST_F32, ST_F64};
  for (int k = 0; k < 4; k++) {
    char name[64];
    snprintf(name, sizeof name, "known-%s.safetensors", st_dtype_name(dts[k]));
    char *path = tmp_path(name);
    StSpec spec = {"x", dts[k], 1, {8}};
    StWriter w;
    BenchErr err;
    EXPECT(st_writer_open(&w, path, &spec, 1, NULL, &err) == 0);
    EXPECT(st_writer_write_f32(&w, vals, 8, &err) == 0);
    EXPECT(st_writer_close(&w, &err) == 0);
    StFile f;
    EXPECT(st_open(path, &f, &err) == 0);
    float out[8];
    EXPECT(st_tensor_to_f32(&f, &f.tensors[0], out, &err) == 0);
    for (int i = 0; i < 8; i++) {
      float want = dts[k] == ST_BF16 ? st_bf16_to_f32(st_f32_to_bf16(vals[i]))
                   : dts[k] == ST_F16 ? st_f16_to_f32(st_f32_to_f16(vals[i])) : vals[i];
      EXPECT_NEAR(out[i], want, 0, 0);
    }
    if (dts[k] != ST_BF16) EXPECT_NEAR(out[3], 65504.0, 0, 0);  // exact in fp16
    if (dts[k] == ST_BF16) EXPECT_NEAR(out[3], 65536.0, 0, 0);  // rounds in bf16
    st_close(&f);
    free(path);
  }
  // A bf16 checkpoint: every loaded weight is exactly a bfloat16.
  char *dir = make_model("bf16-exact", ARCH_MISTRAL, 4, DTYPE_BF16, 1, 2);
  Model m;
  BenchErr err;
  EXPECT(model_load(dir, &m, &err) == 0);
  int inexact = 0;
  const float *x = m.weights.layers[0].w_down;
  for (int i = 0; i < 64 * 192; i++) inexact += st_bf16_to_f32(st_f32_to_bf16(x[i])) != x[i];
  EXPECT_INT_EQ(inexact, 0);
  model_free(&m);
  free(dir);
}

TEST(inspect_fills_everything_but_weights) {
  char *dir = make_model("inspect", ARCH_QWEN2, 4, DTYPE_BF16, 2, 4);
  Model a, b;
  BenchErr err;
  EXPECT(model_inspect(dir, &a, &err) == 0);
  EXPECT(model_load(dir, &b, &err) == 0);
  EXPECT(a.weights.embed == NULL && a.arena == NULL && a.weight_bytes == 0);
  EXPECT_STR_EQ(a.fingerprint, b.fingerprint);
  EXPECT_INT_EQ(a.n_params, b.n_params);
  EXPECT_INT_EQ(a.n_files, 2);
  char loaded[65];
  memcpy(loaded, b.fingerprint, 65);
  model_free(&a);
  model_free(&b);
  // The fingerprint follows config.json.
  edit_file(dir, "config.json", "\"rope_theta\": 10000.0", "\"rope_theta\": 20000.0");
  EXPECT(model_inspect(dir, &a, &err) == 0);
  EXPECT(strcmp(a.fingerprint, loaded) != 0);
  model_free(&a);
  edit_file(dir, "config.json", "\"rope_theta\": 20000.0", "\"rope_theta\": 10000.0");
  EXPECT(model_inspect(dir, &a, &err) == 0);
  EXPECT_STR_EQ(a.fingerprint, loaded);
  model_free(&a);
  free(dir);
}

// tests/fixtures/hf_saved: the same init-model checkpoints, re-saved by transformers in bf16 and
// sharded (tests/reference/make_hf_saved_fixtures.py). Loading them must give exactly what our
// own bf16 checkpoint of the same seed gives.
static void hf_saved_spec(InitModelSpec *s, Arch arch) {
  init_model_defaults(s, arch);
  s->n_layers = 1;
  s->hidden_size = 16;
  s->n_heads = 2;
  s->n_kv_heads = arch == ARCH_GPT_NEOX ? 2 : 1;
  s->intermediate_size = 32;
  s->vocab_size = 257;
  s->seed = 123;
  s->dtype = DTYPE_BF16;
  if (arch == ARCH_GPT_NEOX) s->rotary_pct = 0.5;
}

TEST(transformers_saved_checkpoints_load) {
  const Arch archs[] = {ARCH_LLAMA, ARCH_QWEN2, ARCH_GPT_NEOX};
  for (int a = 0; a < 3; a++) {
    char *fixture = xasprintf("tests/fixtures/hf_saved/%s", arch_name(archs[a]));
    InitModelSpec s;
    hf_saved_spec(&s, archs[a]);
    char *ours = tmp_path(arch_name(archs[a]));
    InitModelResult r;
    BenchErr err;
    EXPECT(init_model_write(ours, &s, &r, &err) == 0);
    Model mh, mo;
    int rc = model_load(fixture, &mh, &err);
    if (rc != 0) TEST_FAIL_AT("%s: %s", fixture, err.msg);
    EXPECT(model_load(ours, &mo, &err) == 0);
    if (rc == 0) {
      EXPECT(mh.n_files > 1);
      EXPECT_INT_EQ(mh.config.dtype, DTYPE_BF16);
      EXPECT_INT_EQ(mh.config.rotary_dims, mo.config.rotary_dims);
      EXPECT_INT_EQ(mh.config.tie_word_embeddings, mo.config.tie_word_embeddings);
      EXPECT_INT_EQ(mh.n_params, mo.n_params);
      EXPECT_INT_EQ(mh.weight_bytes, mo.weight_bytes);
      EXPECT(mh.weight_bytes == mo.weight_bytes && memcmp(mh.arena, mo.arena, mh.weight_bytes) == 0);
      model_free(&mh);
    }
    model_free(&mo);
    free(ours);
    free(fixture);
  }
}

TEST(tokenizer_is_deterministic_and_sized_by_vocab) {
  char *a = tmp_path("tok-a.json"), *b = tmp_path("tok-b.json"), *z = tmp_path("tok-0.json");
  int n_merges, eot;
  BenchErr err;
  EXPECT(init_tokenizer_write(a, 255, &n_merges, &eot, &err) == 0);
  EXPECT_INT_EQ(n_merges, 255);
  EXPECT_INT_EQ(eot, 511);
  EXPECT(init_tokenizer_write(b, 255, &n_merges, &eot, &err) == 0);
  char ha[65], hb[65];
  EXPECT(sha256_file_hex(a, ha, &err) == 0 && sha256_file_hex(b, hb, &err) == 0);
  EXPECT_STR_EQ(ha, hb);
  EXPECT(init_tokenizer_write(z, 0, &n_merges, &eot, &err) == 0);
  EXPECT_INT_EQ(n_merges, 0);
  EXPECT_INT_EQ(eot, 256);
  // Every token string is distinct and every merge's pieces are tokens.
  json_t *t = json_load_file(a, JSON_REJECT_DUPLICATES, NULL);
  EXPECT(t != NULL);
  json_t *vocab = json_object_get(json_object_get(t, "model"), "vocab");
  json_t *merges = json_object_get(json_object_get(t, "model"), "merges");
  EXPECT_INT_EQ(json_object_size(vocab), 512);
  EXPECT_INT_EQ(json_array_size(merges), 255);
  EXPECT_INT_EQ(json_integer_value(json_object_get(vocab, "\xc4\xa0the")), 258);  // "Ġthe"
  size_t i;
  json_t *m;
  json_array_foreach(merges, i, m) {
    char *pair = xstrdup(json_string_value(m));
    char *sp = strchr(pair, ' ');
    EXPECT(sp != NULL);
    if (sp) {
      *sp = 0;
      EXPECT(json_object_get(vocab, pair) && json_object_get(vocab, sp + 1));
    }
    free(pair);
  }
  json_decref(t);
  free(a);
  free(b);
  free(z);
}

int main(void) {
  snprintf(tmp_root, sizeof tmp_root, "/tmp/bench_test_model_XXXXXX");
  if (!mkdtemp(tmp_root)) return 1;
  RUN(every_architecture_loads);
  RUN(both_spellings_give_the_same_config_and_weights);
  RUN(sharded_equals_unsharded);
  RUN(seed_changes_weights_and_is_deterministic);
  RUN(neox_qkv_is_split_per_head);
  RUN(config_tensor_disagreement_names_file_and_tensor);
  RUN(index_and_files_must_agree);
  RUN(missing_pieces_are_errors);
  RUN(unknown_architecture_is_named);
  RUN(real_world_config_spellings);
  RUN(bad_configs_are_errors);
  RUN(fp16_and_bf16_conversion_is_exact);
  RUN(bf16_and_fp16_checkpoints_load_exactly);
  RUN(inspect_fills_everything_but_weights);
  RUN(transformers_saved_checkpoints_load);
  RUN(tokenizer_is_deterministic_and_sized_by_vocab);
  char *cmd = xasprintf("rm -rf '%s'", tmp_root);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmp_root);
  free(cmd);
  TEST_SUMMARY();
}
