/*
 * test_validate.c - the tick and bar validator: one table row per reason,
 * valid rows that must pass, limit boundaries, jump state and its
 * re-anchoring, reason names and the formatted messages.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "fxpipe/err.h"
#include "fxpipe/time.h"
#include "fxpipe/timeframe.h"
#include "fxpipe/tz.h"
#include "fxpipe/types.h"
#include "fxpipe/validate.h"

#define T0         1736935200000LL /* 2025-01-15T10:00:00Z, a Wednesday */
#define DAY0       1736899200000LL /* 2025-01-15T00:00:00Z */
#define MONDAY0    1736726400000LL /* 2025-01-13T00:00:00Z, a Monday */
#define NY_CLOSE_W 1736892000000LL /* 2025-01-14T22:00:00Z = 17:00 EST */
#define NY_CLOSE_S 1752526800000LL /* 2025-07-14T21:00:00Z = 17:00 EDT */
#define MIN_TS     631152000000LL  /* 1990-01-01T00:00:00Z (default) */
#define MAX_TS     4102444800000LL /* 2100-01-01T00:00:00Z (default) */
#define N_SYM      4u

/* ---- tick table ------------------------------------------------------ */

struct tick_row {
    const char *what;
    struct fxp_tick t;
    fxp_reason want;
};

#define TICK(ts, b, a)                                                         \
    {                                                                          \
        .ts_ms = (ts), .bid = (b), .ask = (a), .sym = 0                        \
    }
#define TICKV(ts, b, a, vol)                                                   \
    {                                                                          \
        .ts_ms = (ts), .bid = (b), .ask = (a), .volume = (vol), .sym = 0,      \
        .flags = FXP_TICK_HAS_VOLUME                                           \
    }

static const struct tick_row tick_rows[] = {
    /* Valid quotes. */
    {"eurusd", TICK(T0, 1.10430, 1.10445), FXP_R_OK},
    {"xauusd", TICK(T0, 2650.15, 2650.45), FXP_R_OK},
    {"usdjpy", TICK(T0, 151.234, 151.245), FXP_R_OK},
    {"locked quote (ask == bid)", TICK(T0, 1.1043, 1.1043), FXP_R_OK},
    {"zero volume", TICKV(T0, 1.1043, 1.1044, 0.0), FXP_R_OK},
    {"positive volume", TICKV(T0, 1.1043, 1.1044, 2.5e6), FXP_R_OK},
    {"volume ignored without flag", TICK(T0, 1.1043, 1.1044), FXP_R_OK},
    /* Timestamp range: [min_ts, max_ts). */
    {"ts == min_ts passes", TICK(MIN_TS, 1.1, 1.1001), FXP_R_OK},
    {"ts == min_ts - 1 fails", TICK(MIN_TS - 1, 1.1, 1.1001), FXP_R_TS_RANGE},
    {"ts == max_ts - 1 passes", TICK(MAX_TS - 1, 1.1, 1.1001), FXP_R_OK},
    {"ts == max_ts fails", TICK(MAX_TS, 1.1, 1.1001), FXP_R_TS_RANGE},
    {"ts == INT64_MIN fails", TICK(INT64_MIN, 1.1, 1.1001), FXP_R_TS_RANGE},
    /* Prices. */
    {"nan bid", TICK(T0, NAN, 1.1), FXP_R_NAN},
    {"nan ask", TICK(T0, 1.1, NAN), FXP_R_NAN},
    {"inf bid", TICK(T0, INFINITY, 1.1), FXP_R_INF},
    {"-inf ask", TICK(T0, 1.1, -INFINITY), FXP_R_INF},
    {"zero bid", TICK(T0, 0.0, 1.1), FXP_R_NONPOS_PRICE},
    {"negative ask", TICK(T0, 1.1, -1.1), FXP_R_NONPOS_PRICE},
    {"crossed", TICK(T0, 1.10430, 1.10420), FXP_R_CROSSED},
    /* Spread: (41-39)/40 is exactly the default 0.05. */
    {"spread at the limit passes", TICK(T0, 39.0, 41.0), FXP_R_OK},
    {"spread just above fails", TICK(T0, 39.0, 41.0001), FXP_R_SPREAD},
    {"spread far above fails", TICK(T0, 1.0, 2.0), FXP_R_SPREAD},
    /* Volume, only when flagged. */
    {"negative volume", TICKV(T0, 1.1, 1.1001, -1.0), FXP_R_VOLUME},
    {"nan volume", TICKV(T0, 1.1, 1.1001, NAN), FXP_R_VOLUME},
    {"inf volume", TICKV(T0, 1.1, 1.1001, INFINITY), FXP_R_VOLUME},
    /* Symbol id beyond the validator's table. */
    {"unknown symbol id",
     {.ts_ms = T0, .bid = 1.1, .ask = 1.1001, .sym = N_SYM},
     FXP_R_SYMBOL},
    /* Order: the earlier check wins. */
    {"ts before nan", TICK(0, NAN, NAN), FXP_R_TS_RANGE},
    {"nan before inf", TICK(T0, INFINITY, NAN), FXP_R_NAN},
    {"nonpos before crossed", TICK(T0, 1.1, 0.0), FXP_R_NONPOS_PRICE},
    {"crossed before volume", TICKV(T0, 1.1, 1.0, -1.0), FXP_R_CROSSED},
};

