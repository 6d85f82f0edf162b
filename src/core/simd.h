/* Internal: one kernel compiled for several x86 targets. A function marked
 * MN_CLONES is built for the default target, AVX2 + FMA and AVX-512; the
 * loader resolves each call to the one the CPU runs (GNU ifunc). For loops
 * whose baseline (SSE2) code is far from the machine's width: the 16-lane
 * element-wise kernels (modules/vec16.h) and the bf16 rounding (bf16.c),
 * whose SSE2 form spends most of its instructions narrowing 32-bit lanes.
 * Static functions only: GCC emits a shared function's resolver with
 * default visibility, which -fvisibility=hidden does not reach (the
 * library would export it; tests/check_exports.sh). */
#ifndef MN_CORE_SIMD_H
#define MN_CORE_SIMD_H

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define MN_CLONES __attribute__((target_clones("avx512f", "avx2,fma", "default")))
#else
#define MN_CLONES
#endif

#endif
