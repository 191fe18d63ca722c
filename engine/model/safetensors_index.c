// safetensors_index.c — the safetensors files of a checkpoint directory: model.safetensors alone,
// else the shards model.safetensors.index.json names (format and checks: safetensors.h).
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "safetensors.h"
#include "json_file.h"

#define INDEX_MAX_BYTES (64u << 20)

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

// A shard is named by a plain file name in the model directory: no '/', not "", "." or "..".
static int plain_file_name(const char *f) {
  return f[0] && !strchr(f, '/') && strcmp(f, ".") != 0 && strcmp(f, "..") != 0;
}

// Reads the index at path into out (files sorted, each once; the weight map kept).
static int read_index(const char *path, StShards *out, BenchErr *err) {
  char *text;
  size_t len;
  if (read_file(path, INDEX_MAX_BYTES, &text, &len, err) != 0) return -1;
  json_error_t je;
  json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
  free(text);
  if (!root)
    return err_set(err, "%s:%d:%d: invalid JSON: %s", path, je.line, je.column, json_error_reason(&je));
  json_t *map = json_object_get(root, "weight_map");
  if (!json_is_object(root) || !json_is_object(map)) {
    json_decref(root);
    return err_set(err, "%s: no 'weight_map' object", path);
  }
  if (json_object_size(map) == 0) {
    json_decref(root);
    return err_set(err, "%s: 'weight_map' is empty", path);
  }
  out->files = xcalloc(json_object_size(map), sizeof *out->files);
  const char *name;
  json_t *v;
  json_object_foreach(map, name, v) {
    const char *file = json_string_value(v);
    if (!file) {
      json_decref(root);
      return err_set(err, "%s: tensor '%s' maps to a non-string", path, name);
    }
    if (!plain_file_name(file)) {
      err_set(err, "%s: tensor '%s' maps to '%s', not a file name inside the model directory", path,
              name, file);
      json_decref(root);
      return -1;
    }
    out->files[out->n_files++] = xstrdup(file);
  }
  qsort(out->files, (size_t)out->n_files, sizeof *out->files, cmp_str);
  int u = 0;
  for (int i = 0; i < out->n_files; i++) {
    if (u > 0 && strcmp(out->files[u - 1], out->files[i]) == 0) free(out->files[i]);
    else out->files[u++] = out->files[i];
  }
  out->n_files = u;
  out->weight_map = json_incref(map);
  json_decref(root);
  return 0;
}

int st_shards_find(const char *dir, StShards *out, BenchErr *err) {
  memset(out, 0, sizeof *out);
  char *single = path_join(dir, ST_SINGLE_FILE), *index = path_join(dir, ST_INDEX_FILE);
  int rc = 0;
  if (file_exists(single)) {
    out->files = xmalloc(sizeof *out->files);
    out->files[out->n_files++] = xstrdup(ST_SINGLE_FILE);
  } else if (file_exists(index)) {
    rc = read_index(index, out, err);
  } else {
    char *bin = path_join(dir, "pytorch_model.bin");
    rc = err_set(err, "'%s' has no %s or %s%s", dir, ST_SINGLE_FILE, ST_INDEX_FILE,
                 file_exists(bin) ? " (only PyTorch .bin weights: convert them to safetensors)" : "");
    free(bin);
  }
  free(single);
  free(index);
  if (rc != 0) st_shards_free(out);
  return rc;
}

void st_shards_free(StShards *s) {
  for (int i = 0; i < s->n_files; i++) free(s->files[i]);
  free(s->files);
  json_decref(s->weight_map);
  memset(s, 0, sizeof *s);
}
