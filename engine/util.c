// util.c — see util.h.
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

int err_set(BenchErr *err, const char *fmt, ...) {
  if (!err) return -1;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err->msg, sizeof err->msg, fmt, ap);
  va_end(ap);
  return -1;
}

int err_prefix(BenchErr *err, const char *fmt, ...) {
  if (!err) return -1;
  char prefix[BENCH_ERR_MAX], old[BENCH_ERR_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(prefix, sizeof prefix, fmt, ap);
  va_end(ap);
  memcpy(old, err->msg, sizeof old);
  size_t n = strlen(prefix);
  if (n > sizeof err->msg - 3) n = sizeof err->msg - 3;
  memcpy(err->msg, prefix, n);
  memcpy(err->msg + n, ": ", 2);
  size_t room = sizeof err->msg - n - 3;
  size_t m = strlen(old);
  if (m > room) m = room;
  memcpy(err->msg + n + 2, old, m);
  err->msg[n + 2 + m] = 0;
  return -1;
}

void die_at(const char *file, int line, const char *fmt, ...) {
  fprintf(stderr, "bench: fatal: %s:%d: ", file, line);
  va_list ap;
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  abort();
}

void *xmalloc_at(size_t n, const char *file, int line) {
  void *p = malloc(n ? n : 1);
  if (!p) die_at(file, line, "out of memory allocating %zu bytes", n);
  return p;
}

void *xcalloc_at(size_t count, size_t size, const char *file, int line) {
  void *p = calloc(count ? count : 1, size ? size : 1);
  if (!p) die_at(file, line, "out of memory allocating %zu x %zu bytes", count, size);
  return p;
}

void *xrealloc_at(void *p, size_t n, const char *file, int line) {
  void *q = realloc(p, n ? n : 1);
  if (!q) die_at(file, line, "out of memory reallocating %zu bytes", n);
  return q;
}

char *xstrdup_at(const char *s, const char *file, int line) {
  size_t n = strlen(s);
  char *p = xmalloc_at(n + 1, file, line);
  memcpy(p, s, n + 1);
  return p;
}

char *xstrndup(const char *s, size_t n) {
  char *p = xmalloc(n + 1);
  memcpy(p, s, n);
  p[n] = 0;
  return p;
}

// The printf of fmt with ap into a new string, its length in *len.
static char *vformat(size_t *len, const char *fmt, va_list ap) {
  va_list ap2;
  va_copy(ap2, ap);
  int n = vsnprintf(NULL, 0, fmt, ap2);
  va_end(ap2);
  CHECK(n >= 0);
  char *p = xmalloc((size_t)n + 1);
  vsnprintf(p, (size_t)n + 1, fmt, ap);
  *len = (size_t)n;
  return p;
}

char *xasprintf(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  size_t n;
  char *p = vformat(&n, fmt, ap);
  va_end(ap);
  return p;
}

static const char *file_type_name(mode_t m) {
  if (S_ISDIR(m)) return "a directory";
  if (S_ISFIFO(m)) return "a FIFO";
  if (S_ISCHR(m)) return "a character device";
  if (S_ISBLK(m)) return "a block device";
  if (S_ISSOCK(m)) return "a socket";
  return "a special file";
}

static int refuse_special(const char *path, const struct stat *st, BenchErr *err) {
  if (S_ISREG(st->st_mode)) return 0;
  return err_set(err, "'%s' is %s, not a regular file", path, file_type_name(st->st_mode));
}

int stat_regular(const char *path, struct stat *st, BenchErr *err) {
  if (stat(path, st) != 0) return err_set(err, "cannot open '%s': %s", path, strerror(errno));
  return refuse_special(path, st, err);
}

// O_NONBLOCK keeps open() from waiting for a FIFO's other end; the type is then read from the open
// descriptor itself (no window between a stat and the open), and blocking mode comes back.
static int open_checked(const char *path, int flags, BenchErr *err) {
  int fd = open(path, flags | O_NONBLOCK | O_CLOEXEC | O_NOCTTY, 0644);
  if (fd < 0) {
    int e = errno;
    struct stat st;
    // a FIFO with no reader refuses a non-blocking writer (ENXIO): name what it is instead
    if (e == ENXIO && stat(path, &st) == 0 && refuse_special(path, &st, err) != 0) return -1;
    return err_set(err, "cannot open '%s': %s", path, strerror(e));
  }
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int e = errno;
    close(fd);
    return err_set(err, "cannot stat '%s': %s", path, strerror(e));
  }
  if (refuse_special(path, &st, err) != 0) {
    close(fd);
    return -1;
  }
  int fl = fcntl(fd, F_GETFL);
  if (fl >= 0) fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
  return fd;
}

