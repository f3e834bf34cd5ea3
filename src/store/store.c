/*
 * store.c - the store handle: URL dispatch to a backend (store_int.h),
 * timing of every call for the slow counter, and the defaults.
 *
 * URLs: "sqlite:PATH", "sqlite://PATH" or a bare PATH open SQLite;
 * "postgresql://..." / "postgres://..." (a libpq URI) open PostgreSQL,
 * "clickhouse://HOST:PORT/DB" ClickHouse's HTTP interface; any other
 * "scheme://..." is refused naming the URL.
 */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fxpipe/err.h"
#include "store/store_int.h"

#define MS_PER_DAY (24LL * 60 * 60 * 1000)

void fxp_store_opts_default(struct fxp_store_opts *o)
{
    memset(o, 0, sizeof *o);
    o->busy_timeout_ms = 5000;
    o->slow_ms = 1000;
    o->keep_ticks = false;
    o->tick_retention_ms = 7 * MS_PER_DAY;
    o->connect_timeout_ms = 10000;
    o->statement_timeout_ms = 30000;
}

/* Length of a leading "scheme://" (RFC 3986 scheme), 0 when url has none. */
static size_t scheme_len(const char *url)
{
    size_t i = 0;

    if (!((url[0] >= 'a' && url[0] <= 'z') || (url[0] >= 'A' && url[0] <= 'Z')))
        return 0;
    while ((url[i] >= 'a' && url[i] <= 'z') ||
           (url[i] >= 'A' && url[i] <= 'Z') ||
           (url[i] >= '0' && url[i] <= '9') || url[i] == '+' || url[i] == '-' ||
           url[i] == '.')
        i++;
    return strncmp(url + i, "://", 3) ? 0 : i;
}

int fxp_store_open(const char *url, const struct fxp_store_opts *opts,
                   struct fxp_store **out, char *errbuf, size_t errlen)
{
    struct fxp_store_opts def;
    struct fxp_store *s;
    const char *path = url;
    int (*open_fn)(struct fxp_store *, const char *, char *, size_t) =
        fxp__store_open_sqlite;
    size_t n;
    int rc;

    *out = NULL;
    if (errlen)
        errbuf[0] = '\0';
    if (!url || !url[0]) {
        snprintf(errbuf, errlen, "empty store url");
        return FXP_EINVAL;
    }
    n = scheme_len(url);
    if (n == 6 && !strncmp(url, "sqlite", n)) {
        path = url + 9; /* "sqlite://PATH", so "sqlite:///abs.db" too */
    } else if (n == 10 && !strncmp(url, "postgresql", n)) {
        open_fn = fxp__store_open_pg;
    } else if (n == 8 && !strncmp(url, "postgres", n)) {
        open_fn = fxp__store_open_pg;
    } else if (n == 10 && !strncmp(url, "clickhouse", n)) {
        open_fn = fxp__store_open_clickhouse;
    } else if (n) {
        snprintf(errbuf, errlen,
                 "unknown store url '%s' (expected sqlite:PATH, a "
                 "path, postgresql:// or clickhouse://)",
                 url);
        return FXP_EINVAL;
    } else if (!strncmp(url, "sqlite:", 7))
        path = url + 7;
    if (!path[0]) {
        snprintf(errbuf, errlen, "no database path in store url '%s'", url);
        return FXP_EINVAL;
    }
    if (!opts) {
        fxp_store_opts_default(&def);
        opts = &def;
    }

    s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(errbuf, errlen, "cannot open store '%s': out of memory", url);
        return FXP_ENOMEM;
    }
    s->opts = *opts;
    rc = open_fn(s, open_fn == fxp__store_open_sqlite ? path : url, errbuf,
                 errlen);
    if (rc != FXP_OK) {
        free(s);
        return rc;
    }
    *out = s;
    return FXP_OK;
}

void fxp_store_close(struct fxp_store *s)
{
    if (!s)
        return;
    s->ops->close(s->impl);
    free(s);
}

const char *fxp_store_backend(const struct fxp_store *s)
{
    return s->ops->name;
}

const char *fxp_store_errmsg(const struct fxp_store *s)
{
    return s->err;
}

/* Monotonic time in ms; only used to measure durations. */
static int64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t slow_start(const struct fxp_store *s)
{
    return s->opts.slow_ms > 0 ? mono_ms() : 0;
}

/* Count the call begun at t0 as slow when it took slow_ms or longer. Calls
 * that run a callback include the callback's time. */
static void slow_end(struct fxp_store *s, int64_t t0)
{
    if (s->opts.slow_ms > 0 && mono_ms() - t0 >= s->opts.slow_ms)
        s->slow++;
}

int fxp_store_write(struct fxp_store *s, const struct fxp_store_batch *b)
{
    int64_t t0 = slow_start(s);
    int rc;

    assert(b);
    rc = s->ops->write(s, b);
    slow_end(s, t0);
    return rc;
}

int fxp_store_prune_ticks(struct fxp_store *s, uint64_t *n_deleted)
{
    int64_t t0 = slow_start(s);
    uint64_t n = 0;
    int rc;

    rc = s->ops->prune_ticks(s, &n);
    if (n_deleted)
        *n_deleted = n;
    slow_end(s, t0);
    return rc;
}

int fxp_store_meta_get(struct fxp_store *s, const char *key, char *val,
                       size_t len)
{
    int64_t t0 = slow_start(s);
    int rc = s->ops->meta_get(s, key, val, len);

    slow_end(s, t0);
    return rc;
}

