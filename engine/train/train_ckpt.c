// train_ckpt.c — a trainer's files: a Hugging Face Llama checkpoint (config.json with the
// variant's frequencies, model.safetensors in fp32, tokenizer.json, generation_config.json) and,
// for resuming, the AdamW moments (optimizer.safetensors) and the run's state
// (trainer_state.json). Checkpoint directories are written whole under a temporary name and
// renamed into place (train.h, "a whole run with checkpoints").
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "safetensors.h"
#include "train_internal.h"
#include "json_file.h"

#define CKPT_JSON_MAX (256u << 20)

// ---- config.json ----
static int spec_is_geometric(const json_t *spec) {
  const char *type = json_string_value(json_object_get(spec, "type"));
  return !type || strcmp(type, "geometric") == 0 || strcmp(type, "model") == 0;
}

double train_rope_theta(const json_t *spec) {
  for (int depth = 0; spec && depth < ROPE_MAX_DEPTH; depth++) {
    const json_t *t = json_object_get(spec, "theta");
    if (json_is_number(t) && json_number_value(t) > 0) return json_number_value(t);
    const json_t *next = json_object_get(spec, "base");        // compress
    if (!next) next = json_array_get(json_object_get(spec, "of"), 0);  // mix: its first member
    spec = next;
  }
  return 10000.0;
}

static void set_int(json_t *o, const char *k, long v) { json_object_set_new(o, k, json_integer(v)); }
static void set_real(json_t *o, const char *k, double v) { json_object_set_new(o, k, json_real(v)); }
static json_t *id_or_null(int id) { return id >= 0 ? json_integer(id) : json_null(); }

static json_t *hf_config(const Trainer *t, const TrainCkptInfo *ci) {
  const TrainConfig *c = &t->cfg;
  json_t *o = json_object();
  json_object_set_new(o, "architectures", json_pack("[s]", "LlamaForCausalLM"));
  json_object_set_new(o, "model_type", json_string("llama"));
  json_object_set_new(o, "attention_bias", json_false());
  set_real(o, "attention_dropout", 0.0);
  json_object_set_new(o, "bos_token_id", id_or_null(ci->bos_token_id));
  json_object_set_new(o, "eos_token_id", id_or_null(ci->eos_token_id));
  set_int(o, "head_dim", t->head_dim);
  json_object_set_new(o, "hidden_act", json_string("silu"));
  set_int(o, "hidden_size", c->hidden_size);
  set_real(o, "initializer_range", c->init_std);
  set_int(o, "intermediate_size", c->intermediate_size);
  set_int(o, "max_position_embeddings", c->seq_len);
  json_object_set_new(o, "mlp_bias", json_false());
  set_int(o, "num_attention_heads", c->n_heads);
  set_int(o, "num_hidden_layers", c->n_layers);
  set_int(o, "num_key_value_heads", c->n_kv_heads);
  set_int(o, "pretraining_tp", 1);
  set_real(o, "rms_norm_eps", c->norm_eps);
  json_object_set_new(o, "rope_scaling", json_null());
  set_real(o, "rope_theta", ci->rope_theta);
  json_object_set_new(o, "tie_word_embeddings", json_boolean(c->tie_embeddings));
  json_object_set_new(o, "torch_dtype", json_string("float32"));
  json_object_set_new(o, "transformers_version", json_string("4.46.3"));
  json_object_set_new(o, "use_cache", json_true());
  set_int(o, "vocab_size", c->vocab_size);
  if (ci->rope_spec && !spec_is_geometric(ci->rope_spec))
    json_object_set_new(o, "bench_rope", json_deep_copy(ci->rope_spec));
  return o;
}

// Reals: 15 significant digits in files people read (config.json), 17 — exact round trip — in
// trainer_state.json, whose loss and gradient-norm history a resumed run continues bit for bit.
static int write_json(const char *dir, const char *name, json_t *j, BenchErr *err) {
  int digits = strcmp(name, "trainer_state.json") == 0 ? 17 : 15;
  char *text = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS | JSON_REAL_PRECISION(digits));
  json_decref(j);
  CHECK(text);
  size_t n = strlen(text);
  text = xrealloc(text, n + 2);
  text[n] = '\n';
  text[n + 1] = 0;
  char *path = path_join(dir, name);
  int rc = write_file_atomic(path, text, n + 1, err);
  free(path);
  free(text);
  return rc;
}

