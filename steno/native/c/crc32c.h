/*
 * crc32c.h -- CRC-32C (Castagnoli), the checksum of the index file format.
 *
 * Why CRC-32C and not zlib's CRC-32: x86-64 (SSE4.2) and ARMv8 compute it in
 * one instruction per 8 bytes, so checking a whole index on open costs about as
 * much as reading it; and it is what ext4, iSCSI and LevelDB (upstream's index)
 * use.  The table fallback keeps the result identical on any machine.
 */
#ifndef STENO_CRC32C_H
#define STENO_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/*
 * Extends crc (0 for a fresh checksum) over len bytes and returns the new
 * value: steno_crc32c(steno_crc32c(0, a, n), b, m) == crc of a then b.
 * The check value of "123456789" is 0xe3069283.
 */
uint32_t steno_crc32c(uint32_t crc, const void *buf, size_t len);

#endif
