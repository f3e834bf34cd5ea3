/*
 * ingest_intake.c - the ingest service's intake thread: source ->
 * validate + market hours -> the dead-letter file (rejects) and the
 * journal (accepted ticks).
 *
 * Design notes
 *  1. A tick is judged exactly as `fxpipe run`'s processing stage judges
 *     it (pipeline_proc.c): fxp_validate_tick, then, when valid, the
 *     market calendar through a cursor (FXP_R_CLOSED). Late ticks are the
 *     aggregator's business downstream, as they are in run's engine.
 *  2. Per read batch the rejects are put into the dead-letter file first,
 *     then the accepted ticks are appended to the journal. Each entry's
 *     correlation id carries the highest source position of its
 *     validation rejects and of its unparsable lines
 *     ("<id>:rej:<val>:<parse>"). After a crash the source skips what the
 *     journal holds and the rejects at or below those positions are not
 *     put again: rejects and accepted ticks each reach their place once.
 *     The two kinds are kept apart because a paced source parses ahead of
 *     the ticks it hands out.
 *  3. The publisher may take the records that are on disk per the fsync
 *     policy: with `every` the intake syncs at most every fsync_every_ms
 *     and moves `durable` then (the watch loop interrupts a quiet paced
 *     source so that the last records do not wait for the next tick).
 *  4. A full disk is waited out (the append leaves the journal valid);
 *     other journal and dead-letter failures stop the service. Ticks not
 *     journaled are read again by the next start.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fxpipe/batchcodec.h"
#include "fxpipe/dlq.h"
#include "fxpipe/err.h"
#include "fxpipe/health.h"
#include "fxpipe/journal.h"
#include "fxpipe/source.h"
#include "fxpipe/store.h"
#include "fxpipe/tickrec.h"
#include "service/ingest_int.h"

static struct ing_rej *add_rej(struct fxp_ingest *g)
{
    if (g->n_rej == g->cap_rej) {
        size_t cap = g->cap_rej ? g->cap_rej * 2 : 256;
        struct ing_rej *r = realloc(g->rej, cap * sizeof *r);
        if (!r)
            return NULL;
        g->rej = r;
        g->cap_rej = cap;
    }
    return &g->rej[g->n_rej++];
}

/* The on_bad callback given to the source: an unparsable line. */
static void on_bad(void *ud, const char *path, uint64_t line_no,
                   fxp_reason reason, const char *detail)
{
    struct fxp_ingest *g = ud;
    atomic_fetch_add(&g->n_read, 1);
    struct ing_rej *r = add_rej(g);
    if (!r) {
        fxp__ing_fail(g, FXP_ENOMEM, false,
                      "out of memory holding a rejected line");
        return;
    }
    snprintf(r->origin, sizeof r->origin, "%s:%" PRIu64, path, line_no);
    snprintf(r->detail, sizeof r->detail, "%s", detail);
    r->symbol[0] = '\0';
    r->ts = 0;
    r->reason = reason;
    r->pos = line_no;
    r->parse = true;
}

/* "generic ticks 'x.csv'" -> "x.csv"; a description without quotes is
 * used whole up to its first space ("synthetic feed ..." -> "synthetic"),
 * as the pipeline names its rejects. */
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

/* Note 1: judge the batch; accepted ticks are compacted to the front.
 * Returns how many were accepted. */
static size_t judge(struct fxp_ingest *g, size_t n)
{
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        const struct fxp_tick *t = &g->buf[i];
        fxp_reason r = fxp_validate_tick(g->val, t);
        if (r == FXP_R_OK && g->cfg.cal &&
            !fxp_cal_cursor_is_open(&g->hours, t->ts_ms))
            r = FXP_R_CLOSED;
        if (r == FXP_R_OK) {
            g->buf[kept] = *t;
            g->pos[kept++] = g->pos[i];
            continue;
        }
        struct ing_rej *e = add_rej(g);
        if (!e) {
            fxp__ing_fail(g, FXP_ENOMEM, false,
                          "out of memory holding a rejected tick");
            return kept;
        }
        snprintf(e->origin, sizeof e->origin, "%s:%" PRIu64, g->origin,
                 g->pos[i]);
        fxp_reason_format_tick(r, t, e->detail, sizeof e->detail);
        const char *name = fxp_symtab_name(g->st, t->sym);
        snprintf(e->symbol, sizeof e->symbol, "%s", name ? name : "");
        e->ts = t->ts_ms;
        e->reason = r;
        e->pos = g->pos[i];
        e->parse = false;
    }
    return kept;
}

/* Note 2: the pending rejects into the dead-letter file. FXP_OK or the
 * error (the service stops). */
