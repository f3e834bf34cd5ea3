/* test_aggregate.c - the streaming multi-timeframe engine. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "fxpipe/aggregate.h"
#include "fxpipe/time.h"
#include "fxpipe/tz.h"
#include "fxpipe/version.h"

static struct fxp_tz *ny;

/* Every emission, in order. */
struct sink {
    struct fxp_bar bars[4096];
    bool rev[4096];
    size_t n;
};

static void collect(void *ud, const struct fxp_bar *b, bool revision)
{
    struct sink *s = ud;
    assert_true(s->n < 4096);
    s->bars[s->n] = *b;
    s->rev[s->n++] = revision;
}

static int setup(void **state)
{
    (void)state;
    char err[256];
    return fxp_tz_load("America/New_York", &ny, err, sizeof err);
}

static int teardown(void **state)
{
    (void)state;
    fxp_tz_free(ny);
    return 0;
}

/* Monday 2024-03-11 10:00:00 UTC, market open. */
#define T0  1710151200000LL
#define MIN FXP_MS_PER_MIN

static struct fxp_tick tk(int64_t ts, double bid, double ask)
{
    struct fxp_tick t = {.ts_ms = ts, .bid = bid, .ask = ask};
    return t;
}

static struct fxp_agg *engine(struct sink *s, fxp_price price, int64_t late)
{
    struct fxp_agg_cfg cfg;
    fxp_agg_cfg_default(&cfg, ny);
    cfg.price = price;
    cfg.lateness_ms = late;
    cfg.max_symbols = 8;
    memset(s, 0, sizeof *s);
    struct fxp_agg *a = fxp_agg_new(&cfg, collect, s);
    assert_non_null(a);
    return a;
}

/* The last emission of (tf, ts), or NULL. */
static const struct fxp_bar *find(const struct sink *s, fxp_tf tf, int64_t ts)
{
    const struct fxp_bar *found = NULL;
    for (size_t i = 0; i < s->n; i++)
        if (s->bars[i].tf == tf && s->bars[i].ts_ms == ts)
            found = &s->bars[i];
    return found;
}

static void test_aggregate__a_minute_of_ticks_makes_one_ohlc_bar(void **state)
{
    (void)state;
    struct sink s;
    struct fxp_agg *a = engine(&s, FXP_PRICE_MID, 0);
    struct fxp_tick in[] = {
        tk(T0 + 100, 1.1000, 1.1002),
        tk(T0 + 2000, 1.1010, 1.1012),
        tk(T0 + 3000, 1.0990, 1.0992),
        tk(T0 + 59999, 1.1004, 1.1006),
    };
    assert_int_equal(fxp_agg_ticks(a, in, 4, NULL), 0);
    assert_int_equal(s.n, 0); /* still open */
    struct fxp_tick next = tk(T0 + MIN, 1.1, 1.1002);
    assert_int_equal(fxp_agg_tick(a, &next), FXP_R_OK);
    assert_int_equal(s.n, 1);
    const struct fxp_bar *b = &s.bars[0];
    assert_int_equal(b->ts_ms, T0);
    assert_int_equal(b->tf, FXP_TF_1M);
    assert_true(b->open == (1.1000 + 1.1002) * 0.5);
    assert_true(b->high == (1.1010 + 1.1012) * 0.5);
    assert_true(b->low == (1.0990 + 1.0992) * 0.5);
    assert_true(b->close == (1.1004 + 1.1006) * 0.5);
    assert_true(b->volume == 4.0);
    assert_int_equal(b->n_ticks, 4);
    assert_int_equal(b->version, fxp_version_make(FXP_SRC_LIVE, 4));
    assert_false(s.rev[0]);
    fxp_agg_free(a);
}

