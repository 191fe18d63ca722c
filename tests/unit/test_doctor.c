// test_doctor.c — the parts of the GPU check (cli/doctor/doctor.h) that run without a GPU: the
// bench doctor command a refused job names, the cache key, the probe's text and token count, where
// the shipped model is found, and a check of a GPU that is not there failing with the reason, in this process and in a
// child (the path bench run's supervisor takes). The check itself: tests/gpu/gpu_check_sim.sh.
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "device.h"
#include "doctor.h"
#include "test.h"

TEST(doctor_command_names_the_gpu_dtypes_and_models) {
  DoctorModel m[3] = {{.name = "a", .dir = "/m/a", .dtype = "bf16"}, {.name = "a", .dir = "/m/a", .dtype = "fp32"},
                      {.name = "b", .dir = "/m/b", .dtype = "bf16"}};
  DoctorRequest rq = {.gpu = 2, .models = m, .n_models = 3};
  char buf[256];
  doctor_command(&rq, buf, sizeof buf);
  EXPECT_STR_EQ(buf, "bench doctor --device cuda:2 --dtype bf16,fp32 /m/a /m/b");
  rq.n_models = 1;
  doctor_command(&rq, buf, sizeof buf);
  EXPECT_STR_EQ(buf, "bench doctor --device cuda:2 /m/a");  // bf16 is the default
  rq.n_models = 0;
  doctor_command(&rq, buf, sizeof buf);
  EXPECT_STR_EQ(buf, "bench doctor --device cuda:2");
  // the probe's text: named when every model reads the same one (else each falls back to its own)
  m[0].data = m[1].data = m[2].data = "/d/pg19.jsonl";
  rq.n_models = 3;
  doctor_command(&rq, buf, sizeof buf);
  EXPECT_STR_EQ(buf, "bench doctor --device cuda:2 --dtype bf16,fp32 --data /d/pg19.jsonl /m/a /m/b");
  m[2].data = "/d/other.txt";
  doctor_command(&rq, buf, sizeof buf);
  EXPECT_STR_EQ(buf, "bench doctor --device cuda:2 --dtype bf16,fp32 /m/a /m/b");
}

// The cache key covers the card itself: two cards of one model (the same name) are checked apart,
// and so are a driver, runtime, commit or binary change; part 3 adds the model and dtype.
TEST(cache_key_is_per_card_driver_runtime_build_and_model) {
  GpuCheckIdentity a = {"NVIDIA H100 80GB HBM3", "GPU-1b2e0f3a-0000-4c1d-9e2f-0123456789ab", "550.54.15",
                        12040, 12040, "48e5d83eac72", 8017512, 1700000000};
  char *base = doctor_cache_key(&a);
  char *same = doctor_cache_key(&a);
  EXPECT_STR_EQ(base, same);
  EXPECT_CONTAINS(base, a.gpu_uuid);
  GpuCheckIdentity other[7];
  for (int k = 0; k < 7; k++) other[k] = a;
  other[0].gpu_uuid = "GPU-77aa0f3a-0000-4c1d-9e2f-0123456789ab";  // a second card of the same model
  other[1].gpu_name = "NVIDIA A100-SXM4-80GB";
  other[2].nvidia_driver = "550.90.07";                             // same CUDA version, other driver
  other[3].cuda_driver = 12050;
  other[4].cuda_runtime = 12060;
  other[5].commit = "6a81460b113f";
  other[6].exe_mtime = 1700000001;                                  // rebuilt at the same commit
  for (int k = 0; k < 7; k++) {
    char *o = doctor_cache_key(&other[k]);
    EXPECT(strcmp(o, base) != 0);
    free(o);
  }
  char *m1 = doctor_model_key(base, "aa11", "bf16"), *m2 = doctor_model_key(base, "aa11", "fp16"),
       *m3 = doctor_model_key(base, "bb22", "bf16"), *m1b = doctor_model_key(base, "aa11", "bf16");
  EXPECT(strcmp(m1, m2) != 0 && strcmp(m1, m3) != 0 && strcmp(m1, base) != 0);
  EXPECT_STR_EQ(m1, m1b);
  EXPECT(strncmp(m1, base, strlen(base)) == 0);  // the card's key, then the model's
  free(m1);
  free(m2);
  free(m3);
  free(m1b);
  free(base);
  free(same);
}

