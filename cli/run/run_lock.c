// run_lock.c — flock-based exclusion of runners on one results directory (run_lock.h).
#include "run_lock.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

// A status probe (bench status) holds a lock for microseconds; a starting runner retries this long
// before it decides that another runner holds the directory.
#define LOCK_RETRY_S 0.5

static char *shard_lock_path(const char *dir, int i, int n) {
  char *name = xasprintf(".run/shard-%d-of-%d.lock", i, n);
  char *p = path_join(dir, name);
  free(name);
  return p;
}

// flock with LOCK_NB, retried for LOCK_RETRY_S; 0 when taken.
static int lock_retry(int fd, int mode) {
  double until = mono_time() + LOCK_RETRY_S;
  for (;;) {
    if (flock(fd, mode | LOCK_NB) == 0) return 0;
    if (errno != EWOULDBLOCK && errno != EINTR) return -1;
    if (mono_time() >= until) return -1;
    struct timespec ts = {0, 50 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
}

// The holder line a file holds ("pid 12 on host 'h' since T: bench run ..."), or NULL.
static char *describe_file(const char *path) {
  char *text = NULL;
  size_t len = 0;
  BenchErr err;
  if (read_file(path, 1 << 16, &text, &len, &err) != 0) return NULL;
  json_t *j = json_loadb(text, len, 0, NULL);
  free(text);
  if (!json_is_object(j)) {
    json_decref(j);
    return NULL;
  }
  const char *host = json_string_value(json_object_get(j, "host"));
  const char *started = json_string_value(json_object_get(j, "started"));
  const char *command = json_string_value(json_object_get(j, "command"));
  char *d = xasprintf("pid %lld on host '%s' since %s%s%s",
                      (long long)json_integer_value(json_object_get(j, "pid")), host ? host : "?",
                      started ? started : "?", command ? ": " : "", command ? command : "");
  json_decref(j);
  return d;
}

// Appends a line per shard lock of DIR that is held now; returns how many.
static int describe_shards(const char *dir, StrBuf *out) {
  char *rundir = path_join(dir, ".run");
  DIR *d = opendir(rundir);
  int n = 0;
  if (d) {
    struct dirent *e;
    while ((e = readdir(d))) {
      size_t len = strlen(e->d_name);
      if (strncmp(e->d_name, "shard-", 6) != 0 || len < 5 || strcmp(e->d_name + len - 5, ".lock") != 0)
        continue;
      char *p = path_join(rundir, e->d_name);
      int fd = open_regular(p, NULL);
      if (fd >= 0) {
        if (flock(fd, LOCK_SH | LOCK_NB) == 0) {
          flock(fd, LOCK_UN);
        } else {
          char *who = describe_file(p);
          sb_printf(out, "%s%s", out->len ? "\n" : "", who ? who : "a run whose details are unreadable");
          free(who);
          n++;
        }
        close(fd);
      }
      free(p);
    }
    closedir(d);
  }
  free(rundir);
  return n;
}

static void write_holder(int fd, int shard_i, int shard_n, const char *command) {
  char host[256] = "";
  gethostname(host, sizeof host - 1);
  char started[32];
  iso_time_utc(wall_time(), started);
  json_t *j = json_pack("{s:I,s:s,s:s,s:s}", "pid", (json_int_t)getpid(), "host", host, "started",
                        started, "command", command ? command : "bench run");
  if (shard_n > 0) json_object_set_new(j, "shard", json_sprintf("%d/%d", shard_i, shard_n));
  char *text = json_dumps(j, JSON_COMPACT);
  json_decref(j);
  if (!text) return;
  if (ftruncate(fd, 0) == 0) {
    size_t len = strlen(text);
    ssize_t w = pwrite(fd, text, len, 0);
    if (w == (ssize_t)len) w = pwrite(fd, "\n", 1, (off_t)len);
    (void)w;  // the holder line only improves messages; the lock itself is what excludes
  }
  free(text);
}

int run_lock_acquire(const char *dir, int shard_i, int shard_n, const char *command, RunLock *l,
                     BenchErr *err) {
  l->fd = l->shard_fd = -1;
  char *path = path_join(dir, ".lock");
  int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    err_set(err, "cannot open the lock file '%s': %s", path, strerror(errno));
    free(path);
    return -1;
  }
  if (lock_retry(fd, shard_n > 0 ? LOCK_SH : LOCK_EX) != 0) {
    StrBuf who = {0};
    // Wanting it exclusively, the holders are either running shards or one whole run.
    if (shard_n == 0 && describe_shards(dir, &who) == 0) {
      char *d = describe_file(path);
      sb_append(&who, d ? d : "a run whose details are unreadable");
      free(d);
    } else if (shard_n > 0) {
      char *d = describe_file(path);
      sb_append(&who, d ? d : "a run whose details are unreadable");
      free(d);
    }
    for (char *c = who.data; c && *c; c++)
      if (*c == '\n') *c = ';';
    err_set(err, "results directory '%s' is in use by another run (%s); wait for it to end or stop it",
            dir, who.data ? who.data : "holder unknown");
    sb_free(&who);
    close(fd);
    free(path);
    return -1;
  }
  free(path);
  l->fd = fd;
  if (shard_n == 0) {
    write_holder(fd, 0, 0, command);
    return 0;
  }
  char *spath = shard_lock_path(dir, shard_i, shard_n);
  int sfd = open(spath, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (sfd < 0) {
    err_set(err, "cannot open the lock file '%s': %s", spath, strerror(errno));
    free(spath);
    run_lock_release(l);
    return -1;
  }
  if (lock_retry(sfd, LOCK_EX) != 0) {
    char *d = describe_file(spath);
    err_set(err, "shard %d/%d of results directory '%s' is in use by another run (%s); wait for it "
            "to end or stop it", shard_i, shard_n, dir, d ? d : "holder unknown");
    free(d);
    close(sfd);
    free(spath);
    run_lock_release(l);
    return -1;
  }
  free(spath);
  l->shard_fd = sfd;
  write_holder(sfd, shard_i, shard_n, command);
  return 0;
}

void run_lock_release(RunLock *l) {
  if (l->shard_fd >= 0) {
    flock(l->shard_fd, LOCK_UN);
    close(l->shard_fd);
  }
  if (l->fd >= 0) {
    flock(l->fd, LOCK_UN);
    close(l->fd);
  }
  l->fd = l->shard_fd = -1;
}

void run_lock_forget(RunLock *l) {
  if (l->shard_fd >= 0) close(l->shard_fd);
  if (l->fd >= 0) close(l->fd);
  l->fd = l->shard_fd = -1;
}

int run_lock_probe(const char *dir, StrBuf *holders) {
  char *path = path_join(dir, ".lock");
  int fd = open_regular(path, NULL);
  if (fd < 0) {
    free(path);
    return -1;
  }
  int held = 0;
  if (flock(fd, LOCK_SH | LOCK_NB) != 0) {
    char *d = describe_file(path);
    sb_append(holders, d ? d : "a run whose details are unreadable");
    free(d);
    held = 1;
  } else {
    flock(fd, LOCK_UN);
  }
  close(fd);
  free(path);
  if (!held) held = describe_shards(dir, holders) > 0;
  return held;
}
