/* modnorm export: a checkpoint's tensors as .npy files and its metadata as
 * JSON, for readers without the safetensors library
 * (mn_safetensors_export_npy does the work and the folder's checks). */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

#define CMD "export"

/* Whether the library's message is about `path` itself: it starts with the
 * path, then ' ' or ':' ("DIR holds ...", "DIR: cannot list: ..."; not
 * "DIR/a.npy: ..."). */
static size_t about(const char *msg, const char *path)
{
    size_t n = strlen(path);
    return strncmp(msg, path, n) == 0 && (msg[n] == ' ' || msg[n] == ':') ? n : 0;
}

int mn_cmd_export(mn_cli_args *a)
{
    int n;
    mn_status st = mn_safetensors_export_npy(a->checkpoint, a->npy, &n);
    if (st == MN_OK) {
        printf("%d tensor%s written to %s\n", n, n == 1 ? "" : "s", a->npy);
        return MN_EXIT_OK;
    }
    /* A message about the folder names its option, as the other commands'
     * output checks do (the longer path wins when one begins the other). */
    const char *msg = mn_last_error();
    size_t dir = about(msg, a->npy);
    if (dir > 0 && dir > about(msg, a->checkpoint))
        return mn_cli_error(CMD, "--npy %s", msg);
    return mn_cli_fail(CMD, st);
}
