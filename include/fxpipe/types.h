/*
 * types.h - the value types that flow through fxpipe: ticks (quotes) and
 * OHLCV bars, plus the source ranks that feed bar versions.
 *
 * Plain structs with visible fields; symbols are small integer ids handed
 * out by a struct fxp_symtab (symbol.h), never strings on the hot path.
 */
#ifndef FXPIPE_TYPES_H
#define FXPIPE_TYPES_H

#include <stdint.h>

/* Where a record came from. The numeric value is the source's default rank
 * in bar versions (version.h): a higher rank wins over a lower one. */
typedef enum fxp_origin {
    FXP_SRC_HISTORICAL = 1, /* downloaded or imported history */
    FXP_SRC_GAPFILL = 2,    /* live gap-fill (back-fill of a live gap) */
    FXP_SRC_LIVE = 3        /* captured from a live feed */
} fxp_origin;

#define FXP_TICK_HAS_VOLUME 0x1u /* volume field carries a real volume */

/* One quote. 40 bytes; arrays of these are the engine's input. */
struct fxp_tick {
    int64_t ts_ms;  /* quote time, Unix milliseconds UTC */
    double bid;     /* best bid price */
    double ask;     /* best ask price */
    double volume;  /* volume when flags has FXP_TICK_HAS_VOLUME, else 0 */
    uint32_t sym;   /* symbol id (symbol.h) */
    uint32_t flags; /* FXP_TICK_* bits */
};

/* One OHLCV candle. */
struct fxp_bar {
    int64_t ts_ms;    /* bar OPEN time, Unix milliseconds UTC */
    double open;      /* first price in the bar */
    double high;      /* highest price */
    double low;       /* lowest price */
    double close;     /* last price */
    double volume;    /* summed volume, or the tick count when none given */
    int64_t version;  /* deterministic, ranked revision number (version.h) */
    uint32_t n_ticks; /* quotes (or 1m input bars' quote counts) merged */
    uint32_t sym;     /* symbol id */
    uint8_t tf;       /* fxp_tf (timeframe.h) */
    uint8_t source;   /* fxp_origin */
    uint16_t flags;   /* reserved, 0 */
};

#endif
