// cmd_plan.c — `bench plan SUITE [--device auto|cpu|cuda[:N]] [--json]`: the expanded job matrix
// (phases, jobs, ids), totals with a cost estimate, and warnings, before anything runs. Exit 0, or 2
// when the suite has errors.
//
// Each job is priced on the device it will run on, as `bench run` places it (matrix_place_jobs):
// `auto` is --device, else cuda:0 when a GPU is visible here and the CPU otherwise; time at that
// device's assumed speed, memory against that device's (GPU memory or RAM).
//
// --json prints {"suite":..,"jobs":[{"job_id":..,"phase":..,"runs_on":..,"spec":{..}},..],
// "warnings":[..]}, one entry per (phase, job): a job that several phases share appears under each
// with one id.
#include <stdlib.h>
#include <string.h>

#include "canon_json.h"
#include "commands.h"
#include "matrix.h"
#include "plan_estimate.h"
#include "plan_warnings.h"
#include "run_common.h"
#include "run_plan.h"
#include "suite.h"

// ---- text helpers ----
static int display_width(const char *s) {
  int w = 0;
  for (; *s; s++) w += ((unsigned char)*s & 0xC0) != 0x80;
  return w;
}

// 3 significant digits, exponent without '+' or leading zeros: 6.39e14.
static void format_sci(double x, char *out, size_t n) {
  char buf[64];
  snprintf(buf, sizeof buf, "%.3g", x);
  char *e = strchr(buf, 'e');
  if (e) {
    char *src = e + 1, *dst = e + 1;
    if (*src == '+') src++;
    else if (*src == '-') *dst++ = *src++;
    while (*src == '0' && src[1]) src++;
    memmove(dst, src, strlen(src) + 1);
  }
  snprintf(out, n, "%s", buf);
}

static void format_duration(double s, char *out, size_t n) {
  if (s < 120) snprintf(out, n, "%.0f s", s);
  else if (s < 7200) snprintf(out, n, "%.1f min", s / 60);
  else if (s < 172800) snprintf(out, n, "%.1f h", s / 3600);
  else snprintf(out, n, "%.1f days", s / 86400);
}

// ---- the table of one phase ----
enum { COL_ID, COL_MODEL, COL_DATASET, COL_ROPE, COL_CACHE, COL_LENGTH, COL_SEED, COL_DTYPE,
       COL_DEVICE, COL_TRAIN, COL_SHARED, N_COLS };
static const char *const COL_TITLE[N_COLS] = {"job id", "model", "dataset", "rope", "cache", "length",
                                              "seed", "dtype", "device", "train", "also in"};

