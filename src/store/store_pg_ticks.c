/*
 * store_pg_ticks.c - the PostgreSQL store's tick partitions and pruning
 * (docs/stores/postgresql.md; the layout is chosen in store_pg_schema.c).
 *
 * Design notes
 *
 *  1. Native partitions are ticks_YYYYMMDD, one UTC day each, created on
 *     demand before a batch's transaction (empty partitions are schema, not
 *     data, so a rolled-back batch leaves nothing that matters). Days known
 *     to exist are remembered per connection; a creation race with another
 *     writer is retried once.
 *  2. Pruning keeps the SQLite semantics exactly (delete ticks older than
 *     newest - retention) but drops whole partitions (or TimescaleDB
 *     chunks) that lie entirely before the cutoff, counting their rows
 *     first, and DELETEs only in the one partition the cutoff cuts.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fxpipe/err.h"
#include "store/store_int.h"
#include "store/store_pg_int.h"

/* ---- native daily partitions (note 1) ---- */

/* Civil date of a Unix day number (proleptic Gregorian). */
static void civil(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;

    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static void part_name(char *dst, size_t len, int32_t day)
{
    int64_t y;
    unsigned m, d;

    civil(day, &y, &m, &d);
    snprintf(dst, len, "ticks_%s%04" PRId64 "%02u%02u", y < 0 ? "n" : "",
             y < 0 ? -y : y, m, d);
}

/* The day of a name made by part_name; false for other names. */
static bool part_day(const char *name, int32_t *day)
{
    unsigned long v;
    char *end;

    if (strncmp(name, "ticks_", 6) || name[6] < '0' || name[6] > '9')
        return false;
    v = strtoul(name + 6, &end, 10);
    if (*end || strlen(name + 6) != 8)
        return false;
    int64_t y = (int64_t)(v / 10000);
    unsigned m = (unsigned)(v / 100 % 100), d = (unsigned)(v % 100);
    /* days_from_civil, then check the round trip. */
    int64_t yy = y - (m <= 2);
    int64_t era = (yy >= 0 ? yy : yy - 399) / 400;
    unsigned yoe = (unsigned)(yy - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    int64_t z = era * 146097 + (int64_t)doe - 719468;
    char back[32];

    if (m < 1 || m > 12 || d < 1 || d > 31 || z < INT32_MIN || z > INT32_MAX)
        return false;
    part_name(back, sizeof back, (int32_t)z);
    if (strcmp(back, name))
        return false;
    *day = (int32_t)z;
    return true;
}

/* Index of the first known day >= day. */
static size_t day_pos(const struct fxp__pg *q, int32_t day)
{
    size_t lo = 0, hi = q->n_days;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (q->days[mid] < day)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static int make_day(struct fxp_store *s, int32_t day)
{
    struct fxp__pg *q = s->impl;
    char name[32], sql[256];
    int rc = FXP_OK;

    part_name(name, sizeof name, day);
    snprintf(sql, sizeof sql,
             "CREATE TABLE IF NOT EXISTS %s PARTITION OF ticks FOR VALUES "
             "FROM (to_timestamp(%" PRId64 ")) TO (to_timestamp(%" PRId64 "))",
             name, (int64_t)day * 86400, ((int64_t)day + 1) * 86400);
    for (int attempt = 0; attempt < 2; attempt++) {
        PGresult *r = PQexec(q->conn, sql);
        const char *st = PQresultErrorField(r, PG_DIAG_SQLSTATE);

        if (PQresultStatus(r) == PGRES_COMMAND_OK) {
            PQclear(r);
            rc = FXP_OK;
            break;
        }
        /* A concurrent creator won the race (23505, 42P07): try again;
         * an overlapping partition someone else made (42P17) holds the
         * day already. */
        if (st && !strcmp(st, "42P17")) {
            PQclear(r);
            rc = FXP_OK;
            break;
        }
        bool race = st && (!strcmp(st, "23505") || !strcmp(st, "42P07"));
        rc = fxp__pg_fail(s, r, "write to");
        PQclear(r);
        if (!race)
            break;
    }
    if (rc == FXP_OK) {
        size_t i = day_pos(q, day);
        if (q->n_days == FXP__PG_DAYS_MAX) {
            q->n_days = 0; /* forget, it is only a cache */
            i = 0;
        }
        memmove(&q->days[i + 1], &q->days[i],
                (q->n_days - i) * sizeof q->days[0]);
        q->days[i] = day;
        q->n_days++;
    }
    return rc;
}

int fxp__pg_tick_days(struct fxp_store *s, const struct fxp_tick *t, size_t n)
{
    struct fxp__pg *q = s->impl;
    int32_t last = 0;
    bool have_last = false;

    if (q->ticks_mode != FXP__PG_TICKS_NATIVE)
        return FXP_OK;
    for (size_t i = 0; i < n; i++) {
        /* The write path checked ts is in timestamptz's range. */
        int32_t day = (int32_t)(fxp__pg_floor_day(t[i].ts_ms) / FXP__PG_DAY_MS);
        size_t pos;

        if (have_last && day == last)
            continue;
        last = day;
        have_last = true;
        pos = day_pos(q, day);
        if (pos < q->n_days && q->days[pos] == day)
            continue;
        int rc = make_day(s, day);
        if (rc != FXP_OK)
            return rc;
    }
    return FXP_OK;
}

/* ---- pruning (note 2) ---- */

static int count_rows(struct fxp_store *s, const char *rel, uint64_t *n)
{
    char sql[128];
    PGresult *r;
    int rc;

    snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", rel);
    rc = fxp__pg_exec(s, sql, NULL, &r, "prune ticks in");
    if (rc == FXP_OK)
        *n += (uint64_t)fxp__pg_get_int8(r, 0, 0);
    PQclear(r);
    return rc;
}

/* The newest tick time in us; *found false when there are no ticks. For
 * native partitions, looks at the newest partitions first. */
static int newest_tick(struct fxp_store *s, const int32_t *days, size_t n,
                       bool all_ours, int64_t *us, bool *found)
{
    char sql[128], name[32];
    PGresult *r;
    int rc = FXP_OK;

    *found = false;
    for (size_t i = n; all_ours && i-- > 0 && !*found;) {
        part_name(name, sizeof name, days[i]);
        snprintf(sql, sizeof sql, "SELECT max(ts) FROM %s", name);
        rc = fxp__pg_exec(s, sql, NULL, &r, "prune ticks in");
        if (rc != FXP_OK)
            return rc;
        if (!PQgetisnull(r, 0, 0)) {
            *us = fxp__pg_get_ts_us(r, 0, 0);
            *found = true;
        }
        PQclear(r);
    }
    if (all_ours)
        return FXP_OK;
    rc = fxp__pg_exec(s, "SELECT max(ts) FROM ticks", NULL, &r,
                      "prune ticks in");
    if (rc == FXP_OK && !PQgetisnull(r, 0, 0)) {
        *us = fxp__pg_get_ts_us(r, 0, 0);
        *found = true;
    }
    PQclear(r);
    return rc;
}

static int cmp_day(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

/* The native partitions that are ours, sorted by day (malloc'd). */
static int list_days(struct fxp_store *s, int32_t **days, size_t *n,
                     bool *all_ours)
{
    PGresult *r;
    int rc;

    *days = NULL;
    *n = 0;
    *all_ours = true;
    rc = fxp__pg_exec(s,
                      "SELECT c.relname::text FROM pg_inherits i JOIN pg_class "
                      "c ON c.oid = i.inhrelid WHERE i.inhparent = "
                      "'ticks'::regclass",
                      NULL, &r, "prune ticks in");
    if (rc != FXP_OK)
        return rc;
    int rows = PQntuples(r);
    *days = malloc(((size_t)rows + 1) * sizeof **days);
    if (!*days) {
        PQclear(r);
        snprintf(s->err, sizeof s->err, "cannot prune ticks: out of memory");
        return FXP_ENOMEM;
    }
    for (int i = 0; i < rows; i++) {
        char name[64];
        int len = PQgetlength(r, i, 0);

        snprintf(name, sizeof name, "%.*s", len < 63 ? len : 63,
                 PQgetvalue(r, i, 0));
        if (part_day(name, &(*days)[*n]))
            (*n)++;
        else
            *all_ours = false;
    }
    PQclear(r);
    qsort(*days, *n, sizeof **days, cmp_day);
    return FXP_OK;
}

int fxp__pg_prune_ticks(struct fxp_store *s, uint64_t *n_deleted)
{
    struct fxp__pg *q = s->impl;
    struct fxp__pg_params p = {0};
    int32_t *days = NULL;
    size_t n_days = 0;
    bool all_ours = true, found;
    int64_t newest = 0;
    PGresult *r;
    int rc;

    *n_deleted = 0;
    if (s->opts.tick_retention_ms <= 0)
        return FXP_OK;
    rc = fxp__pg_ready(s, "prune ticks in");
    if (rc == FXP_OK && q->ticks_mode == FXP__PG_TICKS_NATIVE)
        rc = list_days(s, &days, &n_days, &all_ours);
    if (rc == FXP_OK)
        rc = newest_tick(s, days, n_days,
                         q->ticks_mode == FXP__PG_TICKS_NATIVE && all_ours,
                         &newest, &found);
    if (rc != FXP_OK || !found) {
        free(days);
        return rc;
    }
    /* cutoff = newest - retention, both in us; saturate at the minimum. */
    int64_t ret_us = s->opts.tick_retention_ms > INT64_MAX / 1000
                         ? INT64_MAX
                         : s->opts.tick_retention_ms * 1000;
    int64_t cutoff = newest >= INT64_MIN + ret_us ? newest - ret_us : INT64_MIN;
    uint64_t n = 0;

    if (cutoff <= fxp__pg_ms_to_us(FXP__PG_MIN_MS)) {
        free(days); /* nothing can be older than that */
        return FXP_OK;
    }

    rc = fxp__pg_cmd(s, "BEGIN", NULL, "prune ticks in");
    for (size_t i = 0; rc == FXP_OK && i < n_days; i++) {
        char name[32], sql[64];
        int64_t end_ms = ((int64_t)days[i] + 1) * FXP__PG_DAY_MS;

        if (end_ms > FXP__PG_END_MS || fxp__pg_ms_to_us(end_ms) > cutoff)
            break; /* sorted: the rest are newer */
        part_name(name, sizeof name, days[i]);
        rc = count_rows(s, name, &n);
        snprintf(sql, sizeof sql, "DROP TABLE %s", name);
        if (rc == FXP_OK)
            rc = fxp__pg_cmd(s, sql, NULL, "prune ticks in");
    }
    fxp__pg_p_ts_us(&p, cutoff);
    if (rc == FXP_OK && q->ticks_mode == FXP__PG_TICKS_TIMESCALE) {
        /* Count first: the chunks go without a row count. */
        rc = fxp__pg_exec(s, "SELECT count(*) FROM ticks WHERE ts < $1", &p, &r,
                          "prune ticks in");
        if (rc == FXP_OK)
            n += (uint64_t)fxp__pg_get_int8(r, 0, 0);
        PQclear(r);
        if (rc == FXP_OK)
            rc = fxp__pg_cmd(s, "SELECT drop_chunks('ticks', older_than => $1)",
                             &p, "prune ticks in");
    }
    if (rc == FXP_OK)
        rc = fxp__pg_exec(s, "DELETE FROM ticks WHERE ts < $1", &p, &r,
                          "prune ticks in");
    if (rc == FXP_OK) {
        if (q->ticks_mode != FXP__PG_TICKS_TIMESCALE)
            n += strtoull(PQcmdTuples(r), NULL, 10);
        PQclear(r);
        rc = fxp__pg_cmd(s, "COMMIT", NULL, "prune ticks in");
    }
    free(days);
    q->n_days = 0; /* dropped partitions are no longer known */
    if (rc == FXP_OK)
        *n_deleted = n;
    return rc;
}
