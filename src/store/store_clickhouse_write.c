/*
 * store_clickhouse_write.c - the ClickHouse backend's writes: a batch's
 * bars, ticks, rejects and meta key as RowBinary inserts, and ledger
 * entries (design notes 1 to 4 in store_clickhouse.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fxpipe/err.h"
#include "fxpipe/symbol.h"
#include "fxpipe/time.h"
#include "store/store_clickhouse_int.h"

#define CHUNK   ((size_t)16 << 20) /* note 4 */
#define DAY     FXP_MS_PER_DAY
#define ROW_FIX 96 /* a bar or tick row without its symbol's bytes */

#define BARS_INSERT                                                            \
    "INSERT INTO bars (symbol, timeframe, ts, open, high, low, close, "        \
    "volume, ticks, version, source) FORMAT RowBinary"
#define TICKS_INSERT                                                           \
    "INSERT INTO ticks (symbol, ts, bid, ask, volume) FORMAT RowBinary"
#define REJECTS_INSERT                                                         \
    "INSERT INTO rejects (origin, ts, symbol, reason, detail, raw) "           \
    "FORMAT RowBinary"
#define META_INSERT "INSERT INTO meta (key, value, updated) FORMAT RowBinary"
#define LEDGER_INSERT                                                          \
    "INSERT INTO ledger (symbol, timeframe, day, state, attempts, bars, "      \
    "detail, updated) FORMAT RowBinary"

/* UTC midnight at or before ts (floor for negative times too). */
static int64_t floor_day(int64_t ts)
{
    int64_t r = ts % DAY;

    if (r < 0)
        r += DAY;
    return ts >= INT64_MIN + r ? ts - r : INT64_MIN;
}

static int no_memory(struct fxp_store *s, const char *what)
{
    struct fxp__ch *c = s->impl;

    snprintf(s->err, sizeof s->err, "cannot %s '%s': out of memory", what,
             c->url);
    return FXP_ENOMEM;
}

/* Note 3: everything that would make the batch unstorable, up front. */
static int check_batch(struct fxp_store *s, const struct fxp_store_batch *b,
                       size_t n_ticks)
{
    struct fxp__ch *c = s->impl;
    const char *why = NULL, *kind = "bar";
    size_t i;

    for (i = 0; i < b->n_bars; i++) {
        const struct fxp_bar *bar = &b->bars[i];

        if ((!i || bar->sym != bar[-1].sym) &&
            !fxp_symtab_name(b->symtab, bar->sym))
            why = "a symbol id with no name";
        else if (bar->tf >= FXP_TF_COUNT)
            why = "an unknown timeframe";
        else if (!fxp__sqlite_source_name(bar->source))
            why = "an unknown source";
        else if (bar->version < 0)
            why = "a negative version";
        if (why)
            goto bad;
    }
    kind = "tick";
    for (i = 0; i < n_ticks; i++)
        if ((!i || b->ticks[i].sym != b->ticks[i - 1].sym) &&
            !fxp_symtab_name(b->symtab, b->ticks[i].sym)) {
            why = "a symbol id with no name";
            goto bad;
        }
    kind = "reject";
    for (i = 0; i < b->n_rejects; i++)
        if (!b->rejects[i].origin || !b->rejects[i].origin[0]) {
            why = "no origin";
            goto bad;
        }
    return FXP_OK;

bad:
    snprintf(s->err, sizeof s->err, "cannot write to '%s': %s %zu has %s",
             c->url, kind, i, why);
    return FXP_EINVAL;
}

static int send_rows(struct fxp_store *s, const char *insert)
{
    struct fxp__ch *c = s->impl;

    return fxp__ch_insert(c, s->err, sizeof s->err, "write to", insert);
}

