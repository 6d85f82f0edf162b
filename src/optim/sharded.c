/* The sharded solver step for data-parallel training (modnorm/dist.h).
 *
 * Every atom has one owner rank. A step packs this rank's gradient (scaled
 * by its shard's weight) into one block per owner, reduce-scatters the
 * blocks, and each owner runs the solver's own momentum, dualization and
 * update on whole matrices of its own; the new weights are all-gathered.
 * The per-atom scales are summed over the ranks before any weight moves, so
 * every rank holds the step's whole scale vector (the place a step-wide
 * quantity, such as a tree's dual norm Σ_k t_k‖g_k‖†, would be formed), and
 * a failure on any rank fails the step on every rank before anything is
 * committed. MPI itself is behind core/dist.h. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/dist.h"
#include "core/error.h"
#include "core/parallel.h"
#include "modnorm/dist.h"
#include "modnorm/optim.h"
#include "optim/solver_internal.h"

struct mn_shard {
    mn_dist *dist;
    int ranks;
    int *owner;     /* per atom: its rank */
    int64_t *off;   /* per atom: its offset in the parameter buffer */
    int64_t *len;   /* per atom: its floats */
    int64_t *slot;  /* per atom: its offset in its owner's block */
    int64_t block;  /* max_r n_r floats (>= 1) */
    int *owned;     /* this rank's atoms, in forward order */
    int n_owned;
    float *big;     /* ranks·block: gradients by owner; then every rank's new weights */
    float *mine;    /* block: this rank's summed gradients; then its new weights */
    double *reduced; /* n_atoms + 1: the scales and a count of failed ranks */
};

void mn_shard_free(mn_shard *sh)
{
    if (!sh)
        return;
    free(sh->owner);
    free(sh->off);
    free(sh->len);
    free(sh->slot);
    free(sh->owned);
    free(sh->big);
    free(sh->mine);
    free(sh->reduced);
    free(sh);
}

mn_dist *mn_solver_dist(const mn_solver *s) { return s && s->shard ? s->shard->dist : NULL; }

int mn_solver_owner(const mn_solver *s, int k)
{
    if (!s || k < 0 || k >= s->n_atoms)
        return -1;
    return s->shard ? s->shard->owner[k] : 0;
}

int64_t mn_solver_shard_block(const mn_solver *s) { return s && s->shard ? s->shard->block : 0; }

/* The polar iteration's flops for atom k's matrix (the SVD's k²N-like
 * count when the method is exact), by which owners are assigned. */
static double polar_cost(const mn_solver *s, int64_t rows, int64_t cols)
{
    const mn_polar_method *m = s->cfg.polar.method ? s->cfg.polar.method : mn_polar_default();
    int steps = s->cfg.polar.steps > 0 ? s->cfg.polar.steps : m->default_steps;
    double f = m->n_coeffs > 0
                   ? mn_polar_flops(m, mn_polar_form_for(m, steps, rows, cols, MN_F32), steps,
                                    rows, cols, MN_F32)
                   : 0;
    double k = (double)(rows < cols ? rows : cols), n = (double)(rows < cols ? cols : rows);
    return f > 0 ? f : k * k * n;
}

/* Owners: atoms by cost, largest first (the lower index on ties), each to
 * the least-loaded rank (the lower rank on ties). */
static void assign_owners(mn_shard *sh, const double *cost, int n_atoms, double *load, int *order)
{
    for (int k = 0; k < n_atoms; k++) {
        int j = k;
        for (; j > 0 && cost[order[j - 1]] < cost[k]; j--)
            order[j] = order[j - 1];
        order[j] = k;
    }
    for (int r = 0; r < sh->ranks; r++)
        load[r] = 0;
    for (int i = 0; i < n_atoms; i++) {
        int k = order[i], least = 0;
        for (int r = 1; r < sh->ranks; r++)
            if (load[r] < load[least])
                least = r;
        sh->owner[k] = least;
        load[least] += cost[k];
    }
}

