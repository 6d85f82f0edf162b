/* The fit loop: next batch, forward, cross-entropy, backward, solver step,
 * and the evaluation after it. The order of every call that touches an RNG
 * or a float (batcher, network, solver) is the one `modnorm train` had, so
 * its results are bit-identical at the same seed and thread count. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "core/error.h"
#include "modnorm/dist.h"
#include "modnorm/train.h"
#include "modules/loss.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The network's output has one row of logits per label: (rows, C), or
 * (B, T, C) with B·T = rows. */
static mn_status check_rows(const char *who, const mn_tensor *y, int64_t rows)
{
    int64_t C = y->ndim >= 2 ? y->shape[y->ndim - 1] : 0;
    if (y->ndim < 2 || C < 1 || mn_tensor_numel(y) != rows * C)
        return mn_fail(MN_ERR_SHAPE, "%s: the network's output has %lld elements in %d dims; "
                       "the labels need %lld rows of logits", who,
                       (long long)mn_tensor_numel(y), y->ndim, (long long)rows);
    return MN_OK;
}

mn_status mn_evaluate(mn_network *net, const mn_dataset *d, double *acc, double *loss)
{
    if (!net || !d || !acc || !loss)
        return mn_fail(MN_ERR_ARG, "mn_evaluate: %s is NULL",
                       !net ? "net" : !d ? "d" : !acc ? "acc" : "loss");
    if (d->n < 1 || d->dim < 1 || !d->x || !d->y)
        return mn_fail(MN_ERR_ARG, "mn_evaluate: the dataset needs n >= 1 rows of dim >= 1 "
                       "features and labels (n = %lld, dim = %lld)", (long long)d->n,
                       (long long)d->dim);
    /* about 1000 predicted labels per forward pass */
    const int64_t lpr = mn_dataset_labels_per_row(d), chunk = lpr < 1000 ? 1000 / lpr : 1;
    double total = 0;
    int64_t hits = 0;
    for (int64_t start = 0; start < d->n; start += chunk) {
        int64_t b = d->n - start < chunk ? d->n - start : chunk;
        mn_tensor *x;
        MN_TRY(mn_tensor_wrap(&x, d->x + start * d->dim, 2, (int64_t[]){b, d->dim}));
        const mn_tensor *y;
        mn_status st = mn_network_forward(net, x, &y);
        double l = 0;
        int64_t h = 0;
        if (st == MN_OK)
            st = check_rows("mn_evaluate", y, b * lpr);
        if (st == MN_OK)
            st = mn_loss_cross_entropy_threads(y, d->y + start * lpr, &l, NULL, &h,
                                               mn_network_threads(net));
        mn_tensor_destroy(x);
        if (st != MN_OK)
            return st;
        total += l * (double)b;
        hits += h;
    }
    *acc = (double)hits / ((double)d->n * (double)lpr);
    *loss = total / (double)d->n;
    return MN_OK;
}

static mn_status check_source(const mn_batch_source *src)
{
    if (!src || !src->next)
        return mn_fail(MN_ERR_ARG, "batch source: %s", src ? "next is NULL" : "NULL");
    if (src->batch < 1 || src->dim < 1 || src->per_epoch < 1 || src->labels_per_row < 0)
        return mn_fail(MN_ERR_ARG, "batch source: batch = %lld, dim = %lld, per_epoch = %lld, "
                       "labels_per_row = %lld; need the first three >= 1, the last >= 0",
                       (long long)src->batch, (long long)src->dim, (long long)src->per_epoch,
                       (long long)src->labels_per_row);
    return MN_OK;
}

/* The hooks after a step: every step, every log_every-th and the last,
 * every eval_every-th but the last (the final evaluation follows the loop). */
static mn_status after_step(const mn_fit_callbacks *cb, mn_network *net, const mn_dataset *eval,
                            const mn_fit_step *info, int64_t log_every)
{
    if (cb->on_step)
        MN_TRY(cb->on_step(cb->ctx, info));
    if (cb->on_log && (info->step % log_every == 0 || info->step == info->total))
        MN_TRY(cb->on_log(cb->ctx, info));
    if (cb->on_eval && eval && cb->eval_every > 0 && info->step % cb->eval_every == 0 &&
        info->step < info->total) {
        double acc, loss;
        MN_TRY(mn_evaluate(net, eval, &acc, &loss));
        MN_TRY(cb->on_eval(cb->ctx, info, acc, loss));
    }
    return MN_OK;
}

mn_status mn_fit(mn_network *net, mn_solver *solver, mn_batch_source *src, int64_t total,
                 const mn_dataset *eval, const mn_fit_callbacks *cb, mn_fit_result *res)
{
    return mn_fit_from(net, solver, src, total, 0, NULL, eval, cb, res);
}

