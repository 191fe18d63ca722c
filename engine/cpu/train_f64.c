// train_f64.c — the trainer's compute in fp64 with dgemm (gradient checks by finite differences).
#define TR_REAL double
#define TR_SFX f64
#define TR_GEMM cblas_dgemm
#include "train_tmpl.h"
