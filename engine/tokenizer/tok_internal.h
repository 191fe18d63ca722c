// tok_internal.h — the parts of a loaded tokenizer, shared by tok_load.c (tokenizer.json →
// structures), tok_regex.c (PCRE2 patterns), tok_bpe.c (the BPE model) and tokenizer.c (encode).
//
// Encoding follows Hugging Face `tokenizers` step by step:
//   1. added tokens whose `normalized` flag is false are cut out of the raw text (leftmost-longest
//      match, with their lstrip / rstrip / single_word flags);
//   2. each remaining stretch is normalized, then added tokens with `normalized` true are cut out
//      of the normalized text (matched against their normalized content);
//   3. each remaining stretch goes through the pre-tokenizer steps (a Sequence is flattened: every
//      step splits or rewrites each piece the previous step produced);
//   4. the BPE model turns each final piece into ids;
//   5. with add_special, the post-processor's ids for a single sequence go around the result.
// Pieces flow depth-first through the steps, so memory stays proportional to the longest piece.
#ifndef BENCH_TOK_INTERNAL_H
#define BENCH_TOK_INTERNAL_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stddef.h>
#include <stdint.h>

#include "tokenizer.h"
#include "util.h"

// ---- growable id vector ----
typedef struct {
  int32_t *v;
  size_t n, cap;
} IdVec;
void idvec_push(IdVec *a, int32_t id);

// 64-bit hash of a byte string (open-addressing tables in tok_bpe.c).
uint64_t tok_hash(const void *p, size_t n);

// ---- regular expressions (PCRE2, UTF + UCP, JIT when available) ----
// Patterns in tokenizer.json are written for Oniguruma; tok_regex_compile rewrites \s and \S as
// \p{White_Space} and \P{White_Space} (Oniguruma's meaning; PCRE2's \s also takes U+180E).
typedef struct {
  pcre2_code *code;  // NULL for a literal pattern
  char *literal;     // the literal string (String patterns), else NULL
  size_t literal_len;
  char *source;      // the pattern as written in the file, for messages
} TokRegex;

// Per-call matching state: match data, limits, JIT stack. Never shared between threads.
typedef struct {
  pcre2_match_data *md;
  pcre2_match_context *mc;
  pcre2_jit_stack *jit;
} TokMatcher;

// Iteration over the non-overlapping matches of a pattern in one string, as Oniguruma's
// find_iter yields them: an empty match right where the previous match ended is skipped by
// advancing one character.
typedef struct {
  size_t pos;
  size_t last_end;
  int has_last;
} TokFindIter;

#define TOK_MATCH_LIMIT 50000000u  // per pcre2_match call; far above what the known patterns need
#define TOK_DEPTH_LIMIT 10000000u

int tok_regex_compile(TokRegex *re, const char *pattern, size_t len, int literal, BenchErr *err);
void tok_regex_free(TokRegex *re);
void tok_matcher_init(TokMatcher *m);
void tok_matcher_free(TokMatcher *m);
// Next match of re in s[0..len) after *it: 1 (and [*ms, *me)), 0 when none, -1 on a matching
// failure (limit exceeded), with err set.
int tok_regex_next(const TokRegex *re, TokMatcher *m, const char *s, size_t len, TokFindIter *it,
                   size_t *ms, size_t *me, BenchErr *err);

// ---- BPE model ----
typedef struct {
  char *pool;             // all vocab strings, back to back
  uint32_t *str_off;      // [n_str] offset of each string in pool
  uint32_t *str_len;      // [n_str]
  uint32_t *str_hash;     // [n_str] low bits of tok_hash, to skip most memcmp
  int32_t *str_id;        // [n_str]
  size_t n_str;
  int32_t *slots;         // [slot_mask + 1] index into the str_* arrays, -1 empty
  size_t slot_mask;
  uint64_t *m_key;        // [m_mask + 1] (left id << 32 | right id), UINT64_MAX empty
  uint32_t *m_rank;       // [m_mask + 1] merge rank (line number, 0 first)
  int32_t *m_new;         // [m_mask + 1] id of the merged token
  size_t m_mask, n_merges;
  uint64_t *j_key;        // [j_mask + 1] (last char of left << 21 | first char of right) of
  size_t j_mask, n_join;  //   every merge, UINT64_MAX empty: where merges can join text
  int32_t max_id;         // largest vocab id
  char *unk_token;        // NULL when the model has none
  int32_t unk_id;         // -1 when unk_token is not in the vocab (an error only when needed)
  int fuse_unk, byte_fallback, ignore_merges;
  char *prefix, *suffix;  // continuing_subword_prefix, end_of_word_suffix (NULL when none)
  size_t prefix_len, suffix_len;
  int32_t byte_id[256];   // id of "<0xNN>" or -1
  int32_t *bmp_id;        // [0x10000] id of each one-character string below U+10000, -1 absent
} TokBpe;

typedef struct {
  int32_t id;
  int32_t prev, next;  // neighbours in the word, -1 at the ends
  uint32_t len;        // byte length; 0 once merged into its left neighbour
} BpeSym;

