// report_figures.c — a phase's `{plot: ...}` requests as figures: PPL vs length, collapse ratio
// vs length, NLL vs position in the window, PPL vs a swept parameter, the RoPE spectrum and the
// training loss curve. Each becomes <phase>_<plot>.png/.svg next to REPORT.md; a figure that
// cannot be drawn is a line in the report saying why, never a lost report.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "plot.h"
#include "report.h"
#include "rope.h"
#include "train.h"


// ---- colours: the same config label gets the same colour in every figure of a report ----
static char **colour_labels;
static int n_colour_labels;

int figure_colour(const char *label) {
  for (int i = 0; i < n_colour_labels; i++)
    if (strcmp(colour_labels[i], label) == 0) return i;
  colour_labels = xrealloc(colour_labels, (size_t)(n_colour_labels + 1) * sizeof *colour_labels);
  colour_labels[n_colour_labels] = xstrdup(label);
  return n_colour_labels++;
}

void figure_colours_reset(void) {
  for (int i = 0; i < n_colour_labels; i++) free(colour_labels[i]);
  free(colour_labels);
  colour_labels = NULL;
  n_colour_labels = 0;
}

static double mean_at(const PhaseData *pd, int c, int l) {
  const Cell *cell = phase_cell(pd, c, l);
  return cell->n_ok > 0 ? cell->mean : NAN;
}

// ---- PPL vs length: log y, one line per config, ± std over seeds, OOM as a cross on top ----
static int fig_ppl_vs_length(const PhaseData *pd, const ReportCtx *ctx, Plot *p, const char **why) {
  p->xlabel = "Context length (tokens)";
  p->ylabel = "Perplexity";
  p->logx = 2;
  p->logy = 10;
  p->xtics_k = 1;
  int seeds = 0;
  double top = 0;
  for (int c = 0; c < pd->n_configs; c++)
    for (int l = 0; l < pd->n_lengths; l++) {
      if (phase_cell(pd, c, l)->n_ok > 1) seeds = 1;
      double m = mean_at(pd, c, l), s = phase_cell(pd, c, l)->std;
      if (isfinite(m)) top = fmax(top, m + (isfinite(s) ? s : 0));
    }
  if (top <= 0) {
    *why = ctx->t->n_no_data;
    return -1;
  }
  double *x = xcalloc((size_t)pd->n_lengths, sizeof *x), *y = xcalloc((size_t)pd->n_lengths, sizeof *y),
         *e = xcalloc((size_t)pd->n_lengths, sizeof *e);
  int *stacked = xcalloc((size_t)pd->n_lengths, sizeof *stacked);  // OOM marks already at a length
  for (int c = 0; c < pd->n_configs; c++) {
    int n = 0, n_oom = 0, colour = figure_colour(pd->configs[c].label);
    for (int l = 0; l < pd->n_lengths; l++) {
      const Cell *cell = phase_cell(pd, c, l);
      if (cell->n_ok == 0) continue;
      x[n] = (double)pd->lengths[l];
      y[n] = cell->mean;
      e[n++] = isfinite(cell->std) ? cell->std : 0;
    }
    if (n > 0) plot_add(p, pd->configs[c].label, colour, SERIES_LINES, x, y, seeds ? e : NULL, n);
    for (int l = 0; l < pd->n_lengths; l++) {
      const Cell *cell = phase_cell(pd, c, l);
      if (cell->n_ok == 0 && cell->n_oom > 0) {
        // configs that ran out of memory at the same length stack upwards, each mark visible
        x[n_oom] = (double)pd->lengths[l];
        y[n_oom++] = top * 1.6 * pow(1.25, stacked[l]++);
      }
    }
    if (n_oom > 0) {
      plot_add(p, NULL, colour, SERIES_MARKS, x, y, NULL, n_oom);
      p->marks_legend = "OOM";
    }
  }
  free(x);
  free(y);
  free(e);
  free(stacked);
  return 0;
}