/* The owned atoms' dualization plan over the solver's threads. */
static mn_status plan_owned(mn_solver *s, const mn_network *net, const mn_shard *sh)
{
    double *work = malloc((size_t)(sh->n_owned > 0 ? sh->n_owned : 1) * sizeof *work);
    if (!work)
        return mn_fail(MN_ERR_NOMEM, "mn_solver_distribute: out of memory");
    for (int i = 0; i < sh->n_owned; i++) {
        mn_mat v = mn_network_atom_view(net, sh->owned[i], s->dir);
        double r = (double)v.rows, c = (double)v.cols;
        work[i] = r < c ? r * r * c : c * c * r;
    }
    int threads = s->cfg.serial_atoms ? 1 : mn_threads_resolve(s->cfg.polar.threads);
    mn_atom_plan plan;
    mn_status st = mn_atom_plan_make(&plan, work, sh->n_owned, threads);
    free(work);
    if (st != MN_OK)
        return st;
    for (int i = 0; i < plan.n; i++)
        plan.order[i] = sh->owned[plan.order[i]];
    mn_atom_plan_free(&s->plan);
    s->plan = plan;
    return MN_OK;
}

mn_status mn_solver_distribute(mn_solver *s, const mn_network *net, mn_dist *d)
{
    if (!s || !net || !d)
        return mn_fail(MN_ERR_ARG, "mn_solver_distribute: NULL argument");
    if (mn_network_param_count(net) != s->n || mn_network_atom_count(net) != s->n_atoms)
        return mn_fail(MN_ERR_SHAPE, "mn_solver_distribute: the solver was made for another "
                       "network");
    if (s->shard)
        return mn_fail(MN_ERR_ARG, "mn_solver_distribute: the solver is distributed already");
    if (mn_dist_size(d) == 1)
        return MN_OK;
    int na = s->n_atoms, P = mn_dist_size(d), me = mn_dist_rank(d);
    size_t nn = (size_t)(na > 0 ? na : 1);
    mn_shard *sh = calloc(1, sizeof *sh);
    double *cost = malloc(nn * sizeof *cost), *load = malloc((size_t)P * sizeof *load);
    int *order = malloc(nn * sizeof *order);
    int64_t *share = calloc((size_t)P, sizeof *share);
    mn_status st = MN_OK;
    if (!sh || !cost || !load || !order || !share ||
        !(sh->owner = malloc(nn * sizeof *sh->owner)) || !(sh->off = malloc(nn * sizeof *sh->off)) ||
        !(sh->len = malloc(nn * sizeof *sh->len)) || !(sh->slot = malloc(nn * sizeof *sh->slot)) ||
        !(sh->owned = malloc(nn * sizeof *sh->owned)) ||
        !(sh->reduced = malloc((nn + 1) * sizeof *sh->reduced)))
        st = mn_fail(MN_ERR_NOMEM, "mn_solver_distribute: out of memory for %d atoms", na);
    int64_t covered = 0;
    for (int k = 0; st == MN_OK && k < na; k++) {
        mn_mat v = mn_network_atom_view(net, k, s->dir);
        sh->off[k] = (int64_t)((float *)v.data - s->dir);
        sh->len[k] = v.rows * v.cols;
        /* forward order is buffer order: the atoms must tile it */
        if (sh->off[k] != covered)
            st = mn_fail(MN_ERR_ARG, "mn_solver_distribute: atom %d starts at parameter %lld, "
                         "expected %lld (the atoms must tile the parameter buffer)", k,
                         (long long)sh->off[k], (long long)covered);
        covered += sh->len[k];
        cost[k] = polar_cost(s, v.rows, v.cols);
    }
    if (st == MN_OK && covered != s->n)
        st = mn_fail(MN_ERR_ARG, "mn_solver_distribute: the atoms hold %lld of the %lld "
                     "parameters", (long long)covered, (long long)s->n);
    if (st == MN_OK) {
        sh->dist = d;
        sh->ranks = P;
        assign_owners(sh, cost, na, load, order);
        for (int k = 0; k < na; k++) {
            sh->slot[k] = share[sh->owner[k]];
            share[sh->owner[k]] += sh->len[k];
            if (sh->owner[k] == me)
                sh->owned[sh->n_owned++] = k;
        }
        sh->block = 1;
        for (int r = 0; r < P; r++)
            sh->block = share[r] > sh->block ? share[r] : sh->block;
        /* zeroed: a rank's padding past its share is summed and gathered, never read */
        sh->big = calloc((size_t)P * (size_t)sh->block, sizeof *sh->big);
        sh->mine = calloc((size_t)sh->block, sizeof *sh->mine);
        if (!sh->big || !sh->mine)
            st = mn_fail(MN_ERR_NOMEM, "mn_solver_distribute: out of memory for %d x %lld "
                         "exchange floats", P, (long long)sh->block);
    }
    if (st == MN_OK)
        st = plan_owned(s, net, sh);
    free(cost);
    free(load);
    free(order);
    free(share);
    if (st != MN_OK) {
        mn_shard_free(sh);
        return st;
    }
    s->shard = sh;
    return MN_OK;
}

