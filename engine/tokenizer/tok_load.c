// tok_load.c — tokenizer.json → Tokenizer: the BPE model (vocab, merges in "a b" or [a, b]
// form), normalizers, pre-tokenizers, the post-processor's special tokens for a single sequence,
// and the added tokens. Unsupported components are errors naming them. The decoder is not read
// (encoding never uses it); truncation and padding settings are ignored (the whole text is
// encoded, unpadded).
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "tok_internal.h"
#include "unicode.h"
#include "json_file.h"

#define TOKENIZER_JSON_MAX_BYTES (512u << 20)
#define MAX_COMPONENTS 64  // normalizers or pre-tokenizer steps after flattening Sequences

static const char GPT2_PATTERN[] =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

// ---- small JSON helpers (errors name the field) ----

static const char *type_of(json_t *o) {
  json_t *t = json_object_get(o, "type");
  return json_is_string(t) ? json_string_value(t) : NULL;
}

static int get_bool(json_t *o, const char *key, int dflt, int *out, BenchErr *err) {
  json_t *v = json_object_get(o, key);
  *out = dflt;
  if (!v || json_is_null(v)) return 0;
  if (!json_is_boolean(v)) return err_set(err, "'%s' must be true or false", key);
  *out = json_is_true(v);
  return 0;
}

// A string field (may hold NUL bytes); NULL with *len 0 when absent or null and optional.
static int get_str(json_t *o, const char *key, int required, const char **out, size_t *len,
                   BenchErr *err) {
  json_t *v = json_object_get(o, key);
  *out = NULL;
  *len = 0;
  if (!v || json_is_null(v)) return required ? err_set(err, "missing string '%s'", key) : 0;
  if (!json_is_string(v)) return err_set(err, "'%s' must be a string", key);
  *out = json_string_value(v);
  *len = json_string_length(v);
  return 0;
}

// {"String": "..."} or {"Regex": "..."} → TokRegex.
static int get_pattern(json_t *o, const char *key, TokRegex *re, BenchErr *err) {
  json_t *p = json_object_get(o, key);
  if (!json_is_object(p)) return err_set(err, "'%s' must be {\"String\": ...} or {\"Regex\": ...}", key);
  json_t *s = json_object_get(p, "String"), *r = json_object_get(p, "Regex");
  if (json_is_string(s)) return tok_regex_compile(re, json_string_value(s), json_string_length(s), 1, err);
  if (json_is_string(r)) return tok_regex_compile(re, json_string_value(r), json_string_length(r), 0, err);
  return err_set(err, "'%s' must be {\"String\": ...} or {\"Regex\": ...}", key);
}

// ---- model ----

static int add_vocab_string(TokBpe *b, StrBuf *pool, size_t *cap, const char *s, size_t len,
                            int32_t id) {
  if (b->n_str == *cap) {
    *cap = *cap ? *cap * 2 : 1024;
    b->str_off = xrealloc(b->str_off, *cap * sizeof *b->str_off);
    b->str_len = xrealloc(b->str_len, *cap * sizeof *b->str_len);
    b->str_id = xrealloc(b->str_id, *cap * sizeof *b->str_id);
  }
  b->str_off[b->n_str] = (uint32_t)pool->len;
  b->str_len[b->n_str] = (uint32_t)len;
  b->str_id[b->n_str] = id;
  b->n_str++;
  sb_appendn(pool, s, len);
  if (id > b->max_id) b->max_id = id;
  return 0;
}

static int merge_ids(TokBpe *b, const char *l, size_t ll, const char *r, size_t rl, size_t line,
                     StrBuf *tmp, int32_t *lid, int32_t *rid, int32_t *nid, BenchErr *err) {
  *rid = *nid = -1;
  *lid = tok_bpe_lookup(b, l, ll);
  if (*lid < 0) return err_set(err, "merge %zu: its first token is not in the vocab", line);
  *rid = tok_bpe_lookup(b, r, rl);
  if (*rid < 0) return err_set(err, "merge %zu: its second token is not in the vocab", line);
  if (rl < b->prefix_len)
    return err_set(err, "merge %zu: its second token is shorter than continuing_subword_prefix", line);
  tmp->len = 0;
  sb_appendn(tmp, l, ll);
  sb_appendn(tmp, r + b->prefix_len, rl - b->prefix_len);
  *nid = tok_bpe_lookup(b, tmp->data, tmp->len);
  if (*nid < 0)
    return err_set(err, "merge %zu: the merged token is not in the vocab", line);
  return 0;
}

