/* The steepest-descent solver: every preset against the update written out
 * by hand on a small random MLP 8 → 6 → 6 → 4 with a random gradient buffer
 * (no forward pass needed), momentum and Nesterov over two steps, decoupled
 * weight decay, the schedules, the sharp and normalized steps, and the
 * refusals. "To float rounding" means max |got − want| ≤ 1e-6 × max |want|
 * per atom (float32 has ε ≈ 1.2e-7; the references are computed in double). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "optim/atom_plan.h"
#include "testutil.h"

#define RTOL 1e-6

static mn_network *make_net(int depth, uint64_t seed)
{
    mn_module *root;
    ck_assert_ok(mn_mlp(&root, 8, 6, depth, 4));
    mn_network *net;
    ck_assert_ok(mn_network_create(&net, root, MN_PARAM_MODULAR, seed));
    mn_network_set_threads(net, 1);
    return net;
}

static void fill_grads(mn_network *net, uint64_t seed)
{
    mn_rng r;
    mn_rng_seed(&r, seed);
    mn_mat g = mn_mat_view(MN_F32, mn_network_grads(net), 1, mn_network_param_count(net));
    mn_rng_fill_normal(&r, &g);
}

/* A double copy of a float buffer laid out like the weights. */
static double *to_double(const float *buf, int64_t n)
{
    double *d = malloc((size_t)n * sizeof *d);
    ck_assert_ptr_nonnull(d);
    for (int64_t i = 0; i < n; i++)
        d[i] = buf[i];
    return d;
}

/* Atom k's block of a buffer laid out like the weights: offset and shape. */
typedef struct {
    int64_t off, rows, cols;
} block;

static block atom_block(mn_network *net, int k)
{
    float *base = mn_network_weights(net);
    mn_mat v = mn_network_atom_view(net, k, base);
    ck_assert_int_eq(v.rs, v.cols); /* Linear blocks are row-major (d_out, d_in) */
    ck_assert_int_eq(v.cs, 1);
    return (block){(int64_t)((float *)v.data - base), v.rows, v.cols};
}

static mn_mat block_f64(double *buf, block b) { return mn_mat_view(MN_F64, buf + b.off, b.rows, b.cols); }

/* The network's weights equal `want` to float rounding, atom by atom. */
static void expect_weights(mn_network *net, const double *want, const char *what)
{
    const float *w = mn_network_weights(net);
    for (int k = 0; k < mn_network_atom_count(net); k++) {
        block b = atom_block(net, k);
        double scale = 0, diff = 0;
        for (int64_t i = b.off; i < b.off + b.rows * b.cols; i++) {
            scale = fmax(scale, fabs(want[i]));
            diff = fmax(diff, fabs((double)w[i] - want[i]));
        }
        ck_assert_msg(diff <= RTOL * scale, "%s: atom %d (%lldx%lld): max |got − want| = %.3g > %.0e × %.4g",
                      what, k, (long long)b.rows, (long long)b.cols, diff, RTOL, scale);
    }
}

/* The preset with momentum 0, a constant schedule and the exact polar factor. */
static mn_solver_config preset(const char *name, mn_param param)
{
    mn_solver_config cfg;
    ck_assert_ok(mn_solver_preset(&cfg, name, param));
    cfg.momentum = 0;
    cfg.schedule = MN_SCHEDULE_CONSTANT;
    cfg.polar.threads = 1;
    ck_assert_ok(mn_polar_lookup("svd", &cfg.polar.method));
    return cfg;
}

static mn_solver *make_solver(mn_network *net, const mn_solver_config *cfg)
{
    mn_solver *s;
    ck_assert_ok(mn_solver_create(&s, net, cfg));
    ck_assert_ptr_nonnull(s);
    return s;
}

/* polar(G) of atom k of buffer g by `method`, into a double block: in double
 * for the exact method, in float32 (as the solver runs it) for iterations. */
static void polar_ref(mn_network *net, int k, const float *g, const mn_polar_method *method,
                      double *out)
{
    block b = atom_block(net, k);
    mn_dtype dt = method->n_coeffs == 0 ? MN_F64 : MN_F32;
    mn_mat G, P;
    ck_assert_ok(mn_mat_alloc(&G, dt, b.rows, b.cols));
    ck_assert_ok(mn_mat_alloc(&P, dt, b.rows, b.cols));
    mn_mat src = mn_mat_view(MN_F32, (float *)g + b.off, b.rows, b.cols);
    ck_assert_ok(mn_mat_copy(&G, &src));
    ck_assert_ok(mn_polar(method, 0, 1, &P, &G));
    mn_mat dst = block_f64(out, b);
    ck_assert_ok(mn_mat_copy(&dst, &P));
    mn_mat_free(&G);
    mn_mat_free(&P);
}

static double sgn(double v) { return (v > 0) - (v < 0); }

START_TEST(test_targets)
{
    mn_network *net = make_net(3, 1);
    ck_assert_int_eq(mn_network_atom_count(net), 3);
    double t[3];
    ck_assert_ok(mn_modular_targets(net, 1.0, t));
    mn_solver_config cfg = preset("sgd", MN_PARAM_MODULAR);
    mn_solver *s = make_solver(net, &cfg);
    for (int k = 0; k < 3; k++) {
        ck_assert_double_eq_tol(t[k], 1.0 / 3.0, 1e-15);
        ck_assert_double_eq(mn_solver_targets(s)[k], t[k]);
    }
    mn_solver_destroy(s);
    mn_network_destroy(net);
}
END_TEST

/* sgd: w_k − η·t_k·g_k. */
START_TEST(test_sgd_preset)
{
    mn_network *net = make_net(3, 2);
    fill_grads(net, 102);
    int64_t n = mn_network_param_count(net);
    double *want = to_double(mn_network_weights(net), n);
    const float *g = mn_network_grads(net);
    mn_solver_config cfg = preset("sgd", MN_PARAM_MODULAR);
    ck_assert_double_gt(cfg.lr, 0);
    mn_solver *s = make_solver(net, &cfg);
    for (int k = 0; k < 3; k++) {
        block b = atom_block(net, k);
        for (int64_t i = b.off; i < b.off + b.rows * b.cols; i++)
            want[i] -= cfg.lr * (1.0 / 3.0) * g[i];
    }
    ck_assert_ok(mn_solver_step(s, net));
    expect_weights(net, want, "sgd");
    ck_assert_int_eq(mn_solver_steps_taken(s), 1);
    mn_solver_destroy(s);
    free(want);
    mn_network_destroy(net);
}
END_TEST

