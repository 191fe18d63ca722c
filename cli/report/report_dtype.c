// report_dtype.c — a phase's numerics (seed 004: do the numbers change with hardware and
// precision?): under every table's heading, which jobs computed in another dtype than they asked
// for (the CPU engine computes bf16/fp16 in fp32: metrics.compute_dtype), and, where a phase varies device or dtype, each
// config's PPL against the most precise run of the same config otherwise (compute dtype fp32 >
// fp16 > bf16; the CPU first among equals).
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"

static const StoredJob *first_run(const PhaseData *pd, int c) {
  for (int l = 0; l < pd->n_lengths; l++)
    if (phase_cell(pd, c, l)->n_runs > 0) return phase_cell(pd, c, l)->runs[0];
  return NULL;
}

// The dtype a config's jobs computed in ("" when no result says).
static const char *compute_dtype(const PhaseData *pd, int c) {
  const StoredJob *r = first_run(pd, c);
  const char *d = r ? json_string_value(json_object_get(r->res.metrics, "compute_dtype")) : NULL;
  return d ? d : "";
}

static int precision(const PhaseData *pd, int c) {
  const char *d = compute_dtype(pd, c);
  int p = !strcmp(d, "fp32") ? 6 : !strcmp(d, "fp16") ? 4 : !strcmp(d, "bf16") ? 2 : 0;
  return p + (strcmp(pd->configs[c].axis[AX_DEVICE], "cpu") == 0);
}

// The config a config is compared with: equal on every axis but device and dtype, most precise.
static int reference_of(const PhaseData *pd, int c) {
  int best = -1;
  for (int k = 0; k < pd->n_configs; k++) {
    int same = 1;
    for (int a = 0; a < N_AXES && same; a++)
      if (a != AX_DEVICE && a != AX_DTYPE) same = strcmp(pd->configs[k].axis[a], pd->configs[c].axis[a]) == 0;
    if (same && first_run(pd, k) && (best < 0 || precision(pd, k) > precision(pd, best))) best = k;
  }
  return best;
}

// "*Compute dtype: bf16 → fp32 on cpu.*" where some config's jobs computed in another dtype than
// they asked for; nothing otherwise.
static void compute_note(StrBuf *b, const PhaseData *pd, int zh) {
  StrBuf asked = {0};
  for (int c = 0; c < pd->n_configs; c++) {
    const char *want = pd->configs[c].axis[AX_DTYPE], *got = compute_dtype(pd, c);
    if (!want[0] || !got[0] || strcmp(want, got) == 0) continue;
    const char *dev = first_run(pd, c)->axis[AX_DEVICE];
    char item[96];
    snprintf(item, sizeof item, zh ? "%s → %s (%s)" : "%s → %s on %s", want, got, dev[0] ? dev : "?");
    if (!asked.data || !strstr(asked.data, item)) sb_printf(&asked, "%s%s", asked.len ? ", " : "", item);
  }
  if (asked.len) sb_printf(b, zh ? "*计算精度: %s。*\n\n" : "*Compute dtype: %s.*\n\n", asked.data);
  sb_free(&asked);
}

void report_heading(StrBuf *b, const PhaseData *pd, const ReportCtx *ctx, const char *text) {
  sb_printf(b, "### %s\n\n", text);
  compute_note(b, pd, strcmp(ctx->t->lang, "zh") == 0);
}

void phase_numerics(StrBuf *b, const PhaseData *pd, const ReportCtx *ctx) {
  int zh = strcmp(ctx->t->lang, "zh") == 0;
  if (!pd->varies[AX_DEVICE] && !pd->varies[AX_DTYPE]) return;
  sb_append(b, zh ? "### 数值: 相对最精确运行的 PPL 差异\n\n" : "### Numerics: PPL against the most precise run\n\n");
  sb_append(b, zh ? "| 配置 | 序列长度 | 计算精度 | PPL | 参照 | 参照 PPL | 差异 |\n"
                  : "| Config | Length | Computed in | PPL | Reference | Reference PPL | Difference |\n");
  sb_append(b, "|---|---:|---|---:|---|---:|---:|\n");
  for (int c = 0; c < pd->n_configs; c++) {
    int ref = reference_of(pd, c);
    for (int l = 0; ref >= 0 && l < pd->n_lengths; l++) {
      const Cell *x = phase_cell(pd, c, l), *r = phase_cell(pd, ref, l);
      if (x->n_runs == 0) continue;
      char px[32], pr[32], d[32];
      if (isfinite(x->mean)) rfmt_ppl(x->mean, px);
      else snprintf(px, sizeof px, "%s", x->n_oom ? "OOM" : ctx->t->cell_error);
      if (isfinite(r->mean)) rfmt_ppl(r->mean, pr);
      else snprintf(pr, sizeof pr, "-");
      if (c == ref) snprintf(d, sizeof d, "%s", zh ? "(参照)" : "(reference)");
      else if (isfinite(x->mean) && isfinite(r->mean)) snprintf(d, sizeof d, "%+.3f%%", 100 * (x->mean - r->mean) / r->mean);
      else snprintf(d, sizeof d, "-");
      sb_append(b, "| ");
      rfmt_md_escape(b, pd->configs[c].label);
      sb_printf(b, " | %ld | %s | %s | ", pd->lengths[l], compute_dtype(pd, c)[0] ? compute_dtype(pd, c) : "-", px);
      rfmt_md_escape(b, pd->configs[ref].label);
      sb_printf(b, " | %s | %s |\n", pr, d);
    }
  }
  sb_append(b, "\n");
}
