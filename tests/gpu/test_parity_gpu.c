// test_parity_gpu.c — the CUDA engine against the CPU engine and against transformers (run on a
// GPU machine by tests/gpu/run_gpu_tests.sh; built by `make gpu-test`). Prints markdown tables:
//
// 1. Engine parity, per architecture × dtype × RoPE variant × cache policy: `bench init-model`
//    checkpoints (written here, then sharpened in memory as tests/reference/make_parity_fixtures.py
//    sharpens its fixtures, so that predictions are far from uniform), one window of T tokens;
//    per-token NLL max |Δ| and PPL relative difference of CUDA against the CPU engine in fp32, and
//    max |Δ| against the CPU emulating the dtype (emu_backend.h: only summation order differs).
//    Bounds: fp32 PPL rel ≤ 1e-3 and max |ΔNLL| ≤ 1e-3; bf16 and fp16 (u: the dtype's unit
//    roundoff, 2^-8 / 2^-11) PPL rel ≤ u against the CPU emulating the dtype (on a GPU) and ≤ 4u
//    against fp32 (dtype_pass); fp64 check mode (fp32 products) against the CPU's fp64 mode,
//    max |ΔNLL| ≤ 1e-3.
//    A "blocks" row per architecture: the window read as a prefill, single-token steps and a last
//    block through the KV cache, against the same device's one-pass result.
//    Decode rows: the decode protocol (prefill, then one token per step for 3 windows stepped
//    together) under each cache policy — full, window, streaming with cache and original
//    positions, h2o (its scores accumulated on the device) — budgets well below the window, so
//    every policy evicts; CUDA against the CPU engine in fp32 and bf16 (and the CPU emulating
//    bf16): PPL rel ≤ 1e-3 (fp32), bf16 as above; max |ΔNLL| printed (h2o may evict another
//    token where two scores nearly tie).
// 2. A longer window (4096 tokens, GQA, and a 1024 sliding window) against the CPU.
// 3. Out of memory: a window whose KV cache cannot fit is an "out of memory" error, device memory
//    returns to the weights alone, and the next window runs.
// 4. transformers: the parity fixtures (tests/fixtures/parity/<case>: checkpoint + transformers'
//    fp32 NLL) scored by CUDA in fp32, bf16 and fp16; fp32 max |ΔNLL| ≤ 1e-3, bf16/fp16 PPL rel
//    ≤ 4u. With --nll-out FILE the per-token NLLs are written (JSON lines) for hf_compare.py,
//    which runs transformers itself on the GPU.
// 5. One throughput line (informational).
//
// Usage: test_parity_gpu [--device cuda:N|cpu] [--fixtures DIR] [--nll-out FILE] [--quick]
// --device cpu runs every step with the CPU as the device under test (a check of this program).
// Legend: T tokens, V vocab, C hidden, L layers, H heads, K kv heads, F intermediate.
#include <dirent.h>
#include <jansson.h>
#include <stdint.h>
#include <unistd.h>

#include "decode.h"
#include "emu_backend.h"
#include "engine.h"
#include "fp_bounds.h"
#include "forward.h"
#include "kvcache.h"
#include "model_init.h"
#include "random_model.h"
#include "rope.h"

#ifdef BENCH_CUDA
#include "cuda_mem.cuh"
#endif

static int n_pass, n_fail;
static const char *device = "cuda:0";
static int quick;

// ---- checkpoints ----

typedef struct {
  const char *name;
  Arch arch;
  int K;            // kv heads
  double rotary;    // GPT-NeoX rotary_pct
  int window;       // sliding window (0: none)
  int sequential;   // GPT-NeoX without parallel residual
  int tied;
} ArchCase;

static const ArchCase ARCHS[] = {
    {"llama", ARCH_LLAMA, 2, 1.0, 0, 0, 0},
    {"mistral_window", ARCH_MISTRAL, 1, 1.0, 128, 0, 0},
    {"qwen2_tied", ARCH_QWEN2, 2, 1.0, 0, 0, 1},
    {"gpt_neox", ARCH_GPT_NEOX, 4, 0.25, 0, 0, 0},
    {"gpt_neox_sequential", ARCH_GPT_NEOX, 4, 0.5, 0, 1, 0},
};
#define N_ARCHS ((int)(sizeof ARCHS / sizeof ARCHS[0]))

static void remove_tree_files(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return;
  struct dirent *e;
  while ((e = readdir(d)))
    if (e->d_name[0] != '.') {
      char *p = path_join(dir, e->d_name);
      unlink(p);
      free(p);
    }
  closedir(d);
  rmdir(dir);
}

static void scale(float *p, size_t n, float s) {
  for (size_t i = 0; i < n && p; i++) p[i] *= s;
}

