/*
 * store_pg_util.c - small helpers of the PostgreSQL store: day and range
 * arithmetic, UTF-8 checks, query parameters and binary result values
 * (store_pg_int.h).
 */
#include <string.h>

#include "store/store_pg_int.h"

int64_t fxp__pg_floor_day(int64_t ts)
{
    int64_t r = ts % FXP__PG_DAY_MS;

    if (r < 0)
        r += FXP__PG_DAY_MS;
    return ts >= INT64_MIN + r ? ts - r : INT64_MIN;
}

bool fxp__pg_range_us(int64_t from, int64_t to, int64_t *from_us,
                      int64_t *to_us)
{
    if (from < FXP__PG_MIN_MS)
        from = FXP__PG_MIN_MS;
    if (to > FXP__PG_END_MS)
        to = FXP__PG_END_MS;
    if (from >= to)
        return false;
    *from_us = fxp__pg_ms_to_us(from);
    /* The end itself is not a valid timestamptz; one microsecond less
     * still excludes no millisecond. */
    *to_us = fxp__pg_ms_to_us(to) - (to == FXP__PG_END_MS);
    return true;
}

/* Length of the valid UTF-8 sequence at s, 0 when it is not one. */
static size_t utf8_seq(const unsigned char *s)
{
    unsigned c = s[0];
    size_t n;
    unsigned lo = 0x80, hi = 0xBF;

    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        n = 2;
    else if (c >= 0xE0 && c <= 0xEF)
        n = 3;
    else if (c >= 0xF0 && c <= 0xF4)
        n = 4;
    else
        return 0;
    if (c == 0xE0)
        lo = 0xA0; /* overlong */
    else if (c == 0xED)
        hi = 0x9F; /* surrogates */
    else if (c == 0xF0)
        lo = 0x90; /* overlong */
    else if (c == 0xF4)
        hi = 0x8F; /* above U+10FFFF */
    if (s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if (s[i] < 0x80 || s[i] > 0xBF)
            return 0;
    return n;
}

bool fxp__pg_utf8_valid(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;

    while (*p) {
        size_t n = utf8_seq(p);
        if (!n)
            return false;
        p += n;
    }
    return true;
}

size_t fxp__pg_utf8_copy(char *dst, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    const unsigned char *p = (const unsigned char *)s;
    size_t o = 0;

    while (*p) {
        size_t n = utf8_seq(p);
        if (n) {
            memcpy(dst + o, p, n);
            o += n;
            p += n;
        } else {
            dst[o++] = '\\';
            dst[o++] = 'x';
            dst[o++] = hex[*p >> 4];
            dst[o++] = hex[*p & 15];
            p++;
        }
    }
    return o;
}

/* ---- parameters and binary values ---- */

static void put_be(char *d, uint64_t v, int n)
{
    for (int i = n - 1; i >= 0; i--, v >>= 8)
        d[i] = (char)(v & 0xff);
}

static uint64_t get_be(const char *s, int n)
{
    uint64_t v = 0;

    for (int i = 0; i < n; i++)
        v = v << 8 | (unsigned char)s[i];
    return v;
}

void fxp__pg_p_text(struct fxp__pg_params *p, const char *v)
{
    int i = p->n++;

    p->types[i] = FXP__PG_TEXT;
    p->values[i] = v;
    p->lengths[i] = 0;
    p->formats[i] = 0;
}

static void p_bin(struct fxp__pg_params *p, unsigned type, uint64_t v, int n)
{
    int i = p->n++;

    put_be(p->bin[i], v, n);
    p->types[i] = type;
    p->values[i] = p->bin[i];
    p->lengths[i] = n;
    p->formats[i] = 1;
}

void fxp__pg_p_int8(struct fxp__pg_params *p, int64_t v)
{
    p_bin(p, FXP__PG_INT8, (uint64_t)v, 8);
}

void fxp__pg_p_int4(struct fxp__pg_params *p, int32_t v)
{
    p_bin(p, FXP__PG_INT4, (uint32_t)v, 4);
}

void fxp__pg_p_date(struct fxp__pg_params *p, int64_t unix_day)
{
    p_bin(p, FXP__PG_DATE, (uint32_t)(int32_t)(unix_day - 10957), 4);
}

void fxp__pg_p_ts_us(struct fxp__pg_params *p, int64_t us)
{
    p_bin(p, FXP__PG_TIMESTAMPTZ, (uint64_t)us, 8);
}

int64_t fxp__pg_get_int8(const PGresult *r, int row, int col)
{
    if (PQgetisnull(r, row, col) || PQgetlength(r, row, col) != 8)
        return 0;
    return (int64_t)get_be(PQgetvalue(r, row, col), 8);
}

int32_t fxp__pg_get_int4(const PGresult *r, int row, int col)
{
    if (PQgetisnull(r, row, col) || PQgetlength(r, row, col) != 4)
        return 0;
    return (int32_t)(uint32_t)get_be(PQgetvalue(r, row, col), 4);
}

double fxp__pg_get_float8(const PGresult *r, int row, int col)
{
    uint64_t u;
    double d;

    /* NULL reads as 0, as SQLite's column_double does. */
    if (PQgetisnull(r, row, col) || PQgetlength(r, row, col) != 8)
        return 0.0;
    u = get_be(PQgetvalue(r, row, col), 8);
    memcpy(&d, &u, sizeof d);
    return d;
}

int64_t fxp__pg_get_ts_us(const PGresult *r, int row, int col)
{
    return fxp__pg_get_int8(r, row, col);
}

int64_t fxp__pg_get_ts_ms(const PGresult *r, int row, int col)
{
    int64_t us = fxp__pg_get_int8(r, row, col);
    int64_t ms = us / 1000;

    if (us % 1000 < 0)
        ms--; /* floor sub-millisecond times written by other tools */
    return ms + FXP__PG_EPOCH_MS;
}

int64_t fxp__pg_get_date_ms(const PGresult *r, int row, int col)
{
    return ((int64_t)fxp__pg_get_int4(r, row, col) + 10957) * FXP__PG_DAY_MS;
}
