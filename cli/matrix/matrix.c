// matrix.c — a Suite expanded into phases of jobs with specs and ids (matrix.h).
#include "matrix.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "canon_json.h"
#include "fingerprint.h"
#include "matrix_internal.h"
#include "version.h"

// ---- the job table (open addressing on the id) ----
static unsigned long id_hash(const char *id) {
  char head[9];
  memcpy(head, id, 8);
  head[8] = 0;
  return strtoul(head, NULL, 16);
}

static void table_insert(Matrix *m, int job) {
  unsigned long mask = (unsigned long)m->n_slots - 1;
  unsigned long h = id_hash(m->jobs[job].id) & mask;
  while (m->slots[h] >= 0) h = (h + 1) & mask;
  m->slots[h] = job;
}

static void table_grow(Matrix *m) {
  if (m->n_slots >= 2 * (m->n_jobs + 1)) return;
  free(m->slots);
  m->n_slots = m->n_slots ? m->n_slots * 2 : 64;
  while (m->n_slots < 2 * (m->n_jobs + 1)) m->n_slots *= 2;
  m->slots = xmalloc((size_t)m->n_slots * sizeof *m->slots);
  for (int i = 0; i < m->n_slots; i++) m->slots[i] = -1;
  for (int j = 0; j < m->n_jobs; j++) table_insert(m, j);
}

int matrix_find(const Matrix *m, const char *id) {
  if (m->n_slots == 0 || strlen(id) != JOB_ID_HEX) return -1;
  unsigned long mask = (unsigned long)m->n_slots - 1;
  for (unsigned long h = id_hash(id) & mask; m->slots[h] >= 0; h = (h + 1) & mask)
    if (strcmp(m->jobs[m->slots[h]].id, id) == 0) return m->slots[h];
  return -1;
}

const JobInputs *matrix_job_inputs(const Job *j) { return &j->inputs; }

// ---- axes ----
typedef struct {
  const ModelDef **models; int n_models;  // {NULL} when the phase trains its models
  const DatasetDef **datasets; int n_datasets;
  Member *train; int n_train;             // {none} when the phase does not train
  Member *rope; int n_rope;
  Member *cache; int n_cache;
  const char **dtypes; int n_dtypes;
  const char **devices; int n_devices;
  long *seeds; int n_seeds;
  long *lengths; int n_lengths;
  long windows;                           // an include entry's windows; 0: the phase's
} Axes;

static void axes_free(Axes *a) {
  free(a->models);
  free(a->datasets);
  for (int i = 0; i < a->n_train; i++) free(a->train[i].name);
  for (int i = 0; i < a->n_rope; i++) free(a->rope[i].name);
  for (int i = 0; i < a->n_cache; i++) free(a->cache[i].name);
  free(a->train);
  free(a->rope);
  free(a->cache);
  free(a->dtypes);
  free(a->devices);
  free(a->seeds);
  free(a->lengths);
  memset(a, 0, sizeof *a);
}

static const char *const AXIS_NAMES[] = {"model", "dataset", "rope", "cache", "length", "seed",
                                         "dtype", "device", "train"};
enum { AX_MODEL, AX_DATASET, AX_ROPE, AX_CACHE, AX_LENGTH, AX_SEED, AX_DTYPE, AX_DEVICE, AX_TRAIN, AX_N };

static int axis_of(const char *name) {
  for (int i = 0; i < AX_N; i++)
    if (strcmp(AXIS_NAMES[i], name) == 0) return i;
  return -1;
}

static const Variant *kind_list(const Suite *s, VariantKind k, int *n) {
  if (k == VK_ROPE) { *n = s->n_rope; return s->rope; }
  if (k == VK_CACHE) { *n = s->n_cache; return s->cache; }
  *n = s->n_train;
  return s->train;
}

static const char *const KIND_WORD[] = {"rope variant", "cache policy", "train recipe"};

