/*
 * bench_store.c - bar upsert rate of the SQLite store.
 *
 * 1M bars (default) for 8 symbols and all 8 timeframes, in the order the
 * engine emits them (time order, higher timeframes as their buckets
 * close), written in batches of 10k through fxp_store_write into a fresh
 * database; then a second pass re-writes the same bars with higher
 * versions (every row updated). fxp_store_write also keeps the per-day
 * coverage (RETURNING on the upsert, one coverage upsert per distinct
 * day), which is checked after the passes, outside the timing. Next to it,
 * in the same run, the same two passes as a raw prepared upsert loop on
 * the sqlite3 API (BEGIN IMMEDIATE / COMMIT per 10k, all parameters bound
 * per row, no coverage) on another fresh database with the same schema and
 * pragmas. Prints the median rows/s of the runs and the interface/raw
 * ratio.
 *
 * usage: bench_store [n_bars] [runs]   (files go under $TMPDIR or /tmp)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "fxpipe/err.h"
#include "fxpipe/store.h"
#include "fxpipe/symbol.h"
#include "fxpipe/version.h"

#define NSYM    8
#define BATCH   10000
#define MAXRUNS 20

static const char *const sym_names[NSYM] = {"EURUSD", "GBPUSD", "USDJPY",
                                            "AUDUSD", "USDCAD", "USDCHF",
                                            "NZDUSD", "XAUUSD"};

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

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* n bars as the engine emits them: per minute, per symbol, the 1m bar and
 * every higher bar whose bucket closes with that minute. */
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

static void rm_db(const char *path)
{
    char p[600];

    unlink(path);
    snprintf(p, sizeof p, "%s-wal", path);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", path);
    unlink(p);
}

static struct fxp_store *open_store(const char *path)
{
    struct fxp_store *s;
    char err[600];

    if (fxp_store_open(path, NULL, &s, err, sizeof err) != FXP_OK) {
        fprintf(stderr, "bench_store: %s\n", err);
        exit(1);
    }
    return s;
}

static double pass_store(struct fxp_store *s, const struct fxp_bar *b, size_t n,
                         const struct fxp_symtab *st)
{
    double t = now();

    for (size_t i = 0; i < n; i += BATCH) {
        struct fxp_store_batch bt = {.bars = b + i,
                                     .n_bars = n - i < BATCH ? n - i : BATCH,
                                     .symtab = st};
        if (fxp_store_write(s, &bt) != FXP_OK) {
            fprintf(stderr, "bench_store: %s\n", fxp_store_errmsg(s));
            exit(1);
        }
    }
    return (double)n / (now() - t);
}

static int add_day(void *ud, int64_t day_ms, uint64_t bars)
{
    (void)day_ms;
    *(uint64_t *)ud += bars;
    return 0;
}

/* Every bar is new once (the revision pass counts nothing), so the
 * coverage of all series adds up to n. */
static void check_coverage(struct fxp_store *s, size_t n)
{
    uint64_t sum = 0;

    for (int i = 0; i < NSYM; i++)
        for (int tf = 0; tf < FXP_TF_COUNT; tf++)
            if (fxp_store_coverage(s, sym_names[i], (fxp_tf)tf, INT64_MIN,
                                   INT64_MAX, add_day, &sum) != FXP_OK) {
                fprintf(stderr, "bench_store: %s\n", fxp_store_errmsg(s));
                exit(1);
            }
    if (sum != n) {
        fprintf(stderr, "bench_store: coverage counts %llu bars, not %zu\n",
                (unsigned long long)sum, n);
        exit(1);
    }
}

static void check(sqlite3 *db, int rc)
{
    if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW) {
        fprintf(stderr, "bench_store: sqlite: %s\n", sqlite3_errmsg(db));
        exit(1);
    }
}

static const char upsert_sql[] =
    "INSERT INTO bars(symbol, timeframe, ts, open, high, low, close, volume, "
    "ticks, version, source) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, "
    "?11) ON CONFLICT(symbol, timeframe, ts) DO UPDATE SET "
    "open = excluded.open, high = excluded.high, low = excluded.low, "
    "close = excluded.close, volume = excluded.volume, "
    "ticks = excluded.ticks, version = excluded.version, "
    "source = excluded.source WHERE excluded.version > bars.version";

