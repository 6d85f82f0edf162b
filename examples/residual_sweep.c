/* residual_sweep: a width sweep of a residual network built with the C API
 * (not a graph file), through the public API only (modnorm.h).
 *
 * The network is a residual GELU MLP on Fashion-MNIST:
 *     Linear(w←784), then K blocks  x ↦ x + (1/K)·(Linear(w←w) ∘ GELU ∘ Linear(w←w))(x),
 *     then Linear(10←w),
 * written with mn_sequential, mn_sum, mn_scale. The 1/K keeps the sum of K
 * blocks of sensitivity 1 at sensitivity 1 (the modular norm's rule for
 * scalar multiples). A model factory builds it at any width; study.h trains
 * a small width × learning-rate grid with modular Muon and summarizes where
 * the best learning rate lands at each width. The slope of log2 η* per
 * doubling of the width is near 0 when the rate transfers across widths.
 *
 * Usage: residual_sweep [DIR]   (DIR keeps the results and resumes; without
 * it they go to a temporary directory that is removed at the end). Exits
 * non-zero on any library error. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <modnorm.h>

#define CHECK(call)                                                                                \
    do {                                                                                           \
        mn_status s_ = (call);                                                                     \
        if (s_ != MN_OK) {                                                                         \
            fprintf(stderr, "residual_sweep: %s: %s\n", #call,                                     \
                    mn_last_error()[0] ? mn_last_error() : mn_status_str(s_));                     \
            return 1;                                                                              \
        }                                                                                          \
    } while (0)

enum { BLOCKS = 2, STEPS = 40, BATCH = 64, TEST_ROWS = 2000 };

typedef struct residual_spec {
    int64_t d_in, d_out;
    int blocks;
} residual_spec;

/* One block: x + (1/K)·(Linear ∘ GELU ∘ Linear)(x). Constructors take their
 * children, also on failure, so nothing leaks on an early return. */
static mn_status block(mn_module **out, int64_t width, int blocks)
{
    mn_module *inner[3] = {NULL, NULL, NULL}, *branch, *scaled, *skip;
    mn_status st = mn_linear(&inner[0], width, width);
    if (st == MN_OK)
        st = mn_gelu(&inner[1]);
    if (st == MN_OK)
        st = mn_linear(&inner[2], width, width);
    if (st != MN_OK) {
        for (int i = 0; i < 3; i++)
            mn_module_destroy(inner[i]);
        return st;
    }
    if ((st = mn_sequential(&branch, 3, inner)) != MN_OK)
        return st;
    if ((st = mn_scale(&scaled, 1.0 / blocks, branch)) != MN_OK)
        return st;
    if ((st = mn_identity(&skip)) != MN_OK) {
        mn_module_destroy(scaled);
        return st;
    }
    return mn_sum(out, skip, scaled);
}

/* The model factory: only "width" is a size parameter of this network. */
static mn_status residual_factory(void *ctx, const char *param, int64_t value, mn_module **out)
{
    const residual_spec *spec = ctx;
    if (strcmp(param, "width") != 0 || value < 1 || spec->blocks < 1 || spec->blocks > 16)
        return MN_ERR_ARG;
    mn_module *parts[2 + 16] = {NULL};
    int n = 2 + spec->blocks;
    mn_status st = mn_linear(&parts[0], value, spec->d_in);
    for (int k = 0; k < spec->blocks && st == MN_OK; k++)
        st = block(&parts[1 + k], value, spec->blocks);
    if (st == MN_OK)
        st = mn_linear(&parts[n - 1], spec->d_out, value);
    if (st != MN_OK) {
        for (int i = 0; i < n; i++)
            mn_module_destroy(parts[i]);
        return st;
    }
    return mn_sequential(out, n, parts);
}

static void on_run(void *ctx, const mn_study_progress *p)
{
    (void)ctx;
    const mn_study_row *r = p->row;
    printf("[%2d/%d] width %4lld  lr 2^%-3.0f  ", p->done, p->to_train, (long long)r->value,
           log2(r->lr));
    if (r->diverged)
        printf("diverged\n");
    else
        printf("train loss %.4f  test acc %5.2f%%  (%.1f s)\n", r->train_loss,
               100 * r->test_acc, p->run_seconds);
    fflush(stdout);
}

