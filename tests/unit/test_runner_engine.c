// test_runner_engine.c — the worker's engine (runner_engine.h) on the CPU: opened once per
// (model, dtype) and reused, reopened when either changes; closed after running out of memory and
// reopened for the next job; a device error, or a reopening that fails, asks for a fresh worker; a
// device that cannot be opened at all fails every later job with the reason; GPU jobs refused
// on a GPU that failed its check and on a machine without a GPU. And the run order that keeps an engine's
// jobs together.
#include <stdlib.h>
#include <string.h>

#include "device.h"
#include "random_model.h"
#include "plan_warnings.h"
#include "run_plan.h"
#include "runner_engine.h"
#include "runner_job.h"
#include "test.h"

TEST(engine_opens_once_per_model_and_dtype) {
  ModelConfig cfg = rm_config(ARCH_LLAMA, 64, 32, 1, 2, 1, 48, 1.0);
  Model a, b;
  rm_init(&a, &cfg, 1);
  rm_init(&b, &cfg, 2);
  WorkerEngine we;
  worker_engine_init(&we, "cpu", NULL);
  BenchErr err;
  const Engine *e1, *e2;
  EXPECT_INT_EQ(worker_engine_get(&we, &a, "model:a", DTYPE_F32, &e1, &err), 0);
  EXPECT_STR_EQ(e1->device, "cpu");
  EXPECT_STR_EQ(engine_compute_dtype(e1), "fp32");
  EXPECT(e1->model == &a);
  LayerWeights *layers = e1->weights.layers;  // the engine's own copy: the same while it stays open
  EXPECT_INT_EQ(worker_engine_get(&we, &a, "model:a", DTYPE_F32, &e2, &err), 0);
  EXPECT(e2 == e1 && e2->weights.layers == layers);
  // another dtype or another model: a new engine
  EXPECT_INT_EQ(worker_engine_get(&we, &a, "model:a", DTYPE_BF16, &e2, &err), 0);
  EXPECT_INT_EQ(we.dtype, DTYPE_BF16);
  EXPECT_INT_EQ(worker_engine_get(&we, &b, "model:b", DTYPE_BF16, &e2, &err), 0);
  EXPECT(e2->model == &b);
  EXPECT_STR_EQ(we.key, "model:b");
  // closing unless on a key
  worker_engine_close_unless(&we, "model:b");
  EXPECT_INT_EQ(we.open, 1);
  worker_engine_close_unless(&we, "train:x");
  EXPECT_INT_EQ(we.open, 0);
  worker_engine_close_unless(&we, NULL);
  rm_free(&a);
  rm_free(&b);
}

TEST(engine_after_a_failed_job) {
  ModelConfig cfg = rm_config(ARCH_LLAMA, 64, 32, 1, 2, 1, 48, 1.0);
  Model m;
  rm_init(&m, &cfg, 3);
  WorkerEngine we;
  worker_engine_init(&we, "cpu", NULL);
  BenchErr err;
  const Engine *e;
  EXPECT_INT_EQ(worker_engine_get(&we, &m, "model:m", DTYPE_F32, &e, &err), 0);
  // input errors leave it open
  EXPECT_INT_EQ(worker_engine_failed(&we, "dataset 'd' has 10 tokens; length 64 × 1 windows needs 64"),
                ENGINE_KEPT);
  EXPECT_INT_EQ(we.open, 1);
  // out of memory closes it; the next job reopens it
  EXPECT_INT_EQ(worker_engine_failed(&we, "window 0: out of memory: kv cache of 9 tokens"), ENGINE_CLOSED);
  EXPECT_INT_EQ(we.open, 0);
  EXPECT_INT_EQ(worker_engine_get(&we, &m, "model:m", DTYPE_F32, &e, &err), 0);
  EXPECT_INT_EQ(we.open, 1);
  // a device error: closed, and the worker is to be replaced
  EXPECT_INT_EQ(worker_engine_failed(&we, "cuda error 'cudaErrorIllegalAddress' on cuda:0: an illegal "
                                          "memory access (the device needs a fresh process)"),
                ENGINE_REPLACE);
  EXPECT_INT_EQ(we.open, 0);
  // nothing open: nothing to do
  EXPECT_INT_EQ(worker_engine_failed(&we, "out of memory: x"), ENGINE_KEPT);
  // a device that opened before in this process and now cannot: a fresh worker may open it
  we.open_fault = "cannot open the device: test";
  EXPECT_INT_EQ(worker_engine_get(&we, &m, "model:m", DTYPE_F32, &e, &err), -1);
  EXPECT_STR_EQ(we.unusable, "");
  EXPECT_INT_EQ(worker_engine_failed(&we, err.msg), ENGINE_REPLACE);
  worker_engine_close_unless(&we, NULL);
  rm_free(&m);
}

