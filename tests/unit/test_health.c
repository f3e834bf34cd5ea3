/*
 * test_health.c - the health server (health.h) over real HTTP on a loopback
 * port: /healthz, /readyz from the service state, critical and non-critical
 * checks (including one that blocks past its bound), cached checks, the exact
 * /metrics text, counters updated from four threads, 404/405/HEAD, and stopping
 * while a request is in flight. The registry alone: test_metrics.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <jansson.h>

#include "fxpipe/breaker.h"
#include "fxpipe/err.h"
#include "fxpipe/health.h"

/* ---- An HTTP client ---- */

struct resp {
    long status; /* 0: no answer */
    char body[65536];
    size_t len;
    int64_t ms; /* how long the request took */
};

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};

    nanosleep(&ts, NULL);
}

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    struct resp *r = ud;
    size_t len = size * n, room = sizeof r->body - 1 - r->len;

    if (len > room)
        len = room;
    memcpy(r->body + r->len, p, len);
    r->len += len;
    r->body[r->len] = '\0';
    return size * n;
}

/* method is "GET", "HEAD" or another verb sent with a small body. */
static void http(const char *method, uint16_t port, const char *path,
                 struct resp *r)
{
    char url[128];
    CURL *c = curl_easy_init();
    int64_t t0 = now_ms();

    memset(r, 0, sizeof *r);
    assert_non_null(c);
    snprintf(url, sizeof url, "http://127.0.0.1:%u%s", port, path);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    if (strcmp(method, "HEAD") == 0) {
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    } else if (strcmp(method, "GET") != 0) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, "x=1");
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    }
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    curl_easy_cleanup(c);
    r->ms = now_ms() - t0;
}

/* ---- Checks the tests control ---- */

struct chk {
    fxp_err result;
    const char *detail;
    int sleep_ms;
    atomic_int calls, returned, last_timeout;
};

static fxp_err check(void *ud, int timeout_ms, char *detail, size_t len)
{
    struct chk *k = ud;

    atomic_fetch_add(&k->calls, 1);
    atomic_store(&k->last_timeout, timeout_ms);
    if (k->sleep_ms)
        sleep_ms(k->sleep_ms);
    snprintf(detail, len, "%s", k->detail ? k->detail : "");
    atomic_fetch_add(&k->returned, 1);
    return k->result;
}

static struct fxp_health *start(void)
{
    struct fxp_health *h = NULL;
    char err[256] = "";

    assert_int_equal(
        fxp_health_start("127.0.0.1:0", "ingest", &h, err, sizeof err), FXP_OK);
    assert_non_null(h);
    assert_true(fxp_health_port(h) > 0);
    return h;
}

/* /readyz parsed: the status code, "status" and deps.NAME.ok/detail. */
static json_t *readyz(struct fxp_health *h, long *status)
{
    struct resp r;
    json_error_t je;
    json_t *j;

    http("GET", fxp_health_port(h), "/readyz", &r);
    *status = r.status;
    j = json_loads(r.body, 0, &je);
    assert_non_null(j);
    return j;
}

static const char *jget(json_t *j, const char *a, const char *b, const char *c)
{
    json_t *v = json_object_get(j, a);

    if (b)
        v = json_object_get(v, b);
    if (c)
        v = json_object_get(v, c);
    if (json_is_boolean(v))
        return json_is_true(v) ? "true" : "false";
    return json_string_value(v);
}

/* ---- /healthz ---- */

static void test_health__healthz_is_ok_until_the_service_stops(void **st)
{
    struct fxp_health *h = start();
    struct resp r;

    (void)st;
    http("GET", fxp_health_port(h), "/healthz", &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "ok\n");
    fxp_health_set_state(h, FXP_HEALTH_STOPPING);
    http("GET", fxp_health_port(h), "/healthz", &r);
    assert_int_equal(r.status, 503);
    assert_string_equal(r.body, "stopping\n");
    fxp_health_set_state(h, FXP_HEALTH_FAILED);
    http("GET", fxp_health_port(h), "/healthz", &r);
    assert_int_equal(r.status, 503);
    assert_string_equal(r.body, "failed\n");
    fxp_health_stop(h);
}