/* ---- the step ---------------------------------------------------------------------------- */

static mn_status gradient_refused(const mn_network *net, int k, const float *g, int64_t off,
                                  int64_t i)
{
    char name[96];
    mn_mat v = mn_network_atom_view(net, k, (float *)g);
    int64_t rel = i - off;
    int64_t r = v.cs == 1 ? rel / v.cols : rel % v.rows, c = v.cs == 1 ? rel % v.cols : rel / v.rows;
    return mn_fail(MN_ERR_NONFINITE, "solver step refused: the gradient of %s has a non-finite "
                   "value (%g) at (%lld, %lld); weights, moments and step count are unchanged",
                   mn_solver_atom_name(net, k, name, sizeof name), (double)g[i], (long long)r,
                   (long long)c);
}

static mn_status proposal_refused(const mn_solver *s, const mn_network *net, int k, int64_t i,
                                  const char *why)
{
    char name[96];
    mn_mat v = mn_network_atom_view(net, k, s->dir);
    int64_t rel = i - s->shard->off[k];
    int64_t r = v.cs == 1 ? rel / v.cols : rel % v.rows, c = v.cs == 1 ? rel % v.cols : rel / v.rows;
    return mn_fail(MN_ERR_NONFINITE, "solver step refused: it would make weight (%lld, %lld) of "
                   "%s non-finite (%s); weights, moments and step count are unchanged",
                   (long long)r, (long long)c, mn_solver_atom_name(net, k, name, sizeof name), why);
}

/* The first owned atom whose range of buf holds a non-finite entry; -1 none. */
static int first_bad_atom(const mn_shard *sh, const float *buf, int64_t *at)
{
    for (int i = 0; i < sh->n_owned; i++) {
        int k = sh->owned[i];
        int64_t j = mn_first_nonfinite(buf + sh->off[k], sh->len[k]);
        if (j >= 0) {
            *at = sh->off[k] + j;
            return k;
        }
    }
    return -1;
}

/* Steepest descent on the owned atoms: momentum, dualization, then (once
 * the scales are summed over the ranks) the proposed weights into s->dir.
 * Collective: every rank joins the scales' sum, failed or not. */
