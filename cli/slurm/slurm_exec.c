// slurm_exec.c — running the scheduler's commands (sbatch, scontrol, squeue) and reading what they
// print (slurm.h).
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "slurm.h"

// Appends what is readable on fd to b; 0 at end of file.
static int drain(int fd, StrBuf *b) {
  char buf[4096];
  ssize_t k = read(fd, buf, sizeof buf);
  if (k < 0) return errno == EINTR || errno == EAGAIN ? 1 : 0;
  if (k == 0) return 0;
  if (b && b->len < (1u << 20)) sb_appendn(b, buf, (size_t)k);
  return 1;
}

int slurm_exec(char *const argv[], double timeout_s, StrBuf *out, StrBuf *errout) {
  int po[2], pe[2];
  if (pipe(po) != 0) return 127;
  if (pipe(pe) != 0) {
    close(po[0]);
    close(po[1]);
    return 127;
  }
  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0) {
    close(po[0]);
    close(po[1]);
    close(pe[0]);
    close(pe[1]);
    return 127;
  }
  if (pid == 0) {
    int nul = open("/dev/null", O_RDONLY);
    if (nul >= 0) dup2(nul, 0);
    dup2(po[1], 1);
    dup2(pe[1], 2);
    close(po[0]);
    close(pe[0]);
    execvp(argv[0], argv);
    _exit(127);
  }
  close(po[1]);
  close(pe[1]);
  if (out) sb_append(out, "");
  if (errout) sb_append(errout, "");
  struct pollfd fds[2] = {{po[0], POLLIN, 0}, {pe[0], POLLIN, 0}};
  int open_fds = 2, timed_out = 0;
  double deadline = mono_time() + timeout_s;
  while (open_fds > 0) {
    double left = deadline - mono_time();
    if (left <= 0) {
      timed_out = 1;
      kill(pid, SIGKILL);
      break;
    }
    int r = poll(fds, 2, (int)(left * 1000) + 1);
    if (r < 0 && errno != EINTR) break;
    for (int i = 0; i < 2 && r > 0; i++) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      if (!drain(fds[i].fd, i == 0 ? out : errout)) {
        close(fds[i].fd);
        fds[i].fd = -1;
        open_fds--;
      }
    }
  }
  for (int i = 0; i < 2; i++)
    if (fds[i].fd >= 0) close(fds[i].fd);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
  if (timed_out) return 124;
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

char *slurm_config_value(const char *text, const char *key) {
  size_t klen = strlen(key);
  for (const char *line = text; line && *line;) {
    const char *eol = strchr(line, '\n');
    size_t len = eol ? (size_t)(eol - line) : strlen(line);
    if (len > klen && strncmp(line, key, klen) == 0 && (line[klen] == ' ' || line[klen] == '=')) {
      const char *eq = memchr(line, '=', len);
      if (eq) {
        const char *v = eq + 1, *end = line + len;
        while (v < end && *v == ' ') v++;
        while (end > v && (end[-1] == ' ' || end[-1] == '\r')) end--;
        return xstrndup(v, (size_t)(end - v));
      }
    }
    line = eol ? eol + 1 : NULL;
  }
  return NULL;
}

// The first line of a command's stderr, for messages.
static char *first_line(const StrBuf *b) {
  const char *s = b->data ? b->data : "";
  size_t n = strcspn(s, "\n");
  return xstrndup(s, n);
}

int slurm_max_array_size(int *out, BenchErr *err) {
  char *argv[] = {"scontrol", "show", "config", NULL};
  StrBuf o = {0}, e = {0};
  int rc = slurm_exec(argv, 30, &o, &e);
  int ret = -1;
  if (rc == 127) {
    err_set(err, "scontrol not found");
  } else if (rc != 0) {
    char *l = first_line(&e);
    err_set(err, "'scontrol show config' failed (exit %d): %s", rc, l);
    free(l);
  } else {
    char *v = slurm_config_value(o.data, "MaxArraySize");
    char *end = NULL;
    long n = v ? strtol(v, &end, 10) : 0;
    if (!v || end == v || n < 1) err_set(err, "'scontrol show config' names no MaxArraySize");
    else {
      *out = n > 4000000 ? 4000000 : (int)n;
      ret = 0;
    }
    free(v);
  }
  sb_free(&o);
  sb_free(&e);
  return ret;
}

char *slurm_parse_job_id(const char *out) {
  if (!out) return NULL;
  const char *p = out;
  while (*p == ' ' || *p == '\n') p++;
  size_t n = strspn(p, "0123456789");
  if (n == 0 || n > 18) return NULL;
  return xstrndup(p, n);
}
