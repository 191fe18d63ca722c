// plan_warnings.c — warnings of `bench plan` (plan_warnings.h).
#include "plan_warnings.h"

#include <jansson.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "data.h"
#include "data_stats.h"
#include "device.h"
#include "json_file.h"
#include "eval.h"
#include "tokenizer.h"

#define GIB (1024.0 * 1024.0 * 1024.0)

ModelShape *suite_model_shapes(const Suite *s, const Matrix *m, StrList *warnings) {
  ModelShape *shapes = xcalloc((size_t)(s->n_models ? s->n_models : 1), sizeof *shapes);
  for (int i = 0; i < s->n_models; i++) {
    shapes[i].params = -1;
    BenchErr err;
    if (!m->model_fp[i] || strncmp(m->model_fp[i], "missing:", 8) == 0) continue;  // unused or absent
    if (model_shape_from_config(s->models[i].path, m->model_params[i], &shapes[i], &err) != 0 && warnings)
      strlist_add(warnings, "model '%s': %s", s->models[i].name, err.msg);
  }
  return shapes;
}

const ModelShape *job_shape(const Matrix *m, const Job *j, const ModelShape *shapes, ModelShape *scratch) {
  if (j->model) return &shapes[(int)(j->model - m->suite->models)];
  if (j->train.variant) {
    model_shape_from_recipe(j->train.variant, j->train.member, scratch);
    return scratch;
  }
  return NULL;
}

double device_memory_bytes(const char *runs_on, int *on_cpu, char *what, size_t what_len) {
  *on_cpu = strcmp(runs_on, "cpu") == 0;
  if (*on_cpu) {
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    snprintf(what, what_len, "cpu memory");
    return pages > 0 && page > 0 ? (double)pages * (double)page : 0;
  }
  static int n_gpus = -1;
  if (n_gpus < 0) n_gpus = device_gpu_count();
  int gpu = strncmp(runs_on, "cuda:", 5) == 0 ? atoi(runs_on + 5) : -1;
  GpuInfo info;
  snprintf(what, what_len, "%s", runs_on);
  if (gpu < 0 || gpu >= n_gpus || device_gpu_info(gpu, &info) != 0) return 0;
  snprintf(what, what_len, "%s (%s)", runs_on, info.name);
  return (double)info.total_bytes;
}

// ---- length lists, in order of first appearance ----
typedef struct {
  long *v;
  int n;
} Longs;

static void longs_add(Longs *l, long x) {
  for (int i = 0; i < l->n; i++)
    if (l->v[i] == x) return;
  l->v = xrealloc(l->v, (size_t)(l->n + 1) * sizeof *l->v);
  l->v[l->n++] = x;
}

static void longs_print(StrBuf *b, const Longs *l) {
  for (int i = 0; i < l->n; i++) sb_printf(b, "%s%ld", i ? ", " : "", l->v[i]);
}

// ---- dataset shorter than length × windows ----
// The separator the engine puts between jsonl documents: the model's eos_token_id (config.json
// next to the tokenizer.json), else -1 (the engine then tries the tokenizer's BOS, not looked up).
static long separator_of(const char *tokenizer_path) {
  char *dir = path_dirname(tokenizer_path);
  char *cfg = path_join(dir, "config.json");
  free(dir);
  long sep = -1;
  json_t *c = json_load_regular(cfg, JSON_REJECT_DUPLICATES, NULL, NULL);
  free(cfg);
  json_t *eos = json_object_get(c, "eos_token_id");
  if (json_is_array(eos)) eos = json_array_get(eos, 0);
  if (json_is_integer(eos) && json_integer_value(eos) >= 0) sep = (long)json_integer_value(eos);
  json_decref(c);
  return sep;
}

// Tokenizes a text dataset with the job's tokenizer as the run will (same separator between jsonl
// documents), which leaves it in the token cache for the run. -1 when it cannot.
static long long tokenize_dataset(const Job *j) {
  long sep = separator_of(j->tokenizer_path);
  Tokenizer *tok;
  BenchErr err;
  if (tokenizer_load(j->tokenizer_path, &tok, &err) != 0) return -1;
  if (sep < 0) sep = tokenizer_bos_id(tok);
  TextEncoder enc;
  text_encoder_from_tokenizer(tok, (int32_t)sep, &enc);
  DataSource src = {j->dataset->path, j->dataset->field, j->dataset->name};
  Tokens toks;
  long long n = dataset_tokens(&src, &enc, &toks, &err) == 0 ? toks.n : -1;
  if (n >= 0) tokens_free(&toks);
  tokenizer_free(tok);
  return n;
}

