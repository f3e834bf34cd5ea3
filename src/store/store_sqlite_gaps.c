/*
 * store_sqlite_gaps.c - coverage, present bars and the back-fill ledger of
 * the SQLite store (docs/internals/store.md).
 *
 * Design notes
 *
 *  1. coverage(symbol, timeframe, day, bars) counts the stored bars per UTC
 *     day (day = ts floored to midnight, negative times included).
 *     fxp_store_write keeps it inside the batch's transaction:
 *     store_sqlite.c passes every bar its upsert inserted (RETURNING
 *     revisions = 0) to fxp__sqgaps_count, which counts it in an
 *     open-addressing table of distinct (symbol id, timeframe, day) keys;
 *     fxp__sqgaps_flush then adds each key's count with one upsert. An
 *     update or an ignored write counts nothing, so rewriting bars never
 *     changes the coverage.
 *  2. The table holds COV_KEYS keys, allocated at open. When it is full
 *     it is flushed in the middle of the batch: still inside the batch's
 *     transaction, so the result is the same and a failure rolls the
 *     flushed counts back together with the bars.
 *  3. A bar is PRESENT when open, high, low and close are > 0 and volume
 *     is >= 0 (PRESENT_SQL). SQLite stores NaN as NULL, and NULL > 0 is
 *     not true, so NULL and NaN rows are not present. fxpipe stores only
 *     validated bars, so the coverage kept by fxp_store_write counts every
 *     row; fxp_store_rescan_coverage rebuilds it from present rows only,
 *     for databases that other tools wrote to.
 *  4. A ledger row per (symbol, timeframe, day) is replaced whole (INSERT
 *     OR REPLACE); one fxp_store_ledger_put is one BEGIN IMMEDIATE
 *     transaction, so concurrent writers wait for each other (up to the
 *     busy timeout) and every row is one writer's entry.
 *  5. As in store_sqlite.c, statements are prepared at open and every
 *     function resets them and clears their bindings before returning.
 *  6. coverage.bits is the day's presence bitmap: bit i set when the bar
 *     of slot i (fxp_coverage_slot_ms) is stored. New bars set their bit
 *     in the count table; the upsert ORs it into the row with the SQL
 *     function fxp_bitor(old, old_bars, new), which keeps NULL ("not
 *     known") when the row already counted bars without a bitmap.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "fxpipe/err.h"
#include "fxpipe/symbol.h"
#include "fxpipe/time.h"
#include "store/store_int.h"

#define DAY       FXP_MS_PER_DAY
#define COV_KEYS  4096           /* distinct keys counted before a flush */
#define COV_SLOTS (2 * COV_KEYS) /* hash slots, a power of two */

/* Note 3. The same day expression as migration 2. */
#define PRESENT_SQL                                                            \
    "open > 0 AND high > 0 AND low > 0 AND close > 0 AND volume >= 0"
#define DAY_SQL "ts - (ts % 86400000 + 86400000) % 86400000"

enum {
    G_BEGIN,
    G_COMMIT,
    G_ROLLBACK,
    G_COV_ADD,
    G_PRESENCE,
    G_PRESENT,
    G_DEL_ALL,
    G_DEL_SYM,
    G_FILL_ALL,
    G_FILL_SYM,
    G_LEDGER_PUT,
    G_LEDGER_SCAN,
    G_COUNT
};

static const char *const sql_text[G_COUNT] = {
    [G_BEGIN] = "BEGIN IMMEDIATE",
    [G_COMMIT] = "COMMIT",
    [G_ROLLBACK] = "ROLLBACK",
    [G_COV_ADD] = "INSERT INTO coverage(symbol, timeframe, day, bars, bits) "
                  "VALUES(?1, ?2, ?3, ?4, ?5) "
                  "ON CONFLICT(symbol, timeframe, day) DO UPDATE SET "
                  "bars = bars + excluded.bars, "
                  "bits = fxp_bitor(bits, bars, excluded.bits)",
    [G_PRESENCE] = "SELECT day, bars, bits FROM coverage WHERE symbol = ?1 "
                   "AND timeframe = ?2 AND day >= ?3 AND day < ?4 "
                   "ORDER BY day",
    [G_PRESENT] = "SELECT ts FROM bars WHERE symbol = ?1 AND timeframe = ?2 "
                  "AND ts >= ?3 AND ts < ?4 AND " PRESENT_SQL " ORDER BY ts",
    [G_DEL_ALL] = "DELETE FROM coverage",
    [G_DEL_SYM] = "DELETE FROM coverage WHERE symbol = ?1",
    [G_FILL_ALL] = "INSERT INTO coverage(symbol, timeframe, day, bars) "
                   "SELECT symbol, timeframe, " DAY_SQL ", count(*) "
                   "FROM bars WHERE " PRESENT_SQL " GROUP BY 1, 2, 3",
    [G_FILL_SYM] =
        "INSERT INTO coverage(symbol, timeframe, day, bars) "
        "SELECT symbol, timeframe, " DAY_SQL ", count(*) "
        "FROM bars WHERE symbol = ?1 AND " PRESENT_SQL " GROUP BY 1, 2, 3",
    [G_LEDGER_PUT] = "INSERT OR REPLACE INTO ledger(symbol, timeframe, day, "
                     "state, attempts, bars, detail) "
                     "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    [G_LEDGER_SCAN] = "SELECT day, state, attempts, bars, detail FROM ledger "
                      "WHERE symbol = ?1 AND timeframe = ?2 AND day >= ?3 "
                      "AND day < ?4 ORDER BY day",
};

