/* modnorm train: train a model on Fashion-MNIST and report test accuracy. */
#include <math.h>
#include <stdio.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/json_out.h"
#include "cli/models.h"
#include "cli/trainer.h"

#define CMD "train"

/* The training options every trainer of the CLI shares, from the parsed
 * arguments (width, lr and seed are overridden per run by sweep). */
void mn_cli_train_opts_from(const mn_cli_args *a, mn_train_opts *o)
{
    *o = (mn_train_opts){
        .model = {.name = a->model, .d_in = 784, .width = a->width, .depth = (int)a->depth,
                  .d_out = 10},
        .opt = a->opt, .param = (mn_param)a->param, .lr = a->lr, .momentum = a->momentum,
        .nesterov = a->nesterov, .wd = a->wd, .schedule = (mn_schedule)a->schedule,
        .warmup = a->warmup, .method = a->method, .steps = a->steps, .epochs = a->epochs,
        .batch = a->batch, .seed = (uint64_t)a->seed, .threads = (int)a->threads,
        .precision = (mn_precision)a->precision};
    for (int i = 0; i < a->atom_norms.n; i++) {
        o->atom_norms[i].atom = a->atom_norms.v[i].atom;
        o->atom_norms[i].norm = a->atom_norms.v[i].norm;
    }
    o->n_atom_norms = a->atom_norms.n;
}

typedef struct train_view {
    bool bar, json;
    int rc; /* a failed JSON write */
} train_view;

static void draw_bar(const mn_train_step *s)
{
    const int width = 30;
    int filled = (int)((double)width * (double)s->step / (double)s->total);
    double eta = s->elapsed / (double)s->step * (double)(s->total - s->step);
    fprintf(stderr, "\r[");
    for (int i = 0; i < width; i++)
        fputc(i < filled ? '#' : '.', stderr);
    fprintf(stderr, "] step %lld/%lld  loss %.4f  ETA %dm%02ds ", (long long)s->step,
            (long long)s->total, s->loss, (int)eta / 60, (int)eta % 60);
    fflush(stderr);
}

static void on_step(void *ctx, const mn_train_step *s)
{
    train_view *v = ctx;
    int64_t log_every = s->total >= 10 ? s->total / 10 : 1; /* ten JSON lines per run */
    if (v->bar && ((s->step - 1) % 10 == 0 || s->step == s->total))
        draw_bar(s);
    if (v->json && v->rc == MN_EXIT_OK && (s->step % log_every == 0 || s->step == s->total))
        v->rc = mn_cli_json_print(CMD, stdout,
                                  json_pack("{s:I, s:o, s:o, s:o}", "step", (json_int_t)s->step,
                                            "epoch", mn_cli_json_real(s->epoch), "loss",
                                            mn_cli_json_real(s->loss), "lr",
                                            mn_cli_json_real(s->lr)));
}

static int print_result_json(const mn_train_result *r)
{
    return mn_cli_json_print(
        CMD, stdout,
        json_pack("{s:o, s:o, s:o, s:I, s:o, s:o, s:b}", "test_acc",
                  mn_cli_json_real(r->test_acc), "test_loss", mn_cli_json_real(r->test_loss),
                  "train_loss", mn_cli_json_real(r->train_loss), "steps", (json_int_t)r->steps,
                  "seconds", mn_cli_json_real(r->seconds), "ms_per_step",
                  mn_cli_json_real(r->ms_per_step), "diverged", (int)r->diverged));
}

int mn_cmd_train(mn_cli_args *a)
{
    mn_train_opts o;
    mn_cli_train_opts_from(a, &o);
    /* Before any work: --atom-norm's K names an atom of this model. */
    mn_status st = mn_cli_check_atom_norms(&o.model, &a->atom_norms);
    if (st == MN_ERR_ARG)
        return mn_cli_usage_error(CMD, "%s", mn_last_error());
    if (st != MN_OK)
        return mn_cli_fail(CMD, st);
    mn_dataset train = {0}, test = {0};
    st = mn_fashion_mnist_load(a->data_dir, &train, &test);
    if (st != MN_OK)
        return mn_cli_fail(CMD, st);
    if (o.batch > train.n) {
        int64_t n = train.n; /* read before the free below zeroes it */
        mn_dataset_free(&train);
        mn_dataset_free(&test);
        return mn_cli_usage_error(CMD, "--batch %lld exceeds the %lld training examples",
                                  (long long)o.batch, (long long)n);
    }
    train_view view = {.bar = !a->json && isatty(STDERR_FILENO), .json = a->json};
    o.on_step = on_step;
    o.ctx = &view;
    mn_train_result r;
    st = mn_cli_train(&o, &train, &test, &r);
    mn_dataset_free(&train);
    mn_dataset_free(&test);
    if (view.bar)
        fputc('\n', stderr);
    if (st == MN_ERR_NONFINITE) { /* an update or the test loss overflowed: diverged too */
        fprintf(stderr, "modnorm train: %s after %lld steps: stopping (diverged; try a smaller "
                "--lr)\n", mn_last_error(), (long long)r.steps);
        r.diverged = true;
        r.train_loss = r.test_loss = INFINITY;
        r.test_acc = 0;
        st = MN_OK;
    } else if (r.diverged) {
        fprintf(stderr, "modnorm train: the loss became non-finite at step %lld: stopping "
                "(diverged; try a smaller --lr)\n", (long long)r.diverged_at);
    }
    if (st != MN_OK)
        return mn_cli_fail(CMD, st);
    if (view.rc != MN_EXIT_OK)
        return view.rc;
    if (a->json) {
        int rc = print_result_json(&r);
        if (rc != MN_EXIT_OK)
            return rc;
    } else if (!r.diverged) {
        printf("test accuracy %.2f%% (test loss %.4f, train loss %.4f) after %lld steps in "
               "%.1f s (%.1f ms/step)\n",
               100 * r.test_acc, r.test_loss, r.train_loss, (long long)r.steps, r.seconds,
               r.ms_per_step);
    }
    return r.diverged ? 3 : MN_EXIT_OK;
}
