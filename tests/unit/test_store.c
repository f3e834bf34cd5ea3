/*
 * test_store.c - the store interface (store.h) over its SQLite backend:
 * round trips, the version rule, idempotence down to the bytes of a dump,
 * all-or-nothing batches, error mapping, migrations, pruning and the
 * summary queries. Every test works in its own mkdtemp directory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "fxpipe/err.h"
#include "fxpipe/store.h"
#include "fxpipe/symbol.h"
#include "fxpipe/version.h"
#include "store/store_int.h"

#define T0     1704067200000LL /* 2024-01-01T00:00:00Z */
#define MINUTE 60000LL
#define HOUR   3600000LL

struct fx {
    char dir[64];          /* the test's temporary directory */
    char db[128];          /* dir/t.db */
    struct fxp_symtab *st; /* EURUSD = 0, GBPUSD = 1 */
    uint32_t eur, gbp;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    const char *tmp = getenv("TMPDIR");

    assert_non_null(f);
    snprintf(f->dir, sizeof f->dir, "%s/fxp_store_XXXXXX",
             tmp && *tmp && strlen(tmp) < 40 ? tmp : "/tmp");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->db, sizeof f->db, "%s/t.db", f->dir);
    f->st = fxp_symtab_new(16);
    assert_non_null(f->st);
    assert_int_equal(fxp_symtab_intern(f->st, "EURUSD", 6, &f->eur), FXP_OK);
    assert_int_equal(fxp_symtab_intern(f->st, "GBPUSD", 6, &f->gbp), FXP_OK);
    *state = f;
    return 0;
}

/* Remove everything in the directory (one level: databases, -wal, -shm,
 * and the sub-directory one test makes), then the directory. */
static void rm_tree(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char p[512];

    if (!d)
        return;
    while ((e = readdir(d))) {
        struct stat sb;

        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        if (lstat(p, &sb) == 0 && S_ISDIR(sb.st_mode))
            rm_tree(p);
        else
            unlink(p);
    }
    closedir(d);
    rmdir(dir);
}

static int teardown(void **state)
{
    struct fx *f = *state;

    rm_tree(f->dir);
    fxp_symtab_free(f->st);
    free(f);
    return 0;
}

static struct fxp_store *open_store(const char *db, bool keep_ticks,
                                    int64_t retention_ms)
{
    struct fxp_store_opts o;
    struct fxp_store *s = NULL;
    char err[256];
    int rc;

    fxp_store_opts_default(&o);
    o.keep_ticks = keep_ticks;
    o.tick_retention_ms = retention_ms;
    rc = fxp_store_open(db, &o, &s, err, sizeof err);
    if (rc != FXP_OK)
        fail_msg("open '%s': %s (%s)", db, err, fxp_err_name(rc));
    return s;
}

static struct fxp_bar mkbar(uint32_t sym, fxp_tf tf, int64_t ts, double px,
                            int64_t version)
{
    struct fxp_bar b = {
        .ts_ms = ts,
        .open = px,
        .high = px + 0.001,
        .low = px - 0.001,
        .close = px + 0.0005,
        .volume = 12.5,
        .version = version,
        .n_ticks = 7,
        .sym = sym,
        .tf = (uint8_t)tf,
        .source = FXP_SRC_LIVE,
    };
    return b;
}

/* Bars read back by a scan. */
struct got {
    struct fxp_bar b[64];
    char sym[64][16];
    size_t n;
    size_t stop_after; /* 0 = never stop */
};

static int collect(void *ud, const char *symbol, const struct fxp_bar *b)
{
    struct got *g = ud;

    assert_true(g->n < 64);
    g->b[g->n] = *b;
    snprintf(g->sym[g->n], sizeof g->sym[0], "%s", symbol);
    g->n++;
    return g->stop_after && g->n >= g->stop_after;
}

static size_t scan(struct fxp_store *s, const char *sym, fxp_tf tf,
                   int64_t from, int64_t to, struct got *g)
{
    memset(g, 0, sizeof *g);
    assert_int_equal(fxp_store_scan_bars(s, sym, tf, from, to, collect, g),
                     FXP_OK);
    return g->n;
}

static int write_bars(struct fx *f, struct fxp_store *s,
                      const struct fxp_bar *bars, size_t n)
{
    struct fxp_store_batch b = {.bars = bars, .n_bars = n, .symtab = f->st};
    return fxp_store_write(s, &b);
}

/* The whole output of `sqlite3 DB .dump` in a malloc'd string. */
static char *dump(const char *db)
{
    char cmd[300], *buf = NULL;
    size_t n = 0, cap = 0;
    FILE *p;
    int c;

    snprintf(cmd, sizeof cmd, "sqlite3 '%s' .dump", db);
    p = popen(cmd, "r");
    assert_non_null(p);
    while ((c = fgetc(p)) != EOF) {
        if (n + 2 > cap) {
            cap = cap ? cap * 2 : 4096;
            buf = realloc(buf, cap);
            assert_non_null(buf);
        }
        buf[n++] = (char)c;
    }
    assert_int_equal(pclose(p), 0);
    assert_non_null(buf);
    buf[n] = '\0';
    return buf;
}

