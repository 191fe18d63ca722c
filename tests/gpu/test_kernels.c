// test_kernels.c — every CUDA kernel family against its CPU twin on random data: the checks of
// `bench doctor`'s first part (cli/doctor/kernel_check.c), here at full sizes unless --quick (run
// on a GPU machine by tests/gpu/run_gpu_tests.sh; built by `make gpu-test`). One row per check;
// a failure prints the first failing index, the reference and the value.
// Usage: test_kernels [DEVICE_INDEX] [--quick] [--only convert,matmul,norms,embedding,rope,
//        attention,flash,dispatch,elementwise,lm_head,kv,failures]
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "doctor.h"

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);  // rows appear as they are checked, also in a log
  int dev = 0, quick = 0;
  const char *only = NULL;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--quick") == 0)
      quick = 1;
    else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc)
      only = argv[++i];
    else
      dev = atoi(argv[i]);
  }
  CheckTally t;
  memset(&t, 0, sizeof t);
  BenchErr err;
  if (kernel_check(dev, quick, only, stdout, &t, &err) != 0) {
    fprintf(stderr, "test_kernels: %s\n", err.msg);
    return 2;
  }
  printf("kernels: peak device memory %.1f MiB\n", t.peak_bytes / 1048576.0);
  printf("%d passed, %d failed\n", t.passed, t.failed);
  return t.failed ? 1 : 0;
}
