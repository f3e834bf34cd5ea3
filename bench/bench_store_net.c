/*
 * bench_store_net.c - bar write rate of the network stores (ClickHouse,
 * PostgreSQL) next to a raw client writing the same rows, in the same run,
 * on the same server.
 *
 * n bars (default 1M) for 8 symbols and all 8 timeframes in the order the
 * engine emits them (as bench_store.c), written in batches of `batch`
 * rows (default 10k):
 *
 *  ClickHouse  fxp_store_write into a fresh database `fxb_net` (the store
 *              creates it and its tables) vs a raw RowBinary INSERT of the
 *              same rows per batch, POSTed over one kept-alive libcurl
 *              handle into `raw_bars`, created `AS bars` (same columns,
 *              same ReplacingMergeTree, same partitioning and key). The
 *              raw side encodes its rows inside the timing, as the store
 *              does. Before each timed pass the server's merges are let
 *              settle (system.merges empty, at most 20 s).
 *  PostgreSQL  fxp_store_write into a fresh database `fxb_net` vs a raw
 *              COPY of the same rows per batch into `raw_bars (LIKE bars
 *              INCLUDING ALL)`, one COPY per transaction (BEGIN, COPY,
 *              COMMIT): binary COPY (the strongest raw peer) and text COPY
 *              (what most clients send). Then both sides write the same
 *              keys again with a higher version: the store's upsert vs a
 *              raw staged upsert (binary COPY into a temp table, INSERT ...
 *              ON CONFLICT DO UPDATE ... WHERE version is higher).
 *
 * Each run starts from fresh tables; the order of store and raw
 * alternates from run to run. After each pass the row count is checked
 * (ClickHouse with FINAL), outside the timing. Prints the median rows/s
 * of the runs and the store/raw ratio.
 *
 * usage: bench_store_net [n_bars] [runs] [batch] [ch|pg|both]
 *   with FXP_CH_URL=clickhouse://H:P/DB and/or FXP_PG_URL=postgresql://...
 *   (scripts/servers.sh writes both into DIR/env); a backend whose
 *   variable is unset is skipped. The database named in the URL is not
 *   touched: everything happens in `fxb_net`, dropped at the start of
 *   every run and at the end.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <libpq-fe.h>

#include "fxpipe/err.h"
#include "fxpipe/store.h"
#include "fxpipe/symbol.h"
#include "fxpipe/timeframe.h"
#include "fxpipe/version.h"

#define NSYM    8
#define MAXRUNS 20
#define BENCHDB "fxb_net"

static const char *const sym_names[NSYM] = {"EURUSD", "GBPUSD", "USDJPY",
                                            "AUDUSD", "USDCAD", "USDCHF",
                                            "NZDUSD", "XAUUSD"};

static size_t batch_rows = 10000;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(const double *in, int n)
{
    double v[MAXRUNS];

    memcpy(v, in, (size_t)n * sizeof *v);
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* The median of the per-run ratios a[i] / b[i] (paired: both sides of a
 * ratio ran back to back, so a noisy stretch hits both). */
static double median_ratio(const double *a, const double *b, int n)
{
    double v[MAXRUNS];

    for (int i = 0; i < n; i++)
        v[i] = a[i] / b[i];
    return median(v, n);
}

static void die(const char *what, const char *msg)
{
    fprintf(stderr, "bench_store_net: %s: %s\n", what, msg);
    exit(1);
}

/* n bars as the engine emits them: per minute, per symbol, the 1m bar and
 * every higher bar whose bucket closes with that minute (bench_store.c). */
