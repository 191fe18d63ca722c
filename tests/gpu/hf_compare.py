#!/usr/bin/env python3
"""CUDA engine against transformers running on the same GPU, on the parity fixtures' checkpoints.

Reads the per-token NLLs that `test_parity_gpu --nll-out FILE` wrote (one JSON line per case and
dtype: {"case", "model_dir", "dtype", "nll"}), runs each checkpoint with transformers
(AutoModelForCausalLM, attn_implementation="eager") on cuda in the same dtype over the fixture's
tokens (parity.json beside model_dir), and prints a markdown table: PPL of both, relative PPL
difference, max |dNLL|. transformers in bf16/fp16 keeps its activations and residual stream in
that dtype, where bench keeps fp32 and rounds only the products' inputs, so those rows differ by
more than CUDA vs the CPU engine does; bounds: fp32 max |dNLL| <= 1e-3, bf16/fp16 PPL rel <= 2%
(about 5u of bf16, u = 2^-8: both sides round every product input, transformers also every
activation, to the dtype; far looser than needed for fp16, u = 2^-11).

Usage (on the GPU machine, from the repository root):
    python3 tests/gpu/hf_compare.py build/gpu-nll.jsonl
Exit status 1 when a row is outside its bound, 2 when torch/transformers or CUDA are missing.
"""
import json
import math
import os
import sys

try:
    import torch
    from transformers import AutoModelForCausalLM
except ImportError as e:  # pragma: no cover - depends on the machine
    print(f"hf_compare: {e}", file=sys.stderr)
    sys.exit(2)

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


def load(model_dir, dtype):
    try:
        m = AutoModelForCausalLM.from_pretrained(model_dir, dtype=dtype, attn_implementation="eager")
    except TypeError:  # transformers 4.x spelling
        m = AutoModelForCausalLM.from_pretrained(model_dir, torch_dtype=dtype,
                                                 attn_implementation="eager")
    return m.to("cuda").eval()


def hf_nll(model_dir, tokens, dtype):
    m = load(model_dir, dtype)
    ids = torch.tensor([tokens], device="cuda")
    with torch.no_grad():
        logits = m(ids).logits[0].float()
    lp = torch.log_softmax(logits, dim=-1)
    nll = -lp[:-1].gather(1, ids[0, 1:, None])[:, 0]
    del m
    torch.cuda.empty_cache()
    return nll.double().cpu().tolist()


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    if not torch.cuda.is_available():
        print("hf_compare: torch sees no CUDA device", file=sys.stderr)
        return 2
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    rows = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
    print(f"\n## CUDA vs transformers {__import__('transformers').__version__} on the same GPU "
          f"({torch.cuda.get_device_name(0)}, torch {torch.__version__}, eager attention)\n")
    print("| case | dtype | PPL transformers | PPL bench | PPL rel | max abs dNLL | bound | status |")
    print("|---|---|---|---|---|---|---|---|")
    failed = 0
    for r in rows:
        fixture = os.path.join(os.path.dirname(r["model_dir"]), "parity.json")
        tokens = json.load(open(fixture))["tokens"]
        ref = hf_nll(r["model_dir"], tokens, DTYPES[r["dtype"]])
        got = r["nll"]
        n = min(len(ref), len(got))
        p_ref = math.exp(sum(ref[:n]) / n)
        p = math.exp(sum(got[:n]) / n)
        rel = abs(p / p_ref - 1.0)
        dmax = max(abs(a - b) for a, b in zip(ref[:n], got[:n]))
        if r["dtype"] == "fp32":
            ok, bound = dmax <= 1e-3, "dNLL 1e-3"
        else:
            ok, bound = rel <= 2e-2, "rel 2e-2"
        failed += not ok
        print(f"| {r['case']} | {r['dtype']} | {p_ref:.4f} | {p:.4f} | {rel:.2e} | {dmax:.2e} | "
              f"{bound} | {'ok' if ok else '**FAIL**'} |")
    print(f"\n{len(rows) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
