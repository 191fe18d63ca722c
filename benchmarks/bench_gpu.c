// bench_gpu.c — the engine's speed on one device for one checkpoint (a `bench init-model`
// checkpoint in practice): the device's two ceilings, then whole forwards and decodes as jobs run
// them, written as JSON for benchmarks/perf_report.py (benchmarks/bench_gpu.sh runs the whole
// comparison with transformers). Runs on the CPU too (--device cpu), which is how `make test`
// checks this program.
//
// Measured, in this order (each step records its error and the next one still runs; the JSON is
// rewritten after each step):
//  1. ceilings: a dtype GEMM [S, S] x [S, S]ᵀ through the engine's own matmul path (cuBLASLt, fp32
//     accumulation and output; the CPU: sgemm), median of repeats after warm-ups; a device-to-
//     device copy of `--copy-mib` (bytes read + written per second).
//  2. window: one window of --window tokens through forward_score_window, end to end (cache and
//     activations allocated, every token scored), per --mlp-rows variant: median seconds of --reps
//     after a warm-up; tokens/s, model FLOP/s (forward_flops), MFU against the measured GEMM,
//     peak device memory, PPL (finite on random weights).
//  3. attention kernels: on CUDA the exact fp32 kernel and the flash kernel (4 and 8 warps), on the
//     CPU the fp32 kernel at each vector width the CPU has, on the model's heads over --window
//     causal tokens of random q, k, v: ms and TFLOP/s.
//  4. decode: the decode protocol (decode.h) under --cache for each batch in --decode-batches:
//     a --decode-prompt prefill per sequence (untimed), then --decode-steps timed steps; tokens/s,
//     bytes a step must move (weights read once + every sequence's held keys and values) and the
//     roofline tokens/s at the measured copy bandwidth. Also single-token blocks through
//     forward_block with the full cache (batch 1), which every backend runs.
//  5. long: one window of --long tokens, once: seconds, PPL, peak memory, or the error (out of
//     memory is reported, not fatal).
//
// Usage: bench_gpu --model DIR [--device cuda:0|cpu] [--dtype bf16|fp16|fp32] [--window T]
//          [--long T|0] [--reps N] [--mlp-rows N,N..] [--decode-batches B,B..] [--decode-prompt P]
//          [--decode-steps S] [--cache JSON] [--gemm-size S] [--copy-mib M]
//          [--no-attention | --attention-only (the ceilings and step 3 only)]
//          [--json FILE] [--tokens-out FILE] [--seed N]
// Legend: T tokens, B sequences, P prompt, S steps, V vocab, C hidden, L layers, H/K heads,
//         D head dim, F intermediate.
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attention_cpu.h"
#include "decode.h"
#include "engine.h"
#include "forward.h"
#include "model.h"
#include "cpu_env.h"
#include "random_model.h"
#include "rope.h"

#ifdef BENCH_CUDA
#include "attention.cuh"
#include "convert.cuh"
#include "cuda_mem.cuh"
#include "flash_attention.cuh"
#include "matmul.cuh"
#include "probe.cuh"
#endif

#define MAX_LIST 8

typedef struct {
  const char *model_dir, *device, *json_path, *tokens_path, *cache_spec;
  DType dtype;
  long window, long_T, decode_prompt, decode_steps;
  int reps, gemm_size, copy_mib, attention;  // attention: 0 no, 1 yes, 2 nothing else
  int mlp_rows[MAX_LIST], n_mlp;
  int batches[MAX_LIST], n_batches;
  uint64_t seed;
} Opts;

static const char USAGE[] =
    "usage: bench_gpu --model DIR [--device cuda:0|cpu] [--dtype bf16|fp16|fp32] [--window T]\n"
    "         [--long T|0] [--reps N] [--mlp-rows N,N..] [--decode-batches B,B..]\n"
    "         [--decode-prompt P] [--decode-steps S] [--cache JSON] [--gemm-size S]\n"
    "         [--copy-mib M] [--no-attention | --attention-only] [--json FILE]\n"
    "         [--tokens-out FILE] [--seed N]\n";

static int bad_usage(const char *fmt, const char *arg) {
  fprintf(stderr, "bench: error: ");
  fprintf(stderr, fmt, arg);
  fprintf(stderr, "\n%s", USAGE);
  return 2;
}

static int parse_long_arg(const char *s, long lo, long *out) {
  char *end;
  long v = strtol(s, &end, 10);
  if (end == s || *end || v < lo) return -1;
  *out = v;
  return 0;
}

// "1,4,16" → values (each ≥ 1), at most MAX_LIST.
static int parse_list(const char *s, int *vals, int *n) {
  *n = 0;
  const char *p = s;
  while (*p) {
    char *end;
    long v = strtol(p, &end, 10);
    if (end == p || v < 1 || v > 1 << 20 || *n == MAX_LIST || (*end && *end != ',')) return -1;
    vals[(*n)++] = (int)v;
    p = *end ? end + 1 : end;
  }
  return *n ? 0 : -1;
}

