// report_group.c — one phase's results as a grid: configs × lengths, one run per seed per cell.
//
// A result belongs to a phase when its `phase` field names it, or when its spec is one of the
// phase's planned cells (a job two phases share runs once and carries one phase id). A config is
// everything but length and seed: model, dataset, rope, cache, dtype, train recipe (and device when
// the phase varies it). Results for the same (config, length, seed) are merged from several
// machines: an ok result wins over a failed one, then the latest finished.
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
    if (a == AX_DEVICE ? device_matches(l->v[i], actual) : strcmp(l->v[i], actual) == 0)
      return l->v[i];
  }
  return NULL;
}

static int long_in(const long *v, int n, long x) {
  for (int i = 0; i < n; i++)
    if (v[i] == x) return 1;
  return 0;
}

static int excluded(const PhasePlan *pp, const char *const *axis, long length, long seed) {
  for (int e = 0; e < pp->n_excl; e++) {
    const ExcludeRule *r = &pp->excl[e];
    int all = 1;
    for (int a = 0; a < N_AXES && all; a++) {
      if (!r->axis_value[a]) continue;
      const char *v = axis[a] ? axis[a] : "";
      if (a == AX_ROPE || a == AX_CACHE) all = variant_name_matches(r->axis_value[a], v);
      else if (a == AX_DEVICE) all = device_matches(r->axis_value[a], v);
      else all = strcmp(r->axis_value[a], v) == 0;
    }
    if (all && r->has_length && r->length != length) all = 0;
    if (all && r->has_seed && r->seed != seed) all = 0;
    if (all) return 1;
  }
  return 0;
}

static int phase_uses_device(const PhasePlan *pp) { return pp->axis[AX_DEVICE].n > 1; }

// Does a result of another phase fit one of this phase's planned cells?
static int fits_plan(const PhasePlan *pp, const JobResult *r) {
  for (int a = 0; a < N_AXES; a++) {
    if (a == AX_DEVICE) continue;
    if (pp->axis[a].n == 0) {
      if (a == AX_TRAIN && r->axis[a][0]) return 0;  // a trained model is not the plain one
      if (a != AX_TRAIN) return 0;                    // the plan does not say: do not guess
      continue;
    }
    if (!planned_value(pp, (Axis)a, r->axis[a])) return 0;
  }
  if (!long_in(pp->lengths, pp->n_lengths, r->length)) return 0;
  if (pp->n_seeds > 0 && !long_in(pp->seeds, pp->n_seeds, r->seed)) return 0;
  if (pp->protocol && r->protocol[0] && strcmp(pp->protocol, r->protocol) != 0) return 0;
  if (pp->windows > 0 && r->windows > 0 && pp->windows != r->windows) return 0;
  return !excluded(pp, r->axis, r->length, r->seed);
}

