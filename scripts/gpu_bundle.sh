#!/usr/bin/env bash
# gpu_bundle.sh DIR BINARY... — a bundle for a GPU machine that lacks this machine's packages:
# the binaries (stripped) in DIR/bin and the shared libraries they load from outside the C
# library and the CUDA toolkit (libyaml, jansson, OpenBLAS and its Fortran runtime, OpenMP, ...)
# in DIR/lib, and the same as DIR.tar.gz (about a third of the size: the binaries share most of
# their bytes). tests/gpu/run_gpu_tests.sh uses DIR when present and unpacks DIR.tar.gz when only
# that is: carry the tarball along to the machine (with the working tree it stays under a
# device call's 64 MiB).
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
tar -czf "$dir.tar.gz" -C "$(dirname "$dir")" "$(basename "$dir")"
echo "bench: GPU bundle in $dir ($(du -sh "$dir" | cut -f1)) and $dir.tar.gz ($(du -sh "$dir.tar.gz" | cut -f1)): $(ls "$dir/bin" | tr '\n' ' ')"