// ---- collapse ratio vs length, with the boundary and severe thresholds ----
static int fig_collapse_vs_length(const PhaseData *pd, const ReportCtx *ctx, Plot *p, const char **why) {
  static char sev[64], bnd[64], base[64];
  p->xlabel = "Context length (tokens)";
  snprintf(base, sizeof base, "Collapse ratio PPL(L) / PPL(%ld)", pd->base_length);
  p->ylabel = base;
  p->logx = 2;
  p->logy = 10;
  p->xtics_k = 1;
  int lB = phase_length_index(pd, pd->base_length);
  if (lB < 0) {
    *why = ctx->t->n_no_data;
    return -1;
  }
  // the collapse table's numbers: with seeds, the mean of per-seed ratios ± their std
  double *x = xcalloc((size_t)pd->n_lengths, sizeof *x), *y = xcalloc((size_t)pd->n_lengths, sizeof *y),
         *e = xcalloc((size_t)pd->n_lengths, sizeof *e);
  int seeds = 0;
  for (int c = 0; c < pd->n_configs; c++)
    for (int l = 0; l < pd->n_lengths; l++) seeds |= phase_cell(pd, c, l)->n_ok > 1;
  for (int c = 0; c < pd->n_configs; c++) {
    int n = 0;
    for (int l = 0; l < pd->n_lengths; l++) {
      double sd;
      int n_seeds;
      double r = phase_ratio(pd, c, l, lB, &sd, &n_seeds);
      if (!isfinite(r)) continue;
      x[n] = (double)pd->lengths[l];
      e[n] = isfinite(sd) ? sd : 0;
      y[n++] = r;
    }
    if (n > 1) plot_add(p, pd->configs[c].label, figure_colour(pd->configs[c].label), SERIES_LINES, x, y, seeds ? e : NULL, n);
  }
  free(x);
  free(y);
  free(e);
  if (p->n_series == 0) {
    *why = ctx->t->n_no_data;
    return -1;
  }
  snprintf(sev, sizeof sev, "severe (%gx)", ctx->plan->severe);
  snprintf(bnd, sizeof bnd, "boundary (%gx)", ctx->plan->boundary);
  p->hline[0] = ctx->plan->severe;
  p->hline_label[0] = sev;
  p->hline[1] = ctx->plan->boundary;
  p->hline_label[1] = bnd;
  p->n_hline = ctx->plan->boundary != ctx->plan->severe ? 2 : 1;
  return 0;
}

// ---- NLL vs position inside the window (metrics.nll_by_position, averaged over seeds) ----
static int run_has_positions(const StoredJob *r) {
  json_t *v = r->res.metrics ? json_object_get(r->res.metrics, "nll_by_position") : NULL;
  return json_is_array(v) && json_array_size(v) > 1;
}

static const char *model_path(const ReportCtx *ctx, const char *name);

// The positions the phase's model was trained on: a trained model's seq_len, else the checkpoint's
// max_position_embeddings (the smallest where configs differ); 0 when unknown.
static long trained_positions(const PhaseData *pd, const ReportCtx *ctx) {
  long best = 0;
  for (int c = 0; c < pd->n_configs; c++) {
    const StoredJob *run = NULL;
    for (int l = 0; l < pd->n_lengths && !run; l++)
      if (phase_cell(pd, c, l)->n_runs > 0) run = phase_cell(pd, c, l)->runs[0];
    if (!run) continue;
    long n = 0;
    const json_t *tr = json_object_get(run->res.spec, "train");
    if (json_is_object(tr)) {
      n = (long)json_number_value(json_object_get(tr, "seq_len"));
    } else {
      const char *path = model_path(ctx, pd->configs[c].axis[AX_MODEL]);
      ModelConfig cfg;
      memset(&cfg, 0, sizeof cfg);
      BenchErr err;
      if (path && path[0] && model_config_load(path, &cfg, &err) == 0) n = cfg.max_position_embeddings;
      model_config_free(&cfg);
    }
    if (n > 0 && (best == 0 || n < best)) best = n;
  }
  return best;
}

