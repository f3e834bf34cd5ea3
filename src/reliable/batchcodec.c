/*
 * batchcodec.c - store batches as bytes for the dead-letter queue
 * (batchcodec.h, docs/internals/retry-and-dlq.md).
 *
 * Design notes
 *
 *  1. Layout, version 1, every integer little-endian, doubles as their
 *     IEEE-754 bits (NaN and infinities survive):
 *
 *       "FXPB"  u8 version=1  u8 flags (bit 0: meta present,
 *                                        bit 1: tick positions present)
 *       u16 n_syms  u32 n_bars  u32 n_ticks  u32 n_rejects
 *       n_syms  x { u8 len, name }                 (1..15 bytes)
 *       n_bars  x { i64 ts, f64 open high low close volume, i64 version,
 *                   u32 n_ticks, u16 sym, u8 tf, u8 source, u16 flags }
 *       n_ticks x { i64 ts, f64 bid ask volume, u16 sym, u32 flags }
 *       [ n_ticks x u64 position ]                  (when flags bit 1)
 *       n_rejects x { str origin, i64 ts, str symbol, str reason,
 *                     str detail, str raw }
 *       [ str meta_key, str meta_value ]            (when flags bit 0)
 *       u32 CRC-32C of every byte before it
 *
 *     str is u32 length + bytes without NUL; length 0xFFFFFFFF is NULL.
 *     A sym is an index into the payload's own name table, so a payload
 *     means the same in any process; reason is fxp_reason_name().
 *  2. Decoding trusts nothing: the CRC is checked before anything is
 *     interned, every read is bounds-checked against the end, the record
 *     counts are checked against the bytes left before anything is
 *     allocated, and the last field must end exactly at the CRC. Any
 *     violation is FXP_EPARSE and frees what was built.
 *  3. The decoded object is a handful of allocations: the struct, the
 *     three record arrays and one string arena holding every reject and
 *     meta string, NUL-terminated; the view's pointers point into them.
 */
#include "fxpipe/batchcodec.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fxpipe/err.h"
#include "fxpipe/store.h"
#include "fxpipe/symbol.h"
#include "reliable/crc32c.h"

#define MAGIC      "FXPB"
#define VERSION    1
#define F_META     0x01
#define F_POS      0x02
#define HEADER_LEN 20
#define BAR_LEN    66
#define TICK_LEN   38
#define REJECT_MIN (5 * 4 + 8) /* five empty strings and a ts */
#define STR_NULL   0xFFFFFFFFu
#define MAX_SYMS   0xFFFFu

struct fxp_decoded_batch {
    struct fxp_store_batch view;
    struct fxp_bar *bars;
    struct fxp_tick *ticks;
    uint64_t *pos; /* tick positions, NULL when the payload has none */
    struct fxp_reject *rejects;
    char *strs; /* the string arena (note 3) */
};

/* ---- encoding ---- */

struct wbuf {
    unsigned char *p; /* next byte */
};

static void put_u8(struct wbuf *w, unsigned v)
{
    *w->p++ = (unsigned char)v;
}

static void put_u16(struct wbuf *w, unsigned v)
{
    put_u8(w, v & 0xff);
    put_u8(w, (v >> 8) & 0xff);
}

static void put_u32(struct wbuf *w, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        put_u8(w, (v >> (8 * i)) & 0xff);
}

static void put_u64(struct wbuf *w, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        put_u8(w, (unsigned)(v >> (8 * i)) & 0xff);
}

static void put_i64(struct wbuf *w, int64_t v)
{
    put_u64(w, (uint64_t)v);
}

static void put_f64(struct wbuf *w, double v)
{
    uint64_t u;

    memcpy(&u, &v, sizeof u);
    put_u64(w, u);
}

static void put_str(struct wbuf *w, const char *s)
{
    if (!s) {
        put_u32(w, STR_NULL);
        return;
    }
    size_t n = strlen(s);
    put_u32(w, (uint32_t)n);
    memcpy(w->p, s, n);
    w->p += n;
}

/* Bytes put_str writes for s, or 0 when s is too long. */
static size_t str_len(const char *s)
{
    size_t n = s ? strlen(s) : 0;

    return n >= STR_NULL ? 0 : 4 + n;
}

/* Give every sym id used by the batch a payload index (map[id] = index+1)
 * and record the ids in order; FXP_EINVAL for an id without a name. */
static int map_syms(const struct fxp_store_batch *b, uint32_t *map,
                    uint32_t n_ids, uint32_t *order, uint32_t *n_syms)
{
    size_t n = b->n_bars + b->n_ticks;

    for (size_t i = 0; i < n; i++) {
        uint32_t id =
            i < b->n_bars ? b->bars[i].sym : b->ticks[i - b->n_bars].sym;

        if (id >= n_ids || !fxp_symtab_name(b->symtab, id))
            return FXP_EINVAL;
        if (map[id])
            continue;
        if (*n_syms == MAX_SYMS)
            return FXP_ERANGE;
        order[*n_syms] = id;
        map[id] = ++*n_syms;
    }
    return FXP_OK;
}

