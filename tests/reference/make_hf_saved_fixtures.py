"""Writes tests/fixtures/hf_saved/<arch>/: tiny checkpoints saved by transformers itself.

Each starts as a `bench init-model` checkpoint (fp32, seed 123, the sizes below), is loaded with
AutoModelForCausalLM and saved again with save_pretrained in bfloat16, sharded into several files
(config.json in the installed transformers' spelling). tests/unit/test_model.c then checks that
the loader reads these transformers-written files and gets exactly the bf16 rounding of the
weights `bench init-model --dtype bf16` writes for the same seed.

Regenerate (needs torch + transformers):

    make && /work/refenv/bin/python tests/reference/make_hf_saved_fixtures.py ./bench
"""
import os
import shutil
import subprocess
import sys
import tempfile
import warnings

import torch
from transformers import AutoModelForCausalLM
from transformers.utils import logging

warnings.filterwarnings("ignore")
logging.set_verbosity_error()

# Keep in step with hf_saved_flags() in tests/unit/test_model.c.
SIZES = ["--layers", "1", "--hidden", "16", "--heads", "2", "--intermediate", "32", "--vocab", "257",
         "--seed", "123"]
ARCHS = {"llama": ["--kv-heads", "1"], "qwen2": ["--kv-heads", "1"], "gpt_neox": ["--rotary-pct", "0.5"]}


def main():
    bench = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "./bench")
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "hf_saved")
    with tempfile.TemporaryDirectory() as tmp:
        for arch, extra in ARCHS.items():
            src = os.path.join(tmp, arch)
            subprocess.run([bench, "init-model", src, "--arch", arch] + SIZES + extra, check=True,
                           stdout=subprocess.DEVNULL)
            model = AutoModelForCausalLM.from_pretrained(src, dtype=torch.float32)
            out = os.path.join(root, arch)
            shutil.rmtree(out, ignore_errors=True)
            model.to(torch.bfloat16).save_pretrained(out, max_shard_size="8KB")
            print(arch, sorted(os.listdir(out)))


if __name__ == "__main__":
    main()
