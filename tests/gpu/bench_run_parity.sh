#!/usr/bin/env bash
# bench_run_parity.sh — `bench run` end to end on a device, against the same suite run on the CPU:
#     tests/gpu/bench_run_parity.sh BENCH OUTDIR [DEVICE [--quick]]   (DEVICE: cuda, the default, or cpu)
# The suite (written to OUTDIR/suite.yaml) evaluates the repository's small trained model
# (models/quickstart) on data/kjv/valid.txt with every protocol (chunks, random, sliding, half,
# decode) at lengths 128 and 512, in fp32 and bf16: 20 jobs, a few seconds on either device.
# It runs twice into OUTDIR/cpu and OUTDIR/dev, `--device cpu` and `--device DEVICE` (which first
# checks the GPU as `bench doctor` does, cached in OUTDIR/cache). The suite says `device: auto`, so both runs have the same job ids;
# tests/gpu/compare_runs.py then prints one table row per job (ppl on each side, relative
# difference against fp32 1e-3 / bf16 4·2^-8, what the device recorded) and exits 1 on a failed row.
# With DEVICE cpu it checks itself: every row passes with a difference of 0 (tests/e2e runs that).
# --quick: length 128 only, one window per job (10 jobs; `make test` runs it on the CUDA
# simulator, where a decode step takes a good fraction of a second).
set -uo pipefail
BENCH=$1
OUTDIR=$2
DEVICE=${3:-cuda}
LENGTHS="[128, 512]" WINDOWS=2
if [ "${4:-}" = --quick ]; then LENGTHS="[128]" WINDOWS=1; fi
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PY=${PYTHON:-python3}
mkdir -p "$OUTDIR"
rm -rf "$OUTDIR/cpu" "$OUTDIR/dev"
cat >"$OUTDIR/suite.yaml" <<YAML
suite: run_parity
title: bench run on $DEVICE against the CPU
defaults:
  model: kjv_1m
  dataset: kjv_valid
  protocol: chunks
  windows: $WINDOWS
  lengths: $LENGTHS
  seeds: [0]
  rope: native
  cache: full
  dtype: [fp32, bf16]
  device: auto
models:
  kjv_1m: { path: "$ROOT/models/quickstart" }
datasets:
  kjv_valid: { path: "$ROOT/data/kjv/valid.txt" }
rope:
  native: { type: model }
  yarn: { type: yarn, factor: 4, original_max_position_embeddings: 256 }
cache:
  full: { type: full }
phases:
  - id: chunks
  - id: random
    protocol: random
    rope: yarn
  - id: sliding
    protocol: sliding
    stride: 64
  - id: half
    protocol: half
  - id: decode
    protocol: decode
    prompt: 32
YAML
export BENCH_CACHE_DIR="$OUTDIR/cache"
"$BENCH" run "$OUTDIR/suite.yaml" --device cpu --results "$OUTDIR/cpu" --no-report >"$OUTDIR/cpu.log" 2>&1
echo "cpu run: exit $? ($(grep -c ': ok ppl' "$OUTDIR/cpu.log") jobs ok)"
"$BENCH" run "$OUTDIR/suite.yaml" --device "$DEVICE" --results "$OUTDIR/dev" --no-report >"$OUTDIR/dev.log" 2>&1
rc=$?
echo "$DEVICE run: exit $rc ($(grep -c ': ok ppl' "$OUTDIR/dev.log") jobs ok)"
[ $rc -eq 2 ] && tail -n 3 "$OUTDIR/dev.log"
"$PY" "$ROOT/tests/gpu/compare_runs.py" "$OUTDIR/cpu" "$OUTDIR/dev" "$DEVICE"
