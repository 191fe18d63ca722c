// bench_train_gpu.c — throughput of the CUDA trainer (cuda-bf16) on the 50.9M recipe of seeds/003:
// 6 layers, hidden 512, 8 heads (head dim 64), intermediate 2048, vocab 50304 (gpt-neox-20b's
// 50277 padded, as the note's model), tied embeddings, sequences of 2048 tokens, batch 32. The
// text is the King James Bible (data/kjv, its 2048-token tokenizer: the ids fill the bottom of the
// 50304-row vocabulary; the shape, which sets the cost, is the recipe's). Prints two markdown
// tables: the run (tokens/s, model FLOP/s, MFU) and a breakdown by part of the step.
//
//   model FLOPs per token = 6·N + 6·L·H·D·(T + 1)
//     N = weights of the matrices (the LM head counted, the RMSNorm weights not: 50.86M here);
//     6·N: forward 2·N, backward 4·N; attention: per layer the causal q·kᵀ and p·v products,
//     2·H·D each per visible key, (T + 1)/2 keys on average, × 3 for forward and backward
//     (train_flops_per_token). Recomputation (RMSNorm, SwiGLU, the flash backward's second
//     pass over S and dP) is not counted: MFU counts the model's FLOPs only.
//   MFU = model FLOPs per token × tokens/s ÷ the bf16 product peak measured in the same run
//     (the table's own product at 8192³: cuBLASLt, bf16 operands and output, fp32 accumulation;
//     median of 20 after a warm-up, on random data).
// Steps are timed on the host around trainer_step, which waits for the device at its end;
// median over the timed steps, after untimed warm-up steps.
//
// Expectations, written before any GPU run (to be checked against the first one): 343.3M model
// FLOPs per token (305.5M in products, 37.8M in attention), 22.5 TFLOP per step of 65,536 tokens:
// 32 ms at a ~700 TFLOP/s bf16 peak, the floor. Products at ~65% of peak ≈ 44 ms; attention runs
// 1.5× its model FLOPs on mma.sync (the dQ pass recomputes S and dP) ≈ 3.7 TFLOP, ~30 ms at
// ~120 TFLOP/s; norms, RoPE, SwiGLU, casts and the cross-entropy move ~40 GB ≈ 15 ms. About
// 90 ms per step: ~730K tokens/s, MFU ~36% against the 40% target; the attention kernels (no
// copy pipelining yet) and the elementwise traffic are where to look first.
//
// Usage: bench_train_gpu [--device cuda:N|cpu] [--steps N] [--warmup N] [--shape seed003|small|tiny]
//                        [--attention auto|simple|flash] [--fp32]
// (--device cpu runs the cpu-fp32 trainer with passes of the whole batch: a check of this
// program; --shape small and tiny are smaller models for that.)
// Legend: L layers, C hidden, H heads, D head dim, F intermediate, V vocab, T sequence tokens,
//         B batch.
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "device.h"
#include "rope.h"
#include "safetensors.h"
#include "tokenizer.h"
#include "train.h"
#include "train_ops.h"

#ifdef BENCH_CUDA
#include "cuda_mem.cuh"
#endif

typedef struct {
  const char *name;
  int L, C, H, F, V;
  long T, B;
} Shape;

