// safetensors.c — parsing, validating and converting safetensors files (format: safetensors.h).
#include "safetensors.h"
#include "json_file.h"

#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static const struct {
  const char *name;
  size_t size;
} DTYPES[ST_N_DTYPES] = {
    [ST_BOOL] = {"BOOL", 1}, [ST_U8] = {"U8", 1},     [ST_I8] = {"I8", 1},
    [ST_F8_E5M2] = {"F8_E5M2", 1}, [ST_F8_E4M3] = {"F8_E4M3", 1},
    [ST_I16] = {"I16", 2},   [ST_U16] = {"U16", 2},   [ST_F16] = {"F16", 2},
    [ST_BF16] = {"BF16", 2}, [ST_I32] = {"I32", 4},   [ST_U32] = {"U32", 4},
    [ST_F32] = {"F32", 4},   [ST_F64] = {"F64", 8},   [ST_I64] = {"I64", 8},
    [ST_U64] = {"U64", 8},
};

size_t st_dtype_size(StDtype t) { return (unsigned)t < ST_N_DTYPES ? DTYPES[t].size : 0; }
const char *st_dtype_name(StDtype t) { return (unsigned)t < ST_N_DTYPES ? DTYPES[t].name : "?"; }

int st_dtype_from_name(const char *name) {
  for (int i = 0; i < ST_N_DTYPES; i++)
    if (strcmp(DTYPES[i].name, name) == 0) return i;
  return -1;
}

// ---- scalar conversions ----
static float bits_to_f32(uint32_t b) {
  float f;
  memcpy(&f, &b, 4);
  return f;
}
static uint32_t f32_to_bits(float f) {
  uint32_t b;
  memcpy(&b, &f, 4);
  return b;
}

float st_bf16_to_f32(uint16_t h) { return bits_to_f32((uint32_t)h << 16); }

float st_f16_to_f32(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1fu, mant = h & 0x3ffu;
  if (exp == 0) {
    if (mant == 0) return bits_to_f32(sign);
    uint32_t e = 113;  // subnormal: normalise the mantissa (2^-14 · mant/1024)
    while (!(mant & 0x400u)) {
      mant <<= 1;
      e--;
    }
    return bits_to_f32(sign | (e << 23) | ((mant & 0x3ffu) << 13));
  }
  if (exp == 31) return bits_to_f32(sign | 0x7f800000u | (mant << 13));
  return bits_to_f32(sign | ((exp + 112) << 23) | (mant << 13));
}

