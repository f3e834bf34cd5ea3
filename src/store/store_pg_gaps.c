/*
 * store_pg_gaps.c - coverage, present bars and the back-fill ledger of the
 * PostgreSQL store (docs/stores/postgresql.md).
 *
 * Design notes
 *
 *  1. There is no coverage table: coverage counts the PRESENT bars per UTC
 *     day straight from bars (an index range scan on the primary key), so
 *     it is right for rows any tool wrote and there is nothing to rescan.
 *     ops.presence and ops.rescan_coverage stay NULL (store.c falls back).
 *  2. PRESENT as fxp_store_present defines it: open, high, low and close
 *     not NULL, not NaN and > 0, volume not NULL, not NaN and >= 0. In
 *     PostgreSQL NaN sorts above every number, so NaN is excluded by name.
 *  3. Days are UTC midnights: date_trunc('day', ts, 'UTC') whatever the
 *     session's time zone; the ledger keeps them as a date.
 *  4. A ledger row per (symbol, timeframe, day) is replaced whole (upsert);
 *     one fxp_store_ledger_put is one transaction, so concurrent writers
 *     each leave whole entries.
 */
#include <stdio.h>
#include <string.h>

#include "fxpipe/err.h"
#include "store/store_int.h"
#include "store/store_pg_int.h"

/* Note 2. */
#define PRESENT_SQL                                                            \
    "open > 0 AND high > 0 AND low > 0 AND close > 0 AND volume >= 0 AND "     \
    "open <> 'NaN' AND high <> 'NaN' AND low <> 'NaN' AND close <> 'NaN' "     \
    "AND volume <> 'NaN'"

int fxp__pg_coverage(struct fxp_store *s, const char *symbol, fxp_tf tf,
                     int64_t from, int64_t to, fxp_store_day_fn fn, void *ud)
{
    struct fxp__pg_params p = {0};
    int64_t lo = fxp__pg_floor_day(from), hi, lo_us, hi_us;
    PGresult *r;
    int rc = fxp__pg_check_tf(s, tf);

    if (rc == FXP_OK)
        rc = fxp__pg_ready(s, "read from");
    /* Every UTC day overlapping [from, to), as the SQLite store's
     * "day >= floor_day(from) AND day < to": bars from that first
     * midnight up to the end of the day holding to - 1. */
    if (rc != FXP_OK || !symbol || !fxp__pg_utf8_valid(symbol) || to <= lo)
        return rc;
    hi = fxp__pg_floor_day(to - 1);
    hi = hi > FXP__PG_END_MS - FXP__PG_DAY_MS ? FXP__PG_END_MS
                                              : hi + FXP__PG_DAY_MS;
    if (!fxp__pg_range_us(lo, hi, &lo_us, &hi_us))
        return FXP_OK;
    fxp__pg_p_text(&p, symbol);
    fxp__pg_p_text(&p, fxp_tf_name(tf));
    fxp__pg_p_ts_us(&p, lo_us);
    fxp__pg_p_ts_us(&p, hi_us);
    rc = fxp__pg_exec(s,
                      "SELECT date_trunc('day', ts, 'UTC') AS day, count(*) "
                      "FROM bars WHERE symbol = $1 AND timeframe = $2 AND "
                      "ts >= $3 AND ts < $4 AND " PRESENT_SQL
                      " GROUP BY day ORDER BY day",
                      &p, &r, "read from");
    if (rc != FXP_OK)
        return rc;
    for (int i = 0; i < PQntuples(r); i++)
        if (fn(ud, fxp__pg_get_ts_ms(r, i, 0),
               (uint64_t)fxp__pg_get_int8(r, i, 1)))
            break;
    PQclear(r);
    return FXP_OK;
}

struct present_ctx {
    fxp_store_ts_fn fn;
    void *ud;
};

static int present_row(void *ud, PGresult *r, int i)
{
    struct present_ctx *c = ud;
    return c->fn(c->ud, fxp__pg_get_ts_ms(r, i, 0));
}

int fxp__pg_present(struct fxp_store *s, const char *symbol, fxp_tf tf,
                    int64_t from, int64_t to, fxp_store_ts_fn fn, void *ud)
{
    struct present_ctx c = {fn, ud};

    return fxp__pg_page_bars(s, symbol, tf, from, to,
                             "SELECT ts FROM bars WHERE symbol = $1 AND "
                             "timeframe = $2 AND ts >= $3 AND ts < $4 "
                             "AND " PRESENT_SQL " ORDER BY ts LIMIT 8192",
                             present_row, &c);
}

/* An entry the ledger cannot hold: FXP_EINVAL naming it, nothing written. */
static int check_entry(struct fxp_store *s, const struct fxp_ledger_entry *e,
                       size_t i)
{
    struct fxp__pg *q = s->impl;
    const char *why = NULL;
    int64_t day = e->day_ms / FXP__PG_DAY_MS;

    if (!memchr(e->symbol, '\0', sizeof e->symbol))
        why = "an unterminated symbol";
    else if (!e->symbol[0])
        why = "no symbol";
    else if ((unsigned)e->tf >= FXP_TF_COUNT)
        why = "an unknown timeframe";
    else if ((unsigned)e->state > FXP_LEDGER_REVIEW)
        why = "an unknown state";
    else if (fxp__pg_floor_day(e->day_ms) != e->day_ms)
        why = "a day that is not a UTC midnight";
    else if (day < FXP__PG_DATE_MIN_DAY || day >= FXP__PG_DATE_END_DAY - 1)
        why = "a day a date column cannot hold";
    else if (!memchr(e->detail, '\0', sizeof e->detail))
        why = "an unterminated detail";
    if (!why)
        return FXP_OK;
    snprintf(s->err, sizeof s->err,
             "cannot write to '%s': ledger entry %zu has %s", q->name, i, why);
    return FXP_EINVAL;
}

