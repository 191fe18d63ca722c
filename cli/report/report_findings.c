// report_findings.c — key findings written from a phase's numbers: collapse boundary per config
// and the shift between configs, the best config, the short-length cost, seed robustness, OOM
// limits, non-finite NLLs, improvement over a baseline, seed 003's win rules, and what a KV-cache
// policy saves and costs (report_kv.c). Every sentence states its numbers.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"
#include "report_stats.h"

static double mean_at(const PhaseData *pd, int c, int l) {
  if (c < 0 || l < 0) return NAN;
  const Cell *cell = phase_cell(pd, c, l);
  return cell->n_ok > 0 ? cell->mean : NAN;
}

static void bullet(StrBuf *b, const char *fmt_done) { sb_printf(b, "- %s\n", fmt_done); }

static void s_len(long L, char out[32]) { snprintf(out, 32, "%ld", L); }

// Labels go into bold markdown: escape them first.
static char *esc(const char *s) {
  StrBuf b = {0};
  rfmt_md_escape(&b, s);
  return b.data ? b.data : xstrdup("");
}

// ---- collapse boundary and its shift ----
typedef struct {
  int has_base;
  int boundary;      // length index, -1 none
  double max_ratio;
  long last_len;     // longest length with a ratio
} Collapse;

static void collapse_of(const PhaseData *pd, int c, double threshold, Collapse *out) {
  int lB = phase_length_index(pd, pd->base_length);
  double base = mean_at(pd, c, lB);
  double *ratios = xcalloc(pd->n_lengths ? (size_t)pd->n_lengths : 1, sizeof *ratios);
  out->has_base = isfinite(base);
  out->max_ratio = NAN;
  out->last_len = 0;
  for (int l = 0; l < pd->n_lengths; l++) {
    double sd;
    int n_seeds;
    ratios[l] = phase_ratio(pd, c, l, lB, &sd, &n_seeds);  // the collapse table's ratio
    if (pd->lengths[l] > pd->base_length && isfinite(ratios[l])) {
      if (!isfinite(out->max_ratio) || ratios[l] > out->max_ratio) out->max_ratio = ratios[l];
      out->last_len = pd->lengths[l];
    }
  }
  out->boundary = stat_boundary(pd->lengths, ratios, pd->n_lengths, pd->base_length, threshold);
  free(ratios);
}

static void findings_collapse(StrBuf *b, const PhaseData *pd, const ReportCtx *ctx, int g) {
  const ReportText *t = ctx->t;
  int longer = 0;
  for (int l = 0; l < pd->n_lengths; l++) longer |= pd->lengths[l] > pd->base_length;
  if (!longer || pd->n_configs == 0) return;
  Collapse *cl = xcalloc((size_t)pd->n_configs, sizeof *cl);
  int any = 0, any_base = 0;
  for (int c = 0; c < pd->n_configs; c++) {
    if (pd->group[c] != g) continue;
    collapse_of(pd, c, ctx->plan->boundary, &cl[c]);
    any_base |= cl[c].has_base;
  }
  if (!any_base) {  // no config ran the base length: nothing to say about collapse
    free(cl);
    return;
  }
  char line[1024], sL[32], r[32], th[32], p[32], sB[32];
  s_len(pd->base_length, sB);
  snprintf(th, sizeof th, "%g", ctx->plan->boundary);
  for (int c = 0; c < pd->n_configs; c++) {
    if (pd->group[c] != g) continue;
    char *lab = esc(pd->configs[c].label);
    if (cl[c].boundary >= 0) {
      int l = cl[c].boundary;
      s_len(pd->lengths[l], sL);
      double sd;
      int n_seeds;
      rfmt_ratio(phase_ratio(pd, c, l, phase_length_index(pd, pd->base_length), &sd, &n_seeds), r);
      rfmt_ppl(mean_at(pd, c, l), p);
      snprintf(line, sizeof line, t->f_boundary, lab, sL, r, th, p);
      bullet(b, line);
      any = 1;
    } else if (cl[c].has_base && cl[c].last_len > 0) {
      s_len(cl[c].last_len, sL);
      rfmt_ratio(cl[c].max_ratio, r);
      snprintf(line, sizeof line, t->f_no_boundary, lab, sL, r);
      bullet(b, line);
      any = 1;
    } else if (!cl[c].has_base) {
      int has_any = 0;
      for (int l = 0; l < pd->n_lengths; l++) has_any |= phase_cell(pd, c, l)->n_ok > 0;
      if (has_any) {
        snprintf(line, sizeof line, t->f_no_base, lab, sB);
        bullet(b, line);
      }
    }
    free(lab);
  }
  // shift: against the config that collapses first
  int ref = -1;
  for (int c = 0; c < pd->n_configs; c++)
    if (pd->group[c] == g)
    if (cl[c].boundary >= 0 && (ref < 0 || cl[c].boundary < cl[ref].boundary)) ref = c;
  if (any && ref >= 0) {
    long refL = pd->lengths[cl[ref].boundary];
    char *rl = esc(pd->configs[ref].label), sR[32], f[32];
    s_len(refL, sR);
    for (int c = 0; c < pd->n_configs; c++) {
    if (pd->group[c] != g) continue;
      if (c == ref || !cl[c].has_base) continue;
      char *lab = esc(pd->configs[c].label);
      if (cl[c].boundary > cl[ref].boundary) {
        long L = pd->lengths[cl[c].boundary];
        s_len(L, sL);
        snprintf(f, sizeof f, "%.2g", (double)L / (double)refL);
        snprintf(line, sizeof line, t->f_shift, lab, sL, rl, sR, f);
        bullet(b, line);
      } else if (cl[c].boundary < 0 && cl[c].last_len > refL) {
        s_len(cl[c].last_len, sL);
        snprintf(f, sizeof f, "%.2g", (double)cl[c].last_len / (double)refL);
        snprintf(line, sizeof line, t->f_shift_beyond, lab, sL, rl, sR, f);
        bullet(b, line);
      }
      free(lab);
    }
    free(rl);
  }
  free(cl);
}

