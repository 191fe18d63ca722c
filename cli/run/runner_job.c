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

const char *gpu_refusal(const char *const *refused, int n, const char *device) {
  if (!device || strncmp(device, "cuda:", 5) != 0) return NULL;
  int i = atoi(device + 5);
  return refused && i >= 0 && i < n ? refused[i] : NULL;
}

JobStatus status_for_error(const char *msg) {
  return strstr(msg, "out of memory") || strstr(msg, "cannot allocate") ? JOB_OOM : JOB_ERROR;
}