typedef struct {
  uint32_t rank;
  uint32_t pos;
  int32_t new_id;
} BpeMerge;

// Cache of whole-piece results (pieces up to TOK_CACHE_MAX_KEY bytes), per encode call.
#define TOK_CACHE_MAX_KEY 256
#define TOK_CACHE_SLOTS (1u << 17)  // the most slots; starts at 4096 and doubles
typedef struct {
  size_t cap;         // slot count (power of two), 0 before first use
  uint64_t *hash;     // [cap] 0 empty
  uint32_t *key_off;  // into keys
  uint32_t *key_len;
  uint32_t *ids_off;  // into ids
  uint32_t *ids_n;
  size_t n_used;
  StrBuf keys;
  IdVec ids;
} TokCache;

typedef struct {
  BpeSym *sym;
  size_t sym_cap;
  BpeMerge *heap;
  size_t heap_n, heap_cap;
  TokCache cache;
} BpeWork;

int tok_bpe_lookup(const TokBpe *b, const char *s, size_t len);  // id or -1
int tok_bpe_build(TokBpe *b, BenchErr *err);                     // hash tables, byte ids
int tok_bpe_add_merge(TokBpe *b, int32_t left, int32_t right, uint32_t rank, int32_t new_id);
// Records the characters a merge of strings l + r joins (see tok_bpe_tokenize).
void tok_bpe_note_join(TokBpe *b, const char *l, size_t ll, const char *r, size_t rl);
void tok_bpe_free(TokBpe *b);
void bpe_work_init(BpeWork *w);
void bpe_work_free(BpeWork *w);
// Appends the ids of one piece (HF BPE::tokenize).
int tok_bpe_tokenize(const TokBpe *b, BpeWork *w, const char *s, size_t len, IdVec *out,
                     BenchErr *err);
// The merge loop alone on a sequence of symbol ids (ids[0..n) in, merged ids out; returns count).
// Exposed for the unit tests, which compare it with a naive merge.
size_t tok_bpe_merge_ids(const TokBpe *b, BpeWork *w, int32_t *ids, size_t n);

// GPT-2's byte → character map of the ByteLevel pre-tokenizer: printable bytes stand for
// themselves, the 68 others for U+0100 onwards in byte order (0x20 → U+0120 'Ġ').
uint32_t tok_byte_char(unsigned b);

// ---- normalizers ----
typedef enum { TN_NFC, TN_NFD, TN_PREPEND, TN_REPLACE, TN_STRIP } TokNormKind;
typedef struct {
  TokNormKind kind;
  char *str;  // Prepend: the prefix; Replace: the replacement
  size_t str_len;
  TokRegex re;  // Replace: the pattern
  int strip_left, strip_right;
} TokNorm;

// ---- pre-tokenizers ----
typedef enum { TP_BYTE_LEVEL, TP_SPLIT, TP_METASPACE, TP_DIGITS } TokPreKind;
typedef enum { TS_REMOVED, TS_ISOLATED, TS_MERGED_PREV, TS_MERGED_NEXT, TS_CONTIGUOUS } TokSplit;
typedef enum { TM_ALWAYS, TM_FIRST, TM_NEVER } TokPrepend;
typedef struct {
  TokPreKind kind;
  int add_prefix_space, use_regex;  // ByteLevel
  TokRegex re;                      // Split pattern; ByteLevel's GPT-2 pattern; Digits \p{N}
  TokSplit behavior;
  int invert;
  char repl[8];  // Metaspace replacement character (UTF-8)
  size_t repl_len;
  TokPrepend prepend;
  int split;
} TokPre;

// ---- added tokens ----
typedef struct {
  char *content;  // as in the file
  size_t len;
  char *pattern;  // what is matched: content, or content run through the normalizers
  size_t pattern_len;
  int32_t id;
  int single_word, lstrip, rstrip, normalized, special;
} TokAdded;

// Added tokens matched in one pass (raw or normalized text): indices into Tokenizer.added sorted
// by first byte, then longest first; bucket b is order[start[b] .. start[b + 1]).
typedef struct {
  int *order;
  int n;
  uint32_t start[257];
} TokAddedSet;

struct Tokenizer {
  char *path;
  char fingerprint[65];
  TokBpe bpe;
  TokAdded *added;
  int n_added;
  TokAddedSet raw_set, norm_set;
  TokNorm *norms;
  int n_norms;
  TokPre *pres;
  int n_pres;
  int32_t *prefix_ids, *suffix_ids;  // what add_special puts around a single sequence
  int n_prefix, n_suffix;
  int32_t bos_id;
  int vocab_size;
  pcre2_code *word_char;  // Rust regex \w, for single_word added tokens (NULL when unused)
};

// Builds the added-token match sets (after normalizers are loaded).
int tok_added_build(Tokenizer *t, BenchErr *err);
// Runs the normalizer chain on s; returns 0 unchanged or 1 with the result in out.
int tok_normalize(const Tokenizer *t, TokMatcher *m, const char *s, size_t len, StrBuf *out,
                  BenchErr *err);

#endif
