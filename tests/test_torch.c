/* Against PyTorch: the MLP 6 → 5 → 4 → 3 (ReLU, no bias) of
 * scripts/make_torch_fixture.py, started from the same float32 weights on the
 * same batch. The loss and every weight gradient must match torch's float64
 * values, and one step of the sgd, muon and adam presets (three steps for
 * adam) must land on torch's weights. float32 against a float64 reference:
 * every comparison allows RTOL times the largest magnitude of the reference
 * (per layer). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#define N_LAYERS 3
#define BATCH 7
static const int64_t dims[N_LAYERS + 1] = {6, 5, 4, 3};

/* float32 forward/backward against float64 torch. */
#define RTOL 1e-5

/* torch_hparams.npy */
enum { HP_ETA_SGD, HP_ETA_MUON, HP_ETA_ADAM, HP_WD, HP_T, HP_N };

static mn_mat read_fixture(const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/torch_%s.npy", MN_TEST_DATA, name);
    mn_mat m;
    ck_assert_ok(mn_npy_read(path, &m));
    return m;
}

static mn_mat read_layer(const char *stage, int k)
{
    char name[64];
    snprintf(name, sizeof name, "%s_%d", stage, k + 1);
    mn_mat m = read_fixture(name);
    if (m.rows != dims[k + 1] || m.cols != dims[k]) {
        int64_t r = m.rows, c = m.cols;
        mn_mat_free(&m);
        ck_abort_msg("torch_%s.npy is %lldx%lld, expected %lldx%lld", name, (long long)r,
                     (long long)c, (long long)dims[k + 1], (long long)dims[k]);
    }
    return m;
}

static void read_hparams(double hp[HP_N])
{
    mn_mat m = read_fixture("hparams");
    int64_t n = m.rows * m.cols;
    for (int i = 0; i < HP_N && i < n; i++)
        hp[i] = mn_mat_get(&m, 0, i);
    mn_mat_free(&m);
    ck_assert_int_eq(n, HP_N);
}

/* Each test's state, built by setup and freed by teardown (a checked
 * fixture), so a failing assertion leaks nothing under CK_FORK=no. */
static struct {
    mn_network *net;
    mn_solver *solver;
    mn_tensor *x, *dlogits;
    int32_t labels[BATCH];
    double hp[HP_N];
} F;

/* The same MLP as torch, Linear(5←6), ReLU, Linear(4←5), ReLU, Linear(3←4),
 * holding torch's initial weights, and torch's batch. */
static void setup(void)
{
    memset(&F, 0, sizeof F);
    read_hparams(F.hp);
    mn_module *mods[2 * N_LAYERS - 1];
    for (int k = 0; k < N_LAYERS; k++) {
        ck_assert_ok(mn_linear(&mods[2 * k], dims[k + 1], dims[k]));
        if (k < N_LAYERS - 1)
            ck_assert_ok(mn_relu(&mods[2 * k + 1]));
    }
    mn_module *root;
    ck_assert_ok(mn_sequential(&root, 2 * N_LAYERS - 1, mods));
    ck_assert_ok(mn_network_create(&F.net, root, MN_PARAM_MODULAR, 7));
    mn_network_set_threads(F.net, 1);
    ck_assert_int_eq(mn_network_atom_count(F.net), N_LAYERS);
    float *w = mn_network_weights(F.net);
    for (int k = 0; k < N_LAYERS; k++) {
        mn_mat src = read_layer("w0", k), dst = mn_network_atom_view(F.net, k, w);
        mn_status st = dst.rows == src.rows && dst.cols == src.cols ? mn_mat_copy(&dst, &src)
                                                                    : MN_ERR_SHAPE;
        mn_mat_free(&src);
        ck_assert_ok(st);
    }

    mn_mat x = read_fixture("x"), y = read_fixture("labels");
    bool ok = x.rows == BATCH && x.cols == dims[0] && y.rows * y.cols == BATCH;
    mn_status st = mn_tensor_create(&F.x, 2, (int64_t[]){BATCH, dims[0]});
    if (st == MN_OK)
        st = mn_tensor_create(&F.dlogits, 2, (int64_t[]){BATCH, dims[N_LAYERS]});
    if (st == MN_OK && ok) {
        mn_mat xv = mn_mat_view(MN_F32, F.x->data, BATCH, dims[0]);
        st = mn_mat_copy(&xv, &x);
        for (int i = 0; i < BATCH; i++)
            F.labels[i] = (int32_t)mn_mat_get(&y, 0, i);
    }
    mn_mat_free(&x);
    mn_mat_free(&y);
    ck_assert_msg(ok, "torch_x.npy / torch_labels.npy have unexpected shapes");
    ck_assert_ok(st);
}

static void teardown(void)
{
    mn_solver_destroy(F.solver);
    mn_network_destroy(F.net);
    mn_tensor_destroy(F.x);
    mn_tensor_destroy(F.dlogits);
    memset(&F, 0, sizeof F);
}

/* Fresh gradients of the mean cross-entropy at the current weights. */
static double loss_and_grads(void)
{
    const mn_tensor *logits;
    double loss;
    mn_network_zero_grad(F.net);
    ck_assert_ok(mn_network_forward(F.net, F.x, &logits));
    ck_assert_int_eq(logits->shape[0], BATCH);
    ck_assert_int_eq(logits->shape[1], dims[N_LAYERS]);
    ck_assert_ok(mn_loss_cross_entropy(logits, F.labels, &loss, F.dlogits, NULL));
    ck_assert_ok(mn_network_backward(F.net, F.dlogits));
    return loss;
}

