// rope_spec.h — one rope variant of a suite (or one member of a sweep) as the JSON spec that
// rope_build takes: {"name","type",params..} with a mix's `of` and a compress's `base` inlined as
// such objects. Members of a sweep are named `variant[key=value,...]` (swept parameters in file
// order, values as written) and selected by that name (numbers compare by value).
#ifndef BENCH_ROPE_SPEC_H
#define BENCH_ROPE_SPEC_H

#include <jansson.h>

#include "suite.h"

// The spec of the variant member `selector` names; NULL with err when no variant has that name,
// when the selector matches no member, or when it stands for several (err lists them).
json_t *rope_spec_resolve(const Suite *s, const char *selector, BenchErr *err);

#endif
