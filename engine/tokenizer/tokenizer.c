// tokenizer.c — encoding: added tokens, normalizers, pre-tokenizers, BPE, post-processor ids
// (the steps are listed in tok_internal.h). Loading is in tok_load.c.
//
// Pieces flow depth-first: step i cuts or rewrites one piece and hands each result to step i + 1
// before producing the next, so nothing holds the list of all pieces of a long text. Step i
// writes rewritten text into its own two scratch buffers, which stay valid while deeper steps run.
//
// Invalid UTF-8 in the input is first repaired: each maximal ill-formed subpart becomes U+FFFD,
// which is what Python's bytes.decode('utf-8', 'replace') gives HF `tokenizers` (whose API only
// takes valid strings). Byte-level tokenizers then see U+FFFD's three bytes, never raw bytes.
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "tok_internal.h"
#include "unicode.h"

// ---- added tokens ----

typedef struct {
  size_t start, end;
  int32_t id;  // -1: text to tokenize
} Cut;

typedef struct {
  Cut *v;
  size_t n, cap;
} CutVec;

static void cut_push(CutVec *c, size_t start, size_t end, int32_t id) {
  if (c->n == c->cap) {
    c->cap = c->cap ? c->cap * 2 : 16;
    c->v = xrealloc(c->v, c->cap * sizeof *c->v);
  }
  c->v[c->n++] = (Cut){start, end, id};
}

static int cmp_added(const void *pa, const void *pb, void *ctx) {
  const Tokenizer *t = ctx;
  const TokAdded *a = &t->added[*(const int *)pa], *b = &t->added[*(const int *)pb];
  unsigned char fa = (unsigned char)a->pattern[0], fb = (unsigned char)b->pattern[0];
  if (fa != fb) return fa < fb ? -1 : 1;
  if (a->pattern_len != b->pattern_len) return a->pattern_len > b->pattern_len ? -1 : 1;
  return *(const int *)pa - *(const int *)pb;
}

static void build_set(Tokenizer *t, TokAddedSet *set, int normalized) {
  set->order = xmalloc((size_t)(t->n_added + 1) * sizeof *set->order);
  set->n = 0;
  for (int i = 0; i < t->n_added; i++)
    if (t->added[i].normalized == normalized && t->added[i].pattern_len > 0)
      set->order[set->n++] = i;
  qsort_r(set->order, (size_t)set->n, sizeof *set->order, cmp_added, t);
  int k = 0;
  for (int b = 0; b <= 256; b++) {
    while (k < set->n && (unsigned char)t->added[set->order[k]].pattern[0] < b) k++;
    set->start[b] = (uint32_t)k;
  }
}

int tok_added_build(Tokenizer *t, BenchErr *err) {
  TokMatcher m;
  tok_matcher_init(&m);
  StrBuf nb = {0};
  int need_word = 0;
  for (int i = 0; i < t->n_added; i++) {
    TokAdded *a = &t->added[i];
    const char *p = a->content;
    size_t len = a->len;
    if (a->normalized) {
      int r = tok_normalize(t, &m, a->content, a->len, &nb, err);
      if (r < 0) {
        tok_matcher_free(&m);
        sb_free(&nb);
        return err_prefix(err, "added token '%s'", a->content);
      }
      if (r) {
        p = nb.data;
        len = nb.len;
      }
    }
    a->pattern = xstrndup(p, len);
    a->pattern_len = len;
    need_word |= a->single_word;
  }
  tok_matcher_free(&m);
  sb_free(&nb);
  build_set(t, &t->raw_set, 0);
  build_set(t, &t->norm_set, 1);
  if (need_word) {
    // Rust regex's Unicode \w, which HF uses to decide single_word matches.
    static const char WORD[] = "[\\p{Alphabetic}\\p{M}\\p{Nd}\\p{Pc}\\p{Join_Control}]";
    int code;
    PCRE2_SIZE off;
    t->word_char = pcre2_compile((PCRE2_SPTR)WORD, sizeof WORD - 1,
                                 PCRE2_UTF | PCRE2_UCP | PCRE2_ANCHORED, &code, &off, NULL);
    CHECK(t->word_char);
  }
  return 0;
}

