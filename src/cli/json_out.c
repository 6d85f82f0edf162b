/* JSON output through jansson. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/json_out.h"

json_t *mn_cli_json_real(double v) { return isfinite(v) ? json_real(v) : json_null(); }

int mn_cli_json_print(const char *cmd, FILE *f, json_t *doc)
{
    if (!doc)
        return mn_cli_error(cmd, "out of memory building the JSON output");
    char *text = json_dumps(doc, JSON_REAL_PRECISION(17) | JSON_PRESERVE_ORDER);
    json_decref(doc);
    if (!text)
        return mn_cli_error(cmd, "out of memory writing the JSON output");
    errno = 0;
    bool ok = fputs(text, f) >= 0 && fputc('\n', f) != EOF;
    ok = fflush(f) == 0 && ok;
    int saved = errno;
    free(text);
    if (!ok)
        return mn_cli_error(cmd, "cannot write the JSON output: %s",
                            saved ? strerror(saved) : "write error");
    return MN_EXIT_OK;
}
