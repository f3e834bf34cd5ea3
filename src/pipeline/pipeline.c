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
#include "fxpipe/time.h"

#define ORIGIN_MAX 200
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
};

struct outb {
    struct fxp_bar *bars;
    struct fxp_tick *ticks;
    struct rej *rejs;
    struct fxp_reject *views; /* fxp_reject pointing into rejs */
    size_t n_bars, n_ticks, n_rejs;
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
};

static void set_error(struct pipe *p, int err, const char *msg)
{
    pthread_mutex_lock(&p->err_mu);
    if (!p->err) {
        p->err = err;
        snprintf(p->errbuf, sizeof p->errbuf, "%s", msg);
    }
    pthread_mutex_unlock(&p->err_mu);
    atomic_store(&p->failed, 1);
}

static bool stopping(const struct pipe *p)
{
    return (p->stop && *p->stop) || atomic_load(&p->failed);
}

void fxp_pipeline_cfg_default(struct fxp_pipeline_cfg *c,
                              const struct fxp_tz *ny)
{
    memset(c, 0, sizeof *c);
    fxp_agg_cfg_default(&c->agg, ny);
    fxp_validate_cfg_default(&c->validate);
    c->batch_size = 4096;
    c->queue_batches = 16;
}

/* ---- reader ---- */

static struct inb *get_in(struct pipe *p)
{
    void *b = NULL;
    fxp_queue_pop(p->free_in, &b, -1);
    ((struct inb *)b)->n = 0;
    return b;
}

static void push_bad(struct pipe *p)
{
    if (p->bad && p->bad->n) {
        fxp_queue_push(p->q_in, p->bad, -1);
        p->bad = NULL;
    }
}

/* The on_bad callback given to sources (note 2). */
static void on_bad(void *ud, const char *path, uint64_t line_no,
                   fxp_reason reason, const char *detail)
{
    struct pipe *p = ud;
    if (!p->bad) {
        p->bad = get_in(p);
        p->bad->kind = B_REJECTS;
    }
    struct rej *r = &((struct rej *)p->bad->buf)[p->bad->n++];
    snprintf(r->origin, sizeof r->origin, "%s:%llu", path,
             (unsigned long long)line_no);
    snprintf(r->detail, sizeof r->detail, "%s", detail);
    r->symbol[0] = '\0';
    r->ts = 0;
    r->reason = reason;
    atomic_fetch_add(&p->bad_lines, 1);
    if (p->bad->n == p->rej_cap)
        push_bad(p);
}

/* "generic ticks 'x.csv'" -> "x.csv"; a description without quotes is
 * used whole ("synthetic feed ..." -> "synthetic"). */
static void origin_of(const char *desc, char *out, size_t len)
{
    const char *a = strchr(desc, '\'');
    const char *b = a ? strrchr(desc, '\'') : NULL;
    if (a && b > a + 1) {
        snprintf(out, len, "%.*s", (int)(b - a - 1), a + 1);
        return;
    }
    size_t n = strcspn(desc, " ");
    snprintf(out, len, "%.*s", (int)n, desc);
}

static void *reader_main(void *arg)
{
    struct pipe *p = arg;
    char err[512];
    for (size_t i = 0; i < p->n_sources && !stopping(p); i++) {
        struct fxp_source *src = NULL;
        int rc = p->open(p->open_ud, i, on_bad, p, &src, err, sizeof err);
        if (rc != FXP_OK) {
            set_error(p, rc, err);
            break;
        }
        pthread_mutex_lock(&p->src_mu);
        p->cur_src = src;
        pthread_mutex_unlock(&p->src_mu);
        enum bkind kind =
            fxp_source_kind(src) == FXP_KIND_BARS ? B_BARS : B_TICKS;
        char origin[sizeof p->in_pool[0].origin];
        origin_of(fxp_source_describe(src), origin, sizeof origin);
        while (!stopping(p)) {
            struct inb *b = get_in(p);
            b->kind = kind;
            memcpy(b->origin, origin, sizeof origin);
            int rerr = FXP_OK;
            b->n = kind == B_BARS
                       ? fxp_source_read_bars(src, b->buf, b->pos,
                                              p->cfg->batch_size, &rerr)
                       : fxp_source_read_ticks(src, b->buf, b->pos,
                                               p->cfg->batch_size, &rerr);
            uint64_t done, total;
            fxp_source_progress(src, &done, &total);
            atomic_store(&p->bytes_done, done);
            atomic_store(&p->bytes_total, total);
            if (b->n == 0) {
                fxp_queue_push(p->free_in, b, -1);
                if (rerr == FXP_EAGAIN)
                    continue; /* an interrupted paced read */
                if (rerr != FXP_OK) {
                    snprintf(err, sizeof err, "cannot read %s: %s",
                             fxp_source_describe(src), fxp_strerror(rerr));
                    set_error(p, rerr, err);
                }
                break;
            }
            atomic_fetch_add(kind == B_BARS ? &p->bars_read : &p->ticks_read,
                             b->n);
            fxp_queue_push(p->q_in, b, -1);
        }
        push_bad(p);
        pthread_mutex_lock(&p->src_mu);
        p->cur_src = NULL;
        pthread_mutex_unlock(&p->src_mu);
        fxp_source_close(src);
    }
    push_bad(p);
    fxp_queue_close(p->q_in);
    return NULL;
}

