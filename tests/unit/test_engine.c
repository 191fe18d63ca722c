// test_engine.c — device selection and the engine on the CPU: `auto` picks the CPU when no GPU
// is usable, cuda fails with a clear message (no GPU, or a build without CUDA) instead of
// crashing, the engine's forward equals the plain CPU forward bit for bit, the forward refuses
// a device backend without uploaded weights, and dtype names. The CUDA engine itself is tested
// on a GPU machine (tests/gpu/).
#include <stdlib.h>

#include "device.h"
#include "emu_backend.h"
#include "engine.h"
#include "forward.h"
#include "random_model.h"
#include "test.h"

#ifdef BENCH_CUDA
#include "cuda_mem.cuh"
#endif

TEST(device_resolve_names) {
  char name[DEVICE_NAME_MAX];
  int gpu;
  BenchErr err;
  int n = device_gpu_count();
  EXPECT_INT_EQ(device_resolve("cpu", name, &gpu, &err), 0);
  EXPECT_STR_EQ(name, "cpu");
  EXPECT_INT_EQ(gpu, -1);
  EXPECT_INT_EQ(device_resolve("auto", name, &gpu, &err), 0);
  if (n == 0) {
    EXPECT_STR_EQ(name, "cpu");
    EXPECT_INT_EQ(gpu, -1);
    EXPECT_INT_EQ(device_resolve("cuda", name, &gpu, &err), -1);
    EXPECT_CONTAINS(err.msg, "device 'cuda'");
#ifdef BENCH_CUDA
    EXPECT_CONTAINS(err.msg, "no CUDA GPU");
#else
    EXPECT_CONTAINS(err.msg, "built without CUDA");
#endif
  } else {
    EXPECT_STR_EQ(name, "cuda:0");
    EXPECT_INT_EQ(gpu, 0);
    EXPECT_INT_EQ(device_resolve("cuda", name, &gpu, &err), 0);
    EXPECT_STR_EQ(name, "cuda:0");
    char spec[32];
    snprintf(spec, sizeof spec, "cuda:%d", n);
    EXPECT_INT_EQ(device_resolve(spec, name, &gpu, &err), -1);
    EXPECT_CONTAINS(err.msg, "does not exist");
  }
  EXPECT_INT_EQ(device_resolve("tpu", name, &gpu, &err), -1);
  EXPECT_CONTAINS(err.msg, "unknown device 'tpu'");
  EXPECT_INT_EQ(device_resolve("cudax", name, &gpu, &err), -1);
  EXPECT_CONTAINS(err.msg, "unknown device 'cudax'");
  EXPECT_INT_EQ(device_resolve("cuda:", name, &gpu, &err), -1);
  EXPECT_CONTAINS(err.msg, "expected cuda:N");
  EXPECT_INT_EQ(device_resolve("cuda:-1", name, &gpu, &err), -1);
  EXPECT_INT_EQ(device_resolve("cuda:1x", name, &gpu, &err), -1);
}

TEST(dtype_names) {
  DType t;
  BenchErr err;
  EXPECT_INT_EQ(dtype_from_name("bf16", &t, &err), 0);
  EXPECT_INT_EQ(t, DTYPE_BF16);
  EXPECT_INT_EQ(dtype_from_name("fp16", &t, &err), 0);
  EXPECT_INT_EQ(t, DTYPE_F16);
  EXPECT_INT_EQ(dtype_from_name("fp32", &t, &err), 0);
  EXPECT_INT_EQ(t, DTYPE_F32);
  EXPECT_INT_EQ(dtype_from_name("f32", &t, &err), -1);
  EXPECT_CONTAINS(err.msg, "unknown dtype 'f32'");
}

TEST(cuda_without_a_gpu_is_an_error_not_a_crash) {
  if (device_gpu_count() > 0) return;  // a GPU machine: tests/gpu/ covers the device
  ModelConfig cfg = rm_config(ARCH_LLAMA, 64, 32, 1, 2, 1, 48, 1.0);
  Model m;
  rm_init(&m, &cfg, 1);
  Engine e;
  BenchErr err;
  EXPECT_INT_EQ(engine_open(&e, &m, "cuda:0", DTYPE_BF16, &err), -1);
  EXPECT_CONTAINS(err.msg, "cuda");
  EXPECT_INT_EQ(backend_cuda_open(0, &err), -1);
  EXPECT_CONTAINS(err.msg, "cuda:0");
  backend_cuda_close();  // nothing open: a no-op
#ifndef BENCH_CUDA
  EXPECT(backend_cuda(DTYPE_BF16) == NULL);
#endif
  rm_free(&m);
}

