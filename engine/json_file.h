// json_file.h — reading a JSON file the way every reader of model, data and result files must: never
// blocking on a special file, and never quoting the file in an error.
//
// Jansson's error text ends with the text it stopped at (" near 'abc'"): a piece of the file. Bench
// reads model, tokenizer and data files whose content must never reach run.log, a job result or a
// report, so every reader of such a file reports a parse error as its path, line, column and this
// reason: what was expected, with the quoted piece cut off ("invalid token", "'[' or '{' expected",
// "premature end of input").
#ifndef BENCH_JSON_FILE_H
#define BENCH_JSON_FILE_H

#include <jansson.h>

#include "util.h"

// The reason in je, with any quoted file text cut off (in place); points into je.
const char *json_error_reason(json_error_t *je);
// Parses the file at path (a regular file only: util.h open_regular). NULL when it cannot be
// opened (err says why) or does not parse (je says where: json_error_reason).
json_t *json_load_regular(const char *path, size_t flags, json_error_t *je, BenchErr *err);

#endif
