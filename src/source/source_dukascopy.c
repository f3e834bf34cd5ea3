/*
 * source_dukascopy.c - Dukascopy CSV exports (as written by
 * dukascopy-node): ticks `timestamp,askPrice,bidPrice[,askVolume,
 * bidVolume]` and bars `timestamp,open,high,low,close[,volume]`, with a
 * header and no symbol column.
 *
 * Timestamps are UTC Unix milliseconds (ISO-8601 is accepted too, for
 * exports written with a date format). Note that ask comes before bid. A
 * tick's volume is askVolume + bidVolume with FXP_TICK_HAS_VOLUME when the
 * file has volume columns and the line fills at least one of them. Bars
 * are taken as 1-minute bars; source_file.c refuses files whose name says
 * otherwise.
 */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fxpipe/err.h"
#include "fxpipe/linereader.h"
#include "fxpipe/timeframe.h"
#include "source/source_int.h"

#define MAX_FIELDS 6

struct dukascopy {
    struct fxp__lines ls;
    uint32_t sym; /* the file's symbol */
    size_t ncols; /* fields per line, from the header */
    bool has_vol; /* the volume column(s) exist */
};

static const char *const tick_col[] = {"timestamp", "askPrice", "bidPrice",
                                       "askVolume", "bidVolume"};
static const char *const bar_col[] = {"timestamp", "open",  "high",
                                      "low",       "close", "volume"};

/* Split a line and check its field count; false when reported bad. */
static bool split(struct dukascopy *d, const char *p, size_t n, const char **f,
                  size_t *fl)
{
    size_t nf = fxp__split(p, n, ',', f, fl, MAX_FIELDS);

    if (nf == d->ncols)
        return true;
    fxp__lines_bad(&d->ls, FXP_R_PARSE, "expected %zu fields, got %zu",
                   d->ncols, nf);
    return false;
}

static bool parse_tick(void *impl, const char *p, size_t n, void *rec)
{
    struct dukascopy *d = impl;
    struct fxp_tick *t = rec;
    const char *f[MAX_FIELDS];
    size_t fl[MAX_FIELDS];

    if (!split(d, p, n, f, fl) ||
        !fxp__field_ts(&d->ls, 0, tick_col[0], f[0], fl[0], &t->ts_ms) ||
        !fxp__field_double(&d->ls, 1, tick_col[1], f[1], fl[1], &t->ask) ||
        !fxp__field_double(&d->ls, 2, tick_col[2], f[2], fl[2], &t->bid))
        return false;
    t->volume = 0;
    t->flags = 0;
    if (d->has_vol && (fl[3] > 0 || fl[4] > 0)) {
        for (size_t i = 3; i <= 4; i++) {
            double v = 0;

            if (fl[i] > 0 &&
                !fxp__field_double(&d->ls, i, tick_col[i], f[i], fl[i], &v))
                return false;
            t->volume += v;
        }
        t->flags = FXP_TICK_HAS_VOLUME;
    }
    t->sym = d->sym;
    return true;
}

static bool parse_bar(void *impl, const char *p, size_t n, void *rec)
{
    struct dukascopy *d = impl;
    struct fxp_bar *b = rec;
    const char *f[MAX_FIELDS];
    size_t fl[MAX_FIELDS];
    double *px[4] = {&b->open, &b->high, &b->low, &b->close};

    if (!split(d, p, n, f, fl) ||
        !fxp__field_ts(&d->ls, 0, bar_col[0], f[0], fl[0], &b->ts_ms))
        return false;
    for (size_t i = 0; i < 4; i++)
        if (!fxp__field_double(&d->ls, i + 1, bar_col[i + 1], f[i + 1],
                               fl[i + 1], px[i]))
            return false;
    b->volume = 0;
    if (d->has_vol && fl[5] > 0 &&
        !fxp__field_double(&d->ls, 5, bar_col[5], f[5], fl[5], &b->volume))
        return false;
    b->version = 0;
    b->n_ticks = 1;
    b->sym = d->sym;
    b->tf = FXP_TF_1M;
    b->source = FXP_SRC_HISTORICAL;
    b->flags = 0;
    return true;
}

static size_t dukascopy_read_ticks(void *impl, struct fxp_tick *out,
                                   uint64_t *pos, size_t cap, int *err)
{
    struct dukascopy *d = impl;

    return fxp__lines_read(&d->ls, parse_tick, d, out, sizeof *out, pos, cap,
                           err);
}

static size_t dukascopy_read_bars(void *impl, struct fxp_bar *out,
                                  uint64_t *pos, size_t cap, int *err)
{
    struct dukascopy *d = impl;

    return fxp__lines_read(&d->ls, parse_bar, d, out, sizeof *out, pos, cap,
                           err);
}

