// weights_check.c — NaN/Inf scan of a checkpoint's tensors (weights_check.h).
#include "weights_check.h"

#include <stdlib.h>
#include <string.h>

#include "safetensors.h"

// A value is NaN or ±Inf when its exponent bits are all ones.
static int bad_at(StDtype t, const uint8_t *p, uint64_t i) {
  uint64_t v = 0;
  size_t w = st_dtype_size(t);
  for (size_t k = 0; k < w; k++) v |= (uint64_t)p[i * w + k] << (8 * k);
  switch (t) {
    case ST_F64: return (v & 0x7ff0000000000000ULL) == 0x7ff0000000000000ULL;
    case ST_F32: return (v & 0x7f800000u) == 0x7f800000u;
    case ST_F16: return (v & 0x7c00u) == 0x7c00u;
    case ST_BF16: return (v & 0x7f80u) == 0x7f80u;
    default: return 0;
  }
}

static void scan_tensor(const StFile *f, const StTensor *t, uint64_t *count, uint64_t *first) {
  const uint8_t *p = st_tensor_data(f, t);
  uint64_t c = 0, lo = UINT64_MAX;
#pragma omp parallel for reduction(+ : c) reduction(min : lo)
  for (uint64_t i = 0; i < t->n_elems; i++)
    if (bad_at(t->dtype, p, i)) {
      c++;
      if (i < lo) lo = i;
    }
  *count = c;
  *first = lo;
}

int weights_nonfinite(const char *dir, NonfiniteTensor **out, int *n, BenchErr *err) {
  *out = NULL;
  *n = 0;
  StShards sh;
  if (st_shards_find(dir, &sh, err) != 0) return -1;
  int rc = 0;
  for (int i = 0; i < sh.n_files && rc == 0; i++) {
    char *path = path_join(dir, sh.files[i]);
    StFile f;
    rc = st_open(path, &f, err);
    free(path);
    for (int k = 0; rc == 0 && k < f.n_tensors; k++) {
      uint64_t count, first;
      scan_tensor(&f, &f.tensors[k], &count, &first);
      if (count == 0) continue;
      *out = xrealloc(*out, (size_t)(*n + 1) * sizeof **out);
      (*out)[(*n)++] = (NonfiniteTensor){xstrdup(sh.files[i]), xstrdup(f.tensors[k].name), count, first};
    }
    if (rc == 0) st_close(&f);
  }
  st_shards_free(&sh);
  if (rc != 0) {
    nonfinite_tensors_free(*out, *n);
    *out = NULL;
    *n = 0;
  }
  return rc;
}

void nonfinite_tensors_free(NonfiniteTensor *t, int n) {
  for (int i = 0; i < n; i++) {
    free(t[i].file);
    free(t[i].tensor);
  }
  free(t);
}
