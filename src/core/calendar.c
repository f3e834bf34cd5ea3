/*
 * calendar.c - the forex market calendar (calendar.h): open sessions,
 * open/close queries and expected bars.
 *
 * Design notes:
 *  1. Everything is built from *trading days*. Trading day D (a New York
 *     date) runs from 17:00 New York on D-1 to 17:00 New York on D. Only
 *     Monday..Friday trading days exist, so Monday's starts Sunday 17:00
 *     and Friday's ends Friday 17:00: the weekly session.
 *  2. A holiday entry for date D acts on trading day D only: "closed"
 *     removes it, "close HH:MM" ends it at HH:MM New York on D. A date
 *     that is not Monday..Friday has no trading day, so its entry is
 *     inert.
 *  3. Boundaries are New York wall times turned into UTC by
 *     fxp_tz_local_to_utc, one call per boundary; no offset is assumed.
 *     17:00 is never a skipped or repeated wall time in New York.
 *  4. A session is a maximal run of trading days in which each day ends
 *     at the normal 17:00 and the next day trades (close(D) equals
 *     open(D+1) exactly). Sessions are computed on demand by walking
 *     trading days (next_session); nothing is cached, so a calendar is
 *     immutable and needs no locking.
 *  5. Queries are clamped to years 0001..9999 (CAL_MIN_MS..CAL_MAX_MS):
 *     no arithmetic near INT64_MIN/MAX. A market that never opens again
 *     (a file closing every day) gives INT64_MAX from next_open and
 *     next_close. With only `*` entries beyond the last dated one the
 *     pattern repeats every 400 years (146097 days, a whole number of
 *     weeks), so the search stops after one such cycle.
 */
#include "fxpipe/calendar.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/holidays.h"
#include "fxpipe/err.h"
#include "fxpipe/time.h"
#include "fxpipe/tz.h"

/* Generated from data/holidays.txt by cmake/embed.cmake. */
extern const char fxp__holidays_default[];
extern const size_t fxp__holidays_default_len;

#define DAY                  FXP_MS_PER_DAY
#define NY_CLOSE_MS          (17 * FXP_MS_PER_HOUR)
#define CAL_MIN_MS           (-62135596800000LL) /* 0001-01-01T00:00:00Z */
#define CAL_MAX_MS           (253402300800000LL) /* 10000-01-01T00:00:00Z */
#define GREGORIAN_CYCLE_DAYS 146097

struct fxp_calendar {
    const struct fxp_tz *ny;  /* borrowed */
    struct fxp__holidays hol; /* owned */
};

static int64_t clamp(int64_t ts)
{
    return ts < CAL_MIN_MS ? CAL_MIN_MS : ts > CAL_MAX_MS ? CAL_MAX_MS : ts;
}

/* 0 = Sunday .. 6 = Saturday; 1970-01-01 was a Thursday. */
static int weekday(int64_t day)
{
    return (int)((day % 7 + 11) % 7);
}

/* The trading day whose (unclipped) span holds instant ts. */
static int64_t day_of(const struct fxp_calendar *cal, int64_t ts)
{
    int64_t local = fxp_tz_utc_to_local(cal->ny, ts);
    int64_t d = fxp_floor_div(local, DAY);
    return local - d * DAY >= NY_CLOSE_MS ? d + 1 : d;
}

/* FXP__HOL_CLOSED when no trading day D exists (weekend or holiday),
 * else the minute of D's New York clock at which it ends. */
static int day_close_min(const struct fxp_calendar *cal, int64_t d)
{
    int wd = weekday(d);
    if (wd == 0 || wd == 6)
        return FXP__HOL_CLOSED;
    int h = fxp__holidays_lookup(&cal->hol, d);
    return h == FXP__HOL_NONE ? 17 * 60 : h;
}

static int64_t day_open_ms(const struct fxp_calendar *cal, int64_t d)
{
    return fxp_tz_local_to_utc(cal->ny, (d - 1) * DAY + NY_CLOSE_MS);
}

static int64_t day_close_ms(const struct fxp_calendar *cal, int64_t d,
                            int close_min)
{
    return fxp_tz_local_to_utc(cal->ny, d * DAY + close_min * FXP_MS_PER_MIN);
}

/* The last day the search for an open day may look at, from day d. */
static int64_t search_limit(const struct fxp_calendar *cal, int64_t d)
{
    int64_t base = d > cal->hol.last_dated_day ? d : cal->hol.last_dated_day;
    return base + GREGORIAN_CYCLE_DAYS + 7;
}

/* Walks sessions clipped to [from, to). */
struct sess_iter {
    const struct fxp_calendar *cal;
    int64_t day;      /* next trading day to look at */
    int64_t last_day; /* trading day holding to - 1 */
    int64_t from, to;
};