static void test_store__opts_default_values(void **state)
{
    struct fxp_store_opts o;

    (void)state;
    memset(&o, 0xff, sizeof o);
    fxp_store_opts_default(&o);
    assert_int_equal(o.busy_timeout_ms, 5000);
    assert_int_equal(o.slow_ms, 1000);
    assert_false(o.keep_ticks);
    assert_int_equal(o.tick_retention_ms, 7 * 24 * HOUR);
    fxp_store_close(NULL);
}

static void test_store__bars_of_several_timeframes_round_trip(void **state)
{
    struct fx *f = *state;
    struct fxp_store *s = open_store(f->db, false, 0);
    static const fxp_tf tfs[] = {FXP_TF_1M, FXP_TF_5M, FXP_TF_1H,
                                 FXP_TF_4H, FXP_TF_1D, FXP_TF_1W};
    struct fxp_bar in[2 * 6 * 3];
    struct got g;
    size_t n = 0;

    assert_string_equal(fxp_store_backend(s), "sqlite");
    for (uint32_t sym = 0; sym < 2; sym++)
        for (size_t k = 0; k < 6; k++)
            for (int i = 0; i < 3; i++) {
                in[n] = mkbar(sym, tfs[k], T0 + i * fxp_tf_ms(tfs[k]),
                              1.1 + 0.01 * (double)n, fxp_version_make(3, 7));
                in[n].source = (uint8_t)(1 + n % 3);
                in[n].n_ticks = (uint32_t)(100 + n);
                n++;
            }
    assert_int_equal(write_bars(f, s, in, n), FXP_OK);

    n = 0;
    for (uint32_t sym = 0; sym < 2; sym++)
        for (size_t k = 0; k < 6; k++) {
            const char *name = fxp_symtab_name(f->st, sym);
            assert_int_equal(scan(s, name, tfs[k], 0, INT64_MAX, &g), 3);
            for (int i = 0; i < 3; i++, n++) {
                const struct fxp_bar *b = &g.b[i];
                assert_string_equal(g.sym[i], name);
                assert_int_equal(b->ts_ms, in[n].ts_ms);
                assert_true(b->open == in[n].open);
                assert_true(b->high == in[n].high);
                assert_true(b->low == in[n].low);
                assert_true(b->close == in[n].close);
                assert_true(b->volume == in[n].volume);
                assert_int_equal(b->version, in[n].version);
                assert_int_equal(b->n_ticks, in[n].n_ticks);
                assert_int_equal(b->tf, tfs[k]);
                assert_int_equal(b->source, in[n].source);
                assert_int_equal(b->sym, 0);
                assert_int_equal(b->flags, 0);
            }
        }
    /* A timeframe never written has no bars. */
    assert_int_equal(scan(s, "EURUSD", FXP_TF_15M, 0, INT64_MAX, &g), 0);
    fxp_store_close(s);
}

static void test_store__upsert_keeps_the_highest_version(void **state)
{
    struct fx *f = *state;
    struct fxp_store *s = open_store(f->db, false, 0);
    struct fxp_bar b = mkbar(f->eur, FXP_TF_1M, T0, 1.10, 10);
    struct got g;

    assert_int_equal(write_bars(f, s, &b, 1), FXP_OK);

    /* Lower version: ignored. */
    b.close = 2.0;
    b.version = 9;
    assert_int_equal(write_bars(f, s, &b, 1), FXP_OK);
    assert_int_equal(scan(s, "EURUSD", FXP_TF_1M, T0, T0 + 1, &g), 1);
    assert_int_equal(g.b[0].version, 10);
    assert_true(g.b[0].close == 1.1005);

    /* Equal version: ignored too (first writer wins a tie). */
    b.version = 10;
    assert_int_equal(write_bars(f, s, &b, 1), FXP_OK);
    scan(s, "EURUSD", FXP_TF_1M, T0, T0 + 1, &g);
    assert_true(g.b[0].close == 1.1005);

    /* Higher version: every column replaced. */
    b.version = 11;
    b.n_ticks = 99;
    b.source = FXP_SRC_HISTORICAL;
    b.volume = 3;
    assert_int_equal(write_bars(f, s, &b, 1), FXP_OK);
    assert_int_equal(scan(s, "EURUSD", FXP_TF_1M, T0, T0 + 1, &g), 1);
    assert_int_equal(g.b[0].version, 11);
    assert_true(g.b[0].close == 2.0);
    assert_true(g.b[0].volume == 3.0);
    assert_int_equal(g.b[0].n_ticks, 99);
    assert_int_equal(g.b[0].source, FXP_SRC_HISTORICAL);

    /* Within one batch the highest version wins whatever the order. */
    struct fxp_bar two[2] = {mkbar(f->gbp, FXP_TF_5M, T0, 1.3, 20),
                             mkbar(f->gbp, FXP_TF_5M, T0, 1.2, 15)};
    assert_int_equal(write_bars(f, s, two, 2), FXP_OK);
    assert_int_equal(scan(s, "GBPUSD", FXP_TF_5M, T0, T0 + 1, &g), 1);
    assert_int_equal(g.b[0].version, 20);
    assert_true(g.b[0].open == 1.3);
    fxp_store_close(s);
}

