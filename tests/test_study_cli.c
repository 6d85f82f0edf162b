/* The library's fit loop (modnorm/train.h) against the CLI's own trainer
 * (src/cli/trainer.c, compiled into this test) on Fashion-MNIST: the same
 * settings give bit-identical results and the same JSON progress lines,
 * across optimizers, schedules, momentum, weight decay, warmup, atom-norm
 * overrides, epochs and thread counts. A transitional test: delete it with
 * src/cli/trainer.c once the CLI trains through train.h. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/trainer.h"
#include "testutil.h"

static mn_dataset fm_train, fm_test, sub_train, sub_test;
static bool fm_loaded;

/* The CLI's JSON progress line, from the library's on_log. */
static mn_status log_json(void *ctx, const mn_fit_step *s)
{
    fprintf(ctx, "{\"step\": %lld, \"epoch\": %.3f, \"loss\": %.6f, \"lr\": %.6g}\n",
            (long long)s->step, s->epoch, s->loss, s->lr);
    return MN_OK;
}

typedef struct config {
    const char *opt;
    mn_param param;
    double lr, momentum, wd;
    bool nesterov;
    mn_schedule schedule;
    int64_t warmup, steps, batch;
    double epochs;
    const char *method, *atom_norm;
    int width, depth, threads;
    uint64_t seed;
} config;

/* Both runs of one config; whether they diverged. */
static bool compare(const config *c)
{
    ck_assert_msg(fm_loaded, "Fashion-MNIST: %s", mn_last_error());
    mn_train_opts o = {.model = {.name = "mlp", .d_in = 784, .width = c->width, .depth = c->depth,
                                 .d_out = 10},
                       .opt = c->opt, .param = c->param, .lr = c->lr, .momentum = c->momentum,
                       .nesterov = c->nesterov, .wd = c->wd, .schedule = c->schedule,
                       .warmup = c->warmup, .method = c->method, .steps = c->steps,
                       .epochs = c->epochs, .batch = c->batch, .seed = c->seed,
                       .threads = c->threads, .quiet = true, .log_every = 3};
    if (c->atom_norm)
        o.atom_norms[o.n_atom_norms++] = c->atom_norm;
    char *cli_text = NULL, *lib_text = NULL;
    size_t cli_len = 0, lib_len = 0;
    o.json = open_memstream(&cli_text, &cli_len);
    mn_train_result want;
    mn_status want_st = mn_cli_train(&o, &sub_train, &sub_test, &want);
    fclose(o.json);

    mn_train_settings s;
    mn_train_settings_default(&s);
    s.opt = c->opt;
    s.param = c->param;
    s.lr = c->lr;
    s.momentum = c->momentum;
    s.nesterov = c->nesterov;
    s.weight_decay = c->wd;
    s.schedule = c->schedule;
    s.warmup = c->warmup;
    s.polar_method = c->method;
    s.steps = c->steps;
    s.epochs = c->epochs;
    s.batch = c->batch;
    s.seed = c->seed;
    s.threads = c->threads;
    mn_atom_norm ov;
    if (c->atom_norm) {
        ck_assert_ok(mn_atom_norm_parse(c->atom_norm, &ov));
        s.atom_norms = &ov;
        s.n_atom_norms = 1;
    }
    mn_module *root;
    ck_assert_ok(mn_mlp(&root, 784, c->width, c->depth, 10));
    FILE *f = open_memstream(&lib_text, &lib_len);
    mn_fit_callbacks cb = {.ctx = f, .on_log = log_json, .log_every = 3};
    mn_fit_result got;
    mn_status got_st = mn_train(root, &s, &sub_train, &sub_test, &cb, &got);
    fclose(f);

    ck_assert_int_eq(got_st, want_st);
    ck_assert_str_eq(lib_text, cli_text);
    ck_assert_int_eq(got.steps, want.steps);
    ck_assert_int_eq(got.diverged, want.diverged);
    ck_assert_double_eq(got.initial_loss, want.initial_loss);
    /* Bit for bit (== on doubles; +inf equals +inf). */
    ck_assert_msg(got.train_loss == want.train_loss, "train loss %.17g, the CLI %.17g",
                  got.train_loss, want.train_loss);
    ck_assert_msg(got.test_loss == want.test_loss, "test loss %.17g, the CLI %.17g",
                  got.test_loss, want.test_loss);
    ck_assert_msg(got.test_acc == want.test_acc, "test acc %.17g, the CLI %.17g", got.test_acc,
                  want.test_acc);
    ck_assert(strlen(lib_text) > 0 || want.diverged);
    free(cli_text);
    free(lib_text);
    return got.diverged;
}

static const config base = {.opt = "muon", .lr = NAN, .momentum = NAN, .schedule =
                            MN_SCHEDULE_LINEAR, .batch = 64, .epochs = 0.8, .width = 48,
                            .depth = 3, .threads = 1};

START_TEST(test_muon_epochs)
{
    config c = base; /* 0.8 of an epoch of 3000 rows at batch 64: 38 steps */
    ck_assert(!compare(&c));
    c.epochs = 1.7; /* across an epoch boundary: the batcher reshuffles */
    c.seed = 5;
    compare(&c);
}
END_TEST

START_TEST(test_two_threads)
{
    config c = base;
    c.threads = 2;
    c.width = 96;
    compare(&c);
}
END_TEST

START_TEST(test_settings_variety)
{
    config c = base;
    c.opt = "sgd";
    c.lr = 0.5;
    c.momentum = 0.8;
    c.nesterov = true;
    c.schedule = MN_SCHEDULE_COSINE;
    c.warmup = 5;
    compare(&c);
    c = base;
    c.opt = "sign";
    c.param = MN_PARAM_SP;
    c.wd = 0.1;
    c.schedule = MN_SCHEDULE_CONSTANT;
    c.steps = 20;
    compare(&c);
    c = base;
    c.opt = "adam";
    c.steps = 25;
    c.wd = 0.01;
    compare(&c);
    c = base;
    c.method = "ns5";
    c.atom_norm = "1=frobenius";
    c.depth = 4;
    compare(&c);
}
END_TEST

START_TEST(test_divergence)
{
    /* A rate that blows up: both stop at the same step, diverged. */
    config c = base;
    c.opt = "sgd";
    c.lr = 1e5;
    c.steps = 30;
    ck_assert(compare(&c));
}
END_TEST

int main(void)
{
    if (mn_fashion_mnist_load(NULL, &fm_train, &fm_test) == MN_OK) {
        fm_loaded = true;
        /* Views of the first rows: short runs that still cross epochs. */
        sub_train = fm_train;
        sub_train.n = 3000;
        sub_test = fm_test;
        sub_test.n = 2000;
    }
    Suite *s = suite_create("study-cli");
    TCase *tc = tcase_create("study-cli");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_muon_epochs);
    tcase_add_test(tc, test_two_threads);
    tcase_add_test(tc, test_settings_variety);
    tcase_add_test(tc, test_divergence);
    suite_add_tcase(s, tc);
    int rc = tm_run_suite(s);
    mn_dataset_free(&fm_train);
    mn_dataset_free(&fm_test);
    return rc;
}
