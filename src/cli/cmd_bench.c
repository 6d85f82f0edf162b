/* modnorm bench gemm|dualize|step: the sgemm rate through modnorm's BLIS
 * wrapper and the kernel set in use (the roofline every other timing is
 * compared with), the polar factor, and one training step. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <sys/resource.h>
#include <time.h>

#include "cli/cli.h"
#include "cli/trainer.h"
#include "core/blas.h"
#include "core/error.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

typedef enum { OP_GEMM, OP_SYRK, OP_GEMMT } product_op;
static const char *const op_names[] = {"gemm", "syrk", "gemmt"};

/* The flops a product does: gemm 2n³; syrk and gemmt compute one triangle, n³. */
static double product_flops(product_op op, int n)
{
    return (op == OP_GEMM ? 2.0 : 1.0) * n * (double)n * n;
}

/* Times of `repeat` n x n float32 products after one warm-up, sorted. */
static mn_status time_product(product_op op, int n, int threads, int repeat, double *t)
{
    mn_mat A, B, C;
    MN_TRY(mn_mat_alloc(&A, MN_F32, n, n));
    mn_status st = mn_mat_alloc(&B, MN_F32, n, n);
    if (st == MN_OK)
        st = mn_mat_alloc(&C, MN_F32, n, n);
    if (st == MN_OK) {
        mn_rng r;
        mn_rng_seed(&r, 1);
        mn_rng_fill_normal(&r, &A);
        mn_rng_fill_normal(&r, &B);
    }
    for (int i = -1; st == MN_OK && i < repeat; i++) {
        double t0 = now();
        st = op == OP_GEMM   ? mn_blas_gemm(1.0, &A, &B, 0.0, &C, threads)
             : op == OP_SYRK ? mn_blas_syrk_lower(1.0, &A, 0.0, &C, threads)
                             : mn_blas_gemmt_lower(1.0, &A, &B, 0.0, &C, threads);
        if (i >= 0)
            t[i] = now() - t0;
    }
    if (st == MN_OK)
        qsort(t, (size_t)repeat, sizeof(double), cmp_double);
    mn_mat_free(&A);
    mn_mat_free(&B);
    mn_mat_free(&C);
    return st;
}

/* Seconds of the fastest of `repeat` sgemms of n x n matrices: the roofline
 * rate is the best this machine gives, not a typical one. */
static mn_status gemm_seconds(int n, int threads, int repeat, double *best)
{
    double *t = calloc((size_t)repeat, sizeof(double));
    if (!t)
        return mn_fail(MN_ERR_NOMEM, "bench: out of memory");
    mn_status st = time_product(OP_GEMM, n, threads, repeat, t);
    if (st == MN_OK)
        *best = t[0];
    free(t);
    return st;
}

