/* Helpers shared by the subcommands. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

int mn_cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "modnorm %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (see 'modnorm %s --help')\n", cmd);
    return MN_EXIT_USAGE;
}

int mn_cli_fail(const char *cmd, mn_status s)
{
    const char *msg = mn_last_error();
    fprintf(stderr, "modnorm %s: %s\n", cmd, msg[0] ? msg : mn_status_str(s));
    return MN_EXIT_FAIL;
}

bool mn_cli_parse_int(const char *cmd, const char *opt, const char *text, long lo, long hi,
                      int *out)
{
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || end == text || *end || v < lo || v > hi) {
        mn_cli_usage_error(cmd, "%s '%s' must be an integer in [%ld, %ld]", opt, text, lo, hi);
        return false;
    }
    *out = (int)v;
    return true;
}

bool mn_cli_parse_double(const char *cmd, const char *opt, const char *text, double lo, double hi,
                         double *out)
{
    char *end;
    double v = strtod(text, &end);
    if (end == text || *end || !(v >= lo && v <= hi)) {
        mn_cli_usage_error(cmd, "%s '%s' must be a number in [%g, %g]", opt, text, lo, hi);
        return false;
    }
    *out = v;
    return true;
}

int mn_cli_parse_choice(const char *cmd, const char *opt, const char *text,
                        const char *const *names, int n)
{
    char list[256] = "";
    for (int i = 0; i < n; i++) {
        if (strcmp(text, names[i]) == 0)
            return i;
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "", names[i]);
    }
    mn_cli_usage_error(cmd, "%s '%s' must be one of: %s", opt, text, list);
    return -1;
}
