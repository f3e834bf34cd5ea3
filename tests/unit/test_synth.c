/* test_synth.c - the synthetic feed and the pacing wrapper (source.h).
 *
 * Synthetic feed: the same config gives the same bytes for any read batch
 * size; silence while the market is closed (across a DST switch); ticks
 * in [from, to), in time order, numbered 1..n; good quotes valid, rounded
 * to the symbol's precision and near realistic prices; bad quotes at the
 * configured fraction, of every kind; quiet spells and outages leave the
 * gaps they promise (and none without them); the quote rate over a week;
 * prices for unknown symbols; config errors.
 *
 * Pacing: speed 0 passes through; ten feed minutes at 600x take about a
 * second; an interrupt from another thread ends a wait within 100 ms; an
 * inner error comes after the due ticks; bars and bad speeds are refused.
 * Calendars use "none" (weekends only), so every weekday is open. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "fxpipe/calendar.h"
#include "fxpipe/err.h"
#include "fxpipe/source.h"
#include "fxpipe/symbol.h"
#include "fxpipe/time.h"
#include "fxpipe/tz.h"
#include "fxpipe/validate.h"
#include "source/source_int.h"

static struct fxp_tz *ny;
static struct fxp_calendar *cal; /* weekends only */

static int setup(void **state)
{
    (void)state;
    char err[256] = "";
    if (fxp_tz_load("America/New_York", &ny, err, sizeof err) ||
        fxp_cal_new(ny, "none", &cal, err, sizeof err)) {
        fprintf(stderr, "setup: %s\n", err);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    fxp_cal_free(cal);
    fxp_tz_free(ny);
    return 0;
}

/* An instant from text; the test fails on text the parser rejects. */
static int64_t T(const char *s)
{
    int64_t ts = 0;
    if (fxp_time_parse_str(s, &ts) != FXP_OK)
        fail_msg("cannot parse '%s'", s);
    return ts;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void cfg_for(struct fxp_synth_cfg *c, const char *from, const char *to)
{
    fxp_synth_cfg_default(c);
    c->from_ms = T(from);
    c->to_ms = T(to);
    c->cal = cal;
}

static struct fxp_source *open_synth(const struct fxp_synth_cfg *c,
                                     struct fxp_symtab *st)
{
    struct fxp_source *src = NULL;
    char err[256] = "";
    int rc = fxp_source_open_synthetic(c, st, &src, err, sizeof err);
    if (rc != FXP_OK)
        fail_msg("cannot open synthetic feed: %s", err);
    return src;
}

/* Read everything in batches of `batch`; returns the count (at most max;
 * the test fails when there are more). */
static size_t read_all(struct fxp_source *src, size_t batch, struct fxp_tick *t,
                       uint64_t *pos, size_t max)
{
    size_t n = 0;
    for (;;) {
        int err = -99;
        size_t want = batch < max - n ? batch : max - n;
        size_t k =
            fxp_source_read_ticks(src, t + n, pos ? pos + n : NULL, want, &err);
        assert_int_equal(err, FXP_OK);
        if (k == 0)
            break;
        assert_true(k <= want);
        n += k;
        if (n == max)
            fail_msg("more than %zu ticks", max);
    }
    return n;
}

/* Decimals of a normalised symbol name as the feed quotes it. */
static int decimals_of(const char *name)
{
    if (!strcmp(name, "XAUUSD"))
        return 2;
    if (strstr(name, "JPY") || !strcmp(name, "XAGUSD"))
        return 3;
    return 5;
}

/* True when printing px with dec decimals and parsing it back gives px:
 * the price is the double nearest a decimal with dec places. */
static bool exact_at(double px, int dec)
{
    char buf[64];
    snprintf(buf, sizeof buf, "%.*f", dec, px);
    return strtod(buf, NULL) == px;
}

/* ---- determinism ---------------------------------------------------- */

static void
test_synth__same_config_gives_identical_ticks_for_any_batch_size(void **state)
{
    (void)state;
    enum { MAX = 400000 };
    static const size_t batches[] = {4096, 1, 7, 1000};
    struct fxp_tick *ref = malloc(MAX * sizeof *ref);
    struct fxp_tick *got = malloc(MAX * sizeof *got);
    uint64_t *ref_pos = malloc(MAX * sizeof *ref_pos);
    uint64_t *got_pos = malloc(MAX * sizeof *got_pos);
    assert_non_null(ref && got && ref_pos && got_pos);

    struct fxp_synth_cfg c;
    /* Friday into the weekend and Sunday's open, with every injection. */
    cfg_for(&c, "2024-03-08T18:00:00Z", "2024-03-11T02:00:00Z");
    c.seed = 42;
    c.quiet_prob = 0.3;
    c.outage_prob = 0.5;
    c.bad_prob = 0.01;
    size_t n_ref = 0;
    for (size_t b = 0; b < sizeof batches / sizeof batches[0]; b++) {
        struct fxp_symtab *st = fxp_symtab_new(16);
        struct fxp_source *src = open_synth(&c, st);
        struct fxp_tick *t = b == 0 ? ref : got;
        uint64_t *p = b == 0 ? ref_pos : got_pos;
        memset(t, 0, MAX * sizeof *t);
        size_t n = read_all(src, batches[b], t, p, MAX);
        if (b == 0) {
            n_ref = n;
            assert_true(n > 50000);
        } else {
            assert_int_equal(n, n_ref);
            assert_memory_equal(t, ref, n * sizeof *t);
            assert_memory_equal(p, ref_pos, n * sizeof *p);
        }
        fxp_source_close(src);
        fxp_symtab_free(st);
    }

    /* Another seed gives another stream. */
    c.seed = 43;
    struct fxp_symtab *st = fxp_symtab_new(16);
    struct fxp_source *src = open_synth(&c, st);
    size_t n = read_all(src, 4096, got, NULL, MAX);
    assert_true(n > 0);
    assert_true(n != n_ref || memcmp(got, ref, n * sizeof *got) != 0);
    fxp_source_close(src);
    fxp_symtab_free(st);
    free(ref);
    free(got);
    free(ref_pos);
    free(got_pos);
}

/* ---- calendar and range ------------------------------------------- */

static void test_synth__is_silent_while_the_market_is_closed(void **state)
{
    (void)state;
    enum { MAX = 200000 };
    struct fxp_tick *t = malloc(MAX * sizeof *t);
    assert_non_null(t);
    struct fxp_symtab *st = fxp_symtab_new(16);
    struct fxp_synth_cfg c;
    /* Friday 15:00 EST -> Sunday 19:00 EDT: New York's clocks spring
     * forward on 2024-03-10, so the week opens at 21:00 UTC. */
    cfg_for(&c, "2024-03-08T15:00:00-05:00", "2024-03-10T19:00:00-04:00");
    struct fxp_source *src = open_synth(&c, st);
    size_t n = read_all(src, 512, t, NULL, MAX);
    size_t before = 0, after = 0;
    for (size_t i = 0; i < n; i++) {
        assert_true(fxp_cal_is_open(cal, t[i].ts_ms));
        if (t[i].ts_ms < T("2024-03-08T17:00:00-05:00"))
            before++;
        else if (t[i].ts_ms >= T("2024-03-10T17:00:00-04:00"))
            after++;
        else
            fail_msg("tick at %lld while closed", (long long)t[i].ts_ms);
    }
    assert_true(before > 4 * 3600 * 2 / 2); /* 4 symbols, 1 h, ~2/s */
    assert_true(after > 4 * 7200 * 2 / 4);  /* thin hours */
    fxp_source_close(src);

    /* A window inside the weekend yields nothing, and says so. */
    cfg_for(&c, "2024-03-09T00:00:00Z", "2024-03-10T12:00:00Z");
    src = open_synth(&c, st);
    int err = -99;
    assert_int_equal(fxp_source_read_ticks(src, t, NULL, 100, &err), 0);
    assert_int_equal(err, FXP_OK);
    uint64_t done, total;
    fxp_source_progress(src, &done, &total);
    assert_int_equal(total, (uint64_t)(c.to_ms - c.from_ms));
    assert_int_equal(done, total);
    fxp_source_close(src);
    fxp_symtab_free(st);
    free(t);
}

static void
test_synth__ticks_lie_in_range_in_time_order_numbered_from_one(void **state)
{
    (void)state;
    enum { MAX = 100000 };
    struct fxp_tick *t = malloc(MAX * sizeof *t);
    uint64_t *pos = malloc(MAX * sizeof *pos);
    assert_non_null(t && pos);
    struct fxp_symtab *st = fxp_symtab_new(16);
    struct fxp_synth_cfg c;
    cfg_for(&c, "2024-03-05T10:00:00.123Z", "2024-03-05T10:30:00.456Z");
    c.symbols = "EURUSD, gbp/usd,USDJPY,XAUUSD,AUDUSD";
    struct fxp_source *src = open_synth(&c, st);
    assert_int_equal(fxp_symtab_count(st), 5);
    size_t n = read_all(src, 333, t, pos, MAX);
    size_t per_sym[5] = {0};
    uint64_t last_done = 0;
    for (size_t i = 0; i < n; i++) {
        assert_true(t[i].ts_ms >= c.from_ms && t[i].ts_ms < c.to_ms);
        if (i)
            assert_true(t[i].ts_ms >= t[i - 1].ts_ms);
        assert_int_equal(pos[i], i + 1);
        assert_true(t[i].sym < 5);
        assert_int_equal(t[i].flags, 0);
        assert_true(t[i].volume == 0);
        per_sym[t[i].sym]++;
    }
    for (int s = 0; s < 5; s++)
        assert_true(per_sym[s] > 1800 * 2 / 2);
    assert_string_equal(fxp_symtab_name(st, 1), "GBPUSD");
    fxp_source_close(src);

    /* Progress: feed time done grows to the total. */
    src = open_synth(&c, st);
    uint64_t done, total;
    fxp_source_progress(src, &done, &total);
    assert_int_equal(total, (uint64_t)(c.to_ms - c.from_ms));
    assert_true(done == 0);
    int err;
    while (fxp_source_read_ticks(src, t, NULL, 1000, &err) > 0) {
        fxp_source_progress(src, &done, &total);
        assert_true(done >= last_done && done <= total);
        last_done = done;
    }
    fxp_source_progress(src, &done, &total);
    assert_int_equal(done, total);
    fxp_source_close(src);
    fxp_symtab_free(st);
    free(t);
    free(pos);
}

/* ---- prices ---------------------------------------------------------- */

static void
test_synth__good_quotes_are_valid_rounded_and_realistic(void **state)
{
    (void)state;
    struct fxp_symtab *st = fxp_symtab_new(16);
    struct fxp_synth_cfg c;
    cfg_for(&c, "2024-03-04T00:00:00Z", "2024-03-05T00:00:00Z");
    c.symbols = "EURUSD,GBPUSD,USDJPY,XAUUSD,AUDUSD,USDCHF,USDCAD,NZDUSD";
    static const struct {
        const char *name;
        double px;      /* start price */
        double max_spr; /* plausible spread ceiling */
    } want[] = {
        {"EURUSD", 1.08, 0.0003}, {"GBPUSD", 1.27, 0.0005},
        {"USDJPY", 150, 0.05},    {"XAUUSD", 2300, 1.0},
        {"AUDUSD", 0.66, 0.0005}, {"USDCHF", 0.88, 0.0006},
        {"USDCAD", 1.36, 0.0007}, {"NZDUSD", 0.60, 0.0007},
    };
    struct fxp_source *src = open_synth(&c, st);
    struct fxp_validate_cfg vc;
    fxp_validate_cfg_default(&vc);
    struct fxp_validator *v = fxp_validator_new(&vc, 16);
    double spr_sum[8] = {0};
    size_t cnt[8] = {0}, n = 0;
    struct fxp_tick t[4096];
    int err;
    size_t k;
    while ((k = fxp_source_read_ticks(src, t, NULL, 4096, &err)) > 0)
        for (size_t i = 0; i < k; i++, n++) {
            const struct fxp_tick *q = &t[i];
            assert_true(q->sym < 8);
            const char *name = fxp_symtab_name(st, q->sym);
            assert_string_equal(name, want[q->sym].name);
            assert_int_equal(fxp_validate_tick(v, q), FXP_R_OK);
            assert_true(q->bid > 0 && q->ask > q->bid);
            assert_true(q->ask - q->bid < want[q->sym].max_spr);
            /* Within 3% of the start over a day (~0.3-0.7% volatility). */
            assert_true(fabs(q->bid / want[q->sym].px - 1) < 0.03);
            int dec = decimals_of(name);
            if (!exact_at(q->bid, dec) || !exact_at(q->ask, dec))
                fail_msg("%s %.17g/%.17g not rounded to %d decimals", name,
                         q->bid, q->ask, dec);
            spr_sum[q->sym] += q->ask - q->bid;
            cnt[q->sym]++;
        }
    assert_int_equal(err, FXP_OK);
    assert_true(n > 8 * 86400 * 2 * 9 / 10);
    /* Typical spreads: EURUSD under a pip, gold around 25 cents. */
    double eur = spr_sum[0] / (double)cnt[0];
    double xau = spr_sum[3] / (double)cnt[3];
    assert_true(eur > 0.00003 && eur < 0.0001);
    assert_true(xau > 0.15 && xau < 0.45);
    fxp_validator_free(v);
    fxp_source_close(src);
    fxp_symtab_free(st);
}

static void test_synth__unknown_symbols_get_a_price(void **state)
{
    (void)state;
    enum { MAX = 100000 };
    struct fxp_tick *t = malloc(MAX * sizeof *t);
    assert_non_null(t);
    struct fxp_symtab *st = fxp_symtab_new(16);
    struct fxp_synth_cfg c;
    cfg_for(&c, "2024-03-05T12:00:00Z", "2024-03-05T13:00:00Z");
    c.symbols = "ABCDEF,EUR/JPY,xagusd,QQQ123";
    struct fxp_source *src = open_synth(&c, st);
    assert_string_equal(fxp_source_describe(src),
                        "synthetic feed (4 symbols, seed 1)");
    size_t n = read_all(src, 1000, t, NULL, MAX);
    size_t cnt[4] = {0};
    double first[4] = {0};
    for (size_t i = 0; i < n; i++) {
        const struct fxp_tick *k = &t[i];
        assert_true(k->sym < 4);
        assert_true(isfinite(k->bid) && k->bid > 0 && k->ask > k->bid);
        assert_true((k->ask - k->bid) / k->bid < 0.002);
        if (!cnt[k->sym]++)
            first[k->sym] = k->bid;
    }
    for (int s = 0; s < 4; s++)
        assert_true(cnt[s] > 3600);
    assert_true(first[0] > 0.4 && first[0] < 250); /* ABCDEF: hashed */
    assert_true(first[1] > 150 && first[1] < 175); /* EURJPY: a cross */
    assert_true(first[2] > 25 && first[2] < 30);   /* XAGUSD */
    assert_true(first[3] > 0.4 && first[3] < 250); /* QQQ123: hashed */
    assert_true(exact_at(first[1], 3));
    fxp_source_close(src);

    /* The hashed price is a property of the name: another seed, another
     * start time, the same neighbourhood. */
    double a0 = first[0];
    c.seed = 7;
    c.symbols = "ABCDEF";
    src = open_synth(&c, st);
    assert_true(read_all(src, 100, t, NULL, MAX) > 0);
    assert_true(fabs(t[0].bid / a0 - 1) < 0.01);
    fxp_source_close(src);
    fxp_symtab_free(st);
    free(t);
}

/* ---- injections ---------------------------------------------------- */

static void test_synth__bad_quotes_come_at_the_configured_fraction(void **state)
{
    (void)state;
    struct fxp_symtab *st = fxp_symtab_new(16);
    struct fxp_synth_cfg c;
    cfg_for(&c, "2024-03-04T00:00:00Z", "2024-03-05T00:00:00Z");
    c.bad_prob = 0.02;
    struct fxp_source *src = open_synth(&c, st);
    struct fxp_validate_cfg vc;
    fxp_validate_cfg_default(&vc);
    struct fxp_validator *v = fxp_validator_new(&vc, 16);
    size_t by_reason[FXP_R_COUNT] = {0};
    size_t n = 0, bad = 0;
    struct fxp_tick t[1024];
    int err;
    size_t k;
    while ((k = fxp_source_read_ticks(src, t, NULL, 1024, &err)) > 0)
        for (size_t i = 0; i < k; i++, n++) {
            fxp_reason r = fxp_validate_tick(v, &t[i]);
            by_reason[r]++;
            bad += r != FXP_R_OK;
        }
    double frac = (double)bad / (double)n;
    assert_true(frac > 0.017 && frac < 0.023);
    /* The four kinds in rotation, each about a quarter. */
    const fxp_reason kinds[] = {FXP_R_NAN, FXP_R_CROSSED, FXP_R_NONPOS_PRICE,
                                FXP_R_JUMP};
    for (size_t i = 0; i < 4; i++)
        assert_true(by_reason[kinds[i]] > bad / 5);
    assert_int_equal(by_reason[FXP_R_OK] + by_reason[FXP_R_NAN] +
                         by_reason[FXP_R_CROSSED] +
                         by_reason[FXP_R_NONPOS_PRICE] + by_reason[FXP_R_JUMP],
                     n);
    fxp_validator_free(v);
    fxp_source_close(src);
    fxp_symtab_free(st);
}

/* Gaps while the market is open, Monday 00:00 -> Friday 00:00 UTC. */
struct gaps {
    size_t sym_5min;  /* gaps >= 5 min in one symbol's stream */
    size_t sym_2min;  /* gaps >= 2 min in one symbol's stream */
    size_t all_1min;  /* gaps >= 1 min in the merged stream */
    size_t all_30s;   /* gaps >= 30 s in the merged stream */
    size_t others_on; /* symbol gaps >= 5 min while another quoted */
};

static void measure_gaps(double quiet, double outage, struct gaps *g)
{
    struct fxp_symtab *st = fxp_symtab_new(16);
    struct fxp_synth_cfg c;
    cfg_for(&c, "2024-03-04T00:00:00Z", "2024-03-08T00:00:00Z");
    c.symbols = "EURUSD,USDJPY";
    c.quiet_prob = quiet;
    c.outage_prob = outage;
    struct fxp_source *src = open_synth(&c, st);
    int64_t last[2] = {c.from_ms, c.from_ms}, last_any = c.from_ms;
    memset(g, 0, sizeof *g);
    struct fxp_tick t[2048];
    int err;
    size_t k;
    while ((k = fxp_source_read_ticks(src, t, NULL, 2048, &err)) > 0)
        for (size_t i = 0; i < k; i++) {
            uint32_t s = t[i].sym;
            int64_t ts = t[i].ts_ms;
            int64_t gap = ts - last[s];
            if (gap >= 5 * FXP_MS_PER_MIN) {
                g->sym_5min++;
                /* Did the other symbol quote inside this gap? */
                if (last[1 - s] > last[s] + FXP_MS_PER_MIN)
                    g->others_on++;
            }
            if (gap >= 2 * FXP_MS_PER_MIN)
                g->sym_2min++;
            if (ts - last_any >= FXP_MS_PER_MIN)
                g->all_1min++;
            if (ts - last_any >= 30 * FXP_MS_PER_SEC)
                g->all_30s++;
            last[s] = ts;
            last_any = ts;
        }
    fxp_source_close(src);
    fxp_symtab_free(st);
}

static void test_synth__no_gaps_without_injections(void **state)
{
    (void)state;
    struct gaps g;
    measure_gaps(0, 0, &g);
    assert_int_equal(g.sym_2min, 0);
    assert_int_equal(g.all_30s, 0);
}

static void test_synth__quiet_spells_silence_one_symbol(void **state)
{
    (void)state;
    struct gaps g;
    /* 96 open hours at 0.5 -> ~48 spells split over two symbols. */
    measure_gaps(0.5, 0, &g);
    assert_true(g.sym_5min >= 30 && g.sym_5min <= 70);
    /* A spell is one symbol's: the other one keeps quoting. */
    assert_true(g.others_on >= g.sym_5min * 8 / 10);
    /* Both silent only where two spells happen to overlap: rarely. */
    assert_true(g.all_1min <= g.sym_5min / 10);
}

static void test_synth__outages_silence_every_symbol(void **state)
{
    (void)state;
    struct gaps g;
    /* One outage per UTC day, Monday..Thursday (Thursday's may run past
     * the end, Sunday's into Monday). */
    measure_gaps(0, 1.0, &g);
    assert_true(g.all_1min >= 3 && g.all_1min <= 5);
    assert_true(g.sym_2min <= 2 * g.all_1min);
}

/* ---- rate ---------------------------------------------------------- */

static void test_synth__quote_rate_over_a_week_matches_the_config(void **state)
{
    (void)state;
    static const double rates[] = {2.0, 0.5};
    for (size_t r = 0; r < 2; r++) {
        struct fxp_symtab *st = fxp_symtab_new(16);
        struct fxp_synth_cfg c;
        /* Sunday 17:00 EST -> Friday 17:00 EST. */
        cfg_for(&c, "2024-01-14T17:00:00-05:00", "2024-01-19T17:00:00-05:00");
        c.quotes_per_sec = rates[r];
        struct fxp_span sp[8];
        size_t n_sp = fxp_cal_sessions(cal, c.from_ms, c.to_ms, sp, 8);
        assert_true(n_sp >= 1 && n_sp <= 8);
        double open_s = 0;
        for (size_t i = 0; i < n_sp; i++)
            open_s += (double)(sp[i].close_ms - sp[i].open_ms) / 1000.0;
        assert_true(fabs(open_s - 120 * 3600) < 1);

        struct fxp_source *src = open_synth(&c, st);
        size_t per_sym[4] = {0}, busy = 0, thin = 0;
        struct fxp_tick t[4096];
        int err;
        size_t k;
        while ((k = fxp_source_read_ticks(src, t, NULL, 4096, &err)) > 0)
            for (size_t i = 0; i < k; i++) {
                per_sym[t[i].sym]++;
                int64_t hod = (t[i].ts_ms % FXP_MS_PER_DAY) / FXP_MS_PER_HOUR;
                busy += hod == 13;
                thin += hod == 21;
            }
        for (int s = 0; s < 4; s++) {
            double rate = (double)per_sym[s] / open_s;
            if (fabs(rate / rates[r] - 1) > 0.10)
                fail_msg("symbol %d: %.3f quotes/s, configured %.3f", s, rate,
                         rates[r]);
        }
        /* London/New York overlap against the rollover hour. */
        assert_true(busy > 2 * thin);
        fxp_source_close(src);
        fxp_symtab_free(st);
    }
}

/* ---- config -------------------------------------------------------- */

static void test_synth__defaults_are_documented(void **state)
{
    (void)state;
    struct fxp_synth_cfg c;
    memset(&c, 0xAB, sizeof c);
    fxp_synth_cfg_default(&c);
    assert_true(c.seed == 1);
    assert_string_equal(c.symbols, "EURUSD,GBPUSD,USDJPY,XAUUSD");
    assert_true(c.from_ms == 0 && c.to_ms == 0);
    assert_true(c.quotes_per_sec == 2.0);
    assert_true(c.quiet_prob == 0 && c.outage_prob == 0 && c.bad_prob == 0);
    assert_null(c.cal);
}

static void expect_einval(const struct fxp_synth_cfg *c, const char *what)
{
    struct fxp_symtab *st = fxp_symtab_new(16);
    struct fxp_source *src = (struct fxp_source *)&src;
    char err[256] = "";
    int rc = fxp_source_open_synthetic(c, st, &src, err, sizeof err);
    if (rc != FXP_EINVAL)
        fail_msg("%s: got %s", what, fxp_err_name(rc));
    assert_null(src);
    if (!err[0])
        fail_msg("%s: no message", what);
    fxp_symtab_free(st);
}

static void test_synth__bad_config_is_rejected(void **state)
{
    (void)state;
    struct fxp_synth_cfg c;
    cfg_for(&c, "2024-03-05T00:00:00Z", "2024-03-06T00:00:00Z");
    struct fxp_synth_cfg b;

    b = c;
    b.cal = NULL;
    expect_einval(&b, "no calendar");
    b = c;
    b.to_ms = b.from_ms;
    expect_einval(&b, "empty range");
    b = c;
    b.to_ms = b.from_ms - 1;
    expect_einval(&b, "reversed range");
    fxp_synth_cfg_default(&b); /* from = to = 0 until set */
    b.cal = cal;
    expect_einval(&b, "range not set");
    b = c;
    b.quotes_per_sec = 0;
    expect_einval(&b, "zero rate");
    b = c;
    b.quotes_per_sec = -1;
    expect_einval(&b, "negative rate");
    b = c;
    b.quotes_per_sec = NAN;
    expect_einval(&b, "NaN rate");
    b = c;
    b.quiet_prob = 1.5;
    expect_einval(&b, "quiet > 1");
    b = c;
    b.outage_prob = -0.1;
    expect_einval(&b, "outage < 0");
    b = c;
    b.bad_prob = NAN;
    expect_einval(&b, "NaN bad");
    b = c;
    b.symbols = NULL;
    expect_einval(&b, "no symbols");
    b = c;
    b.symbols = " , ";
    expect_einval(&b, "empty symbols");
    b = c;
    b.symbols = "EURUSD,eur/usd";
    expect_einval(&b, "duplicate");
    b = c;
    b.symbols = "EURUSD,E$";
    expect_einval(&b, "bad symbol");

    /* A full symbol table. */
    struct fxp_symtab *small = fxp_symtab_new(1);
    struct fxp_source *src = NULL;
    char err[256] = "";
    b = c;
    assert_int_equal(
        fxp_source_open_synthetic(&b, small, &src, err, sizeof err),
        FXP_ETOOLARGE);
    assert_null(src);
    fxp_symtab_free(small);
}

/* ---- pacing -------------------------------------------------------- */

/* A scripted tick source: its ticks, then the end or an error. */
struct fake {
    struct fxp_tick t[8];
    size_t n, i;
    int err_at_end;
    int *closed;
};

static size_t fake_read(void *impl, struct fxp_tick *out, uint64_t *pos,
                        size_t cap, int *err)
{
    struct fake *f = impl;
    size_t k = 0;
    *err = FXP_OK;
    while (k < cap && f->i < f->n) {
        if (pos)
            pos[k] = f->i + 1;
        out[k++] = f->t[f->i++];
    }
    if (!k)
        *err = f->err_at_end;
    return k;
}

static size_t fake_read_bars(void *impl, struct fxp_bar *out, uint64_t *pos,
                             size_t cap, int *err)
{
    (void)impl, (void)out, (void)pos, (void)cap;
    *err = FXP_OK;
    return 0;
}

static void fake_progress(const void *impl, uint64_t *done, uint64_t *total)
{
    const struct fake *f = impl;
    *done = f->i;
    *total = f->n;
}

static void fake_close(void *impl)
{
    struct fake *f = impl;
    if (f->closed)
        (*f->closed)++;
    free(f);
}

static const struct fxp_source_ops fake_tick_ops = {
    .name = "fake",
    .read_ticks = fake_read,
    .progress = fake_progress,
    .close = fake_close,
};
static const struct fxp_source_ops fake_bar_ops = {
    .name = "fake",
    .read_bars = fake_read_bars,
    .progress = fake_progress,
    .close = fake_close,
};

/* A fake with ticks at the given feed offsets (ms) from a Tuesday. */
static struct fxp_source *fake_new(const int64_t *off, size_t n, int err,
                                   int *closed, bool bars)
{
    struct fake *f = calloc(1, sizeof *f);
    assert_non_null(f);
    for (size_t i = 0; i < n; i++)
        f->t[i] = (struct fxp_tick){
            T("2024-03-05T12:00:00Z") + off[i], 1.1, 1.1001, 0, 0, 0};
    f->n = n;
    f->err_at_end = err;
    f->closed = closed;
    struct fxp_source *s =
        fxp__source_new(bars ? &fake_bar_ops : &fake_tick_ops, f, "fake");
    assert_non_null(s);
    return s;
}

static void test_pace__speed_zero_passes_ticks_through_unchanged(void **state)
{
    (void)state;
    enum { MAX = 100000 };
    struct fxp_tick *a = malloc(MAX * sizeof *a);
    struct fxp_tick *b = malloc(MAX * sizeof *b);
    uint64_t *pa = malloc(MAX * sizeof *pa);
    uint64_t *pb = malloc(MAX * sizeof *pb);
    assert_non_null(a && b && pa && pb);
    struct fxp_symtab *st = fxp_symtab_new(16);
    struct fxp_synth_cfg c;
    cfg_for(&c, "2024-03-05T12:00:00Z", "2024-03-05T13:00:00Z");
    c.bad_prob = 0.01;
    struct fxp_source *plain = open_synth(&c, st);
    struct fxp_source *paced = NULL;
    assert_int_equal(fxp_source_pace(open_synth(&c, st), 0, &paced), FXP_OK);
    double t0 = now_s();
    size_t na = read_all(plain, 500, a, pa, MAX);
    size_t nb = read_all(paced, 500, b, pb, MAX);
    assert_true(now_s() - t0 < 2.0);
    assert_int_equal(na, nb);
    assert_memory_equal(a, b, na * sizeof *a);
    assert_memory_equal(pa, pb, na * sizeof *pa);
    fxp_source_close(plain);
    fxp_source_close(paced);
    fxp_symtab_free(st);
    free(a);
    free(b);
    free(pa);
    free(pb);
}

static void
test_pace__ten_feed_minutes_at_600x_take_about_a_second(void **state)
{
    (void)state;
    enum { MAX = 20000 };
    struct fxp_tick *a = malloc(MAX * sizeof *a);
    struct fxp_tick *b = malloc(MAX * sizeof *b);
    assert_non_null(a && b);
    struct fxp_symtab *st = fxp_symtab_new(16);
    struct fxp_synth_cfg c;
    cfg_for(&c, "2024-03-05T12:00:00Z", "2024-03-05T12:10:00Z");
    struct fxp_source *plain = open_synth(&c, st);
    size_t na = read_all(plain, 1024, a, NULL, MAX);
    fxp_source_close(plain);

    struct fxp_source *paced = NULL;
    assert_int_equal(fxp_source_pace(open_synth(&c, st), 600, &paced), FXP_OK);
    assert_non_null(strstr(fxp_source_describe(paced), "synthetic feed"));
    double t0 = now_s();
    size_t nb = 0, reads = 0;
    double lag_max = 0;
    for (;;) {
        int err = -99;
        size_t k = fxp_source_read_ticks(paced, b + nb, NULL, 1024, &err);
        assert_int_equal(err, FXP_OK);
        if (!k)
            break;
        /* Nothing is released early: feed time / 600 <= wall time. */
        double feed_s = (double)(b[nb + k - 1].ts_ms - a[0].ts_ms) / 1000.0;
        double wall_s = now_s() - t0;
        assert_true(feed_s / 600.0 <= wall_s + 0.005);
        if (wall_s - feed_s / 600.0 > lag_max)
            lag_max = wall_s - feed_s / 600.0;
        nb += k;
        reads++;
    }
    double elapsed = now_s() - t0;
    uint64_t done, total;
    fxp_source_progress(paced, &done, &total);
    assert_int_equal(total, 600000);
    assert_int_equal(done, total);
    fxp_source_close(paced);
    if (elapsed < 0.8 || elapsed > 3.0)
        fail_msg("10 feed minutes at 600x took %.3f s", elapsed);
    assert_int_equal(na, nb);
    assert_memory_equal(a, b, na * sizeof *a);
    assert_true(reads > 20); /* released over time, not in one burst */
    fxp_symtab_free(st);
    free(a);
    free(b);
}

struct intr_arg {
    struct fxp_source *src;
    double at; /* when the interrupt was sent */
};

static void *interrupter(void *p)
{
    struct intr_arg *ia = p;
    struct timespec d = {0, 200 * 1000000L};
    nanosleep(&d, NULL);
    ia->at = now_s();
    fxp_source_interrupt(ia->src);
    return NULL;
}

static void test_pace__interrupt_ends_a_wait_within_100ms(void **state)
{
    (void)state;
    /* Two ticks an hour apart at real time: the second read would wait
     * an hour. */
    const int64_t off[] = {0, FXP_MS_PER_HOUR};
    struct fxp_source *paced = NULL;
    assert_int_equal(
        fxp_source_pace(fake_new(off, 2, FXP_OK, NULL, false), 1.0, &paced),
        FXP_OK);
    struct fxp_tick t[4];
    uint64_t pos[4];
    int err = -99;
    double t0 = now_s();
    assert_int_equal(fxp_source_read_ticks(paced, t, pos, 4, &err), 1);
    assert_int_equal(err, FXP_OK);
    assert_int_equal(pos[0], 1);
    assert_true(now_s() - t0 < 0.1); /* the first tick is due at once */

    struct intr_arg ia = {paced, 0};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, interrupter, &ia), 0);
    err = -99;
    size_t k = fxp_source_read_ticks(paced, t, pos, 4, &err);
    double back = now_s();
    pthread_join(th, NULL);
    assert_int_equal(k, 0);
    assert_int_equal(err, FXP_EAGAIN);
    assert_true(ia.at > 0);
    if (back - ia.at > 0.1)
        fail_msg("read returned %.3f s after the interrupt", back - ia.at);

    /* An interrupt sent before a read is not lost: that read returns at
     * once; the next one waits again (checked with a short deadline). */
    fxp_source_interrupt(paced);
    t0 = now_s();
    err = -99;
    assert_int_equal(fxp_source_read_ticks(paced, t, pos, 4, &err), 0);
    assert_int_equal(err, FXP_EAGAIN);
    assert_true(now_s() - t0 < 0.1);
    fxp_source_close(paced);
}