static int load_model(json_t *m, TokBpe *b, BenchErr *err) {
  const char *type = type_of(m);
  json_t *vocab = json_object_get(m, "vocab"), *merges = json_object_get(m, "merges");
  if (type && strcmp(type, "BPE") != 0)
    return err_set(err, "unsupported model '%s' (only BPE is supported)", type);
  if (!type && !merges) return err_set(err, "unsupported model (no \"type\" and no merges)");
  if (!json_is_object(vocab)) return err_set(err, "model: 'vocab' must be an object");
  if (!json_is_array(merges)) return err_set(err, "model: 'merges' must be an array");
  json_t *dropout = json_object_get(m, "dropout");
  if (dropout && !json_is_null(dropout) && !(json_is_number(dropout) && json_number_value(dropout) == 0))
    return err_set(err, "unsupported BPE dropout (ids would be random); set it to null");
  const char *s;
  size_t len;
  if (get_str(m, "unk_token", 0, &s, &len, err)) return -1;
  if (s) b->unk_token = xstrndup(s, len);
  // GPT-2 and Qwen2 files write "" for no prefix/suffix; that changes nothing, as null.
  if (get_str(m, "continuing_subword_prefix", 0, &s, &len, err)) return -1;
  if (s && len) {
    b->prefix = xstrndup(s, len);
    b->prefix_len = len;
  }
  if (get_str(m, "end_of_word_suffix", 0, &s, &len, err)) return -1;
  if (s && len) {
    b->suffix = xstrndup(s, len);
    b->suffix_len = len;
  }
  if (get_bool(m, "fuse_unk", 0, &b->fuse_unk, err) ||
      get_bool(m, "byte_fallback", 0, &b->byte_fallback, err) ||
      get_bool(m, "ignore_merges", 0, &b->ignore_merges, err))
    return err_prefix(err, "model");

  StrBuf pool = {0};
  sb_appendn(&pool, "", 0);
  size_t cap = 0;
  const char *key;
  size_t key_len;
  json_t *val;
  b->max_id = -1;
  size_t entry = 0;
  json_object_keylen_foreach(vocab, key, key_len, val) {
    json_int_t id = json_is_integer(val) ? json_integer_value(val) : -1;
    entry++;
    if (id < 0 || id > INT32_MAX / 2) {
      sb_free(&pool);
      return err_set(err, "vocab entry %zu has an invalid id (expected 0..%d)", entry, INT32_MAX / 2);
    }
    add_vocab_string(b, &pool, &cap, key, key_len, (int32_t)id);
  }
  b->pool = pool.data;
  if (pool.len > UINT32_MAX) return err_set(err, "vocab is too large");
  if (tok_bpe_build(b, err)) return -1;

  StrBuf tmp = {0};
  size_t n = json_array_size(merges);
  uint32_t rank = 0;
  for (size_t i = 0; i < n; i++) {
    json_t *e = json_array_get(merges, i);
    const char *l, *r;
    size_t ll, rl;
    if (json_is_string(e)) {
      const char *line = json_string_value(e);
      size_t line_len = json_string_length(e);
      const char *sp = memchr(line, ' ', line_len);
      if (!sp || memchr(sp + 1, ' ', line_len - (size_t)(sp - line) - 1)) {
        sb_free(&tmp);
        return err_set(err, "merge %zu is not two tokens separated by one space", i + 1);
      }
      l = line;
      ll = (size_t)(sp - line);
      r = sp + 1;
      rl = line_len - ll - 1;
    } else if (json_is_array(e) && json_array_size(e) == 2 &&
               json_is_string(json_array_get(e, 0)) && json_is_string(json_array_get(e, 1))) {
      l = json_string_value(json_array_get(e, 0));
      ll = json_string_length(json_array_get(e, 0));
      r = json_string_value(json_array_get(e, 1));
      rl = json_string_length(json_array_get(e, 1));
    } else {
      sb_free(&tmp);
      return err_set(err, "merge %zu must be a string \"a b\" or a pair [\"a\", \"b\"]", i + 1);
    }
    int32_t lid, rid, nid;
    if (merge_ids(b, l, ll, r, rl, i + 1, &tmp, &lid, &rid, &nid, err)) {
      sb_free(&tmp);
      return -1;
    }
    tok_bpe_add_merge(b, lid, rid, rank++, nid);
    tok_bpe_note_join(b, l, ll, r, rl);
  }
  sb_free(&tmp);
  return 0;
}

