/*
 * test_bus_nats_faults.c - the NATS JetStream bus backend when things go
 * wrong, against a real nats-server.
 * servers: nats
 *
 * An unreachable server, stream definitions that conflict, the server
 * stopped and started again (publish, flush, ping, fetch and commit fail
 * fast while it is down and work after), a restart in the middle of
 * publishing (every message stored once after publishing again what was
 * not flushed), and the throughput of 100k 4 KB messages.
 */
#include "bus_nats_testlib.h"

/* ---- tests ---- */

static void test_unreachable(void **state)
{
    struct fxp_bus_opts o;
    struct fxp_bus *b = NULL;
    char err[512], url[64];
    double t0;
    int rc;

    (void)state;
    opts_for(&o, "unreach", NULL);
    o.connect_timeout_ms = 1000;
    /* Port 1 on loopback: nobody listens. */
    snprintf(url, sizeof url, "nats://127.0.0.1:1,127.0.0.1:2");
    t0 = now_s();
    rc = fxp_bus_open(url, &o, &b, err, sizeof err);
    double dt = now_s() - t0;
    print_message("unreachable: %s after %.2f s: %s\n", fxp_err_name(rc), dt,
                  err);
    assert_int_equal(rc, FXP_EUNAVAIL);
    assert_null(b);
    assert_true(dt >= 0.9 && dt < 3.0);
    assert_non_null(strstr(err, "127.0.0.1:1,127.0.0.1:2"));
}

static void test_stream_conflict(void **state)
{
    char prefix[64], name[128], subj[128], err[512];
    const char *subjects[1] = {subj};
    struct fxp_bus_opts o;
    struct fxp_bus *b = NULL;
    jsStreamConfig cfg;
    struct raw r;
    int rc;

    (void)state;
    raw_open(&r);

    /* Our stream name, other subjects. */
    new_prefix(prefix, sizeof prefix);
    upper_name(name, sizeof name, prefix, "TICKS");
    snprintf(subj, sizeof subj, "%s.other.>", prefix);
    jsStreamConfig_Init(&cfg);
    cfg.Name = name;
    cfg.Subjects = subjects;
    cfg.SubjectsLen = 1;
    assert_int_equal(js_AddStream(NULL, r.js, &cfg, NULL, NULL), NATS_OK);
    opts_for(&o, prefix, NULL);
    rc = fxp_bus_open(nats_url(), &o, &b, err, sizeof err);
    print_message("conflict: %s: %s\n", fxp_err_name(rc), err);
    assert_int_equal(rc, FXP_EIO);
    assert_non_null(strstr(err, name));
    assert_non_null(strstr(err, subj));

    /* Another stream already captures our subjects. */
    new_prefix(prefix, sizeof prefix);
    snprintf(name, sizeof name, "FOREIGN_%d", (int)getpid());
    snprintf(subj, sizeof subj, "%s.bars.>", prefix);
    jsStreamConfig_Init(&cfg);
    cfg.Name = name;
    cfg.Subjects = subjects;
    cfg.SubjectsLen = 1;
    assert_int_equal(js_AddStream(NULL, r.js, &cfg, NULL, NULL), NATS_OK);
    opts_for(&o, prefix, NULL);
    rc = fxp_bus_open(nats_url(), &o, &b, err, sizeof err);
    print_message("overlap: %s: %s\n", fxp_err_name(rc), err);
    assert_int_equal(rc, FXP_EIO);
    assert_non_null(strstr(err, "BARS"));
    raw_close(&r);

    /* A group name the server would refuse. */
    new_prefix(prefix, sizeof prefix);
    b = open_bus(prefix, "bad.group");
    assert_int_equal(fxp_bus_subscribe(b, FXP_BUS_TICKS), FXP_EINVAL);
    static struct got dummy = {.tag = ""};
    size_t n = 9;
    assert_int_equal(fxp_bus_fetch(b, 1, 1, on_msg, &dummy, &n), FXP_EINVAL);
    assert_int_equal(n, 0);
    fxp_bus_close(b);
}

/* scripts/servers.sh VERB "$FXP_SERVERS_DIR" nats: the same port and the
 * same JetStream store after a start. */
static int servers_sh(const char *verb)
{
    char cmd[1024];
    const char *src = getenv("FXP_SOURCE_DIR");

    snprintf(cmd, sizeof cmd,
             "'%s/scripts/servers.sh' %s '%s' nats >/dev/null 2>&1",
             src ? src : ".", verb, getenv("FXP_SERVERS_DIR"));
    return system(cmd);
}

