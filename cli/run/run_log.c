// run_log.c — timestamped run lines and the terminal's live line (run_log.h).
#include "run_log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

int run_log_open(RunLog *lg, const char *path, BenchErr *err) {
  memset(lg, 0, sizeof *lg);
  lg->tty = isatty(STDOUT_FILENO);
  const char *nc = getenv("NO_COLOR");
  lg->color = lg->tty && !(nc && nc[0]);
  lg->fd = -1;
  if (!path) return 0;
  lg->fd = open_regular_append(path, err);
  if (lg->fd < 0) return -1;
  lg->path = xstrdup(path);
  return 0;
}

void run_log_detach(RunLog *lg) {
  if (lg->fd >= 0) close(lg->fd);
  lg->fd = -1;
}

void run_log_close(RunLog *lg) {
  run_log_live(lg, NULL);
  run_log_detach(lg);
  free(lg->path);
  free(lg->write_error);
  free(lg->live);
  memset(lg, 0, sizeof *lg);
  lg->fd = -1;
}

// One line to run.log in one write: whole, or (a full disk, ..) not at all — a short write is
// cut back so that no half line stays.
static void file_line(RunLog *lg, const char *line, size_t len) {
  if (lg->fd < 0) return;
  ssize_t w;
  do w = write(lg->fd, line, len);
  while (w < 0 && errno == EINTR);
  if (w == (ssize_t)len) return;
  int e = w < 0 ? errno : ENOSPC;
  struct stat st;
  if (w > 0 && fstat(lg->fd, &st) == 0 && st.st_size >= w && ftruncate(lg->fd, st.st_size - w) != 0) {}
  if (lg->write_error) return;
  char room[48];
  disk_free_text(lg->path, room, sizeof room);
  lg->write_error = xasprintf("cannot write '%s': %s (%s)", lg->path, strerror(e), room);
  fprintf(stderr, "bench: error: %s; its lines from here on are on this terminal only\n", lg->write_error);
}

static int term_width(void) {
  struct winsize ws;
  if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 10) return ws.ws_col;
  return 100;
}

static void live_erase(RunLog *lg) {
  if (!lg->live_shown) return;
  fputs("\r\033[K", stdout);
  lg->live_shown = 0;
}

// Draws the live line, cut to the terminal's width (counting UTF-8 characters, ignoring ANSI codes).
static void live_draw(RunLog *lg) {
  if (!lg->tty || !lg->live) return;
  int width = term_width() - 1, cols = 0;
  StrBuf b = {0};
  for (const char *p = lg->live; *p; p++) {
    if (*p == '\033') {  // copy an escape sequence whole
      const char *e = p;
      while (*e && *e != 'm') e++;
      sb_appendn(&b, p, (size_t)(e - p) + (*e ? 1 : 0));
      if (!*e) break;
      p = e;
      continue;
    }
    if (((unsigned char)*p & 0xC0) != 0x80 && ++cols > width) break;
    sb_appendn(&b, p, 1);
  }
  fputs("\r\033[K", stdout);
  fputs(b.data ? b.data : "", stdout);
  if (lg->color) fputs("\033[0m", stdout);
  fflush(stdout);
  sb_free(&b);
  lg->live_shown = 1;
}

static void emit(RunLog *lg, FILE *screen, const char *screen_prefix, const char *file_prefix,
                 const char *fmt, va_list ap) {
  char *msg = NULL;
  if (vasprintf(&msg, fmt, ap) < 0) return;
  char ts[32];
  iso_time_utc(wall_time(), ts);
  live_erase(lg);
  if (screen == stdout) fprintf(stdout, "%s %s%s\n", ts, screen_prefix, msg);
  else fprintf(screen, "%s%s\n", screen_prefix, msg);
  fflush(screen);
  if (lg->fd >= 0) {
    char *line = xasprintf("%s %s%s\n", ts, file_prefix, msg);
    file_line(lg, line, strlen(line));
    free(line);
  }
  free(msg);  // the live line comes back with the caller's next run_log_live
}

void run_log(RunLog *lg, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  emit(lg, stdout, "", "", fmt, ap);
  va_end(ap);
}

void run_log_warn(RunLog *lg, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fflush(stdout);
  emit(lg, stderr, "bench: warning: ", "warning: ", fmt, ap);
  va_end(ap);
}

void run_log_live(RunLog *lg, const char *text) {
  if (!lg->tty) return;
  free(lg->live);
  lg->live = text ? xstrdup(text) : NULL;
  if (!text) {
    live_erase(lg);
    fflush(stdout);
    return;
  }
  live_draw(lg);
}

char *run_log_color(const RunLog *lg, const char *code, const char *s) {
  return lg->color ? xasprintf("\033[%sm%s\033[0m", code, s) : xstrdup(s);
}

void format_eta(double s, char *out, size_t n) {
  if (!(s >= 0)) s = 0;
  long t = (long)(s + 0.5);
  if (t < 60) snprintf(out, n, "%ld s", t);
  else if (t < 3600) snprintf(out, n, "%ld min %ld s", t / 60, t % 60);
  else if (t < 86400) snprintf(out, n, "%ld h %ld min", t / 3600, t % 3600 / 60);
  else snprintf(out, n, "%ld d %ld h", t / 86400, t % 86400 / 3600);
}
