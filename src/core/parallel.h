/* Internal: threads for element-wise loops over parameters and activations.
 * OpenMP shares its thread pool with BLIS (libblis-openmp), so these loops
 * add no threads of their own; without OpenMP they run serially. */
#ifndef MN_CORE_PARALLEL_H
#define MN_CORE_PARALLEL_H

#include <stdint.h>

#ifdef _OPENMP
#include <omp.h>
#define MN_PRAGMA(x) _Pragma(#x)
/* Put before a `for` over independent elements. */
#define MN_PARALLEL_FOR(threads) MN_PRAGMA(omp parallel for simd schedule(static) num_threads(threads))
/* The same, summing the listed variables over the loop (each thread a partial sum). */
#define MN_PARALLEL_FOR_SUM(threads, ...) MN_PRAGMA(omp parallel for simd schedule(static) num_threads(threads) reduction(+:__VA_ARGS__))
/* Put before a `for` over blocks of uneven size (e.g. a triangle's rows). */
#define MN_PARALLEL_FOR_BLOCKS(threads) MN_PRAGMA(omp parallel for schedule(static, 1) num_threads(threads))
/* Put before a `for` over blocks of equal size (image planes, rows): each
 * thread takes one contiguous run, so no two threads write the two ends of
 * one cache line (planes of 7x7 floats, round robin, did at every edge) and
 * each streams through memory in order. */
#define MN_PARALLEL_FOR_RANGES(threads) MN_PRAGMA(omp parallel for schedule(static) num_threads(threads))
/* Put before a `for` over tasks of uneven cost, biggest first: each thread
 * takes the next task when it finishes one. */
#define MN_PARALLEL_FOR_TASKS(threads) MN_PRAGMA(omp parallel for schedule(dynamic, 1) num_threads(threads))
#define MN_CRITICAL MN_PRAGMA(omp critical)
#else
#define MN_PARALLEL_FOR(threads)
#define MN_PARALLEL_FOR_SUM(threads, ...)
#define MN_PARALLEL_FOR_BLOCKS(threads)
#define MN_PARALLEL_FOR_RANGES(threads)
#define MN_PARALLEL_FOR_TASKS(threads)
#define MN_CRITICAL
#endif

/* `threads` <= 0 means every core (as for BLIS). */
static inline int mn_threads_resolve(int threads)
{
#ifdef _OPENMP
    return threads > 0 ? threads : omp_get_num_procs();
#else
    (void)threads;
    return 1;
#endif
}

/* Loops under 64k elements (tens of microseconds) stay on one thread
 * rather than pay a fork-join. */
static inline int mn_elementwise_threads(int threads, int64_t n)
{
    return n < (1 << 16) ? 1 : mn_threads_resolve(threads);
}

#endif
