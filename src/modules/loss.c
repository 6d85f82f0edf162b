/* Losses: softmax cross-entropy and mean squared error. */
#include <math.h>

#include "core/check.h"
#include "core/error.h"
#include "core/parallel.h"
#include "core/scratch.h"
#include "modules/loss.h"

/* A loss reads its tensors as flat rows: each must be readable and
 * contiguous (an empty one has no layout). */
static mn_status check_input(const char *fn, const char *name, const mn_tensor *t)
{
    MN_TRY(mn_check_tensor(fn, name, t));
    char s[128];
    if (mn_tensor_numel(t) > 0 && !mn_tensor_is_contiguous(t))
        return mn_fail(MN_ERR_SHAPE, "%s: %s (shape %s) is strided; a loss reads contiguous "
                       "tensors", fn, name, mn_tensor_shape_str(t, s, sizeof s));
    return MN_OK;
}

/* out (a gradient or a target) must have ref's shape, not only its count. */
static mn_status check_same(const char *fn, const char *name, const mn_tensor *t,
                            const char *ref_name, const mn_tensor *ref)
{
    MN_TRY(check_input(fn, name, t));
    char a[128], b[128];
    if (!mn_tensor_same_shape(t, ref))
        return mn_fail(MN_ERR_SHAPE, "%s: %s has shape %s, %s %s", fn, name,
                       mn_tensor_shape_str(t, a, sizeof a), ref_name,
                       mn_tensor_shape_str(ref, b, sizeof b));
    return MN_OK;
}

/* One row's term lse(z) − z[y] of the loss, its argmax hit, and (dz not
 * NULL) its gradient (softmax(z) − onehot(y))/B, in double as the serial
 * loop computed them. */
static double row_term(const float *z, int64_t C, int32_t y, float *dz, double B, int *hit)
{
    int64_t arg = 0;
    double zmax = z[0];
    for (int64_t c = 1; c < C; c++)
        if (z[c] > zmax) {
            zmax = z[c];
            arg = c;
        }
    *hit = arg == y;
    double sum = 0;
    for (int64_t c = 0; c < C; c++)
        sum += exp(z[c] - zmax);
    double lse = zmax + log(sum), term = lse - z[y]; /* before dz, which may be z */
    if (dz)
        for (int64_t c = 0; c < C; c++)
            dz[c] = (float)((exp(z[c] - lse) - (c == y)) / B);
    return term;
}

mn_status mn_loss_cross_entropy_threads(const mn_tensor *logits, const int32_t *labels,
                                        double *loss, mn_tensor *dlogits, int64_t *correct,
                                        int threads)
{
    const char *fn = "cross_entropy";
    if (!labels || !loss)
        return mn_fail(MN_ERR_ARG, "%s: %s is NULL", fn, !labels ? "labels" : "loss");
    MN_TRY(check_input(fn, "logits", logits));
    char s[128];
    if (logits->ndim < 2)
        return mn_fail(MN_ERR_SHAPE, "cross_entropy: logits must be (B, C) or (B, T, C), got "
                       "%d dims", logits->ndim);
    /* a mean over no rows is no number (mn_evaluate refuses n = 0 alike) */
    if (mn_tensor_numel(logits) == 0)
        return mn_fail(MN_ERR_ARG, "%s: logits of shape %s have no rows or no classes; the "
                       "loss is a mean over rows of C >= 1 classes", fn,
                       mn_tensor_shape_str(logits, s, sizeof s));
    if (dlogits)
        MN_TRY(check_same(fn, "dlogits", dlogits, "logits", logits));
    /* rows: every leading index (a batch's positions too), one label each */
    int64_t C = logits->shape[logits->ndim - 1], B = mn_tensor_numel(logits) / C;
    for (int64_t b = 0; b < B; b++)
        if (labels[b] < 0 || labels[b] >= C)
            return mn_fail(MN_ERR_ARG, "cross_entropy: label %d of row %lld is outside [0, %lld)",
                           (int)labels[b], (long long)b, (long long)C);
    int nt = mn_elementwise_threads(threads, B * C);
    double *term = NULL; /* the rows' terms, to sum in row order after */
    if (nt > 1 && mn_scratch_get(MN_SCRATCH_LOSS, (size_t)B * (sizeof *term + 1),
                                 "cross_entropy (the rows' terms)", (void **)&term) != MN_OK)
        nt = 1; /* no room for the terms: one thread, the same bits */
    double total = 0;
    int64_t hits = 0;
    if (nt <= 1) {
        for (int64_t b = 0; b < B; b++) {
            int hit;
            total += row_term(logits->data + b * C, C, labels[b],
                              dlogits ? dlogits->data + b * C : NULL, (double)B, &hit);
            hits += hit;
        }
    } else { /* terms apart, summed in row order after: the serial loop's bits */
        unsigned char *hit_of = (unsigned char *)(term + B);
        MN_PARALLEL_FOR_RANGES(nt)
        for (int64_t b = 0; b < B; b++) {
            int hit;
            term[b] = row_term(logits->data + b * C, C, labels[b],
                               dlogits ? dlogits->data + b * C : NULL, (double)B, &hit);
            hit_of[b] = (unsigned char)hit;
        }
        for (int64_t b = 0; b < B; b++) {
            total += term[b];
            hits += hit_of[b];
        }
    }
    *loss = total / (double)B;
    if (correct)
        *correct = hits;
    if (!isfinite(*loss))
        return mn_fail(MN_ERR_NONFINITE, "cross_entropy: the loss is not finite (%g)", *loss);
    return MN_OK;
}

mn_status mn_loss_cross_entropy(const mn_tensor *logits, const int32_t *labels, double *loss,
                                mn_tensor *dlogits, int64_t *correct)
{
    return mn_loss_cross_entropy_threads(logits, labels, loss, dlogits, correct, 1);
}

mn_status mn_loss_mse(const mn_tensor *pred, const mn_tensor *target, double *loss,
                      mn_tensor *dpred)
{
    const char *fn = "mse";
    if (!loss)
        return mn_fail(MN_ERR_ARG, "%s: loss is NULL", fn);
    MN_TRY(check_input(fn, "pred", pred));
    /* by shape: a (3, 4) target for a (4, 3) prediction compared by flat index */
    MN_TRY(check_same(fn, "target", target, "pred", pred));
    if (dpred)
        MN_TRY(check_same(fn, "dpred", dpred, "pred", pred));
    int64_t n = mn_tensor_numel(pred);
    char s[128];
    if (n == 0)
        return mn_fail(MN_ERR_ARG, "%s: pred of shape %s has no elements; the loss is a mean "
                       "over them", fn, mn_tensor_shape_str(pred, s, sizeof s));
    double sum = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = (double)pred->data[i] - target->data[i];
        sum += d * d;
        if (dpred)
            dpred->data[i] = (float)(2 * d / (double)n);
    }
    *loss = sum / (double)n;
    if (!isfinite(*loss))
        return mn_fail(MN_ERR_NONFINITE, "mse: the loss is not finite (%g)", *loss);
    return MN_OK;
}