static int parse_opts(int argc, char **argv, Opts *o) {
  memset(o, 0, sizeof *o);
  o->device = "cuda:0";
  o->dtype = DTYPE_BF16;
  o->window = 16384;
  o->long_T = 131072;
  o->reps = 3;
  o->decode_prompt = 1024;
  o->decode_steps = 32;
  o->cache_spec = "{\"type\":\"streaming\",\"sink\":4,\"recent\":2044}";
  o->gemm_size = 8192;
  o->copy_mib = 1024;
  o->attention = 1;
  o->seed = 1;
  int list_mlp = 0;
  o->batches[0] = 1, o->batches[1] = 4, o->batches[2] = 16, o->n_batches = 3;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    long x;
    BenchErr err;
    if (!strcmp(a, "--no-attention") || !strcmp(a, "--attention-only")) {
      o->attention = a[2] == 'a' ? 2 : 0;
      continue;
    }
    if (a[0] != '-' || a[1] != '-') return bad_usage("unexpected argument '%s'", a);
    if (!v) return bad_usage("'%s' needs a value", a);
    i++;
    if (!strcmp(a, "--model")) o->model_dir = v;
    else if (!strcmp(a, "--device")) o->device = v;
    else if (!strcmp(a, "--json")) o->json_path = v;
    else if (!strcmp(a, "--tokens-out")) o->tokens_path = v;
    else if (!strcmp(a, "--cache")) o->cache_spec = v;
    else if (!strcmp(a, "--dtype")) {
      if (dtype_from_name(v, &o->dtype, &err)) return bad_usage("--dtype '%s': bf16, fp16 or fp32", v);
    } else if (!strcmp(a, "--mlp-rows")) {
      if (parse_list(v, o->mlp_rows, &o->n_mlp)) return bad_usage("--mlp-rows '%s': a list like 512,4096", v);
      list_mlp = 1;
    } else if (!strcmp(a, "--decode-batches")) {
      if (parse_list(v, o->batches, &o->n_batches)) return bad_usage("--decode-batches '%s': a list like 1,4,16", v);
    } else {
      long lo = !strcmp(a, "--long") ? 0 : 1;
      if (parse_long_arg(v, lo, &x)) return bad_usage("'%s' needs a positive integer", a);
      if (!strcmp(a, "--window")) o->window = x;
      else if (!strcmp(a, "--long")) o->long_T = x;
      else if (!strcmp(a, "--reps")) o->reps = (int)x;
      else if (!strcmp(a, "--decode-prompt")) o->decode_prompt = x;
      else if (!strcmp(a, "--decode-steps")) o->decode_steps = x;
      else if (!strcmp(a, "--gemm-size")) o->gemm_size = (int)x;
      else if (!strcmp(a, "--copy-mib")) o->copy_mib = (int)x;
      else if (!strcmp(a, "--seed")) o->seed = (uint64_t)x;
      else return bad_usage("unknown option '%s'", a);
    }
  }
  if (!o->model_dir) return bad_usage("%s", "--model DIR is required");
  if (!list_mlp) {  // the engine's default, and on a GPU a wider pass to compare with
    o->mlp_rows[0] = FORWARD_MLP_ROWS;
    o->n_mlp = 1;
    if (strncmp(o->device, "cuda", 4) == 0) o->mlp_rows[o->n_mlp++] = 4096;
  }
  return 0;
}

static double median(double *x, int n) {
  for (int i = 1; i < n; i++)
    for (int j = i; j > 0 && x[j] < x[j - 1]; j--) {
      double t = x[j];
      x[j] = x[j - 1];
      x[j - 1] = t;
    }
  return n % 2 ? x[n / 2] : 0.5 * (x[n / 2 - 1] + x[n / 2]);
}

static int is_cuda(const Engine *e) { return e->gpu >= 0; }

// ---- ceilings ----

#ifdef BENCH_CUDA
typedef struct {
  float *y;
  void *x, *w;
  DType dt;
  int S;
} GemmArgs;
static void run_gemm(void *p) {
  GemmArgs *g = p;
  cuda_gemm(g->y, g->x, g->w, g->dt, g->S, g->S, g->S);
}
typedef struct {
  void *dst, *src;
  size_t bytes;
} CopyArgs;
static void run_copy(void *p) {
  CopyArgs *c = p;
  cuda_copy_d2d(c->dst, c->src, c->bytes);
}
#endif