int open_regular(const char *path, BenchErr *err) { return open_checked(path, O_RDONLY, err); }

static FILE *stream_of(int fd, const char *mode, const char *path, BenchErr *err) {
  if (fd < 0) return NULL;
  FILE *f = fdopen(fd, mode);
  if (!f) {
    err_set(err, "cannot open '%s': %s", path, strerror(errno));
    close(fd);
  }
  return f;
}

FILE *fopen_regular(const char *path, BenchErr *err) {
  return stream_of(open_checked(path, O_RDONLY, err), "rb", path, err);
}

int open_regular_append(const char *path, BenchErr *err) {
  return open_checked(path, O_WRONLY | O_APPEND | O_CREAT, err);
}

int read_file(const char *path, size_t max_bytes, char **out, size_t *len, BenchErr *err) {
  *out = NULL;
  if (len) *len = 0;
  FILE *f = fopen_regular(path, err);
  if (!f) return -1;
  struct stat st;
  if (fstat(fileno(f), &st) != 0) {
    fclose(f);
    return err_set(err, "cannot stat '%s': %s", path, strerror(errno));
  }
  if ((unsigned long long)st.st_size > max_bytes) {
    fclose(f);
    return err_set(err, "'%s' is too large (%lld bytes, limit %zu)", path, (long long)st.st_size,
                   max_bytes);
  }
  size_t n = (size_t)st.st_size;
  char *buf = xmalloc(n + 1);
  size_t got = fread(buf, 1, n, f);
  int bad = ferror(f);
  fclose(f);
  if (bad || got != n) {
    free(buf);
    return err_set(err, "cannot read '%s'", path);
  }
  buf[n] = 0;
  *out = buf;
  if (len) *len = n;
  return 0;
}

int write_file_atomic(const char *path, const void *data, size_t len, BenchErr *err) {
  char *tmp = xasprintf("%s.tmp.%ld", path, (long)getpid());
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) {
    err_set(err, "cannot create '%s': %s", tmp, strerror(errno));
    free(tmp);
    return -1;
  }
  const char *p = data;
  size_t left = len;
  while (left > 0) {
    ssize_t w = write(fd, p, left);
    if (w < 0) {
      if (errno == EINTR) continue;
      err_set(err, "cannot write '%s': %s", tmp, strerror(errno));
      close(fd);
      unlink(tmp);
      free(tmp);
      return -1;
    }
    p += w;
    left -= (size_t)w;
  }
  if (fsync(fd) != 0 || close(fd) != 0) {
    err_set(err, "cannot flush '%s': %s", tmp, strerror(errno));
    unlink(tmp);
    free(tmp);
    return -1;
  }
  if (rename(tmp, path) != 0) {
    err_set(err, "cannot rename '%s' to '%s': %s", tmp, path, strerror(errno));
    unlink(tmp);
    free(tmp);
    return -1;
  }
  free(tmp);
  char *dir = path_dirname(path);
  int dfd = open(dir, O_RDONLY | O_DIRECTORY);
  if (dfd >= 0) {
    fsync(dfd);
    close(dfd);
  }
  free(dir);
  return 0;
}

int file_exists(const char *path) {
  struct stat st;
  return stat(path, &st) == 0;
}

