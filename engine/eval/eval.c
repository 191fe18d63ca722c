// eval.c — evaluation protocols (window plans: which tokens are scored) and the statistics over
// per-token NLLs. The definitions, token by token, are in eval.h; eval_job.c runs them.
// Legend: N dataset tokens, L length, W windows, S stride.
#include "eval.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const PROTOCOL_NAMES[] = {"chunks", "random", "sliding", "half", "decode"};
#define N_PROTOCOLS 5

int protocol_from_name(const char *name, Protocol *p, BenchErr *err) {
  for (int i = 0; i < N_PROTOCOLS; i++)
    if (strcmp(name, PROTOCOL_NAMES[i]) == 0) {
      *p = (Protocol)i;
      return 0;
    }
  const char *guess = closest_name(name, PROTOCOL_NAMES, N_PROTOCOLS);
  if (guess) return err_set(err, "unknown protocol '%s' (did you mean '%s'?)", name, guess);
  return err_set(err, "unknown protocol '%s' (chunks, random, sliding, half or decode)", name);
}

const char *protocol_name(Protocol p) {
  CHECK((int)p >= 0 && (int)p < N_PROTOCOLS);
  return PROTOCOL_NAMES[p];
}

long protocol_tokens_needed(Protocol p, long length, long windows, long stride) {
  if (stride == 0) stride = length / 2;
  switch (p) {
    case PROTO_CHUNKS:
    case PROTO_HALF:
    case PROTO_DECODE: return windows * length;
    case PROTO_RANDOM: return length;
    case PROTO_SLIDING: return (windows - 1) * stride + length;
  }
  return -1;
}

int plan_windows(Protocol p, long n_tokens, long length, long windows, long stride, uint64_t seed,
                 const char *dataset_name, WindowPlan *out, BenchErr *err) {
  memset(out, 0, sizeof *out);
  if (p == PROTO_DECODE) return err_set(err, "protocol 'decode' plans its windows with decode_plan");
  if (length < 2 || length > EVAL_MAX_LENGTH)
    return err_set(err, "length %ld is out of range (2 to %ld)", length, EVAL_MAX_LENGTH);
  if (windows < 1 || windows > EVAL_MAX_WINDOWS)
    return err_set(err, "windows %ld is out of range (1 to %ld)", windows, EVAL_MAX_WINDOWS);
  if (p == PROTO_SLIDING) {
    if (stride == 0) stride = length / 2;
    if (stride < 1 || stride > length)
      return err_set(err, "stride %ld is out of range (1 to the length %ld)", stride, length);
  }
  long needed = protocol_tokens_needed(p, length, windows, stride);
  if (n_tokens < needed) {
    if (p == PROTO_RANDOM)
      return err_set(err, "dataset '%s' has %ld tokens; length %ld needs %ld", dataset_name,
                     n_tokens, length, needed);
    if (p == PROTO_SLIDING)
      return err_set(err,
                     "dataset '%s' has %ld tokens; length %ld × %ld windows at stride %ld needs %ld",
                     dataset_name, n_tokens, length, windows, stride, needed);
    return err_set(err, "dataset '%s' has %ld tokens; length %ld × %ld windows needs %ld",
                   dataset_name, n_tokens, length, windows, needed);
  }
  out->w = xcalloc((size_t)windows, sizeof *out->w);
  out->n = windows;
  out->needed = needed;
  Rng rng;
  rng_seed(&rng, seed);
  for (long i = 0; i < windows; i++) {
    EvalWindow *w = &out->w[i];
    w->len = length;
    switch (p) {
      case PROTO_CHUNKS:
        w->start = i * length;
        w->score_from = 0;
        break;
      case PROTO_HALF:
        w->start = i * length;
        w->score_from = length / 2;
        break;
      case PROTO_RANDOM:
        w->start = (long)rng_below(&rng, (uint64_t)(n_tokens - length + 1));
        w->score_from = 0;
        break;
      case PROTO_SLIDING:
        w->start = i * stride;
        // Window 0 scores targets [1, L); window k scores from absolute max(kS+1, (k−1)S+L).
        w->score_from = i == 0 ? 0 : (length - stride - 1 > 0 ? length - stride - 1 : 0);
        break;
      case PROTO_DECODE: die("unreachable");
    }
    out->scored += w->len - 1 - w->score_from;
  }
  return 0;
}

