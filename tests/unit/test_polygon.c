/*
 * test_polygon.c - the Polygon REST client (polygon.h) against the fake
 * server tests/tools/fake_polygon.py: pagination, retries on 429, 5xx and
 * timeouts, a rejected key, empty windows, exhausted retries, the rate
 * limit, malformed pages, and that the key never shows in a message.
 *
 * Each test starts its own fake server (a child python3 process, found
 * through $FXP_SOURCE_DIR, which CTest sets) and the teardown kills it by
 * PID. The bar CSV (3 days of 1m bars with a few minutes missing) is
 * written into a mkdtemp() directory that the group teardown removes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "fxpipe/err.h"
#include "fxpipe/polygon.h"
#include "fxpipe/timeframe.h"
#include "source/polygon_int.h"

#define KEY       "sekretKEY_7f3a9"
#define WRONG_KEY "wrongKEY_1b2c3"
#define T0        1704153600000LL /* 2024-01-02T00:00Z, a Tuesday */
#define MINUTES   (3 * 1440)
#define MIN_MS    60000LL
#define PAGE_SIZE "500"

static char tmp_dir[512];
static char csv_path[600];
static char count_path[600];
static pid_t server_pid = -1;
static int server_fd = -1;
static int server_port;

/* ------------------------------------------------------------------------
 * Data: minute i of the CSV, absent for a few minutes
 */

static int minute_missing(int i)
{
    return i == 7 || (i >= 500 && i < 503) || i == 2000 || i == MINUTES - 1;
}

static int expected_count(int from_i, int to_i)
{
    int i, n = 0;
    for (i = from_i; i < to_i; i++)
        n += !minute_missing(i);
    return n;
}

static double open_at(int i)
{
    return 1.1 + (i % 1000) * 1e-5;
}

static int group_setup(void **state)
{
    const char *tmp = getenv("TMPDIR");
    FILE *f;
    int i;

    (void)state;
    snprintf(tmp_dir, sizeof tmp_dir, "%s/fxp_polygon_XXXXXX",
             tmp && *tmp ? tmp : "/tmp");
    if (mkdtemp(tmp_dir) == NULL)
        return -1;
    snprintf(csv_path, sizeof csv_path, "%s/bars.csv", tmp_dir);
    snprintf(count_path, sizeof count_path, "%s/count", tmp_dir);
    f = fopen(csv_path, "w");
    if (f == NULL)
        return -1;
    fprintf(f, "symbol,ts,open,high,low,close,volume,n\n");
    for (i = 0; i < MINUTES; i++) {
        double o = open_at(i);
        if (minute_missing(i))
            continue;
        fprintf(f, "EURUSD,%lld,%.5f,%.5f,%.5f,%.5f,%d,%d\n",
                (long long)(T0 + i * MIN_MS), o, o + 2e-4, o - 2e-4, o + 1e-5,
                1 + i % 37, 1 + i % 37);
    }
    return fclose(f) == 0 ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    unlink(csv_path);
    unlink(count_path);
    return rmdir(tmp_dir);
}

/* ------------------------------------------------------------------------
 * The fake server
 */

static void server_stop(void)
{
    if (server_pid > 0) {
        kill(server_pid, SIGTERM);
        waitpid(server_pid, NULL, 0);
        server_pid = -1;
    }
    if (server_fd >= 0) {
        close(server_fd);
        server_fd = -1;
    }
}

static int teardown(void **state)
{
    (void)state;
    server_stop();
    return 0;
}

/* Start fake_polygon.py with the CSV, the key, 500-bar pages and `extra`
 * (NULL-terminated), and wait for its "PORT n" line. */
