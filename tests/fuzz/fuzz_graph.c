/* libFuzzer target for the graph language (modnorm/graph.h): any bytes are
 * parsed; what parses is built; what builds is printed, and the printed text
 * must parse and build again and print the same (abort otherwise, so the
 * fuzzer reports it). Crashes, hangs and leaks are the fuzzer's to find.
 *
 * Built with clang by `meson setup build-fuzz -Dfuzz=enabled` (CC=clang);
 * tests/fuzz/replay_graph.c feeds the corpus to the same function under
 * `meson test` with any compiler. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "modnorm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static mn_module *build(const char *text, size_t len, const char *name)
{
    mn_graph_file *g;
    if (mn_graph_parse(&g, text, len, name) != MN_OK) {
        if (!mn_last_error()[0] || strchr(mn_last_error(), '\n'))
            abort(); /* every error is one line */
        return NULL;
    }
    mn_module *m = NULL;
    if (mn_graph_make(g, &m) != MN_OK && (!mn_last_error()[0] || strchr(mn_last_error(), '\n')))
        abort();
    mn_graph_destroy(g);
    return m;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mn_module *m = build((const char *)data, size, "fuzz.mn");
    if (!m)
        return 0;
    char *text, *again;
    mn_status st = mn_graph_print(m, &text);
    if (st == MN_ERR_NOMEM) {
        mn_module_destroy(m);
        return 0;
    }
    if (st != MN_OK) { /* every tree the language builds prints */
        fprintf(stderr, "a built tree does not print: %s\n", mn_last_error());
        abort();
    }
    mn_module *back = build(text, strlen(text), "printed.mn");
    if (!back) {
        fprintf(stderr, "printed text does not build back: %s\n%s", mn_last_error(), text);
        abort();
    }
    if (mn_graph_print(back, &again) != MN_OK || strcmp(text, again) != 0) {
        fprintf(stderr, "printed text changes when read back:\n%s", text);
        abort();
    }
    free(text);
    free(again);
    mn_module_destroy(back);
    mn_module_destroy(m);
    return 0;
}