// ---- normalizers ----

static int load_normalizer(json_t *o, Tokenizer *t, int depth, BenchErr *err) {
  if (json_is_null(o)) return 0;
  if (!json_is_object(o)) return err_set(err, "normalizer must be an object or null");
  const char *type = type_of(o);
  if (!type) return err_set(err, "normalizer without a \"type\"");
  if (strcmp(type, "Sequence") == 0) {
    json_t *list = json_object_get(o, "normalizers");
    if (!json_is_array(list)) return err_set(err, "normalizer Sequence needs a 'normalizers' array");
    if (depth > 8) return err_set(err, "normalizer Sequences nested too deeply");
    for (size_t i = 0; i < json_array_size(list); i++)
      if (load_normalizer(json_array_get(list, i), t, depth + 1, err)) return -1;
    return 0;
  }
  if (t->n_norms == MAX_COMPONENTS) return err_set(err, "too many normalizers");
  TokNorm *n = &t->norms[t->n_norms];
  memset(n, 0, sizeof *n);
  const char *s;
  size_t len;
  if (strcmp(type, "NFC") == 0) {
    n->kind = TN_NFC;
  } else if (strcmp(type, "NFD") == 0) {
    n->kind = TN_NFD;
  } else if (strcmp(type, "Prepend") == 0) {
    if (get_str(o, "prepend", 1, &s, &len, err)) return err_prefix(err, "normalizer Prepend");
    n->kind = TN_PREPEND;
    n->str = xstrndup(s, len);
    n->str_len = len;
  } else if (strcmp(type, "Replace") == 0) {
    if (get_str(o, "content", 1, &s, &len, err)) return err_prefix(err, "normalizer Replace");
    n->kind = TN_REPLACE;
    n->str = xstrndup(s, len);
    n->str_len = len;
    t->n_norms++;  // owned from here on (freed with the tokenizer)
    if (get_pattern(o, "pattern", &n->re, err)) return err_prefix(err, "normalizer Replace");
    return 0;
  } else if (strcmp(type, "Strip") == 0) {
    n->kind = TN_STRIP;
    if (get_bool(o, "strip_left", 0, &n->strip_left, err) ||
        get_bool(o, "strip_right", 0, &n->strip_right, err))
      return err_prefix(err, "normalizer Strip");
  } else {
    return err_set(err, "unsupported normalizer '%s' (supported: Sequence, NFC, NFD, Prepend, "
                   "Replace, Strip)", type);
  }
  t->n_norms++;
  return 0;
}

// ---- pre-tokenizers ----

static int parse_behavior(const char *s, TokSplit *out) {
  static const struct { const char *name; TokSplit v; } names[] = {
      {"Removed", TS_REMOVED}, {"Isolated", TS_ISOLATED}, {"MergedWithPrevious", TS_MERGED_PREV},
      {"MergedWithNext", TS_MERGED_NEXT}, {"Contiguous", TS_CONTIGUOUS}};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (strcmp(s, names[i].name) == 0) {
      *out = names[i].v;
      return 0;
    }
  return -1;
}

