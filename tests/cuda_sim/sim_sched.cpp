// sim_sched.cpp — the fiber scheduler of the CUDA simulator (see cuda_sim.h): a launch runs its
// blocks in order, each block's threads as fibers on the calling thread, switched by a small
// x86-64 context switch at synchronisation points. A lane waiting at a warp operation switches
// straight to the next runnable lane of its warp; the last lane to arrive releases the warp and
// goes on. A thread at __syncthreads or at its end switches straight to the next runnable thread
// in the block's order; only when none is left does the CPU go back to the scheduler, which
// releases what waits (or finds the deadlock). Each warp counts its lanes that wait and that
// ended, so no synchronisation scans the block. Also the launch checks and the fault path.
// The switching functions are CUDA_SIM_UNCHECKED (cuda_sim.h) and call no checked function but
// fault(), which ends the fiber: a checked function called from an unchecked one can leave the
// fiber stack's shadow stale (a false stack-use-after-scope in a later frame).
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

struct Fiber : Thread {
  void *sp = nullptr;
  char *stack = nullptr;  // usable stack [stack, stack + STACK_BYTES), a guard page below
  State state = READY;
  int warp = 0;
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

struct Warp {
  int lanes;    // threads of the block in this warp (32 but in a last, partial warp)
  int waiting;  // lanes at a warp operation
  int done;     // lanes that ended
};

struct Launch {
  const char *name = "";
  Config cfg{dim3(1), dim3(1)};
  Body body = nullptr;
  void *ctx = nullptr;
  uint3 block;
  char *smem = nullptr;
  size_t smem_bytes = 0;
  std::vector<Fiber> fibers;
  std::vector<Warp> warps;
  int nwarps = 0;
  std::vector<uint8_t> slots;  // [bank 2][warp][lane][64]
  bool from_scheduler = false;  // whether the scheduler (not another fiber) resumed the running one
  void *sched_sp = nullptr;
  void *sched_fake_stack = nullptr;
  const void *sched_stack_bottom = nullptr;
  size_t sched_stack_size = 0;
  bool faulted = false;
  std::string fault_msg;
};

Launch *g_launch = nullptr;  // the running launch (launches come from one host thread)
// The running fiber (g_thread, cuda_sim.h).
inline __attribute__((always_inline)) Fiber *current() { return static_cast<Fiber *>(g_thread); }
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
CUDA_SIM_UNCHECKED void resumed(void *fake_stack) {
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
CUDA_SIM_UNCHECKED void to_scheduler(bool dying) {
  Launch *L = g_launch;
  Fiber *f = current();
#if SIM_ASAN
  __sanitizer_start_switch_fiber(dying ? nullptr : &f->fake_stack, L->sched_stack_bottom,
                                 L->sched_stack_size);
#else
  (void)dying;
#endif
  sim_switch(&f->sp, L->sched_sp);
  resumed(f->fake_stack);
}

// The running fiber hands the CPU to another one, which runs until it waits or ends (dying: the
// running fiber never resumes).
CUDA_SIM_UNCHECKED void to_fiber(Fiber *next, bool dying) {
  Launch *L = g_launch;
  Fiber *f = current();
  g_thread = next;
  L->from_scheduler = false;
#if SIM_ASAN
  __sanitizer_start_switch_fiber(dying ? nullptr : &f->fake_stack, next->stack, STACK_BYTES);
#else
  (void)dying;
#endif
  sim_switch(&f->sp, next->sp);
  resumed(f->fake_stack);
}

// The next runnable thread after the running one in the block's order (NULL: none).
CUDA_SIM_UNCHECKED Fiber *next_in_block(Launch *L) {
  std::vector<Fiber> &fs = L->fibers;
  size_t me = (size_t)(current() - fs.data()), n = fs.size();
  if (g_reverse) {
    for (size_t i = me; i-- > 0;)
      if (fs[i].state == READY) return &fs[i];
  } else {
    for (size_t i = me + 1; i < n; i++)
      if (fs[i].state == READY) return &fs[i];
  }
  return nullptr;
}

// The running thread waits (state set) or ended: on to the next runnable thread of the block, or
// back to the scheduler.
CUDA_SIM_UNCHECKED void yield_block(bool dying) {
  Launch *L = g_launch;
  Fiber *next = next_in_block(L);
  if (next)
    to_fiber(next, dying);
  else
    to_scheduler(dying);
}

extern "C" void sim_fiber_main() {
  Launch *L = g_launch;
  resumed(nullptr);
  L->body(L->ctx);
  current()->state = DONE;
  L->warps[current()->warp].done++;
  yield_block(true);
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

CUDA_SIM_UNCHECKED void run_fiber(Launch *L, Fiber &f) {
  g_thread = &f;
  L->from_scheduler = true;
#if SIM_ASAN
  __sanitizer_start_switch_fiber(&L->sched_fake_stack, f.stack, STACK_BYTES);
#endif
  sim_switch(&L->sched_sp, f.sp);
#if SIM_ASAN
  __sanitizer_finish_switch_fiber(L->sched_fake_stack, nullptr, nullptr);
#endif
  g_thread = nullptr;
}

// Releases the fibers waiting at a synchronisation point that every participant reached; false
// (with a fault) when fibers wait and none can be released.
CUDA_SIM_UNCHECKED bool release(Launch *L) {
  std::vector<Fiber> &fs = L->fibers;
  // warps whose every lane waits at a warp operation (the last lane to arrive releases its warp
  // itself: none here but for a fault)
  for (int w = 0; w < L->nwarps; w++) {
    Warp &W = L->warps[w];
    if (W.waiting == 0) continue;
    size_t lo = (size_t)w * 32, hi = lo + (size_t)W.lanes;
    if (W.waiting + W.done == W.lanes) {
      L->faulted = true;
      L->fault_msg = std::string(fs[lo].state == DONE ? fs[hi - 1].waiting_for
                                                      : fs[lo].waiting_for) +
                     ": lanes of warp " + std::to_string(w) + " exited before it";
      return false;
    }
  }
  size_t at_block = 0, done = 0;
  for (Fiber &f : fs) at_block += f.state == AT_BLOCK_BARRIER;
  for (Warp &W : L->warps) done += (size_t)W.done;
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

// The first runnable thread in the block's order (NULL: none).
CUDA_SIM_UNCHECKED Fiber *first_ready(Launch *L) {
  size_t n = L->fibers.size();
  for (size_t k = 0; k < n; k++) {
    Fiber &f = L->fibers[g_reverse ? n - 1 - k : k];
    if (f.state == READY) return &f;
  }
  return nullptr;
}

void run_block(Launch *L) {
  if (L->smem) memset(L->smem, 0xff, L->smem_bytes);
  for (auto &v : g_static_shared) memset(v.first, 0xff, v.second);
  for (size_t i = 0; i < L->fibers.size(); i++) start_fiber(L->fibers[i], stack_for(i));
  for (Warp &W : L->warps) W.waiting = W.done = 0;
  for (;;) {
    // the threads hand the CPU on among themselves; it comes back here when the running one
    // finds none after it in the block's order that can run
    Fiber *f = first_ready(L);
    if (f) {
      run_fiber(L, *f);
      if (L->faulted) return;
      continue;
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

Thread *g_thread = nullptr;
Shape g_shape;

void launch_bounds(int max_threads, int) {
  const dim3 &b = g_shape.block_dim;
  if ((long)b.x * b.y * b.z > max_threads)
    fault("a block of %u threads exceeds the kernel's __launch_bounds__(%d)", b.x * b.y * b.z,
          max_threads);
}

CUDA_SIM_UNCHECKED void syncthreads() {
  Fiber *f = current();
  f->state = AT_BLOCK_BARRIER;
  f->waiting_for = "__syncthreads";
  yield_block(false);
}

CUDA_SIM_UNCHECKED void warp_sync(unsigned mask, const char *what) {
  Launch *L = g_launch;
  Fiber *f = current();
  if (mask != f->warp_mask)
    fault("%s with mask %#x: only whole-warp masks (%#x here) are simulated", what, mask,
          f->warp_mask);
  Warp &W = L->warps[f->warp];
  f->state = AT_WARP_SYNC;
  f->waiting_for = what;
  std::vector<Fiber> &fs = L->fibers;
  size_t lo = (size_t)f->warp * 32, n = (size_t)W.lanes, me = (size_t)(f - fs.data()) - lo;
  if (++W.waiting == W.lanes) {  // the last to arrive: the warp goes on, this lane first
    for (size_t i = lo; i < lo + n; i++) fs[i].state = READY;
    W.waiting = 0;
    return;
  }
  if (W.waiting + W.done == W.lanes) fault("%s: lanes of warp %d exited before it", what, f->warp);
  // the warp's next runnable lane in the block's order (lanes at __syncthreads wait there: on
  // through the block, and back to the scheduler, which finds the deadlock)
  for (size_t k = 1; k < n; k++) {
    size_t j = g_reverse ? (me + n - k) % n : (me + k) % n;
    if (fs[lo + j].state == READY) {
      to_fiber(&fs[lo + j], false);
      return;
    }
  }
  yield_block(false);
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
  current()->copies.push_back(Copy{dst, src});
}

void ptx_cp_async_close_group() {
  Fiber *f = current();
  f->group_ends.push_back(f->copies.size());
}

void ptx_cp_async_land(int keep) {
  Fiber *f = current();
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
  L.warps.resize((size_t)L.nwarps);
  L.slots.assign((size_t)2 * L.nwarps * 32 * 64, 0);
  for (int w = 0; w < L.nwarps; w++)
    L.warps[w].lanes = threads - (size_t)w * 32 < 32 ? (int)(threads - (size_t)w * 32) : 32;
  for (size_t i = 0; i < threads; i++) {
    Fiber &f = L.fibers[i];
    f.tid = make_uint3((unsigned)(i % c.block.x), (unsigned)(i / c.block.x % c.block.y),
                       (unsigned)(i / ((size_t)c.block.x * c.block.y)));
    f.lane = (int)(i % 32);
    f.warp = (int)(i / 32);
    int in_warp = L.warps[f.warp].lanes;
    f.warp_mask = in_warp == 32 ? 0xffffffffu : (1u << in_warp) - 1;
    for (int b = 0; b < 2; b++) f.slots[b] = &L.slots[((size_t)b * L.nwarps + f.warp) * 32 * 64];
  }
  g_shape.block_dim = c.block;
  g_shape.grid_dim = c.grid;
  g_shape.smem = L.smem;
  g_launch = &L;
  // blocks in order (reverse: from the last one; a kernel whose blocks depend on each other's
  // order is racy on a GPU, where they run concurrently)
  size_t nblocks = (size_t)c.grid.x * c.grid.y * c.grid.z;
  for (size_t k = 0; k < nblocks && !L.faulted; k++) {
    size_t i = g_reverse ? nblocks - 1 - k : k;
    L.block = g_shape.block = make_uint3((unsigned)(i % c.grid.x), (unsigned)(i / c.grid.x % c.grid.y),
                         (unsigned)(i / ((size_t)c.grid.x * c.grid.y)));
    run_block(&L);
  }
  g_launch = nullptr;
  g_thread = nullptr;
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
