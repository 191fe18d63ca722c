// engine_check.c — parts 2 and 3 of a GPU check (doctor.h): the CUDA engine against the CPU
// engine, job by job through eval_job (the path every `bench run` job takes), per-token NLLs
// compared.
//
// Part 2, models/quickstart over data/kjv/valid.txt, one window of 128 tokens per case: chunks,
// random (yarn ×4), sliding (stride 64), half, and decode (prompt 32) under the full, streaming
// (sink 4, recent 28) and h2o (heavy 16, recent 16) caches, each in fp32 and bf16 — the bounds of
// tests/gpu/test_parity_gpu.c: fp32 PPL rel ≤ 1e-3 and max |ΔNLL| ≤ 1e-3 (h2o: PPL only, it may
// evict another token where two scores nearly tie); bf16 PPL rel ≤ 4u, u = 2^-8, against the
// CPU's fp32.
// Part 3, a model's own weights, the first tokens of the text its jobs run on (data/kjv/valid.txt
// when that cannot be scored: too short, unreadable) in the job's dtype against the CPU in fp32
// (chunks, one window; every token after the first scored): |mean ΔNLL| ≤ 4u and max per-token
// |ΔNLL| ≤ 64u (u: 2^-8 bf16, 2^-11 fp16; fp32 1e-3 both). A wrong kernel moves
// NLLs by O(1); bf16's own rounding through a deep model stays well inside.
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "doctor_internal.h"
#include "engine.h"
#include "eval.h"
#include "model.h"

#define CHECK_LENGTH 128

typedef struct {
  const char *label;
  const char *protocol;
  const char *rope;    // JSON
  const char *cache;   // JSON
  long stride, prompt;
  int tie_prone;       // h2o: PPL bound only
} EngineCase;

static const EngineCase CASES[] = {
    {"chunks", "chunks", "{\"type\":\"model\"}", "{\"type\":\"full\"}", 0, 0, 0},
    {"random yarn", "random", "{\"type\":\"yarn\",\"factor\":4,\"original_max_position_embeddings\":256}",
     "{\"type\":\"full\"}", 0, 0, 0},
    {"sliding", "sliding", "{\"type\":\"model\"}", "{\"type\":\"full\"}", 64, 0, 0},
    {"half", "half", "{\"type\":\"model\"}", "{\"type\":\"full\"}", 0, 0, 0},
    {"decode full", "decode", "{\"type\":\"model\"}", "{\"type\":\"full\"}", 0, 32, 0},
    {"decode streaming", "decode", "{\"type\":\"model\"}", "{\"type\":\"streaming\",\"sink\":4,\"recent\":28}", 0, 32, 0},
    {"decode h2o", "decode", "{\"type\":\"model\"}", "{\"type\":\"h2o\",\"heavy\":16,\"recent\":16}", 0, 32, 1},
};
#define N_CASES ((int)(sizeof CASES / sizeof CASES[0]))

static double dtype_u(const char *dtype) {
  return strcmp(dtype, "bf16") == 0 ? BF16_U : strcmp(dtype, "fp16") == 0 ? FP16_U : 0.0;
}

// One job on engine e (NULL: the CPU in fp32) over txt, with every scored NLL kept.
static int score(const Model *m, const Engine *e, const char *dtype, const ProbeText *txt, const EngineCase *c,
                 long length, EvalResult *r, BenchErr *err) {
  json_t *rope = json_loads(c->rope, 0, NULL), *cache = json_loads(c->cache, 0, NULL);
  EvalRequest req = {.model = m, .tokenizer_path = txt->tokenizer, .dataset_name = txt->name,
                     .dataset_path = txt->path, .dataset_field = txt->field, .rope = rope, .cache = cache,
                     .protocol = c->protocol, .length = length, .windows = 1, .stride = c->stride,
                     .prompt = c->prompt, .warmup = 1, .seed = 0, .dtype = dtype, .engine = e, .threads = 0,
                     .keep_token_nll = 1};
  int rc = eval_job(&req, r, err);
  json_decref(rope);
  json_decref(cache);
  return rc;
}

