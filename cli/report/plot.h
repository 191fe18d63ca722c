// plot.h — figures through gnuplot: a Plot (series of points, axes, reference lines) becomes a
// self-contained script DIR/gnuplot/NAME.gp (data inline, so a reader can restyle and re-run it)
// and, run from DIR, NAME.png (pngcairo) and NAME.svg. Styled for papers: labelled axes, a legend,
// fonts readable at column width, one colour per config, never a title inside the figure.
#ifndef BENCH_PLOT_H
#define BENCH_PLOT_H

#include "util.h"

typedef enum {
  SERIES_LINES,  // lines and points (error bars when err is given)
  SERIES_MARKS,  // points only, a cross: events such as OOM
  SERIES_CURVE,  // a line without points (dense data: spectra, NLL by position)
} SeriesStyle;

typedef struct {
  char *title;    // legend entry (NULL: none)
  int colour;     // palette index (the same config keeps the same colour in every figure)
  SeriesStyle style;
  double *x, *y;  // [n]
  double *err;    // [n] or NULL: ± error bars (sample std)
  int n;
} PlotSeries;

typedef struct {
  const char *xlabel, *ylabel;  // " (log scale)" is appended to a log axis' label
  int labels_enhanced;    // axis labels use gnuplot's enhanced text (ω_k: subscript k)
  int logx;               // 0: linear, else the log base
  int logy;               // log y when asked for and the data spans enough for log tics
  int xtics_k;            // 1: tics at the points' x values (context lengths), written 2k, 16k
                          // 2: evenly spaced tics from 0, written 0, 8k, 16k (token positions)
  PlotSeries *series;     // [n_series]
  int n_series;
  double hline[4];        // horizontal reference lines (e.g. thresholds), n_hline of them
  const char *hline_label[4];
  int n_hline;
  double vline;           // a vertical reference line (NAN: none)
  const char *vline_label;
  const char *marks_legend;  // legend entry for SERIES_MARKS (e.g. "OOM"), NULL: none
  int key_right;          // legend at the top right (data that falls from left to right)
} Plot;

void plot_init(Plot *p);
// Adds a series (copies x, y, err); returns it.
PlotSeries *plot_add(Plot *p, const char *title, int colour, SeriesStyle style, const double *x,
                     const double *y, const double *err, int n);
void plot_free(Plot *p);

// Writes DIR/gnuplot/NAME.gp and runs `gnuplot` (the program named) in DIR, producing NAME.png
// and NAME.svg. -1 with err (the reason in one line: program missing, gnuplot's own message, a
// time-out, an output missing or not a PNG) when the figure could not be made.
int plot_render(const Plot *p, const char *gnuplot, const char *dir, const char *name, BenchErr *err);
// The palette colour of index i as "#rrggbb".
const char *plot_colour(int i);

#endif
