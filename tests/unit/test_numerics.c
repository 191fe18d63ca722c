// test_numerics.c — what the CUDA engine's reduced precision does to the numbers, measured on the
// CPU so that the GPU tolerances mean something (tests/gpu/ applies them):
//  - bf16/fp16 mode emulated on the CPU (emu_backend.h: weight matrices and every matrix
//    product's input rounded to the dtype, fp32 accumulation) against the fp32 forward, every
//    architecture: the PPL shift must stay under the bf16 parity bound (0.5%) and be visible
//    (the emulation changes the numbers), fp16's shift smaller than bf16's;
//  - fp32 summation order: the fp32 forward against its fp64-accumulating check mode, far under
//    the fp32 parity bound (1e-3 relative PPL);
//  - the emulated product equals the exact product of the rounded values up to fp32 rounding;
//  - the LM head's fold of vocabulary chunks (engine/cuda/lm_merge.h, what the CUDA kernel runs)
//    against whole rows: same NLL, same first argmax across chunk boundaries, any chunk size.
// Legend: T tokens, V vocab, C hidden.
#include <stdlib.h>

#include "backend.h"
#include "emu_backend.h"
#include "flash_twin.h"
#include "forward.h"
#include "lm_merge.h"
#include "random_model.h"
#include "test.h"

typedef struct {
  const char *name;
  Arch arch;
  int K;
  double rotary;
  int window, sequential;
} Case;

static const Case CASES[] = {
    {"llama", ARCH_LLAMA, 2, 1.0, 0, 0},
    {"mistral_window", ARCH_MISTRAL, 1, 1.0, 48, 0},
    {"qwen2_tied_bias", ARCH_QWEN2, 2, 1.0, 0, 0},
    {"gpt_neox_parallel", ARCH_GPT_NEOX, 4, 0.25, 0, 0},
    {"gpt_neox_sequential", ARCH_GPT_NEOX, 4, 0.5, 0, 1},
};

static double mean(const float *x, long n) {
  double s = 0.0;
  for (long i = 0; i < n; i++) s += x[i];
  return s / (double)n;
}

static double max_abs_diff(const float *a, const float *b, long n) {
  double d = 0.0;
  for (long i = 0; i < n; i++) d = fmax(d, fabs((double)a[i] - b[i]));
  return d;
}

// Scores tokens on backend be (weights through its weights_upload).
static int score(const Model *m, const RopeTable *rope, const int32_t *tok, long T,
                 const Backend *be, int fp64, float *nll, uint8_t *ok) {
  BenchErr err;
  ModelWeights w;
  if (be->weights_upload(&w, m, &err)) return -1;
  ForwardOptions o = {.fp64_check = fp64, .backend = be, .weights = &w};
  int rc = forward_score_window(m, rope, tok, T, 0, nll, ok, &o, &err);
  if (rc) fprintf(stderr, "forward: %s\n", err.msg);
  be->weights_free(&w);
  return rc;
}

TEST(reduced_precision_shift_per_architecture) {
  long T = 256;
  printf("%-20s %-5s %12s %12s %12s\n", "case", "mode", "ppl", "ppl rel", "max|dNLL|");
  for (size_t ci = 0; ci < sizeof CASES / sizeof CASES[0]; ci++) {
    const Case *cs = &CASES[ci];
    ModelConfig cfg = rm_config(cs->arch, 512, 128, 2, 4, cs->K, 256, cs->rotary);
    cfg.sliding_window = cs->window;
    if (cs->sequential) cfg.parallel_residual = 0;
    Model m;
    rm_init(&m, &cfg, 100 + ci);
    if (m.weights.lm_head == m.weights.embed)  // a tied head reads N(0, 1/C) like an untied one
      for (size_t i = 0; i < (size_t)cfg.vocab_size * cfg.hidden_size; i++)
        m.weights.embed[i] /= sqrtf((float)cfg.hidden_size);
    RopeTable rope = rm_rope(cfg.rotary_dims, 10000.0, 1.0);
    int32_t *tok = rm_tokens(T, cfg.vocab_size, 200 + ci);
    float *ref = xmalloc(sizeof(float) * T), *x = xmalloc(sizeof(float) * T);
    uint8_t *ok = xmalloc(T);
    EXPECT_INT_EQ(score(&m, &rope, tok, T, backend_cpu(), 0, ref, ok), 0);
    double ppl = exp(mean(ref, T - 1));
    printf("%-20s %-5s %12.5f %12s %12s\n", cs->name, "fp32", ppl, "-", "-");
    double shift[2], dmax[2];
    DType modes[2] = {DTYPE_BF16, DTYPE_F16};
    for (int k = 0; k < 2; k++) {
      EXPECT_INT_EQ(score(&m, &rope, tok, T, emu_backend(modes[k]), 0, x, ok), 0);
      shift[k] = exp(mean(x, T - 1)) / ppl - 1.0;
      dmax[k] = max_abs_diff(x, ref, T - 1);
      printf("%-20s %-5s %12.5f %+12.2e %12.2e\n", cs->name, dtype_name(modes[k]),
             exp(mean(x, T - 1)), shift[k], dmax[k]);
    }
    // bf16: visible but under the 0.5% bound the GPU parity test applies; fp16 finer
    if (!(fabs(shift[0]) < 5e-3)) TEST_FAIL_AT("%s: bf16 ppl shift %.3g", cs->name, shift[0]);
    if (!(dmax[0] > 1e-4)) TEST_FAIL_AT("%s: bf16 emulation changed nothing", cs->name);
    if (!(dmax[1] < dmax[0])) TEST_FAIL_AT("%s: fp16 %.3g not finer than bf16 %.3g", cs->name,
                                           dmax[1], dmax[0]);
    free(ref);
    free(x);
    free(ok);
    free(tok);
    rm_rope_free(&rope);
    rm_free(&m);
  }
}

