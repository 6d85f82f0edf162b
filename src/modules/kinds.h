/* Internal: the built-in module kinds the registry starts with, and the
 * argument checks their makers share. */
#ifndef MN_MODULES_KINDS_H
#define MN_MODULES_KINDS_H

#include "modnorm/module_ops.h"

extern const mn_module_maker mn_linear_maker, mn_embed_maker, mn_layer_norm_maker;
extern const mn_module_maker mn_bond_makers[];
extern const size_t mn_bond_maker_count;
/* The attention bonds (attention_bonds.c). */
extern const mn_module_maker mn_attention_makers[];
extern const size_t mn_attention_maker_count;
extern const mn_module_maker mn_conv_makers[]; /* conv.c: Conv2D, Image, pooling */
extern const size_t mn_conv_maker_count;

/* The two sizes of Kind(a, b) as positive integers, or an error naming the
 * kind and the argument. */
mn_status mn_kind_sizes(const char *kind, int argc, const double *args, int64_t sizes[2]);

/* A maker `fn` for a kind that takes no arguments: calls ctor(out) (the
 * registry has already checked that there are none). */
#define MN_MAKER_NO_ARGS(fn, ctor)                                                                 \
    static mn_status fn(mn_module **out, int argc, const double *a)                                \
    {                                                                                              \
        (void)argc;                                                                                \
        (void)a;                                                                                   \
        return ctor(out);                                                                          \
    }

#endif
