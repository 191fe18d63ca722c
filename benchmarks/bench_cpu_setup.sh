#!/usr/bin/env bash
# Installs the CPU benchmark's peers into their own venv (default build/bench-venv): torch and
# transformers (PyPI), llama-cpp-python (builds llama.cpp from source: several minutes) and gguf
# (its converter's writer). Never run by make test; `make bench-cpu` runs it when the venv lacks them.
# Usage: benchmarks/bench_cpu_setup.sh [VENV]     (exit 0 even when a peer fails: the table says why)
set -uo pipefail
cd "$(dirname "$0")/.."
venv=${1:-build/bench-venv}
log=$venv.log
mkdir -p "$(dirname "$venv")"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv" || { echo "bench: error: cannot create $venv" >&2; exit 2; }
pip() { "$venv/bin/python" -m pip --disable-pip-version-check -q "$@"; }
have() { "$venv/bin/python" -c "import $1" 2>/dev/null; }
have torch && have transformers && have safetensors || pip install numpy safetensors torch transformers >>"$log" 2>&1 \
    || echo "bench: torch/transformers did not install (see $log)" >&2
have gguf || pip install gguf >>"$log" 2>&1 || echo "bench: gguf did not install (see $log)" >&2
# llama.cpp for the CPU only, built with the machine's own instructions (as its users build it).
have llama_cpp || CMAKE_ARGS="-DGGML_NATIVE=ON -DGGML_CUDA=OFF -DLLAMA_CURL=OFF" CMAKE_BUILD_PARALLEL_LEVEL=$(nproc) \
    pip install llama-cpp-python >>"$log" 2>&1 || echo "bench: llama-cpp-python did not install (see $log)" >&2
exit 0
