/*
 * gaps.h - which expected bars are missing, and how complete a series is.
 *
 * Expected bars come from the market calendar (holidays included), present
 * bars from the store; missing bars are coalesced into half-open ranges of
 * consecutive expected bars. A range carries a state from the period
 * ledger: `missing` (fillable), `confirmed-empty` (its day was downloaded
 * and the source had nothing for it: not re-detected as missing), or
 * `needs-review` (its day failed after bounded retries). Closed-market time
 * is never a gap. A series is complete at 100% for intraday timeframes and
 * at >= 80% (configurable) for 1d and 1w.
 */
#ifndef FXPIPE_GAPS_H
#define FXPIPE_GAPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fxpipe/timeframe.h"

struct fxp_calendar;
struct fxp_store;

typedef enum fxp_gap_state {
    FXP_GAP_MISSING = 0,
    FXP_GAP_EMPTY = 1, /* confirmed empty */
    FXP_GAP_REVIEW = 2 /* needs review */
} fxp_gap_state;

/* "missing", "confirmed-empty", "needs-review" */
const char *fxp_gap_state_name(fxp_gap_state s);

struct fxp_gap_range {
    int64_t start; /* open time of the first missing bar */
    int64_t end;   /* end of the last missing bar (exclusive) */
    uint32_t bars; /* missing bars in the range */
    fxp_gap_state state;
};

/* Expected vs present for one UTC day (the heatmap's cells). */
struct fxp_gap_day {
    int64_t day_ms;
    uint32_t expected, present;
};

struct fxp_gaps_opts {
    double intraday_threshold; /* complete at >= this fraction (1.0) */
    double daily_threshold;    /* 1d and 1w (0.8) */
    bool want_days;            /* fill report->days */
};

void fxp_gaps_opts_default(struct fxp_gaps_opts *o);

/* The result for one symbol and timeframe. Heap arrays owned by the
 * report; release with fxp_gap_report_release. */
struct fxp_gap_report {
    char symbol[16];
    fxp_tf tf;
    int64_t from, to;
    uint64_t expected;   /* expected bars in [from, to) */
    uint64_t present;    /* of those, present in the store */
    double completeness; /* present / expected (1.0 when none expected) */
    bool complete;       /* by the threshold for tf */
    uint64_t missing;    /* bars in ranges with state missing */
    struct fxp_gap_range *ranges;
    size_t n_ranges;
    struct fxp_gap_day *days; /* when opts.want_days */
    size_t n_days;
};

void fxp_gap_report_release(struct fxp_gap_report *r);

/* The in-memory core: coalesce the expected bar times (ascending) that are
 * not in present (ascending; extra present times are ignored) into ranges
 * with state FXP_GAP_MISSING. Consecutive means adjacent in `expected`
 * with the first's bucket ending where the next begins (so a range never
 * spans a market closure). Writes at most cap ranges; returns the total
 * number of ranges. *n_missing (may be NULL) gets the missing bar count. */
size_t fxp_gaps_diff(const struct fxp_align *al, fxp_tf tf,
                     const int64_t *expected, size_t n_expected,
                     const int64_t *present, size_t n_present,
                     struct fxp_gap_range *out, size_t cap,
                     uint64_t *n_missing);

/* Detect gaps of symbol/tf in [from, to) against the store: per-day counts
 * from the coverage summary, drilling into incomplete days only; range
 * states from the ledger. Returns FXP_OK or a store error (message in
 * errbuf). */
int fxp_gaps_detect(struct fxp_store *s, const struct fxp_calendar *cal,
                    const struct fxp_align *al, const char *symbol, fxp_tf tf,
                    int64_t from, int64_t to, const struct fxp_gaps_opts *o,
                    struct fxp_gap_report *out, char *errbuf, size_t errlen);

#endif
