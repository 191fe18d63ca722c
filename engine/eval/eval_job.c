// eval_job.c — one evaluation job on an engine (the caller's, else the CPU backend): model (loaded
// once by the caller, or here), dataset tokens, RoPE table, the protocol's windows through
// forward_score_window (decode: eval_decode.c, under the job's cache policy), metrics.
// Legend: N dataset tokens, L length, T tokens in a window, V vocab.
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "eval.h"
#include "forward.h"
#include "rope.h"

// ---- peak memory ----
void peak_rss_reset(void) {
  // "5" resets the peak RSS (VmHWM) that getrusage reports (Linux ≥ 4.0).
  FILE *f = fopen("/proc/self/clear_refs", "w");
  if (!f) return;
  fputs("5", f);
  fclose(f);
}

size_t peak_rss_bytes(void) {
  struct rusage ru;
  if (getrusage(RUSAGE_SELF, &ru) != 0) return 0;
  return (size_t)ru.ru_maxrss * 1024;  // kilobytes on Linux
}

// ---- text encoder over a Tokenizer ----
static int encode_with_tokenizer(void *ctx, const char *text, size_t len, int32_t **ids, size_t *n,
                                 BenchErr *err) {
  return tokenizer_encode((const Tokenizer *)ctx, text, len, 0, ids, n, err);
}

void text_encoder_from_tokenizer(const Tokenizer *tok, int32_t separator, TextEncoder *enc) {
  enc->fingerprint = tokenizer_fingerprint(tok);
  enc->encode = encode_with_tokenizer;
  enc->ctx = (void *)tok;
  enc->separator = separator;
}

// ---- the job ----
static int check_request(const EvalRequest *req, Protocol *proto, KVPolicy *policy,
                         BenchErr *err) {
  if (!req->protocol) return err_set(err, "no protocol given");
  if (protocol_from_name(req->protocol, proto, err) != 0) return -1;
  if (req->dtype && strcmp(req->dtype, "bf16") != 0 && strcmp(req->dtype, "fp16") != 0 &&
      strcmp(req->dtype, "fp32") != 0)
    return err_set(err, "unknown dtype '%s' (bf16, fp16 or fp32)", req->dtype);
  if (kv_policy_from_spec(req->cache, policy, err) != 0) return -1;
  if (*proto != PROTO_DECODE && kv_type_needs_decode(kv_policy_type(policy)))
    return err_set(err,
                   "cache policy '%s' needs protocol 'decode' (protocol '%s' reads each window in "
                   "one pass)",
                   kv_policy_type(policy), req->protocol);
  if (!req->rope || !json_is_object(req->rope)) return err_set(err, "no rope spec given");
  if (!req->dataset_path) return err_set(err, "no dataset given");
  if (!req->model && !req->model_dir) return err_set(err, "no model given");
  if (req->engine && req->engine->model != req->model)
    return err_set(err, "the engine was opened on another model than the job's");
  return 0;
}

// The id placed between jsonl documents: the model's EOS, else the tokenizer's BOS, else none.
static int32_t document_separator(const Model *m, const Tokenizer *tok) {
  if (m->config.eos_token_id >= 0) return m->config.eos_token_id;
  return tokenizer_bos_id(tok);
}

static int load_tokens(const EvalRequest *req, const Model *m, const char *dname, Tokens *toks,
                       BenchErr *err) {
  DataFormat fmt;
  if (data_format(req->dataset_path, &fmt, err) != 0) return -1;
  DataSource src = {req->dataset_path, req->dataset_field, dname};
  if (fmt == DATA_BIN || fmt == DATA_U16_BIN) return dataset_tokens(&src, NULL, toks, err);
  const Tokenizer *tok = req->tokenizer;
  Tokenizer *owned = NULL;
  if (!tok) {
    const char *path = req->tokenizer_path ? req->tokenizer_path : m->tokenizer_path;
    if (!path)
      return err_set(err, "dataset '%s' is text but model '%s' has no tokenizer.json", dname,
                     m->dir);
    if (tokenizer_load(path, &owned, err) != 0) return -1;
    tok = owned;
  }
  TextEncoder enc;
  text_encoder_from_tokenizer(tok, document_separator(m, tok), &enc);
  int rc = dataset_tokens(&src, &enc, toks, err);
  if (owned) tokenizer_free(owned);
  return rc;
}

static int check_vocab(const Tokens *t, const Model *m, const char *dname, BenchErr *err) {
  int V = m->config.vocab_size;
  for (long i = 0; i < t->n; i++)
    if (t->ids[i] < 0 || t->ids[i] >= V)
      return err_set(err, "dataset '%s': token id %d at index %ld is outside the model's vocabulary (%d)",
                     dname, t->ids[i], i, V);
  return 0;
}

