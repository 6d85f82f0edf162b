/* modnorm/tensor.h — float32 tensors and typed 2-D matrix views.
 *
 * mn_tensor is the library's storage type: float32, row-major, up to four
 * dimensions, with strides so that a view can share another tensor's data.
 * mn_mat is a lightweight 2-D view of float32 or float64 data with arbitrary
 * strides (a transpose is a view that swaps them). The norm and duality
 * layers work on mn_mat, so that float64 input can be computed in double. */
#ifndef MODNORM_TENSOR_H
#define MODNORM_TENSOR_H

#include "modnorm/export.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "modnorm/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MN_MAX_DIMS 4

typedef enum mn_dtype { MN_F32 = 0, MN_F64 = 1 } mn_dtype;

/* Bytes per element of a dtype (0 for a value outside the enum). */
MN_API size_t mn_dtype_size(mn_dtype dt);
/* "float32", "float64" ("(not a dtype)" for a value outside the enum, so
 * that a message naming it still prints). */
MN_API const char *mn_dtype_name(mn_dtype dt);

/* The operands of a matrix product: float32, or bfloat16 (8-bit mantissa,
 * rounded to nearest even) with float32 accumulation and result. The polar
 * iteration (polar.h, mn_dualize_opts.precision) and a network's forward and
 * backward products (network.h, mn_network_set_precision) take it. */
typedef enum mn_precision { MN_PRECISION_FP32 = 0, MN_PRECISION_BF16 } mn_precision;

/* "fp32", "bf16" (NULL for a value outside the enum). */
MN_API const char *mn_precision_name(mn_precision p);

/* Functions that take a tensor refuse one they cannot read (MN_ERR_ARG for
 * NULL data with elements, MN_ERR_SHAPE for an ndim outside 1..MN_MAX_DIMS,
 * a negative dimension or more elements than a buffer can hold), naming the
 * argument. */
typedef struct mn_tensor {
    float *data;
    int ndim;
    int64_t shape[MN_MAX_DIMS];
    int64_t stride[MN_MAX_DIMS]; /* in elements */
    bool owns_data;              /* true: mn_tensor_destroy frees data */
} mn_tensor;

/* Allocate a zero-filled contiguous tensor. The caller frees it with
 * mn_tensor_destroy(). A shape it cannot make is refused as above
 * (MN_ERR_SHAPE: ndim outside 1..MN_MAX_DIMS, a negative dimension, more
 * elements than a buffer can hold), before anything is allocated; MN_ERR_ARG
 * for a NULL out or shape. */
MN_API mn_status mn_tensor_create(mn_tensor **out, int ndim, const int64_t *shape);
/* Wrap caller-owned memory (not freed by destroy); its shape is checked as
 * by mn_tensor_create, and NULL data is MN_ERR_ARG. */
MN_API mn_status mn_tensor_wrap(mn_tensor **out, float *data, int ndim, const int64_t *shape);
MN_API void mn_tensor_destroy(mn_tensor *t);

/* The element count; 0 for NULL or an ndim outside 0..MN_MAX_DIMS. */
MN_API int64_t mn_tensor_numel(const mn_tensor *t);
/* false for NULL or an ndim outside 0..MN_MAX_DIMS. */
MN_API bool mn_tensor_is_contiguous(const mn_tensor *t);

/* A 2-D view of float32 or float64 data: element (i, j) is at
 * data + (i * rs + j * cs) * sizeof(element). The functions below that
 * return a status refuse a NULL view, a dtype outside the enum and NULL data
 * with elements (MN_ERR_ARG), and a negative size (MN_ERR_SHAPE); those that
 * do not leave such a view alone (mn_mat_is_zero: false). mn_mat_get and
 * mn_mat_set are unchecked: they need a valid view. */
typedef struct mn_mat {
    mn_dtype dtype;
    int64_t rows, cols;
    int64_t rs, cs;
    void *data;
} mn_mat;

/* A contiguous row-major view of `data` (rows x cols). */
MN_API mn_mat mn_mat_view(mn_dtype dt, void *data, int64_t rows, int64_t cols);
/* The same data seen transposed (no copy). */
MN_API mn_mat mn_mat_transpose(mn_mat a);
/* A 2-D tensor as a float32 view; a 1-D tensor of n as a 1 x n view.
 * MN_ERR_ARG for a NULL `out`, and as above for `t`. */
MN_API mn_status mn_tensor_as_mat(const mn_tensor *t, mn_mat *out);

/* Allocate / free a contiguous row-major matrix (zero-filled). MN_ERR_SHAPE
 * for a negative size or more elements than a buffer can hold (checked
 * before allocating), MN_ERR_ARG for a NULL out or a dtype outside the enum. */
MN_API mn_status mn_mat_alloc(mn_mat *out, mn_dtype dt, int64_t rows, int64_t cols);
MN_API void mn_mat_free(mn_mat *m);

