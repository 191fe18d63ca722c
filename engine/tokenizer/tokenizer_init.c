// tokenizer_init.c — a small byte-level BPE tokenizer.json learned from a built-in English text,
// for checkpoints written by `bench init-model` (contract: model_init.h).
//
// Learning: the text is split into words the way GPT-2's pre-tokenizer does for ASCII
// (contractions, an optional space before a run of letters, digits or punctuation, whitespace
// runs); then, repeatedly, the most frequent adjacent pair of tokens over all words (ties: the
// smallest pair of ids) becomes a new token, until max_merges or no pair occurs twice. A pair
// whose bytes already form a token is skipped, so every token string is distinct.
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "model_init.h"

static const char TRAINING_TEXT[] =
    "The ferry left the harbour at seven in the morning, when the water was still grey and the "
    "gulls were waiting on the posts of the old pier. Most of the people on board were going to "
    "work in the town across the bay. They stood by the rail with their coffee and watched the "
    "houses on the hill grow smaller behind them.\n\n"
    "On the far side there was a market that opened every day except Sunday. Farmers brought "
    "apples, potatoes, onions and bread, and a woman who kept bees sold honey in small glass "
    "jars. Children liked to count the jars and guess how many bees it had taken to fill them. "
    "Nobody ever knew the answer, but everyone had a number ready.\n\n"
    "In the winter the ferry was often late. Storms came in from the west and the captain would "
    "wait until the waves were lower before he started the engine. People said that he had never "
    "lost a boat in thirty years, and that he could read the weather better than the radio. He "
    "did not talk much, but when he did, the crew listened.\n\n"
    "The library in the town was a long building with tall windows and a wooden floor that "
    "creaked when you walked on it. Students came there in the afternoon to read and to write "
    "their letters. The librarian knew the name of every person who came in, and she remembered "
    "which books they had borrowed, even the ones they had forgotten to return.\n\n"
    "There was a small garden behind the library where the light was warm in the evening. "
    "Someone had planted roses along the wall, and in June the whole garden smelled of them. "
    "Old men played chess on a stone table and argued about the moves long after the game was "
    "over. Sometimes they played the same game again the next day, to prove who had been right.\n\n"
    "When the days grew longer, the fishermen went out before sunrise and came back in the "
    "afternoon with nets full of silver fish. They sold part of the catch at the market and "
    "salted the rest in barrels for the months when the sea was too rough to work. Their "
    "children learned to tie knots before they learned to read, and they were proud of it.\n\n"
    "In the autumn the school opened again, and the ferry was full of children with new shoes "
    "and heavy bags. The teachers taught them to write, to count, to measure the height of a "
    "tree by its shadow, and to find the north star on a clear night. The best lessons, they "
    "said later, were the ones that happened outside, where the wind carried the sound of the "
    "bells from the church on the hill.\n\n"
    "At the end of the year there was a festival. The streets were hung with lanterns, the bakers "
    "made sweet bread with raisins, and a band played on the square until midnight. People who "
    "had moved away came back for a few days to see their families and to walk along the water "
    "where they had walked as children. It was, everyone agreed, the best time of the year.\n\n"
    "The numbers in the old records are simple: 1204 people lived in the town, 36 boats went out "
    "to sea, and 7 bakers opened their doors before dawn. It's a small place, but we've always "
    "said it's enough, and I'd say the same if you asked me today.\n";

// ---- GPT-2 byte ↔ unicode alphabet: printable bytes stand for themselves, the rest for 256+n ----
static int byte_codepoint(int b) {
  if ((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255)) return b;
  int n = 0;
  for (int x = 0; x < b; x++)
    if (!((x >= 33 && x <= 126) || (x >= 161 && x <= 172) || (x >= 174 && x <= 255))) n++;
  return 256 + n;
}

static void append_utf8(StrBuf *s, int cp) {
  char u[4];
  int n;
  if (cp < 0x80) { u[0] = (char)cp; n = 1; }
  else { u[0] = (char)(0xc0 | (cp >> 6)); u[1] = (char)(0x80 | (cp & 0x3f)); n = 2; }  // cp < 0x800
  sb_appendn(s, u, (size_t)n);
}

// The byte-level spelling of a token's bytes (caller frees).
static char *byte_level(const unsigned char *b, size_t n) {
  StrBuf s = {0};
  sb_append(&s, "");
  for (size_t i = 0; i < n; i++) append_utf8(&s, byte_codepoint(b[i]));
  return s.data;
}

// ---- words ----
typedef struct {
  int *ids;
  int n, freq;
} Word;

typedef struct {
  Word *words;
  int n, cap;
} Words;

