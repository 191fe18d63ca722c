// doctor_internal.h — what the parts of a GPU check share (doctor.h): the rows they print and
// count, and the device helpers of the kernel checks (check_rows.c).
// Legend: n elements, D head dim.
#ifndef BENCH_DOCTOR_INTERNAL_H
#define BENCH_DOCTOR_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "doctor.h"
#include "fp_bounds.h"
#include "util.h"

// The rows of the part being checked: counted into *tally, printed to out (NULL: not printed).
typedef struct {
  CheckTally *tally;
  FILE *out;
  const char *part;  // "kernels", "engine", "model": the table's second column
} CheckRows;
extern CheckRows check_rows_now;

// One row: ok or FAIL, the check, the detail (printf format). The first failing row is kept in
// the tally (check_tally_first_fail).
void check_row(int ok, const char *what, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

// --quick: cases whose cost (about the kernel's inner iterations) is over CHECK_QUICK_COST are
// skipped; every kernel family keeps small cases (a few seconds on a GPU, minutes on the CUDA
// simulator).
#define CHECK_QUICK_COST 1e5
extern int check_quick;
static inline int check_skip(double cost) { return check_quick && cost > CHECK_QUICK_COST; }

#ifdef BENCH_CUDA
#include "dtype.h"
void *dput(const void *host, size_t bytes);
void *dzeros(size_t bytes);
void *dput_as(const float *host, size_t n, DType dt);  // fp32 host values → device, in dtype
void dget(void *host, const void *dev, size_t bytes);
void *dpoison(size_t n);  // n 32-bit words holding a NaN's bits
// |got − ref| ≤ atol + rtol·scale_i (scale_i = |ref_i|, or scale[i]); one row; device errors fail.
int check_close(const char *what, const float *ref, const float *got, size_t n, const double *scale,
                double rtol, double atol);
int check_equal_i32(const char *what, const int32_t *ref, const int32_t *got, size_t n);
void check_true(const char *what, int cond, const char *detail);
double max_row_norm(const float *x, size_t n, int D);
double attn_weight_eps(double A, int D);
double attn_eps(double A, int D, double n);
float *rand_floats(Rng *r, size_t n, double std);
void kernel_check_kv(Rng *r);  // kernel_check_kv.c
#endif

#endif
