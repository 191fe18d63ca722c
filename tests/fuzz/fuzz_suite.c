// fuzz_suite.c — libFuzzer harness for the suite parser: any bytes must give a Suite or
// diagnostics, never a crash, a leak or undefined behaviour. Parses from memory (no file is
// written); relative paths resolve against a directory that does not exist.
#include <stdint.h>
#include <stdio.h>

#include "suite.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  Diagnostics d = {0};
  Suite *s = suite_load_buffer("fuzz.yaml", "/nonexistent-fuzz-dir", (const char *)data, size, &d);
  FILE *null = fopen("/dev/null", "w");
  if (null) {
    diagnostics_print(&d, null);
    fclose(null);
  }
  if (s) {
    // walk what a consumer walks: every variant member selector and lookup
    for (int i = 0; i < s->n_rope; i++) {
      const Variant *v = &s->rope[i];
      (void)variant_member_matches(v, NULL, v->name);
      if (v->n_params > 0) (void)variant_param(v, v->params[0].key);
    }
    for (int i = 0; i < s->n_phases; i++) {
      const Phase *p = &s->phases[i];
      (void)suite_phase(s, p->id);
      for (int j = 0; j < p->n_exclude; j++)
        for (int k = 0; k < p->exclude[j].n; k++)
          if (suite_rope(s, p->exclude[j].values[k]))
            (void)variant_member_matches(suite_rope(s, p->exclude[j].values[k]), NULL,
                                         p->exclude[j].values[k]);
    }
  }
  suite_free(s);
  diagnostics_free(&d);
  return 0;
}
