/*
 * test_bus_kafka.c - the Kafka bus backend (bus.h) against librdkafka's
 * mock cluster (real Kafka protocol on loopback) started in this process:
 * servers:
 *
 * Order per symbol, keys, headers; redelivery until committed,
 * commit_through from a second thread; two members splitting partitions;
 * a rebalance dropping revoked offsets; pause/resume; a refused message;
 * missing topics made; brokers down; an unreachable bootstrap.
 * FXP_KAFKA_WIRE_OUT=FILE: only publish a known set to
 * kafka://$FXP_KAFKA_BOOTSTRAP and describe it in FILE (test_kafka_wire.py).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pthread.h>
#include <time.h>

#include <cmocka.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "fxpipe/batchcodec.h"
#include "fxpipe/bus.h"
#include "fxpipe/err.h"
#include "fxpipe/store.h"
#include "fxpipe/symbol.h"

#define T0     1704067200000LL /* 2024-01-01T00:00:00Z */
#define MAXMSG 1024

static const char *const SYMS[] = {"EURUSD", "GBPUSD", "USDJPY", "AUDUSD",
                                   "USDCHF", "USDCAD", "NZDUSD", "EURGBP",
                                   "EURJPY", "GBPJPY", "XAUUSD", "XAGUSD",
                                   "EURCHF", "AUDJPY", "CADJPY", "CHFJPY"};

static rd_kafka_t *g_rk;
static rd_kafka_mock_cluster_t *g_mc;
static char g_url[512];
static int g_req_ms = 5000; /* request_timeout_ms of open_bus */

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void quiet(const rd_kafka_t *rk, int level, const char *fac,
                  const char *buf)
{
    (void)rk, (void)level, (void)fac, (void)buf;
}

static int setup_cluster(void **state)
{
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    char err[256];
    static const char *pre[] = {"t1", "t2", "t3", "t3b", "t5", "t8"};

    (void)state;
    rd_kafka_conf_set_log_cb(c, quiet);
    g_rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, err, sizeof err);
    assert_non_null(g_rk);
    g_mc = rd_kafka_mock_cluster_new(g_rk, 3);
    assert_non_null(g_mc);
    snprintf(g_url, sizeof g_url, "kafka://%s",
             rd_kafka_mock_cluster_bootstraps(g_mc));
    for (size_t i = 0; i < sizeof pre / sizeof *pre; i++)
        for (int s = 0; s < 2; s++) {
            char name[64];
            snprintf(name, sizeof name, "%s.%s", pre[i], s ? "bars" : "ticks");
            assert_int_equal(rd_kafka_mock_topic_create(g_mc, name, 4, 3), 0);
        }
    return 0;
}

static int teardown_cluster(void **state)
{
    (void)state;
    rd_kafka_mock_cluster_destroy(g_mc);
    rd_kafka_destroy(g_rk);
    return 0;
}

#define OK(x) assert_int_equal((x), FXP_OK)

static struct fxp_bus *open_bus(const char *prefix, const char *group)
{
    struct fxp_bus_opts o;
    struct fxp_bus *b = NULL;
    char err[512];

    fxp_bus_opts_default(&o);
    o.prefix = prefix;
    o.group = group;
    o.connect_timeout_ms = 10000;
    o.request_timeout_ms = g_req_ms;
    if (fxp_bus_open(g_url, &o, &b, err, sizeof err) != FXP_OK)
        fail_msg("open %s: %s", g_url, err);
    assert_string_equal(fxp_bus_backend(b), "kafka");
    return b;
}

/* A member of group reading the ticks of prefix. */
static struct fxp_bus *member(const char *prefix, const char *group)
{
    struct fxp_bus *b = open_bus(prefix, group);

    OK(fxp_bus_subscribe(b, FXP_BUS_TICKS));
    return b;
}

/* Publish batch seq of sym: 3 ticks, ts and positions from seq, msg id
 * "SYM-seq", correlation "c-SYM-seq"; the ticks into t when not NULL. */
static void publish_t(struct fxp_bus *b, const char *sym, int seq,
                      struct fxp_tick *t)
{
    struct fxp_symtab *st = fxp_symtab_new(4);
    struct fxp_tick tk[3] = {{0}};
    uint64_t pos[3];
    char id[32], corr[40];
    void *buf;
    size_t len;
    uint32_t sid;

