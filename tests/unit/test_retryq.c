/*
 * test_retryq.c - the retry queue (retryq.h): the 1-2-4-8-16-32 s schedule
 * within +-20%, the cap, FXP_ERANGE after the last attempt, priority among
 * due items, items not yet due stay put, pop_any and next_due.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fxpipe/err.h"
#include "fxpipe/retryq.h"

static struct fxp_retryq *new_q(double jitter, uint64_t seed)
{
    struct fxp_retryq_cfg c;

    fxp_retryq_cfg_default(&c);
    c.jitter = jitter;
    c.seed = seed;
    struct fxp_retryq *q = fxp_retryq_new(&c);
    assert_non_null(q);
    return q;
}

static void test_retryq__defaults(void **state)
{
    struct fxp_retryq_cfg c;

    (void)state;
    fxp_retryq_cfg_default(&c);
    assert_int_equal(c.cap, 64);
    /* The first attempt and 6 retries, after 1, 2, 4, 8, 16 and 32 s. */
    assert_int_equal(c.max_attempts, 7);
    assert_int_equal(c.base_ms, 1000);
    assert_int_equal(c.max_ms, 32000);
    assert_true(c.jitter > 0.199 && c.jitter < 0.201);
}

static void test_retryq__schedule_without_jitter_is_1_2_4_8_16_32_s(void **s)
{
    static const int64_t want[] = {1000,  2000,  4000,  8000,
                                   16000, 32000, 32000, 32000};
    struct fxp_retryq *q = new_q(0.0, 1);

    (void)s;
    for (int a = 1; a <= 8; a++)
        assert_int_equal(fxp_retryq_delay_ms(q, a), want[a - 1]);
    /* Far past the cap, no overflow. */
    assert_int_equal(fxp_retryq_delay_ms(q, 1000), 32000);
    assert_int_equal(fxp_retryq_delay_ms(q, 0x7fffffff), 32000);
    fxp_retryq_free(q);
}

static void test_retryq__delays_stay_within_20_percent(void **state)
{
    static const int64_t nominal[] = {1000, 2000, 4000, 8000, 16000, 32000};
    struct fxp_retryq *q = new_q(0.2, 42);

    (void)state;
    for (int a = 1; a <= 6; a++) {
        int64_t lo = INT64_MAX, hi = 0;
        for (int i = 0; i < 2000; i++) {
            int64_t d = fxp_retryq_delay_ms(q, a);
            int64_t n = nominal[a - 1];
            if (d < n - n / 5 || d > n + n / 5)
                fail_msg("attempt %d: delay %lld outside %lld +-20%%", a,
                         (long long)d, (long long)n);
            lo = d < lo ? d : lo;
            hi = d > hi ? d : hi;
        }
        /* The jitter is used, on both sides. */
        int64_t n = nominal[a - 1];
        assert_true(lo < n - n / 10);
        assert_true(hi > n + n / 10);
    }
    fxp_retryq_free(q);
}

static void test_retryq__same_seed_gives_same_schedule(void **state)
{
    struct fxp_retryq *a = new_q(0.2, 7), *b = new_q(0.2, 7),
                      *c = new_q(0.2, 8);
    int differ = 0;

    (void)state;
    for (int i = 1; i <= 50; i++) {
        int64_t da = fxp_retryq_delay_ms(a, 1 + i % 6);
        assert_int_equal(da, fxp_retryq_delay_ms(b, 1 + i % 6));
        differ |= da != fxp_retryq_delay_ms(c, 1 + i % 6);
    }
    assert_true(differ);
    fxp_retryq_free(a);
    fxp_retryq_free(b);
    fxp_retryq_free(c);
}

static void test_retryq__push_sets_due_to_now_plus_delay(void **state)
{
    struct fxp_retryq *q = new_q(0.0, 1);
    void *p;
    int att;

    (void)state;
    assert_int_equal(fxp_retryq_next_due(q), INT64_MAX);
    assert_int_equal(fxp_retryq_push(q, (void *)1, 0, 3, 10000), FXP_OK);
    assert_int_equal(fxp_retryq_next_due(q), 14000);
    assert_int_equal(fxp_retryq_pop_due(q, 13999, &p, &att), FXP_EAGAIN);
    assert_int_equal(fxp_retryq_len(q), 1);
    assert_int_equal(fxp_retryq_pop_due(q, 14000, &p, &att), FXP_OK);
    assert_ptr_equal(p, (void *)1);
    assert_int_equal(att, 3);
    assert_int_equal(fxp_retryq_len(q), 0);
    assert_int_equal(fxp_retryq_next_due(q), INT64_MAX);
    fxp_retryq_free(q);
}

