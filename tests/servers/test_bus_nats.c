/*
 * test_bus_nats.c - the NATS JetStream bus backend (bus.h) against a real
 * nats-server.
 * servers: nats
 *
 * Streams created and checked, ordered per-symbol delivery with keys,
 * headers and payloads intact, de-duplication by message id, redelivery
 * of what was not committed, a callback that stops a fetch early, two
 * members of a group splitting the work, and commit_through (also from a
 * second thread while the first fetches). Failures, restarts and
 * throughput are in test_bus_nats_faults.c.
 */
#include "bus_nats_testlib.h"

/* ---- tests ---- */

static void test_open_creates_streams(void **state)
{
    char prefix[64], name[128], subj[128];
    struct fxp_bus_opts o;
    struct fxp_bus *b = NULL;
    jsStreamInfo *si = NULL;
    struct raw r;
    char err[512];

    (void)state;
    new_prefix(prefix, sizeof prefix);
    b = open_bus(prefix, NULL);
    assert_int_equal(fxp_bus_ping(b, 2000), FXP_OK);
    assert_int_equal(fxp_bus_pause(b, true), FXP_OK);
    fxp_bus_close(b);

    raw_open(&r);
    for (int k = 0; k < 2; k++) {
        const char *s = k ? "bars" : "ticks";
        upper_name(name, sizeof name, prefix, k ? "BARS" : "TICKS");
        snprintf(subj, sizeof subj, "%s.%s.>", prefix, s);
        assert_int_equal(js_GetStreamInfo(&si, r.js, name, NULL, NULL),
                         NATS_OK);
        assert_int_equal(si->Config->SubjectsLen, 1);
        assert_string_equal(si->Config->Subjects[0], subj);
        assert_int_equal(si->Config->Storage, js_FileStorage);
        assert_true(si->Config->MaxAge == 7LL * 24 * 3600 * 1000000000LL);
        assert_true(si->Config->Duplicates == 120LL * 1000000000LL);
        jsStreamInfo_Destroy(si);
    }
    raw_close(&r);

    /* Reopening finds them; other limits are accepted as they are. */
    fxp_bus_close(open_bus(prefix, NULL));
    opts_for(&o, prefix, NULL);
    o.max_age_ms = 3600 * 1000;
    assert_int_equal(fxp_bus_open(nats_url(), &o, &b, err, sizeof err), FXP_OK);
    fxp_bus_close(b);

    /* Bad input is refused before any connection. */
    o.prefix = "a..b";
    assert_int_equal(fxp_bus_open(nats_url(), &o, &b, err, sizeof err),
                     FXP_EINVAL);
    assert_non_null(strstr(err, "a..b"));
    o.prefix = prefix;
    assert_int_equal(fxp_bus_open("nats://", &o, &b, err, sizeof err),
                     FXP_EINVAL);
    assert_int_equal(fxp_bus_open("nats://h:1,,h:2", &o, &b, err, sizeof err),
                     FXP_EINVAL);
}

static void test_publish_fetch_in_order(void **state)
{
    enum { N = 300 };
    static struct got g;
    char prefix[64];
    struct fxp_bus *p, *c;
    int last[3] = {-1, -1, -1};

    (void)state;
    new_prefix(prefix, sizeof prefix);
    p = open_bus(prefix, NULL);
    assert_int_equal(publish_range(p, "a", 0, N), FXP_OK);
    assert_int_equal(fxp_bus_flush(p, 10000), FXP_OK);
    assert_int_equal(stream_msgs(prefix), N);

    memset(&g, 0, sizeof g);
    g.tag = "a";
    g.check = 1;
    c = open_sub(prefix, "g", FXP_BUS_TICKS);
    drain(c, &g, N, 1);
    assert_int_equal(g.n, N);
    for (int k = 0; k < g.n; k++) {
        int i = g.idx[k];
        assert_true(i > last[i % 3]); /* per-symbol order */
        last[i % 3] = i;
        assert_int_equal(g.redeliveries[k], 0);
        if (k)
            assert_true(g.pos[k] > g.pos[k - 1]);
    }

    /* The same ids again: the stream keeps one copy of each. */
    assert_int_equal(publish_range(p, "a", 0, N), FXP_OK);
    assert_int_equal(fxp_bus_flush(p, 10000), FXP_OK);
    assert_int_equal(stream_msgs(prefix), N);
    g.n = 0;
    drain(c, &g, 0, 1);
    assert_int_equal(g.n, 0);

    /* A bars consumer of the same group sees none of the ticks. */
    struct fxp_bus *bars = open_sub(prefix, "g", FXP_BUS_BARS);
    drain(bars, &g, 0, 1);
    assert_int_equal(g.n, 0);
    assert_int_equal(fxp_bus_subscribe(bars, FXP_BUS_TICKS), FXP_EINVAL);
    fxp_bus_close(bars);
    fxp_bus_close(c);
    fxp_bus_close(p);
}

