// sim_sched.cpp — the fiber scheduler of the CUDA simulator (see cuda_sim.h): a launch runs its
// blocks in order, each block's threads as fibers on the calling thread, switched by a small
// x86-64 context switch at synchronisation points. A lane waiting at a warp operation switches
// straight to the next runnable lane of its warp (no trip through the scheduler); the last lane to
// arrive releases the warp and goes on. __syncthreads, the end of a thread and faults go back to
// the scheduler. Also the launch checks and the fault path.
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include <map>
#include <string>
#include <vector>

#include "cuda_sim.h"
#include "sim_internal.h"

#if defined(__SANITIZE_ADDRESS__)
#define SIM_ASAN 1
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#else
#define SIM_ASAN 0
#endif

#if !defined(__x86_64__)
#error "the CUDA simulator's context switch is written for x86-64"
#endif

// sim_switch(save, to): saves the callee-saved registers and the stack pointer into *save and
// resumes the context whose stack pointer is `to`.
extern "C" void sim_switch(void **save, void *to);
__asm__(
    ".text\n"
    ".globl sim_switch\n"
    ".type sim_switch,@function\n"
    "sim_switch:\n"
    "  pushq %rbp\n  pushq %rbx\n  pushq %r12\n  pushq %r13\n  pushq %r14\n  pushq %r15\n"
    "  movq %rsp, (%rdi)\n"
    "  movq %rsi, %rsp\n"
    "  popq %r15\n  popq %r14\n  popq %r13\n  popq %r12\n  popq %rbx\n  popq %rbp\n"
    "  ret\n"
    ".size sim_switch,.-sim_switch\n"
    ".section .note.GNU-stack,\"\",@progbits\n"
    ".text\n");

