/*
 * source_synth.c - the synthetic live quote feed (source.h): several
 * symbols with realistic prices, spreads and quote rates, deterministic
 * from a seed, silent while the market is closed. It is the default feed
 * of `fxpipe run` and the test bed of the validator (bad quotes), the gap
 * detector (quiet spells, outages) and the aggregator.
 *
 * Design notes
 *
 *  1. Determinism. The stream depends only on the config, the calendar
 *     and the symbol names: every symbol has its own xoshiro256** state
 *     seeded from (seed, name), the quiet/outage schedule is a pure hash
 *     of (seed, hour or day), and no state depends on how the caller
 *     batches its reads. rand(), clocks and addresses are never used. The
 *     only floating-point library calls (log, sqrt, exp, floor) are the
 *     same on every run of a build, so one build gives byte-identical
 *     streams; different libm versions may differ in the last bit.
 *  2. Arrivals are a Poisson process per symbol whose rate is
 *     quotes_per_sec times an hour-of-day factor (busier in London and New
 *     York hours, quiet around the 17:00 New York rollover). The factors
 *     average exactly 1 over the 24 UTC hours and a forex week covers each
 *     UTC hour exactly five times, so the mean rate over whole weeks is
 *     quotes_per_sec. An arrival is drawn as an Exp(1) amount of
 *     "expected quotes" consumed segment by segment; a segment is one UTC
 *     hour clipped to the open session, so time where the market is closed
 *     consumes nothing (the process is simply paused there).
 *  3. Merge: a binary min-heap of symbol indices keyed by (next arrival,
 *     index) yields ticks in time order; ties go to the lower index, so
 *     the order is total and reproducible. A tick's ts is floor(arrival),
 *     so ts order follows arrival order.
 *  4. Prices are the market model's: synth_model.c (its design note 1)
 *     gives every symbol its start price, decimals, spread and volatility
 *     and moves the mid one step per quote. This file only scales the
 *     volatility and spread by the hour (note 2).
 *  5. Quiet spells and outages come from a hash schedule: hour h has a
 *     quiet spell with probability quiet_prob (one symbol, 5-60 min,
 *     starting inside h); day d has an outage with probability
 *     outage_prob (all symbols, 1-30 min, starting inside d). A spell that
 *     starts in hour h-1 (day d-1) can reach into h (d) but no further, so
 *     the blocks that matter for an instant come from two hours and two
 *     days; each symbol caches them for its current hour. An arrival that
 *     lands in a block moves the symbol's clock to the block's end and is
 *     drawn again (the process is memoryless, so this is exact).
 *  6. Bad quotes replace a good quote with probability bad_prob, in a
 *     fixed rotation over all symbols: NaN bid, crossed (ask < bid),
 *     non-positive bid, a 30% jump. The random walk is not disturbed.
 *  7. Speed: per quote one or two PRNG draws, one log, one sqrt and two
 *     divisions; calendar look-ups happen once per session and the hour
 *     factors once per hour per symbol.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fxpipe/calendar.h"
#include "fxpipe/err.h"
#include "fxpipe/symbol.h"
#include "fxpipe/time.h"
#include "source/source_int.h"
#include "source/synth_model.h"

#define MAX_SYMBOLS 256
#define MAX_QPS     1000.0

/* A pure hash of (seed, tag, i): the quiet/outage schedule (note 5). */
static uint64_t hash3(uint64_t seed, uint64_t tag, int64_t i)
{
    uint64_t x = seed ^ (tag * 0xD1B54A32D192ED03ULL);
    (void)fxp__synth_splitmix64(&x);
    x += (uint64_t)i * 0xA0761D6478BD642FULL;
    return fxp__synth_splitmix64(&x);
}

/* ---- state ------------------------------------------------------------ */

struct blk {
    int64_t a, b; /* no quotes in [a, b) */
};

