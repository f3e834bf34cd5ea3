/*
 * aggregate.c - the streaming multi-timeframe OHLCV engine.
 *
 * Design notes:
 * 1. Per symbol and timeframe there is at most one OPEN bar (`cur`) and a
 *    small set of CLOSED bars that late input may still revise (`ring`).
 *    A closed bar stays revisable while its end > wm - lateness, where wm
 *    (the watermark) is the newest time seen for the symbol. That bounds
 *    the ring at lateness/step + 2 entries.
 * 2. A tick only touches the open 1m bar (the hot path: one range check,
 *    a few compares). Higher timeframes receive a 1m bar when it closes
 *    (fold_closed_1m), so their content is always the sum of the CLOSED
 *    1m bars of their bucket plus late input applied directly.
 * 3. Every higher-timeframe boundary is a whole minute, so time can only
 *    cross one on the slow path, where forward() closes what has ended.
 * 4. Merging is order-free except for open/close: open is the earliest
 *    first_ts (earlier arrival wins a tie), close the latest last_ts
 *    (later arrival wins a tie), as a stable sort by time would give.
 * 5. A bar's version is rank << 40 | n (version.h); every revision adds
 *    input, so a re-emitted bar always has a higher version. A bar's rank
 *    is the highest rank of its inputs: ticks carry the engine's rank, 1m
 *    input bars their own (from their version) — so a 1h bar rebuilt from
 *    live 1m bars plus back-filled ones keeps the live rank and, holding
 *    more quotes, replaces the incomplete live 1h bar.
 *
 *   input ts:   < wm - L          in [wm - L, cur1.start)     in cur1   > cur1
 *               reject LATE       late(): revise ring/cur     hot path
 * forward()
 */
#include "fxpipe/aggregate.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fxpipe/time.h"
#include "fxpipe/version.h"

/* What one input contributes: a tick is a partial with first = last. */
struct part {
    int64_t first_ts, last_ts;
    double o, h, l, c, vol;
    uint32_t n;
    uint32_t rank; /* version rank of the input (note 5) */
};

struct wbar {
    int64_t start, end;        /* bucket [start, end) */
    int64_t first_ts, last_ts; /* times of the open and close prices */
    double o, h, l, c, vol;
    uint32_t n;
    uint32_t rank;    /* highest rank merged in */
    uint32_t emitted; /* times emitted so far */
};

struct tfstate {
    struct wbar cur; /* open bar; start > end when there is none */
    struct wbar *ring;
    uint32_t ring_n, ring_cap;
};

struct symstate {
    int64_t wm;
    struct tfstate tf[FXP_TF_COUNT];
};

struct fxp_agg {
    struct fxp_agg_cfg cfg;
    fxp_bar_fn emit;
    void *ud;
    uint32_t rank;
    struct symstate **sym; /* [max_symbols], allocated on first use */
    struct fxp_agg_stats st;
};

static const struct wbar NO_BAR = {.start = INT64_MAX, .end = INT64_MIN};

const char *fxp_price_name(fxp_price p)
{
    return p == FXP_PRICE_BID ? "bid" : p == FXP_PRICE_ASK ? "ask" : "mid";
}

int fxp_price_parse(const char *s, fxp_price *out)
{
    if (!strcmp(s, "mid"))
        *out = FXP_PRICE_MID;
    else if (!strcmp(s, "bid"))
        *out = FXP_PRICE_BID;
    else if (!strcmp(s, "ask"))
        *out = FXP_PRICE_ASK;
    else
        return -1;
    return 0;
}

void fxp_agg_cfg_default(struct fxp_agg_cfg *cfg, const struct fxp_tz *ny)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->align.session = FXP_SESSION_NY_CLOSE;
    cfg->align.ny = ny;
    cfg->tf_mask = FXP_TF_ALL_MASK;
    cfg->price = FXP_PRICE_MID;
    cfg->lateness_ms = 5000;
    cfg->source = FXP_SRC_LIVE;
    cfg->max_symbols = 4096;
}

struct fxp_agg *fxp_agg_new(const struct fxp_agg_cfg *cfg, fxp_bar_fn emit,
                            void *ud)
{
    if (!cfg || !emit || cfg->lateness_ms < 0 || cfg->max_symbols == 0 ||
        (cfg->align.session == FXP_SESSION_NY_CLOSE && !cfg->align.ny))
        return NULL;
    struct fxp_agg *a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    a->cfg = *cfg;
    a->emit = emit;
    a->ud = ud;
    a->rank = cfg->rank ? cfg->rank : (uint32_t)cfg->source;
    a->sym = calloc(cfg->max_symbols, sizeof *a->sym);
    if (!a->sym) {
        free(a);
        return NULL;
    }
    return a;
}

