/*
 * test_batchcodec.c - store batches as DLQ payloads (batchcodec.h): round
 * trips through another process's symbol ids, NULL strings and NaN, a
 * decoded batch stored for real, and truncated, corrupt or lying input
 * giving FXP_EPARSE (never a crash, never a huge allocation).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>

#include <unistd.h>

#include <cmocka.h>

#include "fxpipe/batchcodec.h"
#include "fxpipe/err.h"
#include "fxpipe/store.h"
#include "fxpipe/symbol.h"
#include "reliable/crc32c.h"

#define T0     1704067200000LL /* 2024-01-01T00:00:00Z */
#define MINUTE 60000LL

/* A batch over a symtab where EURUSD is id 2 and XAUUSD id 4 (ids 0, 1
 * and 3 unused by the batch). */
struct fx {
    struct fxp_symtab *st;
    uint32_t eur, xau;
    struct fxp_bar bars[3];
    struct fxp_tick ticks[2];
    struct fxp_reject rejects[2];
    struct fxp_store_batch b;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    static const char *names[] = {"GBPUSD", "USDJPY", "EURUSD", "AUDUSD",
                                  "XAUUSD"};
    uint32_t id;

    assert_non_null(f);
    f->st = fxp_symtab_new(16);
    for (int i = 0; i < 5; i++)
        assert_int_equal(fxp_symtab_intern(f->st, names[i], 6, &id), FXP_OK);
    assert_int_equal(fxp_symtab_find(f->st, "EURUSD", &f->eur), FXP_OK);
    assert_int_equal(fxp_symtab_find(f->st, "XAUUSD", &f->xau), FXP_OK);
    for (int i = 0; i < 3; i++) {
        struct fxp_bar *b = &f->bars[i];
        b->ts_ms = T0 + i * MINUTE;
        b->open = 1.1 + i * 0.001;
        b->high = b->open + 0.0005;
        b->low = b->open - 0.0004;
        b->close = b->open + 0.0001;
        b->volume = 42.5 + i;
        b->version = 0x123456789ALL + i;
        b->n_ticks = 17 + (uint32_t)i;
        b->sym = i == 1 ? f->xau : f->eur;
        b->tf = (uint8_t)(i == 2 ? FXP_TF_5M : FXP_TF_1M);
        b->source = FXP_SRC_LIVE;
        b->flags = 0;
    }
    f->ticks[0] = (struct fxp_tick){T0 + 5, 1.1, 1.1002, 0, f->eur, 0};
    f->ticks[1] = (struct fxp_tick){T0 + 9, 2050.1, 2050.6,
                                    3.5,    f->xau, FXP_TICK_HAS_VOLUME};
    f->rejects[0] =
        (struct fxp_reject){"feed.csv:12",
                            T0,
                            "EURUSD",
                            FXP_R_CROSSED,
                            "field 'ask': ask is below bid (bid=1.1 ask=1.0)",
                            "2024-01-01T00:00:00Z,EURUSD,1.1,1.0"};
    f->rejects[1] =
        (struct fxp_reject){"synthetic:7", 0, "", FXP_R_PARSE, NULL, NULL};
    f->b.bars = f->bars;
    f->b.n_bars = 3;
    f->b.ticks = f->ticks;
    f->b.n_ticks = 2;
    f->b.rejects = f->rejects;
    f->b.n_rejects = 2;
    f->b.symtab = f->st;
    f->b.meta_key = "cursor";
    f->b.meta_value = "feed.csv:4096";
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;

    fxp_symtab_free(f->st);
    free(f);
    return 0;
}

static void *encode_ok(const struct fxp_store_batch *b, size_t *len)
{
    void *buf;
    int rc = fxp_batch_encode(b, &buf, len);

    if (rc != FXP_OK)
        fail_msg("encode: %s", fxp_err_name(rc));
    return buf;
}

static void assert_str_or_null(const char *a, const char *b)
{
    if (!a || !b)
        assert_ptr_equal(a, b);
    else
        assert_string_equal(a, b);
}

