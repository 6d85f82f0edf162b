/* Internal: the one file that calls oneDNN (built with -Donednn, Debian's
 * libdnnl-dev). Its matmul primitive runs C = A·B (+ C) with bfloat16 or
 * float32 operands and a float32 result: the bf16 products (bf16.h) and,
 * on AVX-512 CPUs, the float32 products Linear runs (core/gemm.c). One
 * primitive per shape, layout, operand type, beta and thread count, created
 * at its first call and cached (thread-safe, never evicted: a training run
 * uses a few dozen, up to four per float32 shape for its tiles). Built
 * without oneDNN, nothing is available and every product reports
 * MN_ERR_UNSUPPORTED. */
#ifndef MN_CORE_ONEDNN_H
#define MN_CORE_ONEDNN_H

#include <stdbool.h>
#include <stdint.h>

#include "modnorm/tensor.h"

typedef enum mn_onednn_type { MN_ONEDNN_BF16, MN_ONEDNN_F32 } mn_onednn_type;

/* An operand: element (i, j) at data[i·rs + j·cs], strides positive, one
 * of them 1, the other at least the extent it steps over (no overlap). */
typedef struct mn_onednn_operand {
    int64_t rs, cs;
    const void *data;
} mn_onednn_operand;

/* Whether products with `type` operands run through oneDNN on this CPU:
 * bf16 where it has AVX512-BF16 or AMX-BF16; float32 where it has AVX-512
 * (avx512_core), on which oneDNN's brgemm kernels ran the GPT's Linear
 * shapes at width 128 0.97-1.48x as fast as BLIS's skx kernels on one
 * thread and 1.08-1.41x on two, the MLP's 1.13-1.66x (bench/onednn_f32.c;
 * results/gpt-speed/onednn-f32-s13.txt), and only in builds with OpenMP,
 * where the thread count a call asks for can be given to oneDNN. False
 * when forced off (mn_onednn_force_off). */
bool mn_onednn_available(mn_onednn_type type);

/* What oneDNN does for `type` in this build on this CPU, whether or not it
 * is forced off, for messages: "oneDNN 2.6.3, brg:avx512_core kernels", or
 * why it cannot ("oneDNN 2.6.3 found no AVX512-BF16 or AMX-BF16 on this
 * CPU", "built without oneDNN"). Static storage, set once. */
const char *mn_onednn_describe(mn_onednn_type type);

/* Tests: make mn_onednn_available(type) false (on) or as the CPU allows
 * (off); and whether it is forced off now. */
void mn_onednn_force_off(mn_onednn_type type, bool on);
bool mn_onednn_forced_off(mn_onednn_type type);

/* C = A·B, plus the old C when `accumulate`: A is (C->rows x k), B (k x
 * C->cols), both of `type`; C float32, row-major or a transpose view
 * (positive strides, one of them 1, no overlap). m, n and k are at least
 * 1. `threads` as in blas.h (products under 128³ multiply-adds run on one
 * thread; inside another OpenMP region oneDNN stays on the calling
 * thread). A float32 product with an output of up to 2^18 entries runs as
 * fixed tiles on one thread each, so that its bits do not depend on
 * `threads` (onednn.c says why). After a failure in one tile the others
 * still run: C is then partly written (never for MN_ERR_UNSUPPORTED, which
 * is decided before any tile runs). MN_ERR_UNSUPPORTED, with no message, when oneDNN is not
 * available or has no kernel for this layout: the caller falls back. */
mn_status mn_onednn_matmul(mn_onednn_type type, int64_t k, mn_onednn_operand a,
                           mn_onednn_operand b, bool accumulate, mn_mat *C, int threads);

#endif