// init-model's weights are N(0, 0.02), norms 1: rescale linear layers to std 1/sqrt(in) (q, k:
// 2/sqrt(in)), untied embeddings to 1, a tied one to 2/sqrt(C) (it is the LM head too), biases
// ×5, norm weights 1 + 0.1·N(0,1).
static void sharpen(Model *m, uint64_t seed) {
  const ModelConfig *c = &m->config;
  ModelWeights *w = &m->weights;
  size_t V = c->vocab_size, C = c->hidden_size, F = c->intermediate_size;
  size_t HD = (size_t)c->n_heads * c->head_dim, KD = (size_t)c->n_kv_heads * c->head_dim;
  float in_c = (float)(1.0 / sqrt((double)C) / 0.02), in_hd = (float)(1.0 / sqrt((double)HD) / 0.02);
  float in_f = (float)(1.0 / sqrt((double)F) / 0.02);
  Rng r;
  rng_seed(&r, seed);
  int tied = w->lm_head == w->embed;
  scale(w->embed, V * C, tied ? (float)(2.0 / sqrt((double)C) / 0.02) : 50.0f);
  if (!tied) scale(w->lm_head, V * C, in_c);
  float *norms[2] = {w->final_norm_w, NULL};
  for (int l = 0; l <= c->n_layers; l++) {
    if (l < c->n_layers) {
      LayerWeights *lw = &w->layers[l];
      scale(lw->wq, HD * C, 2 * in_c);
      scale(lw->wk, KD * C, 2 * in_c);
      scale(lw->wv, KD * C, in_c);
      scale(lw->wo, C * HD, in_hd);
      scale(lw->w_gate, F * C, in_c);
      scale(lw->w_up, F * C, in_c);
      scale(lw->w_down, C * F, in_f);
      float *b[] = {lw->bq, lw->bk, lw->bv};
      size_t bn[] = {HD, KD, KD};
      for (int i = 0; i < 3; i++) scale(b[i], bn[i], 5.0f);
      scale(lw->bo, C, 5.0f);
      scale(lw->b_up, F, 5.0f);
      scale(lw->b_down, C, 5.0f);
      norms[0] = lw->attn_norm_w;
      norms[1] = lw->mlp_norm_w;
    } else {
      norms[0] = w->final_norm_w;
      norms[1] = NULL;
    }
    for (int k = 0; k < 2; k++)
      for (size_t i = 0; norms[k] && i < C; i++) norms[k][i] = (float)(1.0 + 0.1 * rng_normal(&r));
  }
}

// Writes an init-model checkpoint for the case into a fresh directory, loads and sharpens it.
static int make_model(const ArchCase *a, int C, int H, int F, int V, int L, uint64_t seed,
                      Model *m) {
  char tmpl[] = "/tmp/bench-gpu-model-XXXXXX";
  char *dir = mkdtemp(tmpl);
  BenchErr err;
  if (!dir) die("mkdtemp failed");
  InitModelSpec s;
  init_model_defaults(&s, a->arch);
  s.n_layers = L;
  s.hidden_size = C;
  s.n_heads = H;
  s.n_kv_heads = a->arch == ARCH_GPT_NEOX ? H : a->K;
  s.intermediate_size = F;
  s.vocab_size = V;
  s.max_position_embeddings = 8192;
  s.rotary_pct = a->rotary;
  s.sliding_window = a->window;
  s.tie_word_embeddings = a->tied;
  s.seed = seed;
  s.max_merges = 0;
  InitModelResult res;
  int rc = init_model_write(dir, &s, &res, &err);
  if (rc == 0) rc = model_load(dir, m, &err);
  remove_tree_files(dir);
  if (rc) {
    fprintf(stderr, "%s: %s\n", a->name, err.msg);
    return -1;
  }
  if (a->sequential) m->config.parallel_residual = 0;
  sharpen(m, seed);
  return 0;
}

static RopeModelInfo rope_info(const ModelConfig *c) {
  RopeModelInfo info = {.head_dim = c->head_dim,
                        .partial_rotary_factor = c->partial_rotary_factor,
                        .rope_theta = c->rope_theta,
                        .max_position_embeddings = c->max_position_embeddings,
                        .rope_scaling_json = c->rope_scaling_json};
  return info;
}

// ---- scoring ----

static double mean(const float *x, long n) {
  double s = 0.0;
  for (long i = 0; i < n; i++) s += x[i];
  return n ? s / (double)n : 0.0;
}

static double max_abs_diff(const float *a, const float *b, long n) {
  double d = 0.0;
  for (long i = 0; i < n; i++) d = fmax(d, fabs((double)a[i] - b[i]));
  return d;
}

// Scores one window on the engine; -1 with err.
static int engine_score(const Engine *e, const Model *m, const RopeTable *rope, const int32_t *tok,
                        long T, int fp64, float *nll, uint8_t *ok, BenchErr *err) {
  ForwardOptions o = engine_forward_options(e, 0, fp64);
  return forward_score_window(m, rope, tok, T, 0, nll, ok, &o, err);
}

// Scores a window on the CPU (fp32 or fp64) or the CPU emulating dtype.
static int cpu_score(const Model *m, const RopeTable *rope, const int32_t *tok, long T,
                     const Backend *be, int fp64, float *nll, uint8_t *ok) {
  BenchErr err;
  ModelWeights w;
  if (be->weights_upload(&w, m, &err)) return -1;
  ForwardOptions o = {.fp64_check = fp64, .backend = be, .weights = &w};
  int rc = forward_score_window(m, rope, tok, T, 0, nll, ok, &o, &err);
  if (rc) fprintf(stderr, "cpu forward: %s\n", err.msg);
  be->weights_free(&w);
  return rc;
}

// The window through the block interface: a prefill of `prefill` tokens, `steps` single tokens,
// then the rest in one block. nll[T − 1] as forward_score_window gives it.
static int engine_score_blocks(const Engine *e, const Model *m, const RopeTable *rope,
                               const int32_t *tok, long T, long prefill, long steps, float *nll,
                               BenchErr *err) {
  ForwardOptions o = engine_forward_options(e, 0, 0);
  KVCache cache;
  ForwardState s;
  double *pos = xmalloc(sizeof(double) * T);
  uint8_t *ok = xmalloc((size_t)T);
  for (long t = 0; t < T; t++) pos[t] = rope_position(rope, t);
  int rc = -1;
  if (kv_cache_init(&cache, e->be, &m->config, T, err)) goto out;
  if (forward_state_init(&s, m, e->be, T, &o, err)) goto out_cache;
  for (long p = 0; p < T;) {
    long n = p == 0 ? prefill : (p < prefill + steps ? 1 : T - p);
    if (forward_block(&s, &cache, rope, tok + p, pos + p, n, err)) goto out_state;
    long scored = p + n < T ? n : n - 1;  // the last token has no target
    if (forward_score(&s, 0, scored, tok + p + 1, nll + p, ok + p, err)) goto out_state;
    p += n;
  }
  rc = 0;
out_state:
  forward_state_free(&s);
out_cache:
  kv_cache_free(&cache);
out:
  free(pos);
  free(ok);
  return rc;
}