/* The server restarted by another thread. */
struct restarter {
    int rc;
    int finished; /* atomic */
};

static void *restart_nats(void *arg)
{
    struct restarter *r = arg;

    r->rc = servers_sh("restart");
    __atomic_store_n(&r->finished, 1, __ATOMIC_RELEASE);
    return NULL;
}

static void test_server_down_and_back(void **state)
{
    static struct got g;
    char prefix[64];
    struct fxp_bus *p, *c, *extra;
    size_t n = 0;
    int rc = FXP_OK;
    double t0;

    (void)state;
    if (!getenv("FXP_SERVERS_DIR"))
        skip();
    new_prefix(prefix, sizeof prefix);
    p = open_bus(prefix, NULL);
    c = open_sub(prefix, "g", FXP_BUS_TICKS);
    extra = open_bus(prefix, NULL);
    assert_int_equal(publish_range(p, "d", 0, 10), FXP_OK);
    assert_int_equal(fxp_bus_flush(p, 5000), FXP_OK);
    memset(&g, 0, sizeof g);
    g.tag = "d";
    g.check = 1;
    drain(c, &g, 10, 0); /* held, not committed */
    assert_int_equal(g.n, 10);

    assert_int_equal(servers_sh("stop"), 0);
    t0 = now_s();
    while (rc == FXP_OK && now_s() - t0 < 5) {
        rc = publish_range(p, "d", 10, 11);
        if (rc == FXP_OK)
            nats_Sleep(10);
    }
    print_message("down: publish %s after %.3f s: %s\n", fxp_err_name(rc),
                  now_s() - t0, fxp_bus_errmsg(p));
    assert_int_equal(rc, FXP_EUNAVAIL);
    t0 = now_s();
    rc = fxp_bus_flush(p, 5000);
    print_message("down: flush %s after %.3f s: %s\n", fxp_err_name(rc),
                  now_s() - t0, fxp_bus_errmsg(p));
    assert_int_equal(rc, FXP_EUNAVAIL);
    assert_true(now_s() - t0 < 1);
    assert_int_equal(fxp_bus_ping(p, 500), FXP_EUNAVAIL);
    assert_int_equal(fxp_bus_fetch(c, 10, 300, on_msg, &g, &n), FXP_EUNAVAIL);
    assert_int_equal(n, 0);
    t0 = now_s();
    assert_int_equal(fxp_bus_commit(c), FXP_EUNAVAIL);
    fxp_bus_close(extra);
    assert_true(now_s() - t0 < 2);

    assert_int_equal(servers_sh("start"), 0);
    t0 = now_s();
    while ((fxp_bus_ping(p, 500) != FXP_OK || fxp_bus_ping(c, 500) != FXP_OK) &&
           now_s() - t0 < 15)
        nats_Sleep(50);
    print_message("back: ping OK after %.3f s\n", now_s() - t0);
    rc = fxp_bus_commit(c); /* the 10 held across the outage */
    if (rc != FXP_OK)
        fail_msg("commit: %s: %s", fxp_err_name(rc), fxp_bus_errmsg(c));
    /* JetStream may need a moment more after the reconnect. */
    for (rc = -1; rc != FXP_OK && now_s() - t0 < 30;) {
        rc = publish_range(p, "d", 0, 20); /* everything: ids de-duplicate */
        if (rc == FXP_OK)
            rc = fxp_bus_flush(p, 2000);
        if (rc != FXP_OK)
            nats_Sleep(100);
    }
    assert_int_equal(rc, FXP_OK);
    assert_int_equal(stream_msgs(prefix), 20);

    g.n = 0;
    drain(c, &g, 10, 1);
    assert_int_equal(g.n, 10); /* the 10 new ones, once each */
    for (int k = 0; k < 10; k++)
        assert_int_equal(g.idx[k], 10 + k);
    fxp_bus_close(c);
    fxp_bus_close(p);
}

