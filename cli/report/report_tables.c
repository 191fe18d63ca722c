// report_tables.c — the tables a phase's `report:` list asks for (DESIGN.md "Results and reports").
// Cells hold the mean PPL over the seeds that finished; a cell with no ok run says why (OOM, error,
// crashed, nonfinite) or "—" when no result exists yet. Lower PPL is better everywhere.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"
#include "report_stats.h"

// ---- cells and rows ----
// A job file's name without its folder and ".json", cut to 8 characters: "007d93f1".
static void short_file(const char *path, char out[16]) {
  const char *slash = strrchr(path, '/');
  snprintf(out, 16, "%.8s", slash ? slash + 1 : path);
}

void report_cell_text(const Cell *cell, const ReportText *t, char out[64]) {
  if (cell->conflict[0]) {
    char a[32], b[32], fa[16], fb[16];
    rfmt_ppl(cell->conflict[0]->ppl, a);
    rfmt_ppl(cell->conflict[1]->ppl, b);
    short_file(cell->conflict[0]->path, fa);
    short_file(cell->conflict[1]->path, fb);
    snprintf(out, 64, "%.9s: %.12s (%.8s) ≠ %.12s (%.8s)", t->cell_conflict, a, fa, b, fb);
    return;
  }
  if (cell->n_ok > 0) {
    rfmt_ppl(cell->mean, out);
    return;
  }
  if (cell->n_oom > 0) {
    snprintf(out, 64, "%s", t->cell_oom);
    return;
  }
  if (cell->n_error > 0) {  // crashed or nonfinite when every run says so, else error; with why
    JobStatus st = cell->runs[0]->res.status;
    for (int i = 1; i < cell->n_runs; i++)
      if (cell->runs[i]->res.status != st) st = JOB_ERROR;
    const char *word = st == JOB_CRASHED ? t->cell_crashed : st == JOB_NONFINITE ? t->cell_nonfinite : t->cell_error;
    char why[48] = "";
    for (int i = 0; i < cell->n_runs && !why[0] && st != JOB_NONFINITE; i++)
      if (cell->runs[i]->res.status != JOB_OK && cell->runs[i]->res.status != JOB_OOM)
        report_error_short(cell->runs[i]->res.error, t, why);
    if (why[0]) snprintf(out, 64, "%.12s: %s", word, why);
    else snprintf(out, 64, "%s", word);
    return;
  }
  snprintf(out, 64, "%s", t->nothing_yet);
}

static void row_start(StrBuf *b, const char *first) {
  sb_append(b, "| ");
  rfmt_md_escape(b, first);
  sb_append(b, " |");
}

static void row_cell(StrBuf *b, const char *text, int bold) {
  sb_printf(b, bold ? " **%s** |" : " %s |", text);
}

// "|---|---:|...": the first column left-aligned, the rest right-aligned.
static void row_rule(StrBuf *b, int n_cols) {
  sb_append(b, "|---|");
  for (int i = 1; i < n_cols; i++) sb_append(b, "---:|");
  sb_append(b, "\n");
}


static void note(StrBuf *b, const char *text) { sb_printf(b, "*%s*\n\n", text); }

static void len_text(long L, char out[32]) { snprintf(out, 32, "%ld", L); }

static double cell_mean(const PhaseData *pd, int c, int l) {
  if (c < 0 || l < 0) return NAN;
  const Cell *cell = phase_cell(pd, c, l);
  return cell->n_ok > 0 ? cell->mean : NAN;
}

static int multi_seed(const PhaseData *pd) {
  for (int c = 0; c < pd->n_configs; c++)
    for (int l = 0; l < pd->n_lengths; l++)
      if (phase_cell(pd, c, l)->n_ok > 1) return 1;
  return 0;
}

static void mean_note(StrBuf *b, const PhaseData *pd, const ReportText *t) {
  if (!multi_seed(pd)) return;
  note(b, strcmp(t->lang, "zh") == 0 ? "多个种子时为均值。" : "Cells with several seeds show the mean.");
}