#define N_ROWS(a) (sizeof(a) / sizeof((a)[0]))

static struct fxp_validator *new_default(uint32_t max_symbols)
{
    struct fxp_validate_cfg cfg;
    struct fxp_validator *v;

    fxp_validate_cfg_default(&cfg);
    v = fxp_validator_new(&cfg, max_symbols);
    assert_non_null(v);
    return v;
}

static void test_validate__tick_table_gives_the_expected_reason(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_ROWS(tick_rows); i++) {
        /* A fresh validator per row: no jump state leaks between rows. */
        struct fxp_validator *v = new_default(N_SYM);
        fxp_reason got = fxp_validate_tick(v, &tick_rows[i].t);
        if (got != tick_rows[i].want)
            fail_msg("tick row '%s': got %s, want %s", tick_rows[i].what,
                     fxp_reason_name(got), fxp_reason_name(tick_rows[i].want));
        fxp_validator_free(v);
    }
}

/* ---- bar table ------------------------------------------------------- */

struct bar_row {
    const char *what;
    struct fxp_bar b;
    fxp_reason want;
};

#define BAR(ts, frame, o, h, l, c, vol)                                        \
    {                                                                          \
        .ts_ms = (ts), .open = (o), .high = (h), .low = (l), .close = (c),     \
        .volume = (vol), .n_ticks = 1, .sym = 0, .tf = (frame),                \
        .source = FXP_SRC_HISTORICAL                                           \
    }
#define BAR1H(o, h, l, c) BAR(T0, FXP_TF_1H, o, h, l, c, 10.0)

static const struct bar_row bar_rows[] = {
    /* Valid bars (session utc). */
    {"eurusd 1h", BAR1H(1.1040, 1.1050, 1.1030, 1.1045), FXP_R_OK},
    {"xauusd 1h", BAR1H(2650.15, 2651.00, 2649.80, 2650.45), FXP_R_OK},
    {"usdjpy 1h", BAR1H(151.234, 151.300, 151.200, 151.245), FXP_R_OK},
    {"flat bar o=h=l=c", BAR1H(1.1, 1.1, 1.1, 1.1), FXP_R_OK},
    {"high == open, low == close", BAR1H(1.2, 1.2, 1.1, 1.1), FXP_R_OK},
    {"zero volume", BAR(T0, FXP_TF_1H, 1.1, 1.2, 1.0, 1.1, 0.0), FXP_R_OK},
    {"1m at 10:01", BAR(T0 + 60000, FXP_TF_1M, 1.1, 1.2, 1.0, 1.1, 1.0),
     FXP_R_OK},
    {"1d at utc midnight", BAR(DAY0, FXP_TF_1D, 1.1, 1.2, 1.0, 1.1, 1.0),
     FXP_R_OK},
    {"1w on monday 00:00 utc", BAR(MONDAY0, FXP_TF_1W, 1.1, 1.2, 1.0, 1.1, 1.0),
     FXP_R_OK},
    /* Timestamp range and alignment. */
    {"ts == min_ts passes", BAR(MIN_TS, FXP_TF_1M, 1.1, 1.2, 1.0, 1.1, 1.0),
     FXP_R_OK},
    {"ts before min_ts",
     BAR(MIN_TS - 60000, FXP_TF_1M, 1.1, 1.2, 1.0, 1.1, 1.0), FXP_R_TS_RANGE},
    {"last minute before max_ts",
     BAR(MAX_TS - 60000, FXP_TF_1M, 1.1, 1.2, 1.0, 1.1, 1.0), FXP_R_OK},
    {"ts == max_ts", BAR(MAX_TS, FXP_TF_1M, 1.1, 1.2, 1.0, 1.1, 1.0),
     FXP_R_TS_RANGE},
    {"1h at 10:00:30", BAR(T0 + 30000, FXP_TF_1H, 1.1, 1.2, 1.0, 1.1, 1.0),
     FXP_R_TS_ALIGN},
    {"1h at 10:01", BAR(T0 + 60000, FXP_TF_1H, 1.1, 1.2, 1.0, 1.1, 1.0),
     FXP_R_TS_ALIGN},
    {"1d at 10:00 utc", BAR(T0, FXP_TF_1D, 1.1, 1.2, 1.0, 1.1, 1.0),
     FXP_R_TS_ALIGN},
    {"1w on wednesday", BAR(DAY0, FXP_TF_1W, 1.1, 1.2, 1.0, 1.1, 1.0),
     FXP_R_TS_ALIGN},
    {"unknown timeframe", BAR(T0, FXP_TF_COUNT, 1.1, 1.2, 1.0, 1.1, 1.0),
     FXP_R_TS_ALIGN},
    {"timeframe 255", BAR(T0, 255, 1.1, 1.2, 1.0, 1.1, 1.0), FXP_R_TS_ALIGN},
    /* Prices. */
    {"nan open", BAR1H(NAN, 1.2, 1.0, 1.1), FXP_R_NAN},
    {"nan high", BAR1H(1.1, NAN, 1.0, 1.1), FXP_R_NAN},
    {"nan low", BAR1H(1.1, 1.2, NAN, 1.1), FXP_R_NAN},
    {"nan close", BAR1H(1.1, 1.2, 1.0, NAN), FXP_R_NAN},
    {"inf high", BAR1H(1.1, INFINITY, 1.0, 1.1), FXP_R_INF},
    {"-inf low", BAR1H(1.1, 1.2, -INFINITY, 1.1), FXP_R_INF},
    {"zero open", BAR1H(0.0, 1.2, 1.0, 1.1), FXP_R_NONPOS_PRICE},
    {"negative low", BAR1H(1.1, 1.2, -1.0, 1.1), FXP_R_NONPOS_PRICE},
    {"zero close", BAR1H(1.1, 1.2, 1.0, 0.0), FXP_R_NONPOS_PRICE},
    {"high below low", BAR1H(1.1, 1.0, 1.2, 1.1), FXP_R_HIGH_LOW},
    {"high below open", BAR1H(1.25, 1.2, 1.0, 1.1), FXP_R_HIGH},
    {"high below close", BAR1H(1.1, 1.2, 1.0, 1.25), FXP_R_HIGH},
    {"low above open", BAR1H(1.0, 1.2, 1.05, 1.1), FXP_R_LOW},
    {"low above close", BAR1H(1.1, 1.2, 1.05, 1.0), FXP_R_LOW},
    /* Volume. */
    {"negative volume", BAR(T0, FXP_TF_1H, 1.1, 1.2, 1.0, 1.1, -1.0),
     FXP_R_VOLUME},
    {"nan volume", BAR(T0, FXP_TF_1H, 1.1, 1.2, 1.0, 1.1, NAN), FXP_R_VOLUME},
    {"inf volume", BAR(T0, FXP_TF_1H, 1.1, 1.2, 1.0, 1.1, INFINITY),
     FXP_R_VOLUME},
    /* Order: the earlier check wins. */
    {"align before nan", BAR(T0 + 1, FXP_TF_1M, NAN, NAN, NAN, NAN, -1.0),
     FXP_R_TS_ALIGN},
    {"inf before nonpos", BAR1H(-1.0, INFINITY, 1.0, 1.1), FXP_R_INF},
    {"high_low before high", BAR1H(1.3, 1.0, 1.2, 1.1), FXP_R_HIGH_LOW},
    {"low before volume", BAR(T0, FXP_TF_1H, 1.0, 1.2, 1.05, 1.1, -1.0),
     FXP_R_LOW},
};