/* One batch of everything: bars, ticks, rejects and a meta cursor. */
static int write_everything(struct fx *f, struct fxp_store *s)
{
    struct fxp_bar bars[40];
    struct fxp_tick ticks[20];
    static const struct fxp_reject rej[] = {
        {"a.csv:3", T0, "EURUSD", FXP_R_CROSSED,
         "field 'ask': ask is below bid (bid=1.1 ask=1.0)",
         "20240101 000000,1.1,1.0"},
        {"a.csv:9", 0, "", FXP_R_PARSE, "malformed line", "garbage"},
        {"synthetic:4711", T0 + 5, "GBPUSD", FXP_R_NAN, "price is NaN", NULL},
    };
    struct fxp_store_batch b = {
        .bars = bars,
        .n_bars = 40,
        .ticks = ticks,
        .n_ticks = 20,
        .rejects = rej,
        .n_rejects = 3,
        .symtab = f->st,
        .meta_key = "cursor",
        .meta_value = "a.csv:40",
    };

    for (int i = 0; i < 40; i++)
        bars[i] = mkbar(i % 2 ? f->gbp : f->eur, (fxp_tf)(i % FXP_TF_COUNT),
                        T0 + (i / 8) * 7 * 24 * HOUR, 1.0 + i * 0.001,
                        fxp_version_make(1, (uint64_t)i));
    for (int i = 0; i < 20; i++)
        ticks[i] = (struct fxp_tick){.ts_ms = T0 + i * 250,
                                     .bid = 1.1 + i * 1e-5,
                                     .ask = 1.1002 + i * 1e-5,
                                     .sym = i % 3 ? f->eur : f->gbp};
    return fxp_store_write(s, &b);
}

static void test_store__writing_twice_gives_an_identical_dump(void **state)
{
    struct fx *f = *state;
    struct fxp_store *s = open_store(f->db, true, 0);
    char *d1, *d2, *d3;

    assert_int_equal(write_everything(f, s), FXP_OK);
    d1 = dump(f->db);
    assert_non_null(strstr(d1, "CREATE TABLE bars"));
    assert_non_null(strstr(d1, "'schema_version','3'"));
    assert_non_null(strstr(d1, "'cursor','a.csv:40'"));

    /* Same batch again on the same handle. */
    assert_int_equal(write_everything(f, s), FXP_OK);
    d2 = dump(f->db);
    assert_string_equal(d1, d2);
    fxp_store_close(s);

    /* And after reopening (no migration, no open-time writes). */
    s = open_store(f->db, true, 0);
    assert_int_equal(write_everything(f, s), FXP_OK);
    fxp_store_close(s);
    d3 = dump(f->db);
    assert_string_equal(d1, d3);
    free(d1);
    free(d2);
    free(d3);
}

static int count_reason(void *ud, const char *reason, uint64_t count)
{
    char *out = ud;
    size_t n = strlen(out);

    snprintf(out + n, 256 - n, "%s=%llu;", reason, (unsigned long long)count);
    return 0;
}

static void test_store__rejects_and_ticks_are_idempotent(void **state)
{
    struct fx *f = *state;
    struct fxp_store *s = open_store(f->db, true, 0);
    uint64_t nt = 99, nr = 99;
    char summary[256] = "";

    assert_int_equal(fxp_store_counts(s, &nt, &nr), FXP_OK);
    assert_int_equal(nt, 0);
    assert_int_equal(nr, 0);
    assert_int_equal(write_everything(f, s), FXP_OK);
    assert_int_equal(write_everything(f, s), FXP_OK);
    assert_int_equal(fxp_store_counts(s, &nt, &nr), FXP_OK);
    assert_int_equal(nt, 20);
    assert_int_equal(nr, 3);

    /* A second reject with a known origin is ignored: the first stays. */
    struct fxp_reject again = {"a.csv:3",  T0,      "EURUSD",
                               FXP_R_JUMP, "other", "other"};
    struct fxp_store_batch b = {.rejects = &again, .n_rejects = 1};
    assert_int_equal(fxp_store_write(s, &b), FXP_OK);
    assert_int_equal(fxp_store_counts(s, NULL, &nr), FXP_OK);
    assert_int_equal(nr, 3);
    assert_int_equal(fxp_store_reject_summary(s, count_reason, summary),
                     FXP_OK);
    assert_string_equal(summary, "crossed=1;nan=1;parse=1;");
    fxp_store_close(s);

    /* Without keep_ticks, ticks in a batch are not stored. */
    rm_tree(f->dir);
    assert_int_equal(mkdir(f->dir, 0700), 0);
    s = open_store(f->db, false, 0);
    assert_int_equal(write_everything(f, s), FXP_OK);
    assert_int_equal(fxp_store_counts(s, &nt, &nr), FXP_OK);
    assert_int_equal(nt, 0);
    assert_int_equal(nr, 3);
    fxp_store_close(s);
}

