/* A bond and a norm defined outside the library, used like built-in ones.
 *
 *   ScaledTanh(s)  y = tanh(s·x)/s: a bond with state (its s), a text form
 *                  and a maker, so "ScaledTanh(2)" builds it by name
 *   lp-P           the entry-wise ℓp norm (Σ|a|^p)^(1/p), a family of norms:
 *                  dual ℓq (1/p + 1/q = 1), lmo_i = sign(g_i)|g_i|^(q−1)/‖g‖_q^(q−1)
 *
 * It builds Linear → ScaledTanh(2) → Linear [lp-4] → ScaledTanh(2) → Linear,
 * trains it a few hundred steps to imitate a teacher of the same shape (MSE,
 * steepest descent in the modular norm), and checks the gradient of the
 * trained network by finite differences. Exit status 0 when every check
 * holds. Only the public API (modnorm.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <modnorm.h>

#define D_IN 8
#define WIDTH 32
#define D_OUT 4
#define BATCH 32
#define STEPS 300

#define CHECK(call)                                                                                \
    do {                                                                                           \
        mn_status st_ = (call);                                                                    \
        if (st_ != MN_OK) {                                                                        \
            fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #call, mn_last_error());      \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

/* ---- the bond: ScaledTanh(s) --------------------------------------------- */

typedef struct {
    double s;
} scaled_tanh;

static double s_of(const mn_module *m) { return ((const scaled_tanh *)mn_module_state(m))->s; }

static mn_status tanh_forward(mn_module *m, const mn_module_call *c)
{
    double s = s_of(m);
    for (int64_t i = 0; i < mn_tensor_numel(c->out); i++)
        c->out->data[i] = (float)(tanh(s * c->in[0]->data[i]) / s);
    return MN_OK;
}

/* dy/dx = 1 − tanh²(s·x) <= 1: sensitivity 1 for every s. */
static mn_status tanh_backward(mn_module *m, const mn_module_call *c)
{
    double s = s_of(m);
    for (int64_t i = 0; i < mn_tensor_numel(c->dout); i++) {
        double t = tanh(s * c->in[0]->data[i]);
        c->din[0]->data[i] = (float)((1 - t * t) * c->dout->data[i]);
    }
    return MN_OK;
}

static int tanh_args(const mn_module *m, double *args, int cap)
{
    if (cap >= 1)
        args[0] = s_of(m);
    return 1;
}

static const mn_module_ops scaled_tanh_ops = {
    .kind = "ScaledTanh", .state_size = sizeof(scaled_tanh), .forward = tanh_forward,
    .backward = tanh_backward, .args = tanh_args};

static mn_status make_scaled_tanh(mn_module **out, int argc, const double *args)
{
    (void)argc;
    if (!(args[0] > 0) || !isfinite(args[0]))
        return mn_set_error(MN_ERR_ARG, "ScaledTanh: s = %g must be finite and > 0", args[0]);
    return mn_bond_create(out, &scaled_tanh_ops, &(scaled_tanh){args[0]}, 1.0);
}

static const mn_module_maker scaled_tanh_maker = {"ScaledTanh", "ScaledTanh(s)", 1, 1,
                                                  make_scaled_tanh};

/* ---- the norm: lp-P -------------------------------------------------------- */

typedef struct {
    double p, q;
} lp_params;

static const lp_params *lp(const mn_norm *n) { return n->params; }

/* (Σ|a|^r)^(1/r) over the matrix, on a/max|a| so that no power overflows. */
static double entrywise(const mn_mat *A, double r)
{
    double top = 0, sum = 0;
    for (int64_t i = 0; i < A->rows; i++)
        for (int64_t j = 0; j < A->cols; j++)
            top = fmax(top, fabs(mn_mat_get(A, i, j)));
    if (top == 0)
        return 0;
    for (int64_t i = 0; i < A->rows; i++)
        for (int64_t j = 0; j < A->cols; j++)
            sum += pow(fabs(mn_mat_get(A, i, j)) / top, r);
    return top * pow(sum, 1 / r);
}

static mn_status lp_value(const mn_norm *n, const mn_mat *A, double *out)
{
    *out = entrywise(A, lp(n)->p);
    return MN_OK;
}

static mn_status lp_dual(const mn_norm *n, const mn_mat *G, double *out)
{
    *out = entrywise(G, lp(n)->q);
    return MN_OK;
}

static mn_status lp_lmo(const mn_norm *n, mn_mat *out, const mn_mat *G,
                        const mn_polar_provider *polar)
{
    (void)polar;
    double q = lp(n)->q, norm_q = entrywise(G, q); /* > 0: the library handles G = 0 */
    for (int64_t i = 0; i < G->rows; i++)
        for (int64_t j = 0; j < G->cols; j++) {
            double g = mn_mat_get(G, i, j);
            mn_mat_set(out, i, j, copysign(pow(fabs(g) / norm_q, q - 1), g));
        }
    return MN_OK;
}

