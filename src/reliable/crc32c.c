/*
 * crc32c.c - CRC-32C (crc32c.h).
 *
 * Design notes
 *
 *  1. The CRC is "reflected" (bits in LSB-first order) with polynomial
 *     0x82F63B78, initial value and final XOR 0xFFFFFFFF, as in iSCSI,
 *     ext4 and SSE4.2. fxp__crc32c(0, ...) starts a CRC; passing a
 *     previous result continues it (the XORs cancel).
 *  2. The table path is slicing-by-8 (Intel's technique): eight 256-entry
 *     tables let one step consume 8 bytes with 8 lookups. The tables are
 *     built once under pthread_once, so any thread may call first.
 *  3. On x86-64 with GCC or Clang the SSE4.2 path is compiled with a
 *     target attribute (the rest of the file stays baseline x86-64) and is
 *     chosen only when __builtin_cpu_supports("sse4.2") says so; the
 *     answer is cached in an atomic int. Other targets use the table.
 */
#include "reliable/crc32c.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define FXP_CRC32C_X86 1
#include <nmmintrin.h>
#endif

#define POLY 0x82F63B78u

static uint32_t table[8][256];
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

static void table_build(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? (c >> 1) ^ POLY : c >> 1;
        table[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++)
        for (int t = 1; t < 8; t++)
            table[t][i] =
                (table[t - 1][i] >> 8) ^ table[0][table[t - 1][i] & 0xff];
}

static uint64_t load_le64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

uint32_t fxp__crc32c_sw(uint32_t crc, const void *buf, size_t n)
{
    const unsigned char *p = buf;
    uint32_t c = ~crc;

    pthread_once(&table_once, table_build);
    while (n && ((uintptr_t)p & 7)) {
        c = (c >> 8) ^ table[0][(c ^ *p++) & 0xff];
        n--;
    }
    while (n >= 8) {
        /* load_le64 keeps this right on big-endian hosts; compilers turn
         * it into one load on little-endian ones. */
        uint64_t w = load_le64(p) ^ c;
        c = table[7][w & 0xff] ^ table[6][(w >> 8) & 0xff] ^
            table[5][(w >> 16) & 0xff] ^ table[4][(w >> 24) & 0xff] ^
            table[3][(w >> 32) & 0xff] ^ table[2][(w >> 40) & 0xff] ^
            table[1][(w >> 48) & 0xff] ^ table[0][w >> 56];
        p += 8;
        n -= 8;
    }
    while (n--)
        c = (c >> 8) ^ table[0][(c ^ *p++) & 0xff];
    return ~c;
}

#ifdef FXP_CRC32C_X86
__attribute__((target("sse4.2"))) static uint32_t
crc32c_hw(uint32_t crc, const void *buf, size_t n)
{
    const unsigned char *p = buf;
    uint64_t c = ~crc;

    while (n && ((uintptr_t)p & 7)) {
        c = _mm_crc32_u8((uint32_t)c, *p++);
        n--;
    }
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        c = _mm_crc32_u64(c, w);
        p += 8;
        n -= 8;
    }
    while (n--)
        c = _mm_crc32_u8((uint32_t)c, *p++);
    return ~(uint32_t)c;
}
#endif

/* -1 not yet known, 0 table, 1 SSE4.2. */
static atomic_int use_hw = -1;

int fxp__crc32c_hw(void)
{
    int hw = atomic_load_explicit(&use_hw, memory_order_relaxed);
    if (hw < 0) {
#ifdef FXP_CRC32C_X86
        __builtin_cpu_init();
        hw = __builtin_cpu_supports("sse4.2") ? 1 : 0;
#else
        hw = 0;
#endif
        atomic_store_explicit(&use_hw, hw, memory_order_relaxed);
    }
    return hw;
}

uint32_t fxp__crc32c(uint32_t crc, const void *buf, size_t n)
{
#ifdef FXP_CRC32C_X86
    if (fxp__crc32c_hw())
        return crc32c_hw(crc, buf, n);
#endif
    return fxp__crc32c_sw(crc, buf, n);
}
