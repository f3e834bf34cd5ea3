/*
 * pipeline.c - reader -> process -> store on three threads (pipeline.h).
 *
 * Design notes:
 * 1. Memory is bounded by construction: every batch comes from one of two
 *    fixed pools (free_in, free_out), each queue_batches + 3 deep, and a
 *    stage that finds its pool empty waits. Nothing allocates per record.
 * 2. Unparsable lines are reported by the source from inside its read
 *    call; they are collected in a REJECTS batch of their own, which is
 *    pushed when full, so a file of garbage cannot overflow anything.
 * 3. Every out batch is one store transaction (bars, ticks and rejects of
 *    one in batch together), so a crash or a failed write never leaves a
 *    batch half-stored.
 * 4. Stop: the reader stops reading, closes q_in; the processor drains
 *    q_in, flushes the engine, closes q_out; the writer drains q_out. After
 *    a store failure the writer keeps draining (discarding) so that every
 *    thread ends; the reader stops at its next batch.
 * 5. The journal (when configured): the reader appends every tick before
 *    pushing it, so nothing reaches the engine that is not on disk. Each
 *    store transaction also records "seq,replay_ts,feed": the last journal
 *    sequence it covers and the open time of the oldest bar the engine
 *    still held. A restart feeds back every record after seq and every
 *    record at or after replay_ts - lateness (the ticks of bars that were
 *    open or still revisable), then skips, in the live source, the
 *    positions already journaled. The replayed ticks rebuild the same bars
 *    with the same versions, so the store ends as if nothing had happened
 *    (tests/chaos). A clean stop records the replay time of before its
 *    flush, so bars stored early are completed after the restart.
 */
#include "fxpipe/pipeline.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fxpipe/calendar.h"
#include "fxpipe/err.h"
#include "fxpipe/queue.h"
#include "fxpipe/source.h"
#include "fxpipe/store.h"
#include "fxpipe/symbol.h"
#include "fxpipe/tickrec.h"
#include "fxpipe/time.h"
#include "fxpipe/aggregate.h"
#include "pipeline/pipeline_int.h"

void fxp__pipe_set_error(struct pipe *p, int err, const char *msg)
{
    pthread_mutex_lock(&p->err_mu);
    if (!p->err) {
        p->err = err;
        snprintf(p->errbuf, sizeof p->errbuf, "%s", msg);
    }
    pthread_mutex_unlock(&p->err_mu);
    atomic_store(&p->failed, 1);
}

bool fxp__pipe_stopping(const struct pipe *p)
{
    return (p->stop && *p->stop) || atomic_load(&p->failed);
}

void fxp_pipeline_cfg_default(struct fxp_pipeline_cfg *c,
                              const struct fxp_tz *ny)
{
    memset(c, 0, sizeof *c);
    fxp_agg_cfg_default(&c->agg, ny);
    fxp_validate_cfg_default(&c->validate);
    fxp_retryq_cfg_default(&c->retry);
    c->breaker_threshold = 5;
    c->breaker_open_ms = 30000;
    c->stop_deadline_ms = 30000;
    c->pause_warn_ms = 600000;
    c->slow_ms = 1000;
    c->batch_size = 4096;
    c->queue_batches = 16;
}

/* ---- set-up ---- */