// GEMM TFLOP/s and copy GB/s of the engine's device (0 when a step failed; its error in j).
static void ceilings(const Engine *e, const Opts *o, json_t *j, double *tflops, double *gbps) {
  int S = o->gemm_size;
  size_t bytes = (size_t)o->copy_mib << 20;
  *tflops = *gbps = 0.0;
  json_object_set_new(j, "gemm_size", json_integer(S));
  json_object_set_new(j, "gemm_dtype", json_string(is_cuda(e) ? dtype_name(o->dtype) : "fp32"));
  json_object_set_new(j, "copy_bytes", json_integer((json_int_t)bytes));
#ifdef BENCH_CUDA
  if (is_cuda(e)) {
    BenchErr err;
    size_t es = dtype_size(o->dtype), n = (size_t)S * S;
    GemmArgs g = {cuda_alloc(n * sizeof(float)), cuda_alloc(n * es), cuda_alloc(n * es), o->dtype, S};
    if (g.y && g.x && g.w) {
      cuda_fill_random(g.x, o->dtype, n, 11, 1.0f);
      cuda_fill_random(g.w, o->dtype, n, 12, 1.0f);
      double ms = cuda_time_ms(run_gemm, &g, 5, 20);
      if (cuda_sync(&err) == 0 && ms > 0) *tflops = 2.0 * S * (double)S * S / (ms * 1e-3) / 1e12;
      else json_object_set_new(j, "gemm_error", json_string(ms > 0 ? err.msg : "timing failed"));
    } else {
      json_object_set_new(j, "gemm_error", json_string("out of memory for the GEMM operands"));
    }
    cuda_free(g.y), cuda_free(g.x), cuda_free(g.w);
    CopyArgs c = {cuda_alloc(bytes), cuda_alloc(bytes), bytes};
    if (c.dst && c.src) {
      cuda_fill_random(c.src, DTYPE_F32, bytes / 4, 13, 1.0f);
      double ms = cuda_time_ms(run_copy, &c, 3, 10);
      if (cuda_sync(&err) == 0 && ms > 0) *gbps = 2.0 * bytes / (ms * 1e-3) / 1e9;
      else json_object_set_new(j, "copy_error", json_string(ms > 0 ? err.msg : "timing failed"));
    } else {
      json_object_set_new(j, "copy_error", json_string("out of memory for the copy buffers"));
    }
    cuda_free(c.dst), cuda_free(c.src);
  }
#endif
  if (!is_cuda(e)) {
    Rng r;
    rng_seed(&r, 11);
    size_t n = (size_t)S * S;
    float *x = rm_tensor(&r, n, 0.0, 1.0), *w = rm_tensor(&r, n, 0.0, 1.0);
    float *y = xmalloc(n * sizeof(float));
    double t[7];
    backend_cpu()->matmul(y, x, w, NULL, S, S, S);  // warm-up
    for (int i = 0; i < 7; i++) {
      double t0 = mono_time();
      backend_cpu()->matmul(y, x, w, NULL, S, S, S);
      t[i] = mono_time() - t0;
    }
    *tflops = 2.0 * S * (double)S * S / median(t, 7) / 1e12;
    char *a = xmalloc(bytes), *b = xmalloc(bytes);
    memset(a, 1, bytes);
    memset(b, 2, bytes);
    for (int i = 0; i < 5; i++) {
      double t0 = mono_time();
      memcpy(b, a, bytes);
      t[i] = mono_time() - t0;
    }
    *gbps = 2.0 * bytes / median(t, 5) / 1e9;
    free(x), free(w), free(y), free(a), free(b);
  }
  json_object_set_new(j, "gemm_tflops", json_real(*tflops));
  json_object_set_new(j, "copy_gbps", json_real(*gbps));
}

// ---- model numbers ----

// Bytes of the weight matrices a decode step reads once (every layer's projections and MLP, the
// LM head; not the embedding table, of which a step reads B rows) in dtype es, plus the fp32 norms.
static double step_weight_bytes(const ModelConfig *c, size_t es) {
  double C = c->hidden_size, HD = (double)c->n_heads * c->head_dim;
  double KD = (double)c->n_kv_heads * c->head_dim, F = c->intermediate_size;
  double per_layer = C * HD * 2 + C * KD * 2 + (c->mlp_is_gelu ? 2.0 : 3.0) * C * F;
  return (per_layer * c->n_layers + (double)c->vocab_size * C) * es +
         (2.0 * c->n_layers + 1) * C * 4.0;
}

static double all_weight_bytes(const ModelConfig *c, size_t es) {
  double tied = c->tie_word_embeddings ? 0.0 : 1.0;
  return step_weight_bytes(c, es) + tied * (double)c->vocab_size * c->hidden_size * es;
}

// Keys and values (fp32) of `slots` held slots in every layer: what attention reads per query.
static double kv_bytes_held(const ModelConfig *c, double slots) {
  return 2.0 * c->n_layers * slots * c->n_kv_heads * c->head_dim * 4.0;
}

static double ppl_of(const float *nll, long n) {
  double s = 0.0;
  for (long i = 0; i < n; i++) s += nll[i];
  return n > 0 ? exp(s / (double)n) : NAN;
}

// ---- windows ----