static void print_phase(FILE *out, const Matrix *m, int pi) {
  const PhaseJobs *pj = &m->phases[pi];
  const Phase *ph = pj->phase;
  int shared = 0;
  for (int k = 0; k < pj->n_jobs; k++) shared += m->jobs[pj->jobs[k]].n_phases > 1;
  fprintf(out, "phase %s%s%s: %d job%s", ph->id, ph->title ? " — " : "", ph->title ? ph->title : "",
          pj->n_jobs, pj->n_jobs == 1 ? "" : "s");
  if (shared) fprintf(out, " (%d shared with other phases)", shared);
  fprintf(out, "\n");
  if (pj->n_jobs == 0) {
    fprintf(out, "\n");
    return;
  }
  char ***cells = xmalloc((size_t)pj->n_jobs * sizeof *cells);
  int width[N_COLS], show[N_COLS];
  for (int c = 0; c < N_COLS; c++) {
    width[c] = display_width(COL_TITLE[c]);
    show[c] = c != COL_TRAIN && c != COL_SHARED;
  }
  for (int k = 0; k < pj->n_jobs; k++) {
    const Job *j = &m->jobs[pj->jobs[k]];
    const json_t *spec = pj->specs[k];  // this phase's names
    const char *train = json_string_value(json_object_get(json_object_get(spec, "train"), "name"));
    char **row = cells[k] = xcalloc(N_COLS, sizeof *row);
    row[COL_ID] = xstrdup(j->id);
    row[COL_MODEL] = xstrdup(j->model ? j->model->name : "(trained)");
    row[COL_DATASET] = xstrdup(j->dataset->name);
    row[COL_ROPE] = xstrdup(json_string_value(json_object_get(json_object_get(spec, "rope"), "name")));
    row[COL_CACHE] = xstrdup(json_string_value(json_object_get(json_object_get(spec, "cache"), "name")));
    row[COL_LENGTH] = xasprintf("%ld", j->length);
    row[COL_SEED] = xasprintf("%ld", j->seed);
    // the CPU engine computes every dtype in fp32: say so where the job will run there
    const char *dt = json_string_value(json_object_get(spec, "dtype"));
    row[COL_DTYPE] = dt && strcmp(dt, "fp32") != 0 && strcmp(j->runs_on, "cpu") == 0 ? xasprintf("%s (fp32 on cpu)", dt)
                                                                                   : xstrdup(dt ? dt : "");
    row[COL_DEVICE] = xstrdup(j->runs_on);
    row[COL_TRAIN] = xstrdup(train ? train : "");
    StrBuf also = {0};
    for (int q = 0; q < j->n_phases; q++)
      if (j->phases[q] != pi) sb_printf(&also, "%s%s", also.len ? ", " : "", m->phases[j->phases[q]].phase->id);
    row[COL_SHARED] = also.data ? also.data : xstrdup("");
    if (train) show[COL_TRAIN] = 1;
    if (also.len) show[COL_SHARED] = 1;
    for (int c = 0; c < N_COLS; c++)
      if (display_width(row[c]) > width[c]) width[c] = display_width(row[c]);
  }
  int last = 0;
  for (int c = 0; c < N_COLS; c++)
    if (show[c]) last = c;
  for (int k = -1; k < pj->n_jobs; k++) {  // k = -1: the header
    StrBuf line = {0};
    sb_append(&line, " ");
    for (int c = 0; c < N_COLS; c++) {
      if (!show[c]) continue;
      const char *text = k < 0 ? COL_TITLE[c] : cells[k][c];
      int right = c == COL_LENGTH || c == COL_SEED;
      int pad = (c == last && !right ? 0 : width[c]) - display_width(text);
      sb_append(&line, " ");
      for (int i = 0; right && i < pad; i++) sb_append(&line, " ");
      sb_append(&line, text);
      for (int i = 0; !right && i < pad; i++) sb_append(&line, " ");
      if (c != last) sb_append(&line, " ");
    }
    while (line.len > 0 && line.data[line.len - 1] == ' ') line.data[--line.len] = 0;
    fprintf(out, "%s\n", line.data);
    sb_free(&line);
  }
  for (int k = 0; k < pj->n_jobs; k++) {
    for (int c = 0; c < N_COLS; c++) free(cells[k][c]);
    free(cells[k]);
  }
  free(cells);
  fprintf(out, "\n");
}

// ---- totals ----
static int by_train_id(const void *a, const void *b) {
  const Job *x = *(const Job *const *)a, *y = *(const Job *const *)b;
  int c = strcmp(x->train_id, y->train_id);
  return c ? c : (x > y) - (x < y);  // the first job of a trained model first: its device counts
}

#define GIB (1024.0 * 1024.0 * 1024.0)

// Per device the jobs run on: the most memory one job needs (weights + KV cache + workspace, in
// fp32 on the CPU) against what that device has.
static void print_memory(FILE *out, const Matrix *m, const ModelShape *shapes) {
  char *done = xcalloc((size_t)m->n_jobs + 1, 1);
  for (int a = 0; a < m->n_jobs; a++) {
    if (done[a]) continue;
    const char *dev = m->jobs[a].runs_on;
    int on_cpu, worst = -1;
    char what[160];
    double have = device_memory_bytes(dev, &on_cpu, what, sizeof what), need = 0;
    for (int b = a; b < m->n_jobs; b++) {
      const Job *j = &m->jobs[b];
      if (strcmp(j->runs_on, dev) != 0) continue;
      done[b] = 1;
      ModelShape scratch;
      JobCost c;
      job_cost(j, job_shape(m, j, shapes, &scratch), on_cpu, &c);
      double bytes = c.weight_bytes > 0 ? c.weight_bytes + c.kv_bytes + c.work_bytes : 0;
      if (bytes > need) {
        need = bytes;
        worst = b;
      }
    }
    char where[224];
    if (have <= 0) snprintf(where, sizeof where, "%s (not visible here)", dev);
    else if (on_cpu) snprintf(where, sizeof where, "cpu (RAM %.1f GiB)", have / GIB);
    else snprintf(where, sizeof where, "%s, %.1f GiB", what, have / GIB);
    if (worst < 0) {
      fprintf(out, "  memory    %s: unknown (no model size is known here)\n", where);
      continue;
    }
    const Job *w = &m->jobs[worst];
    fprintf(out, "  memory    %s: the largest job needs about %.1f GiB (%s '%s' in %s, length %ld)\n", where,
            need / GIB, w->model ? "model" : "trained model", w->model ? w->model->name : w->train.name,
            on_cpu ? "fp32" : w->dtype, w->length);
  }
  free(done);
}

