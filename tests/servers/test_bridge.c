/*
 * test_bridge.c - the bridge (bridge.h, `fxpipe bridge`) between a real
 * NATS JetStream and three stores: a SQLite file, PostgreSQL, ClickHouse.
 * servers: nats postgres clickhouse
 *
 * Bars are published as encoded batches with fxp_bus_publish; the bridge
 * runs as a library in a thread or as the fxpipe binary; every store must
 * end holding exactly the expected bars (highest version wins, nothing
 * doubled), through a store outage, a kill -9, SIGTERM and an optional
 * store whose batches go to the dead-letter file. Each test has its own
 * bus prefix and its own PostgreSQL and ClickHouse databases.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "bridge_world.h"

/* ---- Library tests: the bridge in a thread ---- */

struct runner {
    pthread_t t;
    struct fxp_bridge *br;
    volatile sig_atomic_t stop;
    int rc;
    char err[1024];
};

static void *run_thread(void *ud)
{
    struct runner *r = ud;
    r->rc = fxp_bridge_run(r->br, &r->stop, r->err, sizeof r->err);
    return NULL;
}

static struct runner *g_runner;
static struct fxp_health *g_health;

static struct runner *start(struct world *w, struct fxp_bridge_cfg *c)
{
    struct runner *r = calloc(1, sizeof *r);
    char err[1024];
    assert_non_null(r);
    if (!c->bus_url)
        c->bus_url = env("FXP_NATS_URL");
    c->prefix = w->prefix;
    c->on_log = log_line;
    c->wait_ms = 20000;
    int rc = fxp_bridge_new(c, &r->br, err, sizeof err);
    if (rc != FXP_OK)
        fail_msg("bridge_new: %s", err);
    assert_int_equal(pthread_create(&r->t, NULL, run_thread, r), 0);
    g_runner = r;
    return r;
}

static void finish(struct runner *r)
{
    r->stop = 1;
    pthread_join(r->t, NULL);
    g_runner = NULL;
    int rc = r->rc;
    if (rc != FXP_OK)
        fprintf(stderr, "bridge_run: %s (%s)\n", r->err, fxp_err_name(rc));
    fxp_health_stop(g_health); /* before the bridge its checks read */
    g_health = NULL;
    fxp_bridge_free(r->br);
    free(r);
    assert_int_equal(rc, FXP_OK);
}

static struct fxp_health *health(void)
{
    char err[512];
    assert_int_equal(
        fxp_health_start("127.0.0.1:0", "bridge", &g_health, err, sizeof err),
        FXP_OK);
    return g_health;
}

static int teardown(void **state)
{
    (void)state;
    if (g_runner) {
        g_runner->stop = 1;
        pthread_join(g_runner->t, NULL);
        fxp_health_stop(g_health);
        fxp_bridge_free(g_runner->br);
        free(g_runner);
        g_runner = NULL;
        g_health = NULL;
    }
    fxp_health_stop(g_health);
    g_health = NULL;
    world_cleanup();
    return 0;
}

static uint64_t handled(struct runner *r)
{
    struct fxp_bridge_stats s;
    fxp_bridge_stats_get(r->br, &s);
    return s.messages;
}

static void wait_handled(struct runner *r, uint64_t n, int secs)
{
    for (int i = 0; i < secs * 20 && handled(r) < n; i++)
        msleep(50);
    assert_int_equal(handled(r), n);
}

static void cfg_for(struct world *w, struct fxp_bridge_cfg *c,
                    struct fxp_bridge_store *st, bool ch_optional)
{
    fxp_bridge_cfg_default(c);
    st[0] = (struct fxp_bridge_store){.url = w->sqlite};
    st[1] = (struct fxp_bridge_store){.url = w->pg};
    st[2] = (struct fxp_bridge_store){.url = w->ch, .optional = ch_optional};
    c->stores = st;
    c->n_stores = 3;
    c->batch = 5;
}

