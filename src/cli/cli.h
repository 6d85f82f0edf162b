/* Internal to the `modnorm` command: one function per subcommand, and the
 * helpers they share. Exit codes: 0 success, 1 failure, 2 bad usage. */
#ifndef MN_CLI_H
#define MN_CLI_H

#include <stdbool.h>

#include "modnorm.h"

enum { MN_EXIT_OK = 0, MN_EXIT_FAIL = 1, MN_EXIT_USAGE = 2 };

int mn_cmd_dualize(int argc, char **argv);
int mn_cmd_norm(int argc, char **argv);
int mn_cmd_train(int argc, char **argv);
int mn_cmd_inspect(int argc, char **argv);
int mn_cmd_sweep(int argc, char **argv);
int mn_cmd_coordcheck(int argc, char **argv);
int mn_cmd_bench(int argc, char **argv);

/* Print "modnorm CMD: message" to stderr and return MN_EXIT_USAGE. */
int mn_cli_usage_error(const char *cmd, const char *fmt, ...);
/* Print "modnorm CMD: <last library error>" and return MN_EXIT_FAIL. */
int mn_cli_fail(const char *cmd, mn_status s);
/* Parse an integer option value; false (with a message) when it is not one
 * or lies outside [lo, hi]. */
bool mn_cli_parse_int(const char *cmd, const char *opt, const char *text, long lo, long hi,
                      int *out);
/* The same for a real number in [lo, hi]. */
bool mn_cli_parse_double(const char *cmd, const char *opt, const char *text, double lo, double hi,
                         double *out);
/* The index of `text` in names[0..n) for option `opt`, or -1 after a usage
 * message listing the choices. */
int mn_cli_parse_choice(const char *cmd, const char *opt, const char *text,
                        const char *const *names, int n);

#endif
