// worker_beat.h — a worker's heartbeat (runner.h, stall limit): a thread that tells the supervisor
// "beat" while the worker process shows a sign of life, so a hung worker is told from a slow one.
//
// A sign of life is CPU time used by the process (any of its threads: the engine's computation, a
// GPU wait that spins, tokenizing a dataset) or bytes read from storage (loading a model from a slow
// disk) since the last look. A worker blocked forever (a FIFO, a deadlock, a dead file system) or
// stopped (SIGSTOP: the beating thread stops too) sends none; a slow job, however slow one window
// or one step is, keeps beating. A worker that busy-loops forever is not told from a slow one.
#ifndef BENCH_WORKER_BEAT_H
#define BENCH_WORKER_BEAT_H

// The event line the supervisor reads.
#define WORKER_BEAT_EVENT "beat"

// The interval between looks for a stall limit of stall_s seconds (a few looks per limit).
double worker_beat_interval(double stall_s);
// Starts the thread writing WORKER_BEAT_EVENT lines to evt_fd every interval_s seconds while the
// process shows a sign of life; it runs until the process exits. 0, or -1 when no thread started.
int worker_beat_start(int evt_fd, double interval_s);

#endif
