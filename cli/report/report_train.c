// report_train.c — what a training phase trained (DESIGN.md "Training from scratch"): the recipe
// as run (shape, parameters, tokens, steps, optimiser) and one row per trained model (variant and
// seed: parameters, tokens, steps, final loss, training time), and the training time a phase's
// wall time adds. Everything comes from the job results: spec.train (the recipe) and
// metrics.train (one training run: train_id, params, tokens, steps, final_loss, wall_s); jobs of
// one trained model share its train_id and count once.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"

static const json_t *train_metrics(const StoredJob *r) {
  const json_t *t = json_object_get(r->res.metrics, "train");
  return json_is_object(t) && json_is_string(json_object_get(t, "train_id")) ? t : NULL;
}

static double num(const json_t *o, const char *k) {
  const json_t *v = json_object_get(o, k);
  return json_is_number(v) ? json_number_value(v) : NAN;
}

// The phase's jobs with one result per trained model (the first in result order), in *out
// (malloc'd); their count.
static int trained_models(const PhaseData *pd, const StoredJob ***out) {
  *out = xcalloc(pd->n_jobs ? (size_t)pd->n_jobs : 1, sizeof **out);
  int n = 0;
  for (int i = 0; i < pd->n_jobs; i++) {
    const json_t *t = train_metrics(pd->jobs[i]);
    if (!t) continue;
    const char *id = json_string_value(json_object_get(t, "train_id"));
    int seen = 0;
    for (int k = 0; k < n && !seen; k++)
      seen = strcmp(id, json_string_value(json_object_get(train_metrics((*out)[k]), "train_id"))) == 0;
    if (!seen) (*out)[n++] = pd->jobs[i];
  }
  return n;
}

double phase_train_wall_s(const PhaseData *pd) {
  const StoredJob **models;
  int n = trained_models(pd, &models);
  double s = 0;
  for (int i = 0; i < n; i++) {
    double w = num(train_metrics(models[i]), "wall_s");
    if (isfinite(w)) s += w;
  }
  free(models);
  return s;
}

static void count_text(double v, char out[32]) {
  if (!isfinite(v)) snprintf(out, 32, "-");
  else if (v >= 1e9) snprintf(out, 32, "%.2fB", v / 1e9);
  else if (v >= 1e6) snprintf(out, 32, "%.1fM", v / 1e6);
  else if (v >= 1e4) snprintf(out, 32, "%.1fk", v / 1e3);
  else snprintf(out, 32, "%.0f", v);
}

// The recipe line: "llama, 6 layers, hidden 512, 8 heads, MLP 2048, vocab 50304; 50.0M tokens in
// sequences of 2048, batch 32; lr 0.0006 cosine, warmup 15; bf16".
static void recipe_line(StrBuf *b, const json_t *r, int zh) {
  const char *arch = json_string_value(json_object_get(r, "arch"));
  char tok[32];
  count_text(num(r, "tokens"), tok);
  sb_printf(b, "%s, %.0f %s, hidden %.0f, %.0f heads, MLP %.0f", arch ? arch : "?", num(r, "layers"),
            zh ? "层" : "layers", num(r, "hidden"), num(r, "heads"), num(r, "intermediate"));
  if (isfinite(num(r, "vocab_size"))) sb_printf(b, ", vocab %.0f", num(r, "vocab_size"));
  sb_printf(b, zh ? "; %s token, 序列长度 %.0f, batch %.0f" : "; %s tokens in sequences of %.0f, batch %.0f",
            tok, num(r, "seq_len"), num(r, "batch"));
  const char *sched = json_string_value(json_object_get(r, "schedule"));
  sb_printf(b, "; lr %g%s%s", num(r, "lr"), sched ? " " : "", sched ? sched : "");
  if (isfinite(num(r, "warmup"))) sb_printf(b, ", warmup %.0f", num(r, "warmup"));
  const char *dt = json_string_value(json_object_get(r, "dtype"));
  if (dt) sb_printf(b, "; %s", dt);
}

void phase_training(StrBuf *b, const PhaseData *pd, const ReportCtx *ctx) {
  const StoredJob **models;
  int n = trained_models(pd, &models);
  if (n == 0) {
    free(models);
    return;
  }
  int zh = strcmp(ctx->t->lang, "zh") == 0;
  const json_t *recipe = json_object_get(models[0]->res.spec, "train");
  const char *name = json_string_value(json_object_get(recipe, "name"));
  sb_printf(b, zh ? "### 训练: 配方 %s, %d 个模型\n\n" : "### Training: recipe %s, %d models\n\n", name ? name : "?", n);
  sb_append(b, "*");
  recipe_line(b, recipe, zh);
  sb_append(b, "*\n\n");
  sb_append(b, zh ? "| 配置 | 种子 | 参数量 | 训练 token | 步数 | 最终 loss | 计算 | 训练耗时 |\n"
                  : "| Config | Seed | Parameters | Tokens | Steps | Final loss | Compute | Train time |\n");
  sb_append(b, "|---|---:|---:|---:|---:|---:|---|---:|\n");
  for (int i = 0; i < n; i++) {
    const json_t *t = train_metrics(models[i]);
    char params[32], tokens[32], wall[32], loss[32];
    count_text(num(t, "params"), params);
    count_text(num(t, "tokens"), tokens);
    rfmt_duration(num(t, "wall_s"), wall);
    double l = num(t, "final_loss");
    if (isfinite(l)) snprintf(loss, sizeof loss, "%.4f", l);
    else snprintf(loss, sizeof loss, "-");
    const char *compute = json_string_value(json_object_get(t, "compute"));
    sb_append(b, "| ");
    rfmt_md_escape(b, models[i]->axis[AX_ROPE]);
    sb_printf(b, " | %ld | %s | %s | %.0f | %s | %s | %s |\n", models[i]->seed, params, tokens, num(t, "steps"),
              loss, compute ? compute : "-", wall);
  }
  sb_append(b, zh ? "\n*训练耗时计入本 Phase 的耗时 (每个模型一次)。*\n\n"
                  : "\n*Training time counts in the phase's wall time (once per model).*\n\n");
  free(models);
}
