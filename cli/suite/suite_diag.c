// suite_diag.c — collecting, sorting and printing suite diagnostics (errors and warnings with
// FILE:LINE:COL).
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "suite_internal.h"

static void diag_add(Diagnostic **list, int *n, const char *file, Mark m, const char *fmt,
                     va_list ap) {
  va_list copy;
  va_copy(copy, ap);
  int len = vsnprintf(NULL, 0, fmt, copy);
  va_end(copy);
  char *msg = xmalloc((size_t)len + 1);
  vsnprintf(msg, (size_t)len + 1, fmt, ap);
  for (char *c = msg; *c; c++)  // one line per diagnostic, whatever a quoted value held
    if ((unsigned char)*c < 0x20) *c = ' ';
  if ((*n & (*n - 1)) == 0)  // capacity doubles at each power of two
    *list = xrealloc(*list, sizeof(Diagnostic) * (size_t)(*n ? 2 * *n : 1));
  Diagnostic *dg = &(*list)[(*n)++];
  dg->file = file ? xstrdup(file) : NULL;
  dg->mark = m;
  dg->message = msg;
}

void diag_error(Diagnostics *d, const char *file, Mark m, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  diag_add(&d->errors, &d->n_errors, file, m, fmt, ap);
  va_end(ap);
}

void diag_warning(Diagnostics *d, const char *file, Mark m, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  diag_add(&d->warnings, &d->n_warnings, file, m, fmt, ap);
  va_end(ap);
}

typedef struct {
  Diagnostic d;
  int order;
} Ordered;

static int cmp_ordered(const void *pa, const void *pb) {
  const Ordered *a = pa, *b = pb;
  if (a->d.mark.line != b->d.mark.line) return a->d.mark.line < b->d.mark.line ? -1 : 1;
  if (a->d.mark.col != b->d.mark.col) return a->d.mark.col < b->d.mark.col ? -1 : 1;
  return a->order < b->order ? -1 : a->order > b->order;
}

// Sorts by position (unpositioned first, then file order; ties keep insertion order) and drops
// exact repeats (the same message at the same place, e.g. an inherited setting checked per phase).
static void sort_list(Diagnostic *list, int *n) {
  if (*n == 0) return;
  Ordered *o = xmalloc(sizeof(Ordered) * (size_t)*n);
  for (int i = 0; i < *n; i++) o[i] = (Ordered){list[i], i};
  qsort(o, (size_t)*n, sizeof(Ordered), cmp_ordered);
  int k = 0;
  for (int i = 0; i < *n; i++) {
    if (k > 0 && list[k - 1].mark.line == o[i].d.mark.line && list[k - 1].mark.col == o[i].d.mark.col &&
        strcmp(list[k - 1].message, o[i].d.message) == 0) {
      free(o[i].d.file);
      free(o[i].d.message);
      continue;
    }
    list[k++] = o[i].d;
  }
  *n = k;
  free(o);
}

void diagnostics_sort(Diagnostics *d) {
  sort_list(d->errors, &d->n_errors);
  sort_list(d->warnings, &d->n_warnings);
}

static void free_list(Diagnostic *list, int n) {
  for (int i = 0; i < n; i++) {
    free(list[i].file);
    free(list[i].message);
  }
  free(list);
}

void diagnostics_free(Diagnostics *d) {
  if (!d) return;
  free_list(d->errors, d->n_errors);
  free_list(d->warnings, d->n_warnings);
  d->errors = d->warnings = NULL;
  d->n_errors = d->n_warnings = 0;
}

static void print_one(const char *level, const Diagnostic *dg, FILE *out) {
  fprintf(out, "bench: %s: ", level);
  if (dg->file && dg->mark.line > 0)
    fprintf(out, "%s:%d:%d: ", dg->file, dg->mark.line, dg->mark.col);
  else if (dg->file)
    fprintf(out, "%s: ", dg->file);
  fprintf(out, "%s\n", dg->message);
}

void diagnostics_print(const Diagnostics *d, FILE *out) {
  for (int i = 0; i < d->n_warnings; i++) print_one("warning", &d->warnings[i], out);
  for (int i = 0; i < d->n_errors; i++) print_one("error", &d->errors[i], out);
}
