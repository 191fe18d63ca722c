// runner_job.c — a job as the supervisor and its workers record it (runner_job.h).
#include "runner_job.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void job_result_begin(JobResult *r, const Suite *s, const Job *j, const char *device) {
  memset(r, 0, sizeof *r);
  r->job_id = (char *)j->id;
  r->suite = s->suite;
  r->phase = s->phases[j->phases[0]].id;
  r->n_phases = j->n_phases;
  r->phases = xcalloc((size_t)j->n_phases, sizeof *r->phases);
  for (int p = 0; p < j->n_phases; p++) r->phases[p] = s->phases[j->phases[p]].id;
  r->spec = json_deep_copy(j->spec);
  json_object_set_new(r->spec, "device", json_string(device));
}

void job_result_release(JobResult *r) {
  free(r->phases);
  json_decref(r->spec);
  r->phases = NULL;
  r->spec = NULL;
}

int gpu_runs_off(const char *device, BenchErr *err) {
  return err_set(err, "device '%s': this bench runs jobs on the CPU only (its CUDA engine is not enabled for "
                 "runs yet); use --device cpu", device);
}

const char *gpu_runs_off_warning(int n_gpus) {
  static char msg[320];
  snprintf(msg, sizeof msg, "%d CUDA GPU%s found, but this bench runs jobs on the CPU only (its CUDA engine is "
           "not enabled for runs yet): jobs on device auto run on the CPU, far slower for large models",
           n_gpus, n_gpus == 1 ? "" : "s");
  return msg;
}

JobStatus status_for_error(const char *msg) {
  return strstr(msg, "out of memory") || strstr(msg, "cannot allocate") ? JOB_OOM : JOB_ERROR;
}
