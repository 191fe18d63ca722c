// test_train.c — the trainer: gradients against finite differences (fp64 trainer), fp32 against
// fp64, the training loss against the evaluation forward, schedule, data order, AdamW, loss
// falling, and the PyTorch reference fixture (tests/reference/make_train_fixtures.py).
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "forward.h"
#include "model.h"
#include "rope.h"
#include "test.h"
#include "train.h"
#include "train_internal.h"
#include <unistd.h>

// A tiny Llama: L 2, C 16, H 4, K 2 (D 4), F 24, V 37.
static TrainConfig tiny_config(int tied, long T, long B) {
  TrainConfig c;
  train_config_defaults(&c);
  c.n_layers = 2;
  c.hidden_size = 16;
  c.n_heads = 4;
  c.n_kv_heads = 2;
  c.intermediate_size = 24;
  c.vocab_size = 37;
  c.tie_embeddings = tied;
  c.seq_len = T;
  c.batch = B;
  c.steps = 10;
  c.lr = 1e-2;
  c.warmup = 2;
  c.seed = 7;
  c.init_std = 0.3;  // larger than 0.02 so every path carries a gradient well above rounding
  return c;
}

static int build_rope(const char *spec_text, const TrainConfig *c, long eval_len, RopeTable *rt) {
  json_error_t je;
  json_t *spec = json_loads(spec_text, 0, &je);
  if (!spec) return -1;
  RopeModelInfo info;
  train_rope_info(c, 0, &info);
  BenchErr err;
  int rc = rope_build(spec, &info, eval_len, rt, &err);
  if (rc) fprintf(stderr, "rope: %s\n", err.msg);
  json_decref(spec);
  return rc;
}

static void random_tokens(int32_t *x, long n, int V, uint64_t seed) {
  Rng r;
  rng_seed(&r, seed);
  for (long i = 0; i < n; i++) x[i] = (int32_t)rng_below(&r, (uint64_t)V);
}

static double loss_of(Trainer *t, const int32_t *seqs, long n) {
  double nll;
  BenchErr err;
  CHECK(trainer_forward_backward(t, seqs, n, 0, 0, &nll, &err) == 0);
  return nll;
}

// Every tensor: a few elements' analytic gradient of Σ nll against central differences.
static void grad_check(const char *rope_spec, int tied, long T) {
  TrainConfig c = tiny_config(tied, T, 2);
  RopeTable rt;
  EXPECT(build_rope(rope_spec, &c, T, &rt) == 0);
  Trainer t;
  BenchErr err;
  EXPECT(trainer_init(&t, &c, &rt, 1, &err) == 0);
  long n = 2 * (T + 1);
  int32_t *seqs = malloc(sizeof(int32_t) * n);
  random_tokens(seqs, n, c.vocab_size, 99);
  double nll;
  trainer_zero_grad(&t);
  EXPECT(trainer_forward_backward(&t, seqs, 2, 1.0, 1, &nll, &err) == 0);
  EXPECT_NEAR(loss_of(&t, seqs, 2), nll, 1e-12, 0);
  Rng r;
  rng_seed(&r, 5);
  double worst = 0;
  for (int i = 0; i < t.n_tensors; i++) {
    const TrainTensor *tt = &t.tensors[i];
    for (int s = 0; s < 6; s++) {
      size_t j = tt->offset + rng_below(&r, tt->numel);
      double x0 = trainer_param(&t, j), h = 1e-5;
      trainer_set_param(&t, j, x0 + h);
      double up = loss_of(&t, seqs, 2);
      trainer_set_param(&t, j, x0 - h);
      double down = loss_of(&t, seqs, 2);
      trainer_set_param(&t, j, x0);
      double fd = (up - down) / (2 * h), g = trainer_grad(&t, j);
      double e = fabs(fd - g) / (1e-6 + fabs(fd));
      if (e > worst) worst = e;
      if (!(fabs(fd - g) <= 1e-7 + 1e-5 * fabs(fd)))
        TEST_FAIL_AT("%s (%s, tied %d) element %zu: analytic %.12g, finite difference %.12g",
                     tt->name, rope_spec, tied, j - tt->offset, g, fd);
    }
  }
  printf("  grad check %-70s tied %d T %ld: worst relative error %.2e\n", rope_spec, tied, T, worst);
  free(seqs);
  trainer_free(&t);
  rope_table_free(&rt);
}

