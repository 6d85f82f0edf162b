/* modnorm bench gemm|dualize|step: the sgemm rate through modnorm's BLIS
 * wrapper and the kernel set in use (the roofline every other timing is
 * compared with), the polar factor, and one training step. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <sys/resource.h>
#include <time.h>

#include "cli/cli.h"
#include "cli/json_out.h"
#include "cli/models.h"
#include "cli/trainer.h"
#include "core/bf16.h"
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

/* Times of `repeat` n x n products after one warm-up, sorted: float32
 * through BLIS, or (bf16) bf16 operands with a float32 result through the
 * bf16 backend (gemm and syrk; its syrk computes row blocks, more than the
 * n³ flops counted here). */
static mn_status time_product(product_op op, int n, int threads, int repeat, bool bf16, double *t)
{
    mn_mat A, B, C;
    mn_bf16 *ab = NULL, *bb = NULL;
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
    if (st == MN_OK && bf16) {
        ab = malloc((size_t)n * (size_t)n * sizeof *ab);
        bb = malloc((size_t)n * (size_t)n * sizeof *bb);
        if (!ab || !bb)
            st = mn_fail(MN_ERR_NOMEM, "bench: out of memory");
        else {
            mn_bf16_round(ab, A.data, (int64_t)n * n, 1);
            mn_bf16_round(bb, B.data, (int64_t)n * n, 1);
        }
    }
    mn_bf16_mat a16 = mn_bf16_view(ab, n, n), b16 = mn_bf16_view(bb, n, n);
    for (int i = -1; st == MN_OK && i < repeat; i++) {
        double t0 = now();
        if (bf16)
            st = op == OP_GEMM ? mn_bf16_gemm(&a16, &b16, 0.0, &C, threads)
                               : mn_bf16_syrk_lower(&a16, &C, threads);
        else
            st = op == OP_GEMM   ? mn_blas_gemm(1.0, &A, &B, 0.0, &C, threads)
                 : op == OP_SYRK ? mn_blas_syrk_lower(1.0, &A, 0.0, &C, threads)
                                 : mn_blas_gemmt_lower(1.0, &A, &B, 0.0, &C, threads);
        if (i >= 0)
            t[i] = now() - t0;
    }
    if (st == MN_OK)
        qsort(t, (size_t)repeat, sizeof(double), cmp_double);
    free(ab);
    free(bb);
    mn_mat_free(&A);
    mn_mat_free(&B);
    mn_mat_free(&C);
    return st;
}

/* Seconds of the fastest of `repeat` n x n gemms (float32, or bf16 operands):
 * the roofline rate is the best this machine gives, not a typical one. */
static mn_status gemm_seconds(int n, int threads, int repeat, bool bf16, double *best)
{
    double *t = calloc((size_t)repeat, sizeof(double));
    if (!t)
        return mn_fail(MN_ERR_NOMEM, "bench: out of memory");
    mn_status st = time_product(OP_GEMM, n, threads, repeat, bf16, t);
    if (st == MN_OK)
        *best = t[0];
    free(t);
    return st;
}

int mn_cmd_bench_gemm(mn_cli_args *a)
{
    int n = (int)a->n, repeat = (int)a->repeat, threads = (int)a->threads;
    product_op op = (product_op)a->op;
    bool bf16 = a->precision == MN_PRECISION_BF16;
    if (bf16 && op == OP_GEMMT)
        return mn_cli_usage_error("bench gemm", "--op gemmt has no bf16 form (gemm, syrk)");
    double *t = malloc((size_t)repeat * sizeof(double));
    if (!t)
        return mn_cli_fail("bench gemm", mn_fail(MN_ERR_NOMEM, "out of memory"));
    mn_status st = time_product(op, n, threads, repeat, bf16, t);
    if (st != MN_OK) {
        free(t);
        return mn_cli_fail("bench gemm", st);
    }
    double med = t[repeat / 2], gflops = product_flops(op, n) / med * 1e-9;
    int rc = MN_EXIT_OK;
    if (a->json)
        rc = mn_cli_json_print(
            "bench gemm", stdout,
            json_pack("{s:s, s:s, s:i, s:i, s:o, s:o, s:o, s:o, s:s, s:s, s:s, s:s}", "op",
                      op_names[op], "precision", bf16 ? "bf16" : "fp32", "n", n, "threads",
                      threads, "ms_median", mn_cli_json_real(1e3 * med), "ms_min",
                      mn_cli_json_real(1e3 * t[0]), "ms_max", mn_cli_json_real(1e3 * t[repeat - 1]),
                      "gflops", mn_cli_json_real(gflops), "arch", mn_blas_arch(), "arch_reason",
                      mn_blas_arch_reason(), "blis", mn_blas_version(), "impl",
                      bf16 ? mn_bf16_impl() : "BLIS"));
    else if (bf16)
        printf("bf16 %s %dx%dx%d: %.1f GFLOP/s (median %.2f ms of %d, min %.2f, max %.2f); %s\n",
               op_names[op], n, n, n, gflops, 1e3 * med, repeat, 1e3 * t[0],
               1e3 * t[repeat - 1], mn_bf16_impl());
    else
        printf("s%s %dx%dx%d: %.1f GFLOP/s (median %.2f ms of %d, min %.2f, max %.2f); BLIS %s, "
               "kernels %s (%s)\n",
               op_names[op], n, n, n, gflops, 1e3 * med, repeat, 1e3 * t[0],
               1e3 * t[repeat - 1], mn_blas_version(), mn_blas_arch(), mn_blas_arch_reason());
    free(t);
    return rc;
}

