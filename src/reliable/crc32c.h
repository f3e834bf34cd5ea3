/*
 * crc32c.h - CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the
 * checksum of the journal's records. Internal to the library.
 *
 * SSE4.2's crc32 instruction when the CPU has it (checked once at run
 * time), else a slicing-by-8 table; both give the same values.
 */
#ifndef FXPIPE_RELIABLE_CRC32C_H
#define FXPIPE_RELIABLE_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Extend `crc` (0 to start) over n bytes and return the new CRC:
 * fxp__crc32c(fxp__crc32c(0, a, na), b, nb) == crc of a then b.
 * crc32c("123456789") == 0xE3069283. Any thread may call it. */
uint32_t fxp__crc32c(uint32_t crc, const void *buf, size_t n);

/* The portable table version, for tests and the benchmark. */
uint32_t fxp__crc32c_sw(uint32_t crc, const void *buf, size_t n);

/* True when fxp__crc32c uses the SSE4.2 instruction. */
int fxp__crc32c_hw(void);

#endif