static int write_bars(struct fxp_store *s, const struct fxp_store_batch *b)
{
    struct fxp__ch *c = s->impl;
    const char *name = NULL;
    size_t name_len = 0;
    uint32_t last_sym = 0;

    for (size_t i = 0; i < b->n_bars;) {
        c->req.len = 0;
        for (; i < b->n_bars && c->req.len < CHUNK; i++) {
            const struct fxp_bar *bar = &b->bars[i];
            char *p;

            if (!name || bar->sym != last_sym) {
                name = fxp_symtab_name(b->symtab, bar->sym);
                name_len = strlen(name);
                last_sym = bar->sym;
            }
            if (fxp__chbuf_reserve(&c->req, name_len + ROW_FIX) != FXP_OK)
                return no_memory(s, "write to");
            p = c->req.p + c->req.len;
            p = fxp__rb_str(p, name, name_len);
            p = fxp__rb_u8(p, bar->tf);
            p = fxp__rb_u64(p, (uint64_t)bar->ts_ms);
            p = fxp__rb_f64(p, bar->open);
            p = fxp__rb_f64(p, bar->high);
            p = fxp__rb_f64(p, bar->low);
            p = fxp__rb_f64(p, bar->close);
            p = fxp__rb_f64(p, bar->volume);
            p = fxp__rb_u32(p, bar->n_ticks);
            p = fxp__rb_u64(p, (uint64_t)bar->version);
            p = fxp__rb_u8(p, bar->source);
            c->req.len = (size_t)(p - c->req.p);
        }
        int rc = send_rows(s, BARS_INSERT);
        if (rc != FXP_OK)
            return rc;
    }
    return FXP_OK;
}

static int write_ticks(struct fxp_store *s, const struct fxp_store_batch *b,
                       size_t n_ticks)
{
    struct fxp__ch *c = s->impl;
    const char *name = NULL;
    size_t name_len = 0;
    uint32_t last_sym = 0;

    for (size_t i = 0; i < n_ticks;) {
        c->req.len = 0;
        for (; i < n_ticks && c->req.len < CHUNK; i++) {
            const struct fxp_tick *t = &b->ticks[i];
            char *p;

            if (!name || t->sym != last_sym) {
                name = fxp_symtab_name(b->symtab, t->sym);
                name_len = strlen(name);
                last_sym = t->sym;
            }
            if (fxp__chbuf_reserve(&c->req, name_len + ROW_FIX) != FXP_OK)
                return no_memory(s, "write to");
            p = c->req.p + c->req.len;
            p = fxp__rb_str(p, name, name_len);
            p = fxp__rb_u64(p, (uint64_t)t->ts_ms);
            p = fxp__rb_f64(p, t->bid);
            p = fxp__rb_f64(p, t->ask);
            p = fxp__rb_f64(p, t->volume);
            c->req.len = (size_t)(p - c->req.p);
        }
        int rc = send_rows(s, TICKS_INSERT);
        if (rc != FXP_OK)
            return rc;
    }
    return FXP_OK;
}

/* Append a string field to c->req, growing it; FXP_OK or FXP_ENOMEM. */
static int put_str(struct fxp__ch *c, const char *v)
{
    size_t n = v ? strlen(v) : 0;

    if (fxp__chbuf_reserve(&c->req, n + 10) != FXP_OK)
        return FXP_ENOMEM;
    c->req.len = (size_t)(fxp__rb_str(c->req.p + c->req.len, v, n) - c->req.p);
    return FXP_OK;
}

/* Append a 1, 4 or 8 byte integer to c->req; FXP_OK or FXP_ENOMEM. */
static int put_fixed(struct fxp__ch *c, uint64_t v, int bytes)
{
    char *p;

    if (fxp__chbuf_reserve(&c->req, 8) != FXP_OK)
        return FXP_ENOMEM;
    p = c->req.p + c->req.len;
    p = bytes == 8   ? fxp__rb_u64(p, v)
        : bytes == 4 ? fxp__rb_u32(p, (uint32_t)v)
                     : fxp__rb_u8(p, (unsigned)v);
    c->req.len = (size_t)(p - c->req.p);
    return FXP_OK;
}

static int write_rejects(struct fxp_store *s, const struct fxp_store_batch *b)
{
    struct fxp__ch *c = s->impl;

    for (size_t i = 0; i < b->n_rejects;) {
        c->req.len = 0;
        for (; i < b->n_rejects && c->req.len < CHUNK; i++) {
            const struct fxp_reject *r = &b->rejects[i];
            if (put_str(c, r->origin) || put_fixed(c, (uint64_t)r->ts_ms, 8) ||
                put_str(c, r->symbol) ||
                put_str(c, fxp_reason_name(r->reason)) ||
                put_str(c, r->detail) || put_str(c, r->raw))
                return no_memory(s, "write to");
        }
        int rc = send_rows(s, REJECTS_INSERT);
        if (rc != FXP_OK)
            return rc;
    }
    return FXP_OK;
}

