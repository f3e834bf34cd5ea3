/* pipeline_reader.c - the reader stage: sources (and the journal) into
 * q_in (pipeline.c, note 2). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fxpipe/calendar.h"
#include "fxpipe/err.h"
#include "fxpipe/journal.h"
#include "fxpipe/queue.h"
#include "fxpipe/source.h"
#include "fxpipe/store.h"
#include "fxpipe/symbol.h"
#include "fxpipe/time.h"
#include "fxpipe/tickrec.h"
#include "pipeline/pipeline_int.h"

/* ---- reader ---- */

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Backpressure: time the reader waits for room downstream is the time the
 * source is paused. A pause longer than pause_warn_ms is reported once. */
static void paused(struct pipe *p, int64_t t0)
{
    int64_t ms = mono_ms() - t0;
    if (ms <= 0)
        return;
    atomic_fetch_add(&p->paused_ms, (uint64_t)ms);
    if (p->cfg->pause_warn_ms > 0 && ms >= p->cfg->pause_warn_ms &&
        p->cfg->on_event) {
        char msg[160];
        snprintf(msg, sizeof msg,
                 "warning: the source was paused for %.1f s (the store or "
                 "the engine is slower than the feed)",
                 (double)ms / 1000.0);
        p->cfg->on_event(p->cfg->event_ud, msg);
    }
}

static struct inb *get_in(struct pipe *p)
{
    void *b = NULL;
    if (fxp_queue_pop(p->free_in, &b, 0) != FXP_OK) {
        int64_t t0 = mono_ms();
        fxp_queue_pop(p->free_in, &b, -1);
        paused(p, t0);
    }
    ((struct inb *)b)->n = 0;
    return b;
}

/* Into the next stage: the journaler when there is a journal, else the
 * processor. */
static void push_in(struct pipe *p, struct inb *b)
{
    struct fxp_queue *q = p->q_j ? p->q_j : p->q_in;
    size_t cap = fxp_queue_cap(q);
    size_t high = cap * 8 / 10, low = cap * 4 / 10;
    /* Hysteresis (80% / 40%): once the queue reaches the high watermark
     * the source pauses until it has drained to the low one, instead of
     * trickling one batch at a time at the limit. */
    if (high > low && fxp_queue_depth(q) >= high) {
        int64_t t0 = mono_ms();
        atomic_fetch_add(&p->pauses, 1);
        while (fxp_queue_depth(q) > low && !fxp__pipe_stopping(p)) {
            struct timespec nap = {0, 1000000L};
            nanosleep(&nap, NULL);
        }
        paused(p, t0);
    }
    if (fxp_queue_push(q, b, 0) == FXP_OK)
        return;
    int64_t t0 = mono_ms();
    fxp_queue_push(q, b, -1);
    paused(p, t0);
}

