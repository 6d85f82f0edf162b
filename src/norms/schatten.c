/* Schatten-p norms ‖A‖_Sp = ‖σ(A)‖_p, the family "schatten-P" (p >= 1).
 *
 * With q = p/(p−1) (1/p + 1/q = 1):
 *   dual(G) = ‖σ(G)‖_q
 *   lmo(G)  = U diag(σ^(q−1)) Vᵀ / ‖σ‖_q^(q−1)
 * since <G, lmo> = Σσ·σ^(q−1)/‖σ‖_q^(q−1) = ‖σ‖_q and
 * ‖lmo‖_Sp = (Σσ^((q−1)p))^(1/p)/‖σ‖_q^(q−1) = 1 ((q−1)p = q). The cases
 * p = 1, 2, ∞ are the nuclear, Frobenius and spectral (l2-l2) norms
 * themselves: "schatten-1", "schatten-2" and "schatten-inf" name those.
 * Everything runs on σ/σ_max (exact power-of-two scaled), so no power
 * overflows. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/error.h"
#include "core/number.h"
#include "norms/norms.h"
#include "norms/spectral.h"

typedef struct {
    double p, q;
} schatten_params;

static const schatten_params *params_of(const mn_norm *n) { return n->params; }

/* ‖σ‖_r of s[0..k) (descending) as s[0]·‖s/s[0]‖_r. */
static double lr_norm(const double *s, int64_t k, double r)
{
    if (k == 0 || s[0] == 0)
        return 0;
    double sum = 0;
    for (int64_t i = 0; i < k; i++)
        sum += pow(s[i] / s[0], r);
    return s[0] * pow(sum, 1 / r);
}

static mn_status schatten_of(const mn_mat *A, double r, double *out)
{
    double *s;
    int e;
    MN_TRY(mn_spectral_values(A, &s, &e));
    int64_t k = A->rows < A->cols ? A->rows : A->cols;
    *out = ldexp(lr_norm(s, k, r), e);
    free(s);
    return MN_OK;
}

static mn_status schatten_value(const mn_norm *self, const mn_mat *A, double *out)
{
    return schatten_of(A, params_of(self)->p, out);
}

static mn_status schatten_dual(const mn_norm *self, const mn_mat *G, double *out)
{
    return schatten_of(G, params_of(self)->q, out);
}

/* σ_i → (σ_i/σ_0)^(q−1) / ‖σ/σ_0‖_q^(q−1). */
static void weigh(double *s, int64_t r, void *ctx)
{
    double q = *(const double *)ctx, top = s[0];
    for (int64_t i = 0; i < r; i++)
        s[i] /= top;
    double scale = pow(lr_norm(s, r, q), q - 1);
    for (int64_t i = 0; i < r; i++)
        s[i] = pow(s[i], q - 1) / scale;
}

static mn_status schatten_lmo(const mn_norm *self, mn_mat *out, const mn_mat *G,
                              const mn_polar_provider *polar)
{
    (void)polar; /* not a polar factor: every singular value gets its own weight */
    double q = params_of(self)->q;
    return mn_spectral_reweigh(out, G, weigh, &q);
}

/* "P": a number p >= 1 in the options' syntax (core/number.h: "3", "1.5",
 * "2^0.5"), or "inf" for ∞; 1, 2 and ∞ are norms of their own. */
static mn_status schatten_parse(const char *param, void *params, char *name, size_t cap,
                                const char **same_as)
{
    double p;
    const char *word = param + (param[0] == '+' || param[0] == '-');
    if (strcasecmp(word, "inf") == 0 || strcasecmp(word, "infinity") == 0) {
        p = param[0] == '-' ? -INFINITY : INFINITY;
    } else if (!mn_number_real(param, strlen(param), &p)) {
        char *end;
        double big = strtod(param, &end);
        if (end != param && !*end && isinf(big) && strspn(param, "0123456789+-.eE") ==
                                                       strlen(param)) /* 1e400: overflowed */
            return mn_set_error(MN_ERR_ARG, "schatten-P: p = '%s' is beyond a double; write "
                                "schatten-inf for the spectral norm", param);
        return mn_set_error(MN_ERR_ARG, "schatten-P: '%s' is not a number p (e.g. schatten-3, "
                            "schatten-1.5, schatten-2^0.5, schatten-inf)", param);
    }
    if (!(p >= 1))
        return mn_set_error(MN_ERR_ARG, "schatten-P: p = %g is below 1 (not a norm); p >= 1", p);
    *same_as = p == 1 ? "nuclear" : p == 2 ? "frobenius" : isinf(p) ? "l2-l2" : NULL;
    if (*same_as)
        return MN_OK;
    schatten_params *sp = params;
    sp->p = p;
    sp->q = p / (p - 1);
    /* the shortest spelling that reads back as p */
    for (int prec = 6; prec <= 17; prec++) {
        snprintf(name, cap, "schatten-%.*g", prec, p);
        if (strtod(name + 9, NULL) == p)
            break;
    }
    return MN_OK;
}

const mn_norm_family mn_norm_family_schatten = {
    .prefix = "schatten",
    .pattern = "schatten-P",
    .params_size = sizeof(schatten_params),
    .parse = schatten_parse,
    .norm = {.title = "Schatten-p norm ‖σ‖_p (p = 1 nuclear, 2 Frobenius, ∞ spectral)",
             .value = schatten_value,
             .dual = schatten_dual,
             .lmo = schatten_lmo},
};
