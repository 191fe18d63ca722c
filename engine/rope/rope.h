// rope.h — RoPE variants resolved into what an engine applies: per-pair inverse frequencies, an
// attention scale, and a position map. Variants arrive as JSON specs (the job spec's "rope" object:
// {"name":..,"type":..,params..}, with referenced variants of mix/compress inlined), so the engine
// knows nothing of suites. Formulas: docs/DESIGN.md "RoPE variants"; HF types as transformers'
// modeling_rope_utils computes them. All arithmetic in double precision.
// Legend: D head dim, R rotary dims (D × partial_rotary_factor, even), k pair index 0..R/2−1,
//         u_k = 2k/R, θ base, ω_k = inv_freq[k], geometric ω_k = θ^(−u_k).
//
// Rotation layout (both Llama and GPT-NeoX in HF format): within each head the first R dims are
// rotated as pairs (i, i + R/2), i < R/2, by angle pos'·inv_freq[i]; cos and sin are multiplied by
// attention_scale; dims R..D-1 pass through (partial rotary).
//
// Types and parameters (every type also takes `theta`, overriding the checkpoint's base; `name`
// and `type` are the spec's own keys; any other key is an error):
//   model            {}                       the checkpoint's rope_theta + rope_scaling/rope_parameters,
//                                             or its "bench_rope" spec when it has one (a model
//                                             trained by bench with a non-geometric variant)
//   geometric        {}
//   linear           {factor}
//   dynamic          {factor, original_max_position_embeddings?}  NTK base per evaluated length
//   ntk              {factor}                 θ' = θ·factor^(R/(R−2))
//   yarn             {factor, beta_fast?=32, beta_slow?=1, attention_factor?, mscale?,
//                     mscale_all_dim?, original_max_position_embeddings?, truncate?=true}
//   llama3           {factor, low_freq_factor, high_freq_factor, original_max_position_embeddings}
//   longrope         {short_factor[R/2], long_factor[R/2], original_max_position_embeddings?,
//                     attention_factor?, factor?}  long set when the evaluated length > original
//   anchored_sigmoid {anchor_factor, anchor_dim, slope}
//   anchored_poly    {p, omf}
//   sigmoid          {steep, mid, omf}
//   hybrid           {alpha, p, omf}
//   mix              {of: [spec A, spec B], weight, space?=linear|log}
//   file             {path, sha256?}          R/2 frequencies, one per line or a JSON array
//                                             (`theta` only names the geometric reference that
//                                             `bench rope` compares against)
//   compress         {base: spec, threshold, factor}
// mix combines the attention scales the way it combines frequencies: linear (1−a)·s_A + a·s_B,
// log exp((1−a)·ln s_A + a·ln s_B). Its two members must share one position map.
#ifndef BENCH_ROPE_H
#define BENCH_ROPE_H

#include <jansson.h>
#include <stdio.h>

#include "util.h"

// How deep mix/compress specs may nest (a spec at top level is depth 1).
#define ROPE_MAX_DEPTH 8

// What a variant needs to know about the checkpoint.
typedef struct {
  int head_dim;                   // D
  double partial_rotary_factor;   // R = D × factor (even)
  double rope_theta;              // config's base
  long max_position_embeddings;
  const char *rope_scaling_json;  // config's rope_scaling / rope_parameters, or NULL
  long original_max_position_embeddings;  // config's top-level value (Phi-3 style), 0 when absent;
                                          // for llama3/yarn/longrope it wins over rope_scaling's
  const char *native_spec_json;   // config's "bench_rope" (ModelConfig.bench_rope_json) or NULL:
                                  // the variant a bench training run used, which type `model`
                                  // builds instead of rope_theta + rope_scaling
} RopeModelInfo;

typedef struct {
  int rotary_dims;          // R
  double *inv_freq;         // [R/2]
  double attention_scale;   // 1 unless yarn/longrope (or a variant) says otherwise
  int compress;             // position map: p' = p for p <= threshold, T + (p − T)/factor beyond
  double compress_threshold, compress_factor;
} RopeTable;

// Builds the table for one evaluated length (dynamic NTK and longrope depend on it; eval_length
// <= 0 means "not known": dynamic keeps the base, longrope uses short_factor).
int rope_build(const json_t *spec, const RopeModelInfo *model, long eval_length, RopeTable *out,
               BenchErr *err);
// Checks a spec's types, names, parameters and ranges without a checkpoint (what needs the
// model — list lengths, file counts, the checkpoint's own rope_scaling — is checked by rope_build).
int rope_validate(const json_t *spec, BenchErr *err);
// The (possibly fractional) position used for absolute token position p.
double rope_position(const RopeTable *t, long p);
void rope_table_free(RopeTable *t);

// The checkpoint's base θ: rope_parameters' rope_theta when the config carries one, else
// rope_theta. What a variant without `theta` uses.
double rope_checkpoint_theta(const RopeModelInfo *model);
// Geometric reference frequencies θ^(−2k/R) for k < R/2 into out[R/2].
void rope_geometric(double theta, int rotary_dims, double *out);
// Rotary dims R of a checkpoint, or -1 with err when D × factor is not a positive even integer.
int rope_rotary_dims(const RopeModelInfo *model, BenchErr *err);

// Prints "k  ω_k  wavelength 2π/ω_k (tokens)  ratio to geometric(ref_theta)" rows and the
// attention scale.
void rope_print_table(FILE *out, const RopeTable *t, double ref_theta);
// Prints the position map for lengths 0..length−1 compactly: p → p' at a few points including
// the threshold and the last position.
void rope_print_positions(FILE *out, const RopeTable *t, long length);
// Writes gnuplot data for a spectrum figure: one block per variant ("# variant NAME" then
// "k ω_k" rows), blocks separated by two blank lines (gnuplot `index i`). Atomic write.
int rope_write_spectrum_data(const char *path, const char *const *names,
                             const RopeTable *const *tables, int n, BenchErr *err);

#endif
