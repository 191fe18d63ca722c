// report.h — the morning report, built from stored results alone. See docs/DESIGN.md,
// "Results and reports".
//
//   results/<suite>/suite.yaml       → ReportPlan (phases, their axes, report requests)
//   results/<suite>/manifest.json    → Manifest (provenance, may be absent)
//   results/<suite>/jobs/*.json      → StoredJobs ("bench.job/1" job results)
//   plan + results                   → PhaseData per phase (configs × lengths × seeds)
//   PhaseData                        → tables, findings, figures → reports/<suite>/REPORT.md
//
// The report knows nothing of the engine: it meets it only in the job-result JSON. A result goes to
// each phase whose plan holds its spec (names aside: a job two phases share is reported in each
// under that phase's names), else to the phase its `phase` field names; job ids are never
// recomputed, so results merged from several machines, or read where the models are not, report
// together.
#ifndef BENCH_REPORT_H
#define BENCH_REPORT_H

#include <jansson.h>

#include "report_stats.h"
#include "results.h"
#include "util.h"

// ---- job results as the report sees them (report_jobs.c) ----
// Axes that tell configs apart inside a phase (length and seed are the table's other dimensions).
typedef enum { AX_MODEL, AX_DATASET, AX_ROPE, AX_CACHE, AX_DTYPE, AX_TRAIN, AX_DEVICE, N_AXES } Axis;
extern const char *const REPORT_AXIS_NAMES[N_AXES];  // "model", "dataset", "rope", ...

typedef struct {
  JobResult res;          // the file as read (results.h): job_id, phases, spec, status, error, metrics
  char *path;             // the file it was read from
  const char *axis[N_AXES];  // spec.model, spec.dataset, spec.rope.name, ... ("" when absent)
  const char *protocol;   // "" when absent
  char *content, *content_any_device;  // report_spec_content(spec, 1) and (spec, 0)
  int pinned_job, auto_job;  // report_plan_mark_results: the result is a job that a phase it names
                             // (any phase when it names none of the suite's) plans on a pinned
                             // device ("cpu", "cuda"), or on "auto"; one stored with "cuda:0" is
                             // then not taken for the other kind of job with the same spec
  long length, seed, windows;  // 0 when absent
  double ppl, nll;        // NAN when absent (always absent unless status ok)
  double acc;             // metrics.acc, top-1 accuracy in [0, 1]; NAN when absent
  double peak_mem_bytes;  // metrics.peak_mem_bytes; NAN when absent or not positive (not measured)
  double tokens;          // metrics.tokens, the tokens scored; NAN when absent
  double wall_s;          // metrics.wall_s, else finished − started, else NAN
  double started, finished;  // epoch seconds; 0 when absent
} StoredJob;

typedef struct {
  StoredJob *jobs;   // [n_jobs], sorted by file name
  int n_jobs;
  char **skipped;    // [n_skipped] "FILE: why it was skipped" (bad JSON, other schema, ...)
  int n_skipped;
} StoredJobs;

// Reads every DIR/jobs/*.json (job_files_list, job_result_read). A file that cannot be used
// (unreadable, or ok without a positive ppl, or without a positive spec.length) is listed in
// rs->skipped, never fatal; -1 only when DIR/jobs cannot be listed at all (a missing jobs/ is an
// empty set).
int stored_jobs_load(const char *results_dir, StoredJobs *rs, BenchErr *err);
void stored_jobs_free(StoredJobs *rs);
// A job spec's names per axis (spec.model, spec.dataset, spec.rope.name, ...; "" when absent).
void report_spec_axes(const json_t *spec, const char *axis[N_AXES]);
// What identifies a job whatever the names its phase gives it: the canonical JSON of the spec
// without the rope/cache/train names, the device by class ("cuda:1" is "cuda"; "auto" and, with
// with_device 0, any device left out). Caller frees.
char *report_spec_content(const json_t *spec, int with_device);
// Parses "2026-02-14T01:04:00Z" (a fraction and a ±hh:mm offset are accepted); 0 when unparsable.
double report_parse_time(const char *s);

