/*
 * backfill.c - plan, fetch, store, rebuild, verify, record (backfill.h).
 *
 * Design notes:
 * 1. Per UTC day of the range: expected (calendar), stored (coverage) and
 *    the ledger entry. A day is planned when bars are expected, the store
 *    holds fewer than expected, and the ledger has no final state for it
 *    (verified, confirmed-empty, needs-review); --force plans every day
 *    with expected bars.
 * 2. Consecutive planned days form one request (at most days_per_request).
 *    A request is attempted until it verifies or the days' attempts reach
 *    max_attempts; the HTTP client's own retries happen inside one attempt.
 * 3. The ledger is written after verification only: a crash leaves the
 *    days unrecorded, and the next run does them again (the store's upsert
 *    makes that harmless).
 * 4. Higher timeframes of every week touched are rebuilt from the stored
 *    1m bars, which carry their versions: a bucket mixing live and
 *    back-filled minutes keeps the live rank and, holding more quotes,
 *    replaces the incomplete bar (docs/internals/versions.md).
 */
#include "fxpipe/backfill.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fxpipe/aggregate.h"
#include "fxpipe/calendar.h"
#include "fxpipe/err.h"
#include "fxpipe/store.h"
#include "fxpipe/symbol.h"
#include "fxpipe/time.h"
#include "fxpipe/version.h"

#define DAY    FXP_MS_PER_DAY
#define WBATCH 4096

struct day {
    int64_t day_ms;
    uint32_t expected, stored;
    uint32_t fetched;
    int64_t last_ts; /* last fetched bar time, to count duplicates once */
    uint32_t attempts;
    fxp_ledger_state state;
    bool has_entry, planned;
};

struct run {
    struct fxp_store *store;
    const struct fxp_backfill_cfg *cfg;
    struct fxp_symtab *st;
    struct fxp_validator *val;
    const char *symbol;
    uint32_t sym;
    struct day *days;
    size_t n_days;
    int64_t day0;
    struct fxp_bar bars[WBATCH];
    size_t n_bars;
    struct fxp_reject rejs[256];
    char rej_origin[256][64];
    char rej_detail[256][160];
    size_t n_rejs;
    struct fxp_backfill_stats *stats;
    int store_err;
    char errbuf[512];
};

void fxp_backfill_cfg_default(struct fxp_backfill_cfg *c,
                              const struct fxp_calendar *cal,
                              const struct fxp_tz *ny)
{
    memset(c, 0, sizeof *c);
    c->cal = cal;
    c->align.session = FXP_SESSION_NY_CLOSE;
    c->align.ny = ny;
    fxp_validate_cfg_default(&c->validate);
    c->max_attempts = 3;
    c->days_per_request = 30;
}

static int flush(struct run *r)
{
    if (!r->n_bars && !r->n_rejs)
        return FXP_OK;
    struct fxp_store_batch b = {.bars = r->bars,
                                .n_bars = r->n_bars,
                                .rejects = r->rejs,
                                .n_rejects = r->n_rejs,
                                .symtab = r->st};
    int rc = fxp_store_write(r->store, &b);
    r->n_bars = r->n_rejs = 0;
    if (rc != FXP_OK && !r->store_err) {
        r->store_err = rc;
        snprintf(r->errbuf, sizeof r->errbuf, "%s", fxp_store_errmsg(r->store));
    }
    return rc;
}

static struct day *day_of(struct run *r, int64_t ts)
{
    int64_t i = fxp_floor_div(ts - r->day0, DAY);
    return i >= 0 && (size_t)i < r->n_days ? &r->days[i] : NULL;
}

