/*
 * test_metrics.c - the metrics registry (health.h) without the server:
 * which names and label sets are accepted, one type per name, label order
 * not making new series, the spelling of gauge values, the series limit,
 * and the text of an empty registry. test_health.c covers it over HTTP.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <math.h>

#include <cmocka.h>

#include "fxpipe/err.h"
#include "fxpipe/health.h"

static double forty_two(void *ud)
{
    (void)ud;
    return 42;
}

static void test_metrics__names_and_labels_are_validated(void **st)
{
    static const struct {
        const char *name, *labels;
        bool ok;
    } cases[] = {
        {"fxpipe_x_total", NULL, true},
        {"a:b_c9", "", true},
        {":colon_first", "a=\"\"", true},
        {"_x", "a=\"1\",b_2=\"\\\\\"", true},
        {"9starts_with_digit", NULL, false},
        {"has-dash", NULL, false},
        {"has space", NULL, false},
        {"", NULL, false},
        {"ok", "a=1", false},             /* unquoted */
        {"ok", "a=\"1\",", false},        /* trailing comma */
        {"ok", "a=\"1\",a=\"2\"", false}, /* repeated name */
        {"ok", "__name__=\"x\"", false},  /* reserved */
        {"ok", "a=\"bad \\t escape\"", false},
        {"ok", "a=\"raw\nnewline\"", false},
        {"ok", "a=\"unterminated", false},
        {"ok", "a:b=\"1\"", false}, /* colon not in label names */
        {"ok", "{a=\"1\"}", false}, /* no braces */
    };
    struct fxp_metrics *m = fxp_metrics_new();

    (void)st;
    assert_non_null(m);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        bool ok =
            fxp_metrics_counter(m, cases[i].name, "h", cases[i].labels) != NULL;
        if (ok != cases[i].ok)
            fail_msg("case %zu (%s {%s}): got %d", i, cases[i].name,
                     cases[i].labels ? cases[i].labels : "", ok);
    }
    assert_null(fxp_metrics_counter(m, "x_total", NULL, NULL)); /* help */
    /* One name is one type. */
    assert_non_null(fxp_metrics_counter(m, "kind", "h", NULL));
    assert_null(fxp_metrics_gauge(m, "kind", "h", "a=\"1\""));
    assert_int_equal(
        fxp_metrics_gauge_fn(m, "kind", "h", NULL, forty_two, NULL),
        FXP_EINVAL);
    fxp_metrics_free(m);
}

static void test_metrics__gauge_values_use_the_format_spelling(void **st)
{
    struct fxp_metrics *m = fxp_metrics_new();
    char *text;
    size_t len;

    (void)st;
    fxp_gauge_set(fxp_metrics_gauge(m, "g", "h", "v=\"nan\""), NAN);
    fxp_gauge_set(fxp_metrics_gauge(m, "g", "h", "v=\"pinf\""), INFINITY);
    fxp_gauge_set(fxp_metrics_gauge(m, "g", "h", "v=\"minf\""), -INFINITY);
    fxp_gauge_set(fxp_metrics_gauge(m, "g", "h", "v=\"third\""), 1.0 / 3);
    fxp_gauge_set(fxp_metrics_gauge(m, "g", "h", "v=\"tiny\""), 1e-7);
    fxp_gauge_set(fxp_metrics_gauge(m, "g", "h", "v=\"neg\""), -3);
    assert_int_equal(fxp_metrics_render(m, &text, &len), FXP_OK);
    assert_int_equal(len, strlen(text));
    assert_string_equal(text, "# HELP g h\n# TYPE g gauge\n"
                              "g{v=\"nan\"} NaN\n"
                              "g{v=\"pinf\"} +Inf\n"
                              "g{v=\"minf\"} -Inf\n"
                              "g{v=\"third\"} 0.33333333333333331\n"
                              "g{v=\"tiny\"} 1e-07\n"
                              "g{v=\"neg\"} -3\n");
    free(text);
    fxp_metrics_free(m);
}

static void test_metrics__label_order_does_not_make_a_new_series(void **st)
{
    struct fxp_metrics *m = fxp_metrics_new();
    struct fxp_counter *c;
    char *text;
    size_t len;

    (void)st;
    c = fxp_metrics_counter(m, "x_total", "h", "z=\"1\",a=\"2\",m=\"3\"");
    assert_non_null(c);
    assert_ptr_equal(
        fxp_metrics_counter(m, "x_total", "h", "a=\"2\",m=\"3\",z=\"1\""), c);
    assert_ptr_not_equal(fxp_metrics_counter(m, "x_total", "h", NULL), c);
    fxp_counter_add(c, 7);
    assert_int_equal(fxp_metrics_render(m, &text, &len), FXP_OK);
    assert_string_equal(text, "# HELP x_total h\n# TYPE x_total counter\n"
                              "x_total{a=\"2\",m=\"3\",z=\"1\"} 7\n"
                              "x_total 0\n");
    free(text);
    fxp_metrics_free(m);
}

static void test_metrics__series_beyond_the_limit_are_refused(void **st)
{
    struct fxp_metrics *m = fxp_metrics_new();
    char labels[32];

    (void)st;
    for (int i = 0; i < FXP_METRICS_MAX_SERIES; i++) {
        snprintf(labels, sizeof labels, "i=\"%d\"", i);
        assert_non_null(fxp_metrics_gauge(m, "g", "h", labels));
    }
    assert_null(fxp_metrics_gauge(m, "g", "h", "i=\"new\""));
    assert_int_equal(fxp_metrics_gauge_fn(m, "f", "h", NULL, forty_two, NULL),
                     FXP_ETOOLARGE);
    /* Existing series are still found. */
    assert_non_null(fxp_metrics_gauge(m, "g", "h", "i=\"0\""));
    fxp_metrics_free(m);
}

static void test_metrics__empty_registry_renders_empty_text(void **st)
{
    struct fxp_metrics *m = fxp_metrics_new();
    char *text;
    size_t len;

    (void)st;
    assert_int_equal(fxp_metrics_render(m, &text, &len), FXP_OK);
    assert_string_equal(text, "");
    assert_int_equal(len, 0);
    free(text);
    fxp_metrics_free(m);
    fxp_metrics_free(NULL);
    /* NULL handles are no-ops. */
    fxp_counter_inc(NULL);
    fxp_gauge_add(NULL, 1);
    assert_true(fxp_counter_get(NULL) == 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_metrics__names_and_labels_are_validated),
        cmocka_unit_test(test_metrics__gauge_values_use_the_format_spelling),
        cmocka_unit_test(test_metrics__label_order_does_not_make_a_new_series),
        cmocka_unit_test(test_metrics__series_beyond_the_limit_are_refused),
        cmocka_unit_test(test_metrics__empty_registry_renders_empty_text),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