// Appends the members a selector stands for: all of a variant's, or those `name[key=value]` picks.
static int add_members(const Suite *s, VariantKind k, const char *name, Mark mark, Member **list, int *n,
                       BenchErr *err) {
  int nv;
  const Variant *all = kind_list(s, k, &nv);
  const Variant *v;
  int *members, n_members;
  if (matrix_select(all, nv, name, &v, &members, &n_members) != 0) {
    const char **cands = xmalloc((size_t)(nv ? nv : 1) * sizeof *cands);
    for (int i = 0; i < nv; i++) cands[i] = all[i].name;
    const char *br = strchr(name, '[');
    char *base = br ? xstrndup(name, (size_t)(br - name)) : xstrdup(name);
    const char *close = closest_name(base, cands, nv);
    if (close) matrix_err_at(err, s, mark, "unknown %s '%s' (did you mean '%s'?)", KIND_WORD[k], base, close);
    else matrix_err_at(err, s, mark, "unknown %s '%s'", KIND_WORD[k], base);
    free(base);
    free(cands);
    free(members);
    return -1;
  }
  if (n_members == 0) {
    char *example = variant_member_name(v, 0);
    matrix_err_at(err, s, mark, "'%s' selects no member of %s '%s' (its members are named like '%s')", name,
                  KIND_WORD[k], v->name, example);
    free(example);
    free(members);
    return -1;
  }
  for (int i = 0; i < n_members; i++) {
    *list = xrealloc(*list, (size_t)(*n + 1) * sizeof **list);
    (*list)[*n].variant = v;
    (*list)[*n].member = members[i];
    (*list)[*n].name = variant_member_name(v, members[i]);
    (*n)++;
  }
  free(members);
  return 0;
}

static int members_from_names(const Suite *s, VariantKind k, const NameList *names, Member **list,
                              int *n, BenchErr *err) {
  for (int i = 0; i < names->n; i++) {
    Mark mk = names->marks ? names->marks[i] : (Mark){0, 0};
    if (add_members(s, k, names->items[i], mk, list, n, err) != 0) return -1;
  }
  return 0;
}

static int axes_from_settings(const Suite *s, const Phase *ph, Axes *a, BenchErr *err) {
  const Settings *st = &ph->settings;
  memset(a, 0, sizeof *a);
  if (members_from_names(s, VK_TRAIN, &st->train, &a->train, &a->n_train, err) != 0) return -1;
  if (a->n_train == 0) {
    a->train = xcalloc(1, sizeof *a->train);
    a->n_train = 1;
  }
  if (a->train[0].variant) {
    a->models = xcalloc(1, sizeof *a->models);
    a->n_models = 1;
  } else {
    a->models = xcalloc((size_t)(st->models.n ? st->models.n : 1), sizeof *a->models);
    for (int i = 0; i < st->models.n; i++) {
      const ModelDef *md = suite_model(s, st->models.items[i]);
      if (!md)
        return matrix_err_at(err, s, st->models.marks ? st->models.marks[i] : ph->mark,
                             "unknown model '%s'", st->models.items[i]);
      a->models[a->n_models++] = md;
    }
  }
  a->datasets = xcalloc((size_t)(st->datasets.n ? st->datasets.n : 1), sizeof *a->datasets);
  for (int i = 0; i < st->datasets.n; i++) {
    const DatasetDef *dd = suite_dataset(s, st->datasets.items[i]);
    if (!dd)
      return matrix_err_at(err, s, st->datasets.marks ? st->datasets.marks[i] : ph->mark,
                           "unknown dataset '%s'", st->datasets.items[i]);
    a->datasets[a->n_datasets++] = dd;
  }
  if (members_from_names(s, VK_ROPE, &st->rope, &a->rope, &a->n_rope, err) != 0) return -1;
  if (members_from_names(s, VK_CACHE, &st->cache, &a->cache, &a->n_cache, err) != 0) return -1;
  a->dtypes = xcalloc((size_t)(st->dtypes.n ? st->dtypes.n : 1), sizeof *a->dtypes);
  for (int i = 0; i < st->dtypes.n; i++) a->dtypes[a->n_dtypes++] = st->dtypes.items[i];
  a->devices = xcalloc((size_t)(st->devices.n ? st->devices.n : 1), sizeof *a->devices);
  for (int i = 0; i < st->devices.n; i++) a->devices[a->n_devices++] = st->devices.items[i];
  a->seeds = xcalloc((size_t)(st->seeds.n ? st->seeds.n : 1), sizeof *a->seeds);
  for (int i = 0; i < st->seeds.n; i++) a->seeds[a->n_seeds++] = st->seeds.items[i];
  a->lengths = xcalloc((size_t)(st->lengths.n ? st->lengths.n : 1), sizeof *a->lengths);
  for (int i = 0; i < st->lengths.n; i++) a->lengths[a->n_lengths++] = st->lengths.items[i];
  return 0;
}

static int parse_long(const char *text, long *out) {
  char *end;
  errno = 0;
  long v = strtol(text, &end, 10);
  if (errno || end == text || *end) return -1;
  *out = v;
  return 0;
}

