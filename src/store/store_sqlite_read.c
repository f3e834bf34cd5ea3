/*
 * store_sqlite_read.c - the SQLite backend's read-only ops: meta get, bar
 * scan, series, counts and the reject summary (store_sqlite.c note 1).
 */
#include <stdio.h>
#include <string.h>

#include <sqlite3.h>

#include "fxpipe/err.h"
#include "store/store_int.h"
#include "store/store_sqlite_int.h"

int fxp__sq_meta_get(struct fxp_store *s, const char *key, char *val,
                     size_t len)
{
    struct fxp__sq *q = s->impl;
    sqlite3_stmt *st = q->st[FXP__ST_META_GET];
    int rc, ret = FXP_OK;

    if (len)
        val[0] = '\0';
    rc = fxp__sq_bind_text(st, 1, key);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        const char *v = (const char *)sqlite3_column_text(st, 0);
        size_t n = (size_t)sqlite3_column_bytes(st, 0);

        if (n >= len) {
            snprintf(s->err, sizeof s->err,
                     "cannot read meta '%s' from '%s': value of %zu bytes "
                     "does not fit",
                     key, q->path, n);
            ret = FXP_ETOOLARGE;
            n = len ? len - 1 : 0;
        }
        if (len) {
            memcpy(val, v ? v : "", v ? n : 0);
            val[v ? n : 0] = '\0';
        }
    } else if (rc == SQLITE_DONE) {
        ret = FXP_ENOENT;
    } else {
        ret = fxp__sq_fail_sql(s, rc, "read from");
    }
    sqlite3_reset(st);
    return ret;
}

int fxp__sq_scan_bars(struct fxp_store *s, const char *symbol, fxp_tf tf,
                      int64_t from, int64_t to, fxp_store_bar_fn fn, void *ud)
{
    struct fxp__sq *q = s->impl;
    sqlite3_stmt *st = q->st[FXP__ST_SCAN];
    int rc;

    if ((unsigned)tf >= FXP_TF_COUNT) {
        snprintf(s->err, sizeof s->err,
                 "cannot read from '%s': unknown timeframe %d", q->path,
                 (int)tf);
        return FXP_EINVAL;
    }
    rc = fxp__sq_bind_text(st, 1, symbol);
    rc |= fxp__sq_bind_text(st, 2, fxp_tf_name(tf));
    rc |= sqlite3_bind_int64(st, 3, from);
    rc |= sqlite3_bind_int64(st, 4, to);
    while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct fxp_bar b = {
            .ts_ms = sqlite3_column_int64(st, 0),
            .open = sqlite3_column_double(st, 1),
            .high = sqlite3_column_double(st, 2),
            .low = sqlite3_column_double(st, 3),
            .close = sqlite3_column_double(st, 4),
            .volume = sqlite3_column_double(st, 5),
            .n_ticks = (uint32_t)sqlite3_column_int64(st, 6),
            .version = sqlite3_column_int64(st, 7),
            .source = fxp__sqlite_source_parse(
                (const char *)sqlite3_column_text(st, 8)),
            .tf = (uint8_t)tf,
        };
        if (fn(ud, symbol, &b)) {
            rc = SQLITE_DONE;
            break;
        }
        rc = SQLITE_OK;
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc == SQLITE_DONE ? FXP_OK : fxp__sq_fail_sql(s, rc, "read from");
}

int fxp__sq_series(struct fxp_store *s, fxp_store_series_fn fn, void *ud)
{
    struct fxp__sq *q = s->impl;
    sqlite3_stmt *st = q->st[FXP__ST_SERIES];
    int rc, ret = FXP_OK;

    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct fxp_series_info i = {0};
        const char *sym = (const char *)sqlite3_column_text(st, 0);
        const char *tf = (const char *)sqlite3_column_text(st, 1);

        if (!tf || fxp_tf_parse(tf, &i.tf) != FXP_OK) {
            snprintf(s->err, sizeof s->err,
                     "cannot read from '%s': unknown timeframe '%s' in "
                     "table bars",
                     q->path, tf ? tf : "NULL");
            ret = FXP_EIO;
            break;
        }
        snprintf(i.symbol, sizeof i.symbol, "%s", sym ? sym : "");
        i.count = (uint64_t)sqlite3_column_int64(st, 2);
        i.first_ts = sqlite3_column_int64(st, 3);
        i.last_ts = sqlite3_column_int64(st, 4);
        if (fn(ud, &i))
            break;
    }
    if (ret == FXP_OK && rc != SQLITE_ROW && rc != SQLITE_DONE)
        ret = fxp__sq_fail_sql(s, rc, "read from");
    sqlite3_reset(st);
    return ret;
}

int fxp__sq_counts(struct fxp_store *s, uint64_t *n_ticks, uint64_t *n_rejects)
{
    struct fxp__sq *q = s->impl;
    sqlite3_stmt *st = q->st[FXP__ST_COUNTS];
    int rc = sqlite3_step(st), ret = FXP_OK;

    if (rc == SQLITE_ROW) {
        *n_ticks = (uint64_t)sqlite3_column_int64(st, 0);
        *n_rejects = (uint64_t)sqlite3_column_int64(st, 1);
    } else {
        ret = fxp__sq_fail_sql(s, rc, "read from");
    }
    sqlite3_reset(st);
    return ret;
}

int fxp__sq_reject_summary(struct fxp_store *s, fxp_store_reason_fn fn,
                           void *ud)
{
    struct fxp__sq *q = s->impl;
    sqlite3_stmt *st = q->st[FXP__ST_REASONS];
    int rc;

    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *reason = (const char *)sqlite3_column_text(st, 0);
        if (fn(ud, reason ? reason : "",
               (uint64_t)sqlite3_column_int64(st, 1))) {
            rc = SQLITE_DONE;
            break;
        }
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? FXP_OK : fxp__sq_fail_sql(s, rc, "read from");
}
