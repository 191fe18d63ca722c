// plot.c — writes a gnuplot script with inline data and runs gnuplot on it (fork/exec, a time
// limit, stderr kept in DIR/gnuplot/NAME.log). Nothing here knows what is plotted.
//
// Figures are written whole or not at all: gnuplot draws into temporary names in the same folder
// (.NAME.tmp-PID.png / .svg), renamed over NAME.png and NAME.svg only once both are complete. A
// stop signal (SIGINT, SIGTERM, SIGHUP) while gnuplot runs kills it and removes the temporary
// files before bench dies of the signal; if bench itself is killed outright, the kernel kills
// gnuplot (PR_SET_PDEATHSIG). Either way no gnuplot is left running and no figure half-written.
#include "plot.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PLOT_TIMEOUT_S 60
#define FONT "DejaVu Sans,17"
#define SIZE "800,560"

// Okabe–Ito colours (distinguishable with colour-blindness), then a few more; cycled.
static const char *const PALETTE[] = {"#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00",
                                      "#56B4E9", "#000000", "#882255", "#44AA99", "#999933"};
#define N_PALETTE (int)(sizeof PALETTE / sizeof PALETTE[0])
static const int POINT_TYPES[] = {7, 5, 9, 11, 13, 15, 6, 4, 8, 10};

const char *plot_colour(int i) { return PALETTE[((i % N_PALETTE) + N_PALETTE) % N_PALETTE]; }

void plot_init(Plot *p) {
  memset(p, 0, sizeof *p);
  p->vline = NAN;
}

static double *copy_doubles(const double *v, int n) {
  if (!v) return NULL;
  double *c = xcalloc(n ? (size_t)n : 1, sizeof *c);
  memcpy(c, v, (size_t)n * sizeof *c);
  return c;
}

PlotSeries *plot_add(Plot *p, const char *title, int colour, SeriesStyle style, const double *x,
                     const double *y, const double *err, int n) {
  p->series = xrealloc(p->series, (size_t)(p->n_series + 1) * sizeof *p->series);
  PlotSeries *s = &p->series[p->n_series++];
  s->title = title ? xstrdup(title) : NULL;
  s->colour = colour;
  s->style = style;
  s->x = copy_doubles(x, n);
  s->y = copy_doubles(y, n);
  s->err = copy_doubles(err, n);
  s->n = n;
  return s;
}

void plot_free(Plot *p) {
  for (int i = 0; i < p->n_series; i++) {
    free(p->series[i].title);
    free(p->series[i].x);
    free(p->series[i].y);
    free(p->series[i].err);
  }
  free(p->series);
  plot_init(p);
}

