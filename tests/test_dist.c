/* The sharded solver step, run by every rank under `mpirun -np P` (P = 2 and
 * 3 in tests/meson.build; CK_FORK=no, so that all tests share one MPI job).
 *
 * Each rank builds the same network twice: one stepped in one process on the
 * whole batch (the reference), one stepped data-parallel on its shard. After
 * every step the losses and the weights must agree within float32 rounding
 * of the reduction order; each matrix must be orthogonalized exactly once
 * across the ranks (mn_polar_calls); and the bytes passed to MPI, counted
 * here by PMPI wrappers independently of the library's own counters, must
 * be the traffic model's: a reduce-scatter and an all-gather of blocks of
 * max_r n_r floats, 2(P−1)·max_r n_r·4 bytes per rank in the ring model.
 *
 * Every collective happens before a test's assertions, so a failing rank
 * never leaves the others waiting in a collective. */
#include <check.h>
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "modnorm.h"
#include "testutil.h"

static mn_dist *dist;
static int P, me;

/* ---- PMPI: what the library passes to MPI --------------------------------------------- */

static uint64_t pm_scatter_bytes, pm_gather_bytes, pm_scalar_bytes, pm_calls;

int MPI_Reduce_scatter_block(const void *send, void *recv, int count, MPI_Datatype type,
                             MPI_Op op, MPI_Comm comm)
{
    int size = 0, ranks = 0;
    MPI_Type_size(type, &size);
    MPI_Comm_size(comm, &ranks);
    pm_scatter_bytes += (uint64_t)ranks * (uint64_t)count * (uint64_t)size;
    pm_calls++;
    return PMPI_Reduce_scatter_block(send, recv, count, type, op, comm);
}

int MPI_Allgather(const void *send, int scount, MPI_Datatype stype, void *recv, int rcount,
                  MPI_Datatype rtype, MPI_Comm comm)
{
    int size = 0;
    MPI_Type_size(stype, &size);
    pm_gather_bytes += (uint64_t)scount * (uint64_t)size;
    pm_calls++;
    return PMPI_Allgather(send, scount, stype, recv, rcount, rtype, comm);
}

int MPI_Allreduce(const void *send, void *recv, int count, MPI_Datatype type, MPI_Op op,
                  MPI_Comm comm)
{
    int size = 0;
    MPI_Type_size(type, &size);
    pm_scalar_bytes += (uint64_t)count * (uint64_t)size;
    pm_calls++;
    return PMPI_Allreduce(send, recv, count, type, op, comm);
}

int MPI_Bcast(void *buf, int count, MPI_Datatype type, int root, MPI_Comm comm)
{
    int size = 0;
    MPI_Type_size(type, &size);
    pm_scalar_bytes += (uint64_t)count * (uint64_t)size;
    pm_calls++;
    return PMPI_Bcast(buf, count, type, root, comm);
}

static void pm_reset(void) { pm_scatter_bytes = pm_gather_bytes = pm_scalar_bytes = pm_calls = 0; }

/* ---- the networks ----------------------------------------------------------------------- */

typedef struct {
    const char *opt;
    int depth;
    int64_t d_in, width, d_out;
    bool nesterov;
    double wd;
} config;

static const config configs[] = {
    {"muon", 3, 20, 24, 5, false, 0},
    {"muon", 2, 20, 24, 5, false, 0},  /* two atoms: at -np 3 one rank owns none */
    {"muon", 2, 32, 32, 32, true, 0.1}, /* two equal atoms: equal shares at -np 2 */
    {"sgd", 3, 20, 24, 5, false, 0},
    {"sign", 3, 20, 24, 5, false, 0},
    {"adam", 3, 20, 24, 5, false, 0.01},
};
#define N_CONFIGS ((int)(sizeof configs / sizeof configs[0]))
#define BATCH 7
#define STEPS 3

static void build(const config *c, mn_dist *d, mn_network **net, mn_solver **solver)
{
    mn_module *root;
    ck_assert_int_eq(mn_mlp(&root, c->d_in, c->width, c->depth, c->d_out), MN_OK);
    mn_train_settings s;
    mn_train_settings_default(&s);
    s.opt = c->opt;
    s.steps = STEPS;
    s.threads = 1;
    s.seed = 11;
    s.nesterov = c->nesterov;
    s.weight_decay = c->wd;
    s.dist = d;
    ck_assert_msg(mn_train_build(root, &s, STEPS, net, solver) == MN_OK, "%s", mn_last_error());
}

