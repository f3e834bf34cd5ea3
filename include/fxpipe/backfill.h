/*
 * backfill.h - fill missing periods of a series from a historical source,
 * verify them in the store and keep the period ledger.
 *
 * The unit of work is a UTC day of one symbol and timeframe (1m). A run
 * plans the days that are expected to have bars, are not complete in the
 * store and are not done in the ledger; fetches them in requests of
 * consecutive days; validates and stores the bars; rebuilds the higher
 * timeframes of the affected weeks from the stored 1m bars; verifies that
 * every fetched bar is present; and records per day `verified`,
 * `confirmed-empty` (the source had nothing), or after max_attempts failed
 * attempts `needs-review`. The ledger is written only after verification,
 * so a run killed at any moment is resumed by running it again, and the
 * idempotent store makes the repeated work harmless.
 */
#ifndef FXPIPE_BACKFILL_H
#define FXPIPE_BACKFILL_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fxpipe/polygon.h"
#include "fxpipe/timeframe.h"
#include "fxpipe/validate.h"

struct fxp_calendar;
struct fxp_store;
struct fxp_symtab;

/* A historical source: deliver the bars of symbol/tf with open time in
 * [from, to) page by page through fn; return FXP_OK, FXP_EUNAVAIL (may
 * succeed later), or another error (fatal for the run), with a message. */
typedef int (*fxp_fetch_fn)(void *ud, const char *symbol, fxp_tf tf,
                            int64_t from, int64_t to, fxp_polygon_page_fn fn,
                            void *page_ud, char *errbuf, size_t errlen);

struct fxp_backfill_cfg {
    const struct fxp_calendar *cal;
    struct fxp_align align;
    struct fxp_validate_cfg validate;
    int max_attempts;     /* failed attempts before needs-review (3) */
    int days_per_request; /* consecutive days fetched at once (30) */
    bool force;           /* also days the ledger or store call done */
};

void fxp_backfill_cfg_default(struct fxp_backfill_cfg *c,
                              const struct fxp_calendar *cal,
                              const struct fxp_tz *ny);

struct fxp_backfill_stats {
    uint64_t days_planned;  /* days needing work */
    uint64_t days_verified; /* stored and verified */
    uint64_t days_empty;    /* confirmed empty */
    uint64_t days_review;   /* failed max_attempts times */
    uint64_t requests;      /* fetch calls */
    uint64_t bars_fetched;  /* valid 1m bars received */
    uint64_t bars_rejected; /* invalid bars received (stored as rejects) */
    uint64_t bars_rebuilt;  /* higher-timeframe bars written */
};

/* Called after each request with the stats so far. */
typedef void (*fxp_backfill_progress_fn)(void *ud,
                                         const struct fxp_backfill_stats *s);

/* Back-fill 1m bars of `symbol` (normalised) for [from, to). Returns
 * FXP_OK (days that failed are in the stats and the ledger), a fatal
 * fetch error (e.g. FXP_EINVAL: the source rejected the API key), or a
 * store error; message in errbuf. *stop (may be NULL) ends the run after
 * the current request. */
int fxp_backfill_run(struct fxp_store *s, const struct fxp_backfill_cfg *cfg,
                     fxp_fetch_fn fetch, void *fetch_ud, struct fxp_symtab *st,
                     const char *symbol, int64_t from, int64_t to,
                     const volatile sig_atomic_t *stop,
                     fxp_backfill_progress_fn progress, void *progress_ud,
                     struct fxp_backfill_stats *stats, char *errbuf,
                     size_t errlen);

#endif
