// canon_json.h — JSON text with fixed formatting, for job identities (hashed into job ids) and for
// what bench prints.
//
// Canonical form (json_canonical): object keys sorted by their UTF-8 bytes, no whitespace, strings
// with the minimal escapes (", \, control characters), numbers in their shortest round-trip form:
// integral values without a decimal point (1, not 1.0; 500000, not 5e5), others with the fewest
// significant digits that read back to the same double (0.1, 1e-5, 2.5e-7), exponents without '+'
// or leading zeros. The same value always gives the same bytes.
#ifndef BENCH_CANON_JSON_H
#define BENCH_CANON_JSON_H

#include <jansson.h>

#include "util.h"

// Canonical text of v (caller frees). NaN/inf, which JSON cannot hold, print as null.
char *json_canonical(const json_t *v);
// Appends v to b in the same number and string formatting; keys in insertion order unless
// sort_keys; indent > 0 puts one member per line with that many spaces per level.
void json_write(StrBuf *b, const json_t *v, int sort_keys, int indent);
// The shortest round-trip text of x (as above) into out (at least 32 bytes).
void json_format_number(double x, char out[32]);
// A JSON number for x: an integer when x is integral and exactly representable, else a real.
json_t *json_number_of(double x);

#endif
