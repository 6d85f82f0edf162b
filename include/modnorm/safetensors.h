/* modnorm/safetensors.h — read and write safetensors files (the format of
 * Hugging Face's `safetensors` library, which PyTorch and JAX users read).
 *
 * Layout: an 8-byte little-endian header length N, then N bytes of JSON:
 *     {"NAME": {"dtype": "F32", "shape": [2, 3], "data_offsets": [BEGIN, END]}, ...,
 *      "__metadata__": {"KEY": "VALUE", ...}}
 * padded with spaces so that the data starts 8-byte aligned (N % 8 == 0),
 * then the data section: every tensor's bytes, little-endian, C order,
 * contiguous in header order with no gaps (offsets are relative to the data
 * section's start; the last END is the section's length).
 *
 * modnorm's writer always adds the metadata key "crc32": zlib's CRC-32 of the
 * data section as 8 lower-case hex digits. The reader verifies it when the
 * key is present. The header (names, shapes, metadata) is not covered.
 *
 * The reader takes nothing on trust: the header length is bounded
 * (MN_SAFETENSORS_MAX_HEADER) and checked against the file's length; the
 * header is parsed by jansson (duplicate keys refused); every entry must
 * have exactly the keys dtype, shape and data_offsets, a known dtype (the
 * ones modnorm writes: a BF16 or F16 tensor is refused), at most
 * MN_SAFETENSORS_MAX_DIMS non-negative dimensions whose product times the
 * dtype's size (overflow-checked) equals END − BEGIN, and whose nonzero
 * dimensions times the dtype's size are at most 2^63 - 1 bytes (numpy's
 * rule: a 0-element shape such as [0, 2^62] of F32 is refused, as numpy
 * refuses to load it, in any order of its dimensions); the entries
 * sorted by offset must tile the data section exactly (the first at 0, each
 * beginning where the last ended, the last ending at the file's end); the
 * metadata must map strings to strings. mn_safetensors_read reads a regular
 * file only (its length is checked first): a FIFO, a pipe or a device is
 * refused at once, without waiting for a writer. A failure is MN_ERR_IO
 * (cannot open or read, not a regular file) or MN_ERR_FORMAT with a
 * one-line message that starts with the file's name and names the tensor
 * or field at fault. */
#ifndef MODNORM_SAFETENSORS_H
#define MODNORM_SAFETENSORS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "modnorm/export.h"
#include "modnorm/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The largest header the reader accepts (the safetensors library's limit). */
#define MN_SAFETENSORS_MAX_HEADER 100000000
#define MN_SAFETENSORS_MAX_DIMS 8

/* The dtypes modnorm writes and reads ("F32", "F64", "I64", "U64", "U8"). */
typedef enum mn_st_dtype {
    MN_ST_F32 = 0,
    MN_ST_F64,
    MN_ST_I64,
    MN_ST_U64,
    MN_ST_U8
} mn_st_dtype;

/* One tensor. Writing: `data` holds numel · size bytes (native
 * little-endian). Reading: `data` points into the file's bytes (owned by the
 * mn_safetensors; not necessarily aligned for the dtype: memcpy it out). */
typedef struct mn_st_tensor {
    const char *name;
    mn_st_dtype dtype;
    int ndim;                                 /* 0 (a scalar) .. MN_SAFETENSORS_MAX_DIMS */
    int64_t shape[MN_SAFETENSORS_MAX_DIMS];
    const void *data;
    size_t nbytes;                            /* reading: numel · size; writing: ignored */
} mn_st_tensor;

/* One metadata entry (both strings borrowed). */
typedef struct mn_st_meta {
    const char *key, *value;
} mn_st_meta;

/* The dtype's name in the format ("F32") and its size in bytes. */
MN_API const char *mn_st_dtype_name(mn_st_dtype dt);
MN_API size_t mn_st_dtype_size(mn_st_dtype dt);

/* Write n tensors (in this order; names unique, not "__metadata__") and
 * n_meta metadata entries (keys unique, not "crc32": the writer adds it) to
 * `path`, atomically and durably: the bytes go to a temporary file in the
 * same directory, which is fsync'ed, renamed over `path`, and the directory
 * fsync'ed; a process killed at any moment leaves either the old file or the
 * new one, whole (a kill during the write may leave the temporary,
 * PATH.tmpPID.N, beside it: safe to delete; the next write of `path` deletes
 * those whose process PID no longer exists on this machine). An existing
 * `path` that is not
 * a regular file (a directory, a device, a symbolic link) is refused.
 * Errors: MN_ERR_ARG (a bad tensor or key, named), MN_ERR_IO, MN_ERR_NOMEM. */
MN_API mn_status mn_safetensors_write(const char *path, const mn_st_tensor *t, int n,
                                      const mn_st_meta *meta, int n_meta);

/* A file read and checked. */
typedef struct mn_safetensors mn_safetensors;

