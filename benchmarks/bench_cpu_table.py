#!/usr/bin/env python3
"""`make bench-cpu`'s comparison: bench beside transformers (torch sdpa, fp32) and llama.cpp
(llama-cpp-python, F32 GGUF) on one random Llama checkpoint, on the CPU, as one markdown table.

Each measurement is its own process (its peak RSS read from wait4); the programs take turns within
each repetition (the order rotates), and every cell is the median over the repetitions.
Rows: PPL windows of each --windows length (tokens/s, GFLOP/s by bench's forward_flops count, its
fraction of the sgemm peak) and batch-1 teacher-forced decode under the full cache (tokens/s, the
GB/s a step must move — weights once plus the held keys and values — and its fraction of the
measured copy bandwidth). The ceilings (sgemm GFLOP/s, copy GB/s) come from bench_gpu --device cpu.

Usage: benchmarks/bench_cpu_table.py [--quick] [--reps N] [--threads N] [--windows 512,2048,..]
           [--parts window,decode,attention]
           [--decode-prompt P] [--decode-steps S] [--out FILE] [--venv DIR] [--work DIR]
Only the standard library here; the peers run in --venv's python (benchmarks/bench_cpu_setup.sh
installs them; a peer that is missing or fails gets its reason in the table).
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The default checkpoint: a 12-layer Llama of ~125M parameters (hidden 768, vocab 32000), as in
# the measurements of the issue that asked for this table; --quick: 4 layers, hidden 256.
FULL = dict(layers=12, hidden=768, heads=12, kv=12, inter=2048, vocab=32000)
QUICK = dict(layers=4, hidden=256, heads=4, kv=4, inter=768, vocab=4096)
TINY = dict(layers=2, hidden=64, heads=4, kv=4, inter=172, vocab=512)  # the script's own test


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="small model, windows 512 and 2048, 1 repetition")
    p.add_argument("--tiny", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--reps", type=int, default=None)
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    p.add_argument("--windows", default=None, help="comma-separated window lengths")
    p.add_argument("--parts", default="window,decode,attention",
                   help="which rows: a comma-separated subset of window,decode,attention")
    p.add_argument("--decode-prompt", type=int, default=256)
    p.add_argument("--decode-steps", type=int, default=256)
    p.add_argument("--out", default=os.path.join(ROOT, "reports/perf/CPU.md"))
    p.add_argument("--venv", default=os.path.join(ROOT, "build/bench-venv"))
    p.add_argument("--work", default=os.path.join(ROOT, "build/bench-cpu"))
    a = p.parse_args(argv)
    a.shape = TINY if a.tiny else QUICK if a.quick else FULL
    a.quick = a.quick or a.tiny
    a.reps = a.reps or (1 if a.quick else 3)
    w = a.windows or ("512,2048" if a.quick else "512,2048,8192,16384")
    try:
        a.windows = [int(x) for x in w.split(",") if x.strip()]
    except ValueError:
        p.error(f"--windows '{w}': a list like 512,2048")
    a.parts = [x.strip() for x in a.parts.split(",") if x.strip()]
    if not a.parts or any(x not in ("window", "decode", "attention") for x in a.parts):
        p.error(f"--parts '{','.join(a.parts)}': a subset of window,decode,attention")
    if a.reps < 1 or a.threads < 1 or not a.windows or min(a.windows) < 2 or a.decode_prompt < 2 or a.decode_steps < 1:
        p.error("--reps, --threads and --decode-steps need ≥ 1, windows and --decode-prompt ≥ 2")
    return a


def measured(cmd, env=None, timeout=7200):
    """Runs cmd; returns (rc, stdout, stderr, peak RSS bytes of that process, from wait4)."""
    import tempfile
    with tempfile.TemporaryFile("w+") as fo, tempfile.TemporaryFile("w+") as fe:
        p = subprocess.Popen(cmd, stdout=fo, stderr=fe, env=env, text=True)
        deadline = time.time() + timeout
        while True:
            pid, status, ru = os.wait4(p.pid, os.WNOHANG)
            if pid:
                break
            if time.time() > deadline:
                p.kill()
                pid, status, ru = os.wait4(p.pid, 0)
                break
            time.sleep(0.05)
        p.returncode = os.waitstatus_to_exitcode(status)
        fo.seek(0)
        fe.seek(0)
        return p.returncode, fo.read(), fe.read(), ru.ru_maxrss * 1024


def peer_env(a):
    """The peers' environment: the threads bench runs with, and bench's way of waiting (asleep,
    OMP_WAIT_POLICY=passive, unless the user set a policy), so that all three wait alike."""
    env = dict(os.environ, OMP_NUM_THREADS=str(a.threads))
    if "OMP_WAIT_POLICY" not in env and "GOMP_SPINCOUNT" not in env:
        env["OMP_WAIT_POLICY"] = "passive"
    return env


def last_json(text):
    for line in reversed(text.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                return json.loads(line)
            except ValueError:
                pass
    return None


class Bench:
    """The three programs: each returns {tokens_per_s, rss, ppl} or {error}."""

    def __init__(self, a, model, gguf, tokens):
        self.a, self.model, self.gguf, self.tokens = a, model, gguf, tokens
        self.py = os.path.join(a.venv, "bin", "python")
        self.bin = os.path.join(ROOT, "build/release/bench_gpu")

    def bench(self, kind, T):
        a = self.a
        j = os.path.join(a.work, "bench.json")
        if kind == "attention":
            cmd = [self.bin, "--model", self.model, "--device", "cpu", "--dtype", "fp32", "--reps", "3",
                   "--gemm-size", "256", "--copy-mib", "16", "--window", str(T), "--attention-only", "--json", j]
            rc, out, err, rss = measured(cmd, dict(os.environ, OMP_NUM_THREADS=str(a.threads)))
            try:
                rows = [x for x in json.load(open(j)).get("attention", []) if "tflops" in x]
            except (OSError, ValueError):
                return {"error": f"bench_gpu exit {rc}: {err.strip()[-200:]}"}
            if not rows:
                return {"error": "no attention result"}
            best = rows[0]  # the widest vector width this CPU runs: the one bench uses
            return {"gflops": best["tflops"] * 1e3, "kernel": best["kernel"],
                    "others": {x["kernel"]: x["tflops"] * 1e3 for x in rows if x is not best}}
        if kind == "window":
            extra = ["--window", str(T), "--decode-batches", "1", "--decode-steps", "1", "--decode-prompt", "8"]
        else:
            extra = ["--window", "64", "--decode-batches", "1", "--decode-prompt", str(a.decode_prompt),
                     "--decode-steps", str(a.decode_steps)]
        cmd = [self.bin, "--model", self.model, "--device", "cpu", "--dtype", "fp32", "--reps", "1",
               "--long", "0", "--no-attention", "--gemm-size", "256", "--copy-mib", "16",
               "--cache", '{"type":"full"}', "--json", j] + extra
        env = dict(os.environ, OMP_NUM_THREADS=str(a.threads))
        rc, out, err, rss = measured(cmd, env)
        try:
            r = json.load(open(j))
        except (OSError, ValueError):
            return {"error": f"bench_gpu exit {rc}: {err.strip()[-200:]}"}
        if kind == "window":
            w = r.get("window", [{}])[0]
            if "tokens_per_s" not in w:
                return {"error": w.get("error", "no window result")}
            return {"tokens_per_s": w["tokens_per_s"] * (T - 1) / T, "ppl": w.get("ppl"), "rss": rss,
                    "flops": w.get("flops")}
        d = [x for x in r.get("decode", []) if x.get("kind") == "decode"]
        if not d or "tokens_per_s" not in d[0]:
            return {"error": (d[0].get("error") if d else None) or "no decode result"}
        return {"tokens_per_s": d[0]["tokens_per_s"], "rss": rss, "bytes_per_step": d[0]["bytes_per_step"]}

    def peer(self, name, kind, T):
        a = self.a
        if not os.path.exists(self.py):
            return {"error": f"{a.venv} missing: run benchmarks/bench_cpu_setup.sh"}
        model = self.gguf if name == "llama" else self.model
        if model is None:
            return {"error": "no GGUF (gguf did not install or the conversion failed)"}
        n = a.decode_prompt + a.decode_steps if kind == "decode" else T
        cmd = [self.py, os.path.join(ROOT, "benchmarks/bench_cpu_peers.py"), name, "--model", model,
               "--tokens", self.tokens, "--kind", kind, "--T", str(n), "--prompt", str(a.decode_prompt),
               "--threads", str(a.threads)]
        rc, out, err, rss = measured(cmd, peer_env(a))
        r = last_json(out) or {"error": f"exit {rc}: {err.strip()[-200:]}"}
        if "error" not in r and r.get("T", n) != n:
            r = {"error": f"measured {r.get('T')} tokens, not {n}"}
        r["rss"] = rss
        return r


def prepare(a):
    os.makedirs(a.work, exist_ok=True)
    s = a.shape
    model = os.path.join(a.work, "model-" + "-".join(str(s[k]) for k in ("layers", "hidden", "vocab")))
    if not os.path.exists(os.path.join(model, "config.json")):
        subprocess.run([os.path.join(ROOT, "bench"), "init-model", model, "--arch", "llama",
                        "--layers", str(s["layers"]), "--hidden", str(s["hidden"]), "--heads", str(s["heads"]),
                        "--kv-heads", str(s["kv"]), "--intermediate", str(s["inter"]), "--vocab", str(s["vocab"]),
                        "--max-positions", "32768", "--force"], check=True, stdout=subprocess.DEVNULL)
    # ceilings (the big sizes, once) and the token ids every program scores
    j = os.path.join(a.work, "ceilings.json")
    tokens = os.path.join(a.work, "tokens.bin")
    need = max(max(a.windows), a.decode_prompt + a.decode_steps)
    env = dict(os.environ, OMP_NUM_THREADS=str(a.threads))
    subprocess.run([os.path.join(ROOT, "build/release/bench_gpu"), "--model", model, "--device", "cpu",
                    "--dtype", "fp32", "--window", str(need), "--reps", "1", "--long", "0", "--no-attention",
                    "--decode-batches", "1", "--decode-steps", "1", "--decode-prompt", "8",
                    "--gemm-size", "256" if a.tiny else "2048", "--copy-mib", "16" if a.tiny else "512",
                    "--json", j, "--tokens-out", tokens],
                   env=env, check=True, stdout=subprocess.DEVNULL)
    ceil = json.load(open(j))
    gguf = os.path.join(a.work, os.path.basename(model) + ".f32.gguf")
    py = os.path.join(a.venv, "bin", "python")
    if not os.path.exists(gguf) and os.path.exists(py):
        r = subprocess.run([py, os.path.join(ROOT, "benchmarks/bench_cpu_peers.py"), "gguf", model, gguf + ".tmp"],
                           capture_output=True, text=True)
        if r.returncode == 0:
            os.replace(gguf + ".tmp", gguf)
        else:
            print(f"bench: the GGUF conversion failed: {r.stderr.strip()[-300:]}", file=sys.stderr)
    return model, (gguf if os.path.exists(gguf) else None), tokens, ceil


def fmt(x, spec):
    return "—" if x is None else format(x, spec)


def attention_line(rs, T, p, peak):
    """One attention-alone row: the median GFLOP/s and its fraction of the sgemm peak; bench's at
    the widest vector width, the others named beside it."""
    ok = [r for r in rs if "gflops" in r]
    name = f"attention alone, {T} causal tokens"
    if not ok:
        why = rs[-1].get("error", "?") if rs else "not run"
        return f"| {name} | {p} | — | | | | | | {why} |"
    g = statistics.median(r["gflops"] for r in ok)
    note = ok[-1].get("kernel", "torch sdpa" if p == "transformers" else "")
    others = {}
    for r in ok:
        for kname, v in r.get("others", {}).items():
            others.setdefault(kname, []).append(v)
    if others:
        note += "; " + ", ".join(f"{kname}: {statistics.median(v):.1f} GFLOP/s" for kname, v in others.items())
    return f"| {name} | {p} | — | {g:.1f} | {fmt(g / peak if peak else None, '.2f')} | | | | {note} |"


def main(argv):
    a = parse_args(argv)
    if not os.access(os.path.join(ROOT, "build/release/bench_gpu"), os.X_OK):
        print("bench: error: build/release/bench_gpu is missing; run 'make bench-cpu'", file=sys.stderr)
        return 2
    model, gguf, tokens, ceil = prepare(a)
    peak = ceil["ceilings"]["gemm_tflops"] * 1e3
    bw = ceil["ceilings"]["copy_gbps"]
    weight_bytes = ceil["model"]["weight_bytes"]
    b = Bench(a, model, gguf, tokens)
    programs = ["bench", "transformers", "llama.cpp"]
    cases = [("window", T) for T in a.windows] + [("decode", a.decode_prompt + a.decode_steps)] + \
        [("attention", T) for T in a.windows]
    cases = [c for c in cases if c[0] in a.parts]
    results = {(k, T, p): [] for k, T in cases for p in programs}
    for rep in range(a.reps):
        for k, T in cases:
            order = programs[rep % 3:] + programs[:rep % 3]
            for p in order:
                if k == "attention" and p == "llama.cpp":  # no attention-only entry point
                    continue
                r = b.bench(k, T) if p == "bench" else b.peer("hf" if p == "transformers" else "llama", k, T)
                results[(k, T, p)].append(r)
                print(f"rep {rep + 1}/{a.reps} {k} {T} {p}: " +
                      (f"{r['tokens_per_s']:.1f} tokens/s, RSS {r.get('rss', 0) / 2**20:.0f} MiB"
                       if "tokens_per_s" in r else f"{r['gflops']:.1f} GFLOP/s" if "gflops" in r
                       else r.get("error", "?")), file=sys.stderr, flush=True)
    flops = {T: None for _, T in cases}
    bytes_step = None
    for (k, T, p), rs in results.items():
        for r in rs:
            if p == "bench" and k == "window" and r.get("flops"):
                flops[T] = r["flops"]
            if p == "bench" and k == "decode" and r.get("bytes_per_step"):
                bytes_step = r["bytes_per_step"]

    lines = []
    cpu = platform.processor() or "unknown cpu"
    try:
        cpu = next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short=12", "HEAD"], capture_output=True,
                            text=True).stdout.strip() or "unknown"
    s = a.shape
    lines.append("# CPU engine speed: bench, transformers and llama.cpp\n")
    lines.append(f"Machine: {platform.node()}, {cpu}, {os.cpu_count()} cores; {a.threads} threads each; "
                 f"load average at the end {os.getloadavg()[0]:.1f}; bench commit {commit}; "
                 f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.\n")
    lines.append(f"Checkpoint: random Llama, {s['layers']} layers, hidden {s['hidden']}, {s['heads']} heads, "
                 f"intermediate {s['inter']}, vocab {s['vocab']}: {weight_bytes / 1e6:.0f} MB of fp32 weights "
                 f"(`bench init-model`; the same safetensors for transformers, converted to an F32 GGUF for "
                 f"llama.cpp).\n")
    lines.append(f"Ceilings (bench_gpu --device cpu): sgemm {peak:.1f} GFLOP/s ({ceil['ceilings']['gemm_size']}³ through the engine's "
                 f"matmul), copy {bw:.1f} GB/s (bytes read + written). Decode roofline (batch 1, full "
                 f"cache): a step moves {fmt(bytes_step and bytes_step / 1e6, '.1f')} MB (weights once + the "
                 f"held keys and values), so at most "
                 f"{fmt(bytes_step and bw * 1e9 / bytes_step, '.1f')} tokens/s.\n")
    lines.append(f"Medians of {a.reps} repetition(s), the programs taking turns (order rotated each "
                 f"repetition); each measurement its own process, peak RSS of that process; every program "
                 f"with {a.threads} threads waiting asleep (OMP_WAIT_POLICY="
                 f"{os.environ.get('OMP_WAIT_POLICY', 'passive')}, bench's default). Windows: PPL of one "
                 f"window after a warm-up (scored predictions/s); decode: prompt {a.decode_prompt} prefilled, "
                 f"{a.decode_steps} teacher-forced steps of one token (tokens/s). GFLOP/s counts the same "
                 f"work for every program (bench's forward_flops). Attention alone: the model's heads over "
                 f"T causal tokens of random q, k, v in fp32, best of 3 per process (bench's CPU kernel; "
                 f"torch's scaled_dot_product_attention, which transformers' sdpa calls), 4·T²/2·H·D FLOPs.\n")
    lines.append("| measure | program | tokens/s | GFLOP/s | of sgemm peak | GB/s | of copy bandwidth | "
                 "peak RSS MiB | PPL |")
    lines.append("|---|---|---:|---:|---:|---:|---:|---:|---|")
    for k, T in cases:
        for p in programs:
            rs = results[(k, T, p)]
            if k == "attention":
                if p != "llama.cpp":
                    lines.append(attention_line(rs, T, p, peak))
                continue
            ok = [r for r in rs if "tokens_per_s" in r]
            name = f"window {T}" if k == "window" else f"decode (prompt {a.decode_prompt}, {a.decode_steps} steps)"
            if not ok:
                why = rs[-1].get("error", "?") if rs else "not run"
                lines.append(f"| {name} | {p} | — | | | | | | {why} |")
                continue
            tps = statistics.median(r["tokens_per_s"] for r in ok)
            rss = statistics.median(r["rss"] for r in ok) / 2**20 if all(r.get("rss") for r in ok) else None
            ppl = ok[-1].get("ppl")
            if k == "window" and flops[T]:
                g = flops[T] / (T / tps) / 1e9
                cells = [fmt(g, ".1f"), fmt(g / peak if peak else None, ".2f"), "", ""]
            elif k == "decode" and bytes_step:
                gbs = bytes_step * tps / 1e9
                cells = ["", "", fmt(gbs, ".1f"), fmt(gbs / bw if bw else None, ".2f")]
            else:
                cells = ["", "", "", ""]
            lines.append(f"| {name} | {p} | {tps:.1f} | " + " | ".join(cells) +
                         f" | {fmt(rss, '.0f')} | {fmt(ppl, '.2f')} |")
    text = "\n".join(lines) + "\n"
    print(text)
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    with open(a.out, "w") as f:
        f.write(text)
    print(f"bench: wrote {a.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