/* Forward and backward on rows [lo, hi) of x (BATCH x d_in) and y; the mean loss. */
static double gradient(mn_network *net, const config *c, float *x, const int32_t *y, int64_t lo,
                       int64_t hi)
{
    mn_tensor *xt, *dy;
    const mn_tensor *out;
    ck_assert_int_eq(mn_tensor_wrap(&xt, x + lo * c->d_in, 2, (int64_t[]){hi - lo, c->d_in}),
                     MN_OK);
    ck_assert_int_eq(mn_network_forward(net, xt, &out), MN_OK);
    ck_assert_int_eq(mn_tensor_create(&dy, 2, (int64_t[]){hi - lo, c->d_out}), MN_OK);
    double loss;
    ck_assert_int_eq(mn_loss_cross_entropy(out, y + lo, &loss, dy, NULL), MN_OK);
    mn_network_zero_grad(net);
    ck_assert_int_eq(mn_network_backward(net, dy), MN_OK);
    mn_tensor_destroy(dy);
    mn_tensor_destroy(xt);
    return loss;
}

static void batch(const config *c, int step, float *x, int32_t *y)
{
    mn_rng r;
    mn_rng_seed(&r, 1000 + (uint64_t)step);
    for (int64_t i = 0; i < BATCH * c->d_in; i++)
        x[i] = (float)mn_rng_normal(&r);
    for (int i = 0; i < BATCH; i++)
        y[i] = (int32_t)mn_rng_below(&r, (uint64_t)c->d_out);
}

static double max_abs(const float *a, int64_t n)
{
    double m = 0;
    for (int64_t i = 0; i < n; i++)
        m = fmax(m, fabs((double)a[i]));
    return m;
}

/* The largest share in floats, from the owners and the atoms' shapes. */
static int64_t largest_share(const mn_network *net, const mn_solver *s, int *owned_here)
{
    int64_t share[16] = {0};
    *owned_here = 0;
    for (int k = 0; k < mn_network_atom_count(net); k++) {
        mn_mat v = mn_network_atom_view(net, k, mn_network_weights((mn_network *)net));
        int o = mn_solver_owner(s, k);
        ck_assert(o >= 0 && o < P);
        share[o] += v.rows * v.cols;
        *owned_here += o == me;
    }
    int64_t most = 0;
    for (int r = 0; r < P; r++)
        most = share[r] > most ? share[r] : most;
    return most;
}

/* The data-parallel step equals the one-process step on the whole batch,
 * orthogonalizes every matrix once, and passes the modelled bytes. */