static int fig_nll_vs_position(const PhaseData *pd, const ReportCtx *ctx, Plot *p, const char **why) {
  static char vlab[64];
  int lmax = -1;
  for (int l = pd->n_lengths - 1; l >= 0 && lmax < 0; l--)
    for (int c = 0; c < pd->n_configs && lmax < 0; c++) {
      const Cell *cell = phase_cell(pd, c, l);
      for (int i = 0; i < cell->n_runs; i++)
        if (cell->runs[i]->res.status == JOB_OK && run_has_positions(cell->runs[i])) lmax = l;
    }
  if (lmax < 0) {
    *why = "no metrics.nll_by_position in these results";
    return -1;
  }
  p->xlabel = "Position in the window (tokens)";
  p->ylabel = "Mean NLL (nats/token)";
  p->xtics_k = 2;
  for (int c = 0; c < pd->n_configs; c++) {
    const Cell *cell = phase_cell(pd, c, lmax);
    double *x = NULL, *sum = NULL;
    int *cnt = NULL, n = 0;
    for (int i = 0; i < cell->n_runs; i++) {
      if (cell->runs[i]->res.status != JOB_OK || !run_has_positions(cell->runs[i])) continue;
      json_t *arr = json_object_get(cell->runs[i]->res.metrics, "nll_by_position");
      for (size_t k = 0; k < json_array_size(arr); k++) {
        json_t *pair = json_array_get(arr, k);
        json_t *px = json_array_get(pair, 0), *py = json_array_get(pair, 1);
        if (!json_is_number(px) || !json_is_number(py)) continue;
        double xv = json_number_value(px), yv = json_number_value(py);
        int j = 0;
        while (j < n && x[j] != xv) j++;
        if (j == n) {
          x = xrealloc(x, (size_t)(n + 1) * sizeof *x);
          sum = xrealloc(sum, (size_t)(n + 1) * sizeof *sum);
          cnt = xrealloc(cnt, (size_t)(n + 1) * sizeof *cnt);
          x[n] = xv;
          sum[n] = 0;
          cnt[n++] = 0;
        }
        sum[j] += yv;
        cnt[j]++;
      }
    }
    for (int j = 0; j < n; j++) sum[j] /= cnt[j];
    if (n > 0)
      plot_add(p, pd->configs[c].label, figure_colour(pd->configs[c].label),
               n > 24 ? SERIES_CURVE : SERIES_LINES, x, sum, NULL, n);
    free(x);
    free(sum);
    free(cnt);
  }
  long trained = trained_positions(pd, ctx);
  if (trained > 0 && trained < pd->lengths[lmax]) {  // where the model leaves its trained positions
    p->vline = (double)trained;
    snprintf(vlab, sizeof vlab, strcmp(ctx->t->lang, "zh") == 0 ? "训练位置上限 %ld" : "trained positions: %ld", trained);
    p->vline_label = vlab;
  } else if (pd->base_length > 0 && pd->base_length < pd->lengths[lmax]) {
    p->vline = (double)pd->base_length;
    snprintf(vlab, sizeof vlab, "%ld", pd->base_length);
    p->vline_label = vlab;
  }
  return 0;
}

// ---- PPL vs a swept parameter: one line per length ----
// The value of `param` for a config: from a member name "variant[param=value,...]" on any axis,
// else from the spec's variant object of one of its runs.
static int config_param(const PhaseData *pd, int c, const char *param, int *axis, double *value) {
  size_t plen = strlen(param);
  for (int a = 0; a < N_AXES; a++) {
    const char *name = pd->configs[c].axis[a], *br = strchr(name, '[');
    for (const char *s = br; s && *s; s++) {
      if ((*s == '[' || *s == ',') && strncmp(s + 1, param, plen) == 0 && s[1 + plen] == '=') {
        char *end;
        double v = strtod(s + 2 + plen, &end);
        if (end != s + 2 + plen) {
          *axis = a;
          *value = v;
          return 0;
        }
      }
    }
  }
  for (int l = 0; l < pd->n_lengths; l++) {
    const Cell *cell = phase_cell(pd, c, l);
    for (int i = 0; i < cell->n_runs; i++)
      for (int a = 0; a < N_AXES; a++) {
        json_t *obj = json_object_get(cell->runs[i]->res.spec, REPORT_AXIS_NAMES[a]);
        json_t *v = json_is_object(obj) ? json_object_get(obj, param) : NULL;
        if (json_is_number(v)) {
          *axis = a;
          *value = json_number_value(v);
          return 0;
        }
      }
  }
  return -1;
}

