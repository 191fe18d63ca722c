// model.h — a Hugging Face causal-LM checkpoint in memory: config, weights, tokenizer path.
// Legend: V vocab, C hidden (channels), L layers, H query heads, K kv heads, D head dim,
//         F intermediate (MLP), R rotary dims (D × partial_rotary_factor).
//
// Weights are converted to fp32 on load for the CPU engine (bf16/fp16/fp32 on disk, mmap'd while
// converting). Layouts follow PyTorch nn.Linear: a weight of shape [out, in], row-major.
// GPT-NeoX's fused query_key_value ([3·C, C], interleaved per head as q,k,v blocks of D rows) is
// split on load into wq, wk, wv so every architecture runs the same forward.
//
// config.json is read in both transformers spellings: 4.x (rope_theta / rotary_emb_base,
// rope_scaling, rotary_pct, torch_dtype) and 5.x (rope_parameters with rope_theta and
// partial_rotary_factor inside, dtype). Every tensor the config implies must exist with its shape,
// and no other tensor may be present except known buffers (rotary inv_freq, GPT-NeoX's causal
// mask attention.bias / attention.masked_bias, a tied head's own copy).
#ifndef BENCH_MODEL_H
#define BENCH_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "dtype.h"
#include "rope.h"
#include "util.h"

typedef enum { ARCH_LLAMA, ARCH_MISTRAL, ARCH_QWEN2, ARCH_GPT_NEOX } Arch;

typedef struct {
  Arch arch;
  char architecture[64];      // as config.json names it, e.g. "LlamaForCausalLM"
  int vocab_size;             // V
  int hidden_size;            // C
  int n_layers;               // L
  int n_heads;                // H
  int n_kv_heads;             // K (== H for GPT-NeoX)
  int head_dim;               // D
  int intermediate_size;      // F
  int rotary_dims;            // R (even)
  double partial_rotary_factor;
  long max_position_embeddings;
  double rope_theta;
  char *rope_scaling_json;    // config's rope_scaling / rope_parameters object as compact JSON text
                              // (verbatim: "type" or "rope_type"; 5.x objects also hold
                              // rope_theta), or NULL when absent or its type is "default"
  char *bench_rope_json;      // config's "bench_rope" object as compact JSON, or NULL: the RoPE
                              // variant spec a `bench` training run used when it was not plain
                              // geometric (engine/train/train.h); rope type `model` builds it
  double norm_eps;            // rms_norm_eps or layer_norm_eps
  int norm_is_layernorm;      // GPT-NeoX: LayerNorm with bias; others: RMSNorm
  int qkv_bias;               // Qwen2, GPT-NeoX, Llama attention_bias: bq, bk, bv present
  int o_bias;                 // GPT-NeoX, Llama attention_bias: bo present
  int mlp_is_gelu;            // GPT-NeoX: dense_h_to_4h → gelu → dense_4h_to_h (with biases)
  int parallel_residual;      // GPT-NeoX use_parallel_residual
  int tie_word_embeddings;
  int sliding_window;         // Mistral/Qwen2 sliding window (0: none): a query attends to itself
                              // and the sliding_window − 1 keys before it
  int sliding_window_from_layer;  // layers ≥ this use the window (Qwen2 max_window_layers; else 0)
  int bos_token_id, eos_token_id;  // -1 when absent
  DType dtype;                // torch_dtype / dtype of the checkpoint (float64 reads as F32); when
                              // config.json names none, model_load takes the embedding's dtype
  int dtype_given;            // config.json named the dtype
} ModelConfig;

typedef struct {
  float *attn_norm_w, *attn_norm_b;  // [C] (b: LayerNorm only)
  float *wq, *wk, *wv;               // [H·D, C], [K·D, C], [K·D, C]
  float *bq, *bk, *bv;               // [H·D], [K·D], [K·D] or NULL
  float *wo;                         // [C, H·D]
  float *bo;                         // [C] or NULL
  float *mlp_norm_w, *mlp_norm_b;    // [C]
  float *w_gate;                     // [F, C] (SwiGLU only)
  float *w_up;                       // [F, C]
  float *b_up;                       // [F] or NULL (GPT-NeoX)
  float *w_down;                     // [C, F]
  float *b_down;                     // [C] or NULL
} LayerWeights;

typedef struct {
  float *embed;              // [V, C]
  LayerWeights *layers;      // [L]
  float *final_norm_w;       // [C]
  float *final_norm_b;       // [C] or NULL
  float *lm_head;            // [V, C] (== embed when tied)
} ModelWeights;

typedef struct {
  char *dir;                 // checkpoint directory
  ModelConfig config;
  ModelWeights weights;
  char *tokenizer_path;      // dir/tokenizer.json or NULL when absent
  char fingerprint[65];      // checkpoint_fingerprint: config.json, headers and weight bytes
  size_t n_params;           // elements of the model's tensors (a tied head counted once)
  size_t weight_bytes;       // bytes of the fp32 copies held (0 after model_inspect)
  int n_files;               // safetensors files
  uint64_t file_bytes;       // their total size on disk
  float *arena;              // one allocation holding every fp32 weight
} Model;

// What RoPE needs to know of a checkpoint (rope.h), from its config; borrows c's strings.
void model_rope_info(const ModelConfig *c, RopeModelInfo *out);
// Builds the checkpoint's own RoPE (`model`: rope_theta with rope_scaling / rope_parameters) as
// the engine will: an unsupported rope_scaling type or parameter is an error.
int model_check_rope(const ModelConfig *c, BenchErr *err);

// Loads config.json + model.safetensors (or sharded with model.safetensors.index.json).
// Errors name the file and tensor; never aborts on bad input. Refuses (with the numbers) when the
// fp32 weights would not fit in the memory available.
int model_load(const char *dir, Model *m, BenchErr *err);
// Everything model_load checks (config, every header, every tensor's presence, shape and dtype,
// fingerprint, n_params), without converting weights: m->weights stay NULL.
int model_inspect(const char *dir, Model *m, BenchErr *err);
// Reads and validates only config.json (cheap: for plan warnings and inspect).
int model_config_load(const char *dir, ModelConfig *cfg, BenchErr *err);
// The same from text already in memory; label names it in errors.
int model_config_parse(const char *label, const char *text, size_t len, ModelConfig *cfg,
                       BenchErr *err);
void model_config_free(ModelConfig *cfg);
void model_free(Model *m);
const char *arch_name(Arch a);       // "llama", "mistral", "qwen2", "gpt_neox"

#endif
