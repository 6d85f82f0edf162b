/* Losses: softmax cross-entropy and mean squared error. */
#include <math.h>

#include "core/error.h"
#include "modnorm/network.h"

mn_status mn_loss_cross_entropy(const mn_tensor *logits, const int32_t *labels, double *loss,
                                mn_tensor *dlogits, int64_t *correct)
{
    if (!logits || !labels || !loss)
        return mn_fail(MN_ERR_ARG, "cross_entropy: NULL argument");
    if (logits->ndim < 2)
        return mn_fail(MN_ERR_SHAPE, "cross_entropy: logits must be (B, C) or (B, T, C), got "
                       "%d dims", logits->ndim);
    /* rows: every leading index (a batch's positions too), one label each */
    int64_t C = logits->shape[logits->ndim - 1], B = C > 0 ? mn_tensor_numel(logits) / C : 0;
    if (dlogits && mn_tensor_numel(dlogits) != B * C)
        return mn_fail(MN_ERR_SHAPE, "cross_entropy: dlogits has %lld elements, need %lld",
                       (long long)mn_tensor_numel(dlogits), (long long)(B * C));
    double total = 0;
    int64_t hits = 0;
    for (int64_t b = 0; b < B; b++) {
        const float *z = logits->data + b * C;
        int32_t y = labels[b];
        if (y < 0 || y >= C)
            return mn_fail(MN_ERR_ARG, "cross_entropy: label %d of row %lld is outside [0, %lld)",
                           (int)y, (long long)b, (long long)C);
        int64_t arg = 0;
        double zmax = z[0];
        for (int64_t c = 1; c < C; c++)
            if (z[c] > zmax) {
                zmax = z[c];
                arg = c;
            }
        hits += arg == y;
        double sum = 0;
        for (int64_t c = 0; c < C; c++)
            sum += exp(z[c] - zmax);
        double lse = zmax + log(sum);
        total += lse - z[y];
        if (dlogits)
            for (int64_t c = 0; c < C; c++)
                dlogits->data[b * C + c] = (float)((exp(z[c] - lse) - (c == y)) / (double)B);
    }
    *loss = B > 0 ? total / (double)B : 0;
    if (correct)
        *correct = hits;
    if (!isfinite(*loss))
        return mn_fail(MN_ERR_NONFINITE, "cross_entropy: the loss is not finite (%g)", *loss);
    return MN_OK;
}

mn_status mn_loss_mse(const mn_tensor *pred, const mn_tensor *target, double *loss,
                      mn_tensor *dpred)
{
    if (!pred || !target || !loss)
        return mn_fail(MN_ERR_ARG, "mse: NULL argument");
    int64_t n = mn_tensor_numel(pred);
    if (n != mn_tensor_numel(target) || (dpred && mn_tensor_numel(dpred) != n))
        return mn_fail(MN_ERR_SHAPE, "mse: prediction has %lld elements, target %lld",
                       (long long)n, (long long)mn_tensor_numel(target));
    double s = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = (double)pred->data[i] - target->data[i];
        s += d * d;
        if (dpred)
            dpred->data[i] = (float)(2 * d / (double)n);
    }
    *loss = n > 0 ? s / (double)n : 0;
    if (!isfinite(*loss))
        return mn_fail(MN_ERR_NONFINITE, "mse: the loss is not finite (%g)", *loss);
    return MN_OK;
}
