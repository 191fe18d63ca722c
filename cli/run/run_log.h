// run_log.h — what a run tells the person watching it. Every event is one timestamped line
// ("2026-02-14T01:04:00Z message") appended to results/<suite>/run.log, so `tail -f run.log` follows
// a run from anywhere. On stdout the same lines appear; when stdout is a terminal a live line
// below them is redrawn in place (done/total, current job, its tokens/s, ETA, failures).
// NO_COLOR (any value) turns colour off; without a terminal there is no live line and no colour.
#ifndef BENCH_RUN_LOG_H
#define BENCH_RUN_LOG_H

#include <stdio.h>

#include "util.h"

typedef struct {
  int fd;            // run.log (appending), -1 when not written (dry run)
  char *path;        // its path
  char *write_error; // the first line that could not be written whole: why (NULL: none failed)
  int tty;           // stdout is a terminal: live line shown
  int color;         // tty and NO_COLOR unset
  int live_shown;    // a live line is on screen now
  char *live;        // its text
} RunLog;

// Appends to path (NULL: stdout only). Fails when the file cannot be opened. Each line goes to the
// file in one write(2) (O_APPEND), so a line is there whole or not at all; the first that cannot be
// written (a full disk) is said once on stderr, with the free space, and kept in write_error.
int run_log_open(RunLog *lg, const char *path, BenchErr *err);
void run_log_close(RunLog *lg);
// Closes run.log only (a forked worker's copy), leaving the rest to run_log_close.
void run_log_detach(RunLog *lg);
// One timestamped line to run.log and stdout (it replaces the live line until the next
// run_log_live).
void run_log(RunLog *lg, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
// A warning: "bench: warning: ..." on stderr, and "warning: ..." in run.log.
void run_log_warn(RunLog *lg, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
// Replaces the live line (terminal only; ignored otherwise). NULL clears it.
void run_log_live(RunLog *lg, const char *text);
// Wraps s in a colour (ANSI code, e.g. "31" red) when colour is on (caller frees).
char *run_log_color(const RunLog *lg, const char *code, const char *s);

// Durations for people: "42 s", "3 min 5 s", "2 h 14 min", "3 d 4 h".
void format_eta(double seconds, char *out, size_t n);

#endif