/* Remove what the sweep wrote into a temporary directory, and it. */
static void remove_tmp(const char *parent, const char *out)
{
    static const char *files[] = {"results.csv", "sweep.cfg"};
    char path[4096 + 16];
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", out, files[i]);
        unlink(path);
    }
    rmdir(out);
    rmdir(parent);
}

static int run(const char *out, const mn_dataset *train, const mn_dataset *test)
{
    residual_spec spec = {.d_in = train->dim, .d_out = 10, .blocks = BLOCKS};
    const int64_t widths[] = {32, 64, 128};
    /* Five octaves: 40 steps prefer rates a little above --quick's 200-step grid. */
    double *lrs;
    int n_lrs;
    CHECK(mn_study_parse_lrs("2^-3:2^1", &lrs, &n_lrs));
    char model[128];
    snprintf(model, sizeof model, "data=fashion-mnist\nmodel=residual-gelu-mlp\nblocks=%d\n",
             spec.blocks);
    mn_study_sweep sw = {.param = "width", .values = widths, .n_values = 3, .lrs = lrs,
                         .n_lrs = n_lrs, .seeds = 1, .jobs = 1,
                         .factory = residual_factory, .factory_ctx = &spec,
                         .train_data = train, .test_data = test, .dir = out,
                         .model_text = model};
    mn_train_settings_default(&sw.train); /* modular Muon, linear decay */
    sw.train.steps = STEPS;
    sw.train.batch = BATCH;
    mn_study_callbacks cb = {.on_run = on_run};
    mn_study_plan plan;
    mn_study_summary s;
    mn_status st = mn_study_sweep_run(&sw, &cb, &plan);
    if (st == MN_OK) {
        printf("%d runs (%d were already in %s)\n", plan.total, plan.done, out);
        st = mn_study_sweep_summarize(&sw, &s, NULL, NULL);
    }
    free(lrs);
    if (st != MN_OK) {
        fprintf(stderr, "residual_sweep: %s\n", mn_last_error()[0] ? mn_last_error()
                                                                    : mn_status_str(st));
        return 1;
    }
    printf("%6s  %9s  %9s  %8s\n", "width", "best lr", "refined", "loss");
    for (int i = 0; i < s.n_values; i++) {
        const mn_study_point *p = &s.per_value[i];
        if (p->best < 0)
            printf("%6lld  every run diverged\n", (long long)p->value);
        else
            printf("%6lld  %9.4g  %9.4g  %8.4f%s\n", (long long)p->value, p->best_lr,
                   p->best_lr_refined, p->loss, p->at_edge ? "  (at the edge of the grid)" : "");
    }
    int rc = 0;
    if (isnan(s.slope)) {
        fprintf(stderr, "residual_sweep: fewer than two widths have a best learning rate\n");
        rc = 1;
    } else {
        printf("slope %.3f octaves of the best learning rate per doubling of width "
               "(spread %.2f octaves)\n", s.slope, s.spread);
    }
    mn_study_summary_free(&s);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc > 2) {
        fprintf(stderr, "usage: residual_sweep [DIR]\n");
        return 2;
    }
    mn_dataset train, test;
    CHECK(mn_fashion_mnist_load(NULL, &train, &test));
    mn_dataset test_view = test; /* the first rows are enough to rank learning rates */
    if (test_view.n > TEST_ROWS)
        test_view.n = TEST_ROWS;
    char parent[] = "/tmp/residual_sweep_XXXXXX", out[4096];
    int rc;
    if (argc == 2) {
        rc = run(argv[1], &train, &test_view);
    } else if (!mkdtemp(parent)) {
        perror("residual_sweep: mkdtemp");
        rc = 1;
    } else {
        snprintf(out, sizeof out, "%s/sweep", parent);
        rc = run(out, &train, &test_view);
        remove_tmp(parent, out);
    }
    mn_dataset_free(&train);
    mn_dataset_free(&test);
    return rc;
}
