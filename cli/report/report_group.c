// report_group.c — one phase's results as a grid: configs × lengths, one run per seed per cell.
//
// A result belongs to a phase when it is one of the jobs the phase's plan holds (by job id, else by
// spec, names aside: a job two phases share runs once, under the names of the first, and each
// phase reports it under its own), or when its `phase` field names the phase. A config is
// everything but length and seed: model, dataset, rope, cache, dtype, train recipe (and device when
// the phase varies it). Results for the same (config, length, seed) are merged from several
// machines: equal numbers are one result (an ok result wins over a failed one, then the latest
// finished); two ok results with different PPLs are a conflict that the tables show.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"
#include "report_stats.h"

// A planned device "cuda" or "auto" stands for the "cuda:0" a result records.
static int device_matches(const char *planned, const char *actual) {
  if (strcmp(planned, "auto") == 0 || strcmp(planned, actual) == 0) return 1;
  size_t n = strlen(planned);
  return strncmp(planned, actual, n) == 0 && actual[n] == ':';
}

// The plan's value an actual axis value stands for (NULL when the plan does not list it).
static const char *planned_value(const PhasePlan *pp, Axis a, const char *actual) {
  const StrList *l = &pp->axis[a];
  for (int i = 0; i < l->n; i++) {
    if (a == AX_DEVICE ? device_matches(l->items[i], actual) : strcmp(l->items[i], actual) == 0)
      return l->items[i];
  }
  return NULL;
}

static int phase_uses_device(const PhasePlan *pp) { return pp->axis[AX_DEVICE].n > 1; }

// ---- the planned cells: a list in expansion order and a hash set of their keys ----
struct PlanCell {
  const char *axis[N_AXES];
  long length, seed;
  const char *content;  // report_spec_content of the planned spec
  const char *id;       // the planned job id
};

struct CellSet {
  char **slots;  // [cap] keys or NULL
  int cap, n;
};

static char *cell_key(const char *const *axis, long length, long seed) {
  StrBuf b = {0};
  for (int a = 0; a < N_AXES; a++) sb_printf(&b, "%s\x1f", axis[a]);
  sb_printf(&b, "%ld\x1f%ld", length, seed);
  return b.data;
}

static unsigned long hash_str(const char *s) {
  unsigned long h = 1469598103934665603UL;
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211UL;
  return h;
}

static int set_has(const struct CellSet *set, const char *key) {
  if (!set || set->cap == 0) return 0;
  for (unsigned long i = hash_str(key) % (unsigned long)set->cap;; i = (i + 1) % (unsigned long)set->cap) {
    if (!set->slots[i]) return 0;
    if (strcmp(set->slots[i], key) == 0) return 1;
  }
}

// Takes ownership of key; returns 0 when it was already present (and frees it).
static int set_add(struct CellSet *set, char *key) {
  if (set_has(set, key)) {
    free(key);
    return 0;
  }
  if (2 * (set->n + 1) > set->cap) {
    struct CellSet bigger = {xcalloc((size_t)(set->cap ? 2 * set->cap : 64), sizeof(char *)),
                             set->cap ? 2 * set->cap : 64, 0};
    for (int i = 0; i < set->cap; i++)
      if (set->slots[i]) set_add(&bigger, set->slots[i]);
    free(set->slots);
    *set = bigger;
  }
  unsigned long i = hash_str(key) % (unsigned long)set->cap;
  while (set->slots[i]) i = (i + 1) % (unsigned long)set->cap;
  set->slots[i] = key;
  set->n++;
  return 1;
}

static void set_free(struct CellSet *set) {
  if (!set) return;
  for (int i = 0; i < set->cap; i++) free(set->slots[i]);
  free(set->slots);
  free(set);
}

static int cmp_content(const void *a, const void *b) {
  return strcmp(((const struct PlanCell *)a)->content, ((const struct PlanCell *)b)->content);
}

static int cmp_id(const void *a, const void *b) {
  return strcmp(((const struct PlanCell *)a)->id, ((const struct PlanCell *)b)->id);
}

