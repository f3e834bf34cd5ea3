/*
 * pipeline_writer.c - the store stage: one transaction per out batch
 * (pipeline.c, note 3), behind a circuit breaker, with retries and the
 * dead-letter file.
 *
 * Design notes:
 * 1. Batches are stored strictly in order. When the head batch fails, it
 *    waits for its next attempt (1, 2, 4 ... 32 s with jitter, and only
 *    while the breaker allows calls) and nothing behind it is written:
 *    the journal state a batch records must never run ahead of a batch
 *    not yet stored. Meanwhile q_out fills, the processor and then the
 *    reader wait: the source is paused, nothing is dropped.
 * 2. After the last attempt, a batch that can still not be stored is
 *    encoded into the dead-letter file with the reason and the error, and
 *    the writer goes on; `fxpipe dlq replay` stores it later. Without a
 *    dead-letter file the job stops with the error instead (the journal
 *    still holds the ticks).
 * 3. A stop request gives a failing store stop_deadline_ms more; then
 *    every remaining batch is dead-lettered (or the job fails).
 */
#include <inttypes.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fxpipe/batchcodec.h"
#include "fxpipe/breaker.h"
#include "fxpipe/dlq.h"
#include "fxpipe/err.h"
#include "fxpipe/queue.h"
#include "fxpipe/retryq.h"
#include "fxpipe/store.h"
#include "pipeline/pipeline_int.h"

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void nap_ms(int64_t ms)
{
    if (ms <= 0)
        return;
    struct timespec d = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    nanosleep(&d, NULL);
}

/* Apply the tick retention window (the store knows its length). */
static void prune(struct pipe *p)
{
    if (fxp_store_prune_ticks(p->store, NULL) != FXP_OK)
        fxp__pipe_set_error(p, FXP_EIO, fxp_store_errmsg(p->store));
}

