/*
 * store_pg_series.c - what the PostgreSQL write path knows about a batch's
 * bars before sending them (store_pg_write.c notes 3 and 4): the newest
 * stored bar per series (symbol, timeframe), remembered per connection and
 * asked for in one query, and the duplicate keys inside the batch.
 *
 * Design notes
 *
 *  1. The series memory is a fixed open-addressing table (no allocation);
 *     when it is two thirds of its limit full at the start of a batch it
 *     is emptied, and a series that finds no room is simply not on the
 *     fast path (its bars are upserted).
 *  2. Duplicates: a hash table of (symbol id, timeframe, ts) over the
 *     batch, grown with the batch and reused. Of equal keys the highest
 *     version wins, the first on a tie; the losers are marked and never
 *     sent.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fxpipe/err.h"
#include "fxpipe/symbol.h"
#include "store/store_int.h"
#include "store/store_pg_int.h"

#define SERIES_LIMIT (FXP__PG_SERIES_SLOTS * 3 / 4)

static uint32_t series_hash(const char *sym, unsigned tf)
{
    uint32_t h = 2166136261u ^ tf;

    for (; *sym; sym++)
        h = (h ^ (unsigned char)*sym) * 16777619u;
    return h;
}

/* The slot of (sym, tf), added as FXP__PG_S_FREE when new; FXP__PG_NO_SERIES
 * when full. */
static unsigned series_slot(struct fxp__pg *q, const char *sym, unsigned tf)
{
    unsigned i = series_hash(sym, tf) & (FXP__PG_SERIES_SLOTS - 1);

    for (;; i = (i + 1) & (FXP__PG_SERIES_SLOTS - 1)) {
        struct fxp__pg_series *e = &q->series[i];
        if (!e->symbol[0])
            break;
        if (e->tf == tf && !strcmp(e->symbol, sym))
            return i;
    }
    /* Such names would need escaping in fxp__pg_ask_series' array
     * literals; normalised symbols never have them. */
    if (q->n_series >= SERIES_LIMIT || strpbrk(sym, "\"\\"))
        return FXP__PG_NO_SERIES;
    snprintf(q->series[i].symbol, sizeof q->series[i].symbol, "%s", sym);
    q->series[i].tf = (uint8_t)tf;
    q->n_series++;
    return i;
}

void fxp__pg_forget_series(struct fxp__pg *q)
{
    memset(q->series, 0, sizeof q->series);
    q->n_series = 0;
    q->n_touched = 0;
}

static uint64_t key_hash(const struct fxp_bar *b)
{
    uint64_t h = (uint64_t)b->ts_ms * 0x9E3779B97F4A7C15ull;

    h ^= ((uint64_t)b->sym << 8 | b->tf) * 0xC2B2AE3D27D4EB4Full;
    return h ^ (h >> 29);
}

static bool grow(struct fxp_store *s, void **p, size_t *cap, size_t n,
                 size_t size)
{
    struct fxp__pg *q = s->impl;

    if (n <= *cap)
        return true;
    void *np = realloc(*p, n * size);
    if (!np) {
        snprintf(s->err, sizeof s->err, "cannot write to '%s': out of memory",
                 q->name);
        return false;
    }
    *p = np;
    *cap = n;
    return true;
}

