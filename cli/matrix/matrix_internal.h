// matrix_internal.h — what matrix.c and matrix_variant.c share; not used elsewhere.
#ifndef BENCH_MATRIX_INTERNAL_H
#define BENCH_MATRIX_INTERNAL_H

#include <jansson.h>

#include "matrix.h"

typedef enum { VK_ROPE, VK_CACHE, VK_TRAIN } VariantKind;

// How a variant is written out:
//  VJ_SPEC      {"name","type",params} as written in the suite (references by name): the job spec
//  VJ_ENGINE    like VJ_SPEC with references inlined as VJ_ENGINE objects and a `file` variant's
//               path resolved: what the engine takes
//  VJ_IDENTITY  no names; references inlined as VJ_IDENTITY objects; files, datasets and
//               tokenizers replaced by their fingerprints
typedef enum { VJ_SPEC, VJ_ENGINE, VJ_IDENTITY } VariantJsonMode;

typedef struct MatrixCtx {
  const Suite *s;
  Matrix *m;
  int jobs_cap, phase_cap;  // allocated entries of m->jobs and of the expanding phase's lists
  int count_only;           // matrix_count: expand_phase counts entries into `counted`, builds none
  long counted;
} MatrixCtx;

// "FILE:LINE:COL: message" (or "FILE: message" when the mark is 0). Returns -1.
int matrix_err_at(BenchErr *err, const Suite *s, Mark mark, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

// The members a selector names: `name` (all of them) or `name[key=value,...]` (those with these
// values; numbers compare by value). -1 when no variant has that name (*v NULL); *members is
// malloc'd (possibly empty).
int matrix_select(const Variant *list, int n, const char *selector, const Variant **v, int **members,
                  int *n_members);
// Whether member `member` of v is selected by selector.
int matrix_member_selected(const Variant *v, int member, const char *selector);

// The variant's JSON in the given mode; NULL with err on a bad reference.
json_t *matrix_variant_json(MatrixCtx *c, VariantKind kind, const Variant *v, int member,
                            VariantJsonMode mode, BenchErr *err);

// Fingerprints, computed once per suite entry ("missing:<path>" when the path does not exist)
// (matrix_inputs.c, with matrix_note).
const char *matrix_model_fp(MatrixCtx *c, int model_index);
const char *matrix_tokenizer_fp(MatrixCtx *c, int model_index);
const char *matrix_dataset_fp(MatrixCtx *c, int dataset_index);
int matrix_model_index(const Suite *s, const ModelDef *d);
int matrix_dataset_index(const Suite *s, const DatasetDef *d);
// "missing:<path>" (malloc'd), and whether a fingerprint is one.
char *matrix_missing_fp(const char *path);
int matrix_is_missing(const char *fp);

void matrix_note(Matrix *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
