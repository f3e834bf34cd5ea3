/*
 * test_breaker.c - the circuit breaker (breaker.h): consecutive failures
 * open it, it refuses while open, one probe after open_ms, the probe's
 * outcome closes or re-opens it, callbacks arrive in order, and four
 * threads hammering it leave a consistent state.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <pthread.h>

#include <cmocka.h>

#include "fxpipe/breaker.h"

#define MAX_EV 64

/* What on_change saw. */
struct seen {
    int n;
    fxp_breaker_state from[MAX_EV], to[MAX_EV];
    char name[32];
};

static void on_change(void *ud, const char *name, fxp_breaker_state from,
                      fxp_breaker_state to)
{
    struct seen *s = ud;

    if (s->n < MAX_EV) {
        s->from[s->n] = from;
        s->to[s->n] = to;
    }
    s->n++;
    strncpy(s->name, name, sizeof s->name - 1);
}

static struct fxp_breaker *new_breaker(struct seen *s)
{
    struct fxp_breaker_cfg c;

    fxp_breaker_cfg_default(&c, "store");
    if (s) {
        memset(s, 0, sizeof *s);
        c.on_change = on_change;
        c.ud = s;
    }
    struct fxp_breaker *br = fxp_breaker_new(&c);
    assert_non_null(br);
    return br;
}

/* Drive n allowed calls that fail at time t. */
static void fail_n(struct fxp_breaker *br, int n, int64_t t)
{
    for (int i = 0; i < n; i++) {
        assert_true(fxp_breaker_allow(br, t));
        fxp_breaker_failure(br, t);
    }
}

static void test_breaker__defaults_are_5_failures_and_30_s(void **state)
{
    struct fxp_breaker_cfg c;

    (void)state;
    fxp_breaker_cfg_default(&c, "store");
    assert_int_equal(c.threshold, 5);
    assert_int_equal(c.open_ms, 30000);
    assert_string_equal(c.name, "store");
    assert_null(c.on_change);
    assert_string_equal(fxp_breaker_state_name(FXP_BREAKER_CLOSED), "closed");
    assert_string_equal(fxp_breaker_state_name(FXP_BREAKER_OPEN), "open");
    assert_string_equal(fxp_breaker_state_name(FXP_BREAKER_HALF_OPEN),
                        "half_open");
}

static void test_breaker__opens_after_exactly_5_consecutive_failures(void **s)
{
    struct fxp_breaker *br = new_breaker(NULL);

    (void)s;
    fail_n(br, 4, 0);
    assert_int_equal(fxp_breaker_state_get(br), FXP_BREAKER_CLOSED);
    fail_n(br, 1, 0);
    assert_int_equal(fxp_breaker_state_get(br), FXP_BREAKER_OPEN);
    assert_int_equal(fxp_breaker_opens(br), 1);
    fxp_breaker_free(br);
}

/* Table: a sequence of outcomes ('f' failure, 's' success) and whether
 * the breaker is open afterwards. */
static void test_breaker__only_consecutive_failures_count(void **state)
{
    static const struct {
        const char *seq;
        fxp_breaker_state want;
    } cases[] = {
        {"ffff", FXP_BREAKER_CLOSED},
        {"fffff", FXP_BREAKER_OPEN},
        {"ffffsffff", FXP_BREAKER_CLOSED},
        {"ffffsfffff", FXP_BREAKER_OPEN},
        {"fsfsfsfsfsfsfsfs", FXP_BREAKER_CLOSED},
        {"sssssfffff", FXP_BREAKER_OPEN},
        {"ffffsffffsffff", FXP_BREAKER_CLOSED},
    };

    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct fxp_breaker *br = new_breaker(NULL);
        for (const char *p = cases[i].seq; *p; p++) {
            assert_true(fxp_breaker_allow(br, 100));
            if (*p == 'f')
                fxp_breaker_failure(br, 100);
            else
                fxp_breaker_success(br, 100);
        }
        if (fxp_breaker_state_get(br) != cases[i].want)
            fail_msg("sequence '%s': state %s, want %s", cases[i].seq,
                     fxp_breaker_state_name(fxp_breaker_state_get(br)),
                     fxp_breaker_state_name(cases[i].want));
        fxp_breaker_free(br);
    }
}

static void test_breaker__refuses_while_open_until_open_ms(void **state)
{
    struct fxp_breaker *br = new_breaker(NULL);

    (void)state;
    fail_n(br, 5, 1000);
    assert_false(fxp_breaker_allow(br, 1000));
    assert_false(fxp_breaker_allow(br, 1000 + 15000));
    assert_false(fxp_breaker_allow(br, 1000 + 29999));
    assert_int_equal(fxp_breaker_state_get(br), FXP_BREAKER_OPEN);
    assert_true(fxp_breaker_allow(br, 1000 + 30000));
    assert_int_equal(fxp_breaker_state_get(br), FXP_BREAKER_HALF_OPEN);
    fxp_breaker_free(br);
}

