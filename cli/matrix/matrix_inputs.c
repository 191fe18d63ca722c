// matrix_inputs.c — what the matrix knows of the suite's inputs: each model's, tokenizer's and
// dataset's fingerprint, computed once per suite entry, and the matrix's notes (which say, among
// other things, which inputs cannot be read) with the job counts they print. matrix.c and
// matrix_variant.c both use them.
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fingerprint.h"
#include "matrix_internal.h"

// ---- notes ----
void matrix_note(Matrix *m, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char buf[BENCH_ERR_MAX];
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  m->notes = xrealloc(m->notes, (size_t)(m->n_notes + 1) * sizeof *m->notes);
  m->notes[m->n_notes++] = xstrdup(buf);
}

void matrix_format_count(double x, char *out, size_t n) {
  char digits[64];
  snprintf(digits, sizeof digits, "%.0f", x);
  size_t len = strlen(digits), k = 0;
  for (size_t i = 0; i < len && k + 2 < n; i++) {
    if (i > 0 && (len - i) % 3 == 0) out[k++] = ',';
    out[k++] = digits[i];
  }
  out[k] = 0;
}

void matrix_too_large(double n, int exact, char *out, size_t len) {
  char count[64], limit[64];
  matrix_format_count(n, count, sizeof count);
  matrix_format_count(MATRIX_MAX_JOBS, limit, sizeof limit);
  snprintf(out, len, "the suite expands to %s%s jobs, more than the %s that bench runs from one suite "
           "(docs/DESIGN.md, Scale): narrow its axes or split its phases into several suites",
           exact ? "" : "up to ", count, limit);
}

// ---- fingerprints, once per model / dataset ----
int matrix_model_index(const Suite *s, const ModelDef *d) {
  int i = (int)(d - s->models);
  CHECK(i >= 0 && i < s->n_models);
  return i;
}

int matrix_dataset_index(const Suite *s, const DatasetDef *d) {
  int i = (int)(d - s->datasets);
  CHECK(i >= 0 && i < s->n_datasets);
  return i;
}

char *matrix_missing_fp(const char *path) { return xasprintf("missing:%s", path); }

const char *matrix_model_fp(MatrixCtx *c, int i) {
  Matrix *m = c->m;
  if (m->model_fp[i]) return m->model_fp[i];
  const ModelDef *d = &c->s->models[i];
  char hex[65];
  BenchErr e;
  long long n_params = -1;
  if (is_directory(d->path) && checkpoint_fingerprint(d->path, hex, &n_params, &e) == 0) {
    m->model_fp[i] = xstrdup(hex);
    m->model_params[i] = n_params;
  } else {
    if (file_exists(d->path))
      matrix_note(m, "model '%s' cannot be fingerprinted (%s): its job ids are provisional", d->name,
                  is_directory(d->path) ? e.msg : "not a directory");
    m->model_fp[i] = matrix_missing_fp(d->path);
  }
  return m->model_fp[i];
}

const char *matrix_tokenizer_fp(MatrixCtx *c, int i) {
  Matrix *m = c->m;
  if (m->tokenizer_fp[i]) return m->tokenizer_fp[i];
  const ModelDef *d = &c->s->models[i];
  char *path = path_join(d->path, "tokenizer.json");
  char hex[65];
  BenchErr e;
  int exists = file_exists(path);
  if (exists && file_sha256_cached(path, hex, &e) == 0) {
    m->tokenizer_fp[i] = xstrdup(hex);
  } else {
    if (is_directory(d->path) && exists)
      matrix_note(m, "model '%s' has no readable tokenizer.json (%s): text datasets cannot be encoded",
                  d->name, e.msg);
    else if (is_directory(d->path))
      matrix_note(m, "model '%s' has no readable tokenizer.json ('%s'): text datasets cannot be encoded",
                  d->name, path);
    m->tokenizer_fp[i] = matrix_missing_fp(path);
  }
  free(path);
  return m->tokenizer_fp[i];
}

const char *matrix_dataset_fp(MatrixCtx *c, int i) {
  Matrix *m = c->m;
  if (m->dataset_fp[i]) return m->dataset_fp[i];
  const DatasetDef *d = &c->s->datasets[i];
  BenchErr e;
  if (file_exists(d->path) && data_stats(d->path, d->field, &m->dataset_stats[i], &e) == 0) {
    m->dataset_fp[i] = xstrdup(m->dataset_stats[i].fingerprint);
    m->dataset_ok[i] = 1;
  } else {
    if (file_exists(d->path))
      matrix_note(m, "dataset '%s' cannot be fingerprinted (%s): its job ids are provisional", d->name,
                  e.msg);
    m->dataset_fp[i] = matrix_missing_fp(d->path);
  }
  return m->dataset_fp[i];
}

int matrix_is_missing(const char *fp) { return strncmp(fp, "missing:", 8) == 0; }