TEST(grad_check_geometric_tied) { grad_check("{\"name\":\"g\",\"type\":\"geometric\",\"theta\":10000}", 1, 9); }
TEST(grad_check_geometric_untied_two_strips) {
  grad_check("{\"name\":\"g\",\"type\":\"geometric\",\"theta\":500}", 0, 70);
}
TEST(grad_check_yarn_scale) {
  grad_check("{\"name\":\"y\",\"type\":\"yarn\",\"factor\":4,\"original_max_position_embeddings\":8}", 0, 12);
}
TEST(grad_check_compress_positions) {
  grad_check("{\"name\":\"c\",\"type\":\"compress\",\"threshold\":5,\"factor\":3,"
             "\"base\":{\"name\":\"b\",\"type\":\"anchored_poly\",\"theta\":10000,\"p\":3.9,\"omf\":0.3}}",
             1, 11);
}
TEST(grad_check_hybrid) {
  grad_check("{\"name\":\"h\",\"type\":\"hybrid\",\"theta\":100000,\"alpha\":0.2,\"p\":3.9,\"omf\":0.3}", 0, 10);
}

// The fp32 trainer agrees with the fp64 one from the same initial draw: the NLL sum to the fp32
// bound of a decoder's chain of sums (test.h: 2·γ̃_K·(nll + ln V), K = 393 here, 1.9e-5); a
// gradient element adds the 2·T tokens' contributions after a backward chain as long again, so
// within 2·γ̃_{2K+2T}·Σ|contributions| ≤ 2·γ̃_{2K+2T}·2T·(RMS + |g|) (each contribution taken as
// at most the RMS or the element itself): 4.1e-3 here, far below what a wrong gradient gives.
TEST(fp32_matches_fp64) {
  long T = 70;
  TrainConfig c = tiny_config(0, T, 2);
  RopeTable rt;
  EXPECT(build_rope("{\"name\":\"g\",\"type\":\"geometric\",\"theta\":10000}", &c, T, &rt) == 0);
  Trainer a, b;
  BenchErr err;
  EXPECT(trainer_init(&a, &c, &rt, 0, &err) == 0);
  EXPECT(trainer_init(&b, &c, &rt, 1, &err) == 0);
  for (size_t i = 0; i < a.n_params; i++) trainer_set_param(&b, i, trainer_param(&a, i));
  long n = 2 * (T + 1);
  int32_t *seqs = malloc(sizeof(int32_t) * n);
  random_tokens(seqs, n, c.vocab_size, 3);
  double na, nb;
  trainer_zero_grad(&a);
  trainer_zero_grad(&b);
  EXPECT(trainer_forward_backward(&a, seqs, 2, 1.0 / (2 * T), 1, &na, &err) == 0);
  EXPECT(trainer_forward_backward(&b, seqs, 2, 1.0 / (2 * T), 1, &nb, &err) == 0);
  double K = decoder_chain_terms(c.n_layers, c.hidden_size, c.hidden_size / c.n_heads, T,
                                 c.intermediate_size, c.vocab_size);
  double nll_rtol = 2 * fp_gamma_prob(K, FP32_U);  // test.h: over 2·T tokens, atol ln V each
  EXPECT_NEAR(na, nb, nll_rtol, nll_rtol * log((double)c.vocab_size) * 2 * T);
  double scale = trainer_grad_norm(&b) / sqrt((double)b.n_params);
  double grad_rtol = 2 * fp_gamma_prob(2 * K + 2 * T, FP32_U) * 2 * T;
  for (size_t i = 0; i < a.n_params; i++)
    if (!(fabs(trainer_grad(&a, i) - trainer_grad(&b, i)) <= grad_rtol * (scale + fabs(trainer_grad(&b, i))))) {
      TEST_FAIL_AT("grad %zu: fp32 %.9g, fp64 %.9g", i, trainer_grad(&a, i), trainer_grad(&b, i));
      break;
    }
  free(seqs);
  trainer_free(&a);
  trainer_free(&b);
  rope_table_free(&rt);
}

