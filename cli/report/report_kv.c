// report_kv.c — what a KV-cache policy costs and saves: per (config, length) of a phase the
// budget, the peak KV held (tokens and bytes), the bytes saved against the full cache, the decode
// speed and its ratio to the full-cache job of the same spec (DESIGN.md "KV-cache policies").
//
// The matching full-cache job is searched among every stored result of the suite, not only the
// phase's: suites often run the baseline in another phase, or exclude it at long lengths (then the
// speed is "-" and a note says at which lengths). Numbers come from the job results' metrics
// (results.h): kv_budget, kv_peak_tokens, kv_peak_bytes, kv_full_bytes, kv_bytes_saved,
// tokens_per_s; what a result lacks (a one-pass protocol has no budget) is "-".
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"

#define KV_SPEED_FINDING 0.10  // a speed this far from full's (either way) makes a finding

// ---- matching ----
static const char *cache_type(const StoredJob *r) {
  json_t *c = json_object_get(r->res.spec, "cache");
  if (json_is_object(c)) return json_string_value(json_object_get(c, "type"));
  return NULL;
}

int stored_job_full_cache(const StoredJob *r) {
  json_t *c = json_object_get(r->res.spec, "cache");
  if (!c || json_is_null(c)) return 1;
  const char *type = cache_type(r);
  if (type) return strcmp(type, "full") == 0;
  return json_is_string(c) && strcmp(json_string_value(c), "full") == 0;  // a bare name
}

// "cuda:1" and "cuda" are one class; "cpu" another.
static int same_device_class(const char *a, const char *b) {
  size_t na = strcspn(a, ":"), nb = strcspn(b, ":");
  return na == nb && strncmp(a, b, na) == 0;
}

int stored_jobs_same_but_cache(const StoredJob *a, const StoredJob *b) {
  // cheap fields first: most pairs differ there
  if (a->length != b->length || a->seed != b->seed || a->windows != b->windows ||
      strcmp(a->protocol, b->protocol) != 0)
    return 0;
  const char *key;
  json_t *va;
  size_t n = 0;
  json_object_foreach(a->res.spec, key, va) {
    if (strcmp(key, "cache") == 0) continue;
    n++;
    json_t *vb = json_object_get(b->res.spec, key);
    if (!vb) return 0;
    if (strcmp(key, "device") == 0 && json_is_string(va) && json_is_string(vb)) {
      if (!same_device_class(json_string_value(va), json_string_value(vb))) return 0;
    } else if (!json_equal(va, vb)) {
      return 0;
    }
  }
  size_t nb = json_object_size(b->res.spec) - (json_object_get(b->res.spec, "cache") ? 1 : 0);
  return n == nb;
}

const StoredJob *kv_full_match(const StoredJobs *rs, const StoredJob *r, int *n_failed) {
  const StoredJob *best = NULL;
  int failed = 0;
  for (int i = 0; i < rs->n_jobs; i++) {
    const StoredJob *f = &rs->jobs[i];
    if (!stored_job_full_cache(f) || !stored_jobs_same_but_cache(r, f)) continue;
    if (f->res.status != JOB_OK) failed++;
    else if (!best || f->finished > best->finished) best = f;
  }
  if (n_failed) *n_failed = failed;
  return best;
}

// ---- one row ----
static double metric(const StoredJob *r, const char *key) {
  json_t *v = json_object_get(r->res.metrics, key);
  return json_is_number(v) ? json_number_value(v) : NAN;
}

// Mean of a metric over the runs that report it.
typedef struct {
  double sum;
  int n;
} Mean;

static void mean_add(Mean *m, double x) {
  if (!isfinite(x)) return;
  m->sum += x;
  m->n++;
}

static double mean_of(const Mean *m) { return m->n ? m->sum / m->n : NAN; }