static void test_aggregate__bid_and_ask_bases_and_given_volume(void **state)
{
    (void)state;
    static const fxp_price bases[] = {FXP_PRICE_BID, FXP_PRICE_ASK};
    for (int k = 0; k < 2; k++) {
        struct sink s;
        struct fxp_agg *a = engine(&s, bases[k], 0);
        struct fxp_tick t1 = tk(T0, 1.1, 1.2), t2 = tk(T0 + 5, 1.3, 1.4);
        t1.flags = t2.flags = FXP_TICK_HAS_VOLUME;
        t1.volume = 2.5;
        t2.volume = 0.25;
        fxp_agg_tick(a, &t1);
        fxp_agg_tick(a, &t2);
        fxp_agg_flush(a);
        const struct fxp_bar *b = find(&s, FXP_TF_1M, T0);
        assert_non_null(b);
        assert_true(b->open == (k == 0 ? 1.1 : 1.2));
        assert_true(b->close == (k == 0 ? 1.3 : 1.4));
        assert_true(b->volume == 2.75);
        assert_int_equal(b->n_ticks, 2);
        fxp_agg_free(a);
    }
}

static void test_aggregate__no_bar_is_made_for_a_silent_minute(void **state)
{
    (void)state;
    struct sink s;
    struct fxp_agg *a = engine(&s, FXP_PRICE_MID, 0);
    struct fxp_tick in[] = {tk(T0, 1, 1), tk(T0 + 3 * MIN, 1, 1)};
    fxp_agg_ticks(a, in, 2, NULL);
    fxp_agg_flush(a);
    size_t n1m = 0;
    for (size_t i = 0; i < s.n; i++)
        n1m += s.bars[i].tf == FXP_TF_1M;
    assert_int_equal(n1m, 2);
    assert_null(find(&s, FXP_TF_1M, T0 + MIN));
    assert_null(find(&s, FXP_TF_1M, T0 + 2 * MIN));
    fxp_agg_free(a);
}

static void
test_aggregate__higher_timeframes_close_when_time_passes(void **state)
{
    (void)state;
    struct sink s;
    struct fxp_agg *a = engine(&s, FXP_PRICE_MID, 0);
    /* 10:00..10:09, one tick a minute, then one at 10:15. */
    for (int m = 0; m < 10; m++) {
        struct fxp_tick t =
            tk(T0 + m * MIN + 10, 1.0 + m * 0.001, 1.0 + m * 0.001);
        fxp_agg_tick(a, &t);
    }
    assert_null(find(&s, FXP_TF_5M, T0 + 5 * MIN));
    struct fxp_tick t = tk(T0 + 15 * MIN, 2, 2);
    fxp_agg_tick(a, &t);
    const struct fxp_bar *b5 = find(&s, FXP_TF_5M, T0 + 5 * MIN);
    assert_non_null(b5);
    assert_true(b5->open == 1.005);
    assert_true(b5->close == 1.009);
    assert_true(b5->volume == 5);
    assert_non_null(find(&s, FXP_TF_5M, T0));
    const struct fxp_bar *b15 = find(&s, FXP_TF_15M, T0); /* ends 10:15 */
    assert_non_null(b15);
    assert_true(b15->volume == 10);
    assert_null(find(&s, FXP_TF_30M, T0));
    fxp_agg_advance(a, T0 + 30 * MIN); /* an explicit clock advance */
    assert_non_null(find(&s, FXP_TF_15M, T0 + 15 * MIN));
    assert_true(find(&s, FXP_TF_30M, T0)->volume == 11);
    assert_null(find(&s, FXP_TF_1H, T0)); /* 11:00 not reached */
    fxp_agg_flush(a);
    const struct fxp_bar *h = find(&s, FXP_TF_1H, T0);
    assert_non_null(h);
    assert_true(h->volume == 11);
    assert_true(h->high == 2);
    /* The daily bar opened Sunday 17:00 EDT = 21:00 UTC. */
    assert_non_null(find(&s, FXP_TF_1D, 1710104400000LL));
    assert_non_null(find(&s, FXP_TF_1W, 1710104400000LL));
    fxp_agg_free(a);
}