// The planned cells (the matrix's jobs of the phase), and by_content: the same sorted by content.
static void plan_cells(PhaseData *pd) {
  const PhasePlan *pp = pd->plan;
  pd->planned_set = xcalloc(1, sizeof *pd->planned_set);
  pd->planned = xcalloc(pp->n_jobs ? (size_t)pp->n_jobs : 1, sizeof *pd->planned);
  for (int i = 0; i < pp->n_jobs; i++) {
    const PlannedJob *q = &pp->jobs[i];
    const char *axis[N_AXES];
    for (int a = 0; a < N_AXES; a++) axis[a] = q->axis[a];
    if (!set_add(pd->planned_set, cell_key(axis, q->length, q->seed))) continue;
    struct PlanCell *pc = &pd->planned[pd->n_planned++];
    for (int a = 0; a < N_AXES; a++) pc->axis[a] = q->axis[a];
    pc->length = q->length;
    pc->seed = q->seed;
    pc->content = q->content;
    pc->id = q->id;
  }
  pd->by_content = xcalloc(pd->n_planned ? (size_t)pd->n_planned : 1, sizeof *pd->by_content);
  memcpy(pd->by_content, pd->planned, (size_t)pd->n_planned * sizeof *pd->planned);
  qsort(pd->by_content, (size_t)pd->n_planned, sizeof *pd->by_content, cmp_content);
  pd->by_id = xcalloc(pd->n_planned ? (size_t)pd->n_planned : 1, sizeof *pd->by_id);
  memcpy(pd->by_id, pd->planned, (size_t)pd->n_planned * sizeof *pd->planned);
  qsort(pd->by_id, (size_t)pd->n_planned, sizeof *pd->by_id, cmp_id);
}

// The planned cell a result is, whatever its names: the job of its id, else the job of its spec
// (ids are provisional where the models are not) with the device by class, else the job planned
// on "auto" with that spec; NULL when the phase plans none. A result that is a pinned job ("cuda"
// in one phase) is not taken for the "auto" job of another, nor the other way round.
static const struct PlanCell *planned_cell_of(const PhaseData *pd, const StoredJob *r) {
  struct PlanCell probe = {.id = r->res.job_id ? r->res.job_id : ""};
  const struct PlanCell *pc = bsearch(&probe, pd->by_id, (size_t)pd->n_planned, sizeof probe, cmp_id);
  if (pc) return pc;
  if (r->pinned_job || !r->auto_job) {
    probe.content = r->content;
    pc = bsearch(&probe, pd->by_content, (size_t)pd->n_planned, sizeof probe, cmp_content);
  }
  if (!pc && (r->auto_job || !r->pinned_job)) {
    probe.content = r->content_any_device;
    pc = bsearch(&probe, pd->by_content, (size_t)pd->n_planned, sizeof probe, cmp_content);
  }
  return pc;
}

// The key of a result: the plan's spellings where the plan lists the value; an axis the plan
// leaves empty (no train recipe, no device sweep) is "".
static void result_key(const PhasePlan *pp, const StoredJob *r, const char **key) {
  for (int a = 0; a < N_AXES; a++) {
    if (a == AX_DEVICE && !phase_uses_device(pp)) {
      key[a] = "";
      continue;
    }
    const char *pv = planned_value(pp, (Axis)a, r->axis[a]);
    key[a] = pv ? pv : (pp->planned && pp->axis[a].n == 0 ? "" : r->axis[a]);
  }
}

static int names_phase(const StoredJob *r, const char *id) {
  for (int k = 0; k < r->res.n_phases; k++)
    if (strcmp(r->res.phases[k], id) == 0) return 1;
  return 0;
}

static int find_config(const PhaseData *pd, const char *const *key) {
  for (int c = 0; c < pd->n_configs; c++) {
    int same = 1;
    for (int a = 0; a < N_AXES && same; a++) same = strcmp(pd->configs[c].axis[a], key[a]) == 0;
    if (same) return c;
  }
  return -1;
}

static int add_config(PhaseData *pd, const char *const *key, int expected) {
  int c = find_config(pd, key);
  if (c >= 0) {
    pd->configs[c].expected |= expected;
    return c;
  }
  pd->configs = xrealloc(pd->configs, (size_t)(pd->n_configs + 1) * sizeof *pd->configs);
  Config *cf = &pd->configs[pd->n_configs];
  memset(cf, 0, sizeof *cf);
  for (int a = 0; a < N_AXES; a++) cf->axis[a] = key[a];
  cf->expected = expected;
  return pd->n_configs++;
}

static void add_length(PhaseData *pd, long L) {
  for (int i = 0; i < pd->n_lengths; i++)
    if (pd->lengths[i] == L) return;
  pd->lengths = xrealloc(pd->lengths, (size_t)(pd->n_lengths + 1) * sizeof *pd->lengths);
  int i = pd->n_lengths++;
  while (i > 0 && pd->lengths[i - 1] > L) {
    pd->lengths[i] = pd->lengths[i - 1];
    i--;
  }
  pd->lengths[i] = L;
}

