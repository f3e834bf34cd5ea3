/*
 * source.h - where ticks and bars come from: files in the common FX
 * formats, a tick file replayed as a live feed, and the synthetic feed.
 *
 * One handle type for all of them, so a pipeline reads every source the
 * same way; each backend is one file in src/source/. A source yields
 * either ticks or bars (fxp_source_kind). Records that cannot be parsed
 * are reported through the callback (file:line and reason) and skipped.
 * One thread per source.
 */
#ifndef FXPIPE_SOURCE_H
#define FXPIPE_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fxpipe/csv.h"
#include "fxpipe/types.h"

struct fxp_symtab;
struct fxp_source;

typedef enum fxp_kind { FXP_KIND_TICKS = 0, FXP_KIND_BARS = 1 } fxp_kind;

typedef enum fxp_format {
    FXP_FMT_AUTO = 0, /* decide from the first line and the file name */
    FXP_FMT_GENERIC,  /* header symbol,ts,bid,ask[,volume] or
                         symbol,ts,open,high,low,close,volume */
    FXP_FMT_HISTDATA, /* HistData.com ASCII, EST (UTC-5, no DST) */
    FXP_FMT_DUKASCOPY /* Dukascopy CSV exports, UTC Unix ms */
} fxp_format;

const char *fxp_format_name(fxp_format f);
int fxp_format_parse(const char *s, fxp_format *out);
const char *fxp_kind_name(fxp_kind k);
int fxp_kind_parse(const char *s, fxp_kind *out);

struct fxp_source_opts {
    fxp_format format;     /* FXP_FMT_AUTO by default */
    int kind;              /* fxp_kind, or -1 to decide from the file */
    const char *symbol;    /* for files without a symbol column */
    fxp_csv_bad_fn on_bad; /* may be NULL */
    void *ud;
    /* Diagnostics such as "symbol 'EURUSD' taken from the file name";
     * may be NULL. */
    void (*on_note)(void *ud, const char *msg);
};

void fxp_source_opts_default(struct fxp_source_opts *o);

/* Open a file ("-" = stdin). Errors: FXP_ENOENT/FXP_EIO (cannot open),
 * FXP_EPARSE (unknown or inconsistent format: errbuf says what was
 * expected), FXP_EINVAL (no symbol: none in the file, its name or opts). */
int fxp_source_open_file(const char *path, const struct fxp_source_opts *o,
                         struct fxp_symtab *st, struct fxp_source **out,
                         char *errbuf, size_t errlen);

/* The synthetic live feed (deterministic from the seed). */
struct fxp_synth_cfg {
    uint64_t seed;
    const char *symbols;   /* comma-separated, e.g. "EURUSD,XAUUSD" */
    int64_t from_ms;       /* first instant */
    int64_t to_ms;         /* end (exclusive) */
    double quotes_per_sec; /* mean quote rate per symbol when open (2.0) */
    double quiet_prob;     /* chance per hour of a quiet spell (0) */
    double outage_prob;    /* chance per day of a feed outage (0) */
    double bad_prob;       /* fraction of bad quotes (0) */
    const struct fxp_calendar *cal; /* silent when closed (borrowed) */
};

void fxp_synth_cfg_default(struct fxp_synth_cfg *c);

int fxp_source_open_synthetic(const struct fxp_synth_cfg *c,
                              struct fxp_symtab *st, struct fxp_source **out,
                              char *errbuf, size_t errlen);

/* Pace a tick source like a live feed: speed 1 = real time, N = N times
 * faster, 0 = as fast as possible. Takes ownership of `inner`. */
int fxp_source_pace(struct fxp_source *inner, double speed,
                    struct fxp_source **out);

/* What the source yields. */
fxp_kind fxp_source_kind(const struct fxp_source *s);

/* A short description for logs: "histdata ticks 'DAT_...csv'". */
const char *fxp_source_describe(const struct fxp_source *s);

/* Read up to cap records. pos[i] (pos may be NULL) gets the line number
 * (files) or sequence number (feeds) of record i. Returns the count, 0 at
 * the end; on a read error returns 0 with *err set (else FXP_OK). Reading
 * the wrong kind returns 0 with *err = FXP_EINVAL. */
size_t fxp_source_read_ticks(struct fxp_source *s, struct fxp_tick *out,
                             uint64_t *pos, size_t cap, int *err);
size_t fxp_source_read_bars(struct fxp_source *s, struct fxp_bar *out,
                            uint64_t *pos, size_t cap, int *err);

/* Drop the tick records whose position (line or sequence number) is <=
 * pos: a restarted feed skips what an earlier run already journaled.
 * Skipped records are read through without delay, so a paced source
 * wrapped around this one starts pacing at the first kept record.
 * Positions must grow within a source. */
void fxp_source_skip_through(struct fxp_source *s, uint64_t pos);

/* Drop, for one symbol, the tick records whose position is <= pos: for a
 * source whose positions grow per symbol rather than overall (the bus
 * source, where a position is the tick's ingest journal sequence). A
 * no-op for other sources. */
void fxp_source_skip_sym(struct fxp_source *s, uint32_t sym, uint64_t pos);

/* Does the source want to hear when its records are durable downstream
 * (fxp_source_durable)? */
bool fxp_source_wants_durable(const struct fxp_source *s);

/* The first n records read from s since it was opened are now held
 * durably by the next stage (a journal on disk): the bus source commits
 * the messages they came from. May be called from another thread while a
 * read is in progress. */
void fxp_source_durable(struct fxp_source *s, uint64_t n);

struct fxp_bus;

/* The TICKS stream of a bus as a tick source (source_bus.c). The bus must
 * be subscribed already and outlives the source. Each tick's position is
 * its ingest journal sequence (carried in the payload); ticks at or below
 * a symbol's highest position seen so far are duplicates of a republish
 * and are dropped. A read waits at most wait_ms for messages, then
 * returns 0 with *err = FXP_EAGAIN; the source never ends by itself
 * (fxp_source_interrupt). Messages are committed only through
 * fxp_source_durable. */
int fxp_source_open_bus(struct fxp_bus *bus, struct fxp_symtab *st, int wait_ms,
                        struct fxp_source **out, char *errbuf, size_t errlen);

/* Counters of a bus source (zeros for other sources). */
struct fxp_source_bus_stats {
    uint64_t messages;    /* fetched */
    uint64_t duplicates;  /* ticks dropped as already seen */
    uint64_t undecodable; /* payloads that were not batches (skipped) */
    uint64_t committed;   /* messages committed */
};
void fxp_source_bus_stats(const struct fxp_source *s,
                          struct fxp_source_bus_stats *out);

/* Progress for progress bars: bytes (files) or ms of feed time done and
 * the total; total 0 when unknown. */
void fxp_source_progress(const struct fxp_source *s, uint64_t *done,
                         uint64_t *total);

/* Ask a blocking source (a paced feed) to return from read at once; safe
 * from a signal handler or another thread. */
void fxp_source_interrupt(struct fxp_source *s);

void fxp_source_close(struct fxp_source *s);

#endif
