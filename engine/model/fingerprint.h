// fingerprint.h — a checkpoint's identity: its config, its layout and its weight bytes.
//
// checkpoint_fingerprint: SHA-256 over, in order,
//   the bytes of DIR/config.json,
//   then for each safetensors file — model.safetensors when it exists, else the shards that
//   model.safetensors.index.json's weight_map names, sorted by name, each once — its first 8 bytes
//   (little-endian header length N), its N header bytes, and the 8-byte little-endian digest of
//   all its bytes (weights_digest.h: chunked XXH64, cached per file version).
// The one computation: the model loader stores it in Model.fingerprint (engine/model/model.h) and
// `bench plan` puts it in every job id, so a runner can check that the checkpoint it loads is the
// one a job id was computed from. Tensor names, dtypes, shapes and offsets live in the headers and
// the values in the weight bytes, so two checkpoints of one architecture (two seeds, two steps, a
// fine-tune, a file overwritten in place) differ. The weights are read once per file version; later
// calls read the digest from the cache (bench_fingerprint_cache_dir).
#ifndef BENCH_FINGERPRINT_H
#define BENCH_FINGERPRINT_H

#include "util.h"

// Largest safetensors header read (as the loader's limit).
#define FINGERPRINT_MAX_HEADER_BYTES (100u << 20)

// out: 64 hex digits. n_params (may be NULL): total elements of every tensor in the headers.
// Fails (err names the file) when config.json or a safetensors header is missing or malformed.
int checkpoint_fingerprint(const char *dir, char out[65], long long *n_params, BenchErr *err);

// The fingerprint cache directory: $BENCH_CACHE_DIR/fingerprints, else
// $XDG_CACHE_HOME/bench/fingerprints, else ~/.cache/bench/fingerprints; NULL when none of them is
// set (caller frees). Dataset fingerprints (cli/matrix/data_stats.h) and weight digests live there.
char *bench_fingerprint_cache_dir(void);
// The cache file of an entry keyed by `key` (every part of what identifies it, one string): the
// directory above / the first 32 hex digits of sha256(key) ".json"; NULL without a directory.
char *fingerprint_cache_entry(const char *key);

#endif
