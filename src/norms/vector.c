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

static double sum_squares(const mn_mat *x)
{
    double s = 0;
    MN_TYPED_ROWS(x, T, {
        for (int64_t i = 0; i < x->rows; i++) {
            const T *r = ROW(x, T, i);
            for (int64_t j = 0; j < x->cols; j++) {
                double v = (double)r[j * x->cs];
                s += v * v;
            }
        }
    });
    return s;
}

int mn_vec_max_exponent(const mn_mat *x)
{
    double m = max_abs(x);
    int e = 0;
    if (m > 0 && isfinite(m))
        frexp(m, &e);
    return e;
}

void mn_vec_scale_pow2(mn_mat *out, const mn_mat *x, int e)
{
    /* Through double, where 2^e is a number for every e a float32 needs;
     * a float64 outside ±1000 takes ldexp per element. */
    if (x->dtype == MN_F32 || (e > -1000 && e < 1000)) {
        const double f = ldexp(1.0, e);
        for (int64_t i = 0; i < x->rows; i++)
            for (int64_t j = 0; j < x->cols; j++)
                mn_mat_set(out, i, j, mn_mat_get(x, i, j) * f);
        return;
    }
    for (int64_t i = 0; i < x->rows; i++)
        for (int64_t j = 0; j < x->cols; j++)
            mn_mat_set(out, i, j, ldexp(mn_mat_get(x, i, j), e));
}

/* ‖x‖₂ = m·2^e. In one pass where the sum of squares is a normal double
 * (always for float32: its squares lie in [1e-90, 1e77]); otherwise, for
 * float64 entries whose squares underflow or overflow, the sum is taken of
 * x·2^-e with 2^e the scale of the largest entry (exact), so m lies in
 * [0.5, √n]. */
static double l2_parts(const mn_mat *x, int *e)
{
    *e = 0;
    double s = sum_squares(x);
    if (x->dtype == MN_F32 || s != s || (isfinite(s) && s > 0x1p-900))
        return sqrt(s);
    double m = max_abs(x);
    if (m == 0 || !isfinite(m))
        return m;
    frexp(m, e);
    double t = 0;
    for (int64_t i = 0; i < x->rows; i++)
        for (int64_t j = 0; j < x->cols; j++) {
            double v = ldexp(mn_mat_get(x, i, j), -*e);
            t += v * v;
        }
    return sqrt(t);
}

double mn_vec_norm(mn_vec_kind k, const mn_mat *x)
{
    double n = (double)numel(x);
    if (k == MN_VEC_L1)
        return sum_abs(x);
    if (k == MN_VEC_LINF)
        return max_abs(x);
    int e;
    double m = l2_parts(x, &e);
    /* the factor applies to m before 2^e: √n·‖x‖₂ can be finite where ‖x‖₂
     * is not, and ‖x‖₂/√n where ‖x‖₂ underflows */
    if (k == MN_VEC_RMS)
        return n > 0 ? ldexp(m / sqrt(n), e) : 0;
    if (k == MN_VEC_RMS_DUAL)
        return ldexp(sqrt(n) * m, e);
    return ldexp(m, e);
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
        /* radius·x/‖x‖₂ = radius·(x·2^-e)/m with ‖x‖₂ = m·2^e: no 1/‖x‖₂
         * that overflows (subnormal x) or goes subnormal (x near DBL_MAX). */
        int e;
        double m = l2_parts(x, &e);
        double radius = k == MN_VEC_L2 ? 1 : k == MN_VEC_RMS ? sqrt(n) : 1 / sqrt(n);
        double s = m > 0 ? radius / m : 0; /* a normal double: m is, and so is 1/m */
        if (e == 0) {
            scale_into(out, x, s);
            return;
        }
        for (int64_t i = 0; i < x->rows; i++)
            for (int64_t j = 0; j < x->cols; j++)
                mn_mat_set(out, i, j, s * ldexp(mn_mat_get(x, i, j), -e));
        return;
    }
    }
}
