/*
 * test_symbol.c - symbol normalisation and the intern table (symbol.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "fxpipe/err.h"
#include "fxpipe/symbol.h"

struct norm_case {
    const char *in;  /* raw spelling */
    const char *out; /* normalised name, NULL when it must be rejected */
};

static const struct norm_case norm_cases[] = {
    {"EUR/USD", "EURUSD"},
    {"C:EURUSD", "EURUSD"},
    {"c:eurusd", "EURUSD"},
    {"X:EURUSD", "EURUSD"},
    {"FX:GBPJPY", "GBPJPY"},
    {"eurusd", "EURUSD"},
    {"xau_usd", "XAUUSD"},
    {"EUR-USD", "EURUSD"},
    {"EUR.USD", "EURUSD"},
    {" EUR USD ", "EURUSD"},
    {"UsdJpy", "USDJPY"},
    {"US30USD", "US30USD"},
    {"ABCDEFGHIJKL", "ABCDEFGHIJKL"},
    {"", NULL},
    {"EU", NULL},
    {"EUR/US", NULL},
    {"1EURUSD", NULL},
    {"C:1EURUSD", NULL},
    {"ABCDEFGHIJKLM", NULL},      /* 13 letters: too long */
    {"EURUSDEURUSDEURUSD", NULL}, /* much too long */
    {"EUR\xC3\x9CSD", NULL},      /* non-ASCII (U+00DC) */
    {"EUR\xFFUSD", NULL},         /* stray high byte */
    {"EUR:USD", NULL},            /* ':' outside a prefix */
    {"Q:EURUSD", NULL},           /* unknown prefix */
    {"EUR,USD", NULL},
    {"EUR\tUSD", NULL},
    {"//////", NULL}, /* separators only */
};

static void test_symbol__normalize_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof norm_cases / sizeof norm_cases[0]; i++) {
        const struct norm_case *c = &norm_cases[i];
        char out[FXP_SYMBOL_MAX];
        int rc;

        memset(out, 'x', sizeof out);
        rc = fxp_symbol_normalize(c->in, strlen(c->in), out);
        if (c->out != NULL) {
            if (rc != FXP_OK || strcmp(out, c->out) != 0)
                fail_msg("'%s': got %d '%s', want '%s'", c->in, rc, out,
                         c->out);
        } else {
            if (rc != FXP_EINVAL || out[0] != '\0')
                fail_msg("'%s': got %d '%s', want FXP_EINVAL", c->in, rc, out);
        }
    }
}

static void test_symbol__normalize_reads_only_len_bytes(void **state)
{
    char out[FXP_SYMBOL_MAX];

    (void)state;
    assert_int_equal(fxp_symbol_normalize("EURUSD,123", 6, out), FXP_OK);
    assert_string_equal(out, "EURUSD");
    /* An embedded NUL is not a separator. */
    assert_int_equal(fxp_symbol_normalize("EUR\0USD", 7, out), FXP_EINVAL);
}

static void test_symbol__very_long_raw_name_is_rejected(void **state)
{
    char raw[200];
    char out[FXP_SYMBOL_MAX];

    (void)state;
    memset(raw, '/', sizeof raw);
    memcpy(raw, "EURUSD", 6);
    assert_int_equal(fxp_symbol_normalize(raw, sizeof raw, out), FXP_EINVAL);
}

static void test_symbol__ids_are_dense_and_stable(void **state)
{
    static const char *const names[] = {"EURUSD", "GBPUSD", "USDJPY", "XAUUSD"};
    struct fxp_symtab *st = fxp_symtab_new(16);
    uint32_t id;

    (void)state;
    assert_non_null(st);
    assert_int_equal(fxp_symtab_count(st), 0);
    for (uint32_t i = 0; i < 4; i++) {
        assert_int_equal(fxp_symtab_intern(st, names[i], strlen(names[i]), &id),
                         FXP_OK);
        assert_int_equal(id, i);
    }
    /* Other spellings of the same names get the same ids, repeatedly. */
    for (int round = 0; round < 3; round++) {
        assert_int_equal(fxp_symtab_intern(st, "EUR/USD", 7, &id), FXP_OK);
        assert_int_equal(id, 0);
        assert_int_equal(fxp_symtab_intern(st, "C:GBPUSD", 8, &id), FXP_OK);
        assert_int_equal(id, 1);
        assert_int_equal(fxp_symtab_intern(st, "usd_jpy", 7, &id), FXP_OK);
        assert_int_equal(id, 2);
        assert_int_equal(fxp_symtab_intern(st, "xau-usd", 7, &id), FXP_OK);
        assert_int_equal(id, 3);
    }
    assert_int_equal(fxp_symtab_count(st), 4);
    for (uint32_t i = 0; i < 4; i++) {
        assert_string_equal(fxp_symtab_name(st, i), names[i]);
        assert_int_equal(fxp_symtab_find(st, names[i], &id), FXP_OK);
        assert_int_equal(id, i);
    }
    assert_null(fxp_symtab_name(st, 4));
    assert_null(fxp_symtab_name(st, UINT32_MAX));
    assert_int_equal(fxp_symtab_find(st, "AUDUSD", &id), FXP_ENOENT);
    assert_int_equal(fxp_symtab_find(st, "EUR/USD", &id), FXP_ENOENT);
    assert_int_equal(fxp_symtab_find(st, "EURUSDEURUSDEURUSD", &id),
                     FXP_ENOENT);
    fxp_symtab_free(st);
}