static void snapshot(struct pipe *p, struct fxp_pipeline_stats *s, double t0)
{
    s->ticks_read = atomic_load(&p->ticks_read);
    s->bars_read = atomic_load(&p->bars_read);
    s->replayed = atomic_load(&p->replayed);
    s->bad_lines = atomic_load(&p->bad_lines);
    for (int r = 0; r < FXP_R_COUNT; r++)
        s->rejected[r] = atomic_load(&p->rejected[r]);
    for (int k = 0; k < FXP_TF_COUNT; k++)
        s->bars_stored[k] = atomic_load(&p->bars_stored[k]);
    s->ticks_stored = atomic_load(&p->ticks_stored);
    s->store_writes = atomic_load(&p->store_writes);
    s->store_retries = atomic_load(&p->store_retries);
    s->dead_lettered = atomic_load(&p->dead_lettered);
    s->paused_ms = atomic_load(&p->paused_ms);
    s->pauses = atomic_load(&p->pauses);
    s->queue_growth = atomic_load(&p->growth);
    s->max_queue_growth = atomic_load(&p->max_growth);
    s->bytes_done = atomic_load(&p->bytes_done);
    s->bytes_total = atomic_load(&p->bytes_total);
    s->max_depth_in = p->q_in ? fxp_queue_max_depth(p->q_in) : 0;
    s->max_depth_out = p->q_out ? fxp_queue_max_depth(p->q_out) : 0;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    s->elapsed_s = (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9 - t0;
}

static void teardown(struct pipe *p, size_t pool)
{
    for (size_t i = 0; p->in_pool && i < pool; i++) {
        free(p->in_pool[i].buf);
        free(p->in_pool[i].pos);
    }
    for (size_t i = 0; p->out_pool && i < pool; i++) {
        free(p->out_pool[i].bars);
        free(p->out_pool[i].ticks);
        free(p->out_pool[i].rejs);
        free(p->out_pool[i].views);
    }
    free(p->in_pool);
    free(p->out_pool);
    fxp_queue_free(p->q_in);
    fxp_queue_free(p->q_j);
    fxp_queue_free(p->q_out);
    fxp_queue_free(p->free_in);
    fxp_queue_free(p->free_out);
    fxp_agg_free(p->agg);
    fxp_validator_free(p->val);
    free(p->good);
    free(p->good_pos);
    free(p->late);
    free(p->jbuf);
    fxp__pipe_writer_teardown(p);
    pthread_mutex_destroy(&p->src_mu);
    pthread_mutex_destroy(&p->err_mu);
}

static int setup(struct pipe *p, size_t pool)
{
    const struct fxp_pipeline_cfg *c = p->cfg;
    size_t bs = c->batch_size;
    size_t rec = sizeof(struct fxp_bar) > sizeof(struct fxp_tick)
                     ? sizeof(struct fxp_bar)
                     : sizeof(struct fxp_tick);
    /* A REJECTS batch uses the same buffer as a record batch. */
    p->rej_cap = bs * rec / sizeof(struct rej);
    if (p->rej_cap < 16)
        p->rej_cap = 16;
    size_t in_bytes = bs * rec > p->rej_cap * sizeof(struct rej)
                          ? bs * rec
                          : p->rej_cap * sizeof(struct rej);
    p->q_in = fxp_queue_new(c->queue_batches);
    p->q_out = fxp_queue_new(c->queue_batches);
    if (c->journal && !(p->q_j = fxp_queue_new(c->queue_batches)))
        return FXP_ENOMEM;
    p->free_in = fxp_queue_new(pool);
    p->free_out = fxp_queue_new(pool);
    p->in_pool = calloc(pool, sizeof *p->in_pool);
    p->out_pool = calloc(pool, sizeof *p->out_pool);
    p->val = fxp_validator_new(&c->validate, c->agg.max_symbols);
    p->agg = fxp_agg_new(&c->agg, fxp__pipe_on_bar, p);
    p->good = malloc(bs * sizeof *p->good);
    p->good_pos = malloc(bs * sizeof *p->good_pos);
    p->late = malloc(bs * sizeof *p->late);
    if (!p->q_in || !p->q_out || !p->free_in || !p->free_out || !p->in_pool ||
        !p->out_pool || !p->val || !p->agg || !p->good || !p->good_pos ||
        !p->late)
        return FXP_ENOMEM;
    for (size_t i = 0; i < pool; i++) {
        struct inb *in = &p->in_pool[i];
        struct outb *o = &p->out_pool[i];
        in->buf = malloc(in_bytes);
        in->pos = malloc(bs * sizeof *in->pos);
        o->bars = malloc(bs * sizeof *o->bars);
        o->ticks = c->keep_ticks ? malloc(bs * sizeof *o->ticks) : NULL;
        o->rejs = malloc(p->rej_cap * sizeof *o->rejs);
        o->views = malloc(p->rej_cap * sizeof *o->views);
        if (!in->buf || !in->pos || !o->bars || !o->rejs || !o->views ||
            (c->keep_ticks && !o->ticks))
            return FXP_ENOMEM;
        fxp_queue_push(p->free_in, in, 0);
        fxp_queue_push(p->free_out, o, 0);
    }
    return FXP_OK;
}

/* Where the journal stands in the store (note 5): "seq,replay_ts,feed".
 * A journal fed by another feed is refused (FXP_EEXIST, message set). */
static int journal_state(struct pipe *p, char *errbuf, size_t errlen)
{
    char v[400];
    p->j_applied = 0;
    p->j_replay_ts = INT64_MIN;
    p->jbuf = malloc(JBATCH_MAX * FXP_TICKREC_MAX);
    if (!p->jbuf)
        return FXP_ENOMEM;
    int rc = fxp_store_meta_get(p->store, "journal", v, sizeof v);
    if (rc == FXP_ENOENT)
        return FXP_OK;
    if (rc != FXP_OK) {
        snprintf(errbuf, errlen, "%s", fxp_store_errmsg(p->store));
        return FXP_EEXIST;
    }
    unsigned long long seq;
    long long ts;
    int used = 0;
    if (sscanf(v, "%llu,%lld,%n", &seq, &ts, &used) != 2 || !used) {
        snprintf(errbuf, errlen, "bad journal state '%s' in the store", v);
        return FXP_EEXIST;
    }
    const char *feed = p->cfg->feed_id ? p->cfg->feed_id : "";
    if (strcmp(v + used, feed)) {
        snprintf(errbuf, errlen,
                 "the journal '%s' belongs to the feed '%s', not '%s': remove "
                 "it (and the database) or use another journal directory",
                 p->cfg->journal_dir, v + used, feed);
        return FXP_EEXIST;
    }
    p->j_applied = seq;
    p->j_replay_ts = ts;
    return FXP_OK;
}

int fxp_pipeline_run(const struct fxp_pipeline_cfg *cfg,
                     fxp_source_open_fn open, void *open_ud, size_t n_sources,
                     struct fxp_symtab *st, struct fxp_store *store,
                     const volatile sig_atomic_t *stop,
                     fxp_progress_fn progress, void *ud,
                     struct fxp_pipeline_stats *stats, char *errbuf,
                     size_t errlen)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    double t0 = (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
    struct pipe *p = calloc(1, sizeof *p);
    if (!p)
        return FXP_ENOMEM;
    p->cfg = cfg;
    p->open = open;
    p->open_ud = open_ud;
    p->n_sources = n_sources;
    p->st = st;
    p->store = store;
    p->stop = stop;
    p->hours.cal = cfg->cal;
    p->stop_at = INT64_MAX;
    pthread_mutex_init(&p->src_mu, NULL);
    pthread_mutex_init(&p->err_mu, NULL);
    size_t pool = cfg->queue_batches * (cfg->journal ? 2 : 1) + 4; /* note 1 */
    int rc =
        cfg->batch_size && cfg->queue_batches ? setup(p, pool) : FXP_EINVAL;
    if (rc == FXP_OK)
        rc = fxp__pipe_writer_setup(p);
    if (rc == FXP_OK && cfg->journal)
        rc = journal_state(p, errbuf, errlen);
    if (rc != FXP_OK) {
        if (rc != FXP_EEXIST)
            snprintf(errbuf, errlen, "cannot start the pipeline: %s",
                     fxp_strerror(rc));
        else
            rc = FXP_EINVAL;
        teardown(p, pool);
        free(p);
        return rc;
    }
    /* reader [-> journaler] -> processor -> writer */
    pthread_t th[4];
    void *(*mains[4])(void *) = {fxp__pipe_reader, fxp__pipe_process,
                                 fxp__pipe_writer, fxp__pipe_journaler};
    int want = cfg->journal ? 4 : 3, started = 0;
    for (; started < want; started++)
        if (pthread_create(&th[started], NULL, mains[started], p))
            break;
    if (started < want) {
        /* Cannot happen in practice; end the ones that run. */
        fxp__pipe_set_error(p, FXP_ENOMEM, "cannot start pipeline threads");
        if (p->q_j)
            fxp_queue_close(p->q_j);
        fxp_queue_close(p->q_in);
        fxp_queue_close(p->q_out);
    }
    /* Watch: progress and stop requests (a paced read may be sleeping),
     * and the input queues' growth rate, sampled every second. */
    int ticks = 0;
    size_t last_depth = 0;
    while (started == want) {
        struct timespec nap = {0, 50 * 1000000L};
        nanosleep(&nap, NULL);
        if (stop && *stop) {
            pthread_mutex_lock(&p->src_mu);
            if (p->cur_src)
                fxp_source_interrupt(p->cur_src);
            pthread_mutex_unlock(&p->src_mu);
        }
        if (++ticks % 20 == 0) {
            size_t depth = fxp_queue_depth(p->q_in) +
                           (p->q_j ? fxp_queue_depth(p->q_j) : 0);
            int64_t growth = (int64_t)depth - (int64_t)last_depth;
            atomic_store(&p->growth, growth);
            if (growth > (int64_t)atomic_load(&p->max_growth))
                atomic_store(&p->max_growth, (uint64_t)growth);
            last_depth = depth;
        }
        if (progress && ticks % 4 == 0) {
            struct fxp_pipeline_stats s;
            snapshot(p, &s, t0);
            progress(ud, &s);
        }
        if (atomic_load(&p->done)) /* the writer ends last */
            break;
    }
    for (int i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    if (stats)
        snapshot(p, stats, t0);
    rc = p->err;
    if (rc)
        snprintf(errbuf, errlen, "%s", p->errbuf);
    teardown(p, pool);
    free(p);
    return rc;
}