static void test_validate__bar_table_gives_the_expected_reason(void **state)
{
    struct fxp_validator *v = new_default(N_SYM);
    struct fxp_align al = {FXP_SESSION_UTC, NULL};

    (void)state;
    for (size_t i = 0; i < N_ROWS(bar_rows); i++) {
        fxp_reason got = fxp_validate_bar(v, &al, &bar_rows[i].b);
        if (got != bar_rows[i].want)
            fail_msg("bar row '%s': got %s, want %s", bar_rows[i].what,
                     fxp_reason_name(got), fxp_reason_name(bar_rows[i].want));
    }
    fxp_validator_free(v);
}

/* Every reason the validator itself can return has at least one row. */
static void test_validate__tables_cover_every_validator_reason(void **state)
{
    static const fxp_reason tick_reasons[] = {
        FXP_R_OK,      FXP_R_TS_RANGE, FXP_R_SYMBOL,
        FXP_R_NAN,     FXP_R_INF,      FXP_R_NONPOS_PRICE,
        FXP_R_CROSSED, FXP_R_SPREAD,   FXP_R_VOLUME};
    static const fxp_reason bar_reasons[] = {
        FXP_R_OK,  FXP_R_TS_RANGE,     FXP_R_TS_ALIGN, FXP_R_NAN,
        FXP_R_INF, FXP_R_NONPOS_PRICE, FXP_R_HIGH_LOW, FXP_R_HIGH,
        FXP_R_LOW, FXP_R_VOLUME};

    (void)state;
    /* FXP_R_JUMP needs history and has its own tests below. */
    for (size_t k = 0; k < N_ROWS(tick_reasons); k++) {
        size_t n = 0;
        for (size_t i = 0; i < N_ROWS(tick_rows); i++)
            n += tick_rows[i].want == tick_reasons[k];
        if (n == 0)
            fail_msg("no tick row for '%s'", fxp_reason_name(tick_reasons[k]));
    }
    for (size_t k = 0; k < N_ROWS(bar_reasons); k++) {
        size_t n = 0;
        for (size_t i = 0; i < N_ROWS(bar_rows); i++)
            n += bar_rows[i].want == bar_reasons[k];
        if (n == 0)
            fail_msg("no bar row for '%s'", fxp_reason_name(bar_reasons[k]));
    }
}

/* ---- single-case tests ------------------------------------------------ */

static void
test_validate__crossed_quote_is_rejected_naming_the_ask(void **state)
{
    struct fxp_validator *v = new_default(N_SYM);
    struct fxp_tick t = TICK(T0, 1.10430, 1.10420);
    char buf[256];

    (void)state;
    assert_int_equal(fxp_validate_tick(v, &t), FXP_R_CROSSED);
    assert_string_equal(fxp_reason_field(FXP_R_CROSSED), "ask");
    fxp_reason_format_tick(FXP_R_CROSSED, &t, buf, sizeof(buf));
    assert_string_equal(buf, "field 'ask': ask is below bid "
                             "(bid=1.1043 ask=1.1042)");
    fxp_validator_free(v);
}