static void free_sym(struct symstate *s)
{
    if (!s)
        return;
    for (int k = 0; k < FXP_TF_COUNT; k++)
        free(s->tf[k].ring);
    free(s);
}

void fxp_agg_free(struct fxp_agg *a)
{
    if (!a)
        return;
    for (uint32_t i = 0; i < a->cfg.max_symbols; i++)
        free_sym(a->sym[i]);
    free(a->sym);
    free(a);
}

static struct symstate *new_sym(const struct fxp_agg *a)
{
    struct symstate *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->wm = INT64_MIN;
    for (int k = 0; k < FXP_TF_COUNT; k++) {
        struct tfstate *t = &s->tf[k];
        t->cur = NO_BAR;
        int64_t cap = a->cfg.lateness_ms / fxp_tf_ms((fxp_tf)k) + 2;
        t->ring_cap = (uint32_t)(cap > 1024 ? 1024 : cap);
        t->ring = calloc(t->ring_cap, sizeof *t->ring);
        if (!t->ring) {
            free_sym(s);
            return NULL;
        }
    }
    return s;
}

static inline void merge(struct wbar *b, const struct part *p)
{
    if (p->first_ts < b->first_ts) {
        b->first_ts = p->first_ts;
        b->o = p->o;
    }
    if (p->last_ts >= b->last_ts) {
        b->last_ts = p->last_ts;
        b->c = p->c;
    }
    if (p->h > b->h)
        b->h = p->h;
    if (p->l < b->l)
        b->l = p->l;
    b->n += p->n;
    b->vol += p->vol;
    if (p->rank > b->rank)
        b->rank = p->rank;
}

static void start_bar(struct wbar *b, int64_t start, int64_t end,
                      const struct part *p)
{
    b->start = start;
    b->end = end;
    b->first_ts = INT64_MAX;
    b->last_ts = INT64_MIN;
    b->h = -INFINITY;
    b->l = INFINITY;
    b->n = 0;
    b->vol = 0;
    b->rank = 0;
    b->emitted = 0;
    merge(b, p);
}

static void emit_bar(struct fxp_agg *a, uint32_t sym, fxp_tf tf, struct wbar *w)
{
    bool revision = w->emitted > 0;
    w->emitted++;
    if (!(a->cfg.tf_mask & (1u << tf)))
        return;
    struct fxp_bar b = {
        .ts_ms = w->start,
        .open = w->o,
        .high = w->h,
        .low = w->l,
        .close = w->c,
        .volume = w->vol,
        .version = fxp_version_make(w->rank, w->n),
        .n_ticks = w->n,
        .sym = sym,
        .tf = (uint8_t)tf,
        .source = (uint8_t)a->cfg.source,
    };
    a->st.emitted[tf]++;
    if (revision)
        a->st.revisions++;
    a->emit(a->ud, &b, revision);
}

/* Keep a closed bar revisable: drop expired entries, then store it. */
static void ring_put(struct tfstate *t, const struct wbar *w, int64_t horizon)
{
    uint32_t j = 0;
    for (uint32_t i = 0; i < t->ring_n; i++)
        if (t->ring[i].end > horizon)
            t->ring[j++] = t->ring[i];
    t->ring_n = j;
    if (w->end <= horizon)
        return;
    if (t->ring_n == t->ring_cap) { /* cannot happen by note 1; stay safe */
        uint32_t oldest = 0;
        for (uint32_t i = 1; i < t->ring_n; i++)
            if (t->ring[i].end < t->ring[oldest].end)
                oldest = i;
        t->ring[oldest] = *w;
        return;
    }
    t->ring[t->ring_n++] = *w;
}

static struct wbar *ring_find(struct tfstate *t, int64_t ts)
{
    for (uint32_t i = 0; i < t->ring_n; i++)
        if (ts >= t->ring[i].start && ts < t->ring[i].end)
            return &t->ring[i];
    return NULL;
}

static inline int64_t horizon(const struct fxp_agg *a, const struct symstate *s)
{
    return s->wm == INT64_MIN ? INT64_MIN : s->wm - a->cfg.lateness_ms;
}

static void close_cur(struct fxp_agg *a, uint32_t sym, struct symstate *s,
                      fxp_tf tf)
{
    struct tfstate *t = &s->tf[tf];
    emit_bar(a, sym, tf, &t->cur);
    ring_put(t, &t->cur, horizon(a, s));
    t->cur = NO_BAR;
}