static void test_server_restart(void **state)
{
    enum { N = 3000, BATCH = 25 };
    static struct got g;
    static char seen[N];
    char prefix[64];
    struct fxp_bus *p;
    pthread_t th;
    struct restarter r = {-1, 0};
    int pub_err = 0, flush_err = 0, done = 0, started = 0;
    double t_down = 0, t_back = 0, t0 = now_s();

    (void)state;
    if (!getenv("FXP_SERVERS_DIR"))
        skip();
    new_prefix(prefix, sizeof prefix);
    p = open_bus(prefix, NULL);
    /* Publish in batches, each flushed; a failed batch is published again
     * whole. Paced while the restart runs, so some fall into the outage. */
    while (done < N || !__atomic_load_n(&r.finished, __ATOMIC_ACQUIRE)) {
        int to = done + BATCH < N ? done + BATCH : N;
        int rc;

        assert_true(now_s() - t0 < 120);
        if (done == N) {
            nats_Sleep(10);
            continue;
        }
        rc = publish_range(p, "x", done, to);
        if (rc == FXP_OK)
            rc = fxp_bus_flush(p, 2000);
        else
            pub_err++;
        if (rc != FXP_OK) {
            if (!t_down)
                t_down = now_s();
            flush_err++;
            assert_true(rc == FXP_EUNAVAIL || rc == FXP_ETIMEDOUT ||
                        rc == FXP_EIO);
            nats_Sleep(50);
            continue;
        }
        if (t_down && !t_back)
            t_back = now_s();
        done = to;
        if (!started && done >= N / 6) {
            started = 1;
            assert_int_equal(pthread_create(&th, NULL, restart_nats, &r), 0);
        }
        if (started && !__atomic_load_n(&r.finished, __ATOMIC_ACQUIRE))
            nats_Sleep(10);
    }
    pthread_join(th, NULL);
    assert_int_equal(r.rc, 0);
    print_message("restart: %d publish errors, %d failed batches, outage "
                  "seen for %.2f s\n",
                  pub_err, flush_err, t_back - t_down);
    assert_true(flush_err > 0); /* the outage was noticed */
    assert_int_equal(fxp_bus_ping(p, 2000), FXP_OK);
    fxp_bus_close(p);

    assert_int_equal(stream_msgs(prefix), N);
    memset(&g, 0, sizeof g);
    g.tag = "x";
    g.check = 1;
    struct fxp_bus *c = open_sub(prefix, "g", FXP_BUS_TICKS);
    drain(c, &g, N, 1);
    assert_int_equal(g.n, N);
    memset(seen, 0, sizeof seen);
    for (int k = 0; k < g.n; k++)
        seen[g.idx[k]]++;
    for (int i = 0; i < N; i++)
        assert_int_equal(seen[i], 1);
    fxp_bus_close(c);
}

static int count_only(void *ud, const struct fxp_bus_msg *m)
{
    (void)m;
    ++*(size_t *)ud;
    return 0;
}

static void test_throughput(void **state)
{
    enum { N = 100000, SIZE = 4096 };
    char prefix[64], id[32], key[16];
    struct fxp_bus *p, *c;
    static unsigned char buf[SIZE];
    size_t got = 0;
    double t0, t1, t2;

    (void)state;
    for (int i = 0; i < SIZE; i++)
        buf[i] = (unsigned char)(i * 31);
    new_prefix(prefix, sizeof prefix);
    p = open_bus(prefix, NULL);
    t0 = now_s();
    for (int i = 0; i < N; i++) {
        snprintf(id, sizeof id, "tp-%d", i);
        snprintf(key, sizeof key, "SYM%02d", i % 28);
        assert_int_equal(
            fxp_bus_publish(p, FXP_BUS_TICKS, key, buf, SIZE, id, NULL),
            FXP_OK);
    }
    assert_int_equal(fxp_bus_flush(p, 60000), FXP_OK);
    t1 = now_s();
    fxp_bus_close(p);

    c = open_sub(prefix, "g", FXP_BUS_TICKS);
    t2 = now_s();
    while (got < N) {
        size_t n = 0;
        assert_int_equal(fxp_bus_fetch(c, 1000, 2000, count_only, &got, &n),
                         FXP_OK);
        assert_int_equal(fxp_bus_commit(c), FXP_OK);
        if (!n)
            break;
    }
    double t3 = now_s();
    assert_int_equal(got, N);
    fxp_bus_close(c);
    print_message("throughput: publish+flush %d x %d B in %.2f s = %.0f msg/s "
                  "(%.0f MB/s); fetch+commit in %.2f s = %.0f msg/s\n",
                  N, SIZE, t1 - t0, N / (t1 - t0),
                  N * (double)SIZE / (t1 - t0) / 1e6, t3 - t2, N / (t3 - t2));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unreachable),
        cmocka_unit_test(test_stream_conflict),
        cmocka_unit_test(test_server_down_and_back),
        cmocka_unit_test(test_server_restart),
        cmocka_unit_test(test_throughput),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