    OK(fxp_symtab_intern(st, sym, strlen(sym), &sid));
    for (int i = 0; i < 3; i++) { /* every other one with a volume */
        tk[i].ts_ms = T0 + seq * 1000LL + i;
        tk[i].bid = 1.1 + seq * 1e-5 + i * 1e-6;
        tk[i].ask = tk[i].bid + 0.0002;
        tk[i].volume = i == 1 ? 1000000.5 * seq : 0;
        tk[i].flags = i == 1 ? FXP_TICK_HAS_VOLUME : 0;
        tk[i].sym = sid;
        pos[i] = (uint64_t)seq * 10 + (uint64_t)i;
    }
    struct fxp_store_batch batch = {
        .ticks = tk, .n_ticks = 3, .tick_pos = pos, .symtab = st};
    OK(fxp_batch_encode(&batch, &buf, &len));
    snprintf(id, sizeof id, "%s-%d", sym, seq);
    snprintf(corr, sizeof corr, "c-%s", id);
    OK(fxp_bus_publish(b, FXP_BUS_TICKS, sym, buf, len, id, corr));
    if (t)
        memcpy(t, tk, sizeof tk);
    free(buf);
    fxp_symtab_free(st);
}

static void publish(struct fxp_bus *b, const char *sym, int seq)
{
    publish_t(b, sym, seq, NULL);
}

/* seq from..to-1 of the first nsyms symbols, seq-major; flushed. */
static void publish_all(struct fxp_bus *b, int nsyms, int from, int to)
{
    for (int seq = from; seq < to; seq++)
        for (int s = 0; s < nsyms; s++)
            publish(b, SYMS[s], seq);
    OK(fxp_bus_flush(b, 10000));
}

struct rec {
    char key[16], id[32];
    int seq;
    uint64_t pos;
};

struct coll {
    struct rec r[MAXMSG];
    size_t n;
    size_t refuse; /* refuse once when n + 1 reaches it (0: never) */
};

/* Check one message against what publish() sent and record it. */
static int collect(void *ud, const struct fxp_bus_msg *m)
{
    struct coll *c = ud;
    const char *dash = strrchr(m->msg_id, '-');
    struct fxp_decoded_batch *d;
    struct fxp_symtab *st;
    char corr[40];

    if (c->refuse && c->n + 1 == c->refuse) {
        c->refuse = 0;
        return 1;
    }
    assert_true(c->n < MAXMSG);
    assert_non_null(dash);
    struct rec *r = &c->r[c->n++];
    snprintf(r->key, sizeof r->key, "%s", m->key);
    snprintf(r->id, sizeof r->id, "%s", m->msg_id);
    r->seq = atoi(dash + 1);
    r->pos = m->pos;
    assert_int_equal((int)(dash - m->msg_id), (int)strlen(m->key));
    assert_memory_equal(m->msg_id, m->key, strlen(m->key));
    snprintf(corr, sizeof corr, "c-%s", m->msg_id);
    assert_string_equal(m->correlation_id, corr);
    assert_int_equal(m->redeliveries, 0);
    st = fxp_symtab_new(4);
    OK(fxp_batch_decode(m->data, m->len, st, &d));
    const struct fxp_store_batch *v = fxp_decoded_batch_view(d);
    assert_int_equal(v->n_ticks, 3);
    assert_string_equal(fxp_symtab_name(st, v->ticks[0].sym), m->key);
    assert_true(v->ticks[0].ts_ms == T0 + r->seq * 1000LL);
    assert_true(v->tick_pos && v->tick_pos[2] == (uint64_t)r->seq * 10 + 2);
    fxp_decoded_batch_free(d);
    fxp_symtab_free(st);
    return 0;
}

/* One fetch of up to max into c; returns how many came. */
static size_t fetch(struct fxp_bus *b, struct coll *c, size_t max, int tmo)
{
    size_t n = 99;

    OK(fxp_bus_fetch(b, max, tmo, collect, c, &n));
    return n;
}

