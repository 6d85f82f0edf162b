/* float32 tensors and typed 2-D views. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/check.h"
#include "core/error.h"
#include "core/size.h"
#include "core/typed.h"
#include "modnorm/tensor.h"

#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
#endif

size_t mn_dtype_size(mn_dtype dt)
{
    return dt == MN_F32 ? sizeof(float) : dt == MN_F64 ? sizeof(double) : 0;
}

const char *mn_dtype_name(mn_dtype dt)
{
    return dt == MN_F32 ? "float32" : dt == MN_F64 ? "float64" : "(not a dtype)";
}

const char *mn_precision_name(mn_precision p)
{
    return p == MN_PRECISION_FP32 ? "fp32" : p == MN_PRECISION_BF16 ? "bf16" : NULL;
}

/* "(a, b, c)" into buf. */
static const char *shape_str(char *buf, size_t cap, int ndim, const int64_t *dims)
{
    size_t used = (size_t)snprintf(buf, cap, "(");
    for (int i = 0; i < ndim && used < cap; i++)
        used += (size_t)snprintf(buf + used, cap - used, "%s%lld", i ? ", " : "",
                                 (long long)dims[i]);
    if (used < cap)
        snprintf(buf + used, cap - used, "%s)", ndim == 1 ? "," : "");
    return buf;
}

mn_status mn_checked_count(const char *what, mn_status err, int ndim, const int64_t *dims,
                           size_t elem, int64_t *count)
{
    char buf[128];
    int64_t n = 1, limit = mn_max_elems(elem);
    for (int i = 0; i < ndim; i++)
        if (dims[i] < 0)
            return mn_fail(err, "%s: shape %s has a negative dimension: shape[%d] = %lld", what,
                           shape_str(buf, sizeof buf, ndim, dims), i, (long long)dims[i]);
    for (int i = 0; i < ndim; i++) {
        if (dims[i] == 0) {
            n = 0;
            break;
        }
        if (n > limit / dims[i])
            return mn_fail(err, "%s: shape %s has more than %lld elements of %zu bytes (the "
                           "largest buffer this machine can address)", what,
                           shape_str(buf, sizeof buf, ndim, dims), (long long)limit, elem);
        n *= dims[i];
    }
    *count = n;
    return MN_OK;
}

mn_status mn_checked_add(const char *what, int64_t a, int64_t b, size_t elem, int64_t *sum)
{
    int64_t limit = mn_max_elems(elem);
    if (a < 0 || b < 0 || a > limit - b)
        return mn_fail(MN_ERR_ARG, "%s: %lld + %lld elements of %zu bytes is more than one "
                       "buffer can hold (%lld)", what, (long long)a, (long long)b, elem,
                       (long long)limit);
    *sum = a + b;
    return MN_OK;
}

/* A shape the library cannot hold is MN_ERR_SHAPE, as for a tensor or view
 * passed in (mn_check_tensor, mn_check_mat): one code for a negative size. */
static mn_status check_shape(const char *fn, int ndim, const int64_t *shape)
{
    if (ndim < 1 || ndim > MN_MAX_DIMS)
        return mn_fail(MN_ERR_SHAPE, "%s: ndim = %d, must be in 1..%d", fn, ndim, MN_MAX_DIMS);
    if (!shape)
        return mn_fail(MN_ERR_ARG, "%s: shape is NULL", fn);
    int64_t n = 0;
    return mn_checked_count(fn, MN_ERR_SHAPE, ndim, shape, sizeof(float), &n);
}

static void set_contiguous(mn_tensor *t, int ndim, const int64_t *shape)
{
    t->ndim = ndim;
    int64_t s = 1;
    for (int i = ndim - 1; i >= 0; i--) {
        t->shape[i] = shape[i];
        t->stride[i] = s;
        s *= shape[i];
    }
}