static double pass_raw(sqlite3 *db, sqlite3_stmt *up, const struct fxp_bar *b,
                       size_t n, const struct fxp_symtab *st)
{
    double t = now();

    for (size_t i = 0; i < n; i += BATCH) {
        size_t end = n - i < BATCH ? n : i + BATCH;
        check(db, sqlite3_exec(db, "BEGIN IMMEDIATE", 0, 0, 0));
        for (size_t k = i; k < end; k++) {
            const struct fxp_bar *x = &b[k];
            sqlite3_bind_text(up, 1, fxp_symtab_name(st, x->sym), -1,
                              SQLITE_STATIC);
            sqlite3_bind_text(up, 2, fxp_tf_name((fxp_tf)x->tf), -1,
                              SQLITE_STATIC);
            sqlite3_bind_int64(up, 3, x->ts_ms);
            sqlite3_bind_double(up, 4, x->open);
            sqlite3_bind_double(up, 5, x->high);
            sqlite3_bind_double(up, 6, x->low);
            sqlite3_bind_double(up, 7, x->close);
            sqlite3_bind_double(up, 8, x->volume);
            sqlite3_bind_int64(up, 9, x->n_ticks);
            sqlite3_bind_int64(up, 10, x->version);
            sqlite3_bind_text(up, 11, "live", 4, SQLITE_STATIC);
            check(db, sqlite3_step(up));
            sqlite3_reset(up);
        }
        check(db, sqlite3_exec(db, "COMMIT", 0, 0, 0));
    }
    return (double)n / (now() - t);
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 1000000;
    int runs = argc > 2 ? (int)strtol(argv[2], NULL, 10) : 3;
    const char *tmp = getenv("TMPDIR");
    char dir[256], path[300];
    double si[MAXRUNS], su[MAXRUNS], ri[MAXRUNS], ru[MAXRUNS];
    struct fxp_symtab *st = fxp_symtab_new(NSYM);
    struct fxp_bar *b1 = malloc(n * sizeof *b1), *b2 = malloc(n * sizeof *b2);

    if (runs < 1 || runs > MAXRUNS || n == 0) {
        fprintf(stderr, "usage: bench_store [n_bars] [runs]\n");
        return 2;
    }
    if (!st || !b1 || !b2)
        return 1;
    for (int s = 0; s < NSYM; s++) {
        uint32_t id;
        fxp_symtab_intern(st, sym_names[s], strlen(sym_names[s]), &id);
    }
    make_bars(b1, n);
    memcpy(b2, b1, n * sizeof *b1);
    revise(b2, n);
    snprintf(dir, sizeof dir, "%s/bench_store_XXXXXX",
             tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        perror("bench_store: mkdtemp");
        return 1;
    }
    snprintf(path, sizeof path, "%s/b.db", dir);

    for (int r = 0; r < runs; r++) {
        /* Through the interface. */
        struct fxp_store *s = open_store(path);
        si[r] = pass_store(s, b1, n, st);
        su[r] = pass_store(s, b2, n, st);
        check_coverage(s, n);
        fxp_store_close(s);
        rm_db(path);

        /* Raw: the store creates the same schema, then plain sqlite3. */
        fxp_store_close(open_store(path));
        sqlite3 *db;
        sqlite3_stmt *up;
        check(NULL, sqlite3_open(path, &db));
        check(db, sqlite3_exec(db,
                               "PRAGMA journal_mode=WAL; "
                               "PRAGMA synchronous=NORMAL",
                               0, 0, 0));
        check(db, sqlite3_prepare_v2(db, upsert_sql, -1, &up, NULL));
        ri[r] = pass_raw(db, up, b1, n, st);
        ru[r] = pass_raw(db, up, b2, n, st);
        sqlite3_finalize(up);
        sqlite3_close(db);
        rm_db(path);
    }
    rmdir(dir);

    double mi = median(si, runs), mu = median(su, runs), mri = median(ri, runs),
           mru = median(ru, runs);
    printf("store: %zu bars, %d symbols, 8 timeframes, batches of %d, "
           "sqlite %s, median of %d runs\n",
           n, NSYM, BATCH, sqlite3_libversion(), runs);
    printf(
        "                        insert (fresh)     update (higher version)\n");
    printf("  fxp_store_write     %9.0f rows/s   %9.0f rows/s\n", mi, mu);
    printf("  raw sqlite3 upsert  %9.0f rows/s   %9.0f rows/s\n", mri, mru);
    printf("  interface / raw     %9.2f          %9.2f\n", mi / mri, mu / mru);
    free(b1);
    free(b2);
    fxp_symtab_free(st);
    return 0;
}
