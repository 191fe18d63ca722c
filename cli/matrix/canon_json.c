// canon_json.c — canonical and fixed-format JSON writing (see canon_json.h).
#include "canon_json.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

// Largest magnitude printed as plain digits; beyond it an exponent is shorter and still exact.
#define PLAIN_INTEGER_LIMIT 1e21

static void normalize_exponent(char *s) {
  char *e = strchr(s, 'e');
  if (!e) return;
  char *src = e + 1, *dst = e + 1;
  if (*src == '+') src++;
  else if (*src == '-') *dst++ = *src++;
  while (*src == '0' && src[1]) src++;
  memmove(dst, src, strlen(src) + 1);
}

void json_format_number(double x, char out[32]) {
  if (!isfinite(x)) {
    strcpy(out, "null");
    return;
  }
  if (x == 0) {
    strcpy(out, "0");  // also for -0
    return;
  }
  if (x == floor(x) && fabs(x) < PLAIN_INTEGER_LIMIT) {
    snprintf(out, 32, "%.0f", x);
    return;
  }
  for (int p = 1; p <= 17; p++) {
    snprintf(out, 32, "%.*g", p, x);
    if (strtod(out, NULL) == x) break;
  }
  normalize_exponent(out);
}

json_t *json_number_of(double x) {
  if (isfinite(x) && x == floor(x) && fabs(x) <= 9007199254740992.0) return json_integer((json_int_t)x);
  return json_real(x);
}

static void write_string(StrBuf *b, const char *s, size_t n) {
  sb_append(b, "\"");
  size_t run = 0;  // start of the current run of bytes needing no escape
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    const char *esc = NULL;
    char ubuf[8];
    switch (c) {
      case '"': esc = "\\\""; break;
      case '\\': esc = "\\\\"; break;
      case '\b': esc = "\\b"; break;
      case '\f': esc = "\\f"; break;
      case '\n': esc = "\\n"; break;
      case '\r': esc = "\\r"; break;
      case '\t': esc = "\\t"; break;
      default:
        if (c < 0x20) {
          snprintf(ubuf, sizeof ubuf, "\\u%04x", c);
          esc = ubuf;
        }
    }
    if (!esc) continue;
    sb_appendn(b, s + run, i - run);
    sb_append(b, esc);
    run = i + 1;
  }
  sb_appendn(b, s + run, n - run);
  sb_append(b, "\"");
}

static int key_cmp(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void newline(StrBuf *b, int indent, int depth) {
  if (indent <= 0) return;
  sb_append(b, "\n");
  for (int i = 0; i < indent * depth; i++) sb_append(b, " ");
}

static void write_value(StrBuf *b, const json_t *v, int sort_keys, int indent, int depth) {
  char num[32];
  switch (json_typeof(v)) {
    case JSON_OBJECT: {
      size_t n = json_object_size(v);
      if (n == 0) {
        sb_append(b, "{}");
        return;
      }
      const char **keys = xmalloc(n * sizeof *keys);
      size_t k = 0;
      const char *key;
      json_t *val;
      json_object_foreach((json_t *)v, key, val) keys[k++] = key;
      if (sort_keys) qsort(keys, n, sizeof *keys, key_cmp);
      sb_append(b, "{");
      for (size_t i = 0; i < n; i++) {
        if (i) sb_append(b, ",");
        newline(b, indent, depth + 1);
        write_string(b, keys[i], strlen(keys[i]));
        sb_append(b, indent > 0 ? ": " : ":");
        write_value(b, json_object_get(v, keys[i]), sort_keys, indent, depth + 1);
      }
      newline(b, indent, depth);
      sb_append(b, "}");
      free(keys);
      return;
    }
    case JSON_ARRAY: {
      size_t n = json_array_size(v);
      sb_append(b, "[");
      for (size_t i = 0; i < n; i++) {
        if (i) sb_append(b, indent > 0 ? ", " : ",");
        write_value(b, json_array_get(v, i), sort_keys, indent, depth + 1);
      }
      sb_append(b, "]");
      return;
    }
    case JSON_STRING:
      write_string(b, json_string_value(v), json_string_length(v));
      return;
    case JSON_INTEGER:
      sb_printf(b, "%lld", (long long)json_integer_value(v));
      return;
    case JSON_REAL:
      json_format_number(json_real_value(v), num);
      sb_append(b, num);
      return;
    case JSON_TRUE: sb_append(b, "true"); return;
    case JSON_FALSE: sb_append(b, "false"); return;
    case JSON_NULL: sb_append(b, "null"); return;
  }
}

void json_write(StrBuf *b, const json_t *v, int sort_keys, int indent) {
  write_value(b, v, sort_keys, indent, 0);
}

char *json_canonical(const json_t *v) {
  StrBuf b = {0};
  write_value(&b, v, 1, 0, 0);
  if (!b.data) return xstrdup("");
  return b.data;
}
