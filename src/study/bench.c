/* Benchmarks (modnorm/bench.h): products through the BLIS wrapper and the
 * bf16 backend, the polar factor, one training step; their flop counts and
 * the polar error. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "core/bf16.h"
#include "core/blas.h"
#include "core/check.h"
#include "core/error.h"
#include "core/gemm.h"
#include "core/onednn.h"
#include "modnorm/bench.h"
#include "modnorm/npy.h"
#include "modnorm/rng.h"
#include "modules/loss.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The process's CPU time, all threads (a loaded machine stretches wall time,
 * not this; with several threads it counts their spinning too). */
static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Sort t[0..n) and summarize it. */
static mn_bench_times summarize(double *t, int n)
{
    qsort(t, (size_t)n, sizeof *t, cmp_double);
    return (mn_bench_times){.repeat = n, .median = t[n / 2], .min = t[0], .max = t[n - 1]};
}

static mn_status alloc_times(int repeat, double **t, const char *who)
{
    if (repeat < 1)
        return mn_fail(MN_ERR_ARG, "%s: repeat %d must be >= 1", who, repeat);
    *t = malloc((size_t)repeat * sizeof **t);
    return *t ? MN_OK : mn_fail(MN_ERR_NOMEM, "%s: out of memory for %d times", who, repeat);
}

void mn_bench_blas_info(mn_bench_blas *out)
{
    if (out)
        *out = (mn_bench_blas){.version = mn_blas_version(), .arch = mn_blas_arch(),
                               .arch_reason = mn_blas_arch_reason(),
                               .linear_fp32 = mn_gemm_fp32_impl()};
}

/* ---- products ---------------------------------------------------------------- */

static const char *const product_names[] = {"gemm", "syrk", "gemmt"};

const char *mn_bench_product_name(mn_bench_op op)
{
    return (int)op >= 0 && (int)op < 3 ? product_names[op] : NULL;
}

double mn_bench_product_flops(mn_bench_op op, int64_t n)
{
    if (!mn_bench_product_name(op) || n < 1)
        return NAN;
    return (op == MN_BENCH_GEMM ? 2.0 : 1.0) * (double)n * (double)n * (double)n;
}

mn_status mn_bench_product(mn_bench_op op, int64_t n, int threads, int repeat,
                           mn_bench_times *out)
{
    return mn_bench_product_precision(op, MN_PRECISION_FP32, n, threads, repeat, out);
}

/* mn_bench_product_precision; `linear` times fp32 gemm through mn_mat_gemm,
 * the route a float32 network's Linear products take (oneDNN where it runs
 * them, else BLIS), instead of BLIS. */