static void make_bars(struct fxp_bar *b, size_t n)
{
    static const int64_t mins[FXP_TF_COUNT] = {1,  5,   15,   30,
                                               60, 240, 1440, 10080};
    const int64_t t0 = 1704067200000LL; /* 2024-01-01T00:00Z */
    size_t i = 0;

    for (int64_t m = 0; i < n; m++)
        for (uint32_t s = 0; s < NSYM && i < n; s++)
            for (int tf = 0; tf < FXP_TF_COUNT && i < n; tf++) {
                if ((m + 1) % mins[tf])
                    continue;
                double px = 1.0 + s * 0.25 + (double)(m % 1000) * 1e-5;
                uint32_t nt = (uint32_t)(mins[tf] * 20);
                b[i++] = (struct fxp_bar){
                    .ts_ms = t0 + (m + 1 - mins[tf]) * 60000,
                    .open = px,
                    .high = px + 0.0004,
                    .low = px - 0.0003,
                    .close = px + 0.0001,
                    .volume = nt,
                    .version = fxp_version_make(FXP_SRC_LIVE, nt),
                    .n_ticks = nt,
                    .sym = s,
                    .tf = (uint8_t)tf,
                    .source = FXP_SRC_LIVE};
            }
}

/* The revision pass: same keys, a later tick each, so a higher version. */
static void revise(struct fxp_bar *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        b[i].n_ticks++;
        b[i].volume += 1;
        b[i].close += 0.00001;
        b[i].version = fxp_version_make(FXP_SRC_LIVE, b[i].n_ticks);
    }
}

/* "SCHEME://[AUTH@]HOST[:PORT]/DB[?Q]" with DB replaced by `db`. */
static char *with_db(const char *url, const char *db)
{
    const char *p = strstr(url, "://"), *slash, *q;
    size_t n = strlen(url) + strlen(db) + 2;
    char *out = malloc(n);

    if (!p || !out)
        die("url", url);
    slash = strchr(p + 3, '/');
    q = strchr(p + 3, '?');
    if (!slash || (q && q < slash))
        slash = q ? q : url + strlen(url);
    snprintf(out, n, "%.*s/%s%s", (int)(slash - url), url, db, q ? q : "");
    return out;
}

static struct fxp_store *open_store(const char *url)
{
    struct fxp_store *s;
    char err[600];

    if (fxp_store_open(url, NULL, &s, err, sizeof err) != FXP_OK)
        die("open", err);
    return s;
}

static double pass_store(const char *url, const struct fxp_bar *b, size_t n,
                         const struct fxp_symtab *st)
{
    struct fxp_store *s = open_store(url);
    double t = now();

    for (size_t i = 0; i < n; i += batch_rows) {
        struct fxp_store_batch bt = {.bars = b + i,
                                     .n_bars = n - i < batch_rows ? n - i
                                                                  : batch_rows,
                                     .symtab = st};
        if (fxp_store_write(s, &bt) != FXP_OK)
            die("fxp_store_write", fxp_store_errmsg(s));
    }
    t = now() - t;
    fxp_store_close(s);
    return (double)n / t;
}

/* ------------------------------------------------------------------ */
/* ClickHouse                                                          */

struct buf {
    char *p;
    size_t len, cap;
};

static void reserve(struct buf *b, size_t more)
{
    if (b->len + more <= b->cap)
        return;
    size_t c = b->cap ? b->cap : 1 << 16;
    while (c < b->len + more)
        c *= 2;
    b->p = realloc(b->p, c);
    if (!b->p)
        die("memory", "out of memory");
    b->cap = c;
}

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *ud)
{
    struct buf *b = ud;
    size_t n = size * nmemb;

    reserve(b, n + 1);
    memcpy(b->p + b->len, ptr, n);
    b->len += n;
    b->p[b->len] = '\0';
    return n;
}

struct ch {
    CURL *curl;
    char base[300]; /* http://HOST:PORT/ */
    struct buf req, resp;
};

static void ch_init(struct ch *c, const char *url)
{
    const char *p = url + strlen("clickhouse://"), *at = strchr(p, '@'),
               *end = strchr(p, '/');

    if (strncmp(url, "clickhouse://", 13))
        die("FXP_CH_URL", "expected clickhouse://HOST:PORT/DB");
    if (!end)
        end = p + strlen(p);
    if (at && at < end)
        p = at + 1; /* the bench servers have no password */
    snprintf(c->base, sizeof c->base, "http://%.*s/", (int)(end - p), p);
    c->curl = curl_easy_init();
    if (!c->curl)
        die("curl", "cannot init");
    curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c->curl, CURLOPT_PROXY, "");
    curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER,
                     curl_slist_append(NULL, "Expect:"));
    curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, &c->resp);
    curl_easy_setopt(c->curl, CURLOPT_TCP_KEEPALIVE, 1L);
}

