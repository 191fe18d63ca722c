// model.h — a Hugging Face causal-LM checkpoint in memory: config, weights, tokenizer path.
// Legend: V vocab, C hidden (channels), L layers, H query heads, K kv heads, D head dim,
//         F intermediate (MLP), R rotary dims (D × partial_rotary_factor).
//
// Weights are converted to fp32 on load for the CPU engine (bf16/fp16/fp32 on disk, mmap'd while
// converting). Layouts follow PyTorch nn.Linear: a weight of shape [out, in], row-major.
// GPT-NeoX's fused query_key_value ([3·C, C], interleaved per head as q,k,v blocks of D rows) is
// split on load into wq, wk, wv so every architecture runs the same forward.
#ifndef BENCH_MODEL_H
#define BENCH_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

typedef enum { ARCH_LLAMA, ARCH_MISTRAL, ARCH_QWEN2, ARCH_GPT_NEOX } Arch;
typedef enum { DTYPE_F32, DTYPE_BF16, DTYPE_F16 } DType;

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
  char *rope_scaling_json;    // config's rope_scaling / rope_parameters object as JSON text, or NULL
  double norm_eps;            // rms_norm_eps or layer_norm_eps
  int norm_is_layernorm;      // GPT-NeoX: LayerNorm with bias; others: RMSNorm
  int qkv_bias;               // Qwen2, GPT-NeoX
  int mlp_is_gelu;            // GPT-NeoX: dense_h_to_4h → gelu → dense_4h_to_h (with biases)
  int parallel_residual;      // GPT-NeoX use_parallel_residual
  int tie_word_embeddings;
  int sliding_window;         // Mistral/Qwen2 sliding window (0: none)
  int bos_token_id, eos_token_id;  // -1 when absent
  DType dtype;                // torch_dtype of the checkpoint
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
  char fingerprint[65];      // sha256 over config.json and the safetensors headers
  size_t n_params;
  size_t weight_bytes;       // bytes of the fp32 copies held
} Model;

// Loads config.json + model.safetensors (or sharded with model.safetensors.index.json).
// Errors name the file and tensor; never aborts on bad input.
int model_load(const char *dir, Model *m, BenchErr *err);
// Reads and validates only config.json (cheap: for plan warnings and inspect).
int model_config_load(const char *dir, ModelConfig *cfg, BenchErr *err);
void model_config_free(ModelConfig *cfg);
void model_free(Model *m);
const char *arch_name(Arch a);

#endif