static void test_validate__nan_bid_message_names_the_bid(void **state)
{
    struct fxp_tick t = TICK(T0, NAN, 1.1);
    char buf[256];

    (void)state;
    fxp_reason_format_tick(FXP_R_NAN, &t, buf, sizeof(buf));
    assert_non_null(strstr(buf, "field 'bid'"));
    assert_non_null(strstr(buf, "price is NaN"));
    assert_non_null(strstr(buf, "ask=1.1"));
}

static void
test_validate__bar_high_below_close_message_names_the_values(void **state)
{
    struct fxp_bar b = BAR1H(1.1, 1.2, 1.0, 1.25);
    char buf[256];

    (void)state;
    assert_ptr_equal(fxp_reason_format_bar(FXP_R_HIGH, &b, buf, sizeof(buf)),
                     buf);
    assert_string_equal(buf, "field 'high': high is below max(open, close) "
                             "(open=1.1 high=1.2 low=1 close=1.25)");
}

static void
test_validate__bar_nan_message_names_the_first_bad_price(void **state)
{
    struct fxp_bar b = BAR1H(1.1, 1.2, NAN, NAN);
    char buf[256];

    (void)state;
    fxp_reason_format_bar(FXP_R_NAN, &b, buf, sizeof(buf));
    assert_non_null(strstr(buf, "field 'low'"));
    assert_non_null(strstr(buf, "low=nan"));
}

static void
test_validate__misaligned_bar_message_gives_time_and_timeframe(void **state)
{
    struct fxp_bar b = BAR(T0 + 60000, FXP_TF_1H, 1.1, 1.2, 1.0, 1.1, 1.0);
    char buf[256];

    (void)state;
    fxp_reason_format_bar(FXP_R_TS_ALIGN, &b, buf, sizeof(buf));
    assert_string_equal(buf, "field 'ts': timestamp is not aligned to the "
                             "timeframe (ts_ms=1736935260000 "
                             "ts=2025-01-15T10:01:00Z tf=1h)");
}

static void
test_validate__extreme_timestamp_message_does_not_convert_it(void **state)
{
    struct fxp_tick t = TICK(INT64_MAX, 1.1, 1.1001);
    char buf[256];

    (void)state;
    fxp_reason_format_tick(FXP_R_TS_RANGE, &t, buf, sizeof(buf));
    assert_non_null(strstr(buf, "field 'ts'"));
    assert_non_null(strstr(buf, "ts_ms=9223372036854775807"));
}

/* Every rejected row formats into a message naming a field and the
 * reason's description. */
static void
test_validate__every_rejection_formats_field_and_reason(void **state)
{
    char buf[256];

    (void)state;
    for (size_t i = 0; i < N_ROWS(tick_rows); i++) {
        fxp_reason r = tick_rows[i].want;
        if (r == FXP_R_OK)
            continue;
        fxp_reason_format_tick(r, &tick_rows[i].t, buf, sizeof(buf));
        if (strncmp(buf, "field '", 7) != 0 ||
            strstr(buf, fxp_reason_desc(r)) == NULL || strchr(buf, '=') == NULL)
            fail_msg("tick row '%s': bad message \"%s\"", tick_rows[i].what,
                     buf);
    }
    for (size_t i = 0; i < N_ROWS(bar_rows); i++) {
        fxp_reason r = bar_rows[i].want;
        if (r == FXP_R_OK)
            continue;
        fxp_reason_format_bar(r, &bar_rows[i].b, buf, sizeof(buf));
        if (strncmp(buf, "field '", 7) != 0 ||
            strstr(buf, fxp_reason_desc(r)) == NULL || strchr(buf, '=') == NULL)
            fail_msg("bar row '%s': bad message \"%s\"", bar_rows[i].what, buf);
    }
}

static void test_validate__format_truncates_to_the_buffer(void **state)
{
    struct fxp_tick t = TICK(T0, 1.10430, 1.10420);
    char buf[12];

    (void)state;
    memset(buf, 'x', sizeof(buf));
    fxp_reason_format_tick(FXP_R_CROSSED, &t, buf, sizeof(buf));
    assert_int_equal(strlen(buf), sizeof(buf) - 1);
    assert_string_equal(buf, "field 'ask'");
    /* A zero-length buffer is left alone. */
    assert_ptr_equal(fxp_reason_format_tick(FXP_R_CROSSED, &t, buf, 0), buf);
}

/* ---- jump state ------------------------------------------------------ */

static struct fxp_tick quote(uint32_t sym, double bid, double ask)
{
    struct fxp_tick t = TICK(T0, bid, ask);
    t.sym = sym;
    return t;
}

static void
test_validate__jump_is_measured_from_the_last_valid_tick(void **state)
{
    struct fxp_validator *v = new_default(N_SYM);
    struct fxp_tick t;

    (void)state;
    t = quote(0, 1.0, 1.0);
    assert_int_equal(fxp_validate_tick(v, &t), FXP_R_OK);
    t = quote(0, 1.2, 1.2); /* +20% */
    assert_int_equal(fxp_validate_tick(v, &t), FXP_R_JUMP);
    t = quote(0, 1.05, 1.05); /* +5% from 1.0, not from the rejected 1.2 */
    assert_int_equal(fxp_validate_tick(v, &t), FXP_R_OK);
    t = quote(0, 1.14, 1.14); /* +8.6% from 1.05: the new reference */
    assert_int_equal(fxp_validate_tick(v, &t), FXP_R_OK);
    t = quote(0, 1.0, 1.0); /* -12.3% from 1.14 */
    assert_int_equal(fxp_validate_tick(v, &t), FXP_R_JUMP);
    fxp_validator_free(v);
}