// Part 3 reads the text the model's jobs run on; a dataset it cannot score falls back to
// data/kjv/valid.txt, and the label says which text and why.
TEST(probe_reads_the_jobs_dataset_and_falls_back_to_kjv_saying_why) {
  Model m;
  BenchErr err;
  if (model_load("models/quickstart", &m, &err) != 0) TEST_FAIL_AT("%s", err.msg);
  long T = 65;
  char dir[] = "/tmp/test_doctor.XXXXXX";
  EXPECT(mkdtemp(dir) != NULL);
  char *own = path_join(dir, "own.txt"), *tiny = path_join(dir, "tiny.txt"), *gone = path_join(dir, "gone.txt");
  char *text;
  size_t len;
  EXPECT(read_file("data/kjv/train.txt", 1 << 28, &text, &len, &err) == 0);
  EXPECT(write_file_atomic(own, text + len / 2, 20000, &err) == 0);  // other verses than valid.txt's
  free(text);
  EXPECT(write_file_atomic(tiny, "In the beginning", 16, &err) == 0);
  ProbeText txt;
  EvalResult kjv, r;

  DoctorModel none = {.name = "quickstart", .dir = "models/quickstart", .dtype = "bf16"};
  EXPECT_INT_EQ(probe_reference(&m, &none, ".", T, &txt, &kjv, &err), 0);
  EXPECT_STR_EQ(txt.label, "data/kjv/valid.txt");
  EXPECT_INT_EQ(kjv.tokens, T - 1);
  probe_text_free(&txt);

  DoctorModel mine = {"quickstart", "models/quickstart", "bf16", .data = own, .data_name = "own"};
  EXPECT_INT_EQ(probe_reference(&m, &mine, ".", T, &txt, &r, &err), 0);
  EXPECT_STR_EQ(txt.label, "dataset 'own'");
  EXPECT_STR_EQ(txt.short_name, "own");
  EXPECT_INT_EQ(r.tokens, T - 1);
  EXPECT(memcmp(r.token_nll, kjv.token_nll, (size_t)(T - 1) * sizeof *r.token_nll) != 0);  // its own text
  eval_result_free(&r);
  probe_text_free(&txt);

  const char *fallbacks[2][2] = {{tiny, "tiny"}, {gone, "gone"}};
  for (int k = 0; k < 2; k++) {
    DoctorModel dm = {"quickstart", "models/quickstart", "bf16", .data = fallbacks[k][0], .data_name = fallbacks[k][1]};
    EXPECT_INT_EQ(probe_reference(&m, &dm, ".", T, &txt, &r, &err), 0);
    char want[64];
    snprintf(want, sizeof want, "data/kjv/valid.txt (dataset '%s' not used: ", fallbacks[k][1]);
    EXPECT(strncmp(txt.label, want, strlen(want)) == 0);
    EXPECT_STR_EQ(txt.short_name, "data/kjv/valid.txt");
    EXPECT(memcmp(r.token_nll, kjv.token_nll, (size_t)(T - 1) * sizeof *r.token_nll) == 0);
    eval_result_free(&r);
    probe_text_free(&txt);
  }
  DoctorModel lost = {"quickstart", "models/quickstart", "bf16", .data = gone, .data_name = "gone"};
  EXPECT_INT_EQ(probe_reference(&m, &lost, NULL, T, &txt, &r, &err), -1);  // no root: no fallback
  EXPECT_CONTAINS(err.msg, "BENCH_ROOT");
  EXPECT_CONTAINS(err.msg, "gone");
  eval_result_free(&kjv);
  model_free(&m);
  unlink(own);
  unlink(tiny);
  rmdir(dir);
  free(own);
  free(tiny);
  free(gone);
}

TEST(probe_tokens_shrink_for_large_models) {
  EXPECT_INT_EQ(doctor_probe_tokens(1000000), DOCTOR_PROBE_TOKENS);
  EXPECT_INT_EQ(doctor_probe_tokens(8000000000LL), 128);
}

TEST(root_from_the_environment) {
  setenv("BENCH_ROOT", "/somewhere", 1);
  char *r = doctor_root();
  EXPECT_STR_EQ(r, "/somewhere");
  free(r);
  unsetenv("BENCH_ROOT");
}

TEST(a_missing_gpu_is_an_error_in_this_process_and_in_a_child) {
  if (device_gpu_count() > 0) return;  // a machine with a GPU: the GPU tests check it
  DoctorRequest rq = {.gpu = 0};
  DoctorOutcome *o = calloc(1, sizeof *o);
  BenchErr err;
  EXPECT_INT_EQ(doctor_check_gpu_child(&rq, o, &err), -1);
  EXPECT_CONTAINS(err.msg, "cuda");
  EXPECT_INT_EQ(doctor_check_gpu(&rq, o, &err), -1);
  EXPECT_CONTAINS(err.msg, "cuda");
  free(o);
}

int main(void) {
  RUN(doctor_command_names_the_gpu_dtypes_and_models);
  RUN(cache_key_is_per_card_driver_runtime_build_and_model);
  RUN(probe_reads_the_jobs_dataset_and_falls_back_to_kjv_saying_why);
  RUN(probe_tokens_shrink_for_large_models);
  RUN(root_from_the_environment);
  RUN(a_missing_gpu_is_an_error_in_this_process_and_in_a_child);
  TEST_SUMMARY();
}