// The manifest (results.h, manifest_read): keys the report reads (each optional; the first present
// wins): bench_version | version, git_commit | commit, suite_path | suite_file, suite_sha256, host |
// hostname, cpu, gpu | gpus | device (a string, or a list of strings or {"name":..} objects),
// driver | gpu_driver, cuda | cuda_version, started | start, finished | end (ISO-8601),
// models.<name>.fingerprint | models.<name>, datasets.<name>.fingerprint.

// ---- report plan: phases and what they ask for (report_plan.c) ----
typedef struct {
  char *kind;      // "table" or "plot"
  char *name;      // collapse lengths seeds improvement leaderboard verdict / ppl_vs_length ...
  long at;         // 0 when not given
  char *baseline;  // NULL when not given
  char *param;     // NULL when not given
} ReportReq;

// One job the suite's phase holds (from the matrix, cli/matrix): its names as this phase gives them
// (a job two phases share is `geo_500k` in one, `theta_scan[theta=500000]` in the other), and what
// identifies it whatever its names (report_spec_content).
typedef struct {
  char *axis[N_AXES];  // model, dataset, rope/cache/train member names, ...; "" on an axis the
                       // phase does not list, and for the device unless the phase varies it
  long length, seed;
  char *content;       // report_spec_content of the phase's spec
  char *id;            // the matrix's job id (provisional where a model or dataset is not here)
  int pinned;          // the phase pins the job's device (not "auto")
} PlannedJob;

typedef struct {
  char *id;
  char *title;
  int planned;            // the axes below come from the suite (else: from the results)
  StrList axis[N_AXES];   // expected values (rope and cache as member names); empty: unknown
  long *lengths;          // [n_lengths] ascending
  int n_lengths;
  long *seeds;            // [n_seeds]
  int n_seeds;
  long base_length;       // collapse-ratio denominator; 0: the shortest length
  char *protocol;         // NULL: unknown
  long windows;           // 0: unknown
  ReportReq *reqs;        // [n_reqs]
  int n_reqs;
  PlannedJob *jobs;       // [n_jobs] the jobs the phase expects, in the matrix's expansion order
  int n_jobs;
} PhasePlan;

typedef struct {
  char *suite_id;
  char *title;
  char *suite_path;       // where suite.yaml was read (NULL when the plan came from results)
  char *suite_sha256;     // of suite.yaml's bytes
  StrList model_names, model_paths;  // [n] in suite order
  PhasePlan *phases;      // [n_phases]
  int n_phases;
  double severe;          // report_options.severe (default 10)
  double boundary;        // report_options.boundary (default 5)
  char lang[8];           // "en" or "zh"
  int from_suite;         // 0: phases guessed from the results (suite.yaml missing or unusable)
} ReportPlan;

// Reads DIR/suite.yaml with the suite parser. -1 with err when it cannot (the caller may then fall
// back to report_plan_from_results).
int report_plan_from_suite(const char *suite_yaml, ReportPlan *p, BenchErr *err);
// Phases named by the results themselves (in order of first appearance), each asking for a
// lengths table and a PPL-vs-length figure.
void report_plan_from_results(const StoredJobs *rs, const char *suite_id, ReportPlan *p);
// Adds such phases for the ids the results name that the plan lacks (a suite edited after the run).
void report_plan_add_result_phases(ReportPlan *p, const StoredJobs *rs);
void report_plan_free(ReportPlan *p);
// Sets r->pinned_job and r->auto_job for each result.
void report_plan_mark_results(const ReportPlan *p, StoredJobs *rs);

// ---- results grouped per phase (report_group.c) ----
typedef struct {
  const char *axis[N_AXES];  // the config's key ("" for an axis a result did not give)
  char *label;               // name used in tables and legends
  int expected;              // listed by the suite's phase
} Config;