/* Page callback: validate, count per day, buffer, write. */
static int on_page(void *ud, const struct fxp_bar *bars, size_t n)
{
    struct run *r = ud;
    for (size_t i = 0; i < n; i++) {
        struct fxp_bar b = bars[i];
        b.sym = r->sym;
        b.tf = FXP_TF_1M;
        b.source = FXP_SRC_HISTORICAL;
        if (!b.n_ticks)
            b.n_ticks = 1;
        b.version = fxp_version_make(FXP_SRC_HISTORICAL, b.n_ticks);
        fxp_reason why = fxp_validate_bar(r->val, &r->cfg->align, &b);
        if (why != FXP_R_OK) {
            size_t k = r->n_rejs;
            snprintf(r->rej_origin[k], sizeof r->rej_origin[k],
                     "backfill:%s:%lld", r->symbol, (long long)b.ts_ms);
            fxp_reason_format_bar(why, &b, r->rej_detail[k],
                                  sizeof r->rej_detail[k]);
            r->rejs[k] = (struct fxp_reject){.origin = r->rej_origin[k],
                                             .ts_ms = b.ts_ms,
                                             .symbol = r->symbol,
                                             .reason = why,
                                             .detail = r->rej_detail[k],
                                             .raw = ""};
            r->stats->bars_rejected++;
            if (++r->n_rejs == 256 && flush(r))
                return 1;
            continue;
        }
        struct day *d = day_of(r, b.ts_ms);
        if (d && b.ts_ms != d->last_ts) {
            d->fetched++;
            d->last_ts = b.ts_ms;
            r->stats->bars_fetched++;
        }
        r->bars[r->n_bars++] = b;
        if (r->n_bars == WBATCH && flush(r))
            return 1;
    }
    /* Each page is stored before the next is asked for, so a crash loses
     * at most the page in flight. */
    return flush(r) != FXP_OK;
}

/* ---- rebuilding the higher timeframes (note 4) ---- */

struct rebuild {
    struct run *r;
    struct fxp_agg *agg;
};

static void on_rebuilt(void *ud, const struct fxp_bar *b, bool revision)
{
    (void)revision;
    struct run *r = ud;
    r->bars[r->n_bars++] = *b;
    r->stats->bars_rebuilt++;
    if (r->n_bars == WBATCH)
        flush(r);
}

static int on_stored_1m(void *ud, const char *symbol, const struct fxp_bar *b)
{
    (void)symbol;
    struct rebuild *rb = ud;
    struct fxp_bar m = *b;
    m.sym = rb->r->sym;
    m.tf = FXP_TF_1M;
    fxp_agg_bar(rb->agg, &m);
    return rb->r->store_err != 0;
}

static int rebuild(struct run *r, int64_t from, int64_t to)
{
    const struct fxp_align *al = &r->cfg->align;
    int64_t ws = fxp_tf_floor(al, FXP_TF_1W, from), we, s;
    fxp_tf_bucket(al, FXP_TF_1W, to - 1, &s, &we);
    struct fxp_agg_cfg ac;
    fxp_agg_cfg_default(&ac, al->ny);
    ac.align = *al;
    ac.tf_mask = FXP_TF_ALL_MASK & ~(1u << FXP_TF_1M);
    ac.source = FXP_SRC_HISTORICAL;
    ac.lateness_ms = 0;
    ac.max_symbols = r->sym + 1;
    struct rebuild rb = {r, fxp_agg_new(&ac, on_rebuilt, r)};
    if (!rb.agg)
        return FXP_ENOMEM;
    int rc = fxp_store_scan_bars(r->store, r->symbol, FXP_TF_1M, ws, we,
                                 on_stored_1m, &rb);
    fxp_agg_flush(rb.agg);
    fxp_agg_free(rb.agg);
    if (rc != FXP_OK && !r->store_err) {
        r->store_err = rc;
        snprintf(r->errbuf, sizeof r->errbuf, "%s", fxp_store_errmsg(r->store));
    }
    flush(r);
    return r->store_err;
}

/* ---- planning and verification ---- */

static int on_coverage(void *ud, int64_t day_ms, uint64_t bars)
{
    struct run *r = ud;
    struct day *d = day_of(r, day_ms);
    if (d)
        d->stored = (uint32_t)bars;
    return 0;
}

static int on_ledger(void *ud, const struct fxp_ledger_entry *e)
{
    struct run *r = ud;
    struct day *d = day_of(r, e->day_ms);
    if (d) {
        d->has_entry = true;
        d->state = e->state;
        d->attempts = e->attempts;
    }
    return 0;
}