uint16_t st_f32_to_bf16(float f) {
  uint32_t x = f32_to_bits(f);
  if ((x & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((x >> 16) | 0x40u);  // quiet NaN
  x += 0x7fffu + ((x >> 16) & 1u);
  return (uint16_t)(x >> 16);
}

uint16_t st_f32_to_f16(float f) {
  uint32_t x = f32_to_bits(f);
  uint16_t sign = (uint16_t)((x >> 16) & 0x8000u);
  uint32_t ax = x & 0x7fffffffu;
  if (ax > 0x7f800000u) return sign | 0x7e00u;            // NaN
  if (ax >= 0x477ff000u) return sign | 0x7c00u;           // ≥ 65520 rounds to infinity
  if (ax < 0x38800000u) {                                  // below 2^-14: subnormal or zero
    float r = rintf(bits_to_f32(ax) * 16777216.0f);        // units of 2^-24, ties to even
    return sign | (uint16_t)r;
  }
  uint32_t m = ax & 0x7fffffu;
  uint32_t h = (((ax >> 23) - 112u) << 10) | (m >> 13);
  uint32_t rem = m & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) h++;  // carry may reach the exponent: right
  return sign | (uint16_t)h;
}

// ---- parsing ----
static uint64_t read_le64(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
  return v;
}

static void format_shape(const int64_t *shape, int n, char *out, size_t cap) {
  size_t k = 0;
  k += (size_t)snprintf(out + k, cap - k, "[");
  for (int i = 0; i < n && k < cap; i++)
    k += (size_t)snprintf(out + k, cap - k, "%s%lld", i ? ", " : "", (long long)shape[i]);
  if (k < cap) snprintf(out + k, cap - k, "]");
}

// One tensor entry of the header; label names the file.
static int parse_entry(const char *label, const char *name, json_t *v, uint64_t data_size,
                       StTensor *t, BenchErr *err) {
  if (!json_is_object(v)) return err_set(err, "%s: tensor '%s' is not a JSON object", label, name);
  const char *key;
  json_t *val;
  json_object_foreach(v, key, val) {
    if (strcmp(key, "dtype") && strcmp(key, "shape") && strcmp(key, "data_offsets"))
      return err_set(err, "%s: tensor '%s' has unexpected key '%s'", label, name, key);
  }
  json_t *jd = json_object_get(v, "dtype"), *js = json_object_get(v, "shape"),
         *jo = json_object_get(v, "data_offsets");
  if (!jd || !js || !jo)
    return err_set(err, "%s: tensor '%s' lacks '%s'", label, name,
                   !jd ? "dtype" : !js ? "shape" : "data_offsets");
  if (!json_is_string(jd)) return err_set(err, "%s: tensor '%s': dtype is not a string", label, name);
  int dt = st_dtype_from_name(json_string_value(jd));
  if (dt < 0)
    return err_set(err, "%s: tensor '%s' has unknown dtype '%s'", label, name, json_string_value(jd));
  t->dtype = (StDtype)dt;

  if (!json_is_array(js)) return err_set(err, "%s: tensor '%s': shape is not an array", label, name);
  size_t nd = json_array_size(js);
  if (nd > ST_MAX_DIMS)
    return err_set(err, "%s: tensor '%s' has %zu dimensions (at most %d)", label, name, nd, ST_MAX_DIMS);
  t->n_dims = (int)nd;
  uint64_t n = 1;
  int overflow = 0, has_zero = 0;
  for (size_t i = 0; i < nd; i++) {
    json_t *d = json_array_get(js, i);
    if (!json_is_integer(d) || json_integer_value(d) < 0)
      return err_set(err, "%s: tensor '%s': shape entry %zu is not a non-negative integer", label,
                     name, i);
    t->shape[i] = json_integer_value(d);
    if (t->shape[i] == 0) has_zero = 1;
    if (__builtin_mul_overflow(n, (uint64_t)t->shape[i], &n)) overflow = 1;
  }
  uint64_t bytes = 0;
  if (__builtin_mul_overflow(n, (uint64_t)st_dtype_size(t->dtype), &bytes)) overflow = 1;
  if (has_zero) n = bytes = 0;
  else if (overflow) {
    char sh[256];
    format_shape(t->shape, t->n_dims, sh, sizeof sh);
    return err_set(err, "%s: tensor '%s': shape %s overflows the byte size", label, name, sh);
  }
  t->n_elems = n;

  if (!json_is_array(jo) || json_array_size(jo) != 2)
    return err_set(err, "%s: tensor '%s': data_offsets is not a [begin, end] pair", label, name);
  json_t *jb = json_array_get(jo, 0), *je = json_array_get(jo, 1);
  if (!json_is_integer(jb) || !json_is_integer(je) || json_integer_value(jb) < 0 ||
      json_integer_value(je) < 0)
    return err_set(err, "%s: tensor '%s': data_offsets must be non-negative integers", label, name);
  t->begin = (uint64_t)json_integer_value(jb);
  t->end = (uint64_t)json_integer_value(je);
  if (t->end < t->begin)
    return err_set(err, "%s: tensor '%s': data_offsets [%llu, %llu] go backward", label, name,
                   (unsigned long long)t->begin, (unsigned long long)t->end);
  if (t->end - t->begin != bytes) {
    char sh[256];
    format_shape(t->shape, t->n_dims, sh, sizeof sh);
    return err_set(err, "%s: tensor '%s': data_offsets [%llu, %llu] hold %llu bytes, shape %s of %s needs %llu",
                   label, name, (unsigned long long)t->begin, (unsigned long long)t->end,
                   (unsigned long long)(t->end - t->begin), sh, st_dtype_name(t->dtype),
                   (unsigned long long)bytes);
  }
  if (t->end > data_size)
    return err_set(err, "%s: tensor '%s' ends at byte %llu, past the end of the data section (%llu bytes)",
                   label, name, (unsigned long long)t->end, (unsigned long long)data_size);
  return 0;
}

static int parse_metadata(const char *label, json_t *v, char **out, BenchErr *err) {
  if (!json_is_object(v)) return err_set(err, "%s: __metadata__ is not a JSON object", label);
  const char *key;
  json_t *val;
  json_object_foreach(v, key, val) {
    if (!json_is_string(val))
      return err_set(err, "%s: __metadata__ value '%s' is not a string", label, key);
  }
  *out = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER);
  CHECK(*out);
  return 0;
}

