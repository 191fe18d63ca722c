// engine.h — a compute device with one model's weights on it: what evaluation jobs run on.
// engine_open resolves the device ("auto" picks cuda:0 when a GPU is usable), selects the backend
// and uploads the weights once (the CPU backend reads the model's fp32 weights in place); every
// window of every job on that model then runs through engine_forward_options. One CUDA device
// per process.
//
// dtype is the job's: CUDA holds weight matrices in it (bf16, fp16 or fp32) and rounds the
// activations entering each matrix product to it, accumulating in fp32; attention's operands
// (q, k, v, softmax weights) are rounded to it the same way (flash_twin.h); activations, norms,
// softmax statistics and the KV cache stay fp32. The CPU computes in fp32 whatever the dtype.
#ifndef BENCH_ENGINE_H
#define BENCH_ENGINE_H

#include "backend.h"
#include "device.h"
#include "forward.h"
#include "model.h"

typedef struct {
  char device[DEVICE_NAME_MAX];  // "cpu" or "cuda:N"
  int gpu;                       // N, or -1 on the CPU
  const Backend *be;
  DType dtype;                   // the job's dtype
  const Model *model;
  ModelWeights weights;          // the weights as be reads them
} Engine;

// device: "auto", "cpu", "cuda", "cuda:N". -1 with err for a device that does not exist, a
// build without CUDA, or weights that do not fit ("out of memory: ...").
int engine_open(Engine *e, const Model *m, const char *device, DType dtype, BenchErr *err);
void engine_close(Engine *e);
// Options for forward_score_window (and forward_state_init) on this engine; e NULL: the CPU
// backend on the model's own weights.
ForwardOptions engine_forward_options(const Engine *e, int threads, int fp64_check);
// What the matrix products compute in: the dtype on CUDA, "fp32" on the CPU.
const char *engine_compute_dtype(const Engine *e);
// Device memory this process held at most since the last reset, then resets the mark when
// `reset` (CUDA: weights, KV cache, activations and scratch; 0 on the CPU, whose peak is the
// process's resident memory).
size_t engine_device_peak_bytes(const Engine *e, int reset);
// DType from "fp32", "bf16", "fp16"; -1 with err otherwise.
int dtype_from_name(const char *name, DType *out, BenchErr *err);

#endif
