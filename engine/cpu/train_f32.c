// train_f32.c — the trainer's compute in fp32 with sgemm (the CPU reference trainer).
#define TR_REAL float
#define TR_SFX f32
#define TR_GEMM cblas_sgemm
#include "train_tmpl.h"