static void test_breaker__half_open_allows_exactly_one_probe(void **state)
{
    struct fxp_breaker *br = new_breaker(NULL);

    (void)state;
    fail_n(br, 5, 0);
    assert_true(fxp_breaker_allow(br, 30000));
    for (int i = 0; i < 10; i++)
        assert_false(fxp_breaker_allow(br, 30000 + i * 100000));
    assert_int_equal(fxp_breaker_state_get(br), FXP_BREAKER_HALF_OPEN);
    fxp_breaker_free(br);
}

static void test_breaker__probe_success_closes(void **state)
{
    struct fxp_breaker *br = new_breaker(NULL);

    (void)state;
    fail_n(br, 5, 0);
    assert_true(fxp_breaker_allow(br, 30000));
    fxp_breaker_success(br, 30010);
    assert_int_equal(fxp_breaker_state_get(br), FXP_BREAKER_CLOSED);
    assert_true(fxp_breaker_allow(br, 30020));
    /* The count starts afresh: four failures keep it closed. */
    fail_n(br, 4, 30030);
    assert_int_equal(fxp_breaker_state_get(br), FXP_BREAKER_CLOSED);
    fail_n(br, 1, 30040);
    assert_int_equal(fxp_breaker_state_get(br), FXP_BREAKER_OPEN);
    assert_int_equal(fxp_breaker_opens(br), 2);
    fxp_breaker_free(br);
}

static void test_breaker__probe_failure_reopens_for_another_open_ms(void **s)
{
    struct fxp_breaker *br = new_breaker(NULL);

    (void)s;
    fail_n(br, 5, 0);
    assert_true(fxp_breaker_allow(br, 40000)); /* probe, late */
    fxp_breaker_failure(br, 41000);
    assert_int_equal(fxp_breaker_state_get(br), FXP_BREAKER_OPEN);
    assert_int_equal(fxp_breaker_opens(br), 2);
    /* A fresh open_ms from the probe's failure, not from the first open. */
    assert_false(fxp_breaker_allow(br, 41000 + 29999));
    assert_true(fxp_breaker_allow(br, 41000 + 30000));
    fxp_breaker_success(br, 71001);
    assert_int_equal(fxp_breaker_state_get(br), FXP_BREAKER_CLOSED);
    fxp_breaker_free(br);
}

static void test_breaker__outcomes_reported_while_open_are_ignored(void **s)
{
    struct fxp_breaker *br = new_breaker(NULL);

    (void)s;
    fail_n(br, 5, 0);
    fxp_breaker_success(br, 10); /* a straggler */
    assert_int_equal(fxp_breaker_state_get(br), FXP_BREAKER_OPEN);
    fxp_breaker_failure(br, 20000); /* must not extend open_ms */
    assert_true(fxp_breaker_allow(br, 30000));
    fxp_breaker_free(br);
}

static void test_breaker__callbacks_report_transitions_in_order(void **state)
{
    struct seen sn;
    struct fxp_breaker *br = new_breaker(&sn);
    static const fxp_breaker_state want[][2] = {
        {FXP_BREAKER_CLOSED, FXP_BREAKER_OPEN},
        {FXP_BREAKER_OPEN, FXP_BREAKER_HALF_OPEN},
        {FXP_BREAKER_HALF_OPEN, FXP_BREAKER_OPEN},
        {FXP_BREAKER_OPEN, FXP_BREAKER_HALF_OPEN},
        {FXP_BREAKER_HALF_OPEN, FXP_BREAKER_CLOSED},
    };

    (void)state;
    fail_n(br, 4, 0);
    assert_int_equal(sn.n, 0); /* no transition, no call */
    fail_n(br, 1, 0);
    assert_int_equal(sn.n, 1);
    assert_false(fxp_breaker_allow(br, 100));
    assert_int_equal(sn.n, 1);
    assert_true(fxp_breaker_allow(br, 30000));
    fxp_breaker_failure(br, 30000);
    assert_true(fxp_breaker_allow(br, 60000));
    fxp_breaker_success(br, 60000);
    fxp_breaker_success(br, 60001); /* closed stays closed: no call */
    assert_int_equal(sn.n, 5);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(sn.from[i], want[i][0]);
        assert_int_equal(sn.to[i], want[i][1]);
    }
    assert_string_equal(sn.name, "store");
    fxp_breaker_free(br);
}

/* A callback may call back into the breaker: the lock is not held. */
static void reentrant_cb(void *ud, const char *name, fxp_breaker_state from,
                         fxp_breaker_state to)
{
    struct fxp_breaker **brp = ud;

    (void)name;
    (void)from;
    assert_int_equal(fxp_breaker_state_get(*brp), to);
    (void)fxp_breaker_opens(*brp);
}

