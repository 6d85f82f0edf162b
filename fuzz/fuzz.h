/* The fuzz targets' entry points (libFuzzer's), and their seed makers. */
#ifndef MN_FUZZ_H
#define MN_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Write the checkpoint reader's seed corpus into `dir`: 0 or -1 after a message. */
int fuzz_checkpoint_seeds(const char *dir);
/* How many inputs restored (all checks passed). */
extern long fuzz_checkpoint_restored;

#endif
