// train_data.c — the order in which a training run reads its sequences: per epoch, a
// Fisher–Yates permutation of the N = ⌊(n − 1) / T⌋ sequences drawn from (seed, epoch).
#include <stdlib.h>

#include "train.h"

int data_order_init(DataOrder *o, long n_tokens, long seq_len, uint64_t seed, BenchErr *err) {
  o->perm = NULL;
  if (seq_len < 1 || n_tokens < seq_len + 1)
    return err_set(err, "%ld training tokens do not make one sequence of %ld + 1 tokens", n_tokens,
                   seq_len);
  o->n_seq = (n_tokens - 1) / seq_len;
  o->seq_len = seq_len;
  o->seed = seed;
  o->epoch = -1;
  o->perm = xmalloc((size_t)o->n_seq * sizeof *o->perm);
  return 0;
}

void data_order_free(DataOrder *o) {
  free(o->perm);
  o->perm = NULL;
}

long data_order_start(DataOrder *o, long k) {
  long e = k / o->n_seq, i = k % o->n_seq;
  if (e != o->epoch) {
    Rng r;
    rng_seed(&r, o->seed * 0x9e3779b97f4a7c15ULL + (uint64_t)e * 0xda942042e4dd58b5ULL + 0xd47aULL);
    for (long j = 0; j < o->n_seq; j++) o->perm[j] = j;
    for (long j = o->n_seq - 1; j > 0; j--) {
      long s = (long)rng_below(&r, (uint64_t)j + 1), tmp = o->perm[j];
      o->perm[j] = o->perm[s];
      o->perm[s] = tmp;
    }
    o->epoch = e;
  }
  return o->perm[i] * o->seq_len;
}
