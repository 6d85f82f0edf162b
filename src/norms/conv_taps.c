/* The per-tap norm of a k x k convolution, the family "taps-K".
 *
 * A Conv2D weight (d_out, d_in, k, k) is seen by its norm as the row-major
 * d_out x (d_in·k²) matrix: column c·k² + t holds input channel c at tap
 * t = i·k + j. Tap t's matrix W_t (d_out x d_in) is the columns t, t + k²,
 * t + 2k², … (a strided view, no copy). With ρ = √(d_in/d_out):
 *   ‖W‖     = k²·max_t ρ·σ_max(W_t)        (k² times the largest tap's RMS→RMS)
 *   dual(G) = (1/k²)·Σ_t ‖G_t‖_nuclear / ρ (the dual of a max is the sum of duals)
 *   lmo(G)  = per tap (1/k²)·(1/ρ)·polar(G_t)
 * so <G, lmo> = dual(G) and ‖lmo‖ = 1 whenever some tap is nonzero. The
 * bound it gives: a stride-1 convolution with "same" padding sums k² shifted
 * copies of the input each multiplied by a tap, so
 * ‖y‖_RMS ≤ Σ_t ‖W_t‖_RMS→RMS·‖x‖_RMS ≤ ‖W‖·‖x‖_RMS (modules/conv.c).
 *
 * The k² polar factors are one batch: the taps are gathered into one
 * contiguous block and handed to the provider's polar_batch (the duality
 * layer runs them side by side, duality/polar_batch.c); a provider without
 * one gets k² polar calls, and no provider the exact SVD per tap. k = 1 is
 * rms-rms itself ("taps-1" names that norm). */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/number.h"
#include "norms/norms.h"
#include "norms/spectral.h"

typedef struct {
    int64_t k;
} taps_params;

static int64_t k_of(const mn_norm *n) { return ((const taps_params *)n->params)->k; }

/* The taps' count and input channels of A, or an error when A's columns are
 * not d_in·k². */
static mn_status tap_shape(const mn_norm *n, const mn_mat *A, int64_t *taps, int64_t *d_in)
{
    int64_t k = k_of(n), kk = k * k;
    if (A->cols % kk != 0)
        return mn_fail(MN_ERR_SHAPE, "%s: a %lldx%lld matrix is not d_out x (d_in·%lld): its "
                       "columns are not a multiple of k² = %lld (a Conv2D weight with k = %lld)",
                       n->name, (long long)A->rows, (long long)A->cols, (long long)kk,
                       (long long)kk, (long long)k);
    *taps = kk;
    *d_in = A->cols / kk;
    return MN_OK;
}

/* The shape rule alone (mn_norm_check_shape): A's data is not read. */
mn_status mn_norm_taps_shape(const mn_norm *n, const mn_mat *A)
{
    int64_t taps, d_in;
    return tap_shape(n, A, &taps, &d_in);
}

/* Tap t of A: d_in columns t, t + k², …, a view. */
static mn_mat tap_view(const mn_mat *A, int64_t taps, int64_t d_in, int64_t t)
{
    mn_mat v = *A;
    size_t es = mn_dtype_size(A->dtype);
    v.data = (char *)A->data + (size_t)(t * A->cs) * es;
    v.cols = d_in;
    v.cs = A->cs * taps;
    return v;
}

static mn_status taps_value(const mn_norm *self, const mn_mat *A, double *out)
{
    int64_t taps = 1, d_in = 1;
    MN_TRY(tap_shape(self, A, &taps, &d_in));
    double rho = sqrt((double)d_in / (double)A->rows), best = 0;
    for (int64_t t = 0; t < taps; t++) {
        mn_mat v = tap_view(A, taps, d_in, t);
        double m;
        int e;
        MN_TRY(mn_spectral_sigma_max(&v, &m, &e));
        best = fmax(best, ldexp((double)taps * rho * m, e));
    }
    *out = best;
    return MN_OK;
}

/* The sum runs on the taps' mantissas against the largest exponent, so it
 * rounds once when it leaves the double range (subnormal or past DBL_MAX). */
