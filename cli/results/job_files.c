// job_files.c — the one scan of DIR/jobs/: which job results a directory holds (results.h).
// Temp files of a writer ("<id>.json.tmp.PID") and hidden files are not results.
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "results.h"

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int is_result_name(const char *name) {
  size_t n = strlen(name);
  return name[0] != '.' && n > 5 && strcmp(name + n - 5, ".json") == 0;
}

int job_files_list(const char *results_dir, JobFiles *f, BenchErr *err) {
  memset(f, 0, sizeof *f);
  char *jobs = job_results_dir(results_dir);
  DIR *d = opendir(jobs);
  if (!d) {
    int absent = !file_exists(jobs);
    if (!absent) err_set(err, "cannot list '%s'", jobs);
    free(jobs);
    return absent ? 0 : -1;
  }
  int cap = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (!is_result_name(e->d_name)) continue;
    if (f->n == cap) {
      cap = cap ? cap * 2 : 64;
      f->ids = xrealloc(f->ids, (size_t)cap * sizeof *f->ids);
    }
    f->ids[f->n++] = xstrdup(e->d_name);
  }
  closedir(d);
  free(jobs);
  if (f->n > 1) qsort(f->ids, (size_t)f->n, sizeof *f->ids, cmp_str);  // by file name
  for (int i = 0; i < f->n; i++) f->ids[i][strlen(f->ids[i]) - 5] = 0;   // drop ".json"
  return 0;
}

void job_files_free(JobFiles *f) {
  for (int i = 0; i < f->n; i++) free(f->ids[i]);
  free(f->ids);
  memset(f, 0, sizeof *f);
}