struct sym {
    uint64_t rng[4];
    double t;      /* next arrival (ms, fractional); INFINITY = done */
    double last_t; /* time of the previous quote (walk's dt) */
    struct fxp__synth_walk w; /* price state (note 4) */
    /* The current segment (note 2). */
    int64_t sess_close; /* end of the open session holding t */
    double seg_end;     /* end of the segment holding t */
    double rate_ms;     /* quotes per ms in the segment */
    double sig;         /* vol scaled for the hour */
    double spr;         /* spread_pts scaled for the hour */
    /* Blocks for the current hour (note 5). */
    int64_t blk_h;
    int n_blk;
    struct blk blk[4];
    uint32_t id;  /* symtab id */
    uint32_t idx; /* index in the config */
};

struct synth {
    const struct fxp_calendar *cal;
    uint64_t seed;
    int64_t from, to;
    double base_rate_ms; /* quotes_per_sec / 1000 */
    double quiet_prob, outage_prob, bad_prob;
    double mult[24], sqrt_mult[24], spread_f[24];
    uint64_t seq;    /* ticks emitted */
    uint64_t n_bad;  /* bad quotes emitted (rotation) */
    int64_t last_ts; /* ts of the last tick emitted */
    bool done;
    uint32_t n;
    uint32_t *heap; /* symbol indices (note 3) */
    struct sym *sym;
};

/* ---- blocks (quiet spells, outages) ----------------------------------- */

static void blocks_for_hour(const struct synth *g, struct sym *s, int64_t h)
{
    s->blk_h = h;
    s->n_blk = 0;
    for (int64_t hh = h - 1; hh <= h && g->quiet_prob > 0; hh++) {
        uint64_t x = hash3(g->seed, 0x51, hh);
        if (fxp__synth_unit(x) >= g->quiet_prob)
            continue;
        uint64_t who = fxp__synth_splitmix64(&x) % g->n;
        uint64_t at = fxp__synth_splitmix64(&x) % (uint64_t)FXP_MS_PER_HOUR;
        uint64_t len =
            5 * FXP_MS_PER_MIN +
            fxp__synth_splitmix64(&x) % (uint64_t)(55 * FXP_MS_PER_MIN + 1);
        if (who != s->idx)
            continue;
        int64_t a = hh * FXP_MS_PER_HOUR + (int64_t)at;
        s->blk[s->n_blk++] = (struct blk){a, a + (int64_t)len};
    }
    int64_t d = fxp_floor_div(h, 24);
    for (int64_t dd = d - 1; dd <= d && g->outage_prob > 0; dd++) {
        uint64_t x = hash3(g->seed, 0x0A, dd);
        if (fxp__synth_unit(x) >= g->outage_prob)
            continue;
        uint64_t at = fxp__synth_splitmix64(&x) % (uint64_t)FXP_MS_PER_DAY;
        uint64_t len = FXP_MS_PER_MIN + fxp__synth_splitmix64(&x) %
                                            (uint64_t)(29 * FXP_MS_PER_MIN + 1);
        int64_t a = dd * FXP_MS_PER_DAY + (int64_t)at;
        s->blk[s->n_blk++] = (struct blk){a, a + (int64_t)len};
    }
}

/* The end of the block holding t, or 0 when t is not blocked. */
static int64_t blocked_until(const struct synth *g, struct sym *s, double t)
{
    int64_t ti = (int64_t)floor(t);
    int64_t h = fxp_floor_div(ti, FXP_MS_PER_HOUR);
    if (h != s->blk_h)
        blocks_for_hour(g, s, h);
    for (int i = 0; i < s->n_blk; i++)
        if (ti >= s->blk[i].a && ti < s->blk[i].b)
            return s->blk[i].b;
    return 0;
}

/* ---- arrivals ---------------------------------------------------------- */

/* Set up the segment holding s->t (note 2), first moving s->t to the next
 * open instant when its session has ended. */
