/*
 * test_store_conformance.c - one conformance suite for every store backend
 * (store.h), run once per backend present: a temporary SQLite file always,
 * ClickHouse at $FXP_CH_URL and PostgreSQL at $FXP_PG_URL when set.
 * servers: clickhouse postgres
 * A backend that is not built in is reported as SKIP. Tests use symbols
 * unique to the run and check global numbers as differences, so reruns
 * against the same server pass. The bar cases are in store_conformance.c.
 */
#include "store_conformance.c"

static int count_reason(void *ud, const char *reason, uint64_t count)
{
    uint64_t *n = ud;

    if (!strcmp(reason, "crossed"))
        n[0] = count;
    else if (!strcmp(reason, "parse"))
        n[1] = count;
    return 0;
}

static void test_store__rejects_counts_and_summary(void **state)
{
    (void)state;
    struct fxp_store *s = open_store();
    char o1[64], o2[64], o3[64], rs[16];
    uint64_t t0, r0, t1, r1, before[2] = {0, 0}, after[2] = {0, 0};

    sym(rs, "RJ");
    snprintf(o1, sizeof o1, "conf-%s.csv:1", g_tag);
    snprintf(o2, sizeof o2, "conf-%s.csv:2", g_tag);
    snprintf(o3, sizeof o3, "conf-%s.csv:3", g_tag);
    struct fxp_reject rj[] = {
        {o1, T0, rs, FXP_R_CROSSED, "ask 1.1 < bid 1.2", "x,1,1.2,1.1"},
        {o2, 0, "", FXP_R_PARSE, "bad number in field 'bid'", "x,1,zz"},
        {o3, T0, rs, FXP_R_CROSSED, "it's a \\ \"quote\"\tand tab", NULL},
    };
    struct fxp_store_batch b = {.rejects = rj, .n_rejects = 3};

    assert_store_ok(s, fxp_store_counts(s, &t0, &r0));
    assert_store_ok(s, fxp_store_reject_summary(s, count_reason, before));
    assert_store_ok(s, fxp_store_write(s, &b));
    assert_store_ok(s, fxp_store_write(s, &b)); /* nothing twice */
    assert_store_ok(s, fxp_store_counts(s, &t1, &r1));
    assert_int_equal(t1, t0);
    assert_int_equal(r1, r0 + 3);
    assert_store_ok(s, fxp_store_reject_summary(s, count_reason, after));
    assert_int_equal(after[0], before[0] + 2);
    assert_int_equal(after[1], before[1] + 1);
    fxp_store_close(s);
}

static void test_store__meta_absent_then_written(void **state)
{
    (void)state;
    struct fxp_store *s = open_store();
    char key[64], val[64], small[4];
    const char *odd = "a'b\\c\td\ne\"f";

    snprintf(key, sizeof key, "conf.%s.cursor'x", g_tag);
    assert_int_equal(fxp_store_meta_get(s, key, val, sizeof val), FXP_ENOENT);
    struct fxp_store_batch b = {.meta_key = key, .meta_value = "v1"};
    assert_store_ok(s, fxp_store_write(s, &b));
    assert_store_ok(s, fxp_store_meta_get(s, key, val, sizeof val));
    assert_string_equal(val, "v1");
    b.meta_value = odd;
    assert_store_ok(s, fxp_store_write(s, &b));
    assert_store_ok(s, fxp_store_meta_get(s, key, val, sizeof val));
    assert_string_equal(val, odd);
    assert_int_equal(fxp_store_meta_get(s, key, small, sizeof small),
                     FXP_ETOOLARGE);
    assert_store_ok(s,
                    fxp_store_meta_get(s, "schema_version", val, sizeof val));
    assert_true(atoi(val) >= 1);
    b.meta_key = "schema_version";
    assert_int_equal(fxp_store_write(s, &b), FXP_EINVAL);
    assert_true(strstr(fxp_store_errmsg(s), "schema_version") != NULL);
    fxp_store_close(s);
}