/* sign: each entry moves η·t_k against its gradient's sign (0 stays put). */
START_TEST(test_sign_preset)
{
    mn_network *net = make_net(3, 3);
    fill_grads(net, 103);
    float *g = mn_network_grads(net);
    g[0] = 0; /* sign(0) = 0: the weight must not move */
    int64_t n = mn_network_param_count(net);
    double *w0 = to_double(mn_network_weights(net), n), *want = to_double(mn_network_weights(net), n);
    mn_solver_config cfg = preset("sign", MN_PARAM_MODULAR);
    mn_solver *s = make_solver(net, &cfg);
    for (int64_t i = 0; i < n; i++)
        want[i] -= cfg.lr * (1.0 / 3.0) * sgn(g[i]);
    ck_assert_ok(mn_solver_step(s, net));
    expect_weights(net, want, "sign");
    ck_assert_float_eq(mn_network_weights(net)[0], (float)w0[0]);
    mn_solver_destroy(s);
    free(w0);
    free(want);
    mn_network_destroy(net);
}
END_TEST

/* muon: w_k − η·t_k·√(d_out/d_in)·polar(g_k), with the exact polar factor and
 * with Muon's quintic (the same iteration run by the test). */
START_TEST(test_muon_preset)
{
    static const char *methods[] = {"svd", "ns5"};
    /* 2 threads: the plan dualizes these small atoms side by side. */
    for (int mi = 0; mi < 4; mi++) {
        mn_network *net = make_net(3, 4);
        fill_grads(net, 104);
        int64_t n = mn_network_param_count(net);
        double *want = to_double(mn_network_weights(net), n);
        double *P = calloc((size_t)n, sizeof *P);
        ck_assert_ptr_nonnull(P);
        mn_solver_config cfg = preset("muon", MN_PARAM_MODULAR);
        ck_assert_ptr_null(cfg.norm); /* each atom's own norm: rms-rms on Linear */
        ck_assert_ok(mn_polar_lookup(methods[mi % 2], &cfg.polar.method));
        cfg.polar.threads = 1 + mi / 2;
        mn_solver *s = make_solver(net, &cfg);
        for (int k = 0; k < 3; k++) {
            block b = atom_block(net, k);
            polar_ref(net, k, mn_network_grads(net), cfg.polar.method, P);
            double scale = cfg.lr * (1.0 / 3.0) * sqrt((double)b.rows / (double)b.cols);
            for (int64_t i = b.off; i < b.off + b.rows * b.cols; i++)
                want[i] -= scale * P[i];
        }
        ck_assert_ok(mn_solver_step(s, net));
        char what[48];
        snprintf(what, sizeof what, "muon (%s, %d threads)", methods[mi % 2], cfg.polar.threads);
        expect_weights(net, want, what);
        mn_solver_destroy(s);
        free(want);
        free(P);
        mn_network_destroy(net);
    }
}
END_TEST

/* The targets from the tree alone (what inspect prints, what train's note
 * reads): a solver's own under either parametrization, and a root's mass
 * changes none (it has no parent); masses 0 on every atom give all 0. */
START_TEST(test_solver_targets_for)
{
    static const mn_param params[] = {MN_PARAM_MODULAR, MN_PARAM_SP};
    for (int p = 0; p < 2; p++) {
        mn_network *net = make_net(3, 5);
        mn_solver_config cfg = preset("muon", params[p]);
        mn_solver *s = make_solver(net, &cfg);
        double t[3];
        ck_assert_ok(mn_solver_targets_for(&cfg, mn_network_root(net), t));
        for (int k = 0; k < 3; k++) {
            ck_assert_double_eq(t[k], mn_solver_targets(s)[k]);
            ck_assert_double_eq(t[k], p == 0 ? 1.0 / 3 : 1.0);
        }
        mn_solver_destroy(s);
        mn_network_destroy(net);
    }
    mn_solver_config cfg = preset("muon", MN_PARAM_MODULAR);
    mn_module *root;
    ck_assert_ok(mn_mlp(&root, 8, 6, 2, 4));
    double t[2];
    ck_assert_ok(mn_module_set_mass(root, 0)); /* the root's: no effect */
    ck_assert_ok(mn_solver_targets_for(&cfg, root, t));
    ck_assert_double_eq(t[0], 0.5);
    ck_assert_double_eq(t[1], 0.5);
    for (int i = 0; i < 3; i += 2)
        ck_assert_ok(mn_module_set_mass((mn_module *)mn_module_child(root, i), 0));
    ck_assert_ok(mn_solver_targets_for(&cfg, root, t));
    ck_assert_double_eq(t[0], 0);
    ck_assert_double_eq(t[1], 0);
    ck_assert_int_eq(mn_solver_targets_for(NULL, root, t), MN_ERR_ARG);
    ck_assert_int_eq(mn_solver_targets_for(&cfg, root, NULL), MN_ERR_ARG);
    ck_assert_int_eq(mn_modular_tree_targets(root, NAN, t), MN_ERR_ARG);
    mn_module_destroy(root);
}
END_TEST

/* --param sp: every target is 1, so sgd is w − η·g and muon w − η·√(d_out/d_in)·polar(g). */
START_TEST(test_param_sp)
{
    mn_network *net = make_net(3, 5);
    fill_grads(net, 105);
    int64_t n = mn_network_param_count(net);
    const float *g = mn_network_grads(net);
    double *want = to_double(mn_network_weights(net), n);
    mn_solver_config cfg = preset("sgd", MN_PARAM_SP);
    ck_assert(!cfg.modular_targets);
    mn_solver *s = make_solver(net, &cfg);
    for (int k = 0; k < 3; k++)
        ck_assert_double_eq(mn_solver_targets(s)[k], 1.0);
    for (int64_t i = 0; i < n; i++)
        want[i] -= cfg.lr * g[i];
    ck_assert_ok(mn_solver_step(s, net));
    expect_weights(net, want, "sgd --param sp");
    mn_solver_destroy(s);

    double *P = calloc((size_t)n, sizeof *P);
    ck_assert_ptr_nonnull(P);
    for (int64_t i = 0; i < n; i++)
        want[i] = mn_network_weights(net)[i];
    cfg = preset("muon", MN_PARAM_SP);
    ck_assert(!cfg.modular_targets);
    s = make_solver(net, &cfg);
    for (int k = 0; k < 3; k++) {
        block b = atom_block(net, k);
        polar_ref(net, k, g, cfg.polar.method, P);
        double scale = cfg.lr * sqrt((double)b.rows / (double)b.cols);
        for (int64_t i = b.off; i < b.off + b.rows * b.cols; i++)
            want[i] -= scale * P[i];
    }
    ck_assert_ok(mn_solver_step(s, net));
    expect_weights(net, want, "muon --param sp");
    mn_solver_destroy(s);
    free(P);
    free(want);
    mn_network_destroy(net);
}
END_TEST

