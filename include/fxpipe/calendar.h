/*
 * calendar.h - the forex market calendar: when the market is open, and
 * which bars a timeframe is therefore expected to have.
 *
 * The week runs Sunday 17:00 -> Friday 17:00 America/New_York, DST-aware
 * through tz.h. Holidays and early closes are data (docs/holidays.md):
 * the default file data/holidays.txt is compiled in, another file or none
 * can be chosen. A calendar is immutable after creation and may be shared
 * between threads. It does not know symbols: one calendar for all.
 */
#ifndef FXPIPE_CALENDAR_H
#define FXPIPE_CALENDAR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fxpipe/timeframe.h"

struct fxp_tz;
struct fxp_calendar;

/* One open session [open_ms, close_ms) in UTC. */
struct fxp_span {
    int64_t open_ms;  /* first open instant */
    int64_t close_ms; /* first closed instant after open_ms */
};

/* Create a calendar on zone `ny` (borrowed; must outlive the calendar).
 * `holidays` selects the holiday data: NULL or "default" = the built-in
 * data/holidays.txt, "none" = no holidays (weekends only), anything else
 * is a file path. On success *out owns the calendar. Errors: FXP_ENOENT
 * (file missing), FXP_EPARSE (bad line; errbuf names file:line and the
 * reason), FXP_ENOMEM. */
int fxp_cal_new(const struct fxp_tz *ny, const char *holidays,
                struct fxp_calendar **out, char *errbuf, size_t errlen);

/* Same, with holiday text given in memory (`name` is used in messages). */
int fxp_cal_new_from_text(const struct fxp_tz *ny, const char *text, size_t len,
                          const char *name, struct fxp_calendar **out,
                          char *errbuf, size_t errlen);

/* Free a calendar; NULL is a no-op. */
void fxp_cal_free(struct fxp_calendar *cal);

/* Queries. All instants are Unix ms UTC. */

/* True when the market is open at ts (Friday 16:59:59.999 NY open,
 * Friday 17:00:00.000 closed, Sunday 17:00:00.000 open). */
bool fxp_cal_is_open(const struct fxp_calendar *cal, int64_t ts);

/* The first instant >= ts at which the market is open (ts itself when
 * open). */
int64_t fxp_cal_next_open(const struct fxp_calendar *cal, int64_t ts);

/* The first instant > ts at which the market is closed; when closed at
 * ts, the close of the next session. */
int64_t fxp_cal_next_close(const struct fxp_calendar *cal, int64_t ts);

/* Write the open sessions overlapping [from, to), clipped to it, into
 * out[0..cap). Returns how many exist (may exceed cap; out may be NULL
 * with cap 0 to count). */
size_t fxp_cal_sessions(const struct fxp_calendar *cal, int64_t from,
                        int64_t to, struct fxp_span *out, size_t cap);

/* Expected bar open times of timeframe tf in [from, to): every bucket
 * (aligned per `al`) whose open time is in [from, to) and which overlaps
 * an open session. Written ascending into out[0..cap); returns the total
 * count (may exceed cap; out may be NULL to count only). */
size_t fxp_cal_expected_bars(const struct fxp_calendar *cal,
                             const struct fxp_align *al, fxp_tf tf,
                             int64_t from, int64_t to, int64_t *out,
                             size_t cap);

/* The count alone; O(sessions) for 1m..1h. */
size_t fxp_cal_count_bars(const struct fxp_calendar *cal,
                          const struct fxp_align *al, fxp_tf tf, int64_t from,
                          int64_t to);

/* A cursor for many is-open questions in (mostly) increasing time: it
 * remembers the open or closed stretch of the last answer, so a stream of
 * ticks costs one comparison per tick. Zero-initialise, set cal. */
struct fxp_cal_cursor {
    const struct fxp_calendar *cal;
    int64_t lo, hi; /* the last answer holds for [lo, hi) */
    bool open;
};

/* fxp_cal_is_open through the cursor's cache. */
bool fxp_cal_cursor_is_open(struct fxp_cal_cursor *c, int64_t ts);

#endif
