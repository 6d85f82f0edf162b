/* Internal to the CLI: every JSON document it prints goes through jansson,
 * so strings are escaped and numbers round-trip (17 significant digits);
 * JSON has no infinity or NaN, so non-finite numbers are written as null. */
#ifndef MN_CLI_JSON_OUT_H
#define MN_CLI_JSON_OUT_H

#include <stdio.h>

#include <jansson.h>

/* A number, or null when v is not finite. NULL only when out of memory
 * (json_pack's "o" then fails the whole document). */
json_t *mn_cli_json_real(double v);

/* Print `doc` on one line of f and flush; takes ownership of doc (NULL is
 * an allocation failure upstream). MN_EXIT_OK, or MN_EXIT_FAIL after a
 * message naming `cmd`. */
int mn_cli_json_print(const char *cmd, FILE *f, json_t *doc);

#endif
