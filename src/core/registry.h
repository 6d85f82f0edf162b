/* Internal: the pieces every by-name registry (norms, polar methods, module
 * kinds) shares: an append-only list of what a program registered, and the
 * comma-separated list of names for messages, rebuilt only when a
 * registration changed it. Not locked: each registry calls these under its
 * own mutex. */
#ifndef MN_CORE_REGISTRY_H
#define MN_CORE_REGISTRY_H

#include <stddef.h>

#include "modnorm/status.h"

/* A growable list of borrowed pointers. */
typedef struct mn_plist {
    const void **p;
    size_t n, cap;
} mn_plist;

/* Append x; MN_ERR_NOMEM with "WHO: out of memory" when the list cannot grow. */
mn_status mn_plist_push(mn_plist *l, const void *x, const char *who);

/* "a, b, c" over name(0..n−1, ctx), cached until `version` changes (a
 * registry bumps its version at every registration). Never NULL: "" when
 * memory runs out. The text stays valid until the next rebuild. */
typedef struct mn_names_cache {
    char *text;
    unsigned long version;
} mn_names_cache;
const char *mn_names_join(mn_names_cache *c, unsigned long version, size_t n,
                          const char *(*name)(size_t i, void *ctx), void *ctx);

#endif