// One window of T tokens, end to end: seconds (-1 on failure, err set), PPL, peak memory.
static double time_window(const Engine *e, const Model *m, const RopeTable *rope,
                          const int32_t *tok, long T, int mlp_rows, double *ppl, size_t *peak,
                          BenchErr *err) {
  float *nll = xmalloc(sizeof(float) * (size_t)T);
  uint8_t *ok = xmalloc((size_t)T);
  ForwardOptions fo = engine_forward_options(e, 0, 0);
  fo.mlp_rows = mlp_rows;
  engine_device_peak_bytes(e, 1);
  double t0 = mono_time();
  int rc = forward_score_window(m, rope, tok, T, 0, nll, ok, &fo, err);
  double dt = mono_time() - t0;
  *peak = engine_device_peak_bytes(e, 0);
  *ppl = rc ? NAN : ppl_of(nll, T - 1);
  free(nll);
  free(ok);
  return rc ? -1.0 : dt;
}

static json_t *window_rows(const Engine *e, const Model *m, const RopeTable *rope,
                           const int32_t *tok, const Opts *o, double peak_tflops) {
  json_t *rows = json_array();
  double flops = forward_flops(&m->config, o->window, o->window - 1);
  for (int vi = 0; vi < o->n_mlp; vi++) {
    json_t *row = json_object();
    json_object_set_new(row, "T", json_integer(o->window));
    json_object_set_new(row, "mlp_rows", json_integer(o->mlp_rows[vi]));
    json_object_set_new(row, "flops", json_real(flops));
    BenchErr err;
    double ppl;
    size_t peak;
    printf("window %ld tokens, MLP %d rows: warm-up\n", o->window, o->mlp_rows[vi]);
    fflush(stdout);
    double t = time_window(e, m, rope, tok, o->window, o->mlp_rows[vi], &ppl, &peak, &err);
    double *ts = xmalloc(sizeof(double) * (size_t)o->reps);
    int n = 0;
    for (int r = 0; t > 0 && r < o->reps; r++) {
      t = time_window(e, m, rope, tok, o->window, o->mlp_rows[vi], &ppl, &peak, &err);
      if (t > 0) ts[n++] = t;
    }
    if (t < 0) {
      json_object_set_new(row, "error", json_string(err.msg));
      printf("  error: %s\n", err.msg);
    } else {
      json_t *all = json_array();
      for (int i = 0; i < n; i++) json_array_append_new(all, json_real(ts[i]));
      json_object_set_new(row, "seconds_all", all);
      double s = median(ts, n), tf = flops / s / 1e12;
      json_object_set_new(row, "seconds", json_real(s));
      json_object_set_new(row, "tokens_per_s", json_real(o->window / s));
      json_object_set_new(row, "tflops", json_real(tf));
      if (peak_tflops > 0) json_object_set_new(row, "mfu", json_real(tf / peak_tflops));
      json_object_set_new(row, "peak_bytes", json_integer((json_int_t)peak));
      json_object_set_new(row, "ppl", json_real(ppl));
      printf("  %.3f s (median of %d), %.0f tokens/s, %.1f TFLOP/s, peak %.2f GiB, PPL %.1f\n", s,
             n, o->window / s, tf, peak / 1073741824.0, ppl);
    }
    free(ts);
    json_array_append_new(rows, row);
  }
  return rows;
}

static json_t *long_row(const Engine *e, const Model *m, const RopeTable *rope, const int32_t *tok,
                        const Opts *o, double peak_tflops) {
  json_t *row = json_object();
  long T = o->long_T;
  json_object_set_new(row, "T", json_integer(T));
  double flops = forward_flops(&m->config, T, T - 1);
  json_object_set_new(row, "flops", json_real(flops));
  json_object_set_new(row, "kv_bytes", json_real(kv_bytes_held(&m->config, (double)T)));
  printf("long window %ld tokens\n", T);
  fflush(stdout);
  BenchErr err;
  double ppl;
  size_t peak;
  double t = time_window(e, m, rope, tok, T, 0, &ppl, &peak, &err);
  json_object_set_new(row, "peak_bytes", json_integer((json_int_t)peak));
  if (t < 0) {
    json_object_set_new(row, "error", json_string(err.msg));
    printf("  error: %s\n", err.msg);
  } else {
    double tf = flops / t / 1e12;
    json_object_set_new(row, "seconds", json_real(t));
    json_object_set_new(row, "tokens_per_s", json_real(T / t));
    json_object_set_new(row, "tflops", json_real(tf));
    if (peak_tflops > 0) json_object_set_new(row, "mfu", json_real(tf / peak_tflops));
    json_object_set_new(row, "ppl", json_real(ppl));
    json_object_set_new(row, "ppl_finite", json_boolean(isfinite(ppl)));
    printf("  %.2f s, %.0f tokens/s, %.1f TFLOP/s, peak %.2f GiB, PPL %.1f\n", t, T / t, tf,
           peak / 1073741824.0, ppl);
  }
  return row;
}