static mn_status time_products(mn_bench_op op, mn_precision precision, bool linear, int64_t n,
                               int threads, int repeat, mn_bench_times *out)
{
    if (!out || !mn_bench_product_name(op) || n < 1 || !mn_precision_name(precision))
        return mn_fail(MN_ERR_ARG, "bench product: %s", !out ? "out is NULL"
                       : n < 1 ? "n must be >= 1" : !mn_precision_name(precision)
                       ? "unknown precision" : "unknown product");
    bool bf16 = precision == MN_PRECISION_BF16;
    if (bf16 && op == MN_BENCH_GEMMT)
        return mn_fail(MN_ERR_UNSUPPORTED, "bench product: gemmt has no bf16 form (gemm, syrk)");
    double *t;
    MN_TRY(alloc_times(repeat, &t, "bench product"));
    mn_mat A = {0}, B = {0}, C = {0};
    mn_bf16 *ab = NULL, *bb = NULL;
    mn_status st = mn_mat_alloc(&A, MN_F32, n, n);
    if (st == MN_OK)
        st = mn_mat_alloc(&B, MN_F32, n, n);
    if (st == MN_OK)
        st = mn_mat_alloc(&C, MN_F32, n, n);
    if (st == MN_OK) {
        mn_rng r;
        mn_rng_seed(&r, 1);
        mn_rng_fill_normal(&r, &A);
        mn_rng_fill_normal(&r, &B);
    }
    if (st == MN_OK && bf16) { /* the operands rounded once, outside the timing */
        ab = malloc((size_t)(n * n) * sizeof *ab);
        bb = malloc((size_t)(n * n) * sizeof *bb);
        if (!ab || !bb)
            st = mn_fail(MN_ERR_NOMEM, "bench product: out of memory for %lldx%lld bf16",
                         (long long)n, (long long)n);
        else {
            mn_bf16_round(ab, A.data, n * n, threads);
            mn_bf16_round(bb, B.data, n * n, threads);
        }
    }
    mn_bf16_mat a16 = mn_bf16_view(ab, n, n), b16 = mn_bf16_view(bb, n, n);
    for (int i = -1; st == MN_OK && i < repeat; i++) {
        double t0 = now();
        if (bf16)
            st = op == MN_BENCH_GEMM ? mn_bf16_gemm(&a16, &b16, 0.0, &C, threads)
                                     : mn_bf16_syrk_lower(&a16, &C, threads);
        else
            st = op == MN_BENCH_GEMM && linear
                     ? mn_mat_gemm(1.0, &A, &B, 0.0, &C, MN_PRECISION_FP32, threads)
                 : op == MN_BENCH_GEMM ? mn_blas_gemm(1.0, &A, &B, 0.0, &C, threads)
                 : op == MN_BENCH_SYRK ? mn_blas_syrk_lower(1.0, &A, 0.0, &C, threads)
                                       : mn_blas_gemmt_lower(1.0, &A, &B, 0.0, &C, threads);
        if (i >= 0)
            t[i] = now() - t0;
    }
    if (st == MN_OK)
        *out = summarize(t, repeat);
    free(ab);
    free(bb);
    mn_mat_free(&A);
    mn_mat_free(&B);
    mn_mat_free(&C);
    free(t);
    return st;
}

mn_status mn_bench_product_precision(mn_bench_op op, mn_precision precision, int64_t n,
                                     int threads, int repeat, mn_bench_times *out)
{
    return time_products(op, precision, false, n, threads, repeat, out);
}

/* A roofline must not be beaten by what it bounds: in fp32 it is the faster
 * of BLIS's sgemm and the Linear route's (oneDNN's is 1.0-1.1x BLIS's at
 * 1024^3 on AVX-512, results/gpt-speed/onednn-f32-s13.txt). */
static mn_status rate(mn_precision p, int threads, double *flops_per_second, const char *who)
{
    if (!flops_per_second)
        return mn_fail(MN_ERR_ARG, "%s: the output is NULL", who);
    mn_bench_times t;
    MN_TRY(time_products(MN_BENCH_GEMM, p, false, MN_BENCH_ROOFLINE_N, threads,
                         MN_BENCH_ROOFLINE_REPEAT, &t));
    double fastest = t.min;
    if (p == MN_PRECISION_FP32 && mn_onednn_available(MN_ONEDNN_F32)) {
        MN_TRY(time_products(MN_BENCH_GEMM, p, true, MN_BENCH_ROOFLINE_N, threads,
                             MN_BENCH_ROOFLINE_REPEAT, &t));
        fastest = t.min < fastest ? t.min : fastest;
    }
    *flops_per_second = mn_bench_product_flops(MN_BENCH_GEMM, MN_BENCH_ROOFLINE_N) / fastest;
    return MN_OK;
}

mn_status mn_bench_gemm_rate(int threads, double *flops_per_second)
{
    return rate(MN_PRECISION_FP32, threads, flops_per_second, "mn_bench_gemm_rate");
}

mn_status mn_bench_bf16_rate(int threads, double *flops_per_second)
{
    return rate(MN_PRECISION_BF16, threads, flops_per_second, "mn_bench_bf16_rate");
}

/* ---- the polar factor ----------------------------------------------------------- */