mn_status mn_fit_from(mn_network *net, mn_solver *solver, mn_batch_source *src, int64_t total,
                      int64_t start, const double *prior, const mn_dataset *eval,
                      const mn_fit_callbacks *cb, mn_fit_result *res)
{
    if (!res)
        return mn_fail(MN_ERR_ARG, "mn_fit: res is NULL");
    *res = (mn_fit_result){.total_steps = total, .initial_loss = NAN, .train_loss = NAN,
                           .test_acc = NAN, .test_loss = NAN, .diverged_at = -1};
    if (!net || !solver)
        return mn_fail(MN_ERR_ARG, "mn_fit: %s is NULL", net ? "solver" : "net");
    MN_TRY(check_source(src));
    if (total < 1)
        return mn_fail(MN_ERR_ARG, "mn_fit: total_steps %lld must be >= 1", (long long)total);
    if (start < 0 || start > total)
        return mn_fail(MN_ERR_ARG, "mn_fit_from: start %lld must be in [0, %lld]",
                       (long long)start, (long long)total);
    if (start > 0 && !prior)
        return mn_fail(MN_ERR_ARG, "mn_fit_from: losses is NULL; the %lld steps already taken "
                       "need theirs", (long long)start);
    /* The last 20% of the steps: a ring of (total + 4) / 5 losses. */
    int64_t ring = (total + 4) / 5, lpr = src->labels_per_row > 1 ? src->labels_per_row : 1;
    if ((uint64_t)ring > SIZE_MAX / sizeof(double) ||
        (uint64_t)src->batch > SIZE_MAX / 4 / (uint64_t)lpr)
        return mn_fail(MN_ERR_NOMEM, "mn_fit: %lld steps of batch %lld (%lld labels a row) do "
                       "not fit in memory", (long long)total, (long long)src->batch,
                       (long long)lpr);
    int32_t *labels = malloc((size_t)(src->batch * lpr) * sizeof *labels);
    double *losses = malloc((size_t)ring * sizeof *losses);
    mn_tensor *x = NULL, *dy = NULL;
    mn_status st = labels && losses ? MN_OK
                                    : mn_fail(MN_ERR_NOMEM, "mn_fit: out of memory for %lld "
                                              "labels", (long long)src->batch);
    if (st == MN_OK)
        st = mn_tensor_create(&x, 2, (int64_t[]){src->batch, src->dim});
    int64_t log_every = cb && cb->log_every > 0 ? cb->log_every : (total >= 10 ? total / 10 : 1);
    /* data-parallel (dist.h): every rank joins each agreement, so the loss
     * is the global batch's and a failure on any rank stops all */
    mn_dist *dist = mn_solver_dist(solver);
    if (dist) /* an allocation that failed on one rank stops all before any step */
        st = mn_dist_agree(dist, st);
    double t0 = now();
    int64_t step = start;
    if (st == MN_OK && start > 0) { /* the steps already taken, as the loop had them */
        res->initial_loss = prior[0];
        for (int64_t i = start > ring ? start - ring : 0; i < start; i++)
            losses[i % ring] = prior[i];
    }
    for (; st == MN_OK && step < total; step++) {
        const mn_tensor *y;
        double loss = 0;
        st = src->next(src->ctx, x, labels);
        if (st == MN_OK)
            st = mn_network_forward(net, x, &y);
        if (st == MN_OK)
            st = check_rows("mn_fit", y, src->batch * lpr);
        if (st == MN_OK && !dy) /* the output's shape is known after the first forward */
            st = mn_tensor_create(&dy, y->ndim, y->shape);
        if (st == MN_OK) {
            mn_status ls = mn_loss_cross_entropy_threads(y, labels, &loss, dy, NULL,
                                                         mn_network_threads(net));
            if (ls == MN_ERR_NONFINITE) /* diverged, below */
                ls = MN_OK, loss = NAN;
            st = ls;
        }
        if (dist)
            st = mn_dist_batch_loss(dist, st, &loss);
        if (st == MN_OK && !isfinite(loss)) {
            res->diverged = true;
            res->diverged_at = step;
            break;
        }
        if (st != MN_OK)
            break;
        losses[step % ring] = loss;
        if (step == 0)
            res->initial_loss = loss;
        mn_network_zero_grad(net);
        st = mn_network_backward(net, dy);
        if (dist)
            st = mn_dist_agree(dist, st);
        if (st == MN_OK)
            st = mn_solver_step(solver, net);
        if (st == MN_OK && cb) {
            mn_fit_step info = {.step = step + 1, .total = total,
                                .epoch = (double)(step + 1) / (double)src->per_epoch,
                                .loss = loss, .lr = mn_solver_lr_at(solver, step),
                                .seconds = now() - t0};
            st = after_step(cb, net, eval, &info, log_every);
        }
        if (dist)
            st = mn_dist_agree(dist, st);
    }
    res->seconds = now() - t0;
    res->steps = step;
    res->epochs = (double)step / (double)src->per_epoch;
    res->ms_per_step = step > start ? 1e3 * res->seconds / (double)(step - start) : 0;
    if (step > 0) {
        int64_t from = step - (step + 4) / 5; /* the last 20% of steps taken */
        double s = 0;
        for (int64_t i = from; i < step; i++)
            s += losses[i % ring];
        res->train_loss = s / (double)(step - from);
    }
    if (st == MN_OK && !res->diverged && eval) {
        st = mn_evaluate(net, eval, &res->test_acc, &res->test_loss);
        if (st == MN_OK && cb && cb->on_eval) {
            mn_fit_step info = {.step = step, .total = total, .epoch = res->epochs,
                                .loss = step > 0 ? losses[(step - 1) % ring] : NAN,
                                .lr = mn_solver_lr_at(solver, step > 0 ? step - 1 : 0),
                                .seconds = res->seconds};
            st = cb->on_eval(cb->ctx, &info, res->test_acc, res->test_loss);
        }
    }
    if (res->diverged) { /* stopped: nothing evaluated, so no accuracy (NAN) */
        res->train_loss = res->test_loss = INFINITY;
        res->test_acc = NAN;
    }
    mn_tensor_destroy(x);
    mn_tensor_destroy(dy);
    free(labels);
    free(losses);
    return st;
}