Cell *phase_cell(const PhaseData *pd, int config, int length_index) {
  return &pd->cells[(size_t)config * (size_t)pd->n_lengths + (size_t)length_index];
}

int phase_length_index(const PhaseData *pd, long length) {
  for (int i = 0; i < pd->n_lengths; i++)
    if (pd->lengths[i] == length) return i;
  return -1;
}

// Is a better than b for the same (config, length, seed)?
static int better_run(const StoredJob *a, const StoredJob *b) {
  if ((a->res.status == JOB_OK) != (b->res.status == JOB_OK)) return a->res.status == JOB_OK;
  return a->finished > b->finished;
}

// Two ok results of one job that disagree: their PPLs differ beyond rounding in the last digit a
// float64 carries through the JSON.
static int numbers_differ(const StoredJob *a, const StoredJob *b) {
  if (a->res.status != JOB_OK || b->res.status != JOB_OK) return 0;
  return fabs(a->ppl - b->ppl) > 1e-9 * fmax(fabs(a->ppl), fabs(b->ppl));
}

static void add_conflict(PhaseData *pd, Cell *cell, int config, StoredJob *kept, StoredJob *other) {
  pd->conflicts = xrealloc(pd->conflicts, (size_t)(pd->n_conflicts + 1) * sizeof *pd->conflicts);
  Conflict *k = &pd->conflicts[pd->n_conflicts++];
  k->config = config;
  k->length = kept->length;
  k->seed = kept->seed;
  k->a = kept;
  k->b = other;
  if (!cell->conflict[0]) {
    cell->conflict[0] = kept;
    cell->conflict[1] = other;
  }
}

static void cell_add(PhaseData *pd, Cell *cell, int config, StoredJob *r) {
  for (int i = 0; i < cell->n_runs; i++) {
    if (cell->runs[i]->seed != r->seed) continue;
    if (numbers_differ(r, cell->runs[i])) add_conflict(pd, cell, config, cell->runs[i], r);
    else pd->n_duplicates++;
    if (better_run(r, cell->runs[i])) cell->runs[i] = r;
    return;
  }
  cell->runs = xrealloc(cell->runs, (size_t)(cell->n_runs + 1) * sizeof *cell->runs);
  int i = cell->n_runs++;
  while (i > 0 && cell->runs[i - 1]->seed > r->seed) {
    cell->runs[i] = cell->runs[i - 1];
    i--;
  }
  cell->runs[i] = r;
}

static void cell_stats(Cell *cell) {
  cell->ppl = xcalloc(cell->n_runs ? (size_t)cell->n_runs : 1, sizeof *cell->ppl);
  cell->seeds = xcalloc(cell->n_runs ? (size_t)cell->n_runs : 1, sizeof *cell->seeds);
  for (int i = 0; i < cell->n_runs; i++) {
    const StoredJob *r = cell->runs[i];
    if (r->res.status == JOB_OK) {
      cell->ppl[cell->n_ok] = r->ppl;
      cell->seeds[cell->n_ok++] = r->seed;
    } else if (r->res.status == JOB_OOM) {
      cell->n_oom++;
    } else {
      cell->n_error++;
    }
  }
  cell->mean = stat_mean(cell->ppl, cell->n_ok);
  cell->std = stat_sample_std(cell->ppl, cell->n_ok);
  cell->cv = stat_cv_pct(cell->mean, cell->std);
}

static void count_expected(PhaseData *pd) {
  for (int i = 0; i < pd->n_planned; i++) {
    const struct PlanCell *pc = &pd->planned[i];
    int c = find_config(pd, pc->axis), l = phase_length_index(pd, pc->length);
    if (c < 0 || l < 0) continue;
    Cell *cell = phase_cell(pd, c, l);
    cell->n_expected_seeds++;
    pd->n_expected++;
    int found = 0;
    for (int k = 0; k < cell->n_runs && !found; k++) found = cell->runs[k]->seed == pc->seed;
    if (found) continue;
    pd->missing = xrealloc(pd->missing, (size_t)(pd->n_missing + 1) * sizeof *pd->missing);
    pd->missing[pd->n_missing].config = &pd->configs[c];
    pd->missing[pd->n_missing].length = pc->length;
    pd->missing[pd->n_missing].seed = pc->seed;
    pd->n_missing++;
  }
}