mn_status mn_tensor_create(mn_tensor **out, int ndim, const int64_t *shape)
{
    if (!out)
        return mn_fail(MN_ERR_ARG, "mn_tensor_create: out is NULL");
    *out = NULL;
    MN_TRY(check_shape("mn_tensor_create", ndim, shape));
    mn_tensor *t = calloc(1, sizeof *t);
    if (!t)
        return mn_fail(MN_ERR_NOMEM, "mn_tensor_create: out of memory");
    set_contiguous(t, ndim, shape);
    int64_t n = mn_tensor_numel(t);
    t->data = calloc(n > 0 ? (size_t)n : 1, sizeof(float));
    if (!t->data) {
        free(t);
        return mn_fail(MN_ERR_NOMEM, "mn_tensor_create: cannot allocate %lld floats", (long long)n);
    }
    t->owns_data = true;
    *out = t;
    return MN_OK;
}

mn_status mn_tensor_wrap(mn_tensor **out, float *data, int ndim, const int64_t *shape)
{
    if (!out)
        return mn_fail(MN_ERR_ARG, "mn_tensor_wrap: out is NULL");
    *out = NULL;
    if (!data)
        return mn_fail(MN_ERR_ARG, "mn_tensor_wrap: data is NULL");
    MN_TRY(check_shape("mn_tensor_wrap", ndim, shape));
    mn_tensor *t = calloc(1, sizeof *t);
    if (!t)
        return mn_fail(MN_ERR_NOMEM, "mn_tensor_wrap: out of memory");
    set_contiguous(t, ndim, shape);
    t->data = data;
    t->owns_data = false;
    *out = t;
    return MN_OK;
}

void mn_tensor_destroy(mn_tensor *t)
{
    if (!t)
        return;
    if (t->owns_data)
        free(t->data);
    free(t);
}

int64_t mn_tensor_numel(const mn_tensor *t)
{
    if (!t || t->ndim < 0 || t->ndim > MN_MAX_DIMS)
        return 0;
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++)
        n *= t->shape[i];
    return n;
}

bool mn_tensor_is_contiguous(const mn_tensor *t)
{
    if (!t || t->ndim < 0 || t->ndim > MN_MAX_DIMS)
        return false;
    int64_t s = 1;
    for (int i = t->ndim - 1; i >= 0; i--) {
        if (t->shape[i] != 1 && t->stride[i] != s)
            return false;
        s *= t->shape[i];
    }
    return true;
}

mn_status mn_check_tensor(const char *fn, const char *name, const mn_tensor *t)
{
    if (!t)
        return mn_fail(MN_ERR_ARG, "%s: %s is NULL", fn, name);
    if (t->ndim < 1 || t->ndim > MN_MAX_DIMS)
        return mn_fail(MN_ERR_SHAPE, "%s: %s has %d dimensions (1 to %d)", fn, name, t->ndim,
                       MN_MAX_DIMS);
    char who[128], buf[128];
    snprintf(who, sizeof who, "%s: %s", fn, name);
    int64_t n; /* a negative dimension, or a count past what memory holds */
    MN_TRY(mn_checked_count(who, MN_ERR_SHAPE, t->ndim, t->shape, sizeof(float), &n));
    if (!t->data && n != 0)
        return mn_fail(MN_ERR_ARG, "%s: %s's data is NULL (a %s tensor)", fn, name,
                       mn_tensor_shape_str(t, buf, sizeof buf));
    return MN_OK;
}

bool mn_tensor_same_shape(const mn_tensor *a, const mn_tensor *b)
{
    if (a->ndim != b->ndim)
        return false;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i])
            return false;
    return true;
}

const char *mn_tensor_shape_str(const mn_tensor *t, char *buf, size_t cap)
{
    int ndim = t->ndim < 0 ? 0 : t->ndim > MN_MAX_DIMS ? MN_MAX_DIMS : t->ndim;
    return shape_str(buf, cap, ndim, t->shape);
}

mn_status mn_check_mat(const char *fn, const char *name, const mn_mat *m)
{
    if (!m)
        return mn_fail(MN_ERR_ARG, "%s: %s is NULL", fn, name);
    if (!mn_dtype_valid(m->dtype))
        return mn_fail(MN_ERR_ARG, "%s: %s has dtype %d, neither float32 (%d) nor float64 (%d)",
                       fn, name, (int)m->dtype, (int)MN_F32, (int)MN_F64);
    if (m->rows < 0 || m->cols < 0)
        return mn_fail(MN_ERR_SHAPE, "%s: %s is %lldx%lld, a negative size", fn, name,
                       (long long)m->rows, (long long)m->cols);
    if (!m->data && m->rows > 0 && m->cols > 0)
        return mn_fail(MN_ERR_ARG, "%s: %s's data is NULL (a %lldx%lld matrix)", fn, name,
                       (long long)m->rows, (long long)m->cols);
    return MN_OK;
}

