/* gaps_out.h - table, JSON-lines and HTML output of gap reports. */
#ifndef FXPIPE_CLI_GAPS_OUT_H
#define FXPIPE_CLI_GAPS_OUT_H

#include <stdio.h>

#include "fxpipe/gaps.h"

/* A summary line and up to max_ranges fillable ranges. */
void fxp_gaps_print_table(FILE *f, const struct fxp_gap_report *r,
                          size_t max_ranges);

/* One JSON object per line: symbol, timeframe, from, to, expected,
 * present, completeness, complete, missing, ranges[{start,end,bars,state}]
 * (Unix ms, half-open). */
void fxp_gaps_print_json(FILE *f, const struct fxp_gap_report *r);

/* A self-contained page: a heatmap per timeframe (rows symbols, cells UTC
 * days) and the gap list. Reports must carry days (want_days) and be
 * grouped by timeframe. Returns 0, or -1 on a write error. */
int fxp_gaps_write_html(FILE *f, const struct fxp_gap_report *reports, size_t n,
                        const char *title);

#endif
