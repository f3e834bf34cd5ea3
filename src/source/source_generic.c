/*
 * source_generic.c - generic CSV files with a header naming the columns:
 * ticks `symbol,ts,bid,ask[,volume]` and 1-minute bars
 * `symbol,ts,open,high,low,close[,volume]`, columns in any order, extra
 * columns ignored, the symbol column optional (then the symbol decided by
 * source_file.c is used). `ts` is Unix milliseconds or ISO-8601 UTC.
 *
 * Ticks are read by the tick CSV reader (csv.h), which this file only
 * wraps. Bars are parsed here the same way: the header maps names to
 * columns (fxp__column_role), each line must have as many fields as the
 * header, and bad lines are reported and skipped.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fxpipe/csv.h"
#include "fxpipe/err.h"
#include "fxpipe/linereader.h"
#include "fxpipe/symbol.h"
#include "fxpipe/timeframe.h"
#include "source/source_int.h"

/* Most columns a bar file's header may have. */
#define MAX_COLS 64

/* ------------------------------------------------------------------------
 * Ticks: the CSV reader
 */

static size_t ticks_read(void *impl, struct fxp_tick *out, uint64_t *pos,
                         size_t cap, int *err)
{
    return fxp_csv_read_lines(impl, out, pos, cap, err);
}

static void ticks_progress(const void *impl, uint64_t *done, uint64_t *total)
{
    fxp_csv_progress(impl, done, total);
}

static void ticks_close(void *impl)
{
    fxp_csv_close(impl);
}

static const struct fxp_source_ops generic_ticks_ops = {
    "generic", ticks_read, NULL, ticks_progress, NULL, ticks_close,
    NULL,      NULL,       NULL};

static int open_ticks(struct fxp_linereader *lr,
                      const struct fxp_source_opts *o, struct fxp_symtab *st,
                      struct fxp_source **out, char *errbuf, size_t errlen)
{
    struct fxp_csv_opts copts = {o->symbol, o->on_bad, o->ud, 0};
    struct fxp_csv_reader *r;
    char desc[300];
    int rc;

    fxp__describe(desc, sizeof desc, FXP_FMT_GENERIC, FXP_KIND_TICKS,
                  fxp_linereader_name(lr));
    rc = fxp_csv_open_reader(lr, &copts, st, &r, errbuf, errlen);
    if (rc != FXP_OK)
        return rc;
    *out = fxp__source_new(&generic_ticks_ops, r, desc);
    if (*out == NULL) {
        snprintf(errbuf, errlen, "out of memory opening '%s'", desc);
        return FXP_ENOMEM;
    }
    return FXP_OK;
}

/* ------------------------------------------------------------------------
 * Bars
 */

struct gbars {
    struct fxp__lines ls;
    size_t ncols;                      /* fields per line */
    size_t col[FXP__ROLE_COUNT];       /* column index + 1 per role, 0 = none */
    uint32_t fixed_sym;                /* symbol id when there is no column */
    struct fxp_symtab *st;             /* borrowed */
    char last_raw[FXP_SYMBOL_MAX * 2]; /* last symbol spelling seen */
    size_t last_len;                   /* 0 = none */
    uint32_t last_sym;                 /* and its id */
};

static bool bar_symbol(struct gbars *g, const char *s, size_t n, uint32_t *sym)
{
    char shown[48];
    int rc;

    if (n == g->last_len && n != 0 && memcmp(s, g->last_raw, n) == 0) {
        *sym = g->last_sym;
        return true;
    }
    rc = fxp_symtab_intern(g->st, s, n, sym);
    if (rc != FXP_OK) {
        fxp__lines_bad(&g->ls, FXP_R_SYMBOL, "column %zu 'symbol': %s '%s'",
                       g->col[FXP__ROLE_SYMBOL],
                       rc == FXP_ETOOLARGE ? "symbol table is full, cannot add"
                                           : "unknown symbol format",
                       fxp__show(shown, sizeof shown, s, n));
        return false;
    }
    if (n <= sizeof g->last_raw) {
        memcpy(g->last_raw, s, n);
        g->last_len = n;
        g->last_sym = *sym;
    }
    return true;
}

static bool parse_bar(void *impl, const char *p, size_t n, void *rec)
{
    static const enum fxp__role px_role[4] = {FXP__ROLE_OPEN, FXP__ROLE_HIGH,
                                              FXP__ROLE_LOW, FXP__ROLE_CLOSE};
    struct gbars *g = impl;
    struct fxp_bar *b = rec;
    const char *f[MAX_COLS];
    size_t fl[MAX_COLS];
    double *px[4] = {&b->open, &b->high, &b->low, &b->close};
    size_t nf = fxp__split(p, n, ',', f, fl, MAX_COLS), c;

    if (nf != g->ncols) {
        fxp__lines_bad(&g->ls, FXP_R_PARSE, "expected %zu fields, got %zu",
                       g->ncols, nf);
        return false;
    }
    c = g->col[FXP__ROLE_TS] - 1;
    if (!fxp__field_ts(&g->ls, c, "ts", f[c], fl[c], &b->ts_ms))
        return false;
    for (size_t i = 0; i < 4; i++) {
        c = g->col[px_role[i]] - 1;
        if (!fxp__field_double(&g->ls, c, fxp__role_name(px_role[i]), f[c],
                               fl[c], px[i]))
            return false;
    }
    b->volume = 0;
    c = g->col[FXP__ROLE_VOLUME];
    if (c != 0 && fl[c - 1] > 0 &&
        !fxp__field_double(&g->ls, c - 1, "volume", f[c - 1], fl[c - 1],
                           &b->volume))
        return false;
    /* The symbol goes last so that only good lines add names. */
    c = g->col[FXP__ROLE_SYMBOL];
    if (c == 0)
        b->sym = g->fixed_sym;
    else if (!bar_symbol(g, f[c - 1], fl[c - 1], &b->sym))
        return false;
    b->version = 0;
    b->n_ticks = 1;
    b->tf = FXP_TF_1M;
    b->source = FXP_SRC_HISTORICAL;
    b->flags = 0;
    return true;
}

