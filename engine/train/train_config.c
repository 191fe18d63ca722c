// train_config.c — the training recipe's rules (TrainConfig, train.h): defaults, checks, the
// learning-rate schedule, parameter and FLOP counts, the thread count. The trainer's set-up
// (train.c) and its step (train_step.c) both read them.
// Legend: V vocab, C hidden, L layers, H query heads, K kv heads, D head dim, F intermediate,
//         T tokens per sequence.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "train.h"

void train_config_defaults(TrainConfig *c) {
  memset(c, 0, sizeof *c);
  c->tie_embeddings = 1;
  c->norm_eps = 1e-5;
  c->init_std = 0.02;
  c->beta1 = 0.9;
  c->beta2 = 0.95;
  c->adam_eps = 1e-8;
  c->weight_decay = 0.1;
  c->grad_clip = 1.0;
  c->schedule = SCHED_COSINE;
}

int train_config_check(const TrainConfig *c, BenchErr *err) {
  if (c->n_layers < 1) return err_set(err, "layers must be >= 1, got %d", c->n_layers);
  if (c->hidden_size < 2) return err_set(err, "hidden must be >= 2, got %d", c->hidden_size);
  if (c->n_heads < 1 || c->hidden_size % c->n_heads != 0)
    return err_set(err, "hidden (%d) must be a multiple of heads (%d)", c->hidden_size, c->n_heads);
  if ((c->hidden_size / c->n_heads) % 2 != 0)
    return err_set(err, "head dim hidden / heads = %d must be even for RoPE",
                   c->hidden_size / c->n_heads);
  if (c->n_kv_heads < 1 || c->n_heads % c->n_kv_heads != 0)
    return err_set(err, "heads (%d) must be a multiple of kv_heads (%d)", c->n_heads, c->n_kv_heads);
  if (c->intermediate_size < 1)
    return err_set(err, "intermediate must be >= 1, got %d", c->intermediate_size);
  if (c->vocab_size < 2) return err_set(err, "vocab_size must be >= 2, got %d", c->vocab_size);
  if (c->seq_len < 1) return err_set(err, "seq_len must be >= 1, got %ld", c->seq_len);
  if (c->batch < 1) return err_set(err, "batch must be >= 1, got %ld", c->batch);
  if (c->steps < 1) return err_set(err, "steps must be >= 1, got %ld", c->steps);
  if (c->warmup < 0) return err_set(err, "warmup must be >= 0, got %ld", c->warmup);
  if (!(c->lr > 0) || !(c->min_lr >= 0) || c->min_lr > c->lr)
    return err_set(err, "learning rates must satisfy 0 <= min_lr (%g) <= lr (%g), lr > 0", c->min_lr,
                   c->lr);
  if (!(c->beta1 >= 0 && c->beta1 < 1) || !(c->beta2 >= 0 && c->beta2 < 1))
    return err_set(err, "betas must be in [0, 1), got (%g, %g)", c->beta1, c->beta2);
  if (!(c->adam_eps > 0) || !(c->weight_decay >= 0) || !(c->grad_clip >= 0))
    return err_set(err, "eps must be > 0, weight decay and grad clip >= 0");
  if (!(c->norm_eps > 0) || !(c->init_std > 0))
    return err_set(err, "norm eps and init std must be > 0");
  return 0;
}

double train_lr_at(const TrainConfig *c, long step) {
  if (step < c->warmup) return c->lr * (double)(step + 1) / (double)c->warmup;
  long span = c->steps - c->warmup;
  double p = span > 0 ? (double)(step - c->warmup) / (double)span : 1.0;
  if (p > 1) p = 1;
  switch (c->schedule) {
    case SCHED_COSINE: return c->min_lr + 0.5 * (c->lr - c->min_lr) * (1.0 + cos(M_PI * p));
    case SCHED_LINEAR: return c->lr - (c->lr - c->min_lr) * p;
    case SCHED_CONSTANT: break;
  }
  return c->lr;
}

size_t train_n_params(const TrainConfig *c) {
  size_t C = (size_t)c->hidden_size, V = (size_t)c->vocab_size, F = (size_t)c->intermediate_size;
  size_t D = C / (size_t)c->n_heads, KD = (size_t)c->n_kv_heads * D, HD = (size_t)c->n_heads * D;
  size_t layer = 2 * C + C * HD * 2 + C * KD * 2 + 3 * C * F;
  return V * C * (c->tie_embeddings ? 1 : 2) + (size_t)c->n_layers * layer + C;
}

double train_flops_per_token(const TrainConfig *c) {
  double C = c->hidden_size, H = c->n_heads, K = c->n_kv_heads, D = C / H, F = c->intermediate_size;
  double V = c->vocab_size, T = (double)c->seq_len;
  double mat = c->n_layers * (C * H * D * 2 + C * K * D * 2 + 3 * C * F) + V * C;
  double attn = c->n_layers * 12.0 * (T + 1) / 2.0 * H * D;  // q·k and p·v: 2 each, ×3 fwd+bwd
  return 6.0 * mat + attn;
}

int train_threads(int threads) {
  if (threads > 0) return threads;
  const char *env = getenv("OMP_NUM_THREADS");
  long n = env ? strtol(env, NULL, 10) : 0;
  return n > 0 && n < 4096 ? (int)n : 0;
}