static int is_alpha(int c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
static int is_digit(int c) { return c >= '0' && c <= '9'; }
static int is_space(int c) { return c == ' ' || c == '\n' || c == '\t' || c == '\r'; }

static void add_word(Words *w, const unsigned char *s, int n) {
  for (int i = 0; i < w->n; i++) {
    Word *x = &w->words[i];
    int same = x->n == n;
    for (int k = 0; same && k < n; k++) same = x->ids[k] == s[k];
    if (same) {
      x->freq++;
      return;
    }
  }
  if (w->n == w->cap) {
    w->cap = w->cap ? 2 * w->cap : 256;
    w->words = xrealloc(w->words, sizeof(Word) * (size_t)w->cap);
  }
  Word *x = &w->words[w->n++];
  x->ids = xmalloc(sizeof(int) * (size_t)n);
  for (int k = 0; k < n; k++) x->ids[k] = s[k];
  x->n = n;
  x->freq = 1;
}

static void split_words(const char *text, Words *w) {
  const unsigned char *s = (const unsigned char *)text;
  size_t n = strlen(text), i = 0;
  static const char *contractions[] = {"'s", "'t", "'re", "'ve", "'m", "'ll", "'d"};
  while (i < n) {
    size_t start = i;
    int matched = 0;
    for (size_t k = 0; k < sizeof contractions / sizeof *contractions && !matched; k++) {
      size_t m = strlen(contractions[k]);
      if (i + m <= n && memcmp(s + i, contractions[k], m) == 0) {
        i += m;
        matched = 1;
      }
    }
    if (!matched) {
      size_t j = i + (s[i] == ' ' && i + 1 < n && !is_space(s[i + 1]) ? 1 : 0);
      if (is_alpha(s[j])) while (j < n && is_alpha(s[j])) j++;
      else if (is_digit(s[j])) while (j < n && is_digit(s[j])) j++;
      else if (!is_space(s[j])) while (j < n && !is_space(s[j]) && !is_alpha(s[j]) && !is_digit(s[j])) j++;
      else {  // whitespace run; leave the last space to the word after it
        while (j < n && is_space(s[j])) j++;
        if (j < n && j - i > 1 && s[j - 1] == ' ') j--;
      }
      i = j;
    }
    add_word(w, s + start, (int)(i - start));
  }
}

// ---- learning ----
typedef struct {
  unsigned char *bytes;
  size_t len;
} Token;

static int token_exists(const Token *toks, int n, const unsigned char *b, size_t len) {
  for (int i = 0; i < n; i++)
    if (toks[i].len == len && memcmp(toks[i].bytes, b, len) == 0) return 1;
  return 0;
}

// Pair counts in an open-addressing table keyed by a·4096 + b (ids stay below 4096).
enum { PAIR_BITS = 16, PAIR_SLOTS = 1 << PAIR_BITS };
typedef struct {
  long *keys, *counts;
  int *used;
  int n_used;
} PairCounts;

static void pairs_add(PairCounts *pc, long key, long by) {
  uint64_t h = ((uint64_t)key * 0x9e3779b97f4a7c15ull) >> (64 - PAIR_BITS);
  while (pc->keys[h] != -1 && pc->keys[h] != key) h = (h + 1) & (PAIR_SLOTS - 1);
  if (pc->keys[h] == -1) {
    pc->keys[h] = key;
    pc->used[pc->n_used++] = (int)h;
  }
  pc->counts[h] += by;
}

// Learns merges; toks[256 + k] is the k-th merge's result, (left[k], right[k]) its pieces.
static int learn(Words *w, int max_merges, Token *toks, int *left, int *right) {
  PairCounts pc = {xmalloc(sizeof(long) * PAIR_SLOTS), xcalloc(PAIR_SLOTS, sizeof(long)),
                   xmalloc(sizeof(int) * PAIR_SLOTS), 0};
  for (int i = 0; i < PAIR_SLOTS; i++) pc.keys[i] = -1;
  int n_tok = 256, n_merges = 0;
  int cap_skip = 0, n_skip = 0;
  long *skip = NULL;  // pairs whose bytes already form a token
  while (n_merges < max_merges) {
    for (int i = 0; i < w->n; i++)
      for (int k = 0; k + 1 < w->words[i].n; k++)
        pairs_add(&pc, (long)w->words[i].ids[k] * 4096 + w->words[i].ids[k + 1], w->words[i].freq);
    long best = 1, at = -1;
    for (int u = 0; u < pc.n_used; u++) {
      int h = pc.used[u];
      int skipped = 0;
      for (int k = 0; k < n_skip && !skipped; k++) skipped = skip[k] == pc.keys[h];
      if (!skipped && (pc.counts[h] > best || (pc.counts[h] == best && at >= 0 && pc.keys[h] < at)))
        best = pc.counts[h], at = pc.keys[h];
      pc.keys[h] = -1;
      pc.counts[h] = 0;
    }
    pc.n_used = 0;
    if (at < 0) break;
    int a = (int)(at / 4096), b = (int)(at % 4096);
    size_t len = toks[a].len + toks[b].len;
    unsigned char *bytes = xmalloc(len);
    memcpy(bytes, toks[a].bytes, toks[a].len);
    memcpy(bytes + toks[a].len, toks[b].bytes, toks[b].len);
    if (token_exists(toks, n_tok, bytes, len)) {
      free(bytes);
      if (n_skip == cap_skip) skip = xrealloc(skip, sizeof(long) * (size_t)(cap_skip = cap_skip ? 2 * cap_skip : 16));
      skip[n_skip++] = at;
      continue;
    }
    toks[n_tok] = (Token){bytes, len};
    left[n_merges] = a;
    right[n_merges] = b;
    for (int i = 0; i < w->n; i++) {  // apply the merge everywhere
      Word *x = &w->words[i];
      int o = 0;
      for (int k = 0; k < x->n; k++) {
        if (k + 1 < x->n && x->ids[k] == a && x->ids[k + 1] == b) {
          x->ids[o++] = n_tok;
          k++;
        } else {
          x->ids[o++] = x->ids[k];
        }
      }
      x->n = o;
    }
    n_tok++;
    n_merges++;
  }
  free(skip);
  free(pc.keys);
  free(pc.counts);
  free(pc.used);
  return n_merges;
}

static json_t *byte_level_component(const char *type, int add_prefix_space, int trim_offsets) {
  return json_pack("{s:s, s:b, s:b, s:b}", "type", type, "add_prefix_space", add_prefix_space,
                   "trim_offsets", trim_offsets, "use_regex", 1);
}

int init_tokenizer_write(const char *path, int max_merges, int *n_merges_out, int *eot_id,
                         BenchErr *err) {
  if (max_merges < 0) max_merges = 0;
  if (max_merges > 3000) max_merges = 3000;  // ids stay below 4096 (skip-list packing)
  Words w = {0};
  split_words(TRAINING_TEXT, &w);
  Token *toks = xcalloc(256 + (size_t)max_merges, sizeof(Token));
  int *left = xmalloc(sizeof(int) * (size_t)(max_merges + 1));
  int *right = xmalloc(sizeof(int) * (size_t)(max_merges + 1));
  for (int b = 0; b < 256; b++) {
    toks[b].bytes = xmalloc(1);
    toks[b].bytes[0] = (unsigned char)b;
    toks[b].len = 1;
  }
  int n_merges = learn(&w, max_merges, toks, left, right);
  int n_tok = 256 + n_merges;

  json_t *vocab = json_object();
  char **spelled = xmalloc(sizeof(char *) * (size_t)n_tok);
  for (int i = 0; i < n_tok; i++) {
    spelled[i] = byte_level(toks[i].bytes, toks[i].len);
    json_object_set_new(vocab, spelled[i], json_integer(i));
  }
  json_object_set_new(vocab, "<|endoftext|>", json_integer(n_tok));
  json_t *merges = json_array();
  for (int k = 0; k < n_merges; k++) {
    char *m = xasprintf("%s %s", spelled[left[k]], spelled[right[k]]);
    json_array_append_new(merges, json_string(m));
    free(m);
  }
  json_t *added = json_pack("[{s:i, s:s, s:b, s:b, s:b, s:b, s:b}]", "id", n_tok, "content",
                            "<|endoftext|>", "single_word", 0, "lstrip", 0, "rstrip", 0,
                            "normalized", 0, "special", 1);
  json_t *model = json_pack("{s:s, s:n, s:n, s:n, s:n, s:b, s:b, s:b, s:o, s:o}", "type", "BPE",
                            "dropout", "unk_token", "continuing_subword_prefix", "end_of_word_suffix",
                            "fuse_unk", 0, "byte_fallback", 0, "ignore_merges", 0, "vocab", vocab,
                            "merges", merges);
  json_t *root = json_pack("{s:s, s:n, s:n, s:o, s:n, s:o, s:o, s:o, s:o}", "version", "1.0",
                           "truncation", "padding", "added_tokens", added, "normalizer",
                           "pre_tokenizer", byte_level_component("ByteLevel", 0, 1),
                           "post_processor", byte_level_component("ByteLevel", 1, 0),
                           "decoder", byte_level_component("ByteLevel", 1, 1), "model", model);
  CHECK(root);
  char *text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
  json_decref(root);
  CHECK(text);
  StrBuf out = {0};
  sb_append(&out, text);
  sb_append(&out, "\n");
  free(text);
  int rc = write_file_atomic(path, out.data, out.len, err);
  sb_free(&out);

  for (int i = 0; i < n_tok; i++) {
    free(spelled[i]);
    free(toks[i].bytes);
  }
  free(spelled);
  free(toks);
  free(left);
  free(right);
  for (int i = 0; i < w.n; i++) free(w.words[i].ids);
  free(w.words);
  if (rc != 0) return -1;
  *n_merges_out = n_merges;
  *eot_id = n_tok;
  return 0;
}