static int load_pre(json_t *o, Tokenizer *t, int depth, BenchErr *err) {
  if (json_is_null(o)) return 0;
  if (!json_is_object(o)) return err_set(err, "pre_tokenizer must be an object or null");
  const char *type = type_of(o);
  if (!type) return err_set(err, "pre_tokenizer without a \"type\"");
  if (strcmp(type, "Sequence") == 0) {
    json_t *list = json_object_get(o, "pretokenizers");
    if (!json_is_array(list))
      return err_set(err, "pre_tokenizer Sequence needs a 'pretokenizers' array");
    if (depth > 8) return err_set(err, "pre_tokenizer Sequences nested too deeply");
    for (size_t i = 0; i < json_array_size(list); i++)
      if (load_pre(json_array_get(list, i), t, depth + 1, err)) return -1;
    return 0;
  }
  if (t->n_pres == MAX_COMPONENTS) return err_set(err, "too many pre-tokenizers");
  TokPre *p = &t->pres[t->n_pres];
  memset(p, 0, sizeof *p);
  if (strcmp(type, "ByteLevel") == 0) {
    p->kind = TP_BYTE_LEVEL;
    p->behavior = TS_ISOLATED;
    if (get_bool(o, "add_prefix_space", 1, &p->add_prefix_space, err) ||
        get_bool(o, "use_regex", 1, &p->use_regex, err))
      return err_prefix(err, "pre_tokenizer ByteLevel");
    t->n_pres++;
    if (p->use_regex && tok_regex_compile(&p->re, GPT2_PATTERN, strlen(GPT2_PATTERN), 0, err))
      return -1;
    return 0;
  }
  if (strcmp(type, "Split") == 0) {
    p->kind = TP_SPLIT;
    json_t *bh = json_object_get(o, "behavior");
    if (!json_is_string(bh) || parse_behavior(json_string_value(bh), &p->behavior))
      return err_set(err, "pre_tokenizer Split: 'behavior' must be one of Removed, Isolated, "
                     "MergedWithPrevious, MergedWithNext, Contiguous");
    if (get_bool(o, "invert", 0, &p->invert, err)) return err_prefix(err, "pre_tokenizer Split");
    t->n_pres++;
    if (get_pattern(o, "pattern", &p->re, err)) return err_prefix(err, "pre_tokenizer Split");
    return 0;
  }
  if (strcmp(type, "Metaspace") == 0) {
    p->kind = TP_METASPACE;
    const char *s;
    size_t len;
    if (get_str(o, "replacement", 1, &s, &len, err)) return err_prefix(err, "pre_tokenizer Metaspace");
    uint32_t cp;
    if (len == 0 || utf8_decode((const unsigned char *)s, len, &cp) != len)
      return err_set(err, "pre_tokenizer Metaspace: 'replacement' must be one character");
    memcpy(p->repl, s, len);
    p->repl_len = len;
    // prepend_scheme (default always); older files have add_prefix_space only, and HF
    // rejects add_prefix_space false unless the scheme is never.
    json_t *scheme = json_object_get(o, "prepend_scheme");
    p->prepend = TM_ALWAYS;
    if (json_is_string(scheme)) {
      const char *v = json_string_value(scheme);
      if (strcmp(v, "always") == 0) p->prepend = TM_ALWAYS;
      else if (strcmp(v, "first") == 0) p->prepend = TM_FIRST;
      else if (strcmp(v, "never") == 0) p->prepend = TM_NEVER;
      else return err_set(err, "pre_tokenizer Metaspace: unknown prepend_scheme '%s'", v);
    } else if (scheme && !json_is_null(scheme)) {
      return err_set(err, "pre_tokenizer Metaspace: 'prepend_scheme' must be a string");
    }
    int aps;
    if (get_bool(o, "add_prefix_space", 1, &aps, err)) return err_prefix(err, "pre_tokenizer Metaspace");
    if (!aps && p->prepend != TM_NEVER)
      return err_set(err, "pre_tokenizer Metaspace: add_prefix_space false does not match "
                     "prepend_scheme (set \"prepend_scheme\": \"never\")");
    if (get_bool(o, "split", 1, &p->split, err)) return err_prefix(err, "pre_tokenizer Metaspace");
    t->n_pres++;
    if (p->split && tok_regex_compile(&p->re, p->repl, p->repl_len, 1, err)) return -1;
    return 0;
  }
  if (strcmp(type, "Digits") == 0) {
    p->kind = TP_DIGITS;
    int individual;
    if (get_bool(o, "individual_digits", 0, &individual, err)) return err_prefix(err, "pre_tokenizer Digits");
    p->behavior = individual ? TS_ISOLATED : TS_CONTIGUOUS;
    t->n_pres++;
    return tok_regex_compile(&p->re, "\\p{N}", 5, 0, err);
  }
  return err_set(err, "unsupported pre_tokenizer '%s' (supported: Sequence, ByteLevel, Split, "
                 "Metaspace, Digits)", type);
}

