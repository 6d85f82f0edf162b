/* Entry-wise norms: the matrix read as one flat vector (ℓ1, Frobenius = ℓ2,
 * RMS, ℓ∞). Frobenius is the Euclidean norm: its sharp step is plain SGD. */
#include "modnorm/norm.h"
#include "norms/norms.h"
#include "norms/vector.h"

static mn_vec_kind kind_of(const mn_norm *self) { return *(const mn_vec_kind *)self->params; }

static mn_status flat_value(const mn_norm *self, const mn_mat *A, double *out)
{
    *out = mn_vec_norm(kind_of(self), A);
    return MN_OK;
}

static mn_status flat_dual(const mn_norm *self, const mn_mat *G, double *out)
{
    *out = mn_vec_dual(kind_of(self), G);
    return MN_OK;
}

static mn_status flat_lmo(const mn_norm *self, mn_mat *out, const mn_mat *G,
                          const mn_polar_provider *polar)
{
    (void)polar;
    mn_vec_lmo(kind_of(self), out, G);
    return MN_OK;
}

#define FLAT_NORM(ident, str, ttl, k)                                                              \
    static const mn_vec_kind ident##_kind = k;                                                     \
    const mn_norm ident = {.name = str,                                                            \
                           .title = ttl,                                                           \
                           .value = flat_value,                                                    \
                           .dual = flat_dual,                                                      \
                           .lmo = flat_lmo,                                                        \
                           .params = &ident##_kind}

FLAT_NORM(mn_norm_frobenius, "frobenius", "Frobenius norm (entry-wise ℓ2; the Euclidean norm of SGD)", MN_VEC_L2);
FLAT_NORM(mn_norm_l1, "l1", "entry-wise ℓ1 norm Σ|A_ij|", MN_VEC_L1);
FLAT_NORM(mn_norm_rms, "rms", "entry-wise RMS norm ‖A‖_F/√(d_out·d_in)", MN_VEC_RMS);
FLAT_NORM(mn_norm_linf, "linf", "entry-wise ℓ∞ norm max|A_ij| (same value as l1-linf)", MN_VEC_LINF);
