// safetensors_write.c — streaming safetensors writer: header first, then tensor bytes in order,
// so a checkpoint larger than memory is written chunk by chunk (format: safetensors.h).
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "safetensors.h"

uint64_t st_spec_bytes(const StSpec *s) {
  uint64_t n = st_dtype_size(s->dtype);
  for (int i = 0; i < s->n_dims; i++)
    if (s->shape[i] < 0 || __builtin_mul_overflow(n, (uint64_t)s->shape[i], &n)) return 0;
  return n;
}

int st_convert_from_f32(StDtype t, const float *x, size_t n, void *out) {
  uint8_t *o = out;
  switch (t) {
    case ST_F32: if (n) memcpy(o, x, n * 4); return 0;
    case ST_F64:
      for (size_t j = 0; j < n; j++) { double d = x[j]; memcpy(o + 8 * j, &d, 8); }
      return 0;
    case ST_BF16:
      for (size_t j = 0; j < n; j++) { uint16_t h = st_f32_to_bf16(x[j]); memcpy(o + 2 * j, &h, 2); }
      return 0;
    case ST_F16:
      for (size_t j = 0; j < n; j++) { uint16_t h = st_f32_to_f16(x[j]); memcpy(o + 2 * j, &h, 2); }
      return 0;
    default:
      return -1;
  }
}

static void free_specs(StWriter *w) {
  for (int i = 0; i < w->n_specs; i++) free((char *)w->specs[i].name);
  free(w->specs);
  w->specs = NULL;
  w->n_specs = 0;
}

void st_writer_abort(StWriter *w) {
  if (w->f) fclose(w->f);
  if (w->tmp_path) unlink(w->tmp_path);
  free(w->tmp_path);
  free(w->path);
  free_specs(w);
  memset(w, 0, sizeof *w);
}

static int write_all(StWriter *w, const void *p, size_t n, BenchErr *err) {
  if (n && fwrite(p, 1, n, w->f) != n)
    return err_set(err, "cannot write '%s': %s", w->tmp_path, strerror(errno));
  return 0;
}

int st_writer_open(StWriter *w, const char *path, const StSpec *specs, int n_specs,
                   const char *metadata_json, BenchErr *err) {
  memset(w, 0, sizeof *w);
  json_t *hdr = json_object();
  if (metadata_json) {
    json_error_t je;
    json_t *meta = json_loads(metadata_json, JSON_REJECT_DUPLICATES, &je);
    if (!json_is_object(meta)) {
      json_decref(meta);
      json_decref(hdr);
      return err_set(err, "%s: metadata is not a JSON object", path);
    }
    json_object_set_new(hdr, "__metadata__", meta);
  }
  uint64_t off = 0;
  w->specs = xcalloc((size_t)n_specs + 1, sizeof(StSpec));
  for (int i = 0; i < n_specs; i++) {
    const StSpec *s = &specs[i];
    uint64_t nb = st_spec_bytes(s);
    int empty = 0;
    for (int d = 0; d < s->n_dims; d++) empty |= s->shape[d] == 0;
    if ((nb == 0 && !empty) || s->n_dims > ST_MAX_DIMS || json_object_get(hdr, s->name)) {
      json_decref(hdr);
      free_specs(w);
      return err_set(err, "%s: tensor '%s': bad shape or duplicate name", path, s->name);
    }
    json_t *shape = json_array();
    for (int d = 0; d < s->n_dims; d++) json_array_append_new(shape, json_integer(s->shape[d]));
    json_t *e = json_object();
    json_object_set_new(e, "dtype", json_string(st_dtype_name(s->dtype)));
    json_object_set_new(e, "shape", shape);
    json_object_set_new(e, "data_offsets", json_pack("[II]", (json_int_t)off, (json_int_t)(off + nb)));
    json_object_set_new(hdr, s->name, e);
    off += nb;
    w->specs[i] = *s;
    w->specs[i].name = xstrdup(s->name);
    w->n_specs = i + 1;
  }
  w->data_bytes = off;
  char *text = json_dumps(hdr, JSON_COMPACT | JSON_PRESERVE_ORDER);
  json_decref(hdr);
  CHECK(text);
  size_t len = strlen(text), padded = (len + 7) / 8 * 8;  // pad with spaces to 8-byte alignment

  w->path = xstrdup(path);
  w->tmp_path = xasprintf("%s.tmp.%ld", path, (long)getpid());
  w->f = fopen(w->tmp_path, "wb");
  if (!w->f) {
    err_set(err, "cannot create '%s': %s", w->tmp_path, strerror(errno));
    free(text);
    free(w->tmp_path);
    w->tmp_path = NULL;
    st_writer_abort(w);
    return -1;
  }
  uint8_t lenbuf[8];
  for (int i = 0; i < 8; i++) lenbuf[i] = (uint8_t)((uint64_t)padded >> (8 * i));
  int rc = write_all(w, lenbuf, 8, err);
  if (rc == 0) rc = write_all(w, text, len, err);
  for (size_t i = len; rc == 0 && i < padded; i++) rc = write_all(w, " ", 1, err);
  free(text);
  if (rc != 0) st_writer_abort(w);
  return rc;
}

