/*
 * gaps.c - missing-bar detection and completeness (gaps.h).
 *
 * Design notes:
 *  1. fxp_gaps_diff is one merge walk over two ascending arrays: O(n + m),
 *     no allocation. Two missing bars join one range when the first's
 *     bucket ends where the second opens. That is the same as "adjacent in
 *     `expected`": no expected bar can open inside [end, start) when end
 *     equals start. A market closure (weekend, holiday, early close) leaves
 *     a hole between a bucket's end and the next expected open, so a range
 *     never spans one. 1m..1h bucket ends are open + step; 4h/1d/1w ends
 *     come from fxp_tf_bucket (they move with New York DST), computed for
 *     missing bars only.
 *  2. fxp_gaps_detect works per UTC day, a bar belonging to the day of its
 *     open time:
 *       expected(day) = fxp_cal_count_bars over the day clipped to
 *                       [from, to)      (arithmetic, no bars enumerated)
 *       stored(day)   = the coverage summary (ONE query for the range)
 *     A whole day with stored == expected is complete and never read: for
 *     ten years of full data the cost is one coverage query, one ledger
 *     query and ~3,650 calendar counts. Every other day with expected bars
 *     is "drilled": its expected bars are enumerated, its present bars read
 *     (fxp_store_present, which skips NULL/NaN/non-positive rows) and the
 *     two diffed. A day that has no stored bar at all is diffed against
 *     nothing, without a query. The partial first and last days of a range
 *     that does not start or end at midnight are always drilled, since the
 *     coverage counts whole days.
 *  3. Contiguous drilled days are read together, as one chunk of at most
 *     CHUNK_DAYS days and CHUNK_BARS expected bars: one present query per
 *     chunk instead of one per day, and memory bounded by the chunk, never
 *     by the length of [from, to). Present bars that are not expected
 *     (closed-market or misaligned rows) are dropped as they are read, so
 *     the present buffer never exceeds the expected one.
 *  4. Each day's bars are diffed separately and the day's ledger state is
 *     given to its ranges: verified or confirmed-empty -> FXP_GAP_EMPTY
 *     (the source was asked and had nothing; not re-detected as missing),
 *     needs-review -> FXP_GAP_REVIEW, anything else -> FXP_GAP_MISSING.
 *     A range is then merged with the previous one when they touch (end ==
 *     start) and have the same state, so ranges coalesce across midnight
 *     and across chunks, and split at midnight when the states differ.
 *  5. Memory: the report's ranges (and days when asked for), the coverage
 *     and ledger rows of the range (a few bytes per day that has any), and
 *     one chunk of bars (<= 2 * CHUNK_BARS * 8 bytes).
 *  7. When the store keeps presence bitmaps (coverage.bits), a drilled
 *     day's present bars come from its bitmap, so detection reads no bar
 *     at all; a day whose bitmap is not known (an older database, a
 *     rescan) is read from the bars as in note 2. fxpipe's own writes
 *     store only validated bars, so a set bit is a present bar.
 *  6. `completeness` is present / expected: what is stored. `complete`
 *     compares (present + confirmed-empty) / expected with the threshold
 *     of the timeframe: a series whose only holes are periods the source
 *     has confirmed empty is as complete as it can get, and calling it
 *     incomplete would restart the endless re-detection loop in whatever
 *     schedules fills until complete. needs-review bars do not count.
 */
#include "fxpipe/gaps.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fxpipe/calendar.h"
#include "fxpipe/err.h"
#include "fxpipe/store.h"
#include "fxpipe/time.h"

#define DAY        FXP_MS_PER_DAY
#define CHUNK_DAYS 64
#define CHUNK_BARS 65536

const char *fxp_gap_state_name(fxp_gap_state s)
{
    switch (s) {
    case FXP_GAP_MISSING:
        return "missing";
    case FXP_GAP_EMPTY:
        return "confirmed-empty";
    case FXP_GAP_REVIEW:
        return "needs-review";
    }
    return "?";
}

void fxp_gaps_opts_default(struct fxp_gaps_opts *o)
{
    o->intraday_threshold = 1.0;
    o->daily_threshold = 0.8;
    o->want_days = false;
}

void fxp_gap_report_release(struct fxp_gap_report *r)
{
    if (!r)
        return;
    free(r->ranges);
    free(r->days);
    r->ranges = NULL;
    r->n_ranges = 0;
    r->days = NULL;
    r->n_days = 0;
}