typedef struct {
  StoredJob **runs;  // [n_runs]: one per seed (all statuses), seed order
  int n_runs;
  double *ppl;       // [n_ok] ppl of the ok runs
  long *seeds;       // [n_ok] their seeds
  int n_ok, n_oom, n_error;  // n_error counts error, crashed and nonfinite
  double mean, std, cv;      // over ok runs; std/cv NAN when n_ok < 2; mean NAN when n_ok == 0
  int n_expected_seeds;      // seeds the plan expects in this cell (0 when unknown)
  const StoredJob *conflict[2];  // the first two ok results of one seed whose PPLs differ (NULL: none)
} Cell;

typedef struct {
  const Config *config;
  long length;
  long seed;
} MissingCell;

// Two stored results of one job (same config, length and seed) with different numbers: merged
// machines, or a phase re-labelled. The tables show both; the findings use the later one.
typedef struct {
  int config;              // index into PhaseData.configs
  long length, seed;
  const StoredJob *a, *b;  // a: the one kept so far, b: the other
} Conflict;

typedef struct {
  const PhasePlan *plan;
  Config *configs;       // [n_configs]
  int n_configs;
  long *lengths;         // [n_lengths] ascending: planned ∪ found
  int n_lengths;
  Cell *cells;           // [n_configs × n_lengths]
  int varies[N_AXES];    // the axis takes more than one value among configs
  int *group;            // [n_configs] comparison group: configs of one model and one dataset (and
                         // one cache when the phase varies it besides rope, dtype, train or device)
  int n_groups;
  char **group_label;    // [n_groups] "model: small, dataset: text" ("" when one group)
  StoredJob **jobs;      // [n_jobs] results attributed to this phase (after de-duplication)
  int n_jobs;
  int n_ok, n_oom, n_error;
  int n_expected;        // jobs the suite implies (0 when unknown)
  MissingCell *missing;  // [n_missing] expected (config, length, seed) without any result
  int n_missing;
  int n_duplicates;      // results dropped because another result of the job had the same numbers
                         // (or had none: a failure that an ok result or a later failure replaces)
  Conflict *conflicts;   // [n_conflicts] results of one job with different numbers
  int n_conflicts;
  double wall_s;         // sum of the jobs' wall time
  long base_length;      // resolved: plan's, or the shortest length
  // the planned cells (key, length, seed), deduplicated, in expansion order
  struct PlanCell *planned;
  int n_planned;
  struct PlanCell *by_content;  // [n_planned] the same, sorted by content (what a result is)
  struct PlanCell *by_id;       // [n_planned] the same, sorted by job id
  struct CellSet *planned_set;
} PhaseData;

void phase_group(const PhasePlan *plan, const StoredJobs *rs, PhaseData *pd);
void phase_data_free(PhaseData *pd);
Cell *phase_cell(const PhaseData *pd, int config, int length_index);
int phase_length_index(const PhaseData *pd, long length);  // -1 when absent
// The collapse ratio of config c, PPL at length index l over PPL at length index lB: with two or
// more seeds ok at both lengths, the mean of the per-seed ratios (*std their sample std, *n_seeds
// how many); else the ratio of the cells' means (*std NAN, *n_seeds 0 or 1). NAN when undefined.
double phase_ratio(const PhaseData *pd, int c, int l, int lB, double *std, int *n_seeds);
// Index of the config equal to `c` except that `axis` holds `value`; -1 when absent.
int phase_find_sibling(const PhaseData *pd, int c, Axis axis, const char *value);
// Which axis of the phase's configs has `name` among its values (rope first, then cache, model,
// dtype, dataset, train); -1 when none.
int phase_axis_of(const PhaseData *pd, const char *name);

