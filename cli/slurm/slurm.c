// slurm.c — packing the matrix into array tasks and writing the batch scripts (slurm.h).
#include "slurm.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "run_plan.h"

// ---- packing ----
// Above this many (job, N) evaluations the search over N takes a stride, always including the cap.
#define PACK_MAX_EVALS 20000000.0

void slurm_pack(const char *const *ids, const double *costs, long n, int max_array_size, SlurmPack *p) {
  memset(p, 0, sizeof *p);
  int cap = max_array_size < 1 ? 1 : max_array_size;
  if (n == 0) {
    p->n_shards = 1;
    p->shard_jobs = xcalloc(1, sizeof *p->shard_jobs);
    p->task_ids = xcalloc(1, sizeof *p->task_ids);
    return;
  }
  double *load = xcalloc((size_t)cap + 1, sizeof *load);
  int stride = 1;
  if ((double)n * cap > PACK_MAX_EVALS) stride = (int)((double)n * cap / PACK_MAX_EVALS) + 1;
  int best_n = 1;
  double best = -1;
  for (int N = 1; N <= cap; N++) {
    if (stride > 1 && N != cap && N % stride != 0) continue;
    memset(load, 0, (size_t)N * sizeof *load);
    double worst = 0;
    for (long j = 0; j < n; j++) {
      int s = shard_of(ids[j], N) - 1;
      load[s] += costs && costs[j] > 0 ? costs[j] : 1.0;
      if (load[s] > worst) worst = load[s];
    }
    if (best < 0 || worst < best * (1 - 1e-9)) {
      best = worst;
      best_n = N;
    }
  }
  free(load);
  p->n_shards = best_n;
  p->max_cost = best;
  p->shard_jobs = xcalloc((size_t)best_n, sizeof *p->shard_jobs);
  for (long j = 0; j < n; j++) p->shard_jobs[shard_of(ids[j], best_n) - 1]++;
  p->task_ids = xcalloc((size_t)best_n, sizeof *p->task_ids);
  for (int s = 0; s < best_n; s++)
    if (p->shard_jobs[s]) p->task_ids[p->n_tasks++] = s;
}

void slurm_pack_free(SlurmPack *p) {
  free(p->task_ids);
  free(p->shard_jobs);
  memset(p, 0, sizeof *p);
}

char *slurm_array_spec(const int *ids, int n, int max_parallel) {
  StrBuf b = {0};
  sb_append(&b, "");
  for (int i = 0; i < n;) {
    int j = i;
    while (j + 1 < n && ids[j + 1] == ids[j] + 1) j++;
    if (b.len) sb_append(&b, ",");
    if (j == i) sb_printf(&b, "%d", ids[i]);
    else sb_printf(&b, "%d-%d", ids[i], ids[j]);
    i = j + 1;
  }
  if (max_parallel > 0) sb_printf(&b, "%%%d", max_parallel);
  return b.data;
}

// ---- values ----
int slurm_value_ok(const char *v) {
  if (!v || !*v) return 0;
  for (const char *p = v; *p; p++)
    if (!isalnum((unsigned char)*p) && !strchr("_.,:=+/@-", *p)) return 0;
  return 1;
}

// Whole number of 1..max_digits digits in [s, e).
static long parse_num(const char *s, const char *e, int max_digits) {
  if (e <= s || e - s > max_digits) return -1;
  long v = 0;
  for (const char *p = s; p < e; p++) {
    if (!isdigit((unsigned char)*p)) return -1;
    v = v * 10 + (*p - '0');
  }
  return v;
}

long slurm_time_seconds(const char *t) {
  if (!t || !*t) return -1;
  long days = 0;
  const char *dash = strchr(t, '-');
  const char *rest = t;
  if (dash) {
    days = parse_num(t, dash, 5);
    if (days < 0) return -1;
    rest = dash + 1;
  }
  long f[3];
  int nf = 0;
  const char *p = rest;
  for (;;) {
    const char *c = strchr(p, ':');
    const char *e = c ? c : p + strlen(p);
    if (nf == 3) return -1;
    f[nf] = parse_num(p, e, 7);
    if (f[nf] < 0) return -1;
    nf++;
    if (!c) break;
    p = c + 1;
  }
  long s;
  if (dash) {  // D-HH, D-HH:MM, D-HH:MM:SS
    s = f[0] * 3600 + (nf > 1 ? f[1] * 60 : 0) + (nf > 2 ? f[2] : 0);
  } else if (nf == 1) {  // minutes
    s = f[0] * 60;
  } else if (nf == 2) {  // MM:SS
    s = f[0] * 60 + f[1];
  } else {  // HH:MM:SS
    s = f[0] * 3600 + f[1] * 60 + f[2];
  }
  s += days * 86400;
  return s > 0 ? s : -1;
}

void slurm_signal_plan(long time_s, long *lead_s, long *grace_s) {
  long lead = SLURM_DEFAULT_SIGNAL_LEAD_S;
  if (time_s > 0) {
    lead = time_s / 10;
    if (lead < 30) lead = 30;
    if (lead > 300) lead = 300;
  }
  *lead_s = lead;
  *grace_s = lead * 3 / 4;
}

