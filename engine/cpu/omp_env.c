// omp_env.c — threads that wait for work sleep instead of spinning. An OpenMP thread that spins at
// a barrier holds a core the other processes of a shared machine need; the thread it waits for
// then waits for that core, and two threads ran 10× slower than one next to a single busy
// process. Passive waiting costs a wake-up per parallel region (microseconds) instead.
#include "omp_env.h"

#include <stdlib.h>
#include <unistd.h>

int omp_env_passive_wait(void) {
  if (getenv("OMP_WAIT_POLICY") || getenv("GOMP_SPINCOUNT")) return 0;
  return setenv("OMP_WAIT_POLICY", "passive", 1) == 0;
}

void omp_env_apply(char **argv) {
  if (omp_env_passive_wait()) execv("/proc/self/exe", argv);
}