// ---- best config, and how far ahead it is ----
static long findings_length(const PhaseData *pd) {
  for (int i = 0; i < pd->plan->n_reqs; i++) {
    const ReportReq *rq = &pd->plan->reqs[i];
    if (rq->at > 0 && phase_length_index(pd, rq->at) >= 0) return rq->at;
  }
  for (int l = pd->n_lengths - 1; l >= 0; l--) {
    int n = 0;
    for (int c = 0; c < pd->n_configs; c++) n += isfinite(mean_at(pd, c, l));
    if (n >= 2) return pd->lengths[l];
  }
  return 0;
}

static void findings_best(StrBuf *b, const PhaseData *pd, const ReportCtx *ctx, long L, int g) {
  const ReportText *t = ctx->t;
  int l = phase_length_index(pd, L), lB = phase_length_index(pd, pd->base_length);
  if (l < 0) return;
  int best = -1, worst = -1, n = 0;
  for (int c = 0; c < pd->n_configs; c++) {
    if (pd->group[c] != g) continue;
    double m = mean_at(pd, c, l);
    if (!isfinite(m)) continue;
    n++;
    if (best < 0 || m < mean_at(pd, best, l)) best = c;
    if (worst < 0 || m > mean_at(pd, worst, l)) worst = c;
  }
  if (n < 2 || mean_at(pd, best, l) == mean_at(pd, worst, l)) return;  // a tie names no best
  char line[1024], sL[32], p[32], extra[64] = "", r[32];
  s_len(L, sL);
  rfmt_ppl(mean_at(pd, best, l), p);
  double sd;
  int n_seeds;
  double ratio = phase_ratio(pd, best, l, lB, &sd, &n_seeds);
  if (L != pd->base_length && isfinite(ratio)) {
    rfmt_ratio(ratio, r);
    snprintf(extra, sizeof extra, ", %s %s", strcmp(t->lang, "zh") == 0 ? "崩溃比" : "ratio", r);
  }
  char *lab = esc(pd->configs[best].label);
  snprintf(line, sizeof line, t->f_best, sL, lab, p, extra);
  bullet(b, line);
  free(lab);
  // the gap to the worst when it is large, and always when the group compares two configs (streaming
  // vs full per model size, seed 004)
  double factor = mean_at(pd, worst, l) / mean_at(pd, best, l);
  if (factor >= 1.05 || n == 2) {
    char pw[32], f[32];
    rfmt_ppl(mean_at(pd, worst, l), pw);
    snprintf(f, sizeof f, factor >= 10 ? "%.0f" : factor >= 1.05 ? "%.1f" : "%.2f", factor);
    char *wl = esc(pd->configs[worst].label);
    snprintf(line, sizeof line, t->f_best_vs_worst, wl, sL, pw, p, f);
    bullet(b, line);
    free(wl);
  }
}

