#!/usr/bin/env python3
"""The engine speed report: bench_gpu's JSON (and bench_hf.py's, when given) as markdown tables.

Prints the report and, with --out, writes it (reports/perf/REPORT.md keeps the one that counts).
Sections: machine and model; the measured ceilings; one window scored by bench and by
transformers (tokens/s, model FLOP/s, MFU, peak memory, speed-up); the long window; peak memory
against weights + KV cache; decode against the memory-bandwidth roofline; the attention kernels;
the targets of the speed issue with their status. Only the standard library.

Usage: python3 benchmarks/perf_report.py ENGINE.json [--hf HF.json] [--out REPORT.md]
                                          [--command TEXT]
Exit status 2 when an input cannot be read.
"""
import argparse
import json
import sys

TARGET_MFU = 0.55
TARGET_SPEEDUP = 2.0
TARGET_DECODE_ROOF = 0.50
GIB = float(1 << 30)


def fmt(x, spec="{:.1f}", none="-"):
    return none if x is None else spec.format(x)


def gib(b):
    return None if b is None else b / GIB


def kv_bytes(model, T):
    return 2.0 * model["layers"] * T * model["kv_heads"] * model["head_dim"] * 4.0


def n_params(model):
    C, L, F, V = model["hidden"], model["layers"], model["intermediate"], model["vocab"]
    HD, KD = model["heads"] * model["head_dim"], model["kv_heads"] * model["head_dim"]
    return L * (2 * C * HD + 2 * C * KD + 3 * C * F) + 2 * V * C


def status(ok):
    return "met" if ok else "**not met**"