static void test_store__meta_is_written_with_the_batch(void **state)
{
    struct fx *f = *state;
    struct fxp_store *s = open_store(f->db, false, 0);
    struct fxp_bar bar = mkbar(f->eur, FXP_TF_1M, T0, 1.1, 5);
    struct fxp_store_batch b = {.bars = &bar,
                                .n_bars = 1,
                                .symtab = f->st,
                                .meta_key = "cursor",
                                .meta_value = "kafka:0:41"};
    char val[32], tiny[4];
    struct got g;

    assert_int_equal(fxp_store_meta_get(s, "cursor", val, sizeof val),
                     FXP_ENOENT);
    assert_int_equal(fxp_store_write(s, &b), FXP_OK);
    assert_int_equal(fxp_store_meta_get(s, "cursor", val, sizeof val), FXP_OK);
    assert_string_equal(val, "kafka:0:41");
    assert_int_equal(fxp_store_meta_get(s, "schema_version", val, sizeof val),
                     FXP_OK);
    assert_string_equal(val, "3");
    assert_int_equal(fxp_store_meta_get(s, "cursor", tiny, sizeof tiny),
                     FXP_ETOOLARGE);
    assert_string_equal(tiny, "kaf");

    /* The cursor advances only together with its bars: a batch that fails
     * leaves both the old cursor and no new bar. */
    struct fxp_bar bad[2] = {mkbar(f->eur, FXP_TF_1M, T0 + MINUTE, 1.1, 5),
                             mkbar(7, FXP_TF_1M, T0 + 2 * MINUTE, 1.1, 5)};
    b.bars = bad;
    b.n_bars = 2;
    b.meta_value = "kafka:0:42";
    assert_int_equal(fxp_store_write(s, &b), FXP_EINVAL);
    assert_int_equal(fxp_store_meta_get(s, "cursor", val, sizeof val), FXP_OK);
    assert_string_equal(val, "kafka:0:41");
    assert_int_equal(scan(s, "EURUSD", FXP_TF_1M, 0, INT64_MAX, &g), 1);

    /* schema_version belongs to the store. */
    b.bars = &bar;
    b.n_bars = 1;
    b.meta_key = "schema_version";
    b.meta_value = "99";
    assert_int_equal(fxp_store_write(s, &b), FXP_EINVAL);
    assert_non_null(strstr(fxp_store_errmsg(s), "'schema_version'"));
    assert_int_equal(fxp_store_meta_get(s, "schema_version", val, sizeof val),
                     FXP_OK);
    assert_string_equal(val, "3");
    fxp_store_close(s);
}

static void test_store__a_failed_batch_stores_nothing(void **state)
{
    struct fx *f = *state;
    struct fxp_store *s = open_store(f->db, true, 0);
    struct fxp_bar bars[3] = {mkbar(f->eur, FXP_TF_1M, T0, 1.1, 5),
                              mkbar(f->gbp, FXP_TF_1M, T0, 1.3, 5),
                              mkbar(12, FXP_TF_1M, T0, 1.2, 5)};
    struct fxp_tick tick = {.ts_ms = T0, .bid = 1, .ask = 1.1, .sym = f->eur};
    struct fxp_reject rej = {"x:1", T0, "EURUSD", FXP_R_NAN, "d", "r"};
    struct fxp_store_batch b = {.bars = bars,
                                .n_bars = 3,
                                .ticks = &tick,
                                .n_ticks = 1,
                                .rejects = &rej,
                                .n_rejects = 1,
                                .symtab = f->st,
                                .meta_key = "k",
                                .meta_value = "v"};
    uint64_t nt, nr;
    char want[256], val[8];
    struct got g;
    char *before = dump(f->db), *after;

    assert_int_equal(fxp_store_write(s, &b), FXP_EINVAL);
    snprintf(want, sizeof want,
             "cannot write to '%s': bar 2 has symbol id 12 with no name",
             f->db);
    assert_string_equal(fxp_store_errmsg(s), want);
    after = dump(f->db);
    assert_string_equal(before, after);
    free(after);
    assert_int_equal(scan(s, "EURUSD", FXP_TF_1M, 0, INT64_MAX, &g), 0);
    assert_int_equal(fxp_store_counts(s, &nt, &nr), FXP_OK);
    assert_int_equal(nt + nr, 0);
    assert_int_equal(fxp_store_meta_get(s, "k", val, sizeof val), FXP_ENOENT);

    /* Same for a bad timeframe, a bad source and a reject without origin,
     * which come after the good bars of the batch. */
    bars[2] = mkbar(f->eur, FXP_TF_1M, T0 + MINUTE, 1.2, 5);
    bars[2].tf = FXP_TF_COUNT;
    assert_int_equal(fxp_store_write(s, &b), FXP_EINVAL);
    assert_non_null(strstr(fxp_store_errmsg(s), "unknown timeframe 8"));
    bars[2].tf = FXP_TF_1M;
    bars[2].source = 0;
    assert_int_equal(fxp_store_write(s, &b), FXP_EINVAL);
    assert_non_null(strstr(fxp_store_errmsg(s), "unknown source 0"));
    bars[2].source = FXP_SRC_LIVE;
    rej.origin = NULL;
    assert_int_equal(fxp_store_write(s, &b), FXP_EINVAL);
    assert_non_null(strstr(fxp_store_errmsg(s), "reject 0 has no origin"));
    after = dump(f->db);
    assert_string_equal(before, after);
    free(after);

    /* The handle is usable afterwards and the fixed batch goes in whole. */
    rej.origin = "x:1";
    assert_int_equal(fxp_store_write(s, &b), FXP_OK);
    assert_int_equal(scan(s, "EURUSD", FXP_TF_1M, 0, INT64_MAX, &g), 2);
    assert_int_equal(fxp_store_counts(s, &nt, &nr), FXP_OK);
    assert_int_equal(nt, 1);
    assert_int_equal(nr, 1);
    assert_int_equal(fxp_store_meta_get(s, "k", val, sizeof val), FXP_OK);
    free(before);
    fxp_store_close(s);
}

