// train_job.c — training phases' jobs: recipe → TrainConfig, data and tokenizer, one trained model
// per train_id under <results>/models/, reused across jobs and runs (train_job.h).
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "backend.h"
#include "data.h"
#include "eval.h"
#include "tokenizer.h"
#include "train.h"
#include "train_job.h"

struct TrainJobs {
  const Suite *suite;
  char *results_dir;
  int threads;
  char device[32];                 // the lane's device: "cpu", "cuda:N"
  TrainHooks hooks;                // of the current call
  char loaded_id[JOB_ID_HEX + 1];  // train_id of the model held ("" when none)
  Model model;
  json_t *record;
};

TrainJobs *train_jobs_new(const Suite *s, const char *results_dir, int threads) {
  TrainJobs *tj = xcalloc(1, sizeof *tj);
  tj->suite = s;
  tj->results_dir = xstrdup(results_dir);
  tj->threads = threads;
  snprintf(tj->device, sizeof tj->device, "cpu");
  return tj;
}

void train_jobs_set_device(TrainJobs *tj, const char *device) {
  snprintf(tj->device, sizeof tj->device, "%s", device && *device ? device : "cpu");
}

int train_job_device(const char *lane_device, const char *dtype, TrainDevice *dev, int *gpu) {
  memset(dev, 0, sizeof *dev);
  dev->compute = TRAIN_CPU_F32;
  *gpu = -1;
  if (!lane_device || strncmp(lane_device, "cuda", 4) != 0) return 0;
  *gpu = lane_device[4] == ':' ? atoi(lane_device + 5) : 0;
  dev->compute = dtype && strcmp(dtype, "bf16") == 0 ? TRAIN_CUDA_BF16 : TRAIN_CUDA_F32;
  return 1;
}

static void drop_loaded(TrainJobs *tj) {
  if (tj->loaded_id[0]) model_free(&tj->model);
  json_decref(tj->record);
  tj->record = NULL;
  tj->loaded_id[0] = 0;
}

void train_jobs_free(TrainJobs *tj) {
  if (!tj) return;
  drop_loaded(tj);
  free(tj->results_dir);
  free(tj);
}

