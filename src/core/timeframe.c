/*
 * timeframe.c - bucket boundaries for the eight timeframes under the
 * ny-close and utc session conventions (see timeframe.h).
 *
 * ny-close buckets are computed on New York wall-clock time shifted back by
 * 17 hours, so every 4h, 1d and 1w boundary is an exact multiple in that
 * shifted clock; the boundaries are then mapped back to UTC through the tz
 * rules. DST changes happen at 02:00 New York, inside the 01:00-05:00 4h
 * bucket and never on a 1d/1w boundary, so no boundary is ever a skipped or
 * repeated wall time.
 */
#include "fxpipe/timeframe.h"

#include <string.h>

#include "fxpipe/err.h"
#include "fxpipe/time.h"
#include "fxpipe/tz.h"

static const struct {
    const char *name;
    int64_t ms;
} tfs[FXP_TF_COUNT] = {
    {"1m", FXP_MS_PER_MIN},       {"5m", 5 * FXP_MS_PER_MIN},
    {"15m", 15 * FXP_MS_PER_MIN}, {"30m", 30 * FXP_MS_PER_MIN},
    {"1h", FXP_MS_PER_HOUR},      {"4h", 4 * FXP_MS_PER_HOUR},
    {"1d", FXP_MS_PER_DAY},       {"1w", FXP_MS_PER_WEEK},
};

/* Alternative spellings accepted by fxp_tf_parse. */
static const struct {
    const char *alias;
    fxp_tf tf;
} aliases[] = {
    {"m1", FXP_TF_1M},   {"m5", FXP_TF_5M},   {"m15", FXP_TF_15M},
    {"m30", FXP_TF_30M}, {"h1", FXP_TF_1H},   {"60m", FXP_TF_1H},
    {"h4", FXP_TF_4H},   {"240m", FXP_TF_4H}, {"d1", FXP_TF_1D},
    {"24h", FXP_TF_1D},  {"w1", FXP_TF_1W},   {"7d", FXP_TF_1W},
};

#define NY_CLOSE_SHIFT_MS (17 * FXP_MS_PER_HOUR)
/* 1970-01-04 was a Sunday, 1970-01-05 a Monday. */
#define EPOCH_TO_SUNDAY_MS (3 * FXP_MS_PER_DAY)
#define EPOCH_TO_MONDAY_MS (4 * FXP_MS_PER_DAY)

const char *fxp_tf_name(fxp_tf tf)
{
    return (unsigned)tf < FXP_TF_COUNT ? tfs[tf].name : "?";
}

int fxp_tf_parse(const char *s, fxp_tf *out)
{
    for (int i = 0; i < FXP_TF_COUNT; i++)
        if (!strcmp(s, tfs[i].name)) {
            *out = (fxp_tf)i;
            return FXP_OK;
        }
    for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
        if (!strcmp(s, aliases[i].alias)) {
            *out = aliases[i].tf;
            return FXP_OK;
        }
    return FXP_EINVAL;
}

int fxp_tf_parse_list(const char *s, unsigned *mask, const char **bad)
{
    *mask = 0;
    if (!strcmp(s, "all")) {
        *mask = FXP_TF_ALL_MASK;
        return FXP_OK;
    }
    const char *p = s;
    while (*p) {
        const char *e = strchr(p, ',');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        char item[16];
        fxp_tf tf;
        if (n == 0 || n >= sizeof item)
            goto bad;
        memcpy(item, p, n);
        item[n] = '\0';
        if (fxp_tf_parse(item, &tf))
            goto bad;
        *mask |= 1u << tf;
        p += n + (e ? 1 : 0);
        continue;
    bad:
        if (bad)
            *bad = p;
        return FXP_EINVAL;
    }
    return *mask ? FXP_OK : FXP_EINVAL;
}

const char *fxp_session_name(fxp_session s)
{
    return s == FXP_SESSION_UTC ? "utc" : "ny-close";
}

int fxp_session_parse(const char *s, fxp_session *out)
{
    if (!strcmp(s, "ny-close") || !strcmp(s, "ny")) {
        *out = FXP_SESSION_NY_CLOSE;
        return FXP_OK;
    }
    if (!strcmp(s, "utc")) {
        *out = FXP_SESSION_UTC;
        return FXP_OK;
    }
    return FXP_EINVAL;
}

int64_t fxp_tf_ms(fxp_tf tf)
{
    return tfs[tf].ms;
}

static int64_t floor_to(int64_t ts, int64_t step, int64_t origin)
{
    return fxp_floor_div(ts - origin, step) * step + origin;
}

void fxp_tf_bucket(const struct fxp_align *al, fxp_tf tf, int64_t ts,
                   int64_t *start, int64_t *end)
{
    int64_t step = tfs[tf].ms;
    if (tf < FXP_TF_4H) {
        *start = floor_to(ts, step, 0);
        *end = *start + step;
        return;
    }
    if (al->session == FXP_SESSION_UTC) {
        *start = floor_to(ts, step, tf == FXP_TF_1W ? EPOCH_TO_MONDAY_MS : 0);
        *end = *start + step;
        return;
    }
    int64_t local = fxp_tz_utc_to_local(al->ny, ts);
    int64_t origin =
        NY_CLOSE_SHIFT_MS + (tf == FXP_TF_1W ? EPOCH_TO_SUNDAY_MS : 0);
    int64_t lstart = floor_to(local, step, origin);
    *start = fxp_tz_local_to_utc(al->ny, lstart);
    *end = fxp_tz_local_to_utc(al->ny, lstart + step);
}

int64_t fxp_tf_floor(const struct fxp_align *al, fxp_tf tf, int64_t ts)
{
    int64_t s, e;
    fxp_tf_bucket(al, tf, ts, &s, &e);
    return s;
}

bool fxp_tf_is_aligned(const struct fxp_align *al, fxp_tf tf, int64_t ts)
{
    return (unsigned)tf < FXP_TF_COUNT && fxp_tf_floor(al, tf, ts) == ts;
}