static void make_labels(PhaseData *pd) {
  for (int a = 0; a < N_AXES; a++) {
    pd->varies[a] = 0;
    for (int c = 1; c < pd->n_configs; c++)
      if (strcmp(pd->configs[c].axis[a], pd->configs[0].axis[a]) != 0) pd->varies[a] = 1;
  }
  int others = 0;
  for (int a = 0; a < N_AXES; a++)
    if (a != AX_ROPE && pd->varies[a]) others = 1;
  static const Axis order[N_AXES] = {AX_ROPE, AX_CACHE, AX_MODEL, AX_DATASET, AX_DTYPE, AX_TRAIN, AX_DEVICE};
  for (int c = 0; c < pd->n_configs; c++) {
    Config *cf = &pd->configs[c];
    StrBuf b = {0};
    for (int k = 0; k < N_AXES; k++) {
      Axis a = order[k];
      int show = a == AX_ROPE ? (pd->varies[a] || !others) : pd->varies[a];
      if (!show || !cf->axis[a][0]) continue;
      if (b.len) sb_append(&b, " · ");
      sb_append(&b, cf->axis[a]);
    }
    cf->label = b.data ? b.data : xstrdup("(unnamed)");
  }
}

// "Best", "N× lower" and "% above the best" compare like with like: configs of one model and one
// dataset, and of one cache when the phase varies the cache besides what it compares.
static void make_groups(PhaseData *pd) {
  int by[N_AXES] = {0};
  by[AX_MODEL] = by[AX_DATASET] = 1;
  by[AX_CACHE] = pd->varies[AX_ROPE] || pd->varies[AX_DTYPE] || pd->varies[AX_TRAIN] || pd->varies[AX_DEVICE];
  pd->group = xcalloc(pd->n_configs ? (size_t)pd->n_configs : 1, sizeof *pd->group);
  int *first = xcalloc(pd->n_configs ? (size_t)pd->n_configs : 1, sizeof *first);  // [group] its first config
  for (int c = 0; c < pd->n_configs; c++) {
    int g = 0;
    for (; g < pd->n_groups; g++) {
      int same = 1;
      for (int a = 0; a < N_AXES && same; a++)
        same = !by[a] || strcmp(pd->configs[c].axis[a], pd->configs[first[g]].axis[a]) == 0;
      if (same) break;
    }
    if (g == pd->n_groups) first[pd->n_groups++] = c;
    pd->group[c] = g;
  }
  pd->group_label = xcalloc(pd->n_groups ? (size_t)pd->n_groups : 1, sizeof *pd->group_label);
  for (int g = 0; g < pd->n_groups; g++) {
    StrBuf b = {0};
    for (int a = 0; a < N_AXES && pd->n_groups > 1; a++) {
      if (!by[a] || !pd->varies[a]) continue;
      sb_printf(&b, "%s%s: %s", b.len ? ", " : "", REPORT_AXIS_NAMES[a], pd->configs[first[g]].axis[a]);
    }
    pd->group_label[g] = b.data ? b.data : xstrdup("");
  }
  free(first);
}