// ---- decode ----

// Fills a decode row's bytes and roofline: steps t = P .. P+S−1 hold min(t, keep) slots before
// appending theirs (keep < 0: all), so each attends held + 1 keys.
static void decode_roofline(json_t *row, const ModelConfig *c, size_t es, int B, long P, long S,
                            long keep, double gbps, double tok_s) {
  double slots = 0.0;
  for (long t = P; t < P + S; t++) slots += (double)((keep < 0 || t < keep ? t : keep) + 1);
  slots /= (double)S;
  double bytes = step_weight_bytes(c, es) + B * kv_bytes_held(c, slots);
  json_object_set_new(row, "bytes_per_step", json_real(bytes));
  json_object_set_new(row, "mean_keys", json_real(slots));
  if (gbps > 0) {
    double roof = B / (bytes / (gbps * 1e9));
    json_object_set_new(row, "roofline_tokens_per_s", json_real(roof));
    if (tok_s > 0) json_object_set_new(row, "roofline_fraction", json_real(tok_s / roof));
  }
}

static json_t *decode_rows(const Engine *e, const Model *m, const RopeTable *rope,
                           const int32_t *tok, const Opts *o, double gbps) {
  json_t *rows = json_array();
  json_error_t je;
  json_t *spec = json_loads(o->cache_spec, 0, &je);
  KVPolicy p;
  BenchErr err;
  size_t es = is_cuda(e) ? dtype_size(o->dtype) : 4;
  long P = o->decode_prompt, S = o->decode_steps;
  if (!spec || kv_policy_from_spec(spec, &p, &err)) {
    json_t *row = json_object();
    json_object_set_new(row, "error", json_string(spec ? err.msg : je.text));
    json_array_append_new(rows, row);
    printf("decode: error: --cache '%s': %s\n", o->cache_spec, spec ? err.msg : je.text);
    json_decref(spec);
    return rows;
  }
  long keep = kv_policy_keep(&p), cap = keep < 0 ? P + S : keep + 1;
  if (cap < P) cap = P;
  for (int bi = 0; bi < o->n_batches; bi++) {
    int B = o->batches[bi];
    json_t *row = json_object();
    json_object_set_new(row, "kind", json_string("decode"));
    json_object_set_new(row, "cache", json_string(o->cache_spec));
    json_object_set_new(row, "batch", json_integer(B));
    json_object_set_new(row, "prompt", json_integer(P));
    json_object_set_new(row, "steps", json_integer(S));
    printf("decode batch %d, prompt %ld, %ld steps, cache %s\n", B, P, S, o->cache_spec);
    fflush(stdout);
    DecodeState d;
    ForwardOptions fo = engine_forward_options(e, 0, 0);
    int32_t *tk = xmalloc(sizeof(int32_t) * (size_t)B), *tg = xmalloc(sizeof(int32_t) * (size_t)B);
    float *nll = xmalloc(sizeof(float) * (size_t)B);
    uint8_t *ok = xmalloc((size_t)B);
    double tok_s = -1.0;
    engine_device_peak_bytes(e, 1);
    int rc = decode_init(&d, m, e->be, rope, &p, B, cap, P, &fo, &err);
    if (rc == 0) {
      // sequence b reads tokens from offset b·(P + S + 1) of the token stream
      for (int b = 0; b < B && rc == 0; b++) rc = decode_prefill(&d, b, tok + (long)b * (P + S + 1), P, &err);
      double t0 = mono_time();
      for (long t = P; t < P + S && rc == 0; t++) {
        for (int b = 0; b < B; b++) {
          tk[b] = tok[(long)b * (P + S + 1) + t];
          tg[b] = tok[(long)b * (P + S + 1) + t + 1];
        }
        rc = decode_step(&d, tk, t, tg, nll, ok, &err);
      }
      double dt = mono_time() - t0;
      if (rc == 0) tok_s = (double)B * S / dt;
      decode_free(&d);
    }
    json_object_set_new(row, "peak_bytes", json_integer((json_int_t)engine_device_peak_bytes(e, 0)));
    if (rc) {
      json_object_set_new(row, "error", json_string(err.msg));
      printf("  error: %s\n", err.msg);
    } else {
      json_object_set_new(row, "tokens_per_s", json_real(tok_s));
      printf("  %.1f tokens/s\n", tok_s);
    }
    decode_roofline(row, &m->config, es, B, P, S, keep, gbps, tok_s);
    json_array_append_new(rows, row);
    free(tk), free(tg), free(nll), free(ok);
  }
  json_decref(spec);

  // single-token blocks through forward_block, full cache, batch 1
  json_t *row = json_object();
  json_object_set_new(row, "kind", json_string("block_steps"));
  json_object_set_new(row, "cache", json_string("{\"type\":\"full\"}"));
  json_object_set_new(row, "batch", json_integer(1));
  json_object_set_new(row, "prompt", json_integer(P));
  json_object_set_new(row, "steps", json_integer(S));
  printf("single-token blocks (full cache): prompt %ld, %ld steps\n", P, S);
  fflush(stdout);
  KVCache cache;
  ForwardState fs;
  ForwardOptions fo = engine_forward_options(e, 0, 0);
  double *pos = xmalloc(sizeof(double) * (size_t)(P + S + 1));
  for (long t = 0; t < P + S + 1; t++) pos[t] = rope_position(rope, t);
  float nll1;
  uint8_t ok1;
  double tok_s = -1.0;
  engine_device_peak_bytes(e, 1);
  int rc = kv_cache_init(&cache, e->be, &m->config, P + S, &err);
  if (rc == 0) {
    rc = forward_state_init(&fs, m, e->be, P, &fo, &err);
    if (rc == 0) {
      rc = forward_block(&fs, &cache, rope, tok, pos, P, &err);
      double t0 = mono_time();
      for (long t = P; t < P + S && rc == 0; t++) {
        rc = forward_block(&fs, &cache, rope, tok + t, pos + t, 1, &err);
        if (rc == 0) rc = forward_score(&fs, 0, 1, tok + t + 1, &nll1, &ok1, &err);
      }
      if (rc == 0) tok_s = (double)S / (mono_time() - t0);
      forward_state_free(&fs);
    }
    kv_cache_free(&cache);
  }
  json_object_set_new(row, "peak_bytes", json_integer((json_int_t)engine_device_peak_bytes(e, 0)));
  if (rc) {
    json_object_set_new(row, "error", json_string(err.msg));
    printf("  error: %s\n", err.msg);
  } else {
    json_object_set_new(row, "tokens_per_s", json_real(tok_s));
    printf("  %.1f tokens/s\n", tok_s);
  }
  decode_roofline(row, &m->config, es, 1, P, S, -1, gbps, tok_s);
  json_array_append_new(rows, row);
  free(pos);
  return rows;
}