// ---- words (report_text.c) ----
typedef struct {
  const char *lang;
  const char *models, *device, *gpu_check, *host, *dates, *duration, *commit, *suite_checksum, *reproduce;
  const char *results_line;       // "%d of %d jobs have results: %d ok, %d OOM, %d error"
  const char *results_line_noexp;  // "%d jobs: %d ok, %d OOM, %d error"
  const char *experiment_list, *key_findings, *figures, *notes, *phase;
  const char *col_num, *col_phase, *col_title, *col_jobs, *col_ok, *col_oom, *col_error,
      *col_missing, *col_wall;
  const char *legend_collapse, *legend_collapse_seeds, *legend_vs_best;
  const char *tbl_metrics, *col_acc, *col_peak_mem, *col_tokens, *n_failures, *why_too_short;
  const char *col_config, *col_length, *col_ratio, *col_rank, *col_best_impr, *col_baseline,
      *col_seeds, *col_verdict, *col_why, *col_paired, *col_gap, *col_vs_best, *col_seed_len;
  const char *severe, *best, *win, *not_proven;
  const char *cell_oom, *cell_error, *cell_crashed, *cell_nonfinite, *cell_conflict, *no_improvement;
  const char *tbl_collapse, *tbl_lengths, *tbl_seeds, *tbl_improvement, *tbl_leaderboard,
      *tbl_verdict;
  // findings and notes (printf formats, same argument order in every language)
  const char *f_boundary, *f_no_boundary, *f_no_base, *f_shift, *f_shift_beyond, *f_best,
      *f_best_vs_worst, *f_short_cost_none, *f_short_cost, *f_seed_cv, *f_seed_most_robust,
      *f_oom, *f_oom_none_ran, *f_oom_partial, *f_identical, *f_impr_best, *f_impr_none, *f_verdict_win, *f_verdict_not,
      *f_nonfinite;
  const char *why_incomplete, *why_few_seeds, *why_mean, *why_gap, *why_paired;
  const char *n_no_results, *n_missing, *n_missing_more, *n_duplicates, *n_conflicts, *n_skipped,
      *n_no_plan, *n_fig_failed, *n_fig_skipped, *n_manifest_absent, *n_manifest_bad,
      *n_sha_differs, *n_baseline_unknown, *n_at_unknown, *n_param_unknown, *n_no_data;
  const char *nothing_yet;
  // the KV-cache table (report_kv.c)
  const char *tbl_kv, *col_kv_budget, *col_kv_peak, *col_kv_mem, *col_kv_saved, *col_kv_tps,
      *col_kv_speed, *n_kv_def, *n_kv_seeds, *n_kv_no_full, *n_kv_full_failed, *f_kv, *f_kv_mem,
      *f_kv_speed;
} ReportText;

const ReportText *report_text(const char *lang);  // "zh" or anything else (English)
// Section number in the language's style, separator included: "1. " / "一、".
void report_section_number(const ReportText *t, int n, char out[16]);

// ---- number formatting (report_fmt.c) ----
// PPL: 3 decimals below 100, 2 below 1,000, 1 below 10,000, none above (5 significant digits
// from 10 up, as the lab notes write them); "inf"/"nan" for non-finite values.
void rfmt_ppl(double v, char out[32]);
// mean±std with the std at the mean's decimals; the mean alone when std is NAN.
void rfmt_mean_std(double mean, double std, char out[64]);
void rfmt_ratio(double r, char out[32]);      // "23.58x"
void rfmt_pct(double p, int decimals, char out[32]);  // "18.4%"
void rfmt_duration(double seconds, char out[32]);      // "13m 02s", "8h 13m", "2d 03h"
void rfmt_time(double epoch, char out[32]);            // "2026-02-14 01:04 UTC"
void rfmt_bytes(double bytes, char out[32]);           // "512 B", "39.0 KiB", "1.2 GiB" (binary units)
// Appends s to b with markdown table metacharacters escaped (| * ` < and newlines).
void rfmt_md_escape(StrBuf *b, const char *s);