/* A message every store refuses as bad data: a bar of an unknown source
 * (of a symbol the checks do not look at). */
static void pub_bad(struct pub *p)
{
    uint32_t id;
    assert_int_equal(fxp_symtab_intern(p->st, "AUDUSD", 6, &id), FXP_OK);
    struct fxp_bar bar = mkbar(0, 0, 1);
    bar.sym = id;
    bar.source = 9;
    struct fxp_store_batch b = {.bars = &bar, .n_bars = 1, .symtab = p->st};
    pub_batch(p, "AUDUSD", &b);
}

struct dlq_seen {
    int undecodable, refused[3];
    struct world *w;
};

static int on_entry(void *ud, const struct fxp_dlq_entry *e)
{
    struct dlq_seen *d = ud;
    d->undecodable += !strcmp(e->reason, "undecodable");
    for (int k = 0; k < 3; k++)
        d->refused[k] += !strcmp(e->reason, "rejected_by_store") &&
                         strstr(e->source, store_url(d->w, k)) &&
                         e->n_records == 1;
    return 0;
}

/* Three stores, revisions out of order, an undecodable message, one the
 * stores refuse among good ones, rejects, health and metrics; a
 * republished batch changes nothing. */
static void test_bridge__three_stores_highest_version(void **state)
{
    (void)state;
    struct world *w = world_new("fan");
    struct pub *p = pub_open(w);
    for (int s = 0; s < 2; s++) {
        if (s == 1)
            pub_bad(p);
        for (int i = 0; i < 60; i += 10)
            pub_bars(p, w, s, i, 10, 1);
        for (int i = 0; i < 30; i += 10)
            pub_bars(p, w, s, i, 10, 3);
        for (int i = 0; i < 30; i += 10)
            pub_bars(p, w, s, i, 10, 2); /* older revision: loses */
    }
    pub_raw(p, "EURUSD", "not a batch", 11);
    pub_rejects(p, w, 2);
    pub_flush(p);

    struct fxp_health *h = health();
    char err[512];
    struct fxp_bridge_cfg c;
    struct fxp_bridge_store st[3];
    cfg_for(w, &c, st, false);
    c.dlq_path = w->dlq;
    c.health = h;
    struct runner *r = start(w, &c);
    wait_handled(r, 27, 60);

    char body[8192];
    assert_int_equal(http_get(fxp_health_port(h), "/readyz", body, sizeof body),
                     200);
    assert_non_null(strstr(body, "\"status\":\"ready\""));
    assert_int_equal(
        http_get(fxp_health_port(h), "/metrics", body, sizeof body), 200);
    assert_non_null(strstr(body, "fxpipe_bridge_messages_total 27"));
    assert_non_null(strstr(body, "fxpipe_bridge_dead_letters_total 4"));
    assert_non_null(strstr(body, "fxpipe_bridge_breaker_state{store=\""));
    assert_non_null(strstr(body, "fxpipe_bridge_bars_total{store=\"sqlite:"));

    /* The same revisions once more (new message ids): nothing changes. */
    for (int i = 0; i < 30; i += 10)
        pub_bars(p, w, 0, i, 10, 2);
    pub_bars(p, w, 1, 0, 10, 3);
    pub_flush(p);
    wait_handled(r, 31, 60);
    struct fxp_bridge_stats s;
    fxp_bridge_stats_get(r->br, &s);
    assert_int_equal(s.undecodable, 1);
    assert_int_equal(s.dead_lettered, 4);
    assert_int_equal(s.rejects, 2);
    finish(r);

    for (int k = 0; k < 3; k++)
        check_store(w, k);
    assert_int_equal(sql_count(w, 1), 120);
    assert_int_equal(sql_count(w, 2), 120);
    struct fxp_dlq *d = NULL;
    assert_int_equal(fxp_dlq_open(w->dlq, &d, err, sizeof err), FXP_OK);
    assert_int_equal(fxp_dlq_count(d), 4);
    struct dlq_seen seen = {.w = w};
    assert_int_equal(fxp_dlq_list(d, on_entry, &seen), FXP_OK);
    assert_int_equal(seen.undecodable, 1);
    for (int k = 0; k < 3; k++)
        assert_int_equal(seen.refused[k], 1);
    fxp_dlq_close(d);
    pub_close(p);
    world_free(w);
}

