#!/usr/bin/env python3
"""transformers' side of the engine speed comparison (benchmarks/bench_gpu.sh).

Loads a checkpoint with Hugging Face transformers (AutoModelForCausalLM, torch sdpa attention, in
the given dtype) on one device and scores the same tokens bench_gpu scored (its --tokens-out
file: int32 little-endian) the way a user measures perplexity with it: model(ids, labels=ids)
under torch.inference_mode(), one window of --window tokens (a warm-up, then the median of
--reps), then one window at each of --lengths (once each; out of memory is a result, not an
error). Also a bf16 matrix product of --gemm-size^3 through torch, as a second reading of the
GEMM ceiling. Writes JSON for benchmarks/perf_report.py.

Usage:
    python3 benchmarks/bench_hf.py --model DIR --tokens FILE --json OUT
        [--device cuda|cpu] [--dtype bf16|fp16|fp32] [--window T] [--reps N]
        [--lengths 32768,65536,131072] [--gemm-size S]
Exit status 2 when torch or transformers is missing (the JSON then says so).
"""
import argparse
import json
import math
import statistics
import sys
import time


def parse_args(argv):
    p = argparse.ArgumentParser(description="transformers' side of benchmarks/bench_gpu.sh")
    p.add_argument("--model", required=True)
    p.add_argument("--tokens", required=True, help="int32 little-endian token ids (bench_gpu --tokens-out)")
    p.add_argument("--json", required=True)
    p.add_argument("--device", default="cuda")
    p.add_argument("--dtype", default="bf16", choices=["bf16", "fp16", "fp32"])
    p.add_argument("--window", type=int, default=16384)
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--lengths", default="32768,65536,131072",
                   help="comma-separated window lengths tried once each ('' for none)")
    p.add_argument("--gemm-size", type=int, default=8192)
    a = p.parse_args(argv)
    try:
        a.lengths = [int(x) for x in a.lengths.split(",") if x.strip()]
    except ValueError:
        p.error(f"--lengths '{a.lengths}': a list like 32768,65536")
    if a.window < 2 or a.reps < 1 or any(x < 2 for x in a.lengths):
        p.error("--window and --lengths need at least 2 tokens, --reps at least 1")
    return a


def read_tokens(path):
    import array
    t = array.array("i")
    with open(path, "rb") as f:
        t.frombytes(f.read())
    if sys.byteorder != "little":
        t.byteswap()
    return t.tolist()


class Runner:
    def __init__(self, torch, device):
        self.torch = torch
        self.device = device
        self.cuda = device.startswith("cuda")

    def sync(self):
        if self.cuda:
            self.torch.cuda.synchronize()

    def reset_peak(self):
        if self.cuda:
            self.torch.cuda.empty_cache()
            self.torch.cuda.reset_peak_memory_stats()

    def peak(self):
        return int(self.torch.cuda.max_memory_allocated()) if self.cuda else 0

    def is_oom(self, e):
        oom = getattr(self.torch, "OutOfMemoryError", None) or getattr(self.torch.cuda, "OutOfMemoryError", None)
        return (oom is not None and isinstance(e, oom)) or "out of memory" in str(e).lower()


def score(run, model, tokens, T):
    """One window: seconds, PPL over T-1 predictions, peak bytes."""
    torch = run.torch
    ids = torch.tensor([tokens[:T]], device=run.device)
    run.reset_peak()
    run.sync()
    t0 = time.perf_counter()
    with torch.inference_mode():
        loss = model(ids, labels=ids).loss
        val = float(loss)  # waits for the device
    dt = time.perf_counter() - t0
    return dt, math.exp(val), run.peak()


def gemm_tflops(run, S, dtype):
    torch = run.torch
    if not run.cuda:
        return None
    a = torch.rand(S, S, device=run.device, dtype=dtype) - 0.5
    b = torch.rand(S, S, device=run.device, dtype=dtype) - 0.5
    for _ in range(5):
        a @ b
    ms = []
    for _ in range(20):
        s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        s.record()
        a @ b
        e.record()
        e.synchronize()
        ms.append(s.elapsed_time(e))
    del a, b
    torch.cuda.empty_cache()
    return 2.0 * S ** 3 / (statistics.median(ms) * 1e-3) / 1e12


def main(argv):
    a = parse_args(argv)
    out = {"model": a.model, "dtype": a.dtype, "attn_implementation": "sdpa"}
    try:
        import torch
        import transformers
        from transformers import AutoModelForCausalLM
    except ImportError as e:
        out["error"] = f"transformers side not run: {e}"
        with open(a.json, "w") as f:
            json.dump(out, f, indent=1)
        print(f"bench_hf: {e}", file=sys.stderr)
        return 2
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}[a.dtype]
    out["torch"] = torch.__version__
    out["transformers"] = transformers.__version__
    run = Runner(torch, a.device)
    if run.cuda:
        if not torch.cuda.is_available():
            out["error"] = "torch sees no CUDA device"
            with open(a.json, "w") as f:
                json.dump(out, f, indent=1)
            return 2
        out["device_name"] = torch.cuda.get_device_name(0)
        out["gemm_size"] = a.gemm_size
        out["gemm_tflops"] = gemm_tflops(run, a.gemm_size, dtype if dtype != torch.float32 else torch.bfloat16)
        print(f"torch {a.gemm_size}^3 GEMM: {out['gemm_tflops']:.1f} TFLOP/s", flush=True)
    tokens = read_tokens(a.tokens)
    need = max([a.window] + a.lengths)
    if len(tokens) < need:
        print(f"bench_hf: {a.tokens} holds {len(tokens)} tokens, {need} needed", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    try:
        model = AutoModelForCausalLM.from_pretrained(a.model, dtype=dtype, attn_implementation="sdpa")
    except TypeError:  # transformers 4.x spelling
        model = AutoModelForCausalLM.from_pretrained(a.model, torch_dtype=dtype, attn_implementation="sdpa")
    model = model.to(a.device).eval()
    out["load_seconds"] = time.perf_counter() - t0
    print(f"loaded in {out['load_seconds']:.1f} s", flush=True)

    w = {"T": a.window}
    try:
        score(run, model, tokens, a.window)  # warm-up
        times = []
        for _ in range(a.reps):
            dt, ppl, peak = score(run, model, tokens, a.window)
            times.append(dt)
        s = statistics.median(times)
        w.update(seconds=s, seconds_all=times, tokens_per_s=a.window / s, ppl=ppl, peak_bytes=peak)
        print(f"window {a.window}: {s:.3f} s, {a.window / s:.0f} tokens/s, peak "
              f"{peak / 2**30:.2f} GiB, PPL {ppl:.1f}", flush=True)
    except Exception as e:  # out of memory, or anything else: recorded
        w.update(error=str(e).splitlines()[0][:300], oom=run.is_oom(e))
        print(f"window {a.window}: {w['error']}", flush=True)
    out["window"] = w

    out["lengths"] = []
    for T in a.lengths:
        r = {"T": T}
        try:
            dt, ppl, peak = score(run, model, tokens, T)
            r.update(ok=True, seconds=dt, tokens_per_s=T / dt, ppl=ppl, peak_bytes=peak)
            print(f"length {T}: {dt:.2f} s, peak {peak / 2**30:.2f} GiB", flush=True)
        except Exception as e:
            r.update(ok=False, oom=run.is_oom(e), error=str(e).splitlines()[0][:300],
                     peak_bytes=run.peak())
            print(f"length {T}: {r['error']}", flush=True)
        out["lengths"].append(r)
        if run.cuda:
            torch.cuda.empty_cache()
    with open(a.json, "w") as f:
        json.dump(out, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