// The training forward scores exactly what the evaluation forward scores: the same NLLs computed
// by another code path (other GEMM shapes and blockings), so equal to the fp32 bound of a
// decoder's chain of sums (test.h: 2·γ̃_K·(Σnll + T·ln V), K = 553 here, 2.2e-5).
static void loss_matches_forward(const char *spec, int tied) {
  long T = 150;
  TrainConfig c = tiny_config(tied, T, 1);
  c.init_std = 0.1;
  RopeTable rt;
  EXPECT(build_rope(spec, &c, T, &rt) == 0);
  Trainer t;
  BenchErr err;
  EXPECT(trainer_init(&t, &c, &rt, 0, &err) == 0);
  int32_t seq[151];
  random_tokens(seq, T + 1, c.vocab_size, 11);
  double nll;
  EXPECT(trainer_forward_backward(&t, seq, 1, 0, 0, &nll, &err) == 0);
  Model m;
  EXPECT(trainer_model_view(&t, &m, &err) == 0);
  float ref[151];
  uint8_t correct[151];
  ForwardOptions opt = {0};
  EXPECT(forward_score_window(&m, &rt, seq, T + 1, 0, ref, correct, &opt, &err) == 0);
  double sum = 0;
  for (long i = 0; i < T; i++) sum += ref[i];
  double rtol = decoder_nll_rtol(c.n_layers, c.hidden_size, c.hidden_size / c.n_heads, T,
                                 c.intermediate_size, c.vocab_size, FP32_U);
  EXPECT_NEAR(nll, sum, rtol, rtol * log((double)c.vocab_size) * T);
  model_free(&m);
  trainer_free(&t);
  rope_table_free(&rt);
}

TEST(loss_matches_forward_geometric) {
  loss_matches_forward("{\"name\":\"g\",\"type\":\"geometric\",\"theta\":10000}", 1);
}
TEST(loss_matches_forward_yarn_compress) {
  loss_matches_forward("{\"name\":\"y\",\"type\":\"yarn\",\"factor\":4,\"original_max_position_embeddings\":32}", 0);
  loss_matches_forward("{\"name\":\"c\",\"type\":\"compress\",\"threshold\":40,\"factor\":4,"
                       "\"base\":{\"name\":\"b\",\"type\":\"geometric\",\"theta\":10000}}", 1);
}

TEST(lr_schedule) {
  TrainConfig c = tiny_config(1, 8, 1);
  c.steps = 110;
  c.warmup = 10;
  c.lr = 1e-3;
  c.min_lr = 1e-4;
  EXPECT_NEAR(train_lr_at(&c, 0), 1e-4, 1e-12, 0);
  EXPECT_NEAR(train_lr_at(&c, 9), 1e-3, 1e-12, 0);
  EXPECT_NEAR(train_lr_at(&c, 10), 1e-3, 1e-12, 0);
  EXPECT_NEAR(train_lr_at(&c, 60), 5.5e-4, 1e-12, 0);
  EXPECT_NEAR(train_lr_at(&c, 110), 1e-4, 1e-12, 0);
  c.schedule = SCHED_LINEAR;
  EXPECT_NEAR(train_lr_at(&c, 35), 1e-3 - 9e-4 * 0.25, 1e-12, 0);
  c.schedule = SCHED_CONSTANT;
  EXPECT_NEAR(train_lr_at(&c, 100), 1e-3, 1e-12, 0);
  c.warmup = 0;
  c.schedule = SCHED_COSINE;
  EXPECT_NEAR(train_lr_at(&c, 0), 1e-3, 1e-12, 0);
}