// ---- tensors ----
// Writes the arena as named fp32 tensors (suffix appended to each name: "" for the weights).
static int write_tensors(const Trainer *t, const char *path, const void *arena, const char *suffix,
                         const char *metadata, BenchErr *err) {
  StSpec *specs = xcalloc((size_t)t->n_tensors, sizeof *specs);
  char **names = xcalloc((size_t)t->n_tensors, sizeof *names);
  for (int i = 0; i < t->n_tensors; i++) {
    const TrainTensor *tt = &t->tensors[i];
    names[i] = xasprintf("%s%s", tt->name, suffix);
    specs[i].name = names[i];
    specs[i].dtype = ST_F32;
    specs[i].n_dims = tt->n_dims;
    specs[i].shape[0] = tt->shape[0];
    specs[i].shape[1] = tt->shape[1];
  }
  StWriter w;
  int rc = st_writer_open(&w, path, specs, t->n_tensors, metadata, err);
  float *buf = t->fp64 ? xmalloc(65536 * sizeof(float)) : NULL;
  for (int i = 0; rc == 0 && i < t->n_tensors; i++) {
    const TrainTensor *tt = &t->tensors[i];
    if (!t->fp64) {
      rc = st_writer_write_f32(&w, (const float *)arena + tt->offset, tt->numel, err);
      continue;
    }
    for (size_t j = 0; rc == 0 && j < tt->numel; j += 65536) {
      size_t n = tt->numel - j < 65536 ? tt->numel - j : 65536;
      for (size_t k = 0; k < n; k++) buf[k] = (float)((const double *)arena)[tt->offset + j + k];
      rc = st_writer_write_f32(&w, buf, n, err);
    }
  }
  if (rc == 0) rc = st_writer_close(&w, err);
  else st_writer_abort(&w);
  free(buf);
  for (int i = 0; i < t->n_tensors; i++) free(names[i]);
  free(names);
  free(specs);
  return rc;
}

// Reads named fp32 tensors of a file into the arena (shapes must match).
static int read_tensors(Trainer *t, const char *path, void *arena, const char *suffix,
                        char **metadata, BenchErr *err) {
  StFile f;
  if (st_open(path, &f, err) != 0) return -1;
  int rc = 0;
  float *tmp = NULL;
  for (int i = 0; rc == 0 && i < t->n_tensors; i++) {
    const TrainTensor *tt = &t->tensors[i];
    char *name = xasprintf("%s%s", tt->name, suffix);
    const StTensor *st = st_find(&f, name);
    if (!st || st->n_elems != tt->numel || st->n_dims != tt->n_dims)
      rc = err_set(err, "%s: tensor '%s' is missing or has another shape", path, name);
    free(name);
    if (rc) break;
    tmp = xrealloc(tmp, tt->numel * sizeof(float));
    rc = st_tensor_to_f32(&f, st, tmp, err);
    for (size_t j = 0; rc == 0 && j < tt->numel; j++) {
      if (t->fp64) ((double *)arena)[tt->offset + j] = tmp[j];
      else ((float *)arena)[tt->offset + j] = tmp[j];
    }
  }
  if (rc == 0 && metadata) *metadata = f.metadata_json ? xstrdup(f.metadata_json) : NULL;
  free(tmp);
  st_close(&f);
  return rc;
}

static int copy_file(const char *from, const char *to, BenchErr *err) {
  char *text;
  size_t len;
  if (read_file(from, CKPT_JSON_MAX, &text, &len, err) != 0) return -1;
  int rc = write_file_atomic(to, text, len, err);
  free(text);
  return rc;
}

int train_ckpt_write(const Trainer *t, const TrainCkptInfo *ci, const char *dir,
                     const json_t *state, BenchErr *err) {
  if (mkdir_p(dir, err) != 0) return -1;
  char *p = path_join(dir, "model.safetensors");
  int rc = write_tensors(t, p, t->params, "", "{\"format\":\"pt\"}", err);
  free(p);
  if (rc == 0 && ci->tokenizer_path) {
    p = path_join(dir, "tokenizer.json");
    rc = copy_file(ci->tokenizer_path, p, err);
    free(p);
  }
  if (rc == 0) {
    json_t *gen = json_object();
    json_object_set_new(gen, "_from_model_config", json_true());
    json_object_set_new(gen, "bos_token_id", id_or_null(ci->bos_token_id));
    json_object_set_new(gen, "eos_token_id", id_or_null(ci->eos_token_id));
    json_object_set_new(gen, "transformers_version", json_string("4.46.3"));
    rc = write_json(dir, "generation_config.json", gen, err);
  }
  if (rc == 0) rc = write_json(dir, "config.json", hf_config(t, ci), err);
  if (rc == 0 && state) {
    char *meta = xasprintf("{\"format\":\"pt\",\"schema\":\"bench.adamw/1\",\"step\":\"%ld\"}", t->step);
    p = path_join(dir, "optimizer.safetensors");
    rc = write_tensors(t, p, t->adam_m, ".exp_avg", meta, err);
    free(p);
    free(meta);
    // the second moments in their own file keeps each file's tensors one arena
    if (rc == 0) {
      p = path_join(dir, "optimizer_sq.safetensors");
      rc = write_tensors(t, p, t->adam_v, ".exp_avg_sq", "{\"format\":\"pt\"}", err);
      free(p);
    }
    if (rc == 0) rc = write_json(dir, "trainer_state.json", json_deep_copy(state), err);
  }
  return rc;
}