static void
test_validate__rejected_tick_does_not_move_the_jump_reference(void **state)
{
    struct fxp_validator *v = new_default(N_SYM);
    struct fxp_tick t;

    (void)state;
    t = quote(0, 1.0, 1.0);
    assert_int_equal(fxp_validate_tick(v, &t), FXP_R_OK);
    /* Wide spread at mid 1.5: rejected, must not become the reference. */
    t = quote(0, 1.0, 2.0);
    assert_int_equal(fxp_validate_tick(v, &t), FXP_R_SPREAD);
    t = quote(0, 1.5, 1.5);
    assert_int_equal(fxp_validate_tick(v, &t), FXP_R_JUMP);
    t = quote(0, 1.01, 1.01);
    assert_int_equal(fxp_validate_tick(v, &t), FXP_R_OK);
    fxp_validator_free(v);
}

static void test_validate__jump_state_is_per_symbol(void **state)
{
    struct fxp_validator *v = new_default(N_SYM);
    struct fxp_tick t;

    (void)state;
    t = quote(0, 1.1043, 1.1045); /* EURUSD */
    assert_int_equal(fxp_validate_tick(v, &t), FXP_R_OK);
    t = quote(1, 151.234, 151.245); /* USDJPY: first tick, no reference */
    assert_int_equal(fxp_validate_tick(v, &t), FXP_R_OK);
    t = quote(N_SYM - 1, 2650.15, 2650.45); /* XAUUSD in the last slot */
    assert_int_equal(fxp_validate_tick(v, &t), FXP_R_OK);
    t = quote(0, 1.1050, 1.1052);
    assert_int_equal(fxp_validate_tick(v, &t), FXP_R_OK);
    t = quote(1, 151.30, 151.31);
    assert_int_equal(fxp_validate_tick(v, &t), FXP_R_OK);
    fxp_validator_free(v);
}

static void test_validate__jump_exactly_at_the_limit_passes(void **state)
{
    struct fxp_validate_cfg cfg;
    struct fxp_validator *v;
    struct fxp_tick t;

    (void)state;
    fxp_validate_cfg_default(&cfg);
    cfg.max_jump_frac = 0.25; /* exact in binary, as are the prices */
    v = fxp_validator_new(&cfg, N_SYM);
    assert_non_null(v);

    t = quote(0, 1.0, 1.0);
    assert_int_equal(fxp_validate_tick(v, &t), FXP_R_OK);
    t = quote(0, 1.25, 1.25); /* +25% exactly */
    assert_int_equal(fxp_validate_tick(v, &t), FXP_R_OK);
    t = quote(0, 1.0, 1.0); /* -20% */
    assert_int_equal(fxp_validate_tick(v, &t), FXP_R_OK);
    t = quote(0, 0.75, 0.75); /* -25% exactly */
    assert_int_equal(fxp_validate_tick(v, &t), FXP_R_OK);
    t = quote(0, 0.9375, 0.9376); /* just above +25% from 0.75 */
    assert_int_equal(fxp_validate_tick(v, &t), FXP_R_JUMP);
    fxp_validator_free(v);
}

static void
test_validate__zero_limits_turn_spread_and_jump_checks_off(void **state)
{
    struct fxp_validate_cfg cfg;
    struct fxp_validator *v;
    struct fxp_tick t;

    (void)state;
    fxp_validate_cfg_default(&cfg);
    cfg.max_spread_frac = 0.0;
    cfg.max_jump_frac = -1.0;
    v = fxp_validator_new(&cfg, N_SYM);
    assert_non_null(v);
    t = quote(0, 1.0, 3.0);
    assert_int_equal(fxp_validate_tick(v, &t), FXP_R_OK);
    t = quote(0, 100.0, 100.0);
    assert_int_equal(fxp_validate_tick(v, &t), FXP_R_OK);
    fxp_validator_free(v);
}

/* ---- re-anchoring the jump reference --------------------------------- */

/* Check a quote at mid m (bid == ask) for symbol sym. */
static fxp_reason check_mid(struct fxp_validator *v, uint32_t sym, double m)
{
    struct fxp_tick t = quote(sym, m, m);
    return fxp_validate_tick(v, &t);
}

static void
test_validate__bad_first_tick_costs_at_most_two_good_ticks(void **state)
{
    struct fxp_validator *v = new_default(N_SYM);

    (void)state;
    /* The first quote is 30% off: with no reference it is accepted. */
    assert_int_equal(check_mid(v, 0, 1.3), FXP_R_OK);
    /* Good quotes: two are rejected, the third re-anchors. */
    assert_int_equal(check_mid(v, 0, 1.0), FXP_R_JUMP);
    assert_int_equal(check_mid(v, 0, 1.001), FXP_R_JUMP);
    assert_int_equal(check_mid(v, 0, 0.999), FXP_R_OK);
    /* From then on good quotes pass and bad ones fail, measured from the
     * new reference. */
    for (int i = 0; i < 10; i++)
        assert_int_equal(check_mid(v, 0, 1.0 + 0.0005 * i), FXP_R_OK);
    assert_int_equal(check_mid(v, 0, 1.3), FXP_R_JUMP);
    assert_int_equal(check_mid(v, 0, 1.005), FXP_R_OK);
    fxp_validator_free(v);
}