static int is_word_char(const Tokenizer *t, TokMatcher *m, const char *s, size_t len) {
  int rc = pcre2_match(t->word_char, (PCRE2_SPTR)s, len, 0, PCRE2_NO_UTF_CHECK, m->md, m->mc);
  return rc >= 0;
}

static size_t char_start_before(const char *s, size_t i) {
  do i--;
  while (i > 0 && ((unsigned char)s[i] & 0xC0) == 0x80);
  return i;
}

static uint32_t cp_at(const char *s, size_t len, size_t i, size_t *n) {
  uint32_t cp = 0;
  *n = utf8_decode((const unsigned char *)s + i, len - i, &cp);
  if (*n == 0) *n = 1;
  return cp;
}

// Splits s around the added tokens of set, as HF's AddedVocabulary::find_matches does.
static void find_added(const Tokenizer *t, const TokAddedSet *set, TokMatcher *m, const char *s,
                       size_t len, CutVec *cuts) {
  cuts->n = 0;
  size_t start_offset = 0, pos = 0;
  while (set->n > 0 && pos < len) {
    // leftmost-longest match at or after pos
    const TokAdded *hit = NULL;
    size_t at;
    for (at = pos; at < len; at++) {
      unsigned char c = (unsigned char)s[at];
      for (uint32_t k = set->start[c]; k < set->start[c + 1] && !hit; k++) {
        const TokAdded *a = &t->added[set->order[k]];
        if (a->pattern_len <= len - at && memcmp(s + at, a->pattern, a->pattern_len) == 0) hit = a;
      }
      if (hit) break;
    }
    if (!hit) break;
    size_t start = at, stop = at + hit->pattern_len, n;
    pos = stop;
    if (hit->single_word) {
      int before = start > 0 && is_word_char(t, m, s + char_start_before(s, start),
                                              start - char_start_before(s, start));
      int after = stop < len && is_word_char(t, m, s + stop, len - stop);
      if (before || after) continue;
    }
    if (hit->lstrip) {
      size_t ns = start;
      while (ns > 0) {
        size_t p = char_start_before(s, ns);
        if (!unicode_is_white_space(cp_at(s, len, p, &n))) break;
        ns = p;
      }
      start = ns > start_offset ? ns : start_offset;
    }
    if (hit->rstrip) {
      while (stop < len && unicode_is_white_space(cp_at(s, len, stop, &n))) stop += n;
    }
    if (start_offset < start) cut_push(cuts, start_offset, start, -1);
    cut_push(cuts, start, stop, hit->id);
    start_offset = stop;
  }
  if (start_offset < len) cut_push(cuts, start_offset, len, -1);
}

// ---- normalizers ----

static int replace_all(const TokNorm *nm, TokMatcher *m, const char *s, size_t len, StrBuf *out,
                       BenchErr *err) {
  TokFindIter it = {0};
  size_t a, b, copied = 0;
  int any = 0, r;
  while ((r = tok_regex_next(&nm->re, m, s, len, &it, &a, &b, err)) == 1) {
    if (!any) {
      out->len = 0;
      sb_appendn(out, "", 0);
      any = 1;
    }
    sb_appendn(out, s + copied, a - copied);
    sb_appendn(out, nm->str, nm->str_len);
    copied = b;
  }
  if (r < 0) return -1;
  if (any) sb_appendn(out, s + copied, len - copied);
  return any;
}

static int strip(const TokNorm *nm, const char *s, size_t len, StrBuf *out) {
  size_t a = 0, b = len, n;
  if (nm->strip_left)
    while (a < len && unicode_is_white_space(cp_at(s, len, a, &n))) a += n;
  if (nm->strip_right)
    while (b > a) {
      size_t p = char_start_before(s, b);
      if (!unicode_is_white_space(cp_at(s, len, p, &n))) break;
      b = p;
    }
  if (a == 0 && b == len) return 0;
  out->len = 0;
  sb_appendn(out, s + a, b - a);
  return 1;
}

