// run_lock.h — one runner per results directory (flock), with the holder named in the refusal.
//
//   DIR/.lock                      an unsharded run holds it exclusively; a sharded run holds it
//                                  shared, so shards of one suite may run side by side (on several
//                                  machines over a shared file system) while a whole run excludes
//                                  them all
//   DIR/.run/shard-I-of-N.lock     a sharded run also holds its shard's lock exclusively
// The holder writes one JSON line into the file it holds exclusively:
//   {"pid":..,"host":..,"started":"ISO-8601","command":"bench run ..","shard":"I/N"|null}
// Locks are released by the kernel when the holder dies, so a kill -9 never leaves a stale lock.
// Worker processes must close the descriptors (run_lock_forget) without unlocking.
#ifndef BENCH_RUN_LOCK_H
#define BENCH_RUN_LOCK_H

#include "util.h"

typedef struct {
  int fd;            // DIR/.lock (-1: not held)
  int shard_fd;      // DIR/.run/shard-I-of-N.lock (-1: none)
} RunLock;

// Takes the locks of a run of DIR (shard_n 0: unsharded). Fails at once, with a message naming the
// running holder(s), when another run holds what this one needs. DIR and DIR/.run must exist.
int run_lock_acquire(const char *dir, int shard_i, int shard_n, const char *command, RunLock *l,
                     BenchErr *err);
// Releases the locks and closes the files.
void run_lock_release(RunLock *l);
// Closes the descriptors without unlocking (in a forked child: the parent keeps the locks).
void run_lock_forget(RunLock *l);

// Whether some run holds DIR now: 1 with a description of each holder (one per line, "pid 12 on
// host h since T: bench run ..." ), 0 when none, -1 when DIR has no lock file (never run there).
int run_lock_probe(const char *dir, StrBuf *holders);

#endif