struct entries {
    struct fxp_ledger_entry e[16];
    size_t n, stop_after;
};

static int on_entry(void *ud, const struct fxp_ledger_entry *e)
{
    struct entries *g = ud;

    assert_true(g->n < 16);
    g->e[g->n++] = *e;
    return g->stop_after && g->n >= g->stop_after;
}

static struct fxp_ledger_entry entry(const char *name, fxp_tf tf, int64_t day,
                                     fxp_ledger_state st, uint32_t attempts,
                                     uint32_t bars, const char *detail)
{
    struct fxp_ledger_entry e = {.tf = tf,
                                 .day_ms = day,
                                 .state = st,
                                 .attempts = attempts,
                                 .bars = bars};

    snprintf(e.symbol, sizeof e.symbol, "%s", name);
    snprintf(e.detail, sizeof e.detail, "%s", detail);
    return e;
}

static void test_store__ledger_put_scan_and_replace(void **state)
{
    (void)state;
    char a[16];
    sym(a, "LG");
    struct fxp_store *s = open_store();
    struct fxp_ledger_entry in[] = {
        entry(a, FXP_TF_1M, T0 + 2 * DAY, FXP_LEDGER_REVIEW, 3, 0,
              "HTTP 503 from 'api.example.com'\t\\"),
        entry(a, FXP_TF_1M, T0, FXP_LEDGER_VERIFIED, 1, 1440, ""),
        entry(a, FXP_TF_1M, T0 + DAY, FXP_LEDGER_EMPTY, 1, 0, ""),
        entry(a, FXP_TF_1H, T0, FXP_LEDGER_DOWNLOADED, 2, 24, "x"),
        entry(a, FXP_TF_1M, -DAY, FXP_LEDGER_MISSING, 0, 0, ""),
    };
    struct entries g = {0};
    static const int order[] = {4, 1, 2, 0};

    assert_store_ok(s, fxp_store_ledger_put(s, in, 5));
    assert_store_ok(s, fxp_store_ledger_put(s, NULL, 0));
    assert_store_ok(s, fxp_store_ledger_scan(s, a, FXP_TF_1M, INT64_MIN,
                                             INT64_MAX, on_entry, &g));
    assert_int_equal(g.n, 4);
    for (size_t i = 0; i < 4; i++) {
        const struct fxp_ledger_entry *w = &in[order[i]];
        assert_string_equal(g.e[i].symbol, a);
        assert_int_equal(g.e[i].tf, FXP_TF_1M);
        assert_int_equal(g.e[i].day_ms, w->day_ms);
        assert_int_equal(g.e[i].state, w->state);
        assert_int_equal(g.e[i].attempts, w->attempts);
        assert_int_equal(g.e[i].bars, w->bars);
        assert_string_equal(g.e[i].detail, w->detail);
    }
    memset(&g, 0, sizeof g);
    assert_store_ok(s, fxp_store_ledger_scan(s, a, FXP_TF_1M, T0, T0 + 2 * DAY,
                                             on_entry, &g));
    assert_int_equal(g.n, 2);
    assert_int_equal(g.e[1].day_ms, T0 + DAY);

    /* A put replaces the whole row; within one put the last entry wins. */
    struct fxp_ledger_entry again[] = {
        entry(a, FXP_TF_1M, T0 + 2 * DAY, FXP_LEDGER_DOWNLOADED, 4, 1, "y"),
        entry(a, FXP_TF_1M, T0 + 2 * DAY, FXP_LEDGER_VERIFIED, 4, 1380, ""),
    };
    assert_store_ok(s, fxp_store_ledger_put(s, again, 2));
    memset(&g, 0, sizeof g);
    assert_store_ok(s, fxp_store_ledger_scan(s, a, FXP_TF_1M, T0 + 2 * DAY,
                                             T0 + 3 * DAY, on_entry, &g));
    assert_int_equal(g.n, 1);
    assert_int_equal(g.e[0].state, FXP_LEDGER_VERIFIED);
    assert_int_equal(g.e[0].bars, 1380);
    assert_string_equal(g.e[0].detail, "");
    memset(&g, 0, sizeof g);
    g.stop_after = 1;
    assert_store_ok(s, fxp_store_ledger_scan(s, a, FXP_TF_1M, INT64_MIN,
                                             INT64_MAX, on_entry, &g));
    assert_int_equal(g.n, 1);

    /* A bad entry stores nothing of its call. */
    struct fxp_ledger_entry bad[] = {
        entry(a, FXP_TF_1D, T0, FXP_LEDGER_VERIFIED, 1, 1, ""),
        entry(a, FXP_TF_1D, T0 + 5, FXP_LEDGER_VERIFIED, 1, 1, ""),
    };
    assert_int_equal(fxp_store_ledger_put(s, bad, 2), FXP_EINVAL);
    memset(&g, 0, sizeof g);
    assert_store_ok(s, fxp_store_ledger_scan(s, a, FXP_TF_1D, INT64_MIN,
                                             INT64_MAX, on_entry, &g));
    assert_int_equal(g.n, 0);
    fxp_store_close(s);
}

