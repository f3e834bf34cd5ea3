/*
 * aggregate.h - the streaming OHLCV engine: ticks (or 1m bars) in, bars of
 * every timeframe out, all timeframes maintained at once.
 *
 * Only the 1m bar is touched per tick; higher timeframes are folded from
 * closed 1m bars. A bar closes when time passes its end (a later tick of
 * the same symbol, fxp_agg_advance, or fxp_agg_flush) and is then emitted
 * through the callback. No bar is made for a minute without input. Ticks
 * up to `lateness_ms` behind the symbol's newest time revise the bars they
 * belong to, which are emitted again with a higher version; older ones are
 * rejected (FXP_R_LATE). Market hours are the caller's business
 * (calendar.h). One thread per engine; see docs/internals/aggregate.md.
 */
#ifndef FXPIPE_AGGREGATE_H
#define FXPIPE_AGGREGATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fxpipe/timeframe.h"
#include "fxpipe/types.h"
#include "fxpipe/validate.h"

typedef enum fxp_price {
    FXP_PRICE_MID = 0, /* (bid + ask) / 2 */
    FXP_PRICE_BID,
    FXP_PRICE_ASK
} fxp_price;

const char *fxp_price_name(fxp_price p);
int fxp_price_parse(const char *s, fxp_price *out);

/* Called for every bar closed or revised. `revision` is true when the same
 * (symbol, timeframe, ts) was emitted before; b is valid only during the
 * call. Runs on the thread that fed the engine. */
typedef void (*fxp_bar_fn)(void *ud, const struct fxp_bar *b, bool revision);

struct fxp_agg_cfg {
    struct fxp_align align; /* bucket layout (zone borrowed) */
    unsigned tf_mask;       /* timeframes to emit (1u << fxp_tf) */
    fxp_price price;        /* price basis for bars built from quotes */
    int64_t lateness_ms;    /* allowed lateness, >= 0 */
    fxp_origin source;      /* written into every bar */
    uint32_t rank;          /* version rank; 0 = the source's default */
    uint32_t max_symbols;   /* symbol ids must be < this */
};

/* Defaults: all timeframes, mid, 5 s lateness, live, 4096 symbols,
 * ny-close with the given zone. */
void fxp_agg_cfg_default(struct fxp_agg_cfg *cfg, const struct fxp_tz *ny);

struct fxp_agg_stats {
    uint64_t ticks;                 /* ticks accepted */
    uint64_t bars_in;               /* 1m input bars accepted */
    uint64_t late;                  /* rejected: too late */
    uint64_t duplicate;             /* rejected: duplicate 1m bar */
    uint64_t emitted[FXP_TF_COUNT]; /* bars emitted per timeframe */
    uint64_t revisions;             /* of which re-emissions */
};

struct fxp_agg;

/* A new engine (copies cfg). NULL on bad config or no memory. */
struct fxp_agg *fxp_agg_new(const struct fxp_agg_cfg *cfg, fxp_bar_fn emit,
                            void *ud);
void fxp_agg_free(struct fxp_agg *a);

/* Feed one tick (already validated). Returns FXP_R_OK, FXP_R_LATE or
 * FXP_R_SYMBOL (id >= max_symbols). */
fxp_reason fxp_agg_tick(struct fxp_agg *a, const struct fxp_tick *t);

/* Feed n ticks; the hot path. Rejected ticks are counted in the stats and,
 * when `rejected` is non-NULL, their indexes written to it (room for n).
 * Returns the number rejected. */
size_t fxp_agg_ticks(struct fxp_agg *a, const struct fxp_tick *t, size_t n,
                     uint32_t *rejected);

/* Feed one historical 1m bar (tf must be FXP_TF_1M, aligned, validated).
 * A non-zero m1->version gives the bar's rank (a stored bar keeps its
 * source's rank when higher timeframes are rebuilt from it); 0 means the
 * engine's rank.
 * Returns FXP_R_OK, FXP_R_LATE, FXP_R_DUPLICATE (that minute already has
 * data) or FXP_R_TS_ALIGN. */
fxp_reason fxp_agg_bar(struct fxp_agg *a, const struct fxp_bar *m1);

/* Clock advance: close, for every symbol, the bars that end at or before
 * now_ms; later input older than now_ms - lateness is rejected as late. */
void fxp_agg_advance(struct fxp_agg *a, int64_t now_ms);

/* End of input: emit every open bar and forget all state. */
void fxp_agg_flush(struct fxp_agg *a);

/* The open time of the oldest bar the engine still holds (open, or closed
 * but revisable), over all symbols and timeframes; INT64_MAX when none.
 * Replaying every input with time >= this value minus the lateness into a
 * fresh engine rebuilds everything not yet final (a restart's recovery). */
int64_t fxp_agg_oldest_open(const struct fxp_agg *a);

void fxp_agg_get_stats(const struct fxp_agg *a, struct fxp_agg_stats *out);

#endif