mn_status mn_bench_polar_error(const mn_mat *X, const mn_mat *G, int threads, double *err)
{
    if (!err)
        return mn_fail(MN_ERR_ARG, "mn_bench_polar_error: err is NULL");
    MN_TRY(mn_check_mat("mn_bench_polar_error", "X", X));
    MN_TRY(mn_check_mat("mn_bench_polar_error", "G", G));
    if (X->rows != G->rows || X->cols != G->cols)
        return mn_fail(MN_ERR_SHAPE, "mn_bench_polar_error: X is %lldx%lld, G %lldx%lld",
                       (long long)X->rows, (long long)X->cols, (long long)G->rows,
                       (long long)G->cols);
    const mn_polar_method *svd;
    MN_TRY(mn_polar_lookup("svd", &svd));
    mn_mat P;
    MN_TRY(mn_mat_alloc(&P, G->dtype, G->rows, G->cols));
    mn_status st = mn_polar(svd, 0, threads, &P, G);
    double num = 0, den = 0;
    for (int64_t i = 0; st == MN_OK && i < G->rows; i++)
        for (int64_t j = 0; j < G->cols; j++) {
            double p = mn_mat_get(&P, i, j), d = mn_mat_get(X, i, j) - p;
            num += d * d;
            den += p * p;
        }
    mn_mat_free(&P);
    if (st == MN_OK)
        *err = den > 0 ? sqrt(num / den) : 0;
    return st;
}

mn_status mn_bench_dualize(const mn_polar_method *m, mn_polar_form form, int64_t rows,
                           int64_t cols, int threads, int repeat, bool error,
                           mn_bench_dualize_result *out)
{
    if (!m)
        return mn_fail(MN_ERR_ARG, "bench dualize: the method is NULL");
    mn_dualize_opts o = {.method = m, .threads = threads, .form = form};
    return mn_bench_dualize_opts(&o, rows, cols, repeat, error, out);
}

mn_status mn_bench_dualize_opts(const mn_dualize_opts *opts, int64_t rows, int64_t cols,
                                int repeat, bool error, mn_bench_dualize_result *out)
{
    if (!out || rows < 1 || cols < 1)
        return mn_fail(MN_ERR_ARG, "bench dualize: %s",
                       !out ? "out is NULL" : "the shape must be at least 1x1");
    mn_dualize_opts o = opts ? *opts : (mn_dualize_opts){0};
    if (!o.method)
        o.method = mn_polar_default();
    const mn_polar_method *m = o.method;
    int threads = o.threads;
    mn_polar_plan plan;
    MN_TRY(mn_polar_plan_for(&o, rows, cols, MN_F32, &plan));
    double *t;
    MN_TRY(alloc_times(repeat, &t, "bench dualize"));
    mn_mat G = {0}, X = {0};
    mn_status st = mn_mat_alloc(&G, MN_F32, rows, cols);
    if (st == MN_OK)
        st = mn_mat_alloc(&X, MN_F32, rows, cols);
    if (st == MN_OK) {
        mn_rng r;
        mn_rng_seed(&r, 7);
        mn_rng_fill_normal(&r, &G);
    }
    for (int i = -1; st == MN_OK && i < repeat; i++) {
        double t0 = now();
        st = mn_polar_run(&o, &X, &G);
        if (i >= 0)
            t[i] = now() - t0;
    }
    double err = NAN, fp32_rate = NAN, bf16_rate = NAN;
    if (st == MN_OK && error)
        st = mn_bench_polar_error(&X, &G, threads, &err);
    if (st == MN_OK)
        st = mn_bench_gemm_rate(threads, &fp32_rate);
    if (st == MN_OK && plan.flops_bf16 > 0)
        st = mn_bench_bf16_rate(threads, &bf16_rate);
    if (st == MN_OK) {
        double flops = plan.flops, roofline = (flops - plan.flops_bf16) / fp32_rate;
        if (plan.flops_bf16 > 0)
            roofline += plan.flops_bf16 / bf16_rate;
        *out = (mn_bench_dualize_result){
            .times = summarize(t, repeat), .form = plan.form,
            .form_name = !m->n_coeffs ? "svd" : plan.form == MN_POLAR_GRAM ? "gram" : "direct",
            .flops = flops, .gemm_rate = fp32_rate, .roofline = roofline, .polar_err = err,
            .precision = plan.precision, .flops_bf16 = plan.flops_bf16,
            .bf16_share = flops > 0 ? plan.flops_bf16 / flops : 0, .bf16_rate = bf16_rate,
            .impl = plan.impl};
    }
    mn_mat_free(&G);
    mn_mat_free(&X);
    free(t);
    return st;
}