/* ClickHouse stops: the batch is retried, nothing is committed, /readyz
 * says not-ready; it starts again: everything arrives once. */
static void test_bridge__store_down_then_back(void **state)
{
    (void)state;
    struct world *w = world_new("down");
    struct pub *p = pub_open(w);
    struct fxp_health *h = health();
    char body[8192];
    struct fxp_bridge_cfg c;
    struct fxp_bridge_store st[3];
    cfg_for(w, &c, st, false);
    c.retry.base_ms = 200;
    c.retry.max_ms = 1000;
    c.breaker_open_ms = 1500;
    c.health = h; /* no dead-letter file: a required store blocks */
    struct runner *r = start(w, &c);
    for (int i = 0; i < 50; i += 10)
        pub_bars(p, w, 0, i, 10, 1);
    pub_flush(p);
    wait_handled(r, 5, 60);

    server_ctl("stop", "clickhouse");
    for (int i = 0; i < 50; i += 10)
        pub_bars(p, w, 1, i, 10, 1);
    pub_flush(p);
    struct fxp_bridge_stats s;
    for (int i = 0; i < 200; i++) {
        fxp_bridge_stats_get(r->br, &s);
        if (s.retries >= 5)
            break;
        msleep(50);
    }
    assert_true(s.retries >= 5);
    uint64_t commits = s.commits;
    assert_int_equal(http_get(fxp_health_port(h), "/readyz", body, sizeof body),
                     503);
    assert_non_null(strstr(body, "clickhouse"));
    sleep(2);
    fxp_bridge_stats_get(r->br, &s);
    assert_int_equal(s.commits, commits); /* nothing committed meanwhile */
    assert_int_equal(s.messages, 5);

    server_ctl("start", "clickhouse");
    wait_handled(r, 10, 90);
    assert_true(log_has("write failed, retrying with backoff"));
    assert_true(log_has("took the batch after"));
    finish(r);
    for (int k = 0; k < 3; k++)
        check_store(w, k);
    assert_int_equal(sql_count(w, 2), 100);
    pub_close(p);
    world_free(w);
}

/* An optional store that fails: its batches go to the dead-letter file
 * naming it, the others go on; `fxpipe dlq replay` stores them later. */
static void test_bridge__optional_store_dead_letters(void **state)
{
    (void)state;
    struct world *w = world_new("opt");
    struct pub *p = pub_open(w);
    struct fxp_health *h = health();
    char body[8192];
    struct fxp_bridge_cfg c;
    struct fxp_bridge_store st[3];
    cfg_for(w, &c, st, true);
    c.dlq_path = w->dlq;
    c.retry.max_attempts = 3;
    c.retry.base_ms = 100;
    c.retry.max_ms = 200;
    c.breaker_open_ms = 1000;
    c.health = h;
    struct runner *r = start(w, &c);
    pub_bars(p, w, 0, 0, 20, 1);
    pub_flush(p);
    wait_handled(r, 1, 60);

    server_ctl("stop", "clickhouse");
    pub_bars(p, w, 0, 20, 20, 1);
    pub_bars(p, w, 1, 0, 20, 1);
    pub_flush(p);
    wait_handled(r, 3, 60);
    struct fxp_bridge_stats s;
    fxp_bridge_stats_get(r->br, &s);
    assert_true(s.dead_lettered >= 1);
    assert_int_equal(http_get(fxp_health_port(h), "/readyz", body, sizeof body),
                     200);
    assert_non_null(strstr(body, "\"status\":\"degraded\""));
    finish(r);
    check_store(w, 0); /* SQLite and PostgreSQL: everything */
    check_store(w, 1);

    server_ctl("start", "clickhouse");
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s dlq list --dlq %s | grep -q 'bridge -> %s'",
             fxpipe(), w->dlq, w->ch);
    assert_int_equal(sh(cmd), 0);
    snprintf(cmd, sizeof cmd, "%s dlq replay --dlq %s --store %s >/dev/null",
             fxpipe(), w->dlq, w->ch);
    assert_int_equal(sh(cmd), 0);
    check_store(w, 2);
    pub_close(p);
    world_free(w);
}