/* Fetch into c until it holds want messages or timeout_ms passed. */
static size_t fetch_until(struct fxp_bus *b, struct coll *c, size_t want,
                          int timeout_ms, bool commit)
{
    for (int64_t end = now_ms() + timeout_ms; c->n < want && now_ms() < end;)
        if (fetch(b, c, 64, 200) && commit)
            OK(fxp_bus_commit(b));
    return c->n;
}

static bool has_id(const struct coll *c, const char *id)
{
    for (size_t i = 0; i < c->n; i++)
        if (!strcmp(c->r[i].id, id))
            return true;
    return false;
}

/* Within c: every key's seq and pos grow in one partition; no id twice. */
static void check_order(const struct coll *c)
{
    for (size_t i = 0; i < c->n; i++)
        for (size_t j = i + 1; j < c->n; j++) {
            assert_string_not_equal(c->r[i].id, c->r[j].id);
            if (strcmp(c->r[i].key, c->r[j].key))
                continue;
            assert_true(c->r[i].seq < c->r[j].seq);
            assert_true(c->r[i].pos < c->r[j].pos);
            assert_true(c->r[i].pos >> 40 == c->r[j].pos >> 40);
        }
}

/* A new member of group reads up to a fresh marker and 2 s more: what
 * else it gets was not committed. c gets everything, marker included. */
static void read_to_marker(const char *prefix, const char *group,
                           struct coll *c)
{
    struct fxp_bus *p = open_bus(prefix, NULL), *m = member(prefix, group);

    memset(c, 0, sizeof *c);
    publish(p, "XAUUSD", 999);
    OK(fxp_bus_flush(p, 10000));
    while (!has_id(c, "XAUUSD-999"))
        assert_true(fetch_until(m, c, c->n + 1, 20000, false) > 0);
    fetch_until(m, c, MAXMSG, 2000, false); /* other partitions' too */
    fxp_bus_close(m);
    fxp_bus_close(p);
}

static void test_publish_fetch_order(void **state)
{
    struct fxp_bus *p = open_bus("t1", NULL), *c = member("t1", "g1");
    static struct coll got;

    (void)state;
    OK(fxp_bus_ping(p, 2000));
    publish_all(p, 5, 0, 40);
    assert_int_equal(fetch_until(c, &got, 200, 30000, false), 200);
    check_order(&got);
    OK(fxp_bus_commit(c));
    fxp_bus_close(c);
    fxp_bus_close(p);
}

/* Distinct message ids over both members' collections. */
static size_t distinct(const struct coll *c)
{
    size_t n = 0;
    for (int k = 0; k < 2; k++)
        for (size_t i = 0; i < c[k].n; i++) {
            bool seen = false;
            for (int k2 = 0; k2 <= k && !seen; k2++)
                for (size_t j = 0; j < (k2 == k ? i : c[k2].n) && !seen; j++)
                    seen = !strcmp(c[k].r[i].id, c[k2].r[j].id);
            n += !seen;
        }
    return n;
}

static void test_two_members_split(void **state)
{
    struct fxp_bus *p = open_bus("t3", NULL);
    struct fxp_bus *m[2] = {member("t3", "g3"), member("t3", "g3")};
    static struct coll got[2];

    (void)state;
    /* Let the group settle with both members before anything exists. */
    for (int64_t end = now_ms() + 6000; now_ms() < end;)
        for (int i = 0; i < 2; i++)
            fetch(m[i], &got[i], 64, 100);
    publish_all(p, 16, 0, 25);
    /* A commit may be refused while the group rebalances (a member that
     * starved for CPU missed its session): then what it held is delivered
     * again, to whichever member owns the partition now. */
    bool rebalanced = false;
    for (int64_t end = now_ms() + 30000; distinct(got) < 400 && now_ms() < end;)
        for (int i = 0; i < 2; i++) {
            fetch(m[i], &got[i], 64, 100);
            int rc = fxp_bus_commit(m[i]);
            if (rc != FXP_OK) {
                rebalanced = true;
                print_message("# commit refused during a rebalance: %s\n",
                              fxp_bus_errmsg(m[i]));
            }
        }
    assert_int_equal(distinct(got), 400); /* nothing lost */
    assert_true(got[0].n > 0 && got[1].n > 0);
    if (!rebalanced) { /* then each exactly once, in order, disjoint */
        check_order(&got[0]);
        check_order(&got[1]);
        assert_int_equal(got[0].n + got[1].n, 400);
        for (size_t i = 0; i < got[0].n; i++)
            for (size_t j = 0; j < got[1].n; j++) {
                assert_string_not_equal(got[0].r[i].id, got[1].r[j].id);
                assert_true(got[0].r[i].pos >> 40 != got[1].r[j].pos >> 40);
            }
    }
    fxp_bus_close(m[0]);
    fxp_bus_close(m[1]);
    fxp_bus_close(p);
    read_to_marker("t3", "g3", &got[0]);
    assert_int_equal(got[0].n, 1);
}