static void
test_store__a_locked_database_times_out_and_stores_nothing(void **state)
{
    struct fx *f = *state;
    struct fxp_store_opts o;
    struct fxp_store *s = NULL;
    struct fxp_bar bar = mkbar(f->eur, FXP_TF_1M, T0, 1.1, 5);
    sqlite3 *other;
    char err[256];
    struct got g;

    fxp_store_opts_default(&o);
    o.busy_timeout_ms = 100;
    o.slow_ms = 50;
    assert_int_equal(fxp_store_open(f->db, &o, &s, err, sizeof err), FXP_OK);

    /* A second connection takes the write lock and keeps it. */
    assert_int_equal(sqlite3_open(f->db, &other), SQLITE_OK);
    assert_int_equal(sqlite3_exec(other, "BEGIN IMMEDIATE", 0, 0, 0),
                     SQLITE_OK);
    assert_int_equal(s->slow, 0);
    assert_int_equal(write_bars(f, s, &bar, 1), FXP_ETIMEDOUT);
    assert_true(fxp_err_is_retriable(FXP_ETIMEDOUT));
    snprintf(err, sizeof err, "cannot write to '%s': database is locked",
             f->db);
    assert_string_equal(fxp_store_errmsg(s), err);
    /* It waited the busy timeout, which is over slow_ms. */
    assert_int_equal(s->slow, 1);
    assert_int_equal(sqlite3_exec(other, "ROLLBACK", 0, 0, 0), SQLITE_OK);
    sqlite3_close(other);

    assert_int_equal(scan(s, "EURUSD", FXP_TF_1M, 0, INT64_MAX, &g), 0);
    assert_int_equal(write_bars(f, s, &bar, 1), FXP_OK);
    assert_int_equal(scan(s, "EURUSD", FXP_TF_1M, 0, INT64_MAX, &g), 1);
    fxp_store_close(s);
}

static void test_store__a_full_disk_is_enospc_and_stores_nothing(void **state)
{
    struct fx *f = *state;
    struct fxp_store *s = open_store(f->db, false, 0);
    enum { N = 5000 };
    struct fxp_bar *bars = calloc(N, sizeof *bars);
    sqlite3 *db = fxp__store_sqlite_db(s);
    sqlite3_stmt *st;
    struct got g;
    int pages;

    assert_non_null(bars);
    assert_non_null(db);
    assert_int_equal(write_bars(f, s, &bars[0], 0), FXP_OK);
    struct fxp_bar one = mkbar(f->eur, FXP_TF_1D, T0, 1.1, 5);
    assert_int_equal(write_bars(f, s, &one, 1), FXP_OK);

    /* Cap the file at its current size plus two pages: SQLite reports
     * SQLITE_FULL as it would on a full disk. */
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA page_count", -1, &st, 0),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    pages = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA max_page_count=%d", pages + 2);
    assert_int_equal(sqlite3_exec(db, sql, 0, 0, 0), SQLITE_OK);

    for (int i = 0; i < N; i++)
        bars[i] = mkbar(f->gbp, FXP_TF_1M, T0 + i * MINUTE, 1.2, 5);
    assert_int_equal(write_bars(f, s, bars, N), FXP_ENOSPC);
    assert_non_null(strstr(fxp_store_errmsg(s), "database or disk is full"));
    assert_non_null(strstr(fxp_store_errmsg(s), f->db));
    assert_int_equal(scan(s, "GBPUSD", FXP_TF_1M, 0, INT64_MAX, &g), 0);
    assert_int_equal(scan(s, "EURUSD", FXP_TF_1D, 0, INT64_MAX, &g), 1);

    /* Space comes back: the same batch is stored whole. */
    assert_int_equal(sqlite3_exec(db, "PRAGMA max_page_count=1000000", 0, 0, 0),
                     SQLITE_OK);
    assert_int_equal(write_bars(f, s, bars, N), FXP_OK);
    assert_int_equal(scan(s, "GBPUSD", FXP_TF_1M, T0, T0 + 10 * MINUTE, &g),
                     10);
    free(bars);
    fxp_store_close(s);
}

