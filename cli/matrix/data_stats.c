// data_stats.c — cached dataset fingerprints and token counts (data_stats.h).
#include "data_stats.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "canon_json.h"
#include "data.h"
#include "fingerprint.h"

#define CACHE_SCHEMA "bench.fingerprint/1"
#define CACHE_MAX_BYTES (64u << 10)

enum { KIND_TEXT, KIND_JSONL, KIND_BENCHTOK, KIND_U16 };

static int ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), m = strlen(suffix);
  return n >= m && strcmp(s + n - m, suffix) == 0;
}

static int file_kind(const char *path) {
  if (ends_with(path, ".jsonl")) return KIND_JSONL;
  if (ends_with(path, ".u16.bin")) return KIND_U16;
  if (ends_with(path, ".bin")) return KIND_BENCHTOK;
  return KIND_TEXT;
}

// ---- the cache: one JSON file per key ----
typedef struct {
  char *abs_path;
  long long size, mtime_ns;
  const char *field;
  char *entry_path;  // NULL when there is no cache directory
} CacheKey;

static int cache_key_init(CacheKey *k, const char *path, const char *field, BenchErr *err) {
  struct stat st;
  if (stat_regular(path, &st, err) != 0) return -1;
  char real[PATH_MAX];
  k->abs_path = xstrdup(realpath(path, real) ? real : path);
  k->size = (long long)st.st_size;
  k->mtime_ns = (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
  k->field = field;
  char *key = xasprintf("%s\n%lld\n%lld\n%s", k->abs_path, k->size, k->mtime_ns, field);
  k->entry_path = fingerprint_cache_entry(key);
  free(key);
  return 0;
}

static void cache_key_free(CacheKey *k) {
  free(k->abs_path);
  free(k->entry_path);
}

static long long get_ll(const json_t *o, const char *key) {
  json_t *v = json_object_get(o, key);
  return json_is_integer(v) ? (long long)json_integer_value(v) : LLONG_MIN;
}

static int is_hex64(const char *s) {
  if (!s || strlen(s) != 64) return 0;
  for (int i = 0; i < 64; i++)
    if (!strchr("0123456789abcdef", s[i])) return 0;
  return 1;
}

// Reads a cache entry matching k exactly; 0 when found.
static int cache_read(const CacheKey *k, DataStats *out) {
  if (!k->entry_path || !file_exists(k->entry_path)) return -1;
  char *text;
  size_t len;
  BenchErr err;
  if (read_file(k->entry_path, CACHE_MAX_BYTES, &text, &len, &err) != 0) return -1;
  json_t *o = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
  free(text);
  int rc = -1;
  const char *sha = json_string_value(json_object_get(o, "sha256"));
  const char *schema = json_string_value(json_object_get(o, "schema"));
  const char *path = json_string_value(json_object_get(o, "path"));
  const char *field = json_string_value(json_object_get(o, "field"));
  const char *problem = json_string_value(json_object_get(o, "problem"));
  if (schema && strcmp(schema, CACHE_SCHEMA) == 0 && path && strcmp(path, k->abs_path) == 0 &&
      field && strcmp(field, k->field) == 0 && get_ll(o, "size") == k->size &&
      get_ll(o, "mtime_ns") == k->mtime_ns && is_hex64(sha) && problem &&
      get_ll(o, "text_bytes") != LLONG_MIN && get_ll(o, "docs") != LLONG_MIN &&
      get_ll(o, "tokens") != LLONG_MIN) {
    memcpy(out->file_sha256, sha, 65);
    out->bytes = k->size;
    out->text_bytes = get_ll(o, "text_bytes");
    out->docs = get_ll(o, "docs");
    out->tokens = get_ll(o, "tokens");
    snprintf(out->problem, sizeof out->problem, "%s", problem);
    rc = 0;
  }
  json_decref(o);
  return rc;
}

static void cache_write(const CacheKey *k, const DataStats *s) {
  if (!k->entry_path) return;
  BenchErr err;
  char *dir = path_dirname(k->entry_path);
  int ok = mkdir_p(dir, &err) == 0;
  free(dir);
  if (!ok) return;
  json_t *o = json_pack("{s:s,s:s,s:I,s:I,s:s,s:s,s:I,s:I,s:I,s:s}", "schema", CACHE_SCHEMA, "path",
                        k->abs_path, "size", (json_int_t)k->size, "mtime_ns", (json_int_t)k->mtime_ns,
                        "field", k->field, "sha256", s->file_sha256, "text_bytes",
                        (json_int_t)s->text_bytes, "docs", (json_int_t)s->docs, "tokens",
                        (json_int_t)s->tokens, "problem", s->problem);
  if (!o) return;
  StrBuf b = {0};
  json_write(&b, o, 0, 2);
  sb_append(&b, "\n");
  write_file_atomic(k->entry_path, b.data, b.len, &err);  // a failed write only costs a re-hash
  sb_free(&b);
  json_decref(o);
}

// ---- computing ----
static void hex32(const uint8_t d[32], char out[65]) {
  for (int i = 0; i < 32; i++) snprintf(out + 2 * i, 3, "%02x", d[i]);
}

// One jsonl line: adds the field's string bytes, or notes the first problem.
static void jsonl_line(const char *line, size_t n, long long lineno, const char *field, DataStats *s) {
  size_t i = 0;
  while (i < n && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r' || line[i] == '\n')) i++;
  if (i == n) return;  // blank
  json_t *o = json_loadb(line, n, JSON_DISABLE_EOF_CHECK, NULL);
  json_t *v = json_object_get(o, field);
  if (json_is_string(v)) {
    s->text_bytes += (long long)json_string_length(v);
    s->docs++;
  } else if (!s->problem[0]) {
    snprintf(s->problem, sizeof s->problem, "line %lld is not a JSON object with a string field '%s'",
             lineno, field);
  }
  json_decref(o);
}

static int compute(const char *path, const char *field, int kind, DataStats *s, BenchErr *err) {
  FILE *f = fopen_regular(path, err);
  if (!f) return -1;
  Sha256 h;
  sha256_init(&h);
  s->text_bytes = s->docs = s->tokens = -1;
  s->problem[0] = 0;
  if (kind == KIND_JSONL) {
    s->text_bytes = s->docs = 0;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    long long lineno = 0;
    while ((n = getline(&line, &cap, f)) > 0) {
      sha256_update(&h, line, (size_t)n);
      jsonl_line(line, (size_t)n, ++lineno, field, s);
    }
    free(line);
  } else {
    unsigned char head[BENCHTOK_HEADER_BYTES];
    size_t head_n = 0;
    char buf[1 << 16];
    size_t n;
    long long total = 0;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
      total += (long long)n;
      if (head_n < sizeof head) {
        size_t take = n < sizeof head - head_n ? n : sizeof head - head_n;
        memcpy(head + head_n, buf, take);
        head_n += take;
      }
      sha256_update(&h, buf, n);
    }
    long long bytes = total;
    if (kind == KIND_TEXT) {
      s->text_bytes = bytes;
      s->docs = 1;
    } else if (kind == KIND_U16) {
      if (bytes % 2) snprintf(s->problem, sizeof s->problem, "an odd number of bytes (%lld) for uint16 ids", bytes);
      else s->tokens = bytes / 2;
    } else {
      uint32_t width;
      uint64_t n_tok;
      BenchErr herr;
      if (benchtok_header(path, head, head_n, &width, &n_tok, &herr) != 0)
        snprintf(s->problem, sizeof s->problem, "%.*s", (int)sizeof s->problem - 1, herr.msg);
      else
        s->tokens = n_tok > (uint64_t)LLONG_MAX ? -1 : (long long)n_tok;
    }
  }
  int bad = ferror(f);
  fclose(f);
  if (bad) return err_set(err, "cannot read '%s'", path);
  uint8_t d[32];
  sha256_final(&h, d);
  hex32(d, s->file_sha256);
  return 0;
}

static const char *const KIND_TAG[] = {"txt", "jsonl", "benchtok", "u16"};

int data_stats(const char *path, const char *field, DataStats *out, BenchErr *err) {
  memset(out, 0, sizeof *out);
  int kind = file_kind(path);
  const char *used_field = kind == KIND_JSONL ? (field ? field : "text") : "";
  char *key_field = xasprintf("%s:%s", KIND_TAG[kind], used_field);
  CacheKey k;
  int krc = cache_key_init(&k, path, key_field, err);
  if (krc != 0) {
    free(key_field);
    return -1;
  }
  int rc = 0;
  if (cache_read(&k, out) != 0) {
    rc = compute(path, used_field, kind, out, err);
    out->bytes = k.size;
    if (rc == 0) cache_write(&k, out);
  }
  cache_key_free(&k);
  free(key_field);
  if (rc != 0) return -1;
  char *msg = xasprintf("%s\n%s", out->file_sha256, used_field);
  sha256_hex(msg, strlen(msg), out->fingerprint);
  free(msg);
  return 0;
}

int file_sha256_cached(const char *path, char out[65], BenchErr *err) {
  DataStats s;
  memset(&s, 0, sizeof s);
  CacheKey k;
  if (cache_key_init(&k, path, "file:", err) != 0) return -1;
  int rc = 0;
  if (cache_read(&k, &s) != 0) {
    rc = compute(path, "", KIND_TEXT, &s, err);
    s.bytes = k.size;
    if (rc == 0) cache_write(&k, &s);
  }
  cache_key_free(&k);
  if (rc == 0) memcpy(out, s.file_sha256, 65);
  return rc;
}