// ---- post-processor: the ids a single sequence gets with add_special ----

static void ids_append(int32_t **a, int *n, const int32_t *ids, int k) {
  *a = xrealloc(*a, (size_t)(*n + k + 1) * sizeof **a);
  if (k > 0) memcpy(*a + *n, ids, (size_t)k * sizeof **a);
  *n += k;
}

// Wraps the current prefix/suffix with pre (in front) and post (after).
static void wrap(Tokenizer *t, const int32_t *pre, int npre, const int32_t *post, int npost) {
  int32_t *p = NULL;
  int np = 0;
  ids_append(&p, &np, pre, npre);
  ids_append(&p, &np, t->prefix_ids, t->n_prefix);
  free(t->prefix_ids);
  t->prefix_ids = p;
  t->n_prefix = np;
  ids_append(&t->suffix_ids, &t->n_suffix, post, npost);
}

static int token_pair(json_t *o, const char *key, int32_t *id, BenchErr *err) {
  json_t *v = json_object_get(o, key);
  if (!json_is_array(v) || json_array_size(v) != 2 || !json_is_integer(json_array_get(v, 1)))
    return err_set(err, "'%s' must be [\"token\", id]", key);
  json_int_t x = json_integer_value(json_array_get(v, 1));
  if (x < 0 || x > INT32_MAX / 2) return err_set(err, "'%s' has an invalid id", key);
  *id = (int32_t)x;
  return 0;
}

static int template_single(json_t *o, Tokenizer *t, BenchErr *err) {
  json_t *single = json_object_get(o, "single"), *specials = json_object_get(o, "special_tokens");
  if (!json_is_array(single)) return err_set(err, "'single' must be an array");
  int32_t *pre = NULL, *post = NULL;
  int npre = 0, npost = 0, seen_a = 0;
  for (size_t i = 0; i < json_array_size(single); i++) {
    json_t *piece = json_array_get(single, i);
    json_t *seq = json_object_get(piece, "Sequence"), *sp = json_object_get(piece, "SpecialToken");
    if (json_is_object(seq)) {
      json_t *id = json_object_get(seq, "id");
      if (!json_is_string(id) || strcmp(json_string_value(id), "A") != 0 || seen_a) {
        free(pre);
        free(post);
        return err_set(err, "'single' must hold sequence A exactly once");
      }
      seen_a = 1;
      continue;
    }
    json_t *name = json_is_object(sp) ? json_object_get(sp, "id") : NULL;
    json_t *entry = json_is_string(name) ? json_object_get(specials, json_string_value(name)) : NULL;
    json_t *ids = entry ? json_object_get(entry, "ids") : NULL;
    if (!json_is_array(ids)) {
      free(pre);
      free(post);
      return err_set(err, "special token %s of 'single' has no ids in 'special_tokens'",
                     json_is_string(name) ? json_string_value(name) : "(unnamed)");
    }
    for (size_t k = 0; k < json_array_size(ids); k++) {
      json_t *v = json_array_get(ids, k);
      json_int_t x = json_is_integer(v) ? json_integer_value(v) : -1;
      if (x < 0 || x > INT32_MAX / 2) {
        free(pre);
        free(post);
        return err_set(err, "special token %s has an invalid id", json_string_value(name));
      }
      int32_t id = (int32_t)x;
      if (seen_a) ids_append(&post, &npost, &id, 1);
      else ids_append(&pre, &npre, &id, 1);
    }
  }
  if (!seen_a) {
    free(pre);
    free(post);
    return err_set(err, "'single' must hold sequence A exactly once");
  }
  wrap(t, pre, npre, post, npost);
  free(pre);
  free(post);
  return 0;
}

