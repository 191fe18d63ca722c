#!/usr/bin/env python3
"""Forward-pass parity fixtures from transformers, for tests/unit/test_parity.c.

Regenerate (needs torch + transformers; not part of `make test`; run from the repository root
after `make`):
    /work/refenv/bin/python tests/reference/make_parity_fixtures.py [--rebuild]

For each case a tiny random checkpoint is written with `./bench init-model` (deterministic by
seed; bf16 weights so each stays under ~300 KB) into tests/fixtures/parity/<case>/model, and
committed: the test then never depends on init-model's random numbers staying the same. Existing
checkpoints are kept unless --rebuild. Some cases edit config.json after init-model (noted in
CASES). init-model's weights (std 0.02, norms at 1) give near-uniform attention and predictions,
which would hide mistakes in RoPE, masks or norms; so the weights are then rescaled (sharpen():
linear layers to std 1/sqrt(in), q/k to 2/sqrt(in), embeddings to 1, norm weights 1 + 0.1·N(0,1),
biases ×5) and saved again in bf16. transformers loads each one with AutoModelForCausalLM in float32 with
attn_implementation="eager" and runs one fixed token sequence (TOKENS tokens drawn with numpy's
default_rng(SEED) in [0, vocab)). We record, for every t < TOKENS - 1, the next-token NLL
-log_softmax(logits[t])[tokens[t+1]] and argmax(logits[t]); and the NLL of the same model run in
float64 (an upper bound on how exact the float32 numbers are). Written to
tests/fixtures/parity/<case>/parity.json.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import torch
import transformers
from safetensors.torch import load_file, save_file
from transformers import AutoModelForCausalLM

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "tests", "fixtures", "parity")
TOKENS = 200
SEED = 1234
COMMON = ["--layers", "2", "--hidden", "64", "--heads", "4", "--intermediate", "128",
          "--vocab", "512", "--dtype", "bf16", "--max-positions", "1024"]
LLAMA3 = {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
          "original_max_position_embeddings": 64}

# name, init-model arguments, config.json edits (applied after init-model)
CASES = [
    ("llama", ["--arch", "llama", "--kv-heads", "2", "--seed", "11"], {}),
    ("llama_rope_llama3", ["--arch", "llama", "--kv-heads", "2", "--seed", "12",
                           "--rope-theta", "500000", "--rope-scaling", json.dumps(LLAMA3)], {}),
    # window 64 < 200 tokens: the sliding window changes the result
    ("mistral_window", ["--arch", "mistral", "--kv-heads", "1", "--seed", "13",
                        "--sliding-window", "64"], {}),
    ("qwen2_tied", ["--arch", "qwen2", "--kv-heads", "2", "--seed", "14",
                    "--tie-embeddings", "1"], {}),
    ("gpt_neox", ["--arch", "gpt_neox", "--kv-heads", "4", "--seed", "15",
                  "--rotary-pct", "0.25"], {}),
    ("gpt_neox_sequential", ["--arch", "gpt_neox", "--kv-heads", "4", "--seed", "16",
                             "--rotary-pct", "0.5"], {"use_parallel_residual": False}),
]


def build_checkpoint(name, args, edits, rebuild):
    model_dir = os.path.join(OUT, name, "model")
    if os.path.isdir(model_dir) and not rebuild:
        return model_dir
    if os.path.isdir(model_dir):
        shutil.rmtree(model_dir)
    subprocess.run([os.path.join(ROOT, "bench"), "init-model", model_dir] + COMMON + args,
                   check=True, stdout=subprocess.DEVNULL)
    cfg_path = os.path.join(model_dir, "config.json")
    if edits:
        with open(cfg_path) as f:
            cfg = json.load(f)
        cfg.update(edits)
        with open(cfg_path, "w") as f:
            json.dump(cfg, f, indent=2)
            f.write("\n")
    sharpen(model_dir, seed=int(args[args.index("--seed") + 1]),
            tied="--tie-embeddings" in args)
    # the forward needs config.json and the weights only; keep the fixture small
    for extra in ("tokenizer.json", "tokenizer_config.json"):
        p = os.path.join(model_dir, extra)
        if os.path.exists(p):
            os.remove(p)
    return model_dir


def sharpen(model_dir, seed, tied):
    path = os.path.join(model_dir, "model.safetensors")
    tensors = load_file(path)
    gen = torch.Generator().manual_seed(seed)
    out = {}
    for name in sorted(tensors):
        w = tensors[name].float()
        if w.dim() == 1 and "norm" in name and name.endswith("weight"):
            w = 1.0 + 0.1 * torch.randn(w.shape, generator=gen)
        elif w.dim() == 1:
            w = 5.0 * w
        else:
            if "embed_tokens" in name or "embed_in" in name:
                target = 0.3 if tied else 1.0
            elif any(k in name for k in ("q_proj", "k_proj", "query_key_value")):
                target = 2.0 / w.shape[1] ** 0.5
            else:
                target = 1.0 / w.shape[1] ** 0.5
            w = w * (target / w.std())
        out[name] = w.to(torch.bfloat16).contiguous()
    save_file(out, path, metadata={"format": "pt"})


def score(model_dir, tokens, dtype):
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=dtype,
                                                 attn_implementation="eager")
    model.eval()
    with torch.no_grad():
        logits = model(torch.tensor([tokens])).logits[0]  # [T, V]
    logp = torch.log_softmax(logits[:-1], dim=-1)
    target = torch.tensor(tokens[1:])
    nll = -logp.gather(1, target[:, None])[:, 0]
    return nll.tolist(), logits[:-1].argmax(dim=-1).tolist(), model.config


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rebuild", action="store_true", help="rewrite the checkpoints too")
    opts = ap.parse_args()
    torch.manual_seed(0)
    for name, args, edits in CASES:
        model_dir = build_checkpoint(name, args, edits, opts.rebuild)
        with open(os.path.join(model_dir, "config.json")) as f:
            vocab = json.load(f)["vocab_size"]
        tokens = np.random.default_rng(SEED).integers(0, vocab, TOKENS).tolist()
        nll, argmax, cfg = score(model_dir, tokens, torch.float32)
        nll64, _, _ = score(model_dir, tokens, torch.float64)
        fixture = {
            "case": name,
            "model_type": cfg.model_type,
            "transformers": transformers.__version__,
            "torch": torch.__version__,
            "attn_implementation": "eager",
            "command": "/work/refenv/bin/python tests/reference/make_parity_fixtures.py",
            "init_model_args": COMMON + args,
            "config_edits": edits,
            "tokens": tokens,
            "nll": [float(f"{x:.9g}") for x in nll],
            "nll_fp64": [float(f"{x:.12g}") for x in nll64],
            "argmax": argmax,
        }
        with open(os.path.join(OUT, name, "parity.json"), "w") as f:
            json.dump(fixture, f, indent=None, separators=(",", ":"))
            f.write("\n")
        size = sum(os.path.getsize(os.path.join(model_dir, x)) for x in os.listdir(model_dir))
        gap = max(abs(a - b) for a, b in zip(nll, nll64))
        print(f"{name}: {len(nll)} scored, checkpoint {size / 1024:.0f} KiB, "
              f"max |fp32 - fp64| nll in transformers {gap:.2e}")


if __name__ == "__main__":
    sys.exit(main())