static void test_validate__re_anchoring_is_per_symbol(void **state)
{
    struct fxp_validator *v = new_default(N_SYM);

    (void)state;
    assert_int_equal(check_mid(v, 0, 1.3), FXP_R_OK);   /* bad first */
    assert_int_equal(check_mid(v, 1, 150.0), FXP_R_OK); /* good first */
    /* Jumps of symbol 1 do not count towards symbol 0's run. */
    assert_int_equal(check_mid(v, 0, 1.0), FXP_R_JUMP);
    assert_int_equal(check_mid(v, 1, 200.0), FXP_R_JUMP);
    assert_int_equal(check_mid(v, 0, 1.0), FXP_R_JUMP);
    assert_int_equal(check_mid(v, 1, 200.0), FXP_R_JUMP);
    assert_int_equal(check_mid(v, 0, 1.0), FXP_R_OK);
    assert_int_equal(check_mid(v, 1, 150.1), FXP_R_OK);
    fxp_validator_free(v);
}

static void
test_validate__single_outlier_is_rejected_and_keeps_the_reference(void **state)
{
    struct fxp_validator *v = new_default(N_SYM);

    (void)state;
    assert_int_equal(check_mid(v, 0, 1.0), FXP_R_OK);
    assert_int_equal(check_mid(v, 0, 1.001), FXP_R_OK);
    assert_int_equal(check_mid(v, 0, 1.3), FXP_R_JUMP); /* the outlier */
    /* The next good quote passes against the old reference... */
    assert_int_equal(check_mid(v, 0, 1.002), FXP_R_OK);
    /* ...and ended the outlier's run: two more at its level are still
     * rejected (had it counted, the second would re-anchor). */
    assert_int_equal(check_mid(v, 0, 1.3), FXP_R_JUMP);
    assert_int_equal(check_mid(v, 0, 1.3), FXP_R_JUMP);
    /* The reference is still the good level, not 1.3. */
    assert_int_equal(check_mid(v, 0, 0.999), FXP_R_OK);
    assert_int_equal(check_mid(v, 0, 1.15), FXP_R_JUMP);
    fxp_validator_free(v);
}

static void test_validate__alternating_outliers_never_re_anchor(void **state)
{
    struct fxp_validator *v = new_default(N_SYM);

    (void)state;
    assert_int_equal(check_mid(v, 0, 1.0), FXP_R_OK);
    /* Outliers at one level, alternating with good quotes. */
    for (int i = 0; i < 50; i++) {
        assert_int_equal(check_mid(v, 0, 1.3), FXP_R_JUMP);
        assert_int_equal(check_mid(v, 0, 1.0), FXP_R_OK);
    }
    /* Outliers alternating between two levels that disagree. */
    for (int i = 0; i < 50; i++) {
        assert_int_equal(check_mid(v, 0, 1.3), FXP_R_JUMP);
        assert_int_equal(check_mid(v, 0, 0.7), FXP_R_JUMP);
    }
    assert_int_equal(check_mid(v, 0, 1.0), FXP_R_OK);
    fxp_validator_free(v);
}

static void test_validate__three_agreeing_jumps_are_a_new_level(void **state)
{
    struct fxp_validator *v = new_default(N_SYM);

    (void)state;
    assert_int_equal(check_mid(v, 0, 1.0), FXP_R_OK);
    /* A genuine shift: the third quote at the new level is accepted. */
    assert_int_equal(check_mid(v, 0, 1.2), FXP_R_JUMP);
    assert_int_equal(check_mid(v, 0, 1.25), FXP_R_JUMP); /* +4.2% of 1.2 */
    assert_int_equal(check_mid(v, 0, 1.15), FXP_R_OK);   /* -4.2% of 1.2 */
    assert_int_equal(check_mid(v, 0, 1.16), FXP_R_OK);
    /* A JUMP far from the candidate starts a new run at its own level. */
    assert_int_equal(check_mid(v, 0, 1.5), FXP_R_JUMP);
    assert_int_equal(check_mid(v, 0, 1.8), FXP_R_JUMP); /* +20% of 1.5 */
    assert_int_equal(check_mid(v, 0, 1.8), FXP_R_JUMP);
    assert_int_equal(check_mid(v, 0, 1.8), FXP_R_OK);
    fxp_validator_free(v);
}

static void
test_validate__other_rejections_do_not_break_a_jump_run(void **state)
{
    struct fxp_validator *v = new_default(N_SYM);
    struct fxp_tick t;

    (void)state;
    assert_int_equal(check_mid(v, 0, 1.3), FXP_R_OK); /* bad first */
    assert_int_equal(check_mid(v, 0, 1.0), FXP_R_JUMP);
    t = quote(0, 1.0, 2.0);
    assert_int_equal(fxp_validate_tick(v, &t), FXP_R_SPREAD);
    assert_int_equal(check_mid(v, 0, 1.0), FXP_R_JUMP);
    t = quote(0, NAN, 1.0);
    assert_int_equal(fxp_validate_tick(v, &t), FXP_R_NAN);
    assert_int_equal(check_mid(v, 0, 1.0), FXP_R_OK);
    fxp_validator_free(v);
}