/* POST body (len bytes) to base + query string q; the answer in c->resp. */
static void ch_post(struct ch *c, const char *q, const void *body, size_t len)
{
    char url[1200];
    long code = 0;
    CURLcode rc;

    snprintf(url, sizeof url, "%s%s", c->base, q);
    c->resp.len = 0;
    reserve(&c->resp, 1);
    c->resp.p[0] = '\0';
    curl_easy_setopt(c->curl, CURLOPT_URL, url);
    curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    rc = curl_easy_perform(c->curl);
    if (rc == CURLE_OK)
        curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &code);
    if (rc != CURLE_OK || code != 200)
        die("clickhouse", rc != CURLE_OK ? curl_easy_strerror(rc) : c->resp.p);
}

static void ch_sql(struct ch *c, const char *sql)
{
    ch_post(c, "", sql, strlen(sql));
}

static unsigned long long ch_count(struct ch *c, const char *sql)
{
    ch_sql(c, sql);
    return strtoull(c->resp.p, NULL, 10);
}

/* Let background merges finish, so they do not land in the next pass. */
static void ch_settle(struct ch *c)
{
    double end = now() + 20;

    while (ch_count(c, "SELECT count() FROM system.merges") && now() < end) {
        struct timespec ts = {0, 100000000};
        nanosleep(&ts, NULL);
    }
}

static char *rb_u64(char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (char)(unsigned char)(v >> (8 * i));
    return p + 8;
}

static char *rb_f64(char *p, double v)
{
    uint64_t u;

    memcpy(&u, &v, sizeof u);
    return rb_u64(p, u);
}

/* The raw peer: per batch, the rows as RowBinary in one buffer, one POST. */
static double pass_ch_raw(struct ch *c, const struct fxp_bar *b, size_t n,
                          const struct fxp_symtab *st)
{
    static const char q[] =
        "?database=" BENCHDB "&query=INSERT%20INTO%20raw_bars%20"
        "(symbol,timeframe,ts,open,high,low,close,volume,ticks,version,"
        "source)%20FORMAT%20RowBinary";
    double t = now();

    for (size_t i = 0; i < n; i += batch_rows) {
        size_t end = n - i < batch_rows ? n : i + batch_rows;
        c->req.len = 0;
        reserve(&c->req, (end - i) * (16 + 70));
        char *p = c->req.p;
        for (size_t k = i; k < end; k++) {
            const struct fxp_bar *x = &b[k];
            const char *name = fxp_symtab_name(st, x->sym);
            size_t len = strlen(name);
            *p++ = (char)len; /* names < 128 bytes: a one-byte varint */
            memcpy(p, name, len);
            p += len;
            *p++ = (char)x->tf;
            p = rb_u64(p, (uint64_t)x->ts_ms);
            p = rb_f64(p, x->open);
            p = rb_f64(p, x->high);
            p = rb_f64(p, x->low);
            p = rb_f64(p, x->close);
            p = rb_f64(p, x->volume);
            for (int j = 0; j < 4; j++)
                *p++ = (char)(unsigned char)(x->n_ticks >> (8 * j));
            p = rb_u64(p, (uint64_t)x->version);
            *p++ = (char)x->source;
        }
        c->req.len = (size_t)(p - c->req.p);
        ch_post(c, q, c->req.p, c->req.len);
    }
    return (double)n / (now() - t);
}

