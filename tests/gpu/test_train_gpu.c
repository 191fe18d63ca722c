// test_train_gpu.c — the CUDA trainer against the CPU reference trainer (engine/train/train.h), run by
// tests/gpu/run_gpu_tests.sh. Sections:
//   1. Steps: the first steps of tiny models from the same initial weights on the same batches,
//      cuda-fp32 and cuda-bf16 (simple and tensor-core attention) against cpu-fp32: the loss
//      and the gradient norm of every step (fp32: relative 1e-4; bf16: loss 5e-3, gradient norm
//      2e-2), and the weights after the last step.
//   2. Real text: a small model trained by train_run on the King James Bible (data/kjv) in
//      cuda-bf16: the loss falls; a run stopped and resumed gives the same weights, bit for
//      bit; the checkpoint it writes loads in the CPU evaluation engine, whose held-out NLL
//      agrees with the CUDA trainer's own (bf16: relative 1e-2).
// Usage: test_train_gpu [--device cuda:N|cpu] [--quick] [--tmp DIR]
// --device cpu puts the CPU tables in the CUDA tables' place (cpu-fp32 with several sequences
// per pass, and the bf16 emulation): a check of this program, in `make test`.
// Legend: L layers, C hidden, H/K heads, D head dim, F intermediate, V vocab, T tokens per
//         sequence, B sequences per step.
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend.h"
#include "forward.h"
#include "model.h"
#include "rope.h"
#include "tokenizer.h"
#include "train.h"
#include "train_check.h"
#include "train_emu_ops.h"
#include "train_internal.h"
#include "train_ops.h"

static const char *device = "cuda:0";
static int quick, gpu;
static char tmp_root[512] = "/tmp";

// The trainer under test for a compute (on --device cpu: the CPU table of the same types).
static TrainDevice dut(TrainCompute c, int attention) {
  TrainDevice d = {.compute = c, .attention = attention};
  if (!gpu) {
    d.compute = TRAIN_CPU_F32;
    d.ops = c == TRAIN_CUDA_BF16 ? train_emu_ops() : NULL;
    d.seqs_per_pass = 3;
  }
  return d;
}

