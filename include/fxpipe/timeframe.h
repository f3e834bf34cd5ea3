/*
 * timeframe.h - the eight bar timeframes and where their buckets start.
 *
 * 1m..1h buckets align to the UTC epoch. 4h, 1d and 1w depend on the
 * session convention: FXP_SESSION_NY_CLOSE (default) aligns them to 17:00
 * America/New_York (4h bars open 17,21,01,05,09,13 New York time; days run
 * 17:00 -> 17:00; weeks open Sunday 17:00), FXP_SESSION_UTC to UTC
 * midnight with weeks opening Monday 00:00 UTC. Pure functions of their
 * arguments; the zone handle is only read.
 */
#ifndef FXPIPE_TIMEFRAME_H
#define FXPIPE_TIMEFRAME_H

#include <stdbool.h>
#include <stdint.h>

struct fxp_tz;

typedef enum fxp_tf {
    FXP_TF_1M = 0,
    FXP_TF_5M,
    FXP_TF_15M,
    FXP_TF_30M,
    FXP_TF_1H,
    FXP_TF_4H,
    FXP_TF_1D,
    FXP_TF_1W,
    FXP_TF_COUNT
} fxp_tf;

#define FXP_TF_ALL_MASK ((1u << FXP_TF_COUNT) - 1u)

typedef enum fxp_session {
    FXP_SESSION_NY_CLOSE = 0, /* 4h/1d/1w on 17:00 New York */
    FXP_SESSION_UTC = 1       /* 4h/1d on UTC midnight, weeks on Monday */
} fxp_session;

/* How buckets are laid out: session convention plus the New York zone
 * (required for FXP_SESSION_NY_CLOSE, ignored for FXP_SESSION_UTC). */
struct fxp_align {
    fxp_session session;
    const struct fxp_tz *ny; /* borrowed; must outlive the align */
};

/* "1m", "5m", ... "1w". */
const char *fxp_tf_name(fxp_tf tf);

/* Parse "1m".."1w" (also "m1", "h4", "d1", "w1", "60m", "1h"... see .c).
 * Returns FXP_OK or FXP_EINVAL. */
int fxp_tf_parse(const char *s, fxp_tf *out);

/* Parse a comma-separated list ("1m,5m,1h" or "all") into a bit mask of
 * (1u << tf). Returns FXP_OK or FXP_EINVAL; *bad points at the offending
 * item on error when non-NULL. */
int fxp_tf_parse_list(const char *s, unsigned *mask, const char **bad);

/* "ny-close" / "utc". */
const char *fxp_session_name(fxp_session s);
int fxp_session_parse(const char *s, fxp_session *out);

/* Nominal length in ms (1d = 86400000 even on a 23-hour day). */
int64_t fxp_tf_ms(fxp_tf tf);

/* The bucket of timeframe tf that contains instant ts: its open time in
 * *start and its end (exclusive; the next bucket's open) in *end. */
void fxp_tf_bucket(const struct fxp_align *al, fxp_tf tf, int64_t ts,
                   int64_t *start, int64_t *end);

/* Open time of the bucket containing ts. */
int64_t fxp_tf_floor(const struct fxp_align *al, fxp_tf tf, int64_t ts);

/* True when ts is the open time of a bucket of tf. */
bool fxp_tf_is_aligned(const struct fxp_align *al, fxp_tf tf, int64_t ts);

#endif
