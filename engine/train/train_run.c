// train_run.c — a whole training run: data order, steps, held-out loss, checkpoints every
// save_every steps, resume from the newest checkpoint, the final Hugging Face checkpoint and its
// record training.json (train.h, "a whole run with checkpoints").
// Legend: B sequences per step, T tokens per sequence.
#include <stdlib.h>
#include <string.h>

#include "train_internal.h"
#include "train_ops.h"
#include "json_file.h"

static const char *schedule_name(TrainSchedule s) {
  return s == SCHED_COSINE ? "cosine" : s == SCHED_LINEAR ? "linear" : "constant";
}

// Everything that changes the numbers of a run (the thread count aside).
static json_t *config_json(const TrainConfig *c) {
  json_t *o = json_object();
  json_object_set_new(o, "arch", json_string("llama"));
  json_object_set_new(o, "layers", json_integer(c->n_layers));
  json_object_set_new(o, "hidden", json_integer(c->hidden_size));
  json_object_set_new(o, "heads", json_integer(c->n_heads));
  json_object_set_new(o, "kv_heads", json_integer(c->n_kv_heads));
  json_object_set_new(o, "intermediate", json_integer(c->intermediate_size));
  json_object_set_new(o, "vocab_size", json_integer(c->vocab_size));
  json_object_set_new(o, "tie_embeddings", json_boolean(c->tie_embeddings));
  json_object_set_new(o, "norm_eps", json_real(c->norm_eps));
  json_object_set_new(o, "init_std", json_real(c->init_std));
  json_object_set_new(o, "seq_len", json_integer(c->seq_len));
  json_object_set_new(o, "batch", json_integer(c->batch));
  json_object_set_new(o, "steps", json_integer(c->steps));
  json_object_set_new(o, "lr", json_real(c->lr));
  json_object_set_new(o, "min_lr", json_real(c->min_lr));
  json_object_set_new(o, "warmup", json_integer(c->warmup));
  json_object_set_new(o, "schedule", json_string(schedule_name(c->schedule)));
  json_object_set_new(o, "beta1", json_real(c->beta1));
  json_object_set_new(o, "beta2", json_real(c->beta2));
  json_object_set_new(o, "eps", json_real(c->adam_eps));
  json_object_set_new(o, "weight_decay", json_real(c->weight_decay));
  json_object_set_new(o, "grad_clip", json_real(c->grad_clip));
  json_object_set_new(o, "seed", json_integer((json_int_t)c->seed));
  return o;
}

json_t *train_record_load(const char *dir, BenchErr *err) {
  char *p = path_join(dir, "training.json");
  json_t *r = json_load_regular(p, JSON_REJECT_DUPLICATES, NULL, err);  // err names the file
  if (r && (!json_is_object(r) || !json_is_string(json_object_get(r, "schema")) ||
            strcmp(json_string_value(json_object_get(r, "schema")), "bench.train/1") != 0)) {
    err_set(err, "'%s' is not a bench.train/1 record (retrain: remove the directory)", p);
    json_decref(r);
    r = NULL;
  }
  free(p);
  return r;
}

// Mean next-token NLL over the first `windows` windows of T + 1 held-out tokens at offsets i·T.
static int val_loss(Trainer *t, const TrainRun *run, double *out, BenchErr *err) {
  long T = t->cfg.seq_len, n = 0;
  int32_t *buf = xmalloc(sizeof(int32_t) * (size_t)(T + 1));
  double sum = 0;
  for (long i = 0; i < run->val_windows && (i + 1) * T + 1 <= run->n_val; i++, n++) {
    memcpy(buf, run->val_ids + i * T, sizeof(int32_t) * (size_t)(T + 1));
    double nll;
    if (trainer_forward_backward(t, buf, 1, 0, 0, &nll, err) != 0) {
      free(buf);
      return err_prefix(err, "held-out data");
    }
    sum += nll;
  }
  free(buf);
  *out = n ? sum / ((double)n * T) : -1;
  return n ? 0 : 1;
}

static void append_pair(json_t *arr, long step, double v) {
  json_array_append_new(arr, json_pack("[I,f]", (json_int_t)step, v));
}
static double num(const json_t *o, const char *k) { return json_number_value(json_object_get(o, k)); }