static void bench_ch(const char *url, const struct fxp_bar *b1, size_t n,
                     int runs, const struct fxp_symtab *st)
{
    char *surl = with_db(url, BENCHDB);
    double so[MAXRUNS], ra[MAXRUNS];
    struct ch c = {0};
    char ver[64];

    ch_init(&c, url);
    ch_sql(&c, "SELECT version()");
    snprintf(ver, sizeof ver, "%.*s", (int)strcspn(c.resp.p, "\n"), c.resp.p);
    for (int r = 0; r < runs; r++) {
        ch_sql(&c, "DROP DATABASE IF EXISTS " BENCHDB);
        fxp_store_close(open_store(surl)); /* the store's schema */
        ch_sql(&c, "CREATE TABLE " BENCHDB ".raw_bars AS " BENCHDB ".bars");
        for (int k = 0; k < 2; k++) {
            ch_settle(&c);
            if ((k + r) % 2 == 0)
                so[r] = pass_store(surl, b1, n, st);
            else
                ra[r] = pass_ch_raw(&c, b1, n, st);
        }
        unsigned long long a = ch_count(&c, "SELECT count() FROM " BENCHDB
                                            ".bars FINAL"),
                           z = ch_count(&c, "SELECT count() FROM " BENCHDB
                                            ".raw_bars FINAL");
        if (a != n || z != n) {
            fprintf(stderr,
                    "bench_store_net: clickhouse holds %llu / %llu "
                    "rows, not %zu\n",
                    a, z, n);
            exit(1);
        }
        fprintf(stderr, "  clickhouse run %d: store %.0f raw %.0f rows/s\n",
                r + 1, so[r], ra[r]);
    }
    ch_sql(&c, "DROP DATABASE IF EXISTS " BENCHDB);
    double ms = median(so, runs), mr = median(ra, runs);
    printf("clickhouse %s: %zu bars, batches of %zu, median of %d runs\n", ver,
           n, batch_rows, runs);
    printf("  fxp_store_write            %9.0f rows/s\n", ms);
    printf("  raw RowBinary INSERT       %9.0f rows/s\n", mr);
    printf("  store / raw                %9.2f  (median of the per-run "
           "ratios %.2f)\n",
           ms / mr, median_ratio(so, ra, runs));
    curl_easy_cleanup(c.curl);
    free(c.req.p);
    free(c.resp.p);
    free(surl);
}

/* ------------------------------------------------------------------ */
/* PostgreSQL                                                          */

static void no_notice(void *ud, const char *msg)
{
    (void)ud;
    (void)msg;
}

static PGconn *pg_connect(const char *url, const char *db)
{
    const char *k[] = {"dbname", db ? "dbname" : NULL, NULL};
    const char *v[] = {url, db, NULL};
    PGconn *c = PQconnectdbParams(k, v, 1);

    if (PQstatus(c) != CONNECTION_OK)
        die("postgresql", PQerrorMessage(c));
    PQsetNoticeProcessor(c, no_notice, NULL);
    return c;
}

static void pg_exec(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);

    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
        die(sql, PQerrorMessage(c));
    PQclear(r);
}

