#!/usr/bin/env python3
"""Decode-protocol fixtures: per-token NLLs under each KV-cache policy, from an independent
float64 implementation on top of transformers' modules, for tests/unit/test_decode_reference.c.

Regenerate (needs torch + transformers; not part of `make test`; run from the repository root
after `make`):
    /work/refenv/bin/python tests/reference/make_decode_fixtures.py [--rebuild]

Checkpoints: `./bench init-model` (GPT-NeoX, multi-head, rotary_pct 0.25; Llama with 4 query heads
on 2 kv heads), then sharpened so that attention is far from uniform (q/k projections to std
2/sqrt(in), other linear layers 1/sqrt(in), embeddings 1, norm weights 1 + 0.1·N(0, 1), biases ×5),
saved in bf16 under tests/fixtures/decode/<case>/model (kept unless --rebuild).

The reference reads each model with AutoModelForCausalLM in float64 and runs its layers by hand
(transformers' own norms, projections, rotary embedding and MLP modules) with its own attention
and KV cache, following the rules of engine/kv/kvcache.h and engine/eval/eval.h:
  - windows as chunks: window w is tokens[w·L, (w+1)·L);
  - prompt P: tokens 0..P−2 read as one block with full causal attention, then the policy evicts;
    each step reads token t = P−1..L−2 against the cache and scores −log p(token t+1); then the
    policy evicts every layer (and, for h2o, every kv head) down to budget − 1 slots;
  - window(recent): the last recent − 1 slots stay; streaming(sink, recent): the tokens < sink
    and the last recent − 1 slots; h2o(heavy, recent): the last recent − 1 slots plus the `heavy`
    older slots with the most attention received since read (softmax weights summed over the
    queries of the prefill and of every step, the query heads of a kv head summed); ties keep the
    older token;
  - positions original: keys rotated at their token's position when read; cache: keys kept
    unrotated and rotated at their slot index each step, the query at its own slot index.
It checks first that its full-cache decode equals transformers' one-pass forward (to 1e-5: that
forward takes its softmax and rotary tables in float32),
and for every h2o eviction that the kept and dropped scores are apart by more than float32 noise
(so the C engine, in float32, must choose the same tokens). Written to
tests/fixtures/decode/<case>/decode.json: {"tokens": [...], "length": L, "windows": W,
"cases": [{"cache": {...}, "prompt": P, "nll": [W·(L−P) values, window by window]}]}.
"""
import argparse
import json
import os
import shutil
import subprocess

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from transformers import AutoModelForCausalLM
from transformers.models.gpt_neox import modeling_gpt_neox as neox
from transformers.models.llama import modeling_llama as llama

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "tests", "fixtures", "decode")
LENGTH, WINDOWS, SEED = 48, 2, 4321
COMMON = ["--layers", "2", "--hidden", "64", "--heads", "4", "--intermediate", "128",
          "--vocab", "512", "--dtype", "bf16", "--max-positions", "1024"]
MODELS = [
    ("gpt_neox", ["--arch", "gpt_neox", "--kv-heads", "4", "--seed", "21", "--rotary-pct", "0.25"]),
    ("llama_gqa", ["--arch", "llama", "--kv-heads", "2", "--seed", "22"]),
]
POLICIES = [  # (cache spec, prompt)
    ({"type": "full"}, 1),
    ({"type": "full"}, 9),
    ({"type": "window", "recent": 8}, 1),
    ({"type": "window", "recent": 6}, 12),
    ({"type": "streaming", "sink": 2, "recent": 6}, 1),
    ({"type": "streaming", "sink": 2, "recent": 6}, 12),
    ({"type": "streaming", "sink": 4, "recent": 5, "positions": "original"}, 9),
    ({"type": "h2o", "heavy": 4, "recent": 4}, 1),
    ({"type": "h2o", "heavy": 3, "recent": 5}, 12),
    ({"type": "h2o", "heavy": 4, "recent": 3, "positions": "cache"}, 9),
]
MIN_GAP = 1e-4  # relative gap between kept and dropped h2o scores (float32 noise is ~1e-6)


def build_checkpoint(name, args, rebuild):
    model_dir = os.path.join(OUT, name, "model")
    if os.path.isdir(model_dir) and not rebuild:
        return model_dir
    if os.path.isdir(model_dir):
        shutil.rmtree(model_dir)
    subprocess.run([os.path.join(ROOT, "bench"), "init-model", model_dir] + COMMON + args,
                   check=True, stdout=subprocess.DEVNULL)
    path = os.path.join(model_dir, "model.safetensors")
    tensors = load_file(path)
    gen = torch.Generator().manual_seed(int(args[args.index("--seed") + 1]))
    out = {}
    for key in sorted(tensors):
        w = tensors[key].float()
        if w.dim() == 1 and "norm" in key and key.endswith("weight"):
            w = 1.0 + 0.1 * torch.randn(w.shape, generator=gen)
        elif w.dim() == 1:
            w = 5.0 * w
        elif "embed_tokens" in key or "embed_in" in key:
            w = w / w.std()
        elif any(k in key for k in ("q_proj", "k_proj", "query_key_value")):
            w = w * (2.0 / w.shape[1] ** 0.5 / w.std())
        else:
            w = w * (1.0 / w.shape[1] ** 0.5 / w.std())
        out[key] = w.to(torch.bfloat16).contiguous()
    save_file(out, path, metadata={"format": "pt"})
    for extra in ("tokenizer.json", "tokenizer_config.json"):
        p = os.path.join(model_dir, extra)
        if os.path.exists(p):
            os.remove(p)
    return model_dir