// Tokens a job's dataset holds: exact for token files and for text, which the job's tokenizer
// counts (once: the token cache keeps the ids for the run); an estimate from the text bytes
// (*about = 1) only when the tokenizer cannot be read. -1 when unknown.
static long long job_dataset_tokens(const Matrix *m, const Job *j, int *about) {
  int di = (int)(j->dataset - m->suite->datasets);
  const DataStats *s = &m->dataset_stats[di];
  *about = 0;
  if (!m->dataset_ok[di]) return -1;
  if (s->tokens >= 0) return s->tokens;
  if (s->text_bytes < 0) return -1;
  if (j->tokenizer_fp && strncmp(j->tokenizer_fp, "missing:", 8) != 0) {
    long long n = token_cache_count(j->tokenizer_fp, s->fingerprint, separator_of(j->tokenizer_path));
    if (n < 0) n = tokenize_dataset(j);
    if (n >= 0) return n;
  }
  *about = 1;
  // jsonl documents are joined by one separator token each
  return (long long)((double)s->text_bytes / TEXT_BYTES_PER_TOKEN) + (s->docs > 1 ? s->docs - 1 : 0);
}

static void describe_holding(StrBuf *b, const DatasetDef *d, const DataStats *s, long long have, int about) {
  if (about)
    sb_printf(b, "dataset '%s' holds about %lld tokens (%lld bytes of text at about %.0f bytes per token; "
              "exact once the engine has tokenized it)", d->name, have, s->text_bytes, TEXT_BYTES_PER_TOKEN);
  else
    sb_printf(b, "dataset '%s' holds %lld tokens", d->name, have);
}

// job_dataset_tokens once per (dataset, tokenizer): it reads a config.json and the token cache.
typedef struct {
  const DatasetDef *dataset;
  const char *tokenizer_fp;  // borrowed from a job; NULL for token files
  long long tokens;
  int about;
} TokenCount;

static long long dataset_tokens_once(const Matrix *m, const Job *j, TokenCount **memo, int *n, int *about) {
  for (int i = 0; i < *n; i++) {
    const TokenCount *t = &(*memo)[i];
    if (t->dataset == j->dataset && (t->tokenizer_fp == j->tokenizer_fp ||
                                     (t->tokenizer_fp && j->tokenizer_fp && strcmp(t->tokenizer_fp, j->tokenizer_fp) == 0))) {
      *about = t->about;
      return t->tokens;
    }
  }
  *memo = xrealloc(*memo, (size_t)(*n + 1) * sizeof **memo);
  TokenCount *t = &(*memo)[(*n)++];
  t->dataset = j->dataset;
  t->tokenizer_fp = j->tokenizer_fp;
  t->tokens = job_dataset_tokens(m, j, &t->about);
  *about = t->about;
  return t->tokens;
}

static void warn_short_datasets(const Matrix *m, StrList *out) {
  const Suite *s = m->suite;
  TokenCount *memo = NULL;
  int n_memo = 0;
  for (int pi = 0; pi < m->n_phases; pi++) {
    const PhaseJobs *pj = &m->phases[pi];
    char *done = xcalloc((size_t)pj->n_jobs + 1, 1);
    long long *haves = xmalloc(((size_t)pj->n_jobs + 1) * sizeof *haves);
    int *abouts = xmalloc(((size_t)pj->n_jobs + 1) * sizeof *abouts);
    for (int k = 0; k < pj->n_jobs; k++)
      haves[k] = dataset_tokens_once(m, &m->jobs[pj->jobs[k]], &memo, &n_memo, &abouts[k]);
    // one warning per (dataset, token count): jobs of models with other tokenizers count apart
    for (int a = 0; a < pj->n_jobs; a++) {
      if (done[a]) continue;
      const Job *j = &m->jobs[pj->jobs[a]];
      int about = abouts[a];
      long long have = haves[a];
      StrBuf need = {0};
      Longs seen = {0};
      int sliding = 0;
      for (int k = a; k < pj->n_jobs; k++) {
        const Job *o = &m->jobs[pj->jobs[k]];
        if (done[k] || o->dataset != j->dataset || haves[k] != have) continue;
        done[k] = 1;
        long long want = job_tokens_needed(o);
        if (have < 0 || want <= have) continue;
        int before = seen.n;
        longs_add(&seen, o->length);
        if (seen.n == before) continue;
        sliding |= strcmp(o->protocol, "sliding") == 0;
        if (strcmp(o->protocol, "sliding") == 0)
          sb_printf(&need, "%s%ld + (%ld − 1) × %ld = %lld", need.len ? ", " : "", o->length, o->windows,
                    o->stride, want);
        else
          sb_printf(&need, "%s%ld × %ld = %lld", need.len ? ", " : "", o->length, o->windows, want);
      }
      if (need.len) {
        const DatasetDef *d = j->dataset;
        StrBuf b = {0};
        sb_printf(&b, "phase '%s': ", pj->phase->id);
        describe_holding(&b, d, &m->dataset_stats[d - s->datasets], have, about);
        if (j->tokenizer_path && j->model) sb_printf(&b, " with the tokenizer of model '%s'", j->model->name);
        sb_printf(&b, ", fewer than its jobs need (length %s windows = tokens): %s",
                  sliding ? "+ (windows − 1) × stride," : "×", need.data);
        strlist_add(out, "%s", b.data);
        sb_free(&b);
      }
      sb_free(&need);
      free(seen.v);
    }
    free(done);
    free(haves);
    free(abouts);
  }
  free(memo);
  for (int di = 0; di < s->n_datasets; di++)
    if (m->dataset_ok[di] && m->dataset_stats[di].problem[0])
      strlist_add(out, "dataset '%s' ('%s'): cannot count its tokens: %s", s->datasets[di].name,
                  s->datasets[di].path, m->dataset_stats[di].problem);
}

