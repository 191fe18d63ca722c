// results_dir.c — which results directory a command may write into (results.h): one suite's.
#include <stdlib.h>
#include <string.h>

#include "results.h"

int results_dir_check(const char *dir, const char *suite, int force, BenchErr *err) {
  if (!dir[0]) return err_set(err, "--results: the path is empty");
  if (file_exists(dir) && !is_directory(dir))
    return err_set(err, "results directory '%s' is not a directory", dir);
  Manifest m;
  manifest_read(dir, &m);
  const char *owner = json_string_value(json_object_get(m.root, "suite"));
  int rc = 0;
  if (owner && strcmp(owner, suite) != 0 && !force)
    rc = err_set(err, "results directory '%s' holds the results of suite '%s' (its manifest.json), not of suite "
                 "'%s': the two would mix; give another --results, or --force to mix them", dir, owner, suite);
  manifest_free(&m);
  return rc;
}