static void print_totals(FILE *out, const Matrix *m, const ModelShape *shapes, const char *placed) {
  int entries = 0;
  for (int p = 0; p < m->n_phases; p++) entries += m->phases[p].n_jobs;
  double scored = 0, processed = 0, flops = 0, seconds = 0;
  int costed = 0;
  for (int i = 0; i < m->n_jobs; i++) {
    const Job *j = &m->jobs[i];
    ModelShape scratch;
    const ModelShape *sh = job_shape(m, j, shapes, &scratch);
    JobCost c;
    int on_cpu = strcmp(j->runs_on, "cpu") == 0;
    job_cost(j, sh, on_cpu, &c);
    scored += c.tokens_scored;
    processed += c.tokens_processed;
    if (c.flops > 0) {
      costed++;
      flops += c.flops;
      double rate = on_cpu ? PLAN_CPU_FLOPS
                           : strcmp(j->dtype, "fp32") == 0 ? PLAN_GPU_FP32_FLOPS : PLAN_GPU_FLOPS;
      seconds += c.flops / rate;
    }
  }
  // training: one run per distinct trained model
  int trained = 0, train_costed = 0;
  double tflops = 0, tseconds = 0;
  const Job **training = xmalloc(((size_t)m->n_jobs + 1) * sizeof *training);
  int n_training = 0;
  for (int i = 0; i < m->n_jobs; i++)
    if (m->jobs[i].train.variant) training[n_training++] = &m->jobs[i];
  qsort(training, (size_t)n_training, sizeof *training, by_train_id);
  for (int i = 0; i < n_training; i++) {
    const Job *j = training[i];
    if (i > 0 && strcmp(training[i - 1]->train_id, j->train_id) == 0) continue;
    trained++;
    ModelShape sh;
    model_shape_from_recipe(j->train.variant, j->train.member, &sh);
    double f = train_flops(j->train.variant, j->train.member, &sh);
    if (f > 0) {
      train_costed++;
      tflops += f;
      tseconds += f / (strcmp(j->runs_on, "cpu") == 0 ? PLAN_CPU_FLOPS : PLAN_GPU_FLOPS);
    }
  }
  free(training);
  char a[64], b[64], t[64];
  fprintf(out, "totals\n");
  fprintf(out, "  jobs      %d in %d phase%s, %d unique (a job that several phases share runs once)\n",
          entries, m->n_phases, m->n_phases == 1 ? "" : "s", m->n_jobs);
  matrix_format_count(scored, a, sizeof a);
  matrix_format_count(processed, b, sizeof b);
  fprintf(out, "  tokens    %s to score, %s through the model (unique jobs)\n", a, b);
  fprintf(out, "  devices   %s\n", placed);
  if (costed) {
    format_duration(seconds, t, sizeof t);
    format_sci(flops, a, sizeof a);
    fprintf(out, "  compute   about %s FLOP (2·params·tokens + attention) for %d of %d jobs%s\n", a,
            costed, m->n_jobs, costed < m->n_jobs ? "; the others' model size is unknown here" : "");
    fprintf(out, "  time      about %s, assuming %.0f TFLOP/s on a GPU (%.0f in fp32) and %.0f GFLOP/s on "
            "the CPU\n", t, PLAN_GPU_FLOPS / 1e12, PLAN_GPU_FP32_FLOPS / 1e12, PLAN_CPU_FLOPS / 1e9);
  } else {
    fprintf(out, "  compute   unknown: no job's model size is known here (models missing)\n");
  }
  print_memory(out, m, shapes);
  if (trained) {
    if (train_costed) {
      format_duration(tseconds, t, sizeof t);
      format_sci(tflops, a, sizeof a);
      fprintf(out, "  training  %d model%s, about %s FLOP (6·params·tokens + attention), about %s at "
              "%.0f TFLOP/s on a GPU, %.0f GFLOP/s on the CPU\n", trained, trained == 1 ? "" : "s",
              a, t, PLAN_GPU_FLOPS / 1e12, PLAN_CPU_FLOPS / 1e9);
    } else {
      fprintf(out, "  training  %d model%s (cost unknown: the recipe gives no shape)\n", trained,
              trained == 1 ? "" : "s");
    }
  }
  fprintf(out, "\n");
}