long report_request_length(const PhaseData *pd, const ReportReq *rq) {
  if (rq && rq->at > 0) return rq->at;
  for (int l = pd->n_lengths - 1; l >= 0; l--)
    for (int c = 0; c < pd->n_configs; c++)
      if (phase_cell(pd, c, l)->n_ok > 0) return pd->lengths[l];
  return 0;
}

// Index of the config with the lowest mean PPL at length index l among those of comparison group
// g with a value; -1 unless at least `min_values` configs have one.
static int best_config_at(const PhaseData *pd, int l, int g, int min_values) {
  int best = -1, n = 0;
  for (int c = 0; c < pd->n_configs; c++) {
    if (pd->group[c] != g) continue;
    double m = cell_mean(pd, c, l);
    if (!isfinite(m)) continue;
    n++;
    if (best < 0 || m < cell_mean(pd, best, l)) best = c;
  }
  return n >= min_values ? best : -1;
}

// ---- collapse ----
void table_collapse(StrBuf *b, const PhaseData *pd, const ReportReq *rq, const ReportCtx *ctx) {
  const ReportText *t = ctx->t;
  long L = report_request_length(pd, rq), base = pd->base_length;
  char sL[32], sB[32], cap[256];
  len_text(L, sL);
  len_text(base, sB);
  snprintf(cap, sizeof cap, t->tbl_collapse, sL, sB);
  report_heading(b, pd, ctx, cap);
  int lL = phase_length_index(pd, L), lB = phase_length_index(pd, base);
  if (lL < 0 || L == 0) {
    char msg[128];
    snprintf(msg, sizeof msg, t->n_at_unknown, sL);
    note(b, msg);
    return;
  }
  sb_printf(b, "| %s | PPL@%s | PPL@%s | %s |\n", t->col_config, sB, sL, t->col_ratio);
  sb_append(b, "|---|---:|---:|---|\n");
  // per comparison group: the lowest PPL@L (bold) and the lowest ratio (✅, bold)
  double *ratio = xcalloc(pd->n_configs ? (size_t)pd->n_configs : 1, sizeof *ratio);
  double *std = xcalloc(pd->n_configs ? (size_t)pd->n_configs : 1, sizeof *std);
  int seeded = 0;
  for (int c = 0; c < pd->n_configs; c++) {
    int n_seeds;
    ratio[c] = phase_ratio(pd, c, lL, lB, &std[c], &n_seeds);
    seeded |= n_seeds >= 2;
  }
  for (int c = 0; c < pd->n_configs; c++) {
    int best = best_config_at(pd, lL, pd->group[c], 2), lowest = 1, n_ratios = 0;
    for (int k = 0; k < pd->n_configs; k++) {
      if (pd->group[k] != pd->group[c] || !isfinite(ratio[k])) continue;
      n_ratios++;
      if (ratio[k] < ratio[c] || (ratio[k] == ratio[c] && k < c)) lowest = 0;
    }
    lowest = lowest && isfinite(ratio[c]) && n_ratios >= 2;
    char vb[64], vl[64], r[64];
    if (lB >= 0) report_cell_text(phase_cell(pd, c, lB), t, vb);
    else snprintf(vb, sizeof vb, "%s", t->nothing_yet);
    report_cell_text(phase_cell(pd, c, lL), t, vl);
    rfmt_ratio(ratio[c], r);
    if (isfinite(std[c])) {  // "23.58x±1.20"
      size_t n = strlen(r);
      snprintf(r + n, sizeof r - n, "±%.2f", std[c]);
    }
    row_start(b, pd->configs[c].label);
    row_cell(b, vb, 0);
    row_cell(b, vl, c == best);
    int severe = stat_is_severe(ratio[c], ctx->plan->severe);
    if (severe || lowest) {
      sb_printf(b, " **%s**", r);
      if (severe) sb_printf(b, " ⚠️ %s", t->severe);
      if (lowest) sb_printf(b, " ✅ %s", t->best);
      sb_append(b, " |\n");
    } else {
      sb_printf(b, " %s |\n", r);
    }
  }
  sb_append(b, "\n");
  char legend[512];
  snprintf(legend, sizeof legend, t->legend_collapse, sL, ctx->plan->severe);
  note(b, legend);
  if (seeded) note(b, t->legend_collapse_seeds);
  else mean_note(b, pd, t);
  free(ratio);
  free(std);
}