static void test_store__unopenable_paths_are_eio_naming_the_path(void **state)
{
    struct fx *f = *state;
    struct fxp_store *s = (struct fxp_store *)&s;
    char path[200], want[300], err[300];
    FILE *fp;

    /* A missing directory. */
    snprintf(path, sizeof path, "%s/missing/x.db", f->dir);
    assert_int_equal(fxp_store_open(path, NULL, &s, err, sizeof err), FXP_EIO);
    assert_null(s);
    snprintf(want, sizeof want,
             "cannot open database '%s': unable to open database file", path);
    assert_string_equal(err, want);

    /* A directory. */
    snprintf(path, sizeof path, "%s/adir", f->dir);
    assert_int_equal(mkdir(path, 0700), 0);
    assert_int_equal(fxp_store_open(path, NULL, &s, err, sizeof err), FXP_EIO);
    snprintf(want, sizeof want, "cannot open database '%s': ", path);
    assert_memory_equal(err, want, strlen(want));

    /* A file that is not a database. */
    snprintf(path, sizeof path, "%s/notes.txt", f->dir);
    fp = fopen(path, "w");
    assert_non_null(fp);
    for (int i = 0; i < 100; i++)
        fputs("this is not a database, just some text\n", fp);
    fclose(fp);
    assert_int_equal(fxp_store_open(path, NULL, &s, err, sizeof err), FXP_EIO);
    snprintf(want, sizeof want,
             "cannot open database '%s': file is not a database", path);
    assert_string_equal(err, want);

    /* The sqlite: prefix names the same path. */
    snprintf(path, sizeof path, "sqlite:%s/missing/x.db", f->dir);
    assert_int_equal(fxp_store_open(path, NULL, &s, err, sizeof err), FXP_EIO);
    assert_non_null(strstr(err, "/missing/x.db': unable to open"));
    assert_null(strstr(err, "sqlite:"));
}

static void test_store__urls_choose_the_backend(void **state)
{
    struct fx *f = *state;
    struct fxp_store *s = NULL;
    char url[200], err[300];

    assert_int_equal(
        fxp_store_open("redis://localhost/0", NULL, &s, err, sizeof err),
        FXP_EINVAL);
    assert_null(s);
    assert_non_null(strstr(err, "unknown store url 'redis://localhost/0'"));
    /* Network schemes reach their backends: nothing listens on port 1. */
    assert_int_equal(fxp_store_open("postgresql://u@127.0.0.1:1/fx", NULL, &s,
                                    err, sizeof err),
                     FXP_EUNAVAIL);
    assert_null(s);
    assert_int_equal(fxp_store_open("clickhouse://127.0.0.1:1/fx", NULL, &s,
                                    err, sizeof err),
                     FXP_EUNAVAIL);
    assert_null(s);
    assert_int_equal(fxp_store_open("", NULL, &s, err, sizeof err), FXP_EINVAL);
    assert_int_equal(fxp_store_open("sqlite:", NULL, &s, err, sizeof err),
                     FXP_EINVAL);
    assert_string_equal(err, "no database path in store url 'sqlite:'");

    snprintf(url, sizeof url, "sqlite:%s", f->db);
    assert_int_equal(fxp_store_open(url, NULL, &s, err, sizeof err), FXP_OK);
    assert_string_equal(fxp_store_backend(s), "sqlite");
    assert_string_equal(fxp_store_errmsg(s), "");
    fxp_store_close(s);
    snprintf(url, sizeof url, "sqlite://%s", f->db); /* sqlite:///tmp/... */
    assert_int_equal(fxp_store_open(url, NULL, &s, err, sizeof err), FXP_OK);
    fxp_store_close(s);
    assert_int_equal(access(f->db, F_OK), 0);
}

static void set_schema_version(const char *db, const char *v)
{
    sqlite3 *h;
    char sql[128];

    assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
    snprintf(sql, sizeof sql,
             "UPDATE meta SET value = '%s' WHERE key = 'schema_version'", v);
    assert_int_equal(sqlite3_exec(h, sql, 0, 0, 0), SQLITE_OK);
    assert_int_equal(sqlite3_changes(h), 1);
    sqlite3_close(h);
}

static void test_store__a_newer_schema_is_refused(void **state)
{
    struct fx *f = *state;
    struct fxp_store *s = open_store(f->db, false, 0);
    char err[300], want[300], *before, *after;

    fxp_store_close(s);
    set_schema_version(f->db, "4");
    before = dump(f->db);
    assert_int_equal(fxp_store_open(f->db, NULL, &s, err, sizeof err), FXP_EIO);
    assert_null(s);
    snprintf(want, sizeof want,
             "cannot open database '%s': schema version 4 is newer than this "
             "fxpipe supports (3)",
             f->db);
    assert_string_equal(err, want);
    after = dump(f->db);
    assert_string_equal(before, after);
    free(before);
    free(after);

    set_schema_version(f->db, "two");
    assert_int_equal(fxp_store_open(f->db, NULL, &s, err, sizeof err), FXP_EIO);
    assert_non_null(strstr(err, "bad schema_version 'two'"));
}