mn_status mn_fit_judge(mn_status st, mn_fit_result *res, double factor)
{
    if (!res)
        return st;
    if (st == MN_ERR_NONFINITE) { /* the update itself overflowed */
        st = MN_OK;
        res->diverged = true;
        res->train_loss = res->test_loss = INFINITY;
        res->test_acc = NAN; /* not measured */
    }
    /* A blown-up network can have dead ReLUs and zero logits on the training
     * batches, so its training loss sits at exactly ln C while its test loss
     * is astronomical: the evaluated test loss is judged too (NAN: none), but
     * only when training made no real progress, since a network that learned
     * its training data can do badly on test data unlike it. */
    bool tested = !isnan(res->test_loss);
    bool stalled = res->train_loss > MN_FIT_STALLED * res->initial_loss;
    if (st == MN_OK)
        res->diverged = res->diverged || !isfinite(res->train_loss) ||
                        (factor > 0 && res->train_loss > factor * res->initial_loss) ||
                        (tested && !isfinite(res->test_loss)) ||
                        (tested && factor > 0 && stalled &&
                         res->test_loss > factor * res->initial_loss);
    return st;
}

mn_status mn_train_source(mn_module *root, const mn_train_settings *s, mn_batch_source *src,
                          const mn_dataset *test, const mn_fit_callbacks *cb, mn_fit_result *res)
{
    if (res)
        *res = (mn_fit_result){.initial_loss = NAN, .train_loss = NAN, .test_acc = NAN,
                               .test_loss = NAN, .diverged_at = -1};
    mn_status st = !res ? mn_fail(MN_ERR_ARG, "mn_train: res is NULL")
                   : !s ? mn_fail(MN_ERR_ARG, "mn_train: settings are NULL")
                        : check_source(src);
    if (st == MN_OK && s->batch != src->batch)
        st = mn_fail(MN_ERR_ARG, "mn_train: the settings' batch %lld differs from the batch "
                     "source's %lld", (long long)s->batch, (long long)src->batch);
    if (st != MN_OK) {
        mn_module_destroy(root);
        return st;
    }
    int64_t total = mn_train_total_steps(s, src->per_epoch);
    res->total_steps = total;
    mn_network *net = NULL;
    mn_solver *solver = NULL;
    st = mn_train_build(root, s, total, &net, &solver);
    mn_batch_source shard = {0}; /* data-parallel: this rank's rows of every batch */
    if (st == MN_OK && s->dist)
        st = mn_batch_source_shard(&shard, src, s->dist);
    if (s->dist) /* a rank that failed stops every rank */
        st = mn_dist_agree(s->dist, st);
    if (st == MN_OK)
        st = mn_fit(net, solver, shard.next ? &shard : src, total, test, cb, res);
    mn_batch_source_destroy(&shard);
    mn_solver_destroy(solver);
    mn_network_destroy(net);
    return st;
}

mn_status mn_train(mn_module *root, const mn_train_settings *s, const mn_dataset *train,
                   const mn_dataset *test, const mn_fit_callbacks *cb, mn_fit_result *res)
{
    if (!s || !train) {
        mn_module_destroy(root);
        if (res)
            *res = (mn_fit_result){.initial_loss = NAN, .train_loss = NAN, .test_acc = NAN,
                                   .test_loss = NAN, .diverged_at = -1};
        return mn_fail(MN_ERR_ARG, "mn_train: %s is NULL", s ? "train" : "settings");
    }
    mn_batch_source src;
    mn_status st = mn_batch_source_dataset(&src, train, s->batch, s->seed);
    if (st != MN_OK) {
        mn_module_destroy(root);
        if (res)
            *res = (mn_fit_result){.initial_loss = NAN, .train_loss = NAN, .test_acc = NAN,
                                   .test_loss = NAN, .diverged_at = -1};
        return st;
    }
    st = mn_train_source(root, s, &src, test, cb, res);
    mn_batch_source_destroy(&src);
    return st;
}