int tok_normalize(const Tokenizer *t, TokMatcher *m, const char *s, size_t len, StrBuf *out,
                  BenchErr *err) {
  StrBuf bufs[2] = {{0}, {0}};
  const char *cur = s;
  size_t cur_len = len;
  int which = 0, changed = 0, last = -1;
  for (int i = 0; i < t->n_norms; i++) {
    const TokNorm *nm = &t->norms[i];
    StrBuf *dst = &bufs[which];
    int r = 0;
    switch (nm->kind) {
      case TN_NFC: r = unicode_nfc(cur, cur_len, dst); break;
      case TN_NFD: r = unicode_nfd(cur, cur_len, dst); break;
      case TN_PREPEND:
        if (cur_len > 0) {
          dst->len = 0;
          sb_appendn(dst, nm->str, nm->str_len);
          sb_appendn(dst, cur, cur_len);
          r = 1;
        }
        break;
      case TN_REPLACE: r = replace_all(nm, m, cur, cur_len, dst, err); break;
      case TN_STRIP: r = strip(nm, cur, cur_len, dst); break;
    }
    if (r < 0) {
      sb_free(&bufs[0]);
      sb_free(&bufs[1]);
      return err_prefix(err, "normalizer");
    }
    if (r) {
      cur = dst->data;
      cur_len = dst->len;
      last = which;
      which ^= 1;
      changed = 1;
    }
  }
  if (changed) {
    StrBuf tmp = *out;
    *out = bufs[last];
    bufs[last] = tmp;
  }
  sb_free(&bufs[0]);
  sb_free(&bufs[1]);
  return changed;
}

// ---- pre-tokenizers ----

#define MAX_LEVELS 64

typedef struct {
  const Tokenizer *t;
  TokMatcher m;
  BpeWork bw;
  IdVec *out;
  StrBuf scratch[2 * MAX_LEVELS];  // level i: [2i] rewritten piece, [2i + 1] byte-level mapped
  BenchErr *err;
} Enc;

static int run_pre(Enc *e, int level, const char *s, size_t len, int at_origin);

uint32_t tok_byte_char(unsigned b) {
  if (b <= 32) return 256 + b;
  if (b >= 127 && b <= 160) return 162 + b;
  if (b == 173) return 323;
  return b;
}

// UTF-8 of byte_char(b) for every byte: BYTE_UTF8[b] holds 1 or 2 bytes, BYTE_UTF8_LEN[b] says.
static char BYTE_UTF8[256][2];
static uint8_t BYTE_UTF8_LEN[256];
static pthread_once_t byte_utf8_once = PTHREAD_ONCE_INIT;

static void byte_utf8_init(void) {
  for (unsigned b = 0; b < 256; b++) {
    char enc[4];
    BYTE_UTF8_LEN[b] = (uint8_t)utf8_encode(tok_byte_char(b), enc);
    memcpy(BYTE_UTF8[b], enc, BYTE_UTF8_LEN[b]);
  }
}

static int deliver(Enc *e, int level, const char *s, size_t len, int at_origin) {
  if (len == 0) return 0;
  if (e->t->pres[level].kind == TP_BYTE_LEVEL) {
    StrBuf *b = &e->scratch[2 * level + 1];
    if (b->cap < 2 * len + 1) {  // each byte maps to at most 2 bytes of UTF-8
      b->cap = 2 * len + 1;
      b->data = xrealloc(b->data, b->cap);
    }
    char *o = b->data;
    for (size_t i = 0; i < len; i++) {
      unsigned char c = (unsigned char)s[i];
      o[0] = BYTE_UTF8[c][0];
      o[1] = BYTE_UTF8[c][1];
      o += BYTE_UTF8_LEN[c];
    }
    b->len = (size_t)(o - b->data);
    *o = 0;
    return run_pre(e, level + 1, b->data, b->len, at_origin);
  }
  return run_pre(e, level + 1, s, len, at_origin);
}