static int cmp_by_offset(const void *a, const void *b, void *base) {
  const StTensor *t = base;
  const StTensor *x = &t[*(const int *)a], *y = &t[*(const int *)b];
  if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
  if (x->end != y->end) return x->end < y->end ? -1 : 1;
  return 0;
}

// Sorted by offset, the tensors must tile [0, data_size) exactly.
static int check_tiling(const char *label, const StFile *f, uint64_t data_size, BenchErr *err) {
  int n = f->n_tensors;
  int *order = xmalloc(sizeof(int) * (size_t)(n ? n : 1));
  for (int i = 0; i < n; i++) order[i] = i;
  qsort_r(order, (size_t)n, sizeof(int), cmp_by_offset, f->tensors);
  uint64_t expected = 0;
  int rc = 0;
  for (int k = 0; k < n && rc == 0; k++) {
    const StTensor *t = &f->tensors[order[k]];
    if (t->begin > expected)
      rc = err_set(err, "%s: bytes [%llu, %llu) of the data section belong to no tensor (gap before tensor '%s')",
                   label, (unsigned long long)expected, (unsigned long long)t->begin, t->name);
    else if (t->begin < expected)
      rc = err_set(err, "%s: tensor '%s' at [%llu, %llu) overlaps tensor '%s'", label, t->name,
                   (unsigned long long)t->begin, (unsigned long long)t->end,
                   f->tensors[order[k - 1]].name);
    expected = t->end;
  }
  if (rc == 0 && expected != data_size)
    rc = err_set(err, "%s: %llu trailing bytes after the last tensor", label,
                 (unsigned long long)(data_size - expected));
  free(order);
  return rc;
}

int st_parse(const char *label, const uint8_t *bytes, size_t size, StFile *out, BenchErr *err) {
  memset(out, 0, sizeof *out);
  out->path = xstrdup(label);
  out->bytes = bytes;
  out->size = size;
  if (size < 8) {
    err_set(err, "%s: too small to be a safetensors file (%zu bytes)", label, size);
    goto fail;
  }
  uint64_t hl = read_le64(bytes);
  if (hl > ST_MAX_HEADER_BYTES) {
    err_set(err, "%s: header length %llu exceeds the limit of %u bytes", label,
            (unsigned long long)hl, ST_MAX_HEADER_BYTES);
    goto fail;
  }
  if (hl > size - 8) {
    err_set(err, "%s: header length %llu exceeds the file size (%zu bytes)", label,
            (unsigned long long)hl, size);
    goto fail;
  }
  out->header_len = hl;
  out->data = bytes + 8 + hl;
  uint64_t data_size = size - 8 - hl;

  json_error_t je;
  json_t *root = json_loadb((const char *)bytes + 8, (size_t)hl, JSON_REJECT_DUPLICATES, &je);
  if (!root) {
    err_set(err, "%s: header is not valid JSON: %s (header line %d, column %d)", label, json_error_reason(&je),
            je.line, je.column);
    goto fail;
  }
  if (!json_is_object(root)) {
    json_decref(root);
    err_set(err, "%s: header is not a JSON object", label);
    goto fail;
  }
  out->tensors = xcalloc(json_object_size(root) + 1, sizeof(StTensor));
  const char *key;
  json_t *val;
  json_object_foreach(root, key, val) {
    if (strcmp(key, "__metadata__") == 0) {
      if (parse_metadata(label, val, &out->metadata_json, err) != 0) {
        json_decref(root);
        goto fail;
      }
      continue;
    }
    StTensor *t = &out->tensors[out->n_tensors];
    if (key[0] == 0 || parse_entry(label, key, val, data_size, t, err) != 0) {
      if (key[0] == 0) err_set(err, "%s: a tensor has an empty name", label);
      json_decref(root);
      goto fail;
    }
    t->name = xstrdup(key);
    out->n_tensors++;
  }
  json_decref(root);
  if (check_tiling(label, out, data_size, err) != 0) goto fail;
  return 0;
fail:
  st_close(out);
  return -1;
}

