#!/usr/bin/env bash
# Trains the quickstart model with suites/quickstart_train.yaml and installs the checkpoint in
# models/quickstart/ (config.json, model.safetensors, tokenizer.json, generation_config.json and
# the run's record training.json). About 20 minutes on two cores.
# Usage: scripts/make_quickstart_model.sh [bench run options, e.g. --fresh]
# The shipped model was trained with OMP_NUM_THREADS=1, the default here: the trainer is
# deterministic for a given thread count, so this reproduces it to the bit (another thread count
# gives a model of the same recipe whose numbers differ in the last digits).
set -euo pipefail
cd "$(dirname "$0")/.."
make --no-print-directory all
OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} ./bench run suites/quickstart_train.yaml --device cpu "$@"
dir=$(grep -ho '"model_dir":"[^"]*"' results/quickstart_train/jobs/*.json | head -n 1 | sed 's/.*:"//; s/"$//')
[ -n "$dir" ] && [ -f "$dir/training.json" ] || { echo "make_quickstart_model: no trained model found" >&2; exit 1; }
mkdir -p models/quickstart
for f in config.json generation_config.json model.safetensors tokenizer.json training.json; do
  cp "$dir/$f" "models/quickstart/$f"
done
echo "installed $dir into models/quickstart/"