TEST(data_order_is_a_permutation_per_epoch) {
  DataOrder o;
  BenchErr err;
  EXPECT(data_order_init(&o, 1001, 10, 42, &err) == 0);
  EXPECT_INT_EQ(o.n_seq, 100);
  int seen[100] = {0};
  long first[100];
  for (long k = 0; k < 100; k++) {
    long s = data_order_start(&o, k);
    first[k] = s;
    EXPECT(s % 10 == 0 && s / 10 < 100);
    seen[s / 10]++;
  }
  for (int i = 0; i < 100; i++) EXPECT_INT_EQ(seen[i], 1);
  int differ = 0;
  for (long k = 100; k < 200; k++) differ += data_order_start(&o, k) != first[k - 100];
  EXPECT(differ > 50);  // epoch 2 is another permutation
  for (long k = 0; k < 100; k++) EXPECT_INT_EQ(data_order_start(&o, k), first[k]);  // reproducible
  DataOrder o2;
  EXPECT(data_order_init(&o2, 1001, 10, 43, &err) == 0);
  differ = 0;
  for (long k = 0; k < 100; k++) differ += data_order_start(&o2, k) != first[k];
  EXPECT(differ > 50);
  data_order_free(&o);
  data_order_free(&o2);
  EXPECT(data_order_init(&o, 10, 10, 1, &err) != 0);
  EXPECT_CONTAINS(err.msg, "do not make one sequence");
}

// AdamW on one scalar against the formula written out.
TEST(adamw_matches_formula) {
  TrainConfig c = tiny_config(1, 4, 1);
  RopeTable rt;
  EXPECT(build_rope("{\"name\":\"g\",\"type\":\"geometric\",\"theta\":10000}", &c, 4, &rt) == 0);
  Trainer t;
  BenchErr err;
  EXPECT(trainer_init(&t, &c, &rt, 1, &err) == 0);
  size_t wi = t.tensors[1 + TT_Q].offset, ni = t.tensors[1 + TT_ATTN_NORM].offset;
  double pw = trainer_param(&t, wi), pn = trainer_param(&t, ni), m = 0, v = 0, mn = 0, vn = 0;
  for (int s = 1; s <= 3; s++) {
    trainer_zero_grad(&t);
    double g = 0.1 * s - 0.15;
    ((double *)t.grads)[wi] = g;
    ((double *)t.grads)[ni] = g;
    double lr = 0.01 * s;
    trainer_adamw(&t, lr);
    m = 0.9 * m + 0.1 * g;
    v = 0.95 * v + 0.05 * g * g;
    mn = m;
    vn = v;
    double mh = m / (1 - pow(0.9, s)), vh = v / (1 - pow(0.95, s));
    pw = pw * (1 - lr * 0.1) - lr * mh / (sqrt(vh) + 1e-8);
    pn = pn - lr * (mn / (1 - pow(0.9, s))) / (sqrt(vn / (1 - pow(0.95, s))) + 1e-8);
    EXPECT_NEAR(trainer_param(&t, wi), pw, 1e-12, 1e-14);
    EXPECT_NEAR(trainer_param(&t, ni), pn, 1e-12, 1e-14);  // no decay on norm weights
  }
  EXPECT_INT_EQ(t.step, 3);
  trainer_free(&t);
  rope_table_free(&rt);
}

// A repeated pattern is learned: the loss falls far below log V within a few dozen steps.
TEST(loss_falls_on_a_pattern) {
  long T = 32, B = 4;
  TrainConfig c = tiny_config(1, T, B);
  c.init_std = 0.02;
  c.steps = 60;
  c.warmup = 5;
  c.lr = 3e-2;
  RopeTable rt;
  EXPECT(build_rope("{\"name\":\"g\",\"type\":\"geometric\",\"theta\":10000}", &c, T, &rt) == 0);
  Trainer t;
  BenchErr err;
  EXPECT(trainer_init(&t, &c, &rt, 0, &err) == 0);
  long n = 4000;
  int32_t *data = malloc(sizeof(int32_t) * n), *batch = malloc(sizeof(int32_t) * B * (T + 1));
  for (long i = 0; i < n; i++) data[i] = (int32_t)((i * 7 + (i / 5) % 3) % 37);
  DataOrder o;
  EXPECT(data_order_init(&o, n, T, 1, &err) == 0);
  TrainStepStats st, first = {0};
  for (long s = 0; s < c.steps; s++) {
    for (long b = 0; b < B; b++)
      memcpy(batch + b * (T + 1), data + data_order_start(&o, s * B + b), sizeof(int32_t) * (T + 1));
    EXPECT(trainer_step(&t, batch, &st, &err) == 0);
    if (s == 0) first = st;
  }
  printf("  pattern: loss %.3f → %.3f\n", first.loss, st.loss);
  EXPECT_NEAR(first.loss, log(37.0), 0.05, 0);
  EXPECT(st.loss < 1.0);
  data_order_free(&o);
  free(data);
  free(batch);
  trainer_free(&t);
  rope_table_free(&rt);
}

