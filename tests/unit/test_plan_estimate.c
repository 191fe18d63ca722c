// test_plan_estimate.c — what `bench plan` estimates a job to need in memory: the workspace of a
// one-pass window follows the engine, which reads windows longer than FORWARD_BLOCK_TOKENS in
// blocks (forward.c), so it stops growing past one block; the KV cache keeps growing.
#include <string.h>

#include "forward.h"
#include "plan_estimate.h"
#include "test.h"

// An 8B Llama-3 shape (L 32, C 4096, H 32, K 8, D 128, F 14336, V 128256).
static ModelShape llama8b(void) {
  ModelShape s;
  memset(&s, 0, sizeof s);
  s.known = 1;
  s.max_positions = 131072;
  s.layers = 32;
  s.hidden = 4096;
  s.heads = 32;
  s.kv_heads = 8;
  s.head_dim = 128;
  s.intermediate = 14336;
  s.vocab = 128256;
  s.params = 8.03e9;
  return s;
}

static JobCost cost_at(const ModelShape *s, const char *protocol, long length, long prompt) {
  Job j;
  memset(&j, 0, sizeof j);
  j.length = length;
  j.windows = 1;
  j.protocol = protocol;
  j.prompt = prompt;
  j.dtype = "bf16";
  JobCost c;
  job_cost(&j, s, 0, &c);
  return c;
}

TEST(one_pass_workspace_stops_growing_past_one_block) {
  ModelShape s = llama8b();
  JobCost at_block = cost_at(&s, "ppl", FORWARD_BLOCK_TOKENS, 0);
  JobCost at_8x = cost_at(&s, "ppl", 8L * FORWARD_BLOCK_TOKENS, 0);
  JobCost half = cost_at(&s, "ppl", FORWARD_BLOCK_TOKENS / 2, 0);
  EXPECT(at_block.work_bytes > 0);
  EXPECT(half.work_bytes < at_block.work_bytes);       // below one block: grows with the window
  EXPECT(at_8x.work_bytes == at_block.work_bytes);     // past it: one block's activations
  EXPECT(at_8x.kv_bytes == 8 * at_block.kv_bytes);     // the KV cache holds every token
}

TEST(decode_workspace_follows_the_prompt) {
  ModelShape s = llama8b();
  JobCost p1 = cost_at(&s, "decode", 4096, 1024), p2 = cost_at(&s, "decode", 4096, 2048);
  EXPECT(p2.work_bytes > p1.work_bytes);
}

// On the CPU the attention holds a tiled copy of one layer's keys and values beside the cache:
// the workspace counts it (fp32), the GPU's does not.
TEST(cpu_workspace_holds_one_layer_of_tiled_keys) {
  ModelShape s = llama8b();
  Job j;
  memset(&j, 0, sizeof j);
  j.length = 32768;
  j.windows = 1;
  j.protocol = "ppl";
  j.dtype = "bf16";
  JobCost gpu, cpu;
  job_cost(&j, &s, 0, &gpu);
  job_cost(&j, &s, 1, &cpu);
  EXPECT(cpu.kv_bytes == 2 * gpu.kv_bytes);  // fp32 on the CPU
  EXPECT_NEAR(cpu.work_bytes - gpu.work_bytes, cpu.kv_bytes / s.layers, 1e-12, 0);
}

int main(void) {
  RUN(one_pass_workspace_stops_growing_past_one_block);
  RUN(cpu_workspace_holds_one_layer_of_tiled_keys);
  RUN(decode_workspace_follows_the_prompt);
  TEST_SUMMARY();
}