// A swept parameter spanning a decade or more (θ 500k..5M): drawn on a log axis, where its values
// spread out instead of crowding the low end and its tick labels do not overlap.
static int param_spans_decades(const double *val, const int *has, int n) {
  double lo = INFINITY, hi = 0;
  for (int c = 0; c < n; c++) {
    if (!has[c]) continue;
    if (val[c] <= 0) return 0;
    lo = fmin(lo, val[c]);
    hi = fmax(hi, val[c]);
  }
  return hi >= 10 * lo;
}

// A cache sweep's reference: each full-cache config of the phase (it has no swept parameter) as a
// flat line across the swept range, one per length, so the sweep reads against the full cache.
static void full_cache_reference(const PhaseData *pd, const double *val, const int *has, int *colour, Plot *p) {
  double lo = INFINITY, hi = -INFINITY;
  for (int c = 0; c < pd->n_configs; c++)
    if (has[c]) lo = fmin(lo, val[c]), hi = fmax(hi, val[c]);
  for (int c = 0; c < pd->n_configs && lo < hi; c++) {
    if (has[c]) continue;
    const StoredJob *run = NULL;
    for (int l = 0; l < pd->n_lengths && !run; l++)
      if (phase_cell(pd, c, l)->n_runs > 0) run = phase_cell(pd, c, l)->runs[0];
    const char *type = run ? json_string_value(json_object_get(json_object_get(run->res.spec, "cache"), "type")) : NULL;
    if (!type || strcmp(type, "full") != 0) continue;
    for (int l = 0; l < pd->n_lengths; l++) {
      double m = mean_at(pd, c, l);
      if (!isfinite(m)) continue;
      double x[2] = {lo, hi}, y[2] = {m, m};
      StrBuf t = {0};
      sb_printf(&t, "%s, L = %ld", pd->configs[c].label, pd->lengths[l]);
      plot_add(p, t.data, (*colour)++, SERIES_CURVE, x, y, NULL, 2);
      sb_free(&t);
    }
  }
}

static int fig_ppl_vs_param(const PhaseData *pd, const ReportCtx *ctx, const ReportReq *rq, Plot *p,
                            const char **why) {
  static char msg[160];
  const char *param = rq->param ? rq->param : "";
  int n = pd->n_configs;
  double *val = xcalloc(n ? (size_t)n : 1, sizeof *val);
  int *ax = xcalloc(n ? (size_t)n : 1, sizeof *ax), *has = xcalloc(n ? (size_t)n : 1, sizeof *has);
  int axis = -1, n_distinct = 0;
  for (int c = 0; c < n; c++) {
    has[c] = config_param(pd, c, param, &ax[c], &val[c]) == 0;
    if (!has[c]) continue;
    if (axis < 0) axis = ax[c];
    int seen = 0;
    for (int k = 0; k < c; k++) seen |= has[k] && val[k] == val[c];
    n_distinct += !seen;
  }
  if (n_distinct < 2) {
    snprintf(msg, sizeof msg, ctx->t->n_param_unknown, param);
    *why = msg;
    free(val), free(ax), free(has);
    return -1;
  }
  p->xlabel = param;
  p->ylabel = "Perplexity";
  p->logy = 10;
  p->logx = param_spans_decades(val, has, n) ? 10 : 0;
  p->xtics_k = p->logx ? 1 : 0;  // a labelled tic at each swept value
  // contexts: configs equal on every axis but the swept one share a line (per length)
  int *ctx_of = xcalloc((size_t)n, sizeof *ctx_of), n_ctx = 0;
  for (int c = 0; c < n; c++) {
    ctx_of[c] = -1;
    if (!has[c]) continue;
    for (int k = 0; k < c && ctx_of[c] < 0; k++) {
      if (!has[k]) continue;
      int same = 1;
      for (int a = 0; a < N_AXES && same; a++)
        if (a != axis) same = strcmp(pd->configs[k].axis[a], pd->configs[c].axis[a]) == 0;
      if (same) ctx_of[c] = ctx_of[k];
    }
    if (ctx_of[c] < 0) ctx_of[c] = n_ctx++;
  }
  double *x = xcalloc((size_t)n, sizeof *x), *y = xcalloc((size_t)n, sizeof *y);
  int colour = 0;
  for (int g = 0; g < n_ctx; g++)
    for (int l = 0; l < pd->n_lengths; l++) {
      int m = 0, first = -1;
      for (int c = 0; c < n; c++) {
        if (ctx_of[c] != g || !isfinite(mean_at(pd, c, l))) continue;
        if (first < 0) first = c;
        int j = m++;  // insertion by parameter value
        while (j > 0 && x[j - 1] > val[c]) {
          x[j] = x[j - 1];
          y[j] = y[j - 1];
          j--;
        }
        x[j] = val[c];
        y[j] = mean_at(pd, c, l);
      }
      if (m == 0) continue;
      StrBuf t = {0};
      sb_printf(&t, "L = %ld", pd->lengths[l]);
      for (int a = 0; a < N_AXES && n_ctx > 1; a++)
        if (a != axis && pd->varies[a]) sb_printf(&t, " · %s", pd->configs[first].axis[a]);
      plot_add(p, t.data, colour++, SERIES_LINES, x, y, NULL, m);
      sb_free(&t);
    }
  full_cache_reference(pd, val, has, &colour, p);
  free(x), free(y), free(ctx_of), free(val), free(ax), free(has);
  return 0;
}

