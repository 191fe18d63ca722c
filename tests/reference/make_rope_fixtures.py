#!/usr/bin/env python3
"""RoPE reference fixtures from transformers' own code, for tests/unit/test_rope.c.

Regenerate (needs torch + transformers; not part of `make test`):
    /work/refenv/bin/python tests/reference/make_rope_fixtures.py tests/fixtures/rope/hf_rope.json

Each case is a small config.json as a checkpoint would carry it (old-style `rope_scaling` with
"type", new-style `rope_scaling`/`rope_parameters` with "rope_type" and "rope_theta", Phi-3's
top-level original_max_position_embeddings). transformers builds the model's own rotary embedding
module from it (LlamaRotaryEmbedding, or GPTNeoXRotaryEmbedding for partial rotary), which picks
the init function from ROPE_INIT_FUNCTIONS; the module then runs forward over positions 0..L-1 so
that dynamic NTK and longrope update their frequencies for the evaluated length exactly as they do
in a real forward pass. We record the module's inv_freq buffer and attention_scaling.

`spec` is the same variant written as a bench rope spec, so the test checks both the `model`
path (the checkpoint's config) and the explicit type against one reference.
"""
import json
import sys

import torch
import transformers
from transformers import GPTNeoXConfig, LlamaConfig
from transformers.models.gpt_neox.modeling_gpt_neox import GPTNeoXRotaryEmbedding
from transformers.models.llama.modeling_llama import LlamaRotaryEmbedding

LONG_SHORT_32 = [1.0 + 0.05 * i for i in range(32)]
LONG_LONG_32 = [1.0 + 0.5 * i * i / 31 for i in range(32)]


def llama(head_dim, theta, max_pos, scaling=None, key="rope_scaling", extra=None):
    cfg = {"model_type": "llama", "hidden_size": head_dim * 4, "num_attention_heads": 4,
           "num_key_value_heads": 4, "head_dim": head_dim, "max_position_embeddings": max_pos,
           "intermediate_size": 64, "num_hidden_layers": 1, "vocab_size": 32}
    if theta is not None:
        cfg["rope_theta"] = theta
    if scaling is not None:
        cfg[key] = scaling
    cfg.update(extra or {})
    return cfg


def neox(head_dim, prf, theta, max_pos, scaling=None):
    cfg = {"model_type": "gpt_neox", "hidden_size": head_dim * 4, "num_attention_heads": 4,
           "max_position_embeddings": max_pos, "intermediate_size": 64, "num_hidden_layers": 1,
           "vocab_size": 32, "rotary_pct": prf, "rotary_emb_base": theta}
    if scaling is not None:
        cfg["rope_scaling"] = scaling
    return cfg