static void test_store__ticks_only_with_keep_ticks_and_pruned(void **state)
{
    (void)state;
    char a[16];
    sym(a, "TK");
    struct fxp_symtab *st = symtab(a, NULL);
    struct fxp_tick tk[] = {
        {FAR - 5 * DAY, 1.1, 1.2, 0, 0, 0},
        {FAR - 5 * DAY + 1, 1.1, 1.2, 0, 0, 0},
        {FAR - 5 * DAY + 2, 1.1, 1.2, 0, 0, 0},
        {FAR - 4 * DAY + HOUR, 1.1, 1.2, 3, 0, FXP_TICK_HAS_VOLUME},
        {FAR - 4 * DAY + HOUR, 1.1, 1.3, 0, 0, 0},
        {FAR - HOUR, 1.1, 1.2, 0, 0, 0},
        {FAR, 1.1, 1.2, 0, 0, 0},
    };
    struct fxp_store_batch b = {.ticks = tk, .n_ticks = 7, .symtab = st};
    struct fxp_store *s = open_store();
    uint64_t t0, t1, r, pruned;

    /* Without keep_ticks, ticks are ignored. */
    assert_store_ok(s, fxp_store_counts(s, &t0, &r));
    assert_store_ok(s, fxp_store_write(s, &b));
    assert_store_ok(s, fxp_store_counts(s, &t1, &r));
    assert_int_equal(t1, t0);
    fxp_store_close(s);

    /* Prune first, so only this run's old ticks are older than the cut
     * (whole days before it: network stores drop day partitions). */
    s = open_opts(true, 2 * DAY);
    assert_store_ok(s, fxp_store_prune_ticks(s, NULL));
    assert_store_ok(s, fxp_store_counts(s, &t0, &r));
    assert_store_ok(s, fxp_store_write(s, &b));
    assert_store_ok(s, fxp_store_write(s, &b));
    assert_store_ok(s, fxp_store_counts(s, &t1, &r));
    assert_int_equal(t1, t0 + 7);
    assert_store_ok(s, fxp_store_prune_ticks(s, &pruned));
    assert_int_equal(pruned, 5);
    assert_store_ok(s, fxp_store_counts(s, &t1, &r));
    assert_int_equal(t1, t0 + 2);
    assert_store_ok(s, fxp_store_prune_ticks(s, &pruned));
    assert_int_equal(pruned, 0);
    fxp_store_close(s);
    fxp_symtab_free(st);
}

