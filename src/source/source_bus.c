/*
 * source_bus.c - the TICKS stream of a bus as a tick source (source.h).
 *
 * Design notes
 *  1. A message is one encoded batch of one symbol's ticks with their
 *     ingest journal sequences (batchcodec.h, tick_pos). Those sequences
 *     are the records' positions: they grow per symbol, so a tick whose
 *     position is not above its symbol's highest seen is a republished
 *     duplicate and is dropped (an ingest that restarted between publish
 *     and saving its state publishes some ticks twice). The highest
 *     positions survive a restart through the reader's journal replay
 *     (fxp_source_skip_sym).
 *  2. A message is committed on the bus only once every tick taken from
 *     it is durable downstream: the reader counts records handed out,
 *     the journaler reports how many are on disk (fxp_source_durable),
 *     and every message whose last record is within that count is
 *     committed through its fetch ordinal. A crash before then means
 *     redelivery, which note 1 de-duplicates.
 *  3. A read returns what one fetch brought (at most cap records; the rest
 *     of a message waits for the next read), or 0 with FXP_EAGAIN after
 *     wait_ms without messages, so the reader can notice a stop.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fxpipe/batchcodec.h"
#include "fxpipe/bus.h"
#include "fxpipe/err.h"
#include "fxpipe/store.h"
#include "source/source_int.h"

#define FETCH_MAX 64 /* messages per fetch */

/* A handed-out message waiting for its records to become durable. */
struct pend {
    uint64_t ordinal; /* fetch ordinal on the bus handle */
    uint64_t upto;    /* records handed out once it is fully read */
};

struct bsrc {
    struct fxp_bus *bus;
    struct fxp_symtab *st;
    int wait_ms;
    atomic_int interrupted;

    /* Messages fetched but not yet read out (note 3). */
    struct fxp_decoded_batch **msgs;
    uint64_t *ords;
    size_t n_msgs, cap_msgs, head; /* read from msgs[head] on */
    size_t tick_i;                 /* next tick of msgs[head] */
    uint64_t ordinal;              /* of the last message fetched */
    uint64_t handed;               /* records handed out so far */

    /* Highest position per symbol id (note 1). */
    uint64_t *hw;
    size_t n_hw;

    /* Note 2; shared with the journaler thread. */
    pthread_mutex_t mu;
    struct pend *pend;
    size_t n_pend, cap_pend;
    uint64_t durable; /* records known durable */

    atomic_uint_fast64_t messages, duplicates, undecodable, committed;
};

static int hw_reserve(struct bsrc *b, uint32_t sym)
{
    if (sym < b->n_hw)
        return FXP_OK;
    size_t n = b->n_hw ? b->n_hw : 64;
    while (n <= sym)
        n *= 2;
    uint64_t *h = realloc(b->hw, n * sizeof *h);
    if (!h)
        return FXP_ENOMEM;
    memset(h + b->n_hw, 0, (n - b->n_hw) * sizeof *h);
    b->hw = h;
    b->n_hw = n;
    return FXP_OK;
}

/* Commit every pending message whose records are all durable. Called with
 * b->mu held. */
static void commit_durable(struct bsrc *b)
{
    size_t k = 0;
    uint64_t ord = 0;
    while (k < b->n_pend && b->pend[k].upto <= b->durable)
        ord = b->pend[k++].ordinal;
    if (!k)
        return;
    if (fxp_bus_commit_through(b->bus, ord) != FXP_OK)
        return; /* redelivered later and de-duplicated (note 1) */
    atomic_fetch_add(&b->committed, k);
    memmove(b->pend, b->pend + k, (b->n_pend - k) * sizeof *b->pend);
    b->n_pend -= k;
}

static int pend_add(struct bsrc *b, uint64_t ordinal, uint64_t upto)
{
    pthread_mutex_lock(&b->mu);
    if (b->n_pend == b->cap_pend) {
        size_t n = b->cap_pend ? 2 * b->cap_pend : 256;
        struct pend *p = realloc(b->pend, n * sizeof *p);
        if (!p) {
            pthread_mutex_unlock(&b->mu);
            return FXP_ENOMEM;
        }
        b->pend = p;
        b->cap_pend = n;
    }
    b->pend[b->n_pend++] = (struct pend){ordinal, upto};
    commit_durable(b); /* a message of duplicates only: nothing to wait for */
    pthread_mutex_unlock(&b->mu);
    return FXP_OK;
}

static int on_msg(void *ud, const struct fxp_bus_msg *m)
{
    struct bsrc *b = ud;
    struct fxp_decoded_batch *d = NULL;

    b->ordinal++;
    atomic_fetch_add(&b->messages, 1);
    if (b->n_msgs == b->cap_msgs) {
        size_t n = b->cap_msgs ? 2 * b->cap_msgs : FETCH_MAX;
        void *a = realloc(b->msgs, n * sizeof *b->msgs);
        void *o = a ? realloc(b->ords, n * sizeof *b->ords) : NULL;
        if (a)
            b->msgs = a;
        if (!a || !o)
            return 1; /* stop: the rest is redelivered */
        b->ords = o;
        b->cap_msgs = n;
    }
    if (fxp_batch_decode(m->data, m->len, b->st, &d) != FXP_OK)
        atomic_fetch_add(&b->undecodable, 1);
    b->msgs[b->n_msgs] = d; /* NULL: nothing to read, still committed */
    b->ords[b->n_msgs++] = b->ordinal;
    return 0;
}

