#!/usr/bin/env python3
"""compare_runs.py CPU_DIR DEV_DIR DEVICE — the job results of one suite run twice by `bench run`
(tests/gpu/bench_run_parity.sh): on the CPU (CPU_DIR) and on DEVICE (DEV_DIR: cuda or cpu).
One markdown row per job of CPU_DIR: ppl on each side and their relative difference |d - c| / c,
which must be within 1e-3 for fp32 jobs and 4u for bf16 and fp16, u the dtype's unit roundoff
(2^-8, 2^-11: 1.6e-2, 2e-3; the CPU computes in fp32 what the GPU computes with weights and matrix
inputs rounded to the dtype, each with a relative error up to u; test_parity_gpu.c's dtype_pass). A row also fails when a job
is not ok on either side, or when the device side did not record the device it ran on (spec.device
"cuda:N", or "cpu") and the dtype it computed in (metrics.compute_dtype: the job's dtype on a GPU,
fp32 on the CPU). Exit 1 when a row failed. Standard library only."""
import glob
import json
import os
import sys

TOL = {"fp32": 1e-3, "bf16": 4 * 2.0 ** -8, "fp16": 4 * 2.0 ** -11}


def load(d):
    out = {}
    for p in glob.glob(os.path.join(d, "jobs", "*.json")):
        with open(p) as f:
            j = json.load(f)
        out[j["job_id"]] = j
    return out


def main():
    cpu_dir, dev_dir, device = sys.argv[1], sys.argv[2], sys.argv[3]
    cpu, dev = load(cpu_dir), load(dev_dir)
    print("\n## bench run on %s vs the CPU\n" % device)
    print("| job | phase | protocol | L | dtype | ppl cpu | ppl %s | rel diff | tol | device | "
          "compute | peak MiB | tokens/s cpu | tokens/s %s | verdict |" % (device, device))
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    failed = 0
    rows = sorted(cpu.values(), key=lambda j: (j["phase"], j["spec"]["dtype"], j["spec"]["length"]))
    for c in rows:
        s = c["spec"]
        d = dev.get(c["job_id"])
        dt = s["dtype"]
        tol = TOL.get(dt, TOL["bf16"])
        cells = [c["job_id"][:8], c["phase"], s["protocol"], str(s["length"]), dt]
        why = []
        cm = c.get("metrics") or {}
        dm = (d or {}).get("metrics") or {}
        if c["status"] != "ok":
            why.append("cpu: %s: %s" % (c["status"], (c.get("error") or "")[:120]))
        if d is None:
            why.append("%s: no result" % device)
        elif d["status"] != "ok":
            why.append("%s: %s: %s" % (device, d["status"], (d.get("error") or "")[:160]))
        rel = None
        if not why:
            rel = abs(dm["ppl"] - cm["ppl"]) / cm["ppl"]
            if not rel <= tol:
                why.append("ppl differs by more than the tolerance")
            want_dev = "cuda:" if device.startswith("cuda") else "cpu"
            if not d["spec"]["device"].startswith(want_dev):
                why.append("recorded device %s" % d["spec"]["device"])
            want_compute = dt if device.startswith("cuda") else "fp32"
            if dm.get("compute_dtype") != want_compute:
                why.append("compute_dtype %s, expected %s" % (dm.get("compute_dtype"), want_compute))
        fmt = lambda m, k, f: (f % m[k]) if isinstance(m.get(k), (int, float)) else "-"
        cells += [fmt(cm, "ppl", "%.6g"), fmt(dm, "ppl", "%.6g"), "%.2e" % rel if rel is not None else "-",
                  "%.0e" % tol, (d or {}).get("spec", {}).get("device", "-"), str(dm.get("compute_dtype", "-")),
                  "%.1f" % (dm["peak_mem_bytes"] / 1048576.0) if isinstance(dm.get("peak_mem_bytes"), (int, float)) else "-",
                  fmt(cm, "tokens_per_s", "%.0f"), fmt(dm, "tokens_per_s", "%.0f")]
        verdict = "PASS" if not why else "FAIL: " + "; ".join(why)
        failed += bool(why)
        print("| " + " | ".join(cells + [verdict]) + " |")
    print("\n%d passed, %d failed" % (len(rows) - failed, failed))
    return 1 if failed or not rows else 0


if __name__ == "__main__":
    sys.exit(main())