void phase_group(const PhasePlan *plan, const StoredJobs *rs, PhaseData *pd) {
  memset(pd, 0, sizeof *pd);
  pd->plan = plan;
  // 1. planned cells, configs and lengths, in expansion order
  plan_cells(pd);
  for (int i = 0; i < pd->n_planned; i++) {
    add_config(pd, pd->planned[i].axis, 1);
    add_length(pd, pd->planned[i].length);
  }
  for (int l = 0; l < plan->n_lengths; l++) add_length(pd, plan->lengths[l]);
  // 2. the results of this phase
  //    a result the phase plans takes the phase's names; one it does not plan but that names the
  //    phase (a suite edited after the run) keeps its own
  StoredJob **mine = xcalloc(rs->n_jobs ? (size_t)rs->n_jobs : 1, sizeof *mine);
  int n_mine = 0;
  int *cfg_of = xcalloc(rs->n_jobs ? (size_t)rs->n_jobs : 1, sizeof *cfg_of);
  for (int i = 0; i < rs->n_jobs; i++) {
    StoredJob *r = &rs->jobs[i];
    const struct PlanCell *pc = planned_cell_of(pd, r);
    if (!pc && !names_phase(r, plan->id)) continue;
    const char *key[N_AXES];
    if (pc) memcpy(key, pc->axis, sizeof key);
    else result_key(plan, r, key);
    cfg_of[n_mine] = add_config(pd, key, 0);
    mine[n_mine++] = r;
    add_length(pd, r->length);
  }
  pd->cells = xcalloc((size_t)(pd->n_configs ? pd->n_configs : 1) * (size_t)(pd->n_lengths ? pd->n_lengths : 1),
                      sizeof *pd->cells);
  for (int i = 0; i < n_mine; i++)
    cell_add(pd, phase_cell(pd, cfg_of[i], phase_length_index(pd, mine[i]->length)), cfg_of[i], mine[i]);
  free(cfg_of);
  free(mine);
  // 3. statistics, counts, wall time
  pd->jobs = xcalloc(rs->n_jobs ? (size_t)rs->n_jobs : 1, sizeof *pd->jobs);
  for (int c = 0; c < pd->n_configs; c++)
    for (int l = 0; l < pd->n_lengths; l++) {
      Cell *cell = phase_cell(pd, c, l);
      cell_stats(cell);
      pd->n_ok += cell->n_ok;
      pd->n_oom += cell->n_oom;
      pd->n_error += cell->n_error;
      for (int i = 0; i < cell->n_runs; i++) {
        pd->jobs[pd->n_jobs++] = cell->runs[i];
        if (isfinite(cell->runs[i]->wall_s)) pd->wall_s += cell->runs[i]->wall_s;
      }
    }
  // 4. what the plan expects and what is missing
  count_expected(pd);
  make_labels(pd);
  make_groups(pd);
  pd->base_length = plan->base_length > 0 ? plan->base_length : (pd->n_lengths ? pd->lengths[0] : 0);
}

void phase_data_free(PhaseData *pd) {
  for (int c = 0; c < pd->n_configs; c++) {
    free(pd->configs[c].label);
    for (int l = 0; l < pd->n_lengths; l++) {
      Cell *cell = phase_cell(pd, c, l);
      free(cell->runs);
      free(cell->ppl);
      free(cell->seeds);
    }
  }
  for (int g = 0; g < pd->n_groups; g++) free(pd->group_label[g]);
  free(pd->group_label);
  free(pd->group);
  free(pd->configs);
  free(pd->cells);
  free(pd->lengths);
  free(pd->jobs);
  free(pd->missing);
  free(pd->conflicts);
  free(pd->planned);
  free(pd->by_content);
  free(pd->by_id);
  set_free(pd->planned_set);
  memset(pd, 0, sizeof *pd);
}

double phase_ratio(const PhaseData *pd, int c, int l, int lB, double *std, int *n_seeds) {
  *std = NAN;
  *n_seeds = 0;
  if (c < 0 || l < 0 || lB < 0) return NAN;
  const Cell *x = phase_cell(pd, c, l), *base = phase_cell(pd, c, lB);
  double *r = xcalloc(x->n_ok ? (size_t)x->n_ok : 1, sizeof *r);
  int n = 0;
  for (int i = 0; i < x->n_ok; i++)
    for (int k = 0; k < base->n_ok; k++)
      if (x->seeds[i] == base->seeds[k] && isfinite(stat_ratio(x->ppl[i], base->ppl[k])))
        r[n++] = stat_ratio(x->ppl[i], base->ppl[k]);
  double ratio;
  if (n >= 2) {
    ratio = stat_mean(r, n);
    *std = stat_sample_std(r, n);
    *n_seeds = n;
  } else {
    ratio = stat_ratio(x->n_ok ? x->mean : NAN, base->n_ok ? base->mean : NAN);
    *n_seeds = n;
  }
  free(r);
  return ratio;
}

int phase_find_sibling(const PhaseData *pd, int c, Axis axis, const char *value) {
  const char *key[N_AXES];
  for (int a = 0; a < N_AXES; a++) key[a] = pd->configs[c].axis[a];
  key[axis] = value;
  return find_config(pd, key);
}

int phase_axis_of(const PhaseData *pd, const char *name) {
  static const Axis order[] = {AX_ROPE, AX_CACHE, AX_MODEL, AX_DTYPE, AX_DATASET, AX_TRAIN, AX_DEVICE};
  for (size_t k = 0; k < sizeof order / sizeof order[0]; k++)
    for (int c = 0; c < pd->n_configs; c++)
      if (strcmp(pd->configs[c].axis[order[k]], name) == 0) return order[k];
  return -1;
}
