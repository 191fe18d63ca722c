// test_determinism.c — results that must be identical are identical, bit for bit, however OpenMP
// happens to schedule: a resumed training run, two shards, the same job twice on one machine. Each
// computation runs three ways with the same thread setting — as is; inside an outer parallel
// region, where OpenMP grants each inner region one thread (as a busy machine with OMP_DYNAMIC,
// or a thread limit, may grant fewer); and while a second process keeps every core busy — and the
// bits must agree. A reduction whose grouping follows the threads actually granted, or whose
// partial sums are combined in the order threads finish, fails here.
#include <jansson.h>
#include <omp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "forward.h"
#include "random_model.h"
#include "rope.h"
#include "test.h"
#include "train.h"

enum { AS_IS, ONE_THREAD_TEAMS, UNDER_LOAD, N_WAYS };
static const char *way_names[N_WAYS] = {"as is", "one-thread teams", "under load"};

// A child process spinning on every core until killed.
static pid_t start_load(void) {
  pid_t pid = fork();
  if (pid == 0) {
    setpgid(0, 0);  // a group of its own, killed as one
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    for (long i = 1; i < n; i++)
      if (fork() == 0) break;
    volatile unsigned long x = 0;
    for (;;) x++;
  }
  if (pid > 0) setpgid(pid, pid);
  usleep(50000);  // let it take the cores
  return pid;
}

static void stop_load(pid_t pid) {
  if (pid <= 0) return;
  kill(-pid, SIGKILL);
  waitpid(pid, NULL, 0);
}

typedef void (*Computation)(void *state);

// Runs f(state) one of the three ways.
static void run_way(int way, Computation f, void *state) {
  if (way == ONE_THREAD_TEAMS) {
    int levels = omp_get_max_active_levels();
    omp_set_max_active_levels(1);
#pragma omp parallel num_threads(2)
    {
#pragma omp single
      f(state);
    }
    omp_set_max_active_levels(levels);
  } else if (way == UNDER_LOAD) {
    pid_t load = start_load();
    f(state);
    stop_load(load);
  } else {
    f(state);
  }
}

// ---- training: three optimizer steps of a small Llama on two threads ----
typedef struct {
  TrainConfig c;
  RopeTable rt;
  int32_t *seqs;
  float *params;     // [n_params] after the steps
  size_t n_params;
  double loss[3], grad_norm[3];
} TrainCase;

static void train_steps(void *v) {
  TrainCase *tc = v;
  Trainer t;
  BenchErr err;
  if (trainer_init(&t, &tc->c, &tc->rt, 0, &err) != 0) {
    TEST_FAIL_AT("trainer_init: %s", err.msg);
    return;
  }
  for (int s = 0; s < 3; s++) {
    TrainStepStats st;
    if (trainer_step(&t, tc->seqs, &st, &err) != 0) TEST_FAIL_AT("trainer_step: %s", err.msg);
    tc->loss[s] = st.loss;
    tc->grad_norm[s] = st.grad_norm;
  }
  tc->n_params = t.n_params;
  tc->params = xmalloc(sizeof(float) * t.n_params);
  memcpy(tc->params, t.params, sizeof(float) * t.n_params);
  trainer_free(&t);
}

