/* Internal: the safetensors reader without its CRC check, for the fuzz
 * target (a mutated data section fails the CRC; skipping it lets mutations
 * reach the checks after it). Never for files a user gave. */
#ifndef MN_IO_SAFETENSORS_H
#define MN_IO_SAFETENSORS_H

#include "modnorm/safetensors.h"

/* mn_safetensors_parse, every check but the crc32 one. */
mn_status mn_safetensors_parse_no_crc(const void *bytes, size_t len, const char *what,
                                      mn_safetensors **out);

#endif
