#!/usr/bin/env bash
# Installs what bench needs and is missing: Debian packages (build, BLAS, plotting).
# With --for-tests also what the tests need: clang (fuzzing), Slurm and munge (the one-node
# cluster of tests/e2e/test_slurm.sh), and a Python virtual environment build/venv with the PyPI
# packages the reference tests use (tests/requirements.txt).
set -euo pipefail
cd "$(dirname "$0")/.."
for_tests=0
[ "${1:-}" = "--for-tests" ] && for_tests=1

packages=(build-essential libyaml-dev libjansson-dev libpcre2-dev libopenblas-dev gnuplot-nox git)
if [ $for_tests -eq 1 ]; then
  packages+=(clang libclang-rt-dev libomp-dev python3 python3-venv python3-pip slurm-wlm munge)
fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# A Python found elsewhere on PATH (pyenv, conda) already provides venv and pip.
if command -v python3 >/dev/null && python3 -c 'import venv, ensurepip' 2>/dev/null; then
  missing=($(printf '%s\n' "${missing[@]}" | grep -v -x -e python3 -e python3-venv -e python3-pip || true))
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}" >/dev/null
fi

[ $for_tests -eq 1 ] || exit 0

venv=build/venv
if [ ! -x "$venv/bin/python" ]; then
  echo "setup: creating Python environment $venv"
  python3 -m venv "$venv"
fi
stamp="$venv/.requirements.sha256"
want=$(sha256sum tests/requirements.txt | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "setup: installing Python packages for reference tests (tests/requirements.txt)"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check -r tests/requirements.txt
  echo "$want" > "$stamp"
fi