int fxp_store_scan_bars(struct fxp_store *s, const char *symbol, fxp_tf tf,
                        int64_t from, int64_t to, fxp_store_bar_fn fn, void *ud)
{
    int64_t t0 = slow_start(s);
    int rc = s->ops->scan_bars(s, symbol, tf, from, to, fn, ud);

    slow_end(s, t0);
    return rc;
}

int fxp_store_series(struct fxp_store *s, fxp_store_series_fn fn, void *ud)
{
    int64_t t0 = slow_start(s);
    int rc = s->ops->series(s, fn, ud);

    slow_end(s, t0);
    return rc;
}

int fxp_store_counts(struct fxp_store *s, uint64_t *n_ticks,
                     uint64_t *n_rejects)
{
    int64_t t0 = slow_start(s);
    uint64_t nt = 0, nr = 0;
    int rc = s->ops->counts(s, &nt, &nr);

    if (n_ticks)
        *n_ticks = nt;
    if (n_rejects)
        *n_rejects = nr;
    slow_end(s, t0);
    return rc;
}

int fxp_store_reject_summary(struct fxp_store *s, fxp_store_reason_fn fn,
                             void *ud)
{
    int64_t t0 = slow_start(s);
    int rc = s->ops->reject_summary(s, fn, ud);

    slow_end(s, t0);
    return rc;
}

/* Indexed by fxp_ledger_state; stored as text in the ledger table. */
static const char *const ledger_state_names[] = {
    [FXP_LEDGER_MISSING] = "missing",
    [FXP_LEDGER_DOWNLOADED] = "downloaded",
    [FXP_LEDGER_VERIFIED] = "verified",
    [FXP_LEDGER_EMPTY] = "confirmed-empty",
    [FXP_LEDGER_REVIEW] = "needs-review",
};
#define N_LEDGER_STATES                                                        \
    (sizeof ledger_state_names / sizeof ledger_state_names[0])

const char *fxp_ledger_state_name(fxp_ledger_state st)
{
    return (unsigned)st < N_LEDGER_STATES ? ledger_state_names[st] : "unknown";
}

int fxp__ledger_state_parse(const char *name, fxp_ledger_state *out)
{
    for (unsigned i = 0; name && i < N_LEDGER_STATES; i++)
        if (!strcmp(name, ledger_state_names[i])) {
            *out = (fxp_ledger_state)i;
            return 0;
        }
    return -1;
}

int fxp_store_coverage(struct fxp_store *s, const char *symbol, fxp_tf tf,
                       int64_t from, int64_t to, fxp_store_day_fn fn, void *ud)
{
    int64_t t0 = slow_start(s);
    int rc = s->ops->coverage(s, symbol, tf, from, to, fn, ud);

    slow_end(s, t0);
    return rc;
}

/* Adapts coverage counts to the presence callback, bits unknown. */
struct cov_as_bits {
    fxp_store_bits_fn fn;
    void *ud;
};

static int cov_as_bits_fn(void *ud, int64_t day_ms, uint64_t bars)
{
    struct cov_as_bits *c = ud;

    return c->fn(c->ud, day_ms, bars, NULL, 0);
}

int fxp_store_presence(struct fxp_store *s, const char *symbol, fxp_tf tf,
                       int64_t from, int64_t to, fxp_store_bits_fn fn, void *ud)
{
    int64_t t0 = slow_start(s);
    int rc;

    if (s->ops->presence) {
        rc = s->ops->presence(s, symbol, tf, from, to, fn, ud);
    } else {
        /* Backends that count bars per day straight from the bars (network
         * stores) keep no bitmaps: gap detection reads a day's bars when
         * its count is short. */
        struct cov_as_bits c = {fn, ud};

        rc = s->ops->coverage(s, symbol, tf, from, to, cov_as_bits_fn, &c);
    }
    slow_end(s, t0);
    return rc;
}

int fxp_store_present(struct fxp_store *s, const char *symbol, fxp_tf tf,
                      int64_t from, int64_t to, fxp_store_ts_fn fn, void *ud)
{
    int64_t t0 = slow_start(s);
    int rc = s->ops->present(s, symbol, tf, from, to, fn, ud);

    slow_end(s, t0);
    return rc;
}

int fxp_store_rescan_coverage(struct fxp_store *s, const char *symbol)
{
    int64_t t0 = slow_start(s);
    /* NULL: the backend counts from the bars, nothing to rebuild. */
    int rc =
        s->ops->rescan_coverage ? s->ops->rescan_coverage(s, symbol) : FXP_OK;

    slow_end(s, t0);
    return rc;
}

int fxp_store_ledger_put(struct fxp_store *s, const struct fxp_ledger_entry *e,
                         size_t n)
{
    int64_t t0 = slow_start(s);
    int rc;

    assert(e || !n);
    rc = s->ops->ledger_put(s, e, n);
    slow_end(s, t0);
    return rc;
}

int fxp_store_ledger_scan(struct fxp_store *s, const char *symbol, fxp_tf tf,
                          int64_t from, int64_t to, fxp_store_ledger_fn fn,
                          void *ud)
{
    int64_t t0 = slow_start(s);
    int rc = s->ops->ledger_scan(s, symbol, tf, from, to, fn, ud);

    slow_end(s, t0);
    return rc;
}
