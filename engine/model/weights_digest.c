// weights_digest.c — XXH64, the chunked digest of a file and its cache (weights_digest.h).
#include "weights_digest.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fingerprint.h"
#include "json_file.h"

// ---- XXH64 (xxHash specification, version 0.1.1) ----
#define P1 0x9E3779B185EBCA87ULL
#define P2 0xC2B2AE3D27D4EB4FULL
#define P3 0x165667B19E3779F9ULL
#define P4 0x85EBCA77C2B2AE63ULL
#define P5 0x27D4EB2F165667C5ULL

static uint64_t rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

static uint64_t rd64(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
  return v;
}

static uint64_t rd32(const uint8_t *p) { return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 | (uint64_t)p[3] << 24; }

static uint64_t round64(uint64_t acc, uint64_t lane) { return rotl(acc + lane * P2, 31) * P1; }

static uint64_t merge64(uint64_t h, uint64_t v) { return (h ^ round64(0, v)) * P1 + P4; }

uint64_t xxh64(const void *data, size_t n, uint64_t seed) {
  const uint8_t *p = data, *end = p + n;
  uint64_t h;
  if (n >= 32) {
    uint64_t v[4] = {seed + P1 + P2, seed + P2, seed, seed - P1};
    for (; end - p >= 32; p += 32)
      for (int i = 0; i < 4; i++) v[i] = round64(v[i], rd64(p + 8 * i));
    h = rotl(v[0], 1) + rotl(v[1], 7) + rotl(v[2], 12) + rotl(v[3], 18);
    for (int i = 0; i < 4; i++) h = merge64(h, v[i]);
  } else {
    h = seed + P5;
  }
  h += (uint64_t)n;
  for (; end - p >= 8; p += 8) h = rotl(h ^ round64(0, rd64(p)), 27) * P1 + P4;
  if (end - p >= 4) {
    h = rotl(h ^ rd32(p) * P1, 23) * P2 + P3;
    p += 4;
  }
  for (; p < end; p++) h = rotl(h ^ *p * P5, 11) * P1;
  h ^= h >> 33;
  h *= P2;
  h ^= h >> 29;
  h *= P3;
  return h ^ (h >> 32);
}

// ---- the chunked digest of bytes in memory ----
// One thread: `bench run` fingerprints in the supervisor before it forks its workers, and an
// OpenMP pool started there does not survive a fork (the workers' own OpenMP would hang).
static uint64_t digest_bytes(const uint8_t *bytes, size_t n) {
  size_t n_chunks = (n + WEIGHTS_CHUNK_BYTES - 1) / WEIGHTS_CHUNK_BYTES;
  uint8_t *words = xcalloc(n_chunks ? n_chunks : 1, 8);
  for (size_t c = 0; c < n_chunks; c++) {
    size_t off = c * WEIGHTS_CHUNK_BYTES, len = n - off < WEIGHTS_CHUNK_BYTES ? n - off : WEIGHTS_CHUNK_BYTES;
    uint64_t h = xxh64(bytes + off, len, (uint64_t)c);
    for (int i = 0; i < 8; i++) words[8 * c + (size_t)i] = (uint8_t)(h >> (8 * i));
  }
  uint64_t d = xxh64(words, 8 * n_chunks, (uint64_t)n);
  free(words);
  return d;
}

static int digest_file(const char *path, size_t size, uint64_t *out, BenchErr *err) {
  int fd = open_regular(path, err);
  if (fd < 0) return -1;
  void *map = size ? mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0) : NULL;
  close(fd);
  if (map == MAP_FAILED) return err_set(err, "cannot map '%s': %s", path, strerror(errno));
  if (map) madvise(map, size, MADV_SEQUENTIAL);
  *out = digest_bytes(map, size);
  if (map) munmap(map, size);
  return 0;
}

// ---- the cache ----
typedef struct {
  char *abs_path;
  long long size, mtime_ns, ctime_ns, inode;
  char *entry;  // the cache file; NULL when there is no cache directory
} Key;

static long long ns_of(struct timespec t) { return (long long)t.tv_sec * 1000000000LL + t.tv_nsec; }

static int key_init(Key *k, const char *path, BenchErr *err) {
  struct stat st;
  if (stat_regular(path, &st, err) != 0) return -1;
  char real[PATH_MAX];
  *k = (Key){.abs_path = xstrdup(realpath(path, real) ? real : path), .size = (long long)st.st_size,
             .mtime_ns = ns_of(st.st_mtim), .ctime_ns = ns_of(st.st_ctim), .inode = (long long)st.st_ino};
  char *text = xasprintf("weights\n%s\n%lld\n%lld\n%lld\n%lld", k->abs_path, k->size, k->mtime_ns,
                         k->ctime_ns, k->inode);
  k->entry = fingerprint_cache_entry(text);
  free(text);
  return 0;
}

static json_t *key_json(const Key *k) {
  return json_pack("{s:s,s:s,s:I,s:I,s:I,s:I}", "schema", WEIGHTS_CACHE_SCHEMA, "path", k->abs_path,
                   "size", (json_int_t)k->size, "mtime_ns", (json_int_t)k->mtime_ns, "ctime_ns",
                   (json_int_t)k->ctime_ns, "inode", (json_int_t)k->inode);
}

// The cached digest of exactly this key; 0 when found.
static int cache_read(const Key *k, uint64_t *out) {
  if (!k->entry || !file_exists(k->entry)) return -1;
  json_t *o = json_load_regular(k->entry, JSON_REJECT_DUPLICATES, NULL, NULL);
  json_t *want = key_json(k);
  const char *hex = json_string_value(json_object_get(o, "digest"));
  int rc = -1;
  if (o && hex && strlen(hex) == 16 && strspn(hex, "0123456789abcdef") == 16) {
    uint64_t d = strtoull(hex, NULL, 16);
    json_object_del(o, "digest");  // the rest must be the key, exactly
    if (json_equal(o, want)) {
      *out = d;
      rc = 0;
    }
  }
  json_decref(want);
  json_decref(o);
  return rc;
}

static void cache_write(const Key *k, uint64_t d) {
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  if (!k->entry || ns_of(now) - k->mtime_ns < WEIGHTS_RACY_S * 1000000000LL) return;
  BenchErr err;
  char *dir = path_dirname(k->entry);
  int ok = mkdir_p(dir, &err) == 0;
  free(dir);
  if (!ok) return;
  json_t *o = key_json(k);
  char hex[17];
  snprintf(hex, sizeof hex, "%016" PRIx64, d);
  json_object_set_new(o, "digest", json_string(hex));
  char *text = json_dumps(o, JSON_INDENT(2));
  if (text) write_file_atomic(k->entry, text, strlen(text), &err);  // a failed write only costs a re-hash
  free(text);
  json_decref(o);
}

int weights_digest(const char *path, uint64_t *out, BenchErr *err) {
  Key k;
  if (key_init(&k, path, err) != 0) return -1;
  int rc = 0;
  if (cache_read(&k, out) != 0) {
    rc = digest_file(path, (size_t)k.size, out, err);
    if (rc == 0) cache_write(&k, *out);
  }
  free(k.abs_path);
  free(k.entry);
  return rc;
}
