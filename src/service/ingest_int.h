/*
 * ingest_int.h - what the ingest service's parts share (internal):
 * ingest.c (set-up, recovery, the watch loop), ingest_intake.c (source ->
 * validate -> dead-letter file + journal) and ingest_pub.c (journal ->
 * bus). See docs/services/ingest.md.
 */
#ifndef FXPIPE_INGEST_INT_H
#define FXPIPE_INGEST_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "fxpipe/calendar.h"
#include "fxpipe/ingest.h"
#include "fxpipe/symbol.h"

#define ING_JBATCH     1024 /* journal records per append call */
#define ING_ORIGIN_MAX 200
#define ING_DETAIL_MAX 256
#define ING_STATE_FILE "published.state"
#define ING_FEED_FILE  "feed.id"

/* A rejected record waiting for the dead-letter file. */
struct ing_rej {
    char origin[ING_ORIGIN_MAX];
    char detail[ING_DETAIL_MAX];
    char symbol[FXP_SYMBOL_MAX];
    int64_t ts;
    fxp_reason reason;
    uint64_t pos; /* source position */
    bool parse;   /* an unparsable line (else a judged tick) */
};

struct fxp_ingest {
    struct fxp_ingest_cfg cfg; /* copied; strings borrowed */
    char id[FXP_INGEST_ID_MAX + 1];
    fxp_source_open_fn open;
    void *open_ud;
    struct fxp_symtab *st; /* the source's; intake thread only */
    struct fxp_journal *j; /* written by the intake thread only */
    struct fxp_validator *val;
    struct fxp_cal_cursor hours;
    struct fxp_dlq *dlq;    /* NULL: rejects counted only */
    struct fxp_breaker *br; /* around publish + flush */
    uint64_t skip_pos;      /* source position of the newest journaled
                               record at start */
    uint64_t dlq_val_pos;   /* rejected ticks at or below, unparsable */
    uint64_t dlq_parse_pos; /* lines at or below: in the dead-letter file
                               already (ingest_intake.c, note 2) */
    bool new_feed;          /* the feed changed on an empty journal */

    /* Intake (ingest_intake.c). */
    pthread_mutex_t src_mu;
    struct fxp_source *cur_src; /* interrupted by the watch loop */
    struct fxp_tick *buf;
    uint64_t *pos;
    unsigned char *jbuf; /* ING_JBATCH encoded records */
    struct ing_rej *rej;
    size_t n_rej, cap_rej;
    char origin[ING_ORIGIN_MAX - 24];
    atomic_int_fast64_t last_sync_ms; /* monotonic; the watch loop nudges */

    /* Shared. */
    pthread_mutex_t mu; /* with cv: new durable records, stop */
    pthread_cond_t cv;
    atomic_uint_fast64_t head;      /* last sequence appended */
    atomic_uint_fast64_t durable;   /* last sequence the publisher may
                                       take (on disk per the policy) */
    atomic_uint_fast64_t published; /* last sequence the bus confirmed */
    atomic_int stop_intake;         /* intake: stop reading */
    atomic_int stopping;            /* publisher: drain until stop_at */
    atomic_int_fast64_t stop_at;    /* monotonic ms */
    atomic_int intake_done, pub_done, failed;
    pthread_mutex_t err_mu;
    int err;
    char errbuf[512];
    pthread_mutex_t ev_mu;

    /* Counters (fxp_ingest_stats). */
    atomic_uint_fast64_t n_read, n_accepted, n_rejected, n_resent_rej;
    atomic_uint_fast64_t rej_by[FXP_R_COUNT];
    atomic_uint_fast64_t n_published, n_messages, n_resent, n_flush_fail;
    uint64_t start_seq;
    double t0, t_end; /* monotonic seconds: run start and end */

    /* The bus as the health check sees it (the publisher's view). */
    pthread_mutex_t bus_mu;
    bool bus_ok;
    char bus_detail[256];

    /* Metrics (NULL without a health endpoint: no-ops). */
    struct fxp_counter *m_accepted, *m_rejected, *m_published;
    struct fxp_gauge *m_backlog, *m_breaker;
};

/* Monotonic milliseconds. */
int64_t fxp__ing_now_ms(void);

/* An event line through cfg.on_event (serialised). */
void fxp__ing_event(struct fxp_ingest *g, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Record the first fatal error and make intake stop; the publisher then
 * drains within the stop deadline (or ends at once when from_pub). */
void fxp__ing_fail(struct fxp_ingest *g, int err, bool from_pub,
                   const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Wake the publisher (new records, stop, intake done). */
void fxp__ing_wake(struct fxp_ingest *g);

/* The publisher's view of the bus for the health check. */
void fxp__ing_bus_status(struct fxp_ingest *g, bool ok, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Where a start picks up (ingest_recover.c): feed check, published
 * state, validator priming, skip position, dead-letter positions. The
 * journal must be open. FXP_OK or an error with errbuf. */
int fxp__ing_recover(struct fxp_ingest *g, char *errbuf, size_t errlen);

/* Thread functions (arg: struct fxp_ingest *). */
void *fxp__ing_intake(void *arg);
void *fxp__ing_publisher(void *arg);

#endif
