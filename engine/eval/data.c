// data.c — datasets (.txt, .jsonl, .bin, .u16.bin) to one token stream, with the token cache.
// Formats and cache layout: data.h.
#include "data.h"
#include "json_file.h"

#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DATA_MAX_BYTES ((size_t)8 << 30)   // largest dataset file read (8 GiB)
#define TOKEN_CACHE_FORMAT "bench.tokens/1"

static int ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), m = strlen(suffix);
  return n >= m && strcmp(s + n - m, suffix) == 0;
}

int data_format(const char *path, DataFormat *fmt, BenchErr *err) {
  if (ends_with(path, ".txt")) *fmt = DATA_TXT;
  else if (ends_with(path, ".jsonl")) *fmt = DATA_JSONL;
  else if (ends_with(path, ".u16.bin")) *fmt = DATA_U16_BIN;
  else if (ends_with(path, ".bin")) *fmt = DATA_BIN;
  else
    return err_set(err, "'%s': unknown dataset format (expected .txt, .jsonl, .bin or .u16.bin)",
                   path);
  return 0;
}

// sha256 hex of "<file sha256>\n<field>".
static void fingerprint_of(const char file_hex[65], const char *field, char out[65]) {
  char *s = xasprintf("%s\n%s", file_hex, field);
  sha256_hex(s, strlen(s), out);
  free(s);
}

static const char *field_for(DataFormat fmt, const char *field) {
  if (fmt != DATA_JSONL) return "";
  return field ? field : "text";
}

int dataset_fingerprint(const char *path, const char *field, char out[65], BenchErr *err) {
  DataFormat fmt;
  if (data_format(path, &fmt, err) != 0) return -1;
  char file_hex[65];
  if (sha256_file_hex(path, file_hex, err) != 0) return -1;
  fingerprint_of(file_hex, field_for(fmt, field), out);
  return 0;
}

char *token_cache_dir(void) {
  char *d = bench_cache_dir("tokens");
  return d ? d : xstrdup(".cache/bench/tokens");
}