static mn_status steepest_owned(mn_solver *s, mn_network *net, double lr)
{
    mn_shard *sh = s->shard;
    const mn_solver_config *c = &s->cfg;
    const float *g = mn_network_grads(net), *m = s->m, *w = mn_network_weights(net);
    float *dir = s->dir;
    float beta = (float)c->momentum, one_minus = (float)(1 - c->momentum);
    int threads = mn_network_threads(net);
    mn_status st = MN_OK;
    for (int i = 0; i < sh->n_owned; i++) {
        int64_t off = sh->off[sh->owned[i]], len = sh->len[sh->owned[i]];
        MN_PARALLEL_FOR(mn_elementwise_threads(threads, len))
        for (int64_t j = off; j < off + len; j++) {
            float next = beta * m[j] + one_minus * g[j];
            dir[j] = c->nesterov ? beta * next + one_minus * g[j] : next;
        }
    }
    int64_t at;
    int bad = first_bad_atom(sh, g, &at);
    if (bad >= 0)
        st = gradient_refused(net, bad, g, sh->off[bad], at);
    for (int i = 0; st == MN_OK && i < s->plan.shared_from; i++)
        st = mn_solver_dualize_atom(s, net, s->plan.order[i], lr, &c->polar);
    if (st == MN_OK && s->plan.shared_from < s->plan.n)
        st = mn_solver_dualize_shared(s, net, lr, mn_threads_resolve(c->polar.threads));
    /* every atom's scale on every rank: each owner adds its own, the rest 0 */
    for (int k = 0; k <= s->n_atoms; k++)
        sh->reduced[k] = 0;
    for (int i = 0; st == MN_OK && i < sh->n_owned; i++)
        sh->reduced[sh->owned[i]] = s->scales[sh->owned[i]];
    sh->reduced[s->n_atoms] = st == MN_OK ? 0 : 1;
    MN_TRY(mn_dist_sum(sh->dist, sh->reduced, s->n_atoms + 1));
    if (sh->reduced[s->n_atoms] != 0)
        return mn_dist_agree(sh->dist, st); /* some rank failed: all return its status */
    memcpy(s->scales, sh->reduced, (size_t)s->n_atoms * sizeof *s->scales);

    float decay = (float)(1.0 - lr * c->weight_decay);
    for (int i = 0; i < sh->n_owned; i++) {
        int k = sh->owned[i];
        int64_t off = sh->off[k], len = sh->len[k];
        float f = (float)s->scales[k];
        if (f == 0) { /* nothing moves but the decay (dir may hold anything) */
            MN_PARALLEL_FOR(mn_elementwise_threads(threads, len))
            for (int64_t j = off; j < off + len; j++)
                dir[j] = w[j] * decay;
            continue;
        }
        MN_PARALLEL_FOR(mn_elementwise_threads(threads, len))
        for (int64_t j = off; j < off + len; j++)
            dir[j] = w[j] * decay - f * dir[j];
    }
    bad = first_bad_atom(sh, dir, &at);
    return bad >= 0 ? proposal_refused(s, net, bad, at, "the update overflows float32") : MN_OK;
}

/* AdamW on the owned atoms: the proposed weights into s->dir (as
 * solver.c's adamw_propose, range by range). */
static mn_status adamw_owned(mn_solver *s, mn_network *net, double lr)
{
    mn_shard *sh = s->shard;
    const float *g = mn_network_grads(net), *w = mn_network_weights(net);
    const float *m = s->m, *v = s->v;
    float *dir = s->dir;
    mn_adamw_consts k = mn_solver_adamw_at(s, lr);
    int threads = mn_network_threads(net);
    for (int i = 0; i < sh->n_owned; i++) {
        int64_t off = sh->off[sh->owned[i]], len = sh->len[sh->owned[i]];
        MN_PARALLEL_FOR(mn_elementwise_threads(threads, len))
        for (int64_t j = off; j < off + len; j++) {
            float mj = k.b1 * m[j] + (1 - k.b1) * g[j];
            float vj = k.b2 * v[j] + (1 - k.b2) * g[j] * g[j];
            float wj = w[j] * k.decay - k.step * mj / (sqrtf(vj * k.inv_bc2) + k.eps);
            dir[j] = vj <= FLT_MAX ? wj : NAN;
        }
    }
    int64_t at;
    int bad = first_bad_atom(sh, g, &at);
    if (bad >= 0)
        return gradient_refused(net, bad, g, sh->off[bad], at);
    bad = first_bad_atom(sh, dir, &at);
    return bad >= 0 ? proposal_refused(s, net, bad, at, mn_solver_adamw_why(s, net, at)) : MN_OK;
}

