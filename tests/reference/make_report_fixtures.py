#!/usr/bin/env python3
"""Writes tests/fixtures/reports/lab_notes/: a results directory (suite.yaml, manifest.json,
jobs/*.json in the "bench.job/1" schema) built from the lab notes' own numbers, for the report
and compare tests.

Regenerate (standard library only, deterministic):
    python3 tests/reference/make_report_fixtures.py

Where the numbers come from (../shared/seeds/):
  000  Phase 1A  PPL@2048 / PPL@16384 of geo_500k, geo_1M, geo_2M, anchored_x20 (ratios 23.58x,
                 2.29x, 0.83x, 1.71x); Phase 1B the length grid 8k..49k of geo_500k and
                 anchored_x20 (its 2k and 16k cells are the 1A jobs, shared); Phase 2 mean±std at
                 16384 (194.96±48.35, 15.44±2.84: three seeds m−s, m, m+s give exactly that mean
                 and sample std) and one seed at 49152 (3810.99, 1503.95). The note's "49k OOMs on
                 the A100 95GB" appears as the other two seeds at 49152 with status oom.
  001  Llama-3-8B baseline vs compression cf=1.5 / cf=2.0 at 16k..49k (best improvement 1%, 5%,
       8%, 35%, 40%); Qwen2.5-7B where compression never applied (all three equal).
  003  the three finalists at 2048 / 16384, seed 42 only: the 3-seed run was partial, so the
       verdict is "not yet proven".
NLL-by-position profiles are not in the notes: they are drawn as a smooth rise whose mean is
the job's log PPL, only so that the figure has data.
"""
import hashlib
import json
import math
import os
import shutil

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "fixtures", "reports", "lab_notes")

SUITE = """\
# lab_notes — the lab notes' experiments as one suite, for the report tests (results are
# written by tests/reference/make_report_fixtures.py, not by running it).
suite: lab_notes
title: Long-context RoPE experiments from the lab notes

defaults:
  model: llama3_8b
  dataset: pg19
  protocol: random
  windows: 10
  lengths: [2048, 16384]
  seeds: [42]
  rope: geo_500k
  cache: full
  dtype: bf16
  device: auto
  base_length: 2048

models:
  llama3_8b: { path: "${BENCH_MODELS}/Meta-Llama-3-8B-Instruct" }
  qwen25_7b: { path: "${BENCH_MODELS}/Qwen2.5-7B-Instruct" }
  tiny50m:   { path: "${BENCH_MODELS}/tinystories-50.9M" }

datasets:
  pg19:        { path: "${BENCH_DATA}/pg19-validation.jsonl", field: text }
  tinystories: { path: "${BENCH_DATA}/TinyStories-valid.txt" }

rope:
  native:       { type: model }
  geo_500k:     { type: geometric, theta: 500000 }
  geo_1M:       { type: geometric, theta: 1000000 }
  geo_2M:       { type: geometric, theta: 2000000 }
  anchored_x20: { type: anchored_sigmoid, theta: 500000, anchor_factor: 20, anchor_dim: 16, slope: 0.5 }
  hybrid:       { type: compress, base: native, threshold: 8192, factor: [1.5, 2.0] }
  hybrid_a0.2_t100k:          { type: hybrid, theta: 100000, alpha: 0.2, p: 3.9, omf: 0.3 }
  anchpoly_p3.9_omf0.3_t500k: { type: anchored_poly, theta: 500000, p: 3.9, omf: 0.3 }

cache:
  full: { type: full }

report_options: { severe: 10, boundary: 5 }

phases:
  - id: 1A
    title: θ ceiling control
    rope: [geo_500k, geo_1M, geo_2M, anchored_x20]
    lengths: [2048, 16384]
    report:
      - { table: collapse, at: 16384 }
      - { table: leaderboard, at: 16384 }
      - { plot: rope_spectrum }

  - id: 1B
    title: full-length boundary scan
    rope: [geo_500k, anchored_x20]
    lengths: [2048, 8192, 16384, 24576, 32768, 49152]
    report:
      - { table: lengths }
      - { plot: ppl_vs_length }
      - { plot: collapse_vs_length }
      - { plot: nll_vs_position }

  - id: "2"
    title: multi-seed robustness
    rope: [geo_500k, anchored_x20]
    windows: 5
    lengths: [16384, 49152]
    seeds: [42, 123, 7]
    base_length: 16384
    report:
      - { table: seeds }
      - { plot: ppl_vs_length }

  - id: llama
    title: Hybrid-RoPE on Llama-3-8B-Instruct, 16k to 49k
    protocol: chunks
    windows: 4
    base_length: 16384
    rope: [native, hybrid]
    lengths: [16384, 20480, 24576, 28672, 32768, 40960, 49152]
    report:
      - { table: improvement, baseline: native }
      - { plot: ppl_vs_length }
      - { plot: ppl_vs_param, param: factor }

  - id: qwen
    title: Hybrid-RoPE on Qwen2.5-7B-Instruct, 4k to 40k
    model: qwen25_7b
    protocol: chunks
    windows: 4
    base_length: 4096
    rope: [native, hybrid]
    lengths: [4096, 8192, 16384, 24576, 32768, 40960]
    report:
      - { table: improvement, baseline: native }

  - id: seeds3
    title: 3 configs × 3 seeds (TinyStories 50.9M)
    model: tiny50m
    dataset: tinystories
    protocol: chunks
    lengths: [2048, 16384]
    seeds: [42, 123, 7]
    rope: [geo_500k, hybrid_a0.2_t100k, anchpoly_p3.9_omf0.3_t500k]
    report:
      - { table: verdict, baseline: geo_500k, at: 16384 }
      - { table: seeds }
"""

