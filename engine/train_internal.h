// train_internal.h — the trainer's compute in each precision (train_tmpl.h instantiated by
// train_f32.c and train_f64.c), dispatched by train.c on Trainer.fp64.
#ifndef BENCH_TRAIN_INTERNAL_H
#define BENCH_TRAIN_INTERNAL_H

#include "train.h"

#define TR_DECLARE(sfx)                                                                          \
  int tr_work_alloc_##sfx(Trainer *t, BenchErr *err);                                            \
  void tr_work_free_##sfx(Trainer *t);                                                           \
  double tr_forward_backward_##sfx(Trainer *t, const int32_t *seqs, long n, double grad_scale,   \
                                   int backward);                                                \
  void tr_init_params_##sfx(Trainer *t);                                                         \
  double tr_grad_sumsq_##sfx(const Trainer *t);                                                  \
  void tr_scale_grad_##sfx(Trainer *t, double s);                                                \
  void tr_adamw_##sfx(Trainer *t, double lr);

TR_DECLARE(f32)
TR_DECLARE(f64)

// ---- checkpoint files (train_ckpt.c) ----
typedef struct {
  const char *tokenizer_path;    // copied as tokenizer.json (NULL: none)
  const json_t *rope_spec;       // stored as config.json "bench_rope" unless plain geometric
  double rope_theta;             // config.json rope_theta
  int bos_token_id, eos_token_id;  // -1: null
} TrainCkptInfo;

// Writes the HF files into dir (created); with state, also optimizer.safetensors (exp_avg,
// metadata step), optimizer_sq.safetensors (exp_avg_sq) and trainer_state.json (state).
int train_ckpt_write(const Trainer *t, const TrainCkptInfo *ci, const char *dir,
                     const json_t *state, BenchErr *err);
// Loads weights, moments and step from a checkpoint dir; returns its trainer_state.json.
json_t *train_ckpt_read(Trainer *t, const char *dir, BenchErr *err);
// model_dir/checkpoint.tmp → model_dir/checkpoint (the previous one removed after the rename).
int train_ckpt_commit(const char *model_dir, BenchErr *err);
// The newest complete checkpoint dir of model_dir (checkpoint, else checkpoint.old), or NULL.
char *train_ckpt_latest(const char *model_dir);
// Removes a directory of plain files (absent: nothing to do).
int train_remove_dir(const char *dir, BenchErr *err);

#endif