char *sbatch_quote(const char *s) {
  StrBuf b = {0};
  sb_append(&b, "\"");
  for (const char *p = s; *p; p++) {
    if (*p == '\\' || *p == '"') sb_append(&b, "\\");
    sb_appendn(&b, p, 1);
  }
  sb_append(&b, "\"");
  return b.data;
}

// A path for --output: '%' doubled so Slurm's filename patterns leave it alone.
static char *output_pattern(const char *dir, const char *name) {
  StrBuf b = {0};
  sb_append(&b, "");
  for (const char *p = dir; *p; p++) sb_append(&b, *p == '%' ? "%%" : (char[]){*p, 0});
  sb_printf(&b, "/slurm/logs/%s", name);
  return b.data;
}

int slurm_check_path(const char *what, const char *path, BenchErr *err) {
  for (const char *p = path; *p; p++)
    if ((unsigned char)*p < 0x20 || *p == 0x7f)
      return err_set(err, "%s '%s' holds a control character, which a batch script cannot carry", what, path);
  return 0;
}

// "#SBATCH --key=value" with the value quoted for sbatch.
static void directive(StrBuf *b, const char *key, const char *value) {
  char *q = sbatch_quote(value);
  sb_printf(b, "#SBATCH --%s=%s\n", key, q);
  free(q);
}

static void resource_directives(StrBuf *b, const SlurmJobSpec *j, int with_gres, const char *time) {
  if (j->partition) sb_printf(b, "#SBATCH --partition=%s\n", j->partition);
  if (j->account) sb_printf(b, "#SBATCH --account=%s\n", j->account);
  if (with_gres && j->gres) sb_printf(b, "#SBATCH --gres=%s\n", j->gres);
  if (time) sb_printf(b, "#SBATCH --time=%s\n", time);
}

char *slurm_array_script(const SlurmJobSpec *j) {
  StrBuf b = {0};
  const SlurmPack *p = j->pack;
  long jobs = 0;
  for (int s = 0; s < p->n_shards; s++) jobs += p->shard_jobs[s];
  long lead, grace;
  slurm_signal_plan(j->time ? slurm_time_seconds(j->time) : -1, &lead, &grace);
  char *spec = slurm_array_spec(p->task_ids, p->n_tasks, j->max_parallel);
  char *name = xasprintf("bench-%s", j->suite_name);
  char *out = output_pattern(j->results, "array-%A_%a.out");
  sb_printf(&b,
            "#!/bin/bash\n"
            "# Written by `bench submit` for suite '%s': %ld job%s in %d array task%s, task I-1 running\n"
            "# shard I of %d. Every task writes into one results directory; a requeued task resumes.\n",
            j->suite_name, jobs, jobs == 1 ? "" : "s", p->n_tasks, p->n_tasks == 1 ? "" : "s", p->n_shards);
  directive(&b, "job-name", name);
  sb_printf(&b, "#SBATCH --array=%s\n", spec);
  directive(&b, "output", out);
  sb_append(&b, "#SBATCH --open-mode=append\n");
  directive(&b, "chdir", j->workdir);
  sb_append(&b, "#SBATCH --requeue\n");
  sb_printf(&b, "#SBATCH --signal=B:TERM@%ld\n", lead);
  resource_directives(&b, j, 1, j->time);
  char *bench = shell_quote(j->bench), *suite = shell_quote(j->suite_path);
  char *res = shell_quote(j->results), *rep = shell_quote(j->reports);
  sb_printf(&b,
            "# SIGTERM comes %ld s before the time limit (--signal), on preemption and on requeue: bench\n"
            "# then starts no new job and lets the running one finish for up to BENCH_STOP_GRACE seconds.\n"
            "# What is left runs when the task is requeued, or at the next `bench submit`.\n"
            "export BENCH_STOP_GRACE=%ld\n"
            "exec %s run %s --shard \"$((SLURM_ARRAY_TASK_ID + 1))/%d\" --results %s --reports %s --no-report\n",
            lead, grace, bench, suite, p->n_shards, res, rep);
  free(bench);
  free(suite);
  free(res);
  free(rep);
  free(out);
  free(name);
  free(spec);
  return b.data;
}

// The report step's time limit: the tasks' own, at most an hour.
#define REPORT_TIME_CAP_S 3600

char *slurm_report_script(const SlurmJobSpec *j) {
  StrBuf b = {0};
  char *name = xasprintf("bench-%s-report", j->suite_name);
  char *out = output_pattern(j->results, "report-%j.out");
  long t = j->time ? slurm_time_seconds(j->time) : -1;
  sb_printf(&b,
            "#!/bin/bash\n"
            "# Written by `bench submit` for suite '%s': the report, run after the array whatever its\n"
            "# outcome (--dependency=afterany on the sbatch command line).\n",
            j->suite_name);
  directive(&b, "job-name", name);
  directive(&b, "output", out);
  directive(&b, "chdir", j->workdir);
  resource_directives(&b, j, 0, t > REPORT_TIME_CAP_S ? "60:00" : j->time);
  char *bench = shell_quote(j->bench), *res = shell_quote(j->results), *rep = shell_quote(j->reports);
  sb_printf(&b, "exec %s report %s --reports %s\n", bench, res, rep);
  free(bench);
  free(res);
  free(rep);
  free(out);
  free(name);
  return b.data;
}
