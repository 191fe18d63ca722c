// bench_decode.c — speed of the decode protocol on a random-weight Pythia-shaped model: one-pass
// forward (chunks) for reference, then decode steps with the full cache and under each policy,
// for one window and for a batch. Prints one markdown table.
// Legend: B windows stepped together, P prompt, T length, V vocab, C hidden, L layers.
//
// Usage: bench_decode [--threads N] [--quick] [--batch B] [--model DIR] [--length T] [--prompt P]
//   --model DIR: a checkpoint (e.g. models/quickstart) instead of the random Pythia-70M shape;
//   tokens/s: scored predictions per second of wall time over the steps (the prefill untimed);
//   CPU ms/token: process CPU time per prediction (meaningful on a busy machine, where wall time
//   is not); median step ms: the median wall time of one step (all windows); vs full: this row's tokens/s ÷ the full cache's at the same batch.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "decode.h"
#include "forward.h"
#include "cpu_env.h"
#include "random_model.h"

static double cpu_time(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

typedef struct {
  double tok_s, cpu_ms, median_ms;
} Speed;

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static Speed run_decode(const Model *m, const RopeTable *rope, const char *spec_json, int B, long P,
                        long T, const int32_t *tokens, int threads) {
  json_error_t je;
  json_t *spec = json_loads(spec_json, 0, &je);
  KVPolicy p;
  BenchErr err;
  if (!spec || kv_policy_from_spec(spec, &p, &err) != 0) die("bad policy %s", spec_json);
  json_decref(spec);
  long keep = kv_policy_keep(&p), cap = keep < 0 ? T : keep + 1;
  if (cap < P) cap = P;
  DecodeState d;
  ForwardOptions opt = {.threads = threads};
  if (decode_init(&d, m, backend_cpu(), rope, &p, B, cap, P, &opt, &err) != 0) die("%s", err.msg);
  for (int b = 0; b < B; b++)
    if (decode_prefill(&d, b, tokens + (long)b * T, P, &err) != 0) die("%s", err.msg);
  int32_t *tok = xmalloc(sizeof(int32_t) * (size_t)B), *tgt = xmalloc(sizeof(int32_t) * (size_t)B);
  float *nll = xmalloc(sizeof(float) * (size_t)B);
  uint8_t *ok = xmalloc((size_t)B);
  double *step_s = xmalloc(sizeof(double) * (size_t)(T - 1 - P));
  double w0 = mono_time(), c0 = cpu_time();
  for (long t = P; t < T - 1; t++) {
    for (int b = 0; b < B; b++) tok[b] = tokens[(long)b * T + t], tgt[b] = tokens[(long)b * T + t + 1];
    double s0 = mono_time();
    if (decode_step(&d, tok, t, tgt, nll, ok, &err) != 0) die("%s", err.msg);
    step_s[t - P] = mono_time() - s0;
  }
  double wall = mono_time() - w0, cpu = cpu_time() - c0;
  double n = (double)B * (double)(T - 1 - P);
  qsort(step_s, (size_t)(T - 1 - P), sizeof(double), cmp_double);
  double median = step_s[(T - 1 - P) / 2];
  free(step_s);
  decode_free(&d);
  free(tok);
  free(tgt);
  free(nll);
  free(ok);
  return (Speed){n / wall, 1e3 * cpu / n, 1e3 * median};
}

int main(int argc, char **argv) {
  cpu_env_apply(argv);  // as bench itself: threads asleep, BLAS kernels for this CPU
  int threads = 1, quick = 0, batch = 4;
  long T = 0, P = 0;
  const char *model_dir = NULL;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--quick")) quick = 1;
    else if (!strcmp(argv[i], "--batch") && i + 1 < argc) batch = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--model") && i + 1 < argc) model_dir = argv[++i];
    else if (!strcmp(argv[i], "--length") && i + 1 < argc) T = atol(argv[++i]);
    else if (!strcmp(argv[i], "--prompt") && i + 1 < argc) P = atol(argv[++i]);
    else {
      fprintf(stderr, "usage: bench_decode [--threads N] [--quick] [--batch B] [--model DIR] "
                      "[--length T] [--prompt P]\n");
      return 2;
    }
  }
  if (T <= 0) T = quick ? 192 : 640;
  if (P <= 0) P = quick ? 32 : 64;
  if (P + 2 > T) die("prompt %ld leaves no step in a length of %ld", P, T);
  Model m;
  BenchErr lerr;
  if (model_dir) {
    if (model_load(model_dir, &m, &lerr) != 0) die("%s", lerr.msg);
  } else {
    // Pythia-70M's shape (GPT-NeoX: 6 layers, hidden 512, 8 heads, rotary 0.25, vocab 50304).
    ModelConfig shape = rm_config(ARCH_GPT_NEOX, 50304, 512, 6, 8, 8, 2048, 0.25);
    rm_init(&m, &shape, 1);
  }
  const ModelConfig cfg = m.config;
  RopeTable rope = rm_rope(cfg.rotary_dims, cfg.rope_theta, 1.0);
  int32_t *tokens = rm_tokens(T * batch, cfg.vocab_size, 2);
  printf("decode on %s (%d layers, hidden %d, vocab %d): prompt %ld, length %ld, %d thread%s\n\n",
         model_dir ? model_dir : "a random Pythia-70M-shaped model", cfg.n_layers,
         cfg.hidden_size, cfg.vocab_size, P, T, threads, threads > 1 ? "s" : "");
  // One-pass forward over a window, for reference.
  {
    float *nll = xmalloc(sizeof(float) * (size_t)T);
    uint8_t *ok = xmalloc((size_t)T);
    ForwardOptions opt = {.threads = threads};
    BenchErr err;
    double w0 = mono_time(), c0 = cpu_time();
    if (forward_score_window(&m, &rope, tokens, T, 0, nll, ok, &opt, &err) != 0) die("%s", err.msg);
    double wall = mono_time() - w0, cpu = cpu_time() - c0;
    printf("one-pass forward (chunks): %.1f tokens/s, %.2f CPU ms/token\n\n", (T - 1) / wall,
           1e3 * cpu / (T - 1));
    free(nll);
    free(ok);
  }
  const char *specs[] = {
      "{\"type\":\"full\"}",
      "{\"type\":\"window\",\"recent\":128}",
      "{\"type\":\"streaming\",\"sink\":4,\"recent\":124}",
      "{\"type\":\"streaming\",\"sink\":4,\"recent\":124,\"positions\":\"original\"}",
      "{\"type\":\"h2o\",\"heavy\":64,\"recent\":64}",
  };
  printf("| cache | windows | tokens/s | CPU ms/token | median step ms | vs full |\n"
         "|---|---|---|---|---|---|\n");
  int batches[2] = {1, batch};
  for (int bi = 0; bi < 2; bi++) {
    double full = 0;
    for (size_t s = 0; s < sizeof specs / sizeof specs[0]; s++) {
      Speed sp = run_decode(&m, &rope, specs[s], batches[bi], P, T, tokens, threads);
      if (s == 0) full = sp.tok_s;
      printf("| %s | %d | %.1f | %.3f | %.3f | %.2f |\n", specs[s], batches[bi], sp.tok_s,
             sp.cpu_ms, sp.median_ms, sp.tok_s / full);
      fflush(stdout);
    }
  }
  free(tokens);
  rm_rope_free(&rope);
  if (model_dir) model_free(&m);
  else rm_free(&m);
  return 0;
}