// Head dims the CUDA flash kernel serves (D 64 here): the emulation rounds attention's q, k, v
// and softmax weights too (flash_twin.h). That must keep the PPL shift under the same 0.5% bound
// the GPU parity test applies, and move the NLLs by about what the matrix products' rounding
// already does (the emulation without it, attention exact in fp32, for comparison).
TEST(flash_attention_rounding_stays_under_the_bf16_bound) {
  const Case cases[] = {{"llama_d64", ARCH_LLAMA, 2, 1.0, 0, 0},
                        {"mistral_d64_window", ARCH_MISTRAL, 1, 1.0, 100, 0}};
  long T = 512;
  printf("%-20s %-5s %12s %12s %12s %16s\n", "case", "mode", "ppl", "ppl rel", "max|dNLL|",
         "vs exact attn");
  for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
    const Case *cs = &cases[ci];
    ModelConfig cfg = rm_config(cs->arch, 512, 256, 2, 4, cs->K, 512, cs->rotary);
    cfg.sliding_window = cs->window;
    Model m;
    rm_init(&m, &cfg, 300 + ci);
    RopeTable rope = rm_rope(cfg.rotary_dims, 10000.0, 1.0);
    int32_t *tok = rm_tokens(T, cfg.vocab_size, 400 + ci);
    float *ref = xmalloc(sizeof(float) * T), *x = xmalloc(sizeof(float) * T);
    float *y = xmalloc(sizeof(float) * T);
    uint8_t *ok = xmalloc(T);
    EXPECT(flash_attention_applies(DTYPE_BF16, cfg.head_dim, 0));
    EXPECT_INT_EQ(score(&m, &rope, tok, T, backend_cpu(), 0, ref, ok), 0);
    double ppl = exp(mean(ref, T - 1));
    DType modes[2] = {DTYPE_BF16, DTYPE_F16};
    for (int k = 0; k < 2; k++) {
      EXPECT_INT_EQ(score(&m, &rope, tok, T, emu_backend(modes[k]), 0, x, ok), 0);
      Backend exact_attn = *emu_backend(modes[k]);  // the same emulation, attention exact
      exact_attn.attention = backend_cpu()->attention;
      EXPECT_INT_EQ(score(&m, &rope, tok, T, &exact_attn, 0, y, ok), 0);
      double shift = exp(mean(x, T - 1)) / ppl - 1.0, d = max_abs_diff(x, ref, T - 1);
      double d_attn = max_abs_diff(x, y, T - 1), d_mm = max_abs_diff(y, ref, T - 1);
      printf("%-20s %-5s %12.5f %+12.2e %12.2e %16.2e\n", cs->name, dtype_name(modes[k]),
             exp(mean(x, T - 1)), shift, d, d_attn);
      if (!(fabs(shift) < 5e-3))
        TEST_FAIL_AT("%s %s: ppl shift %.3g with flash rounding", cs->name,
                     dtype_name(modes[k]), shift);
      if (!(d_attn > 0 && d_attn < 2 * d_mm))  // visible, and no larger than the products' own
        TEST_FAIL_AT("%s %s: attention rounding moved NLLs by %.3g (products alone: %.3g)",
                     cs->name, dtype_name(modes[k]), d_attn, d_mm);
    }
    free(ref);
    free(x);
    free(y);
    free(ok);
    free(tok);
    rm_rope_free(&rope);
    rm_free(&m);
  }
}

