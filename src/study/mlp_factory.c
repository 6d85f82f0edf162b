/* The built-in MLP as a model factory: a sweep over its width or its depth. */
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "modnorm/study.h"

mn_status mn_mlp_factory(void *ctx, const char *param, int64_t value, mn_module **out)
{
    const mn_mlp_spec *spec = ctx;
    if (!spec || !param || !out)
        return mn_fail(MN_ERR_ARG, "mn_mlp_factory: %s is NULL",
                       !spec ? "ctx (an mn_mlp_spec)" : !param ? "param" : "out");
    mn_mlp_spec m = *spec;
    if (strcmp(param, "width") == 0) {
        if (value < 1 || value > 65536)
            return mn_fail(MN_ERR_ARG, "mlp: width %lld must be in [1, 65536]", (long long)value);
        if (m.depth < 2)
            return mn_fail(MN_ERR_ARG, "mlp: depth %d has no hidden width to vary (need depth "
                           ">= 2)", m.depth);
        m.width = value;
    } else if (strcmp(param, "depth") == 0) {
        if (value < 1 || value > 1000)
            return mn_fail(MN_ERR_ARG, "mlp: depth %lld must be in [1, 1000]", (long long)value);
        m.depth = (int)value;
    } else {
        return mn_fail(MN_ERR_ARG, "mlp: no size parameter '%s' (known: width, depth)", param);
    }
    return mn_mlp(out, m.d_in, m.width, m.depth, m.d_out);
}

mn_status mn_mlp_describe(const mn_mlp_spec *spec, const char *param, char *buf, size_t cap)
{
    if (!spec || !param || !buf)
        return mn_fail(MN_ERR_ARG, "mn_mlp_describe: an argument is NULL");
    int len;
    if (strcmp(param, "width") == 0)
        len = snprintf(buf, cap, "model=mlp\ndepth=%d\n", spec->depth);
    else if (strcmp(param, "depth") == 0)
        len = snprintf(buf, cap, "model=mlp\nwidth=%lld\n", (long long)spec->width);
    else
        return mn_fail(MN_ERR_ARG, "mlp: no size parameter '%s' (known: width, depth)", param);
    if (len < 0 || (size_t)len >= cap)
        return mn_fail(MN_ERR_ARG, "mn_mlp_describe: the buffer is too small");
    return MN_OK;
}
