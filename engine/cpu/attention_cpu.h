// attention_cpu.h — the CPU backend's causal attention with grouped kv heads (backend.h,
// `attention`): fp32 by tiles with an online softmax, and the fp64 check mode. Implemented in
// attention_cpu.c (the tile kernels in attention_tile.h); an entry of backend_cpu.c's table.
// Legend: Tq queries, Tk keys, H query heads, K kv heads, D head dim.
#ifndef BENCH_ATTENTION_CPU_H
#define BENCH_ATTENTION_CPU_H

// out[Tq, H, D] from q[Tq, H, D], k[Tk, K, D], v[Tk, K, D]; query i sits at key index q0 + i and
// sees keys j ≤ q0 + i (and j > q0 + i − window when window > 0).
void cpu_attention(float *out, const float *q, const float *k, const float *v, long Tq, long Tk,
                   long q0, int H, int K, int D, float scale, long window, int fp64);

// Vector lanes of the fp32 tile products: 16 on CPUs with AVX-512, 8 elsewhere. Both widths sum
// every score and every output in the same order, so they give the same bits (tests compare
// them). lanes = 8 or 16 makes later calls use that width (16 only where the CPU has it: then it
// returns 0 and changes nothing); lanes = 0 restores the automatic choice. Returns the width in
// use after the call, or 0 when the request was refused.
int cpu_attention_lanes(int lanes);

#endif