static void test_symbol__bad_name_is_einval_and_not_interned(void **state)
{
    struct fxp_symtab *st = fxp_symtab_new(4);
    uint32_t id = 77;

    (void)state;
    assert_non_null(st);
    assert_int_equal(fxp_symtab_intern(st, "EU", 2, &id), FXP_EINVAL);
    assert_int_equal(fxp_symtab_intern(st, "", 0, &id), FXP_EINVAL);
    assert_int_equal(id, 77);
    assert_int_equal(fxp_symtab_count(st), 0);
    fxp_symtab_free(st);
}

static void test_symbol__full_table_is_etoolarge(void **state)
{
    struct fxp_symtab *st = fxp_symtab_new(3);
    uint32_t id;

    (void)state;
    assert_non_null(st);
    assert_int_equal(fxp_symtab_intern(st, "EURUSD", 6, &id), FXP_OK);
    assert_int_equal(fxp_symtab_intern(st, "GBPUSD", 6, &id), FXP_OK);
    assert_int_equal(fxp_symtab_intern(st, "USDJPY", 6, &id), FXP_OK);
    assert_int_equal(fxp_symtab_intern(st, "AUDUSD", 6, &id), FXP_ETOOLARGE);
    assert_int_equal(fxp_symtab_intern(st, "AUD/USD", 7, &id), FXP_ETOOLARGE);
    assert_int_equal(fxp_symtab_count(st), 3);
    /* Known names still intern when the table is full. */
    assert_int_equal(fxp_symtab_intern(st, "gbp/usd", 7, &id), FXP_OK);
    assert_int_equal(id, 1);
    assert_null(fxp_symtab_name(st, 3));
    fxp_symtab_free(st);
}

static void test_symbol__zero_capacity_table_holds_nothing(void **state)
{
    struct fxp_symtab *st = fxp_symtab_new(0);
    uint32_t id;

    (void)state;
    assert_non_null(st);
    assert_int_equal(fxp_symtab_intern(st, "EURUSD", 6, &id), FXP_ETOOLARGE);
    assert_int_equal(fxp_symtab_find(st, "EURUSD", &id), FXP_ENOENT);
    fxp_symtab_free(st);
}

static void test_symbol__many_names_keep_their_ids(void **state)
{
    enum { N = 1000 };
    struct fxp_symtab *st = fxp_symtab_new(N);
    char raw[32];
    uint32_t id;

    (void)state;
    assert_non_null(st);
    for (uint32_t i = 0; i < N; i++) {
        snprintf(raw, sizeof raw, "SYM%06u", (unsigned)i);
        assert_int_equal(fxp_symtab_intern(st, raw, strlen(raw), &id), FXP_OK);
        assert_int_equal(id, i);
    }
    assert_int_equal(fxp_symtab_intern(st, "ZZZZZZ", 6, &id), FXP_ETOOLARGE);
    for (uint32_t i = 0; i < N; i++) {
        snprintf(raw, sizeof raw, "sym/%06u", (unsigned)i);
        assert_int_equal(fxp_symtab_intern(st, raw, strlen(raw), &id), FXP_OK);
        assert_int_equal(id, i);
        snprintf(raw, sizeof raw, "SYM%06u", (unsigned)i);
        assert_string_equal(fxp_symtab_name(st, i), raw);
    }
    fxp_symtab_free(st);
}

static void test_symbol__free_null_is_noop(void **state)
{
    (void)state;
    fxp_symtab_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_symbol__normalize_table),
        cmocka_unit_test(test_symbol__normalize_reads_only_len_bytes),
        cmocka_unit_test(test_symbol__very_long_raw_name_is_rejected),
        cmocka_unit_test(test_symbol__ids_are_dense_and_stable),
        cmocka_unit_test(test_symbol__bad_name_is_einval_and_not_interned),
        cmocka_unit_test(test_symbol__full_table_is_etoolarge),
        cmocka_unit_test(test_symbol__zero_capacity_table_holds_nothing),
        cmocka_unit_test(test_symbol__many_names_keep_their_ids),
        cmocka_unit_test(test_symbol__free_null_is_noop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