/* A fetches everything, B joins: A's pending offsets of the partitions it
 * lost must not be committed by A's next commit. */
static void test_rebalance_drops_revoked(void **state)
{
    struct fxp_bus *p = open_bus("t3b", NULL), *a = member("t3b", "g3b"), *b;
    static struct coll first, after[2], seen;

    (void)state;
    publish_all(p, 16, 0, 6);
    assert_int_equal(fetch_until(a, &first, 96, 30000, false), 96);
    b = member("t3b", "g3b");
    for (int64_t end = now_ms() + 30000;
         distinct(after) < 96 && now_ms() < end;) {
        fetch(a, &after[0], 64, 100);
        fetch(b, &after[1], 64, 100);
    }
    assert_int_equal(distinct(after), 96); /* nothing lost */
    assert_true(after[1].n > 0);
    if (after[0].n + after[1].n > 96) {
        /* More than the one rebalance this test is about happened (a
         * member starved of CPU missed its session): what is checked
         * below is not defined then. */
        print_message("# %zu deliveries for 96 messages: another rebalance "
                      "happened; the revoked-offsets check is skipped\n",
                      after[0].n + after[1].n);
        fxp_bus_close(b);
        fxp_bus_close(a);
        fxp_bus_close(p);
        skip();
    }
    OK(fxp_bus_commit(a)); /* only what A got after the rebalance */
    fxp_bus_close(b);      /* B commits nothing */
    fxp_bus_close(a);
    fxp_bus_close(p);

    read_to_marker("t3b", "g3b", &seen);
    assert_int_equal(seen.n, after[1].n + 1);
    for (size_t i = 0; i < after[1].n; i++)
        assert_true(has_id(&seen, after[1].r[i].id));
}

static struct fxp_bus *g_ct_bus;
static int g_ct_rc = -100;

static void *commit_thread(void *arg)
{
    g_ct_rc = fxp_bus_commit_through(g_ct_bus, 8);
    return arg;
}

/* No commit: all again; commit_through(8) from a second thread while the
 * first fetches: from the 9th on again; commit: none again. */
static void test_redelivery_and_commits(void **state)
{
    struct fxp_bus *p = open_bus("t2", NULL), *a = member("t2", "g2");
    static struct coll got;
    pthread_t th;

    (void)state;
    publish_all(p, 1, 0, 20); /* EURUSD 0..19 */
    for (int round = 0; round < 3; round++) {
        memset(&got, 0, sizeof got);
        assert_int_equal(fetch_until(a, &got, 20, 30000, false), 20);
        for (int i = 0; i < 20; i++)
            assert_int_equal(got.r[i].seq, round == 2 ? 8 + i : i);
        if (round == 1) { /* ordinals 1..20 are seq 0..19 */
            g_ct_bus = a;
            assert_int_equal(pthread_create(&th, NULL, commit_thread, NULL), 0);
            assert_int_equal(fetch(a, &got, 64, 300), 0);
            assert_int_equal(pthread_join(th, NULL), 0);
            OK(g_ct_rc);
        }
        if (round == 2)
            OK(fxp_bus_commit(a));
        fxp_bus_close(a);
        if (round < 2)
            a = member("t2", "g2");
        if (round == 1)
            publish_all(p, 1, 20, 28); /* EURUSD 20..27 */
    }
    fxp_bus_close(p);
    read_to_marker("t2", "g2", &got);
    assert_int_equal(got.n, 1);
}