static void test_pace__inner_error_comes_after_the_due_ticks(void **state)
{
    (void)state;
    const int64_t off[] = {0, 1000, 2000};
    int closed = 0;
    struct fxp_source *paced = NULL;
    assert_int_equal(
        fxp_source_pace(fake_new(off, 3, FXP_EIO, &closed, false), 1e6, &paced),
        FXP_OK);
    struct fxp_tick t[8];
    uint64_t pos[8];
    int err = -99;
    size_t got = 0;
    while (got < 3) {
        size_t k = fxp_source_read_ticks(paced, t + got, pos + got, 8, &err);
        assert_int_equal(err, FXP_OK);
        assert_true(k > 0);
        got += k;
    }
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(pos[i], i + 1);
        assert_int_equal(t[i].ts_ms, T("2024-03-05T12:00:00Z") + off[i]);
    }
    uint64_t done, total;
    fxp_source_progress(paced, &done, &total);
    assert_int_equal(done, 3);
    assert_int_equal(total, 3);
    assert_int_equal(fxp_source_read_ticks(paced, t, pos, 8, &err), 0);
    assert_int_equal(err, FXP_EIO);
    fxp_source_close(paced);
    assert_int_equal(closed, 1);
}

static void test_pace__bars_and_bad_speeds_are_refused(void **state)
{
    (void)state;
    const int64_t off[] = {0};
    int closed = 0;
    struct fxp_source *out = (struct fxp_source *)&out;
    /* The wrapper owns the inner source even when it refuses it. */
    assert_int_equal(
        fxp_source_pace(fake_new(off, 1, FXP_OK, &closed, true), 10, &out),
        FXP_EINVAL);
    assert_null(out);
    assert_int_equal(closed, 1);
    static const double bad[] = {-1.0, NAN, INFINITY};
    for (size_t i = 0; i < 3; i++) {
        out = (struct fxp_source *)&out;
        assert_int_equal(
            fxp_source_pace(fake_new(off, 1, FXP_OK, &closed, false), bad[i],
                            &out),
            FXP_EINVAL);
        assert_null(out);
        assert_int_equal(closed, (int)i + 2);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(
            test_synth__same_config_gives_identical_ticks_for_any_batch_size),
        cmocka_unit_test(test_synth__is_silent_while_the_market_is_closed),
        cmocka_unit_test(
            test_synth__ticks_lie_in_range_in_time_order_numbered_from_one),
        cmocka_unit_test(
            test_synth__good_quotes_are_valid_rounded_and_realistic),
        cmocka_unit_test(test_synth__unknown_symbols_get_a_price),
        cmocka_unit_test(
            test_synth__bad_quotes_come_at_the_configured_fraction),
        cmocka_unit_test(test_synth__no_gaps_without_injections),
        cmocka_unit_test(test_synth__quiet_spells_silence_one_symbol),
        cmocka_unit_test(test_synth__outages_silence_every_symbol),
        cmocka_unit_test(test_synth__quote_rate_over_a_week_matches_the_config),
        cmocka_unit_test(test_synth__defaults_are_documented),
        cmocka_unit_test(test_synth__bad_config_is_rejected),
        cmocka_unit_test(test_pace__speed_zero_passes_ticks_through_unchanged),
        cmocka_unit_test(
            test_pace__ten_feed_minutes_at_600x_take_about_a_second),
        cmocka_unit_test(test_pace__interrupt_ends_a_wait_within_100ms),
        cmocka_unit_test(test_pace__inner_error_comes_after_the_due_ticks),
        cmocka_unit_test(test_pace__bars_and_bad_speeds_are_refused),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
