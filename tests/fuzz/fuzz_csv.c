/*
 * fuzz_csv.c - libFuzzer target for the tick CSV reader (csv.h).
 *
 * Input: one control byte, then the file. Control bits 0-5 pick the read
 * buffer (16 + 4 * n bytes, so lines cross it and overflow it often), bit
 * 6 gives a default symbol (for files without a symbol column), bit 7
 * reads in batches of 1 instead of 5.
 *
 * Checks, besides the sanitizers: counters and line numbers are coherent,
 * every tick carries an interned symbol id and sane flags, and when no
 * line is too long for the small buffer, reading the same bytes through a
 * buffer larger than the whole input gives the very same ticks and bad-line
 * reports (the buffer boundary must never change the result).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fxpipe/csv.h"
#include "fxpipe/err.h"
#include "fxpipe/symbol.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                            \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__,   \
                    #cond);                                                    \
            abort();                                                           \
        }                                                                      \
    } while (0)

struct bad_rec {
    uint64_t line_no;
    fxp_reason reason;
};

struct result {
    int rc;                 /* open status */
    size_t n;               /* ticks */
    struct fxp_tick *ticks; /* cap entries */
    uint64_t *line_nos;     /* cap entries */
    size_t n_bad;           /* bad-line reports */
    struct bad_rec *bad;    /* cap entries */
    size_t cap;
    uint64_t lines; /* fxp_csv_lines at the end */
};

static void on_bad(void *ud, const char *path, uint64_t line_no,
                   fxp_reason reason, const char *detail)
{
    struct result *res = ud;

    CHECK(path != NULL && strcmp(path, "fuzz.csv") == 0);
    CHECK(detail != NULL && strlen(detail) < 192);
    CHECK(reason == FXP_R_PARSE || reason == FXP_R_SYMBOL);
    CHECK(line_no >= 1);
    CHECK(res->n_bad == 0 || res->bad[res->n_bad - 1].line_no < line_no);
    CHECK(res->n_bad < res->cap);
    res->bad[res->n_bad].line_no = line_no;
    res->bad[res->n_bad].reason = reason;
    res->n_bad++;
}

static void run(const char *text, size_t len, size_t buf_size,
                const char *symbol, size_t batch, struct result *res)
{
    struct fxp_symtab *st = fxp_symtab_new(4);
    struct fxp_csv_opts opts = {symbol, on_bad, res, buf_size};
    struct fxp_csv_reader *r = (struct fxp_csv_reader *)&opts;
    char errbuf[128];

    CHECK(st != NULL);
    memset(errbuf, 0, sizeof errbuf);
    res->rc = fxp_csv_open_mem(text, len, "fuzz.csv", &opts, st, &r, errbuf,
                               sizeof errbuf);
    if (res->rc != FXP_OK) {
        CHECK(r == NULL);
        CHECK(errbuf[0] != '\0' && strlen(errbuf) < sizeof errbuf);
        CHECK(res->rc == FXP_EPARSE || res->rc == FXP_EINVAL);
        fxp_symtab_free(st);
        return;
    }
    for (;;) {
        int err = 1;
        size_t want = res->cap - res->n < batch ? res->cap - res->n : batch;
        size_t got;

        CHECK(want > 0); /* a tick needs a line, lines <= len + 1 */
        got = fxp_csv_read_lines(r, res->ticks + res->n, res->line_nos + res->n,
                                 want, &err);
        CHECK(err == FXP_OK);
        CHECK(got <= want);
        if (got == 0)
            break;
        for (size_t i = res->n; i < res->n + got; i++) {
            const struct fxp_tick *t = &res->ticks[i];

            CHECK(t->sym < fxp_symtab_count(st));
            CHECK(fxp_symtab_name(st, t->sym) != NULL);
            CHECK(t->flags == 0 || t->flags == FXP_TICK_HAS_VOLUME);
            CHECK(t->flags != 0 || t->volume == 0.0);
            CHECK(res->line_nos[i] >= 2); /* the header is line 1 or later */
            CHECK(res->line_nos[i] <= fxp_csv_lines(r));
            CHECK(i == 0 || res->line_nos[i - 1] < res->line_nos[i]);
        }
        res->n += got;
    }
    res->lines = fxp_csv_lines(r);
    CHECK(fxp_csv_bad_lines(r) == res->n_bad);
    CHECK(res->n + res->n_bad <= res->lines);
    CHECK(res->lines <= len + 1);
    /* At the end it stays at the end. */
    {
        int err = 1;
        CHECK(fxp_csv_read(r, res->ticks, 1, &err) == 0 && err == FXP_OK);
    }
    fxp_csv_close(r);
    fxp_symtab_free(st);
}

/* Longest line including its '\n' (a last line without one counts one
 * more byte too: the reader needs room to see the end of input). */
static size_t longest_line(const char *text, size_t len)
{
    size_t best = 0, start = 0;

    for (size_t i = 0; i <= len; i++) {
        if (i == len || text[i] == '\n') {
            if (i - start + 1 > best)
                best = i - start + 1;
            start = i + 1;
        }
    }
    return best;
}

static void result_init(struct result *res, size_t cap)
{
    memset(res, 0, sizeof *res);
    res->cap = cap;
    res->ticks = calloc(cap, sizeof *res->ticks);
    res->line_nos = calloc(cap, sizeof *res->line_nos);
    res->bad = calloc(cap, sizeof *res->bad);
    CHECK(res->ticks && res->line_nos && res->bad);
}

static void result_free(struct result *res)
{
    free(res->ticks);
    free(res->line_nos);
    free(res->bad);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct result small, big;
    const char *text;
    size_t len, buf_size, cap;
    const char *symbol;
    size_t batch;

    if (size < 1)
        return 0;
    buf_size = 16 + 4 * (size_t)(data[0] & 0x3f);
    symbol = (data[0] & 0x40) ? "EUR/USD" : NULL;
    batch = (data[0] & 0x80) ? 1 : 5;
    text = (const char *)data + 1;
    len = size - 1;
    cap = len + 2;

    result_init(&small, cap);
    run(text, len, buf_size, symbol, batch, &small);
    if (longest_line(text, len) <= buf_size) {
        result_init(&big, cap);
        run(text, len, len + 64, symbol, 7, &big);
        CHECK(small.rc == big.rc);
        CHECK(small.n == big.n);
        CHECK(small.n_bad == big.n_bad);
        CHECK(small.lines == big.lines);
        CHECK(memcmp(small.ticks, big.ticks, small.n * sizeof *small.ticks) ==
              0);
        CHECK(memcmp(small.line_nos, big.line_nos,
                     small.n * sizeof *small.line_nos) == 0);
        for (size_t i = 0; i < small.n_bad; i++) {
            CHECK(small.bad[i].line_no == big.bad[i].line_no);
            CHECK(small.bad[i].reason == big.bad[i].reason);
        }
        result_free(&big);
    }
    result_free(&small);
    return 0;
}
