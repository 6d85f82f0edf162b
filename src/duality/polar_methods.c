/* The table of polar-factor methods. A new schedule is one entry here: its
 * (a, b, c) per step for X ← aX + b(XXᵀ)X + c(XXᵀ)²X, its default step count,
 * the slack s of X₀ = G/(s·‖G‖_F) and its measured singular-value band
 * over σ/‖G‖_F ∈ [band_min_ratio, 1]. The band is a property of the scalar
 * polynomial map (each singular value evolves on its own): tests/test_polar.c
 * sweeps that map densely in double and checks these numbers, and checks
 * fp32 matrix outputs against them. The bf16 band is measured on matrices
 * (MN_BF16_REPORT=1 build/tests/test_polar_bf16 prints it), and
 * tests/test_polar_bf16.c checks it. A program adds its own method with
 * mn_polar_register (polar.h); the same tests run on it. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/registry.h"
#include "modnorm/polar.h"

static const double cubic[][3] = {{1.5, -0.5, 0.0}};

/* Muon's quintic (Jordan et al. 2024), repeated. */
static const double ns5[][3] = {{3.4445, -4.7750, 2.0315}};

/* The 6-step schedule used by modula (coefficients ÷ 1024). */
static const double you6[][3] = {
    {3955 / 1024.0, -8306 / 1024.0, 5008 / 1024.0},
    {3735 / 1024.0, -6681 / 1024.0, 3463 / 1024.0},
    {3799 / 1024.0, -6499 / 1024.0, 3211 / 1024.0},
    {4019 / 1024.0, -6385 / 1024.0, 2906 / 1024.0},
    {2677 / 1024.0, -3029 / 1024.0, 1162 / 1024.0},
    {2172 / 1024.0, -1833 / 1024.0, 682 / 1024.0},
};

/* Polar Express (Amsel et al. 2025), 5-step variant, input ÷ 1.02‖G‖_F. */
static const double polar_express[][3] = {
    {8.156554524902461, -22.48329292557795, 15.878769915207462},
    {4.042929935166739, -2.808917465908714, 0.5000178451051316},
    {3.8916678022926607, -2.772484153217685, 0.5060648178503393},
    {3.285753657755655, -2.3681294933425376, 0.46449024233003106},
    {2.3465413258596377, -1.7097828382687081, 0.42323551169305323},
};

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

static const mn_polar_method methods[] = {
    {.name = "svd", .summary = "exact U Vᵀ from LAPACK's dgesdd, in double",
     .n_coeffs = 0, .coeffs = NULL, .default_steps = 0, .norm_slack = 1.0,
     .band_lo = 1.0, .band_hi = 1.0, .band_min_ratio = 0.0, .sup = 1.0,
     .bf16_lo = 1.0, .bf16_hi = 1.0, .bf16_sup = 1.0},
    {.name = "ns5", .summary = "Muon's quintic (3.4445, -4.7750, 2.0315) x 5",
     .n_coeffs = N(ns5), .coeffs = ns5, .default_steps = 5, .norm_slack = 1.0,
     .band_lo = 0.6818, .band_hi = 1.1344, .band_min_ratio = 0.01, .sup = 1.2024,
     .bf16_lo = 0.66, .bf16_hi = 1.155, .bf16_sup = 1.205},
    {.name = "polar-express", .summary = "Polar Express, 5-step schedule, input / (1.02 ‖G‖_F)",
     .n_coeffs = N(polar_express), .coeffs = polar_express, .default_steps = 5,
     .norm_slack = 1.02, .band_lo = 0.8588, .band_hi = 1.1412, .band_min_ratio = 0.01,
     .sup = 1.1412, .bf16_lo = 0.83, .bf16_hi = 1.155, .bf16_sup = 1.155},
    {.name = "you6", .summary = "modula's 6-step schedule (coefficients / 1024)",
     .n_coeffs = N(you6), .coeffs = you6, .default_steps = 6, .norm_slack = 1.0,
     .band_lo = 0.9955, .band_hi = 0.9994, .band_min_ratio = 0.01, .sup = 0.9994,
     .bf16_lo = 0.987, .bf16_hi = 1.012, .bf16_sup = 1.012},
    {.name = "cubic", .summary = "classic Newton–Schulz cubic (1.5, -0.5, 0)",
     .n_coeffs = N(cubic), .coeffs = cubic, .default_steps = 20, .norm_slack = 1.0,
     .band_lo = 0.9999, .band_hi = 1.0, .band_min_ratio = 0.001, .sup = 1.0,
     .bf16_lo = 0.995, .bf16_hi = 1.005, .bf16_sup = 1.005},
};

/* Methods a program registers, after the table; under the lock. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static mn_plist added; /* mn_polar_method */
static unsigned long version;