// The unit roundoff of a half dtype (fp_bounds.h): bf16 2^-8, fp16 2^-11.
static double dtype_u(DType t) { return t == DTYPE_BF16 ? BF16_U : FP16_U; }

// bf16/fp16 bounds. The device performs the CPU emulation's roundings (emu_backend.h: the same
// products' inputs rounded to the dtype, fp32 math); only fp32 summation orders differ, which can
// turn an activation's rounding to the neighbouring dtype value — the size of a rounding the
// emulation already makes, on the few values that sit near a rounding boundary — so the device's
// PPL is within u of the emulation's (relative; u = the dtype's unit roundoff). Against fp32 the
// whole rounding shows: every product input carries a relative error ≤ u; the bound 4u (bf16
// 1.6e-2, fp16 2e-3) is the size of a few such roundings in the mean NLL, where a wrong mask,
// position, scale or token moves the PPL by far more.
// With --device cpu the device computes in fp32 whatever the dtype (engine_open), so there the
// emulation is no twin of it and only the bound against fp32 applies.
static int dtype_pass(double rel_emu, double rel_fp32, DType t) {
  int twin = strncmp(device, "cuda", 4) == 0;
  return (!twin || rel_emu <= dtype_u(t)) && rel_fp32 <= 4 * dtype_u(t);
}

static void row_verdict(int ok) {
  printf(" %s |\n", ok ? "ok" : "**FAIL**");
  if (ok) n_pass++;
  else n_fail++;
}

// ---- 1. engine parity ----

static const char *const VARIANTS[] = {
    "{\"name\":\"native\",\"type\":\"model\"}",
    "{\"name\":\"yarn_x4\",\"type\":\"yarn\",\"factor\":4,\"original_max_position_embeddings\":128}",
    "{\"name\":\"llama3_x8\",\"type\":\"llama3\",\"factor\":8,\"low_freq_factor\":1,"
    "\"high_freq_factor\":4,\"original_max_position_embeddings\":64}",
    "{\"name\":\"anchored_x20\",\"type\":\"anchored_sigmoid\",\"theta\":500000,\"anchor_factor\":20,"
    "\"anchor_dim\":4,\"slope\":0.5}",
    "{\"name\":\"compress_t128_f4\",\"type\":\"compress\",\"base\":{\"type\":\"geometric\"},"
    "\"threshold\":128,\"factor\":4}",
};
#define N_VARIANTS ((int)(sizeof VARIANTS / sizeof VARIANTS[0]))

