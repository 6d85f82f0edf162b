/* Operator norms α→β of a d_out x d_in matrix, α, β ∈ {l1, l2, rms, linf}.
 *
 * Three closed forms cover every tractable pair:
 *  - α = ℓ1: the ℓ1 ball's extreme points are ±e_j, so ‖A‖ = max_j ‖A[:,j]‖_β
 *    and the lmo works column by column: lmo_β(G[:,j]).
 *  - β = ℓ∞: ‖A‖ = max_i ‖A[i,:]‖_{α*} and the lmo works row by row:
 *    lmo_{α*}(G[i,:]), whose inner product with the row is ‖G[i,:]‖_α.
 *  - α, β ∈ {ℓ2, RMS}: ‖A‖ = s·σ_max with s = c_in/c_out, where c = √d for
 *    RMS and 1 for ℓ2; lmo = U Vᵀ / s, dual = nuclear / s.
 * The other pairs (ℓ∞→ℓ1, ℓ∞→ℓ2, ℓ∞→RMS, ℓ2→ℓ1, RMS→ℓ1) are NP-hard to
 * compute and are refused by the registry. */
#include <math.h>

#include "core/error.h"
#include "modnorm/norm.h"
#include "norms/norms.h"
#include "norms/spectral.h"
#include "norms/vector.h"

typedef enum { BY_COLUMNS, BY_ROWS, SPECTRAL } op_form;

typedef struct {
    mn_vec_kind in, out;
    op_form form;
} op_params;

static const op_params *params_of(const mn_norm *self) { return self->params; }

/* For BY_COLUMNS the per-column vector norm is β; for BY_ROWS it is α*. */
static mn_vec_kind slice_kind(const op_params *p)
{
    return p->form == BY_COLUMNS ? p->out : mn_vec_dual_kind(p->in);
}

static int64_t n_slices(const op_params *p, const mn_mat *A)
{
    return p->form == BY_COLUMNS ? A->cols : A->rows;
}

static mn_mat slice(const op_params *p, const mn_mat *A, int64_t k)
{
    return p->form == BY_COLUMNS ? mn_mat_col(A, k) : mn_mat_row(A, k);
}

static double spectral_scale(const op_params *p, const mn_mat *A)
{
    double c_in = p->in == MN_VEC_RMS ? sqrt((double)A->cols) : 1.0;
    double c_out = p->out == MN_VEC_RMS ? sqrt((double)A->rows) : 1.0;
    return c_in / c_out;
}

static mn_status op_value(const mn_norm *self, const mn_mat *A, double *out)
{
    const op_params *p = params_of(self);
    if (p->form == SPECTRAL) {
        double m;
        int e;
        MN_TRY(mn_spectral_sigma_max(A, &m, &e));
        *out = ldexp(spectral_scale(p, A) * m, e);
        return MN_OK;
    }
    double best = 0;
    for (int64_t k = 0; k < n_slices(p, A); k++) {
        mn_mat s = slice(p, A, k);
        best = fmax(best, mn_vec_norm(slice_kind(p), &s));
    }
    *out = best;
    return MN_OK;
}

static mn_status op_dual(const mn_norm *self, const mn_mat *G, double *out)
{
    const op_params *p = params_of(self);
    if (p->form == SPECTRAL) {
        double m;
        int e;
        MN_TRY(mn_spectral_nuclear(G, &m, &e));
        *out = ldexp(m / spectral_scale(p, G), e);
        return MN_OK;
    }
    double sum = 0;
    for (int64_t k = 0; k < n_slices(p, G); k++) {
        mn_mat s = slice(p, G, k);
        sum += mn_vec_dual(slice_kind(p), &s);
    }
    *out = sum;
    return MN_OK;
}

static mn_status op_lmo(const mn_norm *self, mn_mat *out, const mn_mat *G,
                        const mn_polar_provider *polar)
{
    const op_params *p = params_of(self);
    if (p->form == SPECTRAL) {
        if (polar && polar->polar)
            MN_TRY(polar->polar(polar->ctx, out, G));
        else
            MN_TRY(mn_spectral_polar_exact(out, G));
        mn_mat_scale(out, 1.0 / spectral_scale(p, G));
        return MN_OK;
    }
    for (int64_t k = 0; k < n_slices(p, G); k++) {
        mn_mat s = slice(p, G, k), o = slice(p, out, k);
        mn_vec_lmo(slice_kind(p), &o, &s);
    }
    return MN_OK;
}

#define OPERATOR_NORM(ident, str, ttl, in_kind, out_kind, frm)                                     \
    static const op_params ident##_params = {in_kind, out_kind, frm};                              \
    const mn_norm ident = {.name = str,                                                            \
                           .title = ttl,                                                           \
                           .value = op_value,                                                      \
                           .dual = op_dual,                                                        \
                           .lmo = op_lmo,                                                          \
                           .params = &ident##_params,                                              \
                           .uses_polar = (frm) == SPECTRAL}

OPERATOR_NORM(mn_norm_l1_l1, "l1-l1", "ℓ1→ℓ1 operator norm (max column ℓ1)", MN_VEC_L1, MN_VEC_L1, BY_COLUMNS);
OPERATOR_NORM(mn_norm_l1_l2, "l1-l2", "ℓ1→ℓ2 operator norm (max column ℓ2)", MN_VEC_L1, MN_VEC_L2, BY_COLUMNS);
OPERATOR_NORM(mn_norm_l1_rms, "l1-rms", "ℓ1→RMS operator norm (max column RMS; embeddings)", MN_VEC_L1, MN_VEC_RMS, BY_COLUMNS);
OPERATOR_NORM(mn_norm_l1_linf, "l1-linf", "ℓ1→ℓ∞ operator norm (max |A_ij|)", MN_VEC_L1, MN_VEC_LINF, BY_COLUMNS);
OPERATOR_NORM(mn_norm_l2_linf, "l2-linf", "ℓ2→ℓ∞ operator norm (max row ℓ2)", MN_VEC_L2, MN_VEC_LINF, BY_ROWS);
OPERATOR_NORM(mn_norm_rms_linf, "rms-linf", "RMS→ℓ∞ operator norm (max row √d_in·ℓ2; readout heads)", MN_VEC_RMS, MN_VEC_LINF, BY_ROWS);
OPERATOR_NORM(mn_norm_linf_linf, "linf-linf", "ℓ∞→ℓ∞ operator norm (max row ℓ1)", MN_VEC_LINF, MN_VEC_LINF, BY_ROWS);
OPERATOR_NORM(mn_norm_l2_l2, "l2-l2", "ℓ2→ℓ2 operator norm (spectral, σ_max)", MN_VEC_L2, MN_VEC_L2, SPECTRAL);
OPERATOR_NORM(mn_norm_rms_rms, "rms-rms", "RMS→RMS operator norm (√(d_in/d_out)·σ_max)", MN_VEC_RMS, MN_VEC_RMS, SPECTRAL);
OPERATOR_NORM(mn_norm_l2_rms, "l2-rms", "ℓ2→RMS operator norm (σ_max/√d_out)", MN_VEC_L2, MN_VEC_RMS, SPECTRAL);
OPERATOR_NORM(mn_norm_rms_l2, "rms-l2", "RMS→ℓ2 operator norm (√d_in·σ_max)", MN_VEC_RMS, MN_VEC_L2, SPECTRAL);
