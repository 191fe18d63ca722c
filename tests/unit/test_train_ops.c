// test_train_ops.c — the step's orchestration (train_step.c) in the configurations the CUDA
// tables use, run on the CPU: several sequences per pass (rows of different sequences side by
// side in every op), and the element types of cuda-bf16 (bf16 act and weight copy, fp32 stream
// and params) through the emulation table train_emu_ops.h. What remains unverified for a CUDA
// trainer is then the kernels themselves (tests/gpu/test_train_kernels.c).
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rope.h"
#include "test.h"
#include "train.h"
#include "train_emu_ops.h"
#include "train_job.h"
#include "train_ops.h"

static TrainConfig small_config(int tied, long T, long B) {
  TrainConfig c;
  train_config_defaults(&c);
  c.n_layers = 2;
  c.hidden_size = 32;
  c.n_heads = 4;
  c.n_kv_heads = 2;
  c.intermediate_size = 48;
  c.vocab_size = 61;
  c.tie_embeddings = tied;
  c.seq_len = T;
  c.batch = B;
  c.steps = 10;
  c.lr = 3e-3;
  c.warmup = 2;
  c.seed = 21;
  c.init_std = 0.2;
  c.threads = 2;
  return c;
}

static void make_rope(const TrainConfig *c, RopeTable *rt) {
  json_t *spec = json_loads("{\"name\":\"h\",\"type\":\"hybrid\",\"theta\":100000,\"alpha\":0.2,"
                            "\"p\":3.9,\"omf\":0.3}", 0, NULL);
  RopeModelInfo info;
  train_rope_info(c, 0, &info);
  BenchErr err;
  CHECK(rope_build(spec, &info, c->seq_len, rt, &err) == 0);
  json_decref(spec);
}

static int32_t *random_seqs(long n_seq, long T, int V, uint64_t seed) {
  int32_t *s = xmalloc(sizeof(int32_t) * (size_t)(n_seq * (T + 1)));
  Rng r;
  rng_seed(&r, seed);
  for (long i = 0; i < n_seq * (T + 1); i++) s[i] = (int32_t)rng_below(&r, (uint64_t)V);
  return s;
}

static int init_on(Trainer *t, const TrainConfig *c, const RopeTable *rt, TrainCompute comp,
                   long spp, const TrainOps *ops) {
  TrainDevice dev = {.compute = comp, .seqs_per_pass = spp, .ops = ops};
  BenchErr err;
  int rc = trainer_init_on(t, c, rt, &dev, &err);
  if (rc) fprintf(stderr, "trainer_init_on: %s\n", err.msg);
  return rc;
}

// Worst |a − b| over the gradients, relative to the RMS of b's.
static double grad_gap(const Trainer *a, const Trainer *b) {
  double ss = 0, worst = 0;
  for (size_t i = 0; i < b->n_params; i++) ss += trainer_grad(b, i) * trainer_grad(b, i);
  double rms = sqrt(ss / (double)b->n_params);
  for (size_t i = 0; i < a->n_params; i++) {
    double d = fabs(trainer_grad(a, i) - trainer_grad(b, i)) / rms;
    if (d > worst) worst = d;
  }
  return worst;
}