static void engine_parity(void) {
  long T = quick ? 128 : 512;
  int C = quick ? 128 : 256, F = 2 * C, V = quick ? 512 : 2048;
  printf("\n## Engine parity: CUDA vs CPU engine (init-model checkpoints, C %d, L 2, H 4, F %d, "
         "V %d; one window of %ld tokens; cache policy full)\n\n", C, F, V, T);
  printf("| arch | rope | dtype | cache | PPL cpu fp32 | PPL device | PPL rel | max abs dNLL vs cpu "
         "| max abs dNLL vs cpu emulating dtype | argmax agree | bound | status |\n");
  printf("|---|---|---|---|---|---|---|---|---|---|---|---|\n");
  for (int ai = 0; ai < N_ARCHS; ai++) {
    const ArchCase *a = &ARCHS[ai];
    Model m;
    if (make_model(a, C, 4, F, V, 2, 1000 + ai, &m)) {
      n_fail++;
      continue;
    }
    int32_t *tok = rm_tokens(T, m.config.vocab_size, 77 + ai);
    // the CPU's fp32 reference per RoPE variant, computed once for the three dtypes
    int n_var = quick ? 2 : N_VARIANTS;
    float *refs = xmalloc(sizeof(float) * T * n_var), *ref64 = xmalloc(sizeof(float) * T);
    uint8_t *oks_ref = xmalloc((size_t)T * n_var), *have_ref = xcalloc((size_t)n_var, 1);
    float *emu = xmalloc(sizeof(float) * T), *got = xmalloc(sizeof(float) * T);
    float *once = xmalloc(sizeof(float) * T);  // the device's one pass of variant 0 (blocks rows)
    uint8_t *ok = xmalloc(T);
    RopeModelInfo info = rope_info(&m.config);
    DType dts[3] = {DTYPE_F32, DTYPE_BF16, DTYPE_F16};
    for (int di = 0; di < 3; di++) {
      BenchErr err;
      Engine e;
      if (engine_open(&e, &m, device, dts[di], &err)) {
        printf("| %s | - | %s | full | engine: %s |||||||", a->name, dtype_name(dts[di]), err.msg);
        row_verdict(0);
        continue;
      }
      int have_once = 0;
      for (int vi = 0; vi < n_var; vi++) {
        json_error_t jerr;
        json_t *spec = json_loads(VARIANTS[vi], 0, &jerr);
        RopeTable rope;
        if (!spec || rope_build(spec, &info, T, &rope, &err)) {
          printf("| %s | %s | %s | full | rope: %s |||||||", a->name, VARIANTS[vi],
                 dtype_name(dts[di]), spec ? err.msg : jerr.text);
          row_verdict(0);
          json_decref(spec);
          continue;
        }
        const char *vname = json_string_value(json_object_get(spec, "name"));
        float *ref = refs + (size_t)vi * T;
        const uint8_t *ok_ref = oks_ref + (size_t)vi * T;
        if (!have_ref[vi]) cpu_score(&m, &rope, tok, T, backend_cpu(), 0, ref, oks_ref + (size_t)vi * T);
        have_ref[vi] = 1;
        if (dts[di] == DTYPE_F32) memcpy(emu, ref, sizeof(float) * T);  // fp32 is its own emulation
        else cpu_score(&m, &rope, tok, T, emu_backend(dts[di]), 0, emu, ok);
        if (engine_score(&e, &m, &rope, tok, T, 0, got, ok, &err)) {
          printf("| %s | %s | %s | full | device: %s |||||||", a->name, vname,
                 dtype_name(dts[di]), err.msg);
          row_verdict(0);
        } else {
          double p_ref = exp(mean(ref, T - 1)), p = exp(mean(got, T - 1));
          double rel = fabs(p / p_ref - 1.0), d = max_abs_diff(got, ref, T - 1);
          double de = max_abs_diff(got, emu, T - 1);
          long agree = 0;
          for (long t = 0; t < T - 1; t++) agree += ok[t] == ok_ref[t];
          int fp32 = dts[di] == DTYPE_F32;
          double rel_emu = fabs(p / exp(mean(emu, T - 1)) - 1.0);
          int pass = fp32 ? (rel <= 1e-3 && d <= 1e-3) : dtype_pass(rel_emu, rel, dts[di]);
          char bnd[64];
          snprintf(bnd, sizeof bnd, "%s", fp32 ? "rel 1e-3, dNLL 1e-3" : "");
          if (!fp32)
            snprintf(bnd, sizeof bnd, "rel %.1e, vs emu %.1e (%.1e)", 4 * dtype_u(dts[di]),
                     dtype_u(dts[di]), rel_emu);
          printf("| %s | %s | %s | full | %.4f | %.4f | %.2e | %.2e | %.2e | %ld/%ld | %s |",
                 a->name, vname, dtype_name(dts[di]), p_ref, p, rel, d, de, agree, T - 1, bnd);
          row_verdict(pass);
          if (vi == 0) {
            memcpy(once, got, sizeof(float) * T);
            have_once = 1;
          }
        }
        // fp64 check mode once per architecture (native rope, fp32 weights)
        if (dts[di] == DTYPE_F32 && vi == 0) {
          cpu_score(&m, &rope, tok, T, backend_cpu(), 1, ref64, ok);
          if (engine_score(&e, &m, &rope, tok, T, 1, got, ok, &err) == 0) {
            double d = max_abs_diff(got, ref64, T - 1);
            // the fp64 check mode keeps the products in fp32 (only norms, attention and the
            // log-softmax in double), so its NLLs differ by what fp32 rows' do: the same bound
            printf("| %s | %s | fp32+fp64 check | full | %.4f | %.4f | %.2e | %.2e | - | - | "
                   "dNLL 1e-3 vs cpu fp64 |", a->name, vname, exp(mean(ref64, T - 1)),
                   exp(mean(got, T - 1)), fabs(exp(mean(got, T - 1)) / exp(mean(ref64, T - 1)) - 1),
                   d);
            row_verdict(d <= 1e-3);
          } else {
            printf("| %s | %s | fp32+fp64 check | full | device: %s |||||||", a->name, vname, err.msg);
            row_verdict(0);
          }
        }
        // blocks through the KV cache once per architecture and dtype (native rope)
        if (vi == 0) {
          int rc1 = have_once ? 0 : engine_score(&e, &m, &rope, tok, T, 0, once, ok, &err);
          int rc2 = rc1 ? -1 : engine_score_blocks(&e, &m, &rope, tok, T, T / 2, 40, got, &err);
          if (rc1 || rc2) {
            printf("| %s | %s | %s | full, blocks | device: %s |||||||", a->name, vname,
                   dtype_name(dts[di]), err.msg);
            row_verdict(0);
          } else {
            // the same device through other shapes (a GPU's GEMMs may pick other algorithms,
            // hence other summation orders; the CUDA simulator's are exact, so it shows 0):
            // fp32 as the fp32 rows (dNLL 1e-3); bf16/fp16 as the device against its emulation,
            // PPL rel ≤ u (dtype_pass), since reordered sums may turn activations' roundings
            double d = max_abs_diff(got, once, T - 1);
            double rb = fabs(exp(mean(got, T - 1)) / exp(mean(once, T - 1)) - 1.0);
            int f32 = dts[di] == DTYPE_F32;
            char bnd[48];
            if (f32) snprintf(bnd, sizeof bnd, "dNLL 1e-3");
            else snprintf(bnd, sizeof bnd, "rel %.1e (%.1e)", dtype_u(dts[di]), rb);
            printf("| %s | %s | %s | full, blocks %ld+40x1+rest vs one pass | - | %.4f | - | %.2e | - "
                   "| - | %s |", a->name, vname, dtype_name(dts[di]), T / 2,
                   exp(mean(got, T - 1)), d, bnd);
            row_verdict(f32 ? d <= 1e-3 : rb <= dtype_u(dts[di]));
          }
        }
        rope_table_free(&rope);
        json_decref(spec);
      }
      engine_close(&e);
    }
    free(tok);
    free(refs);
    free(ref64);
    free(oks_ref);
    free(have_ref);
    free(emu);
    free(got);
    free(once);
    free(ok);
    model_free(&m);
  }
}

// ---- 1b. the decode protocol under every cache policy ----