START_TEST(test_sharded_step)
{
    const config *c = &configs[_i];
    mn_network *ref, *net;
    mn_solver *sref, *solver;
    build(c, NULL, &ref, &sref);
    build(c, dist, &net, &solver);
    ck_assert_ptr_eq(mn_solver_dist(solver), dist);
    int n_atoms = mn_network_atom_count(net), owned;
    int64_t n = mn_network_param_count(net), block = largest_share(net, solver, &owned);
    ck_assert_int_eq(mn_solver_shard_block(solver), block);
    int64_t lo, hi;
    ck_assert_int_eq(mn_dist_shard(dist, BATCH, &lo, &hi), MN_OK);
    float x[BATCH * 64];
    int32_t y[BATCH];
    bool spectral = strcmp(c->opt, "muon") == 0;
    double worst_loss = 0, worst_w = 0;
    uint64_t calls_total[STEPS], calls_here[STEPS];
    mn_dist_traffic t[STEPS];
    uint64_t pm_rs[STEPS], pm_ag[STEPS];
    mn_status st_ref[STEPS], st[STEPS];
    for (int step = 0; step < STEPS; step++) {
        batch(c, step, x, y);
        double l_ref = gradient(ref, c, x, y, 0, BATCH);
        st_ref[step] = mn_solver_step(sref, ref);
        double l = gradient(net, c, x, y, lo, hi);
        ck_assert_int_eq(mn_dist_batch_loss(dist, MN_OK, &l), MN_OK);
        worst_loss = fmax(worst_loss, fabs(l - l_ref) / fabs(l_ref));
        uint64_t before = mn_polar_calls();
        mn_dist_traffic_reset(dist);
        pm_reset();
        st[step] = mn_solver_step(solver, net);
        mn_dist_traffic_get(dist, &t[step]);
        pm_rs[step] = pm_scatter_bytes;
        pm_ag[step] = pm_gather_bytes;
        calls_here[step] = mn_polar_calls() - before;
        double sum = (double)calls_here[step];
        ck_assert_int_eq(mn_dist_sum(dist, &sum, 1), MN_OK);
        calls_total[step] = (uint64_t)sum;
        const float *a = mn_network_weights(ref), *b = mn_network_weights(net);
        double d = 0;
        for (int64_t i = 0; i < n; i++)
            d = fmax(d, fabs((double)a[i] - (double)b[i]));
        worst_w = fmax(worst_w, d / max_abs(a, n));
    }
    /* nobody waits in a collective from here on */
    double ring = 2.0 * (P - 1) * (double)block * 4;
    for (int step = 0; step < STEPS; step++) {
        ck_assert_msg(st_ref[step] == MN_OK && st[step] == MN_OK, "step %d: %s", step,
                      mn_last_error());
        ck_assert_uint_eq(calls_total[step], spectral ? (uint64_t)n_atoms : 0);
        ck_assert_uint_eq(calls_here[step], spectral ? (uint64_t)owned : 0);
        ck_assert_uint_eq(t[step].reduce_scatter_bytes, (uint64_t)(P * block * 4));
        ck_assert_uint_eq(t[step].allgather_bytes, (uint64_t)(block * 4));
        ck_assert_uint_eq(pm_rs[step], t[step].reduce_scatter_bytes);
        ck_assert_uint_eq(pm_ag[step], t[step].allgather_bytes);
        ck_assert_double_eq_tol(t[step].ring_bytes, ring, 0.5);
        ck_assert_double_eq_tol(mn_dist_step_bytes(P, block), ring, 0.5);
    }
    /* the model's two cases: equal shares give 2(P−1)/P·N·4 */
    if (n % P == 0 && block == n / P)
        ck_assert_double_eq_tol(ring, 2.0 * (P - 1) / P * (double)n * 4, 0.5);
    if (c->depth == 2 && P == 3)
        ck_assert_msg(block > 0 && n_atoms == 2, "two atoms on three ranks");
    fprintf(stderr, "rank %d/%d %s depth %d: owns %d of %d atoms, block %lld of %lld floats, "
            "loss rel. diff %.2e, weight diff %.2e (of the largest weight)\n", me, P, c->opt,
            c->depth, owned, n_atoms, (long long)block, (long long)n, worst_loss, worst_w);
    ck_assert_msg(worst_loss <= 1e-6, "loss differs by %g (relative)", worst_loss);
    ck_assert_msg(worst_w <= 1e-5, "weights differ by %g of the largest", worst_w);
    mn_solver_destroy(solver);
    mn_network_destroy(net);
    mn_solver_destroy(sref);
    mn_network_destroy(ref);
}
END_TEST

/* Owners: whole atoms, the costliest (784 x 1024's polar flops) first, each
 * to the least-loaded rank; every rank knows the same owners. */
START_TEST(test_owners)
{
    const config big = {"muon", 3, 784, 256, 10, false, 0};
    mn_network *net;
    mn_solver *solver;
    build(&big, dist, &net, &solver);
    int n_atoms = mn_network_atom_count(net);
    double owners[8] = {0}, mine[8];
    for (int k = 0; k < n_atoms; k++)
        owners[k] = mine[k] = mn_solver_owner(solver, k);
    ck_assert_int_eq(mn_dist_sum(dist, owners, n_atoms), MN_OK);
    for (int k = 0; k < n_atoms; k++)
        ck_assert_double_eq(owners[k], P * mine[k]); /* the same on every rank */
    /* 256x784 (the costliest) on rank 0, 256x256 on rank 1, 10x256 on the least loaded */
    ck_assert_int_eq(mn_solver_owner(solver, 0), 0);
    ck_assert_int_eq(mn_solver_owner(solver, 1), 1);
    ck_assert_int_eq(mn_solver_owner(solver, 2), P == 2 ? 1 : 2);
    ck_assert_int_eq(mn_solver_owner(solver, 3), -1);
    mn_solver_destroy(solver);
    mn_network_destroy(net);
}
END_TEST