static void iter_init(struct sess_iter *it, const struct fxp_calendar *cal,
                      int64_t from, int64_t to)
{
    it->cal = cal;
    it->from = clamp(from);
    it->to = clamp(to);
    it->day = day_of(cal, it->from);
    it->last_day = it->from < it->to ? day_of(cal, it->to - 1) : it->day - 1;
}

/* The next session clipped to [from, to) into *sp; false when none. */
static bool next_session(struct sess_iter *it, struct fxp_span *sp)
{
    const struct fxp_calendar *cal = it->cal;
    while (it->day <= it->last_day) {
        int64_t d = it->day++;
        int cm = day_close_min(cal, d);
        if (cm == FXP__HOL_CLOSED)
            continue;
        int64_t open = day_open_ms(cal, d);
        /* Extend through following days while they join end to end. */
        while (cm == 17 * 60 && it->day <= it->last_day) {
            int ncm = day_close_min(cal, it->day);
            if (ncm == FXP__HOL_CLOSED)
                break;
            d = it->day++;
            cm = ncm;
        }
        int64_t close = day_close_ms(cal, d, cm);
        if (open < it->from)
            open = it->from;
        if (close > it->to)
            close = it->to;
        if (open < close) {
            sp->open_ms = open;
            sp->close_ms = close;
            return true;
        }
    }
    return false;
}

static int make(const struct fxp_tz *ny, const char *text, size_t len,
                const char *name, struct fxp_calendar **out, char *errbuf,
                size_t errlen)
{
    struct fxp_calendar *cal = calloc(1, sizeof *cal);
    *out = NULL;
    if (!cal) {
        snprintf(errbuf, errlen, "out of memory creating the calendar");
        return FXP_ENOMEM;
    }
    cal->ny = ny;
    int rc = fxp__holidays_parse(text, len, name, &cal->hol, errbuf, errlen);
    if (rc) {
        fxp_cal_free(cal);
        return rc;
    }
    *out = cal;
    return FXP_OK;
}

/* Read a whole file into a new NUL-terminated buffer. */
static int read_file(const char *path, char **text, size_t *len, char *errbuf,
                     size_t errlen)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t n = 0, cap = 0;
    int rc = FXP_EIO;

    if (!f) {
        int e = errno;
        snprintf(errbuf, errlen, "cannot open holiday file '%s': %s", path,
                 strerror(e));
        return e == ENOENT || e == ENOTDIR ? FXP_ENOENT : FXP_EIO;
    }
    for (;;) {
        if (cap - n < 4096) {
            if (cap >= FXP__HOL_MAX_BYTES) {
                snprintf(errbuf, errlen,
                         "holiday file '%s' is larger than %d bytes", path,
                         FXP__HOL_MAX_BYTES);
                rc = FXP_EPARSE;
                goto fail;
            }
            size_t ncap = cap ? cap * 2 : 16384;
            char *p = realloc(buf, ncap + 1);
            if (!p) {
                snprintf(errbuf, errlen, "out of memory reading '%s'", path);
                rc = FXP_ENOMEM;
                goto fail;
            }
            buf = p;
            cap = ncap;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) {
            if (ferror(f)) {
                snprintf(errbuf, errlen, "cannot read holiday file '%s': %s",
                         path, strerror(errno));
                goto fail;
            }
            break;
        }
    }
    fclose(f);
    buf[n] = '\0';
    *text = buf;
    *len = n;
    return FXP_OK;
fail:
    fclose(f);
    free(buf);
    return rc;
}

int fxp_cal_new(const struct fxp_tz *ny, const char *holidays,
                struct fxp_calendar **out, char *errbuf, size_t errlen)
{
    if (!holidays || !strcmp(holidays, "default"))
        return make(ny, fxp__holidays_default, fxp__holidays_default_len,
                    "data/holidays.txt", out, errbuf, errlen);
    if (!strcmp(holidays, "none"))
        return make(ny, "", 0, "none", out, errbuf, errlen);

    char *text = NULL;
    size_t len = 0;
    *out = NULL;
    int rc = read_file(holidays, &text, &len, errbuf, errlen);
    if (rc)
        return rc;
    rc = make(ny, text, len, holidays, out, errbuf, errlen);
    free(text);
    return rc;
}

int fxp_cal_new_from_text(const struct fxp_tz *ny, const char *text, size_t len,
                          const char *name, struct fxp_calendar **out,
                          char *errbuf, size_t errlen)
{
    return make(ny, text, len, name ? name : "<text>", out, errbuf, errlen);
}

void fxp_cal_free(struct fxp_calendar *cal)
{
    if (!cal)
        return;
    fxp__holidays_release(&cal->hol);
    free(cal);
}

bool fxp_cal_is_open(const struct fxp_calendar *cal, int64_t ts)
{
    if (ts < CAL_MIN_MS || ts >= CAL_MAX_MS)
        return false;
    int64_t d = day_of(cal, ts);
    int cm = day_close_min(cal, d);
    return cm != FXP__HOL_CLOSED && ts >= day_open_ms(cal, d) &&
           ts < day_close_ms(cal, d, cm);
}

