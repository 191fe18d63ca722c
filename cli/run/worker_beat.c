// worker_beat.c — see worker_beat.h.
#include "worker_beat.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

// CPU time below this per look is the beating thread's own (waking, reading /proc): no sign of life.
#define BEAT_MIN_CPU_S 0.002

typedef struct {
  int fd;
  double interval_s;
} Beat;

static double cpu_seconds(void) {
  struct timespec t;
  if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t) != 0) return 0;
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

// Bytes this process has caused to be read from storage (/proc/self/io read_bytes); -1 when unknown.
static long long storage_bytes_read(void) {
  FILE *f = fopen("/proc/self/io", "r");
  if (!f) return -1;
  char line[128];
  long long v = -1;
  while (fgets(line, sizeof line, f))
    if (sscanf(line, "read_bytes: %lld", &v) == 1) break;
  fclose(f);
  return v;
}

static void *beat_main(void *arg) {
  Beat b = *(Beat *)arg;
  double cpu = cpu_seconds();
  long long bytes = storage_bytes_read();
  struct timespec ts = {(time_t)b.interval_s, (long)((b.interval_s - (double)(time_t)b.interval_s) * 1e9)};
  for (;;) {
    struct timespec left = ts;
    while (nanosleep(&left, &left) != 0 && errno == EINTR) {}
    double c = cpu_seconds();
    long long r = storage_bytes_read();
    int alive = c - cpu >= BEAT_MIN_CPU_S || r > bytes;
    cpu = c;
    bytes = r;
    if (!alive) continue;
    // one line, under PIPE_BUF: never interleaved with the worker's own events
    static const char line[] = WORKER_BEAT_EVENT "\n";
    ssize_t w;
    do w = write(b.fd, line, sizeof line - 1);
    while (w < 0 && errno == EINTR);
    if (w <= 0) return NULL;  // the supervisor is gone
  }
}

double worker_beat_interval(double stall_s) {
  double i = stall_s / 4;
  return i < 0.05 ? 0.05 : i > 10 ? 10 : i;
}

int worker_beat_start(int evt_fd, double interval_s) {
  static Beat b;  // one heartbeat per worker process
  b = (Beat){evt_fd, interval_s};
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 256 << 10);  // little address space under BENCH_MEM_LIMIT
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_t t;
  int rc = pthread_create(&t, &attr, beat_main, &b);
  pthread_attr_destroy(&attr);
  return rc == 0 ? 0 : -1;
}