static void push_bad(struct pipe *p)
{
    if (p->bad && p->bad->n) {
        push_in(p, p->bad);
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

/* ---- the journal (pipeline.c, note 5) ---- */

/* Append a batch of ticks; b->seq_last gets the last sequence number. */
static int journal_batch(struct pipe *p, struct inb *b)
{
    unsigned char *recs = p->jbuf;
    const void *ptrs[JBATCH_MAX];
    uint32_t lens[JBATCH_MAX];
    const struct fxp_tick *t = b->buf;
    for (size_t done = 0; done < b->n;) {
        size_t k = b->n - done < JBATCH_MAX ? b->n - done : JBATCH_MAX;
        size_t off = 0;
        for (size_t i = 0; i < k; i++) {
            ptrs[i] = recs + off;
            lens[i] = fxp_tickrec_encode(p->st, &t[done + i], b->pos[done + i],
                                         recs + off);
            off += lens[i];
        }
        uint64_t first;
        int rc = fxp_journal_append(p->cfg->journal, ptrs, lens, k, &first);
        if (rc != FXP_OK)
            return rc;
        b->seq_last = first + k - 1;
        done += k;
    }
    return FXP_OK;
}

/* Feed back what the store has not made final: every record after the
 * applied one, and every record at or after the replay time (the oldest
 * bar still open when the store last committed, less the lateness).
 * *last_pos gets the source position of the newest record. */
static int replay_journal(struct pipe *p, struct fxp_source *src,
                          const char *origin, uint64_t *last_pos, char *err,
                          size_t errlen)
{
    struct fxp_journal_iter *it = NULL;
    uint32_t n_sym = p->cfg->agg.max_symbols;
    uint64_t *sym_pos = calloc(n_sym ? n_sym : 1, sizeof *sym_pos);
    if (!sym_pos) {
        snprintf(err, errlen, "cannot replay the journal: out of memory");
        return FXP_ENOMEM;
    }
    int rc =
        fxp_journal_iter_open(p->cfg->journal_dir, 0, NULL, &it, err, errlen);
    if (rc != FXP_OK) {
        free(sym_pos);
        return rc;
    }
    int64_t from_ts = p->j_replay_ts == INT64_MIN
                          ? INT64_MIN
                          : p->j_replay_ts - p->cfg->agg.lateness_ms;
    struct inb *b = NULL;
    uint64_t seq;
    const void *data;
    uint32_t len;
    while (!fxp__pipe_stopping(p) &&
           (rc = fxp_journal_iter_next(it, &seq, &data, &len, err, errlen)) ==
               FXP_OK) {
        struct fxp_tick t;
        uint64_t pos;
        if (fxp_tickrec_decode(p->st, data, len, &t, &pos) != FXP_OK) {
            snprintf(err, errlen,
                     "journal record %llu in '%s' is not a tick of this "
                     "fxpipe's format; move the journal away to start afresh",
                     (unsigned long long)seq, p->cfg->journal_dir);
            rc = FXP_EPARSE;
            break;
        }
        *last_pos = pos;
        if (t.sym < n_sym && pos > sym_pos[t.sym])
            sym_pos[t.sym] = pos;
        if (seq <= p->j_applied && t.ts_ms < from_ts)
            continue;
        if (!b) {
            b = get_in(p);
            b->kind = B_TICKS;
            b->to_journal = false; /* already on disk */
            snprintf(b->origin, sizeof b->origin, "%s", origin);
        }
        ((struct fxp_tick *)b->buf)[b->n] = t;
        b->pos[b->n++] = pos;
        b->seq_last = seq;
        if (b->n == p->cfg->batch_size) {
            atomic_fetch_add(&p->replayed, b->n);
            push_in(p, b);
            b = NULL;
        }
    }
    if (b) {
        atomic_fetch_add(&p->replayed, b->n);
        push_in(p, b);
    }
    fxp_journal_iter_close(it);
    /* Sources whose positions grow per symbol (the bus) skip per symbol. */
    for (uint32_t s = 0; s < n_sym; s++)
        if (sym_pos[s])
            fxp_source_skip_sym(src, s, sym_pos[s]);
    free(sym_pos);
    return rc == FXP_ECLOSED ? FXP_OK : rc;
}

void *fxp__pipe_reader(void *arg)
{
    struct pipe *p = arg;
    char err[512];
    for (size_t i = 0; i < p->n_sources && !fxp__pipe_stopping(p); i++) {
        struct fxp_source *src = NULL;
        int rc = p->open(p->open_ud, i, on_bad, p, &src, err, sizeof err);
        if (rc != FXP_OK) {
            fxp__pipe_set_error(p, rc, err);
            break;
        }
        pthread_mutex_lock(&p->src_mu);
        p->cur_src = src;
        pthread_mutex_unlock(&p->src_mu);
        enum bkind kind =
            fxp_source_kind(src) == FXP_KIND_BARS ? B_BARS : B_TICKS;
        char origin[sizeof p->in_pool[0].origin];
        origin_of(fxp_source_describe(src), origin, sizeof origin);
        if (i == 0 && p->cfg->journal && kind == B_TICKS) {
            uint64_t last_pos = 0;
            rc = replay_journal(p, src, origin, &last_pos, err, sizeof err);
            if (rc != FXP_OK) {
                fxp__pipe_set_error(p, rc, err);
            } else if (last_pos) {
                fxp_source_skip_through(src, last_pos);
            }
        }
        while (!fxp__pipe_stopping(p)) {
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
                    fxp__pipe_set_error(p, rerr, err);
                }
                break;
            }
            atomic_fetch_add(kind == B_BARS ? &p->bars_read : &p->ticks_read,
                             b->n);
            b->seq_last = 0;
            b->to_journal = p->cfg->journal && kind == B_TICKS;
            push_in(p, b);
        }
        push_bad(p);
        pthread_mutex_lock(&p->src_mu);
        p->cur_src = NULL;
        pthread_mutex_unlock(&p->src_mu);
        fxp_source_close(src);
    }
    push_bad(p);
    fxp_queue_close(p->q_j ? p->q_j : p->q_in);
    return NULL;
}

/* A source that commits upstream (the bus) hears how many of its records
 * are on disk: sync first, so "journaled" means durable. */
static int tell_durable(struct pipe *p, size_t n)
{
    pthread_mutex_lock(&p->src_mu);
    struct fxp_source *src = p->cur_src;
    int rc = FXP_OK;
    if (src && fxp_source_wants_durable(src)) {
        rc = fxp_journal_sync(p->cfg->journal);
        p->journaled += n;
        if (rc == FXP_OK)
            fxp_source_durable(src, p->journaled);
    }
    pthread_mutex_unlock(&p->src_mu);
    return rc;
}

/* The journaler stage (note 5): appends each batch of new ticks to the
 * journal, then hands it on; nothing reaches the engine that is not on
 * disk. A thread of its own, so the appends overlap with parsing. */
void *fxp__pipe_journaler(void *arg)
{
    struct pipe *p = arg;
    char err[512];
    void *item;
    while (fxp_queue_pop(p->q_j, &item, -1) == FXP_OK) {
        struct inb *b = item;
        if (b->to_journal && !atomic_load(&p->failed)) {
            int rc = journal_batch(p, b);
            if (rc == FXP_OK)
                rc = tell_durable(p, b->n);
            if (rc != FXP_OK) {
                snprintf(err, sizeof err,
                         "cannot append to the journal '%s': %s",
                         p->cfg->journal_dir, fxp_strerror(rc));
                fxp__pipe_set_error(p, rc, err);
            }
            uint64_t applied = atomic_load(&p->applied_seq);
            if (applied && ++p->since_retain >= 256) {
                p->since_retain = 0;
                fxp_journal_retain(p->cfg->journal, applied + 1);
            }
        }
        if (atomic_load(&p->failed) && b->to_journal)
            fxp_queue_push(p->free_in, b, -1); /* not on disk: not on */
        else
            fxp_queue_push(p->q_in, b, -1);
    }
    fxp_queue_close(p->q_in);
    return NULL;
}
