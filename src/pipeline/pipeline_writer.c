/* pipeline_writer.c - the store stage: one transaction per out batch
 * (pipeline.c, note 3). */
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

/* ---- writer ---- */

/* Apply the tick retention window (the store knows its length). */
static void prune(struct pipe *p)
{
    if (fxp_store_prune_ticks(p->store, NULL) != FXP_OK)
        fxp__pipe_set_error(p, FXP_EIO, fxp_store_errmsg(p->store));
}

void *fxp__pipe_writer(void *arg)
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
                                         .symtab = p->st,
                                         .meta_key = o->seq ? "journal" : NULL,
                                         .meta_value = o->seq ? o->meta : NULL};
            int rc = fxp_store_write(p->store, &sb);
            if (rc != FXP_OK) {
                fxp__pipe_set_error(p, rc, fxp_store_errmsg(p->store));
            } else {
                uint64_t w = atomic_fetch_add(&p->store_writes, 1) + 1;
                if (o->seq)
                    atomic_store(&p->applied_seq, o->seq);
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