static void dukascopy_progress(const void *impl, uint64_t *done,
                               uint64_t *total)
{
    const struct dukascopy *d = impl;

    fxp_linereader_progress(d->ls.lr, done, total);
}

static void dukascopy_close(void *impl)
{
    struct dukascopy *d = impl;

    fxp_linereader_close(d->ls.lr);
    free(d);
}

static const struct fxp_source_ops dukascopy_ticks_ops = {
    "dukascopy", dukascopy_read_ticks, NULL, dukascopy_progress,
    NULL,        dukascopy_close,      NULL, NULL,
    NULL};
static const struct fxp_source_ops dukascopy_bars_ops = {"dukascopy",
                                                         NULL,
                                                         dukascopy_read_bars,
                                                         dukascopy_progress,
                                                         NULL,
                                                         dukascopy_close,
                                                         NULL,
                                                         NULL,
                                                         NULL};

/* Read the header and check it is the layout for `kind`. */
static int read_header(struct dukascopy *d, fxp_kind kind, char *errbuf,
                       size_t errlen)
{
    const char *const *want = kind == FXP_KIND_BARS ? bar_col : tick_col;
    size_t short_n = kind == FXP_KIND_BARS ? 5 : 3;
    size_t long_n = kind == FXP_KIND_BARS ? 6 : 5;
    const char *name = fxp_linereader_name(d->ls.lr);
    const char *f[MAX_FIELDS];
    size_t fl[MAX_FIELDS], nf;
    struct fxp_line ln;
    fxp_line_status rc;
    char shown[48];

    do
        rc = fxp_linereader_next(d->ls.lr, &ln);
    while (rc == FXP_LINE_OK && ln.len == 0);
    if (rc == FXP_LINE_EIO)
        return fxp_linereader_error(d->ls.lr, errbuf, errlen);
    if (rc != FXP_LINE_OK) {
        snprintf(errbuf, errlen, "no dukascopy header in '%s'", name);
        return FXP_EPARSE;
    }
    nf = fxp__split(ln.p, ln.len, ',', f, fl, MAX_FIELDS);
    if (nf == short_n || nf == long_n) {
        size_t i;

        for (i = 0; i < nf; i++)
            if (fxp__column_role(f[i], fl[i]) !=
                fxp__column_role(want[i], strlen(want[i])))
                break;
        if (i == nf) {
            d->ncols = nf;
            d->has_vol = nf == long_n;
            return FXP_OK;
        }
    }
    snprintf(errbuf, errlen,
             "'%s' is not dukascopy %s: expected the header '%s', found "
             "'%s'",
             name, fxp_kind_name(kind),
             kind == FXP_KIND_BARS
                 ? "timestamp,open,high,low,close[,volume]"
                 : "timestamp,askPrice,bidPrice[,askVolume,bidVolume]",
             fxp__show(shown, sizeof shown, ln.p, ln.len));
    return FXP_EPARSE;
}

int fxp__source_open_dukascopy(struct fxp_linereader *lr,
                               const struct fxp_source_opts *o, fxp_kind kind,
                               struct fxp_symtab *st, struct fxp_source **out,
                               char *errbuf, size_t errlen)
{
    struct dukascopy *d;
    char desc[300];
    int rc;

    assert(o->symbol != NULL); /* decided by source_file.c */
    *out = NULL;
    d = calloc(1, sizeof *d);
    if (d == NULL) {
        snprintf(errbuf, errlen, "out of memory opening '%s'",
                 fxp_linereader_name(lr));
        fxp_linereader_close(lr);
        return FXP_ENOMEM;
    }
    d->ls.lr = lr;
    d->ls.on_bad = o->on_bad;
    d->ls.ud = o->ud;
    rc = read_header(d, kind, errbuf, errlen);
    if (rc == FXP_OK)
        rc = fxp__intern_symbol(st, o->symbol, &d->sym, errbuf, errlen);
    if (rc != FXP_OK) {
        dukascopy_close(d);
        return rc;
    }
    fxp__describe(desc, sizeof desc, FXP_FMT_DUKASCOPY, kind,
                  fxp_linereader_name(lr));
    *out = fxp__source_new(kind == FXP_KIND_BARS ? &dukascopy_bars_ops
                                                 : &dukascopy_ticks_ops,
                           d, desc);
    if (*out == NULL) {
        snprintf(errbuf, errlen, "out of memory opening '%s'", desc);
        return FXP_ENOMEM;
    }
    return FXP_OK;
}