/* ---- The in-memory core ---- */

size_t fxp_gaps_diff(const struct fxp_align *al, fxp_tf tf,
                     const int64_t *expected, size_t n_expected,
                     const int64_t *present, size_t n_present,
                     struct fxp_gap_range *out, size_t cap, uint64_t *n_missing)
{
    struct fxp_gap_range cur = {0, 0, 0, FXP_GAP_MISSING};
    size_t i = 0, j = 0, n = 0;
    uint64_t miss = 0;

    if ((unsigned)tf >= FXP_TF_COUNT) {
        if (n_missing)
            *n_missing = 0;
        return 0;
    }
    bool fixed = tf < FXP_TF_4H;
    int64_t step = fixed ? fxp_tf_ms(tf) : 0;
    while (i < n_expected) {
        /* The common case: both arrays agree bar for bar. */
        while (i < n_expected && j < n_present && expected[i] == present[j]) {
            i++;
            j++;
        }
        if (i == n_expected)
            break;
        int64_t e = expected[i++];
        while (j < n_present && present[j] < e)
            j++;
        if (j < n_present && present[j] == e) {
            j++;
            continue;
        }
        int64_t bstart, bend;
        if (fixed)
            bend = e + step;
        else
            fxp_tf_bucket(al, tf, e, &bstart, &bend);
        miss++;
        if (cur.bars && cur.end == e && cur.bars < UINT32_MAX) {
            cur.end = bend;
            cur.bars++;
            continue;
        }
        if (cur.bars) {
            if (n < cap)
                out[n] = cur;
            n++;
        }
        cur.start = e;
        cur.end = bend;
        cur.bars = 1;
    }
    if (cur.bars) {
        if (n < cap)
            out[n] = cur;
        n++;
    }
    if (n_missing)
        *n_missing = miss;
    return n;
}

/* ---- Detection against the store ---- */

struct day_bars {
    int64_t day_ms;
    uint64_t bars;
    bool has_bits; /* the store's presence bitmap is known (note 7) */
    unsigned char bits[FXP_COVERAGE_BITS_MAX];
};

struct day_state {
    int64_t day_ms;
    fxp_gap_state state;
};

/* A day waiting in the current chunk (note 3). */
struct chunk_day {
    int64_t a, b;               /* the day clipped to [from, to) */
    fxp_gap_state state;        /* from the ledger */
    size_t k;                   /* index of the day in [from, to) */
    const struct day_bars *cov; /* its coverage row, or NULL */
};

struct det {
    struct fxp_store *s;
    const struct fxp_calendar *cal;
    const struct fxp_align *al;
    const char *symbol;
    fxp_tf tf;
    struct fxp_gap_report *r;
    size_t ranges_cap;
    int err;        /* set by a callback that had to stop */
    uint64_t empty; /* bars in confirmed-empty ranges */

    struct day_bars *cov; /* coverage rows, ascending */
    size_t n_cov, cap_cov, i_cov;
    struct day_state *led; /* ledger rows not in state missing, ascending */
    size_t n_led, cap_led, i_led;

    struct chunk_day chunk[CHUNK_DAYS];
    size_t n_chunk;
    uint64_t chunk_bars;  /* expected bars in the chunk */
    bool chunk_stored;    /* some day of the chunk has stored bars */
    int64_t *ebuf, *pbuf; /* expected and present bars of the chunk */
    size_t ebuf_cap, pbuf_cap;
};

/* Make room for `need` items of `size` bytes in *p (capacity *cap). */
static int grow(void **p, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return FXP_OK;
    size_t n = *cap ? *cap : 16;
    while (n < need) {
        if (n > SIZE_MAX / 2 / size)
            return FXP_ENOMEM;
        n *= 2;
    }
    void *q = realloc(*p, n * size);
    if (!q)
        return FXP_ENOMEM;
    *p = q;
    *cap = n;
    return FXP_OK;
}

static int on_coverage(void *ud, int64_t day_ms, uint64_t bars,
                       const unsigned char *bits, size_t len)
{
    struct det *d = ud;
    if (grow((void **)&d->cov, &d->cap_cov, d->n_cov + 1, sizeof *d->cov)) {
        d->err = FXP_ENOMEM;
        return 1;
    }
    struct day_bars *c = &d->cov[d->n_cov++];
    c->day_ms = day_ms;
    c->bars = bars;
    c->has_bits = bits && len <= sizeof c->bits;
    if (c->has_bits)
        memcpy(c->bits, bits, len);
    return 0;
}

