// unicode.c — UTF-8 and canonical normalization (see unicode.h).
//
// Normalization walks the text once. A code point whose class carries no UNSAFE flag for the
// form is a safe boundary: normalization never moves text across it and it never combines with
// what precedes it. Text between boundaries is copied as is unless it holds an unsafe code point;
// then the stretch from the last boundary to the next one is decomposed (table + Hangul
// arithmetic), put in canonical order (stable by combining class) and, for NFC, recomposed.
#include "unicode.h"

#include <stdlib.h>
#include <string.h>

#include "unicode_nfc_table.h"

// ---- UTF-8 ----

size_t utf8_decode(const unsigned char *s, size_t len, uint32_t *cp) {
  if (len == 0) return 0;
  unsigned c = s[0];
  if (c < 0x80) {
    *cp = c;
    return 1;
  }
  if (c >= 0xC2 && c <= 0xDF) {
    if (len < 2 || (s[1] & 0xC0) != 0x80) return 0;
    *cp = ((c & 0x1Fu) << 6) | (s[1] & 0x3Fu);
    return 2;
  }
  if (c >= 0xE0 && c <= 0xEF) {
    if (len < 3 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80) return 0;
    if (c == 0xE0 && s[1] < 0xA0) return 0;   // overlong
    if (c == 0xED && s[1] > 0x9F) return 0;   // surrogate
    *cp = ((c & 0x0Fu) << 12) | ((s[1] & 0x3Fu) << 6) | (s[2] & 0x3Fu);
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (len < 4 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80 || (s[3] & 0xC0) != 0x80)
      return 0;
    if (c == 0xF0 && s[1] < 0x90) return 0;   // overlong
    if (c == 0xF4 && s[1] > 0x8F) return 0;   // > U+10FFFF
    *cp = ((c & 0x07u) << 18) | ((s[1] & 0x3Fu) << 12) | ((s[2] & 0x3Fu) << 6) | (s[3] & 0x3Fu);
    return 4;
  }
  return 0;
}