static void commit_owned_moments(mn_solver *s, const mn_network *net)
{
    const mn_shard *sh = s->shard;
    const float *g = mn_network_grads((mn_network *)net);
    float *m = s->m, *v = s->v;
    float b1 = (float)s->cfg.momentum, b2 = (float)s->cfg.beta2;
    int threads = mn_network_threads(net);
    for (int i = 0; i < sh->n_owned; i++) {
        int64_t off = sh->off[sh->owned[i]], len = sh->len[sh->owned[i]];
        if (v) {
            MN_PARALLEL_FOR(mn_elementwise_threads(threads, len))
            for (int64_t j = off; j < off + len; j++) {
                m[j] = b1 * m[j] + (1 - b1) * g[j];
                v[j] = b2 * v[j] + (1 - b2) * g[j] * g[j];
            }
        } else {
            MN_PARALLEL_FOR(mn_elementwise_threads(threads, len))
            for (int64_t j = off; j < off + len; j++)
                m[j] = b1 * m[j] + (1 - b1) * g[j];
        }
    }
}

/* Collective: every atom's range of buf from its owner to every rank. */
static mn_status gather_atoms(mn_shard *sh, float *buf, int n_atoms)
{
    for (int i = 0; i < sh->n_owned; i++) {
        int k = sh->owned[i];
        memcpy(sh->mine + sh->slot[k], buf + sh->off[k], (size_t)sh->len[k] * sizeof *buf);
    }
    MN_TRY(mn_dist_allgather(sh->dist, sh->mine, sh->big, sh->block));
    for (int k = 0; k < n_atoms; k++)
        memcpy(buf + sh->off[k], sh->big + (int64_t)sh->owner[k] * sh->block + sh->slot[k],
               (size_t)sh->len[k] * sizeof *buf);
    return MN_OK;
}

mn_status mn_sharded_step(mn_solver *s, mn_network *net, double lr)
{
    mn_shard *sh = s->shard;
    float *g = mn_network_grads(net);
    int threads = mn_network_threads(net);
    float weight = (float)mn_dist_shard_weight(sh->dist);
    /* this rank's weighted gradient, packed by owner, summed onto the owners */
    for (int k = 0; k < s->n_atoms; k++) {
        float *dst = sh->big + (int64_t)sh->owner[k] * sh->block + sh->slot[k];
        const float *src = g + sh->off[k];
        int64_t len = sh->len[k];
        MN_PARALLEL_FOR(mn_elementwise_threads(threads, len))
        for (int64_t j = 0; j < len; j++)
            dst[j] = weight * src[j];
    }
    MN_TRY(mn_dist_reduce_scatter(sh->dist, sh->big, sh->mine, sh->block));
    for (int i = 0; i < sh->n_owned; i++) {
        int k = sh->owned[i];
        memcpy(g + sh->off[k], sh->mine + sh->slot[k], (size_t)sh->len[k] * sizeof *g);
    }
    mn_status st = s->cfg.kind == MN_SOLVER_ADAMW ? adamw_owned(s, net, lr)
                                                  : steepest_owned(s, net, lr);
    MN_TRY(mn_dist_agree(sh->dist, st));
    commit_owned_moments(s, net);
    MN_TRY(gather_atoms(sh, s->dir, s->n_atoms));
    memcpy(mn_network_weights(net), s->dir, (size_t)s->n * sizeof(float));
    s->steps++;
    return MN_OK;
}

mn_status mn_solver_gather_state(mn_solver *s, const mn_network *net)
{
    if (!s || !net)
        return mn_fail(MN_ERR_ARG, "mn_solver_gather_state: NULL argument");
    if (!s->shard)
        return MN_OK;
    MN_TRY(gather_atoms(s->shard, s->m, s->n_atoms));
    return s->v ? gather_atoms(s->shard, s->v, s->n_atoms) : MN_OK;
}