static int load_post(json_t *o, Tokenizer *t, int depth, BenchErr *err) {
  if (json_is_null(o)) return 0;
  if (!json_is_object(o)) return err_set(err, "post_processor must be an object or null");
  const char *type = type_of(o);
  if (!type) return err_set(err, "post_processor without a \"type\"");
  if (strcmp(type, "Sequence") == 0) {
    json_t *list = json_object_get(o, "processors");
    if (!json_is_array(list)) return err_set(err, "post_processor Sequence needs a 'processors' array");
    if (depth > 8) return err_set(err, "post_processor Sequences nested too deeply");
    for (size_t i = 0; i < json_array_size(list); i++)
      if (load_post(json_array_get(list, i), t, depth + 1, err)) return -1;
    return 0;
  }
  if (strcmp(type, "ByteLevel") == 0) return 0;  // adjusts offsets only
  if (strcmp(type, "TemplateProcessing") == 0) {
    if (template_single(o, t, err)) return err_prefix(err, "post_processor TemplateProcessing");
    return 0;
  }
  if (strcmp(type, "RobertaProcessing") == 0 || strcmp(type, "BertProcessing") == 0) {
    int32_t cls, sep;
    if (token_pair(o, "cls", &cls, err) || token_pair(o, "sep", &sep, err))
      return err_prefix(err, "post_processor %s", type);
    wrap(t, &cls, 1, &sep, 1);
    return 0;
  }
  return err_set(err, "unsupported post_processor '%s' (supported: Sequence, ByteLevel, "
                 "TemplateProcessing, RobertaProcessing, BertProcessing)", type);
}

// ---- added tokens ----

static int load_added(json_t *list, Tokenizer *t, BenchErr *err) {
  if (!list || json_is_null(list)) return 0;
  if (!json_is_array(list)) return err_set(err, "'added_tokens' must be an array");
  size_t n = json_array_size(list);
  t->added = xcalloc(n + 1, sizeof *t->added);
  // HF keeps special tokens ahead of the others when it builds its matchers.
  for (int pass = 0; pass < 2; pass++) {
    for (size_t i = 0; i < n; i++) {
      json_t *o = json_array_get(list, i);
      if (!json_is_object(o)) return err_set(err, "added token %zu must be an object", i + 1);
      int special;
      if (get_bool(o, "special", 0, &special, err)) return err_prefix(err, "added token %zu", i + 1);
      if (special != (pass == 0)) continue;
      const char *s;
      size_t len;
      if (get_str(o, "content", 1, &s, &len, err)) return err_prefix(err, "added token %zu", i + 1);
      json_t *idv = json_object_get(o, "id");
      json_int_t id = json_is_integer(idv) ? json_integer_value(idv) : -1;
      if (id < 0 || id > INT32_MAX / 2) return err_set(err, "added token %zu has an invalid id", i + 1);
      if (len == 0) continue;  // HF ignores empty added tokens
      int dup = 0;
      for (int k = 0; k < t->n_added; k++)
        if (t->added[k].len == len && memcmp(t->added[k].content, s, len) == 0) dup = 1;
      if (dup) continue;
      TokAdded *a = &t->added[t->n_added];
      a->special = special;
      if (get_bool(o, "single_word", 0, &a->single_word, err) ||
          get_bool(o, "lstrip", 0, &a->lstrip, err) || get_bool(o, "rstrip", 0, &a->rstrip, err) ||
          get_bool(o, "normalized", !special, &a->normalized, err))
        return err_prefix(err, "added token %zu", i + 1);
      a->content = xstrndup(s, len);
      a->len = len;
      int32_t vid = tok_bpe_lookup(&t->bpe, s, len);  // an id the model already has wins
      a->id = vid >= 0 ? vid : (int32_t)id;
      t->n_added++;
    }
  }
  return 0;
}

// ---- tokenizer ----

