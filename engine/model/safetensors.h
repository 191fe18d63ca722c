// safetensors.h — reading and writing the safetensors format, validated to the byte.
//
// File layout: an 8-byte little-endian header length N, N bytes of JSON header, then the data
// section. The header maps each tensor name to {"dtype", "shape", "data_offsets": [begin, end]}
// (offsets relative to the data section) plus an optional "__metadata__" string→string map.
//
// Validation (every failure is a one-line error naming the file and, where one is involved, the
// tensor; nothing aborts on bad input):
//  - header length ≤ ST_MAX_HEADER_BYTES and within the file; a JSON object, no duplicate keys;
//  - each entry has exactly dtype / shape / data_offsets; known dtype; shape of ≤ ST_MAX_DIMS
//    non-negative integers whose byte size does not overflow; integer offsets, begin ≤ end;
//  - end − begin equals the shape's element count × the dtype size;
//  - sorted by offset, the tensors tile the data section exactly: no gap, no overlap, no trailing
//    bytes after the last tensor.
#ifndef BENCH_SAFETENSORS_H
#define BENCH_SAFETENSORS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "util.h"

#define ST_MAX_HEADER_BYTES (100u * 1000u * 1000u)  // 100 MB, as the reference implementation
#define ST_MAX_DIMS 8

typedef enum {
  ST_BOOL, ST_U8, ST_I8, ST_F8_E5M2, ST_F8_E4M3, ST_I16, ST_U16, ST_F16, ST_BF16,
  ST_I32, ST_U32, ST_F32, ST_F64, ST_I64, ST_U64, ST_N_DTYPES
} StDtype;

typedef struct {
  char *name;
  StDtype dtype;
  int n_dims;
  int64_t shape[ST_MAX_DIMS];
  uint64_t n_elems;      // product of shape (1 for a scalar)
  uint64_t begin, end;   // byte offsets into the data section
} StTensor;

typedef struct {
  char *path;              // as given to st_open (names the file in errors)
  const uint8_t *bytes;    // the whole file (mmap'd by st_open, borrowed by st_parse)
  size_t size;
  const uint8_t *data;     // data section: bytes + 8 + header_len
  uint64_t header_len;
  StTensor *tensors;       // [n_tensors], in header order
  int n_tensors;
  char *metadata_json;     // "__metadata__" object as compact JSON, or NULL
  int mapped;              // bytes is an mmap owned by this struct
} StFile;

// Size in bytes of one element; name as the format spells it ("BF16").
size_t st_dtype_size(StDtype t);
const char *st_dtype_name(StDtype t);
// -1 when the name is not a dtype the format defines.
int st_dtype_from_name(const char *name);

// Validates a whole file already in memory (bytes stay borrowed; label names it in errors).
int st_parse(const char *label, const uint8_t *bytes, size_t size, StFile *out, BenchErr *err);
// mmaps and validates path.
int st_open(const char *path, StFile *out, BenchErr *err);
void st_close(StFile *f);

// Linear search by name; NULL when absent.
const StTensor *st_find(const StFile *f, const char *name);
// The tensor's raw bytes (end − begin of them).
const uint8_t *st_tensor_data(const StFile *f, const StTensor *t);
// Converts a floating tensor (F64, F32, F16, BF16) to fp32; other dtypes are an error naming the
// file and tensor. out holds t->n_elems floats. Parallel over elements (OpenMP).
int st_tensor_to_f32(const StFile *f, const StTensor *t, float *out, BenchErr *err);

// Scalar conversions (exact for bf16/f16 → fp32; round-to-nearest-even the other way).
float st_bf16_to_f32(uint16_t h);
float st_f16_to_f32(uint16_t h);
uint16_t st_f32_to_bf16(float f);
uint16_t st_f32_to_f16(float f);
// n fp32 values → n elements of a floating dtype (F64, F32, F16, BF16) at out; -1 for others.
int st_convert_from_f32(StDtype t, const float *x, size_t n, void *out);

// ---- a checkpoint's files ----
// A checkpoint directory holds model.safetensors, or else shards listed by
// model.safetensors.index.json: {"weight_map": {tensor name: shard file name, ...}, ...}. The index
// must be a JSON object (no duplicate keys) whose weight_map is a non-empty object mapping every
// tensor to a plain file name inside the directory (not "", ".", "..", nothing with a '/').
#define ST_SINGLE_FILE "model.safetensors"
#define ST_INDEX_FILE "model.safetensors.index.json"

typedef struct {
  char **files;        // [n_files] names relative to the directory, sorted, each once
  int n_files;
  json_t *weight_map;  // the index's tensor name → file name; NULL for model.safetensors alone
} StShards;

// The safetensors files of checkpoint directory dir (as above); err names the index on a bad one.
int st_shards_find(const char *dir, StShards *out, BenchErr *err);
void st_shards_free(StShards *s);

// ---- writing (streaming: the header is written first, then each tensor's bytes in order) ----
typedef struct {
  const char *name;
  StDtype dtype;
  int n_dims;
  int64_t shape[ST_MAX_DIMS];
} StSpec;

typedef struct {
  FILE *f;
  char *path, *tmp_path;
  StSpec *specs;         // copies, names owned
  int n_specs;
  int cur;               // tensor being written
  uint64_t cur_written;  // bytes of tensor cur written so far
  uint64_t data_bytes;   // total data section size
} StWriter;

// Opens path (through a temporary file renamed on close) and writes the header: the tensors in
// the order given, laid out back to back. metadata_json: a JSON object of strings, or NULL.
int st_writer_open(StWriter *w, const char *path, const StSpec *specs, int n_specs,
                   const char *metadata_json, BenchErr *err);
// Appends raw bytes of the current tensor(s), in spec order; may cross tensor boundaries.
int st_writer_write(StWriter *w, const void *data, size_t n, BenchErr *err);
// Appends n fp32 values converted to the current tensor's dtype (F32, F16, BF16 or F64); the
// n values must not cross the end of the current tensor.
int st_writer_write_f32(StWriter *w, const float *x, size_t n, BenchErr *err);
// Checks every byte was written, flushes, fsyncs and renames into place.
int st_writer_close(StWriter *w, BenchErr *err);
// Abandons the file (removes the temporary); safe after a failed call and after close.
void st_writer_abort(StWriter *w);
// Bytes of one tensor spec (0 and an error on overflow).
uint64_t st_spec_bytes(const StSpec *s);

#endif