// Replaces the axes an include entry names by its values.
static int axes_override(const Suite *s, const Assignment *as, Axes *a, BenchErr *err) {
  for (int i = 0; i < as->n; i++) {
    const char *val = as->values[i];
    Mark mk = as->marks ? as->marks[i] : as->mark;
    int ax = axis_of(as->axes[i]);
    long num;
    switch (ax) {
      case AX_MODEL: {
        const ModelDef *md = suite_model(s, val);
        if (!md) return matrix_err_at(err, s, mk, "unknown model '%s'", val);
        if (a->train[0].variant)
          return matrix_err_at(err, s, mk,
                               "include names model '%s', but its jobs train their own model", val);
        a->models[0] = md;
        a->n_models = 1;
        break;
      }
      case AX_DATASET: {
        const DatasetDef *dd = suite_dataset(s, val);
        if (!dd) return matrix_err_at(err, s, mk, "unknown dataset '%s'", val);
        a->datasets[0] = dd;
        a->n_datasets = 1;
        break;
      }
      case AX_ROPE:
      case AX_CACHE:
      case AX_TRAIN: {
        VariantKind k = ax == AX_ROPE ? VK_ROPE : ax == AX_CACHE ? VK_CACHE : VK_TRAIN;
        Member **list = k == VK_ROPE ? &a->rope : k == VK_CACHE ? &a->cache : &a->train;
        int *n = k == VK_ROPE ? &a->n_rope : k == VK_CACHE ? &a->n_cache : &a->n_train;
        for (int j = 0; j < *n; j++) free((*list)[j].name);
        *n = 0;
        if (add_members(s, k, val, mk, list, n, err) != 0) return -1;
        if (k == VK_TRAIN) {  // a trained model replaces the model axis
          a->models = xrealloc(a->models, sizeof *a->models);
          a->models[0] = NULL;
          a->n_models = 1;
        }
        break;
      }
      case AX_LENGTH:
        if (parse_long(val, &num) != 0 || num < 2)
          return matrix_err_at(err, s, mk, "length '%s' is not an integer >= 2", val);
        a->lengths = xrealloc(a->lengths, sizeof *a->lengths);
        a->lengths[0] = num;
        a->n_lengths = 1;
        break;
      case AX_SEED:
        if (parse_long(val, &num) != 0) return matrix_err_at(err, s, mk, "seed '%s' is not an integer", val);
        a->seeds = xrealloc(a->seeds, sizeof *a->seeds);
        a->seeds[0] = num;
        a->n_seeds = 1;
        break;
      case AX_DTYPE:
        a->dtypes = xrealloc(a->dtypes, sizeof *a->dtypes);
        a->dtypes[0] = val;
        a->n_dtypes = 1;
        break;
      case AX_DEVICE:
        a->devices = xrealloc(a->devices, sizeof *a->devices);
        a->devices[0] = val;
        a->n_devices = 1;
        break;
      default:
        if (strcmp(as->axes[i], "windows") == 0 && parse_long(val, &num) == 0 && num >= 1) {
          a->windows = num;
          break;
        }
        return matrix_err_at(err, s, mk, "unknown matrix axis '%s'", as->axes[i]);
    }
  }
  return 0;
}

// ---- one job ----
typedef struct {
  const ModelDef *model;
  const DatasetDef *dataset;
  const Member *train, *rope, *cache;
  const char *dtype, *device;
  long seed, length;
  long windows;  // 0: the phase's
} Draft;

static int member_matches(const Member *m, const char *selector) {
  return m->variant && matrix_member_selected(m->variant, m->member, selector);
}

static int draft_matches(const Draft *d, const Assignment *as) {
  for (int i = 0; i < as->n; i++) {
    const char *val = as->values[i];
    long num;
    int ok = 0;
    switch (axis_of(as->axes[i])) {
      case AX_MODEL: ok = d->model && strcmp(d->model->name, val) == 0; break;
      case AX_DATASET: ok = strcmp(d->dataset->name, val) == 0; break;
      case AX_ROPE: ok = member_matches(d->rope, val); break;
      case AX_CACHE: ok = member_matches(d->cache, val); break;
      case AX_TRAIN: ok = member_matches(d->train, val); break;
      case AX_LENGTH: ok = parse_long(val, &num) == 0 && num == d->length; break;
      case AX_SEED: ok = parse_long(val, &num) == 0 && num == d->seed; break;
      case AX_DTYPE: ok = d->dtype && strcmp(d->dtype, val) == 0; break;
      case AX_DEVICE: ok = d->device && strcmp(d->device, val) == 0; break;
      default: ok = 0;
    }
    if (!ok) return 0;
  }
  return 1;
}

