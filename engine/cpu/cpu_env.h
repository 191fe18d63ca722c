// cpu_env.h — the CPU engine's process environment, set before the libraries that read it start:
// threads that wait asleep, not spinning, and OpenBLAS kernels for the CPU at hand (cpu_env.c).
// What the user set is kept.
#ifndef BENCH_CPU_ENV_H
#define BENCH_CPU_ENV_H

// When neither OMP_WAIT_POLICY nor GOMP_SPINCOUNT is set: sets OMP_WAIT_POLICY=passive and returns
// 1; else returns 0 and changes nothing.
int cpu_env_passive_wait(void);

// When OPENBLAS_CORETYPE is unset and OpenBLAS took this CPU for a Prescott (its fallback for
// models it does not know: SSE3 kernels) although the CPU has AVX-512 or AVX2 with FMA: sets
// OPENBLAS_CORETYPE to the kernels of those instructions (SkylakeX, Haswell) and returns 1; else 0.
int cpu_env_blas_core(void);

// At the start of main(): both of the above; when either changed the environment, the program
// again with the same argv (/proc/self/exe: the OpenMP runtime and OpenBLAS read their variables
// once, as they load). When that cannot be done the program goes on as it is.
void cpu_env_apply(char **argv);

#endif