static unsigned long long pg_count(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    unsigned long long v;

    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        die(sql, PQerrorMessage(c));
    v = strtoull(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return v;
}

static unsigned char *be(unsigned char *p, uint64_t v, int bytes)
{
    for (int i = bytes - 1; i >= 0; i--)
        *p++ = (unsigned char)(v >> (8 * i));
    return p;
}

static unsigned char *pg_text(unsigned char *p, const char *s, size_t n)
{
    p = be(p, n, 4);
    memcpy(p, s, n);
    return p + n;
}

static unsigned char *pg_f8(unsigned char *p, double d)
{
    uint64_t u;

    memcpy(&u, &d, sizeof u);
    return be(be(p, 8, 4), u, 8);
}

/* Unix ms -> PostgreSQL timestamptz microseconds since 2000-01-01. */
#define PG_EPOCH_MS 946684800000LL

static const char *const src_name[] = {"?", "historical", "gapfill", "live"};

static void copy_put(PGconn *c, const void *p, size_t len)
{
    if (PQputCopyData(c, p, (int)len) != 1)
        die("PQputCopyData", PQerrorMessage(c));
}

static void copy_end(PGconn *c)
{
    PGresult *r;

    if (PQputCopyEnd(c, NULL) != 1)
        die("PQputCopyEnd", PQerrorMessage(c));
    while ((r = PQgetResult(c))) {
        if (PQresultStatus(r) != PGRES_COMMAND_OK)
            die("COPY", PQerrorMessage(c));
        PQclear(r);
    }
}

/* One batch as binary COPY rows, sent in 256 KiB pieces like the store. */
static void copy_binary(PGconn *c, const char *table, const struct fxp_bar *b,
                        size_t from, size_t to, const struct fxp_symtab *st,
                        unsigned char *buf)
{
    static const unsigned char sig[19] = "PGCOPY\n\377\r\n";
    const size_t cap = 256 << 10;
    char sql[120];
    unsigned char *p = buf;
    PGresult *r;

    snprintf(sql, sizeof sql, "COPY %s FROM STDIN (FORMAT binary)", table);
    r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COPY_IN)
        die(sql, PQerrorMessage(c));
    PQclear(r);
    memcpy(p, sig, sizeof sig);
    p += sizeof sig;
    for (size_t k = from; k < to; k++) {
        const struct fxp_bar *x = &b[k];
        const char *name = fxp_symtab_name(st, x->sym),
                   *tf = fxp_tf_name((fxp_tf)x->tf), *src = src_name[x->source];
        if ((size_t)(p - buf) > cap - 256) {
            copy_put(c, buf, (size_t)(p - buf));
            p = buf;
        }
        p = be(p, 11, 2);
        p = pg_text(p, name, strlen(name));
        p = pg_text(p, tf, strlen(tf));
        p = be(be(p, 8, 4), (uint64_t)((x->ts_ms - PG_EPOCH_MS) * 1000), 8);
        p = pg_f8(p, x->open);
        p = pg_f8(p, x->high);
        p = pg_f8(p, x->low);
        p = pg_f8(p, x->close);
        p = pg_f8(p, x->volume);
        p = be(be(p, 8, 4), x->n_ticks, 8);
        p = be(be(p, 8, 4), (uint64_t)x->version, 8);
        p = pg_text(p, src, strlen(src));
    }
    p = be(p, 0xFFFF, 2);
    copy_put(c, buf, (size_t)(p - buf));
    copy_end(c);
}

/* The same rows as text COPY: numbers printed so they read back exactly,
 * times as Unix seconds with milliseconds. */
static void copy_text(PGconn *c, const char *table, const struct fxp_bar *b,
                      size_t from, size_t to, const struct fxp_symtab *st,
                      unsigned char *buf)
{
    const size_t cap = 256 << 10;
    char sql[160], *p = (char *)buf;
    PGresult *r;

    snprintf(sql, sizeof sql, "COPY %s FROM STDIN", table);
    r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COPY_IN)
        die(sql, PQerrorMessage(c));
    PQclear(r);
    for (size_t k = from; k < to; k++) {
        const struct fxp_bar *x = &b[k];
        time_t sec = (time_t)(x->ts_ms / 1000);
        struct tm tm;
        if ((size_t)(p - (char *)buf) > cap - 512) {
            copy_put(c, buf, (size_t)(p - (char *)buf));
            p = (char *)buf;
        }
        gmtime_r(&sec, &tm);
        p += sprintf(p,
                     "%s\t%s\t%04d-%02d-%02d %02d:%02d:%02d.%03d+00\t%.17g\t"
                     "%.17g\t%.17g\t%.17g\t%.17g\t%u\t%lld\t%s\n",
                     fxp_symtab_name(st, x->sym), fxp_tf_name((fxp_tf)x->tf),
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                     tm.tm_min, tm.tm_sec, (int)(x->ts_ms % 1000), x->open,
                     x->high, x->low, x->close, x->volume, x->n_ticks,
                     (long long)x->version, src_name[x->source]);
    }
    copy_put(c, buf, (size_t)(p - (char *)buf));
    copy_end(c);
}

enum pg_raw { RAW_BINARY, RAW_TEXT, RAW_UPSERT };