/* Fold a just-closed 1m bar into every higher timeframe (note 2). */
static void fold_closed_1m(struct fxp_agg *a, uint32_t sym, struct symstate *s,
                           const struct wbar *m)
{
    struct part p = {m->first_ts, m->last_ts, m->o, m->h,   m->l,
                     m->c,        m->vol,     m->n, m->rank};
    for (int k = FXP_TF_5M; k < FXP_TF_COUNT; k++) {
        struct tfstate *t = &s->tf[k];
        if (m->start >= t->cur.start && m->start < t->cur.end) {
            merge(&t->cur, &p);
            continue;
        }
        if (t->cur.start <= t->cur.end)
            close_cur(a, sym, s, (fxp_tf)k);
        int64_t bs, be;
        fxp_tf_bucket(&a->cfg.align, (fxp_tf)k, m->start, &bs, &be);
        start_bar(&t->cur, bs, be, &p);
    }
}

/* Close everything that ends at or before `now`, in timeframe order. */
static void close_until(struct fxp_agg *a, uint32_t sym, struct symstate *s,
                        int64_t now)
{
    struct tfstate *m1 = &s->tf[FXP_TF_1M];
    if (m1->cur.start <= m1->cur.end && m1->cur.end <= now) {
        struct wbar closed = m1->cur;
        close_cur(a, sym, s, FXP_TF_1M);
        fold_closed_1m(a, sym, s, &closed);
    }
    for (int k = FXP_TF_5M; k < FXP_TF_COUNT; k++) {
        struct tfstate *t = &s->tf[k];
        if (t->cur.start <= t->cur.end && t->cur.end <= now)
            close_cur(a, sym, s, (fxp_tf)k);
    }
}

/* Input older than the open 1m bar but within the lateness (note 1):
 * revise, or create, the bar containing it in every timeframe. */
static void apply_late(struct fxp_agg *a, uint32_t sym, struct symstate *s,
                       int64_t ts, const struct part *p)
{
    int64_t hz = horizon(a, s);
    struct tfstate *m1 = &s->tf[FXP_TF_1M];
    if (m1->cur.start > m1->cur.end) {
        int64_t bs, be;
        fxp_tf_bucket(&a->cfg.align, FXP_TF_1M, ts, &bs, &be);
        if (be > s->wm) {
            /* After an advance() inside a silent minute: the input opens
             * that minute, which folds upward when it closes (note 2). */
            start_bar(&m1->cur, bs, be, p);
            return;
        }
    }
    for (int k = 0; k < FXP_TF_COUNT; k++) {
        struct tfstate *t = &s->tf[k];
        if (ts >= t->cur.start && ts < t->cur.end) {
            merge(&t->cur, p); /* still open: emitted when it closes */
            continue;
        }
        struct wbar *w = ring_find(t, ts);
        if (w) {
            merge(w, p);
            emit_bar(a, sym, (fxp_tf)k, w);
            continue;
        }
        struct wbar nb;
        int64_t bs, be;
        fxp_tf_bucket(&a->cfg.align, (fxp_tf)k, ts, &bs, &be);
        start_bar(&nb, bs, be, p);
        if (be > s->wm) {
            t->cur = nb; /* the bucket of "now" had no closed 1m bar yet */
            continue;
        }
        emit_bar(a, sym, (fxp_tf)k, &nb);
        ring_put(t, &nb, hz);
    }
}

/* Everything that is not the hot path. `is_bar` marks 1m input bars. */
static fxp_reason slow_path(struct fxp_agg *a, uint32_t sym,
                            const struct part *p, bool is_bar)
{
    if (sym >= a->cfg.max_symbols)
        return FXP_R_SYMBOL;
    struct symstate *s = a->sym[sym];
    if (!s && !(s = a->sym[sym] = new_sym(a)))
        return FXP_R_SYMBOL; /* out of memory: refuse, never crash */
    int64_t ts = p->first_ts;
    struct tfstate *m1 = &s->tf[FXP_TF_1M];
    if (ts >= m1->cur.start && ts < m1->cur.end) { /* only bars get here */
        if (is_bar && m1->cur.n > 0)
            return FXP_R_DUPLICATE;
        merge(&m1->cur, p);
    } else if (ts >= m1->cur.end || m1->cur.start > m1->cur.end) {
        if (s->wm != INT64_MIN && ts < horizon(a, s))
            return FXP_R_LATE;
        if (ts >= s->wm || s->wm == INT64_MIN) { /* forward in time */
            close_until(a, sym, s, ts);
            s->wm = ts;
            int64_t bs, be;
            fxp_tf_bucket(&a->cfg.align, FXP_TF_1M, ts, &bs, &be);
            start_bar(&m1->cur, bs, be, p);
        } else { /* no open 1m bar, but behind an advance(): late */
            if (is_bar && ring_find(m1, ts))
                return FXP_R_DUPLICATE;
            apply_late(a, sym, s, ts, p);
        }
    } else {
        if (ts < horizon(a, s))
            return FXP_R_LATE;
        if (is_bar && ring_find(m1, ts))
            return FXP_R_DUPLICATE;
        apply_late(a, sym, s, ts, p);
    }
    if (p->last_ts > s->wm)
        s->wm = p->last_ts;
    return FXP_R_OK;
}

