/* Grow-only per-thread scratch buffers (scratch.h). */
#include <pthread.h>
#include <stdlib.h>

#include "core/error.h"
#include "core/scratch.h"

typedef struct {
    void *buf[MN_SCRATCH_SLOTS];
    size_t bytes[MN_SCRATCH_SLOTS];
} thread_buffers;

static pthread_key_t key;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void buffers_free(void *p)
{
    thread_buffers *tb = p;
    for (int i = 0; i < MN_SCRATCH_SLOTS; i++)
        free(tb->buf[i]);
    free(tb);
}

static void make_key(void) { pthread_key_create(&key, buffers_free); }

mn_status mn_scratch_get(mn_scratch_slot slot, size_t bytes, const char *what, void **out)
{
    pthread_once(&once, make_key);
    thread_buffers *tb = pthread_getspecific(key);
    if (!tb) {
        tb = calloc(1, sizeof *tb);
        if (!tb || pthread_setspecific(key, tb) != 0) {
            free(tb);
            return mn_fail(MN_ERR_NOMEM, "%s: cannot allocate a workspace", what);
        }
    }
    if (bytes > tb->bytes[slot]) {
        size_t rounded = (bytes + 63) / 64 * 64;
        void *p = aligned_alloc(64, rounded);
        if (!p)
            return mn_fail(MN_ERR_NOMEM, "%s: cannot allocate a %zu-byte workspace", what, bytes);
        free(tb->buf[slot]);
        tb->buf[slot] = p;
        tb->bytes[slot] = rounded;
    }
    *out = tb->buf[slot];
    return MN_OK;
}