static const char upsert_sql[] =
    "INSERT INTO raw_bars SELECT * FROM raw_stage "
    "ON CONFLICT (symbol, timeframe, ts) DO UPDATE SET "
    "open = EXCLUDED.open, high = EXCLUDED.high, low = EXCLUDED.low, "
    "close = EXCLUDED.close, volume = EXCLUDED.volume, "
    "n_ticks = EXCLUDED.n_ticks, version = EXCLUDED.version, "
    "source = EXCLUDED.source WHERE EXCLUDED.version > raw_bars.version";

static double pass_pg_raw(PGconn *c, enum pg_raw how, const struct fxp_bar *b,
                          size_t n, const struct fxp_symtab *st)
{
    unsigned char *buf = malloc(256 << 10);
    double t = now();

    for (size_t i = 0; i < n; i += batch_rows) {
        size_t end = n - i < batch_rows ? n : i + batch_rows;
        pg_exec(c, "BEGIN");
        if (how == RAW_BINARY)
            copy_binary(c, "raw_bars", b, i, end, st, buf);
        else if (how == RAW_TEXT)
            copy_text(c, "raw_bars", b, i, end, st, buf);
        else {
            copy_binary(c, "raw_stage", b, i, end, st, buf);
            pg_exec(c, upsert_sql);
        }
        pg_exec(c, "COMMIT");
    }
    t = now() - t;
    free(buf);
    return (double)n / t;
}

static void pg_fresh(PGconn *admin, const char *surl, PGconn **raw)
{
    if (*raw)
        PQfinish(*raw);
    pg_exec(admin, "DROP DATABASE IF EXISTS " BENCHDB " WITH (FORCE)");
    pg_exec(admin, "CREATE DATABASE " BENCHDB);
    fxp_store_close(open_store(surl)); /* the store's schema */
    *raw = pg_connect(surl, NULL);
}

static void pg_check(PGconn *c, size_t n, const char *what)
{
    unsigned long long a = pg_count(c, "SELECT count(*) FROM bars"),
                       z = pg_count(c, "SELECT count(*) FROM raw_bars");
    if (a != n || z != n) {
        fprintf(stderr,
                "bench_store_net: postgresql %s: %llu / %llu rows, not %zu\n",
                what, a, z, n);
        exit(1);
    }
}