static void test_store__batch_with_all_parts(void **state)
{
    (void)state;
    char a[16], key[48], origin[48], val[32];
    sym(a, "AL");
    snprintf(key, sizeof key, "conf.%s.all", g_tag);
    snprintf(origin, sizeof origin, "all-%s:7", g_tag);
    struct fxp_symtab *st = symtab(a, NULL);
    struct fxp_store *s = open_opts(true, 0);
    struct fxp_bar bars[] = {mkbar(0, FXP_TF_1M, T0, 1.1, 1),
                             mkbar(0, FXP_TF_1H, T0, 1.1, 1)};
    struct fxp_tick tk[] = {{T0 + 5, 1.1, 1.2, 0, 0, 0}};
    struct fxp_reject rj[] = {{origin, T0, a, FXP_R_NAN, "bid NaN", "raw"}};
    struct fxp_store_batch b = {.bars = bars,
                                .n_bars = 2,
                                .ticks = tk,
                                .n_ticks = 1,
                                .rejects = rj,
                                .n_rejects = 1,
                                .symtab = st,
                                .meta_key = key,
                                .meta_value = "c1"};
    uint64_t t0, r0, t1, r1;
    struct got *g;

    assert_store_ok(s, fxp_store_counts(s, &t0, &r0));
    for (int i = 0; i < 2; i++) /* a retried batch changes nothing */
        assert_store_ok(s, fxp_store_write(s, &b));
    assert_store_ok(s, fxp_store_counts(s, &t1, &r1));
    assert_int_equal(t1, t0 + 1);
    assert_int_equal(r1, r0 + 1);
    assert_store_ok(s, fxp_store_meta_get(s, key, val, sizeof val));
    assert_string_equal(val, "c1");
    g = scan(s, a, FXP_TF_1H, INT64_MIN, INT64_MAX);
    assert_int_equal(g->n, 1);
    free(g);

    /* A malformed batch stores nothing, not even its meta. */
    struct fxp_bar two[] = {mkbar(0, FXP_TF_1M, T0 + DAY, 1, 1),
                            mkbar(5, FXP_TF_1M, T0 + DAY, 1, 1)};
    struct fxp_store_batch bad = {.bars = two,
                                  .n_bars = 2,
                                  .symtab = st,
                                  .meta_key = key,
                                  .meta_value = "c2"};
    assert_int_equal(fxp_store_write(s, &bad), FXP_EINVAL);
    assert_true(fxp_store_errmsg(s)[0] != '\0');
    assert_store_ok(s, fxp_store_meta_get(s, key, val, sizeof val));
    assert_string_equal(val, "c1");
    g = scan(s, a, FXP_TF_1M, INT64_MIN, INT64_MAX);
    assert_int_equal(g->n, 1);
    free(g);
    fxp_store_close(s);
    fxp_symtab_free(st);
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void test_store__unreachable_and_bad_urls_fail_clearly(void **state)
{
    (void)state;
    struct fxp_store_opts o;
    struct fxp_store *s = (struct fxp_store *)1;
    char err[512], url[128];
    const char *scheme = strstr(g_url, "://");
    int rc;

    fxp_store_opts_default(&o);
    o.connect_timeout_ms = 1500;
    assert_int_equal(fxp_store_open("nosuch://x/y", &o, &s, err, sizeof err),
                     FXP_EINVAL);
    assert_null(s);
    if (is_sqlite()) {
        assert_int_equal(fxp_store_open("sqlite:", &o, &s, err, sizeof err),
                         FXP_EINVAL);
        rc = fxp_store_open("sqlite:/nonexistent-dir/x/y.db", &o, &s, err,
                            sizeof err);
        assert_int_equal(rc, FXP_EIO);
        assert_non_null(strstr(err, "/nonexistent-dir/x/y.db"));
        return;
    }
    int n = (int)(scheme - g_url);
    /* An unclosed IPv6 bracket, a port out of range. */
    snprintf(url, sizeof url, "%.*s://[127.0.0.1/x", n, g_url);
    rc = fxp_store_open(url, &o, &s, err, sizeof err);
    if (rc != FXP_EINVAL)
        fail_msg("open '%s': %s (%s), want FXP_EINVAL", url, err,
                 fxp_err_name(rc));
    assert_true(err[0] != '\0');
    snprintf(url, sizeof url, "%.*s://127.0.0.1:99999/x", n, g_url);
    rc = fxp_store_open(url, &o, &s, err, sizeof err);
    if (rc != FXP_EINVAL)
        fail_msg("open '%s': %s (%s), want FXP_EINVAL", url, err,
                 fxp_err_name(rc));
    snprintf(url, sizeof url, "%.*s://127.0.0.1:1/%s", n, g_url,
             strncmp(g_url, "clickhouse", 10) ? "postgres" : "default");
    double t = now_s();
    rc = fxp_store_open(url, &o, &s, err, sizeof err);
    t = now_s() - t;
    print_message("unreachable: %s (%s) after %.2f s\n", err, fxp_err_name(rc),
                  t);
    assert_true(rc == FXP_EUNAVAIL || rc == FXP_ETIMEDOUT);
    assert_null(s);
    assert_true(t < 1.5 + 3.0);
    assert_non_null(strstr(err, "127.0.0.1"));
}

/* One group per backend. */
static int run_suite(const char *backend, const char *url)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_store__highest_version_wins),
        cmocka_unit_test(test_store__scan_is_ascending_within_from_to),
        cmocka_unit_test(test_store__series_by_symbol_then_timeframe),
        cmocka_unit_test(test_store__rejects_counts_and_summary),
        cmocka_unit_test(test_store__meta_absent_then_written),
        cmocka_unit_test(test_store__coverage_counts_bars_per_day),
        cmocka_unit_test(test_store__present_skips_bad_rows),
        cmocka_unit_test(test_store__ledger_put_scan_and_replace),
        cmocka_unit_test(test_store__ticks_only_with_keep_ticks_and_pruned),
        cmocka_unit_test(test_store__batch_with_all_parts),
        cmocka_unit_test(test_store__unreachable_and_bad_urls_fail_clearly),
    };
    char name[64];

    g_url = url;
    snprintf(name, sizeof name, "store conformance: %s", backend);
    printf("# %s at %s\n", backend, url);
    fflush(stdout);
    return cmocka_run_group_tests_name(name, tests, NULL, NULL);
}