static void test_breaker__callback_may_read_the_breaker(void **state)
{
    struct fxp_breaker_cfg c;
    struct fxp_breaker *br;

    (void)state;
    fxp_breaker_cfg_default(&c, NULL);
    c.threshold = 1;
    c.open_ms = 10;
    c.on_change = reentrant_cb;
    c.ud = &br;
    br = fxp_breaker_new(&c);
    assert_non_null(br);
    fail_n(br, 1, 0);
    assert_true(fxp_breaker_allow(br, 10));
    fxp_breaker_success(br, 10);
    assert_int_equal(fxp_breaker_state_get(br), FXP_BREAKER_CLOSED);
    fxp_breaker_free(br);
    fxp_breaker_free(NULL);
}

/* ---- threads ---- */

struct hammer {
    struct fxp_breaker *br;
    pthread_mutex_t mu;     /* guards the counters below */
    uint64_t n[3][3];       /* transitions [from][to] */
    fxp_breaker_state last; /* `to` of the latest callback */
    int order_ok;           /* every from == the previous to */
    unsigned seed;
};

static void count_cb(void *ud, const char *name, fxp_breaker_state from,
                     fxp_breaker_state to)
{
    struct hammer *h = ud;

    (void)name;
    pthread_mutex_lock(&h->mu);
    if (from != h->last)
        h->order_ok = 0;
    h->last = to;
    h->n[from][to]++;
    pthread_mutex_unlock(&h->mu);
}

struct worker {
    struct hammer *h;
    unsigned seed;
};

static void *hammer_thread(void *arg)
{
    struct worker *w = arg;
    uint64_t x = w->seed * 2654435761u + 1;

    for (int i = 0; i < 20000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        int64_t now = i; /* every thread's clock moves forward */
        if (fxp_breaker_allow(w->h->br, now)) {
            if (x % 3 == 0)
                fxp_breaker_success(w->h->br, now);
            else
                fxp_breaker_failure(w->h->br, now);
        }
        (void)fxp_breaker_state_get(w->h->br);
    }
    return NULL;
}

static void test_breaker__four_threads_leave_a_consistent_state(void **state)
{
    struct hammer h;
    struct fxp_breaker_cfg c;
    pthread_t t[4];
    struct worker w[4];

    (void)state;
    memset(&h, 0, sizeof h);
    pthread_mutex_init(&h.mu, NULL);
    h.last = FXP_BREAKER_CLOSED;
    h.order_ok = 1;
    fxp_breaker_cfg_default(&c, "store");
    c.threshold = 3;
    c.open_ms = 5;
    c.on_change = count_cb;
    c.ud = &h;
    h.br = fxp_breaker_new(&c);
    assert_non_null(h.br);
    for (int i = 0; i < 4; i++) {
        w[i].h = &h;
        w[i].seed = (unsigned)i + 1;
        assert_int_equal(pthread_create(&t[i], NULL, hammer_thread, &w[i]), 0);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);

    /* Every transition was reported once, in order, ending in the state
     * the breaker is in, and only the four legal transitions occurred. */
    const int C = FXP_BREAKER_CLOSED, O = FXP_BREAKER_OPEN,
              H = FXP_BREAKER_HALF_OPEN;
    fxp_breaker_state end = fxp_breaker_state_get(h.br);
    assert_true(h.order_ok);
    assert_int_equal(h.last, end);
    assert_int_equal(h.n[C][H] + h.n[O][C] + h.n[C][C] + h.n[O][O] + h.n[H][H],
                     0);
    assert_true(h.n[C][O] > 0);
    assert_int_equal(h.n[C][O] + h.n[H][O], fxp_breaker_opens(h.br));
    /* Each C->O is matched by a later H->C unless it ended away from
     * CLOSED; each O->H by an H->O or H->C unless it ended HALF_OPEN. */
    assert_int_equal(h.n[C][O] - h.n[H][C], (int)end == C ? 0 : 1);
    assert_int_equal(h.n[O][H] - h.n[H][O] - h.n[H][C], (int)end == H ? 1 : 0);
    fxp_breaker_free(h.br);
    pthread_mutex_destroy(&h.mu);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_breaker__defaults_are_5_failures_and_30_s),
        cmocka_unit_test(
            test_breaker__opens_after_exactly_5_consecutive_failures),
        cmocka_unit_test(test_breaker__only_consecutive_failures_count),
        cmocka_unit_test(test_breaker__refuses_while_open_until_open_ms),
        cmocka_unit_test(test_breaker__half_open_allows_exactly_one_probe),
        cmocka_unit_test(test_breaker__probe_success_closes),
        cmocka_unit_test(
            test_breaker__probe_failure_reopens_for_another_open_ms),
        cmocka_unit_test(
            test_breaker__outcomes_reported_while_open_are_ignored),
        cmocka_unit_test(test_breaker__callbacks_report_transitions_in_order),
        cmocka_unit_test(test_breaker__callback_may_read_the_breaker),
        cmocka_unit_test(test_breaker__four_threads_leave_a_consistent_state),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
