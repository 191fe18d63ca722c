// bench_cpu.c — throughput of the CPU forward on random-weight models of a few shapes, against
// the sgemm peak of OpenBLAS measured in the same run. Prints one markdown table.
// Legend: V vocab, C hidden, L layers, H query heads, K kv heads, F intermediate, T window tokens.
//
// Usage: bench_cpu [--threads N] [--runs N] [--quick] [--only TEXT]   (TEXT: part of a model name)
//   GFLOP/s counts the forward's matmuls, attention (causal pairs) and the LM head over the
//   scored tokens (forward_flops); ratio = GFLOP/s ÷ the sgemm peak.
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "backend.h"
#include "forward.h"
#include "cpu_env.h"
#include "random_model.h"

typedef struct {
  const char *name;
  ModelConfig cfg;
  long T;
} Shape;

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double median(double *v, int n) {
  qsort(v, (size_t)n, sizeof(double), cmp_double);
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

void openblas_set_num_threads(int num_threads);

// Best rate of an n×n×n product, GFLOP/s: OpenBLAS's sgemm on its own threads (own = 1), or the
// backend's matmul op (OpenMP threads, one sgemm slice each).
static double sgemm_peak(int n, int runs, int threads, int own) {
  Rng r;
  rng_seed(&r, 1);
  float *a = rm_tensor(&r, (size_t)n * n, 0.0, 1.0), *b = rm_tensor(&r, (size_t)n * n, 0.0, 1.0);
  float *c = xmalloc(sizeof(float) * (size_t)n * n);
  double best = 0.0;
  if (own) openblas_set_num_threads(threads);
  for (int i = 0; i < runs + 1; i++) {
    double t0 = mono_time();
    if (own)
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
    else
      backend_cpu()->matmul(c, a, b, NULL, n, n, n);
    double dt = mono_time() - t0;
    double g = 2.0 * n * n * n / dt / 1e9;
    if (i > 0 && g > best) best = g;  // the first run warms up
  }
  if (own) backend_cpu()->set_threads(threads);
  free(a);
  free(b);
  free(c);
  return best;
}

// Attention op alone: T queries over T keys, causal, GFLOP/s.
static double attention_rate(long T, int H, int K, int D, int runs) {
  Rng r;
  rng_seed(&r, 2);
  float *q = rm_tensor(&r, (size_t)T * H * D, 0.0, 1.0), *k = rm_tensor(&r, (size_t)T * K * D, 0.0, 1.0);
  float *v = rm_tensor(&r, (size_t)T * K * D, 0.0, 1.0), *o = xmalloc(sizeof(float) * T * H * D);
  double *times = xmalloc(sizeof(double) * runs);
  for (int i = 0; i < runs; i++) {
    double t0 = mono_time();
    backend_cpu()->attention(o, q, k, v, T, T, 0, H, K, D, 0.125f, 0, 0);
    times[i] = mono_time() - t0;
  }
  double flops = T * (T + 1) / 2.0 * H * D * 4.0;
  double g = flops / median(times, runs) / 1e9;
  free(q); free(k); free(v); free(o); free(times);
  return g;
}

static int run_shape(const Shape *s, int threads, int runs, double peak) {
  Model m;
  rm_init(&m, &s->cfg, 7);
  RopeTable rope = rm_rope(s->cfg.rotary_dims, 10000.0, 1.0);
  int32_t *tok = rm_tokens(s->T, s->cfg.vocab_size, 8);
  float *nll = xmalloc(sizeof(float) * s->T);
  uint8_t *ok = xmalloc((size_t)s->T);
  ForwardOptions opt = {.threads = threads, .fp64_check = 0};
  BenchErr err;
  double *times = xmalloc(sizeof(double) * runs);
  int rc = 0;
  for (int i = 0; i < runs && rc == 0; i++) {
    double t0 = mono_time();
    rc = forward_score_window(&m, &rope, tok, s->T, 0, nll, ok, &opt, &err);
    times[i] = mono_time() - t0;
  }
  if (rc) {
    fprintf(stderr, "bench_cpu: error: %s: %s\n", s->name, err.msg);
  } else {
    const ModelConfig *c = &s->cfg;
    double t = median(times, runs);
    double gf = forward_flops(c, s->T, s->T - 1) / t / 1e9;
    double mib = forward_memory_bytes(c, s->T) / 1048576.0;
    printf("| %-22s | %5d %4d %2d %2d/%-2d %5d | %6ld | %7.2f | %9.0f | %7.1f | %5.1f%% | %8.1f |\n",
           s->name, c->vocab_size, c->hidden_size, c->n_layers, c->n_heads, c->n_kv_heads,
           c->intermediate_size, s->T, t, s->T / t, gf, 100.0 * gf / peak, mib);
    fflush(stdout);
  }
  free(times); free(tok); free(nll); free(ok);
  rm_rope_free(&rope);
  rm_free(&m);
  return rc;
}

int main(int argc, char **argv) {
  cpu_env_apply(argv);  // as bench itself: threads asleep, BLAS kernels for this CPU
  int threads = 0, runs = 3, quick = 0;
  const char *only = NULL;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--runs") && i + 1 < argc) runs = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--quick")) quick = 1;
    else if (!strcmp(argv[i], "--only") && i + 1 < argc) only = argv[++i];
    else {
      fprintf(stderr, "usage: bench_cpu [--threads N] [--runs N] [--quick] [--only TEXT]\n");
      return 2;
    }
  }
  if (runs < 1) runs = 1;
  int n = backend_cpu()->set_threads(threads);
  int sz = quick ? 512 : 2048;
  double own = sgemm_peak(sz, runs, n, 1), op = sgemm_peak(sz, runs, n, 0);
  double peak = own > op ? own : op;
  printf("threads %d; sgemm %d³ best of %d: OpenBLAS on its own threads %.1f GFLOP/s, matmul op "
         "%.1f GFLOP/s; peak = %.1f\n", n, sz, runs, own, op, peak);
  long ta = quick ? 1024 : 4096;
  printf("attention op alone (T %ld, H 8, K 8, D 64, causal): %.1f GFLOP/s\n\n", ta,
         attention_rate(ta, 8, 8, 64, runs));
  Shape shapes[] = {
      {"tiny llama", rm_config(ARCH_LLAMA, 512, 64, 2, 4, 2, 172, 1.0), 2048},
      {"tiny llama", rm_config(ARCH_LLAMA, 512, 64, 2, 4, 2, 172, 1.0), 16384},
      {"pythia-70m shape", rm_config(ARCH_GPT_NEOX, 50304, 512, 6, 8, 8, 2048, 0.25), 2048},
      {"llama 4L-768 shape", rm_config(ARCH_LLAMA, 32000, 768, 4, 12, 4, 2048, 1.0), 2048},
  };
  int ns = quick ? 1 : (int)(sizeof shapes / sizeof shapes[0]);
  printf("| model                  |     V    C  L  H/K      F |      T |  time s |  tokens/s |"
         " GFLOP/s | /peak  | act+KV MiB |\n");
  printf("|------------------------|--------------------------|--------|---------|-----------|"
         "---------|--------|------------|\n");
  int rc = 0;
  for (int i = 0; i < ns; i++)
    if (!only || strstr(shapes[i].name, only)) rc |= run_shape(&shapes[i], threads, runs, peak);
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  printf("\npeak resident memory of this run: %.1f MiB\n", ru.ru_maxrss / 1024.0);
  return rc ? 1 : 0;
}
