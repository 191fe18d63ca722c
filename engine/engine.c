// engine.c — device selection and the weights' upload for a model. See engine.h.
#include "engine.h"

#include <string.h>

#ifdef BENCH_CUDA
#include "cuda_mem.cuh"
#endif

int dtype_from_name(const char *name, DType *out, BenchErr *err) {
  static const struct {
    const char *name;
    DType t;
  } names[] = {{"fp32", DTYPE_F32}, {"bf16", DTYPE_BF16}, {"fp16", DTYPE_F16}};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (strcmp(name, names[i].name) == 0) {
      *out = names[i].t;
      return 0;
    }
  return err_set(err, "unknown dtype '%s' (bf16, fp16 or fp32)", name);
}

int engine_open(Engine *e, const Model *m, const char *device, DType dtype, BenchErr *err) {
  memset(e, 0, sizeof *e);
  if (device_resolve(device, e->device, &e->gpu, err)) return -1;
  e->dtype = dtype;
  e->model = m;
  if (e->gpu < 0) {
    e->be = backend_cpu();
  } else {
    if (backend_cuda_open(e->gpu, err)) return -1;
    e->be = backend_cuda(dtype);
  }
  if (e->be->weights_upload(&e->weights, m, err)) {
    err_prefix(err, "%s", e->device);
    e->be = NULL;
    return -1;
  }
  return 0;
}

void engine_close(Engine *e) {
  if (e->be) e->be->weights_free(&e->weights);
  memset(e, 0, sizeof *e);
}

ForwardOptions engine_forward_options(const Engine *e, int threads, int fp64_check) {
  ForwardOptions o = {.threads = threads, .fp64_check = fp64_check,
                      .backend = e ? e->be : backend_cpu(), .weights = e ? &e->weights : NULL};
  return o;
}

const char *engine_compute_dtype(const Engine *e) {
  return e->gpu < 0 ? "fp32" : dtype_name(e->dtype);
}

size_t engine_device_peak_bytes(const Engine *e, int reset) {
  size_t peak = 0;
#ifdef BENCH_CUDA
  if (e->gpu >= 0) {
    peak = cuda_mem_peak();
    if (reset) cuda_mem_peak_reset();
  }
#else
  (void)e;
  (void)reset;
#endif
  return peak;
}