static void test_retryq__refuses_after_max_attempts(void **state)
{
    static const struct {
        int attempts;
        int want;
    } cases[] = {
        {0, FXP_EINVAL}, {1, FXP_OK},     {2, FXP_OK},     {5, FXP_OK},
        {6, FXP_OK},     {7, FXP_ERANGE}, {8, FXP_ERANGE}, {-3, FXP_EINVAL},
    };
    struct fxp_retryq *q = new_q(0.2, 1);

    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc = fxp_retryq_push(q, NULL, 0, cases[i].attempts, 0);
        if (rc != cases[i].want)
            fail_msg("attempts %d: %s, want %s", cases[i].attempts,
                     fxp_err_name(rc), fxp_err_name(cases[i].want));
    }
    assert_int_equal(fxp_retryq_len(q), 4);
    fxp_retryq_free(q);
}

/* One batch's life with the defaults: it fails, waits 1, 2, 4, 8, 16 and
 * 32 s (+-20%), and after its 7th failure goes to the DLQ. */
static void test_retryq__a_batch_gets_six_retries_then_the_dlq(void **state)
{
    static const int64_t nominal[] = {1000, 2000, 4000, 8000, 16000, 32000};
    struct fxp_retryq *q = new_q(0.2, 99);
    int64_t now = 5000;
    void *p;
    int att = 0, failures = 0;

    (void)state;
    for (;;) {
        failures++; /* the attempt just made failed */
        int rc = fxp_retryq_push(q, (void *)q, 3, failures, now);
        if (rc == FXP_ERANGE)
            break;
        assert_int_equal(rc, FXP_OK);
        int64_t wait = fxp_retryq_next_due(q) - now, n = nominal[failures - 1];
        if (wait < n - n / 5 || wait > n + n / 5)
            fail_msg("after failure %d: waits %lld, want %lld +-20%%", failures,
                     (long long)wait, (long long)n);
        assert_int_equal(fxp_retryq_pop_due(q, now + wait - 1, &p, &att),
                         FXP_EAGAIN);
        now += wait;
        assert_int_equal(fxp_retryq_pop_due(q, now, &p, &att), FXP_OK);
        assert_int_equal(att, failures);
    }
    assert_int_equal(failures, 7);
    assert_int_equal(fxp_retryq_len(q), 0);
    fxp_retryq_free(q);
}

static void test_retryq__max_attempts_is_configurable(void **state)
{
    struct fxp_retryq_cfg c;
    struct fxp_retryq *q;

    (void)state;
    fxp_retryq_cfg_default(&c);
    c.max_attempts = 3;
    q = fxp_retryq_new(&c);
    assert_non_null(q);
    assert_int_equal(fxp_retryq_push(q, NULL, 0, 2, 0), FXP_OK);
    assert_int_equal(fxp_retryq_push(q, NULL, 0, 3, 0), FXP_ERANGE);
    fxp_retryq_free(q);
    c.max_attempts = 1; /* no retries at all */
    q = fxp_retryq_new(&c);
    assert_non_null(q);
    assert_int_equal(fxp_retryq_push(q, NULL, 0, 1, 0), FXP_ERANGE);
    fxp_retryq_free(q);
}

static void test_retryq__full_queue_refuses_with_etoolarge(void **state)
{
    struct fxp_retryq *q = new_q(0.2, 1);
    void *p;
    int att;

    (void)state;
    for (int i = 0; i < 64; i++)
        assert_int_equal(fxp_retryq_push(q, NULL, 0, 1, 0), FXP_OK);
    assert_int_equal(fxp_retryq_len(q), 64);
    assert_int_equal(fxp_retryq_push(q, NULL, 0, 1, 0), FXP_ETOOLARGE);
    /* An exhausted item is still sent to the DLQ, full or not. */
    assert_int_equal(fxp_retryq_push(q, NULL, 0, 7, 0), FXP_ERANGE);
    assert_int_equal(fxp_retryq_len(q), 64);
    assert_int_equal(fxp_retryq_pop_any(q, &p, &att), FXP_OK);
    assert_int_equal(fxp_retryq_push(q, NULL, 0, 1, 0), FXP_OK);
    fxp_retryq_free(q);
}