TEST(config_errors) {
  TrainConfig c = tiny_config(1, 8, 1);
  BenchErr err;
  c.n_kv_heads = 3;
  EXPECT(train_config_check(&c, &err) != 0);
  EXPECT_CONTAINS(err.msg, "kv_heads");
  c = tiny_config(1, 8, 1);
  c.hidden_size = 12;
  c.n_heads = 4;  // head dim 3: odd
  EXPECT(train_config_check(&c, &err) != 0);
  EXPECT_CONTAINS(err.msg, "even");
  c = tiny_config(1, 8, 1);
  c.min_lr = 1;
  EXPECT(train_config_check(&c, &err) != 0);
  EXPECT_CONTAINS(err.msg, "min_lr");
  c = tiny_config(1, 8, 1);
  EXPECT_INT_EQ(train_n_params(&c), 37 * 16 + 2 * (2 * 16 + 16 * 16 * 2 + 16 * 8 * 2 + 3 * 16 * 24) + 16);
}

// ---- whole runs: checkpoints, resume, reuse, the saved checkpoint ----
static char *tmp_dir(const char *name) {
  const char *base = getenv("BENCH_TEST_TMP");
  char *d = xasprintf("%s/train_%s_%ld", base && base[0] ? base : "/tmp", name, (long)getpid());
  return d;
}

static int files_equal(const char *a, const char *b) {
  char *x, *y;
  size_t nx, ny;
  BenchErr err;
  if (read_file(a, 1 << 28, &x, &nx, &err) || read_file(b, 1 << 28, &y, &ny, &err)) return 0;
  int eq = nx == ny && memcmp(x, y, nx) == 0;
  free(x);
  free(y);
  return eq;
}