static void quiet(const rd_kafka_t *rk, int level, const char *fac,
                  const char *buf)
{
    (void)rk, (void)level, (void)fac, (void)buf;
}

/* Kafka (librdkafka's mock cluster, in this process): a store outage is
 * waited out with the consumer paused and polled, then everything
 * arrives once. */
static void test_bridge__kafka_store_outage(void **state)
{
    (void)state;
    struct world *w = world_new("kafka");
    rd_kafka_conf_t *kc = rd_kafka_conf_new();
    char err[256], url[512], topic[96];
    rd_kafka_conf_set_log_cb(kc, quiet);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, kc, err, sizeof err);
    assert_non_null(rk);
    rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(rk, 1);
    assert_non_null(mc);
    snprintf(url, sizeof url, "kafka://%s",
             rd_kafka_mock_cluster_bootstraps(mc));
    snprintf(topic, sizeof topic, "%s.bars", w->prefix);
    assert_int_equal(rd_kafka_mock_topic_create(mc, topic, 4, 1), 0);

    struct pub *p = pub_open_url(w, url);
    struct fxp_bridge_cfg c;
    struct fxp_bridge_store st[3];
    cfg_for(w, &c, st, false);
    c.bus_url = url;
    c.retry.base_ms = 300;
    c.retry.max_ms = 1000;
    c.breaker_open_ms = 1000;
    struct runner *r = start(w, &c);
    for (int s = 0; s < 3; s++)
        pub_bars(p, w, s, 0, 20, 1);
    pub_flush(p);
    wait_handled(r, 3, 60);
    server_ctl("stop", "clickhouse");
    for (int s = 0; s < 3; s++)
        pub_bars(p, w, s, 20, 20, 2);
    pub_flush(p);
    sleep(4); /* several keep-alive polls while paused */
    assert_int_equal(handled(r), 3);
    server_ctl("start", "clickhouse");
    wait_handled(r, 6, 90);
    finish(r);
    for (int k = 0; k < 3; k++)
        check_store(w, k);
    assert_int_equal(sql_count(w, 2), 120);
    pub_close(p);
    rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(rk);
    world_free(w);
}

/* ---- The binary: start-up wait, kill -9, SIGTERM ---- */

/* A store on a closed port: a log line per attempt, exit 3 after --wait. */
static void test_bridge__closed_port_waits_then_gives_up(void **state)
{
    (void)state;
    struct world *w = world_new("port");
    char pg[200], wait[] = "2";
    snprintf(pg, sizeof pg, "postgresql://postgres@127.0.0.1:%d/postgres",
             closed_port());
    const char *args[] = {"--store", pg, "--wait", wait, NULL};
    double t0 = now_s();
    pid_t pid = spawn(w, args);
    int status = reap(pid, 30);
    assert_true(now_s() - t0 < 20);
    assert_int_equal(status, 3);
    char want[300];
    snprintf(want, sizeof want, "bridge: waiting for store '%s'", pg);
    assert_true(file_has(w->log, want));
    world_free(w);
}

/* kill -9 in the middle of the stream, then a restart: what was not
 * committed comes again and every store ends identical; SIGTERM then
 * exits 0 at once with a summary. */
