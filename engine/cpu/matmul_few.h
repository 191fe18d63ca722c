// matmul_few.h — the CPU backend's product for a few rows (decode steps): each weight read once,
// no packing (matmul_few.c). Used by backend_cpu.c's matmul when T ≤ MATMUL_FEW_ROWS.
// Legend: T rows of x, Cin inputs, N outputs.
#ifndef BENCH_MATMUL_FEW_H
#define BENCH_MATMUL_FEW_H

// Rows up to which a weights-once product beats a packed sgemm (decode batches are ≤ 16).
#define MATMUL_FEW_ROWS 16

// y[T, N] = x[T, Cin] · w[N, Cin]ᵀ + b[N] (b may be NULL); split over outputs across the OpenMP
// threads when w is large, the same numbers however many threads.
void matmul_few(float *y, const float *x, const float *w, const float *b, int T, int Cin, int N);

#endif
