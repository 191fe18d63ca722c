// run_space.h — room on disk for what a run must keep. Before the first job, a probe result is
// written to DIR/jobs/ (and synced) and a reserve file DIR/.run/reserve[-shard-I-of-N] of
// RUN_RESERVE_BYTES is put aside, so that a run on a full disk computes nothing it could not keep.
// When the disk fills during the run, the reserve is given back first, so that the run's last
// words (its status file, its run.log lines, the manifest) still fit.
#ifndef BENCH_RUN_SPACE_H
#define BENCH_RUN_SPACE_H

#include "util.h"

#define RUN_PROBE_BYTES ((size_t)64 << 10)    // more than a job result with its per-position NLL
#define RUN_RESERVE_BYTES ((size_t)256 << 10) // status, log lines and manifest at the end

typedef struct {
  char *reserve;  // path of the reserve file; NULL when none is held
} RunSpace;

// Removes the probes of runs that were killed before removing theirs (jobs/.probe.PID whose
// process is gone), then writes the probe (then removes it) and the reserve. -1 with err naming the path that could not be
// written and the free space.
int run_space_claim(const char *dir, int shard_i, int shard_n, RunSpace *sp, BenchErr *err);
// Removes the reserve (at the end of the run, or when a write failed and room is needed now).
void run_space_release(RunSpace *sp);

#endif