static void test_bridge__kill9_then_restart(void **state)
{
    (void)state;
    struct world *w = world_new("kill");
    struct pub *p = pub_open(w);
    for (int s = 0; s < 3; s++)
        for (int i = 0; i < 1000; i += 10)
            pub_bars(p, w, s, i, 10, 1 + (i / 10) % 2);
    for (int s = 0; s < 3; s++)
        for (int i = 0; i < 1000; i += 10)
            pub_bars(p, w, s, i, 10, 1); /* older: loses where v2 is */
    pub_flush(p);
    const char *args[] = {"--batch", "2", NULL};
    long total = want_total(w);
    pid_t pid = spawn(w, args);
    for (int i = 0; i < 600 && sqlite_count(w) < total / 8; i++)
        msleep(50);
    kill(pid, SIGKILL);
    assert_int_equal(reap(pid, 10), 128 + SIGKILL);
    long partial = sqlite_count(w);
    fprintf(stderr, "  killed with %ld of %ld bars in SQLite\n", partial,
            total);
    assert_true(partial > 0 && partial < total);

    /* What was in flight comes again (NATS: after its 30 s ack wait). */
    pid = spawn(w, args);
    wait_stores(w, 120);
    assert_int_equal(sql_count(w, 1), total);
    assert_int_equal(sql_count(w, 2), total);
    double t0 = now_s();
    kill(pid, SIGTERM);
    assert_int_equal(reap(pid, 40), 0);
    assert_true(now_s() - t0 < 5);
    assert_true(file_has(w->log, " messages, "));
    for (int k = 0; k < 3; k++)
        check_store(w, k);
    pub_close(p);
    world_free(w);
}

/* SIGTERM while ClickHouse is down: exit 0 within the stop deadline
 * without committing; after a restart with ClickHouse back, all of it
 * is there. */
static void test_bridge__sigterm_while_store_down(void **state)
{
    (void)state;
    struct world *w = world_new("term");
    struct pub *p = pub_open(w);
    const char *args[] = {"--stop-deadline", "2", "--dlq", "none", NULL};
    pid_t pid = spawn(w, args);
    pub_bars(p, w, 0, 0, 30, 1);
    pub_flush(p);
    for (int i = 0; i < 600 && sql_count(w, 2) < 30; i++)
        msleep(50);
    assert_int_equal(sql_count(w, 2), 30);

    server_ctl("stop", "clickhouse");
    pub_bars(p, w, 0, 30, 30, 1);
    pub_bars(p, w, 1, 0, 30, 1);
    pub_flush(p);
    for (int i = 0; i < 600 && !file_has(w->log, "retrying with backoff"); i++)
        msleep(50);
    double t0 = now_s();
    kill(pid, SIGTERM);
    assert_int_equal(reap(pid, 30), 0);
    double took = now_s() - t0;
    fprintf(stderr, "  stopped in %.2f s with a store down\n", took);
    assert_true(took < 6);
    assert_true(file_has(w->log, "not committed"));

    server_ctl("start", "clickhouse");
    pid = spawn(w, args);
    wait_stores(w, 90);
    kill(pid, SIGTERM);
    assert_int_equal(reap(pid, 40), 0);
    assert_int_equal(sql_count(w, 2), 90);
    pub_close(p);
    world_free(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_bridge__three_stores_highest_version,
                                  teardown),
        cmocka_unit_test_teardown(test_bridge__store_down_then_back, teardown),
        cmocka_unit_test_teardown(test_bridge__optional_store_dead_letters,
                                  teardown),
        cmocka_unit_test_teardown(test_bridge__kafka_store_outage, teardown),
        cmocka_unit_test_teardown(test_bridge__closed_port_waits_then_gives_up,
                                  teardown),
        cmocka_unit_test_teardown(test_bridge__kill9_then_restart, teardown),
        cmocka_unit_test_teardown(test_bridge__sigterm_while_store_down,
                                  teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