class Net:
    """The model's layers, run by hand: embed, per layer q/k/v/o and MLP, final norm, head."""

    def __init__(self, model):
        self.m = model
        self.neox = model.config.model_type == "gpt_neox"
        cfg = model.config
        self.H = cfg.num_attention_heads
        self.K = getattr(cfg, "num_key_value_heads", None) or self.H
        self.D = cfg.hidden_size // self.H
        base = model.gpt_neox if self.neox else model.model
        self.layers = base.layers
        self.rotary = base.rotary_emb
        self.embed = base.embed_in if self.neox else base.embed_tokens
        self.final_norm = base.final_layer_norm if self.neox else base.norm
        self.head = model.get_output_embeddings()

    def rope(self, x, positions):
        """x [heads, n, D] rotated at positions[n] (transformers' rotary embedding)."""
        pid = torch.tensor([positions], dtype=torch.long)
        cos, sin = self.rotary(x[None], pid)
        apply = neox.apply_rotary_pos_emb if self.neox else llama.apply_rotary_pos_emb
        return apply(x[None], x[None], cos, sin)[0][0]

    def qkv(self, layer, x):
        """x [n, C] → q [H, n, D], k [K, n, D], v [K, n, D], before RoPE."""
        n = x.shape[0]
        if self.neox:
            h = layer.input_layernorm(x)
            qkv = layer.attention.query_key_value(h).view(n, self.H, 3 * self.D).transpose(0, 1)
            return qkv.chunk(3, dim=-1)
        h = layer.input_layernorm(x)
        at = layer.self_attn
        q = at.q_proj(h).view(n, self.H, self.D).transpose(0, 1)
        k = at.k_proj(h).view(n, self.K, self.D).transpose(0, 1)
        v = at.v_proj(h).view(n, self.K, self.D).transpose(0, 1)
        return q, k, v

    def tail(self, layer, x, att):
        """x [n, C] + attention output att [n, H·D] projected, then the MLP."""
        if self.neox:
            a = layer.attention.dense(att)
            return x + a + layer.mlp(layer.post_attention_layernorm(x))
        x = x + layer.self_attn.o_proj(att)
        return x + layer.mlp(layer.post_attention_layernorm(x))

    def logits(self, x):
        return self.head(self.final_norm(x))


def softmax_rows(s):
    return torch.softmax(s, dim=-1)


def evict(policy, slots, keep):
    """slots: list of dicts {pos, k, v, score}; returns the kept list (len keep)."""
    n = len(slots)
    if keep < 0 or n <= keep:
        return slots, None
    t = policy["type"]
    if keep == 0:
        return [], None
    if t == "window":
        return slots[n - keep:], None
    if t == "streaming":
        sinks = 0
        while sinks < n and sinks < keep and slots[sinks]["pos"] < policy["sink"]:
            sinks += 1
        return slots[:sinks] + slots[n - (keep - sinks):], None
    assert t == "h2o"
    recent = min(policy["recent"] - 1, keep)
    older = slots[:n - recent]
    ranked = sorted(range(len(older)), key=lambda i: (-older[i]["score"], i))
    stay = sorted(ranked[:keep - recent])
    gap = None
    if 0 < len(stay) < len(older):
        lo = older[ranked[keep - recent - 1]]["score"]
        hi = older[ranked[keep - recent]]["score"]
        gap = (lo - hi) / max(abs(lo), 1e-30)
    return [older[i] for i in stay] + slots[n - recent:], gap


