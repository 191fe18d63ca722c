// run_probe.c — GPU facts and plan warnings from a child process; CPU facts from /proc (run_probe.h).
#include "run_probe.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "device.h"
#include "plan_warnings.h"
#include "run_plan.h"

#define PROBE_MAX_BYTES ((size_t)16 << 20)

void cuda_version_text(int v, char out[16]) {
  if (v <= 0) out[0] = 0;
  else snprintf(out, 16, "%d.%d", v / 1000, v % 1000 / 10);
}

// In the child: everything that may touch the GPU, as one JSON object on fd.
static void probe_child(int fd, Matrix *m, const ModelShape *shapes, const char *device) {
  json_t *j = json_object();
  int n = device_gpu_count();
  char dflt[DEVICE_NAME_MAX];
  snprintf(dflt, sizeof dflt, "%s", device_auto(n));
  if (device && strcmp(device, "auto") != 0) {  // --device, or the first entry of --devices
    BenchErr err;
    char *first = xstrndup(device, strcspn(device, ","));
    if (device_normalise(first, 1, dflt, sizeof dflt, &err) != 0) snprintf(dflt, sizeof dflt, "%s", device_auto(n));
    free(first);
  }
  matrix_place_jobs(m, dflt);
  json_t *gpus = json_array();
  for (int i = 0; i < n; i++) {
    GpuInfo info;
    if (device_gpu_info(i, &info) != 0) continue;
    json_array_append_new(gpus, json_pack("{s:i,s:s,s:s,s:I}", "index", i, "name", info.name, "uuid",
                                          info.uuid, "memory_bytes", (json_int_t)info.total_bytes));
  }
  json_object_set_new(j, "gpus", gpus);
  int driver, runtime;
  size_t cublaslt;
  device_cuda_versions(&driver, &runtime, &cublaslt);
  json_object_set_new(j, "cuda_driver", json_integer(driver));
  json_object_set_new(j, "cuda_runtime", json_integer(runtime));
  StrList w = {0};
  plan_warnings(m, shapes, &w);
  json_t *warn = json_array();
  for (int i = 0; i < w.n; i++) json_array_append_new(warn, json_string(w.items[i]));
  strlist_free(&w);
  json_object_set_new(j, "warnings", warn);
  char *text = json_dumps(j, JSON_COMPACT);
  json_decref(j);
  for (size_t off = 0, len = text ? strlen(text) : 0; off < len;) {
    ssize_t k = write(fd, text + off, len - off);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) break;
    off += (size_t)k;
  }
  free(text);
}

static void cpu_facts(HostProbe *p) {
  FILE *f = fopen("/proc/cpuinfo", "r");
  if (f) {
    char line[512];
    while (fgets(line, sizeof line, f)) {
      if (strncmp(line, "model name", 10) != 0) continue;
      const char *v = strchr(line, ':');
      if (!v) continue;
      v++;
      while (*v == ' ' || *v == '\t') v++;
      snprintf(p->cpu, sizeof p->cpu, "%s", v);
      p->cpu[strcspn(p->cpu, "\r\n")] = 0;
      break;
    }
    fclose(f);
  }
  p->cpu_cores = sysconf(_SC_NPROCESSORS_ONLN);
  long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  p->memory_bytes = pages > 0 && page > 0 ? (double)pages * (double)page : 0;
  device_nvidia_driver(p->driver);
}

void host_probe(Matrix *m, const ModelShape *shapes, const char *device, HostProbe *out) {
  memset(out, 0, sizeof *out);
  out->gpus = json_array();
  cpu_facts(out);
  int fds[2];
  if (pipe(fds) != 0) {
    snprintf(out->problem, sizeof out->problem, "cannot create a pipe: %s", strerror(errno));
    return;
  }
  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0) {
    snprintf(out->problem, sizeof out->problem, "cannot fork: %s", strerror(errno));
    close(fds[0]);
    close(fds[1]);
    return;
  }
  if (pid == 0) {
    close(fds[0]);
    probe_child(fds[1], m, shapes, device);
    close(fds[1]);
    _exit(0);
  }
  close(fds[1]);
  StrBuf b = {0};
  char buf[4096];
  for (;;) {
    ssize_t k = read(fds[0], buf, sizeof buf);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) break;
    if (b.len + (size_t)k > PROBE_MAX_BYTES) break;
    sb_appendn(&b, buf, (size_t)k);
  }
  close(fds[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
  json_t *j = b.data ? json_loadb(b.data, b.len, 0, NULL) : NULL;
  sb_free(&b);
  if (!json_is_object(j) || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    if (WIFSIGNALED(status))
      snprintf(out->problem, sizeof out->problem, "the device probe was killed by signal %d (%s)",
               WTERMSIG(status), strsignal(WTERMSIG(status)));
    else
      snprintf(out->problem, sizeof out->problem, "the device probe gave no answer");
    json_decref(j);
    return;
  }
  json_decref(out->gpus);
  out->gpus = json_incref(json_object_get(j, "gpus"));
  if (!json_is_array(out->gpus)) {
    json_decref(out->gpus);
    out->gpus = json_array();
  }
  out->n_gpus = (int)json_array_size(out->gpus);
  out->cuda_driver = (int)json_integer_value(json_object_get(j, "cuda_driver"));
  out->cuda_runtime = (int)json_integer_value(json_object_get(j, "cuda_runtime"));
  json_t *w = json_object_get(j, "warnings");
  for (size_t i = 0; i < json_array_size(w); i++) {
    const char *s = json_string_value(json_array_get(w, i));
    if (s) strlist_add(&out->warnings, "%s", s);
  }
  json_decref(j);
}

void host_probe_free(HostProbe *p) {
  json_decref(p->gpus);
  strlist_free(&p->warnings);
  memset(p, 0, sizeof *p);
}
