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

#endif
