/* Vector norms ℓ1, ℓ2, RMS, ℓ∞ (and the dual of RMS), see vector.h. */
#include <math.h>

#include "core/typed.h"
#include "norms/vector.h"

mn_vec_kind mn_vec_dual_kind(mn_vec_kind k)
{
    switch (k) {
    case MN_VEC_L1: return MN_VEC_LINF;
    case MN_VEC_LINF: return MN_VEC_L1;
    case MN_VEC_RMS: return MN_VEC_RMS_DUAL;
    case MN_VEC_RMS_DUAL: return MN_VEC_RMS;
    case MN_VEC_L2: break;
    }
    return MN_VEC_L2;
}

const char *mn_vec_kind_name(mn_vec_kind k)
{
    static const char *names[] = {"l1", "l2", "rms", "linf", "rms-dual"};
    return names[k];
}

mn_mat mn_mat_row(const mn_mat *m, int64_t i)
{
    mn_mat r = *m;
    r.rows = 1;
    r.data = (char *)m->data + (size_t)(i * m->rs) * mn_dtype_size(m->dtype);
    return r;
}

mn_mat mn_mat_col(const mn_mat *m, int64_t j)
{
    mn_mat c = *m;
    c.cols = 1;
    c.data = (char *)m->data + (size_t)(j * m->cs) * mn_dtype_size(m->dtype);
    return c;
}

static int64_t numel(const mn_mat *x) { return x->rows * x->cols; }

/* The reductions below run over every gradient of every step: typed loops
 * (no per-element dtype branch), accumulated in double. */
static double sum_abs(const mn_mat *x)
{
    double s = 0;
    MN_TYPED_ROWS(x, T, {
        for (int64_t i = 0; i < x->rows; i++) {
            const T *r = ROW(x, T, i);
            for (int64_t j = 0; j < x->cols; j++)
                s += fabs((double)r[j * x->cs]);
        }
    });
    return s;
}

static double max_abs(const mn_mat *x)
{
    double s = 0;
    MN_TYPED_ROWS(x, T, {
        for (int64_t i = 0; i < x->rows; i++) {
            const T *r = ROW(x, T, i);
            for (int64_t j = 0; j < x->cols; j++) {
                double v = fabs((double)r[j * x->cs]);
                s = v > s || v != v ? v : s; /* a NaN sticks */
            }
        }
    });
    return s;
}

static double sum_squares(const mn_mat *x, double scale)
{
    double s = 0;
    MN_TYPED_ROWS(x, T, {
        for (int64_t i = 0; i < x->rows; i++) {
            const T *r = ROW(x, T, i);
            for (int64_t j = 0; j < x->cols; j++) {
                double v = (double)r[j * x->cs] * scale;
                s += v * v;
            }
        }
    });
    return s;
}

/* ‖x‖₂ in one pass: float32 squares summed in double cannot overflow or
 * underflow, and float64 ones only rarely: then scale by the largest entry. */
static double l2(const mn_mat *x)
{
    double s = sum_squares(x, 1.0);
    if (x->dtype == MN_F32 || s != s || (isfinite(s) && s > 0x1p-900))
        return sqrt(s);
    double m = max_abs(x);
    if (m == 0 || !isfinite(m))
        return m;
    return m * sqrt(sum_squares(x, 1.0 / m));
}

double mn_vec_norm(mn_vec_kind k, const mn_mat *x)
{
    double n = (double)numel(x);
    switch (k) {
    case MN_VEC_L1: return sum_abs(x);
    case MN_VEC_L2: return l2(x);
    case MN_VEC_RMS: return n > 0 ? l2(x) / sqrt(n) : 0;
    case MN_VEC_LINF: return max_abs(x);
    case MN_VEC_RMS_DUAL: return sqrt(n) * l2(x);
    }
    return 0;
}

double mn_vec_dual(mn_vec_kind k, const mn_mat *x) { return mn_vec_norm(mn_vec_dual_kind(k), x); }

static void scale_into(mn_mat *out, const mn_mat *x, double s)
{
    for (int64_t i = 0; i < x->rows; i++)
        for (int64_t j = 0; j < x->cols; j++)
            mn_mat_set(out, i, j, s * mn_mat_get(x, i, j));
}

static double sign(double v) { return (v > 0) - (v < 0); }

void mn_vec_lmo(mn_vec_kind k, mn_mat *out, const mn_mat *x)
{
    double n = (double)numel(x);
    switch (k) {
    case MN_VEC_L1: {
        /* All mass on the first entry of largest magnitude. */
        int64_t bi = 0, bj = 0;
        double best = -1;
        for (int64_t i = 0; i < x->rows; i++)
            for (int64_t j = 0; j < x->cols; j++)
                if (fabs(mn_mat_get(x, i, j)) > best) {
                    best = fabs(mn_mat_get(x, i, j));
                    bi = i;
                    bj = j;
                }
        double v = n > 0 ? sign(mn_mat_get(x, bi, bj)) : 0;
        mn_mat_fill(out, 0);
        if (n > 0)
            mn_mat_set(out, bi, bj, v);
        return;
    }
    case MN_VEC_LINF:
        for (int64_t i = 0; i < x->rows; i++)
            for (int64_t j = 0; j < x->cols; j++)
                mn_mat_set(out, i, j, sign(mn_mat_get(x, i, j)));
        return;
    case MN_VEC_L2:
    case MN_VEC_RMS:
    case MN_VEC_RMS_DUAL: {
        double norm = l2(x);
        double radius = k == MN_VEC_L2 ? 1 : k == MN_VEC_RMS ? sqrt(n) : 1 / sqrt(n);
        scale_into(out, x, norm > 0 ? radius / norm : 0);
        return;
    }
    }
}