/* ---- /readyz ---- */

static void test_health__readyz_reflects_critical_and_optional_deps(void **st)
{
    struct fxp_health *h = start();
    struct chk store = {.result = FXP_OK, .detail = "sqlite ok"};
    struct chk kafka = {.result = FXP_EUNAVAIL, .detail = "no \"broker\""};
    long status;
    json_t *j;

    (void)st;
    assert_int_equal(fxp_health_set_check_timing(h, 300, 0), FXP_OK);
    assert_int_equal(fxp_health_add_dep(h, "store", true, check, &store),
                     FXP_OK);
    /* Not ready until the service says it runs, whatever its deps. */
    j = readyz(h, &status);
    assert_int_equal(status, 503);
    assert_string_equal(jget(j, "status", NULL, NULL), "not-ready");
    assert_string_equal(jget(j, "state", NULL, NULL), "starting");
    assert_string_equal(jget(j, "service", NULL, NULL), "ingest");
    json_decref(j);
    fxp_health_set_state(h, FXP_HEALTH_RUNNING);
    j = readyz(h, &status);
    assert_int_equal(status, 200);
    assert_string_equal(jget(j, "state", NULL, NULL), "running");
    assert_string_equal(jget(j, "status", NULL, NULL), "ready");
    assert_string_equal(jget(j, "deps", "store", "ok"), "true");
    assert_string_equal(jget(j, "deps", "store", "critical"), "true");
    assert_string_equal(jget(j, "deps", "store", "detail"), "sqlite ok");
    assert_int_equal(atomic_load(&store.last_timeout), 300);
    json_decref(j);

    /* A failing non-critical dependency degrades, it does not fail. */
    assert_int_equal(fxp_health_add_dep(h, "kafka", false, check, &kafka),
                     FXP_OK);
    assert_int_equal(fxp_health_add_dep(h, "kafka", true, check, &kafka),
                     FXP_EEXIST);
    j = readyz(h, &status);
    assert_int_equal(status, 200);
    assert_string_equal(jget(j, "status", NULL, NULL), "degraded");
    assert_string_equal(jget(j, "deps", "kafka", "ok"), "false");
    assert_string_equal(jget(j, "deps", "kafka", "critical"), "false");
    assert_string_equal(jget(j, "deps", "kafka", "detail"), "no \"broker\"");
    json_decref(j);

    /* A failing critical one makes the service not ready. */
    store.result = FXP_EIO;
    store.detail = NULL;
    j = readyz(h, &status);
    assert_int_equal(status, 503);
    assert_string_equal(jget(j, "status", NULL, NULL), "not-ready");
    assert_string_equal(jget(j, "deps", "store", "detail"),
                        fxp_strerror(FXP_EIO));
    json_decref(j);
    fxp_health_stop(h);
}

static void test_health__checks_are_cached_for_cache_ms(void **st)
{
    struct fxp_health *h = start();
    struct chk k = {.result = FXP_OK};
    long status;

    (void)st;
    assert_int_equal(fxp_health_set_check_timing(h, 200, 60000), FXP_OK);
    assert_int_equal(fxp_health_add_dep(h, "nats", true, check, &k), FXP_OK);
    fxp_health_set_state(h, FXP_HEALTH_RUNNING);
    for (int i = 0; i < 5; i++)
        json_decref(readyz(h, &status));
    assert_int_equal(atomic_load(&k.calls), 1);
    assert_int_equal(fxp_health_set_check_timing(h, 200, 0), FXP_OK);
    json_decref(readyz(h, &status));
    json_decref(readyz(h, &status));
    assert_int_equal(atomic_load(&k.calls), 3);
    assert_int_equal(fxp_health_set_check_timing(h, 0, 0), FXP_EINVAL);
    fxp_health_stop(h);
}