// data/kjv/valid.txt under root (path NULL when root is).
static void kjv_valid(const char *root, ProbeText *txt) {
  memset(txt, 0, sizeof *txt);
  txt->path = root ? path_join(root, "data/kjv/valid.txt") : NULL;
  txt->name = "kjv valid";
  snprintf(txt->label, sizeof txt->label, "data/kjv/valid.txt");
  snprintf(txt->short_name, sizeof txt->short_name, "data/kjv/valid.txt");
}

void probe_text_free(ProbeText *txt) {
  free((char *)txt->path);
  memset(txt, 0, sizeof *txt);
}

static double max_abs_dnll(const EvalResult *a, const EvalResult *b, double *mean) {
  double worst = 0.0, sum = 0.0;
  for (long i = 0; i < a->tokens; i++) {
    double d = fabs((double)a->token_nll[i] - b->token_nll[i]);
    if (!(d <= worst)) worst = d;  // NaN is the worst
    sum += (double)b->token_nll[i] - a->token_nll[i];
  }
  if (mean) *mean = a->tokens ? fabs(sum / (double)a->tokens) : 0.0;
  return worst;
}

int engine_check(int gpu, const char *root, FILE *out, CheckTally *t, BenchErr *err) {
  check_rows_now = (CheckRows){t, out, "engine"};
  char *model_dir = path_join(root, "models/quickstart");
  ProbeText text;
  kjv_valid(root, &text);
  char device[32];
  snprintf(device, sizeof device, "cuda:%d", gpu);
  Model m;
  int rc = 0;
  if (model_load(model_dir, &m, err) != 0) {
    check_row(0, "load models/quickstart", "%s", err->msg);
    goto done;
  }
  EvalResult ref[N_CASES];
  int have_ref[N_CASES] = {0};
  for (int k = 0; k < N_CASES; k++) {
    memset(&ref[k], 0, sizeof ref[k]);
    if (score(&m, NULL, "fp32", &text, &CASES[k], CHECK_LENGTH, &ref[k], err) == 0) have_ref[k] = 1;
    else check_row(0, CASES[k].label, "the CPU engine failed: %s", err->msg);
  }
  const char *dtypes[2] = {"fp32", "bf16"};
  for (int d = 0; d < 2; d++) {
    DType dt;
    dtype_from_name(dtypes[d], &dt, err);
    Engine e;
    if (engine_open(&e, &m, device, dt, err) != 0) {
      check_row(0, dtypes[d], "engine_open failed: %s", err->msg);
      continue;
    }
    for (int k = 0; k < N_CASES; k++) {
      if (!have_ref[k]) continue;
      char what[96];
      snprintf(what, sizeof what, "%s %s, L %d", CASES[k].label, dtypes[d], CHECK_LENGTH);
      EvalResult r;
      memset(&r, 0, sizeof r);
      if (score(&m, &e, dtypes[d], &text, &CASES[k], CHECK_LENGTH, &r, err) != 0) {
        check_row(0, what, "the CUDA engine failed: %s", err->msg);
        continue;
      }
      double rel = fabs(r.ppl - ref[k].ppl) / ref[k].ppl, mx = max_abs_dnll(&ref[k], &r, NULL);
      double u = dtype_u(dtypes[d]);
      double ppl_tol = u > 0 ? 4 * u : 1e-3, nll_tol = u > 0 || CASES[k].tie_prone ? INFINITY : 1e-3;
      int ok = r.tokens == ref[k].tokens && rel <= ppl_tol && mx <= nll_tol;
      check_row(ok, what, "ppl %.5g vs cpu %.5g: rel %.2e (bound %.1e); max |dNLL| %.2e%s over %ld tokens",
                r.ppl, ref[k].ppl, rel, ppl_tol, mx, isinf(nll_tol) ? "" : " (bound 1.0e-03)", r.tokens);
      eval_result_free(&r);
    }
    engine_close(&e);
  }
  for (int k = 0; k < N_CASES; k++)
    if (have_ref[k]) eval_result_free(&ref[k]);
  model_free(&m);
done:
  free(model_dir);
  probe_text_free(&text);
  check_rows_now = (CheckRows){0};
  return rc;
}

long doctor_probe_tokens(long long n_params) { return n_params > 2000000000LL ? 128 : DOCTOR_PROBE_TOKENS; }

