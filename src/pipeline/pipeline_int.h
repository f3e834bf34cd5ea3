/*
 * pipeline_int.h - what the pipeline's stages share (internal): batch
 * types, the pipe, and each stage's entry point. See pipeline.c for the
 * design notes.
 */
#ifndef FXPIPE_PIPELINE_INT_H
#define FXPIPE_PIPELINE_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "fxpipe/calendar.h"
#include "fxpipe/pipeline.h"
#include "fxpipe/symbol.h"

#define ORIGIN_MAX 200
#define JBATCH_MAX 1024 /* journal records per append call */
#define DETAIL_MAX 256

enum bkind { B_TICKS, B_BARS, B_REJECTS };

struct rej {
    char origin[ORIGIN_MAX];
    char detail[DETAIL_MAX];
    char symbol[FXP_SYMBOL_MAX];
    int64_t ts;
    fxp_reason reason;
};

struct inb {
    enum bkind kind;
    size_t n;
    void *buf;                    /* ticks, bars or rejects */
    uint64_t *pos;                /* line or sequence numbers */
    char origin[ORIGIN_MAX - 24]; /* "file.csv" for "file.csv:123" */
    uint64_t seq_last;            /* journal seq of the last tick, or 0 */
    bool to_journal;              /* new ticks the journaler must append */
};

struct outb {
    struct fxp_bar *bars;
    struct fxp_tick *ticks;
    struct rej *rejs;
    struct fxp_reject *views; /* fxp_reject pointing into rejs */
    size_t n_bars, n_ticks, n_rejs;
    uint64_t seq;   /* journal seq applied with this batch (0: none) */
    char meta[320]; /* "seq,replay_ts,feed" for the store's meta */
};

struct pipe {
    const struct fxp_pipeline_cfg *cfg;
    fxp_source_open_fn open;
    void *open_ud;
    size_t n_sources;
    struct fxp_symtab *st;
    struct fxp_store *store;
    const volatile sig_atomic_t *stop;

    size_t rej_cap;
    struct fxp_queue *q_in, *q_out, *free_in, *free_out;
    struct fxp_queue *q_j; /* reader -> journaler (with a journal only) */
    struct inb *in_pool;
    struct outb *out_pool;

    /* reader */
    struct inb *bad; /* REJECTS batch being filled by on_bad */
    pthread_mutex_t src_mu;
    struct fxp_source *cur_src;

    /* processor */
    struct fxp_agg *agg;
    struct fxp_validator *val;
    struct fxp_cal_cursor hours;
    struct outb *out;
    struct fxp_tick *good;
    uint64_t *good_pos;
    uint32_t *late;

    /* shared */
    atomic_int failed;
    pthread_mutex_t err_mu;
    int err;
    char errbuf[512];
    atomic_uint_fast64_t ticks_read, bars_read, bad_lines, ticks_stored,
        store_writes, bytes_done, bytes_total;
    atomic_uint_fast64_t rejected[FXP_R_COUNT];
    atomic_uint_fast64_t bars_stored[FXP_TF_COUNT];
    atomic_int done;

    /* journal (pipeline.c, note 5) */
    uint64_t j_applied;               /* from the store at start */
    int64_t j_replay_ts;              /* INT64_MIN: replay everything */
    unsigned char *jbuf;              /* JBATCH_MAX encoded records */
    uint64_t since_retain;            /* reader: batches since retention */
    uint64_t journaled;               /* journaler: new records on disk */
    atomic_uint_fast64_t applied_seq; /* writer: last committed seq */
    atomic_uint_fast64_t replayed;    /* ticks fed back from the journal */
    uint64_t proc_seq;                /* processor: last seq processed */

    /* writer (pipeline_writer.c) */
    struct fxp_retryq *retry;
    struct fxp_breaker *breaker;
    struct fxp_dlq *dlq; /* opened at the first dead letter */
    uint64_t write_calls;
    int64_t stop_at; /* stop deadline (monotonic ms), INT64_MAX: none */
    char last_err[512];
    atomic_uint_fast64_t store_retries, dead_lettered;
    atomic_uint_fast64_t paused_ms; /* reader: waiting for room */
    atomic_uint_fast64_t pauses;    /* reader: high watermark reached */
    atomic_int_fast64_t growth;     /* input queues, batches per second */
    atomic_uint_fast64_t max_growth;
};

/* Record the first error (message copied) and make every stage stop. */
void fxp__pipe_set_error(struct pipe *p, int err, const char *msg);

/* True once a stop was requested or an error happened. */
bool fxp__pipe_stopping(const struct pipe *p);

/* The engine's bar callback (ud: struct pipe *), in pipeline_proc.c. */
void fxp__pipe_on_bar(void *ud, const struct fxp_bar *b, bool revision);

/* The writer's breaker and retry queue (pipeline_writer.c). */
int fxp__pipe_writer_setup(struct pipe *p);
void fxp__pipe_writer_teardown(struct pipe *p);

/* The three stages' thread functions (arg: struct pipe *). */
void *fxp__pipe_reader(void *arg);
void *fxp__pipe_process(void *arg);
void *fxp__pipe_writer(void *arg);
void *fxp__pipe_journaler(void *arg);

#endif
