# cuda_lib_path.sh — sourced by tests/gpu/run_gpu_tests.sh and benchmarks/bench_gpu.sh: sets
# cuda_libs to ":DIR:DIR..", the directories holding the CUDA 13 runtime and cuBLASLt — the
# toolkit's, else the ones Python's nvidia-* wheels carry — to append to LD_LIBRARY_PATH.
wheel_lib_dirs() {
  python3 - 2>/dev/null <<'PY'
import os, nvidia
dirs = set()
for root in nvidia.__path__:
    for d, _, files in os.walk(root):
        if any(f.startswith(("libcublasLt.so.13", "libcudart.so.13")) for f in files):
            dirs.add(d)
print(" ".join(sorted(dirs)))
PY
}
cuda_libs=""
for d in /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib $(wheel_lib_dirs); do
  if [ -e "$d/libcublasLt.so.13" ] || [ -e "$d/libcudart.so.13" ]; then cuda_libs="$cuda_libs:$d"; fi
done
