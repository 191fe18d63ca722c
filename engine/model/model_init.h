// model_init.h — writing a random, complete Hugging Face checkpoint (`bench init-model`):
// config.json, generation_config.json, model.safetensors (or shards + index), and a byte-level
// BPE tokenizer.json with tokenizer_config.json. Deterministic: the same spec and seed give the
// same bytes. Weights are streamed tensor by tensor, so any size is written in bounded memory.
// Legend: V vocab, C hidden, L layers, H heads, K kv heads, F intermediate.
#ifndef BENCH_MODEL_INIT_H
#define BENCH_MODEL_INIT_H

#include <stdint.h>

#include "model.h"

typedef struct {
  Arch arch;
  int n_layers;              // L
  int hidden_size;           // C
  int n_heads;               // H
  int n_kv_heads;            // K (GPT-NeoX: must equal H)
  int intermediate_size;     // F
  int vocab_size;            // V ≥ 257 (256 byte tokens + <|endoftext|>)
  long max_position_embeddings;
  double rope_theta;
  double rotary_pct;         // GPT-NeoX partial rotary factor (others: 1)
  const char *rope_scaling_json;  // a rope_scaling object to write, or NULL
  int sliding_window;        // Mistral / Qwen2 (0: none)
  int tie_word_embeddings;
  DType dtype;
  uint64_t seed;
  int n_shards;              // 1: model.safetensors; more: model-0000i-of-0000n + index
  int config_style;          // 4 or 5: which transformers major version's config.json spelling
  int max_merges;            // BPE merges to learn at most (fewer when the vocab is smaller)
  int overwrite;             // write into a non-empty dir: replace our files, remove old weights
} InitModelSpec;

typedef struct {
  uint64_t n_params;
  uint64_t weight_bytes;     // on disk, all shards
  int n_merges;              // tokenizer merges learned
  int eot_id;                // id of <|endoftext|>
  int n_shards;              // files written (at most one per tensor)
} InitModelResult;

// The defaults for an architecture: 2 layers, hidden 64, 4 heads (2 kv heads except GPT-NeoX),
// vocab 512, fp32, seed 0, one file, transformers 4.x spelling.
void init_model_defaults(InitModelSpec *s, Arch arch);
// Checks the spec (sizes, divisibility, rotary dims); errors name the flag's quantity.
int init_model_check(const InitModelSpec *s, BenchErr *err);
// Writes the checkpoint into dir (created if missing). A non-empty dir is refused unless
// overwrite is set; then the files written replace theirs and any other model.safetensors,
// model-*-of-*.safetensors or index there is removed (it would describe another checkpoint).
int init_model_write(const char *dir, const InitModelSpec *s, InitModelResult *out, BenchErr *err);

// Learns up to max_merges byte-level BPE merges from a built-in English text and writes a
// tokenizer.json (GPT-2-style ByteLevel pre-tokenizer and decoder, ids 0..255 the bytes, then the
// merges, then <|endoftext|>). *n_merges and *eot_id say what was written.
int init_tokenizer_write(const char *path, int max_merges, int *n_merges, int *eot_id, BenchErr *err);

#endif