static void server_start(const char *const *extra)
{
    const char *src = getenv("FXP_SOURCE_DIR");
    const char *argv[32];
    char script[600], line[64];
    size_t len = 0;
    int fds[2], argc = 0;

    if (src == NULL)
        fail_msg("FXP_SOURCE_DIR is not set (CTest sets it)");
    snprintf(script, sizeof script, "%s/tests/tools/fake_polygon.py", src);
    argv[argc++] = "/usr/bin/python3";
    argv[argc++] = script;
    argv[argc++] = csv_path;
    argv[argc++] = "--key";
    argv[argc++] = KEY;
    argv[argc++] = "--page-size";
    argv[argc++] = PAGE_SIZE;
    while (extra != NULL && *extra != NULL && argc < 31)
        argv[argc++] = *extra++;
    argv[argc] = NULL;

    assert_int_equal(pipe(fds), 0);
    server_pid = fork();
    assert_true(server_pid >= 0);
    if (server_pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        close(fds[0]);
        close(fds[1]);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(fds[1]);
    server_fd = fds[0];
    while (len < sizeof line - 1 && memchr(line, '\n', len) == NULL) {
        struct pollfd pfd = {server_fd, POLLIN, 0};
        ssize_t r;
        if (poll(&pfd, 1, 10000) <= 0)
            fail_msg("fake_polygon.py did not start within 10 s");
        r = read(server_fd, line + len, sizeof line - 1 - len);
        if (r <= 0)
            fail_msg("fake_polygon.py exited before listening");
        len += (size_t)r;
    }
    line[len] = '\0';
    assert_int_equal(sscanf(line, "PORT %d", &server_port), 1);
    assert_true(server_port > 0);
}

/* ------------------------------------------------------------------------
 * Client helpers
 */

static char base_url[64];

static void test_cfg(struct fxp_polygon_cfg *c)
{
    fxp_polygon_cfg_default(c);
    snprintf(base_url, sizeof base_url, "http://127.0.0.1:%d", server_port);
    c->base_url = base_url;
    c->api_key = KEY;
    c->timeout_ms = 5000;
    c->rate_per_min = 0;
    c->retry_base_ms = 10;
    c->retry_max_ms = 50;
}

static struct fxp_polygon *client(const struct fxp_polygon_cfg *c)
{
    struct fxp_polygon *p = NULL;
    char err[256];
    int rc = fxp_polygon_new(c, &p, err, sizeof err);
    if (rc != FXP_OK)
        fail_msg("fxp_polygon_new: %s", err);
    return p;
}

struct sink {
    struct fxp_bar v[MINUTES];
    size_t n;
    size_t calls;
    size_t stop_after; /* calls; 0 = never stop */
};

static struct sink sink;

static int collect(void *ud, const struct fxp_bar *bars, size_t n)
{
    struct sink *s = ud;
    assert_true(n > 0);
    assert_true(s->n + n <= MINUTES);
    memcpy(s->v + s->n, bars, n * sizeof *bars);
    s->n += n;
    s->calls++;
    return s->stop_after != 0 && s->calls >= s->stop_after;
}

static int fetch(struct fxp_polygon *p, const char *sym, fxp_tf tf,
                 int64_t from, int64_t to, char *err, size_t errlen)
{
    memset(&sink, 0, sizeof sink);
    err[0] = '\0';
    return fxp_polygon_fetch(p, sym, tf, from, to, collect, &sink, err, errlen);
}

/* The sink holds exactly the CSV's minutes in [from_i, to_i), in order. */
static void check_bars(int from_i, int to_i)
{
    size_t k = 0;
    int i;

    assert_int_equal(sink.n, expected_count(from_i, to_i));
    for (i = from_i; i < to_i; i++) {
        const struct fxp_bar *b;
        if (minute_missing(i))
            continue;
        b = &sink.v[k++];
        assert_int_equal(b->ts_ms, T0 + i * MIN_MS);
        assert_true(fabs(b->open - open_at(i)) < 1e-9);
        assert_true(fabs(b->high - (open_at(i) + 2e-4)) < 1e-9);
        assert_true(fabs(b->low - (open_at(i) - 2e-4)) < 1e-9);
        assert_true(fabs(b->close - (open_at(i) + 1e-5)) < 1e-9);
        assert_true(b->volume == 1 + i % 37);
        assert_int_equal(b->n_ticks, 1 + i % 37);
        assert_int_equal(b->tf, FXP_TF_1M);
        assert_int_equal(b->source, FXP_SRC_HISTORICAL);
        assert_int_equal(b->sym, 0);
        assert_int_equal(b->version, 0);
    }
}

static void assert_no_key(const char *err)
{
    assert_null(strstr(err, KEY));
    assert_null(strstr(err, WRONG_KEY));
    assert_null(strstr(err, "apiKey"));
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ------------------------------------------------------------------------
 * Tests
 */

static void
test_polygon__all_bars_arrive_once_in_order_across_pages(void **state)
{
    struct fxp_polygon_cfg c;
    struct fxp_polygon_stats st;
    struct fxp_polygon *p;
    char err[512];
    int pages = (expected_count(0, MINUTES) + 499) / 500;

    (void)state;
    server_start(NULL);
    test_cfg(&c);
    p = client(&c);
    assert_int_equal(fetch(p, "EUR/USD", FXP_TF_1M, T0, T0 + MINUTES * MIN_MS,
                           err, sizeof err),
                     FXP_OK);
    check_bars(0, MINUTES);
    fxp_polygon_get_stats(p, &st);
    assert_int_equal(sink.calls, pages);
    assert_int_equal(st.pages, pages);
    assert_int_equal(st.requests, pages);
    assert_int_equal(st.bars, sink.n);
    assert_int_equal(st.retries, 0);
    fxp_polygon_free(p);
}

static void
test_polygon__only_bars_inside_the_window_are_delivered(void **state)
{
    struct fxp_polygon_cfg c;
    struct fxp_polygon_stats st;
    struct fxp_polygon *p;
    char err[512];

    (void)state;
    server_start(NULL);
    test_cfg(&c);
    p = client(&c);
    /* Minute 1234 exists: `to` is exclusive although Polygon's is not. */
    assert_int_equal(fetch(p, "eurusd", FXP_TF_1M, T0 + 100 * MIN_MS,
                           T0 + 1234 * MIN_MS, err, sizeof err),
                     FXP_OK);
    check_bars(100, 1234);
    /* An empty window sends nothing. */
    assert_int_equal(fetch(p, "EURUSD", FXP_TF_1M, T0, T0, err, sizeof err),
                     FXP_OK);
    assert_int_equal(sink.n, 0);
    fxp_polygon_get_stats(p, &st);
    assert_int_equal(st.requests, 3);
    fxp_polygon_free(p);
}

static void
test_polygon__429_and_500_are_retried_without_losing_a_bar(void **state)
{
    const char *const extra[] = {
        "--fail-429-every", "3", "--fail-500-at", "2", "--count-file",
        count_path,         NULL};
    struct fxp_polygon_cfg c;
    struct fxp_polygon_stats st;
    struct fxp_polygon *p;
    char err[512];
    int pages = (expected_count(0, MINUTES) + 499) / 500;
    unsigned long served = 0;
    FILE *f;

    (void)state;
    server_start(extra);
    test_cfg(&c);
    p = client(&c);
    assert_int_equal(fetch(p, "EURUSD", FXP_TF_1M, T0, T0 + MINUTES * MIN_MS,
                           err, sizeof err),
                     FXP_OK);
    check_bars(0, MINUTES);
    fxp_polygon_get_stats(p, &st);
    assert_int_equal(st.pages, pages);
    assert_int_equal(st.http_5xx, 1);
    assert_true(st.http_429 >= 3);
    assert_int_equal(st.retries, st.http_429 + st.http_5xx);
    assert_int_equal(st.requests, st.pages + st.retries);
    assert_int_equal(st.bars, sink.n);
    f = fopen(count_path, "r");
    assert_non_null(f);
    assert_int_equal(fscanf(f, "%lu", &served), 1);
    fclose(f);
    assert_int_equal(served, st.requests);
    fxp_polygon_free(p);
}

static void test_polygon__a_slow_response_times_out_and_is_retried(void **state)
{
    const char *const extra[] = {"--slow-at", "2", "--slow-seconds", "2", NULL};
    struct fxp_polygon_cfg c;
    struct fxp_polygon_stats st;
    struct fxp_polygon *p;
    char err[512];
    double t;

    (void)state;
    server_start(extra);
    test_cfg(&c);
    c.timeout_ms = 500;
    p = client(&c);
    t = now_s();
    assert_int_equal(fetch(p, "EURUSD", FXP_TF_1M, T0, T0 + MINUTES * MIN_MS,
                           err, sizeof err),
                     FXP_OK);
    t = now_s() - t;
    check_bars(0, MINUTES);
    fxp_polygon_get_stats(p, &st);
    assert_int_equal(st.timeouts, 1);
    assert_int_equal(st.retries, 1);
    assert_int_equal(st.requests, st.pages + 1);
    assert_true(t >= 0.45 && t < 1.9); /* did not wait for the slow answer */
    fxp_polygon_free(p);
}

static void test_polygon__a_wrong_key_is_rejected_at_once(void **state)
{
    struct fxp_polygon_cfg c;
    struct fxp_polygon_stats st;
    struct fxp_polygon *p;
    char err[512];

    (void)state;
    server_start(NULL);
    test_cfg(&c);
    c.api_key = WRONG_KEY;
    p = client(&c);
    assert_int_equal(fetch(p, "EURUSD", FXP_TF_1M, T0, T0 + MINUTES * MIN_MS,
                           err, sizeof err),
                     FXP_EINVAL);
    assert_non_null(strstr(err, "polygon rejected the API key (HTTP 401)"));
    assert_no_key(err);
    assert_int_equal(sink.n, 0);
    fxp_polygon_get_stats(p, &st);
    assert_int_equal(st.requests, 1);
    assert_int_equal(st.retries, 0);
    assert_int_equal(st.pages, 0);
    fxp_polygon_free(p);
}

static void test_polygon__an_empty_symbol_is_no_error(void **state)
{
    const char *const extra[] = {"--empty-symbol", "GBPUSD", NULL};
    struct fxp_polygon_cfg c;
    struct fxp_polygon_stats st;
    struct fxp_polygon *p;
    char err[512];

    (void)state;
    server_start(extra);
    test_cfg(&c);
    p = client(&c);
    assert_int_equal(fetch(p, "GBPUSD", FXP_TF_1M, T0, T0 + MINUTES * MIN_MS,
                           err, sizeof err),
                     FXP_OK);
    assert_int_equal(sink.n, 0);
    assert_int_equal(sink.calls, 0);
    fxp_polygon_get_stats(p, &st);
    assert_int_equal(st.requests, 1);
    assert_int_equal(st.pages, 1);
    assert_int_equal(st.bars, 0);
    fxp_polygon_free(p);
}

static void
test_polygon__exhausted_retries_make_the_source_unavailable(void **state)
{
    const char *const extra[] = {"--fail-500-at", "1,2,3,4", NULL};
    struct fxp_polygon_cfg c;
    struct fxp_polygon_stats st;
    struct fxp_polygon *p;
    char err[512], want[256];

    (void)state;
    server_start(extra);
    test_cfg(&c);
    c.max_retries = 3;
    p = client(&c);
    assert_int_equal(fetch(p, "EURUSD", FXP_TF_1M, T0, T0 + MINUTES * MIN_MS,
                           err, sizeof err),
                     FXP_EUNAVAIL);
    snprintf(want, sizeof want,
             "polygon request 'http://127.0.0.1:%d/v2/aggs/ticker/C:EURUSD/"
             "range/1/minute/%lld/%lld' failed after 3 retries: HTTP 500",
             server_port, T0, T0 + MINUTES * MIN_MS - 1);
    assert_string_equal(err, want);
    assert_no_key(err);
    fxp_polygon_get_stats(p, &st);
    assert_int_equal(st.requests, 4);
    assert_int_equal(st.retries, 3);
    assert_int_equal(st.http_5xx, 4);
    assert_int_equal(st.pages, 0);
    fxp_polygon_free(p);
}

static void test_polygon__the_rate_limit_spaces_requests(void **state)
{
    const char *const extra[] = {"--page-size", "100", NULL};
    struct fxp_polygon_cfg c;
    struct fxp_polygon_stats st;
    struct fxp_polygon *p;
    char err[512];
    double t;

    (void)state;
    server_start(extra);
    test_cfg(&c);
    c.rate_per_min = 600; /* one request every 100 ms, the first at once */
    p = client(&c);
    t = now_s();
    assert_int_equal(
        fetch(p, "EURUSD", FXP_TF_1M, T0, T0 + 450 * MIN_MS, err, sizeof err),
        FXP_OK);
    t = now_s() - t;
    check_bars(0, 450);
    fxp_polygon_get_stats(p, &st);
    assert_int_equal(st.requests, 5);
    assert_true(t >= 0.39);
    assert_true(t < 2.0);
    fxp_polygon_free(p);
}

static void test_polygon__a_missing_field_is_a_parse_error(void **state)
{
    const char *const extra[] = {"--drop-field", "h", NULL};
    struct fxp_polygon_cfg c;
    struct fxp_polygon *p;
    char err[512], want[256];

    (void)state;
    server_start(extra);
    test_cfg(&c);
    p = client(&c);
    assert_int_equal(fetch(p, "EURUSD", FXP_TF_1M, T0, T0 + MINUTES * MIN_MS,
                           err, sizeof err),
                     FXP_EPARSE);
    snprintf(want, sizeof want,
             "polygon result 0 has no field 'h' in 'http://127.0.0.1:%d/v2/"
             "aggs/ticker/C:EURUSD/range/1/minute/%lld/%lld'",
             server_port, T0, T0 + MINUTES * MIN_MS - 1);
    assert_string_equal(err, want);
    assert_no_key(err);
    assert_int_equal(sink.n, 0);
    fxp_polygon_free(p);
}

static void
test_polygon__timeframes_map_to_multiplier_and_timespan(void **state)
{
    /* The fake serves 1/minute only and names what it got in a 400. */
    static const struct {
        fxp_tf tf;
        const char *range;
    } rows[] = {
        {FXP_TF_5M, "5/minute"},   {FXP_TF_15M, "15/minute"},
        {FXP_TF_30M, "30/minute"}, {FXP_TF_1H, "1/hour"},
        {FXP_TF_4H, "4/hour"},     {FXP_TF_1D, "1/day"},
        {FXP_TF_1W, "1/week"},
    };
    struct fxp_polygon_cfg c;
    struct fxp_polygon_stats st;
    struct fxp_polygon *p;
    char err[512], want[128];
    size_t i;

    (void)state;
    server_start(NULL);
    test_cfg(&c);
    p = client(&c);
    for (i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        assert_int_equal(fetch(p, "EURUSD", rows[i].tf, T0,
                               T0 + MINUTES * MIN_MS, err, sizeof err),
                         FXP_EINVAL);
        snprintf(want, sizeof want,
                 "/range/%s/%lld/%lld' failed: HTTP 400: ", rows[i].range, T0,
                 T0 + MINUTES * MIN_MS - 1);
        assert_non_null(strstr(err, want));
        snprintf(want, sizeof want, "range/1/minute only, not %s",
                 rows[i].range);
        assert_non_null(strstr(err, want));
        assert_no_key(err);
    }
    fxp_polygon_get_stats(p, &st);
    assert_int_equal(st.requests, sizeof rows / sizeof rows[0]);
    assert_int_equal(st.retries, 0);
    fxp_polygon_free(p);
}

static void test_polygon__the_callback_can_stop_the_fetch(void **state)
{
    struct fxp_polygon_cfg c;
    struct fxp_polygon_stats st;
    struct fxp_polygon *p;
    char err[512];

    (void)state;
    server_start(NULL);
    test_cfg(&c);
    p = client(&c);
    memset(&sink, 0, sizeof sink);
    sink.stop_after = 2;
    assert_int_equal(fxp_polygon_fetch(p, "EURUSD", FXP_TF_1M, T0,
                                       T0 + MINUTES * MIN_MS, collect, &sink,
                                       err, sizeof err),
                     FXP_ECLOSED);
    assert_int_equal(sink.n, 1000);
    fxp_polygon_get_stats(p, &st);
    assert_int_equal(st.requests, 2);
    fxp_polygon_free(p);
}

static void
test_polygon__refused_connections_are_retried_then_unavailable(void **state)
{
    struct sockaddr_in sa;
    socklen_t slen = sizeof sa;
    struct fxp_polygon_cfg c;
    struct fxp_polygon_stats st;
    struct fxp_polygon *p;
    char err[512];
    int s = socket(AF_INET, SOCK_STREAM, 0);

    (void)state;
    /* A port that was free a moment ago: nothing listens there. */
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_true(s >= 0);
    assert_int_equal(bind(s, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(getsockname(s, (struct sockaddr *)&sa, &slen), 0);
    server_port = ntohs(sa.sin_port);
    close(s);
    test_cfg(&c);
    c.max_retries = 2;
    p = client(&c);
    assert_int_equal(
        fetch(p, "EURUSD", FXP_TF_1M, T0, T0 + MIN_MS, err, sizeof err),
        FXP_EUNAVAIL);
    assert_non_null(strstr(err, "failed after 2 retries"));
    assert_no_key(err);
    fxp_polygon_get_stats(p, &st);
    assert_int_equal(st.requests, 3);
    assert_int_equal(st.conn_errors, 3);
    fxp_polygon_free(p);
}

static void test_polygon__bad_settings_are_rejected(void **state)
{
    static char dummy;
    struct fxp_polygon_cfg c;
    struct fxp_polygon *p = (struct fxp_polygon *)(void *)&dummy;
    char err[512];

    (void)state;
    server_port = 1;
    test_cfg(&c);
    c.api_key = NULL;
    assert_int_equal(fxp_polygon_new(&c, &p, err, sizeof err), FXP_EINVAL);
    assert_null(p);
    c.api_key = KEY "&x=1";
    assert_int_equal(fxp_polygon_new(&c, &p, err, sizeof err), FXP_EINVAL);
    assert_no_key(err);
    c.api_key = KEY;
    c.base_url = "ftp://example.com";
    assert_int_equal(fxp_polygon_new(&c, &p, err, sizeof err), FXP_EINVAL);
    c.base_url = "https://";
    assert_int_equal(fxp_polygon_new(&c, &p, err, sizeof err), FXP_EINVAL);
    c.base_url = NULL; /* the default */
    c.limit = 50001;
    assert_int_equal(fxp_polygon_new(&c, &p, err, sizeof err), FXP_EINVAL);
    c.limit = 50000;
    assert_int_equal(fxp_polygon_new(&c, &p, err, sizeof err), FXP_OK);
    assert_int_equal(fetch(p, "EU", FXP_TF_1M, T0, T0 + 1, err, sizeof err),
                     FXP_EINVAL);
    assert_int_equal(fetch(p, "EURUSD", FXP_TF_1M, T0 + 1, T0, err, sizeof err),
                     FXP_EINVAL);
    fxp_polygon_free(p);
    fxp_polygon_free(NULL);
}

static void
test_polygon__pages_are_filtered_sorted_and_deduplicated(void **state)
{
    static const char shown[] = "http://h/v2/aggs/ticker/C:EURUSD/x";
    const char *body =
        "{\"status\":\"DELAYED\",\"next_url\":\"http://h/n?cursor=1\","
        "\"results\":["
        "{\"t\":180000,\"o\":1,\"h\":2,\"l\":0.5,\"c\":1.5},"
        "{\"t\":60000,\"o\":1,\"h\":2,\"l\":0.5,\"c\":1.5,\"v\":7},"
        "{\"t\":120000,\"o\":1,\"h\":2,\"l\":0.5,\"c\":1.5,\"n\":9},"
        "{\"t\":120000,\"o\":3,\"h\":4,\"l\":3,\"c\":3},"
        "{\"t\":0,\"o\":1,\"h\":2,\"l\":0.5,\"c\":1.5},"
        "{\"t\":240000,\"o\":1,\"h\":2,\"l\":0.5,\"c\":1.5}]}";
    struct fxp__poly_bars bars = {NULL, 0};
    char err[256], *next = NULL;
    size_t n;

    (void)state;
    /* [60000, 240000) after 60000: 120000 (first of two) and 180000. */
    assert_int_equal(fxp__polygon_parse_page(body, strlen(body), shown,
                                             FXP_TF_1M, 60000, 240000, 60000,
                                             &bars, &n, &next, err, sizeof err),
                     FXP_OK);
    assert_int_equal(n, 2);
    assert_int_equal(bars.v[0].ts_ms, 120000);
    assert_true(bars.v[0].open == 1 && bars.v[0].volume == 9);
    assert_int_equal(bars.v[0].n_ticks, 9);
    assert_int_equal(bars.v[1].ts_ms, 180000);
    assert_true(bars.v[1].volume == 0);
    assert_int_equal(bars.v[1].n_ticks, 1);
    assert_string_equal(next, "http://h/n?cursor=1");
    free(next);

    body = "{\"status\":\"OK\",\"resultsCount\":0}";
    assert_int_equal(fxp__polygon_parse_page(body, strlen(body), shown,
                                             FXP_TF_1H, 0, 1, INT64_MIN, &bars,
                                             &n, &next, err, sizeof err),
                     FXP_OK);
    assert_int_equal(n, 0);
    assert_null(next);

    body = "{\"status\":\"ERROR\",\"error\":\"x\"}";
    assert_int_equal(fxp__polygon_parse_page(body, strlen(body), shown,
                                             FXP_TF_1M, 0, 1, INT64_MIN, &bars,
                                             &n, &next, err, sizeof err),
                     FXP_EPARSE);
    assert_string_equal(
        err, "polygon response from 'http://h/v2/aggs/ticker/C:EURUSD/x' has "
             "status 'ERROR'");
    body = "{\"status\":\"OK\",\"results\":[{\"t\":1,\"o\":1,\"h\":"
           "\"2\",\"l\":1,\"c\":1}]}";
    assert_int_equal(fxp__polygon_parse_page(body, strlen(body), shown,
                                             FXP_TF_1M, 0, 1, INT64_MIN, &bars,
                                             &n, &next, err, sizeof err),
                     FXP_EPARSE);
    assert_string_equal(err, "polygon result 0 has a non-numeric field 'h' "
                             "in 'http://h/v2/aggs/ticker/C:EURUSD/x'");
    body = "{\"status\":\"OK\",\"results\":[{\"t\":1.5,\"o\":1,\"h\":"
           "2,\"l\":1,\"c\":1}]}";
    assert_int_equal(fxp__polygon_parse_page(body, strlen(body), shown,
                                             FXP_TF_1M, 0, 9, INT64_MIN, &bars,
                                             &n, &next, err, sizeof err),
                     FXP_EPARSE);
    body = "<html>";
    assert_int_equal(fxp__polygon_parse_page(body, strlen(body), shown,
                                             FXP_TF_1M, 0, 9, INT64_MIN, &bars,
                                             &n, &next, err, sizeof err),
                     FXP_EPARSE);
    assert_non_null(strstr(err, "is not a JSON object"));
    free(bars.v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_teardown(test_polygon__##name, teardown)
        T(all_bars_arrive_once_in_order_across_pages),
        T(only_bars_inside_the_window_are_delivered),
        T(429_and_500_are_retried_without_losing_a_bar),
        T(a_slow_response_times_out_and_is_retried),
        T(a_wrong_key_is_rejected_at_once),
        T(an_empty_symbol_is_no_error),
        T(exhausted_retries_make_the_source_unavailable),
        T(the_rate_limit_spaces_requests),
        T(a_missing_field_is_a_parse_error),
        T(timeframes_map_to_multiplier_and_timespan),
        T(the_callback_can_stop_the_fetch),
        T(refused_connections_are_retried_then_unavailable),
        T(bad_settings_are_rejected),
        T(pages_are_filtered_sorted_and_deduplicated),
#undef T
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