// A gnuplot single-quoted string: ' is doubled; newlines dropped.
static void gp_str(StrBuf *b, const char *s) {
  sb_append(b, "'");
  for (const char *c = s ? s : ""; *c; c++) {
    if (*c == '\'') sb_append(b, "''");
    else if (*c != '\n' && *c != '\r') sb_appendn(b, c, 1);
  }
  sb_append(b, "'");
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static void tic_label(double x, char out[32]) {
  if (x >= 1024 && fmod(x, 1024) == 0) snprintf(out, 32, "%.0fk", x / 1024);
  else if (x >= 1e6 && fmod(x, 1e5) == 0) snprintf(out, 32, "%gM", x / 1e6);  // θ = 1.5M
  else if (x >= 1e5 && fmod(x, 1e3) == 0) snprintf(out, 32, "%gk", x / 1e3);  // θ = 500k
  else snprintf(out, 32, "%g", x);
}

typedef struct {
  double xmin, xmax, ymin, ymax;  // over every finite point (marks included)
  int n;
} Bounds;

static Bounds bounds_of(const Plot *p, int logy) {
  Bounds bd = {INFINITY, -INFINITY, INFINITY, -INFINITY, 0};
  for (int i = 0; i < p->n_series; i++)
    for (int k = 0; k < p->series[i].n; k++) {
      double x = p->series[i].x[k], y = p->series[i].y[k];
      double e = p->series[i].err ? p->series[i].err[k] : 0;
      if (!isfinite(x) || !isfinite(y) || (logy && y <= 0)) continue;
      bd.xmin = fmin(bd.xmin, x);
      bd.xmax = fmax(bd.xmax, x);
      bd.ymin = fmin(bd.ymin, logy && y - e <= 0 ? y : y - e);
      bd.ymax = fmax(bd.ymax, y + e);
      bd.n++;
    }
  return bd;
}

// Log-axis tics at 1, 2, 5 × 10^k inside [lo, hi] (only 10^k when that gives too many).
// Returns how many were written; 0 writes nothing.
static int log_tics(double lo, double hi, StrBuf *b) {
  static const double MANT[] = {1, 2, 5};
  double v[64];
  int n = 0;
  for (int pass = 0; pass < 3; pass++) {
    n = 0;
    for (int e = (int)floor(log10(lo)) - 1; e <= (int)ceil(log10(hi)) + 1 && n < 64; e++)
      for (int m = 0; m < 3 && n < 64; m++) {
        if (pass >= 1 && m > 0) continue;         // decades only
        if (pass == 2 && e % 2 != 0) continue;    // every other decade
        double t = MANT[m] * pow(10, e);
        if (t >= lo && t <= hi) v[n++] = t;
      }
    if (n <= 8) break;
  }
  if (n < 3) return 0;
  int powers = hi / lo >= 1e4;  // wide ranges read better as 10^k
  for (int i = 0; i < n && powers; i++) powers = fabs(log10(v[i]) - round(log10(v[i]))) < 1e-9;
  sb_append(b, "set ytics (");
  for (int i = 0; i < n; i++) {
    if (powers && fabs(v[i] - 1) > 1e-12 && fabs(v[i] - 10) > 1e-9)
      sb_printf(b, "%s'10^{%d}' %.10g", i ? ", " : "", (int)round(log10(v[i])), v[i]);
    else
      sb_printf(b, "%s'%g' %.10g", i ? ", " : "", v[i], v[i]);
  }
  sb_append(b, ")\nset mytics 10\n");
  return n;
}

// Labelled x tics stay this fraction of the axis apart (a 600-pixel axis: 60 pixels, room for a
// label such as "1.5M" or "208").
#define MIN_TIC_GAP 0.1
static double tic_pos(const Plot *p, double x) { return p->logx && x > 0 ? log(x) : x; }

static void x_tics(const Plot *p, const Bounds *bd, StrBuf *b) {
  if (p->xtics_k == 1) {
    int n = 0;
    for (int i = 0; i < p->n_series; i++) n += p->series[i].n;
    double *xs = xcalloc(n ? (size_t)n : 1, sizeof *xs);
    int m = 0;
    for (int i = 0; i < p->n_series; i++)
      for (int k = 0; k < p->series[i].n; k++) xs[m++] = p->series[i].x[k];
    qsort(xs, (size_t)m, sizeof *xs, cmp_double);
    // a label only where it does not run into the previous one: labelled tics at least
    // MIN_TIC_GAP of the axis apart (on a log axis, dense long lengths crowd the right end);
    // the others are unlabelled minor tics
    double pos_lo = tic_pos(p, xs[0]), span = m ? tic_pos(p, xs[m - 1]) - pos_lo : 0, last = -INFINITY;
    sb_append(b, "set xtics (");
    int first = 1;
    for (int k = 0; k < m; k++) {
      if (k > 0 && xs[k] == xs[k - 1]) continue;
      char lab[32];
      tic_label(xs[k], lab);
      double at = span > 0 ? (tic_pos(p, xs[k]) - pos_lo) / span : 0;
      if (k == 0 || at - last >= MIN_TIC_GAP) {
        sb_printf(b, "%s'%s' %.10g", first ? "" : ", ", lab, xs[k]);
        last = at;
      } else {
        sb_printf(b, "%s'' %.10g 1", first ? "" : ", ", xs[k]);
      }
      first = 0;
    }
    sb_append(b, ")\n");
    free(xs);
  } else if (p->xtics_k == 2 && bd->n > 0 && bd->xmax >= 4096) {
    double step = 1024;
    while (bd->xmax / step > 6) step *= 2;
    sb_append(b, "set xtics (");
    for (double t = 0; t <= bd->xmax + step * 0.01; t += step) {
      char lab[32];
      tic_label(t, lab);
      sb_printf(b, "%s'%s' %.10g", t > 0 ? ", " : "", t > 0 ? lab : "0", t);
    }
    sb_printf(b, ")\nset xrange [0:%.10g]\n", bd->xmax);
  }
}

static void script(const Plot *p, const char *name, StrBuf *b) {
  sb_printf(b, "# %s — written by `bench report`. Redraw from the report folder: gnuplot gnuplot/%s.gp\n",
            name, name);
  sb_append(b, "if (!exists(\"out\")) out = ");  // bench passes a temporary name (gnuplot -e)
  gp_str(b, name);
  sb_append(b, "\nset encoding utf8\n");
  for (int i = 0; i < p->n_series; i++) {
    const PlotSeries *s = &p->series[i];
    sb_printf(b, "$d%d << EOD\n", i);
    for (int k = 0; k < s->n; k++)
      sb_printf(b, "%.10g %.10g %.10g\n", s->x[k], s->y[k], s->err ? s->err[k] : 0.0);
    sb_append(b, "EOD\n");
  }
  sb_append(b, "set terminal pngcairo size " SIZE " font '" FONT "' linewidth 2 rounded enhanced\n");
  sb_append(b, "set output out.'.png'\n");
  sb_append(b, "set border 3 linewidth 1\nset tics nomirror out scale 0.6\n");
  sb_append(b, "set grid xtics ytics mytics linecolor rgb '#e6e6e6' linewidth 0.6 dashtype 1, linecolor rgb '#f2f2f2' linewidth 0.5\n");
  int titled = 0;
  for (int i = 0; i < p->n_series; i++) titled += p->series[i].title != NULL;
  if (titled > 4)
    sb_append(b, "set key outside right top vertical Left reverse samplen 1.5 spacing 1.1 font ',14'\n");
  else
    sb_printf(b, "set key %s reverse Left samplen 2 spacing 1.15 font ',15' opaque box linecolor rgb '#ffffff'\n",
              p->key_right ? "top right" : "top left");
  // y: log only when the data spans enough for log tics
  Bounds bd = bounds_of(p, p->logy);
  int logy = 0;
  if (p->logy && bd.n > 0) {
    double lo = bd.ymin / 1.5, hi = bd.ymax * 1.5;
    StrBuf tics = {0};
    if (log_tics(lo, hi, &tics) > 0) {
      logy = 1;
      sb_printf(b, "set logscale y %d\nset yrange [%.10g:%.10g]\n%s", p->logy, lo, hi, tics.data);
    }
    sb_free(&tics);
  }
  // user text (names, labels) is never parsed as markup, except the labels that ask for it
  const char *enh = p->labels_enhanced ? " enhanced" : " noenhanced";
  sb_append(b, "set xlabel ");
  gp_str(b, p->xlabel);
  sb_printf(b, "%s\nset ylabel ", enh);
  StrBuf yl = {0};
  const char *ylab = p->ylabel ? p->ylabel : "";
  size_t ylen = strlen(ylab);
  const char *unit = strstr(ylab, " (");  // "x (unit)" → "x (unit, log scale)"
  while (unit && strstr(unit + 2, " (")) unit = strstr(unit + 2, " (");
  if (logy && unit && ylen > 0 && ylab[ylen - 1] == ')' && !strchr(unit + 2, '('))
    sb_printf(&yl, "%.*s, log scale)", (int)(ylen - 1), ylab);
  else
    sb_printf(&yl, "%s%s", ylab, logy ? " (log scale)" : "");
  gp_str(b, yl.data);
  sb_free(&yl);
  sb_printf(b, "%s\n", enh);
  if (p->logx) sb_printf(b, "set logscale x %d\n", p->logx);
  sb_append(b, p->xtics_k == 2 ? "set offsets 0, 0, graph 0.05, graph 0.05\n"
                               : logy ? "set offsets graph 0.04, graph 0.04, 0, 0\n"
                                      : "set offsets graph 0.04, graph 0.04, graph 0.05, graph 0.05\n");
  if (p->xtics_k != 2) sb_append(b, "set autoscale xfix\n");
  x_tics(p, &bd, b);
  for (int i = 0; i < p->n_hline; i++) {
    sb_printf(b, "set arrow from graph 0, first %.10g to graph 1, first %.10g nohead dashtype 2 "
                 "linecolor rgb '#c0392b' linewidth 1 back\n", p->hline[i], p->hline[i]);
    if (p->hline_label[i]) {
      sb_printf(b, "set label %d ", 10 + i);
      gp_str(b, p->hline_label[i]);
      sb_printf(b, " noenhanced at graph 0.98, first %.10g right offset 0,0.6 textcolor rgb '#c0392b' font ',13'\n",
                p->hline[i]);
    }
  }
  if (isfinite(p->vline)) {
    sb_printf(b, "set arrow from first %.10g, graph 0 to first %.10g, graph 1 nohead dashtype 3 "
                 "linecolor rgb '#777777' linewidth 1 back\n", p->vline, p->vline);
    if (p->vline_label) {
      sb_append(b, "set label 20 ");
      gp_str(b, p->vline_label);
      sb_printf(b, " noenhanced at first %.10g, graph 0.04 left offset 0.5,0 textcolor rgb '#555555' font ',13'\n", p->vline);
    }
  }
  sb_append(b, "plot ");
  int first = 1;
  for (int i = 0; i < p->n_series; i++) {
    const PlotSeries *s = &p->series[i];
    const char *col = plot_colour(s->colour);
    sb_printf(b, "%s$d%d ", first ? "" : ", \\\n     ", i);
    first = 0;
    if (s->style == SERIES_MARKS) {
      sb_printf(b, "using 1:2 with points pointtype 2 pointsize 2.2 linewidth 2 linecolor rgb '%s' notitle", col);
      continue;
    }
    int pt = POINT_TYPES[((s->colour % 10) + 10) % 10];
    if (s->style == SERIES_CURVE)
      sb_printf(b, "using 1:2 with lines linewidth 1.5 linecolor rgb '%s' ", col);
    else if (s->err) sb_printf(b, "using 1:2:3 with yerrorlines pointtype %d pointsize 1.2 linewidth 1.5 linecolor rgb '%s' ", pt, col);
    else sb_printf(b, "using 1:2 with linespoints pointtype %d pointsize 1.2 linewidth 1.5 linecolor rgb '%s' ", pt, col);
    if (s->colour >= N_PALETTE) sb_printf(b, "dashtype %d ", 1 + (s->colour / N_PALETTE) % 4);
    if (s->title) {
      sb_append(b, "title ");
      gp_str(b, s->title);
      sb_append(b, " noenhanced");
    } else {
      sb_append(b, "notitle");
    }
  }
  if (p->marks_legend) {
    sb_append(b, ", \\\n     NaN with points pointtype 2 pointsize 2.2 linewidth 2 linecolor rgb '#333333' title ");
    gp_str(b, p->marks_legend);
    sb_append(b, " noenhanced");
  }
  sb_append(b, "\n");
  sb_append(b, "set terminal svg size " SIZE " dynamic font '" FONT "' linewidth 2 rounded enhanced\n");
  sb_append(b, "set output out.'.svg'\nreplot\nunset output\n");
}

// Last non-empty line of a file, trimmed (gnuplot's error message).
static void last_line(const char *path, char *out, size_t n) {
  out[0] = 0;
  char *text = NULL;
  size_t len = 0;
  BenchErr e;
  if (read_file(path, 1u << 20, &text, &len, &e) != 0) return;
  char *end = text + len;
  while (end > text && (end[-1] == '\n' || end[-1] == '\r' || end[-1] == ' ')) end--;
  *end = 0;
  char *start = strrchr(text, '\n');
  start = start ? start + 1 : text;
  while (*start == ' ' || *start == '^') start++;
  snprintf(out, n, "%s", start);
  free(text);
}

// ---- the figure being drawn, for a stop signal ----
static volatile sig_atomic_t g_gnuplot_pid;  // 0: none running
static char g_tmp_png[PATH_MAX], g_tmp_svg[PATH_MAX];
static volatile sig_atomic_t g_tmp_set;

static void on_stop_signal(int sig) {
  if (g_gnuplot_pid > 0) {
    kill((pid_t)g_gnuplot_pid, SIGKILL);
    waitpid((pid_t)g_gnuplot_pid, NULL, 0);
  }
  if (g_tmp_set) {
    unlink(g_tmp_png);
    unlink(g_tmp_svg);
  }
  signal(sig, SIG_DFL);
  raise(sig);
}

static const int STOP_SIGNALS[] = {SIGINT, SIGTERM, SIGHUP};
#define N_STOP_SIGNALS 3

// Installs on_stop_signal for the stop signals that are not ignored; the old actions go to old[].
static void guard_signals(struct sigaction old[N_STOP_SIGNALS]) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  for (int i = 0; i < N_STOP_SIGNALS; i++) {
    sigaction(STOP_SIGNALS[i], NULL, &old[i]);
    if (old[i].sa_handler != SIG_IGN) sigaction(STOP_SIGNALS[i], &sa, NULL);
  }
}