static mn_status taps_dual(const mn_norm *self, const mn_mat *G, double *out)
{
    int64_t taps = 1, d_in = 1;
    MN_TRY(tap_shape(self, G, &taps, &d_in));
    double rho = sqrt((double)d_in / (double)G->rows), m[64 * 64];
    int e[64 * 64], top = INT_MIN;
    for (int64_t t = 0; t < taps; t++) {
        mn_mat v = tap_view(G, taps, d_in, t);
        MN_TRY(mn_spectral_nuclear(&v, &m[t], &e[t]));
        if (m[t] > 0 && e[t] > top)
            top = e[t];
    }
    double sum = 0;
    for (int64_t t = 0; t < taps && top != INT_MIN; t++)
        if (m[t] > 0)
            sum += ldexp(m[t], e[t] - top);
    *out = top == INT_MIN ? 0 : ldexp(sum / ((double)taps * rho), top);
    return MN_OK;
}

static mn_status taps_lmo(const mn_norm *self, mn_mat *out, const mn_mat *G,
                          const mn_polar_provider *polar)
{
    int64_t taps = 1, d_in = 1, d_out = G->rows;
    MN_TRY(tap_shape(self, G, &taps, &d_in));
    size_t es = mn_dtype_size(G->dtype), one = (size_t)(d_out * d_in);
    char *buf = malloc(2 * (size_t)taps * one * es);
    mn_mat *mats = malloc(2 * (size_t)taps * sizeof *mats);
    if (!buf || !mats) {
        free(buf);
        free(mats);
        return mn_fail(MN_ERR_NOMEM, "%s: no memory for %lld taps of %lldx%lld", self->name,
                       (long long)taps, (long long)d_out, (long long)d_in);
    }
    mn_mat *in = mats, *res = mats + taps;
    mn_status st = MN_OK;
    for (int64_t t = 0; t < taps && st == MN_OK; t++) { /* gather: contiguous taps */
        in[t] = mn_mat_view(G->dtype, buf + (size_t)t * one * es, d_out, d_in);
        res[t] = mn_mat_view(G->dtype, buf + (size_t)(taps + t) * one * es, d_out, d_in);
        mn_mat v = tap_view(G, taps, d_in, t);
        st = mn_mat_copy(&in[t], &v);
    }
    if (st == MN_OK && polar && polar->polar_batch)
        st = polar->polar_batch(polar->ctx, taps, res, in);
    else
        for (int64_t t = 0; t < taps && st == MN_OK; t++)
            st = polar && polar->polar ? polar->polar(polar->ctx, &res[t], &in[t])
                                       : mn_spectral_polar_exact(&res[t], &in[t]);
    double scale = 1.0 / ((double)taps * sqrt((double)d_in / (double)d_out));
    for (int64_t t = 0; t < taps && st == MN_OK; t++) { /* scatter, scaled */
        mn_mat v = tap_view(out, taps, d_in, t);
        mn_mat_scale(&res[t], scale);
        st = mn_mat_copy(&v, &res[t]);
    }
    free(buf);
    free(mats);
    return st;
}

/* "K": the kernel size, an integer in [1, 64]; taps-1 is rms-rms. */
static mn_status taps_parse(const char *param, void *params, char *name, size_t cap,
                            const char **same_as)
{
    int64_t k; /* the options' integer syntax (core/number.h): "3", "2^1" */
    if (!mn_number_int(param, strlen(param), &k))
        return mn_set_error(MN_ERR_ARG, "taps-K: '%s' is not a kernel size k (e.g. taps-3 for a "
                            "3x3 Conv2D)", param);
    if (k < 1 || k > 64)
        return mn_set_error(MN_ERR_ARG, "taps-K: k = %lld is outside [1, 64]", (long long)k);
    *same_as = k == 1 ? "rms-rms" : NULL;
    ((taps_params *)params)->k = k;
    snprintf(name, cap, "taps-%lld", (long long)k);
    return MN_OK;
}

const mn_norm_family mn_norm_family_taps = {
    .prefix = "taps",
    .pattern = "taps-K",
    .params_size = sizeof(taps_params),
    .parse = taps_parse,
    .norm = {.title = "Conv2D per-tap norm k²·max_t ‖W_t‖_RMS→RMS over the k x k taps",
             .value = taps_value,
             .dual = taps_dual,
             .lmo = taps_lmo,
             .uses_polar = true},
};
