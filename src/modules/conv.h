/* Internal: the convolution kernels of modules/conv.c, free functions a
 * test can call alone. Images are NCHW (B, C, H, W), contiguous float32. */
#ifndef MN_MODULES_CONV_H
#define MN_MODULES_CONV_H

#include <stdint.h>

typedef struct mn_conv_geom {
    int64_t batch, c_in, h, w;  /* the input (B, C_in, H, W) */
    int64_t c_out, ho, wo;      /* the output (B, C_out, H_out, W_out) */
    int64_t k, stride, pad;     /* k x k kernel, stride and zero padding on every side */
} mn_conv_geom;

/* cols (C_in·k², B·H_out·W_out) = the patches of x: row c·k² + i·k + j,
 * column b·P + oh·W_out + ow holds x[b, c, oh·s − p + i, ow·s − p + j]
 * (0 outside the image). */
void mn_conv_im2col(float *cols, const float *x, const mn_conv_geom *g, int threads);
/* dx (B, C_in, H, W) = the adjoint of im2col applied to cols (overwritten,
 * not accumulated). */
void mn_conv_col2im(float *dx, const float *cols, const mn_conv_geom *g, int threads);

#endif
