// run_space.c — the probe and the reserve of a run (run_space.h).
#include "run_space.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "results.h"

#define PROBE_PREFIX ".probe."  // jobs/.probe.PID: the probe of the run with that process id

// Writes len zero bytes to path and syncs them (so that a file system that allocates late has
// allocated them); -1 with err naming path and the free space.
static int write_synced(const char *path, size_t len, BenchErr *err) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  int e = 0;
  if (fd < 0) e = errno;
  char block[4096];
  memset(block, 0, sizeof block);
  for (size_t done = 0; !e && done < len;) {
    size_t k = len - done < sizeof block ? len - done : sizeof block;
    ssize_t w = write(fd, block, k);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) e = w < 0 ? errno : ENOSPC;
    else done += (size_t)w;
  }
  if (!e && fsync(fd) != 0) e = errno;
  if (fd >= 0 && close(fd) != 0 && !e) e = errno;
  if (!e) return 0;
  if (fd >= 0) unlink(path);
  char room[48];
  disk_free_text(path, room, sizeof room);
  return err_set(err, "cannot write '%s': %s (%s)", path, strerror(e), room);
}

// Removes the probes that runs killed while probing (kill -9) left in jobs/: those whose process is
// gone. A probe of a live run on another machine sharing the directory may go too; its run still
// writes and syncs its bytes (into the open file) and then finds nothing to remove.
static void remove_dead_probes(const char *jobs) {
  DIR *d = opendir(jobs);
  if (!d) return;
  struct dirent *e;
  size_t n = strlen(PROBE_PREFIX);
  while ((e = readdir(d))) {
    if (strncmp(e->d_name, PROBE_PREFIX, n) != 0) continue;
    char *end;
    errno = 0;
    long pid = strtol(e->d_name + n, &end, 10);
    if (end == e->d_name + n || *end || errno || pid <= 0 || (pid_t)pid != pid) continue;
    if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue;  // alive (or not ours to signal)
    char *p = path_join(jobs, e->d_name);
    unlink(p);
    free(p);
  }
  closedir(d);
}

int run_space_claim(const char *dir, int shard_i, int shard_n, RunSpace *sp, BenchErr *err) {
  memset(sp, 0, sizeof *sp);
  char *jobs = job_results_dir(dir), *name = xasprintf(PROBE_PREFIX "%ld", (long)getpid());
  remove_dead_probes(jobs);
  char *probe = path_join(jobs, name);
  int rc = write_synced(probe, RUN_PROBE_BYTES, err);
  if (rc == 0) unlink(probe);
  free(probe);
  free(name);
  free(jobs);
  if (rc != 0) return -1;
  char *rname = shard_n > 0 ? xasprintf(".run/reserve-shard-%d-of-%d", shard_i, shard_n) : xstrdup(".run/reserve");
  char *reserve = path_join(dir, rname);
  free(rname);
  if (write_synced(reserve, RUN_RESERVE_BYTES, err) != 0) {
    free(reserve);
    return -1;
  }
  sp->reserve = reserve;
  return 0;
}

void run_space_release(RunSpace *sp) {
  if (!sp->reserve) return;
  unlink(sp->reserve);
  free(sp->reserve);
  sp->reserve = NULL;
}