// A train recipe asking for more tokens than its data holds.
static void warn_train_data(const Matrix *m, StrList *out) {
  const Suite *s = m->suite;
  for (int r = 0; r < s->n_train; r++) {
    const Variant *v = &s->train[r];
    const Param *data = variant_param(v, "data"), *tokens = variant_param(v, "tokens");
    if (!data || !tokens || data->n_values != 1 || data->values[0].kind != PV_STR) continue;
    const DatasetDef *d = suite_dataset(s, data->values[0].str);
    if (!d) continue;
    int di = (int)(d - s->datasets), about = 1;
    if (!m->dataset_ok[di]) continue;
    const DataStats *st = &m->dataset_stats[di];
    long long have = st->tokens >= 0 ? st->tokens : st->text_bytes < 0 ? -1
                   : (long long)((double)st->text_bytes / TEXT_BYTES_PER_TOKEN);
    if (st->tokens >= 0) about = 0;
    for (int k = 0; k < tokens->n_values; k++) {
      if (tokens->values[k].kind != PV_NUM || have < 0 || tokens->values[k].num <= (double)have) continue;
      StrBuf b = {0};
      sb_printf(&b, "train recipe '%s' trains on %s tokens, but ", v->name, tokens->values[k].text);
      describe_holding(&b, d, &m->dataset_stats[di], have, about);
      strlist_add(out, "%s", b.data);
      sb_free(&b);
      break;
    }
  }
}

// ---- lengths beyond the trained positions ----
static void warn_positions(const Matrix *m, const ModelShape *shapes, StrList *out) {
  for (int pi = 0; pi < m->n_phases; pi++) {
    const PhaseJobs *pj = &m->phases[pi];
    // one warning per model (or recipe) of the phase
    const void **who = xcalloc((size_t)pj->n_jobs + 1, sizeof *who);
    int n_who = 0;
    for (int k = 0; k < pj->n_jobs; k++) {
      const Job *j = &m->jobs[pj->jobs[k]];
      const void *key = j->model ? (const void *)j->model : (const void *)j->train.variant;
      int seen = 0;
      for (int w = 0; w < n_who; w++) seen |= who[w] == key;
      if (seen || !key) continue;
      who[n_who++] = key;
      ModelShape scratch;
      const ModelShape *sh = job_shape(m, j, shapes, &scratch);
      if (!sh || sh->max_positions <= 0) continue;
      Longs over = {0};
      for (int q = k; q < pj->n_jobs; q++) {
        const Job *o = &m->jobs[pj->jobs[q]];
        const void *okey = o->model ? (const void *)o->model : (const void *)o->train.variant;
        if (okey == key && o->length > sh->max_positions) longs_add(&over, o->length);
      }
      if (over.n) {
        StrBuf b = {0};
        sb_printf(&b, "phase '%s': length%s ", pj->phase->id, over.n > 1 ? "s" : "");
        longs_print(&b, &over);
        if (j->model)
          sb_printf(&b, " exceed%s the %ld positions model '%s' was trained on (max_position_embeddings)",
                    over.n > 1 ? "" : "s", sh->max_positions, j->model->name);
        else
          sb_printf(&b, " exceed%s the %ld positions train recipe '%s' trains on (seq_len)",
                    over.n > 1 ? "" : "s", sh->max_positions, j->train.variant->name);
        strlist_add(out, "%s", b.data);
        sb_free(&b);
      }
      free(over.v);
    }
    free(who);
  }
}