int st_open(const char *path, StFile *out, BenchErr *err) {
  memset(out, 0, sizeof *out);
  int fd = open_regular(path, err);
  if (fd < 0) return -1;
  struct stat st;
  if (fstat(fd, &st) != 0) {
    close(fd);
    return err_set(err, "cannot stat '%s': %s", path, strerror(errno));
  }
  size_t size = (size_t)st.st_size;
  if (size < 8) {
    close(fd);
    return err_set(err, "%s: too small to be a safetensors file (%zu bytes)", path, size);
  }
  void *map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
  int saved = errno;
  close(fd);
  if (map == MAP_FAILED) return err_set(err, "cannot map '%s': %s", path, strerror(saved));
  if (st_parse(path, map, size, out, err) != 0) {
    munmap(map, size);
    return -1;
  }
  out->mapped = 1;
  return 0;
}

void st_close(StFile *f) {
  if (f->mapped && f->bytes) munmap((void *)f->bytes, f->size);
  for (int i = 0; i < f->n_tensors; i++) free(f->tensors[i].name);
  free(f->tensors);
  free(f->metadata_json);
  free(f->path);
  memset(f, 0, sizeof *f);
}

const StTensor *st_find(const StFile *f, const char *name) {
  for (int i = 0; i < f->n_tensors; i++)
    if (strcmp(f->tensors[i].name, name) == 0) return &f->tensors[i];
  return NULL;
}

const uint8_t *st_tensor_data(const StFile *f, const StTensor *t) { return f->data + t->begin; }

int st_tensor_to_f32(const StFile *f, const StTensor *t, float *out, BenchErr *err) {
  const uint8_t *p = st_tensor_data(f, t);
  long n = (long)t->n_elems;
  if (t->dtype != ST_F32 && t->dtype != ST_BF16 && t->dtype != ST_F16 && t->dtype != ST_F64)
    return err_set(err, "%s: tensor '%s' has dtype %s, not a floating type (F64, F32, F16, BF16)",
                   f->path, t->name, st_dtype_name(t->dtype));
  if (n == 0) return 0;
  switch (t->dtype) {
    case ST_F32:
      memcpy(out, p, (size_t)n * 4);
      return 0;
    case ST_BF16:
#pragma omp parallel for schedule(static) if (n > 65536)
      for (long i = 0; i < n; i++) {
        uint16_t h;
        memcpy(&h, p + 2 * i, 2);
        out[i] = st_bf16_to_f32(h);
      }
      return 0;
    case ST_F16:
#pragma omp parallel for schedule(static) if (n > 65536)
      for (long i = 0; i < n; i++) {
        uint16_t h;
        memcpy(&h, p + 2 * i, 2);
        out[i] = st_f16_to_f32(h);
      }
      return 0;
    case ST_F64:
#pragma omp parallel for schedule(static) if (n > 65536)
      for (long i = 0; i < n; i++) {
        double d;
        memcpy(&d, p + 8 * i, 8);
        out[i] = fabs(d) > FLT_MAX && isfinite(d) ? copysignf(INFINITY, (float)(d > 0 ? 1 : -1))
                                                  : (float)d;
      }
      return 0;
    default:
      return -1;  // excluded above
  }
}