/* EMA momentum m ← βm + (1−β)g over two steps with different gradients, and
 * Nesterov d = βm + (1−β)g, under sgd (a sharp Frobenius step is linear in
 * its direction, so every term of the EMA shows in the weights). */
START_TEST(test_momentum)
{
    const double beta = 0.9;
    for (int nesterov = 0; nesterov <= 1; nesterov++) {
        mn_network *net = make_net(3, 6);
        int64_t n = mn_network_param_count(net);
        double *want = to_double(mn_network_weights(net), n);
        double *m = calloc((size_t)n, sizeof *m);
        ck_assert_ptr_nonnull(m);
        mn_solver_config cfg = preset("sgd", MN_PARAM_MODULAR);
        cfg.momentum = beta;
        cfg.nesterov = nesterov;
        mn_solver *s = make_solver(net, &cfg);
        for (int step = 0; step < 2; step++) {
            fill_grads(net, 200 + (uint64_t)step);
            const float *g = mn_network_grads(net);
            for (int64_t i = 0; i < n; i++) {
                m[i] = beta * m[i] + (1 - beta) * g[i];
                double d = nesterov ? beta * m[i] + (1 - beta) * g[i] : m[i];
                want[i] -= cfg.lr * (1.0 / 3.0) * d;
            }
            ck_assert_ok(mn_solver_step(s, net));
            char what[48];
            snprintf(what, sizeof what, "sgd momentum%s, step %d", nesterov ? " (nesterov)" : "",
                     step + 1);
            expect_weights(net, want, what);
        }
        mn_solver_destroy(s);
        free(m);
        free(want);
        mn_network_destroy(net);
    }
}
END_TEST

/* Decoupled weight decay: w ← (1 − η·λ)·w − η·t_k·(step direction). */
START_TEST(test_weight_decay)
{
    const double lambda = 0.3;
    for (int muon = 0; muon <= 1; muon++) {
        mn_network *net = make_net(3, 7);
        fill_grads(net, 107);
        int64_t n = mn_network_param_count(net);
        const float *g = mn_network_grads(net);
        double *want = to_double(mn_network_weights(net), n);
        double *P = calloc((size_t)n, sizeof *P);
        ck_assert_ptr_nonnull(P);
        mn_solver_config cfg = preset(muon ? "muon" : "sgd", MN_PARAM_MODULAR);
        cfg.weight_decay = lambda;
        mn_solver *s = make_solver(net, &cfg);
        for (int k = 0; k < 3; k++) {
            block b = atom_block(net, k);
            double scale = cfg.lr / 3.0;
            if (muon) {
                polar_ref(net, k, g, cfg.polar.method, P);
                scale *= sqrt((double)b.rows / (double)b.cols);
            }
            for (int64_t i = b.off; i < b.off + b.rows * b.cols; i++)
                want[i] = (1 - cfg.lr * lambda) * want[i] - scale * (muon ? P[i] : g[i]);
        }
        ck_assert_ok(mn_solver_step(s, net));
        expect_weights(net, want, muon ? "muon + weight decay" : "sgd + weight decay");
        mn_solver_destroy(s);
        free(P);
        free(want);
        mn_network_destroy(net);
    }
}
END_TEST

static double lr_at(mn_network *net, mn_schedule sched, int64_t warmup, int64_t total, int64_t step)
{
    mn_solver_config cfg = preset("sgd", MN_PARAM_MODULAR);
    cfg.lr = 0.8;
    cfg.schedule = sched;
    cfg.warmup = warmup;
    cfg.total_steps = total;
    mn_solver *s = make_solver(net, &cfg);
    double lr = mn_solver_lr_at(s, step);
    mn_solver_destroy(s);
    return lr;
}