TEST(resume_is_bit_identical_and_checkpoint_loads) {
  long T = 16, B = 2;
  TrainConfig c = tiny_config(0, T, B);
  c.init_std = 0.02;
  c.steps = 8;
  c.lr = 1e-2;
  const char *spec_text = "{\"name\":\"h\",\"type\":\"hybrid\",\"theta\":100000,\"alpha\":0.2,\"p\":3.9,\"omf\":0.3}";
  json_t *spec = json_loads(spec_text, 0, NULL);
  RopeTable rt;
  EXPECT(build_rope(spec_text, &c, T, &rt) == 0);
  long n = 3000;
  int32_t *data = malloc(sizeof(int32_t) * n);
  random_tokens(data, n, c.vocab_size, 17);
  char *da = tmp_dir("a"), *db = tmp_dir("b");
  TrainRun run = {.train_ids = data, .n_train = 2000, .val_ids = data + 2000, .n_val = 1000,
                  .val_windows = 3, .eval_every = 4, .save_every = 3, .rope_spec = spec,
                  .rope_theta = train_rope_theta(spec), .bos_token_id = -1, .eos_token_id = 36};
  BenchErr err;
  TrainOutcome oa, ob;
  run.dir = da;
  EXPECT(train_run(&c, &rt, &run, &oa, &err) == 0);
  EXPECT(oa.completed && oa.resumed_from == 0 && oa.record);
  run.dir = db;
  run.stop_after = 5;
  EXPECT(train_run(&c, &rt, &run, &ob, &err) == 0);
  EXPECT(!ob.completed && !ob.record);
  char *ck = xasprintf("%s/checkpoint/trainer_state.json", db);
  EXPECT(file_exists(ck));
  free(ck);
  run.stop_after = 0;
  EXPECT(train_run(&c, &rt, &run, &ob, &err) == 0);
  EXPECT(ob.completed && ob.resumed_from == 3);
  char *ma = xasprintf("%s/model.safetensors", da), *mb = xasprintf("%s/model.safetensors", db);
  EXPECT(files_equal(ma, mb));
  const char *keys[] = {"loss_curve", "val_curve", "grad_norm", "lr", "final_val_loss"};
  for (int i = 0; i < 5; i++)
    if (!json_equal(json_object_get(oa.record, keys[i]), json_object_get(ob.record, keys[i])))
      TEST_FAIL_AT("resumed record differs in '%s'", keys[i]);
  EXPECT_INT_EQ(json_array_size(json_object_get(oa.record, "loss_curve")), 8);
  EXPECT_INT_EQ(json_array_size(json_object_get(oa.record, "val_curve")), 2);
  char *gone = xasprintf("%s/checkpoint", db);
  EXPECT(!is_directory(gone));
  free(gone);

  // a completed model is reused, not retrained; another recipe is refused
  TrainOutcome oc;
  run.dir = da;
  EXPECT(train_run(&c, &rt, &run, &oc, &err) == 0);
  EXPECT(oc.completed && oc.resumed_from == 8);
  EXPECT(json_equal(json_object_get(oc.record, "loss_curve"), json_object_get(oa.record, "loss_curve")));
  json_decref(oc.record);
  TrainConfig c2 = c;
  c2.lr = 2e-2;
  EXPECT(train_run(&c2, &rt, &run, &oc, &err) != 0);
  EXPECT_CONTAINS(err.msg, "another recipe");

  // the checkpoint loads with the engine's loader; rope `model` gives the training frequencies
  Model m;
  EXPECT(model_load(da, &m, &err) == 0);
  EXPECT(m.config.bench_rope_json != NULL);
  EXPECT_INT_EQ(m.config.max_position_embeddings, T);
  EXPECT_NEAR(m.config.rope_theta, 100000, 0, 0);
  EXPECT_INT_EQ(m.config.eos_token_id, 36);
  RopeModelInfo info = {.head_dim = m.config.head_dim, .partial_rotary_factor = 1,
                        .rope_theta = m.config.rope_theta,
                        .max_position_embeddings = m.config.max_position_embeddings,
                        .native_spec_json = m.config.bench_rope_json};
  json_t *native = json_pack("{s:s, s:s}", "name", "native", "type", "model");
  RopeTable rn;
  EXPECT(rope_build(native, &info, 4 * T, &rn, &err) == 0);
  EXPECT_ARRAY_NEAR(rn.inv_freq, rt.inv_freq, rt.rotary_dims / 2, 0, 0);
  float nll[16];
  uint8_t cor[16];
  double sum = 0;
  for (int w = 0; w < 3; w++) {
    EXPECT(forward_score_window(&m, &rn, data + 2000 + w * T, T + 1, 0, nll, cor, NULL, &err) == 0);
    for (int i = 0; i < T; i++) sum += nll[i];
  }
  // the trainer's validation loss is the same windows through its own forward: equal to the fp32
  // bound of a decoder's chain of sums (test.h)
  double rtol = decoder_nll_rtol(c.n_layers, c.hidden_size, c.hidden_size / c.n_heads, T,
                                 c.intermediate_size, c.vocab_size, FP32_U);
  EXPECT_NEAR(sum / (3.0 * T), json_number_value(json_object_get(oa.record, "final_val_loss")),
              rtol, rtol * log((double)c.vocab_size));
  json_decref(native);
  rope_table_free(&rn);
  model_free(&m);

  BenchErr e2;
  train_remove_dir(da, &e2);
  train_remove_dir(db, &e2);
  json_decref(oa.record);
  json_decref(ob.record);
  free(ma);
  free(mb);
  free(da);
  free(db);
  free(data);
  json_decref(spec);
  rope_table_free(&rt);
}

int main(void) {
  RUN(grad_check_geometric_tied);
  RUN(grad_check_geometric_untied_two_strips);
  RUN(grad_check_yarn_scale);
  RUN(grad_check_compress_positions);
  RUN(grad_check_hybrid);
  RUN(fp32_matches_fp64);
  RUN(loss_matches_forward_geometric);
  RUN(loss_matches_forward_yarn_compress);
  RUN(lr_schedule);
  RUN(data_order_is_a_permutation_per_epoch);
  RUN(adamw_matches_formula);
  RUN(loss_falls_on_a_pattern);
  RUN(config_errors);
  RUN(resume_is_bit_identical_and_checkpoint_loads);
  TEST_SUMMARY();
}
