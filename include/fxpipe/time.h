/*
 * time.h - Unix-millisecond timestamps: civil date conversion, ISO-8601 and
 * Unix-ms parsing and printing. Pure arithmetic (proleptic Gregorian, UTC);
 * no locale, no TZ variable, no libc time functions: thread-safe.
 * Local time zones live in tz.h.
 */
#ifndef FXPIPE_TIME_H
#define FXPIPE_TIME_H

#include <stddef.h>
#include <stdint.h>

#define FXP_MS_PER_SEC  1000LL
#define FXP_MS_PER_MIN  60000LL
#define FXP_MS_PER_HOUR 3600000LL
#define FXP_MS_PER_DAY  86400000LL
#define FXP_MS_PER_WEEK (7LL * FXP_MS_PER_DAY)

/* A broken-down UTC (or local wall-clock) time. */
struct fxp_civil {
    int year;  /* e.g. 2025 */
    int month; /* 1..12 */
    int day;   /* 1..31 */
    int hour;  /* 0..23 */
    int min;   /* 0..59 */
    int sec;   /* 0..59 */
    int ms;    /* 0..999 */
    int wday;  /* 0 = Sunday .. 6 = Saturday (output only) */
};

/* Days since 1970-01-01 for a proleptic Gregorian date (any year). */
int64_t fxp_days_from_civil(int year, int month, int day);

/* Milliseconds since the epoch for a civil time; fields are not range
 * checked (day 32 rolls over). */
int64_t fxp_time_from_civil(const struct fxp_civil *c);

/* Break ts_ms down into civil fields (floor semantics for negatives). */
void fxp_time_to_civil(int64_t ts_ms, struct fxp_civil *out);

/* Floor division of a timestamp by a step (correct for negative ts). */
static inline int64_t fxp_floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

/* Parse a timestamp from s[0..len): either a Unix-millisecond integer
 * (optionally negative) or ISO-8601 "YYYY-MM-DD[( |T)HH:MM[:SS[.f+]]]" with
 * an optional "Z" or "+HH:MM"/"-HH:MM"/"+HHMM" offset (no offset = UTC).
 * Returns FXP_OK, FXP_EPARSE for malformed text, FXP_ERANGE for a field out
 * of range (month 13, minute 61, ...). */
int fxp_time_parse(const char *s, size_t len, int64_t *ts_ms);

/* Like fxp_time_parse on a NUL-terminated string. */
int fxp_time_parse_str(const char *s, int64_t *ts_ms);

/* Write "YYYY-MM-DDTHH:MM:SSZ", or with ".mmm" when ms != 0, into buf.
 * Returns the length written (excluding NUL); buf needs 32 bytes. */
size_t fxp_time_format_iso(int64_t ts_ms, char *buf, size_t len);

#endif