int fxp__pg_mark_bars(struct fxp_store *s, const struct fxp_store_batch *b)
{
    struct fxp__pg *q = s->impl;
    size_t n = b->n_bars, slots = 64;
    unsigned memo = FXP__PG_NO_SERIES;
    uint32_t memo_sym = 0;
    unsigned memo_tf = ~0u;

    while (slots < 2 * n)
        slots *= 2;
    if (!grow(s, (void **)&q->mark, &q->mark_cap, n, sizeof *q->mark) ||
        !grow(s, (void **)&q->slot, &q->slot_cap, slots, sizeof *q->slot))
        return FXP_ENOMEM;
    memset(q->slot, 0, slots * sizeof *q->slot);
    if (q->n_series >= SERIES_LIMIT * 2 / 3)
        fxp__pg_forget_series(q); /* room for this batch's new series */
    for (size_t i = 0; i < n; i++) {
        const struct fxp_bar *x = &b->bars[i];

        if (x->sym != memo_sym || x->tf != memo_tf) {
            memo = series_slot(q, fxp_symtab_name(b->symtab, x->sym), x->tf);
            memo_sym = x->sym;
            memo_tf = x->tf;
        }
        q->mark[i] = memo;
        if (memo != FXP__PG_NO_SERIES) {
            struct fxp__pg_series *e = &q->series[memo];
            if (!e->touched) {
                e->touched = 1;
                e->batch_max = x->ts_ms;
                q->touched[q->n_touched++] = (uint16_t)memo;
            } else if (x->ts_ms > e->batch_max) {
                e->batch_max = x->ts_ms;
            }
        }
        size_t h = key_hash(x) & (slots - 1);
        for (; q->slot[h]; h = (h + 1) & (slots - 1)) {
            size_t j = q->slot[h] - 1;
            const struct fxp_bar *y = &b->bars[j];
            if (y->ts_ms != x->ts_ms || y->sym != x->sym || y->tf != x->tf)
                continue;
            if (x->version > y->version) {
                q->mark[j] |= FXP__PG_LOSER;
                q->slot[h] = (uint32_t)i + 1;
            } else {
                q->mark[i] |= FXP__PG_LOSER;
            }
            break;
        }
        if (!q->slot[h])
            q->slot[h] = (uint32_t)i + 1;
    }
    return FXP_OK;
}

/* The scratch arrays are built in the COPY buffer, not in a COPY now. */
int fxp__pg_ask_series(struct fxp_store *s)
{
    struct fxp__pg *q = s->impl;
    struct fxp__pg_params p = {0};
    uint16_t asked[FXP__PG_SERIES_SLOTS];
    size_t n = 0, o = 0, half = q->cap / 2;
    char *syms = (char *)q->buf, *tfs = (char *)q->buf + half;
    PGresult *r;

    for (size_t i = 0; i < q->n_touched; i++)
        if (q->series[q->touched[i]].state == FXP__PG_S_FREE)
            asked[n++] = q->touched[i];
    if (!n)
        return FXP_OK;
    /* Array literals: normalised symbols and timeframe names need no
     * escaping. */
    size_t t = 0;
    syms[o++] = '{';
    tfs[t++] = '{';
    for (size_t i = 0; i < n; i++) {
        const struct fxp__pg_series *e = &q->series[asked[i]];
        o += (size_t)snprintf(syms + o, half - o, "%s\"%s\"%s", i ? "," : "",
                              e->symbol, i + 1 < n ? "" : "}");
        t += (size_t)snprintf(tfs + t, half - t, "%s\"%s\"%s", i ? "," : "",
                              fxp_tf_name((fxp_tf)e->tf), i + 1 < n ? "" : "}");
    }
    fxp__pg_p_text(&p, syms);
    fxp__pg_p_text(&p, tfs);
    int rc = fxp__pg_exec(
        s,
        "SELECT u.i, (SELECT max(b.ts) FROM bars b WHERE b.symbol = u.s AND "
        "b.timeframe = u.t) FROM unnest($1::text[], $2::text[]) WITH "
        "ORDINALITY AS u(s, t, i)",
        &p, &r, "write to");
    if (rc != FXP_OK)
        return rc;
    for (int row = 0; row < PQntuples(r); row++) {
        int64_t i = fxp__pg_get_int8(r, row, 0) - 1;
        if (i < 0 || (size_t)i >= n)
            continue;
        struct fxp__pg_series *e = &q->series[asked[i]];
        e->state = FXP__PG_S_KNOWN;
        e->has_max = !PQgetisnull(r, row, 1);
        e->max_ms = e->has_max ? fxp__pg_get_ts_ms(r, row, 1) : 0;
    }
    PQclear(r);
    return FXP_OK;
}