json_t *train_ckpt_read(Trainer *t, const char *dir, BenchErr *err) {
  char *p = path_join(dir, "trainer_state.json");
  json_t *state = json_load_regular(p, JSON_REJECT_DUPLICATES, NULL, err);
  if (!state || !json_is_object(state) ||
      !json_is_integer(json_object_get(state, "step"))) {
    if (state) err_set(err, "%s: not a trainer state (no 'step')", p);
    free(p);
    json_decref(state);
    return NULL;
  }
  free(p);
  p = path_join(dir, "model.safetensors");
  int rc = read_tensors(t, p, t->params, "", NULL, err);
  free(p);
  char *meta = NULL;
  if (rc == 0) {
    p = path_join(dir, "optimizer.safetensors");
    rc = read_tensors(t, p, t->adam_m, ".exp_avg", &meta, err);
    free(p);
  }
  if (rc == 0) {
    p = path_join(dir, "optimizer_sq.safetensors");
    rc = read_tensors(t, p, t->adam_v, ".exp_avg_sq", NULL, err);
    free(p);
  }
  long step = (long)json_integer_value(json_object_get(state, "step"));
  if (rc == 0) {
    json_t *m = meta ? json_loads(meta, 0, NULL) : NULL;
    const char *s = json_string_value(json_object_get(m, "step"));
    if (!s || strtol(s, NULL, 10) != step)
      rc = err_set(err, "%s: the optimizer state is not from step %ld", dir, step);
    json_decref(m);
  }
  free(meta);
  if (rc == 0) rc = trainer_to_device(t, err);
  if (rc != 0) {
    json_decref(state);
    return NULL;
  }
  t->step = step;
  return state;
}

// ---- directories ----
int train_remove_dir(const char *dir, BenchErr *err) {
  DIR *d = opendir(dir);
  if (!d) return errno == ENOENT ? 0 : err_set(err, "cannot read '%s': %s", dir, strerror(errno));
  struct dirent *e;
  int rc = 0;
  while ((e = readdir(d)) && rc == 0) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
    char *p = path_join(dir, e->d_name);
    if (unlink(p) != 0) rc = err_set(err, "cannot remove '%s': %s", p, strerror(errno));
    free(p);
  }
  closedir(d);
  if (rc == 0 && rmdir(dir) != 0) rc = err_set(err, "cannot remove '%s': %s", dir, strerror(errno));
  return rc;
}

static void fsync_dir(const char *dir) {
  int fd = open(dir, O_RDONLY | O_DIRECTORY);
  if (fd >= 0) {
    fsync(fd);
    close(fd);
  }
}

int train_ckpt_commit(const char *model_dir, BenchErr *err) {
  char *tmp = path_join(model_dir, "checkpoint.tmp"), *cur = path_join(model_dir, "checkpoint");
  char *old = path_join(model_dir, "checkpoint.old");
  int rc = train_remove_dir(old, err);
  if (rc == 0 && is_directory(cur) && rename(cur, old) != 0)
    rc = err_set(err, "cannot rename '%s': %s", cur, strerror(errno));
  if (rc == 0 && rename(tmp, cur) != 0)
    rc = err_set(err, "cannot rename '%s': %s", tmp, strerror(errno));
  if (rc == 0) {
    fsync_dir(model_dir);
    rc = train_remove_dir(old, err);
  }
  free(tmp);
  free(cur);
  free(old);
  return rc;
}

char *train_ckpt_latest(const char *model_dir) {
  const char *names[] = {"checkpoint", "checkpoint.old"};
  for (int i = 0; i < 2; i++) {
    char *d = path_join(model_dir, names[i]), *s = path_join(d, "trainer_state.json");
    int ok = file_exists(s);
    free(s);
    if (ok) return d;
    free(d);
  }
  return NULL;
}