static const char *const POLICIES[] = {
    "{\"name\":\"full\",\"type\":\"full\"}",
    "{\"name\":\"window_24\",\"type\":\"window\",\"recent\":24}",
    "{\"name\":\"streaming_4_20\",\"type\":\"streaming\",\"sink\":4,\"recent\":20}",
    "{\"name\":\"streaming_4_20_original\",\"type\":\"streaming\",\"sink\":4,\"recent\":20,"
    "\"positions\":\"original\"}",
    "{\"name\":\"h2o_12_12\",\"type\":\"h2o\",\"heavy\":12,\"recent\":12}",
};
#define N_POLICIES ((int)(sizeof POLICIES / sizeof POLICIES[0]))

// Decodes B windows of T tokens (tok[B, T]) as the decode protocol does: tokens 0..P−2 prefilled,
// then steps t = P−1 .. T−2 for the B windows together. nll[B, T − P], ok[B, T − P]. weights NULL:
// the model's own (CPU).
static int decode_nll(const Model *m, const Backend *be, const ModelWeights *weights,
                      const RopeTable *rope, const KVPolicy *p, const int32_t *tok, int B, long T,
                      long P, float *nll, uint8_t *ok, BenchErr *err) {
  long keep = kv_policy_keep(p), cap = keep < 0 ? T - 1 : keep + 1;
  if (cap < P - 1) cap = P - 1;
  ForwardOptions o = {.backend = be, .weights = weights};
  DecodeState d;
  if (decode_init(&d, m, be, rope, p, B, cap, P - 1, &o, err)) return -1;
  int rc = 0;
  for (int b = 0; b < B && rc == 0 && P > 1; b++) rc = decode_prefill(&d, b, tok + b * T, P - 1, err);
  int32_t *in = xmalloc(sizeof(int32_t) * B), *tg = xmalloc(sizeof(int32_t) * B);
  float *nl = xmalloc(sizeof(float) * B);
  uint8_t *ak = xmalloc((size_t)B);
  for (long t = P - 1; t < T - 1 && rc == 0; t++) {
    for (int b = 0; b < B; b++) in[b] = tok[b * T + t], tg[b] = tok[b * T + t + 1];
    rc = decode_step(&d, in, t, tg, nl, ak, err);
    for (int b = 0; b < B && rc == 0; b++) {
      nll[b * (T - P) + t - (P - 1)] = nl[b];
      ok[b * (T - P) + t - (P - 1)] = ak[b];
    }
  }
  decode_free(&d);
  free(in);
  free(tg);
  free(nl);
  free(ak);
  return rc;
}

// The same on the CPU, fp32 or emulating a dtype (its own weights upload).
static int cpu_decode_nll(const Model *m, const Backend *be, const RopeTable *rope,
                          const KVPolicy *p, const int32_t *tok, int B, long T, long P, float *nll,
                          uint8_t *ok) {
  BenchErr err;
  ModelWeights w;
  if (be->weights_upload(&w, m, &err)) return -1;
  int rc = decode_nll(m, be, &w, rope, p, tok, B, T, P, nll, ok, &err);
  if (rc) fprintf(stderr, "cpu decode: %s\n", err.msg);
  be->weights_free(&w);
  return rc;
}

