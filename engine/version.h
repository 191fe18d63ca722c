// version.h — versions of what the engine computes. ENGINE_NUMERICS_VERSION is part of every job's
// identity: bump it when a change to the engine changes the numbers a job produces (kernels,
// accumulation order, tokenization, protocols) or to what identifies a job's inputs (2: the model
// fingerprint covers the weight bytes; a NaN/Inf NLL is status nonfinite), so stored results are
// recomputed, not reused.
#ifndef BENCH_VERSION_H
#define BENCH_VERSION_H

#define ENGINE_NUMERICS_VERSION "2"

#endif
