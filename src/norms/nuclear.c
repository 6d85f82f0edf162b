/* The nuclear norm Σσ (Schatten-1): dual σ_max, lmo u₁v₁ᵀ. */
#include <math.h>

#include "core/error.h"
#include "modnorm/norm.h"
#include "norms/norms.h"
#include "norms/spectral.h"

static mn_status nuclear_value(const mn_norm *self, const mn_mat *A, double *out)
{
    (void)self;
    double m;
    int e;
    MN_TRY(mn_spectral_nuclear(A, &m, &e));
    *out = ldexp(m, e);
    return MN_OK;
}

static mn_status nuclear_dual(const mn_norm *self, const mn_mat *G, double *out)
{
    (void)self;
    double m;
    int e;
    MN_TRY(mn_spectral_sigma_max(G, &m, &e));
    *out = ldexp(m, e);
    return MN_OK;
}

static mn_status nuclear_lmo(const mn_norm *self, mn_mat *out, const mn_mat *G,
                             const mn_polar_provider *polar)
{
    (void)self;
    (void)polar;
    return mn_spectral_top_pair(out, G);
}

const mn_norm mn_norm_nuclear = {.name = "nuclear",
                                 .title = "nuclear norm Σσ (Schatten-1; lmo u₁v₁ᵀ)",
                                 .value = nuclear_value,
                                 .dual = nuclear_dual,
                                 .lmo = nuclear_lmo};