/* ---- processor ---- */

static struct outb *get_out(struct pipe *p)
{
    void *b = NULL;
    fxp_queue_pop(p->free_out, &b, -1);
    struct outb *o = b;
    o->n_bars = o->n_ticks = o->n_rejs = 0;
    return o;
}

static void push_out(struct pipe *p)
{
    struct outb *o = p->out;
    if (o->n_bars || o->n_ticks || o->n_rejs) {
        fxp_queue_push(p->q_out, o, -1);
        p->out = get_out(p);
    }
}

static void on_bar(void *ud, const struct fxp_bar *b, bool revision)
{
    (void)revision;
    struct pipe *p = ud;
    if (p->out->n_bars == p->cfg->batch_size)
        push_out(p);
    p->out->bars[p->out->n_bars++] = *b;
}

static struct rej *add_rej(struct pipe *p)
{
    if (p->out->n_rejs == p->rej_cap)
        push_out(p);
    return &p->out->rejs[p->out->n_rejs++];
}

static void reject_tick(struct pipe *p, const struct inb *b, uint64_t pos,
                        const struct fxp_tick *t, fxp_reason r)
{
    struct rej *e = add_rej(p);
    snprintf(e->origin, sizeof e->origin, "%s:%llu", b->origin,
             (unsigned long long)pos);
    fxp_reason_format_tick(r, t, e->detail, sizeof e->detail);
    const char *name = fxp_symtab_name(p->st, t->sym);
    snprintf(e->symbol, sizeof e->symbol, "%s", name ? name : "");
    e->ts = t->ts_ms;
    e->reason = r;
    atomic_fetch_add(&p->rejected[r], 1);
}

static void process_ticks(struct pipe *p, const struct inb *b)
{
    const struct fxp_tick *t = b->buf;
    size_t ng = 0;
    for (size_t i = 0; i < b->n; i++) {
        fxp_reason r = fxp_validate_tick(p->val, &t[i]);
        if (r == FXP_R_OK && p->cfg->cal &&
            !fxp_cal_cursor_is_open(&p->hours, t[i].ts_ms))
            r = FXP_R_CLOSED;
        if (r != FXP_R_OK) {
            reject_tick(p, b, b->pos[i], &t[i], r);
            continue;
        }
        p->good_pos[ng] = b->pos[i];
        p->good[ng++] = t[i];
    }
    size_t nlate = fxp_agg_ticks(p->agg, p->good, ng, p->late);
    for (size_t k = 0; k < nlate; k++)
        reject_tick(p, b, p->good_pos[p->late[k]], &p->good[p->late[k]],
                    FXP_R_LATE);
    if (!p->cfg->keep_ticks)
        return;
    size_t k = 0;
    for (size_t i = 0; i < ng; i++) {
        if (k < nlate && p->late[k] == i) {
            k++;
            continue;
        }
        if (p->out->n_ticks == p->cfg->batch_size)
            push_out(p);
        p->out->ticks[p->out->n_ticks++] = p->good[i];
    }
}

static void process_bars(struct pipe *p, const struct inb *b)
{
    const struct fxp_bar *bars = b->buf;
    for (size_t i = 0; i < b->n; i++) {
        fxp_reason r = fxp_validate_bar(p->val, &p->cfg->agg.align, &bars[i]);
        if (r == FXP_R_OK)
            r = fxp_agg_bar(p->agg, &bars[i]);
        if (r == FXP_R_OK)
            continue;
        struct rej *e = add_rej(p);
        snprintf(e->origin, sizeof e->origin, "%s:%llu", b->origin,
                 (unsigned long long)b->pos[i]);
        fxp_reason_format_bar(r, &bars[i], e->detail, sizeof e->detail);
        const char *name = fxp_symtab_name(p->st, bars[i].sym);
        snprintf(e->symbol, sizeof e->symbol, "%s", name ? name : "");
        e->ts = bars[i].ts_ms;
        e->reason = r;
        atomic_fetch_add(&p->rejected[r], 1);
    }
}

static void *process_main(void *arg)
{
    struct pipe *p = arg;
    p->out = get_out(p);
    void *item;
    while (fxp_queue_pop(p->q_in, &item, -1) == FXP_OK) {
        struct inb *b = item;
        if (b->kind == B_TICKS) {
            process_ticks(p, b);
        } else if (b->kind == B_BARS) {
            process_bars(p, b);
        } else {
            const struct rej *r = b->buf;
            for (size_t i = 0; i < b->n; i++) {
                *add_rej(p) = r[i];
                atomic_fetch_add(&p->rejected[r[i].reason], 1);
            }
        }
        fxp_queue_push(p->free_in, b, -1);
        push_out(p);
    }
    fxp_agg_flush(p->agg);
    push_out(p);
    fxp_queue_push(p->free_out, p->out, -1);
    p->out = NULL;
    fxp_queue_close(p->q_out);
    return NULL;
}

/* ---- writer ---- */