/* Read and check the file at `path` (see above). Free *out with
 * mn_safetensors_free. */
MN_API mn_status mn_safetensors_read(const char *path, mn_safetensors **out);
/* The same on `len` bytes in memory (copied); `what` names them in messages
 * (e.g. the path). */
MN_API mn_status mn_safetensors_parse(const void *bytes, size_t len, const char *what,
                                      mn_safetensors **out);
MN_API void mn_safetensors_free(mn_safetensors *f);

/* The tensors in offset order (the writer's order): i in [0, count). */
MN_API int mn_safetensors_count(const mn_safetensors *f);
MN_API const mn_st_tensor *mn_safetensors_at(const mn_safetensors *f, int i);
/* The tensor called `name`, or NULL. */
MN_API const mn_st_tensor *mn_safetensors_find(const mn_safetensors *f, const char *name);
/* The metadata value of `key`, or NULL. */
MN_API const char *mn_safetensors_meta(const mn_safetensors *f, const char *key);
/* The metadata entries in the header's order: i in [0, meta_count). */
MN_API int mn_safetensors_meta_count(const mn_safetensors *f);
MN_API const mn_st_meta *mn_safetensors_meta_at(const mn_safetensors *f, int i);
/* The name given to mn_safetensors_parse, or the path. */
MN_API const char *mn_safetensors_name(const mn_safetensors *f);

/* Export the file at `path` (read and checked as mn_safetensors_read does)
 * for readers without a safetensors library (what `modnorm export` runs):
 * every tensor as DIR/NAME.npy (mn_npy_write_raw: its shape, a 0-d tensor a
 * scalar, and numpy's dtype: F32 <f4, F64 <f8, I64 <i8, U64 <u8, U8 |u1) and
 * the metadata as DIR/metadata.json, a JSON object of strings in the
 * header's order ("crc32" included). *n_tensors (when not NULL) is set to
 * the count of tensors written, on success only.
 *
 * DIR is an existing directory (a symbolic link to one is followed) or a
 * missing one, made one level deep (its parent must exist: never mkdir -p;
 * a symbolic link to nothing is refused, not made through). Before
 * anything is written:
 * - every tensor name must be a file name: not empty, no '/', not starting
 *   with '.' or '-', no control character (bytes < 0x20, 0x7f), under 200
 *   bytes (the message says which rule a name breaks);
 * - the export takes an exclusive lock on DIR (flock(2) on DIR itself: no
 *   lock file is left) and holds it to the last write, so a second export
 *   into the same DIR at the same time, by any path to it, is refused at
 *   once; a file system where flock fails (some network ones) refuses the
 *   export with flock's reason;
 * - every entry of an existing DIR must be a file this export writes
 *   (NAME.npy of one of the file's tensors, or metadata.json), a regular
 *   file and not a symbolic link (which would be written through, to a file
 *   outside DIR), or the temporary NAME.tmpPID.N of one that a killed
 *   writer left (its process gone: the write of NAME removes it). Anything
 *   else (another checkpoint's extra tensors, a user's file) is refused,
 *   with `overwrite` too, so DIR describes one file;
 * - unless `overwrite`, an existing DIR/metadata.json must be byte for byte
 *   the one this export writes: DIR then holds an export of this very
 *   checkpoint (the same tensors: the metadata's crc32 covers their data),
 *   which is written again. Another checkpoint's export (a later checkpoint
 *   of the same run included) is refused, and so is any export when the
 *   file has no crc32 (not written by modnorm: two such files cannot be told
 *   apart); `overwrite` replaces it. A DIR without metadata.json (new, or
 *   an export that failed part-way) is written without it; its files named
 *   like this export's are replaced whoever wrote them.
 *
 * Each file is replaced whole (a temporary file renamed over it), and
 * metadata.json is removed first and written last: a failure part-way
 * leaves DIR without metadata.json (each .npy whole, but perhaps some from
 * an earlier export), so a DIR that has it holds one whole export (unless
 * the machine crashed: nothing is synced to disk).
 *
 * Errors, each with a one-line message: mn_safetensors_read's (starting
 * with `path`); MN_ERR_ARG for a NULL path or dir, or an empty dir;
 * MN_ERR_UNSUPPORTED for a tensor name that cannot be a file name
 * (starting with `path`); MN_ERR_IO when DIR is not a directory, cannot be
 * made, listed or locked, is locked by another export, holds an entry
 * refused above, or another checkpoint's export without `overwrite` (that
 * message ends with "(not asked to overwrite)") -- these messages start
 * with `dir` as given, then ' ' or ':' -- or a file cannot be written
 * (starting with DIR/NAME); MN_ERR_NOMEM. */
MN_API mn_status mn_safetensors_export_npy(const char *path, const char *dir, bool overwrite,
                                           int *n_tensors);

#ifdef __cplusplus
}
#endif
#endif