TEST(training_steps_are_bit_identical_however_scheduled) {
  TrainCase ways[N_WAYS];
  long T = 150, B = 3;  // 3 attention strips × 4 heads: strips share slots on two threads
  for (int w = 0; w < N_WAYS; w++) {
    TrainCase *tc = &ways[w];
    memset(tc, 0, sizeof *tc);
    train_config_defaults(&tc->c);
    tc->c.n_layers = 2;
    tc->c.hidden_size = 32;
    tc->c.n_heads = 4;
    tc->c.n_kv_heads = 2;
    tc->c.intermediate_size = 48;
    tc->c.vocab_size = 61;
    tc->c.seq_len = T;
    tc->c.batch = B;
    tc->c.steps = 3;
    tc->c.lr = 3e-3;
    tc->c.warmup = 1;
    tc->c.seed = 5;
    tc->c.init_std = 0.2;
    tc->c.threads = 2;
    json_t *spec = json_loads("{\"name\":\"g\",\"type\":\"geometric\",\"theta\":10000}", 0, NULL);
    RopeModelInfo info;
    train_rope_info(&tc->c, 0, &info);
    BenchErr err;
    CHECK(rope_build(spec, &info, T, &tc->rt, &err) == 0);
    json_decref(spec);
    tc->seqs = rm_tokens(B * (T + 1), tc->c.vocab_size, 9);
    run_way(w, train_steps, tc);
  }
  for (int w = 1; w < N_WAYS; w++) {
    TrainCase *a = &ways[AS_IS], *b = &ways[w];
    if (!a->params || !b->params || a->n_params != b->n_params) {
      TEST_FAIL_AT("%s: no parameters to compare", way_names[w]);
      continue;
    }
    EXPECT(memcmp(a->loss, b->loss, sizeof a->loss) == 0);
    EXPECT(memcmp(a->grad_norm, b->grad_norm, sizeof a->grad_norm) == 0);
    size_t bad = 0;
    for (size_t i = 0; i < a->n_params; i++) bad += memcmp(&a->params[i], &b->params[i], sizeof(float)) != 0;
    if (bad) TEST_FAIL_AT("%s: %zu of %zu weights differ from the run as is", way_names[w], bad, a->n_params);
  }
  for (int w = 0; w < N_WAYS; w++) {
    free(ways[w].params);
    free(ways[w].seqs);
    rope_table_free(&ways[w].rt);
  }
}

// ---- evaluation: one window through the CPU forward on two threads, fp32 and fp64 check ----
typedef struct {
  const Model *m;
  const RopeTable *rope;
  const int32_t *tokens;
  long T;
  int fp64;
  float *nll;
  uint8_t *correct;
} EvalCase;

static void eval_window(void *v) {
  EvalCase *ec = v;
  ForwardOptions opt = {.threads = 2, .fp64_check = ec->fp64, .block_tokens = 96};
  BenchErr err;
  if (forward_score_window(ec->m, ec->rope, ec->tokens, ec->T, 0, ec->nll, ec->correct, &opt, &err))
    TEST_FAIL_AT("forward: %s", err.msg);
}

TEST(evaluation_is_bit_identical_however_scheduled) {
  enum { T = 300 };
  ModelConfig cfg = rm_config(ARCH_LLAMA, 97, 64, 2, 4, 2, 96, 1.0);
  Model m;
  rm_init(&m, &cfg, 3);
  RopeTable rope = rm_rope(cfg.rotary_dims, 10000.0, 1.0);
  int32_t *tokens = rm_tokens(T, cfg.vocab_size, 4);
  for (int fp64 = 0; fp64 < 2; fp64++) {
    float nll[N_WAYS][T];
    uint8_t correct[N_WAYS][T];
    for (int w = 0; w < N_WAYS; w++) {
      EvalCase ec = {&m, &rope, tokens, T, fp64, nll[w], correct[w]};
      run_way(w, eval_window, &ec);
    }
    for (int w = 1; w < N_WAYS; w++) {
      if (memcmp(nll[AS_IS], nll[w], sizeof(float) * (T - 1)) != 0)
        TEST_FAIL_AT("fp64 %d, %s: token NLLs differ from the run as is", fp64, way_names[w]);
      EXPECT(memcmp(correct[AS_IS], correct[w], T - 1) == 0);
    }
  }
  free(tokens);
  rm_rope_free(&rope);
  rm_free(&m);
}

int main(void) {
  RUN(training_steps_are_bit_identical_however_scheduled);
  RUN(evaluation_is_bit_identical_however_scheduled);
  TEST_SUMMARY();
}