// ---- attention kernels ----

#ifdef BENCH_CUDA
typedef struct {
  float *out, *q, *k, *v;
  long T;
  int H, K, D, kind;  // 0 exact fp32, else flash with `kind` warps
  DType dt;
} AttnArgs;
static void run_attention(void *p) {
  AttnArgs *a = p;
  float scale = (float)(1.0 / sqrt((double)a->D));
  if (a->kind == 0)
    cuda_attention(a->out, a->q, a->k, a->v, a->T, a->T, 0, a->H, a->K, a->D, scale, 0, 0);
  else
    cuda_flash_attention_warps(a->out, a->q, a->k, a->v, a->T, a->T, 0, a->H, a->K, a->D, scale,
                               0, a->dt, a->kind);
}
#endif

// The CPU backend's fp32 attention on the model's heads over --window causal tokens of random
// q, k, v: one row per vector width the CPU runs (16 lanes with AVX-512, 8), the best of --reps
// (at least 2) after a warm-up.
static void attention_rows_cpu(const ModelConfig *c, const Opts *o, json_t *rows) {
  long T = o->window;
  int H = c->n_heads, K = c->n_kv_heads, D = c->head_dim, reps = o->reps < 2 ? 2 : o->reps;
  size_t nq = (size_t)T * H * D, nkv = (size_t)T * K * D;
  Rng r;
  rng_seed(&r, 21);
  float *q = rm_tensor(&r, nq, 0.0, 1.0), *k = rm_tensor(&r, nkv, 0.0, 1.0);
  float *v = rm_tensor(&r, nkv, 0.0, 1.0), *out = xmalloc(nq * sizeof(float));
  double flops = 4.0 * (T * (T + 1.0) / 2.0) * H * D;
  float scale = (float)(1.0 / sqrt((double)D));
  const int widths[2] = {16, 8};
  for (int wi = 0; wi < 2; wi++) {
    if (cpu_attention_lanes(widths[wi]) != widths[wi]) continue;  // 16 lanes need AVX-512
    double best = 0;
    for (int i = 0; i <= reps; i++) {  // i = 0: warm-up
      double t0 = mono_time();
      backend_cpu()->attention(out, q, k, v, T, T, 0, H, K, D, scale, 0, 0);
      double t = mono_time() - t0;
      if (i > 0 && (best == 0 || t < best)) best = t;
    }
    char name[48];
    snprintf(name, sizeof name, "cpu fp32, %d lanes", widths[wi]);
    json_t *row = json_object();
    json_object_set_new(row, "kernel", json_string(name));
    json_object_set_new(row, "T", json_integer(T));
    json_object_set_new(row, "H", json_integer(H));
    json_object_set_new(row, "K", json_integer(K));
    json_object_set_new(row, "D", json_integer(D));
    json_object_set_new(row, "ms", json_real(best * 1e3));
    json_object_set_new(row, "tflops", json_real(flops / best / 1e12));
    printf("attention %s, T %ld: %.1f ms, %.1f GFLOP/s\n", name, T, best * 1e3, flops / best / 1e9);
    json_array_append_new(rows, row);
  }
  cpu_attention_lanes(0);
  free(q), free(k), free(v), free(out);
}

