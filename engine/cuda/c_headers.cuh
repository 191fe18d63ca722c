// c_headers.cuh — lets the kernels' C++ translation units include the engine's C11 headers
// (util.h declares die_at _Noreturn). Included first by every launcher header.
#ifndef BENCH_C_HEADERS_CUH
#define BENCH_C_HEADERS_CUH
#if defined(__cplusplus) && !defined(_Noreturn)
#define _Noreturn [[noreturn]]
#endif
#endif