// Advances past tensors that are complete (and zero-sized ones).
static void skip_done(StWriter *w) {
  while (w->cur < w->n_specs && w->cur_written == st_spec_bytes(&w->specs[w->cur])) {
    w->cur++;
    w->cur_written = 0;
  }
}

int st_writer_write(StWriter *w, const void *data, size_t n, BenchErr *err) {
  const uint8_t *p = data;
  while (n > 0) {
    skip_done(w);
    if (w->cur >= w->n_specs)
      return err_set(err, "%s: more bytes written than the header declares", w->path);
    uint64_t left = st_spec_bytes(&w->specs[w->cur]) - w->cur_written;
    size_t k = n < left ? n : (size_t)left;
    if (write_all(w, p, k, err) != 0) return -1;
    w->cur_written += k;
    p += k;
    n -= k;
  }
  return 0;
}

int st_writer_write_f32(StWriter *w, const float *x, size_t n, BenchErr *err) {
  skip_done(w);
  if (w->cur >= w->n_specs)
    return err_set(err, "%s: more values written than the header declares", w->path);
  const StSpec *s = &w->specs[w->cur];
  size_t es = st_dtype_size(s->dtype);
  if ((uint64_t)n * es > st_spec_bytes(s) - w->cur_written)
    return err_set(err, "%s: tensor '%s': values cross the end of the tensor", w->path, s->name);
  enum { CHUNK = 8192 };
  uint8_t buf[CHUNK * 8];
  for (size_t i = 0; i < n; i += CHUNK) {
    size_t m = n - i < CHUNK ? n - i : CHUNK;
    if (st_convert_from_f32(s->dtype, x + i, m, buf) != 0)
      return err_set(err, "%s: tensor '%s': cannot write fp32 values as %s", w->path, s->name,
                     st_dtype_name(s->dtype));
    if (write_all(w, buf, m * es, err) != 0) return -1;
    w->cur_written += m * es;
  }
  return 0;
}

int st_writer_close(StWriter *w, BenchErr *err) {
  skip_done(w);
  if (w->cur < w->n_specs) {
    err_set(err, "%s: tensor '%s' is incomplete (%llu of %llu bytes written)", w->path,
            w->specs[w->cur].name, (unsigned long long)w->cur_written,
            (unsigned long long)st_spec_bytes(&w->specs[w->cur]));
    st_writer_abort(w);
    return -1;
  }
  int rc = 0;
  if (fflush(w->f) != 0 || fsync(fileno(w->f)) != 0)
    rc = err_set(err, "cannot flush '%s': %s", w->tmp_path, strerror(errno));
  if (fclose(w->f) != 0 && rc == 0) rc = err_set(err, "cannot close '%s': %s", w->tmp_path, strerror(errno));
  w->f = NULL;
  if (rc == 0 && rename(w->tmp_path, w->path) != 0)
    rc = err_set(err, "cannot rename '%s' to '%s': %s", w->tmp_path, w->path, strerror(errno));
  if (rc == 0) {
    free(w->tmp_path);
    w->tmp_path = NULL;
  }
  st_writer_abort(w);  // frees; removes the temporary only when something failed
  return rc;
}