// ---- output ----
static void print_text(FILE *out, const Suite *s, const Matrix *m, const ModelShape *shapes, const char *placed,
                       const StrList *w) {
  fprintf(out, "suite %s%s%s\n", s->suite, s->title ? " — " : "", s->title ? s->title : "");
  fprintf(out, "file %s (sha256 %.12s)\n\n", s->path, s->sha256);
  for (int p = 0; p < m->n_phases; p++) print_phase(out, m, p);
  print_totals(out, m, shapes, placed);
  if (w->n == 0) {
    fprintf(out, "no warnings\n");
    return;
  }
  fprintf(out, "warnings (%d)\n", w->n);
  for (int i = 0; i < w->n; i++) fprintf(out, "  - %s\n", w->items[i]);
}

static void print_json(FILE *out, const Suite *s, const Matrix *m, const StrList *w) {
  json_t *name = json_string(s->suite);
  StrBuf b = {0};
  sb_append(&b, "{\"suite\":");
  json_write(&b, name, 0, 0);
  json_decref(name);
  sb_append(&b, ",\"jobs\":[");
  int first = 1;
  for (int p = 0; p < m->n_phases; p++) {
    const PhaseJobs *pj = &m->phases[p];
    for (int k = 0; k < pj->n_jobs; k++) {
      const Job *j = &m->jobs[pj->jobs[k]];
      json_t *e = json_pack("{s:s,s:s,s:s,s:O}", "job_id", j->id, "phase", pj->phase->id, "runs_on", j->runs_on,
                            "spec", pj->specs[k]);
      sb_append(&b, first ? "\n" : ",\n");
      json_write(&b, e, 0, 0);
      json_decref(e);
      first = 0;
    }
  }
  sb_append(&b, "],\n\"warnings\":[");
  for (int i = 0; i < w->n; i++) {
    json_t *str = json_string(w->items[i]);
    sb_append(&b, i ? ",\n" : "\n");
    json_write(&b, str, 0, 0);
    json_decref(str);
  }
  sb_append(&b, "]}\n");
  fputs(b.data, out);
  sb_free(&b);
}

static void suite_warnings(const Diagnostics *diag, StrList *w) {
  for (int i = 0; i < diag->n_warnings; i++) {
    const Diagnostic *d = &diag->warnings[i];
    if (d->mark.line > 0) strlist_add(w, "%s:%d:%d: %s", d->file, d->mark.line, d->mark.col, d->message);
    else strlist_add(w, "%s: %s", d->file, d->message);
  }
}

// A suite past MATRIX_MAX_JOBS: its counts and why nothing is listed, without building a job.
static void print_count_only(FILE *out, const Suite *s, const Diagnostics *diag, const double *per_phase,
                             double count, int exact, int json) {
  StrList w = {0};
  suite_warnings(diag, &w);
  char msg[BENCH_ERR_MAX], num[64];
  matrix_too_large(count, exact, msg, sizeof msg);
  strlist_add(&w, "%s: %s; `bench run` refuses it, and its jobs are not listed", s->path, msg);
  if (json) {
    json_t *o = json_pack("{s:s,s:f,s:b,s:[]}", "suite", s->suite, "count", count, "count_exact", exact, "jobs");
    json_t *ws = json_array();
    for (int i = 0; i < w.n; i++) json_array_append_new(ws, json_string(w.items[i]));
    json_object_set_new(o, "warnings", ws);
    StrBuf b = {0};
    json_write(&b, o, 0, 0);
    fprintf(out, "%s\n", b.data);
    sb_free(&b);
    json_decref(o);
  } else {
    fprintf(out, "suite %s%s%s\n", s->suite, s->title ? " — " : "", s->title ? s->title : "");
    fprintf(out, "file %s (sha256 %.12s)\n\n", s->path, s->sha256);
    for (int p = 0; p < s->n_phases; p++) {
      matrix_format_count(per_phase[p], num, sizeof num);
      fprintf(out, "phase %s: %s%s jobs (not listed)\n", s->phases[p].id, exact ? "" : "up to ", num);
    }
    matrix_format_count(count, num, sizeof num);
    fprintf(out, "\ntotals\n  jobs      %s%s in %d phase%s\n\n", exact ? "" : "up to ", num, s->n_phases,
            s->n_phases == 1 ? "" : "s");
    fprintf(out, "warnings (%d)\n", w.n);
    for (int i = 0; i < w.n; i++) fprintf(out, "  - %s\n", w.items[i]);
  }
  strlist_free(&w);
}