// ---- device memory ----
static void warn_memory(const Matrix *m, const ModelShape *shapes, StrList *out) {
  int unchecked = 0;
  char *done = xcalloc((size_t)m->n_jobs + 1, 1);
  for (int a = 0; a < m->n_jobs; a++) {
    if (done[a]) continue;
    const Job *j = &m->jobs[a];
    ModelShape scratch;
    const ModelShape *sh = job_shape(m, j, shapes, &scratch);
    if (!sh || !sh->known || sh->params <= 0) continue;
    int on_cpu;
    char what[160];
    double have = device_memory_bytes(j->runs_on, &on_cpu, what, sizeof what);
    // the group: same model (or recipe), device and dtype
    Longs over = {0};
    JobCost first = {0};
    long min_len = LONG_MAX;
    for (int b = a; b < m->n_jobs; b++) {
      const Job *o = &m->jobs[b];
      if (o->model != j->model || o->train.variant != j->train.variant || strcmp(o->runs_on, j->runs_on) != 0 ||
          strcmp(o->dtype, j->dtype) != 0)
        continue;
      done[b] = 1;
      if (have <= 0) {
        unchecked++;
        continue;
      }
      JobCost c;
      job_cost(o, sh, on_cpu, &c);
      if (c.weight_bytes + c.kv_bytes + c.work_bytes <= have) continue;
      longs_add(&over, o->length);
      if (o->length < min_len) {
        min_len = o->length;
        first = c;
      }
    }
    if (over.n) {
      const char *name = j->model ? j->model->name : j->train.name;
      StrBuf b = {0};
      sb_printf(&b, "%s '%s' in %s on device %s (%s, %.1f GiB): length %ld needs about %.1f GiB (weights %.1f + KV cache "
                "%.1f + workspace %.1f)", j->model ? "model" : "trained model", name,
                on_cpu ? "fp32" : j->dtype, j->runs_on, what, have / GIB, min_len,
                (first.weight_bytes + first.kv_bytes + first.work_bytes) / GIB, first.weight_bytes / GIB,
                first.kv_bytes / GIB, first.work_bytes / GIB);
      if (over.n > 1) {
        sb_append(&b, "; so do lengths");
        for (int i = 0, k = 0; i < over.n; i++)
          if (over.v[i] != min_len) sb_printf(&b, "%s %ld", k++ ? "," : "", over.v[i]);
      }
      sb_append(&b, ": expect out-of-memory (status oom)");
      strlist_add(out, "%s", b.data);
      sb_free(&b);
    }
    free(over.v);
  }
  free(done);
  if (unchecked)
    strlist_add(out, "%d job%s on a CUDA device that is not visible on this machine: their memory was not checked",
                unchecked, unchecked == 1 ? " runs" : "s run");
}

// ---- seeds that change nothing, decode prompts ----
static int deterministic(const char *protocol) {
  return strcmp(protocol, "chunks") == 0 || strcmp(protocol, "sliding") == 0 ||
         strcmp(protocol, "half") == 0 || strcmp(protocol, "decode") == 0;
}

static void warn_phase_settings(const Matrix *m, StrList *out) {
  for (int pi = 0; pi < m->n_phases; pi++) {
    const PhaseJobs *pj = &m->phases[pi];
    const Settings *st = &pj->phase->settings;
    if (pj->n_jobs == 0) {
      strlist_add(out, "phase '%s' has no jobs (its exclude entries remove every one)", pj->phase->id);
      continue;
    }
    Longs seeds = {0};
    int trains = 0;
    for (int k = 0; k < pj->n_jobs; k++) {
      const Job *j = &m->jobs[pj->jobs[k]];
      longs_add(&seeds, j->seed);
      trains |= j->train.variant != NULL;
    }
    if (seeds.n > 1 && st->protocol && deterministic(st->protocol) && !trains) {
      StrBuf b = {0};
      sb_printf(&b, "phase '%s': seeds ", pj->phase->id);
      longs_print(&b, &seeds);
      sb_printf(&b, " change nothing: protocol '%s' is deterministic and the phase trains no model, so "
                "each seed repeats the same numbers (use protocol 'random' for mean±std over windows)",
                st->protocol);
      strlist_add(out, "%s", b.data);
      sb_free(&b);
    }
    free(seeds.v);
    Longs nothing = {0};
    for (int k = 0; k < pj->n_jobs; k++) {
      const Job *j = &m->jobs[pj->jobs[k]];
      if (strcmp(j->protocol, "decode") == 0 && j->prompt >= j->length) longs_add(&nothing, j->length);
    }
    if (nothing.n) {
      StrBuf b = {0};
      sb_printf(&b, "phase '%s': decode prompt %ld leaves no token to score at length%s ", pj->phase->id,
                st->prompt, nothing.n > 1 ? "s" : "");
      longs_print(&b, &nothing);
      strlist_add(out, "%s", b.data);
      sb_free(&b);
    }
    free(nothing.v);
  }
}

void plan_warnings(const Matrix *m, const ModelShape *shapes, StrList *out) {
  warn_short_datasets(m, out);
  warn_train_data(m, out);
  warn_positions(m, shapes, out);
  warn_memory(m, shapes, out);
  warn_phase_settings(m, out);
}