int is_directory(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int need_directory(const char *path, const char *what, BenchErr *err) {
  if (is_directory(path)) return 0;
  struct stat st;
  if (stat(path, &st) != 0) return err_set(err, "%s '%s' does not exist", what, path);
  return err_set(err, "%s '%s' is not a directory", what, path);
}

int mkdir_p(const char *path, BenchErr *err) {
  char *p = xstrdup(path);
  for (char *s = p + 1; *s; s++) {
    if (*s != '/') continue;
    *s = 0;
    if (mkdir(p, 0755) != 0 && errno != EEXIST) {
      err_set(err, "cannot create directory '%s': %s", p, strerror(errno));
      free(p);
      return -1;
    }
    *s = '/';
  }
  int rc = 0;
  if (mkdir(p, 0755) != 0 && errno != EEXIST) rc = err_set(err, "cannot create directory '%s': %s", p, strerror(errno));
  else if (!is_directory(p)) rc = err_set(err, "'%s' exists and is not a directory", p);
  free(p);
  return rc;
}

char *path_join(const char *dir, const char *rel) {
  if (rel[0] == '/' || !dir || !dir[0] || strcmp(dir, ".") == 0) return xstrdup(rel);
  size_t n = strlen(dir);
  return xasprintf("%s%s%s", dir, dir[n - 1] == '/' ? "" : "/", rel);
}

char *bench_cache_dir(const char *kind) {
  const char *d = getenv("BENCH_CACHE_DIR");
  if (d && d[0]) return path_join(d, kind);
  d = getenv("XDG_CACHE_HOME");
  if (d && d[0] == '/') return xasprintf("%s/bench/%s", d, kind);
  d = getenv("HOME");
  if (d && d[0]) return xasprintf("%s/.cache/bench/%s", d, kind);
  return NULL;
}

char *path_dirname(const char *path) {
  const char *slash = strrchr(path, '/');
  if (!slash) return xstrdup(".");
  if (slash == path) return xstrdup("/");
  return xstrndup(path, (size_t)(slash - path));
}

void file_stamp(const char *path, FileStamp *st) {
  struct stat sb;
  memset(st, 0, sizeof *st);
  if (stat(path, &sb) != 0) return;
  st->exists = 1;
  st->ino = (unsigned long long)sb.st_ino;
  st->mtime_ns = (long long)sb.st_mtim.tv_sec * 1000000000LL + sb.st_mtim.tv_nsec;
}

int file_stamp_changed(const FileStamp *before, const char *path) {
  FileStamp now;
  file_stamp(path, &now);
  if (!now.exists) return 0;
  return !before->exists || now.ino != before->ino || now.mtime_ns != before->mtime_ns;
}

// ---- SHA-256 (FIPS 180-4) ----
static const uint32_t K256[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

#define ROTR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static void sha256_block(Sha256 *h, const uint8_t *p) {
  uint32_t w[64];
  for (int i = 0; i < 16; i++)
    w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 | (uint32_t)p[4 * i + 2] << 8 |
           p[4 * i + 3];
  for (int i = 16; i < 64; i++) {
    uint32_t s0 = ROTR(w[i - 15], 7) ^ ROTR(w[i - 15], 18) ^ (w[i - 15] >> 3);
    uint32_t s1 = ROTR(w[i - 2], 17) ^ ROTR(w[i - 2], 19) ^ (w[i - 2] >> 10);
    w[i] = w[i - 16] + s0 + w[i - 7] + s1;
  }
  uint32_t a = h->state[0], b = h->state[1], c = h->state[2], d = h->state[3];
  uint32_t e = h->state[4], f = h->state[5], g = h->state[6], k = h->state[7];
  for (int i = 0; i < 64; i++) {
    uint32_t S1 = ROTR(e, 6) ^ ROTR(e, 11) ^ ROTR(e, 25);
    uint32_t ch = (e & f) ^ (~e & g);
    uint32_t t1 = k + S1 + ch + K256[i] + w[i];
    uint32_t S0 = ROTR(a, 2) ^ ROTR(a, 13) ^ ROTR(a, 22);
    uint32_t mj = (a & b) ^ (a & c) ^ (b & c);
    uint32_t t2 = S0 + mj;
    k = g; g = f; f = e; e = d + t1; d = c; c = b; b = a; a = t1 + t2;
  }
  h->state[0] += a; h->state[1] += b; h->state[2] += c; h->state[3] += d;
  h->state[4] += e; h->state[5] += f; h->state[6] += g; h->state[7] += k;
}

void sha256_init(Sha256 *h) {
  static const uint32_t iv[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  memcpy(h->state, iv, sizeof iv);
  h->bytes = 0;
  h->fill = 0;
}

void sha256_update(Sha256 *h, const void *data, size_t n) {
  const uint8_t *p = data;
  h->bytes += n;
  while (n > 0) {
    size_t take = 64 - h->fill < n ? 64 - h->fill : n;
    memcpy(h->block + h->fill, p, take);
    h->fill += take;
    p += take;
    n -= take;
    if (h->fill == 64) {
      sha256_block(h, h->block);
      h->fill = 0;
    }
  }
}

void sha256_final(Sha256 *h, uint8_t out[32]) {
  uint64_t bits = h->bytes * 8;
  uint8_t pad = 0x80;
  sha256_update(h, &pad, 1);
  uint8_t zero = 0;
  while (h->fill != 56) sha256_update(h, &zero, 1);
  uint8_t len[8];
  for (int i = 0; i < 8; i++) len[i] = (uint8_t)(bits >> (56 - 8 * i));
  sha256_update(h, len, 8);
  for (int i = 0; i < 8; i++) {
    out[4 * i] = (uint8_t)(h->state[i] >> 24);
    out[4 * i + 1] = (uint8_t)(h->state[i] >> 16);
    out[4 * i + 2] = (uint8_t)(h->state[i] >> 8);
    out[4 * i + 3] = (uint8_t)h->state[i];
  }
}

static void to_hex(const uint8_t d[32], char out[65]) {
  static const char hx[] = "0123456789abcdef";
  for (int i = 0; i < 32; i++) {
    out[2 * i] = hx[d[i] >> 4];
    out[2 * i + 1] = hx[d[i] & 15];
  }
  out[64] = 0;
}

void sha256_hex(const void *data, size_t n, char out[65]) {
  Sha256 h;
  uint8_t d[32];
  sha256_init(&h);
  sha256_update(&h, data, n);
  sha256_final(&h, d);
  to_hex(d, out);
}

int sha256_file_hex(const char *path, char out[65], BenchErr *err) {
  FILE *f = fopen_regular(path, err);
  if (!f) return -1;
  Sha256 h;
  sha256_init(&h);
  char buf[1 << 16];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) sha256_update(&h, buf, n);
  int bad = ferror(f);
  fclose(f);
  if (bad) return err_set(err, "cannot read '%s'", path);
  uint8_t d[32];
  sha256_final(&h, d);
  to_hex(d, out);
  return 0;
}

// ---- StrBuf ----
void sb_appendn(StrBuf *b, const char *s, size_t n) {
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + n + 1) cap *= 2;
    b->data = xrealloc(b->data, cap);
    b->cap = cap;
  }
  memcpy(b->data + b->len, s, n);
  b->len += n;
  b->data[b->len] = 0;
}