// ---- RoPE spectrum: ω_k against k for each variant of the phase ----
static const char *model_path(const ReportCtx *ctx, const char *name) {
  int i = strlist_find(&ctx->plan->model_names, name);
  return i >= 0 ? ctx->plan->model_paths.items[i] : NULL;
}

// A variant's spec with the variants it names (mix `of`, compress `base`) replaced by their specs
// as stored in another job's result: a job file keeps those by name. New reference.
static json_t *rope_resolved(const StoredJobs *rs, const json_t *spec, int depth) {
  if (json_is_string(spec) && depth < 8) {
    for (int i = 0; rs && i < rs->n_jobs; i++)
      if (strcmp(rs->jobs[i].axis[AX_ROPE], json_string_value(spec)) == 0)
        return rope_resolved(rs, json_object_get(rs->jobs[i].res.spec, "rope"), depth + 1);
  }
  json_t *out = json_deep_copy(spec);
  if (!json_is_object(out) || depth >= 8) return out;
  json_t *of = json_object_get(out, "of");
  for (size_t i = 0; json_is_array(of) && i < json_array_size(of); i++)
    json_array_set_new(of, i, rope_resolved(rs, json_array_get(of, i), depth + 1));
  json_t *base = json_object_get(out, "base");
  if (json_is_string(base)) json_object_set_new(out, "base", rope_resolved(rs, base, depth + 1));
  return out;
}

// A trained model's RoPE, known without its checkpoint: the recipe's shape (spec.train: hidden,
// heads, seq_len) and the variant's theta, as the training run built it. -1 when the job trained
// nothing.
static int trained_rope_info(const StoredJob *run, const json_t *rope, RopeModelInfo *info) {
  const json_t *tr = json_object_get(run->res.spec, "train");
  long hidden = (long)json_number_value(json_object_get(tr, "hidden"));
  long heads = (long)json_number_value(json_object_get(tr, "heads"));
  if (!json_is_object(tr) || hidden <= 0 || heads <= 0) return -1;
  TrainConfig c;
  train_config_defaults(&c);
  c.hidden_size = (int)hidden;
  c.n_heads = (int)heads;
  c.seq_len = (long)json_number_value(json_object_get(tr, "seq_len"));
  train_rope_info(&c, train_rope_theta(rope), info);
  return 0;
}

