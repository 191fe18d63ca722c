// fingerprint.h — a checkpoint's identity without reading its weights.
//
// checkpoint_fingerprint: SHA-256 over, in order,
//   the bytes of DIR/config.json,
//   then for each safetensors file — model.safetensors when it exists, else the shards that
//   model.safetensors.index.json's weight_map names, sorted by name, each once — its first 8 bytes
//   (little-endian header length N) and its N header bytes.
// The same digest the model loader stores in Model.fingerprint (engine/model/model.h), so a runner can
// check that the checkpoint it loads is the one a job id was computed from. Tensor names, dtypes,
// shapes and offsets all live in the headers, so any change of architecture or layout changes it;
// the weights themselves are never read (cheap on a 16 GB checkpoint), and two checkpoints that
// differ only in weight values share a fingerprint.
#ifndef BENCH_FINGERPRINT_H
#define BENCH_FINGERPRINT_H

#include "util.h"

// Largest safetensors header read (as the loader's limit).
#define FINGERPRINT_MAX_HEADER_BYTES (100u << 20)

// out: 64 hex digits. n_params (may be NULL): total elements of every tensor in the headers.
// Fails (err names the file) when config.json or a safetensors header is missing or malformed.
int checkpoint_fingerprint(const char *dir, char out[65], long long *n_params, BenchErr *err);

#endif