int mn_cmd_bench_dualize(mn_cli_args *a)
{
    long rows = (long)a->shape[0], cols = (long)a->shape[1];
    mn_polar_form form = (mn_polar_form)a->form;
    const char *method_name = a->method;
    int repeat = (int)a->repeat, threads = (int)a->threads;
    bool check = !a->no_error;
    const mn_polar_method *m;
    mn_status st = mn_polar_lookup(method_name, &m); /* the option table accepted it */
    mn_dualize_opts opts = {.method = m, .threads = threads, .form = form,
                            .precision = (mn_precision)a->precision};
    mn_polar_plan plan;
    if (st == MN_OK)
        st = mn_polar_plan_for(&opts, rows, cols, MN_F32, &plan);
    if (st != MN_OK)
        return mn_cli_fail("bench dualize", st);
    mn_mat G, X, P;
    st = mn_mat_alloc(&G, MN_F32, rows, cols);
    if (st == MN_OK)
        st = mn_mat_alloc(&X, MN_F32, rows, cols);
    if (st != MN_OK)
        return mn_cli_fail("bench dualize", st);
    mn_rng r;
    mn_rng_seed(&r, 7);
    mn_rng_fill_normal(&r, &G);
    double *t = calloc((size_t)repeat, sizeof(double));
    if (!t)
        st = mn_fail(MN_ERR_NOMEM, "bench dualize: out of memory");
    for (int i = -1; st == MN_OK && i < repeat; i++) {
        double t0 = now();
        st = mn_polar_run(&opts, &X, &G);
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
    /* The roofline: float32 flops at this run's best sgemm rate, bf16 flops
     * at its best bf16 gemm rate (1024³ each). */
    double bf16_s = 0;
    if (st == MN_OK)
        st = gemm_seconds(1024, threads, 10, false, &gemm_s);
    if (st == MN_OK && plan.flops_bf16 > 0)
        st = gemm_seconds(1024, threads, 10, true, &bf16_s);
    mn_mat_free(&G);
    mn_mat_free(&X);
    if (st != MN_OK) {
        free(t);
        return mn_cli_fail("bench dualize", st);
    }
    qsort(t, (size_t)repeat, sizeof(double), cmp_double);
    double flops = plan.flops, unit = 2.0 * 1024 * 1024 * 1024; /* flops of a 1024³ gemm */
    double roofline = (flops - plan.flops_bf16) / (unit / gemm_s) +
                      (plan.flops_bf16 > 0 ? plan.flops_bf16 / (unit / bf16_s) : 0);
    double share = flops > 0 ? plan.flops_bf16 / flops : 0;
    double med = t[repeat / 2];
    const char *form_name = !m->n_coeffs ? "svd" : plan.form == MN_POLAR_GRAM ? "gram" : "direct";
    const char *precision = mn_precision_name(plan.precision);
    int rc = MN_EXIT_OK;
    if (a->json) {
        char shape[64];
        snprintf(shape, sizeof shape, "%ldx%ld", rows, cols);
        /* polar_err is null when --no-error skipped it. */
        rc = mn_cli_json_print(
            "bench dualize", stdout,
            json_pack("{s:s, s:s, s:i, s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:s, s:s}",
                      "shape", shape, "method", m->name, "threads", threads, "form", form_name,
                      "precision", precision, "ms_median", mn_cli_json_real(1e3 * med),
                      "ms_min", mn_cli_json_real(1e3 * t[0]), "ms_max",
                      mn_cli_json_real(1e3 * t[repeat - 1]), "gflops",
                      mn_cli_json_real(flops / med * 1e-9), "roofline_ms",
                      mn_cli_json_real(1e3 * roofline), "bf16_share", mn_cli_json_real(share),
                      "polar_err", check ? mn_cli_json_real(err) : json_null(), "impl",
                      plan.impl, "arch", mn_blas_arch()));
    } else {
        char err_text[32] = "null";
        if (check)
            snprintf(err_text, sizeof err_text, "%.3g", err);
        printf("dualize %ldx%ld with %s, %d threads, %s form, %s: median %.2f ms (min %.2f, max "
               "%.2f), %.1f GFLOP/s, roofline %.2f ms, polar_err %s, %.0f%% of flops in bf16; "
               "%s\n",
               rows, cols, m->name, threads, form_name, precision, 1e3 * med, 1e3 * t[0],
               1e3 * t[repeat - 1], flops / med * 1e-9, 1e3 * roofline, err_text, 100 * share,
               plan.impl);
    }
    free(t);
    return rc;
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
 * whose update is a polar factor, the polar iteration as mn_polar_run would
 * run it (*bf16: its flops with bf16 operands). Element-wise work is left
 * out: this is the step's roofline at the sgemm (and bf16 gemm) rate. */
static double step_flops(const mn_network *net, const mn_solver_config *cfg, int batch,
                         double *bf16)
{
    *bf16 = 0;
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
        mn_polar_plan plan;
        if (cfg->kind == MN_SOLVER_STEEPEST && n && n->uses_polar &&
            mn_polar_plan_for(&cfg->polar, d_out, d_in, MN_F32, &plan) == MN_OK) {
            total += plan.flops;
            *bf16 += plan.flops_bf16;
        }
    }
    return total;
}

int mn_cmd_bench_step(mn_cli_args *a)
{
    mn_model_spec spec = {.name = a->model, .d_in = 784, .width = a->width,
                          .depth = (int)a->depth, .d_out = 10};
    const char *opt = a->opt, *method = a->method;
    int batch = (int)a->batch, steps = (int)a->steps, threads = (int)a->threads;
    bool serial_atoms = a->serial_atoms;
    mn_solver_config cfg;
    mn_status st = mn_solver_preset(&cfg, opt, MN_PARAM_MODULAR); /* the table accepted both */
    if (st == MN_OK)
        st = mn_polar_lookup(method, &cfg.polar.method);
    if (st != MN_OK)
        return mn_cli_fail("bench step", st);
    cfg.polar.threads = threads;
    cfg.polar.precision = (mn_precision)a->precision;
    cfg.serial_atoms = serial_atoms;
    cfg.schedule = MN_SCHEDULE_CONSTANT;
    mn_module *root;
    if ((st = mn_cli_build_model(&spec, &root)) != MN_OK)
        return mn_cli_fail("bench step", st);
    mn_network *net = NULL;
    mn_solver *solver = NULL;
    mn_tensor *x = NULL, *dy = NULL;
    int32_t *labels = calloc((size_t)batch, sizeof *labels);
    double *t = calloc((size_t)steps, sizeof *t), *t_update = calloc((size_t)steps, sizeof *t);
    st = mn_network_create(&net, root, MN_PARAM_MODULAR, 0);
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
    double bf16_flops = 0, bf16_s = 0;
    double roofline_flops = st == MN_OK ? step_flops(net, &cfg, batch, &bf16_flops) : 0, gemm_s = 0;
    int side_by_side = st == MN_OK ? mn_solver_atoms_side_by_side(solver) : 0;
    int atoms = st == MN_OK ? mn_network_atom_count(net) : 0;
    if (st == MN_OK)
        st = gemm_seconds(1024, threads, 10, false, &gemm_s);
    if (st == MN_OK && bf16_flops > 0)
        st = gemm_seconds(1024, threads, 10, true, &bf16_s);
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
    double unit = 2.0 * 1024 * 1024 * 1024; /* flops of a 1024³ gemm */
    double roofline = (roofline_flops - bf16_flops) / (unit / gemm_s) +
                      (bf16_flops > 0 ? bf16_flops / (unit / bf16_s) : 0);
    int rc = MN_EXIT_OK;
    if (a->json)
        rc = mn_cli_json_print(
            "bench step", stdout,
            json_pack("{s:s, s:i, s:i, s:i, s:s, s:s, s:i, s:o, s:o, s:o, s:o, s:o, s:o, s:i, "
                      "s:i}",
                      "model", spec.name, "width", (int)spec.width, "depth", spec.depth, "batch",
                      batch, "opt", opt, "precision",
                      mn_precision_name((mn_precision)a->precision), "threads", threads,
                      "ms_per_step",
                      mn_cli_json_real(1e3 * med), "ms_min", mn_cli_json_real(1e3 * t[0]),
                      "ms_max", mn_cli_json_real(1e3 * t[steps - 1]), "ms_update",
                      mn_cli_json_real(1e3 * upd), "roofline_ms", mn_cli_json_real(1e3 * roofline),
                      "peak_rss_mb", mn_cli_json_real(rss), "atoms", atoms,
                      "atoms_side_by_side", side_by_side));
    else
        printf("step of %s width %d depth %d batch %d with %s (%s), %d threads: median %.2f ms "
               "(min %.2f, max %.2f; update %.2f), roofline %.2f ms, peak RSS %.1f MB, "
               "%d atoms, %d side by side\n",
               spec.name, (int)spec.width, spec.depth, batch, opt,
               mn_precision_name((mn_precision)a->precision), threads, 1e3 * med,
               1e3 * t[0], 1e3 * t[steps - 1], 1e3 * upd, 1e3 * roofline, rss, atoms,
               side_by_side);
    free(t);
    free(t_update);
    return rc;
}