static void
test_aggregate__a_late_tick_revises_with_a_higher_version(void **state)
{
    (void)state;
    struct sink s;
    struct fxp_agg *a = engine(&s, FXP_PRICE_MID, 10000);
    struct fxp_tick in[] = {tk(T0 + 50000, 1.0, 1.0),
                            tk(T0 + MIN + 1000, 1.1, 1.1)};
    fxp_agg_ticks(a, in, 2, NULL);
    const struct fxp_bar *b = find(&s, FXP_TF_1M, T0);
    assert_non_null(b);
    int64_t v1 = b->version;
    /* 9 s behind the newest tick: within the 10 s allowance. */
    struct fxp_tick late = tk(T0 + 52000, 1.5, 1.5);
    assert_int_equal(fxp_agg_tick(a, &late), FXP_R_OK);
    b = find(&s, FXP_TF_1M, T0);
    assert_true(s.rev[s.n - 1]);
    assert_true(b->version > v1);
    assert_true(b->high == 1.5 && b->close == 1.5 && b->open == 1.0);
    /* 11 s behind: rejected with a reason. */
    struct fxp_tick later = tk(T0 + 50000, 1.2, 1.2);
    assert_int_equal(fxp_agg_tick(a, &later), FXP_R_LATE);
    struct fxp_agg_stats st;
    fxp_agg_get_stats(a, &st);
    assert_int_equal(st.late, 1);
    assert_int_equal(st.revisions, 1);
    fxp_agg_free(a);
}

static void
test_aggregate__historical_1m_bars_build_higher_timeframes(void **state)
{
    (void)state;
    struct sink s;
    struct fxp_agg_cfg cfg;
    fxp_agg_cfg_default(&cfg, ny);
    cfg.source = FXP_SRC_HISTORICAL;
    cfg.max_symbols = 4;
    memset(&s, 0, sizeof s);
    struct fxp_agg *a = fxp_agg_new(&cfg, collect, &s);
    for (int m = 0; m < 5; m++) {
        struct fxp_bar b = {.ts_ms = T0 + m * MIN,
                            .open = 1,
                            .high = 2 + m,
                            .low = 0.5,
                            .close = 1.5,
                            .volume = 10,
                            .n_ticks = 3,
                            .tf = FXP_TF_1M};
        assert_int_equal(fxp_agg_bar(a, &b), FXP_R_OK);
    }
    struct fxp_bar dup = {.ts_ms = T0 + 4 * MIN,
                          .open = 1,
                          .high = 1,
                          .low = 1,
                          .close = 1,
                          .tf = FXP_TF_1M};
    assert_int_equal(fxp_agg_bar(a, &dup), FXP_R_DUPLICATE);
    dup.ts_ms += 1;
    assert_int_equal(fxp_agg_bar(a, &dup), FXP_R_TS_ALIGN);
    fxp_agg_flush(a);
    const struct fxp_bar *b5 = find(&s, FXP_TF_5M, T0);
    assert_non_null(b5);
    assert_true(b5->high == 6 && b5->low == 0.5 && b5->volume == 50);
    assert_int_equal(b5->n_ticks, 15);
    assert_int_equal(fxp_version_rank(b5->version), FXP_SRC_HISTORICAL);
    assert_true(b5->version < fxp_version_make(FXP_SRC_LIVE, 1));
    fxp_agg_free(a);
}