// "cpu" or "cuda" for a pinned device; NULL for auto.
static const char *device_class(const char *dev) {
  if (!dev || strcmp(dev, "auto") == 0) return NULL;
  if (strncmp(dev, "cuda", 4) == 0) return "cuda";
  return dev;
}

static int is_token_file(const char *path) {
  size_t n = strlen(path);
  return n >= 4 && strcmp(path + n - 4, ".bin") == 0;
}

// The tokenizer.json that encodes this job's text dataset and its fingerprint (both malloc'd);
// NULL for token files.
static char *job_tokenizer(MatrixCtx *c, const Draft *d, char **fp) {
  const Suite *s = c->s;
  *fp = NULL;
  if (is_token_file(d->dataset->path)) return NULL;
  const ModelDef *md = NULL;
  if (d->dataset->model) md = suite_model(s, d->dataset->model);
  else if (d->model) md = d->model;
  else if (d->train && d->train->variant) {
    const Param *tp = variant_param(d->train->variant, "tokenizer");
    if (tp) {
      const ParamValue *pv = variant_member_value(d->train->variant, (int)(tp - d->train->variant->params),
                                                  d->train->member);
      if (pv->kind == PV_STR && pv->str) {
        md = suite_model(s, pv->str);
        if (!md) {  // a path to a tokenizer.json
          char hex[65];
          BenchErr e;
          *fp = file_exists(pv->str) && file_sha256_cached(pv->str, hex, &e) == 0 ? xstrdup(hex)
                                                                                  : matrix_missing_fp(pv->str);
          return xstrdup(pv->str);
        }
      }
    }
  }
  if (!md) return NULL;
  int i = matrix_model_index(s, md);
  *fp = xstrdup(matrix_tokenizer_fp(c, i));
  return path_join(md->path, "tokenizer.json");
}

static void set_num(json_t *o, const char *k, long v) { json_object_set_new(o, k, json_integer(v)); }

static void job_free(Job *j) {
  free(j->identity);
  free(j->rope.name);
  free(j->cache.name);
  free(j->train.name);
  json_decref(j->spec);
  json_decref(j->rope_json);
  json_decref(j->cache_json);
  json_decref(j->train_json);
  free(j->tokenizer_path);
  free(j->tokenizer_fp);
  free(j->phases);
}

static Member member_copy(const Member *m) {
  Member c = *m;
  c.name = m->name ? xstrdup(m->name) : NULL;
  return c;
}

static void add_fp(json_t *o, const char *key, const char *fp, int *provisional) {
  json_object_set_new(o, key, json_string(fp));
  if (matrix_is_missing(fp)) *provisional = 1;
}

// The job spec in DESIGN's key order, with the names a draft uses (one phase's names for a job
// that several phases share).
static json_t *draft_spec(MatrixCtx *c, const Draft *d, const Job *j) {
  BenchErr err;  // references were resolved when the job was made: nothing can fail here
  json_t *spec = json_object();
  json_object_set_new(spec, "model", json_string(d->model ? d->model->name : d->train->name));
  json_object_set_new(spec, "dataset", json_string(d->dataset->name));
  json_t *rope = matrix_variant_json(c, VK_ROPE, d->rope->variant, d->rope->member, VJ_SPEC, &err);
  json_t *cache = matrix_variant_json(c, VK_CACHE, d->cache->variant, d->cache->member, VJ_SPEC, &err);
  CHECK(rope && cache);
  json_object_set_new(spec, "rope", rope);
  json_object_set_new(spec, "cache", cache);
  set_num(spec, "length", j->length);
  set_num(spec, "seed", j->seed);
  json_object_set_new(spec, "protocol", json_string(j->protocol));
  set_num(spec, "windows", j->windows);
  if (j->stride) set_num(spec, "stride", j->stride);
  if (strcmp(j->protocol, "decode") == 0) {
    set_num(spec, "prompt", j->prompt);
    set_num(spec, "warmup", j->warmup);
  }
  json_object_set_new(spec, "dtype", json_string(d->dtype));
  json_object_set_new(spec, "device", json_string(d->device));
  if (d->train->variant) {
    json_t *train = matrix_variant_json(c, VK_TRAIN, d->train->variant, d->train->member, VJ_SPEC, &err);
    CHECK(train);
    json_object_set_new(spec, "train", train);
  }
  return spec;
}