static int bench_gemm(int argc, char **argv)
{
    static const struct option opts[] = {{"n", required_argument, 0, 'n'},
                                         {"op", required_argument, 0, 'o'},
                                         {"repeat", required_argument, 0, 'r'},
                                         {"threads", required_argument, 0, 't'},
                                         {"json", no_argument, 0, 'j'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    int n = 2048, repeat = 10, threads = 0, c;
    product_op op = OP_GEMM;
    bool json = false;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'n':
            if (!mn_cli_parse_int("bench gemm", "--n", optarg, 1, 16384, &n))
                return MN_EXIT_USAGE;
            break;
        case 'o': {
            int k = mn_cli_parse_choice("bench gemm", "--op", optarg, op_names, 3);
            if (k < 0)
                return MN_EXIT_USAGE;
            op = (product_op)k;
            break;
        }
        case 'r':
            if (!mn_cli_parse_int("bench gemm", "--repeat", optarg, 1, 1000, &repeat))
                return MN_EXIT_USAGE;
            break;
        case 't':
            if (!mn_cli_parse_int("bench gemm", "--threads", optarg, 1, 1024, &threads))
                return MN_EXIT_USAGE;
            break;
        case 'j': json = true; break;
        case 'h':
            printf("usage: modnorm bench gemm [--n N] [--op gemm|syrk|gemmt] [--repeat R] "
                   "[--threads T] [--json]\n\n"
                   "Times an n x n float32 product through modnorm's BLIS wrapper (median of R\n"
                   "after one warm-up): C = A·B (gemm, 2n³ flops), or the lower triangle of\n"
                   "A·Aᵀ (syrk) or of A·B (gemmt), n³ flops each; reports GFLOP/s and the BLIS\n"
                   "kernel set in use.\n");
            return MN_EXIT_OK;
        default: return mn_cli_usage_error("bench gemm", "unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    double *t = malloc((size_t)repeat * sizeof(double));
    if (!t)
        return mn_cli_fail("bench gemm", mn_fail(MN_ERR_NOMEM, "out of memory"));
    mn_status st = time_product(op, n, threads, repeat, t);
    if (st != MN_OK) {
        free(t);
        return mn_cli_fail("bench gemm", st);
    }
    double med = t[repeat / 2], gflops = product_flops(op, n) / med * 1e-9;
    if (json)
        printf("{\"op\": \"%s\", \"n\": %d, \"threads\": %d, \"ms_median\": %.3f, "
               "\"ms_min\": %.3f, \"ms_max\": %.3f, \"gflops\": %.1f, \"arch\": \"%s\", "
               "\"arch_reason\": \"%s\", \"blis\": \"%s\"}\n",
               op_names[op], n, threads, 1e3 * med, 1e3 * t[0], 1e3 * t[repeat - 1], gflops,
               mn_blas_arch(), mn_blas_arch_reason(), mn_blas_version());
    else
        printf("s%s %dx%dx%d: %.1f GFLOP/s (median %.2f ms of %d, min %.2f, max %.2f); BLIS %s, "
               "kernels %s (%s)\n",
               op_names[op], n, n, n, gflops, 1e3 * med, repeat, 1e3 * t[0],
               1e3 * t[repeat - 1], mn_blas_version(), mn_blas_arch(), mn_blas_arch_reason());
    free(t);
    return MN_EXIT_OK;
}

static int bench_dualize(int argc, char **argv)
{
    static const struct option opts[] = {{"shape", required_argument, 0, 's'},
                                         {"method", required_argument, 0, 'm'},
                                         {"repeat", required_argument, 0, 'r'},
                                         {"threads", required_argument, 0, 't'},
                                         {"form", required_argument, 0, 'f'},
                                         {"no-error", no_argument, 0, 'e'},
                                         {"json", no_argument, 0, 'j'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    long rows = 1024, cols = 4096;
    mn_polar_form form = MN_POLAR_AUTO;
    const char *method_name = "ns5";
    int repeat = 5, threads = 0, c;
    bool json = false, check = true;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            if (sscanf(optarg, "%ldx%ld", &rows, &cols) != 2 || rows < 1 || cols < 1 ||
                rows > 65536 || cols > 65536)
                return mn_cli_usage_error("bench dualize", "--shape '%s' must be MxN, e.g. 1024x4096",
                                          optarg);
            break;
        case 'm': method_name = optarg; break;
        case 'f': {
            static const char *const forms[] = {"direct", "gram"};
            int k = mn_cli_parse_choice("bench dualize", "--form", optarg, forms, 2);
            if (k < 0)
                return MN_EXIT_USAGE;
            form = k == 0 ? MN_POLAR_DIRECT : MN_POLAR_GRAM;
            break;
        }
        case 'r':
            if (!mn_cli_parse_int("bench dualize", "--repeat", optarg, 1, 1000, &repeat))
                return MN_EXIT_USAGE;
            break;
        case 't':
            if (!mn_cli_parse_int("bench dualize", "--threads", optarg, 1, 1024, &threads))
                return MN_EXIT_USAGE;
            break;
        case 'e': check = false; break;
        case 'j': json = true; break;
        case 'h':
            printf("usage: modnorm bench dualize [--shape MxN] [--method M] [--repeat R] "
                   "[--threads T] [--form direct|gram] [--no-error] [--json]\n\n"
                   "Times the polar factor of a Gaussian MxN float32 matrix (median of R after a\n"
                   "warm-up). polar_err = ‖X − UVᵀ‖_F/‖UVᵀ‖_F against the exact SVD (outside the\n"
                   "timing; --no-error skips it, e.g. for n ≥ 4096 where the SVD takes minutes);\n"
                   "roofline_ms = the flops of the form used / this run's best 1024³ sgemm rate.\n");
            return MN_EXIT_OK;
        default: return mn_cli_usage_error("bench dualize", "unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    const mn_polar_method *m;
    if (mn_polar_lookup(method_name, &m) != MN_OK)
        return mn_cli_usage_error("bench dualize", "--method: %s", mn_last_error());
    mn_mat G, X, P;
    mn_status st = mn_mat_alloc(&G, MN_F32, rows, cols);
    if (st == MN_OK)
        st = mn_mat_alloc(&X, MN_F32, rows, cols);
    if (st != MN_OK)
        return mn_cli_fail("bench dualize", st);
    mn_rng r;
    mn_rng_seed(&r, 7);
    mn_rng_fill_normal(&r, &G);
    double *t = calloc((size_t)repeat, sizeof(double));
    for (int i = -1; st == MN_OK && i < repeat; i++) {
        double t0 = now();
        st = mn_polar_form_run(m, form, 0, threads, &X, &G);
        if (i >= 0)
            t[i] = now() - t0;
    }
    double err = NAN, gemm_s = 0;
    if (st == MN_OK && check)
        st = mn_mat_alloc(&P, MN_F32, rows, cols);
    if (st == MN_OK && check) {
        const mn_polar_method *svd;
        mn_polar_lookup("svd", &svd);
        st = mn_polar(svd, 0, threads, &P, &G);
        double num = 0, den = 0;
        for (long i = 0; st == MN_OK && i < rows; i++)
            for (long j = 0; j < cols; j++) {
                double d = mn_mat_get(&X, i, j) - mn_mat_get(&P, i, j);
                num += d * d;
                den += mn_mat_get(&P, i, j) * mn_mat_get(&P, i, j);
            }
        err = den > 0 ? sqrt(num / den) : 0;
        mn_mat_free(&P);
    }
    if (st == MN_OK)
        st = gemm_seconds(1024, threads, 10, &gemm_s);
    mn_mat_free(&G);
    mn_mat_free(&X);
    if (st != MN_OK) {
        free(t);
        return mn_cli_fail("bench dualize", st);
    }
    qsort(t, (size_t)repeat, sizeof(double), cmp_double);
    mn_polar_form used = form != MN_POLAR_AUTO ? form : mn_polar_form_for(m, 0, rows, cols, MN_F32);
    double flops = mn_polar_flops(m, used, 0, rows, cols, MN_F32);
    double rate = 2.0 * 1024 * 1024 * 1024 / gemm_s; /* flop/s */
    double med = t[repeat / 2];
    char err_text[32] = "null"; /* JSON null when skipped */
    if (check)
        snprintf(err_text, sizeof err_text, "%.3g", err);
    printf(json ? "{\"shape\": \"%ldx%ld\", \"method\": \"%s\", \"threads\": %d, "
                  "\"form\": \"%s\", \"ms_median\": %.3f, \"ms_min\": %.3f, \"ms_max\": %.3f, "
                  "\"gflops\": %.1f, \"roofline_ms\": %.3f, \"polar_err\": %s, \"arch\": \"%s\"}\n"
                : "dualize %ldx%ld with %s, %d threads, %s form: median %.2f ms (min %.2f, max "
                  "%.2f), %.1f GFLOP/s, roofline %.2f ms, polar_err %s, BLIS kernels %s\n",
           rows, cols, m->name, threads, !m->n_coeffs ? "svd" : used == MN_POLAR_GRAM ? "gram" : "direct", 1e3 * med, 1e3 * t[0], 1e3 * t[repeat - 1],
           flops / med * 1e-9, 1e3 * flops / rate, err_text, mn_blas_arch());
    free(t);
    return MN_EXIT_OK;
}

static long peak_rss_kb(void)
{
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return u.ru_maxrss;
}

/* The matrix-multiply flops of one step: forward and backward through every
 * atom's weight (3 products of 2·batch·d_out·d_in; 2 for the first atom, the
 * reader of the data, whose input gradient training skips) plus, for atoms
 * whose update is a polar factor, the polar iteration as mn_polar would run
 * it. Element-wise work is left out: this is the step's roofline at the
 * sgemm rate. */
static double step_flops(const mn_network *net, const mn_solver_config *cfg, int batch)
{
    const mn_norm *forced = NULL;
    if (cfg->norm)
        mn_norm_lookup(cfg->norm, &forced);
    double total = 0;
    for (int i = 0; i < mn_network_atom_count(net); i++) {
        const mn_module *a = mn_network_atom(net, i);
        int64_t d_out, d_in;
        if (mn_module_weight_shape(a, &d_out, &d_in) != MN_OK)
            continue;
        total += (i == 0 ? 2 : 3) * 2.0 * batch * (double)d_out * (double)d_in;
        const mn_norm *n = forced ? forced : mn_module_norm(a);
        if (cfg->kind == MN_SOLVER_STEEPEST && n && n->uses_polar)
            total += mn_polar_flops(cfg->polar.method, MN_POLAR_AUTO, cfg->polar.steps, d_out,
                                    d_in, MN_F32);
    }
    return total;
}

static int bench_step(int argc, char **argv)
{
    static const struct option opts[] = {{"model", required_argument, 0, 'm'},
                                         {"width", required_argument, 0, 'w'},
                                         {"depth", required_argument, 0, 'd'},
                                         {"batch", required_argument, 0, 'b'},
                                         {"opt", required_argument, 0, 'o'},
                                         {"steps", required_argument, 0, 's'},
                                         {"method", required_argument, 0, 'p'},
                                         {"threads", required_argument, 0, 't'},
                                         {"serial-atoms", no_argument, 0, 'a'},
                                         {"json", no_argument, 0, 'j'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    mn_model_spec spec = {.name = "mlp", .d_in = 784, .width = 1024, .depth = 3, .d_out = 10};
    const char *opt = "muon", *method = MN_TRAIN_DEFAULT_METHOD;
    int batch = 128, steps = 20, threads = 0, c, li = 0;
    bool json = false, serial_atoms = false;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", opts, &li)) != -1) {
        switch (c) {
        case 'm':
        case 'w':
        case 'd':
            if (!mn_cli_model_option("bench step", opts[li].name, optarg, &spec))
                return MN_EXIT_USAGE;
            break;
        case 'b':
            if (!mn_cli_parse_int("bench step", "--batch", optarg, 1, 1 << 16, &batch))
                return MN_EXIT_USAGE;
            break;
        case 'o': opt = optarg; break;
        case 's':
            if (!mn_cli_parse_int("bench step", "--steps", optarg, 1, 100000, &steps))
                return MN_EXIT_USAGE;
            break;
        case 'p': method = optarg; break;
        case 't':
            if (!mn_cli_parse_int("bench step", "--threads", optarg, 1, 1024, &threads))
                return MN_EXIT_USAGE;
            break;
        case 'a': serial_atoms = true; break;
        case 'j': json = true; break;
        case 'h':
            printf("usage: modnorm bench step [--model mlp] [--width W] [--depth D] [--batch B]\n"
                   "                          [--opt OPT] [--steps N] [--method M] [--threads T]\n"
                   "                          [--serial-atoms] [--json]\n\n"
                   "Median time of one training step (forward + backward + update) on random\n"
                   "inputs and labels, after one warm-up step; the update alone (the solver\n"
                   "step); the roofline = matrix-multiply flops of the step / this run's best\n"
                   "1024³ sgemm rate; and the peak resident memory. --serial-atoms dualizes\n"
                   "the atoms one at a time on every thread instead of running small ones\n"
                   "side by side.\n");
            return MN_EXIT_OK;
        default: return mn_cli_usage_error("bench step", "unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    mn_solver_config cfg;
    if (mn_solver_preset(&cfg, opt, MN_PARAM_MODULAR) != MN_OK)
        return mn_cli_usage_error("bench step", "--opt: %s", mn_last_error());
    if (mn_polar_lookup(method, &cfg.polar.method) != MN_OK)
        return mn_cli_usage_error("bench step", "--method: %s", mn_last_error());
    cfg.polar.threads = threads;
    cfg.serial_atoms = serial_atoms;
    cfg.schedule = MN_SCHEDULE_CONSTANT;
    mn_module *root;
    if (mn_cli_build_model(&spec, &root) != MN_OK)
        return MN_EXIT_USAGE;
    mn_network *net = NULL;
    mn_solver *solver = NULL;
    mn_tensor *x = NULL, *dy = NULL;
    int32_t *labels = calloc((size_t)batch, sizeof *labels);
    double *t = calloc((size_t)steps, sizeof *t), *t_update = calloc((size_t)steps, sizeof *t);
    mn_status st = mn_network_create(&net, root, MN_PARAM_MODULAR, 0);
    if (st == MN_OK && (!labels || !t || !t_update))
        st = mn_fail(MN_ERR_NOMEM, "out of memory");
    if (st == MN_OK) {
        mn_network_set_threads(net, threads);
        st = mn_solver_create(&solver, net, &cfg);
    }
    if (st == MN_OK)
        st = mn_tensor_create(&x, 2, (int64_t[]){batch, spec.d_in});
    if (st == MN_OK)
        st = mn_tensor_create(&dy, 2, (int64_t[]){batch, spec.d_out});
    mn_rng r;
    mn_rng_seed(&r, 5);
    if (st == MN_OK) {
        mn_mat xm;
        mn_tensor_as_mat(x, &xm);
        mn_rng_fill_normal(&r, &xm);
        for (int i = 0; i < batch; i++)
            labels[i] = (int32_t)mn_rng_below(&r, (uint64_t)spec.d_out);
    }
    for (int i = -1; st == MN_OK && i < steps; i++) {
        double t0 = now(), loss;
        const mn_tensor *y;
        st = mn_network_forward(net, x, &y);
        if (st == MN_OK)
            st = mn_loss_cross_entropy(y, labels, &loss, dy, NULL);
        if (st == MN_OK) {
            mn_network_zero_grad(net);
            st = mn_network_backward(net, dy);
        }
        double t1 = now();
        if (st == MN_OK)
            st = mn_solver_step(solver, net);
        if (i >= 0) {
            t[i] = now() - t0;
            t_update[i] = now() - t1;
        }
    }
    double roofline_flops = st == MN_OK ? step_flops(net, &cfg, batch) : 0, gemm_s = 0;
    int side_by_side = st == MN_OK ? mn_solver_atoms_side_by_side(solver) : 0;
    int atoms = st == MN_OK ? mn_network_atom_count(net) : 0;
    if (st == MN_OK)
        st = gemm_seconds(1024, threads, 10, &gemm_s);
    mn_tensor_destroy(x);
    mn_tensor_destroy(dy);
    mn_solver_destroy(solver);
    mn_network_destroy(net);
    free(labels);
    if (st != MN_OK) {
        free(t);
        free(t_update);
        return mn_cli_fail("bench step", st);
    }
    qsort(t, (size_t)steps, sizeof(double), cmp_double);
    qsort(t_update, (size_t)steps, sizeof(double), cmp_double);
    double med = t[steps / 2], upd = t_update[steps / 2], rss = (double)peak_rss_kb() / 1024.0;
    double roofline = roofline_flops / (2.0 * 1024 * 1024 * 1024 / gemm_s);
    printf(json ? "{\"model\": \"%s\", \"width\": %d, \"depth\": %d, \"batch\": %d, \"opt\": \"%s\", "
                  "\"threads\": %d, \"ms_per_step\": %.3f, \"ms_min\": %.3f, \"ms_max\": %.3f, "
                  "\"ms_update\": %.3f, \"roofline_ms\": %.3f, \"peak_rss_mb\": %.1f, "
                  "\"atoms\": %d, \"atoms_side_by_side\": %d}\n"
                : "step of %s width %d depth %d batch %d with %s, %d threads: median %.2f ms "
                  "(min %.2f, max %.2f; update %.2f), roofline %.2f ms, peak RSS %.1f MB, "
                  "%d atoms, %d side by side\n",
           spec.name, (int)spec.width, spec.depth, batch, opt, threads, 1e3 * med, 1e3 * t[0],
           1e3 * t[steps - 1], 1e3 * upd, 1e3 * roofline, rss, atoms, side_by_side);
    free(t);
    free(t_update);
    return MN_EXIT_OK;
}

int mn_cmd_bench(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        printf("usage: modnorm bench gemm|dualize|step [options]   (each has --help)\n");
        return argc < 2 ? MN_EXIT_USAGE : MN_EXIT_OK;
    }
    if (strcmp(argv[1], "gemm") == 0)
        return bench_gemm(argc - 1, argv + 1);
    if (strcmp(argv[1], "dualize") == 0)
        return bench_dualize(argc - 1, argv + 1);
    if (strcmp(argv[1], "step") == 0)
        return bench_step(argc - 1, argv + 1);
    return mn_cli_usage_error("bench", "unknown benchmark '%s' (known: gemm, dualize, step)",
                              argv[1]);
}