/* What the functions without a status may touch: the others are left alone. */
static bool usable(const mn_mat *m)
{
    return m && mn_dtype_valid(m->dtype) && m->rows >= 0 && m->cols >= 0 &&
           (m->data || m->rows == 0 || m->cols == 0);
}

mn_mat mn_mat_view(mn_dtype dt, void *data, int64_t rows, int64_t cols)
{
    return (mn_mat){.dtype = dt, .rows = rows, .cols = cols, .rs = cols, .cs = 1, .data = data};
}

mn_mat mn_mat_transpose(mn_mat a)
{
    return (mn_mat){.dtype = a.dtype, .rows = a.cols, .cols = a.rows, .rs = a.cs, .cs = a.rs,
                    .data = a.data};
}

mn_status mn_tensor_as_mat(const mn_tensor *t, mn_mat *out)
{
    if (!out)
        return mn_fail(MN_ERR_ARG, "mn_tensor_as_mat: out is NULL");
    MN_TRY(mn_check_tensor("mn_tensor_as_mat", "t", t));
    if (t->ndim == 1) {
        *out = (mn_mat){MN_F32, 1, t->shape[0], t->shape[0] * t->stride[0], t->stride[0], t->data};
        return MN_OK;
    }
    if (t->ndim != 2)
        return mn_fail(MN_ERR_SHAPE, "mn_tensor_as_mat: tensor has %d dims, need 1 or 2", t->ndim);
    *out = (mn_mat){MN_F32, t->shape[0], t->shape[1], t->stride[0], t->stride[1], t->data};
    return MN_OK;
}

mn_status mn_mat_alloc(mn_mat *out, mn_dtype dt, int64_t rows, int64_t cols)
{
    if (!out)
        return mn_fail(MN_ERR_ARG, "mn_mat_alloc: out is NULL");
    if (dt != MN_F32 && dt != MN_F64)
        return mn_fail(MN_ERR_ARG, "mn_mat_alloc: unknown dtype %d", (int)dt);
    int64_t n = 0;
    MN_TRY(mn_checked_count("mn_mat_alloc", MN_ERR_SHAPE, 2, (const int64_t[]){rows, cols},
                            mn_dtype_size(dt), &n));
    void *p = calloc(n ? (size_t)n : 1, mn_dtype_size(dt));
    if (!p)
        return mn_fail(MN_ERR_NOMEM, "mn_mat_alloc: cannot allocate %lldx%lld %s", (long long)rows,
                       (long long)cols, mn_dtype_name(dt));
    *out = mn_mat_view(dt, p, rows, cols);
    return MN_OK;
}

void mn_mat_free(mn_mat *m)
{
    if (!m)
        return;
    free(m->data);
    m->data = NULL;
}

static bool same_shape(const mn_mat *a, const mn_mat *b)
{
    return a->rows == b->rows && a->cols == b->cols;
}


mn_status mn_mat_copy(mn_mat *dst, const mn_mat *src)
{
    MN_TRY(mn_check_mat("mn_mat_copy", "dst", dst));
    MN_TRY(mn_check_mat("mn_mat_copy", "src", src));
    if (!same_shape(dst, src))
        return mn_fail(MN_ERR_SHAPE, "mn_mat_copy: destination is %lldx%lld, source %lldx%lld",
                       (long long)dst->rows, (long long)dst->cols, (long long)src->rows,
                       (long long)src->cols);
    if (dst->dtype == src->dtype) {
        MN_TYPED_ROWS(src, T, {
            for (int64_t i = 0; i < src->rows; i++) {
                const T *s = ROW(src, T, i);
                T *d = ROW(dst, T, i);
                for (int64_t j = 0; j < src->cols; j++)
                    d[j * dst->cs] = s[j * src->cs];
            }
        });
        return MN_OK;
    }
    for (int64_t i = 0; i < src->rows; i++)
        for (int64_t j = 0; j < src->cols; j++)
            mn_mat_set(dst, i, j, mn_mat_get(src, i, j));
    return MN_OK;
}

