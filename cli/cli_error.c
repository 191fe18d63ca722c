// cli_error.c — the command line's error line (commands.h).
#include "commands.h"

#include <stdarg.h>
#include <stdio.h>

int cli_usage_error(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "bench: error: ");
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\n");
  va_end(ap);
  return EXIT_BAD_INPUT;
}