/* Apply the tick retention window (the store knows its length). */
static void prune(struct pipe *p)
{
    if (fxp_store_prune_ticks(p->store, NULL) != FXP_OK)
        set_error(p, FXP_EIO, fxp_store_errmsg(p->store));
}

static void *writer_main(void *arg)
{
    struct pipe *p = arg;
    void *item;
    while (fxp_queue_pop(p->q_out, &item, -1) == FXP_OK) {
        struct outb *o = item;
        if (p->cfg->write_delay_ms > 0) {
            struct timespec d = {p->cfg->write_delay_ms / 1000,
                                 (long)(p->cfg->write_delay_ms % 1000) *
                                     1000000L};
            nanosleep(&d, NULL);
        }
        if (!atomic_load(&p->failed)) {
            for (size_t i = 0; i < o->n_rejs; i++) {
                const struct rej *r = &o->rejs[i];
                o->views[i] = (struct fxp_reject){.origin = r->origin,
                                                  .ts_ms = r->ts,
                                                  .symbol = r->symbol,
                                                  .reason = r->reason,
                                                  .detail = r->detail,
                                                  .raw = ""};
            }
            struct fxp_store_batch sb = {.bars = o->bars,
                                         .n_bars = o->n_bars,
                                         .ticks = o->ticks,
                                         .n_ticks = o->n_ticks,
                                         .rejects = o->views,
                                         .n_rejects = o->n_rejs,
                                         .symtab = p->st};
            int rc = fxp_store_write(p->store, &sb);
            if (rc != FXP_OK) {
                set_error(p, rc, fxp_store_errmsg(p->store));
            } else {
                uint64_t w = atomic_fetch_add(&p->store_writes, 1) + 1;
                if (p->cfg->keep_ticks && w % 256 == 0)
                    prune(p);
                atomic_fetch_add(&p->ticks_stored, o->n_ticks);
                for (size_t i = 0; i < o->n_bars; i++)
                    atomic_fetch_add(&p->bars_stored[o->bars[i].tf], 1);
            }
        }
        fxp_queue_push(p->free_out, o, -1);
    }
    if (p->cfg->keep_ticks && !atomic_load(&p->failed))
        prune(p);
    atomic_store(&p->done, 1);
    return NULL;
}

/* ---- set-up ---- */

static void snapshot(struct pipe *p, struct fxp_pipeline_stats *s, double t0)
{
    s->ticks_read = atomic_load(&p->ticks_read);
    s->bars_read = atomic_load(&p->bars_read);
    s->bad_lines = atomic_load(&p->bad_lines);
    for (int r = 0; r < FXP_R_COUNT; r++)
        s->rejected[r] = atomic_load(&p->rejected[r]);
    for (int k = 0; k < FXP_TF_COUNT; k++)
        s->bars_stored[k] = atomic_load(&p->bars_stored[k]);
    s->ticks_stored = atomic_load(&p->ticks_stored);
    s->store_writes = atomic_load(&p->store_writes);
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
    fxp_queue_free(p->q_out);
    fxp_queue_free(p->free_in);
    fxp_queue_free(p->free_out);
    fxp_agg_free(p->agg);
    fxp_validator_free(p->val);
    free(p->good);
    free(p->good_pos);
    free(p->late);
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
    p->free_in = fxp_queue_new(pool);
    p->free_out = fxp_queue_new(pool);
    p->in_pool = calloc(pool, sizeof *p->in_pool);
    p->out_pool = calloc(pool, sizeof *p->out_pool);
    p->val = fxp_validator_new(&c->validate, c->agg.max_symbols);
    p->agg = fxp_agg_new(&c->agg, on_bar, p);
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
    pthread_mutex_init(&p->src_mu, NULL);
    pthread_mutex_init(&p->err_mu, NULL);
    size_t pool = cfg->queue_batches + 3; /* note 1 */
    int rc =
        cfg->batch_size && cfg->queue_batches ? setup(p, pool) : FXP_EINVAL;
    if (rc != FXP_OK) {
        snprintf(errbuf, errlen, "cannot start the pipeline: %s",
                 fxp_strerror(rc));
        teardown(p, pool);
        free(p);
        return rc;
    }
    pthread_t th[3];
    void *(*mains[3])(void *) = {reader_main, process_main, writer_main};
    int started = 0;
    for (; started < 3; started++)
        if (pthread_create(&th[started], NULL, mains[started], p))
            break;
    if (started < 3) {
        /* Cannot happen in practice; end the ones that run. */
        set_error(p, FXP_ENOMEM, "cannot start pipeline threads");
        fxp_queue_close(p->q_in);
        fxp_queue_close(p->q_out);
    }
    /* Watch: progress and stop requests (a paced read may be sleeping). */
    int ticks = 0;
    while (started == 3) {
        struct timespec nap = {0, 50 * 1000000L};
        nanosleep(&nap, NULL);
        if (stop && *stop) {
            pthread_mutex_lock(&p->src_mu);
            if (p->cur_src)
                fxp_source_interrupt(p->cur_src);
            pthread_mutex_unlock(&p->src_mu);
        }
        if (progress && ++ticks % 4 == 0) {
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
