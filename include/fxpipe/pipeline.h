/*
 * pipeline.h - the embedded pipeline: sources -> validate -> aggregate ->
 * store, three stages on three threads joined by bounded queues.
 *
 *   reader --q_in--> process (validate, market hours, engine) --q_out--> store
 *
 * Batches come from fixed pools, so memory is bounded by the configuration
 * whatever the input size; a slow store makes the queues fill and the
 * reader wait. Each store write is one transaction. A stop request ends
 * intake; what was read is still processed, flushed and stored. Used by
 * `fxpipe run` and `fxpipe import`.
 */
#ifndef FXPIPE_PIPELINE_H
#define FXPIPE_PIPELINE_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fxpipe/aggregate.h"
#include "fxpipe/csv.h"
#include "fxpipe/retryq.h"
#include "fxpipe/validate.h"

struct fxp_source;
struct fxp_store;
struct fxp_symtab;
struct fxp_calendar;

struct fxp_pipeline_cfg {
    struct fxp_agg_cfg agg; /* bars: timeframes, session, price */
    struct fxp_validate_cfg validate;
    const struct fxp_calendar *cal; /* reject ticks when closed; NULL: keep */
    size_t batch_size;              /* records per batch (4096) */
    size_t queue_batches;           /* capacity of each queue (16) */
    bool keep_ticks;                /* hand accepted ticks to the store */
    int write_delay_ms;             /* test knob: a slower store (0) */
    bool validated_input; /* ticks were validated and filtered by market
                             hours upstream (the aggregate service reads
                             what ingest accepted): only the engine runs */
    /* The journal (NULL: none): ticks are appended before processing; the
     * store records, with each batch, the last sequence it holds and the
     * oldest bar still open, so a restart replays exactly what is needed
     * (pipeline.c, note 5). Borrowed; the reader thread writes to it. */
    struct fxp_journal *journal;
    const char *journal_dir; /* its directory, for replay */
    const char *feed_id;     /* what feeds this journal; a restart with a
                                different feed is refused */
    /* A failing store (pipeline_writer.c): batches are retried in order on
     * this schedule behind a breaker; after the last attempt they go to
     * the dead-letter file (NULL: the job stops with the error). */
    struct fxp_retryq_cfg retry;
    uint32_t breaker_threshold; /* 0: no breaker */
    int64_t breaker_open_ms;
    const char *dlq_path;     /* dead-letter file, opened (created) at the first
                                 dead letter; NULL: the job stops instead */
    int64_t stop_deadline_ms; /* after a stop request (30000) */
    const char *job;          /* names the job in dead-letter entries */
    const char *correlation_id; /* prefix of the entries' ids */
    /* Events worth a log line (breaker transitions, retries, dead
     * letters); called on pipeline threads. May be NULL. */
    void (*on_event)(void *ud, const char *msg);
    void *event_ud;
    int64_t pause_warn_ms; /* warn when the source waits this long (10 min) */
    int64_t slow_ms;       /* log store writes slower than this (1000) */
    /* Test knob: store writes number from .. from+count-1 fail with
     * FXP_EIO (count < 0: all from then on). 0: off. */
    int64_t test_fail_from, test_fail_count;
};

void fxp_pipeline_cfg_default(struct fxp_pipeline_cfg *c,
                              const struct fxp_tz *ny);

/* Counters, readable while running (progress) and final at the end. */
struct fxp_pipeline_stats {
    uint64_t ticks_read; /* records read from sources */
    uint64_t bars_read;
    uint64_t replayed;                  /* ticks fed back from the journal */
    uint64_t bad_lines;                 /* unparsable records */
    uint64_t rejected[FXP_R_COUNT];     /* by reason, bad lines included */
    uint64_t bars_stored[FXP_TF_COUNT]; /* bar rows written per timeframe */
    uint64_t ticks_stored;
    uint64_t store_writes;     /* transactions */
    uint64_t store_retries;    /* failed attempts retried */
    uint64_t dead_lettered;    /* batches in the dead-letter file */
    uint64_t paused_ms;        /* source paused by backpressure */
    uint64_t pauses;           /* times the high watermark hit */
    int64_t queue_growth;      /* input queues' growth, batches/s (last s) */
    uint64_t max_queue_growth; /* the highest growth seen, batches/s */
    uint64_t bytes_done, bytes_total;   /* current source's progress */
    size_t max_depth_in, max_depth_out; /* queue high-water marks */
    double elapsed_s;
};

/* Called about every 200 ms from the calling thread while running. */
typedef void (*fxp_progress_fn)(void *ud, const struct fxp_pipeline_stats *s);

/* Opens source number `index` for the pipeline; the source must report
 * unparsable lines through on_bad/bad_ud (they become stored rejects).
 * Returns FXP_OK or an error with a message in errbuf. Called on the
 * reader thread, one source at a time. */
typedef int (*fxp_source_open_fn)(void *ud, size_t index, fxp_csv_bad_fn on_bad,
                                  void *bad_ud, struct fxp_source **out,
                                  char *errbuf, size_t errlen);

/* Run sources 0..n_sources-1, one after another, through the pipeline into
 * `store` until they end or *stop becomes non-zero (may be NULL). The
 * symbol table is shared with the sources. Returns FXP_OK, or the error
 * that stopped the job (a source that cannot be opened or read; a store
 * write failure: FXP_EIO, FXP_ENOSPC, FXP_ETIMEDOUT) with a message in
 * errbuf; what was read before the error is still stored, and stats are
 * filled either way. */
int fxp_pipeline_run(const struct fxp_pipeline_cfg *cfg,
                     fxp_source_open_fn open, void *open_ud, size_t n_sources,
                     struct fxp_symtab *st, struct fxp_store *store,
                     const volatile sig_atomic_t *stop,
                     fxp_progress_fn progress, void *ud,
                     struct fxp_pipeline_stats *stats, char *errbuf,
                     size_t errlen);

#endif