/* A non-finite gradient on one rank only (not atom 0's owner) fails the
 * step on every rank with the same message, and changes nothing anywhere;
 * the next step works. */
START_TEST(test_failure_agreed)
{
    const config *c = &configs[0];
    mn_network *net;
    mn_solver *solver;
    build(c, dist, &net, &solver);
    int64_t n = mn_network_param_count(net), lo, hi;
    ck_assert_int_eq(mn_dist_shard(dist, BATCH, &lo, &hi), MN_OK);
    float x[BATCH * 64], *before = malloc((size_t)n * sizeof *before);
    int32_t y[BATCH];
    ck_assert_ptr_nonnull(before);
    batch(c, 0, x, y);
    gradient(net, c, x, y, lo, hi);
    if (me == (mn_solver_owner(solver, 0) + 1) % P) /* another rank than atom 0's owner */
        mn_network_grads(net)[3] = NAN;
    memcpy(before, mn_network_weights(net), (size_t)n * sizeof *before);
    mn_status st = mn_solver_step(solver, net);
    char mine[1024], first[1024];
    snprintf(mine, sizeof mine, "%s", mn_last_error());
    memcpy(first, mine, sizeof first);
    ck_assert_int_eq(mn_dist_broadcast(dist, first, sizeof first, 0), MN_OK);
    bool unchanged = memcmp(before, mn_network_weights(net), (size_t)n * sizeof *before) == 0;
    int64_t steps = mn_solver_steps_taken(solver);
    gradient(net, c, x, y, lo, hi);
    mn_status again = mn_solver_step(solver, net);
    ck_assert_int_eq(st, MN_ERR_NONFINITE);
    ck_assert_str_eq(mine, first);
    ck_assert_msg(strstr(mine, "the gradient of atom 0") != NULL, "%s", mine);
    ck_assert(unchanged);
    ck_assert_int_eq(steps, 0);
    ck_assert_msg(again == MN_OK, "%s", mn_last_error());
    ck_assert_int_eq(mn_solver_steps_taken(solver), 1);
    free(before);
    mn_solver_destroy(solver);
    mn_network_destroy(net);
}
END_TEST

/* Shards: sizes differ by at most one, cover the batch in rank order, and
 * their weights sum to 1; a batch smaller than the ranks is refused. */
START_TEST(test_shards)
{
    for (int64_t b = P; b < 40; b++) {
        int64_t lo, hi;
        ck_assert_int_eq(mn_dist_shard(dist, b, &lo, &hi), MN_OK);
        double v[3] = {(double)(hi - lo), mn_dist_shard_weight(dist), me == 0 ? (double)lo : 0};
        ck_assert_int_eq(mn_dist_sum(dist, v, 3), MN_OK);
        ck_assert_double_eq(v[0], (double)b);
        ck_assert_double_eq_tol(v[1], 1.0, 1e-12);
        ck_assert_double_eq(v[2], 0);
        ck_assert_int_ge(hi - lo, b / P);
        ck_assert_int_le(hi - lo, b / P + 1);
    }
    int64_t lo, hi;
    ck_assert_int_eq(mn_dist_shard(dist, P - 1, &lo, &hi), MN_ERR_ARG);
}
END_TEST

int main(void)
{
    if (mn_dist_create(&dist) != MN_OK) {
        fprintf(stderr, "test_dist: %s\n", mn_last_error());
        return 1;
    }
    P = mn_dist_size(dist);
    me = mn_dist_rank(dist);
    if (P < 2 || P > 8) {
        fprintf(stderr, "test_dist: run me under mpirun -np 2..8 (size %d)\n", P);
        mn_dist_destroy(dist);
        return 1;
    }
    Suite *s = suite_create("dist");
    TCase *tc = tcase_create("dist");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_shards);
    tcase_add_test(tc, test_owners);
    tcase_add_loop_test(tc, test_sharded_step, 0, N_CONFIGS);
    tcase_add_test(tc, test_failure_agreed);
    suite_add_tcase(s, tc);
    int rc = tm_run_suite(s);
    /* every rank's verdict: one failing rank fails the job on all */
    double failed = rc;
    mn_dist_sum(dist, &failed, 1);
    mn_dist_destroy(dist);
    return failed != 0;
}