namespace cuda_sim {

namespace {

enum State { READY, AT_BLOCK_BARRIER, AT_WARP_SYNC, DONE };

struct Copy {
  void *dst;
  const void *src;  // NULL: zero fill
};

struct Fiber {
  void *sp = nullptr;
  char *stack = nullptr;  // usable stack [stack, stack + STACK_BYTES), a guard page below
  State state = READY;
  uint3 tid;
  int lane = 0, warp = 0;
  int bank = 0;  // the exchange slots' bank this lane uses next (cuda_sim.h, warp exchanges)
  unsigned warp_mask = 0;
  const char *waiting_for = "";
  std::vector<Copy> copies;        // cp.async issued and not landed, in order
  std::vector<size_t> group_ends;  // committed groups: end index into copies
  void *fake_stack = nullptr;      // AddressSanitizer's fake stack while switched out
};

#if SIM_ASAN
const size_t STACK_BYTES = 1u << 20;
#else
const size_t STACK_BYTES = 256u << 10;
#endif
const size_t PAGE = 4096;

struct Launch {
  const char *name = "";
  Config cfg{dim3(1), dim3(1)};
  Body body = nullptr;
  void *ctx = nullptr;
  uint3 block;
  char *smem = nullptr;
  size_t smem_bytes = 0;
  std::vector<Fiber> fibers;
  int nwarps = 0;
  std::vector<uint8_t> slots;  // [bank 2][warp][lane][64]
  Fiber *cur = nullptr;
  bool from_scheduler = false;  // whether the scheduler (not another lane) resumed `cur`
  void *sched_sp = nullptr;
  void *sched_fake_stack = nullptr;
  const void *sched_stack_bottom = nullptr;
  size_t sched_stack_size = 0;
  bool faulted = false;
  std::string fault_msg;
};

Launch *g_launch = nullptr;  // the running launch (launches come from one host thread)
std::vector<char *> g_stacks;  // reused between launches (one OS thread launches at a time)
std::map<const void *, int> g_max_dynamic_smem;
std::vector<std::pair<void *, size_t>> g_static_shared;  // registered __shared__ variables
bool g_reverse = false, g_order_read = false;

char *stack_for(size_t i) {
  while (g_stacks.size() <= i) {
    size_t bytes = STACK_BYTES + PAGE;
    void *m = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) {
      fprintf(stderr, "cuda_sim: cannot map a fiber stack\n");
      abort();
    }
    mprotect(m, PAGE, PROT_NONE);  // guard page: a stack overflow faults instead of corrupting
    g_stacks.push_back(static_cast<char *>(m) + PAGE);
  }
  return g_stacks[i];
}

// What a fiber does when it runs again (for AddressSanitizer: its fake stack back, and the
// scheduler's stack recorded when the scheduler is what resumed it).
void resumed(void *fake_stack) {
#if SIM_ASAN
  Launch *L = g_launch;
  const void *bottom;
  size_t size;
  __sanitizer_finish_switch_fiber(fake_stack, &bottom, &size);
  if (L->from_scheduler) {
    L->sched_stack_bottom = bottom;
    L->sched_stack_size = size;
  }
#else
  (void)fake_stack;
#endif
}

// Switches from the running fiber back to the scheduler (dying: the fiber never resumes).
void to_scheduler(bool dying) {
  Launch *L = g_launch;
  Fiber *f = L->cur;
#if SIM_ASAN
  __sanitizer_start_switch_fiber(dying ? nullptr : &f->fake_stack, L->sched_stack_bottom,
                                 L->sched_stack_size);
#else
  (void)dying;
#endif
  sim_switch(&f->sp, L->sched_sp);
  resumed(f->fake_stack);
}

// A lane hands the CPU to another lane of its warp, which runs until it waits or ends.
void to_lane(Fiber *next) {
  Launch *L = g_launch;
  Fiber *f = L->cur;
  L->cur = next;
  L->from_scheduler = false;
#if SIM_ASAN
  __sanitizer_start_switch_fiber(&f->fake_stack, next->stack, STACK_BYTES);
#endif
  sim_switch(&f->sp, next->sp);
  resumed(f->fake_stack);
}

extern "C" void sim_fiber_main() {
  Launch *L = g_launch;
  resumed(nullptr);
  L->body(L->ctx);
  L->cur->state = DONE;
  to_scheduler(true);
  abort();  // a dead fiber is never resumed
}

void start_fiber(Fiber &f, char *stack) {
  f.stack = stack;
  // Initial frame as sim_switch pops it: six callee-saved registers, then the "return address"
  // sim_fiber_main; above it a zero slot, so that sim_fiber_main starts with rsp ≡ 8 (mod 16)
  // as after a call.
  uintptr_t top = ((uintptr_t)(stack + STACK_BYTES)) & ~(uintptr_t)15;
  void **sp = reinterpret_cast<void **>(top);
  *--sp = nullptr;
  *--sp = reinterpret_cast<void *>(&sim_fiber_main);
  for (int i = 0; i < 6; i++) *--sp = nullptr;
  f.sp = sp;
  f.state = READY;
  f.bank = 0;
  f.copies.clear();
  f.group_ends.clear();
}

void run_fiber(Launch *L, Fiber &f) {
  L->cur = &f;
  L->from_scheduler = true;
#if SIM_ASAN
  __sanitizer_start_switch_fiber(&L->sched_fake_stack, f.stack, STACK_BYTES);
#endif
  sim_switch(&L->sched_sp, f.sp);
#if SIM_ASAN
  __sanitizer_finish_switch_fiber(L->sched_fake_stack, nullptr, nullptr);
#endif
  L->cur = nullptr;
}

// Releases the fibers waiting at a synchronisation point that every participant reached; false
// (with a fault) when fibers wait and none can be released.
bool release(Launch *L) {
  bool any = false;
  std::vector<Fiber> &fs = L->fibers;
  for (Fiber &f : fs)
    if (f.state == READY) return true;  // released by a lane of its warp, not yet resumed
  // warps whose every lane waits at a warp operation
  for (int w = 0; w < L->nwarps; w++) {
    size_t lo = (size_t)w * 32, hi = lo + 32 < fs.size() ? lo + 32 : fs.size();
    int waiting = 0, done = 0, n = (int)(hi - lo);
    for (size_t i = lo; i < hi; i++) {
      waiting += fs[i].state == AT_WARP_SYNC;
      done += fs[i].state == DONE;
    }
    if (waiting == 0) continue;
    if (waiting == n) {
      for (size_t i = lo; i < hi; i++) fs[i].state = READY;
      any = true;
    } else if (waiting + done == n) {
      L->faulted = true;
      L->fault_msg = std::string(fs[lo].state == DONE ? fs[hi - 1].waiting_for
                                                      : fs[lo].waiting_for) +
                     ": lanes of warp " + std::to_string(w) + " exited before it";
      return false;
    }
  }
  if (any) return true;
  size_t at_block = 0, done = 0;
  for (Fiber &f : fs) {
    at_block += f.state == AT_BLOCK_BARRIER;
    done += f.state == DONE;
  }
  if (at_block > 0 && at_block + done == fs.size()) {
    for (Fiber &f : fs)
      if (f.state == AT_BLOCK_BARRIER) f.state = READY;
    return true;
  }
  if (done == fs.size()) return false;
  L->faulted = true;
  L->fault_msg = "deadlock: " + std::to_string(at_block) + " threads at __syncthreads, " +
                 std::to_string(fs.size() - at_block - done) +
                 " at a warp operation of a warp whose other lanes wait at __syncthreads, " +
                 std::to_string(done) + " exited";
  return false;
}

void run_block(Launch *L) {
  if (L->smem) memset(L->smem, 0xff, L->smem_bytes);
  for (auto &v : g_static_shared) memset(v.first, 0xff, v.second);
  for (size_t i = 0; i < L->fibers.size(); i++) start_fiber(L->fibers[i], stack_for(i));
  size_t n = L->fibers.size();
  for (;;) {
    for (size_t k = 0; k < n; k++) {
      Fiber &f = L->fibers[g_reverse ? n - 1 - k : k];
      if (f.state != READY) continue;
      run_fiber(L, f);
      if (L->faulted) return;
    }
    if (!release(L)) return;
  }
}

}  // namespace