static int names_phase(const JobResult *r, const char *id) {
  for (int k = 0; k < r->n_phases; k++)
    if (strcmp(r->phases[k], id) == 0) return 1;
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

// The key of a result: planned spellings where the plan lists the value.
static void result_key(const PhasePlan *pp, const JobResult *r, const char **key) {
  for (int a = 0; a < N_AXES; a++) {
    if (a == AX_DEVICE && !phase_uses_device(pp)) {
      key[a] = "";
      continue;
    }
    const char *pv = planned_value(pp, (Axis)a, r->axis[a]);
    key[a] = pv ? pv : r->axis[a];
  }
}

// Walks the planned cells: configs in suite order (model, dataset, train, dtype, cache, device
// outermost; rope fastest), then lengths and seeds. fn is called for every cell not excluded.
typedef void (*CellFn)(PhaseData *pd, const char *const *key, long length, long seed);

static void walk_planned(PhaseData *pd, CellFn fn) {
  const PhasePlan *pp = pd->plan;
  static const Axis order[N_AXES] = {AX_MODEL, AX_DATASET, AX_TRAIN, AX_DTYPE, AX_CACHE, AX_DEVICE, AX_ROPE};
  int n[N_AXES], idx[N_AXES] = {0};
  for (int k = 0; k < N_AXES; k++) {
    Axis a = order[k];
    n[k] = pp->axis[a].n;
    if (a == AX_DEVICE && !phase_uses_device(pp)) n[k] = 0;
    if (n[k] == 0 && a != AX_TRAIN && a != AX_DEVICE) return;  // not planned: nothing to walk
  }
  if (pp->n_lengths == 0) return;
  for (;;) {
    const char *key[N_AXES];
    for (int k = 0; k < N_AXES; k++) key[order[k]] = n[k] ? pp->axis[order[k]].v[idx[k]] : "";
    for (int l = 0; l < pp->n_lengths; l++) {
      if (pp->n_seeds == 0) {
        if (!excluded(pp, key, pp->lengths[l], 0)) fn(pd, key, pp->lengths[l], 0);
        continue;
      }
      for (int s = 0; s < pp->n_seeds; s++)
        if (!excluded(pp, key, pp->lengths[l], pp->seeds[s])) fn(pd, key, pp->lengths[l], pp->seeds[s]);
    }
    int k = N_AXES - 1;
    while (k >= 0 && (n[k] == 0 || ++idx[k] == n[k])) {
      idx[k] = 0;
      k--;
    }
    if (k < 0) break;
  }
}

static void planned_config(PhaseData *pd, const char *const *key, long length, long seed) {
  (void)length;
  (void)seed;
  add_config(pd, key, 1);
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
static int better_run(const JobResult *a, const JobResult *b) {
  if ((a->status == JOB_OK) != (b->status == JOB_OK)) return a->status == JOB_OK;
  return a->finished > b->finished;
}

static void cell_add(PhaseData *pd, Cell *cell, JobResult *r) {
  for (int i = 0; i < cell->n_runs; i++) {
    if (cell->runs[i]->seed != r->seed) continue;
    pd->n_duplicates++;
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
    const JobResult *r = cell->runs[i];
    if (r->status == JOB_OK) {
      cell->ppl[cell->n_ok] = r->ppl;
      cell->seeds[cell->n_ok++] = r->seed;
    } else if (r->status == JOB_OOM) {
      cell->n_oom++;
    } else {
      cell->n_error++;
    }
  }
  cell->mean = stat_mean(cell->ppl, cell->n_ok);
  cell->std = stat_sample_std(cell->ppl, cell->n_ok);
  cell->cv = stat_cv_pct(cell->mean, cell->std);
}

static void count_expected(PhaseData *pd, const char *const *key, long length, long seed) {
  (void)seed;
  int c = find_config(pd, key), l = phase_length_index(pd, length);
  if (c < 0 || l < 0) return;
  Cell *cell = phase_cell(pd, c, l);
  cell->n_expected_seeds++;
  pd->n_expected++;
  for (int i = 0; i < cell->n_runs; i++)
    if (cell->runs[i]->seed == seed) return;
  pd->missing = xrealloc(pd->missing, (size_t)(pd->n_missing + 1) * sizeof *pd->missing);
  pd->missing[pd->n_missing].config = &pd->configs[c];
  pd->missing[pd->n_missing].length = length;
  pd->missing[pd->n_missing].seed = seed;
  pd->n_missing++;
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

void phase_group(const PhasePlan *plan, const ResultSet *rs, PhaseData *pd) {
  memset(pd, 0, sizeof *pd);
  pd->plan = plan;
  // 1. planned configs and lengths, in suite order
  walk_planned(pd, planned_config);
  for (int l = 0; l < plan->n_lengths; l++) add_length(pd, plan->lengths[l]);
  // 2. the results of this phase
  JobResult **mine = xcalloc(rs->n_jobs ? (size_t)rs->n_jobs : 1, sizeof *mine);
  int n_mine = 0;
  for (int i = 0; i < rs->n_jobs; i++) {
    JobResult *r = &rs->jobs[i];
    if (names_phase(r, plan->id) || fits_plan(plan, r)) {
      mine[n_mine++] = r;
      add_length(pd, r->length);
    }
  }
  int *cfg_of = xcalloc(n_mine ? (size_t)n_mine : 1, sizeof *cfg_of);
  for (int i = 0; i < n_mine; i++) {
    const char *key[N_AXES];
    result_key(plan, mine[i], key);
    cfg_of[i] = add_config(pd, key, 0);
  }
  pd->cells = xcalloc((size_t)(pd->n_configs ? pd->n_configs : 1) * (size_t)(pd->n_lengths ? pd->n_lengths : 1),
                      sizeof *pd->cells);
  for (int i = 0; i < n_mine; i++)
    cell_add(pd, phase_cell(pd, cfg_of[i], phase_length_index(pd, mine[i]->length)), mine[i]);
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
  walk_planned(pd, count_expected);
  make_labels(pd);
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
  free(pd->configs);
  free(pd->cells);
  free(pd->lengths);
  free(pd->jobs);
  free(pd->missing);
  memset(pd, 0, sizeof *pd);
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