void kv_row(const StoredJobs *rs, const Cell *cell, KvRow *out) {
  memset(out, 0, sizeof *out);
  Mean budget = {0}, peak_t = {0}, peak_b = {0}, full_b = {0}, saved_b = {0}, tps = {0};
  Mean tps_matched = {0}, tps_full = {0};
  int any_failed = 0;
  out->full = cell->n_runs > 0;
  for (int i = 0; i < cell->n_runs; i++) out->full &= stored_job_full_cache(cell->runs[i]);
  for (int i = 0; i < cell->n_runs; i++) {
    const StoredJob *r = cell->runs[i];
    if (r->res.status != JOB_OK) continue;
    out->n_ok++;
    mean_add(&budget, metric(r, "kv_budget"));
    mean_add(&peak_t, metric(r, "kv_peak_tokens"));
    mean_add(&peak_b, metric(r, "kv_peak_bytes"));
    mean_add(&full_b, metric(r, "kv_full_bytes"));
    mean_add(&saved_b, metric(r, "kv_bytes_saved"));
    double t = metric(r, "tokens_per_s");
    mean_add(&tps, t);
    if (out->full) continue;
    int failed = 0;
    const StoredJob *f = kv_full_match(rs, r, &failed);
    double tf = f ? metric(f, "tokens_per_s") : NAN;
    if (f && isfinite(t) && isfinite(tf) && tf > 0) {
      mean_add(&tps_matched, t);
      mean_add(&tps_full, tf);
      out->n_matched++;
    } else if (!f && failed) {
      any_failed = 1;
    }
  }
  out->budget = mean_of(&budget);
  out->peak_tokens = mean_of(&peak_t);
  out->peak_bytes = mean_of(&peak_b);
  out->full_bytes = mean_of(&full_b);
  out->saved_bytes = mean_of(&saved_b);
  out->tokens_per_s = mean_of(&tps);
  if (out->full && out->n_ok > 0) {
    out->saved_bytes = 0;
    out->saved_pct = 0;
    out->speed = 1;
    out->n_matched = out->n_ok;
    return;
  }
  out->saved_pct = isfinite(out->saved_bytes) && out->full_bytes > 0 ? 100.0 * out->saved_bytes / out->full_bytes : NAN;
  out->speed = out->n_matched ? mean_of(&tps_matched) / mean_of(&tps_full) : NAN;
  out->full_failed = out->n_matched == 0 && any_failed;
}

// ---- the table ----
int phase_shows_kv(const PhaseData *pd) {
  for (int i = 0; i < pd->plan->n_reqs; i++)
    if (strcmp(pd->plan->reqs[i].kind, "table") == 0 && strcmp(pd->plan->reqs[i].name, "kv_cost") == 0) return 1;
  for (int i = 0; i < pd->n_jobs; i++)
    if (!stored_job_full_cache(pd->jobs[i])) return 1;
  return 0;
}

// The config as this table names it: the cache first, then the other axes the phase varies.
static char *kv_label(const PhaseData *pd, int c) {
  static const Axis order[] = {AX_CACHE, AX_ROPE, AX_MODEL, AX_DATASET, AX_DTYPE, AX_TRAIN, AX_DEVICE};
  const Config *cf = &pd->configs[c];
  StrBuf b = {0};
  for (size_t k = 0; k < sizeof order / sizeof order[0]; k++) {
    Axis a = order[k];
    if ((a != AX_CACHE && !pd->varies[a]) || !cf->axis[a][0]) continue;
    if (b.len) sb_append(&b, " · ");
    sb_append(&b, cf->axis[a]);
  }
  if (!b.data) sb_append(&b, pd->configs[c].label);
  return b.data;
}

static int row_shown(const PhaseData *pd, int c, int l) {
  const Cell *cell = phase_cell(pd, c, l);
  return cell->n_runs > 0 || cell->n_expected_seeds > 0;
}

static void count_text(double x, char out[32]) {
  if (!isfinite(x)) snprintf(out, 32, "-");
  else snprintf(out, 32, "%.0f", x);
}

static void tps_text(double x, char out[32]) {
  if (!isfinite(x)) snprintf(out, 32, "-");
  else snprintf(out, 32, "%.*f", x >= 100 ? 0 : x >= 10 ? 1 : 2, x);
}

static void bytes_text(double x, char out[32]) {
  if (!isfinite(x)) snprintf(out, 32, "-");
  else rfmt_bytes(x, out);
}

static void saved_text(const KvRow *r, char out[80]) {
  char bytes[32], pct[32];
  if (!isfinite(r->saved_bytes)) {
    snprintf(out, 80, "-");
    return;
  }
  rfmt_bytes(r->saved_bytes, bytes);
  if (!isfinite(r->saved_pct)) {
    snprintf(out, 80, "%s", bytes);
    return;
  }
  rfmt_pct(r->saved_pct, 0, pct);
  snprintf(out, 80, "%s (%s)", bytes, pct);
}

static void speed_text(double s, char out[32]) {
  if (!isfinite(s)) snprintf(out, 32, "-");
  else rfmt_ratio(s, out);
}

static void add_length(long **v, int *n, long L) {
  for (int i = 0; i < *n; i++)
    if ((*v)[i] == L) return;
  *v = xrealloc(*v, (size_t)(*n + 1) * sizeof **v);
  int i = (*n)++;
  while (i > 0 && (*v)[i - 1] > L) {
    (*v)[i] = (*v)[i - 1];
    i--;
  }
  (*v)[i] = L;
}

static void lengths_note(StrBuf *b, const char *fmt, const long *v, int n) {
  if (n == 0) return;
  StrBuf ls = {0};
  for (int i = 0; i < n; i++) sb_printf(&ls, "%s%ld", i ? ", " : "", v[i]);
  sb_append(b, "*");
  sb_printf(b, fmt, ls.data);
  sb_append(b, "*\n\n");
  sb_free(&ls);
}