static void unguard_signals(const struct sigaction old[N_STOP_SIGNALS]) {
  for (int i = 0; i < N_STOP_SIGNALS; i++) sigaction(STOP_SIGNALS[i], &old[i], NULL);
}

// Runs `gnuplot -e "out='OUT'" SCRIPT` in dir.
static int run_gnuplot(const char *gnuplot, const char *dir, const char *script_rel, const char *out,
                       const char *log_path, int *status, BenchErr *err) {
  StrBuf def = {0};
  sb_append(&def, "out = ");
  gp_str(&def, out);
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) {
    sb_free(&def);
    return err_set(err, "cannot start gnuplot: %s", strerror(errno));
  }
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);  // bench killed outright: gnuplot goes with it
    if (getppid() != parent) _exit(1);
    int fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
      close(fd);
    }
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) {
      dup2(devnull, 0);
      close(devnull);
    }
    if (chdir(dir) != 0) _exit(126);
    execlp(gnuplot, gnuplot, "-e", def.data, script_rel, (char *)NULL);
    _exit(127);
  }
  sb_free(&def);
  g_gnuplot_pid = pid;
  double deadline = mono_time() + PLOT_TIMEOUT_S;
  int rc = 0;
  for (;;) {
    pid_t w = waitpid(pid, status, WNOHANG);
    if (w == pid) break;
    if (w < 0 && errno != EINTR) {
      rc = err_set(err, "cannot wait for gnuplot: %s", strerror(errno));
      break;
    }
    if (mono_time() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, status, 0);
      rc = err_set(err, "gnuplot ran longer than %d s and was stopped", PLOT_TIMEOUT_S);
      break;
    }
    struct timespec ts = {0, 20 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  g_gnuplot_pid = 0;
  return rc;
}