// Builds the job a draft describes; fills j. -1 with err on a bad reference.
static int job_make(MatrixCtx *c, const Phase *ph, const Draft *d, Job *j, BenchErr *err) {
  const Suite *s = c->s;
  const Settings *st = &ph->settings;
  memset(j, 0, sizeof *j);
  j->model = d->model;
  j->dataset = d->dataset;
  j->rope = member_copy(d->rope);
  j->cache = member_copy(d->cache);
  j->train = member_copy(d->train);
  j->length = d->length;
  j->seed = d->seed;
  j->dtype = d->dtype;
  j->device = d->device;
  j->protocol = st->protocol;
  j->windows = d->windows ? d->windows : st->windows;
  if (strcmp(j->protocol, "sliding") == 0) j->stride = st->stride > 0 ? st->stride : d->length / 2;
  if (strcmp(j->protocol, "decode") == 0) {
    j->prompt = st->prompt;
    j->warmup = st->warmup;
  }

  json_t *id = json_object(), *rope_id = NULL, *cache_id = NULL, *train_id = NULL;
  rope_id = matrix_variant_json(c, VK_ROPE, d->rope->variant, d->rope->member, VJ_IDENTITY, err);
  cache_id = rope_id ? matrix_variant_json(c, VK_CACHE, d->cache->variant, d->cache->member, VJ_IDENTITY, err) : NULL;
  if (cache_id && d->train->variant)
    train_id = matrix_variant_json(c, VK_TRAIN, d->train->variant, d->train->member, VJ_IDENTITY, err);
  j->rope_json = rope_id ? matrix_variant_json(c, VK_ROPE, d->rope->variant, d->rope->member, VJ_ENGINE, err) : NULL;
  if (!rope_id || !cache_id || (d->train->variant && !train_id) || !j->rope_json) {
    json_decref(id);
    json_decref(rope_id);
    json_decref(cache_id);
    json_decref(train_id);
    return -1;
  }
  j->cache_json = matrix_variant_json(c, VK_CACHE, d->cache->variant, d->cache->member, VJ_ENGINE, err);
  if (d->train->variant)
    j->train_json = matrix_variant_json(c, VK_TRAIN, d->train->variant, d->train->member, VJ_ENGINE, err);

  // identity
  json_object_set_new(id, "engine", json_string(ENGINE_NUMERICS_VERSION));
  if (d->model) add_fp(id, "model", matrix_model_fp(c, matrix_model_index(s, d->model)), &j->provisional);
  char *tok_fp;
  j->tokenizer_path = job_tokenizer(c, d, &tok_fp);
  if (tok_fp) add_fp(id, "tokenizer", tok_fp, &j->provisional);
  j->tokenizer_fp = tok_fp;
  add_fp(id, "dataset", matrix_dataset_fp(c, matrix_dataset_index(s, d->dataset)), &j->provisional);
  if (train_id) {
    const char *k;
    json_t *v;
    json_object_foreach(train_id, k, v) if (json_is_string(v) && matrix_is_missing(json_string_value(v))) j->provisional = 1;
  }
  json_object_set(id, "rope", rope_id);
  json_object_set_new(id, "cache", cache_id);
  set_num(id, "length", j->length);
  set_num(id, "seed", j->seed);
  json_object_set_new(id, "protocol", json_string(j->protocol));
  set_num(id, "windows", j->windows);
  if (j->stride) set_num(id, "stride", j->stride);
  if (strcmp(j->protocol, "decode") == 0) {
    set_num(id, "prompt", j->prompt);
    set_num(id, "warmup", j->warmup);
  }
  json_object_set_new(id, "dtype", json_string(j->dtype));
  if (device_class(j->device)) json_object_set_new(id, "device", json_string(device_class(j->device)));
  if (train_id) json_object_set(id, "train", train_id);
  j->identity = json_canonical(id);
  char hex[65];
  sha256_hex(j->identity, strlen(j->identity), hex);
  memcpy(j->id, hex, JOB_ID_HEX);
  j->id[JOB_ID_HEX] = 0;
  json_decref(id);

  // the trained model's own identity: recipe, frequencies, seed
  if (train_id) {
    json_t *t = json_object();
    json_object_set_new(t, "engine", json_string(ENGINE_NUMERICS_VERSION));
    json_object_set_new(t, "train", train_id);
    json_object_set(t, "rope", rope_id);
    set_num(t, "seed", j->seed);
    char *canon = json_canonical(t);
    sha256_hex(canon, strlen(canon), hex);
    memcpy(j->train_id, hex, JOB_ID_HEX);
    j->train_id[JOB_ID_HEX] = 0;
    free(canon);
    json_decref(t);
  }
  json_decref(rope_id);

  j->spec = draft_spec(c, d, j);

  j->inputs.model_path = d->model ? d->model->path : NULL;
  j->inputs.dataset_path = d->dataset->path;
  j->inputs.dataset_field = d->dataset->field;
  j->inputs.tokenizer_path = j->tokenizer_path;
  j->inputs.rope = j->rope_json;
  j->inputs.cache = j->cache_json;
  j->inputs.train = j->train_json;
  return 0;
}