static void test_batchcodec__round_trip_by_symbol_name(void **state)
{
    struct fx *f = *state;
    struct fxp_symtab *st2 = fxp_symtab_new(16);
    struct fxp_decoded_batch *d;
    size_t len;
    uint32_t id;
    void *buf = encode_ok(&f->b, &len);

    /* The reading process knows XAUUSD under another id. */
    assert_int_equal(fxp_symtab_intern(st2, "XAUUSD", 6, &id), FXP_OK);
    assert_int_equal(fxp_batch_decode(buf, len, st2, &d), FXP_OK);
    const struct fxp_store_batch *v = fxp_decoded_batch_view(d);
    assert_ptr_equal(v->symtab, st2);
    assert_int_equal(v->n_bars, 3);
    assert_int_equal(v->n_ticks, 2);
    assert_int_equal(v->n_rejects, 2);
    for (size_t i = 0; i < 3; i++) {
        const struct fxp_bar *a = &f->bars[i], *b = &v->bars[i];
        assert_string_equal(fxp_symtab_name(st2, b->sym),
                            fxp_symtab_name(f->st, a->sym));
        assert_int_equal(b->ts_ms, a->ts_ms);
        assert_memory_equal(&b->open, &a->open, sizeof(double) * 5);
        assert_int_equal(b->version, a->version);
        assert_int_equal(b->n_ticks, a->n_ticks);
        assert_int_equal(b->tf, a->tf);
        assert_int_equal(b->source, a->source);
        assert_int_equal(b->flags, a->flags);
    }
    assert_int_equal(v->bars[1].sym, id);
    for (size_t i = 0; i < 2; i++) {
        const struct fxp_tick *a = &f->ticks[i], *b = &v->ticks[i];
        assert_string_equal(fxp_symtab_name(st2, b->sym),
                            fxp_symtab_name(f->st, a->sym));
        assert_int_equal(b->ts_ms, a->ts_ms);
        assert_true(b->bid == a->bid && b->ask == a->ask &&
                    b->volume == a->volume);
        assert_int_equal(b->flags, a->flags);
    }
    for (size_t i = 0; i < 2; i++) {
        const struct fxp_reject *a = &f->rejects[i], *b = &v->rejects[i];
        assert_str_or_null(b->origin, a->origin);
        assert_int_equal(b->ts_ms, a->ts_ms);
        assert_str_or_null(b->symbol, a->symbol);
        assert_int_equal(b->reason, a->reason);
        assert_str_or_null(b->detail, a->detail);
        assert_str_or_null(b->raw, a->raw);
    }
    assert_string_equal(v->meta_key, "cursor");
    assert_string_equal(v->meta_value, "feed.csv:4096");
    fxp_decoded_batch_free(d);
    fxp_decoded_batch_free(NULL);
    free(buf);
    fxp_symtab_free(st2);
}

static void test_batchcodec__tick_positions_round_trip(void **state)
{
    struct fx *f = *state;
    struct fxp_store_batch b = f->b;
    const uint64_t pos[2] = {7, (1ULL << 40) + 3};
    struct fxp_decoded_batch *d;
    size_t len, len0;
    void *buf0 = encode_ok(&f->b, &len0);

    /* Without positions the payload has none; with them, 8 bytes a tick. */
    b.tick_pos = pos;
    void *buf = encode_ok(&b, &len);
    assert_int_equal(len, len0 + 2 * 8);
    assert_int_equal(fxp_batch_decode(buf0, len0, f->st, &d), FXP_OK);
    assert_null(fxp_decoded_batch_view(d)->tick_pos);
    fxp_decoded_batch_free(d);
    assert_int_equal(fxp_batch_decode(buf, len, f->st, &d), FXP_OK);
    const uint64_t *got = fxp_decoded_batch_view(d)->tick_pos;
    assert_non_null(got);
    assert_int_equal(got[0], 7);
    assert_int_equal(got[1], (1ULL << 40) + 3);
    fxp_decoded_batch_free(d);
    free(buf);
    free(buf0);
}

static void test_batchcodec__nan_and_empty_parts_survive(void **state)
{
    struct fx *f = *state;
    struct fxp_store_batch b = {0};
    struct fxp_decoded_batch *d;
    size_t len;
    void *buf;

    /* Entirely empty, no symtab needed. */
    buf = encode_ok(&b, &len);
    assert_int_equal(fxp_batch_decode(buf, len, NULL, &d), FXP_OK);
    assert_int_equal(fxp_decoded_batch_view(d)->n_bars, 0);
    assert_null(fxp_decoded_batch_view(d)->meta_key);
    fxp_decoded_batch_free(d);
    free(buf);

    /* Bars only, with NaN and infinity (the store rejects those; the
     * codec must carry them faithfully). */
    f->bars[0].open = NAN;
    f->bars[0].high = INFINITY;
    b.bars = f->bars;
    b.n_bars = 1;
    b.symtab = f->st;
    b.meta_value = "only a value";
    buf = encode_ok(&b, &len);
    assert_int_equal(fxp_batch_decode(buf, len, f->st, &d), FXP_OK);
    const struct fxp_store_batch *v = fxp_decoded_batch_view(d);
    assert_true(isnan(v->bars[0].open));
    assert_true(isinf(v->bars[0].high));
    assert_int_equal(v->bars[0].sym, f->eur);
    assert_null(v->meta_key);
    assert_string_equal(v->meta_value, "only a value");
    fxp_decoded_batch_free(d);
    free(buf);
}

