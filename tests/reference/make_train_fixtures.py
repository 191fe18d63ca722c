#!/usr/bin/env python3
"""Training reference fixtures from PyTorch + transformers, for tests/unit/test_train_ref.c.

Regenerate (needs torch + transformers; not part of `make test`; run from the repository root
after `make`):
    /work/refenv/bin/python tests/reference/make_train_fixtures.py [--rebuild]

For each case a tiny Llama checkpoint is written with `./bench init-model` (bf16 weights, which
both sides read as exact fp32) into tests/fixtures/train_ref/<case>/model and committed, so the
test never depends on init-model's random numbers staying the same; existing checkpoints are kept
unless --rebuild. transformers loads it in float32 (eager attention) and trains STEPS steps on one
fixed batch (B sequences of T + 1 tokens drawn with numpy's default_rng(SEED) in [0, vocab)),
exactly as bench's trainer does (engine/train/train.h):
  loss      mean over the B·T next-token predictions of cross-entropy(logits[:, t], x[:, t + 1])
  clipping  torch.nn.utils.clip_grad_norm_(params, CLIP): the norm it returns is recorded
  AdamW     torch.optim.AdamW(betas, eps 1e-8, foreach=False), weight decay on the 2-D tensors
            (embedding, projections, lm_head), none on the RMSNorm weights
  lr        step s (0-based): lr·(s + 1)/warmup while s < warmup, then cosine to min_lr over the
            remaining steps
Recorded in tests/fixtures/train_ref/<case>/ref.json: the hyperparameters, the batch, and per
step the loss, the gradient norm before clipping and the learning rate; per tensor the gradient
norm at step 1 (before clipping), the norm of the total update p_final − p_initial, and its first
8 final values.

A checkpoint written by bench's trainer loads in transformers: the shipped quickstart model
(models/quickstart, trained by suites/quickstart_train.yaml) is loaded with
AutoModelForCausalLM (float32 and float64, eager attention), data/kjv/valid.txt is encoded with
the `tokenizers` library, and the mean next-token NLL of the chunks windows tokens[i·L, (i+1)·L)
(i < 2, every position after the first scored) is recorded per length L in
tests/fixtures/train_ref/quickstart_hf.json with the sha256 of the model's weights file.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys

import hashlib

import numpy as np
import torch
import torch.nn.functional as F
from transformers import AutoModelForCausalLM

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "tests", "fixtures", "train_ref")
SEED = 2024
B, T, STEPS = 2, 32, 5
HYPER = {"lr": 3e-3, "min_lr": 3e-4, "warmup": 2, "beta1": 0.9, "beta2": 0.95,
         "weight_decay": 0.1, "grad_clip": 1.0, "eps": 1e-8}
COMMON = ["--arch", "llama", "--layers", "2", "--hidden", "32", "--heads", "4", "--kv-heads", "2",
          "--intermediate", "64", "--vocab", "300", "--dtype", "bf16", "--max-positions", "64",
          "--rope-theta", "10000"]
CASES = [("tied", ["--tie-embeddings", "1", "--seed", "11"]),
         ("untied", ["--tie-embeddings", "0", "--seed", "12"])]


def lr_at(s):
    h = HYPER
    if s < h["warmup"]:
        return h["lr"] * (s + 1) / h["warmup"]
    p = (s - h["warmup"]) / (STEPS - h["warmup"])
    return h["min_lr"] + 0.5 * (h["lr"] - h["min_lr"]) * (1 + np.cos(np.pi * p))


def run_case(name, args, rebuild):
    case_dir = os.path.join(OUT, name)
    model_dir = os.path.join(case_dir, "model")
    if rebuild and os.path.isdir(model_dir):
        shutil.rmtree(model_dir)
    if not os.path.isdir(model_dir):
        subprocess.run([os.path.join(ROOT, "bench"), "init-model", model_dir] + COMMON + args,
                       check=True)
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32,
                                                 attn_implementation="eager")
    model.train()
    vocab = model.config.vocab_size
    x = np.random.default_rng(SEED).integers(0, vocab, size=(B, T + 1))
    xt = torch.tensor(x, dtype=torch.long)
    named = [(n, p) for n, p in model.named_parameters()]
    init = {n: p.detach().clone() for n, p in named}
    decay = [p for n, p in named if p.dim() == 2]
    no_decay = [p for n, p in named if p.dim() != 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": HYPER["weight_decay"]},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=HYPER["lr"], betas=(HYPER["beta1"], HYPER["beta2"]),
                            eps=HYPER["eps"], foreach=False)
    steps = []
    grad_norms_1 = {}
    for s in range(STEPS):
        lr = lr_at(s)
        for g in opt.param_groups:
            g["lr"] = lr
        opt.zero_grad(set_to_none=False)
        logits = model(input_ids=xt[:, :T]).logits
        loss = F.cross_entropy(logits.reshape(-1, vocab), xt[:, 1:].reshape(-1))
        loss.backward()
        if s == 0:
            grad_norms_1 = {n: float(p.grad.norm()) for n, p in named}
        gn = torch.nn.utils.clip_grad_norm_(model.parameters(), HYPER["grad_clip"])
        opt.step()
        steps.append({"loss": float(loss.detach()), "grad_norm": float(gn), "lr": float(lr)})
        print(f"{name} step {s + 1}: loss {float(loss.detach()):.6f} grad norm {float(gn):.6f} lr {lr:.6g}")
    tensors = {}
    for n, p in named:
        key = "lm_head.weight" if n == "lm_head.weight" else n
        tensors[key] = {"grad_norm_step1": grad_norms_1[n],
                        "update_norm": float((p.detach() - init[n]).norm()),
                        "first": [float(v) for v in p.detach().reshape(-1)[:8]]}
    ref = {"case": name, "batch": B, "seq_len": T, "steps": STEPS, "seed": SEED,
           "hyper": HYPER, "tokens": x.tolist(), "per_step": steps, "tensors": tensors,
           "torch": torch.__version__}
    with open(os.path.join(case_dir, "ref.json"), "w") as f:
        json.dump(ref, f, indent=1)
        f.write("\n")


QS_LENGTHS, QS_WINDOWS = (256, 1024), 2


def quickstart_case(model_dir):
    from tokenizers import Tokenizer
    with open(os.path.join(model_dir, "model.safetensors"), "rb") as f:
        sha = hashlib.sha256(f.read()).hexdigest()
    tok = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
    ids = tok.encode(open(os.path.join(ROOT, "data", "kjv", "valid.txt"), encoding="utf-8").read()).ids
    out = {"model_sha256": sha, "windows": QS_WINDOWS, "lengths": {}, "torch": torch.__version__}
    for dtype in (torch.float32, torch.float64):
        model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=dtype, attn_implementation="eager")
        model.eval()
        for L in QS_LENGTHS:
            nll = []
            for i in range(QS_WINDOWS):
                x = torch.tensor([ids[i * L:(i + 1) * L]], dtype=torch.long)
                with torch.no_grad():
                    logits = model(input_ids=x).logits[0, :-1].to(torch.float64)
                nll.append(F.cross_entropy(logits, x[0, 1:], reduction="none"))
            mean = float(torch.cat(nll).mean())
            key = "nll" if dtype == torch.float32 else "nll_fp64"
            out["lengths"].setdefault(str(L), {})[key] = mean
            print(f"quickstart L={L} {key}: {mean:.6f} (ppl {np.exp(mean):.4f})")
    with open(os.path.join(OUT, "quickstart_hf.json"), "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rebuild", action="store_true")
    ap.add_argument("--quickstart", default=os.path.join(ROOT, "models", "quickstart"),
                    help="the bench-trained checkpoint to load in transformers")
    a = ap.parse_args()
    if not os.path.exists(os.path.join(ROOT, "bench")):
        sys.exit("build ./bench first (make)")
    os.makedirs(OUT, exist_ok=True)
    for name, args in CASES:
        run_case(name, args, a.rebuild)
    quickstart_case(a.quickstart)


if __name__ == "__main__":
    main()