static void test_health__check_past_its_bound_does_not_hang_readyz(void **st)
{
    struct fxp_health *h = start();
    struct chk slow = {.result = FXP_OK, .sleep_ms = 1500};
    struct resp r;
    long status;
    int64_t t0;
    json_t *j;

    (void)st;
    assert_int_equal(fxp_health_set_check_timing(h, 200, 0), FXP_OK);
    assert_int_equal(fxp_health_add_dep(h, "store", true, check, &slow),
                     FXP_OK);
    fxp_health_set_state(h, FXP_HEALTH_RUNNING);
    t0 = now_ms();
    j = readyz(h, &status);
    assert_true(now_ms() - t0 < 1000);
    assert_int_equal(status, 503);
    assert_string_equal(jget(j, "deps", "store", "ok"), "false");
    assert_non_null(strstr(jget(j, "deps", "store", "detail"), "timed out"));
    json_decref(j);
    /* While the check is still stuck: no second check, no waiting. */
    t0 = now_ms();
    json_decref(readyz(h, &status));
    assert_true(now_ms() - t0 < 700);
    assert_int_equal(status, 503);
    assert_int_equal(atomic_load(&slow.calls), 1);
    http("GET", fxp_health_port(h), "/healthz", &r);
    assert_int_equal(r.status, 200);
    assert_true(r.ms < 700);
    fxp_health_stop(h); /* waits for the stuck check to return */
    assert_int_equal(atomic_load(&slow.returned), 1);
}

static void test_health__breaker_is_a_check_and_a_gauge(void **st)
{
    struct fxp_health *h = start();
    struct fxp_breaker_cfg cfg;
    struct fxp_breaker *br;
    char detail[64];

    (void)st;
    fxp_breaker_cfg_default(&cfg, "store");
    cfg.threshold = 1;
    br = fxp_breaker_new(&cfg);
    assert_non_null(br);
    assert_int_equal(fxp_health_breaker_check(br, 100, detail, sizeof detail),
                     FXP_OK);
    assert_string_equal(detail, "breaker closed");
    assert_true(fxp_health_breaker_value(br) == 0.0);
    fxp_breaker_failure(br, 0);
    assert_int_equal(fxp_health_breaker_check(br, 100, detail, sizeof detail),
                     FXP_EUNAVAIL);
    assert_string_equal(detail, "breaker open");
    assert_true(fxp_health_breaker_value(br) == 1.0);
    fxp_health_stop(h);
    fxp_breaker_free(br);
}

/* ---- /metrics ---- */

static double forty_two(void *ud)
{
    (void)ud;
    return 42;
}