static inline double tick_price(const struct fxp_agg *a,
                                const struct fxp_tick *t)
{
    switch (a->cfg.price) {
    case FXP_PRICE_BID:
        return t->bid;
    case FXP_PRICE_ASK:
        return t->ask;
    default:
        return (t->bid + t->ask) * 0.5;
    }
}

/* The hot path: a tick inside its symbol's open 1m bar. */
static inline fxp_reason one_tick(struct fxp_agg *a, const struct fxp_tick *t)
{
    double px = tick_price(a, t);
    double vol = (t->flags & FXP_TICK_HAS_VOLUME) ? t->volume : 1.0;
    int64_t ts = t->ts_ms;
    struct symstate *s = t->sym < a->cfg.max_symbols ? a->sym[t->sym] : NULL;
    if (s) {
        struct wbar *b = &s->tf[FXP_TF_1M].cur;
        if (ts >= b->start && ts < b->end) {
            if (ts < b->first_ts) {
                b->first_ts = ts;
                b->o = px;
            }
            if (ts >= b->last_ts) {
                b->last_ts = ts;
                b->c = px;
            }
            b->h = px > b->h ? px : b->h;
            b->l = px < b->l ? px : b->l;
            b->n++;
            b->vol += vol;
            if (ts > s->wm)
                s->wm = ts;
            return FXP_R_OK;
        }
    }
    struct part p = {ts, ts, px, px, px, px, vol, 1, a->rank};
    return slow_path(a, t->sym, &p, false);
}

fxp_reason fxp_agg_tick(struct fxp_agg *a, const struct fxp_tick *t)
{
    fxp_reason r = one_tick(a, t);
    if (r == FXP_R_OK)
        a->st.ticks++;
    else if (r == FXP_R_LATE)
        a->st.late++;
    return r;
}

size_t fxp_agg_ticks(struct fxp_agg *a, const struct fxp_tick *t, size_t n,
                     uint32_t *rejected)
{
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        fxp_reason r = one_tick(a, &t[i]);
        if (r != FXP_R_OK) {
            if (r == FXP_R_LATE)
                a->st.late++;
            if (rejected)
                rejected[bad] = (uint32_t)i;
            bad++;
        }
    }
    a->st.ticks += n - bad;
    return bad;
}

fxp_reason fxp_agg_bar(struct fxp_agg *a, const struct fxp_bar *m1)
{
    if (m1->tf != FXP_TF_1M ||
        fxp_floor_div(m1->ts_ms, FXP_MS_PER_MIN) * FXP_MS_PER_MIN != m1->ts_ms)
        return FXP_R_TS_ALIGN;
    struct part p = {m1->ts_ms,
                     m1->ts_ms + FXP_MS_PER_MIN - 1,
                     m1->open,
                     m1->high,
                     m1->low,
                     m1->close,
                     m1->volume,
                     m1->n_ticks ? m1->n_ticks : 1,
                     m1->version ? fxp_version_rank(m1->version) : a->rank};
    fxp_reason r = slow_path(a, m1->sym, &p, true);
    if (r == FXP_R_OK)
        a->st.bars_in++;
    else if (r == FXP_R_LATE)
        a->st.late++;
    else if (r == FXP_R_DUPLICATE)
        a->st.duplicate++;
    return r;
}

void fxp_agg_advance(struct fxp_agg *a, int64_t now_ms)
{
    for (uint32_t i = 0; i < a->cfg.max_symbols; i++) {
        struct symstate *s = a->sym[i];
        if (!s || now_ms <= s->wm)
            continue;
        s->wm = now_ms;
        close_until(a, i, s, now_ms);
    }
}

void fxp_agg_flush(struct fxp_agg *a)
{
    for (uint32_t i = 0; i < a->cfg.max_symbols; i++) {
        struct symstate *s = a->sym[i];
        if (!s)
            continue;
        close_until(a, i, s, INT64_MAX);
        free_sym(s);
        a->sym[i] = NULL;
    }
}

void fxp_agg_get_stats(const struct fxp_agg *a, struct fxp_agg_stats *out)
{
    *out = a->st;
}

int64_t fxp_agg_oldest_open(const struct fxp_agg *a)
{
    int64_t oldest = INT64_MAX;
    for (uint32_t i = 0; i < a->cfg.max_symbols; i++) {
        const struct symstate *s = a->sym[i];
        if (!s)
            continue;
        for (int k = 0; k < FXP_TF_COUNT; k++) {
            const struct tfstate *t = &s->tf[k];
            if (t->cur.start <= t->cur.end && t->cur.start < oldest)
                oldest = t->cur.start;
            for (uint32_t r = 0; r < t->ring_n; r++)
                if (t->ring[r].start < oldest)
                    oldest = t->ring[r].start;
        }
    }
    return oldest;
}