START_TEST(test_schedules)
{
    const double eta = 0.8, tol = 1e-15;
    const int64_t T = 10;
    mn_network *net = make_net(3, 8);
    int64_t steps[] = {0, 1, 3, 5, 9, 10, 14};
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        int64_t st = steps[i];
        double frac = fmin((double)st, (double)T) / (double)T;
        ck_assert_double_eq_tol(lr_at(net, MN_SCHEDULE_CONSTANT, 0, 0, st), eta, tol);
        ck_assert_double_eq_tol(lr_at(net, MN_SCHEDULE_LINEAR, 0, T, st), eta * (1 - frac), tol);
        ck_assert_double_eq_tol(lr_at(net, MN_SCHEDULE_COSINE, 0, T, st),
                                eta * 0.5 * (1 + cos(M_PI * frac)), tol);
    }
    ck_assert_double_eq_tol(lr_at(net, MN_SCHEDULE_COSINE, 0, T, T / 2), eta / 2, tol);
    /* Warmup: η·(s+1)/warmup for s < warmup, then the schedule's value. */
    const int64_t W = 4;
    for (int64_t st = 0; st < 12; st++) {
        double up = st < W ? (double)(st + 1) / (double)W : 1.0;
        ck_assert_double_eq_tol(lr_at(net, MN_SCHEDULE_CONSTANT, W, 0, st), eta * up, tol);
        double lin = lr_at(net, MN_SCHEDULE_LINEAR, W, T, st);
        if (st >= W)
            ck_assert_double_eq_tol(lin, eta * fmax(0, 1 - (double)st / (double)T), tol);
        else /* as implemented: the ramp multiplies the decay (continuous at s = W) */
            ck_assert_double_eq_tol(lin, eta * up * (1 - (double)st / (double)T), tol);
    }
    /* No step before the first: a negative step is refused (NAN, a message)
     * in every schedule, never a rate above the peak (linear gave 1.1 η). */
    for (int sched = MN_SCHEDULE_LINEAR; sched <= MN_SCHEDULE_COSINE; sched++)
        for (int64_t w = 0; w <= W; w += W) {
            mn_clear_error();
            ck_assert(isnan(lr_at(net, (mn_schedule)sched, w, T, -1)));
            ck_assert_str_eq(mn_last_error(), "mn_solver_lr_at: step < 0");
            ck_assert(isnan(lr_at(net, (mn_schedule)sched, w, T, INT64_MIN)));
        }

    /* The step uses the rate of its own step number: sgd on a fixed gradient
     * under a linear schedule over T = 4 steps moves by η/3·g·(1 + 3/4 + 2/4). */
    fill_grads(net, 108);
    int64_t n = mn_network_param_count(net);
    const float *g = mn_network_grads(net);
    double *want = to_double(mn_network_weights(net), n);
    mn_solver_config cfg = preset("sgd", MN_PARAM_MODULAR);
    cfg.schedule = MN_SCHEDULE_LINEAR;
    cfg.total_steps = 4;
    mn_solver *s = make_solver(net, &cfg);
    for (int step = 0; step < 3; step++)
        ck_assert_ok(mn_solver_step(s, net));
    ck_assert_int_eq(mn_solver_steps_taken(s), 3);
    for (int64_t i = 0; i < n; i++)
        want[i] -= cfg.lr / 3.0 * (1 + 0.75 + 0.5) * g[i];
    expect_weights(net, want, "sgd, linear schedule, 3 steps");
    mn_solver_destroy(s);
    free(want);
    mn_network_destroy(net);
}
END_TEST

/* The sharp step: with the Frobenius norm it is SGD exactly (also with t_k =
 * 1); with ℓ1→ℓ∞ it is −η·t_k·‖g_k‖₁·sign(g_k). */
START_TEST(test_sharp_step)
{
    for (int modular = 0; modular <= 1; modular++) {
        mn_network *net = make_net(3, 9);
        fill_grads(net, 109);
        int64_t n = mn_network_param_count(net);
        const float *g = mn_network_grads(net);
        double *want = to_double(mn_network_weights(net), n);
        mn_solver_config cfg = preset("muon", MN_PARAM_MODULAR);
        cfg.lr = 0.37;
        cfg.step = MN_STEP_SHARP;
        cfg.norm = "frobenius";
        cfg.modular_targets = modular;
        mn_solver *s = make_solver(net, &cfg);
        double t = modular ? 1.0 / 3.0 : 1.0;
        for (int64_t i = 0; i < n; i++)
            want[i] -= cfg.lr * t * g[i];
        ck_assert_ok(mn_solver_step(s, net));
        expect_weights(net, want, modular ? "sharp frobenius" : "sharp frobenius, t = 1");
        mn_solver_destroy(s);
        free(want);
        mn_network_destroy(net);
    }

    mn_network *net = make_net(3, 10);
    fill_grads(net, 110);
    int64_t n = mn_network_param_count(net);
    const float *g = mn_network_grads(net);
    double *want = to_double(mn_network_weights(net), n);
    mn_solver_config cfg = preset("sign", MN_PARAM_MODULAR);
    cfg.lr = 0.01;
    cfg.step = MN_STEP_SHARP;
    mn_solver *s = make_solver(net, &cfg);
    for (int k = 0; k < 3; k++) {
        block b = atom_block(net, k);
        double l1 = 0;
        for (int64_t i = b.off; i < b.off + b.rows * b.cols; i++)
            l1 += fabs(g[i]);
        for (int64_t i = b.off; i < b.off + b.rows * b.cols; i++)
            want[i] -= cfg.lr / 3.0 * l1 * sgn(g[i]);
    }
    ck_assert_ok(mn_solver_step(s, net));
    expect_weights(net, want, "sharp l1-linf");
    mn_solver_destroy(s);
    free(want);
    mn_network_destroy(net);
}
END_TEST

/* The normalized step moves atom k by exactly η·t_k in its norm (exact polar
 * factor), for each atom's own norm (muon) and for norms set on every atom. */
START_TEST(test_normalized_step_length)
{
    static const char *norms[] = {NULL,     "rms-rms", "spectral", "frobenius", "l1-linf",
                                  "rms-linf", "l1-rms", "l2-rms",  "nuclear"};
    for (size_t ni = 0; ni < sizeof norms / sizeof norms[0]; ni++) {
        mn_network *net = make_net(3, 11);
        fill_grads(net, 111);
        int64_t n = mn_network_param_count(net);
        float *before = malloc((size_t)n * sizeof *before);
        ck_assert_ptr_nonnull(before);
        memcpy(before, mn_network_weights(net), (size_t)n * sizeof *before);
        mn_solver_config cfg = preset("muon", MN_PARAM_MODULAR);
        cfg.norm = norms[ni];
        cfg.lr = 0.25;
        mn_solver *s = make_solver(net, &cfg);
        ck_assert_ok(mn_solver_step(s, net));
        for (int k = 0; k < 3; k++) {
            block b = atom_block(net, k);
            mn_mat D;
            ck_assert_ok(mn_mat_alloc(&D, MN_F64, b.rows, b.cols));
            for (int64_t i = 0; i < b.rows * b.cols; i++)
                ((double *)D.data)[i] =
                    (double)mn_network_weights(net)[b.off + i] - (double)before[b.off + i];
            const mn_norm *norm = norms[ni] ? NULL : mn_module_norm(mn_network_atom(net, k));
            if (!norm)
                ck_assert_ok(mn_norm_lookup(norms[ni], &norm));
            double v;
            ck_assert_ok(mn_norm_value(norm, &D, &v));
            double ratio = v / (cfg.lr * mn_solver_targets(s)[k]);
            ck_assert_msg(fabs(ratio - 1) <= 1e-5, "%s: atom %d moved %.9g × η·t_k in its norm",
                          norm->name, k, ratio);
            mn_mat_free(&D);
        }
        mn_solver_destroy(s);
        free(before);
        mn_network_destroy(net);
    }
}
END_TEST