static void
test_aggregate__a_bar_keeps_the_highest_rank_of_its_inputs(void **state)
{
    (void)state;
    struct sink s;
    struct fxp_agg_cfg cfg;
    fxp_agg_cfg_default(&cfg, ny);
    cfg.source = FXP_SRC_HISTORICAL;
    cfg.max_symbols = 1;
    memset(&s, 0, sizeof s);
    struct fxp_agg *a = fxp_agg_new(&cfg, collect, &s);
    /* Minute 0 was stored by a live run; minute 1 is back-filled. */
    struct fxp_bar live = {.ts_ms = T0,
                           .open = 1,
                           .high = 1,
                           .low = 1,
                           .close = 1,
                           .volume = 7,
                           .n_ticks = 7,
                           .version = fxp_version_make(FXP_SRC_LIVE, 7),
                           .tf = FXP_TF_1M};
    struct fxp_bar hist = {.ts_ms = T0 + MIN,
                           .open = 1,
                           .high = 1,
                           .low = 1,
                           .close = 1,
                           .volume = 5,
                           .n_ticks = 5,
                           .tf = FXP_TF_1M};
    assert_int_equal(fxp_agg_bar(a, &live), FXP_R_OK);
    assert_int_equal(fxp_agg_bar(a, &hist), FXP_R_OK);
    fxp_agg_flush(a);
    const struct fxp_bar *m0 = find(&s, FXP_TF_1M, T0);
    const struct fxp_bar *m1 = find(&s, FXP_TF_1M, T0 + MIN);
    const struct fxp_bar *b5 = find(&s, FXP_TF_5M, T0);
    assert_int_equal(fxp_version_rank(m0->version), FXP_SRC_LIVE);
    assert_int_equal(fxp_version_rank(m1->version), FXP_SRC_HISTORICAL);
    assert_int_equal(b5->version, fxp_version_make(FXP_SRC_LIVE, 12));
    /* ... so it outranks the incomplete live 5m bar (7 quotes). */
    assert_true(b5->version > fxp_version_make(FXP_SRC_LIVE, 7));
    fxp_agg_free(a);
}

/* ---- property: shuffled input within the lateness == sorted reference ---- */

struct ref_bar {
    int64_t ts;
    int tf;
    uint32_t sym;
    double o, h, l, c, vol;
    uint32_t n;
    bool matched;
};

static int cmp_key(int tf1, uint32_t s1, int64_t t1, int tf2, uint32_t s2,
                   int64_t t2)
{
    if (tf1 != tf2)
        return tf1 < tf2 ? -1 : 1;
    if (s1 != s2)
        return s1 < s2 ? -1 : 1;
    return t1 < t2 ? -1 : t1 > t2;
}