static void decode_parity(void) {
  enum { B = 3 };
  long T = quick ? 64 : 160, P = 17, n = B * (T - P);
  int C = quick ? 128 : 256, F = 2 * C, V = quick ? 512 : 2048;
  printf("\n## Decode protocol: CUDA vs CPU engine per cache policy (init-model checkpoints, C %d, "
         "L 2, H 4, F %d, V %d; %d windows of %ld tokens stepped together, prompt %ld)\n\n", C, F,
         V, B, T, P);
  printf("| arch | dtype | cache | PPL cpu fp32 | PPL device | PPL rel | PPL rel of cpu emulating "
         "dtype | max abs dNLL vs cpu | max abs dNLL vs cpu emulating dtype | argmax agree | bound | "
         "status |\n");
  printf("|---|---|---|---|---|---|---|---|---|---|---|---|\n");
  for (int ai = 0; ai < N_ARCHS; ai++) {
    const ArchCase *a = &ARCHS[ai];
    Model m;
    if (make_model(a, C, 4, F, V, 2, 3000 + ai, &m)) {
      n_fail++;
      continue;
    }
    int32_t *tok = rm_tokens(B * T, m.config.vocab_size, 91 + ai);
    float *refs = xmalloc(sizeof(float) * n * N_POLICIES), *emu = xmalloc(sizeof(float) * n);
    float *got = xmalloc(sizeof(float) * n);
    uint8_t *oks_ref = xmalloc((size_t)n * N_POLICIES), *ok = xmalloc((size_t)n);
    int *ref_rc = xmalloc(sizeof(int) * N_POLICIES);
    RopeModelInfo info = rope_info(&m.config);
    json_t *rspec = json_pack("{s:s, s:s}", "name", "native", "type", "model");
    RopeTable rope;
    BenchErr err;
    if (rope_build(rspec, &info, T, &rope, &err)) die("rope: %s", err.msg);
    for (int pi = 0; pi < N_POLICIES; pi++) {  // the CPU engine's fp32 numbers, once
      json_t *cspec = json_loads(POLICIES[pi], 0, NULL);
      KVPolicy pol;
      if (kv_policy_from_spec(cspec, &pol, &err)) die("policy: %s", err.msg);
      ref_rc[pi] = cpu_decode_nll(&m, backend_cpu(), &rope, &pol, tok, B, T, P, refs + pi * n,
                                  oks_ref + pi * n);
      json_decref(cspec);
    }
    DType dts[2] = {DTYPE_F32, DTYPE_BF16};
    for (int di = 0; di < 2; di++) {
      Engine e;
      const char *dn = dtype_name(dts[di]);
      if (engine_open(&e, &m, device, dts[di], &err)) {
        printf("| %s | %s | - | engine: %s ||||||||", a->name, dn, err.msg);
        row_verdict(0);
        continue;
      }
      for (int pi = 0; pi < N_POLICIES; pi++) {
        json_t *cspec = json_loads(POLICIES[pi], 0, NULL);
        const char *cname = json_string_value(json_object_get(cspec, "name"));
        KVPolicy pol;
        if (kv_policy_from_spec(cspec, &pol, &err)) die("policy: %s", err.msg);
        int fp32 = dts[di] == DTYPE_F32;
        const float *ref = refs + pi * n;
        const uint8_t *ok_ref = oks_ref + pi * n;
        int rc = ref_rc[pi];
        if (rc == 0 && fp32) memcpy(emu, ref, sizeof(float) * n);
        else if (rc == 0) rc = cpu_decode_nll(&m, emu_backend(dts[di]), &rope, &pol, tok, B, T, P, emu, ok);
        if (rc == 0) {
          rc = decode_nll(&m, e.be, &e.weights, &rope, &pol, tok, B, T, P, got, ok, &err);
          if (rc) {
            printf("| %s | %s | %s | device: %s ||||||||", a->name, dn, cname, err.msg);
            row_verdict(0);
          }
        } else {
          printf("| %s | %s | %s | cpu reference failed ||||||||", a->name, dn, cname);
          row_verdict(0);
        }
        if (rc == 0) {
          double p_ref = exp(mean(ref, n)), p = exp(mean(got, n)), rel = fabs(p / p_ref - 1.0);
          long agree = 0;
          for (long i = 0; i < n; i++) agree += ok[i] == ok_ref[i];
          double rel_emu = fabs(exp(mean(emu, n)) / p_ref - 1.0);
          double dev_emu = fabs(p / exp(mean(emu, n)) - 1.0);
          char bnd[64] = "rel 1e-3";
          if (!fp32)
            snprintf(bnd, sizeof bnd, "rel %.1e, vs emu %.1e (%.1e)", 4 * dtype_u(dts[di]),
                     dtype_u(dts[di]), dev_emu);
          printf("| %s | %s | %s | %.4f | %.4f | %.2e | %.2e | %.2e | %.2e | %ld/%ld | %s |", a->name,
                 dn, cname, p_ref, p, rel, rel_emu, max_abs_diff(got, ref, n),
                 max_abs_diff(got, emu, n), agree, n, bnd);
          row_verdict(fp32 ? rel <= 1e-3 : dtype_pass(dev_emu, rel, dts[di]));
        }
        json_decref(cspec);
      }
      engine_close(&e);
    }
    rope_table_free(&rope);
    json_decref(rspec);
    free(tok);
    free(refs);
    free(emu);
    free(got);
    free(oks_ref);
    free(ok);
    free(ref_rc);
    model_free(&m);
  }
}

// ---- 2. a longer window ----

static void long_window(void) {
  long T = quick ? 512 : 4096;
  int C = quick ? 128 : 512, V = quick ? 512 : 4096;
  printf("\n## Longer window: %ld tokens (C %d, L 2, H 8, F %d, V %d)\n\n", T, C, 2 * C, V);
  printf("| arch | dtype | PPL cpu fp32 | PPL device | PPL rel | max abs dNLL | bound | status |\n");
  printf("|---|---|---|---|---|---|---|---|\n");
  const ArchCase cases[] = {{"llama_gqa4", ARCH_LLAMA, 2, 1.0, 0, 0, 0},
                            {"mistral_window", ARCH_MISTRAL, 2, 1.0, 0, 0, 0}};
  for (int ci = 0; ci < 2; ci++) {
    ArchCase a = cases[ci];
    if (a.arch == ARCH_MISTRAL) a.window = (int)(T / 4);
    Model m;
    if (make_model(&a, C, 8, 2 * C, V, 2, 2000 + ci, &m)) {
      n_fail++;
      continue;
    }
    int32_t *tok = rm_tokens(T, m.config.vocab_size, 5 + ci);
    float *ref = xmalloc(sizeof(float) * T), *got = xmalloc(sizeof(float) * T);
    uint8_t *ok = xmalloc(T);
    RopeModelInfo info = rope_info(&m.config);
    json_t *spec = json_pack("{s:s, s:s}", "name", "native", "type", "model");
    RopeTable rope;
    BenchErr err;
    if (rope_build(spec, &info, T, &rope, &err)) die("rope: %s", err.msg);
    cpu_score(&m, &rope, tok, T, backend_cpu(), 0, ref, ok);
    DType dts[2] = {DTYPE_F32, DTYPE_BF16};
    for (int di = 0; di < 2; di++) {
      Engine e;
      if (engine_open(&e, &m, device, dts[di], &err) ||
          engine_score(&e, &m, &rope, tok, T, 0, got, ok, &err)) {
        printf("| %s | %s | device: %s |||||", a.name, dtype_name(dts[di]), err.msg);
        row_verdict(0);
        engine_close(&e);
        continue;
      }
      double pr = exp(mean(ref, T - 1)), p = exp(mean(got, T - 1)), rel = fabs(p / pr - 1.0);
      double d = max_abs_diff(got, ref, T - 1);
      int fp32 = dts[di] == DTYPE_F32;
      // bf16: the rounding's size against fp32 (dtype_pass's 4u; no emulation run here)
      printf("| %s%s | %s | %.4f | %.4f | %.2e | %.2e | %s |", cases[ci].name,
             a.window ? " (window T/4)" : "",
             dtype_name(dts[di]), pr, p, rel, d, fp32 ? "rel 1e-3, dNLL 1e-3" : "rel 1.6e-2");
      row_verdict(fp32 ? rel <= 1e-3 && d <= 1e-3 : rel <= 4 * dtype_u(dts[di]));
      engine_close(&e);
    }
    rope_table_free(&rope);
    json_decref(spec);
    free(tok);
    free(ref);
    free(got);
    free(ok);
    model_free(&m);
  }
}

