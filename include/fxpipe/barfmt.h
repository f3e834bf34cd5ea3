/*
 * barfmt.h - text output of bars: the CSV/JSONL row format shared by
 * `fxpipe resample` and `fxpipe export`, and shortest round-trip printing
 * of prices (the text parses back to the identical double).
 *
 * Columns: symbol,timeframe,ts,open,high,low,close,volume,ticks,version
 * (ts = bar open time in Unix ms UTC).
 */
#ifndef FXPIPE_BARFMT_H
#define FXPIPE_BARFMT_H

#include <stddef.h>

#include "fxpipe/types.h"

#define FXP_BAR_CSV_HEADER                                                     \
    "symbol,timeframe,ts,open,high,low,close,volume,ticks,version"

/* Write the shortest decimal text that reads back as exactly v (like
 * Python's repr). Returns the length; buf needs 32 bytes. */
size_t fxp_fmt_double(double v, char *buf, size_t len);

/* Format one bar as a CSV row (with '\n') into buf. `symbol` is the name of
 * b->sym. Returns the length, or 0 if buf (>= 256 bytes advised) is too
 * small. */
size_t fxp_bar_format_csv(const struct fxp_bar *b, const char *symbol,
                          char *buf, size_t len);

/* The same fields as one JSON object per line. */
size_t fxp_bar_format_jsonl(const struct fxp_bar *b, const char *symbol,
                            char *buf, size_t len);

#endif