static json_t *new_state(const TrainConfig *c) {
  json_t *s = json_object();
  json_object_set_new(s, "schema", json_string("bench.train_state/1"));
  json_object_set_new(s, "step", json_integer(0));
  json_object_set_new(s, "config", config_json(c));
  json_object_set_new(s, "loss_curve", json_array());
  json_object_set_new(s, "val_curve", json_array());
  json_object_set_new(s, "grad_norm", json_array());
  json_object_set_new(s, "lr", json_array());
  json_object_set_new(s, "train_s", json_real(0));
  json_object_set_new(s, "wall_s", json_real(0));
  return s;
}

// Resumes from the newest checkpoint of run->dir when there is one: returns its state (or a new
// one), with the trainer's weights, moments and step restored.
static json_t *start_state(Trainer *t, const TrainRun *run, BenchErr *err) {
  char *latest = train_ckpt_latest(run->dir);
  if (!latest) return new_state(&t->cfg);
  json_t *state = train_ckpt_read(t, latest, err);
  if (!state) err_prefix(err, "cannot resume from '%s'", latest);
  json_t *want = config_json(&t->cfg);
  if (state && !json_equal(json_object_get(state, "config"), want)) {
    err_set(err, "'%s' was written by another recipe (remove it to train afresh)", latest);
    json_decref(state);
    state = NULL;
  }
  json_decref(want);
  free(latest);
  return state;
}

static int save_checkpoint(Trainer *t, const TrainCkptInfo *ci, const TrainRun *run, json_t *state,
                           BenchErr *err) {
  if (trainer_to_host(t, err) != 0) return -1;
  char *tmp = path_join(run->dir, "checkpoint.tmp");
  int rc = train_remove_dir(tmp, err);
  if (rc == 0) rc = train_ckpt_write(t, ci, tmp, state, err);
  if (rc == 0) rc = train_ckpt_commit(run->dir, err);
  free(tmp);
  return rc;
}

static json_t *finish_record(const Trainer *t, json_t *state, long resumed_from) {
  const TrainConfig *c = &t->cfg;
  json_t *r = json_deep_copy(state);
  json_object_set_new(r, "schema", json_string("bench.train/1"));
  json_object_del(r, "step");
  json_object_set_new(r, "steps", json_integer(c->steps));
  double tokens = (double)c->steps * c->batch * c->seq_len, train_s = num(state, "train_s");
  json_object_set_new(r, "tokens", json_integer((json_int_t)tokens));
  json_object_set_new(r, "params", json_integer((json_int_t)train_n_params(c)));
  const json_t *curve = json_object_get(state, "loss_curve");
  size_t n = json_array_size(curve), k = n < 10 ? n : 10;
  double last = 0, avg = 0;
  for (size_t i = n - k; i < n; i++) {
    double v = json_number_value(json_array_get(json_array_get(curve, i), 1));
    avg += v / (double)k;
    last = v;
  }
  json_object_set_new(r, "final_loss", json_real(last));
  json_object_set_new(r, "final_loss_avg10", json_real(avg));
  double tps = train_s > 0 ? tokens / train_s : 0;
  json_object_set_new(r, "tokens_per_s", json_real(tps));
  json_object_set_new(r, "gflops_per_s", json_real(tps * train_flops_per_token(c) / 1e9));
  json_object_set_new(r, "resumed_from", json_integer(resumed_from));
  json_object_set_new(r, "threads", json_integer(t->threads));
  json_object_set_new(r, "compute", json_string(t->ops->name));
  json_object_set_new(r, "seqs_per_pass", json_integer(t->seqs_per_pass));
  return r;
}

