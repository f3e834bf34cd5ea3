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
#include "fxpipe/queue.h"
#include "fxpipe/source.h"
#include "fxpipe/store.h"
#include "fxpipe/symbol.h"
#include "fxpipe/time.h"
#include "pipeline/pipeline_int.h"

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