static void expect_refused(mn_network *net, const mn_solver_config *cfg, mn_status want,
                           const char *needle)
{
    static int sentinel;
    mn_solver *s = (mn_solver *)&sentinel; /* must be reset to NULL */
    mn_clear_error();
    ck_assert_int_eq(mn_solver_create(&s, net, cfg), want);
    ck_assert_ptr_null(s);
    ck_assert_msg(strstr(mn_last_error(), needle), "message '%s' does not name '%s'",
                  mn_last_error(), needle);
}

START_TEST(test_bad_configs)
{
    mn_network *net = make_net(3, 12);
    mn_solver_config cfg = preset("sgd", MN_PARAM_MODULAR);
    cfg.lr = -0.1;
    expect_refused(net, &cfg, MN_ERR_ARG, "lr");
    cfg.lr = NAN;
    expect_refused(net, &cfg, MN_ERR_ARG, "lr");
    cfg = preset("sgd", MN_PARAM_MODULAR);
    cfg.momentum = 1;
    expect_refused(net, &cfg, MN_ERR_ARG, "momentum");
    cfg.momentum = -0.5;
    expect_refused(net, &cfg, MN_ERR_ARG, "momentum");
    cfg = preset("sgd", MN_PARAM_MODULAR);
    cfg.weight_decay = -1;
    expect_refused(net, &cfg, MN_ERR_ARG, "weight decay");
    cfg = preset("sgd", MN_PARAM_MODULAR);
    cfg.warmup = -3;
    expect_refused(net, &cfg, MN_ERR_ARG, "warmup");
    /* A decaying schedule needs its horizon: the presets default to linear. */
    ck_assert_ok(mn_solver_preset(&cfg, "sgd", MN_PARAM_MODULAR));
    ck_assert_int_eq(cfg.schedule, MN_SCHEDULE_LINEAR);
    ck_assert_int_eq(cfg.total_steps, 0);
    expect_refused(net, &cfg, MN_ERR_ARG, "solver: the linear schedule decays over total_steps, "
                   "which is 0 and must be >= 1 (the presets leave it 0): set cfg.total_steps, "
                   "or cfg.schedule = MN_SCHEDULE_CONSTANT");
    cfg.schedule = MN_SCHEDULE_COSINE;
    expect_refused(net, &cfg, MN_ERR_ARG, "the cosine schedule decays over total_steps");
    /* Fields are checked in the struct's order: a bad norm in a preset left
     * as it is was hidden behind the total_steps message. */
    ck_assert_ok(mn_solver_preset(&cfg, "muon", MN_PARAM_MODULAR));
    cfg.norm = "l3-l3";
    expect_refused(net, &cfg, MN_ERR_ARG, "l3-l3");
    cfg.norm = "taps-3";
    expect_refused(net, &cfg, MN_ERR_ARG, "atom 0: cfg.norm taps-3 does not fit");
    cfg.norm = "spectral"; /* a good norm: then the horizon */
    expect_refused(net, &cfg, MN_ERR_ARG, "total_steps, which is 0");
    cfg.total_steps = 10;
    mn_solver *ok = NULL;
    ck_assert_ok(mn_solver_create(&ok, net, &cfg));
    mn_solver_destroy(ok);
    /* and a bad lr (declared before the norm) is reported before it */
    cfg.norm = "l3-l3";
    cfg.lr = -1;
    expect_refused(net, &cfg, MN_ERR_ARG, "lr -1");
    ck_assert_ok(mn_solver_preset(&cfg, "adam", MN_PARAM_MODULAR));
    cfg.schedule = MN_SCHEDULE_CONSTANT;
    cfg.eps = 0;
    expect_refused(net, &cfg, MN_ERR_ARG, "eps");
    cfg = preset("sgd", MN_PARAM_MODULAR);
    cfg.norm = "l3-l3";
    expect_refused(net, &cfg, MN_ERR_ARG, "l3-l3");
    cfg.norm = "linf-l1";
    expect_refused(net, &cfg, MN_ERR_UNSUPPORTED, "linf-l1");
    /* A norm for every atom that does not take one's shape is refused when
     * the solver is made, not at its first step: the 6x8 first Linear's 8
     * columns are not d_in·9. */
    cfg.norm = "taps-3";
    expect_refused(net, &cfg, MN_ERR_ARG, "mn_solver_create: atom 0: cfg.norm taps-3 does not "
                   "fit Linear(6←8): taps-3: a 6x8 matrix");
    cfg.norm = "taps-2"; /* 8 and 6 columns: taps-2 takes the 6x8 and fails at the 6x6 */
    expect_refused(net, &cfg, MN_ERR_ARG, "atom 1: cfg.norm taps-2 does not fit Linear(6←6)");

    mn_clear_error();
    ck_assert_int_eq(mn_solver_preset(&cfg, "lion", MN_PARAM_MODULAR), MN_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(mn_last_error(), "unknown optimizer 'lion'"));
    ck_assert_ptr_nonnull(strstr(mn_last_error(), "muon"));
    ck_assert_int_eq(mn_solver_preset(&cfg, NULL, MN_PARAM_MODULAR), MN_ERR_ARG);
    ck_assert_int_eq(mn_solver_preset(NULL, "sgd", MN_PARAM_MODULAR), MN_ERR_ARG);
    ck_assert_ok(mn_solver_preset(&cfg, "adamw", MN_PARAM_MODULAR));
    ck_assert_int_eq(cfg.kind, MN_SOLVER_ADAMW);
    mn_network_destroy(net);
}
END_TEST

/* polar.steps is bounded when the solver is made (INT32_MAX steps ran a
 * step until killed), not at the first step. */
START_TEST(test_polar_steps_bounded)
{
    mn_network *net = make_net(2, 12);
    mn_solver_config cfg = preset("muon", MN_PARAM_MODULAR);
    ck_assert_ok(mn_polar_lookup("ns5", &cfg.polar.method));
    cfg.polar.steps = MN_POLAR_MAX_STEPS + 1;
    expect_refused(net, &cfg, MN_ERR_ARG, "polar.steps = 1001 must be in [0, 1000]");
    cfg.polar.steps = INT32_MAX;
    expect_refused(net, &cfg, MN_ERR_ARG, "polar.steps");
    cfg.polar.steps = -2;
    expect_refused(net, &cfg, MN_ERR_ARG, "polar.steps = -2");
    cfg.polar.steps = MN_POLAR_MAX_STEPS;
    mn_solver_destroy(make_solver(net, &cfg));
    mn_network_destroy(net);
}
END_TEST