int fxp__ch_put_meta(struct fxp_store *s, const char *key, const char *value,
                     char *err, size_t errlen, const char *what)
{
    struct fxp__ch *c = s->impl;

    c->req.len = 0;
    if (put_str(c, key) || put_str(c, value) ||
        put_fixed(c, fxp__ch_next_updated(c), 8)) {
        snprintf(err, errlen, "cannot %s '%s': out of memory", what, c->url);
        return FXP_ENOMEM;
    }
    return fxp__ch_insert(c, err, errlen, what, META_INSERT);
}

int fxp__ch_write(struct fxp_store *s, const struct fxp_store_batch *b)
{
    struct fxp__ch *c = s->impl;
    size_t n_ticks = s->opts.keep_ticks ? b->n_ticks : 0;
    int rc;

    if (b->meta_key && !strcmp(b->meta_key, "schema_version")) {
        snprintf(s->err, sizeof s->err,
                 "cannot write to '%s': meta key 'schema_version' is "
                 "reserved",
                 c->url);
        return FXP_EINVAL;
    }
    if ((b->n_bars || n_ticks) && !b->symtab) {
        snprintf(s->err, sizeof s->err,
                 "cannot write to '%s': batch has bars or ticks but no "
                 "symbol table",
                 c->url);
        return FXP_EINVAL;
    }
    rc = check_batch(s, b, n_ticks);
    if (rc != FXP_OK)
        return rc;
    /* Note 2: bars, ticks, rejects, meta. */
    rc = write_bars(s, b);
    if (rc == FXP_OK)
        rc = write_ticks(s, b, n_ticks);
    if (rc == FXP_OK)
        rc = write_rejects(s, b);
    if (rc == FXP_OK && b->meta_key)
        rc =
            fxp__ch_put_meta(s, b->meta_key, b->meta_value ? b->meta_value : "",
                             s->err, sizeof s->err, "write to");
    return rc;
}

int fxp__ch_ledger_put(struct fxp_store *s, const struct fxp_ledger_entry *e,
                       size_t n)
{
    struct fxp__ch *c = s->impl;

    for (size_t i = 0; i < n; i++) {
        const char *why = NULL;

        if (!memchr(e[i].symbol, '\0', sizeof e[i].symbol))
            why = "an unterminated symbol";
        else if (!e[i].symbol[0])
            why = "no symbol";
        else if ((unsigned)e[i].tf >= FXP_TF_COUNT)
            why = "an unknown timeframe";
        else if ((unsigned)e[i].state > FXP_LEDGER_REVIEW)
            why = "an unknown state";
        else if (floor_day(e[i].day_ms) != e[i].day_ms)
            why = "a day that is not a UTC midnight";
        else if (!memchr(e[i].detail, '\0', sizeof e[i].detail))
            why = "an unterminated detail";
        if (why) {
            snprintf(s->err, sizeof s->err,
                     "cannot write to '%s': ledger entry %zu has %s", c->url, i,
                     why);
            return FXP_EINVAL;
        }
    }
    if (!n)
        return FXP_OK;
    c->req.len = 0;
    for (size_t i = 0; i < n; i++) {
        /* Later entries of one call get later 'updated': the last wins. */
        if (put_str(c, e[i].symbol) || put_fixed(c, e[i].tf, 1) ||
            put_fixed(c, (uint64_t)e[i].day_ms, 8) ||
            put_str(c, fxp_ledger_state_name(e[i].state)) ||
            put_fixed(c, e[i].attempts, 4) || put_fixed(c, e[i].bars, 4) ||
            put_str(c, e[i].detail) || put_fixed(c, fxp__ch_next_updated(c), 8))
            return no_memory(s, "write to");
    }
    return send_rows(s, LEDGER_INSERT);
}
