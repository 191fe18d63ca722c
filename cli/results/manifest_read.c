// manifest_read.c — the one reader of results/<suite>/manifest.json (results.h): provenance of the
// runs (bench version, git commit, suite sha256, host, CPU/GPU, driver, CUDA, start/end,
// model/dataset fingerprints). The manifest is optional; one without our schema is not used, and
// the problem says why.
#include <stdlib.h>
#include <string.h>

#include "results.h"
#include "json_file.h"

#define MANIFEST_MAX_BYTES ((size_t)64 << 20)

void manifest_read(const char *results_dir, Manifest *m) {
  memset(m, 0, sizeof *m);
  char *path = path_join(results_dir, "manifest.json");
  if (!file_exists(path)) {
    free(path);
    return;
  }
  char *text = NULL;
  size_t len = 0;
  BenchErr err;
  if (read_file(path, MANIFEST_MAX_BYTES, &text, &len, &err) != 0) {
    m->problem = xstrdup(err.msg);
    free(path);
    return;
  }
  json_error_t jerr;
  json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
  free(text);
  if (!root || !json_is_object(root)) {
    m->problem = root ? xasprintf("%s: not a JSON object", path)
                      : xasprintf("%s:%d:%d: invalid JSON: %s", path, jerr.line, jerr.column,
                                  json_error_reason(&jerr));
    json_decref(root);
    free(path);
    return;
  }
  const char *schema = json_string_value(json_object_get(root, "schema"));
  if (!schema || strcmp(schema, MANIFEST_SCHEMA) != 0) {
    m->problem = schema ? xasprintf("%s: schema '%s' is not '%s' (written by another bench version)", path,
                                    schema, MANIFEST_SCHEMA)
                        : xasprintf("%s: no \"schema\" field: not a bench manifest", path);
    json_decref(root);
    free(path);
    return;
  }
  m->root = root;
  free(path);
}

void manifest_free(Manifest *m) {
  json_decref(m->root);
  free(m->problem);
  memset(m, 0, sizeof *m);
}

// Follows a dotted path ("gpu.name") through objects.
static json_t *get_path(json_t *root, const char *path) {
  json_t *cur = root;
  const char *p = path;
  while (cur && *p) {
    const char *dot = strchr(p, '.');
    size_t n = dot ? (size_t)(dot - p) : strlen(p);
    char key[128];
    if (n >= sizeof key) return NULL;
    memcpy(key, p, n);
    key[n] = 0;
    cur = json_is_object(cur) ? json_object_get(cur, key) : NULL;
    p = dot ? dot + 1 : p + n;
  }
  return cur;
}

static void append_value(StrBuf *b, json_t *v) {
  if (json_is_string(v)) sb_append(b, json_string_value(v));
  else if (json_is_integer(v)) sb_printf(b, "%lld", (long long)json_integer_value(v));
  else if (json_is_real(v)) sb_printf(b, "%g", json_real_value(v));
  else if (json_is_object(v) && json_is_string(json_object_get(v, "name")))
    sb_append(b, json_string_value(json_object_get(v, "name")));
}

char *manifest_text(const Manifest *m, const char *const *keys) {
  if (!m || !m->root) return NULL;
  for (int k = 0; keys[k]; k++) {
    json_t *v = get_path(m->root, keys[k]);
    if (!v || json_is_null(v)) continue;
    StrBuf b = {0};
    if (json_is_array(v)) {
      // a list of GPUs: identical names are counted ("4× NVIDIA H100")
      size_t n = json_array_size(v);
      for (size_t i = 0; i < n; i++) {
        StrBuf one = {0};
        append_value(&one, json_array_get(v, i));
        if (!one.data || !one.data[0]) { sb_free(&one); continue; }
        int seen = 0, count = 0;
        for (size_t j = 0; j < n; j++) {
          StrBuf other = {0};
          append_value(&other, json_array_get(v, j));
          if (other.data && strcmp(other.data, one.data) == 0) {
            if (j < i) seen = 1;
            count++;
          }
          sb_free(&other);
        }
        if (!seen) {
          if (b.len) sb_append(&b, ", ");
          if (count > 1) sb_printf(&b, "%d× ", count);
          sb_append(&b, one.data);
        }
        sb_free(&one);
      }
    } else {
      append_value(&b, v);
    }
    if (b.data && b.data[0]) return b.data;
    sb_free(&b);
  }
  return NULL;
}