void window_plan_free(WindowPlan *p) {
  free(p->w);
  memset(p, 0, sizeof *p);
}

// ---- statistics ----
void eval_stats_init(EvalStats *s, long length) {
  memset(s, 0, sizeof *s);
  CHECK(length >= 1);
  s->length = length;
  s->bucket_width = (length + EVAL_POSITION_BUCKETS - 1) / EVAL_POSITION_BUCKETS;
  s->nonfinite_window = s->nonfinite_offset = -1;
}

void eval_stats_add_window(EvalStats *s, const float *nll, const uint8_t *correct, long n,
                           long first_offset) {
  double sum = 0;
  for (long i = 0; i < n; i++) {
    double x = nll[i];
    if (!isfinite(x) && s->n_nonfinite++ == 0) {
      s->nonfinite_window = s->n_windows;
      s->nonfinite_offset = first_offset + i;
      s->nonfinite_nll = x;
    }
    sum += x;
    s->n++;
    double d = x - s->mean;
    s->mean += d / (double)s->n;
    s->m2 += d * (x - s->mean);
    if (correct && correct[i]) s->correct++;
    long b = (first_offset + i) / s->bucket_width;
    CHECK(b >= 0 && b < EVAL_POSITION_BUCKETS);
    s->bucket_sum[b] += x;
    s->bucket_n[b]++;
  }
  if (s->n_windows == s->cap) {
    s->cap = s->cap ? 2 * s->cap : 16;
    s->window_mean = xrealloc(s->window_mean, (size_t)s->cap * sizeof *s->window_mean);
  }
  s->window_mean[s->n_windows++] = n > 0 ? sum / (double)n : NAN;
}

void eval_stats_free(EvalStats *s) {
  free(s->window_mean);
  memset(s, 0, sizeof *s);
}

void eval_stats_result(const EvalStats *s, EvalResult *r) {
  r->tokens = s->n;
  r->nll = s->n > 0 ? s->mean : NAN;
  r->ppl = exp(r->nll);
  r->nll_stderr = s->n > 1 ? sqrt(s->m2 / (double)(s->n - 1)) / sqrt((double)s->n) : 0.0;
  r->acc = s->n > 0 ? (double)s->correct / (double)s->n : NAN;
  free(r->by_position);
  r->by_position = xcalloc(EVAL_POSITION_BUCKETS, sizeof *r->by_position);
  r->n_by_position = 0;
  for (int b = 0; b < EVAL_POSITION_BUCKETS; b++) {
    if (s->bucket_n[b] == 0) continue;
    PositionBucket *pb = &r->by_position[r->n_by_position++];
    pb->bucket_start = (long)b * s->bucket_width;
    pb->mean_nll = s->bucket_sum[b] / (double)s->bucket_n[b];
    pb->n = s->bucket_n[b];
  }
  free(r->window_ppl);
  r->window_ppl = xcalloc((size_t)(s->n_windows ? s->n_windows : 1), sizeof *r->window_ppl);
  r->n_windows = s->n_windows;
  for (long i = 0; i < s->n_windows; i++) r->window_ppl[i] = exp(s->window_mean[i]);
  r->nonfinite_tokens = s->n_nonfinite;
  r->nonfinite_window = s->nonfinite_window;
  r->nonfinite_position = s->nonfinite_offset;
  r->nonfinite_nll = s->nonfinite_nll;
}

void eval_result_free(EvalResult *r) {
  free(r->by_position);
  free(r->window_ppl);
  free(r->token_nll);
  memset(r, 0, sizeof *r);
}