/* Run against url unless the backend is not built in (then SKIP). */
static int run_network(const char *backend, const char *env)
{
    const char *url = getenv(env);
    struct fxp_store *s = NULL;
    char err[512];

    if (!url || !*url) {
        printf("SKIP %s: %s is not set\n", backend, env);
        return 0;
    }
    int rc = fxp_store_open(url, NULL, &s, err, sizeof err);
    if (rc != FXP_OK && strstr(err, "not built in")) {
        printf("SKIP %s: %s\n", backend, err);
        return 0;
    }
    fxp_store_close(s);
    return run_suite(backend, url);
}

int main(void)
{
    char dir[] = "/tmp/fxp_conf_XXXXXX", url[64], path[48];
    static const char digits[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    uint64_t x = (uint64_t)getpid() * 2654435761u ^ (uint64_t)time(NULL);
    int failed = 0;

    for (int i = 0; i < 6; i++, x /= 36)
        g_tag[i] = digits[x % 36];
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(path, sizeof path, "%s/conf.db", dir);
    snprintf(url, sizeof url, "sqlite:%s", path);
    failed += run_suite("sqlite", url);
    failed += run_network("clickhouse", "FXP_CH_URL");
    failed += run_network("postgresql", "FXP_PG_URL");
    for (const char *sfx = ""; sfx; sfx = *sfx ? NULL : "-wal") {
        char p[80];
        snprintf(p, sizeof p, "%s%s", path, sfx);
        unlink(p);
    }
    snprintf(path, sizeof path, "%s/conf.db-shm", dir);
    unlink(path);
    rmdir(dir);
    return failed ? 1 : 0;
}