static void test_pause_resume_refuse(void **state)
{
    struct fxp_bus *p = open_bus("t5", NULL), *a = member("t5", "g5");
    static struct coll got;

    (void)state;
    publish_all(p, 1, 0, 60);
    while (got.n < 10)
        fetch(a, &got, 10 - got.n, 30000);
    OK(fxp_bus_commit(a));

    /* Paused: neither what is already fetched nor what comes arrives. */
    OK(fxp_bus_pause(a, true));
    publish_all(p, 1, 60, 80);
    for (int64_t end = now_ms() + 2000; now_ms() < end;)
        assert_int_equal(fetch(a, &got, 64, 200), 0);

    /* Resumed: the rest in order, nothing lost; a refused message comes
     * first in the next fetch. */
    OK(fxp_bus_pause(a, false));
    got.refuse = 15;
    assert_int_equal(fetch_until(a, &got, 14, 10000, false), 14);
    assert_int_equal(got.refuse, 0);
    assert_int_equal(fetch(a, &got, 1, 5000), 1);
    assert_int_equal(got.r[14].seq, 14);
    assert_int_equal(fetch_until(a, &got, 80, 30000, true), 80);
    for (int i = 0; i < 80; i++)
        assert_int_equal(got.r[i].seq, i);
    fxp_bus_close(a);
    fxp_bus_close(p);
}

/* A cluster without CreateTopics: made by the broker on request. */
static void test_missing_topics_made(void **state)
{
    struct fxp_bus *b, *c;
    static struct coll got;

    (void)state;
    g_req_ms = 1000;
    b = open_bus("t7", NULL);
    g_req_ms = 5000;
    publish(b, "USDJPY", 1);
    OK(fxp_bus_flush(b, 10000));
    c = member("t7", "g7");
    assert_int_equal(fetch_until(c, &got, 1, 30000, false), 1);
    assert_string_equal(got.r[0].id, "USDJPY-1");
    fxp_bus_close(c);
    fxp_bus_close(b);
}

static void test_unreachable_and_bad_urls(void **state)
{
    struct fxp_bus_opts o;
    struct fxp_bus *b = NULL;
    char err[512];
    int64_t t = now_ms();

    (void)state;
    fxp_bus_opts_default(&o);
    o.connect_timeout_ms = 1500;
    assert_int_equal(
        fxp_bus_open("kafka://127.0.0.1:1", &o, &b, err, sizeof err),
        FXP_EUNAVAIL);
    t = now_ms() - t;
    assert_true(!b && t >= 1400 && t < 4000);
    assert_non_null(strstr(err, "127.0.0.1:1"));
    assert_int_equal(fxp_bus_open("kafka://h:99999", &o, &b, err, sizeof err),
                     FXP_EINVAL);
    assert_int_equal(fxp_bus_open("kafka://h:1,,h:2", &o, &b, err, sizeof err),
                     FXP_EINVAL);
    o.prefix = "bad prefix";
    assert_int_equal(fxp_bus_open(g_url, &o, &b, err, sizeof err), FXP_EINVAL);
    assert_non_null(strstr(err, "bad prefix"));
}

/* Last: all brokers down, then up again. */
static void test_brokers_down(void **state)
{
    struct fxp_bus *p = open_bus("t8", NULL), *c = member("t8", "g8");
    static struct coll got;
    char id[32];

    (void)state;
    for (int i = 1; i <= 3; i++)
        rd_kafka_mock_broker_set_down(g_mc, i);
    assert_int_equal(fxp_bus_ping(p, 500), FXP_EUNAVAIL);
    for (int seq = 0; seq < 5; seq++)
        publish(p, "AUDUSD", seq);
    int rc = fxp_bus_flush(p, 1000);
    assert_true(rc == FXP_ETIMEDOUT || rc == FXP_EUNAVAIL);
    assert_true(fxp_bus_errmsg(p)[0] != '\0');
    for (int i = 1; i <= 3; i++)
        rd_kafka_mock_broker_set_up(g_mc, i);
    for (int seq = 0; seq < 5; seq++) /* the caller publishes all again */
        publish(p, "AUDUSD", seq);
    OK(fxp_bus_flush(p, 20000));
    OK(fxp_bus_ping(p, 2000));
    for (int64_t end = now_ms() + 15000; got.n < 10 && now_ms() < end;) {
        size_t n; /* the outage may still be reported once */
        int rc2 = fxp_bus_fetch(c, 64, 200, collect, &got, &n);
        assert_true(rc2 == FXP_OK || rc2 == FXP_EUNAVAIL);
    }
    for (int seq = 0; seq < 5; seq++) {
        snprintf(id, sizeof id, "AUDUSD-%d", seq);
        assert_true(has_id(&got, id));
    }
    fxp_bus_close(c);
    fxp_bus_close(p);
}

