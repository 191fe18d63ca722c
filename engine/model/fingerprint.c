// fingerprint.c — checkpoint fingerprints from config.json, safetensors headers and weight digests
// (fingerprint.h).
#include "fingerprint.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "safetensors.h"
#include "weights_digest.h"

#define CONFIG_MAX_BYTES (16u << 20)

// Elements of every tensor in a header (the "__metadata__" entry excluded).
static int header_params(const char *path, const char *hdr, size_t n, long long *total, BenchErr *err) {
  json_error_t je;
  json_t *root = json_loadb(hdr, n, JSON_REJECT_DUPLICATES, &je);
  if (!root || !json_is_object(root)) {
    json_decref(root);
    return err_set(err, "'%s': the safetensors header is not a JSON object", path);
  }
  const char *key;
  json_t *t;
  int rc = 0;
  json_object_foreach(root, key, t) {
    if (strcmp(key, "__metadata__") == 0) continue;
    json_t *shape = json_object_get(t, "shape");
    if (!json_is_array(shape)) {
      rc = err_set(err, "'%s': tensor '%s' has no 'shape' list", path, key);
      break;
    }
    long long prod = 1;
    size_t i;
    json_t *d;
    json_array_foreach(shape, i, d) {
      json_int_t v = json_is_integer(d) ? json_integer_value(d) : -1;
      if (v < 0 || (v > 0 && prod > (1LL << 50) / v)) {
        rc = err_set(err, "'%s': tensor '%s' has a bad shape", path, key);
        break;
      }
      prod *= v;
    }
    if (rc) break;
    *total += prod;
  }
  json_decref(root);
  return rc;
}

// One file: its length prefix and header, then the digest of its bytes.
static int hash_file(Sha256 *h, const char *dir, const char *name, long long *n_params, BenchErr *err) {
  char *path = path_join(dir, name);
  FILE *f = fopen_regular(path, err);
  int rc = 0;
  char *hdr = NULL;
  if (!f) {
    rc = -1;
    goto done;
  }
  unsigned char lenb[8];
  if (fread(lenb, 1, 8, f) != 8) {
    rc = err_set(err, "'%s' is shorter than a safetensors header", path);
    goto done;
  }
  uint64_t n = 0;
  for (int i = 7; i >= 0; i--) n = (n << 8) | lenb[i];
  if (fseek(f, 0, SEEK_END) != 0) {
    rc = err_set(err, "cannot seek in '%s'", path);
    goto done;
  }
  long size = ftell(f);
  if (n == 0 || n > FINGERPRINT_MAX_HEADER_BYTES || size < 0 || n > (uint64_t)size - 8) {
    rc = err_set(err, "'%s': safetensors header length %llu is out of range (file of %ld bytes)", path,
                 (unsigned long long)n, size);
    goto done;
  }
  hdr = xmalloc((size_t)n);
  if (fseek(f, 8, SEEK_SET) != 0 || fread(hdr, 1, (size_t)n, f) != (size_t)n) {
    rc = err_set(err, "cannot read the header of '%s'", path);
    goto done;
  }
  sha256_update(h, lenb, 8);
  sha256_update(h, hdr, (size_t)n);
  if (n_params) rc = header_params(path, hdr, (size_t)n, n_params, err);
  uint64_t digest;
  if (rc == 0) rc = weights_digest(path, &digest, err);
  if (rc == 0) {
    for (int i = 0; i < 8; i++) lenb[i] = (unsigned char)(digest >> (8 * i));
    sha256_update(h, lenb, 8);
  }
done:
  if (f) fclose(f);
  free(hdr);
  free(path);
  return rc;
}

int checkpoint_fingerprint(const char *dir, char out[65], long long *n_params, BenchErr *err) {
  char *config_path = path_join(dir, "config.json");
  char *config;
  size_t config_len;
  int rc = read_file(config_path, CONFIG_MAX_BYTES, &config, &config_len, err);
  free(config_path);
  if (rc != 0) return -1;

  StShards sh;
  if (st_shards_find(dir, &sh, err) != 0) {
    free(config);
    return -1;
  }
  Sha256 h;
  sha256_init(&h);
  sha256_update(&h, config, config_len);
  free(config);
  long long total = 0;
  for (int i = 0; i < sh.n_files && rc == 0; i++)
    rc = hash_file(&h, dir, sh.files[i], n_params ? &total : NULL, err);
  st_shards_free(&sh);
  if (rc != 0) return -1;

  uint8_t d[32];
  sha256_final(&h, d);
  for (int i = 0; i < 32; i++) snprintf(out + 2 * i, 3, "%02x", d[i]);
  if (n_params) *n_params = total;
  return 0;
}

char *bench_fingerprint_cache_dir(void) { return bench_cache_dir("fingerprints"); }

char *fingerprint_cache_entry(const char *key) {
  char *dir = bench_fingerprint_cache_dir();
  if (!dir) return NULL;
  char hex[65];
  sha256_hex(key, strlen(key), hex);
  hex[32] = 0;
  char *entry = xasprintf("%s/%s.json", dir, hex);
  free(dir);
  return entry;
}