// ---- what the kernels see ----

bool register_shared(void *p, size_t bytes) {
  g_static_shared.emplace_back(p, bytes);
  return true;
}

const uint3 &thread_idx() { return g_launch->cur->tid; }
const uint3 &block_idx() { return g_launch->block; }
const dim3 &block_dim() { return g_launch->cfg.block; }
const dim3 &grid_dim() { return g_launch->cfg.grid; }
void *dynamic_smem() { return g_launch->smem; }

void launch_bounds(int max_threads, int) {
  const dim3 &b = g_launch->cfg.block;
  if ((long)b.x * b.y * b.z > max_threads)
    fault("a block of %u threads exceeds the kernel's __launch_bounds__(%d)", b.x * b.y * b.z,
          max_threads);
}

void syncthreads() {
  g_launch->cur->state = AT_BLOCK_BARRIER;
  g_launch->cur->waiting_for = "__syncthreads";
  to_scheduler(false);
}

int lane_id() { return g_launch->cur->lane; }

void *lane_slot(int lane) {
  Launch *L = g_launch;
  Fiber *f = L->cur;
  return &L->slots[(((size_t)f->bank * L->nwarps + (size_t)f->warp) * 32 + (size_t)(lane & 31)) * 64];
}

void warp_exchange_end() { g_launch->cur->bank ^= 1; }

void warp_sync(unsigned mask, const char *what) {
  Launch *L = g_launch;
  Fiber *f = L->cur;
  if (mask != f->warp_mask)
    fault("%s with mask %#x: only whole-warp masks (%#x here) are simulated", what, mask,
          f->warp_mask);
  f->state = AT_WARP_SYNC;
  f->waiting_for = what;
  std::vector<Fiber> &fs = L->fibers;
  size_t lo = (size_t)f->warp * 32, hi = lo + 32 < fs.size() ? lo + 32 : fs.size();
  size_t n = hi - lo, me = (size_t)(f - fs.data()) - lo, waiting = 0, done = 0;
  for (size_t i = lo; i < hi; i++) {
    waiting += fs[i].state == AT_WARP_SYNC;
    done += fs[i].state == DONE;
  }
  if (waiting == n) {  // the last to arrive: the warp goes on, this lane first
    for (size_t i = lo; i < hi; i++) fs[i].state = READY;
    return;
  }
  if (waiting + done == n) fault("%s: lanes of warp %d exited before it", what, f->warp);
  // the warp's next runnable lane in the block's order (lanes at __syncthreads wait there: back
  // to the scheduler, which finds the deadlock)
  for (size_t k = 1; k < n; k++) {
    size_t j = g_reverse ? (me + n - k) % n : (me + k) % n;
    if (fs[lo + j].state == READY) {
      to_lane(&fs[lo + j]);
      return;
    }
  }
  to_scheduler(false);
}

void fault(const char *fmt, ...) {
  Launch *L = g_launch;
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  L->faulted = true;
  L->fault_msg = msg;
  to_scheduler(true);
  abort();
}

bool in_dynamic_smem(const void *p, size_t bytes) {
  Launch *L = g_launch;
  const char *c = static_cast<const char *>(p);
  return L->smem && c >= L->smem && c + bytes <= L->smem + L->smem_bytes;
}

// ---- cp.async: copies land at the wait that covers their group ----

void ptx_cp_async_push(void *dst, const void *src) {
  g_launch->cur->copies.push_back(Copy{dst, src});
}

void ptx_cp_async_close_group() {
  Fiber *f = g_launch->cur;
  f->group_ends.push_back(f->copies.size());
}

void ptx_cp_async_land(int keep) {
  Fiber *f = g_launch->cur;
  if ((int)f->group_ends.size() <= keep) return;
  size_t upto = f->group_ends[f->group_ends.size() - 1 - (size_t)keep];
  for (size_t i = 0; i < upto; i++) {
    if (f->copies[i].src)
      memcpy(f->copies[i].dst, f->copies[i].src, 16);
    else
      memset(f->copies[i].dst, 0, 16);
  }
  f->copies.erase(f->copies.begin(), f->copies.begin() + (long)upto);
  f->group_ends.erase(f->group_ends.begin(), f->group_ends.end() - keep);
  for (size_t &e : f->group_ends) e -= upto;
}