static json_t *attention_rows(const Engine *e, const ModelConfig *c, const Opts *o) {
  json_t *rows = json_array();
  if (!is_cuda(e)) {
    attention_rows_cpu(c, o, rows);
    return rows;
  }
#ifdef BENCH_CUDA
  long T = o->window;
  int H = c->n_heads, K = c->n_kv_heads, D = c->head_dim;
  size_t nq = (size_t)T * H * D, nkv = (size_t)T * K * D;
  AttnArgs a = {cuda_alloc(nq * 4), cuda_alloc(nq * 4), cuda_alloc(nkv * 4), cuda_alloc(nkv * 4),
                T, H, K, D, 0, o->dtype == DTYPE_F16 ? DTYPE_F16 : DTYPE_BF16};
  double flops = 4.0 * (T * (T + 1.0) / 2.0) * H * D;
  if (a.out && a.q && a.k && a.v) {
    cuda_fill_random(a.q, DTYPE_F32, nq, 21, 1.0f);
    cuda_fill_random(a.k, DTYPE_F32, nkv, 22, 1.0f);
    cuda_fill_random(a.v, DTYPE_F32, nkv, 23, 1.0f);
    const int kinds[3] = {0, 4, 8};
    for (int ki = 0; ki < 3; ki++) {
      if (kinds[ki] && !flash_attention_supported(D)) continue;
      a.kind = kinds[ki];
      BenchErr err;
      json_t *row = json_object();
      char name[48];
      snprintf(name, sizeof name, kinds[ki] ? "flash %s, %d warps" : "exact fp32%s",
               kinds[ki] ? dtype_name(a.dt) : "", kinds[ki]);
      json_object_set_new(row, "kernel", json_string(name));
      json_object_set_new(row, "T", json_integer(T));
      json_object_set_new(row, "H", json_integer(H));
      json_object_set_new(row, "K", json_integer(K));
      json_object_set_new(row, "D", json_integer(D));
      double ms = cuda_time_ms(run_attention, &a, 1, kinds[ki] ? 5 : 2);
      if (cuda_sync(&err) || ms <= 0) {
        json_object_set_new(row, "error", json_string(ms > 0 ? err.msg : "timing failed"));
      } else {
        json_object_set_new(row, "ms", json_real(ms));
        json_object_set_new(row, "tflops", json_real(flops / (ms * 1e-3) / 1e12));
        printf("attention %s, T %ld: %.2f ms, %.1f TFLOP/s\n", name, T, ms,
               flops / (ms * 1e-3) / 1e12);
      }
      json_array_append_new(rows, row);
    }
  }
  cuda_free(a.out), cuda_free(a.q), cuda_free(a.k), cuda_free(a.v);
#endif
  return rows;
}

// ---- main ----

static json_t *device_json(const Engine *e) {
  json_t *j = json_object();
  json_object_set_new(j, "device", json_string(e->device));
  if (is_cuda(e)) {
    GpuInfo g;
    int drv = 0, rt = 0;
    size_t lt = 0;
    if (device_gpu_info(e->gpu, &g) == 0) {
      json_object_set_new(j, "name", json_string(g.name));
      json_object_set_new(j, "memory_bytes", json_integer((json_int_t)g.total_bytes));
      char cc[16];
      snprintf(cc, sizeof cc, "%d.%d", g.cc_major, g.cc_minor);
      json_object_set_new(j, "compute_capability", json_string(cc));
    }
    device_cuda_versions(&drv, &rt, &lt);
    json_object_set_new(j, "driver", json_integer(drv));
    json_object_set_new(j, "runtime", json_integer(rt));
  } else {
    json_object_set_new(j, "name", json_string("cpu"));
  }
  return j;
}

static json_t *model_json(const Model *m, const char *dir, DType dt, int cuda) {
  const ModelConfig *c = &m->config;
  json_t *j = json_pack("{s:s, s:s, s:i, s:i, s:i, s:i, s:i, s:i, s:i}", "dir", dir, "arch",
                        c->architecture, "layers", c->n_layers, "hidden", c->hidden_size, "heads",
                        c->n_heads, "kv_heads", c->n_kv_heads, "head_dim", c->head_dim,
                        "intermediate", c->intermediate_size, "vocab", c->vocab_size);
  json_object_set_new(j, "dtype", json_string(cuda ? dtype_name(dt) : "fp32"));
  json_object_set_new(j, "weight_bytes", json_real(all_weight_bytes(c, cuda ? dtype_size(dt) : 4)));
  return j;
}

