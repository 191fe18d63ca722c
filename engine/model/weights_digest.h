// weights_digest.h — a fast digest of a file's bytes (a checkpoint's weights), cached per file
// version so that `bench plan` reads a 16 GB checkpoint once, not on every call.
//
// Digest of a file of S bytes: the bytes are cut into chunks of WEIGHTS_CHUNK_BYTES (the last one
// shorter); chunk c is hashed with XXH64 seeded with c; the digest is XXH64, seeded with S, of the
// chunk hashes written as little-endian 64-bit words (so that chunks could be hashed in
// parallel; they are hashed in one thread, see weights_digest.c). XXH64 is Yann Collet's xxHash64 (a
// non-cryptographic 64-bit hash: it tells checkpoints apart, it does not resist forgery).
//
// Cache: one small JSON file per (absolute path, size, mtime, ctime, inode) in the fingerprint
// cache directory (fingerprint.h), schema WEIGHTS_CACHE_SCHEMA. A file whose mtime is less than
// WEIGHTS_RACY_S seconds before the hashing is not cached (git's racy-clean rule): a write in the
// same timestamp tick would keep every part of its key. A cache that cannot be read or written
// only costs the re-hashing next time.
#ifndef BENCH_WEIGHTS_DIGEST_H
#define BENCH_WEIGHTS_DIGEST_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

#define WEIGHTS_CHUNK_BYTES ((size_t)64 << 20)
#define WEIGHTS_CACHE_SCHEMA "bench.weights/1"
#define WEIGHTS_RACY_S 2

uint64_t xxh64(const void *data, size_t n, uint64_t seed);
// The digest of path's bytes as defined above (through the cache); err names the file.
int weights_digest(const char *path, uint64_t *out, BenchErr *err);

#endif