// path: what gnuplot wrote; shown: the figure's name in a message.
static int check_png(const char *path, const char *shown, BenchErr *err) {
  static const unsigned char MAGIC[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  unsigned char head[8] = {0};
  FILE *f = fopen_regular(path, NULL);
  if (!f) return err_set(err, "gnuplot wrote no '%s'", shown);
  size_t got = fread(head, 1, 8, f);
  fclose(f);
  if (got != 8 || memcmp(head, MAGIC, 8) != 0) return err_set(err, "'%s' is not a PNG image", shown);
  return 0;
}

int plot_render(const Plot *p, const char *gnuplot, const char *dir, const char *name, BenchErr *err) {
  char *gp_dir = path_join(dir, "gnuplot");
  if (mkdir_p(gp_dir, err) != 0) {
    free(gp_dir);
    return -1;
  }
  char *script_rel = xasprintf("gnuplot/%s.gp", name);
  char *script_path = path_join(dir, script_rel);
  char *log_path = xasprintf("%s/%s.log", gp_dir, name);
  char *png = xasprintf("%s/%s.png", dir, name), *svg = xasprintf("%s/%s.svg", dir, name);
  char *tmp = xasprintf(".%s.tmp-%ld", name, (long)getpid());  // relative to dir, where gnuplot runs
  char *tmp_png = xasprintf("%s/%s.png", dir, tmp), *tmp_svg = xasprintf("%s/%s.svg", dir, tmp);
  StrBuf b = {0};
  script(p, name, &b);
  int rc = write_file_atomic(script_path, b.data, b.len, err);
  sb_free(&b);
  int status = 0;
  if (rc == 0) {
    struct sigaction old[N_STOP_SIGNALS];
    snprintf(g_tmp_png, sizeof g_tmp_png, "%s", tmp_png);
    snprintf(g_tmp_svg, sizeof g_tmp_svg, "%s", tmp_svg);
    g_tmp_set = 1;
    guard_signals(old);
    rc = run_gnuplot(gnuplot, dir, script_rel, tmp, log_path, &status, err);
    unguard_signals(old);
  }
  if (rc == 0) {
    if (WIFEXITED(status) && WEXITSTATUS(status) == 127) {
      rc = err_set(err, "'%s' not found (install gnuplot: Debian package gnuplot-nox)", gnuplot);
    } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      char line[300];
      last_line(log_path, line, sizeof line);
      rc = err_set(err, "gnuplot failed (%s): %s", WIFEXITED(status) ? "exit status" : "signal",
                   line[0] ? line : "no message");
    } else if (check_png(tmp_png, png, err) != 0) {
      rc = -1;
    } else if (!file_exists(tmp_svg)) {
      rc = err_set(err, "gnuplot wrote no '%s'", svg);
    } else if (rename(tmp_png, png) != 0 || rename(tmp_svg, svg) != 0) {
      rc = err_set(err, "cannot write '%s': %s", png, strerror(errno));
    }
  }
  if (rc != 0) {  // a failed run must not leave last time's figure looking current
    unlink(png);
    unlink(svg);
  }
  unlink(tmp_png);
  unlink(tmp_svg);
  g_tmp_set = 0;
  if (rc == 0) unlink(log_path);
  free(tmp);
  free(tmp_png);
  free(tmp_svg);
  free(gp_dir);
  free(script_rel);
  free(script_path);
  free(log_path);
  free(png);
  free(svg);
  return rc;
}
