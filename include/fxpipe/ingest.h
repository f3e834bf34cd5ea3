/*
 * ingest.h - the ingest service: a live feed -> validation and market
 * hours -> the journal -> the bus's TICKS stream (docs/services/ingest.md).
 *
 * Two threads. The intake reads the source, validates each tick and
 * checks market hours exactly as `fxpipe run` does, appends the accepted
 * ticks to the journal and puts the rejected records (with their reason)
 * into the dead-letter file. The publisher follows the journal, groups
 * its records per symbol into messages (one encoded batch each, tick_pos
 * = the journal sequence), publishes and flushes them behind a circuit
 * breaker, and only then records the last published sequence
 * (DIR/published.state). While the bus is down the journal is the spool;
 * a restart resumes from the journal and the state. The library never
 * prints: events go to a callback.
 */
#ifndef FXPIPE_INGEST_H
#define FXPIPE_INGEST_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fxpipe/bus.h"
#include "fxpipe/journal.h"
#include "fxpipe/pipeline.h"
#include "fxpipe/validate.h"

struct fxp_calendar;
struct fxp_health;
struct fxp_symtab;
struct fxp_ingest;

#define FXP_INGEST_ID_MAX 16 /* bytes of an ingest id, NUL excluded */

struct fxp_ingest_cfg {
    const char *bus_url;         /* nats://... or kafka://... */
    struct fxp_bus_opts bus;     /* prefix, client id, timeouts */
    const char *journal_dir;     /* the journal and the state file */
    struct fxp_journal_opts jnl; /* fsync policy, segment size, retention */
    const char *dlq_path;        /* rejects; NULL: counted only */
    const char *id;      /* names this ingest in correlation ids ("ingest"):
                            [A-Za-z0-9_.-], at most FXP_INGEST_ID_MAX */
    const char *feed_id; /* what feeds the journal; a restart with another
                            feed is refused (NULL: not checked) */
    const char *origin;  /* names the source in reject origins when its
                            description has no file name (NULL: taken
                            from the source) */
    struct fxp_validate_cfg validate; /* as `fxpipe run` */
    const struct fxp_calendar *cal;   /* reject ticks when closed; NULL:
                                         keep */
    uint32_t max_symbols;             /* validator's symbols (4096) */
    size_t batch_size;                /* ticks per source read (4096) */
    uint32_t msg_ticks;         /* journal window per message group (4096): the
                                   records of seqs [k*n, (k+1)*n) of one symbol
                                   form at most one message */
    uint32_t group_windows;     /* windows per flush (8) */
    uint32_t breaker_threshold; /* failures that open the breaker (5) */
    int64_t breaker_open_ms;    /* open before a probe (30000) */
    int flush_timeout_ms;       /* one flush (5000) */
    int64_t stop_deadline_ms;   /* drain after a stop request (30000) */
    uint64_t backlog_warn;      /* first backlog level logged (10000; then
                                   every power of ten above it) */
    int64_t retain_every_ms;    /* journal retention period (10000) */
    /* Health endpoint (health.h) to register the bus check and the
     * metrics with; NULL: none. Must outlive the fxp_ingest. */
    struct fxp_health *health;
    /* Events worth a log line (breaker transitions, backlog, warnings);
     * called on the service's threads, never two at once. May be NULL. */
    void (*on_event)(void *ud, const char *msg);
    void *event_ud;
};

/* Defaults as noted above; bus options from fxp_bus_opts_default with a
 * connect timeout of 5 s (the breaker retries). */
void fxp_ingest_cfg_default(struct fxp_ingest_cfg *c);

struct fxp_ingest_stats {
    uint64_t read;     /* records read from the source (bad lines too) */
    uint64_t accepted; /* ticks journaled */
    uint64_t rejected; /* records put in the dead-letter file (or counted) */
    uint64_t rejected_by[FXP_R_COUNT];
    uint64_t resent_rejects; /* rejects of an earlier run seen again and
                                not put twice */
    uint64_t published;      /* ticks whose publication the bus confirmed */
    uint64_t messages;       /* messages published (first sends) */
    uint64_t resent;         /* messages sent again after a failed flush */
    uint64_t flush_failures; /* failed attempts: publish+flush, or an
                                idle open/ping of the bus */
    uint64_t breaker_opens;
    uint64_t journal_head;    /* last sequence in the journal (0: none) */
    uint64_t published_seq;   /* last sequence published (the state) */
    uint64_t start_seq;       /* published_seq at start */
    uint64_t skipped_through; /* source position skipped at start (0) */
    double elapsed_s;
};

/* Open what the service needs: the journal (a torn tail is truncated,
 * with a warning event), the feed check, the published state, the
 * dead-letter file; primes the validator with the newest journaled tick
 * of each symbol; registers the health check and metrics. open_fn opens
 * the source (index 0) on the intake thread; st is the source's symbol
 * table (used by the intake thread only). The bus is connected later, by
 * the publisher. Errors: FXP_EINVAL (bad id, bus url), FXP_EEXIST (the
 * journal is another feed's), FXP_EPARSE (a corrupt journal or state),
 * FXP_EIO/FXP_ENOSPC, FXP_ENOMEM, with a message in errbuf. */
int fxp_ingest_new(const struct fxp_ingest_cfg *cfg, fxp_source_open_fn open_fn,
                   void *open_ud, struct fxp_symtab *st,
                   struct fxp_ingest **out, char *errbuf, size_t errlen);

/* Run until the feed ends and everything journaled is published, or
 * *stop becomes non-zero: then intake stops, the publisher drains the
 * journal for at most stop_deadline_ms, and the run returns (what is left
 * stays in the journal for the next start). Returns FXP_OK, or the error
 * that stopped the service (the source cannot be opened or read, the
 * journal or the dead-letter file cannot be written, a corrupt journal,
 * an unusable bus url) with a message in errbuf. Call once. */
int fxp_ingest_run(struct fxp_ingest *ing, const volatile sig_atomic_t *stop,
                   char *errbuf, size_t errlen);

/* Counters; any thread, also while running. */
void fxp_ingest_stats(struct fxp_ingest *ing, struct fxp_ingest_stats *s);

/* Close the journal and the dead-letter file and free; NULL is a no-op.
 * Stop a health server registered with it first. */
void fxp_ingest_free(struct fxp_ingest *ing);

#endif