// State of one split: the element list HF builds (gaps as non-matches, matches) is consumed in
// order; `pending` holds the last kept element while it may still grow.
typedef struct {
  Enc *e;
  int level, at_origin, invert;
  TokSplit behavior;
  const char *s;
  int has_pending, prev_match;
  size_t pa, pb;
} Splitter;

static int split_out(Splitter *sp, size_t a, size_t b) {
  return deliver(sp->e, sp->level, sp->s + a, b - a, sp->at_origin && a == 0);
}

static int split_flush(Splitter *sp) {
  if (!sp->has_pending) return 0;
  sp->has_pending = 0;
  return split_out(sp, sp->pa, sp->pb);
}

static int split_element(Splitter *sp, size_t a, size_t b, int is_match) {
  if (sp->invert) is_match = !is_match;
  switch (sp->behavior) {
    case TS_ISOLATED:
      return split_out(sp, a, b);
    case TS_REMOVED:
      return is_match ? 0 : split_out(sp, a, b);
    case TS_MERGED_PREV:
    case TS_CONTIGUOUS: {
      int merge = sp->behavior == TS_MERGED_PREV ? is_match && !sp->prev_match
                                                 : is_match == sp->prev_match;
      sp->prev_match = is_match;
      if (merge && sp->has_pending) {
        sp->pb = b;
        return 0;
      }
      if (split_flush(sp)) return -1;
      sp->has_pending = 1;
      sp->pa = a;
      sp->pb = b;
      return 0;
    }
    case TS_MERGED_NEXT:  // a match joins the element after it when that one is not a match
      if (sp->has_pending && !is_match) {
        sp->has_pending = 0;
        return split_out(sp, sp->pa, b);
      }
      if (split_flush(sp)) return -1;
      if (!is_match) return split_out(sp, a, b);
      sp->has_pending = 1;
      sp->pa = a;
      sp->pb = b;
      return 0;
  }
  return 0;
}

// Cuts s with re and hands the pieces on, merged as `behavior` says (HF NormalizedString::split).
static int split_apply(Enc *e, int level, const TokRegex *re, TokSplit behavior, int invert,
                       const char *s, size_t len, int at_origin) {
  Splitter sp = {e, level, at_origin, invert, behavior, s, 0, 0, 0, 0};
  TokFindIter it = {0};
  size_t prev = 0, ms, me;
  for (;;) {
    int found = tok_regex_next(re, &e->m, s, len, &it, &ms, &me, e->err);
    if (found < 0) return -1;
    size_t gap_end = found ? ms : len;
    if (prev < gap_end && split_element(&sp, prev, gap_end, 0)) return -1;
    if (!found) break;
    if (split_element(&sp, ms, me, 1)) return -1;
    prev = me;
  }
  return split_flush(&sp);
}