/* Enums outside their range were taken: kind 9, step 9 or schedule 9 ran as
 * steepest, normalized and constant; a preset for param 7 returned MN_OK.
 * The getters crashed on NULL. */
START_TEST(test_bad_enums_and_null_solver)
{
    mn_network *net = make_net(2, 12);
    mn_solver_config cfg = preset("muon", MN_PARAM_MODULAR);
    cfg.kind = (mn_solver_kind)9;
    expect_refused(net, &cfg, MN_ERR_ARG, "solver: kind 9");
    cfg = preset("muon", MN_PARAM_MODULAR);
    cfg.step = (mn_step_kind)9;
    expect_refused(net, &cfg, MN_ERR_ARG, "solver: step 9");
    cfg = preset("muon", MN_PARAM_MODULAR);
    cfg.schedule = (mn_schedule)9;
    expect_refused(net, &cfg, MN_ERR_ARG, "solver: schedule 9");
    cfg = preset("muon", MN_PARAM_MODULAR);
    cfg.polar.form = (mn_polar_form)9;
    expect_refused(net, &cfg, MN_ERR_ARG, "polar.form 9");
    cfg = preset("muon", MN_PARAM_MODULAR);
    cfg.polar.precision = (mn_precision)9;
    expect_refused(net, &cfg, MN_ERR_ARG, "polar.precision 9");
    mn_solver_config before = cfg;
    ck_assert_refused(mn_solver_preset(&cfg, "muon", (mn_param)7), MN_ERR_ARG,
                      "mn_solver_preset: param 7");
    ck_assert_mem_eq(&cfg, &before, sizeof cfg);
    double lrs[MN_STUDY_QUICK_LRS];
    ck_assert_refused(mn_study_quick_lrs("muon", (mn_param)7, lrs), MN_ERR_ARG, "param 7");

    ck_assert(isnan(mn_solver_lr_at(NULL, 0)));
    ck_assert_int_eq(mn_solver_steps_taken(NULL), 0);
    ck_assert_ptr_null(mn_solver_targets(NULL));
    ck_assert_int_eq(mn_solver_atoms_side_by_side(NULL), 0);
    mn_network_destroy(net);
}
END_TEST

/* A solver made for one network refuses a network of another size, and
 * leaves its weights alone. */
START_TEST(test_step_shape_mismatch)
{
    mn_network *net = make_net(3, 13), *other = make_net(2, 14);
    ck_assert_int_ne(mn_network_param_count(net), mn_network_param_count(other));
    mn_solver_config cfg = preset("muon", MN_PARAM_MODULAR);
    mn_solver *s = make_solver(net, &cfg);
    fill_grads(other, 114);
    int64_t n = mn_network_param_count(other);
    double *before = to_double(mn_network_weights(other), n);
    mn_clear_error();
    ck_assert_int_eq(mn_solver_step(s, other), MN_ERR_SHAPE);
    ck_assert_ptr_nonnull(strstr(mn_last_error(), "parameters"));
    ck_assert_int_eq(mn_solver_steps_taken(s), 0);
    for (int64_t i = 0; i < n; i++)
        ck_assert_float_eq(mn_network_weights(other)[i], (float)before[i]);
    ck_assert_int_eq(mn_solver_step(s, NULL), MN_ERR_ARG);
    ck_assert_int_eq(mn_solver_step(NULL, net), MN_ERR_ARG);
    mn_solver_destroy(s);
    free(before);
    mn_network_destroy(other);
    mn_network_destroy(net);
}
END_TEST

/* The plan: largest first; small atoms share the threads when that beats
 * running them one at a time; large ones (and any single thread) never do. */
START_TEST(test_atom_plan)
{
    mn_atom_plan p;
    double mlp128[] = {128.0 * 128 * 784, 128.0 * 128 * 128, 128.0 * 128 * 128, 100.0 * 128};
    ck_assert_ok(mn_atom_plan_make(&p, mlp128, 4, 2));
    ck_assert_int_eq(p.order[0], 0);
    ck_assert_int_eq(p.order[3], 3);
    ck_assert_int_eq(p.shared_from, 0); /* no thread gain at this size: all side by side */
    mn_atom_plan_free(&p);
    ck_assert_ok(mn_atom_plan_make(&p, mlp128, 4, 1));
    ck_assert_int_eq(p.shared_from, 4);
    mn_atom_plan_free(&p);

    /* 256 x 784 outweighs the rest: one at a time is faster. */
    double mlp256[] = {100.0 * 256, 256.0 * 256 * 256, 256.0 * 256 * 784};
    ck_assert_ok(mn_atom_plan_make(&p, mlp256, 3, 2));
    ck_assert_int_eq(p.order[0], 2);
    ck_assert_int_eq(p.order[1], 1);
    ck_assert_int_eq(p.order[2], 0);
    ck_assert_int_eq(p.shared_from, 3);
    mn_atom_plan_free(&p);

    /* A big first layer runs alone; the four equal small ones share. */
    double mixed[] = {64.0 * 64 * 64, 64.0 * 64 * 64, 1024.0 * 1024 * 784, 64.0 * 64 * 64,
                      64.0 * 64 * 64};
    ck_assert_ok(mn_atom_plan_make(&p, mixed, 5, 2));
    ck_assert_int_eq(p.order[0], 2);
    ck_assert_int_eq(p.shared_from, 1);
    mn_atom_plan_free(&p);

    /* Two 1024² atoms: too large to share. */
    double big[] = {1024.0 * 1024 * 1024, 1024.0 * 1024 * 1024};
    ck_assert_ok(mn_atom_plan_make(&p, big, 2, 2));
    ck_assert_int_eq(p.shared_from, 2);
    mn_atom_plan_free(&p);

    ck_assert_ok(mn_atom_plan_make(&p, NULL, 0, 2));
    ck_assert_int_eq(p.shared_from, 0);
    mn_atom_plan_free(&p);
    ck_assert_int_eq(mn_atom_plan_make(NULL, big, 2, 2), MN_ERR_ARG);
    ck_assert_int_eq(mn_atom_plan_make(&p, NULL, 2, 2), MN_ERR_ARG);
    ck_assert(mn_atom_plan_speedup(1e9, 1) == 1.0);
    ck_assert(mn_atom_plan_speedup(1e9, 2) > 1.0);
}
END_TEST