mn_status mn_bench_dualize_memory(const mn_dualize_opts *opts, int64_t rows, int64_t cols,
                                  bool error, double *bytes)
{
    if (!bytes)
        return mn_fail(MN_ERR_ARG, "mn_bench_dualize_memory: bytes is NULL");
    mn_polar_plan plan, exact;
    MN_TRY(mn_polar_plan_for(opts, rows, cols, MN_F32, &plan));
    double mn = (double)rows * (double)cols;
    *bytes = 2 * 4 * mn + plan.workspace_bytes; /* G, X and the iteration's scratch */
    if (error) { /* mn_bench_polar_error: P, and the SVD's copies while the scratch is kept */
        const mn_polar_method *svd;
        MN_TRY(mn_polar_lookup("svd", &svd));
        MN_TRY(mn_polar_plan_for(&(mn_dualize_opts){.method = svd}, rows, cols, MN_F32, &exact));
        const mn_polar_method *m = opts && opts->method ? opts->method : mn_polar_default();
        bool is_svd = m->n_coeffs == 0; /* its scratch was the SVD's, freed after the run */
        *bytes += 4 * mn + (is_svd ? 0 : exact.workspace_bytes);
    }
    return MN_OK;
}

/* ---- a training step ------------------------------------------------------------- */

double mn_bench_step_flops(const mn_network *net, const mn_solver_config *cfg, int64_t batch)
{
    return mn_bench_step_flops_bf16(net, cfg, batch, NULL);
}

/* Each atom's output positions per example in the last forward: its
 * output's elements / (its leading dimension·d_out), H_out·W_out for a
 * Conv2D, T for a Linear on (B, T, d), 1 for a Linear on (B, d); 1 before any
 * forward. Per example of that forward, not of the batch asked about: the
 * count scales to any batch. */
static mn_status atom_positions(void *ctx, const mn_module_visit *v)
{
    double *positions = ctx;
    int64_t d_out, d_in;
    if (v->atom < 0 || v->n_outputs != 1 || mn_module_weight_shape(v->module, &d_out, &d_in) != MN_OK)
        return MN_OK;
    const mn_tensor *y = v->outputs[0];
    if (y->ndim < 1 || y->shape[0] < 1 || d_out < 1)
        return MN_OK;
    double per = (double)mn_tensor_numel(y) / ((double)y->shape[0] * (double)d_out);
    if (per >= 1)
        positions[v->atom] = per;
    return MN_OK;
}

/* The per-head products of the attention bonds, T, h and dh as in the last
 * forward, at `batch` sequences: Scores (S = Q Kᵀ; backward dQ = dS K,
 * dK = dSᵀ Q) and ApplyScores (O = A V; backward dA = dO Vᵀ, dV = Aᵀ dO),
 * three of 2·batch·h·T·T·dh each, the full T x T blocks as the kernels
 * compute them (the causal half is not skipped). */
typedef struct {
    double batch, total;
} attention_ctx;

static mn_status attention_flops(void *ctx, const mn_module_visit *v)
{
    attention_ctx *a = ctx;
    const char *kind = mn_module_kind(v->module);
    if (v->atom >= 0 || v->n_inputs < 1 || !kind ||
        (strcmp(kind, "Scores") != 0 && strcmp(kind, "ApplyScores") != 0))
        return MN_OK;
    const mn_tensor *h = v->inputs[0]; /* queries or values, (B, T, h, dh) */
    if (h->ndim != 4)
        return MN_OK;
    a->total += 3 * 2.0 * a->batch * (double)h->shape[2] * (double)h->shape[1] *
                (double)h->shape[1] * (double)h->shape[3];
    return MN_OK;
}

