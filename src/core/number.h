/* Internal: the number tokens of the command line and of the study grids,
 * one syntax everywhere (README: "Numbers are whole tokens"). The CLI's
 * options (--lr, --set, --width, --steps, ...) and the library's list
 * parsers (mn_study_parse_lrs, mn_study_parse_values: --lrs, --widths,
 * --over) all read their numbers here, so a form one accepts the others do. */
#ifndef MN_CORE_NUMBER_H
#define MN_CORE_NUMBER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The largest |E| of a "2^E" token: far beyond any rate or size, and it
 * keeps 2^E a normal double. */
#define MN_NUMBER_MAX_EXP2 200

/* s[0..len) as a finite real: a decimal ("0.01", "1e-3", "-2") or a power of
 * two "2^E" (E such a decimal, |E| <= MN_NUMBER_MAX_EXP2: "2^-7", "2^0.5").
 * The whole token, or false: no spaces, hex, "inf" or "nan". The caller
 * checks the range. */
bool mn_number_real(const char *s, size_t len, double *out);

/* Why mn_number_real refuses s[0..len) when the token is written right
 * but beyond its reach: a "2^E" whose E is a finite decimal past
 * MN_NUMBER_MAX_EXP2 ("2^-201" is positive and small, so "must be a
 * positive number" would not say it). NULL for any other token. */
const char *mn_number_real_why(const char *s, size_t len);

/* s[0..len) as an exact integer: decimal digits with an optional sign
 * ("64", "016", "+12", "-1") or a power of two "2^K" with K decimal digits,
 * K <= 62 ("2^6" = 64). The whole token, or false: no point, exponent
 * ("1e3"), spaces or hex, no "2^-1" or "2^0.5" (not integers), nothing
 * beyond int64. The caller checks the range. */
bool mn_number_int(const char *s, size_t len, int64_t *out);

#endif