// ---- 3. out of memory ----

static size_t device_live_bytes(void) {
#ifdef BENCH_CUDA
  return strncmp(device, "cuda", 4) == 0 ? cuda_mem_live() : 0;
#else
  return 0;
#endif
}

static void out_of_memory(void) {
  printf("\n## Out of memory\n\n| step | result | status |\n|---|---|---|\n");
  // KV cache of 8M tokens × 32 kv heads × 128 dims × 2 × 4 bytes = 256 GiB: fits no GPU here
  // (with the CPU under test, a small model and window: only the steps are checked)
  int gpu = strncmp(device, "cuda", 4) == 0;
  ModelConfig cfg = gpu ? rm_config(ARCH_LLAMA, 300, 4096, 1, 32, 32, 1024, 1.0)
                        : rm_config(ARCH_LLAMA, 300, 64, 1, 2, 2, 128, 1.0);
  Model m;
  rm_init(&m, &cfg, 9);
  RopeTable rope = rm_rope(cfg.rotary_dims, 10000.0, 1.0);
  Engine e;
  BenchErr err;
  if (engine_open(&e, &m, device, DTYPE_BF16, &err)) {
    printf("| open | %s |", err.msg);
    row_verdict(0);
    rm_free(&m);
    rm_rope_free(&rope);
    return;
  }
  size_t before = device_live_bytes();
  long T = gpu ? 8L << 20 : 64;
  long n = T > 100 ? T : 100;
  int32_t *tok = rm_tokens(n, cfg.vocab_size, 3);
  float *nll = xmalloc(sizeof(float) * n);
  uint8_t *ok = xmalloc((size_t)n);
  int rc = engine_score(&e, &m, &rope, tok, T, 0, nll, ok, &err);
  int oom = rc == -1 && strstr(err.msg, "out of memory");
  printf("| window of %ld tokens | %s |", T, rc ? err.msg : "ran (no out-of-memory error)");
  row_verdict(!gpu || oom);
  char detail[160];
  snprintf(detail, sizeof detail, "%.1f MiB held before, %.1f MiB after", before / 1048576.0,
           device_live_bytes() / 1048576.0);
  printf("| device memory back to the weights | %s |", detail);
  row_verdict(device_live_bytes() == before);
  rc = engine_score(&e, &m, &rope, tok, 100, 0, nll, ok, &err);
  printf("| next window (100 tokens) | %s |", rc ? err.msg : "ran");
  row_verdict(rc == 0);
  engine_close(&e);
  free(tok);
  free(nll);
  free(ok);
  rm_rope_free(&rope);
  rm_free(&m);
}

// ---- 4. transformers' parity fixtures ----

static void fixtures(const char *dir, FILE *nll_out) {
  printf("\n## CUDA vs transformers (fp32 eager, CPU) on the parity fixtures in %s\n\n", dir);
  DIR *d = opendir(dir);
  if (!d) {
    printf("(no fixtures directory: skipped)\n");
    return;
  }
  printf("| case | dtype | T | PPL transformers | PPL device | PPL rel | max abs dNLL | argmax agree "
         "| bound | status |\n|---|---|---|---|---|---|---|---|---|---|\n");
  struct dirent *ent;
  char **names = NULL;
  int n = 0;
  while ((ent = readdir(d)))
    if (ent->d_name[0] != '.') {
      names = xrealloc(names, sizeof(char *) * (size_t)(n + 1));
      names[n++] = xstrdup(ent->d_name);
    }
  closedir(d);
  for (int i = 0; i < n; i++)
    for (int j = i + 1; j < n; j++)
      if (strcmp(names[j], names[i]) < 0) {
        char *t = names[i];
        names[i] = names[j];
        names[j] = t;
      }
  for (int ci = 0; ci < n; ci++) {
    char *cdir = path_join(dir, names[ci]);
    char *mdir = path_join(cdir, "model"), *fx = path_join(cdir, "parity.json");
    json_error_t jerr;
    json_t *j = json_load_file(fx, 0, &jerr);
    Model m;
    BenchErr err;
    if (!j || model_load(mdir, &m, &err)) {
      printf("| %s | - | - | %s |||||||", names[ci], j ? err.msg : jerr.text);
      row_verdict(0);
      json_decref(j);
      goto next;
    }
    json_t *jt = json_object_get(j, "tokens"), *jn = json_object_get(j, "nll"),
           *ja = json_object_get(j, "argmax");
    long T = (long)json_array_size(jt);
    int32_t *tok = xmalloc(sizeof(int32_t) * T);
    float *ref = xmalloc(sizeof(float) * T), *got = xmalloc(sizeof(float) * T);
    uint8_t *ok = xmalloc(T);
    for (long t = 0; t < T; t++) tok[t] = (int32_t)json_integer_value(json_array_get(jt, t));
    for (long t = 0; t < T - 1; t++) ref[t] = (float)json_number_value(json_array_get(jn, t));
    RopeModelInfo info = rope_info(&m.config);
    json_t *spec = json_pack("{s:s, s:s}", "name", "native", "type", "model");
    RopeTable rope;
    if (rope_build(spec, &info, T, &rope, &err)) die("rope: %s", err.msg);
    DType dts[3] = {DTYPE_F32, DTYPE_BF16, DTYPE_F16};
    for (int di = 0; di < 3; di++) {
      Engine e;
      if (engine_open(&e, &m, device, dts[di], &err) ||
          engine_score(&e, &m, &rope, tok, T, 0, got, ok, &err)) {
        printf("| %s | %s | %ld | device: %s ||||||", names[ci], dtype_name(dts[di]), T,
               err.msg);
        row_verdict(0);
        engine_close(&e);
        continue;
      }
      long agree = 0;
      for (long t = 0; t < T - 1; t++)
        agree += ok[t] == (json_integer_value(json_array_get(ja, t)) == tok[t + 1]);
      double pr = exp(mean(ref, T - 1)), p = exp(mean(got, T - 1)), rel = fabs(p / pr - 1.0);
      double dd = max_abs_diff(got, ref, T - 1);
      int fp32 = dts[di] == DTYPE_F32;
      char bnd[32] = "dNLL 1e-3";
      if (!fp32) snprintf(bnd, sizeof bnd, "rel %.1e", 4 * dtype_u(dts[di]));  // dtype_pass's 4u
      printf("| %s | %s | %ld | %.4f | %.4f | %.2e | %.2e | %ld/%ld | %s |", names[ci],
             dtype_name(dts[di]), T, pr, p, rel, dd, agree, T - 1, bnd);
      row_verdict(fp32 ? dd <= 1e-3 : rel <= 4 * dtype_u(dts[di]));
      if (nll_out) {
        json_t *arr = json_array();
        for (long t = 0; t < T - 1; t++) json_array_append_new(arr, json_real(got[t]));
        json_t *line = json_pack("{s:s, s:s, s:s, s:o}", "case", names[ci], "model_dir", mdir,
                                 "dtype", dtype_name(dts[di]), "nll", arr);
        char *txt = json_dumps(line, JSON_COMPACT);
        fprintf(nll_out, "%s\n", txt);
        free(txt);
        json_decref(line);
      }
      engine_close(&e);
    }
    rope_table_free(&rope);
    json_decref(spec);
    json_decref(j);
    free(tok);
    free(ref);
    free(got);
    free(ok);
    model_free(&m);
  next:
    free(cdir);
    free(mdir);
    free(fx);
    free(names[ci]);
  }
  free(names);
}