// ---- lengths ----
void table_lengths(StrBuf *b, const PhaseData *pd, const ReportReq *rq, const ReportCtx *ctx) {
  (void)rq;
  const ReportText *t = ctx->t;
  report_heading(b, pd, ctx, t->tbl_lengths);
  sb_printf(b, "| %s |", t->col_config);
  for (int l = 0; l < pd->n_lengths; l++) sb_printf(b, " %ld |", pd->lengths[l]);
  sb_append(b, "\n");
  row_rule(b, pd->n_lengths + 1);
  for (int c = 0; c < pd->n_configs; c++) {
    row_start(b, pd->configs[c].label);
    for (int l = 0; l < pd->n_lengths; l++) {
      char v[64];
      report_cell_text(phase_cell(pd, c, l), t, v);
      row_cell(b, v, best_config_at(pd, l, pd->group[c], 2) == c);
    }
    sb_append(b, "\n");
  }
  sb_append(b, "\n");
  mean_note(b, pd, t);
}

// ---- seeds ----
void table_seeds(StrBuf *b, const PhaseData *pd, const ReportReq *rq, const ReportCtx *ctx) {
  (void)rq;
  const ReportText *t = ctx->t;
  report_heading(b, pd, ctx, t->tbl_seeds);
  sb_printf(b, "| %s | %s |", t->col_config, t->col_seeds);
  for (int l = 0; l < pd->n_lengths; l++) {
    sb_append(b, " ");
    sb_printf(b, t->col_seed_len, pd->lengths[l]);
    sb_append(b, " |");
  }
  sb_append(b, "\n");
  row_rule(b, pd->n_lengths + 2);
  for (int c = 0; c < pd->n_configs; c++) {
    int n_seeds = 0;
    for (int l = 0; l < pd->n_lengths; l++) {
      const Cell *cell = phase_cell(pd, c, l);
      if (cell->n_runs > n_seeds) n_seeds = cell->n_runs;
    }
    row_start(b, pd->configs[c].label);
    sb_printf(b, " %d |", n_seeds);
    for (int l = 0; l < pd->n_lengths; l++) {
      const Cell *cell = phase_cell(pd, c, l);
      char v[128];
      if (cell->n_ok >= 2) {
        char ms[64], cv[32];
        rfmt_mean_std(cell->mean, cell->std, ms);
        rfmt_pct(cell->cv, 1, cv);
        snprintf(v, sizeof v, "%s (%s)", ms, cv);
      } else if (cell->n_ok == 1) {
        char m[32];
        rfmt_ppl(cell->mean, m);
        snprintf(v, sizeof v, "%s (n=1)", m);
      } else {
        report_cell_text(cell, t, v);
      }
      if (cell->n_ok > 0 && cell->n_ok + cell->n_oom + cell->n_error > cell->n_ok) {
        size_t n = strlen(v);  // some seeds failed: say how many ran
        snprintf(v + n, sizeof v - n, " [%d/%d ok]", cell->n_ok, cell->n_runs);
      }
      row_cell(b, v, 0);
    }
    sb_append(b, "\n");
  }
  sb_append(b, "\n");
}

// ---- baseline groups (improvement, verdict) ----
// Configs with the baseline's value on `axis` and everything else equal form a group.
typedef struct {
  int axis;      // the axis the baseline name lives on; -1 when unknown
  int *base;     // [n_groups] config index of each group's baseline
  int n_groups;
} BaselineGroups;

static void baseline_groups(const PhaseData *pd, const char *baseline, BaselineGroups *g) {
  memset(g, 0, sizeof *g);
  g->axis = baseline ? phase_axis_of(pd, baseline) : -1;
  if (g->axis < 0) return;
  g->base = xcalloc(pd->n_configs ? (size_t)pd->n_configs : 1, sizeof *g->base);
  for (int c = 0; c < pd->n_configs; c++)
    if (strcmp(pd->configs[c].axis[g->axis], baseline) == 0) g->base[g->n_groups++] = c;
}