/* Two momentum steps of modular Muon (ns5, weight decay) on a deeper MLP:
 * the atoms dualized side by side on 2 threads give the weights of 1
 * thread; a failed step changes nothing, on either path. */
START_TEST(test_shared_atoms_match_serial)
{
    mn_network *nets[2];
    mn_solver *solvers[2];
    for (int t = 0; t < 2; t++) {
        mn_module *root;
        ck_assert_ok(mn_mlp(&root, 40, 24, 6, 10));
        ck_assert_ok(mn_network_create(&nets[t], root, MN_PARAM_MODULAR, 31));
        mn_solver_config cfg;
        ck_assert_ok(mn_solver_preset(&cfg, "muon", MN_PARAM_MODULAR));
        cfg.total_steps = 10;
        cfg.weight_decay = 0.1;
        cfg.polar.threads = 1 + t;
        solvers[t] = make_solver(nets[t], &cfg);
        /* 1 thread: none side by side; 2: all (no thread gain at this size). */
        ck_assert_int_eq(mn_solver_atoms_side_by_side(solvers[t]),
                         t == 0 ? 0 : mn_network_atom_count(nets[t]));
        for (int step = 0; step < 2; step++) {
            fill_grads(nets[t], 200 + (uint64_t)step);
            ck_assert_ok(mn_solver_step(solvers[t], nets[t]));
        }
    }
    int64_t n = mn_network_param_count(nets[0]);
    double *want = to_double(mn_network_weights(nets[0]), n);
    expect_weights(nets[1], want, "muon, atoms side by side");

    /* A NaN in one atom's gradient fails the step, names it, and leaves
     * weights and momentum as they were: the next good step matches. */
    for (int t = 0; t < 2; t++) {
        float *before = malloc((size_t)n * sizeof *before);
        ck_assert_ptr_nonnull(before);
        memcpy(before, mn_network_weights(nets[t]), (size_t)n * sizeof *before);
        fill_grads(nets[t], 300);
        block b = atom_block(nets[t], 3);
        mn_network_grads(nets[t])[b.off + 5] = NAN;
        mn_clear_error();
        ck_assert_int_eq(mn_solver_step(solvers[t], nets[t]), MN_ERR_NONFINITE);
        ck_assert_msg(strstr(mn_last_error(), "gradient") != NULL, "message: %s", mn_last_error());
        ck_assert_int_eq(mn_solver_steps_taken(solvers[t]), 2);
        ck_assert(memcmp(before, mn_network_weights(nets[t]), (size_t)n * sizeof *before) == 0);
        fill_grads(nets[t], 301);
        ck_assert_ok(mn_solver_step(solvers[t], nets[t]));
        free(before);
    }
    free(want);
    want = to_double(mn_network_weights(nets[0]), n);
    expect_weights(nets[1], want, "muon, the step after a failed one");
    for (int t = 0; t < 2; t++) {
        mn_solver_destroy(solvers[t]);
        mn_network_destroy(nets[t]);
    }
    free(want);
}
END_TEST

/* Every solver kind (steepest descent under muon, sgd and sign; AdamW),
 * with momentum and weight decay: a NaN, +Inf or −Inf gradient entry at the
 * first or last entry of the first or last atom is refused with a message
 * naming the atom, and changes nothing: the step count stays, the weights
 * are bit for bit the same, and the next good step lands exactly where a
 * twin solver that never saw the bad step lands (so the moments are the
 * same too). */
START_TEST(test_nonfinite_gradient_changes_nothing)
{
    static const char *kinds[] = {"muon", "sgd", "sign", "adam"};
    const float bads[] = {NAN, INFINITY, -INFINITY};
    for (size_t ki = 0; ki < sizeof kinds / sizeof kinds[0]; ki++)
        for (int atom_last = 0; atom_last <= 1; atom_last++)
            for (int entry_last = 0; entry_last <= 1; entry_last++)
                for (size_t bi = 0; bi < 3; bi++) {
                    mn_network *net = make_net(3, 40), *twin = make_net(3, 40);
                    int64_t n = mn_network_param_count(net);
                    mn_solver_config cfg;
                    ck_assert_ok(mn_solver_preset(&cfg, kinds[ki], MN_PARAM_MODULAR));
                    cfg.schedule = MN_SCHEDULE_CONSTANT;
                    cfg.weight_decay = 0.1;
                    cfg.polar.threads = 1;
                    mn_solver *s = make_solver(net, &cfg), *t = make_solver(twin, &cfg);
                    /* One good step each: the moments are no longer zero. */
                    fill_grads(net, 41);
                    fill_grads(twin, 41);
                    ck_assert_ok(mn_solver_step(s, net));
                    ck_assert_ok(mn_solver_step(t, twin));

                    float *before = malloc((size_t)n * sizeof *before);
                    ck_assert_ptr_nonnull(before);
                    memcpy(before, mn_network_weights(net), (size_t)n * sizeof *before);
                    fill_grads(net, 42);
                    int k = atom_last ? mn_network_atom_count(net) - 1 : 0;
                    block b = atom_block(net, k);
                    int64_t at = b.off + (entry_last ? b.rows * b.cols - 1 : 0);
                    mn_network_grads(net)[at] = bads[bi];
                    mn_clear_error();
                    char what[96];
                    snprintf(what, sizeof what, "%s, %g at entry %lld of atom %d", kinds[ki],
                             (double)bads[bi], (long long)(at - b.off), k);
                    ck_assert_msg(mn_solver_step(s, net) == MN_ERR_NONFINITE, "%s: accepted", what);
                    char needle[32];
                    snprintf(needle, sizeof needle, "gradient of atom %d", k);
                    ck_assert_msg(strstr(mn_last_error(), needle), "%s: message '%s' lacks '%s'",
                                  what, mn_last_error(), needle);
                    ck_assert_int_eq(mn_solver_steps_taken(s), 1);
                    ck_assert_msg(memcmp(before, mn_network_weights(net),
                                         (size_t)n * sizeof *before) == 0,
                                  "%s: weights changed", what);

                    fill_grads(net, 43);
                    fill_grads(twin, 43);
                    ck_assert_ok(mn_solver_step(s, net));
                    ck_assert_ok(mn_solver_step(t, twin));
                    ck_assert_int_eq(mn_solver_steps_taken(s), 2);
                    ck_assert_msg(memcmp(mn_network_weights(twin), mn_network_weights(net),
                                         (size_t)n * sizeof *before) == 0,
                                  "%s: the next step differs from the twin's (moments changed)",
                                  what);
                    free(before);
                    mn_solver_destroy(s);
                    mn_solver_destroy(t);
                    mn_network_destroy(net);
                    mn_network_destroy(twin);
                }
}
END_TEST