void table_kv_cost(StrBuf *b, const PhaseData *pd, const ReportReq *rq, const ReportCtx *ctx) {
  (void)rq;
  const ReportText *t = ctx->t;
  report_heading(b, pd, ctx, t->tbl_kv);
  sb_printf(b, "| %s | %s | %s | %s | %s | %s | %s | %s |\n", t->col_config, t->col_length, t->col_kv_budget,
            t->col_kv_peak, t->col_kv_mem, t->col_kv_saved, t->col_kv_tps, t->col_kv_speed);
  sb_append(b, "|---|---:|---:|---:|---:|---:|---:|---:|\n");
  long *no_full = NULL, *full_failed = NULL;
  int n_no_full = 0, n_full_failed = 0, multi_seed = 0;
  for (int c = 0; c < pd->n_configs; c++) {
    char *label = kv_label(pd, c);
    for (int l = 0; l < pd->n_lengths; l++) {
      if (!row_shown(pd, c, l)) continue;
      const Cell *cell = phase_cell(pd, c, l);
      KvRow r;
      kv_row(ctx->results, cell, &r);
      sb_append(b, "| ");
      rfmt_md_escape(b, label);
      sb_printf(b, " | %ld |", pd->lengths[l]);
      if (r.n_ok == 0) {  // OOM, error, crashed or not run yet: every cell says so
        char why[64];
        report_cell_text(cell, t, why);
        for (int k = 0; k < 6; k++) sb_printf(b, " %s |", why);
        sb_append(b, "\n");
        continue;
      }
      multi_seed |= r.n_ok > 1;
      char budget[32], peak[32], mem[32], saved[80], tps[32], speed[32];
      count_text(r.budget, budget);
      count_text(r.peak_tokens, peak);
      bytes_text(r.peak_bytes, mem);
      saved_text(&r, saved);
      tps_text(r.tokens_per_s, tps);
      speed_text(r.speed, speed);
      sb_printf(b, " %s | %s | %s | %s | %s | %s |\n", budget, peak, mem, saved, tps, speed);
      if (!r.full && r.n_matched == 0) {
        if (r.full_failed) add_length(&full_failed, &n_full_failed, pd->lengths[l]);
        else add_length(&no_full, &n_no_full, pd->lengths[l]);
      }
    }
    free(label);
  }
  sb_append(b, "\n");
  lengths_note(b, t->n_kv_no_full, no_full, n_no_full);
  lengths_note(b, t->n_kv_full_failed, full_failed, n_full_failed);
  sb_printf(b, "*%s%s%s*\n\n", t->n_kv_def, multi_seed ? " " : "", multi_seed ? t->n_kv_seeds : "");
  free(no_full);
  free(full_failed);
}

// ---- findings ----
void findings_kv(StrBuf *b, const PhaseData *pd, const ReportCtx *ctx) {
  const ReportText *t = ctx->t;
  for (int c = 0; c < pd->n_configs; c++) {
    KvRow pick = {0};
    int pick_l = -1, pick_matched = 0;
    for (int l = pd->n_lengths - 1; l >= 0; l--) {
      KvRow r;
      kv_row(ctx->results, phase_cell(pd, c, l), &r);
      if (r.n_ok == 0 || r.full) continue;
      if (pick_l < 0 || (!pick_matched && r.n_matched > 0)) {
        pick = r;
        pick_l = l;
        pick_matched = r.n_matched > 0;
      }
      if (pick_matched) break;
    }
    if (pick_l < 0) continue;
    int saves = isfinite(pick.saved_bytes) && pick.saved_bytes > 0;
    int faster_or_slower = isfinite(pick.speed) && fabs(pick.speed - 1) > KV_SPEED_FINDING;
    if (!saves && !faster_or_slower) continue;
    char sL[32], tokens[32], mem[96] = "", speed[96] = "", line[1024];
    snprintf(sL, sizeof sL, "%ld", pd->lengths[pick_l]);
    count_text(pick.peak_tokens, tokens);
    if (saves && isfinite(pick.saved_pct)) {
      char pct[32];
      rfmt_pct(pick.saved_pct, 0, pct);
      snprintf(mem, sizeof mem, t->f_kv_mem, pct);
    }
    if (isfinite(pick.speed)) {
      char r[32];
      rfmt_ratio(pick.speed, r);
      snprintf(speed, sizeof speed, t->f_kv_speed, r);
    }
    char *label = kv_label(pd, c);
    StrBuf esc = {0};
    rfmt_md_escape(&esc, label);
    snprintf(line, sizeof line, t->f_kv, esc.data, sL, tokens, mem, speed);
    sb_printf(b, "- %s\n", line);
    sb_free(&esc);
    free(label);
  }
}