static void test_batchcodec__encode_refuses_unnamed_symbols(void **state)
{
    struct fx *f = *state;
    void *buf = (void *)1;
    size_t len = 1;

    f->bars[1].sym = 99;
    assert_int_equal(fxp_batch_encode(&f->b, &buf, &len), FXP_EINVAL);
    assert_null(buf);
    assert_int_equal(len, 0);
    f->bars[1].sym = f->eur;
    f->b.symtab = NULL;
    assert_int_equal(fxp_batch_encode(&f->b, &buf, &len), FXP_EINVAL);
    f->b.symtab = f->st;
    f->rejects[0].reason = FXP_R_COUNT;
    assert_int_equal(fxp_batch_encode(&f->b, &buf, &len), FXP_EINVAL);
    assert_int_equal(fxp_batch_encode(NULL, &buf, &len), FXP_EINVAL);
}

static void test_batchcodec__every_truncation_is_eparse(void **state)
{
    struct fx *f = *state;
    struct fxp_decoded_batch *d = (struct fxp_decoded_batch *)1;
    size_t len;
    void *buf = encode_ok(&f->b, &len);

    for (size_t n = 0; n < len; n++) {
        /* A copy of exactly n bytes, so ASan sees any over-read. */
        void *cut = malloc(n ? n : 1);
        memcpy(cut, buf, n);
        int rc = fxp_batch_decode(cut, n, f->st, &d);
        if (rc != FXP_EPARSE)
            fail_msg("%zu of %zu bytes: %s", n, len, fxp_err_name(rc));
        assert_null(d);
        free(cut);
    }
    /* Trailing garbage too. */
    unsigned char *more = malloc(len + 1);
    memcpy(more, buf, len);
    more[len] = 0;
    assert_int_equal(fxp_batch_decode(more, len + 1, f->st, &d), FXP_EPARSE);
    free(more);
    free(buf);
}

static void test_batchcodec__every_flipped_byte_is_eparse(void **state)
{
    struct fx *f = *state;
    struct fxp_decoded_batch *d;
    size_t len;
    unsigned char *buf = encode_ok(&f->b, &len);

    for (size_t i = 0; i < len; i++) {
        for (int bit = 0; bit < 8; bit += 3) {
            buf[i] ^= (unsigned char)(1u << bit);
            int rc = fxp_batch_decode(buf, len, f->st, &d);
            if (rc != FXP_EPARSE)
                fail_msg("byte %zu bit %d: %s", i, bit, fxp_err_name(rc));
            buf[i] ^= (unsigned char)(1u << bit);
        }
    }
    assert_int_equal(fxp_batch_decode(buf, len, f->st, &d), FXP_OK);
    fxp_decoded_batch_free(d);
    free(buf);
}

/* The first occurrence of the string s in buf[0..len), or NULL. */
static unsigned char *find(unsigned char *buf, size_t len, const char *s)
{
    size_t n = strlen(s);

    for (size_t i = 0; i + n <= len; i++)
        if (!memcmp(buf + i, s, n))
            return buf + i;
    return NULL;
}

/* Re-seal buf after an edit so only the structure checks can catch it. */
static void reseal(unsigned char *buf, size_t len)
{
    uint32_t c = fxp__crc32c(0, buf, len - 4);

    for (int i = 0; i < 4; i++)
        buf[len - 4 + (size_t)i] = (unsigned char)(c >> (8 * i));
}