static void test_health__metrics_renders_the_exact_text(void **st)
{
    struct fxp_health *h = start();
    struct resp r;
    struct fxp_counter *in, *agg;
    struct fxp_gauge *depth, *ratio;

    (void)st;
    in = fxp_health_counter(h, "fxpipe_ticks_total", "Ticks received",
                            "stage=\"ingest\"");
    agg = fxp_health_counter(h, "fxpipe_ticks_total", "other help ignored",
                             "stage=\"aggregate\"");
    depth = fxp_health_gauge(h, "fxpipe_queue_depth",
                             "Items waiting\\queued\nnow", NULL);
    ratio = fxp_health_gauge(h, "fxpipe_ratio", "A ratio",
                             "b=\"2\",a=\"x\\\"y\\\\z\\n\"");
    assert_non_null(in);
    assert_non_null(agg);
    assert_non_null(depth);
    assert_non_null(ratio);
    /* The same series again is the same handle, whatever the label order. */
    assert_ptr_equal(
        fxp_health_counter(h, "fxpipe_ticks_total", "x", "stage=\"ingest\""),
        in);
    assert_ptr_equal(fxp_health_gauge(h, "fxpipe_ratio", "x",
                                      "a=\"x\\\"y\\\\z\\n\",b=\"2\""),
                     ratio);
    assert_int_equal(fxp_health_gauge_fn(h, "fxpipe_answer", "Callback",
                                         "k=\"v\"", forty_two, NULL),
                     FXP_OK);
    assert_int_equal(fxp_health_gauge_fn(h, "fxpipe_answer", "Callback",
                                         "k=\"v\"", forty_two, NULL),
                     FXP_EEXIST);
    fxp_counter_add(in, 5);
    fxp_counter_inc(agg);
    fxp_counter_inc(agg);
    fxp_gauge_set(depth, 12.5);
    fxp_gauge_add(depth, -2);
    fxp_gauge_set(ratio, 0.1);
    http("GET", fxp_health_port(h), "/metrics", &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body,
                        "# HELP fxpipe_ticks_total Ticks received\n"
                        "# TYPE fxpipe_ticks_total counter\n"
                        "fxpipe_ticks_total{stage=\"ingest\"} 5\n"
                        "fxpipe_ticks_total{stage=\"aggregate\"} 2\n"
                        "# HELP fxpipe_queue_depth Items waiting\\\\queued\\n"
                        "now\n"
                        "# TYPE fxpipe_queue_depth gauge\n"
                        "fxpipe_queue_depth 10.5\n"
                        "# HELP fxpipe_ratio A ratio\n"
                        "# TYPE fxpipe_ratio gauge\n"
                        "fxpipe_ratio{a=\"x\\\"y\\\\z\\n\",b=\"2\"} 0.1\n"
                        "# HELP fxpipe_answer Callback\n"
                        "# TYPE fxpipe_answer gauge\n"
                        "fxpipe_answer{k=\"v\"} 42\n");
    fxp_health_stop(h);
}

struct hammer {
    struct fxp_counter *c;
    struct fxp_gauge *g;
};

static void *hammer_main(void *arg)
{
    struct hammer *hm = arg;

    for (int i = 0; i < 250000; i++) {
        fxp_counter_inc(hm->c);
        fxp_gauge_add(hm->g, 1.0);
    }
    return NULL;
}

static void test_health__counters_from_four_threads_sum_up(void **st)
{
    struct fxp_health *h = start();
    struct hammer hm;
    pthread_t t[4];
    struct resp r;
    int scrapes = 0;

    (void)st;
    hm.c = fxp_health_counter(h, "fxpipe_ops_total", "Operations", NULL);
    hm.g = fxp_health_gauge(h, "fxpipe_level", "Level", NULL);
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, hammer_main, &hm), 0);
    /* Scrapes while the counter moves must all parse and never go back. */
    uint64_t last = 0;
    while (scrapes < 20) {
        http("GET", fxp_health_port(h), "/metrics", &r);
        assert_int_equal(r.status, 200);
        const char *p = strstr(r.body, "\nfxpipe_ops_total ");
        assert_non_null(p);
        uint64_t v = strtoull(p + strlen("\nfxpipe_ops_total "), NULL, 10);
        assert_true(v >= last);
        last = v;
        scrapes++;
    }
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    http("GET", fxp_health_port(h), "/metrics", &r);
    assert_non_null(strstr(r.body, "\nfxpipe_ops_total 1000000\n"));
    assert_non_null(strstr(r.body, "\nfxpipe_level 1000000\n"));
    assert_true(fxp_counter_get(hm.c) == 1000000);
    fxp_health_stop(h);
}

/* ---- Paths, methods, start-up errors, stop ---- */

