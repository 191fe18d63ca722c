// train_internal.h — what the trainer's files share: the initial draw in each precision
// (train_tmpl.h instantiated by train_f32.c and train_f64.c), the activations of a pass
// (train_step.c) and the checkpoint files (train_ckpt.c).
#ifndef BENCH_TRAIN_INTERNAL_H
#define BENCH_TRAIN_INTERNAL_H

#include "train.h"

#define TR_DECLARE(sfx) void tr_init_params_##sfx(Trainer *t);
TR_DECLARE(f32)
TR_DECLARE(f64)

// ---- activations of a pass (train_step.c) ----
// Allocates t->work for t->seqs_per_pass sequences in t->ops's memory; -1 with an
// "out of memory: ..." err.
int train_work_alloc(Trainer *t, BenchErr *err);
void train_work_free(Trainer *t);
// Bytes of activations for a pass of n_seq sequences.
size_t train_work_bytes(const Trainer *t, long n_seq);

// ---- checkpoint files (train_ckpt.c) ----
typedef struct {
  const char *tokenizer_path;    // copied as tokenizer.json (NULL: none)
  const json_t *rope_spec;       // stored as config.json "bench_rope" unless plain geometric
  double rope_theta;             // config.json rope_theta
  int bos_token_id, eos_token_id;  // -1: null
} TrainCkptInfo;

// Writes the HF files into dir (created) from the host arenas (a device trainer: after
// trainer_to_host); with state, also optimizer.safetensors (exp_avg,
// metadata step), optimizer_sq.safetensors (exp_avg_sq) and trainer_state.json (state).
int train_ckpt_write(const Trainer *t, const TrainCkptInfo *ci, const char *dir,
                     const json_t *state, BenchErr *err);
// Loads weights, moments and step from a checkpoint dir (onto the trainer's device too); returns
// its trainer_state.json.
json_t *train_ckpt_read(Trainer *t, const char *dir, BenchErr *err);
// model_dir/checkpoint.tmp → model_dir/checkpoint (the previous one removed after the rename).
int train_ckpt_commit(const char *model_dir, BenchErr *err);
// The newest complete checkpoint dir of model_dir (checkpoint, else checkpoint.old), or NULL.
char *train_ckpt_latest(const char *model_dir);
// Removes a directory of plain files (absent: nothing to do).
int train_remove_dir(const char *dir, BenchErr *err);

#endif
