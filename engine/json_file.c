// json_file.c — see json_file.h.
#include "json_file.h"

#include <string.h>

const char *json_error_reason(json_error_t *je) {
  char *near = strstr(je->text, " near '");
  if (near) *near = 0;
  return je->text[0] ? je->text : "invalid JSON";
}

json_t *json_load_regular(const char *path, size_t flags, json_error_t *je, BenchErr *err) {
  json_error_t unused;
  if (!je) je = &unused;
  je->text[0] = 0;
  FILE *f = fopen_regular(path, err);
  if (!f) return NULL;
  json_t *j = json_loadf(f, flags, je);
  fclose(f);
  if (!j) err_set(err, "%s:%d:%d: %s", path, je->line, je->column, json_error_reason(je));
  return j;
}