#define N_BUILTIN (sizeof methods / sizeof methods[0])

static const mn_polar_method *at_locked(size_t i)
{
    return i < N_BUILTIN ? &methods[i] : i - N_BUILTIN < added.n ? added.p[i - N_BUILTIN] : NULL;
}

size_t mn_polar_count(void)
{
    pthread_mutex_lock(&lock);
    size_t n = N_BUILTIN + added.n;
    pthread_mutex_unlock(&lock);
    return n;
}

const mn_polar_method *mn_polar_at(size_t i)
{
    pthread_mutex_lock(&lock);
    const mn_polar_method *m = at_locked(i);
    pthread_mutex_unlock(&lock);
    return m;
}

/* Exact unless asked otherwise: the iterations are a speed choice. */
const mn_polar_method *mn_polar_default(void) { return &methods[0]; }

static const char *name_at(size_t i, void *ctx)
{
    (void)ctx;
    return at_locked(i)->name;
}

const char *mn_polar_names(void)
{
    static mn_names_cache names;
    pthread_mutex_lock(&lock);
    const char *r = mn_names_join(&names, version, N_BUILTIN + added.n, name_at, NULL);
    pthread_mutex_unlock(&lock);
    return r;
}

mn_status mn_polar_lookup(const char *name, const mn_polar_method **out)
{
    if (!out)
        return mn_fail(MN_ERR_ARG, "mn_polar_lookup: out is NULL");
    *out = NULL;
    if (!name) /* as mn_norm_lookup says it */
        return mn_fail(MN_ERR_ARG, "polar method name is NULL");
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < N_BUILTIN + added.n && !*out; i++)
        if (strcmp(name, at_locked(i)->name) == 0)
            *out = at_locked(i);
    pthread_mutex_unlock(&lock);
    if (*out)
        return MN_OK;
    return mn_fail(MN_ERR_ARG, "unknown polar method '%s'; known: %s", name, mn_polar_names());
}

/* What mn_polar and the tests rely on: an iteration with finite
 * coefficients, a step count, X₀ inside the unit ball, a stated band. */
static mn_status check_method(const mn_polar_method *m)
{
    if (!m->name || !*m->name || strchr(m->name, ',') || strchr(m->name, ' '))
        return mn_fail(MN_ERR_ARG, "mn_polar_register: the name '%s' is empty or has a comma "
                       "or a space", m->name ? m->name : "(null)");
    if (m->n_coeffs < 1 || !m->coeffs)
        return mn_fail(MN_ERR_ARG, "mn_polar_register: %s has no coefficients (only the "
                       "built-in 'svd' is exact)", m->name);
    for (int i = 0; i < m->n_coeffs; i++)
        for (int j = 0; j < 3; j++)
            if (!isfinite(m->coeffs[i][j]))
                return mn_fail(MN_ERR_ARG, "mn_polar_register: %s's coefficient (%d, %d) is not "
                               "finite", m->name, i, j);
    if (m->default_steps < 1 || m->default_steps > MN_POLAR_MAX_STEPS)
        return mn_fail(MN_ERR_ARG, "mn_polar_register: %s's default_steps %d must be in [1, %d]",
                       m->name, m->default_steps, MN_POLAR_MAX_STEPS);
    if (!(m->norm_slack >= 1) || !isfinite(m->norm_slack))
        return mn_fail(MN_ERR_ARG, "mn_polar_register: %s's norm_slack %g must be finite and "
                       ">= 1 (X₀ = G/(s‖G‖_F) inside the unit ball)", m->name, m->norm_slack);
    if (!(m->band_lo > 0 && m->band_lo <= m->band_hi && m->band_hi <= m->sup) ||
        !isfinite(m->sup) || !(m->band_min_ratio >= 0 && m->band_min_ratio < 1))
        return mn_fail(MN_ERR_ARG, "mn_polar_register: %s's band needs 0 < band_lo <= band_hi "
                       "<= sup < inf and band_min_ratio in [0, 1) (got %g, %g, %g, %g)",
                       m->name, m->band_lo, m->band_hi, m->sup, m->band_min_ratio);
    return MN_OK;
}

mn_status mn_polar_register(const mn_polar_method *m)
{
    if (!m)
        return mn_fail(MN_ERR_ARG, "mn_polar_register: method is NULL");
    MN_TRY(check_method(m));
    mn_status st = MN_OK;
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < N_BUILTIN + added.n && st == MN_OK; i++)
        if (strcmp(m->name, at_locked(i)->name) == 0)
            st = mn_fail(MN_ERR_ARG, "mn_polar_register: the name '%s' is taken", m->name);
    if (st == MN_OK && (st = mn_plist_push(&added, m, "mn_polar_register")) == MN_OK)
        version++;
    pthread_mutex_unlock(&lock);
    return st;
}
