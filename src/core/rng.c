/* xoshiro256** (Blackman & Vigna), seeded through splitmix64. */
#include <math.h>

#include "core/check.h"
#include "modnorm/rng.h"

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

void mn_rng_seed(mn_rng *r, uint64_t seed)
{
    if (!r)
        return;
    uint64_t x = seed;
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&x);
}

uint64_t mn_rng_next(mn_rng *r)
{
    if (!r)
        return 0;
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double mn_rng_uniform(mn_rng *r) { return r ? (double)(mn_rng_next(r) >> 11) * 0x1.0p-53 : NAN; }

uint64_t mn_rng_below(mn_rng *r, uint64_t n)
{
    if (n == 0 || !r)
        return 0;
    /* Rejection keeps the result unbiased. */
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t x;
    do
        x = mn_rng_next(r);
    while (x >= limit);
    return x % n;
}

double mn_rng_normal(mn_rng *r)
{
    if (!r)
        return NAN;
    double u1 = mn_rng_uniform(r);
    double u2 = mn_rng_uniform(r);
    if (u1 < 1e-300)
        u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

void mn_rng_fill_normal(mn_rng *r, mn_mat *m)
{
    if (!r || !m || !mn_dtype_valid(m->dtype) || (!m->data && m->rows > 0 && m->cols > 0))
        return;
    for (int64_t i = 0; i < m->rows; i++)
        for (int64_t j = 0; j < m->cols; j++)
            mn_mat_set(m, i, j, mn_rng_normal(r));
}
