/* modnorm/export.h — MN_API marks what the shared library exports.
 *
 * The library is built with hidden visibility (meson: gnu_symbol_visibility
 * 'hidden'): only declarations marked MN_API in include/modnorm/ are part of
 * the ABI, so internal helpers in src/ can change without a soversion bump. */
#ifndef MODNORM_EXPORT_H
#define MODNORM_EXPORT_H

#if defined(__GNUC__) || defined(__clang__)
#define MN_API __attribute__((visibility("default")))
#else
#define MN_API
#endif

#endif