TEST(unusable_device_fails_every_later_job) {
  ModelConfig cfg = rm_config(ARCH_LLAMA, 64, 32, 1, 2, 1, 48, 1.0);
  Model m;
  rm_init(&m, &cfg, 4);
  BenchErr err;
  const Engine *e;
  WorkerEngine we;
  worker_engine_init(&we, "cpu", NULL);
  we.open_fault = "cannot open the device: test";
  EXPECT_INT_EQ(worker_engine_get(&we, &m, "model:m", DTYPE_F32, &e, &err), -1);
  EXPECT_STR_EQ(err.msg, "cpu: cannot open the device: test");
  we.open_fault = NULL;  // would open now, but the device was found unusable in this worker
  EXPECT_INT_EQ(worker_engine_get(&we, &m, "model:n", DTYPE_BF16, &e, &err), -1);
  EXPECT_STR_EQ(err.msg, "cpu: cannot open the device: test");
  EXPECT_INT_EQ(worker_engine_usable(&we, &err), -1);
  worker_engine_close_unless(&we, NULL);

  // a GPU that failed its check: its worker refuses every job with the reason
  worker_engine_init(&we, "cuda:0", "GPU check failed on cuda:0: kernels: attention");
  EXPECT_INT_EQ(worker_engine_usable(&we, &err), -1);
  EXPECT_CONTAINS(err.msg, "GPU check failed on cuda:0");
  EXPECT_INT_EQ(worker_engine_get(&we, &m, "model:m", DTYPE_F32, &e, &err), -1);
  worker_engine_close_unless(&we, NULL);

  // no GPU here (or no CUDA in this build): the engine's reason, every job
  if (device_gpu_count() == 0) {
    worker_engine_init(&we, "cuda:0", NULL);
    EXPECT_INT_EQ(worker_engine_usable(&we, &err), 0);
    EXPECT_INT_EQ(worker_engine_get(&we, &m, "model:m", DTYPE_BF16, &e, &err), -1);
    EXPECT_CONTAINS(err.msg, "cuda");
    char first[BENCH_ERR_MAX];
    snprintf(first, sizeof first, "%s", err.msg);
    EXPECT_INT_EQ(worker_engine_get(&we, &m, "model:m", DTYPE_F32, &e, &err), -1);
    EXPECT_STR_EQ(err.msg, first);
    worker_engine_close_unless(&we, NULL);
  }
  rm_free(&m);
}

// An allocation failure is oom whichever words it uses ("out of memory" or "cannot allocate", as
// status_for_error records it): the engine closes after it, and an opening that fails with it
// leaves the device usable for the next job (memory may be there for a smaller model or dtype).
TEST(cannot_allocate_is_out_of_memory) {
  ModelConfig cfg = rm_config(ARCH_LLAMA, 64, 32, 1, 2, 1, 48, 1.0);
  Model m;
  rm_init(&m, &cfg, 5);
  BenchErr err;
  const Engine *e;
  WorkerEngine we;
  worker_engine_init(&we, "cpu", NULL);
  const char *msg = "cannot allocate the cuBLASLt workspace: test";
  EXPECT_INT_EQ(status_for_error(msg), JOB_OOM);
  we.open_fault = msg;
  EXPECT_INT_EQ(worker_engine_get(&we, &m, "model:m", DTYPE_F32, &e, &err), -1);
  EXPECT_STR_EQ(we.unusable, "");
  EXPECT_INT_EQ(worker_engine_failed(&we, err.msg), ENGINE_KEPT);
  we.open_fault = NULL;
  EXPECT_INT_EQ(worker_engine_get(&we, &m, "model:m", DTYPE_F32, &e, &err), 0);
  EXPECT_INT_EQ(worker_engine_failed(&we, "window 0: cannot allocate 3.0 GiB"), ENGINE_CLOSED);
  EXPECT_INT_EQ(we.open, 0);
  worker_engine_close_unless(&we, NULL);
  rm_free(&m);
}