int fxp_batch_encode(const struct fxp_store_batch *b, void **out, size_t *len)
{
    uint32_t *map = NULL, *order = NULL, n_ids = 0, n_syms = 0;
    unsigned char *buf = NULL;
    size_t size;
    int rc;

    *out = NULL;
    *len = 0;
    if (!b || (b->n_bars && !b->bars) || (b->n_ticks && !b->ticks) ||
        (b->n_rejects && !b->rejects))
        return FXP_EINVAL;
    if (b->n_bars > UINT32_MAX || b->n_ticks > UINT32_MAX ||
        b->n_rejects > UINT32_MAX)
        return FXP_ERANGE;
    if (b->n_bars || b->n_ticks) {
        if (!b->symtab)
            return FXP_EINVAL;
        n_ids = fxp_symtab_count(b->symtab);
        map = calloc(n_ids ? n_ids : 1, sizeof *map);
        order = calloc(n_ids ? n_ids : 1, sizeof *order);
        rc = FXP_ENOMEM;
        if (!map || !order)
            goto fail;
        rc = map_syms(b, map, n_ids, order, &n_syms);
        if (rc != FXP_OK)
            goto fail;
    }

    /* Size it first (overflow-safe: every term is checked). */
    rc = FXP_ERANGE;
    size = HEADER_LEN + 4;
    for (uint32_t i = 0; i < n_syms; i++)
        size += 1 + strlen(fxp_symtab_name(b->symtab, order[i]));
    if (b->n_bars > (SIZE_MAX - size) / BAR_LEN)
        goto fail;
    size += b->n_bars * BAR_LEN;
    if (b->n_ticks > (SIZE_MAX - size) / TICK_LEN)
        goto fail;
    size += b->n_ticks * TICK_LEN;
    bool with_pos = b->tick_pos && b->n_ticks;
    if (with_pos) {
        if (b->n_ticks > (SIZE_MAX - size) / 8)
            goto fail;
        size += b->n_ticks * 8;
    }
    for (size_t i = 0; i < b->n_rejects; i++) {
        const struct fxp_reject *r = &b->rejects[i];
        const char *strs[5] = {r->origin, r->symbol, NULL, r->detail, r->raw};

        if ((unsigned)r->reason >= FXP_R_COUNT) {
            rc = FXP_EINVAL;
            goto fail;
        }
        strs[2] = fxp_reason_name(r->reason);
        size += 8;
        for (int k = 0; k < 5; k++) {
            size_t n = str_len(strs[k]);
            if (!n || n > SIZE_MAX - size)
                goto fail;
            size += n;
        }
    }
    if (b->meta_key || b->meta_value) {
        size_t nk = str_len(b->meta_key), nv = str_len(b->meta_value);
        if (!nk || !nv || nk > SIZE_MAX - size - nv)
            goto fail;
        size += nk + nv;
    }

    rc = FXP_ENOMEM;
    buf = malloc(size);
    if (!buf)
        goto fail;
    struct wbuf w = {buf};
    memcpy(w.p, MAGIC, 4);
    w.p += 4;
    put_u8(&w, VERSION);
    put_u8(&w, (b->meta_key || b->meta_value ? F_META : 0) |
                   (with_pos ? F_POS : 0));
    put_u16(&w, n_syms);
    put_u32(&w, (uint32_t)b->n_bars);
    put_u32(&w, (uint32_t)b->n_ticks);
    put_u32(&w, (uint32_t)b->n_rejects);
    for (uint32_t i = 0; i < n_syms; i++) {
        const char *name = fxp_symtab_name(b->symtab, order[i]);
        size_t n = strlen(name);
        put_u8(&w, (unsigned)n);
        memcpy(w.p, name, n);
        w.p += n;
    }
    for (size_t i = 0; i < b->n_bars; i++) {
        const struct fxp_bar *x = &b->bars[i];
        put_i64(&w, x->ts_ms);
        put_f64(&w, x->open);
        put_f64(&w, x->high);
        put_f64(&w, x->low);
        put_f64(&w, x->close);
        put_f64(&w, x->volume);
        put_i64(&w, x->version);
        put_u32(&w, x->n_ticks);
        put_u16(&w, map[x->sym] - 1);
        put_u8(&w, x->tf);
        put_u8(&w, x->source);
        put_u16(&w, x->flags);
    }
    for (size_t i = 0; i < b->n_ticks; i++) {
        const struct fxp_tick *t = &b->ticks[i];
        put_i64(&w, t->ts_ms);
        put_f64(&w, t->bid);
        put_f64(&w, t->ask);
        put_f64(&w, t->volume);
        put_u16(&w, map[t->sym] - 1);
        put_u32(&w, t->flags);
    }
    for (size_t i = 0; with_pos && i < b->n_ticks; i++)
        put_u64(&w, b->tick_pos[i]);
    for (size_t i = 0; i < b->n_rejects; i++) {
        const struct fxp_reject *r = &b->rejects[i];
        put_str(&w, r->origin);
        put_i64(&w, r->ts_ms);
        put_str(&w, r->symbol);
        put_str(&w, fxp_reason_name(r->reason));
        put_str(&w, r->detail);
        put_str(&w, r->raw);
    }
    if (b->meta_key || b->meta_value) {
        put_str(&w, b->meta_key);
        put_str(&w, b->meta_value);
    }
    put_u32(&w, fxp__crc32c(0, buf, size - 4));
    free(map);
    free(order);
    *out = buf;
    *len = size;
    return FXP_OK;

fail:
    free(map);
    free(order);
    free(buf);
    return rc;
}