static void event(struct pipe *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void event(struct pipe *p, const char *fmt, ...)
{
    if (!p->cfg->on_event)
        return;
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    p->cfg->on_event(p->cfg->event_ud, msg);
}

static void view(struct pipe *p, struct outb *o, struct fxp_store_batch *sb)
{
    for (size_t i = 0; i < o->n_rejs; i++) {
        const struct rej *r = &o->rejs[i];
        o->views[i] = (struct fxp_reject){.origin = r->origin,
                                          .ts_ms = r->ts,
                                          .symbol = r->symbol,
                                          .reason = r->reason,
                                          .detail = r->detail,
                                          .raw = ""};
    }
    *sb = (struct fxp_store_batch){.bars = o->bars,
                                   .n_bars = o->n_bars,
                                   .ticks = o->ticks,
                                   .n_ticks = o->n_ticks,
                                   .rejects = o->views,
                                   .n_rejects = o->n_rejs,
                                   .symtab = p->st,
                                   .meta_key = o->seq ? "journal" : NULL,
                                   .meta_value = o->seq ? o->meta : NULL};
}

/* One store call, or an injected failure (the test knob). */
static int write_once(struct pipe *p, struct outb *o)
{
    if (p->cfg->write_delay_ms > 0)
        nap_ms(p->cfg->write_delay_ms);
    uint64_t n = ++p->write_calls;
    const struct fxp_pipeline_cfg *c = p->cfg;
    if (c->test_fail_from && n >= (uint64_t)c->test_fail_from &&
        (c->test_fail_count < 0 ||
         n < (uint64_t)(c->test_fail_from + c->test_fail_count))) {
        snprintf(p->last_err, sizeof p->last_err,
                 "store write %" PRIu64 " failed (injected fault)", n);
        return FXP_EIO;
    }
    struct fxp_store_batch sb;
    view(p, o, &sb);
    int64_t t0 = mono_ms();
    int rc = fxp_store_write(p->store, &sb);
    int64_t took = mono_ms() - t0;
    if (p->cfg->slow_ms > 0 && took >= p->cfg->slow_ms)
        event(p,
              "slow store write: %lld ms for %zu bars, %zu ticks, %zu "
              "rejects",
              (long long)took, o->n_bars, o->n_ticks, o->n_rejs);
    if (rc != FXP_OK)
        snprintf(p->last_err, sizeof p->last_err, "%s",
                 fxp_store_errmsg(p->store));
    return rc;
}

static void stored(struct pipe *p, struct outb *o)
{
    uint64_t w = atomic_fetch_add(&p->store_writes, 1) + 1;
    if (o->seq)
        atomic_store(&p->applied_seq, o->seq);
    if (p->cfg->keep_ticks && w % 256 == 0)
        prune(p);
    atomic_fetch_add(&p->ticks_stored, o->n_ticks);
    for (size_t i = 0; i < o->n_bars; i++)
        atomic_fetch_add(&p->bars_stored[o->bars[i].tf], 1);
}

/* Note 2: into the dead-letter file, or stop the job. */
static void dead_letter(struct pipe *p, struct outb *o, const char *reason,
                        int attempts)
{
    if (!p->cfg->dlq_path) {
        fxp__pipe_set_error(p, FXP_EIO, p->last_err);
        return;
    }
    if (!p->dlq) {
        char err[700];
        if (fxp_dlq_open(p->cfg->dlq_path, &p->dlq, err, sizeof err)) {
            char msg[1300];
            snprintf(msg, sizeof msg,
                     "cannot dead-letter a batch the store refused (%s): %s",
                     p->last_err, err);
            fxp__pipe_set_error(p, FXP_EIO, msg);
            return;
        }
    }
    struct fxp_store_batch sb;
    view(p, o, &sb);
    sb.meta_key = sb.meta_value = NULL; /* a cursor is stale by replay */
    void *buf = NULL;
    size_t len = 0;
    int rc = fxp_batch_encode(&sb, &buf, &len);
    struct fxp_dlq_entry e = {.attempts = attempts,
                              .n_records = o->n_bars + o->n_ticks + o->n_rejs,
                              .first_ts = INT64_MAX,
                              .last_ts = INT64_MIN};
    snprintf(e.kind, sizeof e.kind, "batch");
    snprintf(e.reason, sizeof e.reason, "%s", reason);
    snprintf(e.error, sizeof e.error, "%.255s", p->last_err);
    snprintf(e.source, sizeof e.source, "%s",
             p->cfg->job ? p->cfg->job : "pipeline");
    snprintf(e.correlation_id, sizeof e.correlation_id, "%s-%" PRIu64,
             p->cfg->correlation_id ? p->cfg->correlation_id : "batch",
             p->write_calls);
    for (size_t i = 0; i < o->n_bars; i++) {
        if (o->bars[i].ts_ms < e.first_ts)
            e.first_ts = o->bars[i].ts_ms;
        if (o->bars[i].ts_ms > e.last_ts)
            e.last_ts = o->bars[i].ts_ms;
    }
    if (e.first_ts > e.last_ts)
        e.first_ts = e.last_ts = 0;
    if (rc == FXP_OK)
        rc = fxp_dlq_put(p->dlq, &e, buf, len);
    free(buf);
    if (rc != FXP_OK) {
        char msg[700];
        snprintf(msg, sizeof msg,
                 "cannot dead-letter a batch the store refused (%s): %s",
                 p->last_err, fxp_dlq_errmsg(p->dlq));
        fxp__pipe_set_error(p, rc, msg);
        return;
    }
    atomic_fetch_add(&p->dead_lettered, 1);
    /* The batch is durable in the dead-letter file: the journal may move
     * past it. */
    if (o->seq)
        atomic_store(&p->applied_seq, o->seq);
    event(p, "batch dead-lettered after %d attempts (%s): %s", attempts, reason,
          p->last_err);
}

/* Store one batch, retrying per notes 1 and 3. */
static void store_batch(struct pipe *p, struct outb *o)
{
    int attempts = 0;
    int64_t *stop_at = &p->stop_at; /* one deadline for the whole stop */
    for (;;) {
        if (atomic_load(&p->failed))
            return; /* the job is ending with an error: discard */
        int64_t now = mono_ms();
        if (p->stop && *p->stop && *stop_at == INT64_MAX)
            *stop_at = now + p->cfg->stop_deadline_ms;
        if (p->breaker && !fxp_breaker_allow(p->breaker, now)) {
            if (now >= *stop_at) {
                dead_letter(p, o, "stop_deadline", attempts);
                return;
            }
            nap_ms(20);
            continue;
        }
        int rc = write_once(p, o);
        attempts++;
        if (rc == FXP_OK) {
            if (p->breaker)
                fxp_breaker_success(p->breaker, mono_ms());
            stored(p, o);
            return;
        }
        if (p->breaker)
            fxp_breaker_failure(p->breaker, mono_ms());
        if (!fxp_err_is_retriable(rc) && rc != FXP_ENOSPC) {
            dead_letter(p, o, "rejected_by_store", attempts);
            return;
        }
        if (mono_ms() >= *stop_at) { /* past the stop deadline: no retry */
            dead_letter(p, o, "stop_deadline", attempts);
            return;
        }
        atomic_fetch_add(&p->store_retries, 1);
        now = mono_ms();
        if (fxp_retryq_push(p->retry, o, 0, attempts, now) != FXP_OK) {
            dead_letter(p, o, "retries_exhausted", attempts);
            return;
        }
        if (attempts == 1)
            event(p, "store write failed, retrying with backoff: %s",
                  p->last_err);
        /* Wait for the attempt's due time (or the stop deadline). */
        void *item;
        int got;
        while ((got = fxp_retryq_pop_due(p->retry, mono_ms(), &item,
                                         &attempts)) == FXP_EAGAIN) {
            now = mono_ms();
            if (p->stop && *p->stop && *stop_at == INT64_MAX)
                *stop_at = now + p->cfg->stop_deadline_ms;
            if (now >= *stop_at) {
                fxp_retryq_pop_any(p->retry, &item, &attempts);
                dead_letter(p, o, "stop_deadline", attempts);
                return;
            }
            int64_t due = fxp_retryq_next_due(p->retry);
            nap_ms(due - now < 50 ? due - now : 50);
        }
    }
}

static void on_breaker(void *ud, const char *name, fxp_breaker_state from,
                       fxp_breaker_state to)
{
    event(ud, "circuit breaker '%s': %s -> %s", name,
          fxp_breaker_state_name(from), fxp_breaker_state_name(to));
}

int fxp__pipe_writer_setup(struct pipe *p)
{
    struct fxp_retryq_cfg rq = p->cfg->retry;
    rq.cap = 1; /* note 1: only the head batch waits */
    p->retry = fxp_retryq_new(&rq);
    if (!p->retry)
        return FXP_EINVAL;
    if (p->cfg->breaker_threshold > 0) {
        struct fxp_breaker_cfg bc;
        fxp_breaker_cfg_default(&bc, "store");
        bc.threshold = p->cfg->breaker_threshold;
        bc.open_ms = p->cfg->breaker_open_ms;
        bc.on_change = on_breaker;
        bc.ud = p;
        if (!(p->breaker = fxp_breaker_new(&bc)))
            return FXP_ENOMEM;
    }
    return FXP_OK;
}

void fxp__pipe_writer_teardown(struct pipe *p)
{
    fxp_retryq_free(p->retry);
    fxp_breaker_free(p->breaker);
    fxp_dlq_close(p->dlq);
}

void *fxp__pipe_writer(void *arg)
{
    struct pipe *p = arg;
    void *item;
    while (fxp_queue_pop(p->q_out, &item, -1) == FXP_OK) {
        struct outb *o = item;
        store_batch(p, o);
        fxp_queue_push(p->free_out, o, -1);
    }
    if (p->cfg->keep_ticks && !atomic_load(&p->failed))
        prune(p);
    atomic_store(&p->done, 1);
    return NULL;
}