double mn_bench_step_flops_bf16(const mn_network *net, const mn_solver_config *cfg,
                                int64_t batch, double *bf16)
{
    if (bf16)
        *bf16 = 0;
    if (!net || !cfg)
        return NAN;
    const mn_norm *forced = NULL;
    if (cfg->norm && mn_norm_lookup(cfg->norm, &forced) != MN_OK)
        forced = NULL;
    mn_dualize_opts polar = cfg->polar;
    if (!polar.method)
        polar.method = mn_polar_default();
    double total = 0;
    int n_atoms = mn_network_atom_count(net);
    double *positions = malloc((size_t)(n_atoms > 0 ? n_atoms : 1) * sizeof *positions);
    if (!positions)
        return NAN;
    for (int i = 0; i < n_atoms; i++)
        positions[i] = 1;
    mn_network_visit(net, atom_positions, positions);
    attention_ctx attention = {(double)batch, 0};
    mn_network_visit(net, attention_flops, &attention);
    total += attention.total;
    for (int i = 0; i < n_atoms; i++) {
        const mn_module *a = mn_network_atom(net, i);
        int64_t d_out, d_in;
        if (mn_module_weight_shape(a, &d_out, &d_in) != MN_OK)
            continue;
        /* an Embed's forward is a gather and its backward a scatter-add: no product */
        if (strcmp(mn_module_kind(a), "Embed") != 0) {
            double fb = (i == 0 ? 2 : 3) * 2.0 * (double)batch * positions[i] * (double)d_out *
                        (double)d_in;
            total += fb;
            /* the network's bf16 products are Linear's (mn_network_set_precision) */
            if (bf16 && mn_network_precision(net) == MN_PRECISION_BF16 &&
                strcmp(mn_module_kind(a), "Linear") == 0)
                *bf16 += fb;
        }
        const mn_norm *n = forced ? forced : mn_module_norm(a);
        /* a Conv2D's per-tap norm (taps-K) runs k² polar factors of d_out x d_in/k² */
        int64_t k = n && strncmp(n->name, "taps-", 5) == 0 ? atoi(n->name + 5) : 1;
        if (k < 1 || d_in % (k * k) != 0)
            k = 1;
        mn_polar_plan plan;
        if (cfg->kind == MN_SOLVER_STEEPEST && n && n->uses_polar &&
            mn_polar_plan_for(&polar, d_out, d_in / (k * k), MN_F32, &plan) == MN_OK) {
            total += (double)(k * k) * plan.flops;
            if (bf16)
                *bf16 += (double)(k * k) * plan.flops_bf16;
        }
    }
    free(positions);
    return total;
}

/* Time the steps into t (whole steps) and tu (the solver step); net and
 * solver built, x and labels filled. */
static mn_status time_steps(mn_network *net, mn_solver *solver, const mn_tensor *x,
                            const int32_t *labels, mn_tensor **dy, int steps, double *t,
                            double *tu, double *tc, double *losses)
{
    mn_status st = MN_OK;
    for (int i = -1; st == MN_OK && i < steps; i++) {
        double t0 = now(), c0 = cpu_now(), loss;
        const mn_tensor *y;
        st = mn_network_forward(net, x, &y);
        if (st == MN_OK && !*dy)
            st = mn_tensor_create(dy, y->ndim, y->shape);
        if (st == MN_OK)
            st = mn_loss_cross_entropy_threads(y, labels, &loss, *dy, NULL,
                                               mn_network_threads(net));
        if (st == MN_OK)
            losses[i + 1] = loss;
        if (st == MN_OK) {
            mn_network_zero_grad(net);
            st = mn_network_backward(net, *dy);
        }
        double t1 = now();
        if (st == MN_OK)
            st = mn_solver_step(solver, net);
        if (i >= 0) {
            double t2 = now();
            t[i] = t2 - t0;
            tu[i] = t2 - t1;
            tc[i] = cpu_now() - c0;
        }
    }
    return st;
}

/* The weights (each atom as its norm sees it, (d_out, d_in) row-major, in atom
 * order, one flat float32 vector), the batch and the losses as .npy files in
 * dir: what bench/check_peer_gpt.py reads. */