// ---- short-length cost: PPL at the base length against the best there ----
static void findings_short_cost(StrBuf *b, const PhaseData *pd, const ReportCtx *ctx, int g) {
  const ReportText *t = ctx->t;
  int lB = phase_length_index(pd, pd->base_length);
  if (lB < 0) return;
  int best = -1, n = 0;
  for (int c = 0; c < pd->n_configs; c++) {
    if (pd->group[c] != g) continue;
    double m = mean_at(pd, c, lB);
    if (!isfinite(m)) continue;
    n++;
    if (best < 0 || m < mean_at(pd, best, lB)) best = c;
  }
  if (n < 2) return;
  double b0 = mean_at(pd, best, lB), worst_cost = 0;
  for (int c = 0; c < pd->n_configs; c++) {
    if (pd->group[c] != g) continue;
    double cost = -stat_improvement_pct(b0, mean_at(pd, c, lB));
    if (isfinite(cost) && cost > worst_cost) worst_cost = cost;
  }
  char line[1024], sB[32], pb[32], pct[32];
  s_len(pd->base_length, sB);
  rfmt_ppl(b0, pb);
  char *bl = esc(pd->configs[best].label);
  if (worst_cost <= 1.0) {
    rfmt_pct(worst_cost, 2, pct);
    snprintf(line, sizeof line, t->f_short_cost_none, sB, pct, bl, pb);
    bullet(b, line);
  } else {
    for (int c = 0; c < pd->n_configs; c++) {
    if (pd->group[c] != g) continue;
      double cost = -stat_improvement_pct(b0, mean_at(pd, c, lB));
      if (!isfinite(cost) || cost <= 1.0) continue;
      rfmt_pct(cost, 1, pct);
      char *lab = esc(pd->configs[c].label);
      snprintf(line, sizeof line, t->f_short_cost, sB, lab, pct, bl, pb);
      bullet(b, line);
      free(lab);
    }
  }
  free(bl);
}

// ---- seed robustness: CV at the findings length (else the longest length with ≥ 2 seeds) ----
static void findings_seeds(StrBuf *b, const PhaseData *pd, const ReportCtx *ctx, long L, int g) {
  const ReportText *t = ctx->t;
  int lf = phase_length_index(pd, L);
  int most = -1, most_l = -1, n_lines = 0;
  for (int c = 0; c < pd->n_configs; c++) {
    if (pd->group[c] != g) continue;
    int l = lf >= 0 && phase_cell(pd, c, lf)->n_ok >= 2 ? lf : -1;
    for (int k = pd->n_lengths - 1; k >= 0 && l < 0; k--)
      if (phase_cell(pd, c, k)->n_ok >= 2) l = k;
    if (l < 0) continue;
    const Cell *cell = phase_cell(pd, c, l);
    char line[1024], sL[32], ms[64], cv[32];
    s_len(pd->lengths[l], sL);
    rfmt_mean_std(cell->mean, cell->std, ms);
    rfmt_pct(cell->cv, 1, cv);
    char *lab = esc(pd->configs[c].label);
    snprintf(line, sizeof line, t->f_seed_cv, lab, sL, ms, cell->n_ok, cv);
    bullet(b, line);
    free(lab);
    n_lines++;
    if (l == lf && (most < 0 || cell->cv < phase_cell(pd, most, lf)->cv)) {
      most = c;
      most_l = l;
    }
  }
  if (n_lines >= 2 && most >= 0) {
    char line[1024], sL[32], cv[32];
    s_len(pd->lengths[most_l], sL);
    rfmt_pct(phase_cell(pd, most, most_l)->cv, 1, cv);
    char *lab = esc(pd->configs[most].label);
    snprintf(line, sizeof line, t->f_seed_most_robust, sL, lab, cv);
    bullet(b, line);
    free(lab);
  }
}