// Writes the results so far (nothing without a path); 1 when the file cannot be written.
static int dump(const json_t *j, const char *path) {
  if (!path) return 0;
  if (json_dump_file(j, path, JSON_INDENT(1) | JSON_REAL_PRECISION(10)) == 0) return 0;
  fprintf(stderr, "bench: error: cannot write '%s'\n", path);
  return 1;
}

static int write_tokens(const char *path, const int32_t *tok, long n) {
  FILE *f = fopen(path, "wb");
  if (!f) return -1;
  size_t w = fwrite(tok, sizeof(int32_t), (size_t)n, f);  // little-endian on every host we build
  return fclose(f) == 0 && w == (size_t)n ? 0 : -1;
}

int main(int argc, char **argv) {
  cpu_env_apply(argv);  // as bench itself: threads asleep, BLAS kernels for this CPU
  Opts o;
  int rc = parse_opts(argc, argv, &o);
  if (rc) return rc;
  BenchErr err;
  json_t *out = json_object();
  json_object_set_new(out, "commit", json_string(BENCH_GIT_COMMIT));
  Model m;
  double t0 = mono_time();
  if (model_load(o.model_dir, &m, &err)) {
    fprintf(stderr, "bench: error: %s\n", err.msg);
    json_decref(out);
    return 1;
  }
  double t_load = mono_time() - t0;
  Engine e;
  t0 = mono_time();
  if (engine_open(&e, &m, o.device, o.dtype, &err)) {
    fprintf(stderr, "bench: error: %s\n", err.msg);
    model_free(&m);
    json_decref(out);
    return 1;
  }
  double t_open = mono_time() - t0;
  json_object_set_new(out, "device", device_json(&e));
  json_object_set_new(out, "model", model_json(&m, o.model_dir, o.dtype, is_cuda(&e)));
  json_object_set_new(out, "load_seconds", json_real(t_load));
  json_object_set_new(out, "upload_seconds", json_real(t_open));
  printf("model %s loaded in %.1f s, on %s in %.1f s\n", o.model_dir, t_load, e.device, t_open);

  // tokens: one stream long enough for every step; the windows read its start
  long need = o.window > o.long_T ? o.window : o.long_T;
  long dec = (long)o.batches[0];
  for (int i = 1; i < o.n_batches; i++) dec = o.batches[i] > dec ? o.batches[i] : dec;
  dec *= o.decode_prompt + o.decode_steps + 1;
  if (dec > need) need = dec;
  int32_t *tok = rm_tokens(need, m.config.vocab_size, o.seed);
  if (o.tokens_path && write_tokens(o.tokens_path, tok, need))
    fprintf(stderr, "bench: error: cannot write tokens to '%s'\n", o.tokens_path);
  RopeModelInfo info = {.head_dim = m.config.head_dim,
                        .partial_rotary_factor = m.config.partial_rotary_factor,
                        .rope_theta = m.config.rope_theta,
                        .max_position_embeddings = m.config.max_position_embeddings,
                        .rope_scaling_json = m.config.rope_scaling_json};
  json_t *spec = json_pack("{s:s, s:s}", "name", "native", "type", "model");
  RopeTable rope;
  rc = rope_build(spec, &info, need, &rope, &err);
  json_decref(spec);
  if (rc) {
    fprintf(stderr, "bench: error: rope: %s\n", err.msg);
    free(tok);
    engine_close(&e);
    backend_cuda_close();
    model_free(&m);
    json_decref(out);
    return 1;
  }

  // the JSON is rewritten after every step: a run stopped by a time limit keeps what it measured
  json_t *ceil = json_object();
  double peak_tflops, gbps;
  ceilings(&e, &o, ceil, &peak_tflops, &gbps);
  printf("ceilings: GEMM %d^3 %.2f TFLOP/s, copy %.0f GB/s\n", o.gemm_size, peak_tflops, gbps);
  json_object_set_new(out, "ceilings", ceil);
  rc = dump(out, o.json_path);
  if (o.attention != 2) {
    json_object_set_new(out, "window", window_rows(&e, &m, &rope, tok, &o, peak_tflops));
    rc |= dump(out, o.json_path);
  }
  if (o.attention) {
    json_object_set_new(out, "attention", attention_rows(&e, &m.config, &o));
    rc |= dump(out, o.json_path);
  }
  if (o.attention != 2) {
    json_object_set_new(out, "decode", decode_rows(&e, &m, &rope, tok, &o, gbps));
    rc |= dump(out, o.json_path);
  }
  if (o.long_T > 0 && o.attention != 2) {  // last: the longest step
    json_object_set_new(out, "long", long_row(&e, &m, &rope, tok, &o, peak_tflops));
    rc |= dump(out, o.json_path);
  }
  json_decref(out);
  free(tok);
  rope_table_free(&rope);
  engine_close(&e);
  backend_cuda_close();  // nothing when no device was opened
  model_free(&m);
  return rc;
}