// ---- phases ----
static int add_job(MatrixCtx *c, int pi, const Draft *d, int from_product, int *added, BenchErr *err) {
  Matrix *m = c->m;
  const Phase *ph = &c->s->phases[pi];
  if (c->count_only) {  // matrix_count: the entry, not the job
    (*added)++;
    c->counted++;
    return 0;
  }
  Job j;
  if (job_make(c, ph, d, &j, err) != 0) {
    job_free(&j);
    return -1;
  }
  int idx = matrix_find(m, j.id);
  if (idx < 0) {
    table_grow(m);
    if (m->n_jobs == c->jobs_cap) {
      c->jobs_cap = c->jobs_cap ? 2 * c->jobs_cap : 64;
      m->jobs = xrealloc(m->jobs, (size_t)c->jobs_cap * sizeof *m->jobs);
    }
    m->jobs[m->n_jobs] = j;
    idx = m->n_jobs++;
    table_insert(m, idx);
  } else {
    job_free(&j);
  }
  PhaseJobs *pj = &m->phases[pi];
  Job *job = &m->jobs[idx];
  // phases expand in order: a job this phase holds already has it last in its list
  if (job->n_phases > 0 && job->phases[job->n_phases - 1] == pi) {
    if (from_product)
      matrix_note(m, "phase '%s' holds job %s twice (as rope '%s'): it is listed once", ph->id,
                  job->id, d->rope->name);
    return 0;
  }
  if (pj->n_jobs == c->phase_cap) {
    c->phase_cap = c->phase_cap ? 2 * c->phase_cap : 64;
    pj->jobs = xrealloc(pj->jobs, (size_t)c->phase_cap * sizeof *pj->jobs);
    pj->specs = xrealloc(pj->specs, (size_t)c->phase_cap * sizeof *pj->specs);
  }
  pj->specs[pj->n_jobs] = job->n_phases == 0 ? json_incref(job->spec) : draft_spec(c, d, job);
  pj->jobs[pj->n_jobs++] = idx;
  job->phases = xrealloc(job->phases, (size_t)(job->n_phases + 1) * sizeof *job->phases);
  job->phases[job->n_phases++] = pi;
  (*added)++;
  return 0;
}

// Every job of the product of a's axes; exclude entries apply when hits != NULL (counting matches).
static int expand(MatrixCtx *c, int pi, const Axes *a, int *hits, int *added, BenchErr *err) {
  const Phase *ph = &c->s->phases[pi];
  enum { N = 9 };
  int count[N] = {a->n_models, a->n_datasets, a->n_train, a->n_rope, a->n_cache,
                  a->n_dtypes, a->n_devices, a->n_seeds, a->n_lengths};
  for (int k = 0; k < N; k++)
    if (count[k] == 0) return 0;
  int at[N] = {0};
  for (;;) {
    Draft d = {a->models[at[0]], a->datasets[at[1]], &a->train[at[2]], &a->rope[at[3]],
               &a->cache[at[4]], a->dtypes[at[5]], a->devices[at[6]], a->seeds[at[7]],
               a->lengths[at[8]], a->windows};
    int drop = 0;
    for (int e = 0; hits && e < ph->n_exclude; e++) {
      if (draft_matches(&d, &ph->exclude[e])) {
        hits[e]++;
        drop = 1;
      }
    }
    if (!drop && add_job(c, pi, &d, hits != NULL, added, err) != 0) return -1;
    int k = N - 1;
    while (k >= 0 && ++at[k] == count[k]) at[k--] = 0;
    if (k < 0) return 0;
  }
}