TEST(fp32_summation_order_is_far_under_the_fp32_bound) {
  long T = 256;
  ModelConfig cfg = rm_config(ARCH_LLAMA, 512, 128, 2, 4, 2, 256, 1.0);
  Model m;
  rm_init(&m, &cfg, 7);
  RopeTable rope = rm_rope(cfg.rotary_dims, 10000.0, 1.0);
  int32_t *tok = rm_tokens(T, cfg.vocab_size, 8);
  float *a = xmalloc(sizeof(float) * T), *b = xmalloc(sizeof(float) * T);
  uint8_t *ok = xmalloc(T);
  EXPECT_INT_EQ(score(&m, &rope, tok, T, backend_cpu(), 0, a, ok), 0);
  EXPECT_INT_EQ(score(&m, &rope, tok, T, backend_cpu(), 1, b, ok), 0);
  double rel = fabs(exp(mean(a, T - 1)) / exp(mean(b, T - 1)) - 1.0);
  double d = max_abs_diff(a, b, T - 1);
  printf("fp32 vs fp64 accumulation: ppl rel %.2e, max|dNLL| %.2e (fp32 bound: 1e-3 ppl rel)\n",
         rel, d);
  EXPECT(rel < 1e-5);
  EXPECT(d < 1e-4);
  free(a);
  free(b);
  free(ok);
  free(tok);
  rm_rope_free(&rope);
  rm_free(&m);
}

TEST(emulated_product_is_the_exact_product_of_rounded_values) {
  Rng r;
  rng_seed(&r, 3);
  long T = 17;
  int Cin = 96, N = 33;
  float *x = xmalloc(sizeof(float) * T * Cin), *w = xmalloc(sizeof(float) * N * Cin);
  float *y = xmalloc(sizeof(float) * T * N), *y32 = xmalloc(sizeof(float) * T * N);
  for (long i = 0; i < T * Cin; i++) x[i] = (float)rng_normal(&r);
  for (long i = 0; i < (long)N * Cin; i++) w[i] = (float)rng_normal(&r);
  for (int k = 0; k < 2; k++) {
    DType t = k ? DTYPE_F16 : DTYPE_BF16;
    const Backend *be = emu_backend(t);
    float *wr = emu_rounded(w, (size_t)N * Cin);
    be->matmul(y, x, wr, NULL, T, Cin, N);
    backend_cpu()->matmul(y32, x, w, NULL, T, Cin, N);
    double worst = 0.0, moved = 0.0;
    for (long i = 0; i < T; i++)
      for (int o = 0; o < N; o++) {
        double s = 0.0, mag = 0.0;
        for (int c = 0; c < Cin; c++) {
          double p = (double)emu_round(x[i * Cin + c], t) * wr[(size_t)o * Cin + c];
          s += p;
          mag += fabs(p);
        }
        worst = fmax(worst, fabs(y[i * N + o] - s) / mag);
        moved = fmax(moved, fabs((double)y32[i * N + o] - y[i * N + o]) / mag);
      }
    printf("%s product: max error vs exact product of rounded values %.2e, vs fp32 inputs %.2e "
           "(relative to sum |terms|)\n",
           dtype_name(t), worst, moved);
    EXPECT(worst < 1e-6);   // fp32 accumulation of Cin = 96 terms
    EXPECT(moved > 1e-5);   // the rounding of inputs is visible
    free(wr);
  }
  free(x);
  free(w);
  free(y);
  free(y32);
}

// The fold of lm_merge.h over chunks of `vc` columns, as the kernel runs it (chunk stats in
// float or double), against the CPU backend's whole rows.
static void fold_rows(const float *z, const int32_t *target, long T, int V, int vc, int fp64,
                      float *nll, int32_t *am) {
  for (long t = 0; t < T; t++) {
    const float *zr = z + (size_t)t * V;
    LmRow st;
    lm_row_init(&st);
    for (int v0 = 0; v0 < V; v0 += vc) {
      int nc = V - v0 < vc ? V - v0 : vc;
      float best = -INFINITY;
      int bi = 0;
      for (int c = 0; c < nc; c++)
        if (zr[v0 + c] > best) {
          best = zr[v0 + c];
          bi = c;
        }
      double s = 0.0;
      float sf = 0.0f;
      for (int c = 0; c < nc; c++) {
        if (fp64) s += exp((double)zr[v0 + c] - best);
        else sf += expf(zr[v0 + c] - best);
      }
      int y = target[t] - v0, has = y >= 0 && y < nc;
      lm_row_fold(&st, best, fp64 ? s : (double)sf, v0 + bi, has, has ? zr[target[t]] : 0.0f);
    }
    nll[t] = lm_row_nll(&st);
    am[t] = st.argmax;
  }
}