int fxp__pg_ledger_put(struct fxp_store *s, const struct fxp_ledger_entry *e,
                       size_t n)
{
    int rc;

    for (size_t i = 0; i < n; i++)
        if (check_entry(s, &e[i], i) != FXP_OK)
            return FXP_EINVAL;
    if (!n)
        return FXP_OK;
    rc = fxp__pg_ready(s, "write to");
    if (rc == FXP_OK)
        rc = fxp__pg_cmd(s, "BEGIN", NULL, "write to");
    for (size_t i = 0; i < n && rc == FXP_OK; i++) {
        /* Texts as valid UTF-8 (fxp__pg_utf8_copy): 4 bytes per byte. */
        char sym[4 * sizeof e->symbol], detail[4 * sizeof e->detail];
        struct fxp__pg_params p = {0};

        sym[fxp__pg_utf8_copy(sym, e[i].symbol)] = '\0';
        detail[fxp__pg_utf8_copy(detail, e[i].detail)] = '\0';
        fxp__pg_p_text(&p, sym);
        fxp__pg_p_text(&p, fxp_tf_name(e[i].tf));
        fxp__pg_p_date(&p, e[i].day_ms / FXP__PG_DAY_MS);
        fxp__pg_p_text(&p, fxp_ledger_state_name(e[i].state));
        fxp__pg_p_int8(&p, e[i].attempts);
        fxp__pg_p_int8(&p, e[i].bars);
        fxp__pg_p_text(&p, detail);
        rc = fxp__pg_cmd(s,
                         "INSERT INTO ledger(symbol, timeframe, day, state, "
                         "attempts, bars, detail) VALUES($1, $2, $3, $4, $5, "
                         "$6, $7) ON CONFLICT (symbol, timeframe, day) DO "
                         "UPDATE SET state = EXCLUDED.state, attempts = "
                         "EXCLUDED.attempts, bars = EXCLUDED.bars, detail = "
                         "EXCLUDED.detail",
                         &p, "write to");
    }
    if (rc == FXP_OK)
        rc = fxp__pg_cmd(s, "COMMIT", NULL, "write to");
    return rc;
}

/* The first Unix day whose midnight is >= ms, within a date's range. */
static int64_t day_at_or_after(int64_t ms)
{
    int64_t d = fxp__pg_floor_day(ms) / FXP__PG_DAY_MS;

    if (fxp__pg_floor_day(ms) != ms)
        d++;
    if (d < FXP__PG_DATE_MIN_DAY)
        return FXP__PG_DATE_MIN_DAY;
    /* The last day a date holds bounds scans (entries stop before it). */
    return d > FXP__PG_DATE_END_DAY - 1 ? FXP__PG_DATE_END_DAY - 1 : d;
}

int fxp__pg_ledger_scan(struct fxp_store *s, const char *symbol, fxp_tf tf,
                        int64_t from, int64_t to, fxp_store_ledger_fn fn,
                        void *ud)
{
    struct fxp__pg *q = s->impl;
    struct fxp__pg_params p = {0};
    int64_t lo = day_at_or_after(from), hi = day_at_or_after(to);
    PGresult *r;
    int rc = fxp__pg_check_tf(s, tf);

    if (rc == FXP_OK)
        rc = fxp__pg_ready(s, "read from");
    if (rc != FXP_OK || !symbol || !fxp__pg_utf8_valid(symbol) || lo >= hi)
        return rc;
    fxp__pg_p_text(&p, symbol);
    fxp__pg_p_text(&p, fxp_tf_name(tf));
    fxp__pg_p_date(&p, lo);
    fxp__pg_p_date(&p, hi);
    rc = fxp__pg_exec(s,
                      "SELECT day, state, attempts, bars, detail FROM ledger "
                      "WHERE symbol = $1 AND timeframe = $2 AND day >= $3 AND "
                      "day < $4 ORDER BY day",
                      &p, &r, "read from");
    if (rc != FXP_OK)
        return rc;
    for (int i = 0; i < PQntuples(r); i++) {
        struct fxp_ledger_entry e = {.tf = tf};
        const char *state = PQgetisnull(r, i, 1) ? NULL : PQgetvalue(r, i, 1);

        if (fxp__ledger_state_parse(state, &e.state) != 0) {
            snprintf(s->err, sizeof s->err,
                     "cannot read from '%s': unknown ledger state '%s' in "
                     "table ledger",
                     q->name, state ? state : "NULL");
            rc = FXP_EIO;
            break;
        }
        snprintf(e.symbol, sizeof e.symbol, "%s", symbol);
        e.day_ms = fxp__pg_get_date_ms(r, i, 0);
        e.attempts = (uint32_t)fxp__pg_get_int8(r, i, 2);
        e.bars = (uint32_t)fxp__pg_get_int8(r, i, 3);
        snprintf(e.detail, sizeof e.detail, "%s",
                 PQgetisnull(r, i, 4) ? "" : PQgetvalue(r, i, 4));
        if (fn(ud, &e))
            break;
    }
    PQclear(r);
    return rc;
}
