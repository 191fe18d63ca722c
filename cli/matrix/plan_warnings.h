// plan_warnings.h — what `bench plan` warns about before anything runs (docs/DESIGN.md):
// a dataset shorter than length × windows (seed 001's pitfall), a length beyond the positions a
// model was trained on, a job that cannot fit the device memory, seeds that change nothing,
// a decode prompt that leaves nothing to score.
#ifndef BENCH_PLAN_WARNINGS_H
#define BENCH_PLAN_WARNINGS_H

#include "matrix.h"
#include "plan_estimate.h"

// The shape of each suite model (caller frees), from its config.json; unknown (params −1) for a
// model no job uses or whose path is missing. A config.json that cannot be read adds a warning
// naming the model (when warnings is not NULL).
ModelShape *suite_model_shapes(const Suite *s, const Matrix *m, StrList *warnings);
// The shape of a job's model: shapes[model index], or the train recipe's (into *scratch).
const ModelShape *job_shape(const Matrix *m, const Job *j, const ModelShape *shapes, ModelShape *scratch);
// Memory of a resolved device (Job.runs_on) on this machine: the GPU's for cuda:N, RAM for cpu
// (*on_cpu = 1); what names it ("cpu memory", "cuda:0 (NVIDIA H100 ..)"). 0 when unknown (a GPU
// that is not visible here).
double device_memory_bytes(const char *runs_on, int *on_cpu, char *what, size_t what_len);

// Appends every warning (one line each) to out. shapes: per suite model (known = 0 when absent).
// The jobs must be placed (matrix_place_jobs): memory is checked on the device each runs on.
void plan_warnings(const Matrix *m, const ModelShape *shapes, StrList *out);

#endif
