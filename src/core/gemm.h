/* Internal: which library runs mn_mat_gemm's float32 products (tensor.h),
 * the ones Linear runs in a float32 network. */
#ifndef MN_CORE_GEMM_H
#define MN_CORE_GEMM_H

/* "oneDNN 2.6.3, brg:avx512_core kernels" where oneDNN runs them
 * (core/onednn.h), else "BLIS (oneDNN: REASON)". Static storage. */
const char *mn_gemm_fp32_impl(void);

#endif