// Jobs of one model run grouped by (device, dtype) in order of first appearance, each group in
// matrix order: an engine uploads a model's weights once per dtype.
TEST(run_order_keeps_engines_together) {
  char tmpl[] = "/tmp/test_runner_engine.XXXXXX";
  char *dir = mkdtemp(tmpl);
  CHECK(dir != NULL);
  const char *text =
      "suite: t\n"
      "defaults: { model: m, dataset: d, lengths: [64, 128], seeds: [1], rope: geo, cache: full }\n"
      "models: { m: { path: no-such-model }, n: { path: no-such-other } }\n"
      "datasets: { d: { path: no-such-data.txt } }\n"
      "rope: { geo: { type: geometric, theta: 10000 }, geo2: { type: geometric, theta: 500000 } }\n"
      "cache: { full: { type: full } }\n"
      "phases:\n"
      "  - id: a\n"
      "    rope: [geo, geo2]\n"
      "    dtype: [fp32, bf16]\n"
      "  - id: b\n"
      "    model: n\n"
      "  - id: c\n"
      "    device: [cpu, auto]\n";
  Diagnostics d = {0};
  Suite *s = suite_load_buffer("t.yaml", dir, text, strlen(text), &d);
  EXPECT(s != NULL);
  Matrix mx;
  BenchErr err;
  if (!s || matrix_build(s, &mx, &err) != 0) {
    diagnostics_free(&d);
    suite_free(s);
    return;
  }
  RunSelection sel;
  ModelShape *shapes = suite_model_shapes(s, &mx, NULL);
  run_select(s, &mx, NULL, 0, 0, 0, shapes, &sel);
  free(shapes);
  EXPECT_INT_EQ(sel.n, mx.n_jobs);
  // model groups in order; within one, engines never come back once left; matrix order inside
  int engines_seen[64] = {0};
  for (long k = 0; k < sel.n; k++) {
    const RunJob *r = &sel.jobs[k];
    if (k > 0) {
      const RunJob *p = &sel.jobs[k - 1];
      EXPECT(p->group <= r->group);
      if (p->group == r->group && p->engine == r->engine) EXPECT(p->index < r->index);
      if (p->engine != r->engine) {
        EXPECT(r->engine < 64 && !engines_seen[r->engine]);
        EXPECT(strcmp(p->job->dtype, r->job->dtype) != 0 || strcmp(p->job->device, r->job->device) != 0 ||
               p->job->model != r->job->model);
      }
    }
    if (r->engine < 64) engines_seen[r->engine] = 1;
  }
  // phase a's 8 jobs: the 4 fp32 ones first, then the 4 bf16 ones
  long fp32_last = -1, bf16_first = sel.n;
  for (long k = 0; k < sel.n; k++) {
    const Job *j = sel.jobs[k].job;
    if (j->model != &s->models[0] || strcmp(j->device, "auto") != 0) continue;
    if (strcmp(j->dtype, "fp32") == 0) fp32_last = k;
    else if (bf16_first == sel.n) bf16_first = k;
  }
  EXPECT(fp32_last < bf16_first);
  run_selection_free(&sel);
  matrix_free(&mx);
  diagnostics_free(&d);
  suite_free(s);
  char *cmd = xasprintf("rm -rf '%s'", dir);
  int rc = system(cmd);
  (void)rc;
  free(cmd);
}

// device_gpu_count initialises CUDA where this bench has it: the supervisor must know.
TEST(device_queries_mark_cuda_as_touched) {
  device_gpu_count();
  EXPECT_INT_EQ(device_cuda_touched(), strcmp(device_backends_built(), "cpu") != 0);
}

int main(void) {
  RUN(engine_opens_once_per_model_and_dtype);
  RUN(engine_after_a_failed_job);
  RUN(unusable_device_fails_every_later_job);
  RUN(cannot_allocate_is_out_of_memory);
  RUN(run_order_keeps_engines_together);
  RUN(device_queries_mark_cuda_as_touched);
  TEST_SUMMARY();
}