// ---- 5. throughput (informational) ----

static void throughput(void) {
  if (strncmp(device, "cuda", 4) != 0 || quick) return;
  // a Llama-shaped model of ~0.3B parameters, bf16, one 8192-token window
  ModelConfig cfg = rm_config(ARCH_LLAMA, 32000, 2048, 4, 16, 4, 5632, 1.0);
  Model m;
  rm_init(&m, &cfg, 4);
  long T = 8192;
  RopeTable rope = rm_rope(cfg.rotary_dims, 500000.0, 1.0);
  int32_t *tok = rm_tokens(T, cfg.vocab_size, 1);
  float *nll = xmalloc(sizeof(float) * T);
  uint8_t *ok = xmalloc((size_t)T);
  Engine e;
  BenchErr err;
  printf("\n## Throughput (informational; bf16: the flash attention kernel; benchmarks/bench_gpu.sh measures the engine properly)\n\n");
  if (engine_open(&e, &m, device, DTYPE_BF16, &err)) {
    printf("open: %s\n", err.msg);
  } else {
    engine_device_peak_bytes(&e, 1);
    engine_score(&e, &m, &rope, tok, T, 0, nll, ok, &err);  // warm-up
    double best = 1e30;
    for (int rep = 0; rep < 3; rep++) {
      double t0 = mono_time();
      if (engine_score(&e, &m, &rope, tok, T, 0, nll, ok, &err)) break;
      double dt = mono_time() - t0;
      if (dt < best) best = dt;
    }
    double gf = forward_flops(&cfg, T, T - 1) / 1e9;
    double peak = engine_device_peak_bytes(&e, 0) / 1073741824.0;
    printf("llama C 2048 L 4 H 16 K 4 F 5632 V 32000, bf16, T %ld: best of 3 %.3f s, %.0f tokens/s, "
           "%.1f TFLOP/s, peak device memory %.2f GiB\n",
           T, best, T / best, gf / best / 1000.0, peak);
    engine_close(&e);
  }
  free(tok);
  free(nll);
  free(ok);
  rm_rope_free(&rope);
  rm_free(&m);
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);  // rows appear as they are checked, also in a log
  const char *fixtures_dir = "tests/fixtures/parity", *nll_path = NULL;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--device") == 0 && i + 1 < argc) device = argv[++i];
    else if (strcmp(argv[i], "--fixtures") == 0 && i + 1 < argc) fixtures_dir = argv[++i];
    else if (strcmp(argv[i], "--nll-out") == 0 && i + 1 < argc) nll_path = argv[++i];
    else if (strcmp(argv[i], "--quick") == 0) quick = 1;
    else {
      fprintf(stderr, "usage: test_parity_gpu [--device cuda:N|cpu] [--fixtures DIR] "
                      "[--nll-out FILE] [--quick]\n");
      return 2;
    }
  }
  backend_cpu()->set_threads(0);
  printf("# CUDA engine parity (device under test: %s)\n", device);
  FILE *nll_out = nll_path ? fopen(nll_path, "w") : NULL;
  engine_parity();
  decode_parity();
  long_window();
  out_of_memory();
  fixtures(fixtures_dir, nll_out);
  if (nll_out) fclose(nll_out);
  throughput();
  printf("\n%d passed, %d failed\n", n_pass, n_fail);
  return n_fail ? 1 : 0;
}