static void bench_pg(const char *url, const struct fxp_bar *b1,
                     const struct fxp_bar *b2, size_t n, int runs,
                     const struct fxp_symtab *st)
{
    char *surl = with_db(url, BENCHDB);
    double so[MAXRUNS], bi[MAXRUNS], tx[MAXRUNS], su[MAXRUNS], ru[MAXRUNS];
    PGconn *admin = pg_connect(url, NULL), *raw = NULL;

    for (int r = 0; r < runs; r++) {
        /* Fresh insert: store, binary COPY and text COPY, each into a
         * fresh table, in an order that rotates with the run. */
        for (int k = 0; k < 3; k++) {
            int which = (k + r) % 3;
            pg_fresh(admin, surl, &raw);
            pg_exec(raw, "CREATE TABLE raw_bars (LIKE bars INCLUDING ALL)");
            pg_exec(raw, "CHECKPOINT");
            if (which == 0)
                so[r] = pass_store(surl, b1, n, st);
            else if (which == 1)
                bi[r] = pass_pg_raw(raw, RAW_BINARY, b1, n, st);
            else
                tx[r] = pass_pg_raw(raw, RAW_TEXT, b1, n, st);
        }
        /* Update: both tables hold b1 (written by the store / by binary
         * COPY, outside the timing), then b2 on top. */
        pg_fresh(admin, surl, &raw);
        pg_exec(raw, "CREATE TABLE raw_bars (LIKE bars INCLUDING ALL)");
        pg_exec(raw, "CREATE TEMP TABLE raw_stage (LIKE bars) "
                     "ON COMMIT DELETE ROWS");
        pass_store(surl, b1, n, st);
        pass_pg_raw(raw, RAW_BINARY, b1, n, st);
        pg_exec(raw, "VACUUM ANALYZE");
        pg_exec(raw, "CHECKPOINT");
        for (int k = 0; k < 2; k++) {
            if ((k + r) % 2 == 0)
                su[r] = pass_store(surl, b2, n, st);
            else
                ru[r] = pass_pg_raw(raw, RAW_UPSERT, b2, n, st);
        }
        pg_check(raw, n, "after the update pass");
        if (pg_count(raw, "SELECT count(*) FROM bars b JOIN raw_bars r "
                          "USING (symbol, timeframe, ts) "
                          "WHERE b.version = r.version "
                          "AND b.close = r.close") != n)
            die("postgresql", "store and raw tables differ after the update");
        fprintf(stderr,
                "  postgresql run %d: store %.0f binary %.0f text %.0f | "
                "update: store %.0f raw %.0f rows/s\n",
                r + 1, so[r], bi[r], tx[r], su[r], ru[r]);
    }
    PQfinish(raw);
    pg_exec(admin, "DROP DATABASE IF EXISTS " BENCHDB " WITH (FORCE)");
    PGconn *v = admin;
    double ms = median(so, runs), mb = median(bi, runs), mt = median(tx, runs),
           mu = median(su, runs), mru = median(ru, runs);
    printf("postgresql %d: %zu bars, batches of %zu, median of %d runs\n",
           PQserverVersion(v) / 10000, n, batch_rows, runs);
    printf("                             insert (fresh)   update (higher "
           "version)\n");
    printf("  fxp_store_write            %9.0f rows/s  %9.0f rows/s\n", ms, mu);
    printf("  raw binary COPY            %9.0f rows/s  %9.0f rows/s  (COPY to "
           "a temp table + INSERT .. ON CONFLICT)\n",
           mb, mru);
    printf("  raw text COPY              %9.0f rows/s\n", mt);
    printf("  store / raw binary         %9.2f         %9.2f\n", ms / mb,
           mu / mru);
    printf("  store / raw text           %9.2f\n", ms / mt);
    printf("  per-run ratios, median:    %9.2f (binary) %.2f (text)  %9.2f\n",
           median_ratio(so, bi, runs), median_ratio(so, tx, runs),
           median_ratio(su, ru, runs));
    PQfinish(admin);
    free(surl);
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 1000000;
    int runs = argc > 2 ? (int)strtol(argv[2], NULL, 10) : 3;
    const char *which = argc > 4 ? argv[4] : "both";
    const char *ch = getenv("FXP_CH_URL"), *pg = getenv("FXP_PG_URL");
    struct fxp_symtab *st = fxp_symtab_new(NSYM);
    struct fxp_bar *b1, *b2;

    if (argc > 3)
        batch_rows = strtoull(argv[3], NULL, 10);
    if (runs < 1 || runs > MAXRUNS || n == 0 || batch_rows == 0 ||
        (strcmp(which, "ch") && strcmp(which, "pg") && strcmp(which, "both"))) {
        fprintf(stderr, "usage: bench_store_net [n_bars] [runs] [batch] "
                        "[ch|pg|both]  (FXP_CH_URL, FXP_PG_URL)\n");
        return 2;
    }
    if (!strcmp(which, "pg"))
        ch = NULL;
    if (!strcmp(which, "ch"))
        pg = NULL;
    if ((!ch || !*ch) && (!pg || !*pg)) {
        fprintf(stderr, "bench_store_net: set FXP_CH_URL and/or FXP_PG_URL "
                        "(scripts/servers.sh start DIR clickhouse postgres; "
                        ". DIR/env)\n");
        return 2;
    }
    b1 = malloc(n * sizeof *b1);
    b2 = malloc(n * sizeof *b2);
    if (!st || !b1 || !b2)
        return 1;
    for (int s = 0; s < NSYM; s++) {
        uint32_t id;
        fxp_symtab_intern(st, sym_names[s], strlen(sym_names[s]), &id);
    }
    make_bars(b1, n);
    memcpy(b2, b1, n * sizeof *b1);
    revise(b2, n);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (ch && *ch)
        bench_ch(ch, b1, n, runs, st);
    if (pg && *pg)
        bench_pg(pg, b1, b2, n, runs, st);
    curl_global_cleanup();
    free(b1);
    free(b2);
    fxp_symtab_free(st);
    return 0;
}
