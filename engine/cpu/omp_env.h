// omp_env.h — how the CPU engine's threads wait: asleep, not spinning, unless the user chose
// (omp_env.c).
#ifndef BENCH_OMP_ENV_H
#define BENCH_OMP_ENV_H

// When neither OMP_WAIT_POLICY nor GOMP_SPINCOUNT is set: sets OMP_WAIT_POLICY=passive and returns
// 1 (the OpenMP runtime reads it once, as it loads, so the caller must re-execute itself for it to
// apply); else returns 0 and changes nothing.
int omp_env_passive_wait(void);

// At the start of main(): omp_env_passive_wait(), then the program again with the same argv
// (/proc/self/exe); when that cannot be done the program goes on as it is (threads then spin).
void omp_env_apply(char **argv);

#endif