static void test_redelivery_until_commit(void **state)
{
    enum { N = 12 };
    static struct got g;
    char prefix[64];
    struct fxp_bus *p, *c;

    (void)state;
    new_prefix(prefix, sizeof prefix);
    p = open_bus(prefix, NULL);
    assert_int_equal(publish_range(p, "r", 0, N), FXP_OK);
    assert_int_equal(fxp_bus_flush(p, 10000), FXP_OK);
    fxp_bus_close(p);

    memset(&g, 0, sizeof g);
    g.tag = "r";
    g.check = 1;
    c = open_sub(prefix, "grp", FXP_BUS_TICKS);
    drain(c, &g, N, 0); /* no commit */
    assert_int_equal(g.n, N);
    fxp_bus_close(c);

    g.n = 0;
    c = open_sub(prefix, "grp", FXP_BUS_TICKS);
    drain(c, &g, N, 0);
    assert_int_equal(g.n, N);
    for (int k = 0; k < N; k++)
        assert_int_equal(g.redeliveries[k], 1);
    assert_int_equal(fxp_bus_commit(c), FXP_OK);
    assert_int_equal(fxp_bus_commit(c), FXP_OK); /* nothing left: fine */
    fxp_bus_close(c);

    g.n = 0;
    c = open_sub(prefix, "grp", FXP_BUS_TICKS);
    drain(c, &g, 0, 0);
    assert_int_equal(g.n, 0);

    /* A second group reads everything again, from the start. */
    struct fxp_bus *c2 = open_sub(prefix, "other", FXP_BUS_TICKS);
    drain(c2, &g, N, 1);
    assert_int_equal(g.n, N);
    fxp_bus_close(c2);
    fxp_bus_close(c);
}

static void test_fn_stops_early(void **state)
{
    enum { N = 20 };
    static struct got g;
    char prefix[64];
    struct fxp_bus *p, *c;
    size_t n = 0;

    (void)state;
    new_prefix(prefix, sizeof prefix);
    p = open_bus(prefix, NULL);
    assert_int_equal(publish_range(p, "s", 0, N), FXP_OK);
    assert_int_equal(fxp_bus_flush(p, 10000), FXP_OK);
    fxp_bus_close(p);

    memset(&g, 0, sizeof g);
    g.tag = "s";
    g.stop_after = 5;
    c = open_sub(prefix, "g", FXP_BUS_TICKS);
    for (int tries = 0; tries < 20 && !n; tries++)
        assert_int_equal(fxp_bus_fetch(c, 100, 2000, on_msg, &g, &n), FXP_OK);
    assert_int_equal(n, 5);
    assert_int_equal(fxp_bus_commit(c), FXP_OK); /* acks the first 4 */
    g.stop_after = 0;
    drain(c, &g, N, 1);
    /* 5 + the 16 given back (the refused 5th comes again). */
    assert_int_equal(g.n, N + 1);
    assert_int_equal(g.idx[5], g.idx[4]);
    fxp_bus_close(c);
}

static void test_two_members_split(void **state)
{
    enum { N = 400 };
    static struct got ga, gb;
    static char seen[N];
    char prefix[64];
    struct fxp_bus *p, *a, *b;

    (void)state;
    new_prefix(prefix, sizeof prefix);
    p = open_bus(prefix, NULL);
    assert_int_equal(publish_range(p, "m", 0, N), FXP_OK);
    assert_int_equal(fxp_bus_flush(p, 10000), FXP_OK);
    fxp_bus_close(p);

    memset(&ga, 0, sizeof ga);
    memset(&gb, 0, sizeof gb);
    ga.tag = gb.tag = "m";
    ga.check = gb.check = 1;
    a = open_sub(prefix, "shared", FXP_BUS_TICKS);
    b = open_sub(prefix, "shared", FXP_BUS_TICKS);
    for (int idle = 0; idle < 2;) {
        size_t na = 0, nb = 0;
        assert_int_equal(fxp_bus_fetch(a, 25, 300, on_msg, &ga, &na), FXP_OK);
        assert_int_equal(fxp_bus_fetch(b, 25, 300, on_msg, &gb, &nb), FXP_OK);
        assert_int_equal(fxp_bus_commit(a), FXP_OK);
        assert_int_equal(fxp_bus_commit(b), FXP_OK);
        idle = na || nb ? 0 : idle + 1;
    }
    print_message("split: %d + %d\n", ga.n, gb.n);
    assert_true(ga.n > 0 && gb.n > 0);
    assert_int_equal(ga.n + gb.n, N);
    memset(seen, 0, sizeof seen);
    for (int k = 0; k < ga.n; k++)
        seen[ga.idx[k]]++;
    for (int k = 0; k < gb.n; k++)
        seen[gb.idx[k]]++;
    for (int i = 0; i < N; i++)
        assert_int_equal(seen[i], 1);
    fxp_bus_close(a);
    fxp_bus_close(b);
}

