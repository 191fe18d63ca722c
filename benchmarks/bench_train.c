// bench_train.c — throughput of the CPU trainer (fp32) on a few Llama shapes, the 50.9M recipe of
// seeds/003 among them. Prints one markdown table.
// Legend: V vocab, C hidden, L layers, H heads, F intermediate, T sequence tokens, B batch.
//
// Usage: bench_train [--threads N] [--runs N] [--only TEXT]   (TEXT: part of a shape name)
// A step of B sequences costs B forward+backward passes of one sequence plus one AdamW update:
// the table times `runs` single-sequence passes (median, after one untimed pass) and one AdamW
// update (after one untimed), and reports tokens/s = B·T / (B·pass + adamw), GFLOP/s from train_flops_per_token, and
// the ratio to OpenBLAS's sgemm peak measured in the same run (the CPU analogue of MFU).
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "cpu_env.h"
#include "rope.h"
#include "train.h"

typedef struct {
  const char *name;
  int L, C, H, K, F, V;
  long T, B;
} Shape;

static const Shape SHAPES[] = {
    {"quickstart (4×128, V 2048, T 256)", 4, 128, 4, 4, 384, 2048, 256, 16},
    {"small (6×256, V 8192, T 512)", 6, 256, 4, 4, 768, 8192, 512, 16},
    {"seed003 50.9M (6×512, V 50304, T 2048, B 32)", 6, 512, 8, 8, 2048, 50304, 2048, 32},
};

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

// Best of 6 timed n×n×n products (after one untimed), n = 2048, split as the trainer splits.
static double sgemm_peak(int threads) {
  int n = 2048;
  float *a = malloc(sizeof(float) * n * n), *b = malloc(sizeof(float) * n * n),
        *c = malloc(sizeof(float) * n * n);
  for (long i = 0; i < (long)n * n; i++) a[i] = b[i] = 0.001f * (float)(i % 97);
  backend_cpu()->set_threads(threads);
  double best = 0;
  for (int r = 0; r < 7; r++) {
    double t0 = mono_time();
    // the trainer's split: one single-threaded sgemm per thread over a slice of the columns
    int p = threads > 0 ? threads : 1;
    int chunk = (n + p - 1) / p;
#pragma omp parallel for num_threads(p) schedule(static)
    for (int i = 0; i < p; i++) {
      int n0 = i * chunk, n1 = n0 + chunk < n ? n0 + chunk : n;
      if (n1 > n0)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, n1 - n0, n, 1.0f, a, n,
                    b + (size_t)n0 * n, n, 0.0f, c + n0, n);
    }
    double dt = mono_time() - t0, g = 2.0 * n * n * n / dt / 1e9;
    if (r > 0 && g > best) best = g;
  }
  free(a);
  free(b);
  free(c);
  return best;
}

int main(int argc, char **argv) {
  cpu_env_apply(argv);  // as bench itself: threads asleep, BLAS kernels for this CPU
  int threads = 0, runs = 3;
  const char *only = NULL;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) threads = atoi(argv[++i]);
    else if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc) runs = atoi(argv[++i]);
    else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc) only = argv[++i];
    else {
      fprintf(stderr, "usage: bench_train [--threads N] [--runs N] [--only TEXT]\n");
      return 2;
    }
  }
  if (runs < 1) runs = 1;
  int p = backend_cpu()->set_threads(threads);
  double peak = sgemm_peak(p);
  printf("threads %d, sgemm peak %.1f GFLOP/s (2048³, the trainer's split)\n\n", p, peak);
  printf("| shape | params | s/sequence | AdamW s | tokens/s | GFLOP/s | ratio to sgemm peak |\n");
  printf("|---|---:|---:|---:|---:|---:|---:|\n");
  for (size_t s = 0; s < sizeof SHAPES / sizeof SHAPES[0]; s++) {
    const Shape *sh = &SHAPES[s];
    if (only && !strstr(sh->name, only)) continue;
    TrainConfig c;
    train_config_defaults(&c);
    c.n_layers = sh->L;
    c.hidden_size = sh->C;
    c.n_heads = sh->H;
    c.n_kv_heads = sh->K;
    c.intermediate_size = sh->F;
    c.vocab_size = sh->V;
    c.seq_len = sh->T;
    c.batch = sh->B;
    c.steps = 100;
    c.lr = 1e-3;
    c.threads = threads;
    RopeModelInfo info;
    train_rope_info(&c, 10000, &info);
    json_t *spec = json_pack("{s:s, s:s, s:f}", "name", "geo", "type", "geometric", "theta", 10000.0);
    RopeTable rt;
    BenchErr err;
    Trainer t;
    if (rope_build(spec, &info, sh->T, &rt, &err) || trainer_init(&t, &c, &rt, 0, &err)) {
      fprintf(stderr, "bench_train: %s: %s\n", sh->name, err.msg);
      return 1;
    }
    int32_t *seq = malloc(sizeof(int32_t) * (size_t)(sh->T + 1));
    Rng r;
    rng_seed(&r, 3);
    for (long i = 0; i <= sh->T; i++) seq[i] = (int32_t)rng_below(&r, (uint64_t)sh->V);
    double nll, *times = malloc(sizeof(double) * (size_t)runs);
    trainer_zero_grad(&t);
    trainer_forward_backward(&t, seq, 1, 1.0 / (double)sh->T, 1, &nll, &err);
    for (int k = 0; k < runs; k++) {
      double t0 = mono_time();
      trainer_forward_backward(&t, seq, 1, 1.0 / (double)sh->T, 1, &nll, &err);
      times[k] = mono_time() - t0;
    }
    qsort(times, (size_t)runs, sizeof(double), cmp_double);
    double pass = times[runs / 2];
    trainer_adamw(&t, 1e-3);  // untimed: the first touch of the moments' pages
    double t0 = mono_time();
    trainer_adamw(&t, 1e-3);
    double adam = mono_time() - t0;
    double tps = (double)sh->B * sh->T / (sh->B * pass + adam);
    double gf = tps * train_flops_per_token(&c) / 1e9;
    printf("| %s | %.2fM | %.3f | %.3f | %.0f | %.1f | %.2f |\n", sh->name,
           train_n_params(&c) / 1e6, pass, adam, tps, gf, gf / peak);
    fflush(stdout);
    free(times);
    free(seq);
    trainer_free(&t);
    rope_table_free(&rt);
    json_decref(spec);
  }
  return 0;
}