void sb_append(StrBuf *b, const char *s) { sb_appendn(b, s, strlen(s)); }

void sb_printf(StrBuf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  size_t n;
  char *tmp = vformat(&n, fmt, ap);
  va_end(ap);
  sb_appendn(b, tmp, n);
  free(tmp);
}

void sb_free(StrBuf *b) {
  free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
}

// ---- StrList ----
void strlist_add(StrList *l, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  size_t n;
  char *s = vformat(&n, fmt, ap);
  va_end(ap);
  l->items = xrealloc(l->items, (size_t)(l->n + 1) * sizeof *l->items);
  l->items[l->n++] = s;
}

int strlist_find(const StrList *l, const char *s) {
  for (int i = 0; i < l->n; i++)
    if (strcmp(l->items[i], s) == 0) return i;
  return -1;
}

void strlist_free(StrList *l) {
  for (int i = 0; i < l->n; i++) free(l->items[i]);
  free(l->items);
  l->items = NULL;
  l->n = 0;
}

// ---- text ----
char *shell_quote(const char *s) {
  int bare = *s != 0;
  for (const char *p = s; *p && bare; p++)
    bare = isalnum((unsigned char)*p) || strchr("_./:=+,@%-", *p);
  if (bare) return xstrdup(s);
  StrBuf b = {0};
  sb_append(&b, "'");
  for (const char *p = s; *p; p++) {
    if (*p == '\'') sb_append(&b, "'\\''");
    else sb_appendn(&b, p, 1);
  }
  sb_append(&b, "'");
  return b.data;
}

int parse_byte_size(const char *text, size_t *out, BenchErr *err) {
  char *end = NULL;
  errno = 0;
  double v = strtod(text, &end);
  double mult = 1;
  if (end && *end) {
    switch (*end == 'k' || *end == 'm' || *end == 'g' || *end == 't' ? *end - 32 : *end) {
      case 'K': mult = 1024.0; break;
      case 'M': mult = 1024.0 * 1024; break;
      case 'G': mult = 1024.0 * 1024 * 1024; break;
      case 'T': mult = 1024.0 * 1024 * 1024 * 1024; break;
      default: mult = 0;
    }
    end++;
    if (*end == 'i') end++;
    if (*end == 'B' || *end == 'b') end++;
  }
  if (!end || end == text || *end || errno || mult == 0 || !(v > 0) || v * mult > 1e18)
    return err_set(err, "'%s' is not a size in bytes (e.g. 8G, 512M, 1048576)", text);
  *out = (size_t)(v * mult);
  return 0;
}