/* New bars of one (symbol id, timeframe, day) in the current batch. */
struct cov_key {
    int64_t day_ms;
    uint32_t sym;
    uint32_t n;    /* new bars counted */
    uint16_t slot; /* where slot[] points at this key */
    uint8_t tf;
    unsigned char bits[FXP_COVERAGE_BITS_MAX]; /* note 6 */
};

struct fxp__sqgaps {
    sqlite3 *db;
    const char *path; /* borrowed from store_sqlite.c, for messages */
    sqlite3_stmt *st[G_COUNT];
    size_t n_keys;
    struct cov_key key[COV_KEYS];
    uint16_t slot[COV_SLOTS]; /* 0 = empty, else 1 + index into key[] */
};

_Static_assert(COV_KEYS < UINT16_MAX && COV_SLOTS <= UINT16_MAX + 1 &&
                   (COV_SLOTS & (COV_SLOTS - 1)) == 0,
               "slot indices and key numbers fit uint16_t");

/* UTC midnight at or before ts; INT64_MIN when that is not representable
 * (ts within a day of INT64_MIN). */
static int64_t floor_day(int64_t ts)
{
    int64_t r = ts % DAY;

    if (r < 0)
        r += DAY;
    return ts >= INT64_MIN + r ? ts - r : INT64_MIN;
}

static uint32_t cov_hash(uint32_t sym, unsigned tf, int64_t day_ms)
{
    uint64_t h = (uint64_t)(day_ms / DAY) * 0x9E3779B97F4A7C15ull;

    h ^= ((uint64_t)sym << 8 | tf) * 0xC2B2AE3D27D4EB4Full;
    h ^= h >> 32;
    return (uint32_t)h & (COV_SLOTS - 1);
}

static int bind_text(sqlite3_stmt *st, int i, const char *v)
{
    return sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
}

/* Step a statement that returns no rows and reset it. */
static int step_done(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);

    sqlite3_reset(st);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* "cannot <what> 'PATH': <errmsg>" into s->err, roll back an open
 * transaction, return the mapped fxp_err. */
static int fail(struct fxp_store *s, struct fxp__sqgaps *g, int rc,
                const char *what)
{
    snprintf(s->err, sizeof s->err, "cannot %s '%s': %s", what, g->path,
             sqlite3_errmsg(g->db));
    if (!sqlite3_get_autocommit(g->db)) {
        sqlite3_step(g->st[G_ROLLBACK]);
        sqlite3_reset(g->st[G_ROLLBACK]);
    }
    return fxp__sqlite_err(rc);
}

static int check_tf(struct fxp_store *s, struct fxp__sqgaps *g, fxp_tf tf)
{
    if ((unsigned)tf < FXP_TF_COUNT)
        return FXP_OK;
    snprintf(s->err, sizeof s->err,
             "cannot read from '%s': unknown timeframe %d", g->path, (int)tf);
    return FXP_EINVAL;
}

/* End a read: reset, drop bindings, map rc (SQLITE_DONE = success). */
static int end_read(struct fxp_store *s, struct fxp__sqgaps *g,
                    sqlite3_stmt *st, int rc)
{
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc == SQLITE_DONE ? FXP_OK : fail(s, g, rc, "read from");
}

/* fxp_bitor(old, old_bars, new): the OR of two bitmaps of one length;
 * NULL when the old row counted bars without one (note 6). */