static void row(int ok, const char *what, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void row(int ok, const char *what, const char *fmt, ...) {
  char d[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(d, sizeof d, fmt, ap);
  va_end(ap);
  tc_row(ok, what, d);
}

static int make_rope(const TrainConfig *c, const char *spec_text, RopeTable *rt) {
  json_t *spec = json_loads(spec_text, 0, NULL);
  RopeModelInfo info;
  train_rope_info(c, train_rope_theta(spec), &info);
  BenchErr err;
  int rc = rope_build(spec, &info, c->seq_len, rt, &err);
  if (rc) fprintf(stderr, "rope: %s\n", err.msg);
  json_decref(spec);
  return rc;
}

// ---- 1. steps against the CPU trainer ----
typedef struct {
  const char *name;
  int L, C, H, K, F, V, tied;
  long T, B;
} TinyShape;

static void steps_case(const TinyShape *sh, TrainCompute comp, int attention, const char *label,
                       double tol_loss, double tol_norm) {
  TrainConfig c;
  train_config_defaults(&c);
  c.n_layers = sh->L;
  c.hidden_size = sh->C;
  c.n_heads = sh->H;
  c.n_kv_heads = sh->K;
  c.intermediate_size = sh->F;
  c.vocab_size = sh->V;
  c.tie_embeddings = sh->tied;
  c.seq_len = sh->T;
  c.batch = sh->B;
  c.steps = 20;
  c.lr = 2e-3;
  c.warmup = 2;
  c.seed = 5;
  c.init_std = 0.1;
  RopeTable rt;
  if (make_rope(&c, "{\"name\":\"g\",\"type\":\"geometric\",\"theta\":10000}", &rt)) return;
  char what[160];
  snprintf(what, sizeof what, "steps %s %s vs cpu-fp32", sh->name, label);
  Trainer ref, t;
  BenchErr err;
  TrainDevice dref = {.compute = TRAIN_CPU_F32}, dd = dut(comp, attention);
  if (trainer_init_on(&ref, &c, &rt, &dref, &err)) {
    row(0, what, "cpu trainer: %s", err.msg);
    rope_table_free(&rt);
    return;
  }
  if (trainer_init_on(&t, &c, &rt, &dd, &err)) {
    row(0, what, "trainer: %s", err.msg);
    trainer_free(&ref);
    rope_table_free(&rt);
    return;
  }
  int steps = quick ? 2 : 5;
  double worst_l = 0, worst_n = 0;
  int failed = 0;
  char trail[512] = "";
  size_t tl = 0;
  Rng r;
  rng_seed(&r, 77);
  long n = sh->B * (sh->T + 1);
  int32_t *seqs = xmalloc(sizeof(int32_t) * (size_t)n);
  for (int s = 0; s < steps && !failed; s++) {
    for (long i = 0; i < n; i++) seqs[i] = (int32_t)rng_below(&r, (uint64_t)sh->V);
    TrainStepStats a, b;
    if (trainer_step(&ref, seqs, &a, &err) || trainer_step(&t, seqs, &b, &err)) {
      row(0, what, "step %d: %s", s + 1, err.msg);
      failed = 1;
      break;
    }
    double dl = fabs(b.loss - a.loss) / a.loss, dn = fabs(b.grad_norm - a.grad_norm) / a.grad_norm;
    if (!(dl <= worst_l)) worst_l = dl;
    if (!(dn <= worst_n)) worst_n = dn;
    if (tl < sizeof trail - 64)
      tl += (size_t)snprintf(trail + tl, sizeof trail - tl, " %.4f/%.4f", b.loss, a.loss);
  }
  if (!failed) {
    row(worst_l <= tol_loss && worst_n <= tol_norm, what,
        "%d steps: loss rel %.1e (tol %.0e), grad norm rel %.1e (tol %.0e); loss dev/cpu:%s",
        steps, worst_l, tol_loss, worst_n, tol_norm, trail);
    // the weights after the steps, relative to the size of what the steps changed
    if (trainer_to_host(&t, &err) == 0) {
      double dd2 = 0, moved = 0;
      for (size_t i = 0; i < t.n_params; i++) {
        double d = trainer_param(&t, i) - trainer_param(&ref, i);
        dd2 += d * d;
        moved += c.lr * c.lr;
      }
      double rel = sqrt(dd2 / moved);
      snprintf(what, sizeof what, "weights %s %s after the steps", sh->name, label);
      row(rel <= (comp == TRAIN_CUDA_F32 ? 1e-3 : 0.5), what,
          "RMS difference %.2e of the learning rate (tol %.0e)", rel,
          comp == TRAIN_CUDA_F32 ? 1e-3 : 0.5);
    } else {
      row(0, what, "download: %s", err.msg);
    }
  }
  free(seqs);
  trainer_free(&t);
  trainer_free(&ref);
  rope_table_free(&rt);
}

static void section_steps(void) {
  printf("\n## Steps against the CPU trainer\n\n");
  TinyShape tiny = {"tiny L2 C64 H4/2 D16 T64 B4", 2, 64, 4, 2, 96, 97, 1, 64, 4};
  TinyShape d64 = {"small L2 C128 H2/1 D64 T100 B3 untied", 2, 128, 2, 1, 256, 97, 0, 100, 3};
  steps_case(&tiny, TRAIN_CUDA_F32, TRAIN_ATTN_AUTO, "cuda-fp32", 1e-4, 1e-4);
  steps_case(&tiny, TRAIN_CUDA_BF16, TRAIN_ATTN_AUTO, "cuda-bf16 (simple attention)", 5e-3, 2e-2);
  steps_case(&d64, TRAIN_CUDA_F32, TRAIN_ATTN_AUTO, "cuda-fp32", 1e-4, 1e-4);
  steps_case(&d64, TRAIN_CUDA_BF16, TRAIN_ATTN_SIMPLE, "cuda-bf16 simple attention", 5e-3, 2e-2);
  steps_case(&d64, TRAIN_CUDA_BF16, TRAIN_ATTN_FLASH, "cuda-bf16 flash attention", 5e-3, 2e-2);
}

// ---- 2. real text ----
static int32_t *encode_file(const Tokenizer *tok, const char *path, size_t max_bytes, long *n,
                            BenchErr *err) {
  char *text;
  size_t len;
  if (read_file(path, 1 << 26, &text, &len, err)) return NULL;
  if (len > max_bytes) {
    len = max_bytes;
    while (len > 0 && ((unsigned char)text[len] & 0xC0) == 0x80) len--;  // whole characters
  }
  int32_t *ids = NULL;
  size_t k = 0;
  int rc = tokenizer_encode(tok, text, len, 0, &ids, &k, err);
  free(text);
  *n = (long)k;
  return rc ? NULL : ids;
}

static int files_equal(const char *a, const char *b) {
  char *x, *y;
  size_t nx, ny;
  BenchErr err;
  if (read_file(a, 1 << 28, &x, &nx, &err)) return 0;
  if (read_file(b, 1 << 28, &y, &ny, &err)) {
    free(x);
    return 0;
  }
  int eq = nx == ny && memcmp(x, y, nx) == 0;
  free(x);
  free(y);
  return eq;
}

// A model directory of an earlier run (its checkpoint folders, then its files).
static void remove_model_dir(const char *dir) {
  const char *sub[] = {"checkpoint", "checkpoint.old", "checkpoint.tmp", ""};
  BenchErr err;
  for (int i = 0; i < 4; i++) {
    char *d = sub[i][0] ? path_join(dir, sub[i]) : xstrdup(dir);
    if (train_remove_dir(d, &err)) fprintf(stderr, "test_train_gpu: %s\n", err.msg);
    free(d);
  }
}

static void section_text(void) {
  printf("\n## Real text (data/kjv)\n\n");
  BenchErr err;
  Tokenizer *tok = NULL;
  if (tokenizer_load("data/kjv/tokenizer.json", &tok, &err)) {
    row(0, "kjv tokenizer", "%s", err.msg);
    return;
  }
  long n_train = 0, n_val = 0;
  int32_t *train = encode_file(tok, "data/kjv/train.txt", quick ? 60000 : 700000, &n_train, &err);
  int32_t *val = train ? encode_file(tok, "data/kjv/valid.txt", 60000, &n_val, &err) : NULL;
  if (!train || !val) {
    row(0, "kjv text", "%s", err.msg);
    free(train);
    tokenizer_free(tok);
    return;
  }
  TrainConfig c;
  train_config_defaults(&c);
  c.n_layers = 2;
  c.hidden_size = 128;
  c.n_heads = 2;
  c.n_kv_heads = 2;
  c.intermediate_size = 384;
  c.vocab_size = tokenizer_vocab_size(tok);
  c.seq_len = quick ? 64 : 128;
  c.batch = quick ? 4 : 16;
  c.steps = quick ? 12 : 80;
  c.lr = 3e-3;
  c.min_lr = 3e-4;
  c.warmup = quick ? 2 : 8;
  c.seed = 3;
  const char *spec_text = "{\"name\":\"geo\",\"type\":\"geometric\",\"theta\":10000}";
  json_t *spec = json_loads(spec_text, 0, NULL);
  RopeTable rt;
  if (make_rope(&c, spec_text, &rt)) {
    json_decref(spec);
    free(train);
    free(val);
    tokenizer_free(tok);
    return;
  }
  char *da = xasprintf("%s/train_gpu_a", tmp_root), *db = xasprintf("%s/train_gpu_b", tmp_root);
  remove_model_dir(da);
  remove_model_dir(db);
  TrainRun run = {.train_ids = train, .n_train = n_train, .val_ids = val, .n_val = n_val,
                  .val_windows = 4, .eval_every = 0, .save_every = c.steps / 4,
                  .tokenizer_path = "data/kjv/tokenizer.json", .rope_spec = spec,
                  .rope_theta = 10000, .bos_token_id = -1, .eos_token_id = -1,
                  .device = dut(TRAIN_CUDA_BF16, TRAIN_ATTN_AUTO)};
  run.device.seqs_per_pass = gpu ? 0 : 5;  // on the CPU: passes of several sequences too
  TrainOutcome oa, ob;
  char what[160];
  snprintf(what, sizeof what, "kjv L2 C128 D64 %ld steps of %ld x %ld: loss falls", c.steps, c.batch,
           c.seq_len);
  run.dir = da;
  double t0 = mono_time();
  if (train_run(&c, &rt, &run, &oa, &err)) {
    row(0, what, "train_run: %s", err.msg);
  } else {
    double secs = mono_time() - t0;
    const json_t *curve = json_object_get(oa.record, "loss_curve");
    size_t nc = json_array_size(curve);
    double first = json_number_value(json_array_get(json_array_get(curve, 0), 1));
    double last = json_number_value(json_object_get(oa.record, "final_loss_avg10"));
    double fall = quick ? 0.5 : 2.0;
    row(nc == (size_t)c.steps && last < first - fall, what,
        "loss %.3f -> %.3f (mean of the last 10; needs a fall > %.1f), %.0f tokens/s, %.1f s, %s",
        first, last, fall, json_number_value(json_object_get(oa.record, "tokens_per_s")), secs,
        json_string_value(json_object_get(oa.record, "compute")));
    // stopped and resumed: the same weights bit for bit
    run.dir = db;
    run.stop_after = c.steps / 2 + 1;
    int rc = train_run(&c, &rt, &run, &ob, &err);
    run.stop_after = 0;
    if (rc == 0) rc = train_run(&c, &rt, &run, &ob, &err);
    snprintf(what, sizeof what, "kjv stopped and resumed: the same weights");
    if (rc) {
      row(0, what, "train_run: %s", err.msg);
    } else {
      char *ma = xasprintf("%s/model.safetensors", da), *mb = xasprintf("%s/model.safetensors", db);
      row(files_equal(ma, mb) && ob.resumed_from > 0, what,
          "resumed from step %ld; model.safetensors %s", ob.resumed_from,
          files_equal(ma, mb) ? "identical" : "DIFFERS");
      free(ma);
      free(mb);
      json_decref(ob.record);
    }
    // the checkpoint in the CPU evaluation engine
    snprintf(what, sizeof what, "kjv checkpoint in the CPU engine: held-out NLL");
    Model m;
    if (model_load(da, &m, &err)) {
      row(0, what, "model_load: %s", err.msg);
    } else {
      long T = c.seq_len, windows = 0;
      double sum = 0;
      float *nll = xmalloc(sizeof(float) * (size_t)T);
      uint8_t *cor = xmalloc((size_t)T);
      for (long w = 0; w < 4 && (w + 1) * T + 1 <= n_val; w++, windows++) {
        if (forward_score_window(&m, &rt, val + w * T, T + 1, 0, nll, cor, NULL, &err)) break;
        for (long i = 0; i < T; i++) sum += nll[i];
      }
      double cpu = windows ? sum / ((double)windows * T) : NAN;
      double dev = json_number_value(json_object_get(oa.record, "final_val_loss"));
      double rel = fabs(cpu - dev) / cpu;
      row(windows == 4 && rel <= 1e-2, what, "CPU fp32 engine %.5f, trainer (%s) %.5f, rel %.1e "
          "(tol 1e-02)", cpu, json_string_value(json_object_get(oa.record, "compute")), dev, rel);
      free(nll);
      free(cor);
      model_free(&m);
    }
    json_decref(oa.record);
  }
  free(da);
  free(db);
  json_decref(spec);
  rope_table_free(&rt);
  free(train);
  free(val);
  tokenizer_free(tok);
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);  // rows appear as they are checked, also in a log
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--device") == 0 && i + 1 < argc) device = argv[++i];
    else if (strcmp(argv[i], "--quick") == 0) quick = 1;
    else if (strcmp(argv[i], "--tmp") == 0 && i + 1 < argc) snprintf(tmp_root, sizeof tmp_root, "%s", argv[++i]);
    else {
      fprintf(stderr, "usage: test_train_gpu [--device cuda:N|cpu] [--quick] [--tmp DIR]\n");
      return 2;
    }
  }
  BenchErr err;
  gpu = strncmp(device, "cuda:", 5) == 0;
  if (!gpu && strcmp(device, "cpu") != 0) {
    fprintf(stderr, "test_train_gpu: device '%s' is neither cuda:N nor cpu\n", device);
    return 2;
  }
  if (gpu && backend_cuda_open(atoi(device + 5), &err)) {
    fprintf(stderr, "test_train_gpu: %s\n", err.msg);
    return 2;
  }
  printf("# CUDA trainer vs the CPU trainer (device under test: %s%s)\n", device,
         quick ? ", quick" : "");
  section_steps();
  section_text();
  if (gpu) backend_cuda_close();
  printf("\n%d passed, %d failed\n", tc_passed, tc_failed);
  return tc_failed ? 1 : 0;
}