// ---- OOM limits: the shortest length that ran out of memory, per config ----
static void findings_oom(StrBuf *b, const PhaseData *pd, const ReportCtx *ctx, int g) {
  const ReportText *t = ctx->t;
  static const char *const gpu_keys[] = {"gpu", "gpus", "device", NULL};
  char *gpu = manifest_text(ctx->manifest, gpu_keys);
  for (int c = 0; c < pd->n_configs; c++) {
    if (pd->group[c] != g) continue;
    int first_oom = -1, last_ok = -1;
    const char *device = NULL;
    for (int l = 0; l < pd->n_lengths && first_oom < 0; l++) {
      const Cell *cell = phase_cell(pd, c, l);
      if (cell->n_oom > 0) {
        first_oom = l;
        for (int i = 0; i < cell->n_runs; i++)
          if (cell->runs[i]->res.status == JOB_OOM) device = cell->runs[i]->axis[AX_DEVICE];
      } else if (cell->n_ok > 0) {
        last_ok = l;
      }
    }
    if (first_oom < 0) continue;
    const Cell *oc = phase_cell(pd, c, first_oom);
    char line[1024], sO[32], sK[32], dev[200] = "";
    const char *d = gpu ? gpu : device;
    if (d && d[0]) snprintf(dev, sizeof dev, " — %s", d);
    s_len(pd->lengths[first_oom], sO);
    char *lab = esc(pd->configs[c].label);
    if (oc->n_ok > 0) {
      snprintf(line, sizeof line, t->f_oom_partial, lab, oc->n_oom, oc->n_runs, sO, dev);
    } else if (last_ok >= 0) {
      s_len(pd->lengths[last_ok], sK);
      snprintf(line, sizeof line, t->f_oom, lab, sO, sK, dev);
    } else {
      snprintf(line, sizeof line, t->f_oom_none_ran, lab, sO, dev);
    }
    bullet(b, line);
    free(lab);
  }
  free(gpu);
}

// ---- non-finite NLLs: every cell with a nonfinite run, and the first run's reason ----
static void findings_nonfinite(StrBuf *b, const PhaseData *pd, const ReportCtx *ctx, int g) {
  for (int c = 0; c < pd->n_configs; c++)
    if (pd->group[c] == g)
    for (int l = 0; l < pd->n_lengths; l++) {
      const Cell *cell = phase_cell(pd, c, l);
      const StoredJob *first = NULL;
      int n = 0;
      for (int i = 0; i < cell->n_runs; i++)
        if (cell->runs[i]->res.status == JOB_NONFINITE && n++ == 0) first = cell->runs[i];
      if (n == 0) continue;
      char line[1024], sL[32];
      s_len(pd->lengths[l], sL);
      char *lab = esc(pd->configs[c].label);
      snprintf(line, sizeof line, ctx->t->f_nonfinite, lab, sL, n, cell->n_runs,
               first->res.error ? first->res.error : "");
      bullet(b, line);
      free(lab);
    }
}

// ---- improvement over a baseline, and seed 003's verdict ----
static void findings_improvement(StrBuf *b, const PhaseData *pd, const ReportCtx *ctx, const ReportReq *rq) {
  const ReportText *t = ctx->t;
  int axis = rq->baseline ? phase_axis_of(pd, rq->baseline) : -1;
  if (axis < 0) return;
  for (int c = 0; c < pd->n_configs; c++) {
    if (strcmp(pd->configs[c].axis[axis], rq->baseline) == 0) continue;
    int bc = phase_find_sibling(pd, c, (Axis)axis, rq->baseline);
    if (bc < 0) continue;
    int best_l = -1, any = 0;
    double best_imp = NAN;
    for (int l = 0; l < pd->n_lengths; l++) {
      double imp = stat_improvement_pct(mean_at(pd, bc, l), mean_at(pd, c, l));
      if (!isfinite(imp)) continue;
      any = 1;
      if (imp > 0 && (best_l < 0 || imp > best_imp)) {
        best_l = l;
        best_imp = imp;
      }
    }
    if (!any) continue;
    char line[1024], *lab = esc(pd->configs[c].label), *bl = esc(pd->configs[bc].label);
    if (best_l >= 0) {
      char pct[32], sL[32], pb[32], px[32];
      rfmt_pct(best_imp, 1, pct);
      s_len(pd->lengths[best_l], sL);
      rfmt_ppl(mean_at(pd, bc, best_l), pb);
      rfmt_ppl(mean_at(pd, c, best_l), px);
      snprintf(line, sizeof line, t->f_impr_best, lab, bl, pct, sL, pb, px);
    } else {
      snprintf(line, sizeof line, t->f_impr_none, lab, bl);
    }
    bullet(b, line);
    free(lab);
    free(bl);
  }
}