static int run_windows(const EvalRequest *req, const Model *m, const RopeTable *rope,
                       const Tokens *toks, const WindowPlan *plan, EvalStats *stats, EvalResult *r,
                       BenchErr *err) {
  long L = req->length;
  float *nll = xmalloc((size_t)L * sizeof *nll);          // [T−1]
  uint8_t *correct = xmalloc((size_t)L * sizeof *correct);  // [T−1]
  if (req->keep_token_nll) r->token_nll = xmalloc((size_t)(plan->scored + 1) * sizeof *r->token_nll);
  ForwardOptions opt = engine_forward_options(req->engine, req->threads, 0);
  long kept = 0;
  int rc = 0;
  for (long i = 0; i < plan->n && rc == 0; i++) {
    const EvalWindow *w = &plan->w[i];
    long n = w->len - 1 - w->score_from;
    double t0 = mono_time();
    rc = forward_score_window(m, rope, toks->ids + w->start, w->len, w->score_from, nll, correct,
                              &opt, err);
    r->forward_s += mono_time() - t0;
    if (rc != 0) {
      err_prefix(err, "window %ld (tokens %ld..%ld)", i, w->start, w->start + w->len);
      break;
    }
    eval_stats_add_window(stats, nll, correct, n, w->score_from + 1);
    if (req->progress) req->progress(req->progress_ctx, i + 1, plan->n, stats->n, r->forward_s);
    if (r->token_nll) {
      memcpy(r->token_nll + kept, nll, (size_t)n * sizeof *nll);
      kept += n;
    }
  }
  free(nll);
  free(correct);
  return rc;
}

int eval_job(const EvalRequest *req, EvalResult *r, BenchErr *err) {
  memset(r, 0, sizeof *r);
  double t_start = mono_time();
  const Engine *e = req->engine;
  int on_gpu = e && e->gpu >= 0;
  if (on_gpu) engine_device_peak_bytes(e, 1);  // from here on: this job's peak
  else peak_rss_reset();
  Protocol proto;
  KVPolicy policy;
  if (check_request(req, &proto, &policy, err) != 0) return -1;
  const char *dname = req->dataset_name ? req->dataset_name : req->dataset_path;

  Model loaded;
  const Model *m = req->model;
  if (!m) {
    if (model_load(req->model_dir, &loaded, err) != 0) return -1;
    m = &loaded;
  }
  Tokens toks = {0};
  WindowPlan plan = {0};
  RopeTable rope;
  memset(&rope, 0, sizeof rope);
  EvalStats stats;
  eval_stats_init(&stats, req->length >= 1 ? req->length : 1);
  int have_rope = 0;
  int rc = load_tokens(req, m, dname, &toks, err);
  if (rc == 0) rc = check_vocab(&toks, m, dname, err);
  if (rc == 0 && proto == PROTO_DECODE)
    rc = decode_plan(toks.n, req->length, req->windows, req->prompt, dname, &plan, err);
  else if (rc == 0)
    rc = plan_windows(proto, toks.n, req->length, req->windows, req->stride, req->seed, dname, &plan,
                      err);
  if (rc == 0) {
    RopeModelInfo info;
    model_rope_info(&m->config, &info);
    rc = rope_build(req->rope, &info, req->length, &rope, err);
    if (rc == 0) have_rope = 1;
    else err_prefix(err, "rope");
  }
  if (rc == 0 && proto == PROTO_DECODE)
    rc = eval_decode(req, m, &rope, toks.ids, &plan, &policy, &stats, r, err);
  else if (rc == 0)
    rc = run_windows(req, m, &rope, &toks, &plan, &stats, r, err);
  if (rc == 0) {
    const ModelConfig *c = &m->config;
    eval_stats_result(&stats, r);
    if (proto != PROTO_DECODE) {  // eval_decode fills its own
      r->tokens_per_s = r->forward_s > 0 ? (double)r->tokens / r->forward_s : 0;
      r->kv_peak_tokens = req->length;
      r->kv_peak_bytes = kv_bytes(c->n_layers, c->n_kv_heads, c->head_dim, req->length,
                                  sizeof(float));
    }
    r->dataset_tokens = toks.n;
    r->tokens_from_cache = toks.from_cache;
    r->compute_dtype = e ? engine_compute_dtype(e) : "fp32";
    r->peak_mem_bytes = on_gpu ? engine_device_peak_bytes(e, 0) : peak_rss_bytes();
  }
  if (have_rope) rope_table_free(&rope);
  window_plan_free(&plan);
  eval_stats_free(&stats);
  tokens_free(&toks);
  if (m == &loaded) model_free(&loaded);
  if (rc != 0) {
    eval_result_free(r);
    return -1;
  }
  r->wall_s = mono_time() - t_start;
  return 0;
}