/* ---- decoding ---- */

struct rbuf {
    const unsigned char *p, *end;
    int bad; /* a read ran past end (note 2) */
};

static int need(struct rbuf *r, size_t n)
{
    if (r->bad || (size_t)(r->end - r->p) < n) {
        r->bad = 1;
        return 0;
    }
    return 1;
}

static unsigned get_u8(struct rbuf *r)
{
    return need(r, 1) ? *r->p++ : 0;
}

static unsigned get_u16(struct rbuf *r)
{
    unsigned lo = get_u8(r);
    return lo | get_u8(r) << 8;
}

static uint32_t get_u32(struct rbuf *r)
{
    uint32_t v = 0;

    if (!need(r, 4))
        return 0;
    for (int i = 0; i < 4; i++)
        v |= (uint32_t)r->p[i] << (8 * i);
    r->p += 4;
    return v;
}

static uint64_t get_u64(struct rbuf *r)
{
    uint64_t v = 0;

    if (!need(r, 8))
        return 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)r->p[i] << (8 * i);
    r->p += 8;
    return v;
}

static int64_t get_i64(struct rbuf *r)
{
    return (int64_t)get_u64(r);
}

static double get_f64(struct rbuf *r)
{
    uint64_t u = get_u64(r);
    double v;

    memcpy(&v, &u, sizeof v);
    return v;
}

/* Read a str into the arena at *arena (NUL-terminated); *s = its start,
 * or NULL for a NULL string. Embedded NULs are malformed. */
static void get_str(struct rbuf *r, char **arena, const char **s)
{
    uint32_t n = get_u32(r);

    *s = NULL;
    if (r->bad || n == STR_NULL)
        return;
    if (!need(r, n) || memchr(r->p, '\0', n)) {
        r->bad = 1;
        return;
    }
    memcpy(*arena, r->p, n);
    (*arena)[n] = '\0';
    *s = *arena;
    *arena += n + 1;
    r->p += n;
}

static int reason_parse(const char *name, fxp_reason *out)
{
    for (int i = 0; name && i < FXP_R_COUNT; i++)
        if (!strcmp(name, fxp_reason_name((fxp_reason)i))) {
            *out = (fxp_reason)i;
            return 0;
        }
    return -1;
}

int fxp_batch_decode(const void *buf, size_t len, struct fxp_symtab *st,
                     struct fxp_decoded_batch **out)
{
    const unsigned char *p = buf;
    struct fxp_decoded_batch *d = NULL;
    uint32_t *ids = NULL;
    struct rbuf r;
    unsigned flags, n_syms;
    uint32_t n_bars, n_ticks, n_rej;
    char *arena;
    int rc = FXP_EPARSE;

    *out = NULL;
    if (!buf || len < HEADER_LEN + 4 || memcmp(p, MAGIC, 4) || p[4] != VERSION)
        return FXP_EPARSE;
    r.p = p + len - 4;
    r.end = p + len;
    r.bad = 0;
    if (get_u32(&r) != fxp__crc32c(0, p, len - 4))
        return FXP_EPARSE;

    r.p = p + 5;
    r.end = p + len - 4;
    flags = get_u8(&r);
    n_syms = get_u16(&r);
    n_bars = get_u32(&r);
    n_ticks = get_u32(&r);
    n_rej = get_u32(&r);
    if (flags & ~(unsigned)(F_META | F_POS))
        return FXP_EPARSE;
    if (n_syms && !st)
        return FXP_EINVAL;
    /* Note 2: the counts must fit in what is left before any allocation. */
    uint64_t min_bytes = (uint64_t)n_syms * 2 + (uint64_t)n_bars * BAR_LEN +
                         (uint64_t)n_ticks * TICK_LEN +
                         (flags & F_POS ? (uint64_t)n_ticks * 8 : 0) +
                         (uint64_t)n_rej * REJECT_MIN +
                         (flags & F_META ? 8 : 0);
    if (min_bytes > (uint64_t)(r.end - r.p))
        return FXP_EPARSE;