static fxp_gap_state gap_state(fxp_ledger_state st)
{
    switch (st) {
    case FXP_LEDGER_VERIFIED:
    case FXP_LEDGER_EMPTY:
        return FXP_GAP_EMPTY;
    case FXP_LEDGER_REVIEW:
        return FXP_GAP_REVIEW;
    case FXP_LEDGER_MISSING:
    case FXP_LEDGER_DOWNLOADED:
        break;
    }
    return FXP_GAP_MISSING;
}

static int on_ledger(void *ud, const struct fxp_ledger_entry *e)
{
    struct det *d = ud;
    fxp_gap_state st = gap_state(e->state);
    if (st == FXP_GAP_MISSING)
        return 0;
    if (grow((void **)&d->led, &d->cap_led, d->n_led + 1, sizeof *d->led)) {
        d->err = FXP_ENOMEM;
        return 1;
    }
    d->led[d->n_led].day_ms = e->day_ms;
    d->led[d->n_led].state = st;
    d->n_led++;
    return 0;
}

/* Filters the present bars of a chunk down to the expected ones. */
struct present_ctx {
    const int64_t *e;
    size_t ne, ei;
    int64_t *p;
    size_t np;
};

static int on_present(void *ud, int64_t ts)
{
    struct present_ctx *c = ud;
    while (c->ei < c->ne && c->e[c->ei] < ts)
        c->ei++;
    if (c->ei < c->ne && c->e[c->ei] == ts) {
        c->p[c->np++] = ts;
        c->ei++;
    }
    return 0;
}

static int store_fail(struct det *d, int rc, const char *what, char *errbuf,
                      size_t errlen)
{
    if (d->err)
        rc = d->err;
    const char *msg = rc == FXP_ENOMEM ? NULL : fxp_store_errmsg(d->s);
    snprintf(errbuf, errlen, "cannot read %s of '%s' %s: %s", what, d->symbol,
             fxp_tf_name(d->tf), msg && *msg ? msg : fxp_strerror(rc));
    return rc;
}

/* Append the ranges of one day, found by fxp_gaps_diff, with the day's
 * state; merge the first into the previous range when they touch and
 * share the state (note 4). *missing gets the day's missing bars.
 * Returns FXP_OK or FXP_ENOMEM. */
static int diff_day(struct det *d, const int64_t *e, size_t ne,
                    const int64_t *p, size_t np, fxp_gap_state st,
                    uint64_t *missing)
{
    struct fxp_gap_report *r = d->r;
    *missing = 0;
    if (!ne)
        return FXP_OK;
    /* A day has at most as many ranges as expected bars. */
    if (grow((void **)&r->ranges, &d->ranges_cap, r->n_ranges + ne,
             sizeof *r->ranges))
        return FXP_ENOMEM;
    struct fxp_gap_range *nw = r->ranges + r->n_ranges;
    size_t n = fxp_gaps_diff(d->al, d->tf, e, ne, p, np, nw,
                             d->ranges_cap - r->n_ranges, missing);
    for (size_t i = 0; i < n; i++)
        nw[i].state = st;
    if (n && r->n_ranges) {
        struct fxp_gap_range *prev = nw - 1;
        if (prev->end == nw[0].start && prev->state == st &&
            (uint64_t)prev->bars + nw[0].bars <= UINT32_MAX) {
            prev->end = nw[0].end;
            prev->bars += nw[0].bars;
            memmove(nw, nw + 1, (n - 1) * sizeof *nw);
            n--;
        }
    }
    r->n_ranges += n;
    return FXP_OK;
}

/* Drill into the pending chunk: enumerate its expected bars, read its
 * present ones (unless it has none stored), diff day by day. */
