/*
 * holidays.h - internal: the parsed form of a holiday file
 * (docs/holidays.md) and the per-date lookup the calendar uses.
 *
 * Only calendar.c includes this. It knows dates and New York clock
 * minutes, nothing about time zones or sessions.
 */
#ifndef FXPIPE_CORE_HOLIDAYS_H
#define FXPIPE_CORE_HOLIDAYS_H

#include <stddef.h>
#include <stdint.h>

/* What a date's entry says; other values are an early-close minute of the
 * New York day (0..1019, i.e. 00:00..16:59). */
#define FXP__HOL_NONE   (-2) /* no entry: a normal day */
#define FXP__HOL_CLOSED (-1) /* no trading day ends on this date */

/* Hard limits: a holiday file is configuration, not bulk data. */
#define FXP__HOL_MAX_ENTRIES 65536
#define FXP__HOL_MAX_BYTES   (4 * 1024 * 1024)

/* One dated entry ("2025-12-24 close 13:00"). */
struct fxp__hol_dated {
    int64_t day;   /* days since 1970-01-01 */
    int close_min; /* FXP__HOL_CLOSED or the early-close minute */
    int line;      /* source line, for duplicate messages */
};

/* All entries of one file. Dated entries override `*` entries. */
struct fxp__holidays {
    struct fxp__hol_dated *dated; /* sorted by day, no duplicates; owned */
    size_t n_dated;               /* entries in dated */
    int64_t last_dated_day;       /* largest dated day (0 when none) */
    int n_every;                  /* number of `*` entries */
    int16_t every[13][32];        /* [month][day] -> FXP__HOL_* / minute */
};

/* Parse text[0..len) (need not be NUL-terminated) into *h, which the
 * caller releases with fxp__holidays_release, even on failure. `name`
 * appears in messages ("bad holiday line 'name:3': ..."). Returns FXP_OK,
 * FXP_EPARSE or FXP_ENOMEM. */
int fxp__holidays_parse(const char *text, size_t len, const char *name,
                        struct fxp__holidays *h, char *errbuf, size_t errlen);

/* Free what parse allocated; leaves an empty set. Cannot fail. */
void fxp__holidays_release(struct fxp__holidays *h);

/* The entry for date `day` (days since the epoch): FXP__HOL_NONE,
 * FXP__HOL_CLOSED or an early-close minute. O(log n). */
int fxp__holidays_lookup(const struct fxp__holidays *h, int64_t day);

#endif