static int fig_rope_spectrum(const PhaseData *pd, const ReportCtx *ctx, Plot *p, const char **why) {
  static char msg[512];
  StrList done = {0};
  for (int c = 0; c < pd->n_configs; c++) {
    const char *rope = pd->configs[c].axis[AX_ROPE];
    if (strlist_find(&done, rope) >= 0) continue;
    const StoredJob *run = NULL;
    for (int l = 0; l < pd->n_lengths && !run; l++)
      if (phase_cell(pd, c, l)->n_runs > 0) run = phase_cell(pd, c, l)->runs[0];
    json_t *spec = run ? json_object_get(run->res.spec, "rope") : NULL;
    if (!json_is_object(spec)) continue;
    ModelConfig cfg;
    memset(&cfg, 0, sizeof cfg);
    BenchErr err;
    RopeModelInfo info;
    if (trained_rope_info(run, spec, &info) != 0) {
      const char *path = model_path(ctx, pd->configs[c].axis[AX_MODEL]);
      if (!path || !path[0] || model_config_load(path, &cfg, &err) != 0) {
        snprintf(msg, sizeof msg, "the model's config.json is not readable here (%.400s)",
                 path && path[0] ? err.msg : "no model path in the suite");
        *why = msg;
        strlist_free(&done);
        return -1;
      }
      model_rope_info(&cfg, &info);
    }
    RopeTable table;
    memset(&table, 0, sizeof table);
    json_t *resolved = rope_resolved(ctx->results, spec, 0);
    int rc = rope_build(resolved, &info, run->length, &table, &err);
    json_decref(resolved);
    model_config_free(&cfg);
    if (rc != 0) {
      snprintf(msg, sizeof msg, "variant '%.100s': %.380s", rope, err.msg);
      *why = msg;
      strlist_free(&done);
      return -1;
    }
    int half = table.rotary_dims / 2;
    double *k = xcalloc(half ? (size_t)half : 1, sizeof *k);
    for (int i = 0; i < half; i++) k[i] = i;
    plot_add(p, rope, figure_colour(pd->configs[c].label), half > 24 ? SERIES_CURVE : SERIES_LINES, k,
             table.inv_freq, NULL, half);
    free(k);
    rope_table_free(&table);
    strlist_add(&done, "%s", rope);
  }
  strlist_free(&done);
  if (p->n_series == 0) {
    *why = ctx->t->n_no_data;
    return -1;
  }
  p->xlabel = "Frequency pair k";
  p->ylabel = "ω_k (rad/token)";
  p->labels_enhanced = 1;
  p->logy = 10;
  p->key_right = 1;
  return 0;
}

// ---- training loss curve (metrics.loss_curve: [[step, loss], ...]) ----
static int fig_loss_curve(const PhaseData *pd, const ReportCtx *ctx, Plot *p, const char **why) {
  (void)ctx;
  for (int c = 0; c < pd->n_configs; c++) {
    const StoredJob *run = NULL;
    for (int l = 0; l < pd->n_lengths && !run; l++) {
      const Cell *cell = phase_cell(pd, c, l);
      for (int i = 0; i < cell->n_runs && !run; i++) {
        json_t *v = cell->runs[i]->res.metrics ? json_object_get(cell->runs[i]->res.metrics, "loss_curve") : NULL;
        if (json_is_array(v) && json_array_size(v) > 1) run = cell->runs[i];
      }
    }
    if (!run) continue;
    json_t *arr = json_object_get(run->res.metrics, "loss_curve");
    size_t n = json_array_size(arr);
    double *x = xcalloc(n, sizeof *x), *y = xcalloc(n, sizeof *y);
    int m = 0;
    for (size_t k = 0; k < n; k++) {
      json_t *pair = json_array_get(arr, k);
      if (!json_is_number(json_array_get(pair, 0)) || !json_is_number(json_array_get(pair, 1))) continue;
      x[m] = json_number_value(json_array_get(pair, 0));
      y[m++] = json_number_value(json_array_get(pair, 1));
    }
    if (m > 1)
      plot_add(p, pd->configs[c].label, figure_colour(pd->configs[c].label), m > 24 ? SERIES_CURVE : SERIES_LINES,
               x, y, NULL, m);
    free(x);
    free(y);
  }
  if (p->n_series == 0) {
    *why = "no training loss (metrics.loss_curve) in these results";
    return -1;
  }
  p->xlabel = "Training step";
  p->ylabel = "Training loss (nats/token)";
  return 0;
}

// ---- the phase's figures as markdown ----
static void figure_name(const PhaseData *pd, const ReportReq *rq, char *out, size_t n) {
  StrBuf b = {0};
  for (const char *s = pd->plan->id; *s; s++) {
    char ch = *s;
    int ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '-' || ch == '_';
    sb_appendn(&b, ok ? &ch : "_", 1);
  }
  if (strcmp(rq->name, "ppl_vs_param") == 0 && rq->param) {
    sb_append(&b, "_ppl_vs_");
    for (const char *s = rq->param; *s; s++) {
      char ch = *s;
      int ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_';
      sb_appendn(&b, ok ? &ch : "_", 1);
    }
  } else {
    sb_printf(&b, "_%s", rq->name);
  }
  snprintf(out, n, "%s", b.data);
  sb_free(&b);
}