static mn_status dump_npy(const char *dir, mn_network *net, const float *w0, const mn_tensor *x,
                          const int32_t *labels, int64_t n_labels, const double *losses,
                          int n_losses)
{
    char path[4096];
    int64_t n = mn_network_param_count(net);
    mn_mat flat = {0}, lab = {0}, ls = {0};
    mn_status st = mn_mat_alloc(&flat, MN_F32, 1, n);
    if (st == MN_OK)
        st = mn_mat_alloc(&lab, MN_F32, 1, n_labels);
    if (st == MN_OK)
        st = mn_mat_alloc(&ls, MN_F64, 1, n_losses);
    if (st == MN_OK) {
        float *f = flat.data;
        int64_t at = 0;
        for (int a = 0; a < mn_network_atom_count(net); a++) {
            mn_mat v = mn_network_atom_view(net, a, (float *)w0);
            for (int64_t i = 0; i < v.rows; i++)
                for (int64_t j = 0; j < v.cols; j++)
                    f[at++] = (float)mn_mat_get(&v, i, j);
        }
        for (int64_t i = 0; i < n_labels; i++)
            ((float *)lab.data)[i] = (float)labels[i];
        memcpy(ls.data, losses, (size_t)n_losses * sizeof *losses);
    }
    mn_mat tok;
    mn_tensor_as_mat(x, &tok);
    /* the vectors as 1-D arrays, as bench.h documents them (not 1 x n) */
    const struct { const char *name; const mn_mat *m; int ndim; } files[] = {
        {"w0", &flat, 1}, {"tokens", &tok, 2}, {"labels", &lab, 1}, {"losses", &ls, 1}};
    for (size_t i = 0; st == MN_OK && i < sizeof files / sizeof files[0]; i++) {
        if (snprintf(path, sizeof path, "%s/%s.npy", dir, files[i].name) >= (int)sizeof path)
            st = mn_fail(MN_ERR_ARG, "bench step: the directory %s is too long", dir);
        else
            st = mn_npy_write_ndim(path, files[i].m, files[i].ndim);
    }
    mn_mat_free(&flat);
    mn_mat_free(&lab);
    mn_mat_free(&ls);
    return st;
}

/* Both benches: x of shape (batch, dim) Gaussian, or (batch, context) token
 * ids when vocab > 0; labels per row, or per position. */
