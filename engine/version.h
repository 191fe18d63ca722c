// version.h — versions of what the engine computes. ENGINE_NUMERICS_VERSION is part of every job's
// identity: bump it when a change to the engine changes the numbers a job produces (kernels,
// accumulation order, tokenization, protocols) or to what identifies a job's inputs (2: the model
// fingerprint covers the weight bytes; a NaN/Inf NLL is status nonfinite; 3: the CPU attention's
// queries scaled before the products, its tiles aligned to key 0 and its softmax sums in a fixed
// 16-lane tree), so stored results are recomputed, not reused.
#ifndef BENCH_VERSION_H
#define BENCH_VERSION_H

#define ENGINE_NUMERICS_VERSION "3"

#endif