static int put_rejects(struct fxp_ingest *g)
{
    size_t k = 0;
    uint64_t hi_val = 0, hi_parse = 0;
    for (size_t i = 0; i < g->n_rej; i++) {
        struct ing_rej *r = &g->rej[i];
        uint64_t seen = r->parse ? g->dlq_parse_pos : g->dlq_val_pos;
        if (g->dlq && r->pos <= seen) {
            atomic_fetch_add(&g->n_resent_rej, 1);
            continue;
        }
        if (r->parse && r->pos > hi_parse)
            hi_parse = r->pos;
        if (!r->parse && r->pos > hi_val)
            hi_val = r->pos;
        g->rej[k++] = *r;
    }
    g->n_rej = 0;
    if (!k)
        return FXP_OK;
    int rc = FXP_OK;
    if (g->dlq) {
        struct fxp_reject *v = malloc(k * sizeof *v);
        if (!v) {
            fxp__ing_fail(g, FXP_ENOMEM, false, "out of memory");
            return FXP_ENOMEM;
        }
        struct fxp_dlq_entry e = {.attempts = 1,
                                  .n_records = k,
                                  .first_ts = INT64_MAX,
                                  .last_ts = INT64_MIN};
        for (size_t i = 0; i < k; i++) {
            const struct ing_rej *r = &g->rej[i];
            v[i] = (struct fxp_reject){.origin = r->origin,
                                       .ts_ms = r->ts,
                                       .symbol = r->symbol,
                                       .reason = r->reason,
                                       .detail = r->detail,
                                       .raw = ""};
            if (r->ts && r->ts < e.first_ts)
                e.first_ts = r->ts;
            if (r->ts && r->ts > e.last_ts)
                e.last_ts = r->ts;
        }
        if (e.first_ts > e.last_ts)
            e.first_ts = e.last_ts = 0;
        snprintf(e.kind, sizeof e.kind, "batch");
        snprintf(e.reason, sizeof e.reason, "rejected");
        snprintf(e.error, sizeof e.error,
                 "%zu records rejected by validation, market hours or "
                 "parsing",
                 k);
        snprintf(e.source, sizeof e.source, "ingest %.120s", g->origin);
        snprintf(e.correlation_id, sizeof e.correlation_id,
                 "%s:rej:%" PRIu64 ":%" PRIu64, g->id,
                 hi_val > g->dlq_val_pos ? hi_val : g->dlq_val_pos,
                 hi_parse > g->dlq_parse_pos ? hi_parse : g->dlq_parse_pos);
        struct fxp_store_batch sb = {
            .rejects = v, .n_rejects = k, .symtab = g->st};
        void *buf = NULL;
        size_t len = 0;
        rc = fxp_batch_encode(&sb, &buf, &len);
        if (rc == FXP_OK)
            rc = fxp_dlq_put(g->dlq, &e, buf, len);
        free(buf);
        free(v);
        if (rc != FXP_OK) {
            fxp__ing_fail(g, rc, false,
                          "cannot put %zu rejected records into the "
                          "dead-letter file: %s",
                          k, fxp_dlq_errmsg(g->dlq));
            return rc;
        }
        if (hi_val > g->dlq_val_pos)
            g->dlq_val_pos = hi_val;
        if (hi_parse > g->dlq_parse_pos)
            g->dlq_parse_pos = hi_parse;
    }
    atomic_fetch_add(&g->n_rejected, k);
    fxp_counter_add(g->m_rejected, k);
    for (size_t i = 0; i < k; i++)
        atomic_fetch_add(&g->rej_by[g->rej[i].reason], 1);
    return rc;
}

/* Note 3: move `durable` once the appended records are on disk as the
 * policy wants; force: sync now (the end of intake). */
static void make_durable(struct fxp_ingest *g, bool force)
{
    uint64_t head = atomic_load(&g->head);
    if (atomic_load(&g->durable) == head)
        return;
    if (g->cfg.jnl.fsync == FXP_FSYNC_EVERY || force) {
        int64_t now = fxp__ing_now_ms();
        if (!force && now - atomic_load(&g->last_sync_ms) <
                          (int64_t)g->cfg.jnl.fsync_every_ms)
            return;
        int rc = fxp_journal_sync(g->j);
        if (rc != FXP_OK) {
            fxp__ing_fail(g, rc, false, "cannot sync the journal '%s': %s",
                          g->cfg.journal_dir, fxp_strerror(rc));
            return;
        }
        atomic_store(&g->last_sync_ms, now);
    }
    atomic_store(&g->durable, head);
    fxp__ing_wake(g);
}

static void nap_ms(int64_t ms)
{
    struct timespec d = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    nanosleep(&d, NULL);
}

