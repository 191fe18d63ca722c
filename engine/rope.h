// rope.h — RoPE variants resolved into what an engine applies: per-pair inverse frequencies, an
// attention scale, and a position map. Variants arrive as JSON specs (the job spec's "rope" object:
// {"name":..,"type":..,params..}, with referenced variants of mix/compress inlined), so the engine
// knows nothing of suites. Formulas: ../shared/DESIGN.md "RoPE variants"; HF types as transformers'
// modeling_rope_utils computes them. All arithmetic in double precision.
//
// Rotation layout (both Llama and GPT-NeoX in HF format): within each head the first R dims are
// rotated as pairs (i, i + R/2), i < R/2, by angle pos'·inv_freq[i]; cos and sin are multiplied by
// attention_scale; dims R..D-1 pass through (partial rotary).
#ifndef BENCH_ROPE_H
#define BENCH_ROPE_H

#include <jansson.h>

#include "util.h"

// What a variant needs to know about the checkpoint.
typedef struct {
  int head_dim;                   // D
  double partial_rotary_factor;   // R = D × factor (even)
  double rope_theta;              // config's base
  long max_position_embeddings;
  const char *rope_scaling_json;  // config's rope_scaling / rope_parameters, or NULL
} RopeModelInfo;

typedef struct {
  int rotary_dims;          // R
  double *inv_freq;         // [R/2]
  double attention_scale;   // 1 unless yarn/longrope (or a variant) says otherwise
  int compress;             // position map: p' = p for p <= threshold, T + (p − T)/factor beyond
  double compress_threshold, compress_factor;
} RopeTable;

// Builds the table for one evaluated length (dynamic NTK and longrope depend on it).
int rope_build(const json_t *spec, const RopeModelInfo *model, long eval_length, RopeTable *out,
               BenchErr *err);
// The (possibly fractional) position used for absolute token position p.
double rope_position(const RopeTable *t, long p);
void rope_table_free(RopeTable *t);

#endif