static int flush(struct det *d, char *errbuf, size_t errlen)
{
    struct fxp_gap_report *r = d->r;
    if (!d->n_chunk)
        return FXP_OK;
    int64_t ca = d->chunk[0].a, cb = d->chunk[d->n_chunk - 1].b;
    size_t ne = (size_t)d->chunk_bars;
    int rc;

    for (;;) {
        if (grow((void **)&d->ebuf, &d->ebuf_cap, ne, sizeof *d->ebuf) ||
            grow((void **)&d->pbuf, &d->pbuf_cap, ne, sizeof *d->pbuf))
            goto nomem;
        size_t got =
            fxp_cal_expected_bars(d->cal, d->al, d->tf, ca, cb, d->ebuf, ne);
        /* More than counted only if the calendar disagrees with itself;
         * then enumerate again into a buffer of the right size. */
        bool again = got > ne;
        ne = got;
        if (!again)
            break;
    }

    struct present_ctx pc = {d->ebuf, ne, 0, d->pbuf, 0};
    bool bits_known = true;
    for (size_t c = 0; c < d->n_chunk; c++)
        if (d->chunk[c].cov && !d->chunk[c].cov->has_bits)
            bits_known = false;
    if (d->chunk_stored && bits_known) {
        /* Note 7: present bars from the days' bitmaps, no bars read. */
        int64_t slot = fxp_coverage_slot_ms(d->tf);
        size_t nbits = fxp_coverage_bits_len(d->tf) * 8;
        for (size_t c = 0; c < d->n_chunk; c++) {
            const struct day_bars *cv = d->chunk[c].cov;
            for (size_t i = 0; cv && i < nbits; i++) {
                if (!(cv->bits[i / 8] & (1u << (i % 8))))
                    continue;
                int64_t ts = cv->day_ms + (int64_t)i * slot;
                if (ts >= d->chunk[c].a && ts < d->chunk[c].b)
                    on_present(&pc, ts);
            }
        }
    } else if (d->chunk_stored) {
        rc = fxp_store_present(d->s, d->symbol, d->tf, ca, cb, on_present, &pc);
        if (rc)
            return store_fail(d, rc, "bars", errbuf, errlen);
    }

    size_t ei = 0, pi = 0;
    for (size_t c = 0; c < d->n_chunk; c++) {
        const struct chunk_day *cd = &d->chunk[c];
        while (ei < ne && d->ebuf[ei] < cd->a)
            ei++;
        while (pi < pc.np && d->pbuf[pi] < cd->a)
            pi++;
        size_t e0 = ei, p0 = pi;
        while (ei < ne && d->ebuf[ei] < cd->b)
            ei++;
        while (pi < pc.np && d->pbuf[pi] < cd->b)
            pi++;
        uint64_t miss = 0;
        if (diff_day(d, d->ebuf + e0, ei - e0, d->pbuf + p0, pi - p0, cd->state,
                     &miss))
            goto nomem;
        uint64_t present = (ei - e0) - miss;
        r->expected += ei - e0;
        r->present += present;
        if (cd->state == FXP_GAP_MISSING)
            r->missing += miss;
        else if (cd->state == FXP_GAP_EMPTY)
            d->empty += miss;
        if (r->days) {
            r->days[cd->k].expected = (uint32_t)(ei - e0);
            r->days[cd->k].present = (uint32_t)present;
        }
    }
    d->n_chunk = 0;
    d->chunk_bars = 0;
    d->chunk_stored = false;
    return FXP_OK;

nomem:
    snprintf(errbuf, errlen, "out of memory detecting gaps of '%s' %s",
             d->symbol, fxp_tf_name(d->tf));
    return FXP_ENOMEM;
}

int fxp_gaps_detect(struct fxp_store *s, const struct fxp_calendar *cal,
                    const struct fxp_align *al, const char *symbol, fxp_tf tf,
                    int64_t from, int64_t to, const struct fxp_gaps_opts *o,
                    struct fxp_gap_report *out, char *errbuf, size_t errlen)
{
    struct fxp_gaps_opts defaults;
    struct det d;
    struct fxp_gap_report *r = out;
    int rc = FXP_OK;

    memset(r, 0, sizeof *r);
    r->tf = tf;
    r->from = from;
    r->to = to;
    r->completeness = 1.0;
    r->complete = true;
    if (!o) {
        fxp_gaps_opts_default(&defaults);
        o = &defaults;
    }
    if ((unsigned)tf >= FXP_TF_COUNT) {
        snprintf(errbuf, errlen, "invalid timeframe %d", (int)tf);
        return FXP_EINVAL;
    }
    if (strlen(symbol) >= sizeof r->symbol) {
        snprintf(errbuf, errlen, "symbol too long: '%s'", symbol);
        return FXP_EINVAL;
    }
    memcpy(r->symbol, symbol, strlen(symbol) + 1);
    if (from >= to)
        return FXP_OK;

