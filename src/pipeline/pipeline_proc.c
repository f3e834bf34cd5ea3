/* pipeline_proc.c - the processing stage: validate, market hours, the
 * engine; q_in -> q_out. */
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
#include "fxpipe/aggregate.h"
#include "fxpipe/validate.h"
#include "pipeline/pipeline_int.h"

/* ---- processor ---- */

static struct outb *get_out(struct pipe *p)
{
    void *b = NULL;
    fxp_queue_pop(p->free_out, &b, -1);
    struct outb *o = b;
    o->n_bars = o->n_ticks = o->n_rejs = 0;
    o->seq = 0;
    return o;
}

static void push_out(struct pipe *p)
{
    struct outb *o = p->out;
    if (o->n_bars || o->n_ticks || o->n_rejs || o->seq) {
        fxp_queue_push(p->q_out, o, -1);
        p->out = get_out(p);
    }
}

/* Note where the journal stands with this out batch: the last sequence
 * processed and the oldest bar still held (replay from there). */
static void mark_journal(struct pipe *p, int64_t oldest)
{
    if (!p->cfg->journal || !p->proc_seq)
        return;
    p->out->seq = p->proc_seq;
    snprintf(p->out->meta, sizeof p->out->meta, "%llu,%lld,%s",
             (unsigned long long)p->proc_seq, (long long)oldest,
             p->cfg->feed_id ? p->cfg->feed_id : "");
}

void fxp__pipe_on_bar(void *ud, const struct fxp_bar *b, bool revision)
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
        fxp_reason r = p->cfg->validated_input
                           ? FXP_R_OK
                           : fxp_validate_tick(p->val, &t[i]);
        if (r == FXP_R_OK && p->cfg->cal && !p->cfg->validated_input &&
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

void *fxp__pipe_process(void *arg)
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
        if (b->seq_last)
            p->proc_seq = b->seq_last;
        fxp_queue_push(p->free_in, b, -1);
        mark_journal(p, fxp_agg_oldest_open(p->agg));
        push_out(p);
    }
    /* The flush stores open bars early; the replay time stays that of the
     * bars as they were, so a restart completes them (note 5). */
    int64_t oldest = fxp_agg_oldest_open(p->agg);
    fxp_agg_flush(p->agg);
    mark_journal(p, oldest);
    push_out(p);
    fxp_queue_push(p->free_out, p->out, -1);
    p->out = NULL;
    fxp_queue_close(p->q_out);
    return NULL;
}