const char cmd_plan_help[] =
    "options:\n"
    "  --device auto|cpu|cuda[:N]  price `auto` jobs on this device, as `bench run --device` would\n"
    "                        run them (default auto: cuda:0 when a GPU is visible here, else the CPU)\n"
    "  --json                the jobs as JSON (with the device each runs on), no totals\n"
    "\n"
    "Each job is priced where it will run: its time at the device's assumed speed (a GPU in the\n"
    "job's dtype, the CPU in fp32), its memory (weights + KV cache + workspace) against that\n"
    "device's: GPU memory, or RAM on the CPU. The device column shows where each job runs.\n";

#define PLAN_USAGE "usage: bench plan SUITE [--device auto|cpu|cuda[:N]] [--json]"

// The device `auto` jobs run on (into dflt) and the totals' line that says why.
static int plan_device(const char *given, char dflt[DEVICE_NAME_MAX], char **placed) {
  if (given && strcmp(given, "auto") != 0) {
    BenchErr err;
    if (device_normalise(given, 1, dflt, DEVICE_NAME_MAX, &err) != 0) return cli_usage_error("--device: %s", err.msg);
    *placed = xasprintf("auto jobs priced on %s (--device)", dflt);
    return 0;
  }
  int n = device_gpu_count();
  snprintf(dflt, DEVICE_NAME_MAX, "%s", device_auto(n));
  GpuInfo info;
  if (n > 0 && device_gpu_info(0, &info) == 0)
    *placed = xasprintf("auto jobs priced on cuda:0 (%s), as bench run puts them on this machine", info.name);
  else
    *placed = xasprintf("auto jobs priced on the cpu: no GPU is visible on this machine (--device cuda "
                        "prices them on a GPU)");
  return 0;
}

int cmd_plan(int argc, char **argv) {
  const char *path = NULL, *device = NULL;
  int json = 0;
  for (int i = 1; i < argc; i++) {
    const char *val;
    static const char *const TAKES[] = {"--device"};
    if (option_value(argc, argv, &i, TAKES, 1, &val) != 0) return EXIT_BAD_INPUT;
    if (val) {  // --device
      device = val;
    } else if (strcmp(argv[i], "--json") == 0) {
      json = 1;
    } else if (argv[i][0] == '-' && argv[i][1]) {
      return cli_usage_error("unknown option '%s' for 'plan' (" PLAN_USAGE ")", argv[i]);
    } else if (path) {
      return cli_usage_error("unexpected argument '%s' (" PLAN_USAGE ")", argv[i]);
    } else {
      path = argv[i];
    }
  }
  if (!path) return cli_usage_error("'plan' needs a suite file (" PLAN_USAGE ")");
  char dflt[DEVICE_NAME_MAX];
  char *placed = NULL;
  if (plan_device(device, dflt, &placed) != 0) return EXIT_BAD_INPUT;

  Diagnostics diag = {0};
  Suite *s = suite_load(path, &diag);
  if (!s) {
    diagnostics_print(&diag, stderr);
    diagnostics_free(&diag);
    free(placed);
    return EXIT_BAD_INPUT;
  }
  BenchErr err;
  double *per_phase = xcalloc((size_t)s->n_phases + 1, sizeof *per_phase);
  int exact;
  double count = matrix_count(s, per_phase, &exact, &err);
  if (count > MATRIX_MAX_JOBS) {
    print_count_only(stdout, s, &diag, per_phase, count, exact, json);
    free(per_phase);
    free(placed);
    diagnostics_free(&diag);
    suite_free(s);
    return EXIT_OK;
  }
  free(per_phase);
  Matrix m;
  if (count < 0 || matrix_build(s, &m, &err) != 0) {
    cli_usage_error("%s", err.msg);
    diagnostics_free(&diag);
    suite_free(s);
    free(placed);
    return EXIT_BAD_INPUT;
  }

  StrList w = {0};
  suite_warnings(&diag, &w);
  for (int i = 0; i < m.n_notes; i++) strlist_add(&w, "%s", m.notes[i]);

  matrix_place_jobs(&m, dflt);
  ModelShape *shapes = suite_model_shapes(s, &m, &w);
  plan_warnings(&m, shapes, &w);

  if (json) print_json(stdout, s, &m, &w);
  else print_text(stdout, s, &m, shapes, placed, &w);
  free(placed);

  free(shapes);
  strlist_free(&w);
  matrix_free(&m);
  diagnostics_free(&diag);
  suite_free(s);
  return EXIT_OK;
}