size_t utf8_invalid_len(const unsigned char *s, size_t len) {
  if (len == 0) return 0;
  unsigned c = s[0];
  size_t need;
  unsigned lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (c >= 0xC2 && c <= 0xDF) need = 1;
  else if (c >= 0xE0 && c <= 0xEF) {
    need = 2;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    need = 3;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else {
    return 1;
  }
  size_t n = 1;
  for (size_t k = 1; k <= need && k < len; k++) {
    unsigned b = s[k];
    unsigned l = k == 1 ? lo : 0x80, h = k == 1 ? hi : 0xBF;
    if (b < l || b > h) break;
    n++;
  }
  return n;
}

size_t utf8_encode(uint32_t cp, char out[4]) {
  if (cp < 0x80) {
    out[0] = (char)cp;
    return 1;
  }
  if (cp < 0x800) {
    out[0] = (char)(0xC0 | (cp >> 6));
    out[1] = (char)(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    out[0] = (char)(0xE0 | (cp >> 12));
    out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[2] = (char)(0x80 | (cp & 0x3F));
    return 3;
  }
  out[0] = (char)(0xF0 | (cp >> 18));
  out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
  out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
  out[3] = (char)(0x80 | (cp & 0x3F));
  return 4;
}

size_t utf8_valid_prefix(const char *s, size_t len) {
  const unsigned char *u = (const unsigned char *)s;
  size_t i = 0;
  while (i < len) {
    if (u[i] < 0x80) {
      i++;
      continue;
    }
    uint32_t cp;
    size_t n = utf8_decode(u + i, len - i, &cp);
    if (n == 0) return i;
    i += n;
  }
  return len;
}

char *utf8_repair(const char *s, size_t len, size_t *out_len) {
  const unsigned char *u = (const unsigned char *)s;
  StrBuf b = {0};
  sb_appendn(&b, "", 0);
  size_t i = 0, copied = 0;
  while (i < len) {
    uint32_t cp;
    size_t n = utf8_decode(u + i, len - i, &cp);
    if (n) {
      i += n;
      continue;
    }
    sb_appendn(&b, s + copied, i - copied);
    sb_appendn(&b, "\xEF\xBF\xBD", 3);
    i += utf8_invalid_len(u + i, len - i);
    copied = i;
  }
  sb_appendn(&b, s + copied, len - copied);
  *out_len = b.len;
  return b.data;
}

// ---- properties ----

enum { S_BASE = 0xAC00, L_BASE = 0x1100, V_BASE = 0x1161, T_BASE = 0x11A7 };
enum { L_COUNT = 19, V_COUNT = 21, T_COUNT = 28, N_COUNT = V_COUNT * T_COUNT,
       S_COUNT = L_COUNT * N_COUNT };

static inline int class_of(uint32_t cp) {
  uint32_t b = cp / UNF_BLOCK;
  if (b >= UNF_STAGE1_LEN) return 0;
  return unf_stage2[(size_t)unf_stage1[b] * UNF_BLOCK + cp % UNF_BLOCK];
}

int unicode_ccc(uint32_t cp) { return unf_class_ccc[class_of(cp)]; }

const char *unicode_nfc_version(void) { return UNF_UNICODE_VERSION; }

int unicode_is_white_space(uint32_t cp) {
  if (cp <= 0x20) return cp == 0x20 || (cp >= 0x09 && cp <= 0x0D);
  if (cp < 0x85) return 0;
  return cp == 0x85 || cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) ||
         cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

// ---- normalization ----

typedef struct {
  uint32_t *cp;
  size_t n, cap;
} CpVec;

static void cv_push(CpVec *v, uint32_t cp) {
  if (v->n == v->cap) {
    v->cap = v->cap ? v->cap * 2 : 64;
    v->cp = xrealloc(v->cp, v->cap * sizeof *v->cp);
  }
  v->cp[v->n++] = cp;
}

static void decompose_into(CpVec *v, uint32_t cp) {
  if (cp >= S_BASE && cp < S_BASE + S_COUNT) {
    uint32_t s = cp - S_BASE;
    cv_push(v, L_BASE + s / N_COUNT);
    cv_push(v, V_BASE + (s % N_COUNT) / T_COUNT);
    if (s % T_COUNT) cv_push(v, T_BASE + s % T_COUNT);
    return;
  }
  if (!(unf_class_flags[class_of(cp)] & UNF_NFD_UNSAFE)) {
    cv_push(v, cp);
    return;
  }
  size_t lo = 0, hi = UNF_N_DECOMP;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (unf_decomp_cp[mid] < cp) lo = mid + 1;
    else hi = mid;
  }
  if (lo < UNF_N_DECOMP && unf_decomp_cp[lo] == cp) {
    for (uint32_t k = unf_decomp_off[lo]; k < unf_decomp_off[lo + 1]; k++)
      cv_push(v, unf_decomp_data[k]);
  } else {
    cv_push(v, cp);
  }
}

// Stable sort of a[0..n) by combining class (merge sort through tmp; insertion sort when short).
static void sort_by_ccc(uint32_t *a, uint8_t *cc, size_t n, uint32_t *tmp, uint8_t *tcc) {
  if (n < 24) {
    for (size_t i = 1; i < n; i++) {
      uint32_t x = a[i];
      uint8_t c = cc[i];
      size_t j = i;
      while (j > 0 && cc[j - 1] > c) {
        a[j] = a[j - 1];
        cc[j] = cc[j - 1];
        j--;
      }
      a[j] = x;
      cc[j] = c;
    }
    return;
  }
  size_t h = n / 2;
  sort_by_ccc(a, cc, h, tmp, tcc);
  sort_by_ccc(a + h, cc + h, n - h, tmp, tcc);
  size_t i = 0, j = h, k = 0;
  while (i < h && j < n) {
    if (cc[j] < cc[i]) {
      tmp[k] = a[j];
      tcc[k++] = cc[j++];
    } else {
      tmp[k] = a[i];
      tcc[k++] = cc[i++];
    }
  }
  while (i < h) {
    tmp[k] = a[i];
    tcc[k++] = cc[i++];
  }
  while (j < n) {
    tmp[k] = a[j];
    tcc[k++] = cc[j++];
  }
  memcpy(a, tmp, n * sizeof *a);
  memcpy(cc, tcc, n);
}

static void canonical_order(CpVec *v) {
  uint8_t *cc = xmalloc(v->n + 1);
  for (size_t i = 0; i < v->n; i++) cc[i] = (uint8_t)unicode_ccc(v->cp[i]);
  uint32_t *tmp = NULL;
  uint8_t *tcc = NULL;
  size_t i = 0;
  while (i < v->n) {
    if (cc[i] == 0) {
      i++;
      continue;
    }
    size_t j = i;
    while (j < v->n && cc[j] != 0) j++;
    if (j - i > 1) {
      if (!tmp) {
        tmp = xmalloc(v->n * sizeof *tmp);
        tcc = xmalloc(v->n);
      }
      sort_by_ccc(v->cp + i, cc + i, j - i, tmp, tcc);
    }
    i = j;
  }
  free(tmp);
  free(tcc);
  free(cc);
}

static uint32_t compose_pair(uint32_t a, uint32_t b) {
  if (a >= L_BASE && a < L_BASE + L_COUNT && b >= V_BASE && b < V_BASE + V_COUNT)
    return S_BASE + ((a - L_BASE) * V_COUNT + (b - V_BASE)) * T_COUNT;
  if (a >= S_BASE && a < S_BASE + S_COUNT && (a - S_BASE) % T_COUNT == 0 && b > T_BASE &&
      b < T_BASE + T_COUNT)
    return a + (b - T_BASE);
  size_t lo = 0, hi = UNF_N_COMP;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (unf_comp_first[mid] < a || (unf_comp_first[mid] == a && unf_comp_second[mid] < b))
      lo = mid + 1;
    else
      hi = mid;
  }
  if (lo < UNF_N_COMP && unf_comp_first[lo] == a && unf_comp_second[lo] == b)
    return unf_comp_result[lo];
  return 0;
}