static void test_store__an_empty_database_is_migrated(void **state)
{
    struct fx *f = *state;
    struct fxp_store *s;
    sqlite3 *h;
    char val[8];

    /* An SQLite file made by someone else, without our tables. */
    assert_int_equal(sqlite3_open(f->db, &h), SQLITE_OK);
    assert_int_equal(
        sqlite3_exec(h, "CREATE TABLE notes(x); INSERT INTO notes VALUES(1)", 0,
                     0, 0),
        SQLITE_OK);
    sqlite3_close(h);
    s = open_store(f->db, false, 0);
    assert_int_equal(fxp_store_meta_get(s, "schema_version", val, sizeof val),
                     FXP_OK);
    assert_string_equal(val, "3");
    fxp_store_close(s);
    char *d = dump(f->db);
    assert_non_null(strstr(d, "INSERT INTO notes VALUES(1);"));
    assert_non_null(strstr(d, "CREATE TABLE ticks"));
    assert_non_null(strstr(d, "CREATE TABLE rejects"));
    free(d);
}

static void test_store__prune_keeps_only_the_retention_window(void **state)
{
    struct fx *f = *state;
    struct fxp_store *s = open_store(f->db, true, HOUR);
    struct fxp_tick ticks[2 * 19];
    struct fxp_store_batch b = {
        .ticks = ticks, .n_ticks = 2 * 19, .symtab = f->st};
    uint64_t n = 99, nt;
    sqlite3_stmt *st;

    /* Every 10 minutes from T0 to T0 + 3h for two symbols; GBPUSD stops
     * an hour earlier, but the window is per table, not per symbol. */
    for (int i = 0; i < 19; i++) {
        ticks[2 * i] = (struct fxp_tick){.ts_ms = T0 + i * 10 * MINUTE,
                                         .bid = 1.1,
                                         .ask = 1.2,
                                         .sym = f->eur};
        ticks[2 * i + 1] =
            (struct fxp_tick){.ts_ms = T0 + i * 10 * MINUTE - HOUR,
                              .bid = 1.3,
                              .ask = 1.4,
                              .sym = f->gbp};
    }
    assert_int_equal(fxp_store_write(s, &b), FXP_OK);
    assert_int_equal(fxp_store_prune_ticks(s, &n), FXP_OK);
    /* Newest is T0 + 3h: keep ts >= T0 + 2h. EURUSD keeps 7 (2h..3h),
     * GBPUSD (T0 - 1h .. T0 + 2h) keeps 1. */
    assert_int_equal(n, 38 - 8);
    assert_int_equal(fxp_store_counts(s, &nt, NULL), FXP_OK);
    assert_int_equal(nt, 8);
    assert_int_equal(sqlite3_prepare_v2(fxp__store_sqlite_db(s),
                                        "SELECT min(ts) FROM ticks", -1, &st,
                                        0),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int64(st, 0), T0 + 2 * HOUR);
    sqlite3_finalize(st);
    assert_int_equal(fxp_store_prune_ticks(s, NULL), FXP_OK);
    assert_int_equal(fxp_store_prune_ticks(s, &n), FXP_OK);
    assert_int_equal(n, 0);
    fxp_store_close(s);

    /* Retention 0 keeps everything. */
    s = open_store(f->db, true, 0);
    assert_int_equal(fxp_store_write(s, &b), FXP_OK);
    assert_int_equal(fxp_store_prune_ticks(s, &n), FXP_OK);
    assert_int_equal(n, 0);
    assert_int_equal(fxp_store_counts(s, &nt, NULL), FXP_OK);
    assert_int_equal(nt, 38);
    fxp_store_close(s);
}

struct series_got {
    struct fxp_series_info i[16];
    size_t n;
};

static int collect_series(void *ud, const struct fxp_series_info *i)
{
    struct series_got *g = ud;

    assert_true(g->n < 16);
    g->i[g->n++] = *i;
    return 0;
}