static void seg_enter(const struct synth *g, struct sym *s)
{
    if (s->t >= (double)s->sess_close) {
        int64_t open = fxp_cal_next_open(g->cal, (int64_t)floor(s->t));
        if (open == INT64_MAX || open >= g->to) {
            s->t = INFINITY;
            return;
        }
        s->sess_close = fxp_cal_next_close(g->cal, open);
        if (s->t < (double)open)
            s->t = (double)open;
    }
    int64_t h = fxp_floor_div((int64_t)floor(s->t), FXP_MS_PER_HOUR);
    int64_t end = (h + 1) * FXP_MS_PER_HOUR;
    if (end > s->sess_close)
        end = s->sess_close;
    int hod = (int)(h - fxp_floor_div(h, 24) * 24);
    s->seg_end = (double)end;
    s->rate_ms = g->base_rate_ms * g->mult[hod];
    s->sig = s->w.vol * g->sqrt_mult[hod];
    s->spr = s->w.spread_pts * g->spread_f[hod];
}

/* Move s->t to the symbol's next quote (or INFINITY). */
static void advance(const struct synth *g, struct sym *s)
{
    for (;;) {
        double need =
            -log(1.0 - fxp__synth_unit(fxp__synth_next(s->rng))); /* Exp(1) */
        for (;;) {
            if (s->t >= s->seg_end) {
                seg_enter(g, s);
                if (s->t >= (double)g->to) {
                    s->t = INFINITY;
                    return;
                }
            }
            double dt = need / s->rate_ms;
            if (s->t + dt < s->seg_end) {
                s->t += dt;
                break;
            }
            need -= (s->seg_end - s->t) * s->rate_ms;
            s->t = s->seg_end;
        }
        if (s->t >= (double)g->to) {
            s->t = INFINITY;
            return;
        }
        if (g->quiet_prob <= 0 && g->outage_prob <= 0)
            return;
        int64_t b = blocked_until(g, s, s->t);
        if (!b)
            return;
        s->t = (double)b; /* draw again from the block's end */
    }
}

/* ---- heap ------------------------------------------------------------- */

static inline bool before(const struct synth *g, uint32_t a, uint32_t b)
{
    double ta = g->sym[a].t, tb = g->sym[b].t;
    return ta < tb || (ta == tb && a < b);
}

static void sift_down(struct synth *g, uint32_t i)
{
    uint32_t *h = g->heap;
    for (;;) {
        uint32_t l = 2 * i + 1, m = i;
        if (l < g->n && before(g, h[l], h[m]))
            m = l;
        if (l + 1 < g->n && before(g, h[l + 1], h[m]))
            m = l + 1;
        if (m == i)
            return;
        uint32_t x = h[i];
        h[i] = h[m];
        h[m] = x;
        i = m;
    }
}

/* ---- quotes ----------------------------------------------------------- */

/* Fill *out with the quote of s at s->t (notes 4 and 6). */
static void quote(struct synth *g, struct sym *s, struct fxp_tick *out)
{
    double dt_s = (s->t - s->last_t) * 0.001;
    int64_t bid, ask;
    s->last_t = s->t;
    fxp__synth_walk_step(&s->w, s->rng, dt_s, s->sig, s->spr, &bid, &ask);

    out->ts_ms = (int64_t)floor(s->t);
    out->bid = (double)bid / s->w.scale;
    out->ask = (double)ask / s->w.scale;
    out->volume = 0;
    out->sym = s->id;
    out->flags = 0;

    if (g->bad_prob > 0 &&
        fxp__synth_unit(fxp__synth_next(s->rng)) < g->bad_prob) {
        switch (g->n_bad++ % 4) {
        case 0:
            out->bid = NAN;
            break;
        case 1: /* crossed */
            out->bid = (double)ask / s->w.scale;
            out->ask = (double)bid / s->w.scale;
            break;
        case 2:
            out->bid = -out->bid;
            break;
        default: /* a 30% spike */
            out->bid = floor((double)bid * 1.3) / s->w.scale;
            out->ask = floor((double)ask * 1.3) / s->w.scale;
            break;
        }
    }
}