static const Shape SHAPES[] = {
    {"seed003", 6, 512, 8, 2048, 50304, 2048, 32},
    {"small", 2, 256, 4, 1024, 50304, 256, 8},
    {"tiny", 1, 64, 2, 128, 2048, 64, 4},
};

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double median(double *v, int n) {
  qsort(v, (size_t)n, sizeof *v, cmp_double);
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static int fail(const char *what, const BenchErr *err) {
  fprintf(stderr, "bench_train_gpu: %s: %s\n", what, err->msg);
  return 1;
}

// A device buffer of n elements of el bytes holding random values (normal, std), bf16 or fp32.
static void *rand_buf(const TrainOps *o, size_t n, size_t el, double std, Rng *r) {
  void *h = xmalloc(n * el + 4), *d = o->alloc(n * el + 4);
  if (!d) die("bench allocation of %zu bytes failed", n * el);
  for (size_t i = 0; i < n; i++) {
    float v = (float)(std * rng_normal(r));
    if (el == 2) ((uint16_t *)h)[i] = st_f32_to_bf16(v);
    else ((float *)h)[i] = v;
  }
  o->upload(d, h, n * el);
  free(h);
  return d;
}

// The table's bf16 (or fp32) product at n³: TFLOP/s, median of reps after one warm-up.
static double product_peak(const Trainer *t, int n, int reps) {
  const TrainOps *o = t->ops;
  Rng r;
  rng_seed(&r, 11);
  size_t A = o->act_size, nn = (size_t)n * n;
  void *x = rand_buf(o, nn, A, 1.0, &r), *w = rand_buf(o, nn, A, 0.02, &r), *y = o->alloc(nn * A);
  double *times = xmalloc(sizeof(double) * (size_t)reps);
  BenchErr err;
  o->linear(t->ctx, y, 0, x, w, n, n, n, 0);
  o->sync(&err);
  for (int i = 0; i < reps; i++) {
    double t0 = mono_time();
    o->linear(t->ctx, y, 0, x, w, n, n, n, 0);
    o->sync(&err);
    times[i] = mono_time() - t0;
  }
  double s = median(times, reps);
  free(times);
  o->free(x);
  o->free(w);
  o->free(y);
  return 2.0 * n * (double)n * n / s / 1e12;
}

// Attention buffers for one pass (B sequences), timed through the trainer's own table.
typedef struct {
  Trainer *t;
  void *q, *k, *v, *out, *lse, *dout, *dq, *dk, *dv;
  long B, T;
} AttnBufs;

static void attn_fwd_once(AttnBufs *a) {
  const TrainConfig *c = &a->t->cfg;
  a->t->ops->attn_fwd(a->t->ctx, a->out, a->lse, a->q, a->k, a->v, a->B, a->T, c->n_heads,
                      c->n_kv_heads, a->t->head_dim);
}
static void attn_bwd_once(AttnBufs *a) {
  const TrainConfig *c = &a->t->cfg;
  a->t->ops->attn_bwd(a->t->ctx, a->dq, a->dk, a->dv, a->dout, a->out, a->lse, a->q, a->k, a->v,
                      a->B, a->T, c->n_heads, c->n_kv_heads, a->t->head_dim);
}

// Seconds of one attention op over a pass: median of reps after one warm-up.
static double time_attn(AttnBufs *a, void (*fn)(AttnBufs *), int reps) {
  BenchErr err;
  double *times = xmalloc(sizeof(double) * (size_t)reps);
  fn(a);
  a->t->ops->sync(&err);
  for (int i = 0; i < reps; i++) {
    double t0 = mono_time();
    fn(a);
    a->t->ops->sync(&err);
    times[i] = mono_time() - t0;
  }
  double s = median(times, reps);
  free(times);
  return s;
}

int main(int argc, char **argv) {
  const char *device = "cuda:0", *shape_name = "seed003", *attention = "auto";
  int steps = 10, warmup = 2, fp32 = 0;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--device") == 0 && i + 1 < argc) device = argv[++i];
    else if (strcmp(argv[i], "--steps") == 0 && i + 1 < argc) steps = atoi(argv[++i]);
    else if (strcmp(argv[i], "--warmup") == 0 && i + 1 < argc) warmup = atoi(argv[++i]);
    else if (strcmp(argv[i], "--shape") == 0 && i + 1 < argc) shape_name = argv[++i];
    else if (strcmp(argv[i], "--attention") == 0 && i + 1 < argc) attention = argv[++i];
    else if (strcmp(argv[i], "--fp32") == 0) fp32 = 1;
    else {
      fprintf(stderr, "usage: bench_train_gpu [--device cuda:N|cpu] [--steps N] [--warmup N] "
              "[--shape seed003|small|tiny] [--attention auto|simple|flash] [--fp32]\n");
      return 2;
    }
  }
  if (steps < 1) steps = 1;
  const Shape *sh = NULL;
  for (size_t i = 0; i < sizeof SHAPES / sizeof SHAPES[0]; i++)
    if (strcmp(SHAPES[i].name, shape_name) == 0) sh = &SHAPES[i];
  int attn = strcmp(attention, "simple") == 0 ? TRAIN_ATTN_SIMPLE
             : strcmp(attention, "flash") == 0 ? TRAIN_ATTN_FLASH
                                               : TRAIN_ATTN_AUTO;
  if (!sh) {
    fprintf(stderr, "bench_train_gpu: unknown shape '%s' (seed003, small, tiny)\n", shape_name);
    return 2;
  }
  BenchErr err;
  int gpu = strncmp(device, "cuda:", 5) == 0;
  char devname[160] = "cpu";
  if (gpu) {
    if (backend_cuda_open(atoi(device + 5), &err)) return fail(device, &err);
    GpuInfo gi;
    if (device_gpu_info(atoi(device + 5), &gi) == 0)
      snprintf(devname, sizeof devname, "%s (sm_%d%d, %.0f GiB)", gi.name, gi.cc_major,
               gi.cc_minor, gi.total_bytes / 1073741824.0);
  } else if (strcmp(device, "cpu") != 0) {
    fprintf(stderr, "bench_train_gpu: device '%s' is neither cuda:N nor cpu\n", device);
    return 2;
  }

  // ---- data: the King James Bible ----
  Tokenizer *tok = NULL;
  char *text = NULL;
  size_t len = 0;
  int32_t *ids = NULL;
  size_t n_ids = 0;
  long need = (long)(warmup + steps) * sh->B * sh->T + 1;
  double t0 = mono_time();
  if (tokenizer_load("data/kjv/tokenizer.json", &tok, &err)) return fail("tokenizer", &err);
  if (read_file("data/kjv/train.txt", 1 << 26, &text, &len, &err)) return fail("data", &err);
  size_t take = len;
  if (!gpu && take > (size_t)need * 6) take = (size_t)need * 6;  // about 4 bytes per token
  while (take < len && take > 0 && ((unsigned char)text[take] & 0xC0) == 0x80) take--;
  if (tokenizer_encode(tok, text, take, 0, &ids, &n_ids, &err)) return fail("tokenize", &err);
  double tok_s = mono_time() - t0;
  free(text);

  // ---- the trainer ----
  TrainConfig c;
  train_config_defaults(&c);
  c.n_layers = sh->L;
  c.hidden_size = sh->C;
  c.n_heads = sh->H;
  c.n_kv_heads = sh->H;
  c.intermediate_size = sh->F;
  c.vocab_size = sh->V;
  c.seq_len = sh->T;
  c.batch = sh->B;
  c.steps = 763;  // the recipe's 50M tokens; the schedule only
  c.lr = 6e-4;
  c.warmup = 15;
  c.seed = 42;
  RopeModelInfo info;
  train_rope_info(&c, 10000, &info);
  json_t *spec = json_pack("{s:s, s:s, s:f}", "name", "geo_10k", "type", "geometric", "theta", 10000.0);
  RopeTable rt;
  if (rope_build(spec, &info, sh->T, &rt, &err)) return fail("rope", &err);
  TrainDevice dev = {.compute = gpu ? (fp32 ? TRAIN_CUDA_F32 : TRAIN_CUDA_BF16) : TRAIN_CPU_F32,
                     .attention = attn, .seqs_per_pass = gpu ? 0 : sh->B};
  Trainer t;
  t0 = mono_time();
  if (trainer_init_on(&t, &c, &rt, &dev, &err)) return fail("trainer", &err);
  double init_s = mono_time() - t0;
  DataOrder order;
  if (data_order_init(&order, (long)n_ids, sh->T, c.seed, &err)) return fail("data order", &err);
  int32_t *batch = xmalloc(sizeof(int32_t) * (size_t)(sh->B * (sh->T + 1)));
  double *times = xmalloc(sizeof(double) * (size_t)steps), loss0 = 0, loss1 = 0;
  for (int s = 0; s < warmup + steps; s++) {
    for (long b = 0; b < sh->B; b++)
      memcpy(batch + b * (sh->T + 1), ids + data_order_start(&order, (long)s * sh->B + b),
             sizeof(int32_t) * (size_t)(sh->T + 1));
    TrainStepStats st;
    double ts = mono_time();
    if (trainer_step(&t, batch, &st, &err)) return fail("step", &err);
    if (s >= warmup) times[s - warmup] = mono_time() - ts;
    if (s == 0) loss0 = st.loss;
    loss1 = st.loss;
  }
  double step_s = median(times, steps);
  double tokens = (double)sh->B * sh->T, tps = tokens / step_s;
  double fpt = train_flops_per_token(&c), model_tflops = tps * fpt / 1e12;
  double peak = product_peak(&t, gpu ? 8192 : 1024, gpu ? 20 : 3);
  size_t n_mat = train_n_params(&c) - (size_t)(2 * sh->L + 1) * sh->C;
  printf("device %s; trainer %s, %ld sequence%s per pass; commit %s\n", devname, t.ops->name,
         t.seqs_per_pass, t.seqs_per_pass == 1 ? "" : "s", BENCH_GIT_COMMIT);
  printf("shape %s: L %d, C %d, H %d (D %d), F %d, V %d, T %ld, B %ld; %.2fM parameters (%.2fM in "
         "matrices); attention %s\n", sh->name, sh->L, sh->C, sh->H, sh->C / sh->H, sh->F, sh->V,
         sh->T, sh->B, train_n_params(&c) / 1e6, n_mat / 1e6, attention);
  printf("data: data/kjv/train.txt, %zu tokens (tokenized in %.1f s); trainer set up in %.1f s\n\n",
         n_ids, tok_s, init_s);
  printf("| quantity | value |\n|---|---:|\n");
  printf("| %s product peak (%d³, median) | %.1f TFLOP/s |\n", gpu && !fp32 ? "bf16" : "fp32",
         gpu ? 8192 : 1024, peak);
  printf("| step time (median of %d, after %d warm-up) | %.4f s |\n", steps, warmup, step_s);
  printf("| tokens/s | %.0f |\n", tps);
  printf("| model FLOPs per token (6·N + 6·L·H·D·(T+1)) | %.4g |\n", fpt);
  printf("| model FLOP/s | %.1f TFLOP/s |\n", model_tflops);
  printf("| MFU (model FLOP/s ÷ product peak) | %.1f%% |\n", 100.0 * model_tflops / peak);
  printf("| loss, first step → last | %.3f → %.3f |\n", loss0, loss1);
#ifdef BENCH_CUDA
  if (gpu) printf("| peak device memory | %.2f GiB |\n", cuda_mem_peak() / 1073741824.0);
#endif

  // ---- breakdown ----
  printf("\n| part of a step | seconds | share |\n|---|---:|---:|\n");
  double fwd[5];
  for (int i = 0; i < 5; i++) {
    double nll, ts = mono_time();
    if (trainer_forward_backward(&t, batch, sh->B, 0, 0, &nll, &err)) return fail("forward", &err);
    fwd[i] = mono_time() - ts;
  }
  double f = median(fwd, 5);
  double opt[5];
  for (int i = 0; i < 5; i++) {
    double ts = mono_time();
    (void)trainer_grad_norm(&t);
    trainer_adamw(&t, 0.0);
    if (t.ops->sync(&err)) return fail("adamw", &err);
    opt[i] = mono_time() - ts;
  }
  double o = median(opt, 5);
  printf("| whole step | %.4f | 100%% |\n", step_s);
  printf("| forward only (B sequences, no saved gradients) | %.4f | %.0f%% |\n", f, 100 * f / step_s);
  printf("| gradient norm + AdamW | %.4f | %.0f%% |\n", o, 100 * o / step_s);
  AttnBufs a = {&t, 0, 0, 0, 0, 0, 0, 0, 0, 0, t.seqs_per_pass, sh->T};
  size_t rows = (size_t)a.B * sh->T, A = t.ops->act_size;
  Rng r;
  rng_seed(&r, 5);
  a.q = rand_buf(t.ops, rows * sh->C, A, 1.0, &r);
  a.k = rand_buf(t.ops, rows * sh->C, A, 1.0, &r);
  a.v = rand_buf(t.ops, rows * sh->C, A, 1.0, &r);
  a.dout = rand_buf(t.ops, rows * sh->C, A, 1.0, &r);
  a.out = t.ops->alloc(rows * sh->C * A);
  a.dq = t.ops->alloc(rows * sh->C * A);
  a.dk = t.ops->alloc(rows * sh->C * A);
  a.dv = t.ops->alloc(rows * sh->C * A);
  a.lse = t.ops->alloc(rows * sh->H * 4);
  if (!a.out || !a.dq || !a.dk || !a.dv || !a.lse) die("bench allocation failed");
  double af = time_attn(&a, attn_fwd_once, gpu ? 5 : 1), ab = time_attn(&a, attn_bwd_once, gpu ? 5 : 1);
  double per_pass = (double)sh->B / (double)a.B;
  double af_all = af * per_pass * sh->L, ab_all = ab * per_pass * sh->L;
  double attn_flop = 2.0 * 2.0 * sh->H * (sh->C / sh->H) * (sh->T + 1) / 2.0 * rows;  // one forward
  printf("| attention forward, all layers (%.2f ms per layer and pass, %.1f TFLOP/s) | %.4f | %.0f%% |\n",
         af * 1e3, attn_flop / af / 1e12, af_all, 100 * af_all / step_s);
  printf("| attention backward, all layers (%.2f ms per layer and pass, %.1f model TFLOP/s) | %.4f | "
         "%.0f%% |\n", ab * 1e3, 2 * attn_flop / ab / 1e12, ab_all, 100 * ab_all / step_s);
  void *bufs[] = {a.q, a.k, a.v, a.dout, a.out, a.dq, a.dk, a.dv, a.lse};
  for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) t.ops->free(bufs[i]);
  printf("\n(rest of the step: products, norms, RoPE, SwiGLU, LM head and cross-entropy)\n");

  free(times);
  free(batch);
  free(ids);
  data_order_free(&order);
  trainer_free(&t);
  rope_table_free(&rt);
  json_decref(spec);
  tokenizer_free(tok);
  if (gpu) backend_cuda_close();
  return 0;
}