static int in_group(const PhaseData *pd, const BaselineGroups *g, int group, int c) {
  return c != g->base[group] && phase_find_sibling(pd, c, (Axis)g->axis, pd->configs[g->base[group]].axis[g->axis]) == g->base[group];
}

// "model: llama3_8b" style caption of a group when the phase has several.
static void group_caption(StrBuf *b, const PhaseData *pd, const BaselineGroups *g, int group) {
  if (g->n_groups < 2) return;
  const Config *cf = &pd->configs[g->base[group]];
  sb_append(b, "**");
  int first = 1;
  for (int a = 0; a < N_AXES; a++) {
    if (a == g->axis || !pd->varies[a]) continue;
    sb_printf(b, "%s%s: ", first ? "" : ", ", REPORT_AXIS_NAMES[a]);
    rfmt_md_escape(b, cf->axis[a]);
    first = 0;
  }
  sb_append(b, "**\n\n");
}

static int baseline_missing(StrBuf *b, const BaselineGroups *g, const ReportReq *rq, const ReportText *t) {
  if (g->n_groups > 0) return 0;
  char msg[256];
  snprintf(msg, sizeof msg, t->n_baseline_unknown, rq->baseline ? rq->baseline : "");
  note(b, msg);
  return 1;
}

// ---- improvement ----
void table_improvement(StrBuf *b, const PhaseData *pd, const ReportReq *rq, const ReportCtx *ctx) {
  const ReportText *t = ctx->t;
  char cap[256];
  snprintf(cap, sizeof cap, t->tbl_improvement, rq->baseline ? rq->baseline : "");
  report_heading(b, pd, ctx, cap);
  BaselineGroups g;
  baseline_groups(pd, rq->baseline, &g);
  if (baseline_missing(b, &g, rq, t)) return;
  for (int gi = 0; gi < g.n_groups; gi++) {
    int bc = g.base[gi];
    group_caption(b, pd, &g, gi);
    sb_printf(b, "| %s | ", t->col_length);
    rfmt_md_escape(b, pd->configs[bc].axis[g.axis]);
    sb_printf(b, " (%s) |", t->col_baseline);
    int n_cols = 2;
    for (int c = 0; c < pd->n_configs; c++)
      if (in_group(pd, &g, gi, c)) {
        sb_append(b, " ");
        rfmt_md_escape(b, pd->configs[c].axis[g.axis]);
        sb_append(b, " |");
        n_cols++;
      }
    sb_printf(b, " %s |\n", t->col_best_impr);
    row_rule(b, n_cols + 1);
    for (int l = 0; l < pd->n_lengths; l++) {
      double base = cell_mean(pd, bc, l);
      int best = -1;
      for (int c = 0; c < pd->n_configs; c++) {
        if (!in_group(pd, &g, gi, c) || !isfinite(cell_mean(pd, c, l))) continue;
        if (best < 0 || cell_mean(pd, c, l) < cell_mean(pd, best, l)) best = c;
      }
      double imp = best >= 0 ? stat_improvement_pct(base, cell_mean(pd, best, l)) : NAN;
      int improves = isfinite(imp) && imp > 0;
      char v[64];
      sb_printf(b, "| %ld |", pd->lengths[l]);
      report_cell_text(phase_cell(pd, bc, l), t, v);
      row_cell(b, v, 0);
      for (int c = 0; c < pd->n_configs; c++) {
        if (!in_group(pd, &g, gi, c)) continue;
        report_cell_text(phase_cell(pd, c, l), t, v);
        row_cell(b, v, improves && c == best);
      }
      if (!isfinite(base) || best < 0) {
        sb_printf(b, " %s |\n", t->nothing_yet);
      } else if (!improves) {
        sb_printf(b, " %s |\n", t->no_improvement);
      } else {
        char p[32];
        rfmt_pct(imp, 1, p);
        sb_printf(b, " %s (", p);
        rfmt_md_escape(b, pd->configs[best].axis[g.axis]);
        sb_append(b, ") |\n");
      }
    }
    sb_append(b, "\n");
  }
  mean_note(b, pd, t);
  free(g.base);
}

