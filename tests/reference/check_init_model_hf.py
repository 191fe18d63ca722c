"""Checks that `bench init-model` checkpoints load in Hugging Face transformers exactly.

For every architecture, both config.json spellings (transformers 4.x and 5.x), each dtype and a
sharded variant: AutoModelForCausalLM.from_pretrained loads without missing or unexpected
weights, every tensor equals the file's, the config reads back as written (theta, partial rotary,
kv heads, tied head), AutoTokenizer loads tokenizer.json, and a forward pass gives finite logits.
Needs torch + transformers, so it is not part of `make test`; run it by hand after changing
engine/model/model_init.c or engine/tokenizer/tokenizer_init.c:

    make && /work/refenv/bin/python tests/reference/check_init_model_hf.py ./bench

It prints one line per checkpoint and "all N checkpoints ok" at the end (exit 1 otherwise).
"""
import glob
import os
import subprocess
import sys
import tempfile
import warnings

import torch
from safetensors import safe_open
from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer
from transformers.utils import logging

warnings.filterwarnings("ignore")
logging.set_verbosity_error()

CASES = [
    # (arch, extra flags)
    ("llama", []),
    ("llama", ["--dtype", "bf16", "--shards", "3", "--rope-theta", "500000",
               "--rope-scaling", '{"rope_type":"llama3","factor":8.0,"low_freq_factor":1.0,'
               '"high_freq_factor":4.0,"original_max_position_embeddings":1024}']),
    ("mistral", ["--dtype", "fp16", "--sliding-window", "64"]),
    ("qwen2", []),
    ("qwen2", ["--tie-embeddings", "0", "--heads", "8", "--kv-heads", "2"]),
    ("gpt_neox", []),
    ("gpt_neox", ["--rotary-pct", "0.5", "--rope-theta", "20000", "--dtype", "bf16", "--shards", "2"]),
]


def check(bench, root, arch, flags, style):
    name = f"{arch}-v{style}-{len(os.listdir(root))}"
    d = os.path.join(root, name)
    subprocess.run([bench, "init-model", d, "--arch", arch, "--config-style", str(style)] + flags,
                   check=True, stdout=subprocess.DEVNULL)
    cfg = AutoConfig.from_pretrained(d)
    model, info = AutoModelForCausalLM.from_pretrained(d, dtype=torch.float32, output_loading_info=True)
    problems = [f"{k}: {v}" for k, v in info.items() if v and k != "mismatched_keys"]
    problems += [f"mismatched: {v}" for v in info.get("mismatched_keys", []) if v]
    state = model.state_dict()
    n = 0
    for path in glob.glob(os.path.join(d, "*.safetensors")):
        with safe_open(path, "pt") as f:
            for key in f.keys():
                mkey = key
                if key == "embed_out.weight" and key not in state:
                    mkey = "lm_head.weight"  # transformers 5 renames GPT-NeoX's head
                if mkey not in state:
                    problems.append(f"{key} not in the model")
                elif not torch.equal(state[mkey], f.get_tensor(key).float()):
                    problems.append(f"{key} differs")
                n += 1
    rope = getattr(cfg, "rope_parameters", None) or {}
    theta = rope.get("rope_theta", getattr(cfg, "rope_theta", None))
    want_theta = float(flags[flags.index("--rope-theta") + 1]) if "--rope-theta" in flags else 10000.0
    if theta != want_theta:
        problems.append(f"rope theta {theta}, wrote {want_theta}")
    if "--rope-scaling" in flags and rope.get("rope_type") != "llama3":
        problems.append(f"rope type {rope}")
    if "--rotary-pct" in flags and rope.get("partial_rotary_factor") != 0.5:
        problems.append(f"partial rotary factor {rope}")
    if "--kv-heads" in flags and cfg.num_key_value_heads != int(flags[flags.index("--kv-heads") + 1]):
        problems.append(f"kv heads {cfg.num_key_value_heads}")
    if "--sliding-window" in flags and cfg.sliding_window != 64:
        problems.append(f"sliding window {cfg.sliding_window}")
    tok = AutoTokenizer.from_pretrained(d)
    ids = tok("The ferry left the harbour at seven.")["input_ids"]
    with torch.no_grad():
        logits = model(torch.tensor([ids])).logits
    if not torch.isfinite(logits).all():
        problems.append("non-finite logits")
    print(f"{name:24s} {type(model).__name__:20s} tensors {n:3d}  ids {len(ids):2d}  "
          f"{'ok' if not problems else 'FAILED: ' + '; '.join(problems)}")
    return not problems


def main():
    bench = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "./bench")
    ok = total = 0
    with tempfile.TemporaryDirectory() as root:
        for style in (4, 5):
            for arch, flags in CASES:
                total += 1
                ok += check(bench, root, arch, flags, style)
    print(f"all {total} checkpoints ok" if ok == total else f"{total - ok} of {total} checkpoints FAILED")
    sys.exit(0 if ok == total else 1)


if __name__ == "__main__":
    main()