ROPE = {
    "native": {"type": "model"},
    "geo_500k": {"type": "geometric", "theta": 500000},
    "geo_1M": {"type": "geometric", "theta": 1000000},
    "geo_2M": {"type": "geometric", "theta": 2000000},
    "anchored_x20": {"type": "anchored_sigmoid", "theta": 500000, "anchor_factor": 20,
                     "anchor_dim": 16, "slope": 0.5},
    "hybrid[factor=1.5]": {"type": "compress", "base": {"name": "native", "type": "model"},
                           "threshold": 8192, "factor": 1.5},
    "hybrid[factor=2.0]": {"type": "compress", "base": {"name": "native", "type": "model"},
                           "threshold": 8192, "factor": 2.0},
    "hybrid_a0.2_t100k": {"type": "hybrid", "theta": 100000, "alpha": 0.2, "p": 3.9, "omf": 0.3},
    "anchpoly_p3.9_omf0.3_t500k": {"type": "anchored_poly", "theta": 500000, "p": 3.9, "omf": 0.3},
}

T0 = 1771030260  # 2026-02-14T00:51:00Z
clock = [T0]


def iso(t):
    import time
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def nll_profile(ppl, length, collapse_from):
    """Buckets every length/16 tokens: flat, then a logistic rise past collapse_from, mean = ln ppl."""
    step = length // 16
    pos = [i * step for i in range(16)]
    shape = [1.0 / (1.0 + math.exp(min(60.0, -(p - collapse_from) / (0.08 * length)))) for p in pos]
    target = math.log(ppl)
    mean_shape = sum(shape) / len(shape)
    flat = min(2.3, target) if mean_shape > 1e-6 else target
    amp = (target - flat) / mean_shape if mean_shape > 1e-6 else 0.0
    return [[p, round(flat + amp * s, 4)] for p, s in zip(pos, shape)]


def job(phase, model, dataset, rope, length, seed, protocol, windows, status, ppl=None, error=None,
        collapse_from=None, device="cuda:0"):
    spec = {"model": model, "dataset": dataset, "rope": dict(name=rope, **ROPE[rope]),
            "cache": {"name": "full", "type": "full"}, "length": length, "seed": seed,
            "protocol": protocol, "windows": windows, "dtype": "bf16", "device": device}
    ident = dict(spec)
    del ident["device"]
    job_id = hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()[:16]
    wall = round(windows * length / 38000.0, 2)
    start = clock[0]
    clock[0] += int(math.ceil(wall)) + 2
    metrics = None
    if status == "ok":
        nll = math.log(ppl)
        tokens = windows * (length - 1)
        metrics = {"ppl": ppl, "nll": round(nll, 6), "nll_stderr": round(1.2 / math.sqrt(tokens), 6),
                   "tokens": tokens, "acc": round(max(0.02, 0.62 - 0.08 * nll), 4),
                   "tokens_per_s": round(tokens / wall, 1), "peak_mem_bytes": length * 131072 + 16 * 2**30,
                   "kv_peak_tokens": length, "wall_s": wall,
                   "nll_by_position": nll_profile(ppl, length, collapse_from or 10 * length),
                   "window_ppl": [round(ppl * f, 3) for f in (0.94, 1.03, 0.99, 1.04)][:min(4, windows)]}
    return {"schema": "bench.job/1", "job_id": job_id, "suite": "lab_notes", "phase": phase,
            "spec": spec, "status": status, "error": error, "metrics": metrics,
            "started": iso(start), "finished": iso(clock[0])}


