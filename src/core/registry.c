/* Shared pieces of the by-name registries (registry.h). */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/registry.h"

mn_status mn_plist_push(mn_plist *l, const void *x, const char *who)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 8;
        const void **p = realloc(l->p, cap * sizeof *p);
        if (!p)
            return mn_fail(MN_ERR_NOMEM, "%s: out of memory", who);
        l->p = p;
        l->cap = cap;
    }
    l->p[l->n++] = x;
    return MN_OK;
}

const char *mn_names_join(mn_names_cache *c, unsigned long version, size_t n,
                          const char *(*name)(size_t i, void *ctx), void *ctx)
{
    /* version + 1 marks "never built", so version 0 is built on first use */
    if (c->text && c->version == version + 1)
        return c->text;
    size_t len = 1;
    for (size_t i = 0; i < n; i++)
        len += strlen(name(i, ctx)) + 2;
    char *buf = malloc(len);
    if (!buf)
        return c->text ? c->text : "";
    char *end = buf;
    for (size_t i = 0; i < n; i++) {
        const char *s = name(i, ctx);
        size_t k = strlen(s);
        if (i) {
            memcpy(end, ", ", 2);
            end += 2;
        }
        memcpy(end, s, k);
        end += k;
    }
    *end = '\0';
    free(c->text);
    c->text = buf;
    c->version = version + 1;
    return buf;
}