static void findings_verdict(StrBuf *b, const PhaseData *pd, const ReportCtx *ctx, const ReportReq *rq) {
  const ReportText *t = ctx->t;
  int axis = rq->baseline ? phase_axis_of(pd, rq->baseline) : -1;
  long L = report_request_length(pd, rq);
  int l = phase_length_index(pd, L);
  if (axis < 0 || l < 0) return;
  for (int c = 0; c < pd->n_configs; c++) {
    if (strcmp(pd->configs[c].axis[axis], rq->baseline) == 0) continue;
    int bc = phase_find_sibling(pd, c, (Axis)axis, rq->baseline);
    if (bc < 0) continue;
    int ne = 0;
    Verdict v = cell_verdict(pd, c, bc, l, &ne);
    char line[1024], sL[32], mx[64], mb[64], why[160];
    char *lab = esc(pd->configs[c].label), *bl = esc(pd->configs[bc].label);
    s_len(L, sL);
    if (v.win) {
      rfmt_mean_std(v.mean_x, v.std_x, mx);
      rfmt_mean_std(v.mean_b, v.std_b, mb);
      snprintf(line, sizeof line, t->f_verdict_win, lab, bl, sL, mx, mb, v.n_improved, v.n_paired);
    } else {
      verdict_why(&v, t, ne, why);
      snprintf(line, sizeof line, t->f_verdict_not, lab, bl, sL, why);
    }
    bullet(b, line);
    free(lab);
    free(bl);
  }
}

// Every config gives the same PPL at every length (seed 001's Qwen: compression never applied).
static void findings_identical(StrBuf *b, const PhaseData *pd, const ReportCtx *ctx, int g) {
  int n_group = 0;
  for (int c = 0; c < pd->n_configs; c++) n_group += pd->group[c] == g;
  if (n_group < 2) return;
  int compared = 0;
  for (int l = 0; l < pd->n_lengths; l++) {
    double first = NAN;
    int n = 0;
    for (int c = 0; c < pd->n_configs; c++) {
    if (pd->group[c] != g) continue;
      double m = mean_at(pd, c, l);
      if (!isfinite(m)) continue;
      if (n++ == 0) first = m;
      else if (fabs(m - first) > 1e-9 * fabs(first)) return;
    }
    compared += n >= 2;
  }
  if (!compared) return;
  char line[512];
  snprintf(line, sizeof line, ctx->t->f_identical, n_group);
  bullet(b, line);
}

// Appends the lines of src to b, each indented by two spaces.
static void indented(StrBuf *b, const char *src) {
  for (const char *p = src; *p;) {
    const char *nl = strchr(p, '\n');
    size_t n = nl ? (size_t)(nl - p + 1) : strlen(p);
    sb_append(b, "  ");
    sb_appendn(b, p, n);
    p += n;
  }
}

void phase_findings(StrBuf *b, const PhaseData *pd, const ReportCtx *ctx) {
  long L = findings_length(pd);
  // what compares configs does so within one comparison group (one model, one dataset, ...): a
  // phase with several states them per group, under its name
  for (int g = 0; g < pd->n_groups; g++) {
    StrBuf f = {0};
    findings_identical(&f, pd, ctx, g);
    findings_collapse(&f, pd, ctx, g);
    findings_best(&f, pd, ctx, L, g);
    findings_short_cost(&f, pd, ctx, g);
    findings_seeds(&f, pd, ctx, L, g);
    findings_oom(&f, pd, ctx, g);
    findings_nonfinite(&f, pd, ctx, g);
    if (f.len && pd->n_groups > 1) {
      sb_append(b, "- **");
      rfmt_md_escape(b, pd->group_label[g]);
      sb_append(b, "**\n");
      indented(b, f.data);
    } else if (f.len) {
      sb_append(b, f.data);
    }
    sb_free(&f);
  }
  for (int i = 0; i < pd->plan->n_reqs; i++) {
    const ReportReq *rq = &pd->plan->reqs[i];
    if (strcmp(rq->kind, "table") != 0) continue;
    if (strcmp(rq->name, "improvement") == 0) findings_improvement(b, pd, ctx, rq);
    if (strcmp(rq->name, "verdict") == 0) findings_verdict(b, pd, ctx, rq);
  }
  if (phase_shows_kv(pd)) findings_kv(b, pd, ctx);
}