// ---- little-endian helpers ----
static uint32_t rd_u32(const unsigned char *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t rd_u64(const unsigned char *p) { return rd_u32(p) | (uint64_t)rd_u32(p + 4) << 32; }
static void wr_u32(unsigned char *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static void wr_u64(unsigned char *p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t ids_checksum(const unsigned char *bytes, size_t n) {
  Sha256 h;
  uint8_t d[32];
  sha256_init(&h);
  sha256_update(&h, bytes, n);
  sha256_final(&h, d);
  uint64_t c = rd_u64(d);
  return c ? c : 1;  // 0 means "not given"
}

// ---- BENCHTOK ----
int benchtok_write(const char *path, const int32_t *ids, long n, int bytes_per_id, int with_checksum,
                   BenchErr *err) {
  CHECK(bytes_per_id == 2 || bytes_per_id == 4);
  CHECK(n >= 0);
  size_t payload = (size_t)n * (size_t)bytes_per_id;
  unsigned char *buf = xmalloc(BENCHTOK_HEADER_BYTES + payload);
  unsigned char *p = buf + BENCHTOK_HEADER_BYTES;
  for (long i = 0; i < n; i++) {
    if (ids[i] < 0 || (bytes_per_id == 2 && ids[i] > 65535)) {
      free(buf);
      return err_set(err, "'%s': token id %d at index %ld does not fit %d bytes", path, ids[i], i,
                     bytes_per_id);
    }
    if (bytes_per_id == 2) {
      p[2 * i] = (unsigned char)ids[i];
      p[2 * i + 1] = (unsigned char)(ids[i] >> 8);
    } else {
      wr_u32(p + 4 * i, (uint32_t)ids[i]);
    }
  }
  memcpy(buf, BENCHTOK_MAGIC, 8);
  wr_u32(buf + 8, BENCHTOK_VERSION);
  wr_u32(buf + 12, (uint32_t)bytes_per_id);
  wr_u64(buf + 16, (uint64_t)n);
  wr_u64(buf + 24, with_checksum ? ids_checksum(p, payload) : 0);
  int rc = write_file_atomic(path, buf, BENCHTOK_HEADER_BYTES + payload, err);
  free(buf);
  return rc;
}

int benchtok_header(const char *name, const unsigned char *head, size_t len, uint32_t *bytes_per_id,
                    uint64_t *n_tokens, BenchErr *err) {
  if (len < 8 || memcmp(head, BENCHTOK_MAGIC, 8) != 0)
    return err_set(err,
                   "'%s' has no BENCHTOK header (a raw uint16 token file, as nanoGPT writes, must "
                   "be named *.u16.bin)",
                   name);
  if (len < BENCHTOK_HEADER_BYTES)
    return err_set(err, "'%s': BENCHTOK header truncated (%zu of %d bytes)", name, len,
                   BENCHTOK_HEADER_BYTES);
  uint32_t version = rd_u32(head + 8);
  if (version != BENCHTOK_VERSION)
    return err_set(err,
                   "'%s' is BENCHTOK version %u; this bench reads version %d: re-create the file "
                   "in version %d (format in engine/eval/data.h) or use the bench that wrote it",
                   name, version, BENCHTOK_VERSION, BENCHTOK_VERSION);
  uint32_t width = rd_u32(head + 12);
  if (width != 2 && width != 4)
    return err_set(err, "'%s': BENCHTOK bytes per id is %u (expected 2 or 4)", name, width);
  *bytes_per_id = width;
  *n_tokens = rd_u64(head + 16);
  return 0;
}

int benchtok_parse(const char *name, const unsigned char *data, size_t len, int require_checksum,
                   int32_t **ids, long *n, BenchErr *err) {
  *ids = NULL;
  *n = 0;
  uint32_t width;
  uint64_t count;
  if (benchtok_header(name, data, len, &width, &count, err) != 0) return -1;
  uint64_t sum = rd_u64(data + 24);
  size_t payload = len - BENCHTOK_HEADER_BYTES;
  if (count > (uint64_t)(payload / width) || count * width != payload || count > (uint64_t)INT64_MAX / 8)
    return err_set(err, "'%s': header says %llu ids of %u bytes but %zu bytes follow it", name,
                   (unsigned long long)count, width, payload);
  const unsigned char *p = data + BENCHTOK_HEADER_BYTES;
  if (sum == 0 && require_checksum) return err_set(err, "'%s': no checksum", name);
  if (sum != 0 && sum != ids_checksum(p, payload))
    return err_set(err, "'%s': checksum mismatch (the file is corrupt)", name);
  int32_t *out = xmalloc((size_t)count * sizeof *out + 1);
  for (uint64_t i = 0; i < count; i++) {
    uint32_t v = width == 2 ? (uint32_t)p[2 * i] | (uint32_t)p[2 * i + 1] << 8 : rd_u32(p + 4 * i);
    if (v > INT32_MAX) {
      free(out);
      return err_set(err, "'%s': token id %u at index %llu is out of range", name, v,
                     (unsigned long long)i);
    }
    out[i] = (int32_t)v;
  }
  *ids = out;
  *n = (long)count;
  return 0;
}

static int parse_u16(const char *name, const unsigned char *data, size_t len, int32_t **ids, long *n,
                     BenchErr *err) {
  if (len % 2 != 0)
    return err_set(err, "'%s': a .u16.bin file holds uint16 ids, but its size (%zu bytes) is odd",
                   name, len);
  long count = (long)(len / 2);
  int32_t *out = xmalloc((size_t)count * sizeof *out + 1);
  for (long i = 0; i < count; i++) out[i] = (int32_t)(data[2 * i] | data[2 * i + 1] << 8);
  *ids = out;
  *n = count;
  return 0;
}

// ---- text ----
typedef struct {
  int32_t *ids;
  size_t n, cap;
} IdBuf;

static void idbuf_append(IdBuf *b, const int32_t *ids, size_t n) {
  if (b->n + n > b->cap) {
    size_t cap = b->cap ? b->cap : 1024;
    while (cap < b->n + n) cap *= 2;
    b->ids = xrealloc(b->ids, cap * sizeof *b->ids);
    b->cap = cap;
  }
  memcpy(b->ids + b->n, ids, n * sizeof *ids);
  b->n += n;
}

// The keys of an object as "'a', 'b'" for messages. Caller frees.
static char *field_list(const json_t *obj) {
  StrBuf b = {0};
  const char *key;
  json_t *v;
  int i = 0;
  json_object_foreach((json_t *)obj, key, v) {
    if (i == 8) {
      sb_append(&b, ", ...");
      break;
    }
    sb_printf(&b, "%s'%s'", i++ ? ", " : "", key);
  }
  if (!b.data) sb_append(&b, "none");
  return b.data;
}

static int encode_jsonl(const char *name, const char *text, size_t len, const char *field,
                        const TextEncoder *enc, IdBuf *out, BenchErr *err) {
  if (!field) field = "text";
  size_t pos = 0;
  long line = 0;
  int n_docs = 0;
  while (pos < len) {
    line++;
    const char *s = text + pos;
    const char *nl = memchr(s, '\n', len - pos);
    size_t n = nl ? (size_t)(nl - s) : len - pos;
    pos += n + (nl ? 1 : 0);
    size_t m = n;
    while (m > 0 && (s[m - 1] == '\r' || s[m - 1] == ' ' || s[m - 1] == '\t')) m--;
    size_t lead = 0;
    while (lead < m && (s[lead] == ' ' || s[lead] == '\t')) lead++;
    if (lead == m) continue;  // blank line
    json_error_t jerr;
    json_t *obj = json_loadb(s, m, JSON_REJECT_DUPLICATES, &jerr);
    if (!obj)
      return err_set(err, "%s:%ld: not a JSON object: %s (column %d)", name, line, json_error_reason(&jerr),
                     jerr.column);
    if (!json_is_object(obj)) {
      json_decref(obj);
      return err_set(err, "%s:%ld: expected a JSON object with a '%s' field", name, line, field);
    }
    json_t *v = json_object_get(obj, field);
    if (!v) {
      char *have = field_list(obj);
      err_set(err, "%s:%ld: no field '%s' (fields: %s)", name, line, field, have);
      free(have);
      json_decref(obj);
      return -1;
    }
    if (!json_is_string(v)) {
      json_decref(obj);
      return err_set(err, "%s:%ld: field '%s' is not a string", name, line, field);
    }
    int32_t *ids = NULL;
    size_t n_ids = 0;
    if (enc->encode(enc->ctx, json_string_value(v), json_string_length(v), &ids, &n_ids, err) != 0) {
      json_decref(obj);
      return err_prefix(err, "%s:%ld", name, line);
    }
    json_decref(obj);
    if (n_ids > 0) {
      if (n_docs > 0 && enc->separator >= 0) idbuf_append(out, &enc->separator, 1);
      idbuf_append(out, ids, n_ids);
      n_docs++;
    }
    free(ids);
  }
  return 0;
}

int jsonl_tokens(const char *name, const char *text, size_t len, const char *field,
                 const TextEncoder *enc, int32_t **ids, long *n, BenchErr *err) {
  IdBuf buf = {0};
  *ids = NULL;
  *n = 0;
  if (encode_jsonl(name, text, len, field, enc, &buf, err) != 0) {
    free(buf.ids);
    return -1;
  }
  *ids = buf.ids ? buf.ids : xmalloc(sizeof(int32_t));
  *n = (long)buf.n;
  return 0;
}

// ---- cache ----
char *token_cache_path(const char *encoder_fp, const char *data_fp, int32_t separator) {
  char *key_src =
      xasprintf("%s\n%s\n%s\n%d", TOKEN_CACHE_FORMAT, encoder_fp, data_fp, (int)separator);
  char key[65];
  sha256_hex(key_src, strlen(key_src), key);
  free(key_src);
  char *dir = token_cache_dir();
  char *name = xasprintf("%s.tok", key);
  char *path = path_join(dir, name);
  free(name);
  free(dir);
  return path;
}

long long token_cache_count(const char *encoder_fp, const char *data_fp, int32_t separator) {
  char *path = token_cache_path(encoder_fp, data_fp, separator);
  FILE *f = fopen_regular(path, NULL);
  free(path);
  if (!f) return -1;
  unsigned char head[BENCHTOK_HEADER_BYTES];
  size_t len = fread(head, 1, sizeof head, f);
  fclose(f);
  uint32_t width;
  uint64_t count;
  BenchErr err;
  if (benchtok_header("token cache", head, len, &width, &count, &err) != 0 ||
      count > (uint64_t)LLONG_MAX)
    return -1;
  return (long long)count;
}

// 1 when a valid cache file was read.
static int cache_read(const char *path, Tokens *out) {
  if (!file_exists(path)) return 0;
  char *buf = NULL;
  size_t len = 0;
  BenchErr err;
  if (read_file(path, DATA_MAX_BYTES, &buf, &len, &err) != 0) return 0;
  int32_t *ids = NULL;
  long n = 0;
  int rc = benchtok_parse(path, (const unsigned char *)buf, len, 1, &ids, &n, &err);
  free(buf);
  if (rc != 0) return 0;
  out->ids = ids;
  out->n = n;
  return 1;
}

static void cache_write(const char *path, const Tokens *t) {
  BenchErr err;
  char *dir = path_dirname(path);
  if (mkdir_p(dir, &err) == 0) benchtok_write(path, t->ids, t->n, 4, 1, &err);
  free(dir);
}

int dataset_tokens(const DataSource *src, const TextEncoder *enc, Tokens *out, BenchErr *err) {
  memset(out, 0, sizeof *out);
  const char *name = src->name ? src->name : src->path;
  DataFormat fmt;
  if (data_format(src->path, &fmt, err) != 0) return -1;
  const char *field = field_for(fmt, src->field);
  char *data = NULL;
  size_t len = 0;
  if (read_file(src->path, DATA_MAX_BYTES, &data, &len, err) != 0)
    return err_prefix(err, "dataset '%s'", name);
  char file_hex[65];
  sha256_hex(data, len, file_hex);
  fingerprint_of(file_hex, field, out->fingerprint);

  int rc = 0;
  if (fmt == DATA_BIN || fmt == DATA_U16_BIN) {
    rc = fmt == DATA_BIN
             ? benchtok_parse(src->path, (unsigned char *)data, len, 0, &out->ids, &out->n, err)
             : parse_u16(src->path, (unsigned char *)data, len, &out->ids, &out->n, err);
    free(data);
    return rc;
  }
  if (!enc) {
    free(data);
    return err_set(err, "dataset '%s' is text and needs a tokenizer, but none was given", name);
  }
  char *cpath = token_cache_path(enc->fingerprint, out->fingerprint, enc->separator);
  if (cache_read(cpath, out)) {
    out->from_cache = 1;
    free(cpath);
    free(data);
    return 0;
  }
  IdBuf buf = {0};
  if (fmt == DATA_TXT) {
    int32_t *ids = NULL;
    size_t n = 0;
    rc = enc->encode(enc->ctx, data, len, &ids, &n, err);
    if (rc == 0) {
      buf.ids = ids;
      buf.n = buf.cap = n;
    } else {
      err_prefix(err, "%s", src->path);
    }
  } else {
    rc = encode_jsonl(src->path, data, len, field, enc, &buf, err);
  }
  free(data);
  if (rc != 0) {
    free(buf.ids);
    free(cpath);
    return -1;
  }
  out->ids = buf.ids ? buf.ids : xmalloc(sizeof(int32_t));
  out->n = (long)buf.n;
  cache_write(cpath, out);
  free(cpath);
  return 0;
}

void tokens_free(Tokens *t) {
  free(t->ids);
  t->ids = NULL;
  t->n = 0;
}
