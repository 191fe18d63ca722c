// tok_regex.c — the tokenizer's regular expressions on PCRE2 (UTF + UCP, JIT when available,
// with match and depth limits), iterated the way Oniguruma's find_iter does.
#include <stdlib.h>
#include <string.h>

#include "tok_internal.h"

// Rewrites the Oniguruma escapes whose meaning differs in PCRE2. Only \s and \S do for the
// patterns tokenizer.json files use: Oniguruma's \s is the White_Space property, PCRE2's (with
// UCP) also matches U+180E. Everything else is passed through untouched.
static char *translate_onig(const char *p, size_t len) {
  StrBuf b = {0};
  sb_appendn(&b, "", 0);
  for (size_t i = 0; i < len; i++) {
    if (p[i] == '\\' && i + 1 < len) {
      char c = p[i + 1];
      if (c == 's') sb_append(&b, "\\p{White_Space}");
      else if (c == 'S') sb_append(&b, "\\P{White_Space}");
      else sb_appendn(&b, p + i, 2);
      i++;
      continue;
    }
    sb_appendn(&b, p + i, 1);
  }
  return b.data;
}

int tok_regex_compile(TokRegex *re, const char *pattern, size_t len, int literal, BenchErr *err) {
  memset(re, 0, sizeof *re);
  re->source = xstrndup(pattern, len);
  if (literal && len > 0) {
    re->literal = xstrndup(pattern, len);
    re->literal_len = len;
    return 0;
  }
  char *src = literal ? xstrndup(pattern, len) : translate_onig(pattern, len);
  int code;
  PCRE2_SIZE off;
  uint32_t opts = PCRE2_UTF | PCRE2_UCP | (literal ? PCRE2_LITERAL : 0);
  re->code = pcre2_compile((PCRE2_SPTR)src, strlen(src), opts, &code, &off, NULL);
  free(src);
  if (!re->code) {
    PCRE2_UCHAR msg[256];
    pcre2_get_error_message(code, msg, sizeof msg);
    err_set(err, "invalid regex '%s': %s at offset %zu", re->source, (char *)msg, (size_t)off);
    free(re->source);
    re->source = NULL;
    return -1;
  }
  pcre2_jit_compile(re->code, PCRE2_JIT_COMPLETE);  // falls back to the interpreter on failure
  return 0;
}

void tok_regex_free(TokRegex *re) {
  if (re->code) pcre2_code_free(re->code);
  free(re->literal);
  free(re->source);
  memset(re, 0, sizeof *re);
}

void tok_matcher_init(TokMatcher *m) {
  m->md = pcre2_match_data_create(1, NULL);
  m->mc = pcre2_match_context_create(NULL);
  CHECK(m->md && m->mc);
  pcre2_set_match_limit(m->mc, TOK_MATCH_LIMIT);
  pcre2_set_depth_limit(m->mc, TOK_DEPTH_LIMIT);
  m->jit = pcre2_jit_stack_create(32 * 1024, 8 * 1024 * 1024, NULL);
  if (m->jit) pcre2_jit_stack_assign(m->mc, NULL, m->jit);
}

void tok_matcher_free(TokMatcher *m) {
  if (m->jit) pcre2_jit_stack_free(m->jit);
  pcre2_match_context_free(m->mc);
  pcre2_match_data_free(m->md);
  memset(m, 0, sizeof *m);
}

static size_t char_len_at(const char *s, size_t len, size_t i) {
  size_t n = 1;
  while (i + n < len && ((unsigned char)s[i + n] & 0xC0) == 0x80) n++;
  return n;
}

int tok_regex_next(const TokRegex *re, TokMatcher *m, const char *s, size_t len, TokFindIter *it,
                   size_t *ms, size_t *me, BenchErr *err) {
  for (;;) {
    if (it->pos > len) return 0;
    size_t a, b;
    if (re->literal) {
      const char *p = memmem(s + it->pos, len - it->pos, re->literal, re->literal_len);
      if (!p) return 0;
      a = (size_t)(p - s);
      b = a + re->literal_len;
    } else {
      int rc = pcre2_match(re->code, (PCRE2_SPTR)s, len, it->pos, PCRE2_NO_UTF_CHECK, m->md, m->mc);
      if (rc == PCRE2_ERROR_NOMATCH) return 0;
      if (rc < 0) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(rc, msg, sizeof msg);
        return err_set(err, "regex '%s' failed on a piece of %zu bytes: %s", re->source, len,
                       (char *)msg);
      }
      PCRE2_SIZE *ov = pcre2_get_ovector_pointer(m->md);
      a = ov[0];
      b = ov[1];
    }
    if (a == b && it->has_last && it->last_end == b) {
      it->pos += it->pos < len ? char_len_at(s, len, it->pos) : 1;
      continue;
    }
    it->pos = b;
    it->last_end = b;
    it->has_last = 1;
    *ms = a;
    *me = b;
    return 1;
  }
}
