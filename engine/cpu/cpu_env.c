// cpu_env.c — the CPU engine's process environment (cpu_env.h).
// Waiting: an OpenMP thread that spins at a barrier holds a core the other processes of a shared
// machine need; the thread it waits for then waits for that core, and two threads ran 10× slower
// than one next to a single busy process. Passive waiting costs a wake-up per parallel region.
// Kernels: OpenBLAS 0.3.21 falls back to its Prescott (SSE3) kernels on CPUs it does not know, a
// virtual "Intel Xeon Processor" with AVX-512 among them; its SkylakeX kernels ran sgemm 5× faster
// there (190 against 35 GFLOP/s per core).
#include "cpu_env.h"

#include <stdlib.h>
#include <strings.h>
#include <unistd.h>

char *openblas_get_corename(void);  // OpenBLAS's cblas.h

int cpu_env_passive_wait(void) {
  if (getenv("OMP_WAIT_POLICY") || getenv("GOMP_SPINCOUNT")) return 0;
  return setenv("OMP_WAIT_POLICY", "passive", 1) == 0;
}

int cpu_env_blas_core(void) {
#if defined(__x86_64__) && defined(__GNUC__)
  const char *core = openblas_get_corename();
  if (getenv("OPENBLAS_CORETYPE") || !core || strcasecmp(core, "prescott") != 0) return 0;
  __builtin_cpu_init();
  const char *want = NULL;
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512vl"))
    want = "SkylakeX";
  else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
    want = "Haswell";
  return want && setenv("OPENBLAS_CORETYPE", want, 1) == 0;
#else
  return 0;
#endif
}

void cpu_env_apply(char **argv) {
  int changed = cpu_env_passive_wait();
  changed |= cpu_env_blas_core();
  if (changed) execv("/proc/self/exe", argv);
}