// ---- tables, findings, figures, markdown ----
typedef struct {
  const ReportPlan *plan;
  const Manifest *manifest;
  const StoredJobs *results;
  const ReportText *t;
  const char *reports_dir;   // where REPORT.md and figures go
  const char *gnuplot;       // program to run ("gnuplot" unless BENCH_GNUPLOT says otherwise)
  int no_figures;            // write the markdown only
} ReportCtx;

// Each appends markdown for one request (a table heading, the table, and notes it needs).
void table_collapse(StrBuf *b, const PhaseData *pd, const ReportReq *rq, const ReportCtx *ctx);
void table_lengths(StrBuf *b, const PhaseData *pd, const ReportReq *rq, const ReportCtx *ctx);
void table_seeds(StrBuf *b, const PhaseData *pd, const ReportReq *rq, const ReportCtx *ctx);
void table_improvement(StrBuf *b, const PhaseData *pd, const ReportReq *rq, const ReportCtx *ctx);
void table_leaderboard(StrBuf *b, const PhaseData *pd, const ReportReq *rq, const ReportCtx *ctx);
void table_verdict(StrBuf *b, const PhaseData *pd, const ReportReq *rq, const ReportCtx *ctx);
// A cell as the tables show it: the mean PPL (both values and files when two results of one seed
// conflict), else OOM / error / crashed, else "—".
void report_cell_text(const Cell *cell, const ReportText *t, char out[64]);
// Why a failed job failed, short enough for a table cell: "dataset too short" for a dataset with
// too few tokens, else the error's first clause (up to ';', ':' or '('), cut to fit.
void report_error_short(const char *error, const ReportText *t, char out[48]);
// Every failed run (error, crashed, nonfinite, OOM with a message) of the phase with its full
// reason, under the phase's tables: "- `config` @ L (seed S): status: error".
void report_failures(StrBuf *b, const PhaseData *pd, const ReportText *t);
// The table "Metrics": Config | Length | PPL | Top-1 acc | Peak memory | Tokens, one row per
// (config, length), each the mean over the cell's ok runs ({table: metrics}).
void table_metrics(StrBuf *b, const PhaseData *pd, const ReportReq *rq, const ReportCtx *ctx);
// The length a collapse/leaderboard/verdict request is evaluated at: its `at`, else the longest
// length with at least one ok result (0 when none).
long report_request_length(const PhaseData *pd, const ReportReq *rq);
// Seed 003's verdict for config c against config base at length index l (per-seed PPLs of the
// cells); *n_expected gets the seeds the plan expects (0 when unknown).
Verdict cell_verdict(const PhaseData *pd, int c, int base, int l, int *n_expected);
// Why a verdict is not a win, in words ("" for a win).
void verdict_why(const Verdict *v, const ReportText *t, int n_expected, char out[160]);

// ---- KV cache: memory and speed vs full (report_kv.c) ----
// A job ran the full cache: its spec names no cache, or one of type "full".
int stored_job_full_cache(const StoredJob *r);
// Two jobs whose specs agree in every field but `cache` (model, dataset, rope, length, seed,
// protocol, prompt, warmup, windows, dtype, ...); devices by class ("cuda:0" is "cuda:1").
int stored_jobs_same_but_cache(const StoredJob *a, const StoredJob *b);
// The full-cache job with r's spec but the cache, among all of a suite's results (not one phase's:
// the baseline often runs in another phase): the ok one finished last, NULL when none.
// *n_failed (may be NULL) gets how many such full-cache jobs did not finish ok.
const StoredJob *kv_full_match(const StoredJobs *rs, const StoredJob *r, int *n_failed);