/* Wire mode: publish 4 tick batches of 3 symbols and one of 2 bars to
 * url; describe them in out, one line per message and per record (%.17g
 * doubles read back exactly). Exits non-zero on any failure. */
static int wire_publish(const char *url, const char *out)
{
    struct fxp_symtab *st = fxp_symtab_new(4);
    struct fxp_bar bar[2] = {{0}};
    struct fxp_tick t[3];
    struct fxp_bus_opts o;
    struct fxp_bus *b;
    char err[512];
    FILE *f = fopen(out, "w");
    void *buf;
    size_t len;

    fxp_bus_opts_default(&o);
    o.connect_timeout_ms = 15000;
    if (!f || fxp_bus_open(url, &o, &b, err, sizeof err) != FXP_OK) {
        fprintf(stderr, "wire: %s\n", f ? err : "cannot write the manifest");
        return 1;
    }
    for (int m = 0; m < 12; m++) {
        const char *sym = SYMS[m % 3 * 5];
        publish_t(b, sym, m / 3, t);
        fprintf(f, "msg ticks %s %s-%d c-%s-%d 3\n", sym, sym, m / 3, sym,
                m / 3);
        for (int i = 0; i < 3; i++)
            fprintf(f, "tick %s %lld %.17g %.17g %.17g %u %d\n", sym,
                    (long long)t[i].ts_ms, t[i].bid, t[i].ask, t[i].volume,
                    t[i].flags, m / 3 * 10 + i);
    }
    fprintf(f, "msg bars EURUSD EURUSD-bars-0 - 2\n");
    for (int i = 0; i < 2; i++) {
        struct fxp_bar *x = &bar[i];
        x->ts_ms = T0 + i * 300000LL;
        x->open = x->close = 1.1 + i * 0.0003;
        x->high = x->open + 0.00071;
        x->low = x->open - 0.00069;
        x->volume = 17.25 + i;
        x->version = 5 + i;
        x->n_ticks = 42 + (uint32_t)i;
        x->tf = (uint8_t)i;
        x->source = 3;
        OK(fxp_symtab_intern(st, "EURUSD", 6, &x->sym));
        fprintf(f, "bar EURUSD %lld %.17g %.17g %.17g %.17g %.17g %lld %u %u\n",
                (long long)x->ts_ms, x->open, x->high, x->low, x->close,
                x->volume, (long long)x->version, x->n_ticks, x->tf);
    }
    struct fxp_store_batch batch = {.bars = bar, .n_bars = 2, .symtab = st};
    OK(fxp_batch_encode(&batch, &buf, &len));
    OK(fxp_bus_publish(b, FXP_BUS_BARS, "EURUSD", buf, len, "EURUSD-bars-0",
                       NULL));
    free(buf);
    fclose(f);
    OK(fxp_bus_flush(b, 15000));
    fxp_bus_close(b);
    fxp_symtab_free(st);
    return 0;
}

int main(void)
{
    const char *wire = getenv("FXP_KAFKA_WIRE_OUT");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unreachable_and_bad_urls),
        cmocka_unit_test(test_publish_fetch_order),
        cmocka_unit_test(test_redelivery_and_commits),
        cmocka_unit_test(test_two_members_split),
        cmocka_unit_test(test_rebalance_drops_revoked),
        cmocka_unit_test(test_pause_resume_refuse),
        cmocka_unit_test(test_missing_topics_made),
        cmocka_unit_test(test_brokers_down),
    };

    if (wire) {
        char url[1024];
        snprintf(url, sizeof url, "kafka://%s",
                 getenv("FXP_KAFKA_BOOTSTRAP") ? getenv("FXP_KAFKA_BOOTSTRAP")
                                               : "");
        return wire_publish(url, wire);
    }
    return cmocka_run_group_tests(tests, setup_cluster, teardown_cluster);
}