mn_status mn_mat_dot(const mn_mat *a, const mn_mat *b, double *out)
{
    MN_TRY(mn_check_mat("mn_mat_dot", "a", a));
    MN_TRY(mn_check_mat("mn_mat_dot", "b", b));
    if (!out)
        return mn_fail(MN_ERR_ARG, "mn_mat_dot: out is NULL");
    if (!same_shape(a, b))
        return mn_fail(MN_ERR_SHAPE, "mn_mat_dot: %lldx%lld against %lldx%lld", (long long)a->rows,
                       (long long)a->cols, (long long)b->rows, (long long)b->cols);
    double s = 0;
    for (int64_t i = 0; i < a->rows; i++)
        for (int64_t j = 0; j < a->cols; j++)
            s += mn_mat_get(a, i, j) * mn_mat_get(b, i, j);
    *out = s;
    return MN_OK;
}

mn_status mn_mat_check_finite(const mn_mat *m, const char *what)
{
    if (!what)
        what = "the matrix";
    MN_TRY(mn_check_mat("mn_mat_check_finite", what, m));
    int64_t bad_i = -1, bad_j = -1;
    MN_TYPED_ROWS(m, T, {
        for (int64_t i = 0; i < m->rows && bad_i < 0; i++) {
            const T *r = ROW(m, T, i);
            /* x − x is 0 for finite x and NaN otherwise: one vectorizable pass. */
            T acc = 0;
            for (int64_t j = 0; j < m->cols; j++)
                acc += r[j * m->cs] - r[j * m->cs];
            if (acc != 0 || acc != acc)
                for (int64_t j = 0; j < m->cols; j++)
                    if (!isfinite(r[j * m->cs])) {
                        bad_i = i;
                        bad_j = j;
                        break;
                    }
        }
    });
    if (bad_i >= 0)
        return mn_fail(MN_ERR_NONFINITE, "%s has a non-finite value (%g) at (%lld, %lld)", what,
                       mn_mat_get(m, bad_i, bad_j), (long long)bad_i, (long long)bad_j);
    return MN_OK;
}

bool mn_mat_is_zero(const mn_mat *m)
{
    if (!usable(m))
        return false;
    bool zero = true;
    MN_TYPED_ROWS(m, T, {
        for (int64_t i = 0; i < m->rows && zero; i++) {
            const T *r = ROW(m, T, i);
            for (int64_t j = 0; j < m->cols; j++)
                zero = zero && r[j * m->cs] == 0;
        }
    });
    return zero;
}

void mn_mat_fill(mn_mat *m, double v)
{
    if (!usable(m))
        return;
    MN_TYPED_ROWS(m, T, {
        for (int64_t i = 0; i < m->rows; i++) {
            T *r = ROW(m, T, i);
            for (int64_t j = 0; j < m->cols; j++)
                r[j * m->cs] = (T)v;
        }
    });
}

void mn_mat_scale(mn_mat *m, double s)
{
    if (!usable(m))
        return;
    MN_TYPED_ROWS(m, T, {
        const T f = (T)s;
        for (int64_t i = 0; i < m->rows; i++) {
            T *r = ROW(m, T, i);
            if (m->cs == 1)
                for (int64_t j = 0; j < m->cols; j++)
                    r[j] *= f;
            else
                for (int64_t j = 0; j < m->cols; j++)
                    r[j * m->cs] *= f;
        }
    });
}

mn_status mn_flush_denormals(bool on)
{
#if defined(__x86_64__) || defined(__i386__)
    const unsigned int bits = 0x8040; /* FTZ (bit 15) and DAZ (bit 6) of MXCSR */
    unsigned int csr = _mm_getcsr();
    _mm_setcsr(on ? csr | bits : csr & ~bits);
    return MN_OK;
#else
    (void)on;
    return mn_fail(MN_ERR_UNSUPPORTED, "mn_flush_denormals: not available on this CPU");
#endif
}
