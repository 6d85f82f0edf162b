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

/* The library's refusal that --overwrite lifts ends with this. */
#define NOT_ASKED "(not asked to overwrite)"

int mn_cmd_export(mn_cli_args *a)
{
    /* One path cannot be both: the messages below could not tell which
     * option a failure is about. */
    if (strcmp(a->checkpoint, a->npy) == 0)
        return mn_cli_usage_error(CMD, "--npy %s is the --checkpoint file itself: name a "
                                  "folder to write to", a->npy);
    int n;
    mn_status st = mn_safetensors_export_npy(a->checkpoint, a->npy, a->overwrite, &n);
    if (st == MN_OK) {
        printf("%d tensor%s written to %s\n", n, n == 1 ? "" : "s", a->npy);
        return MN_EXIT_OK;
    }
    /* A message about the folder names its option, as the other commands'
     * output checks do (the longer path wins when one begins the other). */
    const char *msg = mn_last_error();
    size_t dir = about(msg, a->npy);
    if (dir > 0 && dir > about(msg, a->checkpoint)) {
        const char *tail = strstr(msg, NOT_ASKED);
        if (tail && !tail[strlen(NOT_ASKED)]) /* the remedy is an option here */
            return mn_cli_error(CMD, "--npy %.*s(use another folder, or add --overwrite)",
                                (int)(tail - msg), msg);
        return mn_cli_error(CMD, "--npy %s", msg);
    }
    return mn_cli_fail(CMD, st);
}