// ---- names ----
// Optimal-string-alignment distance: insertions, deletions, substitutions and adjacent swaps.
int edit_distance(const char *a, const char *b) {
  size_t na = strlen(a), nb = strlen(b);
  if (na > 64 || nb > 64) return 1000;
  int d[65][65];
  for (size_t i = 0; i <= na; i++) d[i][0] = (int)i;
  for (size_t j = 0; j <= nb; j++) d[0][j] = (int)j;
  for (size_t i = 1; i <= na; i++) {
    for (size_t j = 1; j <= nb; j++) {
      int cost = a[i - 1] == b[j - 1] ? 0 : 1;
      int best = d[i - 1][j - 1] + cost;
      if (d[i - 1][j] + 1 < best) best = d[i - 1][j] + 1;
      if (d[i][j - 1] + 1 < best) best = d[i][j - 1] + 1;
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < best)
        best = d[i - 2][j - 2] + 1;
      d[i][j] = best;
    }
  }
  return d[na][nb];
}

const char *closest_name(const char *word, const char *const *candidates, int n) {
  const char *best = NULL;
  int best_d = 1000;
  size_t wl = strlen(word);
  int limit = wl <= 4 ? 1 : wl <= 8 ? 2 : 3;
  for (int i = 0; i < n; i++) {
    int d = edit_distance(word, candidates[i]);
    if (d < best_d) {
      best_d = d;
      best = candidates[i];
    }
  }
  return best_d <= limit ? best : NULL;
}

// ---- time ----
double wall_time(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

double mono_time(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void iso_time_utc(double t, char out[32]) {
  time_t s = (time_t)t;
  struct tm tm;
  gmtime_r(&s, &tm);
  strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

// ---- random numbers ----
static uint64_t splitmix64(uint64_t *x) {
  uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

void rng_seed(Rng *r, uint64_t seed) {
  for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&seed);
}

static uint64_t rotl64(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t rng_next(Rng *r) {
  uint64_t *s = r->s;
  uint64_t result = rotl64(s[1] * 5, 7) * 9;
  uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl64(s[3], 45);
  return result;
}

double rng_uniform(Rng *r) { return (double)(rng_next(r) >> 11) * 0x1.0p-53; }

double rng_normal(Rng *r) {
  double u1 = rng_uniform(r), u2 = rng_uniform(r);
  if (u1 < 1e-300) u1 = 1e-300;
  return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

uint64_t rng_below(Rng *r, uint64_t n) {
  CHECK(n > 0);
  uint64_t limit = UINT64_MAX - UINT64_MAX % n;
  uint64_t x;
  do x = rng_next(r);
  while (x >= limit);
  return x % n;
}

void disk_free_text(const char *path, char *out, size_t n) {
  char *p = xstrdup(path && path[0] ? path : ".");
  struct statvfs fs;
  while (statvfs(p, &fs) != 0) {
    char *up = path_dirname(p);
    int same = strcmp(up, p) == 0;
    free(p);
    p = up;
    if (same) {
      snprintf(out, n, "free space unknown");
      free(p);
      return;
    }
  }
  free(p);
  double b = (double)fs.f_bavail * (double)fs.f_frsize;
  static const char *const UNITS[] = {"kB", "MB", "GB", "TB"};
  if (b < 1000) {
    snprintf(out, n, "%.0f bytes free", b);
    return;
  }
  int u = 0;
  for (b /= 1000; b >= 1000 && u < 3; u++) b /= 1000;
  snprintf(out, n, "%.1f %s free", b, UNITS[u]);
}

int parse_int_range(const char *text, long lo, long hi, long *out, BenchErr *err) {
  const char *p = text;
  while (*p == ' ') p++;
  int neg = *p == '-';
  const char *digits = p + (*p == '-' || *p == '+');
  if (!isdigit((unsigned char)*digits)) return err_set(err, "'%s' is not an integer", text);
  char *end;
  errno = 0;
  long v = strtol(p, &end, 10);
  if (*end) return err_set(err, "'%s' is not an integer", text);
  if ((errno == ERANGE && !neg) || (errno != ERANGE && v > hi)) return err_set(err, "'%s' is too large (at most %ld)", text, hi);
  if (errno == ERANGE || v < lo) return err_set(err, "'%s' is too small (at least %ld)", text, lo);
  *out = v;
  return 0;
}