static void sql_bitor(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    const unsigned char *a = sqlite3_value_blob(argv[0]);
    int na = sqlite3_value_bytes(argv[0]);
    const unsigned char *b = sqlite3_value_blob(argv[2]);
    int nb = sqlite3_value_bytes(argv[2]);
    if (!a) {
        if (sqlite3_value_int64(argv[1]) > 0 || !b)
            sqlite3_result_null(ctx);
        else
            sqlite3_result_blob(ctx, b, nb, SQLITE_TRANSIENT);
        return;
    }
    if (!b || na != nb) {
        sqlite3_result_null(ctx);
        return;
    }
    unsigned char out[FXP_COVERAGE_BITS_MAX];
    if (na > (int)sizeof out) {
        sqlite3_result_null(ctx);
        return;
    }
    for (int i = 0; i < na; i++)
        out[i] = a[i] | b[i];
    sqlite3_result_blob(ctx, out, na, SQLITE_TRANSIENT);
}

int fxp__sqgaps_open(sqlite3 *db, const char *path, struct fxp__sqgaps **out)
{
    struct fxp__sqgaps *g = calloc(1, sizeof *g);
    int rc = SQLITE_OK;

    *out = NULL;
    if (!g)
        return SQLITE_NOMEM;
    g->db = db;
    g->path = path;
    rc = sqlite3_create_function(db, "fxp_bitor", 3,
                                 SQLITE_UTF8 | SQLITE_DIRECTONLY |
                                     SQLITE_DETERMINISTIC,
                                 NULL, sql_bitor, NULL, NULL);
    for (int i = 0; i < G_COUNT && rc == SQLITE_OK; i++)
        rc = sqlite3_prepare_v3(db, sql_text[i], -1, SQLITE_PREPARE_PERSISTENT,
                                &g->st[i], NULL);
    if (rc != SQLITE_OK) {
        fxp__sqgaps_close(g);
        return rc;
    }
    *out = g;
    return SQLITE_OK;
}

void fxp__sqgaps_close(struct fxp__sqgaps *g)
{
    if (!g)
        return;
    for (int i = 0; i < G_COUNT; i++)
        sqlite3_finalize(g->st[i]);
    free(g);
}

/* Empty the count table, touching only the slots in use. */
static void forget(struct fxp__sqgaps *g)
{
    for (size_t i = 0; i < g->n_keys; i++)
        g->slot[g->key[i].slot] = 0;
    g->n_keys = 0;
}

void fxp__sqgaps_begin(struct fxp__sqgaps *g)
{
    forget(g);
}

static void set_bit(struct cov_key *k, int64_t ts)
{
    int64_t i = (ts - k->day_ms) / fxp_coverage_slot_ms((fxp_tf)k->tf);
    if (i >= 0 && (size_t)i < fxp_coverage_bits_len((fxp_tf)k->tf) * 8)
        k->bits[i / 8] |= (unsigned char)(1u << (i % 8));
}

int fxp__sqgaps_count(struct fxp__sqgaps *g, const struct fxp_bar *b,
                      const struct fxp_symtab *st)
{
    int64_t day = floor_day(b->ts_ms);
    uint32_t h = cov_hash(b->sym, b->tf, day), i;
    struct cov_key *k;

    for (i = h; g->slot[i]; i = (i + 1) & (COV_SLOTS - 1)) {
        k = &g->key[g->slot[i] - 1];
        if (k->day_ms == day && k->sym == b->sym && k->tf == b->tf) {
            k->n++;
            set_bit(k, b->ts_ms);
            return SQLITE_OK;
        }
    }
    if (g->n_keys == COV_KEYS) {
        /* Note 2: full; after the flush the table is empty, so the key's
         * own slot is free. */
        int rc = fxp__sqgaps_flush(g, st);
        if (rc != SQLITE_OK)
            return rc;
        i = h;
    }
    k = &g->key[g->n_keys++];
    k->day_ms = day;
    k->sym = b->sym;
    k->n = 1;
    k->slot = (uint16_t)i;
    k->tf = b->tf;
    memset(k->bits, 0, fxp_coverage_bits_len((fxp_tf)b->tf));
    set_bit(k, b->ts_ms);
    g->slot[i] = (uint16_t)g->n_keys;
    return SQLITE_OK;
}

