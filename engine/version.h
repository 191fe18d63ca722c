// version.h — versions of what the engine computes. ENGINE_NUMERICS_VERSION is part of every job's
// identity: bump it when a change to the engine changes the numbers a job produces (kernels,
// accumulation order, tokenization, protocols), so stored results are recomputed, not reused.
#ifndef BENCH_VERSION_H
#define BENCH_VERSION_H

#define ENGINE_NUMERICS_VERSION "1"

#endif