static void
test_store__series_are_ordered_by_symbol_then_timeframe(void **state)
{
    struct fx *f = *state;
    struct fxp_store *s = open_store(f->db, false, 0);
    /* Written out of order; names sort 15m < 1d < 1m < 1w < 4h < 5m, so an
     * alphabetical ORDER BY would fail. */
    struct fxp_bar in[] = {
        mkbar(f->gbp, FXP_TF_1W, T0, 1.3, 1),
        mkbar(f->gbp, FXP_TF_1M, T0 + MINUTE, 1.3, 1),
        mkbar(f->eur, FXP_TF_5M, T0 + 10 * MINUTE, 1.1, 1),
        mkbar(f->eur, FXP_TF_4H, T0, 1.1, 1),
        mkbar(f->eur, FXP_TF_5M, T0, 1.1, 1),
        mkbar(f->eur, FXP_TF_1D, T0, 1.1, 1),
        mkbar(f->eur, FXP_TF_15M, T0, 1.1, 1),
        mkbar(f->eur, FXP_TF_1M, T0, 1.1, 1),
        mkbar(f->eur, FXP_TF_5M, T0 + 5 * MINUTE, 1.1, 1),
    };
    static const struct {
        const char *sym;
        fxp_tf tf;
        uint64_t count;
        int64_t first, last;
    } want[] = {
        {"EURUSD", FXP_TF_1M, 1, T0, T0},
        {"EURUSD", FXP_TF_5M, 3, T0, T0 + 10 * MINUTE},
        {"EURUSD", FXP_TF_15M, 1, T0, T0},
        {"EURUSD", FXP_TF_4H, 1, T0, T0},
        {"EURUSD", FXP_TF_1D, 1, T0, T0},
        {"GBPUSD", FXP_TF_1M, 1, T0 + MINUTE, T0 + MINUTE},
        {"GBPUSD", FXP_TF_1W, 1, T0, T0},
    };
    struct series_got g = {0};

    assert_int_equal(write_bars(f, s, in, sizeof in / sizeof in[0]), FXP_OK);
    assert_int_equal(fxp_store_series(s, collect_series, &g), FXP_OK);
    assert_int_equal(g.n, sizeof want / sizeof want[0]);
    for (size_t i = 0; i < g.n; i++) {
        assert_string_equal(g.i[i].symbol, want[i].sym);
        assert_int_equal(g.i[i].tf, want[i].tf);
        assert_int_equal(g.i[i].count, want[i].count);
        assert_int_equal(g.i[i].first_ts, want[i].first);
        assert_int_equal(g.i[i].last_ts, want[i].last);
    }
    fxp_store_close(s);
}

static void test_store__scan_covers_from_inclusive_to_exclusive(void **state)
{
    struct fx *f = *state;
    struct fxp_store *s = open_store(f->db, false, 0);
    struct fxp_bar in[10];
    struct got g;

    /* Written newest first; read back ascending. */
    for (int i = 0; i < 10; i++)
        in[i] = mkbar(f->eur, FXP_TF_1M, T0 + (9 - i) * MINUTE, 1.1, 1);
    assert_int_equal(write_bars(f, s, in, 10), FXP_OK);

    assert_int_equal(
        scan(s, "EURUSD", FXP_TF_1M, T0 + 2 * MINUTE, T0 + 5 * MINUTE, &g), 3);
    assert_int_equal(g.b[0].ts_ms, T0 + 2 * MINUTE);
    assert_int_equal(g.b[1].ts_ms, T0 + 3 * MINUTE);
    assert_int_equal(g.b[2].ts_ms, T0 + 4 * MINUTE);
    assert_int_equal(scan(s, "EURUSD", FXP_TF_1M, 0, INT64_MAX, &g), 10);
    for (size_t i = 1; i < g.n; i++)
        assert_true(g.b[i - 1].ts_ms < g.b[i].ts_ms);
    assert_int_equal(scan(s, "EURUSD", FXP_TF_1M, T0, T0, &g), 0);
    assert_int_equal(scan(s, "GBPUSD", FXP_TF_1M, 0, INT64_MAX, &g), 0);
    assert_int_equal(scan(s, "EURUSD", FXP_TF_5M, 0, INT64_MAX, &g), 0);

    /* A non-zero return stops the scan; the call still succeeds. */
    memset(&g, 0, sizeof g);
    g.stop_after = 2;
    assert_int_equal(
        fxp_store_scan_bars(s, "EURUSD", FXP_TF_1M, 0, INT64_MAX, collect, &g),
        FXP_OK);
    assert_int_equal(g.n, 2);
    /* The stopped scan left no read open: a write goes through. */
    struct fxp_bar more = mkbar(f->eur, FXP_TF_1M, T0 + 10 * MINUTE, 1.1, 1);
    assert_int_equal(write_bars(f, s, &more, 1), FXP_OK);
    assert_int_equal(scan(s, "EURUSD", FXP_TF_1M, 0, INT64_MAX, &g), 11);
    fxp_store_close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_store__opts_default_values),
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
        T(test_store__bars_of_several_timeframes_round_trip),
        T(test_store__upsert_keeps_the_highest_version),
        T(test_store__writing_twice_gives_an_identical_dump),
        T(test_store__rejects_and_ticks_are_idempotent),
        T(test_store__meta_is_written_with_the_batch),
        T(test_store__a_failed_batch_stores_nothing),
        T(test_store__a_locked_database_times_out_and_stores_nothing),
        T(test_store__a_full_disk_is_enospc_and_stores_nothing),
        T(test_store__unopenable_paths_are_eio_naming_the_path),
        T(test_store__urls_choose_the_backend),
        T(test_store__a_newer_schema_is_refused),
        T(test_store__an_empty_database_is_migrated),
        T(test_store__prune_keeps_only_the_retention_window),
        T(test_store__series_are_ordered_by_symbol_then_timeframe),
        T(test_store__scan_covers_from_inclusive_to_exclusive),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