int fxp__sqgaps_flush(struct fxp__sqgaps *g, const struct fxp_symtab *st)
{
    sqlite3_stmt *q = g->st[G_COV_ADD];
    int rc = SQLITE_OK;

    for (size_t i = 0; i < g->n_keys && rc == SQLITE_OK; i++) {
        const struct cov_key *k = &g->key[i];

        /* The write path checked the symbol id and timeframe before the
         * bar was upserted. */
        rc = bind_text(q, 1, fxp_symtab_name(st, k->sym));
        rc |= bind_text(q, 2, fxp_tf_name((fxp_tf)k->tf));
        rc |= sqlite3_bind_int64(q, 3, k->day_ms);
        rc |= sqlite3_bind_int64(q, 4, k->n);
        rc |= sqlite3_bind_blob(q, 5, k->bits,
                                (int)fxp_coverage_bits_len((fxp_tf)k->tf),
                                SQLITE_STATIC);
        if (rc == SQLITE_OK)
            rc = step_done(q);
    }
    sqlite3_clear_bindings(q);
    forget(g);
    return rc;
}

int fxp__sq_presence(struct fxp_store *s, const char *symbol, fxp_tf tf,
                     int64_t from, int64_t to, fxp_store_bits_fn fn, void *ud)
{
    struct fxp__sqgaps *g = fxp__sqlite_gaps(s);
    sqlite3_stmt *st = g->st[G_PRESENCE];
    int rc;

    if (check_tf(s, g, tf) != FXP_OK)
        return FXP_EINVAL;
    size_t want = fxp_coverage_bits_len(tf);
    rc = bind_text(st, 1, symbol);
    rc |= bind_text(st, 2, fxp_tf_name(tf));
    rc |= sqlite3_bind_int64(st, 3, floor_day(from));
    rc |= sqlite3_bind_int64(st, 4, to);
    while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        const unsigned char *bits = sqlite3_column_blob(st, 2);
        size_t n = (size_t)sqlite3_column_bytes(st, 2);
        if (bits && n != want)
            bits = NULL; /* not ours: treat as not known */
        if (fn(ud, sqlite3_column_int64(st, 0),
               (uint64_t)sqlite3_column_int64(st, 1), bits, bits ? n : 0)) {
            rc = SQLITE_DONE;
            break;
        }
        rc = SQLITE_OK;
    }
    return end_read(s, g, st, rc);
}

/* Coverage is presence without the bitmaps: one query serves both. */
struct counts_only {
    fxp_store_day_fn fn;
    void *ud;
};

static int drop_bits(void *ud, int64_t day_ms, uint64_t bars,
                     const unsigned char *bits, size_t len)
{
    (void)bits;
    (void)len;
    const struct counts_only *c = ud;
    return c->fn(c->ud, day_ms, bars);
}

int fxp__sq_coverage(struct fxp_store *s, const char *symbol, fxp_tf tf,
                     int64_t from, int64_t to, fxp_store_day_fn fn, void *ud)
{
    struct counts_only c = {fn, ud};
    return fxp__sq_presence(s, symbol, tf, from, to, drop_bits, &c);
}

int fxp__sq_present(struct fxp_store *s, const char *symbol, fxp_tf tf,
                    int64_t from, int64_t to, fxp_store_ts_fn fn, void *ud)
{
    struct fxp__sqgaps *g = fxp__sqlite_gaps(s);
    sqlite3_stmt *st = g->st[G_PRESENT];
    int rc;

    if (check_tf(s, g, tf) != FXP_OK)
        return FXP_EINVAL;
    rc = bind_text(st, 1, symbol);
    rc |= bind_text(st, 2, fxp_tf_name(tf));
    rc |= sqlite3_bind_int64(st, 3, from);
    rc |= sqlite3_bind_int64(st, 4, to);
    while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (fn(ud, sqlite3_column_int64(st, 0))) {
            rc = SQLITE_DONE;
            break;
        }
        rc = SQLITE_OK;
    }
    return end_read(s, g, st, rc);
}

int fxp__sq_rescan_coverage(struct fxp_store *s, const char *symbol)
{
    struct fxp__sqgaps *g = fxp__sqlite_gaps(s);
    sqlite3_stmt *del = g->st[symbol ? G_DEL_SYM : G_DEL_ALL];
    sqlite3_stmt *fill = g->st[symbol ? G_FILL_SYM : G_FILL_ALL];
    int rc = step_done(g->st[G_BEGIN]);

    if (rc == SQLITE_OK && symbol) {
        rc = bind_text(del, 1, symbol);
        rc |= bind_text(fill, 1, symbol);
    }
    if (rc == SQLITE_OK)
        rc = step_done(del);
    if (rc == SQLITE_OK)
        rc = step_done(fill);
    if (rc == SQLITE_OK)
        rc = step_done(g->st[G_COMMIT]);
    sqlite3_clear_bindings(del);
    sqlite3_clear_bindings(fill);
    return rc == SQLITE_OK ? FXP_OK : fail(s, g, rc, "rescan coverage in");
}

