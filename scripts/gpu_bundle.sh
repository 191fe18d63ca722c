#!/usr/bin/env bash
# gpu_bundle.sh DIR BINARY... — a bundle for a GPU machine that lacks this machine's packages:
# the binaries (stripped) in DIR/bin and the shared libraries they load from outside the C
# library and the CUDA toolkit (libyaml, jansson, OpenBLAS and its Fortran runtime, OpenMP, ...)
# in DIR/lib, and the same as DIR.tar.xz (about 6 MB against 50: carry that one, since a device
# call's working tree is limited to 64 MiB; tests/gpu/run_gpu_tests.sh and benchmarks/bench_gpu.sh
# unpack it when DIR is not there).
set -euo pipefail
dir=$1
shift
rm -rf "$dir"
mkdir -p "$dir/bin" "$dir/lib"
for b in "$@"; do
  cp "$b" "$dir/bin/"
  strip "$dir/bin/$(basename "$b")"
done
for b in "$@"; do ldd "$b" | awk '$2 == "=>" && $3 ~ /^\// {print $3}'; done | sort -u |
  while read -r lib; do
    case "$(basename "$lib")" in
      libc.so* | libm.so* | libpthread.so* | libdl.so* | librt.so* | ld-linux* | libcudart* | \
        libcublas* | libgcc_s* | libstdc++*) continue ;;
    esac
    cp -L "$lib" "$dir/lib/"
  done
rm -f "$dir.tar.xz"
tar -cJf "$dir.tar.xz" -C "$(dirname "$dir")" "$(basename "$dir")"
echo "bench: GPU bundle in $dir ($(du -sh "$dir" | cut -f1)) and $dir.tar.xz ($(du -sh "$dir.tar.xz" | cut -f1)): $(ls "$dir/bin" | tr '\n' ' ')"
