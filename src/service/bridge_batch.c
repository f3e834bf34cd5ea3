/*
 * bridge_batch.c - the messages in hand: each fetched payload decoded
 * into the bridge's one symbol table, the decoded batches merged into one
 * store batch, and the dead-letter file (bridge.h).
 *
 * Design notes:
 * 1. A payload that does not decode is no reason to stop: it goes to the
 *    dead-letter file (kind "message", reason "undecodable", the raw
 *    bytes), or without one it is logged and skipped - no retry can ever
 *    decode it. Either way it is committed with the rest.
 * 2. Merging keeps one row per (symbol, timeframe, open time): the one of
 *    highest version, as the stores would. Several revisions of a bar in
 *    one fetch are common (open bars are republished) and a multi-row
 *    upsert may refuse to touch one row twice. Ticks and rejects are
 *    concatenated; cursors (meta) and tick positions are not carried.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fxpipe/batchcodec.h"
#include "fxpipe/dlq.h"
#include "fxpipe/err.h"
#include "fxpipe/health.h"
#include "fxpipe/store.h"
#include "service/bridge_int.h"

/* Grow *arr (of elem-byte items, *cap of them) to hold need. */
static int grow(void **arr, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return FXP_OK;
    size_t c = *cap ? *cap : 64;
    while (c < need)
        c *= 2;
    void *p = realloc(*arr, c * elem);
    if (!p)
        return FXP_ENOMEM;
    *arr = p;
    *cap = c;
    return FXP_OK;
}

static void set_fatal(struct fxp_bridge *br, int rc, const char *msg)
{
    if (br->fatal)
        return;
    br->fatal = rc;
    snprintf(br->fatal_msg, sizeof br->fatal_msg, "%s", msg);
}

int fxp__bridge_dead_letter(struct fxp_bridge *br, const char *kind,
                            const char *reason, const char *error, int attempts,
                            const char *source, const char *corr,
                            const void *payload, size_t len, uint64_t n_records,
                            int64_t first_ts, int64_t last_ts)
{
    char msg[1500];
    if (!br->dlq) {
        char err[700];
        if (fxp_dlq_open(br->dlq_path, &br->dlq, err, sizeof err) != FXP_OK) {
            snprintf(msg, sizeof msg, "cannot dead-letter a batch (%s): %s",
                     error, err);
            set_fatal(br, FXP_EIO, msg);
            return FXP_EIO;
        }
    }
    struct fxp_dlq_entry e = {.attempts = attempts,
                              .n_records = n_records,
                              .first_ts = first_ts,
                              .last_ts = last_ts};
    snprintf(e.kind, sizeof e.kind, "%s", kind);
    snprintf(e.reason, sizeof e.reason, "%s", reason);
    snprintf(e.error, sizeof e.error, "%.255s", error);
    snprintf(e.source, sizeof e.source, "%.127s", source);
    if (corr && corr[0])
        snprintf(e.correlation_id, sizeof e.correlation_id, "%.63s", corr);
    else
        snprintf(e.correlation_id, sizeof e.correlation_id, "%s-%" PRIu64,
                 br->source, br->batch_seq);
    int rc = fxp_dlq_put(br->dlq, &e, payload, len);
    if (rc != FXP_OK) {
        snprintf(msg, sizeof msg, "cannot dead-letter a batch (%s): %s", error,
                 fxp_dlq_errmsg(br->dlq));
        set_fatal(br, FXP_EIO, msg);
        return FXP_EIO;
    }
    atomic_fetch_add(&br->n_dead, 1);
    fxp_counter_inc(br->c_dead);
    return FXP_OK;
}

/* Note 1. */
static void undecodable(struct fxp_bridge *br, const struct fxp_bus_msg *m,
                        int rc)
{
    atomic_fetch_add(&br->n_undecodable, 1);
    fxp_counter_inc(br->c_undec);
    char what[300];
    snprintf(what, sizeof what,
             "message %" PRIu64 " (key '%.40s', id '%.60s', %zu bytes) does "
             "not decode: %s",
             m->pos, m->key ? m->key : "", m->msg_id ? m->msg_id : "", m->len,
             rc == FXP_ETOOLARGE ? "too many distinct symbols"
                                 : fxp_strerror(rc));
    if (!br->dlq_path) {
        fxp__bridge_log(br, "%s; no dead-letter file: skipped", what);
        return;
    }
    char source[500];
    snprintf(source, sizeof source, "%s <- %s", br->source, br->bus_label);
    if (fxp__bridge_dead_letter(br, "message", "undecodable", what, 1, source,
                                m->correlation_id, m->data, m->len, 0, 0,
                                0) == FXP_OK)
        fxp__bridge_log(br, "%s; dead-lettered", what);
}