// Passes of 2 sequences (5 = 2 + 2 + 1) give what passes of one give: the same arithmetic with
// other row counts in every GEMM, so BLAS may pick other kernels and block the dot products
// differently (it does on some CPUs), and every one of them may round differently. Bounds, from
// the format's unit roundoff u (test.h), to first order (the small random network is well
// conditioned: no large cancellation along a token's path):
//  - a token's NLL ends a chain of K sums (test.h's decoder_chain_terms), so the two NLLs differ
//    by ≤ 2·γ̃_K·(nll + ln V); they are summed in double, so the sums differ by
//    ≤ 2·γ̃_K·(Σnll + B·T·ln V) (fp32 here: K = 559, 2.3e-5; fp64, T = 70: 4.5e-14);
//  - a gradient adds the B·T tokens' contributions after a backward chain as long again: each
//    element within 2·γ̃_{2K+B·T}·Σ|contributions|, and Σ|contributions| ≤ B·T·max|contribution|,
//    taken as ≤ B·T·RMS(gradient): the gap relative to the RMS ≤ 2·γ̃_{2K+B·T}·B·T;
//  - one AdamW step from equal weights moves a weight by lr·g/(|g| + eps) (first step): equal
//    to within lr·1e-2 where |g| is well above its rounding bound; where g is within its rounding
//    bound of 0 its sign is not determined by the arithmetic, and the two steps may differ by up
//    to 2·lr (1 + weight decay).
static void passes_match(TrainCompute comp, int tied, long T) {
  long B = 5;
  TrainConfig c = small_config(tied, T, B);
  double u = comp == TRAIN_CPU_F64 ? FP64_U : FP32_U;
  double K = decoder_chain_terms(c.n_layers, c.hidden_size, c.hidden_size / c.n_heads, T,
                                 c.intermediate_size, c.vocab_size);
  double nll_rtol = 2 * fp_gamma_prob(K, u), grad_rtol = 2 * fp_gamma_prob(2 * K + B * T, u) * B * T;
  RopeTable rt;
  make_rope(&c, &rt);
  Trainer one, many;
  EXPECT(init_on(&one, &c, &rt, comp, 1, NULL) == 0);
  EXPECT(init_on(&many, &c, &rt, comp, 2, NULL) == 0);
  EXPECT_INT_EQ(many.seqs_per_pass, 2);
  int32_t *seqs = random_seqs(B, T, c.vocab_size, 8);
  BenchErr err;
  double n1, n2;
  trainer_zero_grad(&one);
  trainer_zero_grad(&many);
  EXPECT(trainer_forward_backward(&one, seqs, B, 1.0 / (B * T), 1, &n1, &err) == 0);
  EXPECT(trainer_forward_backward(&many, seqs, B, 1.0 / (B * T), 1, &n2, &err) == 0);
  double lnV = log((double)c.vocab_size);  // test.h: atol ln V per token
  EXPECT_NEAR(n2, n1, nll_rtol, nll_rtol * lnV * B * T);
  double gap = grad_gap(&many, &one);
  printf("  %s tied %d T %ld: nll %.9g vs %.9g (bound %.2g relative), worst gradient gap %.2e of "
         "the RMS (bound %.2g)\n", train_compute_name(comp), tied, T, n2, n1, nll_rtol, gap,
         grad_rtol);
  EXPECT(gap <= grad_rtol);
  // |g| per weight (this first gradient is the step's, up to one common clipping scale) and the
  // rounding bound below which its sign is undetermined
  double ss = 0;
  for (size_t i = 0; i < one.n_params; i++) ss += trainer_grad(&one, i) * trainer_grad(&one, i);
  double g_undetermined = grad_rtol * sqrt(ss / (double)one.n_params);
  double *g = xmalloc(sizeof(double) * one.n_params);
  for (size_t i = 0; i < one.n_params; i++) g[i] = fabs(trainer_grad(&one, i));
  // a whole step each: same loss, then the same weights
  TrainStepStats s1, s2;
  EXPECT(trainer_step(&one, seqs, &s1, &err) == 0);
  EXPECT(trainer_step(&many, seqs, &s2, &err) == 0);
  EXPECT_NEAR(s2.loss, s1.loss, nll_rtol, nll_rtol * lnV);
  EXPECT_NEAR(s2.grad_norm, s1.grad_norm, grad_rtol, 0);
  double worst = 0, cap = 2 * c.lr * (1 + c.weight_decay);
  size_t undetermined = 0;
  for (size_t i = 0; i < one.n_params; i++) {
    double d = fabs(trainer_param(&many, i) - trainer_param(&one, i));
    if (g[i] <= 2 * g_undetermined) {
      undetermined++;
      EXPECT(d <= cap);
    } else if (d > worst) {
      worst = d;
    }
  }
  printf("  worst weight gap after a step %.2e (lr %g); %zu of %zu gradients within rounding of 0\n",
         worst, c.lr, undetermined, one.n_params);
  EXPECT(worst < c.lr * 1e-2);
  free(g);
  free(seqs);
  trainer_free(&one);
  trainer_free(&many);
  rope_table_free(&rt);
}

TEST(passes_of_several_sequences_fp64) {
  passes_match(TRAIN_CPU_F64, 0, 70);
  passes_match(TRAIN_CPU_F64, 1, 9);
}

