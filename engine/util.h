// util.h — errors, allocation, files, hashing and small string helpers shared by bench/ and engine/.
//
// Two kinds of failure:
//  - user-facing failures (bad input, missing file, OOM of a job) are returned to the caller as an
//    int status (0 ok, -1 failed) with a one-line message in a BenchErr; nothing exits.
//  - broken invariants and failed system resources (malloc) abort through CHECK/die with file:line.
#ifndef BENCH_UTIL_H
#define BENCH_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define BENCH_ERR_MAX 1024

typedef struct {
  char msg[BENCH_ERR_MAX];  // one line, lowercase, no trailing newline
} BenchErr;

// Sets err->msg (printf-style) and returns -1 so callers can `return err_set(err, ...)`.
int err_set(BenchErr *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
// Prefixes an existing message: "context: old message". Returns -1.
int err_prefix(BenchErr *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

// Fatal internal error with source location; never used for user input.
_Noreturn void die_at(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
#define die(...) die_at(__FILE__, __LINE__, __VA_ARGS__)
#define CHECK(cond) \
  do { if (!(cond)) die_at(__FILE__, __LINE__, "internal check failed: %s", #cond); } while (0)

// Allocation that never returns NULL (aborts with file:line on failure).
void *xmalloc_at(size_t n, const char *file, int line);
void *xcalloc_at(size_t count, size_t size, const char *file, int line);
void *xrealloc_at(void *p, size_t n, const char *file, int line);
char *xstrdup_at(const char *s, const char *file, int line);
#define xmalloc(n) xmalloc_at((n), __FILE__, __LINE__)
#define xcalloc(c, s) xcalloc_at((c), (s), __FILE__, __LINE__)
#define xrealloc(p, n) xrealloc_at((p), (n), __FILE__, __LINE__)
#define xstrdup(s) xstrdup_at((s), __FILE__, __LINE__)
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

// Every reader of a file named by a user or found in a directory opens it through these: they never
// block (a FIFO with no writer would hang the open forever) and refuse anything but a regular file
// with its kind named ("'x' is a FIFO, not a regular file"). A descriptor / stream, or -1 / NULL.
int open_regular(const char *path, BenchErr *err);
FILE *fopen_regular(const char *path, BenchErr *err);
// The same for a log appended to (created 0644 when missing).
int open_regular_append(const char *path, BenchErr *err);
// stat() with the same refusal, for a reader that only needs a file's size and times. 0 or -1.
struct stat;
int stat_regular(const char *path, struct stat *st, BenchErr *err);
// Reads a whole file (NUL-terminated copy; *len excludes the NUL). Fails if larger than max_bytes.
int read_file(const char *path, size_t max_bytes, char **out, size_t *len, BenchErr *err);
// Writes atomically: temp file in the same directory, fsync, rename, fsync directory.
int write_file_atomic(const char *path, const void *data, size_t len, BenchErr *err);
int file_exists(const char *path);
int is_directory(const char *path);
// 0 when path is a directory; otherwise -1 with "WHAT 'path' does not exist" or "WHAT 'path' is not a
// directory" (a file, a FIFO, ..) in err.
int need_directory(const char *path, const char *what, BenchErr *err);
int mkdir_p(const char *path, BenchErr *err);
// The room left for an unprivileged writer on the file system holding path (or its nearest existing
// parent), for messages: "0 bytes free", "3.2 MB free"; "free space unknown" when it cannot be told.
void disk_free_text(const char *path, char *out, size_t n);
// Joins dir and rel unless rel is absolute. Caller frees.
char *path_join(const char *dir, const char *rel);
// bench's cache folder of one kind ("tokens", "fingerprints", "gpu-check"): $BENCH_CACHE_DIR/KIND,
// else $XDG_CACHE_HOME/bench/KIND (an absolute XDG_CACHE_HOME only, as the XDG spec says), else
// ~/.cache/bench/KIND; NULL when none of them is set (caller frees).
char *bench_cache_dir(const char *kind);
// Directory part of a path ("." when none). Caller frees.
char *path_dirname(const char *path);
// A file's identity (inode and mtime), to tell whether it was replaced.
typedef struct {
  int exists;
  unsigned long long ino;
  long long mtime_ns;
} FileStamp;
void file_stamp(const char *path, FileStamp *st);
int file_stamp_changed(const FileStamp *before, const char *path);

// SHA-256.
typedef struct {
  uint32_t state[8];
  uint64_t bytes;
  uint8_t block[64];
  size_t fill;
} Sha256;
void sha256_init(Sha256 *h);
void sha256_update(Sha256 *h, const void *data, size_t n);
void sha256_final(Sha256 *h, uint8_t out[32]);
// Hex digest of a buffer into out[65].
void sha256_hex(const void *data, size_t n, char out[65]);
// Hex digest of a file's bytes; -1 with err when unreadable.
int sha256_file_hex(const char *path, char out[65], BenchErr *err);

// Growable byte buffer (always NUL-terminated).
typedef struct {
  char *data;
  size_t len, cap;
} StrBuf;
void sb_append(StrBuf *b, const char *s);
void sb_appendn(StrBuf *b, const char *s, size_t n);
void sb_printf(StrBuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sb_free(StrBuf *b);

// Growable list of owned strings.
typedef struct {
  char **items;  // [n]
  int n;
} StrList;
void strlist_add(StrList *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int strlist_find(const StrList *l, const char *s);  // index or -1
void strlist_free(StrList *l);

// 'text' for a POSIX shell (bare when it holds only safe characters). Caller frees.
char *shell_quote(const char *s);
// "8G", "512M", "1048576" → bytes (K, M, G, T: powers of 1024; an optional "iB" or "B" after).
int parse_byte_size(const char *text, size_t *out, BenchErr *err);
// A whole decimal number in [lo, hi]. -1 with err: "'TEXT' is not an integer", "'TEXT' is too large
// (at most HI)" (beyond hi, or beyond what a long holds) or "'TEXT' is too small (at least LO)".
int parse_int_range(const char *text, long lo, long hi, long *out, BenchErr *err);

// Levenshtein distance (for did-you-mean suggestions).
int edit_distance(const char *a, const char *b);
// Closest candidate within a small distance, or NULL.
const char *closest_name(const char *word, const char *const *candidates, int n);

// Seconds since the epoch (wall) and a monotonic clock, in seconds.
double wall_time(void);
double mono_time(void);
// ISO-8601 UTC timestamp into out[32].
void iso_time_utc(double t, char out[32]);

// Deterministic random numbers: SplitMix64 seeding a xoshiro256** generator.
typedef struct { uint64_t s[4]; } Rng;
void rng_seed(Rng *r, uint64_t seed);
uint64_t rng_next(Rng *r);
double rng_uniform(Rng *r);         // [0, 1)
double rng_normal(Rng *r);          // standard normal
uint64_t rng_below(Rng *r, uint64_t n);  // uniform in [0, n)

#endif