/* Drop the message at head (fully read) and record it as pending. */
static int next_msg(struct bsrc *b)
{
    int rc = pend_add(b, b->ords[b->head], b->handed);
    fxp_decoded_batch_free(b->msgs[b->head]);
    b->msgs[b->head++] = NULL;
    b->tick_i = 0;
    return rc;
}

static size_t bus_read(void *impl, struct fxp_tick *out, uint64_t *pos,
                       size_t cap, int *err)
{
    struct bsrc *b = impl;
    size_t n = 0;

    *err = FXP_OK;
    if (b->head == b->n_msgs) {
        size_t got = 0;
        b->head = b->n_msgs = 0;
        if (atomic_load(&b->interrupted)) {
            *err = FXP_EAGAIN;
            return 0;
        }
        int rc = fxp_bus_fetch(b->bus, FETCH_MAX, b->wait_ms, on_msg, b, &got);
        if (rc != FXP_OK && !b->n_msgs) {
            *err = FXP_EAGAIN; /* the bus is retrying; ask again */
            return 0;
        }
    }
    while (n < cap && b->head < b->n_msgs) {
        const struct fxp_decoded_batch *d = b->msgs[b->head];
        const struct fxp_store_batch *v = d ? fxp_decoded_batch_view(d) : NULL;
        if (!v || !v->tick_pos || b->tick_i >= v->n_ticks) {
            if (v && !v->tick_pos && b->tick_i < v->n_ticks)
                atomic_fetch_add(&b->undecodable, 1);
            if ((*err = next_msg(b)) != FXP_OK)
                return n;
            continue;
        }
        const struct fxp_tick *t = &v->ticks[b->tick_i];
        uint64_t p = v->tick_pos[b->tick_i++];
        if (hw_reserve(b, t->sym) != FXP_OK) {
            *err = FXP_ENOMEM;
            return n;
        }
        if (p <= b->hw[t->sym]) {
            atomic_fetch_add(&b->duplicates, 1);
            continue;
        }
        b->hw[t->sym] = p;
        out[n] = *t;
        if (pos)
            pos[n] = p;
        n++;
        b->handed++;
    }
    if (n == 0)
        *err = FXP_EAGAIN;
    return n;
}

static void bus_skip(void *impl, uint64_t p)
{
    (void)impl; /* positions grow per symbol only: see bus_skip_sym */
    (void)p;
}

static void bus_skip_sym(void *impl, uint32_t sym, uint64_t p)
{
    struct bsrc *b = impl;
    if (hw_reserve(b, sym) == FXP_OK && p > b->hw[sym])
        b->hw[sym] = p;
}

static void bus_durable(void *impl, uint64_t n)
{
    struct bsrc *b = impl;
    pthread_mutex_lock(&b->mu);
    if (n > b->durable)
        b->durable = n;
    commit_durable(b);
    pthread_mutex_unlock(&b->mu);
}

static void bus_progress(const void *impl, uint64_t *done, uint64_t *total)
{
    const struct bsrc *b = impl;
    *done = b->handed;
    *total = 0;
}

static void bus_interrupt(void *impl)
{
    struct bsrc *b = impl;
    atomic_store(&b->interrupted, 1);
}

static void bus_close(void *impl)
{
    struct bsrc *b = impl;
    for (size_t i = b->head; i < b->n_msgs; i++)
        fxp_decoded_batch_free(b->msgs[i]);
    free(b->msgs);
    free(b->ords);
    free(b->hw);
    free(b->pend);
    pthread_mutex_destroy(&b->mu);
    free(b);
}

static const struct fxp_source_ops bus_ops = {
    .name = "bus",
    .read_ticks = bus_read,
    .progress = bus_progress,
    .interrupt = bus_interrupt,
    .close = bus_close,
    .skip = bus_skip,
    .skip_sym = bus_skip_sym,
    .durable = bus_durable,
};

int fxp_source_open_bus(struct fxp_bus *bus, struct fxp_symtab *st, int wait_ms,
                        struct fxp_source **out, char *errbuf, size_t errlen)
{
    struct bsrc *b = calloc(1, sizeof *b);
    char desc[160];

    *out = NULL;
    if (!b) {
        snprintf(errbuf, errlen, "cannot open the bus source: out of memory");
        return FXP_ENOMEM;
    }
    b->bus = bus;
    b->st = st;
    b->wait_ms = wait_ms > 0 ? wait_ms : 200;
    pthread_mutex_init(&b->mu, NULL);
    snprintf(desc, sizeof desc, "bus ticks '%s'", fxp_bus_backend(bus));
    *out = fxp__source_new(&bus_ops, b, desc);
    if (!*out) {
        snprintf(errbuf, errlen, "cannot open the bus source: out of memory");
        return FXP_ENOMEM;
    }
    return FXP_OK;
}

void fxp_source_bus_stats(const struct fxp_source *s,
                          struct fxp_source_bus_stats *out)
{
    memset(out, 0, sizeof *out);
    if (fxp__source_ops(s) != &bus_ops)
        return;
    struct bsrc *b = fxp__source_impl(s);
    out->messages = atomic_load(&b->messages);
    out->duplicates = atomic_load(&b->duplicates);
    out->undecodable = atomic_load(&b->undecodable);
    out->committed = atomic_load(&b->committed);
}