/* Append the n accepted ticks (note 4). */
static int journal_ticks(struct fxp_ingest *g, size_t n)
{
    const void *ptrs[ING_JBATCH];
    uint32_t lens[ING_JBATCH];
    bool waited = false;
    for (size_t done = 0; done < n;) {
        size_t k = n - done < ING_JBATCH ? n - done : ING_JBATCH;
        size_t off = 0;
        for (size_t i = 0; i < k; i++) {
            ptrs[i] = g->jbuf + off;
            lens[i] = fxp_tickrec_encode(g->st, &g->buf[done + i],
                                         g->pos[done + i], g->jbuf + off);
            off += lens[i];
        }
        uint64_t first = 0;
        int rc = fxp_journal_append(g->j, ptrs, lens, k, &first);
        if (rc == FXP_ENOSPC && !atomic_load(&g->stop_intake)) {
            if (!waited)
                fxp__ing_event(g,
                               "warning: the journal '%s' is out of space; "
                               "the feed waits until there is room",
                               g->cfg.journal_dir);
            waited = true;
            nap_ms(1000);
            continue;
        }
        if (rc != FXP_OK) {
            fxp__ing_fail(g, rc, false,
                          "cannot append to the journal '%s': %s (%zu ticks "
                          "not journaled; the next start reads them again)",
                          g->cfg.journal_dir, fxp_strerror(rc), n - done);
            return rc;
        }
        if (waited)
            fxp__ing_event(g, "the journal '%s' has room again",
                           g->cfg.journal_dir);
        waited = false;
        atomic_store(&g->head, first + k - 1);
        atomic_fetch_add(&g->n_accepted, k);
        fxp_counter_add(g->m_accepted, k);
        done += k;
    }
    return FXP_OK;
}

/* Delete journal segments that are published (and beyond the limits). */
static void retain(struct fxp_ingest *g, int64_t *last)
{
    int64_t now = fxp__ing_now_ms();
    if (now - *last < g->cfg.retain_every_ms)
        return;
    *last = now;
    uint64_t p = atomic_load(&g->published);
    if (p && fxp_journal_retain(g->j, p + 1) != FXP_OK)
        fxp__ing_event(g, "warning: journal retention failed in '%s'",
                       g->cfg.journal_dir);
}

static void read_loop(struct fxp_ingest *g, struct fxp_source *src)
{
    int64_t last_retain = fxp__ing_now_ms();
    while (!atomic_load(&g->stop_intake)) {
        int rerr = FXP_OK;
        size_t n = fxp_source_read_ticks(src, g->buf, g->pos, g->cfg.batch_size,
                                         &rerr);
        if (n == 0 && rerr == FXP_EAGAIN) { /* interrupted: nudge or stop */
            if (put_rejects(g) != FXP_OK)
                return;
            make_durable(g, false);
            retain(g, &last_retain);
            continue;
        }
        if (n == 0) {
            if (rerr != FXP_OK)
                fxp__ing_fail(g, rerr, false, "cannot read %s: %s",
                              fxp_source_describe(src), fxp_strerror(rerr));
            return;
        }
        atomic_fetch_add(&g->n_read, n);
        size_t kept = judge(g, n);
        if (atomic_load(&g->failed) || put_rejects(g) != FXP_OK ||
            journal_ticks(g, kept) != FXP_OK)
            return;
        make_durable(g, false);
        retain(g, &last_retain);
    }
}

void *fxp__ing_intake(void *arg)
{
    struct fxp_ingest *g = arg;
    char err[512];
    struct fxp_source *src = NULL;
    int rc = g->open(g->open_ud, 0, on_bad, g, &src, err, sizeof err);
    if (rc != FXP_OK) {
        fxp__ing_fail(g, rc, false, "%s", err);
    } else if (fxp_source_kind(src) != FXP_KIND_TICKS) {
        fxp__ing_fail(g, FXP_EINVAL, false, "%s yields bars, not ticks",
                      fxp_source_describe(src));
    } else {
        pthread_mutex_lock(&g->src_mu);
        g->cur_src = src;
        pthread_mutex_unlock(&g->src_mu);
        origin_of(g->cfg.origin ? g->cfg.origin : fxp_source_describe(src),
                  g->origin, sizeof g->origin);
        if (g->skip_pos)
            fxp_source_skip_through(src, g->skip_pos);
        read_loop(g, src);
        if (!atomic_load(&g->failed))
            put_rejects(g); /* lines reported at the very end */
        pthread_mutex_lock(&g->src_mu);
        g->cur_src = NULL;
        pthread_mutex_unlock(&g->src_mu);
    }
    fxp_source_close(src);
    make_durable(g, true);
    atomic_store(&g->intake_done, 1);
    fxp__ing_wake(g);
    return NULL;
}