static void
test_validate__jump_check_off_keeps_no_re_anchoring_state(void **state)
{
    struct fxp_validate_cfg cfg;
    struct fxp_validator *v;

    (void)state;
    fxp_validate_cfg_default(&cfg);
    cfg.max_jump_frac = 0.0;
    v = fxp_validator_new(&cfg, N_SYM);
    assert_non_null(v);
    for (int i = 0; i < 10; i++) {
        assert_int_equal(check_mid(v, 0, 1.0), FXP_R_OK);
        assert_int_equal(check_mid(v, 0, 2.0), FXP_R_OK);
    }
    fxp_validator_free(v);
}

/* ---- configuration and lifecycle ------------------------------------- */

static void
test_validate__defaults_are_5pct_spread_10pct_jump_1990_to_2100(void **state)
{
    struct fxp_validate_cfg cfg;
    int64_t ts;

    (void)state;
    fxp_validate_cfg_default(&cfg);
    assert_true(cfg.max_spread_frac == 0.05);
    assert_true(cfg.max_jump_frac == 0.10);
    assert_int_equal(fxp_time_parse_str("1990-01-01T00:00:00Z", &ts), FXP_OK);
    assert_int_equal(cfg.min_ts_ms, ts);
    assert_int_equal(fxp_time_parse_str("2100-01-01T00:00:00Z", &ts), FXP_OK);
    assert_int_equal(cfg.max_ts_ms, ts);
}

static void
test_validate__custom_ts_range_is_min_inclusive_max_exclusive(void **state)
{
    struct fxp_validate_cfg cfg;
    struct fxp_validator *v;
    struct fxp_align al = {FXP_SESSION_UTC, NULL};
    struct fxp_tick t = TICK(T0, 1.1, 1.1001);
    struct fxp_bar b = BAR(T0, FXP_TF_1M, 1.1, 1.2, 1.0, 1.1, 1.0);

    (void)state;
    fxp_validate_cfg_default(&cfg);
    cfg.min_ts_ms = T0;
    cfg.max_ts_ms = T0 + 60000;
    v = fxp_validator_new(&cfg, N_SYM);
    assert_non_null(v);

    assert_int_equal(fxp_validate_tick(v, &t), FXP_R_OK);
    t.ts_ms = T0 + 59999;
    assert_int_equal(fxp_validate_tick(v, &t), FXP_R_OK);
    t.ts_ms = T0 + 60000;
    assert_int_equal(fxp_validate_tick(v, &t), FXP_R_TS_RANGE);
    t.ts_ms = T0 - 1;
    assert_int_equal(fxp_validate_tick(v, &t), FXP_R_TS_RANGE);

    assert_int_equal(fxp_validate_bar(v, &al, &b), FXP_R_OK);
    b.ts_ms = T0 + 60000;
    assert_int_equal(fxp_validate_bar(v, &al, &b), FXP_R_TS_RANGE);
    b.ts_ms = T0 - 60000;
    assert_int_equal(fxp_validate_bar(v, &al, &b), FXP_R_TS_RANGE);
    fxp_validator_free(v);
}

static void
test_validate__validator_without_symbols_rejects_every_tick(void **state)
{
    struct fxp_validator *v = new_default(0);
    struct fxp_tick t = quote(0, 1.1, 1.1001);

    (void)state;
    assert_int_equal(fxp_validate_tick(v, &t), FXP_R_SYMBOL);
    fxp_validator_free(v);
    fxp_validator_free(NULL);
}

static void test_validate__null_cfg_means_the_defaults(void **state)
{
    struct fxp_validator *v = fxp_validator_new(NULL, N_SYM);
    struct fxp_tick t = TICK(T0, 39.0, 41.0001);

    (void)state;
    assert_non_null(v);
    assert_int_equal(fxp_validate_tick(v, &t), FXP_R_SPREAD);
    fxp_validator_free(v);
}

/* ---- alignment in the New York session -------------------------------- */

static void
test_validate__daily_bar_aligns_to_17_new_york_in_ny_session(void **state)
{
    struct fxp_validator *v = new_default(N_SYM);
    struct fxp_tz *ny = NULL;
    char err[256];
    struct fxp_bar b = BAR(NY_CLOSE_W, FXP_TF_1D, 1.1, 1.2, 1.0, 1.1, 1.0);
    struct fxp_align al;

    (void)state;
    if (fxp_tz_load("America/New_York", &ny, err, sizeof(err)) != FXP_OK)
        fail_msg("cannot load zone: %s", err);
    al.session = FXP_SESSION_NY_CLOSE;
    al.ny = ny;

    /* 17:00 EST = 22:00Z in winter, 17:00 EDT = 21:00Z in summer. */
    assert_int_equal(fxp_validate_bar(v, &al, &b), FXP_R_OK);
    b.ts_ms = NY_CLOSE_S;
    assert_int_equal(fxp_validate_bar(v, &al, &b), FXP_R_OK);
    /* UTC midnight is not a New York session boundary... */
    b.ts_ms = DAY0;
    assert_int_equal(fxp_validate_bar(v, &al, &b), FXP_R_TS_ALIGN);
    /* ...nor is 22:00Z in summer (18:00 EDT). */
    b.ts_ms = NY_CLOSE_S + 3600000;
    assert_int_equal(fxp_validate_bar(v, &al, &b), FXP_R_TS_ALIGN);
    /* 1h bars still align to the UTC epoch. */
    b.ts_ms = T0;
    b.tf = FXP_TF_1H;
    assert_int_equal(fxp_validate_bar(v, &al, &b), FXP_R_OK);

    fxp_validator_free(v);
    fxp_tz_free(ny);
}