// ---- leaderboard ----
static const PhaseData *sort_pd;
static int sort_l;
static int cmp_by_ppl(const void *a, const void *b) {
  double x = cell_mean(sort_pd, *(const int *)a, sort_l), y = cell_mean(sort_pd, *(const int *)b, sort_l);
  int fx = isfinite(x), fy = isfinite(y);
  if (fx != fy) return fy - fx;  // configs with a value first
  if (!fx) return *(const int *)a - *(const int *)b;
  if (x != y) return x < y ? -1 : 1;
  return *(const int *)a - *(const int *)b;
}

static void leaderboard_group(StrBuf *b, const PhaseData *pd, const ReportCtx *ctx, int lL, int lB, int g);

void table_leaderboard(StrBuf *b, const PhaseData *pd, const ReportReq *rq, const ReportCtx *ctx) {
  const ReportText *t = ctx->t;
  long L = report_request_length(pd, rq);
  char sL[32], sB[32], cap[256];
  len_text(L, sL);
  len_text(pd->base_length, sB);
  snprintf(cap, sizeof cap, t->tbl_leaderboard, sL);
  report_heading(b, pd, ctx, cap);
  int lL = phase_length_index(pd, L), lB = phase_length_index(pd, pd->base_length);
  if (lL < 0 || L == 0) {
    char msg[128];
    snprintf(msg, sizeof msg, t->n_at_unknown, sL);
    note(b, msg);
    return;
  }
  for (int g = 0; g < pd->n_groups; g++) leaderboard_group(b, pd, ctx, lL, lB, g);
  note(b, t->legend_vs_best);
  mean_note(b, pd, t);
}

// One ranking: the configs of comparison group g (a caption names the group when there are several).
static void leaderboard_group(StrBuf *b, const PhaseData *pd, const ReportCtx *ctx, int lL, int lB, int g) {
  const ReportText *t = ctx->t;
  char sL[32], sB[32];
  len_text(pd->lengths[lL], sL);
  if (lB >= 0) len_text(pd->lengths[lB], sB);
  int *order = xcalloc(pd->n_configs ? (size_t)pd->n_configs : 1, sizeof *order), n = 0;
  for (int c = 0; c < pd->n_configs; c++)
    if (pd->group[c] == g) order[n++] = c;
  sort_pd = pd;
  sort_l = lL;
  qsort(order, (size_t)n, sizeof *order, cmp_by_ppl);
  if (pd->n_groups > 1) {
    sb_append(b, "**");
    rfmt_md_escape(b, pd->group_label[g]);
    sb_append(b, "**\n\n");
  }
  int show_base = lB >= 0 && lB != lL;
  if (show_base) sb_printf(b, "| %s | %s | PPL@%s | PPL@%s | %s |\n", t->col_rank, t->col_config, sB, sL, t->col_vs_best);
  else sb_printf(b, "| %s | %s | PPL@%s | %s |\n", t->col_rank, t->col_config, sL, t->col_vs_best);
  sb_append(b, show_base ? "|---:|---|---:|---:|---:|\n" : "|---:|---|---:|---:|\n");
  double best = n ? cell_mean(pd, order[0], lL) : NAN;
  for (int i = 0; i < n; i++) {
    int c = order[i];
    double m = cell_mean(pd, c, lL);
    char v[64], vs[48];
    if (isfinite(m)) sb_printf(b, "| %d | ", i + 1);
    else sb_printf(b, "| %s | ", t->nothing_yet);
    rfmt_md_escape(b, pd->configs[c].label);
    sb_append(b, " |");
    if (show_base) {
      report_cell_text(phase_cell(pd, c, lB), t, v);
      row_cell(b, v, 0);
    }
    report_cell_text(phase_cell(pd, c, lL), t, v);
    row_cell(b, v, i == 0 && isfinite(m));
    if (!isfinite(m)) snprintf(vs, sizeof vs, "%s", t->nothing_yet);
    else if (i == 0) snprintf(vs, sizeof vs, "✅");
    else {
      char p[32];
      rfmt_pct(stat_improvement_pct(m, best), 1, p);
      snprintf(vs, sizeof vs, "%s", p);
    }
    row_cell(b, vs, 0);
    sb_append(b, "\n");
  }
  sb_append(b, "\n");
  free(order);
}