static const EngineCase PROBE = {"probe", "chunks", "{\"type\":\"model\"}", "{\"type\":\"full\"}", 0, 0, 0};

int probe_reference(const Model *m, const DoctorModel *dm, const char *root, long T, ProbeText *txt,
                    EvalResult *ref, BenchErr *err) {
  memset(ref, 0, sizeof *ref);
  char why[320] = "";
  if (dm->data) {
    memset(txt, 0, sizeof *txt);
    txt->path = xstrdup(dm->data);
    txt->field = dm->data_field;
    txt->tokenizer = dm->tokenizer;
    txt->name = dm->data_name ? dm->data_name : dm->data;
    snprintf(txt->label, sizeof txt->label, "dataset '%s'", txt->name);
    snprintf(txt->short_name, sizeof txt->short_name, "%s", txt->name);
    if (score(m, NULL, "fp32", txt, &PROBE, T, ref, err) == 0) return 0;
    snprintf(why, sizeof why, "%.300s", err->msg);
    probe_text_free(txt);
  }
  kjv_valid(root, txt);
  if (dm->data) {
    char *dname = xstrdup(dm->data_name ? dm->data_name : dm->data);
    snprintf(txt->label, sizeof txt->label, "data/kjv/valid.txt (dataset '%.60s' not used: %.250s)", dname, why);
    free(dname);
  }
  if (!txt->path) return err_set(err, "data/kjv/valid.txt not found beside the bench binary (set BENCH_ROOT)%s%s",
                                 why[0] ? "; and the model's dataset: " : "", why);
  if (score(m, NULL, "fp32", txt, &PROBE, T, ref, err) == 0) return 0;
  probe_text_free(txt);
  return -1;
}

int model_probe(int gpu, const DoctorModel *dm, const char *root, FILE *out, CheckTally *t, ProbeResult *pr,
                BenchErr *err) {
  check_rows_now = (CheckRows){t, out, "model"};
  memset(pr, 0, sizeof *pr);
  char device[32], what[160];
  snprintf(device, sizeof device, "cuda:%d", gpu);
  snprintf(what, sizeof what, "%s %s", dm->name, dm->dtype);
  Model m;
  DType dt;
  if (dtype_from_name(dm->dtype, &dt, err) != 0 || model_load(dm->dir, &m, err) != 0) {
    check_row(0, what, "%s", err->msg);
    check_rows_now = (CheckRows){0};
    return 0;
  }
  long T = doctor_probe_tokens((long long)m.n_params) + 1;  // + 1: the first token is context only
  EvalResult ref, r;
  memset(&r, 0, sizeof r);
  ProbeText txt;
  Engine e;
  if (probe_reference(&m, dm, root, T, &txt, &ref, err) != 0) {
    check_row(0, what, "the CPU engine failed: %s", err->msg);
  } else if (engine_open(&e, &m, device, dt, err) != 0) {
    check_row(0, what, "engine_open failed: %s", err->msg);
    eval_result_free(&ref);
    probe_text_free(&txt);
  } else {
    snprintf(pr->text, sizeof pr->text, "%s", txt.short_name);
    if (score(&m, &e, dm->dtype, &txt, &PROBE, T, &r, err) != 0) {
      check_row(0, what, "the CUDA engine failed on %s: %s", txt.label, err->msg);
    } else {
      double u = dtype_u(dm->dtype), mean;
      double mx = max_abs_dnll(&ref, &r, &mean);
      double mean_tol = u > 0 ? 4 * u : 1e-3, max_tol = u > 0 ? 64 * u : 1e-3;
      pr->max_dnll = mx;
      pr->mean_dnll = mean;
      pr->tokens = r.tokens;
      check_row(r.tokens == ref.tokens && mean <= mean_tol && mx <= max_tol, what,
                "max |dNLL| %.2e (bound %.1e), |mean dNLL| %.2e (bound %.1e) over %ld tokens of %s vs cpu fp32",
                mx, max_tol, mean, mean_tol, r.tokens, txt.label);
      eval_result_free(&r);
    }
    engine_close(&e);
    eval_result_free(&ref);
    probe_text_free(&txt);
  }
  model_free(&m);
  check_rows_now = (CheckRows){0};
  return 0;
}