/* ---- reason names ---------------------------------------------------- */

static void
test_validate__every_reason_has_name_field_and_description(void **state)
{
    (void)state;
    for (int r = 0; r < (int)FXP_R_COUNT; r++) {
        const char *name = fxp_reason_name((fxp_reason)r);
        const char *field = fxp_reason_field((fxp_reason)r);
        const char *desc = fxp_reason_desc((fxp_reason)r);

        assert_non_null(name);
        assert_non_null(field);
        assert_non_null(desc);
        if (name[0] == '\0' || desc[0] == '\0')
            fail_msg("reason %d has an empty name or description", r);
        if (r != FXP_R_OK && field[0] == '\0')
            fail_msg("reason '%s' has no field", name);
        for (const char *p = name; *p != '\0'; p++)
            if (!((*p >= 'a' && *p <= 'z') || *p == '_'))
                fail_msg("reason name '%s' is not lower-case", name);
        for (int s = 0; s < r; s++)
            if (strcmp(name, fxp_reason_name((fxp_reason)s)) == 0)
                fail_msg("reason name '%s' is used twice", name);
    }
}

static void
test_validate__reason_names_are_the_lower_case_macro_names(void **state)
{
    (void)state;
    assert_string_equal(fxp_reason_name(FXP_R_OK), "ok");
    assert_string_equal(fxp_reason_name(FXP_R_NAN), "nan");
    assert_string_equal(fxp_reason_name(FXP_R_NONPOS_PRICE), "nonpos_price");
    assert_string_equal(fxp_reason_name(FXP_R_CROSSED), "crossed");
    assert_string_equal(fxp_reason_name(FXP_R_HIGH_LOW), "high_low");
    assert_string_equal(fxp_reason_name(FXP_R_TS_RANGE), "ts_range");
    assert_string_equal(fxp_reason_name(FXP_R_TS_ALIGN), "ts_align");
    assert_string_equal(fxp_reason_name(FXP_R_PARSE), "parse");
    assert_string_equal(fxp_reason_field(FXP_R_VOLUME), "volume");
    assert_string_equal(fxp_reason_name(FXP_R_COUNT), "unknown");
    assert_string_equal(fxp_reason_name((fxp_reason)-1), "unknown");
    assert_string_equal(fxp_reason_field(FXP_R_COUNT), "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_validate__tick_table_gives_the_expected_reason),
        cmocka_unit_test(test_validate__bar_table_gives_the_expected_reason),
        cmocka_unit_test(test_validate__tables_cover_every_validator_reason),
        cmocka_unit_test(
            test_validate__crossed_quote_is_rejected_naming_the_ask),
        cmocka_unit_test(test_validate__nan_bid_message_names_the_bid),
        cmocka_unit_test(
            test_validate__bar_high_below_close_message_names_the_values),
        cmocka_unit_test(
            test_validate__bar_nan_message_names_the_first_bad_price),
        cmocka_unit_test(
            test_validate__misaligned_bar_message_gives_time_and_timeframe),
        cmocka_unit_test(
            test_validate__extreme_timestamp_message_does_not_convert_it),
        cmocka_unit_test(
            test_validate__every_rejection_formats_field_and_reason),
        cmocka_unit_test(test_validate__format_truncates_to_the_buffer),
        cmocka_unit_test(
            test_validate__jump_is_measured_from_the_last_valid_tick),
        cmocka_unit_test(
            test_validate__rejected_tick_does_not_move_the_jump_reference),
        cmocka_unit_test(test_validate__jump_state_is_per_symbol),
        cmocka_unit_test(test_validate__jump_exactly_at_the_limit_passes),
        cmocka_unit_test(
            test_validate__zero_limits_turn_spread_and_jump_checks_off),
        cmocka_unit_test(
            test_validate__bad_first_tick_costs_at_most_two_good_ticks),
        cmocka_unit_test(test_validate__re_anchoring_is_per_symbol),
        cmocka_unit_test(
            test_validate__single_outlier_is_rejected_and_keeps_the_reference),
        cmocka_unit_test(test_validate__alternating_outliers_never_re_anchor),
        cmocka_unit_test(test_validate__three_agreeing_jumps_are_a_new_level),
        cmocka_unit_test(
            test_validate__other_rejections_do_not_break_a_jump_run),
        cmocka_unit_test(
            test_validate__jump_check_off_keeps_no_re_anchoring_state),
        cmocka_unit_test(
            test_validate__defaults_are_5pct_spread_10pct_jump_1990_to_2100),
        cmocka_unit_test(
            test_validate__custom_ts_range_is_min_inclusive_max_exclusive),
        cmocka_unit_test(
            test_validate__validator_without_symbols_rejects_every_tick),
        cmocka_unit_test(test_validate__null_cfg_means_the_defaults),
        cmocka_unit_test(
            test_validate__daily_bar_aligns_to_17_new_york_in_ny_session),
        cmocka_unit_test(
            test_validate__every_reason_has_name_field_and_description),
        cmocka_unit_test(
            test_validate__reason_names_are_the_lower_case_macro_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