static mn_status lp_parse(const char *param, void *params, char *name, size_t cap,
                          const char **same_as)
{
    char *end;
    double p = strtod(param, &end);
    if (end == param || *end || !(p > 1) || isinf(p))
        return mn_set_error(MN_ERR_ARG, "lp-P: p = '%s' must be a number in (1, inf)", param);
    lp_params *lpp = params;
    lpp->p = p;
    lpp->q = p / (p - 1);
    *same_as = p == 2 ? "frobenius" : NULL;
    snprintf(name, cap, "lp-%.17g", p); /* 17 digits: every p reads back */
    return MN_OK;
}

static const mn_norm_family lp_family = {
    .prefix = "lp",
    .pattern = "lp-P",
    .params_size = sizeof(lp_params),
    .parse = lp_parse,
    .norm = {.title = "entry-wise ℓp norm", .value = lp_value, .dual = lp_dual, .lmo = lp_lmo},
};

/* ---- checks ---------------------------------------------------------------- */

static int failures;

static void expect(int ok, const char *what, double got, double want)
{
    printf("  %-52s %12.6g (want %s %.6g)\n", what, got, ok ? "~" : "!!", want);
    if (!ok)
        failures++;
}

/* The lmo's defining properties on one random gradient, by hand: ‖lmo‖ = 1
 * and <G, lmo> = dual(G). */
static void check_lmo(const mn_norm *n)
{
    mn_mat G, L;
    CHECK(mn_mat_alloc(&G, MN_F64, 5, 7));
    CHECK(mn_mat_alloc(&L, MN_F64, 5, 7));
    mn_rng r;
    mn_rng_seed(&r, 11);
    mn_rng_fill_normal(&r, &G);
    double dual, norm_l, inner;
    CHECK(mn_norm_lmo(n, &L, &G, NULL));
    CHECK(mn_norm_dual(n, &G, &dual));
    CHECK(mn_norm_value(n, &L, &norm_l));
    CHECK(mn_mat_dot(&G, &L, &inner));
    expect(fabs(norm_l - 1) < 1e-12, "lp-4: ‖lmo(G)‖", norm_l, 1);
    expect(fabs(inner - dual) < 1e-12 * dual, "lp-4: <G, lmo(G)> = dual(G)", inner, dual);
    mn_mat_free(&G);
    mn_mat_free(&L);
    /* and the library's whole property check, at the shape the student uses */
    mn_status st = mn_norm_check(n, WIDTH, WIDTH, 5);
    if (st != MN_OK)
        fprintf(stderr, "custom_module: %s\n", mn_last_error());
    expect(st == MN_OK, "lp-4: mn_norm_check", st, MN_OK);
}

static mn_module *student(void)
{
    mn_module *layers[5];
    CHECK(mn_linear(&layers[0], WIDTH, D_IN));
    CHECK(mn_module_parse(&layers[1], "ScaledTanh(2)")); /* by name, as a graph file would */
    CHECK(mn_linear(&layers[2], WIDTH, WIDTH));
    CHECK(mn_module_set_norm(layers[2], "lp-4"));
    CHECK(mn_module_make(&layers[3], "ScaledTanh", 1, (const double[]){2}));
    CHECK(mn_linear(&layers[4], D_OUT, WIDTH));
    mn_module *root;
    CHECK(mn_sequential(&root, 5, layers));
    return root;
}

static double mse(mn_network *net, const mn_tensor *x, const mn_tensor *target, mn_tensor *dy)
{
    const mn_tensor *y;
    double loss;
    CHECK(mn_network_forward(net, x, &y));
    CHECK(mn_loss_mse(y, target, &loss, dy));
    return loss;
}

/* f = <R, net(x)> in double, and its gradient by central differences in
 * every weight and input coordinate against backward's: each coordinate within
 * 1e-3 of itself plus 1e-4 of the largest (float32 forwards, steps of 5e-3). */