TEST(lm_head_chunk_fold_matches_whole_rows) {
  Rng r;
  rng_seed(&r, 11);
  long T = 9;
  int V = 300, C = 16;
  float *h = xmalloc(sizeof(float) * T * C), *w = xmalloc(sizeof(float) * V * C);
  float *z = xmalloc(sizeof(float) * T * V), *logits = xmalloc(sizeof(float) * T * V);
  for (long i = 0; i < T * C; i++) h[i] = (float)rng_normal(&r);
  for (long i = 0; i < (long)V * C; i++) w[i] = (float)(0.5 * rng_normal(&r));
  // row 0: two equal maxima in different chunks (index 5 and 250): the first must win
  for (int c = 0; c < C; c++) {
    w[5 * C + c] = w[250 * C + c] = 3.0f * h[c];
  }
  int32_t target[9] = {0, 299, 5, 250, 17, 128, 64, 63, 1};
  backend_cpu()->matmul(z, h, w, NULL, T, C, V);
  float ref[9], got[9];
  int32_t ref_am[9], got_am[9];
  for (int fp64 = 0; fp64 < 2; fp64++) {
    backend_cpu()->lm_head_nll(ref, ref_am, h, w, target, T, C, V, fp64, logits, T);
    int chunks[] = {1, 7, 64, 250, 299, 300, 1000};
    for (size_t k = 0; k < sizeof chunks / sizeof chunks[0]; k++) {
      fold_rows(z, target, T, V, chunks[k], fp64, got, got_am);
      for (long t = 0; t < T; t++) {
        if (fabs(got[t] - ref[t]) > 2e-5 + 2e-6 * fabs(ref[t]))
          TEST_FAIL_AT("chunk %d fp64 %d row %ld: nll value %.7f, whole row %.7f", chunks[k], fp64,
                       t, got[t], ref[t]);
        if (got_am[t] != ref_am[t])
          TEST_FAIL_AT("chunk %d row %ld: argmax value %d, whole row %d", chunks[k], t, got_am[t],
                       ref_am[t]);
      }
    }
  }
  EXPECT_INT_EQ(ref_am[0], 5);
  free(h);
  free(w);
  free(z);
  free(logits);
}

TEST(lm_head_plan_fits_the_scratch) {
  long Ts[] = {1, 2, 63, 64, 65, 1000, 16384};
  int Vs[] = {1, 300, 16384, 16385, 32000, 128256, 151936};
  for (size_t a = 0; a < sizeof Ts / sizeof Ts[0]; a++)
    for (size_t b = 0; b < sizeof Vs / sizeof Vs[0]; b++) {
      long T = Ts[a];
      int V = Vs[b];
      long block = lm_block_rows(V);
      size_t elems = (size_t)(T < block ? T : block) * V;  // what forward.c allocates
      long rows;
      int vc;
      lm_plan(T, V, elems, &rows, &vc);
      if (!(rows >= 1 && rows <= T && vc >= 1 && vc <= V && vc <= LM_VCHUNK &&
            (size_t)rows * vc <= elems))
        TEST_FAIL_AT("T %ld V %d: rows %ld, chunk %d, scratch %zu", T, V, rows, vc, elems);
      // as many rows as the scratch allows: never fewer than the CPU's block when T has them
      if (T >= block && rows < block) TEST_FAIL_AT("T %ld V %d: only %ld rows", T, V, rows);
    }
}

int main(void) {
  backend_cpu()->set_threads(0);
  RUN(reduced_precision_shift_per_architecture);
  RUN(flash_attention_rounding_stays_under_the_bf16_bound);
  RUN(fp32_summation_order_is_far_under_the_fp32_bound);
  RUN(emulated_product_is_the_exact_product_of_rounded_values);
  RUN(lm_head_chunk_fold_matches_whole_rows);
  RUN(lm_head_plan_fits_the_scratch);
  TEST_SUMMARY();
}
