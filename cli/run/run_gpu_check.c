// run_gpu_check.c — the GPU check before a run's first job (run_gpu_check.h).
#include "run_gpu_check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "doctor.h"

// The GPU index of each job on each lane, [job][lane], -1 where the lane does not take the job or
// it runs on the CPU there; *max_gpu: the highest.
static int *job_gpus(const RunJob *jobs, long n, const Lanes *lanes, int *max_gpu) {
  int *gpu = xcalloc((size_t)(n * lanes->n) + 1, sizeof *gpu);
  char buf[32];
  *max_gpu = -1;
  for (long j = 0; j < n; j++)
    for (int k = 0; k < lanes->n; k++) {
      const char *d = lane_device(lanes, k, jobs[j].job, buf, sizeof buf);
      int g = d && strncmp(d, "cuda:", 5) == 0 ? atoi(d + 5) : -1;
      gpu[j * lanes->n + k] = g;
      if (g > *max_gpu) *max_gpu = g;
    }
  return gpu;
}

// The (model, dtype) pairs of the jobs that may run on GPU `gpu`, each with the text of its first job
// in run order for part 3 (models[], at most
// DOCTOR_MAX_MODELS; a pair past that is named in the log); whether any job may run there.
static int models_on(const RunJob *jobs, long n, const int *gpus, int n_lanes, int gpu, const char *name,
                     DoctorModel *models, int *n_models, RunLog *lg) {
  int used = 0;
  *n_models = 0;
  for (long j = 0; j < n; j++) {
    const Job *job = jobs[j].job;
    int here = 0;
    for (int k = 0; k < n_lanes && !here; k++) here = gpus[j * n_lanes + k] == gpu;
    if (!here) continue;
    used = 1;
    if (!job->model) continue;
    int dup = 0;
    for (int m = 0; m < *n_models && !dup; m++)
      dup = strcmp(models[m].dir, job->model->path) == 0 && strcmp(models[m].dtype, job->dtype) == 0;
    if (dup) continue;
    const JobInputs *in = matrix_job_inputs(job);  // part 3 reads the first job's text
    if (*n_models < DOCTOR_MAX_MODELS)
      models[(*n_models)++] = (DoctorModel){job->model->name, job->model->path, job->dtype,
                                            .data = in->dataset_path, .data_field = in->dataset_field,
                                            .tokenizer = in->tokenizer_path, .data_name = job->dataset->name};
    else  // never silently: its jobs run with the kernels and engine checked, its weights not
      run_log_warn(lg, "%s: model '%s' (%s) not probed on its own weights: the check takes at most "
                   "%d (model, dtype) pairs", name, job->model->name, job->dtype, DOCTOR_MAX_MODELS);
  }
  return used;
}

void gpu_checks_run(const RunJob *jobs, long n, const Lanes *lanes, int n_gpus, RunLog *lg, GpuChecks *g) {
  memset(g, 0, sizeof *g);
  int max_gpu;
  int *gpus = job_gpus(jobs, n, lanes, &max_gpu);
  if (max_gpu >= n_gpus) max_gpu = n_gpus - 1;  // a GPU not there: its jobs fail with the engine's reason
  if (max_gpu < 0) {
    free(gpus);
    return;
  }
  g->n = max_gpu + 1;
  g->refused = xcalloc((size_t)g->n, sizeof *g->refused);
  g->manifest = json_object();
  StrBuf all = {0};
  int n_checked = 0;
  for (int gpu = 0; gpu < g->n; gpu++) {
    DoctorModel models[DOCTOR_MAX_MODELS];
    int n_models;
    char want[32];
    snprintf(want, sizeof want, "cuda:%d", gpu);
    if (!models_on(jobs, n, gpus, lanes->n, gpu, want, models, &n_models, lg)) continue;
    DoctorRequest rq = {.gpu = gpu, .models = models, .n_models = n_models, .use_cache = 1, .out = NULL};
    char cmd[4096];  // the command with --data and up to DOCTOR_MAX_MODELS model paths
    doctor_command(&rq, cmd, sizeof cmd);
    run_log(lg, "%s: checking the GPU against the CPU engine before its first job (%s)", want, cmd);
    DoctorOutcome *o = xcalloc(1, sizeof *o);
    BenchErr err;
    json_t *e;
    if (doctor_check_gpu_child(&rq, o, &err) != 0) {
      g->refused[gpu] = xasprintf("GPU check of %s could not run: %s; '%s' shows it", want, err.msg, cmd);
      e = json_pack("{s:b, s:s, s:s}", "passed", 0, "summary", "could not run", "first_failure", err.msg);
      sb_printf(&all, "%s%s could not run: %s", n_checked++ ? "; " : "", want, err.msg);
    } else {
      e = json_pack("{s:s, s:b, s:s, s:s, s:b}", "gpu", o->gpu_name, "passed", o->passed, "summary", o->summary,
                    "first_failure", o->first_fail, "cached", o->from_cache);
      sb_printf(&all, "%s%s%s%s", n_checked++ ? "; " : "", g->n > 1 ? want : "", g->n > 1 ? " " : "", o->summary);
      if (!o->passed)
        g->refused[gpu] = xasprintf("GPU check failed on %s (%s): %s; '%s' shows every check", want, o->gpu_name,
                                    o->first_fail[0] ? o->first_fail : o->summary, cmd);
    }
    json_object_set_new(e, "doctor", json_string(cmd));
    json_object_set_new(g->manifest, want, e);
    if (g->refused[gpu]) run_log_warn(lg, "%s: no job runs there: %s", want, g->refused[gpu]);
    else run_log(lg, "%s: GPU check %s%s", want, o->summary, o->from_cache ? " (cached)" : "");
    free(o);
  }
  g->summary = all.data;
  free(gpus);
}

void gpu_checks_free(GpuChecks *g) {
  for (int i = 0; i < g->n; i++) free(g->refused[i]);
  free(g->refused);
  json_decref(g->manifest);
  free(g->summary);
  memset(g, 0, sizeof *g);
}