static void test_health__unknown_paths_404_other_methods_405(void **st)
{
    struct fxp_health *h = start();
    struct resp r;

    (void)st;
    http("GET", fxp_health_port(h), "/nope", &r);
    assert_int_equal(r.status, 404);
    http("GET", fxp_health_port(h), "/healthz/x", &r);
    assert_int_equal(r.status, 404);
    http("POST", fxp_health_port(h), "/metrics", &r);
    assert_int_equal(r.status, 405);
    http("DELETE", fxp_health_port(h), "/healthz", &r);
    assert_int_equal(r.status, 405);
    http("HEAD", fxp_health_port(h), "/healthz", &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.len, 0);
    http("GET", fxp_health_port(h), "/healthz?verbose=1", &r);
    assert_int_equal(r.status, 200);
    fxp_health_stop(h);
}

static void test_health__bad_address_and_busy_port_are_errors(void **st)
{
    struct fxp_health *h = start(), *h2 = NULL;
    char addr[64], err[256];
    static const char *bad[] = {"localhost:80",    "127.0.0.1", "127.0.0.1:x",
                                "127.0.0.1:70000", ":80",       "1.2.3:4"};

    (void)st;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(fxp_health_start(bad[i], "s", &h2, err, sizeof err),
                         FXP_EINVAL);
        assert_null(h2);
    }
    snprintf(addr, sizeof addr, "127.0.0.1:%u", fxp_health_port(h));
    assert_int_equal(fxp_health_start(addr, "s", &h2, err, sizeof err),
                     FXP_EIO);
    assert_null(h2);
    assert_non_null(strstr(err, "cannot listen on '127.0.0.1:"));
    assert_int_equal(fxp_health_start(NULL, "", &h2, err, sizeof err),
                     FXP_EINVAL);
    fxp_health_stop(h);
    fxp_health_stop(NULL);
}

struct inflight {
    uint16_t port;
    struct resp r;
};

static void *inflight_main(void *arg)
{
    struct inflight *f = arg;

    http("GET", f->port, "/readyz", &f->r);
    return NULL;
}

static void test_health__stop_while_a_request_is_in_flight(void **st)
{
    struct fxp_health *h = start();
    struct chk slow = {.result = FXP_OK, .sleep_ms = 800};
    struct inflight f = {0};
    pthread_t t;
    int64_t t0;

    (void)st;
    assert_int_equal(fxp_health_set_check_timing(h, 500, 0), FXP_OK);
    assert_int_equal(fxp_health_add_dep(h, "store", true, check, &slow),
                     FXP_OK);
    fxp_health_set_state(h, FXP_HEALTH_RUNNING);
    f.port = fxp_health_port(h);
    assert_int_equal(pthread_create(&t, NULL, inflight_main, &f), 0);
    while (atomic_load(&slow.calls) == 0)
        sleep_ms(5);
    t0 = now_ms();
    fxp_health_stop(h);
    assert_true(now_ms() - t0 < 3000);
    assert_int_equal(atomic_load(&slow.returned), 1);
    pthread_join(t, NULL);
    /* Answered before the server went away, or cut off: never hung. */
    assert_true(f.r.status == 503 || f.r.status == 0);
    assert_true(f.r.ms < 3000);
}

static int setup(void **st)
{
    (void)st;
    return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

static int teardown(void **st)
{
    (void)st;
    curl_global_cleanup();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_health__healthz_is_ok_until_the_service_stops),
        cmocka_unit_test(
            test_health__readyz_reflects_critical_and_optional_deps),
        cmocka_unit_test(test_health__checks_are_cached_for_cache_ms),
        cmocka_unit_test(
            test_health__check_past_its_bound_does_not_hang_readyz),
        cmocka_unit_test(test_health__breaker_is_a_check_and_a_gauge),
        cmocka_unit_test(test_health__metrics_renders_the_exact_text),
        cmocka_unit_test(test_health__counters_from_four_threads_sum_up),
        cmocka_unit_test(test_health__unknown_paths_404_other_methods_405),
        cmocka_unit_test(test_health__bad_address_and_busy_port_are_errors),
        cmocka_unit_test(test_health__stop_while_a_request_is_in_flight),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