static int run_pre(Enc *e, int level, const char *s, size_t len, int at_origin) {
  if (len == 0) return 0;
  const Tokenizer *t = e->t;
  if (level == t->n_pres) return tok_bpe_tokenize(&t->bpe, &e->bw, s, len, e->out, e->err);
  const TokPre *p = &t->pres[level];
  StrBuf *b = &e->scratch[2 * level];
  switch (p->kind) {
    case TP_BYTE_LEVEL:
      if (p->add_prefix_space && s[0] != ' ') {
        b->len = 0;
        sb_appendn(b, " ", 1);
        sb_appendn(b, s, len);
        s = b->data;
        len = b->len;
      }
      if (p->use_regex) return split_apply(e, level, &p->re, TS_ISOLATED, 0, s, len, at_origin);
      return deliver(e, level, s, len, at_origin);
    case TP_SPLIT:
    case TP_DIGITS:
      return split_apply(e, level, &p->re, p->behavior, p->invert, s, len, at_origin);
    case TP_METASPACE: {
      b->len = 0;
      sb_appendn(b, "", 0);
      // HF replaces spaces first, then prepends unless the piece now starts with the replacement
      int starts = s[0] == ' ' || (len >= p->repl_len && memcmp(s, p->repl, p->repl_len) == 0);
      if (!starts && (p->prepend == TM_ALWAYS || (p->prepend == TM_FIRST && at_origin)))
        sb_appendn(b, p->repl, p->repl_len);
      size_t copied = 0;
      for (size_t i = 0; i < len; i++) {
        if (s[i] != ' ') continue;
        sb_appendn(b, s + copied, i - copied);
        sb_appendn(b, p->repl, p->repl_len);
        copied = i + 1;
      }
      sb_appendn(b, s + copied, len - copied);
      if (p->split) return split_apply(e, level, &p->re, TS_MERGED_NEXT, 0, b->data, b->len, at_origin);
      return deliver(e, level, b->data, b->len, at_origin);
    }
  }
  return 0;
}

// ---- encode ----

static int encode_text(Enc *e, const char *s, size_t len, int at_origin, CutVec *cuts,
                       StrBuf *norm) {
  const Tokenizer *t = e->t;
  int r = tok_normalize(t, &e->m, s, len, norm, e->err);
  if (r < 0) return -1;
  const char *ns = r ? norm->data : s;
  size_t nlen = r ? norm->len : len;
  if (t->norm_set.n == 0) return run_pre(e, 0, ns, nlen, at_origin);
  find_added(t, &t->norm_set, &e->m, ns, nlen, cuts);
  for (size_t i = 0; i < cuts->n; i++) {
    Cut c = cuts->v[i];
    if (c.id >= 0) idvec_push(e->out, c.id);
    else if (run_pre(e, 0, ns + c.start, c.end - c.start, at_origin && c.start == 0)) return -1;
  }
  return 0;
}

int tokenizer_encode(const Tokenizer *t, const char *text, size_t len, int add_special,
                     int32_t **ids, size_t *n_ids, BenchErr *err) {
  *ids = NULL;
  *n_ids = 0;
  char *repaired = NULL;
  if (utf8_valid_prefix(text, len) != len) {
    repaired = utf8_repair(text, len, &len);
    text = repaired;
  }
  pthread_once(&byte_utf8_once, byte_utf8_init);
  IdVec out = {0};
  Enc e = {0};
  e.t = t;
  e.out = &out;
  e.err = err;
  tok_matcher_init(&e.m);
  bpe_work_init(&e.bw);
  CutVec raw = {0}, inner = {0};
  StrBuf norm = {0};
  int rc = 0;
  if (add_special)
    for (int i = 0; i < t->n_prefix; i++) idvec_push(&out, t->prefix_ids[i]);
  if (t->raw_set.n == 0) {
    rc = encode_text(&e, text, len, 1, &inner, &norm);
  } else {
    find_added(t, &t->raw_set, &e.m, text, len, &raw);
    for (size_t i = 0; i < raw.n && rc == 0; i++) {
      Cut c = raw.v[i];
      if (c.id >= 0) idvec_push(&out, c.id);
      else rc = encode_text(&e, text + c.start, c.end - c.start, c.start == 0, &inner, &norm);
    }
  }
  if (add_special && rc == 0)
    for (int i = 0; i < t->n_suffix; i++) idvec_push(&out, t->suffix_ids[i]);
  free(raw.v);
  free(inner.v);
  sb_free(&norm);
  for (int i = 0; i < 2 * MAX_LEVELS; i++) sb_free(&e.scratch[i]);
  bpe_work_free(&e.bw);
  tok_matcher_free(&e.m);
  free(repaired);
  if (rc) {
    free(out.v);
    return -1;
  }
  if (!out.v) out.v = xmalloc(sizeof *out.v);
  *ids = out.v;
  *n_ids = out.n;
  return 0;
}
