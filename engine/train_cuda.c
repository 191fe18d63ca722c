// train_cuda.c — the CUDA tables of training ops (train_ops.h).
#include "train_ops.h"

const TrainOps *train_ops_cuda(int act_bf16) {
  (void)act_bf16;
  return NULL;
}

int train_ops_cuda_ready(BenchErr *err) {
  return err_set(err, "this bench was built without CUDA (nvcc was not found when it was built)");
}