static void test_retryq__due_items_come_by_priority_then_due_time(void **s)
{
    /* No jitter: due = now + 1000 * 2^(attempts-1). */
    static const struct {
        intptr_t id;
        int priority;
        int attempts;
        int64_t now;
    } items[] = {
        {1, 1, 1, 0},    /* due 1000, historical */
        {2, 3, 1, 500},  /* due 1500, live */
        {3, 3, 1, 100},  /* due 1100, live */
        {4, 1, 1, 0},    /* due 1000, historical, after 1 */
        {5, 2, 2, 0},    /* due 2000, gap-fill */
        {6, 9, 5, 0},    /* due 16000, highest priority, not due */
        {7, 3, 1, 1100}, /* due 2100, live: not due at 2000 */
    };
    /* Popped at 2000: live first (earliest due), then gap-fill, then
     * historical in due/insertion order; 6 and 7 are not due. */
    static const intptr_t want[] = {3, 2, 5, 1, 4};
    struct fxp_retryq *q = new_q(0.0, 1);
    void *p;
    int att;

    (void)s;
    for (size_t i = 0; i < sizeof items / sizeof items[0]; i++)
        assert_int_equal(fxp_retryq_push(q, (void *)items[i].id,
                                         items[i].priority, items[i].attempts,
                                         items[i].now),
                         FXP_OK);
    assert_int_equal(fxp_retryq_next_due(q), 1000);
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        assert_int_equal(fxp_retryq_pop_due(q, 2000, &p, &att), FXP_OK);
        assert_int_equal((intptr_t)p, want[i]);
    }
    assert_int_equal(fxp_retryq_pop_due(q, 2000, &p, &att), FXP_EAGAIN);
    assert_int_equal(fxp_retryq_len(q), 2);
    assert_int_equal(fxp_retryq_next_due(q), 2100);
    assert_int_equal(fxp_retryq_pop_due(q, 16000, &p, &att), FXP_OK);
    assert_int_equal((intptr_t)p, 6);
    assert_int_equal(att, 5);
    assert_int_equal(fxp_retryq_pop_due(q, 16000, &p, &att), FXP_OK);
    assert_int_equal((intptr_t)p, 7);
    fxp_retryq_free(q);
}

static void test_retryq__pop_any_ignores_due_time(void **state)
{
    struct fxp_retryq *q = new_q(0.2, 3);
    void *p;
    int att, seen = 0;

    (void)state;
    assert_int_equal(fxp_retryq_pop_any(q, &p, &att), FXP_EAGAIN);
    for (intptr_t i = 1; i <= 5; i++)
        assert_int_equal(fxp_retryq_push(q, (void *)i, (int)i, (int)i, 0),
                         FXP_OK);
    assert_int_equal(fxp_retryq_pop_due(q, 0, &p, &att), FXP_EAGAIN);
    while (fxp_retryq_pop_any(q, &p, &att) == FXP_OK) {
        assert_int_equal((intptr_t)p, att);
        seen |= 1 << att;
    }
    assert_int_equal(seen, 0x3e);
    assert_int_equal(fxp_retryq_len(q), 0);
    assert_int_equal(fxp_retryq_next_due(q), INT64_MAX);
    fxp_retryq_free(q);
}

static void test_retryq__invalid_config_is_refused(void **state)
{
    struct fxp_retryq_cfg c;

    (void)state;
    fxp_retryq_cfg_default(&c);
    c.cap = 0;
    assert_null(fxp_retryq_new(&c));
    fxp_retryq_cfg_default(&c);
    c.max_attempts = 0;
    assert_null(fxp_retryq_new(&c));
    fxp_retryq_cfg_default(&c);
    c.jitter = 1.0;
    assert_null(fxp_retryq_new(&c));
    fxp_retryq_cfg_default(&c);
    c.max_ms = 10;
    assert_null(fxp_retryq_new(&c));
    fxp_retryq_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_retryq__defaults),
        cmocka_unit_test(
            test_retryq__schedule_without_jitter_is_1_2_4_8_16_32_s),
        cmocka_unit_test(test_retryq__delays_stay_within_20_percent),
        cmocka_unit_test(test_retryq__same_seed_gives_same_schedule),
        cmocka_unit_test(test_retryq__push_sets_due_to_now_plus_delay),
        cmocka_unit_test(test_retryq__refuses_after_max_attempts),
        cmocka_unit_test(test_retryq__a_batch_gets_six_retries_then_the_dlq),
        cmocka_unit_test(test_retryq__max_attempts_is_configurable),
        cmocka_unit_test(test_retryq__full_queue_refuses_with_etoolarge),
        cmocka_unit_test(test_retryq__due_items_come_by_priority_then_due_time),
        cmocka_unit_test(test_retryq__pop_any_ignores_due_time),
        cmocka_unit_test(test_retryq__invalid_config_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
