// data_stats.h — what `bench plan` needs to know about a data file without tokenizing it: its
// fingerprint (as engine/eval/data.h defines it), its size, and how many tokens it holds (exact for
// token files, estimated from text bytes otherwise).
//
// Hashing a multi-gigabyte corpus takes seconds, so results are cached in the fingerprint cache
// directory (bench_fingerprint_cache_dir, fingerprint.h): one small JSON file per (absolute path,
// size, mtime, field). A cache that cannot be read or written only costs the re-hashing next time.
#ifndef BENCH_DATA_STATS_H
#define BENCH_DATA_STATS_H

#include "util.h"

// Bytes per token assumed when estimating a text's token count (BPE on English prose: 3.5-4.5).
#define TEXT_BYTES_PER_TOKEN 4.0

typedef struct {
  char file_sha256[65];   // of the file bytes
  char fingerprint[65];   // dataset fingerprint: sha256 of "<file_sha256>\n<field>" (field "" unless .jsonl)
  long long bytes;        // file size
  long long text_bytes;   // .txt: bytes; .jsonl: bytes of the field's strings; token files: -1
  long long docs;         // .jsonl: documents with the field; .txt: 1; token files: -1
  long long tokens;       // .bin (BENCHTOK) / .u16.bin: exact count; text: -1
  char problem[256];      // why text_bytes/tokens could not be counted ("" when they could)
} DataStats;

// path: .txt | .jsonl | .bin | .u16.bin; field: jsonl field (NULL: "text"). Fails only when the
// file cannot be read.
int data_stats(const char *path, const char *field, DataStats *out, BenchErr *err);
// SHA-256 of a file's bytes, through the same cache.
int file_sha256_cached(const char *path, char out[65], BenchErr *err);

#endif
