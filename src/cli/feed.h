/*
 * feed.h - the live feed of `fxpipe run` and `fxpipe ingest`, opened the
 * same way by both: the synthetic feed (default: the last complete trading
 * week) or a replayed tick file (`replay:FILE`), paced by feed.speed.
 */
#ifndef FXPIPE_CLI_FEED_H
#define FXPIPE_CLI_FEED_H

#include <stddef.h>
#include <stdint.h>

#include "cli/common.h"
#include "fxpipe/csv.h"

struct fxp_source;
struct fxp_symtab;

struct fxp_cli_feed {
    const struct fxp_config *cfg;
    const struct fxp_cli_core *core; /* set by fxp_cli_feed_range */
    struct fxp_symtab *st;           /* the sources' symbol table */
    int64_t from, to;                /* the synthetic feed's range */
    double speed;                    /* 0 = as fast as possible */
};

/* Check feed.speed and feed.feed of cfg and remember cfg. Prints an error
 * naming cmd; returns an exit status. */
int fxp_cli_feed_check(struct fxp_cli_feed *f, const struct fxp_config *cfg,
                       const char *cmd);

/* The feed's time range (core must be open): feed.from / feed.to, else
 * the last complete trading week. Prints an error naming cmd; returns an
 * exit status. */
int fxp_cli_feed_range(struct fxp_cli_feed *f, const struct fxp_cli_core *core,
                       const char *cmd);

/* A fxp_source_open_fn (pipeline.h); ud is the struct fxp_cli_feed, whose
 * st must be set. */
int fxp_cli_feed_open(void *ud, size_t index, fxp_csv_bad_fn on_bad,
                      void *bad_ud, struct fxp_source **out, char *errbuf,
                      size_t errlen);

/* What feeds a journal: "synthetic:SYMBOLS:SEED:FROM:TO" or the feed text
 * ("replay:FILE"). A journal refuses a restart with another one. */
void fxp_cli_feed_id(const struct fxp_cli_feed *f, char *out, size_t len);

/* For the start-up line: "synthetic feed EURUSD,... (seed 1) FROM .. TO"
 * or the feed text. */
void fxp_cli_feed_describe(const struct fxp_cli_feed *f, char *out, size_t len);

#endif