int64_t fxp_cal_next_open(const struct fxp_calendar *cal, int64_t ts)
{
    if (ts >= CAL_MAX_MS)
        return INT64_MAX;
    ts = clamp(ts);
    int64_t d = day_of(cal, ts);
    int64_t limit = search_limit(cal, d);
    for (; d <= limit; d++) {
        int cm = day_close_min(cal, d);
        if (cm == FXP__HOL_CLOSED)
            continue;
        int64_t open = day_open_ms(cal, d);
        if (open >= CAL_MAX_MS)
            return INT64_MAX;
        if (ts < day_close_ms(cal, d, cm))
            return open > ts ? open : ts;
    }
    return INT64_MAX;
}

int64_t fxp_cal_next_close(const struct fxp_calendar *cal, int64_t ts)
{
    int64_t open = fxp_cal_next_open(cal, ts);
    if (open == INT64_MAX)
        return INT64_MAX;
    int64_t d = day_of(cal, open);
    int cm = day_close_min(cal, d);
    /* Session days join end to end; a week has at most five. */
    while (cm == 17 * 60) {
        int ncm = day_close_min(cal, d + 1);
        if (ncm == FXP__HOL_CLOSED)
            break;
        d++;
        cm = ncm;
    }
    return day_close_ms(cal, d, cm);
}

size_t fxp_cal_sessions(const struct fxp_calendar *cal, int64_t from,
                        int64_t to, struct fxp_span *out, size_t cap)
{
    struct sess_iter it;
    struct fxp_span sp;
    size_t n = 0;
    iter_init(&it, cal, from, to);
    while (next_session(&it, &sp)) {
        if (n < cap)
            out[n] = sp;
        n++;
    }
    return n;
}

/* Shared by expected_bars (out != NULL) and count_bars (out == NULL). */
static size_t bars(const struct fxp_calendar *cal, const struct fxp_align *al,
                   fxp_tf tf, int64_t from, int64_t to, int64_t *out,
                   size_t cap)
{
    struct sess_iter it;
    struct fxp_span sp;
    int64_t bstart, bend;
    size_t n = 0;
    bool any = false;
    int64_t last = 0; /* open time of the last bucket counted */

    from = clamp(from);
    to = clamp(to);
    if (from >= to || (unsigned)tf >= FXP_TF_COUNT)
        return 0;
    /* A bucket opening before `to` may overlap a session after `to`:
     * look at sessions up to the end of the last such bucket. */
    fxp_tf_bucket(al, tf, to - 1, &bstart, &bend);
    iter_init(&it, cal, from, bend);

    if (tf < FXP_TF_4H) {
        /* Fixed UTC-epoch steps: count with arithmetic per session. */
        int64_t step = fxp_tf_ms(tf);
        while (next_session(&it, &sp)) {
            int64_t b = fxp_tf_floor(al, tf, sp.open_ms);
            if (b < from)
                b += step;
            if (any && b <= last)
                b = last + step;
            int64_t stop = sp.close_ms < to ? sp.close_ms : to;
            if (b >= stop)
                continue;
            size_t k = (size_t)((stop - b + step - 1) / step);
            if (out)
                for (size_t i = 0; i < k && n + i < cap; i++)
                    out[n + i] = b + (int64_t)i * step;
            n += k;
            last = b + (int64_t)(k - 1) * step;
            any = true;
        }
        return n;
    }
    /* 4h/1d/1w: buckets vary in length with DST; step bucket by bucket. */
    while (next_session(&it, &sp)) {
        fxp_tf_bucket(al, tf, sp.open_ms, &bstart, &bend);
        if (bstart < from)
            fxp_tf_bucket(al, tf, bend, &bstart, &bend);
        while (bstart < sp.close_ms && bstart < to) {
            if (!any || bstart > last) {
                if (out && n < cap)
                    out[n] = bstart;
                n++;
                last = bstart;
                any = true;
            }
            fxp_tf_bucket(al, tf, bend, &bstart, &bend);
        }
    }
    return n;
}

size_t fxp_cal_expected_bars(const struct fxp_calendar *cal,
                             const struct fxp_align *al, fxp_tf tf,
                             int64_t from, int64_t to, int64_t *out, size_t cap)
{
    return bars(cal, al, tf, from, to, out, cap);
}

size_t fxp_cal_count_bars(const struct fxp_calendar *cal,
                          const struct fxp_align *al, fxp_tf tf, int64_t from,
                          int64_t to)
{
    return bars(cal, al, tf, from, to, NULL, 0);
}

bool fxp_cal_cursor_is_open(struct fxp_cal_cursor *c, int64_t ts)
{
    if (ts >= c->lo && ts < c->hi)
        return c->open;
    c->open = fxp_cal_is_open(c->cal, ts);
    c->lo = ts;
    c->hi = c->open ? fxp_cal_next_close(c->cal, ts)
                    : fxp_cal_next_open(c->cal, ts);
    return c->open;
}