/* max |buf_k − torch_k| ≤ RTOL · max |torch_k| for every layer k
 * (MN_TORCH_VERBOSE=1 prints the measured ratios). */
static void expect_layers(float *buf, const char *stage)
{
    for (int k = 0; k < N_LAYERS; k++) {
        mn_mat want = read_layer(stage, k), got = mn_network_atom_view(F.net, k, buf);
        double scale = 0;
        for (int64_t i = 0; i < want.rows; i++)
            for (int64_t j = 0; j < want.cols; j++)
                scale = fmax(scale, fabs(mn_mat_get(&want, i, j)));
        double diff = tm_max_abs_diff(&got, &want);
        int64_t rows = want.rows, cols = want.cols;
        mn_mat_free(&want);
        if (getenv("MN_TORCH_VERBOSE"))
            fprintf(stderr, "%s layer %d: max diff / max |torch| = %.3g\n", stage, k + 1,
                    diff / scale);
        ck_assert_msg(diff <= RTOL * scale,
                      "%s, layer %d (%lldx%lld): max |modnorm − torch| = %.3g > %.0e × %.4g", stage,
                      k + 1, (long long)rows, (long long)cols, diff, RTOL, scale);
    }
}

static void make_solver(const char *preset, double lr, double momentum, double weight_decay,
                        const char *polar_method)
{
    mn_solver_config cfg;
    ck_assert_ok(mn_solver_preset(&cfg, preset, MN_PARAM_MODULAR));
    cfg.lr = lr;
    cfg.momentum = momentum;
    cfg.weight_decay = weight_decay;
    cfg.schedule = MN_SCHEDULE_CONSTANT;
    cfg.polar.threads = 1;
    if (polar_method)
        ck_assert_ok(mn_polar_lookup(polar_method, &cfg.polar.method));
    ck_assert_ok(mn_solver_create(&F.solver, F.net, &cfg));
}

START_TEST(test_loss_and_gradients)
{
    double loss = loss_and_grads();
    mn_mat want = read_fixture("loss");
    double ref = mn_mat_get(&want, 0, 0);
    mn_mat_free(&want);
    ck_assert_msg(fabs(loss - ref) <= RTOL * fabs(ref), "loss %.9g, torch %.9g", loss, ref);
    expect_layers(mn_network_grads(F.net), "grad");
}
END_TEST

/* sgd: w − η·t_k·g with t_k = 1/3, momentum 0 (torch.optim.SGD, lr η/3). */
START_TEST(test_sgd_step)
{
    make_solver("sgd", F.hp[HP_ETA_SGD], 0, 0, NULL);
    for (int k = 0; k < N_LAYERS; k++)
        ck_assert_double_eq_tol(mn_solver_targets(F.solver)[k], F.hp[HP_T], 1e-15);
    loss_and_grads();
    ck_assert_ok(mn_solver_step(F.solver, F.net));
    expect_layers(mn_network_weights(F.net), "sgd");
}
END_TEST

/* muon: w − η·t_k·√(d_out/d_in)·U Vᵀ, exact polar factor, momentum 0.
 *
 * A regression test: the readout gradient of a softmax cross-entropy has
 * rank C−1 (each row of dlogits sums to 0), so the 3 x 4 gradient has rank 2.
 * In float32 its third singular value is rounding noise (σ₃/σ₁ ≈ 5e-9); the
 * exact polar factor must drop it (threshold on FLT_EPSILON for float32), or
 * the update moves the readout by η·t_k·√(3/4) along noise. */
START_TEST(test_muon_step)
{
    make_solver("muon", F.hp[HP_ETA_MUON], 0, 0, "svd");
    loss_and_grads();
    ck_assert_ok(mn_solver_step(F.solver, F.net));
    expect_layers(mn_network_weights(F.net), "muon");
}
END_TEST

/* adam: torch.optim.AdamW (β 0.9, 0.999, ε 1e-8, decoupled weight decay), one
 * step, then two more with gradients recomputed at the new weights: bias
 * correction over several steps. */
START_TEST(test_adamw_steps)
{
    ck_assert_double_gt(F.hp[HP_WD], 0);
    make_solver("adam", F.hp[HP_ETA_ADAM], 0.9, F.hp[HP_WD], NULL);
    loss_and_grads();
    ck_assert_ok(mn_solver_step(F.solver, F.net));
    expect_layers(mn_network_weights(F.net), "adamw1");
    for (int step = 1; step < 3; step++) {
        loss_and_grads();
        ck_assert_ok(mn_solver_step(F.solver, F.net));
    }
    ck_assert_int_eq(mn_solver_steps_taken(F.solver), 3);
    expect_layers(mn_network_weights(F.net), "adamw3");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("torch");
    TCase *tc = tcase_create("torch");
    tcase_set_timeout(tc, 120);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_loss_and_gradients);
    tcase_add_test(tc, test_sgd_step);
    tcase_add_test(tc, test_muon_step);
    tcase_add_test(tc, test_adamw_steps);
    suite_add_tcase(s, tc);
    return tm_run_suite(s);
}