static void test_commit_through_partial(void **state)
{
    enum { N = 10 };
    static struct got g;
    char prefix[64];
    struct fxp_bus *p, *c;

    (void)state;
    new_prefix(prefix, sizeof prefix);
    p = open_bus(prefix, NULL);
    assert_int_equal(publish_range(p, "p", 0, N), FXP_OK);
    assert_int_equal(fxp_bus_flush(p, 10000), FXP_OK);
    fxp_bus_close(p);

    memset(&g, 0, sizeof g);
    g.tag = "p";
    c = open_sub(prefix, "g", FXP_BUS_TICKS);
    drain(c, &g, N, 0);
    assert_int_equal(g.n, N);
    assert_int_equal(fxp_bus_commit_through(c, 4), FXP_OK);
    assert_int_equal(fxp_bus_commit_through(c, 4), FXP_OK);
    assert_int_equal(fxp_bus_commit_through(c, 0), FXP_OK);
    fxp_bus_close(c);

    int first[N];
    for (int k = 0; k < N; k++)
        first[k] = g.idx[k];
    g.n = 0;
    c = open_sub(prefix, "g", FXP_BUS_TICKS);
    drain(c, &g, N - 4, 0);
    assert_int_equal(g.n, N - 4); /* ordinals 5..10 come again */
    for (int k = 0; k < N - 4; k++)
        assert_int_equal(g.idx[k], first[k + 4]);
    /* A new handle counts from 1 again: these were 1..6. */
    assert_int_equal(fxp_bus_commit_through(c, 3), FXP_OK);
    fxp_bus_close(c);
    g.n = 0;
    c = open_sub(prefix, "g", FXP_BUS_TICKS);
    drain(c, &g, 3, 1);
    assert_int_equal(g.n, 3);
    assert_int_equal(g.idx[0], first[7]);
    fxp_bus_close(c);
}

/* commit_through from a second thread while the first fetches. */
struct committer {
    struct fxp_bus *b;
    uint64_t handed; /* ordinal of the last message handed out (atomic) */
    int done;        /* atomic */
    int errors;
};

static void *commit_loop(void *arg)
{
    struct committer *k = arg;

    while (!__atomic_load_n(&k->done, __ATOMIC_ACQUIRE)) {
        uint64_t o = __atomic_load_n(&k->handed, __ATOMIC_ACQUIRE);
        if (o && fxp_bus_commit_through(k->b, o) != FXP_OK)
            k->errors++;
        nats_Sleep(1);
    }
    if (fxp_bus_commit_through(
            k->b, __atomic_load_n(&k->handed, __ATOMIC_ACQUIRE)) != FXP_OK)
        k->errors++;
    return NULL;
}

static int count_fn(void *ud, const struct fxp_bus_msg *m)
{
    struct committer *k = ud;

    (void)m;
    __atomic_add_fetch(&k->handed, 1, __ATOMIC_RELEASE);
    return 0;
}

static void test_commit_through_concurrent(void **state)
{
    enum { N = 3000 };
    static struct got g;
    char prefix[64];
    struct fxp_bus *p;
    struct committer k = {0};
    pthread_t th;

    (void)state;
    new_prefix(prefix, sizeof prefix);
    p = open_bus(prefix, NULL);
    assert_int_equal(publish_range(p, "c", 0, N), FXP_OK);
    assert_int_equal(fxp_bus_flush(p, 10000), FXP_OK);
    fxp_bus_close(p);

    k.b = open_sub(prefix, "g", FXP_BUS_TICKS);
    assert_int_equal(pthread_create(&th, NULL, commit_loop, &k), 0);
    for (int idle = 0; idle < 2;) {
        size_t n = 0;
        assert_int_equal(fxp_bus_fetch(k.b, 37, 500, count_fn, &k, &n), FXP_OK);
        idle = n ? 0 : idle + 1;
    }
    __atomic_store_n(&k.done, 1, __ATOMIC_RELEASE);
    pthread_join(th, NULL);
    assert_int_equal(k.errors, 0);
    assert_int_equal(k.handed, N);
    fxp_bus_close(k.b);

    memset(&g, 0, sizeof g);
    struct fxp_bus *c = open_sub(prefix, "g", FXP_BUS_TICKS);
    drain(c, &g, 0, 0);
    assert_int_equal(g.n, 0); /* everything was committed */
    fxp_bus_close(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_open_creates_streams),
        cmocka_unit_test(test_publish_fetch_in_order),
        cmocka_unit_test(test_redelivery_until_commit),
        cmocka_unit_test(test_fn_stops_early),
        cmocka_unit_test(test_two_members_split),
        cmocka_unit_test(test_commit_through_partial),
        cmocka_unit_test(test_commit_through_concurrent),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