def report(eng, hf, command):
    out = []
    w = out.append
    dev, model, ceil = eng.get("device", {}), eng.get("model", {}), eng.get("ceilings", {})
    name = dev.get("name") or (hf or {}).get("device_name") or "unknown device"
    w("# Engine speed: bench against transformers\n")
    mem = dev.get("memory_bytes")
    parts = [f"**{name}** ({dev.get('device', '?')}"]
    if mem:
        parts.append(f", {mem / GIB:.1f} GiB")
    if dev.get("compute_capability"):
        parts.append(f", compute capability {dev['compute_capability']}")
    if dev.get("driver"):
        parts.append(f", driver API {dev['driver']}, runtime {dev.get('runtime')}")
    parts.append(")")
    w("Device: " + "".join(parts) + f"; bench commit {eng.get('commit', '?')}.")
    if model:
        w(f"Model: random `{model.get('arch')}` from `bench init-model` — {model['layers']} layers, "
          f"hidden {model['hidden']}, {model['heads']} heads ({model['kv_heads']} kv), head dim "
          f"{model['head_dim']}, MLP {model['intermediate']}, vocab {model['vocab']}: "
          f"{n_params(model) / 1e9:.2f} B parameters, {model.get('weight_bytes', 0) / 1e9:.1f} GB "
          f"of weights in {model.get('dtype')}; same random tokens on both sides.")
    if hf and not hf.get("error"):
        w(f"transformers {hf.get('transformers')}, torch {hf.get('torch')}: "
          f"AutoModelForCausalLM, attention `{hf.get('attn_implementation')}`, {hf.get('dtype')}, "
          "`model(ids, labels=ids)` under inference mode.")
    elif hf:
        w(f"transformers: {hf.get('error')}")
    if command:
        w(f"Produced by `{command}`.")
    w("")

    # ---- ceilings ----
    w("## Ceilings (measured in the same run)\n")
    w("| ceiling | value |\n|---|---|")
    g = ceil.get("gemm_tflops")
    path = "sgemm" if dev.get("device") == "cpu" else "cuBLASLt, fp32 accumulate and output"
    w(f"| {ceil.get('gemm_dtype', '?')} GEMM {ceil.get('gemm_size', '?')}³ through the engine's matmul "
      f"({path}) | {fmt(g, '{:.2f}')} TFLOP/s"
      f"{' (' + ceil['gemm_error'] + ')' if ceil.get('gemm_error') else ''} |")
    tg = (hf or {}).get("gemm_tflops")
    if tg:
        w(f"| bf16 GEMM {hf.get('gemm_size')}³ through torch | {tg:.1f} TFLOP/s |")
    w(f"| device-to-device copy, bytes read + written | {fmt(ceil.get('copy_gbps'), '{:.0f}')} GB/s |")
    peak = max([x for x in (g, tg) if x] or [0.0])
    w(f"\nMFU below: model FLOP/s (forward_flops: matmuls, causal attention pairs, LM head) over "
      f"{peak:.1f} TFLOP/s, the larger GEMM reading.\n")

    # ---- windows ----
    hw = (hf or {}).get("window") or {}
    w("## One window, every token scored\n")
    w("| tokens | bench variant | bench s | bench tokens/s | model TFLOP/s | MFU | bench peak GiB | "
      "transformers tokens/s | transformers peak GiB | speed-up | PPL bench / transformers |")
    w("|---|---|---|---|---|---|---|---|---|---|---|")
    best = None
    for r in eng.get("window", []):
        if r.get("error"):
            w(f"| {r['T']} | MLP {r.get('mlp_rows')} rows | error: {r['error']} |||||||||")
            continue
        mfu = r["tflops"] / peak if peak else None
        sp = r["tokens_per_s"] / hw["tokens_per_s"] if hw.get("tokens_per_s") and hw.get("T") == r["T"] else None
        if best is None or r["tokens_per_s"] > best[0]["tokens_per_s"]:
            best = (r, mfu, sp)
        w(f"| {r['T']} | MLP {r.get('mlp_rows')} rows | {r['seconds']:.3f} | {r['tokens_per_s']:.0f} | "
          f"{r['tflops']:.1f} | {fmt(mfu and 100 * mfu, '{:.1f}%')} | {gib(r.get('peak_bytes')):.2f} | "
          f"{fmt(hw.get('tokens_per_s'), '{:.0f}', hw.get('error', '-') if hw else '-')} | "
          f"{fmt(gib(hw.get('peak_bytes')), '{:.2f}')} | {fmt(sp, '{:.2f}x')} | "
          f"{r['ppl']:.2f} / {fmt(hw.get('ppl'), '{:.2f}')} |")
    lr = eng.get("long")
    if lr:
        if lr.get("error"):
            w(f"| {lr['T']} | default | error: {lr['error']} |||||||||")
        else:
            mfu = lr["tflops"] / peak if peak else None
            hl = next((x for x in (hf or {}).get("lengths", []) if x["T"] == lr["T"]), {})
            htxt = fmt(hl.get("tokens_per_s"), "{:.0f}") if hl.get("ok") else (
                "out of memory" if hl.get("oom") else hl.get("error", "-"))
            sp = lr["tokens_per_s"] / hl["tokens_per_s"] if hl.get("ok") else None
            w(f"| {lr['T']} | default | {lr['seconds']:.2f} | {lr['tokens_per_s']:.0f} | "
              f"{lr['tflops']:.1f} | {fmt(mfu and 100 * mfu, '{:.1f}%')} | "
              f"{gib(lr.get('peak_bytes')):.2f} | {htxt} | {fmt(gib(hl.get('peak_bytes')), '{:.2f}')} | "
              f"{fmt(sp, '{:.2f}x')} | {lr['ppl']:.2f} / {fmt(hl.get('ppl'), '{:.2f}')} |")
    w("")
    lengths = (hf or {}).get("lengths", [])
    if lengths:
        w("transformers at longer windows (one run each):\n")
        w("| tokens | result | seconds | tokens/s | peak GiB |\n|---|---|---|---|---|")
        for x in lengths:
            res = "ok" if x.get("ok") else ("out of memory" if x.get("oom") else "error: " + x.get("error", "?"))
            w(f"| {x['T']} | {res} | {fmt(x.get('seconds'), '{:.2f}')} | "
              f"{fmt(x.get('tokens_per_s'), '{:.0f}')} | {fmt(gib(x.get('peak_bytes')), '{:.2f}')} |")
        w("")

    # ---- memory ----
    w("## Peak device memory (bench)\n")
    w("| case | peak GiB | weights GiB | KV cache GiB (fp32) | rest: activations + scratch GiB |")
    w("|---|---|---|---|---|")
    wb = model.get("weight_bytes", 0.0)
    mem_rows = [(f"window {r['T']}, MLP {r.get('mlp_rows')}", r) for r in eng.get("window", [])
                if not r.get("error")]
    if lr and not lr.get("error"):
        mem_rows.append((f"window {lr['T']}", lr))
    for label, r in mem_rows:
        kv = kv_bytes(model, r["T"])
        p = r.get("peak_bytes") or 0
        w(f"| {label} | {p / GIB:.2f} | {wb / GIB:.2f} | {kv / GIB:.2f} | "
          f"{(p - wb - kv) / GIB:.2f} |" if p else f"| {label} | (not tracked on this device) | "
          f"{wb / GIB:.2f} | {kv / GIB:.2f} | - |")
    w("")

    # ---- decode ----
    dec = eng.get("decode", [])
    if dec:
        w("## Decode (tokens/s against the roofline: bytes a step must move / measured copy bandwidth)\n")
        w("| path | cache | batch | prompt | steps | tokens/s | MB per step | mean keys | "
          "roofline tokens/s | of roofline |")
        w("|---|---|---|---|---|---|---|---|---|---|")
        for r in dec:
            path = "decode protocol" if r.get("kind") == "decode" else "single-token blocks"
            got = fmt(r.get("tokens_per_s"), "{:.1f}") if not r.get("error") else "error: " + r["error"]
            w(f"| {path} | `{r.get('cache', '?')}` | {r.get('batch', '?')} | {r.get('prompt', '?')} | "
              f"{r.get('steps', '?')} | {got} | {fmt(r.get('bytes_per_step') and r['bytes_per_step'] / 1e6, '{:.0f}')} | "
              f"{fmt(r.get('mean_keys'), '{:.0f}')} | {fmt(r.get('roofline_tokens_per_s'), '{:.1f}')} | "
              f"{fmt(r.get('roofline_fraction') and 100 * r['roofline_fraction'], '{:.1f}%')} |")
        w("")

    # ---- attention ----
    att = eng.get("attention", [])
    if att:
        w("## Attention kernels (causal, the model's heads, random fp32 q/k/v)\n")
        w("| kernel | tokens | heads (kv) | head dim | ms | TFLOP/s |\n|---|---|---|---|---|---|")
        for r in att:
            w(f"| {r['kernel']} | {r['T']} | {r['H']} ({r['K']}) | {r['D']} | "
              f"{fmt(r.get('ms'), '{:.2f}', 'error: ' + r.get('error', '?'))} | {fmt(r.get('tflops'))} |")
        w("")

    # ---- targets ----
    w("## Targets\n")
    w("| target | measured | status |\n|---|---|---|")
    if best:
        r, mfu, sp = best
        w(f"| {r['T']}-token window at ≥ {TARGET_MFU:.0%} of the measured GEMM peak | "
          f"{fmt(mfu and 100 * mfu, '{:.1f}%')} (MLP {r.get('mlp_rows')} rows) | "
          f"{status(mfu is not None and mfu >= TARGET_MFU)} |")
        w(f"| ≥ {TARGET_SPEEDUP:.0f}x transformers' tokens/s at {r['T']} tokens | {fmt(sp, '{:.2f}x')} | "
          f"{status(sp is not None and sp >= TARGET_SPEEDUP) if sp is not None else 'not measured'} |")
    if lr:
        ok = not lr.get("error") and lr.get("ppl_finite", False)
        w(f"| {lr['T']}-token window: no out of memory, finite PPL | "
          f"{'PPL ' + fmt(lr.get('ppl'), '{:.2f}') + ', peak ' + fmt(gib(lr.get('peak_bytes')), '{:.1f}') + ' GiB' if ok else lr.get('error', 'PPL not finite')} | {status(ok)} |")
    proto = [r for r in dec if r.get("kind") == "decode" and not r.get("error")]
    if proto:
        b1 = min(proto, key=lambda r: r["batch"])
        frac = b1.get("roofline_fraction")
        w(f"| decode with a cache policy, batch {b1['batch']}, ≥ {TARGET_DECODE_ROOF:.0%} of the roofline | "
          f"{fmt(frac and 100 * frac, '{:.1f}%')} | {status(frac is not None and frac >= TARGET_DECODE_ROOF)} |")
        byb = sorted(proto, key=lambda r: r["batch"])
        grows = all(byb[i + 1]["tokens_per_s"] > byb[i]["tokens_per_s"] for i in range(len(byb) - 1))
        w(f"| decode tokens/s grows with batch | "
          f"{', '.join(str(r['batch']) + ': ' + format(r['tokens_per_s'], '.1f') for r in byb)} | "
          f"{status(grows and len(byb) > 1)} |")
    elif dec:
        errs = [r["error"] for r in dec if r.get("kind") == "decode" and r.get("error")]
        w(f"| decode with a cache policy (batches) | not run: {errs[0] if errs else 'no rows'} | **not met** |")
    w("")
    return "\n".join(out)


def main(argv):
    p = argparse.ArgumentParser(description="engine speed report")
    p.add_argument("engine")
    p.add_argument("--hf")
    p.add_argument("--out")
    p.add_argument("--command", default="")
    a = p.parse_args(argv)
    try:
        with open(a.engine) as f:
            eng = json.load(f)
        hf = None
        if a.hf:
            with open(a.hf) as f:
                hf = json.load(f)
    except (OSError, ValueError) as e:
        print(f"perf_report: {e}", file=sys.stderr)
        return 2
    text = report(eng, hf, a.command)
    print(text)
    if a.out:
        with open(a.out, "w") as f:
            f.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