// Canonical composition in place (v is decomposed and canonically ordered).
static void compose(CpVec *v) {
  size_t out = 0;
  long starter = -1;
  int last_cc = 0;
  for (size_t i = 0; i < v->n; i++) {
    uint32_t cp = v->cp[i];
    int cc = unicode_ccc(cp);
    if (starter >= 0) {
      int adjacent = (long)out - 1 == starter;
      if (adjacent || (last_cc != 0 && last_cc < cc)) {
        uint32_t c = compose_pair(v->cp[starter], cp);
        if (c) {
          v->cp[starter] = c;
          continue;
        }
      }
    }
    if (cc == 0) starter = (long)out;
    v->cp[out++] = cp;
    last_cc = cc;
  }
  v->n = out;
}

static int normalize(const char *s, size_t len, int nfc, StrBuf *out) {
  const unsigned char *u = (const unsigned char *)s;
  const int unsafe_flag = nfc ? UNF_NFC_UNSAFE : UNF_NFD_UNSAFE;
  CpVec v = {0};
  StrBuf seg = {0};
  int changed = 0;
  size_t i = 0, boundary = 0, copied = 0;
  while (i < len) {
    uint32_t cp;
    size_t n;
    if (u[i] < 0x80) {
      boundary = i++;
      continue;
    }
    n = utf8_decode(u + i, len - i, &cp);
    if (n == 0) {  // not reached for repaired text; kept as an opaque boundary byte
      boundary = i++;
      continue;
    }
    if (!(unf_class_flags[class_of(cp)] & unsafe_flag)) {
      boundary = i;
      i += n;
      continue;
    }
    size_t end = i + n;
    while (end < len) {
      size_t m = utf8_decode(u + end, len - end, &cp);
      if (m == 0 || !(unf_class_flags[class_of(cp)] & unsafe_flag)) break;
      end += m;
    }
    v.n = 0;
    for (size_t k = boundary; k < end;) {
      size_t m = utf8_decode(u + k, end - k, &cp);
      decompose_into(&v, cp);
      k += m;
    }
    canonical_order(&v);
    if (nfc) compose(&v);
    seg.len = 0;
    sb_appendn(&seg, "", 0);
    for (size_t k = 0; k < v.n; k++) {
      char b[4];
      sb_appendn(&seg, b, utf8_encode(v.cp[k], b));
    }
    if (seg.len != end - boundary || memcmp(seg.data, s + boundary, seg.len) != 0) {
      if (!changed) {
        out->len = 0;
        changed = 1;
      }
      sb_appendn(out, s + copied, boundary - copied);
      sb_appendn(out, seg.data, seg.len);
      copied = end;
    }
    i = end;
    boundary = end;
  }
  if (changed) sb_appendn(out, s + copied, len - copied);
  free(v.cp);
  sb_free(&seg);
  return changed;
}

int unicode_nfc(const char *s, size_t len, StrBuf *out) { return normalize(s, len, 1, out); }
int unicode_nfd(const char *s, size_t len, StrBuf *out) { return normalize(s, len, 0, out); }