static const char *figure_caption(const ReportReq *rq, const ReportText *t) {
  int zh = strcmp(t->lang, "zh") == 0;
  const char *n = rq->name;
  if (strcmp(n, "ppl_vs_length") == 0) return zh ? "PPL vs 序列长度 (多种子时误差棒为 ±1 标准差; ✕ 为 OOM)"
                                                : "PPL vs context length (error bars: ±1 std over seeds where several; ✕ marks OOM)";
  if (strcmp(n, "collapse_vs_length") == 0)
    return zh ? "崩溃比 vs 序列长度 (虚线: 阈值; 多种子时为各种子比值的均值, 误差棒为 ±1 标准差)"
              : "Collapse ratio vs context length (dashed: thresholds; with seeds, the mean of the per-seed ratios, error bars ±1 std)";
  if (strcmp(n, "nll_vs_position") == 0) return zh ? "窗口内各位置的 NLL (最长长度)" : "NLL by position inside the window (longest length)";
  if (strcmp(n, "ppl_vs_param") == 0) return zh ? "PPL vs 扫描参数" : "PPL vs the swept parameter";
  if (strcmp(n, "rope_spectrum") == 0) return zh ? "RoPE 频谱 ω_k vs k (对数坐标)" : "RoPE spectrum ω_k vs k (log scale)";
  if (strcmp(n, "loss_curve") == 0) return zh ? "训练损失曲线" : "Training loss curve";
  return n;
}

void phase_figures(StrBuf *b, const PhaseData *pd, const ReportCtx *ctx, int render, FigureCount *count) {
  const ReportText *t = ctx->t;
  for (int i = 0; i < pd->plan->n_reqs; i++) {
    const ReportReq *rq = &pd->plan->reqs[i];
    if (strcmp(rq->kind, "plot") != 0) continue;
    char name[256];
    figure_name(pd, rq, name, sizeof name);
    Plot p;
    plot_init(&p);
    const char *why = NULL;
    int rc;
    if (strcmp(rq->name, "ppl_vs_length") == 0) rc = fig_ppl_vs_length(pd, ctx, &p, &why);
    else if (strcmp(rq->name, "collapse_vs_length") == 0) rc = fig_collapse_vs_length(pd, ctx, &p, &why);
    else if (strcmp(rq->name, "nll_vs_position") == 0) rc = fig_nll_vs_position(pd, ctx, &p, &why);
    else if (strcmp(rq->name, "ppl_vs_param") == 0) rc = fig_ppl_vs_param(pd, ctx, rq, &p, &why);
    else if (strcmp(rq->name, "rope_spectrum") == 0) rc = fig_rope_spectrum(pd, ctx, &p, &why);
    else if (strcmp(rq->name, "loss_curve") == 0) rc = fig_loss_curve(pd, ctx, &p, &why);
    else {
      rc = -1;
      why = "unknown figure";
    }
    char line[1024];
    if (rc != 0) {
      snprintf(line, sizeof line, t->n_fig_skipped, name, why ? why : "");
      sb_printf(b, "*%s*\n\n", line);
      if (count) count->skipped++;
      plot_free(&p);
      continue;
    }
    BenchErr err = {{0}};
    if (ctx->no_figures) {
      rc = -1;
      snprintf(err.msg, sizeof err.msg, "%s", "figures turned off (--no-figures)");
    } else if (render) {
      rc = plot_render(&p, ctx->gnuplot, ctx->reports_dir, name, &err);
    }
    if (rc == 0) {
      sb_printf(b, "![%s](%s.png)\n\n*%s* — [SVG](%s.svg)\n\n", figure_caption(rq, t), name, figure_caption(rq, t), name);
      if (count && render) count->made++;
    } else {
      snprintf(line, sizeof line, ctx->no_figures ? t->n_fig_skipped : t->n_fig_failed, name, err.msg);
      sb_printf(b, "*%s*\n\n", line);
      if (count) (ctx->no_figures ? count->skipped++ : count->failed++);
    }
    plot_free(&p);
  }
}