int train_run(const TrainConfig *cfg, const RopeTable *rope, const TrainRun *run,
              TrainOutcome *out, BenchErr *err) {
  memset(out, 0, sizeof *out);
  char *rec_path = path_join(run->dir, "training.json");
  int done = file_exists(rec_path);
  free(rec_path);
  if (done) {  // a completed model: reuse it
    out->record = train_record_load(run->dir, err);
    if (!out->record) return -1;
    json_t *want = config_json(cfg);
    int same = json_equal(json_object_get(out->record, "config"), want);
    json_decref(want);
    if (!same) {
      json_decref(out->record);
      out->record = NULL;
      return err_set(err, "'%s' holds a model trained by another recipe (remove it to retrain)",
                     run->dir);
    }
    out->completed = 1;
    out->resumed_from = cfg->steps;
    return 0;
  }
  if (mkdir_p(run->dir, err) != 0) return -1;
  Trainer t;
  TrainDevice dev = run->device;
  if (dev.compute == TRAIN_CPU_F64) dev.compute = TRAIN_CPU_F32;  // runs write fp32 checkpoints
  if (trainer_init_on(&t, cfg, rope, &dev, err) != 0) return -1;
  DataOrder order;
  if (data_order_init(&order, run->n_train, cfg->seq_len, cfg->seed, err) != 0) {
    trainer_free(&t);
    return err_prefix(err, "training data");
  }
  json_t *state = start_state(&t, run, err);
  if (!state) {
    data_order_free(&order);
    trainer_free(&t);
    return -1;
  }
  TrainCkptInfo ci = {.tokenizer_path = run->tokenizer_path, .rope_spec = run->rope_spec,
                      .rope_theta = run->rope_theta, .bos_token_id = run->bos_token_id,
                      .eos_token_id = run->eos_token_id};
  long B = cfg->batch, T = cfg->seq_len, start = t.step;
  long save_every = run->save_every > 0 ? run->save_every : (cfg->steps + 9) / 10;
  out->resumed_from = start;
  int32_t *batch = xmalloc(sizeof(int32_t) * (size_t)(B * (T + 1)));
  double wall0 = mono_time(), prev_wall = num(state, "wall_s"), train_s = num(state, "train_s");
  double seg_train_s = 0;
  int rc = 0;
  long step;
  for (step = start; step < cfg->steps && rc == 0; step++) {
    if (run->stop_after > 0 && step - start >= run->stop_after) break;
    for (long b = 0; b < B; b++)
      memcpy(batch + b * (T + 1), run->train_ids + data_order_start(&order, step * B + b),
             sizeof(int32_t) * (size_t)(T + 1));
    TrainStepStats st;
    double ts = mono_time();
    rc = trainer_step(&t, batch, &st, err);
    if (rc) break;
    double dt = mono_time() - ts;
    seg_train_s += dt;
    train_s += dt;
    append_pair(json_object_get(state, "loss_curve"), step + 1, st.loss);
    json_array_append_new(json_object_get(state, "grad_norm"), json_real(st.grad_norm));
    json_array_append_new(json_object_get(state, "lr"), json_real(st.lr));
    double vl;
    if (run->val_ids && run->eval_every > 0 && (step + 1) % run->eval_every == 0 &&
        (step + 1) < cfg->steps && val_loss(&t, run, &vl, err) == 0)
      append_pair(json_object_get(state, "val_curve"), step + 1, vl);
    if (run->progress)
      run->progress(run->progress_ctx, step + 1, cfg->steps, st.loss,
                    (double)(step + 1 - start) * B * T / (seg_train_s > 0 ? seg_train_s : 1));
    json_object_set_new(state, "step", json_integer(step + 1));
    json_object_set_new(state, "train_s", json_real(train_s));
    json_object_set_new(state, "wall_s", json_real(prev_wall + mono_time() - wall0));
    if ((step + 1) % save_every == 0 && step + 1 < cfg->steps)
      rc = save_checkpoint(&t, &ci, run, state, err);
  }
  free(batch);
  data_order_free(&order);
  if (rc == 0 && step >= cfg->steps) {
    double vl;
    int has_val = run->val_ids && val_loss(&t, run, &vl, err) == 0;
    if (has_val) {
      append_pair(json_object_get(state, "val_curve"), cfg->steps, vl);
      json_object_set_new(state, "final_val_loss", json_real(vl));
    }
    rc = trainer_to_host(&t, err);
    if (rc == 0) rc = train_ckpt_write(&t, &ci, run->dir, NULL, err);
    json_object_set_new(state, "wall_s", json_real(prev_wall + mono_time() - wall0));
    json_t *record = rc == 0 ? finish_record(&t, state, start) : NULL;
    if (rc == 0) {
      char *text = json_dumps(record, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
      char *p = path_join(run->dir, "training.json");
      rc = write_file_atomic(p, text, strlen(text), err);
      free(p);
      free(text);
    }
    if (rc == 0) {
      const char *names[] = {"checkpoint", "checkpoint.old", "checkpoint.tmp"};
      for (int i = 0; i < 3 && rc == 0; i++) {
        char *d = path_join(run->dir, names[i]);
        rc = train_remove_dir(d, err);
        free(d);
      }
    }
    if (rc == 0) {
      out->record = record;
      out->completed = 1;
    } else {
      json_decref(record);
    }
  }
  json_decref(state);
  trainer_free(&t);
  return rc;
}