static inline double mn_mat_get(const mn_mat *m, int64_t i, int64_t j)
{
    int64_t off = i * m->rs + j * m->cs;
    return m->dtype == MN_F32 ? (double)((const float *)m->data)[off]
                              : ((const double *)m->data)[off];
}

static inline void mn_mat_set(mn_mat *m, int64_t i, int64_t j, double v)
{
    int64_t off = i * m->rs + j * m->cs;
    if (m->dtype == MN_F32)
        ((float *)m->data)[off] = (float)v;
    else
        ((double *)m->data)[off] = v;
}

/* dst = src element by element (shapes must agree; dtypes may differ). */
MN_API mn_status mn_mat_copy(mn_mat *dst, const mn_mat *src);
/* Frobenius inner product <a, b> accumulated in double. */
MN_API mn_status mn_mat_dot(const mn_mat *a, const mn_mat *b, double *out);
/* MN_ERR_NONFINITE naming `what` (NULL: "the matrix") and the first bad
 * (i, j), or MN_OK. */
MN_API mn_status mn_mat_check_finite(const mn_mat *m, const char *what);
/* true when every element is exactly zero (false for a view it refuses). */
MN_API bool mn_mat_is_zero(const mn_mat *m);
/* Every element = v (a view it refuses is left alone). */
MN_API void mn_mat_fill(mn_mat *m, double v);

/* Treat subnormal floats as zero on this thread and on threads it creates
 * later (x86 FTZ/DAZ; threads that already exist, such as an OpenMP pool
 * started earlier, keep their own setting). Training wants this: momentum of
 * a gradient that has become exactly zero decays geometrically into
 * subnormals, which slow every product through them by orders of magnitude.
 * MN_ERR_UNSUPPORTED on CPUs without the control.
 *
 * Off is every process's default, and the accuracy the library documents
 * holds there for every finite input, subnormal entries and entries near the
 * dtype's largest value included (norm values past DBL_MAX are refused).
 * On, the library computes what it computes for the input with its
 * subnormal entries read as zero (subnormal intermediates flush to zero
 * too, below the methods' accuracy): an input whose entries are all
 * subnormal has norm 0 and lmo 0. That is right for training, wrong for
 * measuring: turn it on around training steps only (the modnorm command does
 * so for its training subcommands, not for norm or dualize). */
MN_API mn_status mn_flush_denormals(bool on);
/* Every element times s (a view it refuses is left alone). */
MN_API void mn_mat_scale(mn_mat *m, double s);

/* C = alpha·A·B + beta·C: A is (m, k), B (k, n), C (m, n), one dtype, any
 * strides (transpose views included). C must not overlap A or B:
 * MN_ERR_ARG, before anything is written, when C's memory range meets
 * theirs or two of its entries may share an address (along the smaller
 * stride a run must end before the larger stride starts the next). The
 * product Linear runs, for kinds of one's own (module_ops.h): pass the
 * call's `precision` and `threads`.
 *   MN_PRECISION_FP32: in the operands' dtype: float32 views with a unit
 *     stride, alpha 1 and beta 0 or 1 through oneDNN's matmul (brgemm) on
 *     CPUs with AVX-512 in builds with oneDNN and OpenMP (0.97-1.66x
 *     BLIS's speed on the GPT's and MLP's Linear shapes); everything else
 *     through BLIS (modnorm bench gemm names the route). Each sums in its
 *     own order: results agree to float32 rounding, not bit for bit. BLIS
 *     splits only C among threads, so its bits do not depend on the thread
 *     count; oneDNN runs an output of up to 2^18 entries (512 x 512: every
 *     dW of a Linear that size) as fixed tiles on one thread each, the same
 *     at every thread count, and larger ones on its own threads, which may
 *     split a long sum too: a tall, narrow dW (8192 x 64 over 4096 tokens)
 *     sums in another order at 2 threads than at 1 (the GPT's and the
 *     MLP's do not at 1-3 threads, tests/test_bf16.c; -Donednn=disabled
 *     gives BLIS alone). After an error other than MN_ERR_ARG, MN_ERR_SHAPE
 *     or MN_ERR_UNSUPPORTED, C's contents are unspecified.
 *   MN_PRECISION_BF16: float32 operands with a unit stride, rounded to bf16
 *     (nearest even) on the way in, float32 accumulation (oneDNN, or the
 *     fallback: mn_network_set_precision); alpha must be 1 and beta 0 or 1
 *     (MN_ERR_UNSUPPORTED otherwise, and for float64).
 * threads <= 0: every core, unless BLIS_NUM_THREADS or OMP_NUM_THREADS is
 * set (then the library decides). MN_ERR_ARG for NULL or unreadable views or a
 * precision outside the enum, MN_ERR_SHAPE when the shapes do not fit. */
MN_API mn_status mn_mat_gemm(double alpha, const mn_mat *A, const mn_mat *B, double beta,
                             mn_mat *C, mn_precision precision, int threads);

#ifdef __cplusplus
}
#endif
#endif