static void
test_aggregate__shuffled_late_ticks_end_equal_to_sorted_input(void **state)
{
    (void)state;
    enum { N = 3000, NREF = 8 * 2 * 3000 };
    static struct fxp_tick ticks[N];
    static struct ref_bar ref[NREF];
    size_t nref = 0;
    srand(7);
    struct fxp_align al = {FXP_SESSION_NY_CLOSE, ny};
    int64_t ts = T0;
    for (int i = 0; i < N; i++) {
        ts += 1 + rand() % 20000; /* gaps up to 20 s, no ties */
        double px = 1.1 + (rand() % 1000) * 1e-5;
        ticks[i] = tk(ts, px, px + 0.0001);
        ticks[i].sym = (uint32_t)(rand() % 2);
    }
    /* Reference: every tick straight into every timeframe. */
    for (int i = 0; i < N; i++)
        for (int k = 0; k < FXP_TF_COUNT; k++) {
            int64_t b = fxp_tf_floor(&al, (fxp_tf)k, ticks[i].ts_ms);
            double px = (ticks[i].bid + ticks[i].ask) * 0.5;
            size_t j = 0;
            while (j < nref && cmp_key(ref[j].tf, ref[j].sym, ref[j].ts, k,
                                       ticks[i].sym, b))
                j++;
            if (j == nref) {
                ref[nref++] = (struct ref_bar){
                    b, k, ticks[i].sym, px, px, px, px, 1, 1, false};
                continue;
            }
            struct ref_bar *r = &ref[j];
            r->h = px > r->h ? px : r->h;
            r->l = px < r->l ? px : r->l;
            r->c = px; /* input is sorted: the last one closes */
            r->vol += 1;
            r->n++;
        }
    /* Engine input: swap neighbours so some ticks arrive up to ~20 s late. */
    static struct fxp_tick shuffled[N];
    memcpy(shuffled, ticks, sizeof ticks);
    for (int i = 1; i < N; i += 3) {
        struct fxp_tick t = shuffled[i];
        shuffled[i] = shuffled[i - 1];
        shuffled[i - 1] = t;
    }
    struct fxp_agg_cfg cfg;
    fxp_agg_cfg_default(&cfg, ny);
    cfg.lateness_ms = 60000;
    cfg.max_symbols = 2;
    static struct sink s;
    memset(&s, 0, sizeof s);
    struct fxp_agg *a = fxp_agg_new(&cfg, collect, &s);
    size_t rejected = 0;
    for (int i = 0; i <= N; i += 500) {
        if (i < N)
            rejected += fxp_agg_ticks(a, shuffled + i, 500, NULL);
        else
            fxp_agg_flush(a);
        /* Check what was emitted, then empty the sink. A bar emitted
         * with all its ticks must equal the reference exactly. */
        for (size_t e = 0; e < s.n; e++) {
            const struct fxp_bar *b = &s.bars[e];
            size_t j = 0;
            while (j < nref && cmp_key(ref[j].tf, ref[j].sym, ref[j].ts, b->tf,
                                       b->sym, b->ts_ms))
                j++;
            assert_true(j < nref); /* no bar the reference lacks */
            assert_true(b->n_ticks <= ref[j].n);
            if (b->n_ticks < ref[j].n)
                continue;
            assert_true(b->open == ref[j].o);
            assert_true(b->high == ref[j].h);
            assert_true(b->low == ref[j].l);
            assert_true(b->close == ref[j].c);
            assert_true(b->volume == ref[j].vol);
            ref[j].matched = true;
        }
        s.n = 0;
    }
    assert_int_equal(rejected, 0);
    for (size_t j = 0; j < nref; j++)
        assert_true(ref[j].matched); /* every bar completed */
    fxp_agg_free(a);
}

static void test_aggregate__the_same_input_gives_the_same_versions(void **state)
{
    (void)state;
    static struct sink s1, s2;
    struct fxp_tick in[64];
    for (int i = 0; i < 64; i++)
        in[i] = tk(T0 + (i * 7919) % 300000, 1 + i * 1e-4, 1 + i * 1e-4);
    struct sink *sinks[2] = {&s1, &s2};
    for (int r = 0; r < 2; r++) {
        struct fxp_agg_cfg cfg;
        fxp_agg_cfg_default(&cfg, ny);
        cfg.lateness_ms = 400000;
        cfg.max_symbols = 1;
        memset(sinks[r], 0, sizeof s1);
        struct fxp_agg *a = fxp_agg_new(&cfg, collect, sinks[r]);
        fxp_agg_ticks(a, in, 64, NULL);
        fxp_agg_flush(a);
        fxp_agg_free(a);
    }
    assert_int_equal(s1.n, s2.n);
    assert_memory_equal(s1.bars, s2.bars, s1.n * sizeof s1.bars[0]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_aggregate__a_minute_of_ticks_makes_one_ohlc_bar),
        cmocka_unit_test(test_aggregate__bid_and_ask_bases_and_given_volume),
        cmocka_unit_test(test_aggregate__no_bar_is_made_for_a_silent_minute),
        cmocka_unit_test(
            test_aggregate__higher_timeframes_close_when_time_passes),
        cmocka_unit_test(
            test_aggregate__a_late_tick_revises_with_a_higher_version),
        cmocka_unit_test(
            test_aggregate__historical_1m_bars_build_higher_timeframes),
        cmocka_unit_test(
            test_aggregate__shuffled_late_ticks_end_equal_to_sorted_input),
        cmocka_unit_test(
            test_aggregate__a_bar_keeps_the_highest_rank_of_its_inputs),
        cmocka_unit_test(
            test_aggregate__the_same_input_gives_the_same_versions),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