// ---- launches ----

void set_max_dynamic_smem(const void *kernel, int bytes) { g_max_dynamic_smem[kernel] = bytes; }

void launch(const void *kernel, const char *name, const Config &c, Body body, void *ctx) {
  if (!g_order_read) {
    const char *o = getenv("CUDA_SIM_ORDER");
    g_reverse = o && strcmp(o, "reverse") == 0;
    g_order_read = true;
  }
  if (sim_sticky_error() != cudaSuccess) return;
  size_t threads = (size_t)c.block.x * c.block.y * c.block.z;
  if (threads == 0 || threads > 1024 || c.block.z > 64 || c.grid.x == 0 || c.grid.y == 0 ||
      c.grid.z == 0 || c.grid.y > 65535 || c.grid.z > 65535 || c.grid.x > 0x7fffffffu) {
    sim_launch_error(cudaErrorInvalidConfiguration, name,
                     "grid (%u, %u, %u), block (%u, %u, %u)", c.grid.x, c.grid.y, c.grid.z,
                     c.block.x, c.block.y, c.block.z);
    return;
  }
  auto lim = g_max_dynamic_smem.find(kernel);
  size_t smem_limit = lim == g_max_dynamic_smem.end() ? 48u << 10 : (size_t)lim->second;
  if (c.smem > smem_limit || c.smem > 227u << 10) {
    sim_launch_error(cudaErrorInvalidValue, name,
                     "%zu bytes of dynamic shared memory, the kernel's limit is %zu", c.smem,
                     smem_limit);
    return;
  }
  static Launch L;  // reused: its vectors keep their capacity from launch to launch
  if (g_launch) {
    fprintf(stderr, "cuda_sim: a launch from inside a kernel (%s) is not simulated\n", name);
    abort();
  }
  L.faulted = false;
  L.fault_msg.clear();
  L.name = name;
  L.cfg = c;
  L.body = body;
  L.ctx = ctx;
  L.smem_bytes = c.smem;
  L.smem = nullptr;  // exactly c.smem bytes: AddressSanitizer sees a store past the end
  if (c.smem && posix_memalign(reinterpret_cast<void **>(&L.smem), 128, c.smem) != 0) {
    fprintf(stderr, "cuda_sim: cannot allocate %zu bytes of shared memory\n", c.smem);
    abort();
  }
  L.fibers.resize(threads);
  L.nwarps = (int)((threads + 31) / 32);
  L.slots.assign((size_t)2 * L.nwarps * 32 * 64, 0);
  for (size_t i = 0; i < threads; i++) {
    Fiber &f = L.fibers[i];
    f.tid = make_uint3((unsigned)(i % c.block.x), (unsigned)(i / c.block.x % c.block.y),
                       (unsigned)(i / ((size_t)c.block.x * c.block.y)));
    f.lane = (int)(i % 32);
    f.warp = (int)(i / 32);
    size_t in_warp = threads - (size_t)f.warp * 32 < 32 ? threads - (size_t)f.warp * 32 : 32;
    f.warp_mask = in_warp == 32 ? 0xffffffffu : (1u << in_warp) - 1;
  }
  g_launch = &L;
  // blocks in order (reverse: from the last one; a kernel whose blocks depend on each other's
  // order is racy on a GPU, where they run concurrently)
  size_t nblocks = (size_t)c.grid.x * c.grid.y * c.grid.z;
  for (size_t k = 0; k < nblocks && !L.faulted; k++) {
    size_t i = g_reverse ? nblocks - 1 - k : k;
    L.block = make_uint3((unsigned)(i % c.grid.x), (unsigned)(i / c.grid.x % c.grid.y),
                         (unsigned)(i / ((size_t)c.grid.x * c.grid.y)));
    run_block(&L);
  }
  g_launch = nullptr;
  free(L.smem);
#if SIM_ASAN
  // the frames of fibers abandoned by a fault stay poisoned: clear them before the stacks are
  // reused (a fiber that finished unwound its frames itself)
  if (L.faulted)
    for (size_t i = 0; i < threads && i < g_stacks.size(); i++)
      __asan_unpoison_memory_region(g_stacks[i], STACK_BYTES);
#endif
  if (L.faulted)
    sim_kernel_fault(name, "block (%u, %u, %u): %s", L.block.x, L.block.y, L.block.z,
                     L.fault_msg.c_str());
}

}  // namespace cuda_sim

void cuda_sim_set_reverse(bool reverse) {
  cuda_sim::g_reverse = reverse;
  cuda_sim::g_order_read = true;
}
