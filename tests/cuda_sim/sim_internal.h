// sim_internal.h — what the CUDA simulator's parts (sim_sched.cpp, sim_ptx.cpp, sim_runtime.cpp,
// sim_cublaslt.cpp) share; the kernels see only cuda_sim.h.
#ifndef BENCH_SIM_INTERNAL_H
#define BENCH_SIM_INTERNAL_H

#include <cuda_runtime.h>
#include <stddef.h>

namespace cuda_sim {

// The sticky error of a faulted kernel (cudaSuccess while none).
cudaError_t sim_sticky_error();
// A launch refused before it ran (returned once by cudaGetLastError), with a message on stderr.
void sim_launch_error(cudaError_t e, const char *kernel, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
// A kernel that faulted while running: the error becomes sticky, a message goes to stderr.
void sim_kernel_fault(const char *kernel, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

void set_max_dynamic_smem(const void *kernel, int bytes);
bool in_dynamic_smem(const void *p, size_t bytes);

// The running thread's cp.async queue: push a 16-byte copy (src NULL: zeros), close a group,
// land every group but the `keep` most recent.
void ptx_cp_async_push(void *dst, const void *src);
void ptx_cp_async_close_group();
void ptx_cp_async_land(int keep);

// Whether [p, p + bytes) lies in one live device allocation (sim_runtime.cpp).
bool is_device_range(const void *p, size_t bytes);

}  // namespace cuda_sim

#endif