static int check_axes(const Suite *s, const Phase *ph, const Axes *a, BenchErr *err) {
  const char *empty = a->n_models == 0 ? "model" : a->n_datasets == 0 ? "dataset"
                    : a->n_rope == 0 ? "rope variant" : a->n_cache == 0 ? "cache policy"
                    : a->n_dtypes == 0 ? "dtype" : a->n_devices == 0 ? "device"
                    : a->n_seeds == 0 ? "seed" : a->n_lengths == 0 ? "length" : NULL;
  if (empty) return matrix_err_at(err, s, ph->mark, "phase '%s' has no %s (set it in the phase or in defaults)", ph->id, empty);
  if (!ph->settings.protocol) return matrix_err_at(err, s, ph->mark, "phase '%s' has no protocol", ph->id);
  if (ph->settings.windows < 1) return matrix_err_at(err, s, ph->mark, "phase '%s' has no windows", ph->id);
  return 0;
}

static int expand_phase(MatrixCtx *c, int pi, BenchErr *err) {
  const Suite *s = c->s;
  const Phase *ph = &s->phases[pi];
  c->m->phases[pi].phase = ph;
  c->phase_cap = 0;
  Axes a;
  int rc = axes_from_settings(s, ph, &a, err);
  if (rc == 0) rc = check_axes(s, ph, &a, err);
  int *hits = xcalloc((size_t)(ph->n_exclude ? ph->n_exclude : 1), sizeof *hits);
  int added = 0;
  if (rc == 0) rc = expand(c, pi, &a, hits, &added, err);
  for (int e = 0; rc == 0 && e < ph->n_exclude; e++)
    if (hits[e] == 0)
      matrix_note(c->m, "%s:%d:%d: phase '%s': exclude entry %d matches no job", s->path,
                  ph->exclude[e].mark.line, ph->exclude[e].mark.col, ph->id, e + 1);
  free(hits);
  axes_free(&a);
  for (int i = 0; rc == 0 && i < ph->n_include; i++) {
    Axes b;
    rc = axes_from_settings(s, ph, &b, err);
    if (rc == 0) rc = axes_override(s, &ph->include[i], &b, err);
    if (rc == 0) rc = check_axes(s, ph, &b, err);
    added = 0;
    if (rc == 0) rc = expand(c, pi, &b, NULL, &added, err);
    if (rc == 0 && added == 0)
      matrix_note(c->m, "%s:%d:%d: phase '%s': include entry %d adds no job (each is in the phase already)",
                  s->path, ph->include[i].mark.line, ph->include[i].mark.col, ph->id, i + 1);
    axes_free(&b);
  }
  return rc;
}

// Jobs a phase's product and include entries give at most: exclude entries and repeats ignored.
static double phase_bound(const Suite *s, const Phase *ph, BenchErr *err) {
  double total = 0;
  for (int i = -1; i < ph->n_include; i++) {
    Axes a;
    int rc = axes_from_settings(s, ph, &a, err);
    if (rc == 0 && i >= 0) rc = axes_override(s, &ph->include[i], &a, err);
    if (rc == 0)
      total += (double)a.n_models * a.n_datasets * a.n_train * a.n_rope * a.n_cache * a.n_dtypes *
               a.n_devices * a.n_seeds * a.n_lengths;
    axes_free(&a);
    if (rc != 0) return -1;
  }
  return total;
}

static void matrix_alloc(const Suite *s, Matrix *m) {
  memset(m, 0, sizeof *m);
  m->suite = s;
  int nm = s->n_models ? s->n_models : 1, nd = s->n_datasets ? s->n_datasets : 1;
  m->model_fp = xcalloc((size_t)nm, sizeof *m->model_fp);
  m->tokenizer_fp = xcalloc((size_t)nm, sizeof *m->tokenizer_fp);
  m->model_params = xmalloc((size_t)nm * sizeof *m->model_params);
  for (int i = 0; i < nm; i++) m->model_params[i] = -1;
  m->dataset_fp = xcalloc((size_t)nd, sizeof *m->dataset_fp);
  m->dataset_stats = xcalloc((size_t)nd, sizeof *m->dataset_stats);
  m->dataset_ok = xcalloc((size_t)nd, sizeof *m->dataset_ok);
  m->n_phases = s->n_phases;
  m->phases = xcalloc((size_t)(s->n_phases ? s->n_phases : 1), sizeof *m->phases);
}