static int load_json(Tokenizer *t, json_t *root, BenchErr *err) {
  if (!json_is_object(root)) return err_set(err, "top level must be an object");
  json_t *version = json_object_get(root, "version");
  if (json_is_string(version) && strcmp(json_string_value(version), "1.0") != 0)
    return err_set(err, "unsupported tokenizer.json version '%s' (expected 1.0)",
                   json_string_value(version));
  json_t *model = json_object_get(root, "model");
  if (!json_is_object(model)) return err_set(err, "missing 'model'");
  if (load_model(model, &t->bpe, err)) return -1;
  t->norms = xcalloc(MAX_COMPONENTS, sizeof *t->norms);
  t->pres = xcalloc(MAX_COMPONENTS, sizeof *t->pres);
  json_t *norm = json_object_get(root, "normalizer");
  if (norm && load_normalizer(norm, t, 0, err)) return -1;
  json_t *pre = json_object_get(root, "pre_tokenizer");
  if (pre && load_pre(pre, t, 0, err)) return -1;
  json_t *post = json_object_get(root, "post_processor");
  if (post && load_post(post, t, 0, err)) return -1;
  if (load_added(json_object_get(root, "added_tokens"), t, err)) return -1;
  if (tok_added_build(t, err)) return -1;

  int32_t max_id = t->bpe.max_id;
  for (int i = 0; i < t->n_added; i++)
    if (t->added[i].id > max_id) max_id = t->added[i].id;
  for (int i = 0; i < t->n_prefix; i++)
    if (t->prefix_ids[i] > max_id) max_id = t->prefix_ids[i];
  for (int i = 0; i < t->n_suffix; i++)
    if (t->suffix_ids[i] > max_id) max_id = t->suffix_ids[i];
  t->vocab_size = max_id + 1;
  t->bos_id = t->n_prefix > 0 ? t->prefix_ids[0] : -1;
  return 0;
}

int tokenizer_load_json(const char *json, size_t len, const char *name, Tokenizer **out,
                        BenchErr *err) {
  *out = NULL;
  Tokenizer *t = xcalloc(1, sizeof *t);
  t->path = xstrdup(name);
  sha256_hex(json, len, t->fingerprint);
  json_error_t jerr;
  json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
  if (!root) {
    err_set(err, "%s:%d:%d: invalid JSON: %s", name, jerr.line, jerr.column, json_error_reason(&jerr));
    tokenizer_free(t);
    return -1;
  }
  int rc = load_json(t, root, err);
  json_decref(root);
  if (rc) {
    err_prefix(err, "'%s'", name);
    tokenizer_free(t);
    return -1;
  }
  *out = t;
  return 0;
}

int tokenizer_load(const char *path, Tokenizer **out, BenchErr *err) {
  *out = NULL;
  char *file = is_directory(path) ? path_join(path, "tokenizer.json") : xstrdup(path);
  char *data;
  size_t len;
  int rc = read_file(file, TOKENIZER_JSON_MAX_BYTES, &data, &len, err);
  if (rc == 0) {
    rc = tokenizer_load_json(data, len, file, out, err);
    free(data);
  }
  free(file);
  return rc;
}

void tokenizer_free(Tokenizer *t) {
  if (!t) return;
  tok_bpe_free(&t->bpe);
  for (int i = 0; i < t->n_added; i++) {
    free(t->added[i].content);
    free(t->added[i].pattern);
  }
  free(t->added);
  free(t->raw_set.order);
  free(t->norm_set.order);
  for (int i = 0; i < t->n_norms; i++) {
    free(t->norms[i].str);
    tok_regex_free(&t->norms[i].re);
  }
  free(t->norms);
  for (int i = 0; i < t->n_pres; i++) tok_regex_free(&t->pres[i].re);
  free(t->pres);
  free(t->prefix_ids);
  free(t->suffix_ids);
  if (t->word_char) pcre2_code_free(t->word_char);
  free(t->path);
  free(t);
}

int tokenizer_vocab_size(const Tokenizer *t) { return t->vocab_size; }
int tokenizer_bos_id(const Tokenizer *t) { return t->bos_id; }
const char *tokenizer_fingerprint(const Tokenizer *t) { return t->fingerprint; }