/* An entry the ledger cannot hold: FXP_EINVAL naming it, nothing written. */
static int check_entry(struct fxp_store *s, struct fxp__sqgaps *g,
                       const struct fxp_ledger_entry *e, size_t i)
{
    const char *why = NULL;

    if (!memchr(e->symbol, '\0', sizeof e->symbol))
        why = "an unterminated symbol";
    else if (!e->symbol[0])
        why = "no symbol";
    else if ((unsigned)e->tf >= FXP_TF_COUNT)
        why = "an unknown timeframe";
    else if ((unsigned)e->state > FXP_LEDGER_REVIEW)
        why = "an unknown state";
    else if (floor_day(e->day_ms) != e->day_ms)
        why = "a day that is not a UTC midnight";
    else if (!memchr(e->detail, '\0', sizeof e->detail))
        why = "an unterminated detail";
    if (!why)
        return FXP_OK;
    snprintf(s->err, sizeof s->err,
             "cannot write to '%s': ledger entry %zu has %s", g->path, i, why);
    return FXP_EINVAL;
}

int fxp__sq_ledger_put(struct fxp_store *s, const struct fxp_ledger_entry *e,
                       size_t n)
{
    struct fxp__sqgaps *g = fxp__sqlite_gaps(s);
    sqlite3_stmt *st = g->st[G_LEDGER_PUT];
    int rc;

    for (size_t i = 0; i < n; i++)
        if (check_entry(s, g, &e[i], i) != FXP_OK)
            return FXP_EINVAL;
    if (!n)
        return FXP_OK;
    rc = step_done(g->st[G_BEGIN]);
    for (size_t i = 0; i < n && rc == SQLITE_OK; i++) {
        rc = bind_text(st, 1, e[i].symbol);
        rc |= bind_text(st, 2, fxp_tf_name(e[i].tf));
        rc |= sqlite3_bind_int64(st, 3, e[i].day_ms);
        rc |= bind_text(st, 4, fxp_ledger_state_name(e[i].state));
        rc |= sqlite3_bind_int64(st, 5, e[i].attempts);
        rc |= sqlite3_bind_int64(st, 6, e[i].bars);
        rc |= bind_text(st, 7, e[i].detail);
        if (rc == SQLITE_OK)
            rc = step_done(st);
    }
    if (rc == SQLITE_OK)
        rc = step_done(g->st[G_COMMIT]);
    sqlite3_clear_bindings(st);
    return rc == SQLITE_OK ? FXP_OK : fail(s, g, rc, "write to");
}

int fxp__sq_ledger_scan(struct fxp_store *s, const char *symbol, fxp_tf tf,
                        int64_t from, int64_t to, fxp_store_ledger_fn fn,
                        void *ud)
{
    struct fxp__sqgaps *g = fxp__sqlite_gaps(s);
    sqlite3_stmt *st = g->st[G_LEDGER_SCAN];
    int rc;

    if (check_tf(s, g, tf) != FXP_OK)
        return FXP_EINVAL;
    rc = bind_text(st, 1, symbol);
    rc |= bind_text(st, 2, fxp_tf_name(tf));
    rc |= sqlite3_bind_int64(st, 3, from);
    rc |= sqlite3_bind_int64(st, 4, to);
    while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct fxp_ledger_entry e = {.tf = tf};
        const char *state = (const char *)sqlite3_column_text(st, 1);
        const char *detail = (const char *)sqlite3_column_text(st, 4);

        if (fxp__ledger_state_parse(state, &e.state) != 0) {
            snprintf(s->err, sizeof s->err,
                     "cannot read from '%s': unknown ledger state '%s' in "
                     "table ledger",
                     g->path, state ? state : "NULL");
            sqlite3_reset(st);
            sqlite3_clear_bindings(st);
            return FXP_EIO;
        }
        snprintf(e.symbol, sizeof e.symbol, "%s", symbol ? symbol : "");
        e.day_ms = sqlite3_column_int64(st, 0);
        e.attempts = (uint32_t)sqlite3_column_int64(st, 2);
        e.bars = (uint32_t)sqlite3_column_int64(st, 3);
        snprintf(e.detail, sizeof e.detail, "%s", detail ? detail : "");
        if (fn(ud, &e)) {
            rc = SQLITE_DONE;
            break;
        }
        rc = SQLITE_OK;
    }
    return end_read(s, g, st, rc);
}