double matrix_count(const Suite *s, double *per_phase, int *exact, BenchErr *err) {
  double bound = 0, total = 0;
  for (int pi = 0; pi < s->n_phases; pi++) {
    double b = phase_bound(s, &s->phases[pi], err);
    if (b < 0) return -1;
    if (per_phase) per_phase[pi] = b;
    bound += b;
  }
  *exact = bound <= MATRIX_COUNT_DRAFTS;
  if (!*exact) return bound;
  Matrix m;
  matrix_alloc(s, &m);
  MatrixCtx c = {s, &m, 0, 0, 1, 0};
  for (int pi = 0; pi < s->n_phases; pi++) {
    c.counted = 0;
    if (expand_phase(&c, pi, err) != 0) {
      matrix_free(&m);
      return -1;
    }
    if (per_phase) per_phase[pi] = (double)c.counted;
    total += (double)c.counted;
  }
  matrix_free(&m);
  return total;
}

int matrix_build(const Suite *s, Matrix *m, BenchErr *err) {
  int exact;
  double n = matrix_count(s, NULL, &exact, err);
  if (n < 0) return -1;
  if (n > MATRIX_MAX_JOBS) {
    char msg[BENCH_ERR_MAX];
    matrix_too_large(n, exact, msg, sizeof msg);
    return matrix_err_at(err, s, (Mark){0, 0}, "%s", msg);
  }
  matrix_alloc(s, m);
  MatrixCtx c = {s, m, 0, 0, 0, 0};
  for (int pi = 0; pi < s->n_phases; pi++) {
    if (expand_phase(&c, pi, err) != 0) {
      matrix_free(m);
      return -1;
    }
  }
  int missing_models = 0, missing_datasets = 0;
  for (int i = 0; i < s->n_models; i++)
    missing_models += ((m->model_fp[i] && matrix_is_missing(m->model_fp[i])) ||
                       (m->tokenizer_fp[i] && matrix_is_missing(m->tokenizer_fp[i]))) &&
                      !file_exists(s->models[i].path);
  for (int i = 0; i < s->n_datasets; i++)
    missing_datasets += m->dataset_fp[i] && matrix_is_missing(m->dataset_fp[i]) && !file_exists(s->datasets[i].path);
  if (missing_models || missing_datasets) {
    char what[128];
    if (missing_models && missing_datasets)
      snprintf(what, sizeof what, "%d model%s and %d dataset%s", missing_models, missing_models == 1 ? "" : "s",
               missing_datasets, missing_datasets == 1 ? "" : "s");
    else if (missing_models)
      snprintf(what, sizeof what, "%d model%s", missing_models, missing_models == 1 ? "" : "s");
    else
      snprintf(what, sizeof what, "%d dataset%s", missing_datasets, missing_datasets == 1 ? "" : "s");
    matrix_note(m, "job ids are provisional: %s the jobs use %s missing; the ids change once %s", what,
                missing_models + missing_datasets == 1 ? "is" : "are",
                missing_models + missing_datasets == 1 ? "it exists" : "they exist");
  }
  return 0;
}

void matrix_place_jobs(Matrix *m, const char *dflt) {
  for (int i = 0; i < m->n_jobs; i++) device_for_job(m->jobs[i].device, dflt, m->jobs[i].runs_on);
}

void matrix_free(Matrix *m) {
  const Suite *s = m->suite;
  for (int j = 0; j < m->n_jobs; j++) job_free(&m->jobs[j]);
  free(m->jobs);
  for (int p = 0; p < m->n_phases; p++) {
    for (int k = 0; k < m->phases[p].n_jobs; k++) json_decref(m->phases[p].specs[k]);
    free(m->phases[p].specs);
    free(m->phases[p].jobs);
  }
  free(m->phases);
  for (int i = 0; i < m->n_notes; i++) free(m->notes[i]);
  free(m->notes);
  int nm = s && s->n_models ? s->n_models : 1, nd = s && s->n_datasets ? s->n_datasets : 1;
  for (int i = 0; m->model_fp && i < nm; i++) {
    free(m->model_fp[i]);
    free(m->tokenizer_fp[i]);
  }
  for (int i = 0; m->dataset_fp && i < nd; i++) free(m->dataset_fp[i]);
  free(m->model_fp);
  free(m->tokenizer_fp);
  free(m->model_params);
  free(m->dataset_fp);
  free(m->dataset_stats);
  free(m->dataset_ok);
  free(m->slots);
  memset(m, 0, sizeof *m);
}