static mn_status bench_step(mn_module *root, const mn_train_settings *s, int64_t dim,
                            int64_t classes, bool tokens, int steps, const char *npy_dir,
                            mn_bench_step_result *out)
{
    const char *who = tokens ? "bench step (tokens)" : "bench step";
    mn_status st = !s || !out ? mn_fail(MN_ERR_ARG, "%s: %s is NULL", who,
                                        !s ? "the settings" : "out")
                   : dim < 1 || classes < 1
                       ? mn_fail(MN_ERR_ARG, "%s: %s %lld and %s %lld must be >= 1", who,
                                 tokens ? "context" : "dim", (long long)dim,
                                 tokens ? "vocab" : "classes", (long long)classes)
                   : steps < 1 ? mn_fail(MN_ERR_ARG, "%s: steps %d must be >= 1", who, steps)
                   : s->batch > INT64_MAX / dim / 8
                       ? mn_fail(MN_ERR_ARG, "%s: batch %lld x %lld overflows", who,
                                 (long long)s->batch, (long long)dim)
                   : tokens && classes > (1 << 24)
                       ? mn_fail(MN_ERR_ARG, "%s: vocab %lld above 2^24 (ids are floats)", who,
                                 (long long)classes)
                               : MN_OK;
    if (st != MN_OK) {
        mn_module_destroy(root);
        return st;
    }
    mn_solver_config cfg;
    mn_network *net = NULL;
    mn_solver *solver = NULL;
    st = mn_train_solver_config(s, steps + 1, &cfg);
    if (st != MN_OK) {
        mn_module_destroy(root);
        return st;
    }
    MN_TRY(mn_train_build(root, s, steps + 1, &net, &solver));
    int64_t n_labels = tokens ? s->batch * dim : s->batch;
    mn_tensor *x = NULL, *dy = NULL;
    int32_t *labels = malloc((size_t)n_labels * sizeof *labels);
    double *t = malloc((size_t)steps * sizeof *t), *tu = malloc((size_t)steps * sizeof *tu);
    double *tc = malloc((size_t)steps * sizeof *tc);
    double *losses = malloc((size_t)(steps + 1) * sizeof *losses);
    int64_t n_weights = mn_network_param_count(net);
    float *w0 = npy_dir ? malloc((size_t)n_weights * sizeof *w0) : NULL;
    if (!labels || !t || !tu || !tc || !losses || (npy_dir && !w0))
        st = mn_fail(MN_ERR_NOMEM, "%s: out of memory", who);
    if (st == MN_OK)
        st = mn_tensor_create(&x, 2, (int64_t[]){s->batch, dim});
    if (st == MN_OK) {
        mn_rng r;
        mn_mat xm;
        mn_rng_seed(&r, 5);
        mn_tensor_as_mat(x, &xm);
        if (tokens)
            for (int64_t i = 0; i < s->batch * dim; i++)
                ((float *)x->data)[i] = (float)mn_rng_below(&r, (uint64_t)classes);
        else
            mn_rng_fill_normal(&r, &xm);
        for (int64_t i = 0; i < n_labels; i++)
            labels[i] = (int32_t)mn_rng_below(&r, (uint64_t)classes);
        if (w0)
            memcpy(w0, mn_network_weights(net), (size_t)n_weights * sizeof *w0);
        st = time_steps(net, solver, x, labels, &dy, steps, t, tu, tc, losses);
    }
    if (st == MN_OK && npy_dir)
        st = dump_npy(npy_dir, net, w0, x, labels, n_labels, losses, steps + 1);
    double rate = NAN, bf16_rate = NAN, flops_bf16 = 0;
    double flops = st == MN_OK ? mn_bench_step_flops_bf16(net, &cfg, s->batch, &flops_bf16) : 0;
    if (st == MN_OK)
        st = mn_bench_gemm_rate(s->threads, &rate);
    if (st == MN_OK && flops_bf16 > 0)
        st = mn_bench_bf16_rate(s->threads, &bf16_rate);
    if (st == MN_OK) {
        struct rusage u;
        getrusage(RUSAGE_SELF, &u);
        double roofline = (flops - flops_bf16) / rate + (flops_bf16 > 0 ? flops_bf16 / bf16_rate : 0);
        *out = (mn_bench_step_result){
            .step = summarize(t, steps), .update = summarize(tu, steps),
            .cpu = summarize(tc, steps), .flops = flops,
            .flops_bf16 = flops_bf16, .gemm_rate = rate, .bf16_rate = bf16_rate,
            .roofline = roofline, .atoms = mn_network_atom_count(net),
            .atoms_side_by_side = mn_solver_atoms_side_by_side(solver),
            .peak_rss_mb = (double)u.ru_maxrss / 1024.0,
            .tokens = tokens ? s->batch * dim : 0, .loss_first = losses[0],
            .loss_last = losses[steps]};
    }
    mn_tensor_destroy(x);
    mn_tensor_destroy(dy);
    mn_solver_destroy(solver);
    mn_network_destroy(net);
    free(labels);
    free(t);
    free(tu);
    free(tc);
    free(losses);
    free(w0);
    return st;
}

mn_status mn_bench_step(mn_module *root, const mn_train_settings *s, int64_t dim,
                        int64_t classes, int steps, mn_bench_step_result *out)
{
    return bench_step(root, s, dim, classes, false, steps, NULL, out);
}

mn_status mn_bench_step_tokens(mn_module *root, const mn_train_settings *s, int64_t context,
                               int64_t vocab, int steps, const char *npy_dir,
                               mn_bench_step_result *out)
{
    return bench_step(root, s, context, vocab, true, steps, npy_dir, out);
}
