/* modnorm/rng.h — a small seedable generator (xoshiro256**, seeded by
 * splitmix64). The same seed gives the same stream on every platform.
 * A NULL generator draws nothing: seed and fill do nothing, next and below
 * return 0, uniform and normal NAN. */
#ifndef MODNORM_RNG_H
#define MODNORM_RNG_H

#include "modnorm/export.h"
#include <stdint.h>

#include "modnorm/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mn_rng {
    uint64_t s[4];
} mn_rng;

MN_API void mn_rng_seed(mn_rng *r, uint64_t seed);
MN_API uint64_t mn_rng_next(mn_rng *r);
/* Uniform in [0, 1) with 53 random bits. */
MN_API double mn_rng_uniform(mn_rng *r);
/* Uniform integer in [0, n) (0 when n is 0). */
MN_API uint64_t mn_rng_below(mn_rng *r, uint64_t n);
/* Standard normal (Box–Muller, one value per call). */
MN_API double mn_rng_normal(mn_rng *r);
/* Fill a matrix view with independent standard normals (a NULL view, a
 * dtype outside the enum or NULL data with elements: nothing). */
MN_API void mn_rng_fill_normal(mn_rng *r, mn_mat *m);

#ifdef __cplusplus
}
#endif
#endif