def main():
    jobs = []
    L8 = "llama3_8b"
    # seed 000, Phase 1A (shared with 1B at 2048 and 16384)
    p1a = {"geo_500k": (11.125, 262.278, 12000), "geo_1M": (11.118, 25.475, 14000),
           "geo_2M": (11.115, 9.264, 10 ** 9), "anchored_x20": (11.122, 19.041, 16000)}
    for rope, (short, long_, cf) in p1a.items():
        jobs.append(job("1A", L8, "pg19", rope, 2048, 42, "random", 10, "ok", short))
        jobs.append(job("1A", L8, "pg19", rope, 16384, 42, "random", 10, "ok", long_, collapse_from=cf))
    # Phase 1B: the other lengths
    p1b = {"geo_500k": {8192: 9.52, 24576: 1375.0, 32768: 2345.0, 49152: 3811.0},
           "anchored_x20": {8192: 9.41, 24576: 138.3, 32768: 636.5, 49152: 1503.9}}
    for rope, row in p1b.items():
        cf = 12000 if rope == "geo_500k" else 20000
        for length, ppl in row.items():
            jobs.append(job("1B", L8, "pg19", rope, length, 42, "random", 10, "ok", ppl, collapse_from=cf))
    # Phase 2: three seeds at 16384 with the note's mean±std; one seed at 49152, the others OOM
    for rope, (m, s, at49) in {"geo_500k": (194.96, 48.35, 3810.99), "anchored_x20": (15.44, 2.84, 1503.95)}.items():
        for seed, v in zip((42, 123, 7), (m - s, m, m + s)):
            jobs.append(job("2", L8, "pg19", rope, 16384, seed, "random", 5, "ok", round(v, 2)))
        jobs.append(job("2", L8, "pg19", rope, 49152, 42, "random", 5, "ok", at49))
        for seed in (123, 7):
            jobs.append(job("2", L8, "pg19", rope, 49152, seed, "random", 5, "oom",
                            error="CUDA out of memory: tried to allocate 24.00 GiB on cuda:0"))
    # seed 001: Llama (improvement) and Qwen (compression never applied)
    lengths = [16384, 20480, 24576, 28672, 32768, 40960, 49152]
    llama = {"native": [2.15, 3.34, 5.59, 8.63, 14.04, 37.93, 69.79],
             "hybrid[factor=1.5]": [2.17, 3.34, 5.56, 8.19, 12.88, 25.24, 49.49],
             "hybrid[factor=2.0]": [2.25, 3.76, 5.99, 9.03, 13.08, 24.71, 41.86]}
    for rope, row in llama.items():
        for length, ppl in zip(lengths, row):
            jobs.append(job("llama", L8, "pg19", rope, length, 42, "chunks", 4, "ok", ppl))
    qwen = [1.188, 1.093, 1.047, 1.031, 1.024, 1.019]
    for rope in ("native", "hybrid[factor=1.5]", "hybrid[factor=2.0]"):
        for length, ppl in zip([4096, 8192, 16384, 24576, 32768, 40960], qwen):
            jobs.append(job("qwen", "qwen25_7b", "pg19", rope, length, 42, "chunks", 4, "ok", ppl))
    # seed 003: the three finalists, seed 42 only (the 3-seed run was partial)
    for rope, (short, long_), dev in [("geo_500k", (6.804, 16.991), "cuda:0"),
                                      ("hybrid_a0.2_t100k", (6.658, 16.316), "cuda:1"),
                                      ("anchpoly_p3.9_omf0.3_t500k", (6.578, 16.459), "cuda:0")]:
        jobs.append(job("seeds3", "tiny50m", "tinystories", rope, 2048, 42, "chunks", 10, "ok", short, device=dev))
        jobs.append(job("seeds3", "tiny50m", "tinystories", rope, 16384, 42, "chunks", 10, "ok", long_, device=dev))

    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    os.makedirs(os.path.join(OUT, "jobs"))
    with open(os.path.join(OUT, "suite.yaml"), "w") as f:
        f.write(SUITE)
    ids = set()
    for j in jobs:
        assert j["job_id"] not in ids, j["job_id"]
        ids.add(j["job_id"])
        with open(os.path.join(OUT, "jobs", j["job_id"] + ".json"), "w") as f:
            json.dump(j, f, indent=1, ensure_ascii=False)
            f.write("\n")
    manifest = {
        "schema": "bench.manifest/1", "bench_version": "0.1.0", "git_commit": "0123456789ab",
        "suite": "lab_notes", "suite_path": "suites/lab_notes.yaml",
        "suite_sha256": hashlib.sha256(SUITE.encode()).hexdigest(),
        "host": "autodl-a100", "cpu": "Intel Xeon Platinum 8358P", "gpu": "NVIDIA A100 95GB",
        "driver": "550.54.15", "cuda": "12.4", "started": iso(T0), "finished": iso(clock[0]),
        "models": {"llama3_8b": {"fingerprint": hashlib.sha256(b"llama3_8b").hexdigest()},
                   "qwen25_7b": {"fingerprint": hashlib.sha256(b"qwen25_7b").hexdigest()},
                   "tiny50m": {"fingerprint": hashlib.sha256(b"tiny50m").hexdigest()}},
        "datasets": {"pg19": {"fingerprint": hashlib.sha256(b"pg19").hexdigest()},
                     "tinystories": {"fingerprint": hashlib.sha256(b"tinystories").hexdigest()}},
    }
    with open(os.path.join(OUT, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
    print(f"wrote {len(jobs)} job results to {os.path.relpath(OUT, os.path.dirname(ROOT))}")


if __name__ == "__main__":
    main()