    rc = FXP_ENOMEM;
    d = calloc(1, sizeof *d);
    if (!d)
        goto fail;
    ids = calloc(n_syms ? n_syms : 1, sizeof *ids);
    d->bars = calloc(n_bars ? n_bars : 1, sizeof *d->bars);
    d->ticks = calloc(n_ticks ? n_ticks : 1, sizeof *d->ticks);
    d->rejects = calloc(n_rej ? n_rej : 1, sizeof *d->rejects);
    if (flags & F_POS) {
        d->pos = calloc(n_ticks ? n_ticks : 1, sizeof *d->pos);
        if (!d->pos)
            goto fail;
    }
    /* Every string byte comes from the input, plus one NUL per string. */
    d->strs = malloc(len + 5 * (size_t)n_rej + 2);
    if (!ids || !d->bars || !d->ticks || !d->rejects || !d->strs)
        goto fail;
    arena = d->strs;

    rc = FXP_EPARSE;
    for (unsigned i = 0; i < n_syms; i++) {
        unsigned n = get_u8(&r);
        char name[FXP_SYMBOL_MAX];

        if (r.bad || n == 0 || n >= FXP_SYMBOL_MAX || !need(&r, n))
            goto fail;
        memcpy(name, r.p, n);
        name[n] = '\0';
        r.p += n;
        rc = fxp_symtab_intern(st, name, n, &ids[i]);
        if (rc == FXP_EINVAL)
            rc = FXP_EPARSE;
        if (rc != FXP_OK)
            goto fail;
        rc = FXP_EPARSE;
    }
    for (uint32_t i = 0; i < n_bars; i++) {
        struct fxp_bar *x = &d->bars[i];
        unsigned sym;

        x->ts_ms = get_i64(&r);
        x->open = get_f64(&r);
        x->high = get_f64(&r);
        x->low = get_f64(&r);
        x->close = get_f64(&r);
        x->volume = get_f64(&r);
        x->version = get_i64(&r);
        x->n_ticks = get_u32(&r);
        sym = get_u16(&r);
        x->tf = (uint8_t)get_u8(&r);
        x->source = (uint8_t)get_u8(&r);
        x->flags = (uint16_t)get_u16(&r);
        if (r.bad || sym >= n_syms)
            goto fail;
        x->sym = ids[sym];
    }
    for (uint32_t i = 0; i < n_ticks; i++) {
        struct fxp_tick *t = &d->ticks[i];
        unsigned sym;

        t->ts_ms = get_i64(&r);
        t->bid = get_f64(&r);
        t->ask = get_f64(&r);
        t->volume = get_f64(&r);
        sym = get_u16(&r);
        t->flags = get_u32(&r);
        if (r.bad || sym >= n_syms)
            goto fail;
        t->sym = ids[sym];
    }
    for (uint32_t i = 0; d->pos && i < n_ticks; i++)
        d->pos[i] = get_u64(&r);
    for (uint32_t i = 0; i < n_rej; i++) {
        struct fxp_reject *x = &d->rejects[i];
        const char *reason;

        get_str(&r, &arena, &x->origin);
        x->ts_ms = get_i64(&r);
        get_str(&r, &arena, &x->symbol);
        get_str(&r, &arena, &reason);
        get_str(&r, &arena, &x->detail);
        get_str(&r, &arena, &x->raw);
        if (r.bad || reason_parse(reason, &x->reason))
            goto fail;
    }
    if (flags & F_META) {
        get_str(&r, &arena, &d->view.meta_key);
        get_str(&r, &arena, &d->view.meta_value);
    }
    if (r.bad || r.p != r.end)
        goto fail;

    free(ids);
    d->view.bars = d->bars;
    d->view.n_bars = n_bars;
    d->view.ticks = d->ticks;
    d->view.n_ticks = n_ticks;
    d->view.tick_pos = d->pos;
    d->view.rejects = d->rejects;
    d->view.n_rejects = n_rej;
    d->view.symtab = st;
    *out = d;
    return FXP_OK;

fail:
    free(ids);
    fxp_decoded_batch_free(d);
    return rc;
}

const struct fxp_store_batch *
fxp_decoded_batch_view(const struct fxp_decoded_batch *d)
{
    return &d->view;
}

void fxp_decoded_batch_free(struct fxp_decoded_batch *d)
{
    if (!d)
        return;
    free(d->bars);
    free(d->ticks);
    free(d->pos);
    free(d->rejects);
    free(d->strs);
    free(d);
}
