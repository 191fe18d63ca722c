// report_fmt.c — how numbers look in a report. One rule for PPL everywhere (documented in
// report.h): 3 decimals below 100, 2 below 1,000, 1 below 10,000, none above.
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "report.h"

static int ppl_decimals(double v) {
  double a = fabs(v);
  if (a < 100) return 3;
  if (a < 1000) return 2;
  if (a < 10000) return 1;
  return 0;
}

void rfmt_ppl(double v, char out[32]) {
  if (isnan(v)) snprintf(out, 32, "nan");
  else if (isinf(v)) snprintf(out, 32, v > 0 ? "inf" : "-inf");
  else snprintf(out, 32, "%.*f", ppl_decimals(v), v);
}

void rfmt_mean_std(double mean, double std, char out[64]) {
  char m[32];
  rfmt_ppl(mean, m);
  if (!isfinite(mean) || !isfinite(std)) {
    snprintf(out, 64, "%s", m);
    return;
  }
  snprintf(out, 64, "%s±%.*f", m, ppl_decimals(mean), std);
}

void rfmt_ratio(double r, char out[32]) {
  if (!isfinite(r)) snprintf(out, 32, "—");
  else snprintf(out, 32, "%.2fx", r);
}

void rfmt_pct(double p, int decimals, char out[32]) {
  if (!isfinite(p)) snprintf(out, 32, "—");
  else snprintf(out, 32, "%.*f%%", decimals, p);
}

void rfmt_duration(double s, char out[32]) {
  if (!isfinite(s) || s < 0) {
    snprintf(out, 32, "—");
    return;
  }
  long t = lround(s);
  if (t < 60) snprintf(out, 32, "%lds", t);
  else if (t < 3600) snprintf(out, 32, "%ldm %02lds", t / 60, t % 60);
  else if (t < 86400) snprintf(out, 32, "%ldh %02ldm", t / 3600, (t % 3600) / 60);
  else snprintf(out, 32, "%ldd %02ldh", t / 86400, (t % 86400) / 3600);
}

void rfmt_time(double epoch, char out[32]) {
  if (!(epoch > 0)) {
    snprintf(out, 32, "—");
    return;
  }
  time_t t = (time_t)epoch;
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(out, 32, "%Y-%m-%d %H:%M UTC", &tm);
}

void rfmt_md_escape(StrBuf *b, const char *s) {
  for (const char *p = s; *p; p++) {
    switch (*p) {
      case '|': sb_append(b, "\\|"); break;
      case '*': sb_append(b, "\\*"); break;
      case '`': sb_append(b, "\\`"); break;
      case '<': sb_append(b, "&lt;"); break;
      case '\n': case '\r': sb_append(b, " "); break;
      default: sb_appendn(b, p, 1);
    }
  }
}

void rfmt_bytes(double bytes, char out[32]) {
  static const char *const UNITS[] = {"KiB", "MiB", "GiB", "TiB", "PiB"};
  if (!isfinite(bytes) || bytes < 0) {
    snprintf(out, 32, "—");
    return;
  }
  if (bytes < 1024) {
    snprintf(out, 32, "%.0f B", bytes);
    return;
  }
  int u = 0;
  double v = bytes / 1024;
  while (v >= 1023.95 && u < 4) {  // what "%.1f" would print as 1024.0 moves up a unit
    v /= 1024;
    u++;
  }
  snprintf(out, 32, "%.1f %s", v, UNITS[u]);
}