static void test_batchcodec__lying_structure_with_valid_crc_is_eparse(void **s)
{
    struct fx *f = *s;
    /* Offsets in the layout (batchcodec.c note 1): header 20 bytes, then
     * the name table ("EURUSD", "XAUUSD": 2 x 7 bytes), then bars. */
    static const struct {
        const char *what;
        size_t off;
        unsigned char val;
    } cases[] = {
        {"version 2", 4, 2},          {"unknown flag", 5, 0x80},
        {"n_syms 3", 6, 3},           {"n_bars huge", 11, 0x7f},
        {"n_ticks huge", 15, 0xff},   {"n_rejects huge", 19, 0x10},
        {"symbol length 0", 20, 0},   {"symbol length 16", 20, 16},
        {"bad symbol name", 21, '1'}, {"bar sym index 2", 34 + 60, 2},
    };
    struct fxp_decoded_batch *d;
    size_t len;
    unsigned char *buf = encode_ok(&f->b, &len);
    unsigned char *copy = malloc(len);

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        memcpy(copy, buf, len);
        copy[cases[i].off] = cases[i].val;
        reseal(copy, len);
        int rc = fxp_batch_decode(copy, len, f->st, &d);
        if (rc != FXP_EPARSE)
            fail_msg("%s: %s", cases[i].what, fxp_err_name(rc));
    }

    /* A reject whose reason is not a reason name: find "crossed". */
    memcpy(copy, buf, len);
    unsigned char *r = find(copy, len, "crossed");
    assert_non_null(r);
    r[0] = 'X';
    reseal(copy, len);
    assert_int_equal(fxp_batch_decode(copy, len, f->st, &d), FXP_EPARSE);
    /* A string with a NUL inside. */
    memcpy(copy, buf, len);
    r = find(copy, len, "feed.csv:12");
    assert_non_null(r);
    r[4] = '\0';
    reseal(copy, len);
    assert_int_equal(fxp_batch_decode(copy, len, f->st, &d), FXP_EPARSE);
    free(copy);
    free(buf);
}

static void test_batchcodec__full_symtab_is_etoolarge(void **state)
{
    struct fx *f = *state;
    struct fxp_symtab *small = fxp_symtab_new(1);
    struct fxp_decoded_batch *d;
    size_t len;
    uint32_t id;
    void *buf = encode_ok(&f->b, &len);

    assert_int_equal(fxp_symtab_intern(small, "USDCHF", 6, &id), FXP_OK);
    assert_int_equal(fxp_batch_decode(buf, len, small, &d), FXP_ETOOLARGE);
    assert_null(d);
    fxp_symtab_free(small);
    free(buf);
}

static void test_batchcodec__decoded_batch_can_be_stored(void **state)
{
    struct fx *f = *state;
    struct fxp_symtab *st2 = fxp_symtab_new(16);
    struct fxp_decoded_batch *d;
    struct fxp_store *s;
    char dir[64], db[128], err[512], val[64];
    size_t len;
    uint64_t n_ticks, n_rej;
    void *buf = encode_ok(&f->b, &len);

    snprintf(dir, sizeof dir, "/tmp/fxp_codec_XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(db, sizeof db, "%s/t.db", dir);
    assert_int_equal(fxp_batch_decode(buf, len, st2, &d), FXP_OK);
    assert_int_equal(fxp_store_open(db, NULL, &s, err, sizeof err), FXP_OK);
    assert_int_equal(fxp_store_write(s, fxp_decoded_batch_view(d)), FXP_OK);
    assert_int_equal(fxp_store_counts(s, &n_ticks, &n_rej), FXP_OK);
    assert_int_equal(n_rej, 2);
    assert_int_equal(fxp_store_meta_get(s, "cursor", val, sizeof val), FXP_OK);
    assert_string_equal(val, "feed.csv:4096");
    fxp_store_close(s);
    fxp_decoded_batch_free(d);
    free(buf);
    fxp_symtab_free(st2);
    snprintf(err, sizeof err, "%s/t.db-wal", dir);
    unlink(err);
    snprintf(err, sizeof err, "%s/t.db-shm", dir);
    unlink(err);
    unlink(db);
    rmdir(dir);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_batchcodec__round_trip_by_symbol_name),
        T(test_batchcodec__nan_and_empty_parts_survive),
        T(test_batchcodec__tick_positions_round_trip),
        T(test_batchcodec__encode_refuses_unnamed_symbols),
        T(test_batchcodec__every_truncation_is_eparse),
        T(test_batchcodec__every_flipped_byte_is_eparse),
        T(test_batchcodec__lying_structure_with_valid_crc_is_eparse),
        T(test_batchcodec__full_symtab_is_etoolarge),
        T(test_batchcodec__decoded_batch_can_be_stored),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
