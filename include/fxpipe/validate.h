/*
 * validate.h - the one validator for ticks and bars.
 *
 * Every rejection has a reason code naming the field and what is wrong,
 * so the dead-letter store and error messages can say it plainly. The
 * validator keeps the last good price per symbol to judge jumps; it is
 * used by one thread at a time.
 */
#ifndef FXPIPE_VALIDATE_H
#define FXPIPE_VALIDATE_H

#include <stddef.h>
#include <stdint.h>

#include "fxpipe/timeframe.h"
#include "fxpipe/types.h"

/* X(name, field, description): reason codes. FXP_R_OK is 0. */
#define FXP_REASON_MAP(X)                                                      \
    X(OK, "", "valid")                                                         \
    X(NAN, "price", "price is NaN")                                            \
    X(INF, "price", "price is infinite")                                       \
    X(NONPOS_PRICE, "price", "price is not positive")                          \
    X(CROSSED, "ask", "ask is below bid")                                      \
    X(SPREAD, "ask", "spread is implausibly wide")                             \
    X(JUMP, "price", "price jumped implausibly from the previous quote")       \
    X(HIGH_LOW, "high", "high is below low")                                   \
    X(HIGH, "high", "high is below max(open, close)")                          \
    X(LOW, "low", "low is above min(open, close)")                             \
    X(VOLUME, "volume", "volume is negative or not finite")                    \
    X(TS_RANGE, "ts", "timestamp is outside the accepted range")               \
    X(TS_ALIGN, "ts", "timestamp is not aligned to the timeframe")             \
    X(SYMBOL, "symbol", "unknown symbol format")                               \
    X(LATE, "ts", "tick is later than the allowed lateness")                   \
    X(CLOSED, "ts", "market is closed at this time")                           \
    X(DUPLICATE, "ts", "duplicate bar for this minute")                        \
    X(PARSE, "line", "malformed line")

typedef enum fxp_reason {
#define FXP__REASON_ENUM(name, field, desc) FXP_R_##name,
    FXP_REASON_MAP(FXP__REASON_ENUM)
#undef FXP__REASON_ENUM
        FXP_R_COUNT
} fxp_reason;

/* "nan", "crossed", ... (lower-case name used in DLQ records and logs). */
const char *fxp_reason_name(fxp_reason r);
/* The field the reason is about ("price", "ask", "ts", ...). */
const char *fxp_reason_field(fxp_reason r);
/* A one-line human description. */
const char *fxp_reason_desc(fxp_reason r);

struct fxp_validate_cfg {
    double max_spread_frac; /* reject (ask-bid)/mid above this; <= 0 off */
    double max_jump_frac;   /* reject |mid/prev_mid - 1| above this; <= 0 off */
    int64_t min_ts_ms;      /* earliest accepted timestamp (inclusive) */
    int64_t max_ts_ms;      /* latest accepted timestamp (exclusive) */
};

/* Defaults: spread 5%, jump 10%, ts in [1990-01-01, 2100-01-01). */
void fxp_validate_cfg_default(struct fxp_validate_cfg *cfg);

struct fxp_validator;

/* New validator for up to max_symbols symbol ids (copies cfg). NULL on
 * allocation failure. */
struct fxp_validator *fxp_validator_new(const struct fxp_validate_cfg *cfg,
                                        uint32_t max_symbols);
void fxp_validator_free(struct fxp_validator *v);

/* Check one tick. Returns FXP_R_OK or the first reason found. A valid tick
 * becomes the symbol's reference price for the jump check; a rejected
 * one does not. */
fxp_reason fxp_validate_tick(struct fxp_validator *v, const struct fxp_tick *t);

/* Check one bar of timeframe b->tf (alignment per `al`). Stateless. */
fxp_reason fxp_validate_bar(const struct fxp_validator *v,
                            const struct fxp_align *al,
                            const struct fxp_bar *b);

/* Write "field 'ask': ask is below bid (bid=1.1 ask=1.0)"-style text
 * describing why t was rejected into buf. Returns buf. */
char *fxp_reason_format_tick(fxp_reason r, const struct fxp_tick *t, char *buf,
                             size_t len);
char *fxp_reason_format_bar(fxp_reason r, const struct fxp_bar *b, char *buf,
                            size_t len);

#endif
