// data.h — evaluation datasets turned into one token stream, with an on-disk token cache.
// Legend: N tokens in the dataset.
//
// Formats, chosen by the file name:
//   *.txt      the whole file is one text, encoded without special tokens.
//   *.jsonl    one JSON object per line; its string field `field` (default "text") is one document.
//              Each document is encoded on its own, without special tokens, and the documents are
//              concatenated in file order with the encoder's separator id between two documents
//              (doc1 SEP doc2 SEP doc3; none before the first or after the last; no separator when
//              the id is -1). Blank lines are skipped; a document that encodes to no tokens is
//              skipped. Any other line that is not such an object is an error naming FILE:LINE.
//   *.u16.bin  raw, headerless little-endian uint16 ids, as nanoGPT's prepare scripts write them.
//   *.bin      a BENCHTOK file (below).
//
// BENCHTOK version 1: a 32-byte header, then n_tokens ids; every integer little-endian.
//   offset  0  char[8]  magic "BENCHTOK"
//   offset  8  uint32   version = 1
//   offset 12  uint32   bytes per id: 2 (uint16 ids) or 4 (uint32 ids)
//   offset 16  uint64   n_tokens
//   offset 24  uint64   checksum of the ids: the first 8 bytes of SHA-256(id bytes) read as a
//                       little-endian uint64; 0 means "not given" (then nothing is checked)
//   offset 32  ids      n_tokens × (2 or 4) bytes; the file ends right after them
// In Python: hdr = b"BENCHTOK" + struct.pack("<IIQQ", 1, 4, len(a), int.from_bytes(
//   hashlib.sha256(a.tobytes()).digest()[:8], "little")) with a = numpy uint32 array.
//
// Token cache: .txt and .jsonl encodings are stored as BENCHTOK files (uint32, with checksum) in
// $BENCH_CACHE_DIR/tokens, else $XDG_CACHE_HOME/bench/tokens, else ~/.cache/bench/tokens, named by
// SHA-256 of (cache format, encoder fingerprint, data fingerprint, separator id). Written
// atomically; a cache file that fails any check is ignored and rebuilt. A cache that cannot be
// written (read-only home) only costs the re-encoding next time.
#ifndef BENCH_DATA_H
#define BENCH_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

#define BENCHTOK_MAGIC "BENCHTOK"
#define BENCHTOK_VERSION 1
#define BENCHTOK_HEADER_BYTES 32

typedef enum { DATA_TXT, DATA_JSONL, DATA_BIN, DATA_U16_BIN } DataFormat;

// How text becomes ids. The engine builds one from a Tokenizer (eval.c); tests use their own.
typedef struct {
  const char *fingerprint;  // identifies the encoder exactly (tokenizer.json sha256): cache key
  // Encodes len bytes as one sequence without special tokens; *ids malloc'd, caller frees.
  int (*encode)(void *ctx, const char *text, size_t len, int32_t **ids, size_t *n, BenchErr *err);
  void *ctx;
  int32_t separator;        // jsonl: id between two documents (-1: none)
} TextEncoder;

typedef struct {
  const char *path;         // .txt | .jsonl | .bin | .u16.bin
  const char *field;        // jsonl text field (NULL: "text")
  const char *name;         // name used in messages (NULL: the path)
} DataSource;

typedef struct {
  int32_t *ids;             // [N]
  long n;                   // N
  char fingerprint[65];     // data fingerprint: SHA-256 of (file bytes' SHA-256, field)
  int from_cache;           // 1: the ids came from the token cache
} Tokens;

// The format a path names; -1 with err for an unknown suffix.
int data_format(const char *path, DataFormat *fmt, BenchErr *err);
// Data fingerprint of a dataset: sha256 hex of "<sha256 of the file bytes>\n<field>" (field "" for
// .txt and .bin files). What job identities and the token cache are keyed by.
int dataset_fingerprint(const char *path, const char *field, char out[65], BenchErr *err);
// The token-cache directory as described above (caller frees).
char *token_cache_dir(void);
// The token-cache file of an encoder and a dataset (their fingerprints) with separator id
// `separator` between jsonl documents: <token_cache_dir>/<key>.tok (caller frees).
char *token_cache_path(const char *encoder_fp, const char *data_fp, int32_t separator);
// How many tokens that cache file holds, from its BENCHTOK header alone (the ids are neither read
// nor checked); -1 when there is no such file or its header is not one this bench reads.
long long token_cache_count(const char *encoder_fp, const char *data_fp, int32_t separator);

// The dataset as one token stream. enc is needed for .txt/.jsonl only (NULL allowed for .bin).
int dataset_tokens(const DataSource *src, const TextEncoder *enc, Tokens *out, BenchErr *err);
void tokens_free(Tokens *t);

// The .jsonl rules on text held in memory (name for FILE:LINE messages; field NULL: "text").
int jsonl_tokens(const char *name, const char *text, size_t len, const char *field,
                 const TextEncoder *enc, int32_t **ids, long *n, BenchErr *err);

// BENCHTOK files. bytes_per_id: 2 or 4. with_checksum: 0 writes checksum 0.
int benchtok_write(const char *path, const int32_t *ids, long n, int bytes_per_id, int with_checksum,
                   BenchErr *err);
// Reads the header at the start of a BENCHTOK file (len: the bytes at head; fewer than
// BENCHTOK_HEADER_BYTES is an error): magic, version and bytes per id are checked, not the ids.
int benchtok_header(const char *name, const unsigned char *head, size_t len, uint32_t *bytes_per_id,
                    uint64_t *n_tokens, BenchErr *err);
// Parses a whole BENCHTOK file held in memory (name for messages). require_checksum: a zero
// checksum is an error too.
int benchtok_parse(const char *name, const unsigned char *data, size_t len, int require_checksum,
                   int32_t **ids, long *n, BenchErr *err);

#endif