// The CUDA error record, exercised where no GPU answers: a failed allocation returns NULL and
// records nothing (the caller reports it with its numbers); a scratch buffer that cannot grow is
// recorded as "out of memory", handed over once, then cleared.
TEST(cuda_error_record_without_a_gpu) {
#ifdef BENCH_CUDA
  if (device_gpu_count() > 0) return;
  BenchErr err;
  EXPECT(cuda_alloc(1024) == NULL);
  EXPECT_INT_EQ(cuda_take_error(&err), 0);
  EXPECT(cuda_scratch(CUDA_SCRATCH_CONVERT, 1024) == NULL);
  EXPECT_INT_EQ(cuda_take_error(&err), -1);
  EXPECT_CONTAINS(err.msg, "out of memory");
  EXPECT_CONTAINS(err.msg, "scratch buffer");
  EXPECT_INT_EQ(cuda_take_error(&err), 0);
  EXPECT_INT_EQ(cuda_device_current(), -1);
#endif
}

TEST(cpu_engine_equals_the_plain_forward) {
  ModelConfig cfg = rm_config(ARCH_QWEN2, 200, 64, 2, 4, 2, 96, 1.0);
  Model m;
  rm_init(&m, &cfg, 5);
  RopeTable rope = rm_rope(cfg.rotary_dims, 10000.0, 1.0);
  long T = 90;
  int32_t *tok = rm_tokens(T, cfg.vocab_size, 6);
  float *a = xmalloc(sizeof(float) * T), *b = xmalloc(sizeof(float) * T);
  uint8_t *oa = xmalloc(T), *ob = xmalloc(T);
  BenchErr err;
  Engine e;
  EXPECT_INT_EQ(engine_open(&e, &m, "auto", DTYPE_BF16, &err), 0);
  if (e.gpu < 0) {
    EXPECT_STR_EQ(e.device, "cpu");
    EXPECT_STR_EQ(engine_compute_dtype(&e), "fp32");
    ForwardOptions o = engine_forward_options(&e, 0, 0);
    EXPECT_INT_EQ(forward_score_window(&m, &rope, tok, T, 3, a, oa, &o, &err), 0);
    EXPECT_INT_EQ(forward_score_window(&m, &rope, tok, T, 3, b, ob, NULL, &err), 0);
    EXPECT(memcmp(a, b, sizeof(float) * (T - 4)) == 0);
    EXPECT(memcmp(oa, ob, (size_t)(T - 4)) == 0);
  }
  engine_close(&e);
  EXPECT(e.be == NULL);
  free(a);
  free(b);
  free(oa);
  free(ob);
  free(tok);
  rm_rope_free(&rope);
  rm_free(&m);
}

TEST(device_backend_needs_uploaded_weights) {
  ModelConfig cfg = rm_config(ARCH_LLAMA, 64, 32, 1, 2, 1, 48, 1.0);
  Model m;
  rm_init(&m, &cfg, 2);
  const Backend *other = emu_backend(DTYPE_BF16);  // any backend other than the CPU's
  ForwardState s;
  BenchErr err;
  ForwardOptions o = {.backend = other};
  EXPECT_INT_EQ(forward_state_init(&s, &m, other, 8, &o, &err), -1);
  EXPECT_CONTAINS(err.msg, "not uploaded");
  ModelWeights w;
  EXPECT_INT_EQ(other->weights_upload(&w, &m, &err), 0);
  o.weights = &w;
  EXPECT_INT_EQ(forward_state_init(&s, &m, other, 8, &o, &err), 0);
  EXPECT(s.w == &w);
  forward_state_free(&s);
  other->weights_free(&w);
  EXPECT_INT_EQ(backend_cpu()->sync(&err), 0);
  rm_free(&m);
}

int main(void) {
  RUN(device_resolve_names);
  RUN(dtype_names);
  RUN(cuda_without_a_gpu_is_an_error_not_a_crash);
  RUN(cuda_error_record_without_a_gpu);
  RUN(cpu_engine_equals_the_plain_forward);
  RUN(device_backend_needs_uploaded_weights);
  TEST_SUMMARY();
}
