/* modnorm/text.h — character-level text: a corpus of bytes, its vocabulary,
 * its train/validation split as sequence datasets, a count-based bigram
 * baseline, and sampling from a trained network.
 *
 * A corpus is one file, or a folder whose regular files (symbolic links are
 * not followed, names ending in ".dat" are skipped: the fortune program's
 * index files) are read in byte-wise (strcmp) order of their names and
 * concatenated. Every byte is a token; the vocabulary is the sorted set of
 * bytes the corpus holds (ids 0..V-1 in ascending byte order); the first
 * floor(0.9·n) tokens are the training split, the rest the validation split.
 * Losses are in nats per character (natural log, mean over predicted tokens).
 *
 * Layer: data (above modules: the sampler runs a network). */
#ifndef MODNORM_TEXT_H
#define MODNORM_TEXT_H

#include <stdint.h>

#include "modnorm/data.h"
#include "modnorm/export.h"
#include "modnorm/network.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The Debian `fortunes` package's folder: `--data text` without a path. */
#define MN_TEXT_DEFAULT_DIR "/usr/share/games/fortunes"
/* The largest corpus read (bytes, all files together) and the most files in a folder. */
#define MN_TEXT_MAX_BYTES ((int64_t)1 << 31)
#define MN_TEXT_MAX_FILES 65536

/* A byte vocabulary: byte[id] for ids 0..size-1 (strictly ascending), and
 * id[b] for every byte b (-1 when b is not in the vocabulary). */
typedef struct mn_vocab {
    int size;           /* V in [1, 256] */
    uint8_t byte[256];
    int16_t id[256];
} mn_vocab;

/* The vocabulary of `n` (1..256) strictly ascending bytes. MN_ERR_ARG when
 * n is out of range or the bytes are not strictly ascending. */
MN_API mn_status mn_vocab_make(mn_vocab *v, const uint8_t *bytes, int n);
/* Byte b as messages show it: 'c' when printable ASCII (not a quote), else
 * \xHH; written to buf (8 bytes), which is returned (NULL for a NULL buf). */
MN_API const char *mn_text_byte_shown(uint8_t b, char buf[8]);
/* ids[i] = the id of text[i] for i < len. MN_ERR_ARG naming the first byte
 * (and its position) outside the vocabulary. */
MN_API mn_status mn_vocab_encode(const mn_vocab *v, const char *text, int64_t len, int32_t *ids);

typedef struct mn_text {
    uint8_t *ids;     /* n token ids (owned) */
    int64_t n;        /* tokens in the corpus, >= 2 */
    int64_t n_train;  /* ids[0, n_train) train, ids[n_train, n) validation; n_train = 9n/10 */
    mn_vocab vocab;
} mn_text;

/* Read the corpus at `path` (NULL: MN_TEXT_DEFAULT_DIR), a regular file or
 * a folder as above. The sizes of all files are summed (and bounded by
 * MN_TEXT_MAX_BYTES) before anything is allocated; a file whose size
 * changes while it is read is an error. Errors, one line naming the path:
 * MN_ERR_IO (missing, unreadable, not a file or folder; for the default
 * folder, how to install it), MN_ERR_FORMAT (no bytes, fewer than 2 bytes,
 * over the limits). Free with mn_text_free. */
MN_API mn_status mn_text_load(const char *path, mn_text *out);
/* The same from `n` bytes in memory (n >= 2), split the same way. */
MN_API mn_status mn_text_from_bytes(const void *bytes, int64_t n, mn_text *out);
MN_API void mn_text_free(mn_text *t);

typedef enum mn_text_split { MN_TEXT_TRAIN = 0, MN_TEXT_VALID = 1 } mn_text_split;

/* A split as a sequence dataset of non-overlapping windows: row r is the
 * `context` tokens starting at split offset r·context, as float ids
 * (x is (n, context)), and its labels are the next token at every position
 * (y is (n·context): y[r·context + j] = token r·context + j + 1), so
 * labels_per_row = context and n_classes = V. n = (split length − 1) /
 * context. MN_ERR_ARG naming `context` when it is < 1 or the split holds
 * fewer than context + 1 tokens. Free with mn_dataset_free. */
MN_API mn_status mn_text_windows(const mn_text *t, mn_text_split split, int64_t context,
                                 mn_dataset *out);

/* The count-based bigram model with add-one (Laplace) smoothing fit on the
 * training split: P(b | a) = (c(a, b) + 1) / (c(a) + V), c counting the
 * n_train − 1 adjacent pairs of the training split. *valid_loss is its mean
 * −ln P over the n − n_train − 1 pairs inside the validation split,
 * *train_loss (may be NULL) over the training pairs; nats per character.
 * MN_ERR_ARG when the validation split has fewer than 2 tokens. */
MN_API mn_status mn_text_bigram_loss(const mn_text *t, double *valid_loss, double *train_loss);

/* Generate `n_tokens` bytes after `prompt` (len >= 1 bytes, each in the
 * vocabulary) from `net`, whose input is (1, T) float token ids and whose
 * output is (1, T, V) or (T, V) logits: at each step the network reads the
 * last min(length, context) tokens (the window slides), and the next token
 * is drawn from softmax(logits of the last position / temperature)
 * (temperature 0: the argmax) with an RNG seeded with `seed`. *out is
 * malloc'd, n_tokens bytes and a NUL (free it). MN_ERR_ARG for a prompt
 * byte outside the vocabulary (named with its position), an empty prompt,
 * context < 1, n_tokens < 0, a negative or non-finite temperature;
 * MN_ERR_SHAPE when the output does not have V columns. */
MN_API mn_status mn_text_generate(mn_network *net, const mn_vocab *v, int64_t context,
                                  const char *prompt, int64_t len, int64_t n_tokens,
                                  double temperature, uint64_t seed, char **out);

#ifdef __cplusplus
}
#endif
#endif
