/* One training run: build, initialize, loop over shuffled batches, evaluate. */
#include <math.h>
#include <stdlib.h>
#include <time.h>

#include "cli/trainer.h"
#include "core/error.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

mn_status mn_cli_evaluate(mn_network *net, const mn_dataset *d, double *acc, double *loss)
{
    const int64_t chunk = 1000;
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
            st = mn_loss_cross_entropy(y, d->y + start, &l, NULL, &h);
        mn_tensor_destroy(x);
        if (st != MN_OK)
            return st;
        total += l * (double)b;
        hits += h;
    }
    *acc = (double)hits / (double)d->n;
    *loss = total / (double)d->n;
    return MN_OK;
}

static mn_status setup(const mn_train_opts *o, mn_network **net, mn_solver **solver,
                       int64_t total_steps)
{
    mn_module *root;
    MN_TRY(mn_cli_build_model(&o->model, &root));
    MN_TRY(mn_network_create(net, root, o->param, o->seed));
    mn_network_set_threads(*net, o->threads);
    for (int i = 0; i < o->n_atom_norms; i++)
        MN_TRY(mn_cli_apply_norm_override(*net, o->atom_norms[i].atom, o->atom_norms[i].norm));
    mn_solver_config cfg;
    MN_TRY(mn_solver_preset(&cfg, o->opt, o->param));
    if (!isnan(o->lr))
        cfg.lr = o->lr;
    if (!isnan(o->momentum))
        cfg.momentum = o->momentum;
    cfg.nesterov = o->nesterov;
    cfg.weight_decay = o->wd;
    cfg.schedule = o->schedule;
    cfg.warmup = o->warmup;
    cfg.total_steps = total_steps;
    MN_TRY(mn_polar_lookup(o->method ? o->method : MN_TRAIN_DEFAULT_METHOD, &cfg.polar.method));
    cfg.polar.threads = o->threads;
    cfg.polar.precision = o->precision;
    return mn_solver_create(solver, *net, &cfg);
}

mn_status mn_cli_train(const mn_train_opts *o, const mn_dataset *train, const mn_dataset *test,
                       mn_train_result *res)
{
    *res = (mn_train_result){0};
    if (o->batch < 1 || o->batch > train->n)
        return mn_fail(MN_ERR_ARG, "batch %lld is not in [1, %lld], the training examples",
                       (long long)o->batch, (long long)train->n);
    int64_t per_epoch = train->n / o->batch;
    int64_t total = o->steps > 0 ? o->steps : (int64_t)ceil(o->epochs * (double)per_epoch);
    if (total < 1)
        total = 1;
    mn_network *net = NULL;
    mn_solver *solver = NULL;
    mn_batcher batcher = {0};
    mn_tensor *x = NULL, *dy = NULL;
    int32_t *labels = malloc((size_t)o->batch * sizeof(int32_t));
    double *losses = malloc((size_t)total * sizeof(double));
    mn_status st = labels && losses ? MN_OK : MN_ERR_NOMEM;
    if (st == MN_OK)
        st = setup(o, &net, &solver, total);
    if (st == MN_OK)
        st = mn_batcher_init(&batcher, train, o->batch, o->seed);
    if (st == MN_OK)
        st = mn_tensor_create(&x, 2, (int64_t[]){o->batch, train->dim});
    if (st == MN_OK)
        st = mn_tensor_create(&dy, 2, (int64_t[]){o->batch, o->model.d_out});
    double t0 = now();
    int64_t step = 0;
    for (; st == MN_OK && step < total; step++) {
        const mn_tensor *y;
        double loss;
        st = mn_batcher_next(&batcher, x, labels);
        if (st == MN_OK)
            st = mn_network_forward(net, x, &y);
        if (st == MN_OK) {
            mn_status ls = mn_loss_cross_entropy(y, labels, &loss, dy, NULL);
            if (ls == MN_ERR_NONFINITE || !isfinite(loss)) {
                res->diverged = true;
                res->diverged_at = step + 1;
                break;
            }
            st = ls;
        }
        if (st != MN_OK)
            break;
        losses[step] = loss;
        if (step == 0)
            res->initial_loss = loss;
        mn_network_zero_grad(net);
        st = mn_network_backward(net, dy);
        if (st == MN_OK)
            st = mn_solver_step(solver, net);
        if (st == MN_OK && o->on_step)
            o->on_step(o->ctx, &(mn_train_step){.step = step + 1, .total = total,
                                                .epoch = (double)(step + 1) / (double)per_epoch,
                                                .loss = loss,
                                                .lr = mn_solver_lr_at(solver, step),
                                                .elapsed = now() - t0});
    }
    res->seconds = now() - t0;
    res->steps = step;
    res->ms_per_step = step > 0 ? 1e3 * res->seconds / (double)step : 0;
    if (step > 0) {
        int64_t from = step - (step + 4) / 5; /* the last 20% of steps taken */
        double s = 0;
        for (int64_t i = from; i < step; i++)
            s += losses[i];
        res->train_loss = s / (double)(step - from);
    }
    if (st == MN_OK && !res->diverged)
        st = mn_cli_evaluate(net, test, &res->test_acc, &res->test_loss);
    if (res->diverged) {
        res->train_loss = res->test_loss = INFINITY;
        res->test_acc = 0;
    }
    mn_tensor_destroy(x);
    mn_tensor_destroy(dy);
    mn_batcher_free(&batcher);
    mn_solver_destroy(solver);
    mn_network_destroy(net);
    free(labels);
    free(losses);
    return st;
}
