/* The number tokens shared by the CLI's options and the study grids. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/number.h"

/* Copy the token into buf (cap bytes) as a C string; false if it is empty or
 * too long to be a number. */
static bool token(const char *s, size_t len, char *buf, size_t cap)
{
    if (len == 0 || len >= cap)
        return false;
    memcpy(buf, s, len);
    buf[len] = '\0';
    return true;
}

static bool all_of(const char *s, const char *set) { return s[strspn(s, set)] == '\0'; }

bool mn_number_real(const char *s, size_t len, double *out)
{
    char buf[64];
    if (!token(s, len, buf, sizeof buf))
        return false;
    bool pow2 = strncmp(buf, "2^", 2) == 0;
    const char *p = buf + (pow2 ? 2 : 0);
    /* strtod alone would take " 1", "0x10", "inf", "nan" */
    if (!all_of(p, "0123456789+-.eE") || !strpbrk(p, "0123456789"))
        return false;
    char *end;
    double v = strtod(p, &end);
    if (*end || !isfinite(v))
        return false;
    if (pow2) {
        if (!(fabs(v) <= MN_NUMBER_MAX_EXP2))
            return false;
        v = exp2(v);
    }
    *out = v;
    return true;
}

#define STR_(x) #x
#define STR(x) STR_(x)

const char *mn_number_real_why(const char *s, size_t len)
{
    double v;
    if (len < 3 || strncmp(s, "2^", 2) != 0 || memchr(s + 2, '^', len - 2) ||
        mn_number_real(s, len, &v) || !mn_number_real(s + 2, len - 2, &v))
        return NULL;
    return "the E of 2^E must be in [-" STR(MN_NUMBER_MAX_EXP2) ", " STR(MN_NUMBER_MAX_EXP2) "]";
}

bool mn_number_int(const char *s, size_t len, int64_t *out)
{
    char buf[32];
    if (!token(s, len, buf, sizeof buf))
        return false;
    bool pow2 = strncmp(buf, "2^", 2) == 0;
    const char *p = buf + (pow2 ? 2 : 0);
    const char *digits = p + (!pow2 && (*p == '+' || *p == '-')); /* a sign, as reals take */
    if (!*digits || !all_of(digits, "0123456789"))
        return false;
    char *end;
    errno = 0;
    long long v = strtoll(p, &end, 10);
    if (errno || *end)
        return false;
    if (pow2) {
        if (v > 62)
            return false;
        v = 1LL << v;
    }
    *out = v;
    return true;
}