    memset(&d, 0, sizeof d);
    d.s = s;
    d.cal = cal;
    d.al = al;
    d.symbol = symbol;
    d.tf = tf;
    d.r = r;

    int64_t d0 = fxp_floor_div(from, DAY) * DAY;
    int64_t d_end = fxp_floor_div(to - 1, DAY) * DAY + DAY;
    size_t n_days = (size_t)((d_end - d0) / DAY);
    if (o->want_days) {
        r->days = calloc(n_days, sizeof *r->days);
        if (!r->days) {
            snprintf(errbuf, errlen, "out of memory detecting gaps of '%s' %s",
                     symbol, fxp_tf_name(tf));
            rc = FXP_ENOMEM;
            goto fail;
        }
        r->n_days = n_days;
    }

    rc = fxp_store_presence(s, symbol, tf, d0, d_end, on_coverage, &d);
    if (rc || d.err) {
        rc = store_fail(&d, rc, "coverage", errbuf, errlen);
        goto fail;
    }
    rc = fxp_store_ledger_scan(s, symbol, tf, d0, d_end, on_ledger, &d);
    if (rc || d.err) {
        rc = store_fail(&d, rc, "ledger", errbuf, errlen);
        goto fail;
    }

    size_t k = 0;
    for (int64_t day = d0; day < d_end; day += DAY, k++) {
        int64_t a = day < from ? from : day;
        int64_t b = day + DAY > to ? to : day + DAY;
        uint64_t exp = fxp_cal_count_bars(cal, al, tf, a, b);
        uint64_t stored = 0;
        fxp_gap_state st = FXP_GAP_MISSING;
        const struct day_bars *cov = NULL;

        while (d.i_cov < d.n_cov && d.cov[d.i_cov].day_ms < day)
            d.i_cov++;
        if (d.i_cov < d.n_cov && d.cov[d.i_cov].day_ms == day) {
            cov = &d.cov[d.i_cov];
            stored = cov->bars;
        }
        while (d.i_led < d.n_led && d.led[d.i_led].day_ms < day)
            d.i_led++;
        if (d.i_led < d.n_led && d.led[d.i_led].day_ms == day)
            st = d.led[d.i_led].state;
        if (r->days)
            r->days[k].day_ms = day;
        if (exp == 0)
            continue;
        if (a == day && b == day + DAY && stored == exp) {
            /* Complete by the coverage summary: not read (note 2). */
            if ((rc = flush(&d, errbuf, errlen)))
                goto fail;
            r->expected += exp;
            r->present += exp;
            if (r->days)
                r->days[k].expected = r->days[k].present = (uint32_t)exp;
            continue;
        }
        if (d.n_chunk == CHUNK_DAYS ||
            (d.n_chunk && d.chunk_bars + exp > CHUNK_BARS))
            if ((rc = flush(&d, errbuf, errlen)))
                goto fail;
        d.chunk[d.n_chunk].a = a;
        d.chunk[d.n_chunk].b = b;
        d.chunk[d.n_chunk].state = st;
        d.chunk[d.n_chunk].k = k;
        d.chunk[d.n_chunk].cov = cov;
        d.n_chunk++;
        d.chunk_bars += exp;
        if (stored)
            d.chunk_stored = true;
    }
    if ((rc = flush(&d, errbuf, errlen)))
        goto fail;

    /* Confirmed-empty bars count as accounted for when judging `complete`
     * (note 6); `completeness` stays the stored fraction. */
    double done = 1.0;
    if (r->expected) {
        r->completeness = (double)r->present / (double)r->expected;
        done = (double)(r->present + d.empty) / (double)r->expected;
    }
    r->complete =
        done >= (tf >= FXP_TF_1D ? o->daily_threshold : o->intraday_threshold);
    /* Give back what the doubling over-allocated. */
    if (r->n_ranges && r->n_ranges < d.ranges_cap) {
        void *q = realloc(r->ranges, r->n_ranges * sizeof *r->ranges);
        if (q)
            r->ranges = q;
    }
    if (!r->n_ranges) {
        free(r->ranges);
        r->ranges = NULL;
    }
    rc = FXP_OK;
    goto done;

fail:
    fxp_gap_report_release(r);
    r->expected = r->present = r->missing = 0;
    r->completeness = 0.0;
    r->complete = false;
done:
    free(d.cov);
    free(d.led);
    free(d.ebuf);
    free(d.pbuf);
    return rc;
}