/* A finite gradient whose step would still make a weight non-finite is
 * refused the same way: AdamW's second moment g² past FLT_MAX (it would
 * freeze the weight for good), and a sharp sgd step of a gradient near
 * FLT_MAX (its multiplier dual(g) overflows float32). */
START_TEST(test_overflowing_step_changes_nothing)
{
    const struct {
        const char *preset;
        float g;
        const char *needle;
    } cases[] = {
        {"adam", 1e25f, "second moment overflows"},
        {"sgd", 3e38f, "update overflows"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mn_network *net = make_net(3, 50);
        int64_t n = mn_network_param_count(net);
        mn_solver_config cfg = preset(cases[i].preset, MN_PARAM_SP);
        cfg.lr = 0.5;
        cfg.weight_decay = 0.1;
        mn_solver *s = make_solver(net, &cfg);
        fill_grads(net, 51);
        int k = mn_network_atom_count(net) - 1;
        block b = atom_block(net, k);
        for (int64_t j = b.off; j < b.off + b.rows * b.cols; j++)
            mn_network_grads(net)[j] = cases[i].g;
        float *before = malloc((size_t)n * sizeof *before);
        ck_assert_ptr_nonnull(before);
        memcpy(before, mn_network_weights(net), (size_t)n * sizeof *before);
        mn_clear_error();
        ck_assert_int_eq(mn_solver_step(s, net), MN_ERR_NONFINITE);
        ck_assert_msg(strstr(mn_last_error(), cases[i].needle) &&
                          strstr(mn_last_error(), "atom 2"),
                      "%s: '%s'", cases[i].preset, mn_last_error());
        ck_assert_int_eq(mn_solver_steps_taken(s), 0);
        ck_assert(memcmp(before, mn_network_weights(net), (size_t)n * sizeof *before) == 0);
        /* and a good step after it is the first step of a fresh solver */
        mn_network *twin = make_net(3, 50);
        mn_solver *t = make_solver(twin, &cfg);
        fill_grads(net, 52);
        fill_grads(twin, 52);
        ck_assert_ok(mn_solver_step(s, net));
        ck_assert_ok(mn_solver_step(t, twin));
        ck_assert(memcmp(mn_network_weights(twin), mn_network_weights(net),
                         (size_t)n * sizeof *before) == 0);
        free(before);
        mn_solver_destroy(t);
        mn_network_destroy(twin);
        mn_solver_destroy(s);
        mn_network_destroy(net);
    }
}
END_TEST

/* A norm or a mass changed after the solver was made is used from the next
 * step: the step equals that of a solver made after the change. */
START_TEST(test_solver_sees_later_changes)
{
    mn_network *a = make_net(3, 7), *b = make_net(3, 7);
    mn_solver_config cfg = preset("muon", MN_PARAM_MODULAR);
    mn_solver *sa = make_solver(a, &cfg);
    double before[3];
    memcpy(before, mn_solver_targets(sa), sizeof before);
    /* the same changes: on a after its solver exists, on b before */
    mn_network *nets[2] = {a, b};
    for (int i = 0; i < 2; i++) {
        ck_assert_ok(mn_module_set_norm((mn_module *)mn_network_atom(nets[i], 1), "l1-linf"));
        ck_assert_ok(mn_module_set_mass((mn_module *)mn_network_atom(nets[i], 2), 2));
    }
    mn_solver *sb = make_solver(b, &cfg);
    fill_grads(a, 3);
    fill_grads(b, 3);
    ck_assert_ok(mn_solver_step(sa, a));
    ck_assert_ok(mn_solver_step(sb, b));
    int64_t n = mn_network_param_count(a);
    ck_assert_mem_eq(mn_network_weights(a), mn_network_weights(b), (size_t)n * sizeof(float));
    ck_assert_mem_eq(mn_solver_targets(sa), mn_solver_targets(sb), 3 * sizeof(double));
    /* masses 1, 1, 2: the last layer's share went up */
    ck_assert_double_gt(mn_solver_targets(sa)[2], before[2]);
    mn_solver_destroy(sa);
    mn_solver_destroy(sb);
    mn_network_destroy(a);
    mn_network_destroy(b);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("optim");
    TCase *tc = tcase_create("optim");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_targets);
    tcase_add_test(tc, test_sgd_preset);
    tcase_add_test(tc, test_sign_preset);
    tcase_add_test(tc, test_muon_preset);
    tcase_add_test(tc, test_param_sp);
    tcase_add_test(tc, test_solver_targets_for);
    tcase_add_test(tc, test_momentum);
    tcase_add_test(tc, test_weight_decay);
    tcase_add_test(tc, test_schedules);
    tcase_add_test(tc, test_sharp_step);
    tcase_add_test(tc, test_normalized_step_length);
    tcase_add_test(tc, test_bad_configs);
    tcase_add_test(tc, test_polar_steps_bounded);
    tcase_add_test(tc, test_bad_enums_and_null_solver);
    tcase_add_test(tc, test_step_shape_mismatch);
    tcase_add_test(tc, test_atom_plan);
    tcase_add_test(tc, test_shared_atoms_match_serial);
    tcase_add_test(tc, test_nonfinite_gradient_changes_nothing);
    tcase_add_test(tc, test_overflowing_step_changes_nothing);
    tcase_add_test(tc, test_solver_sees_later_changes);
    suite_add_tcase(s, tc);
    return tm_run_suite(s);
}
