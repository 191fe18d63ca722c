// rope_print.c — human-readable RoPE tables and gnuplot spectrum data. See rope.h.
// Legend: R rotary dims, k pair index, ω_k inverse frequency, wavelength 2π/ω_k in tokens.
#include <math.h>
#include <stdlib.h>

#include "rope.h"

void rope_print_table(FILE *out, const RopeTable *t, double ref_theta) {
  int n = t->rotary_dims / 2;
  double *geo = xmalloc((size_t)n * sizeof(double));
  rope_geometric(ref_theta, t->rotary_dims, geo);
  fprintf(out, "%4s  %14s  %20s  ratio to geometric(theta=%g)\n", "k", "omega_k",
          "wavelength (tokens)", ref_theta);
  for (int k = 0; k < n; k++)
    fprintf(out, "%4d  %14.8e  %20.3f  %.6f\n", k, t->inv_freq[k], 2.0 * M_PI / t->inv_freq[k],
            t->inv_freq[k] / geo[k]);
  fprintf(out, "attention scale: %.9g\n", t->attention_scale);
  free(geo);
}

static int cmp_long(const void *a, const void *b) {
  long x = *(const long *)a, y = *(const long *)b;
  return (x > y) - (x < y);
}

void rope_print_positions(FILE *out, const RopeTable *t, long length) {
  if (length <= 0) return;
  if (!t->compress) {
    fprintf(out, "positions: p' = p for p = 0..%ld (no position map)\n", length - 1);
    return;
  }
  double T = t->compress_threshold;
  fprintf(out, "positions: p' = p for p <= %g, %g + (p - %g) / %g beyond\n", T, T, T,
          t->compress_factor);
  if (T >= (double)(length - 1)) {
    fprintf(out, "  threshold %g >= last position %ld: positions unchanged\n", T, length - 1);
    return;
  }
  long th = (long)floor(T);
  long pts[6] = {0, th, th + 1, th + (length - 1 - th) / 2, length - 1, length - 1};
  qsort(pts, 6, sizeof pts[0], cmp_long);
  for (int i = 0; i < 6; i++) {
    if (i > 0 && pts[i] == pts[i - 1]) continue;
    if (pts[i] < 0 || pts[i] >= length) continue;
    fprintf(out, "  %8ld -> %.4f%s\n", pts[i], rope_position(t, pts[i]),
            pts[i] == th ? "  (threshold)" : "");
  }
}

int rope_write_spectrum_data(const char *path, const char *const *names,
                             const RopeTable *const *tables, int n, BenchErr *err) {
  StrBuf b = {0};
  sb_append(&b, "# RoPE spectrum: pair index k, inverse frequency omega_k; one block per variant,\n"
                "# blocks separated by two blank lines (gnuplot: index i)\n");
  for (int v = 0; v < n; v++) {
    if (v > 0) sb_append(&b, "\n\n");
    sb_printf(&b, "# variant %s\n", names[v]);
    for (int k = 0; k < tables[v]->rotary_dims / 2; k++)
      sb_printf(&b, "%d %.17g\n", k, tables[v]->inv_freq[k]);
  }
  int rc = write_file_atomic(path, b.data, b.len, err);
  sb_free(&b);
  return rc;
}