int fxp__bridge_on_msg(void *ud, const struct fxp_bus_msg *m)
{
    struct fxp_bridge *br = ud;
    if (br->fatal)
        return 1;
    if (!br->corr[0] && m->correlation_id)
        snprintf(br->corr, sizeof br->corr, "%s", m->correlation_id);
    struct fxp_decoded_batch *d = NULL;
    int rc = fxp_batch_decode(m->data, m->len, br->symtab, &d);
    if (rc == FXP_ENOMEM) {
        set_fatal(br, FXP_ENOMEM, "out of memory decoding a message");
        return 1;
    }
    if (rc != FXP_OK) {
        undecodable(br, m, rc);
        return br->fatal ? 1 : 0;
    }
    if (grow((void **)&br->dec, &br->cap_dec, br->n_dec + 1, sizeof *br->dec)) {
        fxp_decoded_batch_free(d);
        set_fatal(br, FXP_ENOMEM, "out of memory holding a message");
        return 1;
    }
    br->dec[br->n_dec++] = d;
    return 0;
}

static int bar_cmp(const void *a, const void *b)
{
    const struct fxp_bar *x = a, *y = b;
    if (x->sym != y->sym)
        return x->sym < y->sym ? -1 : 1;
    if (x->tf != y->tf)
        return x->tf < y->tf ? -1 : 1;
    if (x->ts_ms != y->ts_ms)
        return x->ts_ms < y->ts_ms ? -1 : 1;
    if (x->version != y->version)
        return x->version < y->version ? -1 : 1;
    return 0;
}

/* Note 2: sorted by key and version, the last of each key wins. */
static size_t keep_highest(struct fxp_bar *bars, size_t n)
{
    if (n < 2)
        return n;
    qsort(bars, n, sizeof *bars, bar_cmp);
    size_t out = 0;
    for (size_t i = 0; i < n; i++) {
        const struct fxp_bar *b = &bars[i];
        if (i + 1 < n && b[1].sym == b->sym && b[1].tf == b->tf &&
            b[1].ts_ms == b->ts_ms)
            continue;
        bars[out++] = *b;
    }
    return out;
}

int fxp__bridge_merge(struct fxp_bridge *br, struct fxp_store_batch *out)
{
    size_t nb = 0, nt = 0, nr = 0;
    for (size_t i = 0; i < br->n_dec; i++) {
        const struct fxp_store_batch *v = fxp_decoded_batch_view(br->dec[i]);
        nb += v->n_bars;
        nt += v->n_ticks;
        nr += v->n_rejects;
    }
    if (grow((void **)&br->bars, &br->cap_bars, nb, sizeof *br->bars) ||
        grow((void **)&br->ticks, &br->cap_ticks, nt, sizeof *br->ticks) ||
        grow((void **)&br->rejs, &br->cap_rejs, nr, sizeof *br->rejs))
        return FXP_ENOMEM;
    br->n_bars = br->n_ticks = br->n_rejs = 0;
    for (size_t i = 0; i < br->n_dec; i++) {
        const struct fxp_store_batch *v = fxp_decoded_batch_view(br->dec[i]);
        if (v->n_bars)
            memcpy(br->bars + br->n_bars, v->bars, v->n_bars * sizeof *v->bars);
        if (v->n_ticks)
            memcpy(br->ticks + br->n_ticks, v->ticks,
                   v->n_ticks * sizeof *v->ticks);
        if (v->n_rejects)
            memcpy(br->rejs + br->n_rejs, v->rejects,
                   v->n_rejects * sizeof *v->rejects);
        br->n_bars += v->n_bars;
        br->n_ticks += v->n_ticks;
        br->n_rejs += v->n_rejects;
    }
    br->n_bars = keep_highest(br->bars, br->n_bars);
    *out = (struct fxp_store_batch){.bars = br->bars,
                                    .n_bars = br->n_bars,
                                    .ticks = br->ticks,
                                    .n_ticks = br->n_ticks,
                                    .rejects = br->rejs,
                                    .n_rejects = br->n_rejs,
                                    .symtab = br->symtab};
    return FXP_OK;
}

void fxp__bridge_release(struct fxp_bridge *br)
{
    for (size_t i = 0; i < br->n_dec; i++)
        fxp_decoded_batch_free(br->dec[i]);
    br->n_dec = 0;
    br->n_bars = br->n_ticks = br->n_rejs = 0;
    br->n_msgs = 0;
    br->corr[0] = '\0';
}

void fxp__bridge_batch_free(struct fxp_bridge *br)
{
    fxp__bridge_release(br);
    free(br->dec);
    free(br->bars);
    free(br->ticks);
    free(br->rejs);
    br->dec = NULL;
    br->bars = NULL;
    br->ticks = NULL;
    br->rejs = NULL;
    br->cap_dec = br->cap_bars = br->cap_ticks = br->cap_rejs = 0;
}