static void check_gradient(mn_network *net, mn_tensor *x)
{
    const mn_tensor *y;
    CHECK(mn_network_forward(net, x, &y));
    mn_tensor *R;
    CHECK(mn_tensor_create(&R, y->ndim, y->shape));
    mn_rng r;
    mn_rng_seed(&r, 5);
    for (int64_t i = 0; i < mn_tensor_numel(R); i++)
        R->data[i] = (float)mn_rng_normal(&r);
    mn_network_keep_input_grad(net, true);
    mn_network_zero_grad(net);
    CHECK(mn_network_forward(net, x, &y));
    CHECK(mn_network_backward(net, R));
    int64_t np = mn_network_param_count(net), nx = mn_tensor_numel(x);
    float *sets[2] = {mn_network_weights(net), x->data};
    const float *grads[2] = {mn_network_grads(net), mn_network_input_grad(net)->data};
    int64_t counts[2] = {np, nx};
    const char *names[2] = {"finite differences: weights (worst / tolerance)",
                            "finite differences: input (worst / tolerance)"};
    for (int s = 0; s < 2; s++) {
        double *an = malloc((size_t)counts[s] * sizeof *an), *fd = malloc((size_t)counts[s] * sizeof *fd);
        if (!an || !fd)
            exit(1);
        double scale = 0;
        for (int64_t i = 0; i < counts[s]; i++) {
            an[i] = grads[s][i];
            float v0 = sets[s][i];
            double f[2], h[2];
            for (int k = 0; k < 2; k++) {
                sets[s][i] = (float)(v0 + (k ? -5e-3 : 5e-3));
                h[k] = sets[s][i];
                CHECK(mn_network_forward(net, x, &y));
                f[k] = 0;
                for (int64_t j = 0; j < mn_tensor_numel(y); j++)
                    f[k] += (double)y->data[j] * R->data[j];
            }
            sets[s][i] = v0;
            fd[i] = (f[0] - f[1]) / (h[0] - h[1]);
            scale = fmax(scale, fabs(an[i]));
        }
        double worst = 0;
        for (int64_t i = 0; i < counts[s]; i++)
            worst = fmax(worst, fabs(fd[i] - an[i]) / (1e-3 * fabs(an[i]) + 1e-4 * scale));
        expect(worst <= 1 && scale > 1e-3, names[s], worst, 1);
        free(an);
        free(fd);
    }
    mn_tensor_destroy(R);
}

int main(void)
{
    /* Register once, before anything names them. */
    CHECK(mn_module_register(&scaled_tanh_maker));
    CHECK(mn_norm_family_register(&lp_family));
    const mn_norm *l4;
    CHECK(mn_norm_lookup("lp-4", &l4));
    printf("custom_module: %s (%s) and %s\n", l4->name, l4->title, scaled_tanh_maker.usage);
    check_lmo(l4);

    /* A teacher of the same shape drawn from another seed (the student can
     * fit it exactly), fresh Gaussian inputs every step. */
    mn_network *teacher, *net;
    CHECK(mn_network_create(&teacher, student(), MN_PARAM_MODULAR, 7));
    CHECK(mn_network_create(&net, student(), MN_PARAM_MODULAR, 1));
    mn_network_set_threads(teacher, 1);
    mn_network_set_threads(net, 1);
    char text[64];
    CHECK(mn_module_print(mn_module_child(mn_network_root(net), 1), text, sizeof text));
    printf("  the student's second module prints as %s; atom 1's norm is %s\n", text,
           mn_module_norm(mn_network_atom(net, 1))->name);

    mn_solver_config cfg;
    CHECK(mn_solver_preset(&cfg, "muon", MN_PARAM_MODULAR));
    cfg.lr = 0.05;
    cfg.total_steps = STEPS;
    mn_solver *solver;
    CHECK(mn_solver_create(&solver, net, &cfg));

    mn_tensor *x, *target, *dy;
    CHECK(mn_tensor_create(&x, 2, (int64_t[]){BATCH, D_IN}));
    CHECK(mn_tensor_create(&target, 2, (int64_t[]){BATCH, D_OUT}));
    CHECK(mn_tensor_create(&dy, 2, (int64_t[]){BATCH, D_OUT}));
    mn_rng r;
    mn_rng_seed(&r, 3);
    double first = 0, last = 0;
    for (int step = 0; step < STEPS; step++) {
        for (int64_t i = 0; i < mn_tensor_numel(x); i++)
            x->data[i] = (float)mn_rng_normal(&r);
        const mn_tensor *t;
        CHECK(mn_network_forward(teacher, x, &t));
        memcpy(target->data, t->data, (size_t)mn_tensor_numel(t) * sizeof(float));
        mn_network_zero_grad(net);
        double loss = mse(net, x, target, dy);
        CHECK(mn_network_backward(net, dy));
        CHECK(mn_solver_step(solver, net));
        first = step < 20 ? first + loss / 20 : first;
        last = step >= STEPS - 20 ? last + loss / 20 : last;
        if (step % 100 == 0 || step == STEPS - 1)
            printf("  step %3d  mse %.5f\n", step, loss);
    }
    /* measured 0.065 (lr 0.05; 0.07 to 0.12 for lr 0.005 to 0.1) */
    expect(last < 0.2 * first, "mean mse of the last 20 steps / first 20", last / first, 0.2);

    check_gradient(net, x);

    mn_tensor_destroy(x);
    mn_tensor_destroy(target);
    mn_tensor_destroy(dy);
    mn_solver_destroy(solver);
    mn_network_destroy(net);
    mn_network_destroy(teacher);
    printf("custom_module: %s\n", failures ? "FAILED" : "ok");
    return failures ? 1 : 0;
}
