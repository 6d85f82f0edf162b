/* The table of polar-factor methods. A new schedule is one entry here: its
 * (a, b, c) per step for X ← aX + b(XXᵀ)X + c(XXᵀ)²X, its default step count,
 * the slack s of X₀ = G/(s·‖G‖_F) and its measured singular-value band
 * over σ/‖G‖_F ∈ [band_min_ratio, 1]. The band is a property of the scalar
 * polynomial map (each singular value evolves on its own): tests/test_polar.c
 * sweeps that map densely in double and checks these numbers, and checks
 * fp32 matrix outputs against them. The bf16 band is measured on matrices
 * (MN_BF16_REPORT=1 build/tests/test_polar_bf16 prints it), and
 * tests/test_polar_bf16.c checks it. */
#include <stdio.h>
#include <string.h>

#include "core/error.h"
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

size_t mn_polar_count(void) { return sizeof methods / sizeof methods[0]; }

const mn_polar_method *mn_polar_at(size_t i) { return i < mn_polar_count() ? &methods[i] : NULL; }

/* Exact unless asked otherwise: the iterations are a speed choice. */
const mn_polar_method *mn_polar_default(void) { return &methods[0]; }

const char *mn_polar_names(void)
{
    static _Thread_local char buf[256];
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < mn_polar_count(); i++)
        used += (size_t)snprintf(buf + used, sizeof buf - used, "%s%s", i ? ", " : "",
                                 methods[i].name);
    return buf;
}

mn_status mn_polar_lookup(const char *name, const mn_polar_method **out)
{
    if (!out)
        return mn_fail(MN_ERR_ARG, "mn_polar_lookup: out is NULL");
    *out = NULL;
    for (size_t i = 0; name && i < mn_polar_count(); i++)
        if (strcmp(name, methods[i].name) == 0) {
            *out = &methods[i];
            return MN_OK;
        }
    return mn_fail(MN_ERR_ARG, "unknown polar method '%s'; known: %s", name ? name : "(null)",
                   mn_polar_names());
}
