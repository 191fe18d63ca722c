// test_doctor.c — the parts of the GPU check (cli/doctor/doctor.h) that run without a GPU: the
// bench doctor command a refused job names, the probe's token count, where the shipped model is
// found, and a check of a GPU that is not there failing with the reason, in this process and in a
// child (the path bench run's supervisor takes). The check itself: tests/gpu/gpu_check_sim.sh.
#include <stdlib.h>
#include <string.h>

#include "device.h"
#include "doctor.h"
#include "test.h"

TEST(doctor_command_names_the_gpu_dtypes_and_models) {
  DoctorModel m[3] = {{"a", "/m/a", "bf16"}, {"a", "/m/a", "fp32"}, {"b", "/m/b", "bf16"}};
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
  RUN(probe_tokens_shrink_for_large_models);
  RUN(root_from_the_environment);
  RUN(a_missing_gpu_is_an_error_in_this_process_and_in_a_child);
  TEST_SUMMARY();
}
