// slurm_status.c — what `bench status` says about a submitted array: per task, how many of its jobs
// have results (from DIR/jobs/ alone) and, when squeue answers, the task's state (slurm.h).
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "results.h"
#include "run_status.h"
#include "slurm.h"

#define MAX_TASKS_LISTED 30
#define SQUEUE_TIMEOUT_S 20

char *slurm_submitted_path(const char *dir) { return path_join(dir, "slurm/submitted.json"); }

// squeue's lines "ID|STATE|REASON" for the given ids, one per job or array task (-r).
// Returns 0 with the text, 1 when none of the ids is known any more, -1 when squeue failed.
static int squeue_lines(const char *ids, StrBuf *out, StrBuf *why) {
  char *argv[] = {"squeue", "-h", "-r", "-j", (char *)ids, "-o", "%i|%T|%R", NULL};
  StrBuf e = {0};
  int rc = slurm_exec(argv, SQUEUE_TIMEOUT_S, out, &e);
  int ret = 0;
  if (rc != 0) {
    if (e.data && strstr(e.data, "Invalid job id")) ret = 1;
    else {
      ret = -1;
      size_t n = e.data ? strcspn(e.data, "\n") : 0;
      if (rc == 127) sb_append(why, "squeue not found");
      else sb_printf(why, "squeue failed (exit %d)%s%.*s", rc, n ? ": " : "", (int)n, e.data ? e.data : "");
    }
  }
  sb_free(&e);
  return ret;
}

// "A,R" from a submission (NULL when it names no job).
static char *submitted_ids(const json_t *sub) {
  const char *a = json_string_value(json_object_get(sub, "array_job_id"));
  const char *r = json_string_value(json_object_get(sub, "report_job_id"));
  if (!a && !r) return NULL;
  if (a && r) return xasprintf("%s,%s", a, r);
  return xstrdup(a ? a : r);
}

int slurm_still_queued(const char *dir, StrBuf *queued) {
  char *path = slurm_submitted_path(dir);
  json_t *sub = run_file_load(path);
  free(path);
  char *ids = sub ? submitted_ids(sub) : NULL;
  json_decref(sub);
  if (!ids) return 0;
  StrBuf o = {0}, why = {0};
  int rc = squeue_lines(ids, &o, &why);
  int ret = rc < 0 ? -1 : 0;
  if (rc == 0 && o.len > 0) {
    sb_append(queued, ids);
    ret = 1;
  }
  if (ret < 0) sb_append(queued, why.data ? why.data : "");
  free(ids);
  sb_free(&o);
  sb_free(&why);
  return ret;
}

// The state squeue gives "ID" (e.g. "123_4" or "124"), or NULL.
static const char *state_of(const char *lines, const char *id, char *buf, size_t len) {
  size_t n = strlen(id);
  for (const char *l = lines; l && *l;) {
    const char *eol = strchr(l, '\n');
    if (strncmp(l, id, n) == 0 && l[n] == '|') {
      const char *s = l + n + 1;
      size_t k = eol ? (size_t)(eol - s) : strlen(s);
      if (k >= len) k = len - 1;
      char *copy = xstrndup(s, k);
      char *bar = strchr(copy, '|');  // "STATE|REASON" → "STATE (REASON)" unless the reason is None
      if (bar) *bar++ = 0;
      if (bar && *bar && strcmp(bar, "None") != 0) snprintf(buf, len, "%s (%s)", copy, bar);
      else snprintf(buf, len, "%s", copy);
      free(copy);
      return buf;
    }
    l = eol ? eol + 1 : NULL;
  }
  return NULL;
}

void slurm_status_print(const char *dir, FILE *out) {
  char *path = slurm_submitted_path(dir);
  json_t *sub = run_file_load(path);
  free(path);
  if (!sub) return;
  const char *array = json_string_value(json_object_get(sub, "array_job_id"));
  const char *report = json_string_value(json_object_get(sub, "report_job_id"));
  const char *when = json_string_value(json_object_get(sub, "submitted"));
  json_t *tasks = json_object_get(sub, "tasks");
  long shards = (long)json_integer_value(json_object_get(sub, "shards"));
  char *ids = submitted_ids(sub);
  StrBuf q = {0}, why = {0};
  int sq = ids ? squeue_lines(ids, &q, &why) : 1;
  fprintf(out, "slurm     array %s (%zu task%s over %ld shard%s), report job %s, submitted %s\n",
          array ? array : "?", json_array_size(tasks), json_array_size(tasks) == 1 ? "" : "s", shards,
          shards == 1 ? "" : "s", report ? report : "none", when ? when : "?");
  if (sq < 0) fprintf(out, "          queue state unknown: %s\n", why.data ? why.data : "");
  long t_done = 0, t_left = 0, t_queued = 0;
  size_t i;
  json_t *t;
  json_array_foreach(tasks, i, t) {
    long task = (long)json_integer_value(json_object_get(t, "task"));
    json_t *jobs = json_object_get(t, "jobs");
    long n = (long)json_array_size(jobs), have = 0, ok = 0;
    size_t k;
    json_t *e;
    json_array_foreach(jobs, k, e) {
      const char *id = json_string_value(e);
      if (!id) continue;
      char *p = job_result_path(dir, id);
      if (file_exists(p)) {
        have++;
        ok += job_result_ok(dir, id, NULL);
      }
      free(p);
    }
    char tid[64], sbuf[160];
    snprintf(tid, sizeof tid, "%s_%ld", array ? array : "?", task);
    const char *st = sq == 0 ? state_of(q.data, tid, sbuf, sizeof sbuf) : NULL;
    if (st) t_queued++;
    else if (have == n) t_done++;
    else t_left++;
    if ((long)i < MAX_TASKS_LISTED)
      fprintf(out, "  task %-5ld shard %ld/%ld: %ld/%ld jobs done (%ld ok)%s%s\n", task, task + 1, shards, have,
              n, ok, st ? ", " : sq == 0 ? (have == n ? ", finished" : ", not in the queue") : "", st ? st : "");
  }
  if (json_array_size(tasks) > MAX_TASKS_LISTED)
    fprintf(out, "  ... and %zu more tasks\n", json_array_size(tasks) - MAX_TASKS_LISTED);
  if (sq >= 0) {
    char rbuf[160];
    const char *rs = report && sq == 0 ? state_of(q.data, report, rbuf, sizeof rbuf) : NULL;
    fprintf(out, "          %ld task%s queued or running, %ld finished, %ld ended with jobs left%s; report job %s\n",
            t_queued, t_queued == 1 ? "" : "s", t_done, t_left,
            t_left ? " (run `bench submit` again to submit them)" : "", rs ? rs : "not in the queue");
  }
  free(ids);
  sb_free(&q);
  sb_free(&why);
  json_decref(sub);
}
