// cmd_tokenize.c — `bench tokenize MODEL_DIR|tokenizer.json [FILE] [--bos] [--jsonl] [--stats]`:
// the whole FILE (or stdin) as one text → a JSON array of token ids on stdout. No special tokens
// unless --bos (then what the tokenizer's post-processor adds, e.g. BOS). --jsonl: FILE holds one
// JSON string per line, each encoded on its own, one array per output line. --stats prints the
// encoding time and throughput on stderr, by wall clock and by this process's CPU time (the
// latter is what a single core gives when the machine is shared).
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "commands.h"
#include "tokenizer.h"
#include "util.h"

#define TEXT_MAX_BYTES ((size_t)4 << 30)
#define USAGE "usage: bench tokenize MODEL_DIR|tokenizer.json [FILE] [--bos] [--jsonl] [--stats]"

static int read_stdin(char **out, size_t *len, BenchErr *err) {
  StrBuf b = {0};
  sb_appendn(&b, "", 0);
  char chunk[1 << 16];
  size_t n;
  while ((n = fread(chunk, 1, sizeof chunk, stdin)) > 0) {
    if (b.len + n > TEXT_MAX_BYTES) {
      sb_free(&b);
      return err_set(err, "stdin: text larger than %zu bytes", TEXT_MAX_BYTES);
    }
    sb_appendn(&b, chunk, n);
  }
  if (ferror(stdin)) {
    sb_free(&b);
    return err_set(err, "cannot read stdin: %s", strerror(errno));
  }
  *out = b.data;
  *len = b.len;
  return 0;
}

static double cpu_time(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

// Writes [id, id, ...] with a hand-rolled formatter (tens of millions of ids for big texts).
static int print_ids(const int32_t *ids, size_t n) {
  char buf[1 << 16];
  size_t k = 0;
  buf[k++] = '[';
  for (size_t i = 0; i < n; i++) {
    if (k > sizeof buf - 16) {
      if (fwrite(buf, 1, k, stdout) != k) return -1;
      k = 0;
    }
    if (i) {
      buf[k++] = ',';
      buf[k++] = ' ';
    }
    char digits[12];
    int nd = 0;
    uint32_t v = (uint32_t)ids[i];
    do {
      digits[nd++] = (char)('0' + v % 10);
      v /= 10;
    } while (v);
    while (nd) buf[k++] = digits[--nd];
  }
  buf[k++] = ']';
  buf[k++] = '\n';
  return fwrite(buf, 1, k, stdout) == k ? 0 : -1;
}

// --jsonl: each line of text is a JSON string, encoded on its own. Returns an exit code.
static int encode_lines(const Tokenizer *t, const char *name, char *text, size_t len, int bos,
                        double *t_enc, size_t *n_tokens) {
  size_t line_no = 0;
  for (size_t start = 0; start < len;) {
    char *nl = memchr(text + start, '\n', len - start);
    size_t end = nl ? (size_t)(nl - text) : len;
    line_no++;
    json_error_t jerr;
    json_t *v = json_loadb(text + start, end - start, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    if (!json_is_string(v)) {
      cli_usage_error("%s:%zu: expected a JSON string per line%s%s", name, line_no, v ? "" : ": ",
                      v ? "" : jerr.text);
      json_decref(v);
      return EXIT_BAD_INPUT;
    }
    BenchErr err = {{0}};
    int32_t *ids;
    size_t n;
    double t0 = mono_time();
    int rc = tokenizer_encode(t, json_string_value(v), json_string_length(v), bos, &ids, &n, &err);
    *t_enc += mono_time() - t0;
    json_decref(v);
    if (rc) return cli_usage_error("%s:%zu: %s", name, line_no, err.msg);
    *n_tokens += n;
    rc = print_ids(ids, n);
    free(ids);
    if (rc) return cli_usage_error("cannot write the ids to stdout: %s", strerror(errno));
    start = end + 1;
  }
  return EXIT_OK;
}

int cmd_tokenize(int argc, char **argv) {
  const char *tok_path = NULL, *file = NULL;
  int bos = 0, stats = 0, jsonl = 0;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--bos") == 0) bos = 1;
    else if (strcmp(argv[i], "--stats") == 0) stats = 1;
    else if (strcmp(argv[i], "--jsonl") == 0) jsonl = 1;
    else if (argv[i][0] == '-' && argv[i][1] != 0) {
      return cli_usage_error("unknown option '%s' for tokenize; " USAGE, argv[i]);
    } else if (!tok_path) tok_path = argv[i];
    else if (!file) file = argv[i];
    else {
      return cli_usage_error("unexpected argument '%s'; " USAGE, argv[i]);
    }
  }
  if (!tok_path) return cli_usage_error("missing tokenizer; " USAGE);
  BenchErr err = {{0}};
  Tokenizer *t;
  double t0 = mono_time();
  if (tokenizer_load(tok_path, &t, &err)) return cli_usage_error("%s", err.msg);
  double t_load = mono_time() - t0;
  char *text;
  size_t len;
  int rc = (file && strcmp(file, "-") != 0) ? read_file(file, TEXT_MAX_BYTES, &text, &len, &err)
                                            : read_stdin(&text, &len, &err);
  if (rc) {
    cli_usage_error("%s", err.msg);
    tokenizer_free(t);
    return EXIT_BAD_INPUT;
  }
  const char *name = file && strcmp(file, "-") != 0 ? file : "stdin";
  if (jsonl) {
    double t_enc = 0;
    size_t n_tokens = 0;
    rc = encode_lines(t, name, text, len, bos, &t_enc, &n_tokens);
    if (rc == EXIT_OK && fflush(stdout) != 0) {
      cli_usage_error("cannot write the ids to stdout: %s", strerror(errno));
      rc = EXIT_BAD_INPUT;
    }
    if (stats && rc == EXIT_OK)
      fprintf(stderr, "tokenize: %zu bytes -> %zu tokens; load %.3f s, encode %.3f s\n", len,
              n_tokens, t_load, t_enc);
    free(text);
    tokenizer_free(t);
    return rc;
  }
  int32_t *ids;
  size_t n;
  t0 = mono_time();
  double c0 = cpu_time();
  rc = tokenizer_encode(t, text, len, bos, &ids, &n, &err);
  double t_enc = mono_time() - t0, c_enc = cpu_time() - c0;
  if (rc) {
    cli_usage_error("%s: %s", name, err.msg);
    free(text);
    tokenizer_free(t);
    return EXIT_BAD_INPUT;
  }
  if (stats)
    fprintf(stderr, "tokenize: %zu bytes -> %zu tokens; load %.3f s, encode %.3f s wall "
            "(%.2f MB/s), %.3f s cpu (%.2f MB/s cpu)\n", len, n, t_load, t_enc,
            t_enc > 0 ? (double)len / 1e6 / t_enc : 0.0, c_enc,
            c_enc > 0 ? (double)len / 1e6 / c_enc : 0.0);
  int wrc = print_ids(ids, n) || fflush(stdout) != 0;
  free(ids);
  free(text);
  tokenizer_free(t);
  if (wrc) return cli_usage_error("cannot write the ids to stdout: %s", strerror(errno));
  return EXIT_OK;
}