// One row of the table: a (config, length) cell, over its ok runs (seeds).
typedef struct {
  int full;               // the cell's cache is full: saved 0, speed 1
  int n_ok;               // ok runs
  double budget, peak_tokens, peak_bytes, full_bytes, saved_bytes;  // means; NAN when absent
  double saved_pct;       // saved / full bytes × 100; NAN when unknown
  double tokens_per_s;    // mean over the ok runs; NAN when absent
  double speed;           // mean tokens/s of the runs with an ok full-cache match ÷ the mean of
                          // those matches'; NAN when no run has one
  int n_matched;          // ok runs with an ok full-cache match
  int full_failed;        // no run has an ok match, but some has a full-cache job that failed
} KvRow;
void kv_row(const StoredJobs *rs, const Cell *cell, KvRow *out);
// A phase shows the table when it asks for it ({table: kv_cost}) or runs a cache other than full.
int phase_shows_kv(const PhaseData *pd);
// The table "KV cache: memory and speed vs full": Config | Length | KV budget | Peak KV tokens |
// Peak KV memory | Saved vs full | tokens/s | Speed vs full, one row per (config, length).
void table_kv_cost(StrBuf *b, const PhaseData *pd, const ReportReq *rq, const ReportCtx *ctx);
// ---- numerics (report_dtype.c) ----
// A table's (or the figures', findings') heading "### TEXT", then, where the phase's jobs computed
// in another dtype than they asked for, the line saying so: "*Compute dtype: bf16 → fp32 on cpu.*".
void report_heading(StrBuf *b, const PhaseData *pd, const ReportCtx *ctx, const char *text);
// In a phase that varies device or dtype, each config's PPL against the most precise run of the
// same config.
void phase_numerics(StrBuf *b, const PhaseData *pd, const ReportCtx *ctx);
// ---- training phases (report_train.c) ----
// "### Training": the recipe as run and one row per trained model; nothing when the phase trains none.
void phase_training(StrBuf *b, const PhaseData *pd, const ReportCtx *ctx);
// Seconds spent training the phase's models (each once), which its wall time includes.
double phase_train_wall_s(const PhaseData *pd);
// One finding per cache policy (at its longest length with a full-cache match, else its longest):
// its KV tokens, the memory saved and the speed against full, when it saves memory or its speed
// differs from full by more than 10%.
void findings_kv(StrBuf *b, const PhaseData *pd, const ReportCtx *ctx);

// Key findings of a phase, one markdown bullet per line.
void phase_findings(StrBuf *b, const PhaseData *pd, const ReportCtx *ctx);

// Figures of one phase: appends the markdown (image links, or a line saying why a figure is
// missing). With render == 0 nothing is run (the links are written in advance).
typedef struct {
  int made, failed, skipped;
} FigureCount;
void phase_figures(StrBuf *b, const PhaseData *pd, const ReportCtx *ctx, int render,
                   FigureCount *count);
// The colour of a config label: the same label gets the same colour in every figure.
int figure_colour(const char *label);
void figure_colours_reset(void);

// The whole REPORT.md text. render: run gnuplot now (else figure links are written in advance).
// plan_problem: why the suite could not be read (NULL when it was).
void report_markdown(StrBuf *b, const ReportCtx *ctx, const PhaseData *pds, int n, const char *results_dir,
                     const char *plan_problem, int render, FigureCount *count);

// ---- the whole report (report.c) ----
typedef struct {
  char *report_path;   // reports/<suite>/REPORT.md
  int n_jobs, n_skipped;
  FigureCount figures;
} ReportSummary;

// Reads RESULTS_DIR and writes REPORT.md (markdown first, atomically) and then the figures into
// reports_dir (NULL: the default next to the results, see cmd_report.c). -1 with err when the
// results cannot be read or the report cannot be written.
int report_generate(const char *results_dir, const char *reports_dir, int no_figures,
                    ReportSummary *sum, BenchErr *err);
void report_summary_free(ReportSummary *s);
// Default reports directory for a results directory: <root>/reports/<suite> when it is
// <root>/results/<suite>, else reports/<suite>. Caller frees.
char *report_default_dir(const char *results_dir, const char *suite_id);

#endif