static void tj_log(TrainJobs *tj, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void tj_log(TrainJobs *tj, const char *fmt, ...) {
  if (!tj->hooks.log) return;
  va_list ap;
  va_start(ap, fmt);
  char *msg = NULL;
  if (vasprintf(&msg, fmt, ap) < 0) msg = NULL;
  va_end(ap);
  if (msg) tj->hooks.log(tj->hooks.ctx, msg);
  free(msg);
}

// ---- the recipe ----
typedef struct {
  TrainConfig cfg;
  const char *name, *data, *tokenizer, *dtype;
  long tokens, eval_every, save_every;
  int vocab_given;
} Recipe;

static double rnum(const json_t *r, const char *k, double dflt) {
  const json_t *v = json_object_get(r, k);
  return json_is_number(v) ? json_number_value(v) : dflt;
}
static const char *rstr(const json_t *r, const char *k) {
  return json_string_value(json_object_get(r, k));
}

static int recipe_parse(const json_t *r, long seed, int threads, Recipe *out, BenchErr *err) {
  memset(out, 0, sizeof *out);
  TrainConfig *c = &out->cfg;
  train_config_defaults(c);
  out->name = rstr(r, "name");
  const char *arch = rstr(r, "arch");
  if (!arch || strcmp(arch, "llama") != 0)
    return err_set(err, "train recipe '%s': arch '%s' cannot be trained (the trainer builds 'llama')",
                   out->name ? out->name : "?", arch ? arch : "?");
  c->n_layers = (int)rnum(r, "layers", 0);
  c->hidden_size = (int)rnum(r, "hidden", 0);
  c->n_heads = (int)rnum(r, "heads", 0);
  c->n_kv_heads = (int)rnum(r, "kv_heads", c->n_heads);
  c->intermediate_size = (int)rnum(r, "intermediate", 0);
  out->vocab_given = json_object_get(r, "vocab_size") != NULL;
  c->vocab_size = (int)rnum(r, "vocab_size", 0);
  const json_t *tie = json_object_get(r, "tie_embeddings");
  c->tie_embeddings = tie ? json_is_true(tie) : 1;
  out->tokens = (long)rnum(r, "tokens", 0);
  c->seq_len = (long)rnum(r, "seq_len", 0);
  c->batch = (long)rnum(r, "batch", 0);
  c->steps = c->batch > 0 && c->seq_len > 0 ? out->tokens / (c->batch * c->seq_len) : 0;
  c->lr = rnum(r, "lr", 0);
  c->min_lr = rnum(r, "min_lr", 0);
  c->warmup = (long)rnum(r, "warmup", 0);
  const char *sched = rstr(r, "schedule");
  c->schedule = sched && strcmp(sched, "linear") == 0     ? SCHED_LINEAR
                : sched && strcmp(sched, "constant") == 0 ? SCHED_CONSTANT
                                                          : SCHED_COSINE;
  c->beta1 = rnum(r, "beta1", c->beta1);
  c->beta2 = rnum(r, "beta2", c->beta2);
  c->weight_decay = rnum(r, "weight_decay", c->weight_decay);
  c->grad_clip = rnum(r, "grad_clip", c->grad_clip);
  c->seed = (uint64_t)seed;
  c->threads = threads;
  out->dtype = rstr(r, "dtype") ? rstr(r, "dtype") : "fp32";
  out->eval_every = (long)rnum(r, "eval_every", 0);
  out->save_every = (long)rnum(r, "save_every", 0);
  out->data = rstr(r, "data");
  out->tokenizer = rstr(r, "tokenizer");
  if (!out->data || !out->tokenizer)
    return err_set(err, "train recipe '%s' needs 'data' and 'tokenizer'", out->name ? out->name : "?");
  return 0;
}

// tokenizer.json of the recipe: a suite model's, or the path given (caller frees).
static char *recipe_tokenizer_path(const Suite *s, const char *ref) {
  const ModelDef *md = suite_model(s, ref);
  return md ? path_join(md->path, "tokenizer.json") : xstrdup(ref);
}

// The id of the tokenizer's end-of-text token (a special token one of these strings encodes to
// alone), or -1.
static int end_of_text_id(const Tokenizer *tok) {
  const char *names[] = {"<|endoftext|>", "</s>", "<|end_of_text|>", "<eos>"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    int32_t *ids = NULL;
    size_t n = 0;
    BenchErr err;
    if (tokenizer_encode(tok, names[i], strlen(names[i]), 0, &ids, &n, &err) == 0 && n == 1) {
      int id = ids[0];
      free(ids);
      return id;
    }
    free(ids);
  }
  return -1;
}

static int load_data(const char *path, const char *field, const char *name, const Tokenizer *tok,
                     int32_t sep, Tokens *out, BenchErr *err) {
  DataFormat fmt;
  if (data_format(path, &fmt, err) != 0) return -1;
  DataSource src = {path, field, name};
  TextEncoder enc;
  text_encoder_from_tokenizer(tok, sep, &enc);
  int bin = fmt == DATA_BIN || fmt == DATA_U16_BIN;
  if (dataset_tokens(&src, bin ? NULL : &enc, out, err) != 0) return err_prefix(err, "dataset '%s'", name);
  return 0;
}

static int check_ids(const Tokens *t, int V, const char *name, BenchErr *err) {
  for (long i = 0; i < t->n; i++)
    if (t->ids[i] < 0 || t->ids[i] >= V)
      return err_set(err, "dataset '%s': token id %d at %ld is outside the recipe's vocabulary (%d)",
                     name, t->ids[i], i, V);
  return 0;
}

// ---- progress ----
typedef struct {
  TrainJobs *tj;
  const char *id;
  double last;
  long first;            // the step this call started after (a resumed run)
  long tokens_per_step;
} Progress;

static void on_step(void *ctx, long step, long steps, double loss, double tps) {
  Progress *p = ctx;
  double now = mono_time();
  if (p->first < 0) p->first = step - 1;
  if (p->tj->hooks.step) {
    long tokens = (step - p->first) * p->tokens_per_step;
    p->tj->hooks.step(p->tj->hooks.ctx, step, steps, tokens, tps > 0 ? (double)tokens / tps : 0);
  }
  if (step == p->first + 1 || step == steps || now - p->last >= 30.0) {
    tj_log(p->tj, "train %s: step %ld/%ld loss %.4f, %.0f tokens/s", p->id, step, steps, loss, tps);
    p->last = now;
  }
}

// ---- lock: one trainer per train_id across processes ----
static int lock_model(const char *models_dir, const char *id, int *fd, BenchErr *err) {
  char *path = xasprintf("%s/%s.lock", models_dir, id);
  *fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (*fd < 0) {
    err_set(err, "cannot open '%s': %s", path, strerror(errno));
    free(path);
    return -1;
  }
  int rc;
  while ((rc = flock(*fd, LOCK_EX)) != 0 && errno == EINTR) {}
  if (rc != 0) err_set(err, "cannot lock '%s': %s", path, strerror(errno));
  free(path);
  return rc;
}

// Trains (or finds) the model of job j; fills dir and the record.
static int train_model(TrainJobs *tj, const Job *j, const Recipe *rc_in, const char *dir,
                       json_t **record, BenchErr *err) {
  const Suite *s = tj->suite;
  Recipe rc = *rc_in;
  TrainConfig *c = &rc.cfg;
  const DatasetDef *dd = suite_dataset(s, rc.data);
  if (!dd) return err_set(err, "train recipe '%s': dataset '%s' is not defined", rc.name, rc.data);
  char *tok_path = recipe_tokenizer_path(s, rc.tokenizer);
  Tokenizer *tok = NULL;
  Tokens train = {0}, val = {0};
  RopeTable rope;
  memset(&rope, 0, sizeof rope);
  int have_rope = 0, rcode = -1;
  if (tokenizer_load(tok_path, &tok, err) != 0) {
    err_prefix(err, "train recipe '%s': tokenizer", rc.name);
    goto out;
  }
  int eot = end_of_text_id(tok);
  int32_t sep = eot >= 0 ? eot : tokenizer_bos_id(tok);
  if (!rc.vocab_given) c->vocab_size = tokenizer_vocab_size(tok);
  else if (c->vocab_size < tokenizer_vocab_size(tok)) {
    err_set(err, "train recipe '%s': vocab_size %d is smaller than the tokenizer's %d", rc.name,
            c->vocab_size, tokenizer_vocab_size(tok));
    goto out;
  }
  if (load_data(dd->path, dd->field, dd->name, tok, sep, &train, err) != 0) goto out;
  if (check_ids(&train, c->vocab_size, dd->name, err) != 0) goto out;
  const JobInputs *in = matrix_job_inputs(j);
  if (rc.eval_every > 0 &&
      load_data(in->dataset_path, in->dataset_field, j->dataset->name, tok, sep, &val, err) != 0)
    goto out;
  if (val.ids && check_ids(&val, c->vocab_size, j->dataset->name, err) != 0) goto out;
  if (c->steps < 1) {
    err_set(err, "train recipe '%s': %ld tokens make no step of %ld × %ld", rc.name, rc.tokens,
            c->batch, c->seq_len);
    goto out;
  }
  double theta = train_rope_theta(in->rope);
  RopeModelInfo info;
  train_rope_info(c, theta, &info);
  if (rope_build(in->rope, &info, c->seq_len, &rope, err) != 0) goto out;
  have_rope = 1;
  long n_train = train.n < rc.tokens + 1 ? train.n : rc.tokens + 1;
  tj_log(tj, "train %s: recipe '%s', rope '%s', seed %ld: %zu parameters, %ld steps of %ld × %ld "
         "tokens (%ld data tokens, %.1f epochs), into %s", j->train_id, rc.name, j->rope.name,
         j->seed, train_n_params(c), c->steps, c->batch, c->seq_len, n_train,
         (double)c->steps * c->batch * c->seq_len / (double)(n_train > 1 ? n_train - 1 : 1), dir);
  TrainDevice tdev;
  int gpu;
  if (train_job_device(tj->device, rc.dtype, &tdev, &gpu) && backend_cuda_open(gpu, err) != 0) {
    err_prefix(err, "train recipe '%s'", rc.name);
    goto out;
  }
  tj_log(tj, "train %s: computing on %s", j->train_id, train_compute_name(tdev.compute));
  Progress prog = {tj, j->train_id, 0, -1, c->batch * c->seq_len};
  TrainRun run = {.train_ids = train.ids, .n_train = n_train, .val_ids = val.ids, .n_val = val.n,
                  .val_windows = 4, .eval_every = rc.eval_every, .save_every = rc.save_every,
                  .dir = dir, .tokenizer_path = tok_path, .rope_spec = in->rope,
                  .rope_theta = theta, .bos_token_id = tokenizer_bos_id(tok), .eos_token_id = eot,
                  .progress = on_step, .progress_ctx = &prog, .device = tdev};
  TrainOutcome out;
  if (train_run(c, &rope, &run, &out, err) != 0) goto out;
  if (out.resumed_from > 0 && out.resumed_from < c->steps)
    tj_log(tj, "train %s: resumed from step %ld", j->train_id, out.resumed_from);
  json_object_set_new(out.record, "dtype", json_string(rc.dtype));
  json_object_set_new(out.record, "compute_dtype",
                      json_string(tdev.compute == TRAIN_CUDA_BF16 ? "bf16" : "fp32"));
  *record = out.record;
  rcode = 0;
out:
  if (have_rope) rope_table_free(&rope);
  tokens_free(&train);
  tokens_free(&val);
  if (tok) tokenizer_free(tok);
  free(tok_path);
  return rcode;
}

int train_jobs_model(TrainJobs *tj, const Job *j, const TrainHooks *hooks, const Model **model,
                     const json_t **record, BenchErr *err) {
  memset(&tj->hooks, 0, sizeof tj->hooks);
  if (hooks) tj->hooks = *hooks;
  if (!j->train.variant || !j->train_id[0] || !j->inputs.train)
    return err_set(err, "job %s has neither a model nor a train recipe", j->id);
  if (strcmp(tj->loaded_id, j->train_id) == 0) {
    *model = &tj->model;
    *record = tj->record;
    return 0;
  }
  drop_loaded(tj);
  Recipe rc;
  if (recipe_parse(j->inputs.train, j->seed, tj->threads, &rc, err) != 0) return -1;
  char *models = path_join(tj->results_dir, "models");
  char *dir = path_join(models, j->train_id);
  int lock_fd = -1, ret = -1;
  json_t *rec = NULL;
  if (mkdir_p(models, err) != 0 || lock_model(models, j->train_id, &lock_fd, err) != 0) goto out;
  char *done = path_join(dir, "training.json");
  int reused = file_exists(done);
  free(done);
  // a finished model is reused as it is: its train_id covers the recipe, data, tokenizer, variant
  // and seed
  if (reused ? !(rec = train_record_load(dir, err)) : train_model(tj, j, &rc, dir, &rec, err) != 0)
    goto out;
  json_object_set_new(rec, "reused", json_boolean(reused));
  if (model_load(dir, &tj->model, err) != 0) {
    err_prefix(err, "trained model '%s'", dir);
    goto out;
  }
  json_object_set_new(rec, "train_id", json_string(j->train_id));
  json_object_set_new(rec, "model_dir", json_string(dir));
  memcpy(tj->loaded_id, j->train_id, sizeof tj->loaded_id);
  tj->record = rec;
  rec = NULL;
  *model = &tj->model;
  *record = tj->record;
  if (!reused) {
    const json_t *r = tj->record;
    tj_log(tj, "train %s: done, final loss %.4f, %.0f tokens/s, %.1f s", j->train_id,
           json_number_value(json_object_get(r, "final_loss")),
           json_number_value(json_object_get(r, "tokens_per_s")),
           json_number_value(json_object_get(r, "wall_s")));
  }
  ret = 0;
out:
  json_decref(rec);
  if (lock_fd >= 0) close(lock_fd);
  free(dir);
  free(models);
  return ret;
}

static int recipe_names(const Job *j, const char *key, const char *name) {
  const char *v = j->inputs.train ? json_string_value(json_object_get(j->inputs.train, key)) : NULL;
  return v && strcmp(v, name) == 0;
}
int train_job_uses_dataset(const Job *j, const char *name) { return recipe_names(j, "data", name); }
int train_job_uses_model(const Job *j, const char *name) { return recipe_names(j, "tokenizer", name); }

void train_metrics_merge(json_t *metrics, const json_t *record) {
  if (!metrics || !record) return;
  json_object_set(metrics, "loss_curve", json_object_get(record, "loss_curve"));
  const json_t *vc = json_object_get(record, "val_curve");
  if (json_array_size(vc) > 0) json_object_set(metrics, "val_curve", (json_t *)vc);
  json_t *t = json_object();
  const char *keys[] = {"train_id", "model_dir", "steps", "tokens", "params", "final_loss",
                        "final_loss_avg10", "final_val_loss", "tokens_per_s", "gflops_per_s",
                        "wall_s", "resumed_from", "reused", "threads", "dtype", "compute_dtype",
                        "compute"};
  for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
    json_t *v = json_object_get(record, keys[i]);
    if (v) json_object_set(t, keys[i], v);
  }
  json_object_set_new(metrics, "train", t);
}