// ---- verdict (seed 003's rules) ----
void verdict_why(const Verdict *v, const ReportText *t, int n_expected, char out[160]) {
  char g[32], sx[32], sb[32];
  switch (v->why) {
    case WHY_WIN: out[0] = 0; break;
    case WHY_INCOMPLETE: snprintf(out, 160, t->why_incomplete, v->n_x, v->n_b, n_expected); break;
    case WHY_FEW_SEEDS: snprintf(out, 160, "%s", t->why_few_seeds); break;
    case WHY_MEAN_NOT_BETTER: snprintf(out, 160, "%s", t->why_mean); break;
    case WHY_GAP_WITHIN_STD:
      rfmt_ppl(v->gap, g);
      rfmt_ppl(v->std_x, sx);
      rfmt_ppl(v->std_b, sb);
      snprintf(out, 160, t->why_gap, g, sx, sb);
      break;
    case WHY_FEW_IMPROVE: snprintf(out, 160, t->why_paired, v->n_improved, v->n_paired); break;
  }
}

Verdict cell_verdict(const PhaseData *pd, int c, int base, int l, int *n_expected) {
  const Cell *x = phase_cell(pd, c, l), *bb = phase_cell(pd, base, l);
  int ne = x->n_expected_seeds > bb->n_expected_seeds ? x->n_expected_seeds : bb->n_expected_seeds;
  if (n_expected) *n_expected = ne;
  return stat_verdict(x->ppl, x->seeds, x->n_ok, bb->ppl, bb->seeds, bb->n_ok, ne);
}

void table_verdict(StrBuf *b, const PhaseData *pd, const ReportReq *rq, const ReportCtx *ctx) {
  const ReportText *t = ctx->t;
  long L = report_request_length(pd, rq);
  char sL[32], cap[512];
  len_text(L, sL);
  snprintf(cap, sizeof cap, t->tbl_verdict, rq->baseline ? rq->baseline : "", sL);
  report_heading(b, pd, ctx, cap);
  BaselineGroups g;
  baseline_groups(pd, rq->baseline, &g);
  if (baseline_missing(b, &g, rq, t)) return;
  int l = phase_length_index(pd, L);
  if (l < 0 || L == 0) {
    char msg[128];
    snprintf(msg, sizeof msg, t->n_at_unknown, sL);
    note(b, msg);
    free(g.base);
    return;
  }
  sb_printf(b, "| %s | PPL@%s | %s | %s | %s | %s | %s |\n", t->col_config, sL, t->col_baseline,
            t->col_gap, t->col_paired, t->col_verdict, t->col_why);
  sb_append(b, "|---|---:|---:|---:|---:|---|---|\n");
  for (int gi = 0; gi < g.n_groups; gi++) {
    int bc = g.base[gi];
    for (int c = 0; c < pd->n_configs; c++) {
      if (!in_group(pd, &g, gi, c)) continue;
      int ne = 0;
      Verdict v = cell_verdict(pd, c, bc, l, &ne);
      char mx[64], mb[64], gap[32], why[160];
      rfmt_mean_std(v.mean_x, v.std_x, mx);
      rfmt_mean_std(v.mean_b, v.std_b, mb);
      rfmt_ppl(v.gap, gap);
      verdict_why(&v, t, ne, why);
      row_start(b, pd->configs[c].label);
      sb_printf(b, " %s (n=%d) | %s (n=%d) | %s | %d/%d |", v.n_x ? mx : t->nothing_yet, v.n_x,
                v.n_b ? mb : t->nothing_yet, v.n_b, isfinite(v.gap) ? gap : t->nothing_yet,
                v.n_improved, v.n_paired);
      if (v.win) sb_printf(b, " ✅ **%s** | |\n", t->win);
      else sb_printf(b, " %s | %s |\n", t->not_proven, why);
    }
  }
  sb_append(b, "\n");
  free(g.base);
}