def decode_window(net, tokens, policy, prompt):
    """Per-token NLLs of predictions of tokens prompt..L−1, and the smallest h2o score gap."""
    L = len(tokens)
    budget = {"full": 0, "window": policy.get("recent", 0),
              "streaming": policy.get("sink", 0) + policy.get("recent", 0),
              "h2o": policy.get("heavy", 0) + policy.get("recent", 0)}[policy["type"]]
    keep = budget - 1 if budget > 0 else -1
    cache_pos = policy.get("positions", "cache" if policy["type"] == "streaming" else "original") == "cache"
    H, K, D = net.H, net.K, net.D
    G = H // K
    scale = D ** -0.5
    # caches[l][g] = list of {pos, k (stored: rotated or not), v, score}
    caches = [[[] for _ in range(K)] for _ in net.layers]
    gaps = []

    def keys_of(slots):
        k = torch.stack([s["k"] for s in slots])  # [n, D]
        if cache_pos:
            k = net.rope(k[None], list(range(len(slots))))[0]
        return k, torch.stack([s["v"] for s in slots])

    def evict_all():
        for l in range(len(net.layers)):
            for g in range(K):
                caches[l][g], gap = evict(policy, caches[l][g], keep)
                if gap is not None:
                    gaps.append(gap)

    n = prompt - 1
    if n > 0:  # prefill: one block, full causal attention
        x = net.embed(torch.tensor(tokens[:n]))
        for l, layer in enumerate(net.layers):
            q, k, v = net.qkv(layer, x)
            qr, kr = net.rope(q, list(range(n))), net.rope(k, list(range(n)))
            out = torch.zeros(n, H, D, dtype=x.dtype)
            mass = torch.zeros(K, n, dtype=x.dtype)
            mask = torch.triu(torch.ones(n, n, dtype=torch.bool), diagonal=1)
            for h in range(H):
                g = h // G
                s = (qr[h] @ kr[g].T) * scale
                w = softmax_rows(s.masked_fill(mask, float("-inf")))
                out[:, h] = w @ v[g]
                mass[g] += w.sum(0)
            for g in range(K):
                for i in range(n):
                    caches[l][g].append({"pos": i, "k": (k if cache_pos else kr)[g, i], "v": v[g, i],
                                         "score": float(mass[g, i])})
            x = net.tail(layer, x, out.reshape(n, H * D))
        evict_all()
    nll = []
    for t in range(n, L - 1):
        x = net.embed(torch.tensor([tokens[t]]))
        held = len(caches[0][0])
        qpos = held if cache_pos else t
        for l, layer in enumerate(net.layers):
            q, k, v = net.qkv(layer, x)
            qr = net.rope(q, [qpos])
            kr = net.rope(k, [t])
            out = torch.zeros(1, H, D, dtype=x.dtype)
            for g in range(K):
                caches[l][g].append({"pos": t, "k": (k if cache_pos else kr)[g, 0], "v": v[g, 0],
                                     "score": 0.0})
                keys, vals = keys_of(caches[l][g])
                for h in range(g * G, (g + 1) * G):
                    w = softmax_rows((qr[h, 0] @ keys.T) * scale)
                    out[0, h] = w @ vals
                    for j, s in enumerate(caches[l][g]):
                        s["score"] += float(w[j])
            x = net.tail(layer, x, out.reshape(1, H * D))
        logp = torch.log_softmax(net.logits(x)[0], dim=-1)
        nll.append(-float(logp[tokens[t + 1]]))
        evict_all()
    return nll, (min(gaps) if gaps else None)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rebuild", action="store_true")
    args = ap.parse_args()
    torch.set_grad_enabled(False)
    for name, init_args in MODELS:
        model_dir = build_checkpoint(name, init_args, args.rebuild)
        model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float64,
                                                     attn_implementation="eager")
        model.eval()
        net = Net(model)
        V = model.config.vocab_size
        tokens = np.random.default_rng(SEED).integers(0, V, LENGTH * WINDOWS).tolist()
        # The hand-run layers against transformers' one-pass forward.
        for w in range(WINDOWS):
            win = tokens[w * LENGTH:(w + 1) * LENGTH]
            logits = model(torch.tensor([win])).logits[0]
            want = -torch.log_softmax(logits[:-1], -1).gather(1, torch.tensor(win[1:])[:, None])[:, 0]
            got, _ = decode_window(net, win, {"type": "full"}, 1)
            err = float((torch.tensor(got) - want).abs().max())
            # transformers' eager attention takes its softmax in float32 and its rotary tables are
            # float32: agreement to ~1e-6 is all a float64 run of it can show
            assert err < 1e-5, "%s: hand-run decode differs from transformers by %g" % (name, err)
        cases = []
        for policy, prompt in POLICIES:
            nll, gap = [], None
            for w in range(WINDOWS):
                part, g = decode_window(net, tokens[w * LENGTH:(w + 1) * LENGTH], policy, prompt)
                nll += part
                if g is not None:
                    gap = g if gap is None else min(gap, g)
            assert gap is None or gap > MIN_GAP, "%s %s: h2o scores %g apart" % (name, policy, gap)
            spec = dict(policy, name=policy["type"])
            cases.append({"cache": spec, "prompt": prompt, "nll": nll})
            print("%s %s prompt %d: mean nll %.6f%s" % (name, json.dumps(policy), prompt,
                  sum(nll) / len(nll), "" if gap is None else ", h2o gap %.2g" % gap))
        with open(os.path.join(OUT, name, "decode.json"), "w") as f:
            json.dump({"tokens": tokens, "length": LENGTH, "windows": WINDOWS, "cases": cases}, f)
            f.write("\n")


if __name__ == "__main__":
    main()