TEST(passes_of_several_sequences_fp32) { passes_match(TRAIN_CPU_F32, 1, 33); }

// The bf16 element types (emulated): every buffer of the right kind, so the step tracks the fp32
// reference to bf16 rounding: loss to a few 1e-3, gradient norm to about 1e-2; and the weights
// move the same way over a few steps.
TEST(bf16_types_track_fp32) {
  long T = 40, B = 3;
  TrainConfig c = small_config(0, T, B);
  RopeTable rt;
  make_rope(&c, &rt);
  Trainer ref, emu;
  EXPECT(init_on(&ref, &c, &rt, TRAIN_CPU_F32, 0, NULL) == 0);
  EXPECT(init_on(&emu, &c, &rt, TRAIN_CPU_F32, 0, train_emu_ops()) == 0);
  EXPECT_INT_EQ(emu.seqs_per_pass, B);
  EXPECT(emu.d_mat != emu.d_params);
  BenchErr err;
  double worst_loss = 0, worst_norm = 0;
  for (int s = 0; s < 4; s++) {
    int32_t *seqs = random_seqs(B, T, c.vocab_size, 100 + (uint64_t)s);
    TrainStepStats a, b;
    EXPECT(trainer_step(&ref, seqs, &a, &err) == 0);
    EXPECT(trainer_step(&emu, seqs, &b, &err) == 0);
    double dl = fabs(b.loss - a.loss) / a.loss, dn = fabs(b.grad_norm - a.grad_norm) / a.grad_norm;
    if (dl > worst_loss) worst_loss = dl;
    if (dn > worst_norm) worst_norm = dn;
    free(seqs);
  }
  printf("  emulated bf16 vs fp32 over 4 steps: loss within %.2e, gradient norm within %.2e\n",
         worst_loss, worst_norm);
  EXPECT(worst_loss < 5e-3);
  EXPECT(worst_norm < 3e-2);
  // the bf16 copy follows the master weights
  const uint16_t *m = emu.d_mat;
  size_t bad = 0;
  for (size_t i = 0; i < emu.n_params; i++)
    if (m[i] != st_f32_to_bf16(((const float *)emu.params)[i])) bad++;
  EXPECT_INT_EQ(bad, 0);
  trainer_free(&ref);
  trainer_free(&emu);
  rope_table_free(&rt);
}

// A CUDA compute is refused with a message when it cannot run here (no GPU opened, or a build
// without CUDA), never a crash.
TEST(cuda_compute_without_a_device_is_an_error) {
  TrainConfig c = small_config(1, 8, 1);
  RopeTable rt;
  make_rope(&c, &rt);
  Trainer t;
  TrainDevice dev = {.compute = TRAIN_CUDA_BF16};
  BenchErr err;
  EXPECT(trainer_init_on(&t, &c, &rt, &dev, &err) != 0);
  EXPECT_CONTAINS(err.msg, "cuda");
  rope_table_free(&rt);
}

// Which trainer a training job uses: the CPU unless the lane is a GPU; then bf16 → cuda-bf16.
TEST(training_jobs_pick_their_trainer) {
  TrainDevice d;
  int gpu;
  EXPECT_INT_EQ(train_job_device("cpu", "bf16", &d, &gpu), 0);
  EXPECT_INT_EQ(d.compute, TRAIN_CPU_F32);
  EXPECT_INT_EQ(train_job_device("cuda:1", "bf16", &d, &gpu), 1);
  EXPECT_INT_EQ(d.compute, TRAIN_CUDA_BF16);
  EXPECT_INT_EQ(gpu, 1);
  EXPECT_INT_EQ(train_job_device("cuda", "fp32", &d, &gpu), 1);
  EXPECT_INT_EQ(d.compute, TRAIN_CUDA_F32);
  EXPECT_INT_EQ(gpu, 0);
  EXPECT_INT_EQ(train_job_device("cuda:0", "fp16", &d, &gpu), 1);
  EXPECT_INT_EQ(d.compute, TRAIN_CUDA_F32);
}

int main(void) {
  RUN(passes_of_several_sequences_fp64);
  RUN(passes_of_several_sequences_fp32);
  RUN(bf16_types_track_fp32);
  RUN(cuda_compute_without_a_device_is_an_error);
  RUN(training_jobs_pick_their_trainer);
  TEST_SUMMARY();
}