static int record(struct run *r, size_t i0, size_t i1, const char *detail)
{
    struct fxp_ledger_entry e[64];
    size_t n = 0;
    for (size_t i = i0; i < i1; i++) {
        struct day *d = &r->days[i];
        if (!d->planned)
            continue;
        e[n] = (struct fxp_ledger_entry){.tf = FXP_TF_1M,
                                         .day_ms = d->day_ms,
                                         .state = d->state,
                                         .attempts = d->attempts,
                                         .bars = d->fetched};
        snprintf(e[n].symbol, sizeof e[n].symbol, "%s", r->symbol);
        snprintf(e[n].detail, sizeof e[n].detail, "%s",
                 d->state == FXP_LEDGER_VERIFIED || d->state == FXP_LEDGER_EMPTY
                     ? ""
                     : detail);
        if (++n == 64) {
            if (fxp_store_ledger_put(r->store, e, n) != FXP_OK) {
                snprintf(r->errbuf, sizeof r->errbuf, "%s",
                         fxp_store_errmsg(r->store));
                return FXP_EIO;
            }
            n = 0;
        }
    }
    if (n && fxp_store_ledger_put(r->store, e, n) != FXP_OK) {
        snprintf(r->errbuf, sizeof r->errbuf, "%s", fxp_store_errmsg(r->store));
        return FXP_EIO;
    }
    return FXP_OK;
}

/* One attempt at days [i0, i1). Returns FXP_OK when the fetch and the
 * store went through (verification decides per day), FXP_EUNAVAIL for a
 * retryable fetch failure, or a fatal error. */
static int attempt(struct run *r, fxp_fetch_fn fetch, void *fetch_ud, size_t i0,
                   size_t i1, int64_t from, int64_t to, char *detail,
                   size_t dlen)
{
    for (size_t i = i0; i < i1; i++) {
        r->days[i].fetched = 0;
        r->days[i].last_ts = INT64_MIN;
        r->days[i].attempts++;
    }
    int64_t a = r->days[i0].day_ms > from ? r->days[i0].day_ms : from;
    int64_t b =
        r->days[i1 - 1].day_ms + DAY < to ? r->days[i1 - 1].day_ms + DAY : to;
    r->stats->requests++;
    int rc =
        fetch(fetch_ud, r->symbol, FXP_TF_1M, a, b, on_page, r, detail, dlen);
    flush(r);
    if (r->store_err)
        return r->store_err;
    if (rc != FXP_OK)
        return rc;
    if (rebuild(r, a, b))
        return r->store_err;
    for (size_t i = i0; i < i1; i++)
        r->days[i].stored = 0;
    if (fxp_store_coverage(r->store, r->symbol, FXP_TF_1M, a, b, on_coverage,
                           r) != FXP_OK) {
        snprintf(r->errbuf, sizeof r->errbuf, "%s", fxp_store_errmsg(r->store));
        return FXP_EIO;
    }
    return FXP_OK;
}

static int do_request(struct run *r, fxp_fetch_fn fetch, void *fetch_ud,
                      size_t i0, size_t i1, int64_t from, int64_t to)
{
    char detail[512] = "";
    for (;;) {
        int rc = attempt(r, fetch, fetch_ud, i0, i1, from, to, detail,
                         sizeof detail);
        if (rc != FXP_OK && rc != FXP_EUNAVAIL && rc != FXP_EPARSE) {
            if (!r->errbuf[0])
                snprintf(r->errbuf, sizeof r->errbuf, "%s", detail);
            return rc; /* fatal: nothing recorded (note 3) */
        }
        bool again = false;
        for (size_t i = i0; i < i1; i++) {
            struct day *d = &r->days[i];
            if (rc == FXP_OK && d->fetched == 0)
                d->state = FXP_LEDGER_EMPTY;
            else if (rc == FXP_OK && d->stored >= d->fetched)
                d->state = FXP_LEDGER_VERIFIED;
            else if (d->attempts >= (uint32_t)r->cfg->max_attempts)
                d->state = FXP_LEDGER_REVIEW;
            else {
                d->state = FXP_LEDGER_MISSING;
                again = true;
            }
            if (rc == FXP_OK && d->state == FXP_LEDGER_MISSING)
                snprintf(detail, sizeof detail,
                         "verification: %u of %u fetched bars stored",
                         d->stored, d->fetched);
        }
        if (!again) {
            for (size_t i = i0; i < i1; i++) {
                fxp_ledger_state s = r->days[i].state;
                r->stats->days_verified += s == FXP_LEDGER_VERIFIED;
                r->stats->days_empty += s == FXP_LEDGER_EMPTY;
                r->stats->days_review += s == FXP_LEDGER_REVIEW;
            }
            return record(r, i0, i1, detail);
        }
    }
}