static size_t synth_read(void *impl, struct fxp_tick *out, uint64_t *pos,
                         size_t cap, int *err)
{
    struct synth *g = impl;
    size_t n = 0;
    *err = FXP_OK;
    if (g->done)
        return 0;
    while (n < cap) {
        struct sym *s = &g->sym[g->heap[0]];
        if (!(s->t < (double)g->to)) {
            g->done = true;
            g->last_ts = g->to;
            break;
        }
        quote(g, s, &out[n]);
        g->last_ts = out[n].ts_ms;
        g->seq++;
        if (pos)
            pos[n] = g->seq;
        n++;
        advance(g, s);
        sift_down(g, 0);
    }
    return n;
}

static void synth_progress(const void *impl, uint64_t *done, uint64_t *total)
{
    const struct synth *g = impl;
    *total = (uint64_t)(g->to - g->from);
    *done = g->last_ts > g->from ? (uint64_t)(g->last_ts - g->from) : 0;
}

static void synth_close(void *impl)
{
    struct synth *g = impl;
    if (!g)
        return;
    free(g->heap);
    free(g->sym);
    free(g);
}

static const struct fxp_source_ops synth_ops = {
    .name = "synthetic",
    .read_ticks = synth_read,
    .read_bars = NULL,
    .progress = synth_progress,
    .interrupt = NULL,
    .close = synth_close,
};

/* ---- config ------------------------------------------------------------ */

void fxp_synth_cfg_default(struct fxp_synth_cfg *c)
{
    memset(c, 0, sizeof *c);
    c->seed = 1;
    c->symbols = "EURUSD,GBPUSD,USDJPY,XAUUSD";
    c->from_ms = 0;
    c->to_ms = 0;
    c->quotes_per_sec = 2.0;
    c->quiet_prob = 0;
    c->outage_prob = 0;
    c->bad_prob = 0;
    c->cal = NULL;
}

static bool is_prob(double p)
{
    return p >= 0 && p <= 1; /* false for NaN */
}

static int check_cfg(const struct fxp_synth_cfg *c, char *errbuf, size_t errlen)
{
    if (!c->cal) {
        snprintf(errbuf, errlen, "synthetic feed needs a market calendar");
        return FXP_EINVAL;
    }
    if (!c->symbols) {
        snprintf(errbuf, errlen, "synthetic feed needs symbols");
        return FXP_EINVAL;
    }
    if (c->to_ms <= c->from_ms) {
        snprintf(errbuf, errlen,
                 "invalid synthetic feed range: end %" PRId64
                 " is not after start %" PRId64,
                 c->to_ms, c->from_ms);
        return FXP_EINVAL;
    }
    if (!(c->quotes_per_sec > 0 && c->quotes_per_sec <= MAX_QPS)) {
        snprintf(errbuf, errlen,
                 "invalid synthetic quote rate '%g': must be in (0, %g]",
                 c->quotes_per_sec, MAX_QPS);
        return FXP_EINVAL;
    }
    if (!is_prob(c->quiet_prob) || !is_prob(c->outage_prob) ||
        !is_prob(c->bad_prob)) {
        snprintf(errbuf, errlen,
                 "invalid synthetic feed probability: quiet %g, outage %g, "
                 "bad %g must be in [0, 1]",
                 c->quiet_prob, c->outage_prob, c->bad_prob);
        return FXP_EINVAL;
    }
    return FXP_OK;
}

