// eval_decode.c — the decode protocol (eval.h): windows as chunks, prompt prefilled, then one
// token per step for up to DECODE_BATCH windows at once under the job's cache policy; per-token
// NLLs into the statistics, step timing (warmup steps untimed) and the KV metrics.
// Legend: L length, P prompt, W windows, B windows stepped together, K kv heads, D head dim.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"
#include "eval.h"

int decode_plan(long n_tokens, long length, long windows, long prompt, const char *dataset_name,
                WindowPlan *out, BenchErr *err) {
  if (plan_windows(PROTO_CHUNKS, n_tokens, length, windows, 0, 0, dataset_name, out, err) != 0)
    return -1;
  if (prompt < 1 || prompt >= length) {
    window_plan_free(out);
    return err_set(err,
                   "decode prompt %ld is out of range (1 to %ld: a length of %ld is prompt + "
                   "generated tokens)",
                   prompt, length - 1, length);
  }
  out->scored = 0;
  for (long i = 0; i < out->n; i++) {
    out->w[i].score_from = prompt - 1;
    out->scored += length - prompt;
  }
  return 0;
}

// Slots a cache needs: the policy's budget (held slots + the step's token), the prefill, and never
// more than the L − 1 tokens a window's steps read.
static long cache_slots(const KVPolicy *p, long L, long P) {
  long keep = kv_policy_keep(p);
  long cap = keep < 0 ? L - 1 : keep + 1;
  if (cap < P - 1) cap = P - 1;
  if (cap > L - 1) cap = L - 1;
  return cap < 1 ? 1 : cap;
}

typedef struct {
  float *nll;        // [W, L − P] per window, per step
  uint8_t *correct;  // [W, L − P]
  long peak_keys, prefill_keys;
  double forward_s, timed_s;
  long timed_tokens;
  long scored;       // predictions made so far
  double last_progress;
} DecodeRun;

// Progress for the runner: windows finished (whole batches), predictions so far, forward time;
// at most every PROGRESS_S seconds within a batch, and at its end.
#define PROGRESS_S 0.25
static void report_progress(const EvalRequest *req, DecodeRun *run, long windows_done,
                            long windows, int batch_end) {
  if (!req->progress) return;
  double now = mono_time();
  if (!batch_end && now - run->last_progress < PROGRESS_S) return;
  run->last_progress = now;
  req->progress(req->progress_ctx, windows_done, windows, run->scored, run->forward_s);
}

// Windows w0 .. w0 + B − 1 through one DecodeState: prefills, then the steps.
static int run_batch(const EvalRequest *req, DecodeState *d, const int32_t *ids,
                     const WindowPlan *plan, long w0, DecodeRun *run, BenchErr *err) {
  long L = req->length, P = req->prompt, steps = L - P;
  int B = d->B;
  double t0 = mono_time();
  for (int b = 0; b < B && P > 1; b++)
    if (decode_prefill(d, b, ids + plan->w[w0 + b].start, P - 1, err) != 0) {
      err_prefix(err, "window %ld prefill", w0 + b);
      return -1;
    }
  run->forward_s += mono_time() - t0;
  int32_t *tok = xmalloc((size_t)B * sizeof *tok), *tgt = xmalloc((size_t)B * sizeof *tgt);
  float *nll = xmalloc((size_t)B * sizeof *nll);
  uint8_t *ok = xmalloc((size_t)B);
  int rc = 0;
  for (long t = P - 1; t < L - 1 && rc == 0; t++) {
    for (int b = 0; b < B; b++) {
      tok[b] = ids[plan->w[w0 + b].start + t];
      tgt[b] = ids[plan->w[w0 + b].start + t + 1];
    }
    double ts = mono_time();
    rc = decode_step(d, tok, t, tgt, nll, ok, err);
    double dt = mono_time() - ts;
    if (rc != 0) {
      err_prefix(err, "windows %ld..%ld step at token %ld", w0, w0 + B - 1, t);
      break;
    }
    long s = t - (P - 1);
    run->forward_s += dt;
    if (s >= req->warmup) {
      run->timed_s += dt;
      run->timed_tokens += B;
    }
    for (int b = 0; b < B; b++) {
      run->nll[(w0 + b) * steps + s] = nll[b];
      run->correct[(w0 + b) * steps + s] = ok[b];
    }
    run->scored += B;
    report_progress(req, run, t == L - 2 ? w0 + B : w0, plan->n, t == L - 2);
  }
  if (d->peak_keys > run->peak_keys) run->peak_keys = d->peak_keys;
  if (d->prefill_keys > run->prefill_keys) run->prefill_keys = d->prefill_keys;
  free(tok);
  free(tgt);
  free(nll);
  free(ok);
  return rc;
}

int eval_decode(const EvalRequest *req, const Model *m, const RopeTable *rope, const int32_t *ids,
                const WindowPlan *plan, const KVPolicy *policy, EvalStats *stats, EvalResult *r,
                BenchErr *err) {
  const ModelConfig *c = &m->config;
  long L = req->length, P = req->prompt, steps = L - P;
  CHECK(P >= 1 && P < L);
  long cap = cache_slots(policy, L, P);
  DecodeRun run = {0};
  run.nll = xmalloc((size_t)plan->n * (size_t)steps * sizeof *run.nll);
  run.correct = xmalloc((size_t)plan->n * (size_t)steps);
  ForwardOptions opt = engine_forward_options(req->engine, req->threads, 0);
  int rc = 0;
  int batch = DECODE_BATCH;
  for (long w0 = 0; w0 < plan->n && rc == 0;) {
    int B = plan->n - w0 < batch ? (int)(plan->n - w0) : batch;
    DecodeState d;
    rc = decode_init(&d, m, opt.backend, rope, policy, B, cap, P - 1, &opt, err);
    if (rc != 0 && B > 1 && strstr(err->msg, "out of memory")) {  // fewer windows at once
      batch = B / 2;
      rc = 0;
      continue;
    }
    if (rc == 0) rc = run_batch(req, &d, ids, plan, w0, &run, err);
    decode_free(&d);
    w0 += B;
  }
  if (rc == 0) {
    for (long i = 0; i < plan->n; i++)
      eval_stats_add_window(stats, run.nll + i * steps, run.correct + i * steps, steps, P);
    if (req->keep_token_nll) {
      r->token_nll = xmalloc((size_t)plan->n * (size_t)steps * sizeof *r->token_nll);
      memcpy(r->token_nll, run.nll, (size_t)plan->n * (size_t)steps * sizeof *run.nll);
    }
    r->forward_s = run.forward_s;
    r->timed_s = run.timed_s;
    r->timed_tokens = run.timed_tokens;
    r->tokens_per_s = run.timed_s > 0 ? (double)run.timed_tokens / run.timed_s : NAN;
    r->kv_peak_tokens = run.peak_keys;
    r->kv_peak_bytes = kv_bytes(c->n_layers, c->n_kv_heads, c->head_dim, run.peak_keys,
                                sizeof(float));
    r->kv_budget = policy->budget > 0 ? policy->budget : L - 1;
    r->kv_full_bytes = kv_bytes(c->n_layers, c->n_kv_heads, c->head_dim, L - 1, sizeof(float));
    r->kv_prefill_tokens = run.prefill_keys;
  }
  free(run.nll);
  free(run.correct);
  return rc;
}