CASES = [
    # name, config.json, evaluated lengths, equivalent bench spec
    ("default_llama_h128", llama(128, 500000.0, 8192), [4096],
     {"type": "geometric", "theta": 500000}),
    ("default_llama_h64_new", llama(64, None, 4096, {"rope_type": "default", "rope_theta": 1e6},
                                    key="rope_parameters"), [1024],
     {"type": "geometric", "theta": 1000000}),
    ("default_neox_h64_p025", neox(64, 0.25, 10000.0, 2048), [1024],
     {"type": "geometric", "theta": 10000}),
    ("default_neox_h128_p1", neox(128, 1.0, 10000.0, 2048), [1024],
     {"type": "geometric", "theta": 10000}),
    ("linear_h128_old", llama(128, 10000.0, 4096, {"type": "linear", "factor": 4.0}), [4096],
     {"type": "linear", "factor": 4, "theta": 10000}),
    ("linear_neox_h64_p025", neox(64, 0.25, 10000.0, 2048, {"rope_type": "linear", "factor": 2.0}),
     [2048], {"type": "linear", "factor": 2, "theta": 10000}),
    ("dynamic_h64", llama(64, 10000.0, 2048, {"rope_type": "dynamic", "factor": 2.0}),
     [1024, 2048, 2049, 4096, 10000], {"type": "dynamic", "factor": 2, "theta": 10000}),
    ("dynamic_h128_old", llama(128, 500000.0, 8192, {"type": "dynamic", "factor": 4.0}),
     [8192, 16384, 65536], {"type": "dynamic", "factor": 4, "theta": 500000}),
    ("dynamic_neox_h128_p025", neox(128, 0.25, 10000.0, 2048,
                                    {"rope_type": "dynamic", "factor": 3.0}), [1000, 6000],
     {"type": "dynamic", "factor": 3, "theta": 10000}),
    ("yarn_h128", llama(128, 10000.0, 16384, {"rope_type": "yarn", "factor": 4.0,
                                              "original_max_position_embeddings": 4096}), [8192],
     {"type": "yarn", "factor": 4, "original_max_position_embeddings": 4096, "theta": 10000}),
    ("yarn_h64_default_orig", llama(64, 10000.0, 4096, {"type": "yarn", "factor": 8.0}), [4096],
     {"type": "yarn", "factor": 8, "theta": 10000}),
    ("yarn_h128_attn_beta", llama(128, 500000.0, 32768,
                                  {"rope_type": "yarn", "factor": 4.0, "attention_factor": 1.2,
                                   "beta_fast": 16.0, "beta_slow": 2.0,
                                   "original_max_position_embeddings": 8192}), [8192],
     {"type": "yarn", "factor": 4, "attention_factor": 1.2, "beta_fast": 16, "beta_slow": 2,
      "original_max_position_embeddings": 8192, "theta": 500000}),
    ("yarn_h64_mscale", llama(64, 10000.0, 16384,
                              {"rope_type": "yarn", "factor": 40.0, "mscale": 1.0,
                               "mscale_all_dim": 0.707, "beta_fast": 32, "beta_slow": 1,
                               "original_max_position_embeddings": 4096}), [4096],
     {"type": "yarn", "factor": 40, "mscale": 1.0, "mscale_all_dim": 0.707,
      "original_max_position_embeddings": 4096, "theta": 10000}),
    ("yarn_h128_no_truncate", llama(128, 1000000.0, 131072,
                                    {"rope_type": "yarn", "factor": 4.0, "truncate": False,
                                     "original_max_position_embeddings": 32768}), [1024],
     {"type": "yarn", "factor": 4, "truncate": False,
      "original_max_position_embeddings": 32768, "theta": 1000000}),
    ("yarn_neox_h64_p025", neox(64, 0.25, 10000.0, 8192,
                                {"rope_type": "yarn", "factor": 2.0,
                                 "original_max_position_embeddings": 2048}), [4096],
     {"type": "yarn", "factor": 2, "original_max_position_embeddings": 2048, "theta": 10000}),
    ("yarn_h128_new_params", llama(128, None, 32768,
                                   {"rope_type": "yarn", "rope_theta": 1000000.0, "factor": 4.0,
                                    "original_max_position_embeddings": 8192},
                                   key="rope_parameters"), [8192],
     {"type": "yarn", "factor": 4, "original_max_position_embeddings": 8192, "theta": 1000000}),
    ("llama3_h128_llama31", llama(128, 500000.0, 131072,
                                  {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                   "high_freq_factor": 4.0,
                                   "original_max_position_embeddings": 8192}), [16384],
     {"type": "llama3", "factor": 8, "low_freq_factor": 1, "high_freq_factor": 4,
      "original_max_position_embeddings": 8192, "theta": 500000}),
    ("llama3_h64_llama32", llama(64, 500000.0, 131072,
                                 {"rope_type": "llama3", "factor": 32.0, "low_freq_factor": 1.0,
                                  "high_freq_factor": 4.0,
                                  "original_max_position_embeddings": 8192}), [2048],
     {"type": "llama3", "factor": 32, "low_freq_factor": 1, "high_freq_factor": 4,
      "original_max_position_embeddings": 8192, "theta": 500000}),
    ("longrope_h64_phi3", llama(64, 10000.0, 131072,
                                {"type": "longrope", "short_factor": LONG_SHORT_32,
                                 "long_factor": LONG_LONG_32},
                                extra={"original_max_position_embeddings": 4096}),
     [2048, 4096, 4097, 8192],
     {"type": "longrope", "short_factor": LONG_SHORT_32, "long_factor": LONG_LONG_32,
      "original_max_position_embeddings": 4096, "factor": 32, "theta": 10000}),
    ("longrope_h64_attn", llama(64, 10000.0, 16384,
                                {"rope_type": "longrope", "short_factor": LONG_SHORT_32,
                                 "long_factor": LONG_LONG_32, "attention_factor": 1.1,
                                 "factor": 4.0, "original_max_position_embeddings": 4096}),
     [1024, 8192],
     {"type": "longrope", "short_factor": LONG_SHORT_32, "long_factor": LONG_LONG_32,
      "original_max_position_embeddings": 4096, "attention_factor": 1.1, "factor": 4,
      "theta": 10000}),
]


def rotary_for(cfg_dict):
    if cfg_dict["model_type"] == "gpt_neox":
        cfg = GPTNeoXConfig.from_dict(dict(cfg_dict))
        return cfg, GPTNeoXRotaryEmbedding(cfg)
    cfg = LlamaConfig.from_dict(dict(cfg_dict))
    return cfg, LlamaRotaryEmbedding(cfg)


def head_info(cfg_dict):
    """What bench reads from config.json: head dim, partial rotary factor, base, rope_scaling."""
    head_dim = cfg_dict.get("head_dim") or cfg_dict["hidden_size"] // cfg_dict["num_attention_heads"]
    prf = cfg_dict.get("rotary_pct", cfg_dict.get("partial_rotary_factor", 1.0))
    theta = cfg_dict.get("rope_theta", cfg_dict.get("rotary_emb_base", 10000.0))
    scaling = cfg_dict.get("rope_scaling", cfg_dict.get("rope_parameters"))
    return {"head_dim": head_dim, "partial_rotary_factor": prf, "rope_theta": theta,
            "max_position_embeddings": cfg_dict["max_position_embeddings"],
            "original_max_position_embeddings": cfg_dict.get("original_max_position_embeddings", 0),
            "rope_scaling": scaling}


def main():
    out_path = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/rope/hf_rope.json"
    cases = []
    for name, cfg_dict, lengths, spec in CASES:
        for length in lengths:
            cfg, rotary = rotary_for(json.loads(json.dumps(cfg_dict)))
            x = torch.zeros(1, length, 8, dtype=torch.float32)
            position_ids = torch.arange(length).unsqueeze(0)
            with torch.no_grad():
                rotary(x, position_ids)
            case = {"name": f"{name}@{length}", "eval_length": length, "spec": spec,
                    "inv_freq": [float(v) for v in rotary.inv_freq.tolist()],
                    "attention_scale": float(rotary.attention_scaling)}
            case.update(head_info(cfg_dict))
            cases.append(case)
    doc = {
        "schema": "bench.rope_fixture/1",
        "transformers_version": transformers.__version__,
        "torch_version": torch.__version__,
        "command": "/work/refenv/bin/python tests/reference/make_rope_fixtures.py "
                   "tests/fixtures/rope/hf_rope.json",
        "note": "inv_freq is computed by torch in float32",
        "cases": cases,
    }
    with open(out_path, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    print(f"wrote {len(cases)} cases to {out_path}")


if __name__ == "__main__":
    main()