/* Intern the comma-separated list into ids[] (at most MAX_SYMBOLS). */
static int parse_symbols(const char *list, struct fxp_symtab *st, uint32_t *ids,
                         uint32_t *n_out, char *errbuf, size_t errlen)
{
    uint32_t n = 0;
    const char *p = list;
    for (;;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        const char *a = p, *b = p + len;
        while (a < b && (*a == ' ' || *a == '\t'))
            a++;
        while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
            b--;
        if (b > a) {
            if (n == MAX_SYMBOLS) {
                snprintf(errbuf, errlen,
                         "too many synthetic symbols: at most %d", MAX_SYMBOLS);
                return FXP_EINVAL;
            }
            uint32_t id;
            int rc = fxp_symtab_intern(st, a, (size_t)(b - a), &id);
            if (rc != FXP_OK) {
                snprintf(errbuf, errlen, "%s synthetic symbol '%.*s'",
                         rc == FXP_ETOOLARGE ? "no room in the symbol table for"
                                             : "invalid",
                         (int)(b - a), a);
                return rc;
            }
            for (uint32_t i = 0; i < n; i++)
                if (ids[i] == id) {
                    snprintf(errbuf, errlen, "duplicate synthetic symbol '%s'",
                             fxp_symtab_name(st, id));
                    return FXP_EINVAL;
                }
            ids[n++] = id;
        }
        if (!e)
            break;
        p = e + 1;
    }
    if (n == 0) {
        snprintf(errbuf, errlen, "synthetic feed needs symbols");
        return FXP_EINVAL;
    }
    *n_out = n;
    return FXP_OK;
}

static void sym_init(struct synth *g, struct sym *s, uint32_t idx, uint32_t id,
                     const char *name)
{
    uint64_t x = g->seed ^ fxp__synth_fnv1a(name);
    for (int i = 0; i < 4; i++)
        s->rng[i] = fxp__synth_splitmix64(&x);
    s->idx = idx;
    s->id = id;
    fxp__synth_walk_init(&s->w, name);
    s->t = (double)g->from;
    s->last_t = s->t;
    s->sess_close = INT64_MIN;
    s->seg_end = -INFINITY;
    s->blk_h = INT64_MIN;
    advance(g, s);
}

int fxp_source_open_synthetic(const struct fxp_synth_cfg *c,
                              struct fxp_symtab *st, struct fxp_source **out,
                              char *errbuf, size_t errlen)
{
    uint32_t ids[MAX_SYMBOLS];
    uint32_t n = 0;
    char desc[96];
    int rc;

    if (!c || !st || !out) {
        snprintf(errbuf, errlen, "synthetic feed: missing argument");
        return FXP_EINVAL;
    }
    *out = NULL;
    if ((rc = check_cfg(c, errbuf, errlen)) != FXP_OK)
        return rc;
    if ((rc = parse_symbols(c->symbols, st, ids, &n, errbuf, errlen)) != FXP_OK)
        return rc;

    struct synth *g = calloc(1, sizeof *g);
    if (!g)
        goto nomem;
    g->sym = calloc(n, sizeof *g->sym);
    g->heap = calloc(n, sizeof *g->heap);
    if (!g->sym || !g->heap)
        goto nomem;
    g->cal = c->cal;
    g->seed = c->seed;
    g->from = c->from_ms;
    g->to = c->to_ms;
    g->base_rate_ms = c->quotes_per_sec / 1000.0;
    g->quiet_prob = c->quiet_prob;
    g->outage_prob = c->outage_prob;
    g->bad_prob = c->bad_prob;
    g->last_ts = c->from_ms;
    g->n = n;
    fxp__synth_hour_factors(g->mult, g->sqrt_mult, g->spread_f);
    for (uint32_t i = 0; i < n; i++) {
        sym_init(g, &g->sym[i], i, ids[i], fxp_symtab_name(st, ids[i]));
        g->heap[i] = i;
    }
    for (uint32_t i = n / 2; i-- > 0;)
        sift_down(g, i);

    snprintf(desc, sizeof desc,
             "synthetic feed (%" PRIu32 " symbol%s, seed %" PRIu64 ")", n,
             n == 1 ? "" : "s", c->seed);
    *out = fxp__source_new(&synth_ops, g, desc);
    if (!*out) {
        snprintf(errbuf, errlen, "cannot open synthetic feed: %s",
                 fxp_strerror(FXP_ENOMEM));
        return FXP_ENOMEM;
    }
    return FXP_OK;

nomem:
    synth_close(g);
    snprintf(errbuf, errlen, "cannot open synthetic feed: %s",
             fxp_strerror(FXP_ENOMEM));
    return FXP_ENOMEM;
}
