/*
 * bridge_int.h - the bridge's state shared by its files (internal):
 * bridge.c (life cycle and the fetch loop), bridge_batch.c (decoding and
 * merging the messages in hand), bridge_store.c (writing the batch to
 * every store with breaker, retries and the dead-letter file) and
 * bridge_health.c (cached status for /readyz, metrics).
 */
#ifndef FXPIPE_BRIDGE_INT_H
#define FXPIPE_BRIDGE_INT_H

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "fxpipe/bridge.h"
#include "fxpipe/bus.h"
#include "fxpipe/types.h"

struct fxp_breaker;
struct fxp_counter;
struct fxp_decoded_batch;
struct fxp_dlq;
struct fxp_gauge;
struct fxp_retryq;
struct fxp_store;
struct fxp_symtab;

/* Cached status of a dependency, written by the bridge's thread and read
 * by the health server's (under mu). */
struct bdep {
    pthread_mutex_t mu;
    int state;        /* 0 not connected yet, 1 ok, -1 failing */
    char detail[240]; /* what the last outcome was */
};

struct bstore {
    struct fxp_bridge *owner;
    char *url;       /* as given (copied) */
    char label[400]; /* redacted, for logs, labels and dead letters */
    bool optional;
    struct fxp_store *s;
    struct fxp_breaker *brk;
    struct fxp_retryq *rq; /* the backoff schedule (delay + jitter) */
    struct bdep dep;
    struct fxp_counter *c_bars;
    /* The batch in hand. */
    bool pending;
    bool splitting; /* one message at a time (bridge_store.c, note 5) */
    size_t split;   /* the message it is at */
    int attempts;
    int64_t next_at; /* monotonic ms of the next attempt */
    char last_err[512];
};

struct fxp_bridge {
    struct fxp_bridge_cfg cfg; /* strings point at copies below */
    char *bus_url, *group, *client_id, *prefix, *dlq_path, *source;
    char bus_label[400];
    struct bstore st[FXP_BRIDGE_MAX_STORES];
    size_t n;
    struct fxp_bus *bus;
    struct fxp_symtab *symtab;
    struct fxp_dlq *dlq;
    const volatile sig_atomic_t *stop;
    int64_t stop_at; /* INT64_MAX until a stop is seen */
    bool paused;     /* fxp_bus_pause(true) in force */
    int64_t last_keepalive, last_ping;
    bool ran;

    /* The messages in hand (bridge_batch.c). */
    struct fxp_decoded_batch **dec;
    size_t n_dec, cap_dec;
    struct fxp_bar *bars;
    size_t n_bars, cap_bars;
    struct fxp_tick *ticks;
    size_t n_ticks, cap_ticks;
    struct fxp_reject *rejs;
    size_t n_rejs, cap_rejs;
    size_t n_msgs;      /* messages handed out by the last fetch */
    char corr[64];      /* correlation id of the first of them */
    uint64_t batch_seq; /* batches handled, for correlation ids */
    int fatal;          /* an error that ends the run (no commit) */
    char fatal_msg[1600];

    /* Counts (fxp_bridge_stats_get may read them from another thread). */
    _Atomic uint64_t n_messages, n_batches, n_commits, n_bars_total,
        n_ticks_total, n_rejects_total, n_retries, n_dead, n_undecodable,
        n_uncommitted;
    _Atomic int64_t t_start, t_end;

    /* Health (bridge_health.c); all NULL without a health server. */
    struct bdep bus_dep;
    struct fxp_counter *c_msgs, *c_retries, *c_dead, *c_undec, *c_rejects;
    struct fxp_gauge *g_batch, *g_commit;
};

/* bridge.c */
int64_t fxp__bridge_now_ms(void);
void fxp__bridge_nap_ms(int64_t ms);
void fxp__bridge_log(struct fxp_bridge *br, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
bool fxp__bridge_stopping(struct fxp_bridge *br);

/* bridge_batch.c: the fetch callback decodes each message into the batch
 * in hand; merge builds the store batch; release frees it all. */
int fxp__bridge_on_msg(void *ud, const struct fxp_bus_msg *m);
int fxp__bridge_merge(struct fxp_bridge *br, struct fxp_store_batch *out);
void fxp__bridge_release(struct fxp_bridge *br);
void fxp__bridge_batch_free(struct fxp_bridge *br);
/* Append an entry to the dead-letter file (opened on first use). FXP_OK
 * or an error with br->fatal set. */
int fxp__bridge_dead_letter(struct fxp_bridge *br, const char *kind,
                            const char *reason, const char *error, int attempts,
                            const char *source, const char *corr,
                            const void *payload, size_t len, uint64_t n_records,
                            int64_t first_ts, int64_t last_ts);

/* bridge_store.c: write the merged batch to every store. FXP_OK when each
 * holds it or has it dead-lettered; FXP_ETIMEDOUT when the stop deadline
 * passed first; FXP_EIO when the dead-letter file failed (br->fatal). */
int fxp__bridge_deliver(struct fxp_bridge *br, const struct fxp_store_batch *b);
int fxp__bridge_store_setup(struct fxp_bridge *br, struct bstore *s);
void fxp__bridge_store_teardown(struct bstore *s);

/* bridge_health.c */
void fxp__bridge_dep_init(struct bdep *d);
void fxp__bridge_dep_destroy(struct bdep *d);
void fxp__bridge_dep_set(struct bdep *d, int state, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int fxp__bridge_health_setup(struct fxp_bridge *br, char *errbuf,
                             size_t errlen);

#endif
