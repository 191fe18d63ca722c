// device.c — device discovery; CUDA queries are compiled in only when nvcc was found.
#include "device.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *device_backends_built(void) {
#ifdef BENCH_CUDA
  return "cpu+cuda";
#else
  return "cpu";
#endif
}

static int cuda_touched;

int device_cuda_touched(void) { return cuda_touched; }

int device_gpu_count(void) {
#ifdef BENCH_CUDA
  cuda_touched = 1;
  return cuda_gpu_count();
#else
  return 0;
#endif
}

int device_gpu_info(int i, GpuInfo *info) {
  memset(info, 0, sizeof *info);
#ifdef BENCH_CUDA
  cuda_touched = 1;
  return cuda_gpu_info(i, info);
#else
  (void)i;
  return -1;
#endif
}

void device_cuda_versions(int *driver, int *runtime, size_t *cublaslt) {
  *driver = *runtime = 0;
  *cublaslt = 0;
#ifdef BENCH_CUDA
  cuda_touched = 1;
  cuda_versions(driver, runtime, cublaslt);
#endif
}

const char *device_auto(int n_gpus) { return n_gpus > 0 ? "cuda:0" : "cpu"; }

void device_for_job(const char *want, const char *dflt, char out[DEVICE_NAME_MAX]) {
  if (!want || strcmp(want, "auto") == 0) snprintf(out, DEVICE_NAME_MAX, "%s", dflt);
  else if (strcmp(want, "cuda") == 0) snprintf(out, DEVICE_NAME_MAX, "%s", strncmp(dflt, "cuda", 4) == 0 ? dflt : "cuda:0");
  else snprintf(out, DEVICE_NAME_MAX, "%s", want);
}

// "NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.54.15  Tue Mar 5 ..."
void device_nvidia_driver(char out[64]) {
  out[0] = 0;
  FILE *f = fopen("/proc/driver/nvidia/version", "r");
  if (!f) return;
  char line[512];
  if (fgets(line, sizeof line, f)) {
    const char *k = strstr(line, "Kernel Module");
    if (k) {
      k += strlen("Kernel Module");
      while (*k == ' ') k++;
      size_t n = strcspn(k, " \t\r\n");
      if (n < 64) snprintf(out, 64, "%.*s", (int)n, k);
    }
  }
  fclose(f);
}

int device_resolve(const char *spec, char out[DEVICE_NAME_MAX], int *gpu, BenchErr *err) {
  *gpu = -1;
  snprintf(out, DEVICE_NAME_MAX, "cpu");
  if (strcmp(spec, "cpu") == 0) return 0;
  int n = device_gpu_count();
  if (strcmp(spec, "auto") == 0) {
    snprintf(out, DEVICE_NAME_MAX, "%s", device_auto(n));
    *gpu = n > 0 ? 0 : -1;
    return 0;
  }
  long idx = 0;
  if (strncmp(spec, "cuda", 4) != 0)
    return err_set(err, "unknown device '%s' (auto, cpu, cuda or cuda:N)", spec);
  if (spec[4] == ':') {
    char *end;
    idx = strtol(spec + 5, &end, 10);
    if (end == spec + 5 || *end || idx < 0 || idx > 1023)
      return err_set(err, "device '%s': expected cuda:N with N a GPU index", spec);
  } else if (spec[4]) {
    return err_set(err, "unknown device '%s' (auto, cpu, cuda or cuda:N)", spec);
  }
#ifndef BENCH_CUDA
  return err_set(err, "device '%s': this bench was built without CUDA (nvcc was not found when "
                 "it was built)", spec);
#else
  if (n == 0) return err_set(err, "device '%s': no CUDA GPU is usable on this machine", spec);
  if (idx >= n)
    return err_set(err, "device '%s' does not exist: %d GPU%s found (cuda:0..cuda:%d)", spec, n,
                   n == 1 ? "" : "s", n - 1);
  *gpu = (int)idx;
  snprintf(out, DEVICE_NAME_MAX, "cuda:%d", (int)idx);
  return 0;
#endif
}