int fxp_backfill_run(struct fxp_store *s, const struct fxp_backfill_cfg *cfg,
                     fxp_fetch_fn fetch, void *fetch_ud, struct fxp_symtab *st,
                     const char *symbol, int64_t from, int64_t to,
                     const volatile sig_atomic_t *stop,
                     fxp_backfill_progress_fn progress, void *progress_ud,
                     struct fxp_backfill_stats *stats, char *errbuf,
                     size_t errlen)
{
    memset(stats, 0, sizeof *stats);
    if (to <= from || cfg->max_attempts < 1 || cfg->days_per_request < 1) {
        snprintf(errbuf, errlen, "empty or invalid back-fill range");
        return FXP_EINVAL;
    }
    struct run *r = calloc(1, sizeof *r);
    if (!r)
        return FXP_ENOMEM;
    r->store = s;
    r->cfg = cfg;
    r->st = st;
    r->symbol = symbol;
    r->stats = stats;
    r->day0 = fxp_floor_div(from, DAY) * DAY;
    r->n_days =
        (size_t)((fxp_floor_div(to - 1, DAY) * DAY - r->day0) / DAY) + 1;
    r->days = calloc(r->n_days, sizeof *r->days);
    r->val = fxp_validator_new(&cfg->validate, fxp_symtab_count(st) + 1);
    int rc = FXP_ENOMEM;
    if (!r->days || !r->val ||
        (rc = fxp_symtab_intern(st, symbol, strlen(symbol), &r->sym))) {
        snprintf(errbuf, errlen, "cannot back-fill '%s': %s", symbol,
                 fxp_strerror(rc));
        goto done;
    }
    for (size_t i = 0; i < r->n_days; i++) {
        struct day *d = &r->days[i];
        d->day_ms = r->day0 + (int64_t)i * DAY;
        int64_t a = d->day_ms > from ? d->day_ms : from;
        int64_t b = d->day_ms + DAY < to ? d->day_ms + DAY : to;
        d->expected = (uint32_t)fxp_cal_count_bars(cfg->cal, &cfg->align,
                                                   FXP_TF_1M, a, b);
    }
    if (fxp_store_coverage(s, symbol, FXP_TF_1M, from, to, on_coverage, r) ||
        fxp_store_ledger_scan(s, symbol, FXP_TF_1M, r->day0, to, on_ledger,
                              r)) {
        snprintf(errbuf, errlen, "%s", fxp_store_errmsg(s));
        rc = FXP_EIO;
        goto done;
    }
    for (size_t i = 0; i < r->n_days; i++) {
        struct day *d = &r->days[i];
        bool final = d->has_entry && (d->state == FXP_LEDGER_VERIFIED ||
                                      d->state == FXP_LEDGER_EMPTY ||
                                      d->state == FXP_LEDGER_REVIEW);
        d->planned = d->expected > 0 &&
                     (cfg->force || (d->stored < d->expected && !final));
        if (cfg->force && d->planned)
            d->attempts = 0;
        stats->days_planned += d->planned;
    }
    rc = FXP_OK;
    for (size_t i = 0; i < r->n_days && rc == FXP_OK;) {
        if (!r->days[i].planned) {
            i++;
            continue;
        }
        size_t j = i + 1;
        while (j < r->n_days && r->days[j].planned &&
               j - i < (size_t)cfg->days_per_request)
            j++;
        rc = do_request(r, fetch, fetch_ud, i, j, from, to);
        if (progress)
            progress(progress_ud, stats);
        if (stop && *stop)
            break;
        i = j;
    }
    if (rc != FXP_OK)
        snprintf(errbuf, errlen, "%s", r->errbuf);
done:
    fxp_validator_free(r->val);
    free(r->days);
    free(r);
    return rc;
}