static size_t bars_read(void *impl, struct fxp_bar *out, uint64_t *pos,
                        size_t cap, int *err)
{
    struct gbars *g = impl;

    return fxp__lines_read(&g->ls, parse_bar, g, out, sizeof *out, pos, cap,
                           err);
}

static void bars_progress(const void *impl, uint64_t *done, uint64_t *total)
{
    const struct gbars *g = impl;

    fxp_linereader_progress(g->ls.lr, done, total);
}

static void bars_close(void *impl)
{
    struct gbars *g = impl;

    fxp_linereader_close(g->ls.lr);
    free(g);
}

static const struct fxp_source_ops generic_bars_ops = {
    "generic",  NULL, bars_read, bars_progress, NULL,
    bars_close, NULL, NULL,      NULL};

/* Read the header and map the columns. */
static int bars_header(struct gbars *g, char *errbuf, size_t errlen)
{
    static const enum fxp__role need[] = {FXP__ROLE_TS, FXP__ROLE_OPEN,
                                          FXP__ROLE_HIGH, FXP__ROLE_LOW,
                                          FXP__ROLE_CLOSE};
    const char *name = fxp_linereader_name(g->ls.lr);
    const char *f[MAX_COLS];
    size_t fl[MAX_COLS];
    struct fxp_line ln;
    fxp_line_status rc;
    char shown[48];

    do
        rc = fxp_linereader_next(g->ls.lr, &ln);
    while (rc == FXP_LINE_OK && ln.len == 0);
    if (rc == FXP_LINE_EIO)
        return fxp_linereader_error(g->ls.lr, errbuf, errlen);
    if (rc != FXP_LINE_OK) {
        snprintf(errbuf, errlen, "no header in '%s'", name);
        return FXP_EPARSE;
    }
    g->ncols = fxp__split(ln.p, ln.len, ',', f, fl, MAX_COLS);
    if (g->ncols > MAX_COLS) {
        snprintf(errbuf, errlen, "header of '%s' has %zu columns, more than %d",
                 name, g->ncols, MAX_COLS);
        return FXP_EPARSE;
    }
    for (size_t i = 0; i < g->ncols; i++) {
        enum fxp__role role = fxp__column_role(f[i], fl[i]);

        if (role == FXP__ROLE_NONE)
            continue;
        if (g->col[role] != 0) {
            snprintf(errbuf, errlen,
                     "duplicate '%s' column ('%s') in header of '%s'",
                     fxp__role_name(role),
                     fxp__show(shown, sizeof shown, f[i], fl[i]), name);
            return FXP_EPARSE;
        }
        g->col[role] = i + 1;
    }
    for (size_t k = 0; k < sizeof need / sizeof need[0]; k++) {
        if (g->col[need[k]] == 0) {
            snprintf(errbuf, errlen, "no '%s' column in header of '%s'",
                     fxp__role_name(need[k]), name);
            return FXP_EPARSE;
        }
    }
    return FXP_OK;
}

static int open_bars(struct fxp_linereader *lr, const struct fxp_source_opts *o,
                     struct fxp_symtab *st, struct fxp_source **out,
                     char *errbuf, size_t errlen)
{
    struct gbars *g;
    char desc[300];
    int rc;

    g = calloc(1, sizeof *g);
    if (g == NULL) {
        snprintf(errbuf, errlen, "out of memory opening '%s'",
                 fxp_linereader_name(lr));
        fxp_linereader_close(lr);
        return FXP_ENOMEM;
    }
    g->ls.lr = lr;
    g->ls.on_bad = o->on_bad;
    g->ls.ud = o->ud;
    g->st = st;
    rc = bars_header(g, errbuf, errlen);
    if (rc == FXP_OK && g->col[FXP__ROLE_SYMBOL] == 0) {
        if (o->symbol == NULL) {
            snprintf(errbuf, errlen,
                     "no 'symbol' column in header of '%s' and no symbol "
                     "given",
                     fxp_linereader_name(lr));
            rc = FXP_EINVAL;
        } else {
            rc = fxp__intern_symbol(st, o->symbol, &g->fixed_sym, errbuf,
                                    errlen);
        }
    }
    if (rc != FXP_OK) {
        bars_close(g);
        return rc;
    }
    fxp__describe(desc, sizeof desc, FXP_FMT_GENERIC, FXP_KIND_BARS,
                  fxp_linereader_name(lr));
    *out = fxp__source_new(&generic_bars_ops, g, desc);
    if (*out == NULL) {
        snprintf(errbuf, errlen, "out of memory opening '%s'", desc);
        return FXP_ENOMEM;
    }
    return FXP_OK;
}

int fxp__source_open_generic(struct fxp_linereader *lr,
                             const struct fxp_source_opts *o, fxp_kind kind,
                             struct fxp_symtab *st, struct fxp_source **out,
                             char *errbuf, size_t errlen)
{
    *out = NULL;
    if (kind == FXP_KIND_BARS)
        return open_bars(lr, o, st, out, errbuf, errlen);
    return open_ticks(lr, o, st, out, errbuf, errlen);
}
